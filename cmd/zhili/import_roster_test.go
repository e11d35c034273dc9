package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"zhili/geo"
	"zhili/roster"
)

// A roster CSV of the small demo county: two good units and their cadres, a unit of an unknown
// region and its cadre, an overlap on one post, a bad date.
const rosterCSV = `table,code,zh,kind,region,id,name,post,post_type,unit,seat,leader,from,to
单位,gov.411502001,老城街道办事处,township,411502001,,,,,,,,,
单位,gov.411502002,民权街道办事处,township,411502002,,,,,,,,,
单位,gov.x,某镇政府,township,411599999,,,,,,,,,
干部,,,,,P1,张伟,办事处主任,乡镇长,gov.411502001,,是,2021-03-01,2024-03-01
干部,,,,,P2,李娜,办事处主任,乡镇长,gov.411502001,,是,2024-03-01,
干部,,,,,P3,王强,办事处主任,乡镇长,gov.411502002,,是,2021-03-01,
干部,,,,,P4,赵敏,办事处主任,乡镇长,gov.411502002,,是,2023-01-01,
干部,,,,,P5,刘洋,镇长,乡镇长,gov.x,,是,2021-03-01,
干部,,,,,P6,陈静,办事处副主任,副乡镇长,gov.411502001,1,,2021-13-01,
`

// TestImportRoster: a file with refused rows is refused whole by default, every problem named
// by file, line and field with a summary per table, and nothing is written; --skip-refused
// imports the other rows; a problem of the file as a whole refuses it even then; --check writes
// nothing; an XLSX workbook is read by its ending.
func TestImportRoster(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	run := func(args ...string) (string, error) {
		var out, errb bytes.Buffer
		err := runImport(context.Background(), append([]string{"roster", "--data", data, "--regions", "builtin:shihe"}, args...), &out, &errb)
		return out.String(), err
	}
	stored := filepath.Join(data, rosterFile)
	bad := write("roster.csv", rosterCSV)
	out, err := run(bad)
	if err == nil || !strings.Contains(err.Error(), "5 row(s) refused (5 problem(s)): nothing imported") {
		t.Fatalf("bad file: %v\n%s", err, out)
	}
	for _, want := range []string{
		bad + `:4: unit gov.x: region: unknown region "411599999"`,
		bad + ":7: cadre P3: from: term 2021-03-01–在任 in office overlaps the term 2023-01-01–在任 in office of P4 赵敏",
		bad + ":8: cadre P4: from:",
		bad + ":9: cadre P5: unit: unit gov.x is refused (line 4)",
		bad + `:10: cadre P6: from: "2021-13-01" is not a date`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !regexpMatch(`单位 units\s+3\s+1\s+0`, out) || !regexpMatch(`干部 cadres\s+6\s+4\s+0`, out) {
		t.Errorf("summary:\n%s", out)
	}
	if _, err := os.Stat(stored); !os.IsNotExist(err) {
		t.Fatalf("a refused file wrote the roster: %v", err)
	}
	out, err = run("--skip-refused", bad)
	if err != nil || !regexpMatch(`干部 cadres\s+6\s+4\s+2`, out) || !strings.Contains(out, "imported 4 rows into "+stored) {
		t.Fatalf("--skip-refused: %v\n%s", err, out)
	}
	r, err := roster.Load(stored, roster.Options{Tree: geo.DemoTree()})
	if err != nil {
		t.Fatalf("the stored roster: %v", err)
	}
	var names []string
	for _, c := range r.Cadres {
		names = append(names, c.Name)
	}
	if len(r.Units) != 2 || !slices.Equal(names, []string{"张伟", "李娜"}) {
		t.Errorf("stored: %d units, cadres %q", len(r.Units), names)
	}
	if st, err := os.Stat(stored); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("the stored roster's mode: %v %v, want 0600 (names and phones)", st.Mode(), err)
	}
	// A problem of the file as a whole refuses it, --skip-refused or not.
	whole := write("whole.csv", "table,code,zh,colour\nunit,x,某,red\n")
	if out, err := run("--skip-refused", whole); err == nil || !strings.Contains(out, whole+`:1: unknown column "colour"`) {
		t.Errorf("unknown column: %v\n%s", err, out)
	}
	// An XLSX workbook, one sheet per table.
	f := excelize.NewFile()
	_ = f.SetSheetName("Sheet1", "单位")
	_ = f.SetSheetRow("单位", "A1", &[]any{"编码", "名称", "类型", "区划"})
	_ = f.SetSheetRow("单位", "A2", &[]any{"gov.411502003", "湖东街道办事处", "乡镇街道", "411502003"})
	xl := filepath.Join(dir, "roster.xlsx")
	if err := f.SaveAs(xl); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(stored)
	if out, err := run("--check", xl); err != nil || !regexpMatch(`单位 units\s+1\s+0\s+1`, out) {
		t.Fatalf("--check of a workbook: %v\n%s", err, out)
	}
	if after, _ := os.ReadFile(stored); !bytes.Equal(before, after) {
		t.Error("--check wrote the roster")
	}
}

// TestServeRoster: serve loads DATA/roster.yaml; a SIGHUP reloads it (a refused file keeps the
// roster in force and names file:line); a bad --roster refuses to start; --demo starts with the
// demo city's roster.
func TestServeRoster(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	importFile := func(body string) {
		t.Helper()
		p := filepath.Join(dir, "in.yaml")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		var out, errb bytes.Buffer
		if err := runImport(context.Background(), []string{"roster", "--data", data, "--regions", "builtin:shihe", p}, &out, &errb); err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
	}
	const unit = "units: [{code: gov.411502001, zh: 老城街道办事处, kind: township, region: \"411502001\"}]\n"
	importFile(unit + "cadres: [{id: P1, name: 张伟, post: 办事处主任, post_type: 乡镇长, unit: gov.411502001, leader: yes, from: 2021-03-01}]\n")
	cfg := filepath.Join(dir, "zhili.yaml")
	if err := os.WriteFile(cfg, []byte("access:\n  - {name: kh, token: t-eval, roles: [evaluator]}\n  - {name: src, key: k, roles: [source]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base, stderr := serveInProcess(t, cfg, data)
	cadres := func(base, query string) string {
		t.Helper()
		resp, err := http.Get(base + "/api/v1/roster/cadres?token=t-eval&" + query)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r struct{ Cadres []struct{ Name string } }
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, c := range r.Cadres {
			out = append(out, c.Name)
		}
		return strings.Join(out, " ")
	}
	if got := cadres(base, ""); got != "张伟" {
		t.Fatalf("cadres at start: %q", got)
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: never; log:\n%s", what, stderr.String())
			}
		}
	}
	importFile(unit + "cadres: [{id: P2, name: 李娜, post: 办事处主任, post_type: 乡镇长, unit: gov.411502001, leader: yes, from: 2021-03-01}]\n")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor("the new roster after SIGHUP", func() bool { return cadres(base, "") == "李娜" })
	// A file broken by hand is refused; the roster in force stays.
	if err := os.WriteFile(filepath.Join(data, rosterFile), []byte(unit+"cadres:\n  - {id: P3, name: 王强, post: 主任, post_type: 乡镇长, unit: gov.nowhere, from: 2021-03-01}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor("refusal logged", func() bool { return strings.Contains(stderr.String(), "roster reload refused") })
	if got := cadres(base, ""); got != "李娜" {
		t.Errorf("after a refused reload: %q", got)
	}
	if want := `roster.yaml:3: cadre P3: unit: \"gov.nowhere\" is neither a unit nor a party organisation of the file`; !strings.Contains(stderr.String(), want) {
		t.Errorf("the refusal does not name file:line and field:\n%s", stderr.String())
	}

	// A bad --roster refuses to start.
	bad := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(bad, []byte(rosterCSV), 0o644); err != nil {
		t.Fatal(err)
	}
	err := runServe(context.Background(), []string{"--config", cfg, "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--roster", bad}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), bad+`:4: unit gov.x: region: unknown region "411599999"`) {
		t.Errorf("serve with a bad --roster: %v", err)
	}

	// The demo starts with its city's roster: every township's party secretary.
	demoBase := serveArgs(t, "--demo", "--demo-history", "0", "--demo-rate", "0", "--config", cfg, "--data", t.TempDir())
	if got := strings.Fields(cadres(demoBase, "post_type="+url.QueryEscape("乡镇党委书记"))); len(got) != 208 {
		t.Errorf("the demo's township party secretaries today: %d, want one for each of the 208 townships", len(got))
	}
}

// serveArgs runs `zhili serve` with args (and --listen 127.0.0.1:0) until the test ends, and
// returns its base URL.
func serveArgs(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- runServe(ctx, append(args, "--listen", "127.0.0.1:0"), &bytes.Buffer{}, stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop")
		}
	})
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if m := listeningRE.FindStringSubmatch(stderr.String()); m != nil {
			return m[1]
		}
		select {
		case err := <-done:
			t.Fatalf("serve stopped: %v\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("not listening: %s", stderr.String())
		}
	}
}

func regexpMatch(pattern, s string) bool { return regexp.MustCompile(pattern).MatchString(s) }
