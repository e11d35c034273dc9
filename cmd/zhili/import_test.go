package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"zhili/geo"
)

func TestImportRegions(t *testing.T) {
	dir := t.TempDir()
	fc, _ := geo.DemoTree().FeatureCollection("root", -1)
	good := filepath.Join(dir, "good.geojson")
	b, _ := json.Marshal(fc)
	os.WriteFile(good, b, 0o644)

	// A file with one feature whose parent does not exist: refused, by feature, nothing written.
	bad := filepath.Join(dir, "bad.geojson")
	os.WriteFile(bad, []byte(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"X1","parent":"nope"},"geometry":{"type":"Polygon","coordinates":[[[114,32.1],[114.01,32.1],[114.01,32.11],[114,32.1]]]}}]}`), 0o644)
	data := filepath.Join(dir, "data")
	var out, errb bytes.Buffer
	err := runImport(context.Background(), []string{"regions", "--data", data, good, bad}, &out, &errb)
	if err == nil || !strings.Contains(out.String(), "bad.geojson feature 0 (X1): unknown_parent") {
		t.Fatalf("bad import: %v\n%s", err, out.String())
	}
	if _, err := os.Stat(filepath.Join(data, regionsFile)); err == nil {
		t.Fatal("a refused import wrote the regions file")
	}
	// Told to skip it, the rest is imported and serve can read it back.
	out.Reset()
	if err := runImport(context.Background(), []string{"regions", "--data", data, "--skip", "X1", good, bad}, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "31 regions") || !strings.Contains(out.String(), "3 levels: 1 6 24") {
		t.Fatalf("summary %q", out.String())
	}
	back, err := os.ReadFile(filepath.Join(data, regionsFile))
	if err != nil {
		t.Fatal(err)
	}
	tree, err := geo.ParseTree(back, geo.DefaultProps)
	if err != nil || tree.Len() != 31 || tree.Get("411502003").Kind != "township" {
		t.Fatalf("re-read: %v", err)
	}
}

// A region file in GCJ-02 (as exported from AMap) is stored in WGS-84.
func TestImportRegionsFromGCJ02(t *testing.T) {
	dir := t.TempDir()
	tree := geo.DemoTree()
	fc, _ := tree.FeatureCollection("root", -1)
	for _, f := range fc.Features {
		f.Geometry = geo.TransformGeometry(f.Geometry, func(lon, lat float64) (float64, float64) { return geo.WGS84ToGCJ02(lon, lat) })
	}
	b, _ := json.Marshal(fc)
	src := filepath.Join(dir, "gcj.geojson")
	os.WriteFile(src, b, 0o644)
	data := filepath.Join(dir, "data")
	var out, errb bytes.Buffer
	if err := runImport(context.Background(), []string{"regions", "--crs", "gcj02", "--data", data, src}, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	back, _ := os.ReadFile(filepath.Join(data, regionsFile))
	got, err := geo.ParseTree(back, geo.DefaultProps)
	if err != nil {
		t.Fatal(err)
	}
	want := tree.Root.Geometry.Bound()
	if g := got.Root.Geometry.Bound(); math.Abs(g.Min[0]-want.Min[0]) > 1e-7 || math.Abs(g.Max[1]-want.Max[1]) > 1e-7 {
		t.Fatalf("stored bound %v, want the WGS-84 %v", g, want)
	}
}

// fakeIngest implements enough of the ingest reply contract: NDJSON lines, a missing id or an
// unreadable `at` rejected with the line's number, ids remembered with their content to count
// duplicates and refuse another content under a known id (id_conflict); every line kept.
func fakeIngest(t *testing.T, key string) (*httptest.Server, func() []map[string]any) {
	var mu sync.Mutex
	seen := map[string]string{}
	succ := map[string]string{} // id → the event superseding it
	var lines []map[string]any
	content := func(line string) string { // the line without id and supersedes
		var m map[string]any
		json.Unmarshal([]byte(line), &m)
		delete(m, "id")
		delete(m, "supersedes")
		b, _ := json.Marshal(m)
		return string(b)
	}
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+key || r.URL.Path != "/api/v1/events" && r.URL.Path != "/api/v1/events/versions" {
			http.Error(w, `{"error":{"code":"unauthorized","reason":"key"}}`, http.StatusUnauthorized)
			return
		}
		if r.URL.Path == "/api/v1/events/versions" { // what the history holds, following corrections
			type version struct {
				Line      int    `json:"line"`
				ID        string `json:"id"`
				Stored    bool   `json:"stored"`
				Latest    string `json:"latest,omitempty"`
				Revisions int    `json:"revisions,omitempty"`
				Same      bool   `json:"same"`
			}
			reply := struct {
				Versions []version `json:"versions"`
			}{Versions: []version{}}
			body, _ := io.ReadAll(r.Body)
			mu.Lock()
			defer mu.Unlock()
			for i, line := range strings.Split(strings.TrimRight(string(body), "\n"), "\n") {
				var ev struct{ ID string }
				json.Unmarshal([]byte(line), &ev)
				v := version{Line: i + 1, ID: ev.ID}
				if _, ok := seen[ev.ID]; ok {
					v.Stored, v.Latest, v.Revisions = true, ev.ID, 1
					for succ[v.Latest] != "" {
						v.Latest, v.Revisions = succ[v.Latest], v.Revisions+1
					}
					v.Same = content(seen[v.Latest]) == content(line)
				}
				reply.Versions = append(reply.Versions, v)
			}
			json.NewEncoder(w).Encode(reply)
			return
		}
		type rej struct {
			Line  int    `json:"line"`
			ID    string `json:"id,omitempty"`
			Code  string `json:"code"`
			Error string `json:"error"`
		}
		reply := struct {
			Accepted   int   `json:"accepted"`
			Duplicates int   `json:"duplicates"`
			Rejected   []rej `json:"rejected"`
		}{Rejected: []rej{}}
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		for i, line := range strings.Split(strings.TrimRight(string(body), "\n"), "\n") {
			var ev struct{ ID, At, Supersedes string }
			if err := json.Unmarshal([]byte(line), &ev); err != nil {
				reply.Rejected = append(reply.Rejected, rej{Line: i + 1, Code: "invalid", Error: "line: invalid JSON"})
				continue
			}
			var all map[string]any
			json.Unmarshal([]byte(line), &all)
			lines = append(lines, all)
			if ev.ID == "" {
				reply.Rejected = append(reply.Rejected, rej{Line: i + 1, Code: "invalid", Error: "id: required"})
				continue
			}
			if _, err := time.Parse(time.RFC3339Nano, ev.At); err != nil {
				reply.Rejected = append(reply.Rejected, rej{Line: i + 1, ID: ev.ID, Code: "invalid", Error: "at: not an RFC 3339 time with offset"})
				continue
			}
			switch prev, ok := seen[ev.ID]; {
			case !ok:
				seen[ev.ID] = line
				if ev.Supersedes != "" {
					succ[ev.Supersedes] = ev.ID
				}
				reply.Accepted++
			case prev == line:
				reply.Duplicates++
			default:
				reply.Rejected = append(reply.Rejected, rej{Line: i + 1, ID: ev.ID, Code: "id_conflict", Error: "id: already used for another event"})
			}
		}
		json.NewEncoder(w).Encode(reply)
	}))
	t.Cleanup(s.Close)
	return s, func() []map[string]any {
		mu.Lock()
		defer mu.Unlock()
		return append([]map[string]any(nil), lines...)
	}
}

// squeeze collapses runs of spaces (the summary table's alignment).
func squeeze(s string) string { return strings.Join(strings.Fields(s), " ") }

func TestImportCases(t *testing.T) {
	srv, _ := fakeIngest(t, "k")
	dir := t.TempDir()
	in := filepath.Join(dir, "cases.csv")
	os.WriteFile(in, []byte("id,created,agency,type,closed,lat,lon\n"+
		"A1,2025-03-01 08:00:00,DOT,Street Condition,2025-03-01 09:00:00,40.7,-73.9\n"+
		"A2,not a time,DOT,Noise,,40.7,-73.9\n"+
		"A3,2025-03-01 08:00:00,,Noise,2025-02-01 08:00:00,40.7,-73.9\n"), 0o644)
	t.Setenv("ZHILI_KEY", "k")
	args := []string{"cases", "--url", srv.URL, "--preset", "nyc311", "--quiet", "--due-after", "72h",
		"--map", "id=id,created=created,dept=agency,category=type,closed=closed,lat=lat,lon=lon,region=,address=,due=", in}
	var out, errb bytes.Buffer
	if err := runImport(context.Background(), args, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	// A1: reported, dispatched, resolved, closed; A2 skipped; A3: reported, and resolved and
	// closed at its created time (closed before created: clamped and flagged).
	sum := squeeze(out.String())
	for _, want := range []string{"读取行 rows read 3", "已导入 rows imported 2", "跳过 rows skipped (not sent) 1 created_unreadable 1",
		"事件 events sent 7", "接受 accepted 7", "重复 duplicates 0", "拒绝 rejected 0", "case.closed 2", "警告 warnings 1 time_order 1",
		"columns not in the file: updated status resolution"} {
		if !strings.Contains(sum, want) {
			t.Fatalf("summary lacks %q:\n%s", want, out.String())
		}
	}
	report := filepath.Join(dir, "cases.errors.csv")
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 3 || lines[0] != "row,line,case_id,event_id,field,error,severity,kind" ||
		!strings.HasPrefix(lines[1], "2,3,A2,,created,") || !strings.HasSuffix(lines[1], ",error,created_unreadable") ||
		!strings.HasPrefix(lines[2], "3,4,A3,A3:resolved,closed,") || !strings.HasSuffix(lines[2], ",warning,time_order") {
		t.Fatalf("error report:\n%s", b)
	}
	// Again, flags after the file, report elsewhere: all duplicates, exit status still 0.
	out.Reset()
	other := filepath.Join(dir, "errs.csv")
	args = append([]string{"cases", "--preset", "nyc311", in}, append(args[5:len(args)-1], "--errors", other, "--url", srv.URL)...)
	if err := runImport(context.Background(), args, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	if sum := squeeze(out.String()); !strings.Contains(sum, "事件 events sent 7") || !strings.Contains(sum, "接受 accepted 0") || !strings.Contains(sum, "重复 duplicates 7") {
		t.Fatalf("re-import summary %q", out.String())
	}
	if _, err := os.Stat(other); err != nil {
		t.Fatal(err)
	}
	// A failed import (wrong key) is an error; an unknown mapped column is named.
	if err := runImport(context.Background(), []string{"cases", "--url", srv.URL, "--key", "bad", "--quiet", "--preset", "nyc311", "--map", "id=id,created=created,dept=,category=type,closed=,lat=lat,lon=lon,region=,address=,due=", in}, &out, &errb); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("bad key: %v", err)
	}
	if err := runImport(context.Background(), []string{"cases", "--url", srv.URL, "--quiet", in}, &out, &errb); err == nil || !strings.Contains(err.Error(), `"case_id"`) {
		t.Fatalf("missing columns: %v", err)
	}
}

// The flags of the new presets and mappings reach the import.
func TestImportCasesFlags(t *testing.T) {
	srv, sent := fakeIngest(t, "k")
	dir := t.TempDir()
	fixtures := filepath.Join("..", "..", "importer", "testdata")
	hotline := filepath.Join(fixtures, "hotline12345.csv")
	cats := filepath.Join(fixtures, "hotline12345-categories.csv")
	errs := filepath.Join(dir, "e.csv")
	var out, errb bytes.Buffer
	args := []string{"cases", "--url", srv.URL, "--key", "k", "--preset", "hotline12345", "--quiet", "--category-map", cats,
		"--null-point", "32.123,114.075", "--bounds", "31.9,113.8,32.4,114.4", "--errors", errs, hotline}
	if err := runImport(context.Background(), args, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	// Without a region tree the recorded township names cannot be codes: rows without a usable
	// point are imported as unlocated, each with one warning saying why.
	sum := squeeze(out.String())
	for _, want := range []string{"读取行 rows read 76", "已导入 rows imported 75", "未定位 imported as unlocated 9", "跳过 rows skipped (not sent) 1 id_missing 1", `"其他" 3`} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
	b, _ := os.ReadFile(errs)
	if !strings.Contains(string(b), `is a placeholder for an unknown place; ""民权街道"", ""浉河区"" not looked up: no region tree was given (--regions or --token): imported as unlocated`) ||
		!strings.Contains(string(b), ",warning,unlocated\n") ||
		!strings.Contains(string(b), "outside the plausible bounds 31.9,113.8,32.4,114.4") {
		t.Errorf("error report:\n%s", b)
	}
	codes := map[string]int{}
	for _, l := range sent() {
		if l["type"] == "case.reported" {
			codes[l["category"].(string)]++
			loc, _ := l["location"].(map[string]any)
			if l["category_text"] == nil || loc != nil && loc["crs"] != "gcj02" || loc == nil && l["region"] != nil {
				t.Errorf("report %v", l)
			}
		}
	}
	if codes["unmapped"] == 0 || codes["cityorder"] == 0 || len(codes) != 7 {
		t.Errorf("categories %v", codes)
	}

	// --strict refuses the unmapped rows; an Open311 file is read as such by its extension.
	out.Reset()
	if err := runImport(context.Background(), append([]string{"cases", "--strict"}, args[1:]...), &out, &errb); err != nil {
		t.Fatal(err)
	}
	if sum := squeeze(out.String()); !strings.Contains(sum, "category_unmapped 7") {
		t.Errorf("strict:\n%s", out.String())
	}
	out.Reset()
	if err := runImport(context.Background(), []string{"cases", "--url", srv.URL, "--key", "k", "--quiet", "--errors", errs,
		filepath.Join(fixtures, "open311-requests.json")}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if sum := squeeze(out.String()); !strings.Contains(sum, "读取行 rows read 40") || !strings.Contains(sum, "id=service_request_id") {
		t.Errorf("open311:\n%s", out.String())
	}

	// --replace: a changed row goes in as a correction superseding the earlier import's event.
	in := filepath.Join(dir, "c.csv")
	os.WriteFile(in, []byte("case_id,reported_at,dept,category,lon,lat\nZ1,2025-03-01 08:00:00,a,safety,114.07,32.12\n"), 0o644)
	base := []string{"cases", "--url", srv.URL, "--key", "k", "--quiet", "--errors", errs, "--map", "closed=,resolved=,region=,address=,summary=,due=,source=", in}
	if err := runImport(context.Background(), base, &out, &errb); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(in, []byte("case_id,reported_at,dept,category,lon,lat\nZ1,2025-03-01 08:00:00,b,safety,114.07,32.12\n"), 0o644)
	out.Reset()
	if err := runImport(context.Background(), append([]string{"cases", "--replace"}, base[1:]...), &out, &errb); err != nil {
		t.Fatal(err)
	}
	l := sent()
	if last := l[len(l)-1]; last["id"] != "Z1:dispatched.v2" || last["supersedes"] != "Z1:dispatched" || last["dept"] != "b" || last["case_id"] != "Z1" ||
		!strings.Contains(squeeze(out.String()), "更正 corrections sent (superseding) 1") || !strings.Contains(squeeze(out.String()), "重复 duplicates 1") {
		t.Errorf("replace: %v\n%s", last, out.String())
	}
	// Bad values are refused before anything is sent.
	for _, bad := range [][]string{{"--null-point", "114.07"}, {"--bounds", "1,2,3"}, {"--crs", "utm"}, {"--format", "xml"}, {"--category-map", filepath.Join(dir, "none.csv")}} {
		if err := runImport(context.Background(), append(append([]string{"cases"}, bad...), base[1:]...), &out, &errb); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
