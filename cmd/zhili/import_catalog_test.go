package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"zhili/geo"
)

// TestImportCatalog: a file with bad rows is refused, each problem named by file and line, and
// nothing is written; a good one is stored as DATA/catalog.yaml (--check writes nothing), its
// departments' regions checked against the tree.
func TestImportCatalog(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	root := geo.DemoTree().Root.Code
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	run := func(args ...string) (string, error) {
		var out, errb bytes.Buffer
		err := runImport(context.Background(), append([]string{"catalog"}, args...), &out, &errb)
		return out.String(), err
	}
	bad := write("bad.csv", "table,code,zh,region\n"+
		"category,flood,防汛,\n"+
		"category,flood,防汛二,\n"+
		"department,town.x,某街道,999999\n"+
		"department,town.y,,"+root+"\n")
	out, err := run("--data", data, "--regions", "builtin:shihe", bad)
	if err == nil || !strings.Contains(err.Error(), "3 problem(s): nothing imported") {
		t.Fatalf("bad file: %v\n%s", err, out)
	}
	for _, want := range []string{bad + `:3: category "flood" given twice (first at line 2)`, bad + `:4: town.x: unknown region "999999"`, bad + ":5: town.y: no zh name"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(data, catalogFile)); !os.IsNotExist(err) {
		t.Fatalf("a refused file wrote the catalogue: %v", err)
	}
	good := write("good.csv", "table,code,zh,en,region\ncategory,flood,防汛,Flood control,\ndepartment,town.x,某街道,,"+root+"\n")
	if out, err := run("--data", data, "--regions", "builtin:shihe", "--check", good); err != nil || !strings.Contains(out, "2 categories (1 top-level), 1 departments; regions checked against builtin:shihe") {
		t.Fatalf("--check: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(data, catalogFile)); !os.IsNotExist(err) {
		t.Fatalf("--check wrote the catalogue: %v", err)
	}
	if out, err := run("--data", data, good); err != nil || !strings.Contains(out, "regions not checked") || !strings.Contains(out, "imported into") {
		t.Fatalf("import: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(data, catalogFile))
	if err != nil || !strings.Contains(string(b), "code: flood") || !strings.Contains(string(b), "code: unmapped") {
		t.Fatalf("stored catalogue: %v\n%s", err, b)
	}
}

// TestServeCatalog: serve loads DATA/catalog.yaml; a SIGHUP reloads it (a refused file keeps the
// catalogue in force); an explicit --catalog with a bad row refuses to start, naming file:line.
func TestServeCatalog(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	importFile := func(body string) {
		t.Helper()
		p := filepath.Join(dir, "in.yaml")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		var out, errb bytes.Buffer
		if err := runImport(context.Background(), []string{"catalog", "--data", data, p}, &out, &errb); err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
	}
	importFile("categories: [{code: flood, zh: 防汛}]\ndepartments: [{code: town.x, zh: 某街道}]\n")
	cfg := filepath.Join(dir, "zhili.yaml")
	if err := os.WriteFile(cfg, []byte("access:\n  - {name: screen, token: t-screen, roles: [screen]}\n  - {name: src, key: k, roles: [source]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base, stderr := serveInProcess(t, cfg, data)
	names := func() string {
		resp, err := http.Get(base + "/api/v1/catalog?token=t-screen")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r struct {
			Categories []struct{ Code, Zh string } `json:"categories"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, c := range r.Categories {
			out = append(out, c.Code+"="+c.Zh)
		}
		return strings.Join(out, " ")
	}
	if got := names(); got != "flood=防汛 unmapped=未归类" {
		t.Fatalf("categories at start: %s", got)
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: never; log:\n%s", what, stderr.String())
			}
		}
	}
	importFile("categories: [{code: flood, zh: 防汛抗旱}, {code: drought, zh: 干旱}]\n")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor("the new catalogue after SIGHUP", func() bool { return names() == "flood=防汛抗旱 drought=干旱 unmapped=未归类" })
	// A file broken by hand is refused; the catalogue in force stays.
	if err := os.WriteFile(filepath.Join(data, catalogFile), []byte("categories: [{code: flood}]\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor("refusal logged", func() bool { return strings.Contains(stderr.String(), "catalogue reload refused") })
	if got := names(); got != "flood=防汛抗旱 drought=干旱 unmapped=未归类" {
		t.Errorf("after a refused reload: %s", got)
	}
	if !strings.Contains(stderr.String(), "catalog.yaml:1: flood: no zh name") {
		t.Errorf("the refusal does not name file:line:\n%s", stderr.String())
	}

	// A bad --catalog refuses to start.
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("categories:\n  - {code: a, zh: 甲}\n  - {code: a, zh: 乙}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := runServe(context.Background(), []string{"--config", cfg, "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--catalog", bad}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), bad+`:3: category "a" given twice (first at line 2)`) {
		t.Errorf("serve with a bad --catalog: %v", err)
	}
}
