package importer

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"zhili/ingest"
	"zhili/internal/app"
	"zhili/server"
)

const testKey = "k"

// startServer runs the real server (DuckDB history, file intake, demo region tree).
func startServer(t *testing.T) string {
	t.Helper()
	a, err := app.New(app.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Tick: 50 * time.Millisecond,
		IngestKeys: map[string]*ingest.Policy{testKey: {Name: "import"}},
		ViewTokens: map[string]server.Viewer{"t": {Name: "test"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = a.Shutdown(ctx)
	})
	deadline := time.Now().Add(30 * time.Second)
	for !a.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("server not ready")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return "http://" + a.Addr
}

// flaky answers the first request 503 with Retry-After: 1, then proxies to target.
func flaky(t *testing.T, target string) (string, *atomic.Int32) {
	u, _ := url.Parse(target)
	proxy := httputil.NewSingleHostReverseProxy(u)
	var n atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"error":{"code":"unavailable","reason":"intake_full","message":"retry"}}`)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s.URL, &n
}

// Header line 1; rows 1-6 on lines 2-7; row 7 spans lines 8-9 (quoted newline); row 8 line 10.
const zhiliCSV = `case_id,reported_at,closed_at,resolved_at,dept,category,region,lon,lat,address,summary,deadline,source
C1,2025-03-01 08:00:00,2025-03-02 09:00:00,2025-03-01T10:00:00+08:00,county.urban-mgmt,Environment,411502001,114.0913,32.1475,浉河区某路12号,垃圾堆放,2025-03-03 08:00:00,hotline12345
C2,2025-03-02T08:00:00.000,,,,cityorder,411502001,,,,,,grid
,2025-03-02 08:00:00,,,,cityorder,411502001,,,,,,
C4,yesterday,,,,cityorder,411502001,,,,,,
C5,2025-03-05 10:00:00,2025-03-05 09:00:00,,county.urban-mgmt,dispute,411502001,,,,,2025-03-06 10:00:00,
C6,2025-03-06 10:00:00,2025-03-06 12:00:00,,,Free Text Stuff,411502001,,,,,,
C7,2025-03-07 10:00:00,,,,livelihood,411502001,,,,"two
lines",,
C8,2025-03-08 10:00:00,,,county.eco-env,safety,411502001,,,,,,
`

func TestImportZhiliPreset(t *testing.T) {
	base := startServer(t)
	u, calls := flaky(t, base)
	ctx := context.Background()
	m := Presets["zhili"]
	rep, err := Run(ctx, strings.NewReader(zhiliCSV), m, Options{URL: u, Key: testKey, Batch: 4})
	if err != nil {
		t.Fatal(err)
	}
	if calls.Load() < 2 {
		t.Fatalf("the 503 was not retried: %d calls", calls.Load())
	}
	want := Report{Rows: 8, Cases: 6, Events: 12, Accepted: 11, Duplicates: 0}
	got := rep
	got.Errors = nil
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("report %+v, want %+v", got, want)
	}
	type e struct {
		row, line             int
		caseID, evtID, column string
	}
	wantErrs := []e{
		{3, 4, "", "", "case_id"},
		{4, 5, "C4", "", "reported_at"},
		{5, 6, "C5", "C5:closed", "closed_at"},
		{6, 7, "C6", "C6:reported", "category"},
	}
	check := func(rep Report) {
		t.Helper()
		if len(rep.Errors) != len(wantErrs) {
			t.Fatalf("errors %+v", rep.Errors)
		}
		for i, w := range wantErrs {
			g := rep.Errors[i]
			if (e{g.Row, g.Line, g.CaseID, g.EventID, g.Field}) != w || g.Error == "" {
				t.Errorf("error %d: %+v, want %+v", i, g, w)
			}
		}
	}
	check(rep)
	if !strings.Contains(rep.Errors[3].Error, `unknown category "free-text-stuff"`) {
		t.Errorf("category rejection: %q", rep.Errors[3].Error)
	}
	if !strings.Contains(rep.Errors[2].Error, "before the created time") {
		t.Errorf("closed before created: %q", rep.Errors[2].Error)
	}

	// Importing again: every sent event is a duplicate, the same rows are in error.
	rep2, err := Run(ctx, strings.NewReader(zhiliCSV), m, Options{URL: base, Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	if rep2.Events != 12 || rep2.Accepted != 0 || rep2.Duplicates != 11 {
		t.Fatalf("re-import %+v", rep2)
	}
	check(rep2)
}

func TestImportFailures(t *testing.T) {
	base := startServer(t)
	ctx := context.Background()
	// A mapped column missing from the header is named before anything is sent.
	m := Presets["zhili"]
	m.Dept = "department"
	if _, err := Run(ctx, strings.NewReader(zhiliCSV), m, Options{URL: base, Key: testKey}); err == nil || !strings.Contains(err.Error(), `"department"`) {
		t.Fatalf("missing column: %v", err)
	}
	// A wrong key fails the import.
	if _, err := Run(ctx, strings.NewReader(zhiliCSV), Presets["zhili"], Options{URL: base, Key: "wrong"}); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("bad key: %v", err)
	}
	// A server that stays unavailable: retried, then given up with an error.
	var n atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer s.Close()
	_, err := Run(ctx, strings.NewReader(zhiliCSV), Presets["zhili"], Options{URL: s.URL, Key: testKey, RetryFor: 2 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "giving up") || n.Load() < 2 {
		t.Fatalf("unavailable: %v after %d calls", err, n.Load())
	}
}

func TestNYCCommunityBoard(t *testing.T) {
	for in, want := range map[string]string{"12 MANHATTAN": "112", "08 BRONX": "208", "Unspecified BROOKLYN": "",
		"01 STATEN ISLAND": "501", "14 QUEENS": "414", "03 BROOKLYN": "303", "0 Unspecified": "", "": "", "12 ATLANTIS": ""} {
		if got := NYCCommunityBoard(in); got != want {
			t.Errorf("%q → %q, want %q", in, got, want)
		}
	}
}

func TestParseTimeAndCategory(t *testing.T) {
	ny := Presets["nyc311"].TZ
	for _, s := range []string{"2023-12-08T12:00:00.000", "2023-12-08 12:00:00", "2023-12-08T12:00:00", "2023-12-08T12:00:00-05:00", "2023-12-08T17:00:00Z"} {
		got, err := ParseTime(s, ny)
		if err != nil || !got.Equal(time.Date(2023, 12, 8, 17, 0, 0, 0, time.UTC)) {
			t.Errorf("%s: %v %v", s, got, err)
		}
	}
	if _, err := ParseTime("08.12.2023", ny); err == nil {
		t.Error("unreadable time accepted")
	}
	for in, want := range map[string]string{"Environment": "environment", "Free Text  Stuff!": "free-text-stuff", "city.order_x": "city.order_x", "  噪音 扰民 ": ""} {
		if got := NormalizeCategory(in); got != want {
			t.Errorf("NormalizeCategory(%q) = %q, want %q", in, got, want)
		}
	}
	if EventID("A/1", "reported") == EventID("A/2", "reported") || !strings.HasSuffix(EventID("A/1", "closed"), ":closed") || EventID("C1", "closed") != "C1:closed" {
		t.Error("event ids")
	}
}

// The NYC preset on the first 50 rows of the 311 sample: every row is imported or reported.
func TestImportNYC311Sample(t *testing.T) {
	src := filepath.Join("..", "..", "shared", "data", "nyc", "311_sample.csv")
	f, err := os.Open(src)
	if err != nil {
		if os.Getenv("ZHILI_REQUIRE_SERVICES") == "1" {
			t.Fatal(err)
		}
		t.Skipf("no NYC sample: %v", err)
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.LazyQuotes = true
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		t.Fatal(err)
	}
	var rows [][]string
	for len(rows) < 50 {
		rec, err := cr.Read()
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, rec)
	}
	path := filepath.Join(t.TempDir(), "nyc50.csv")
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write(header)
	w.WriteAll(rows)
	os.WriteFile(path, buf.Bytes(), 0o644)

	// Expected lines, computed independently from the rows.
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	ny := Presets["nyc311"].TZ
	var reported, dispatched, ended, noLocation int
	for _, r := range rows {
		created, err := ParseTime(r[col["created_date"]], ny)
		if r[col["unique_key"]] == "" || err != nil {
			continue
		}
		reported++
		if r[col["latitude"]] == "" || r[col["longitude"]] == "" {
			noLocation++
		}
		if r[col["agency"]] != "" {
			dispatched++
		}
		if c := r[col["closed_date"]]; c != "" {
			if ct, err := ParseTime(c, ny); err == nil && !ct.Before(created) {
				ended += 2 // resolved (at closed: no resolved column) and closed
			}
		}
	}

	base := startServer(t)
	m := Presets["nyc311"]
	// The demo tree holds no NYC community districts: the server would reject their codes, so
	// send locations only (a point outside every region is accepted as unlocated).
	m.Region = ""
	m.DueAfter = 72 * time.Hour
	in, _ := os.Open(path)
	defer in.Close()
	var progress bytes.Buffer
	rep, err := Run(context.Background(), in, m, Options{URL: base, Key: testKey, Batch: 16, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", rep)
	if rep.Rows != 50 || rep.Cases != reported || rep.Events != reported+dispatched+ended {
		t.Fatalf("report %+v; want 50 rows, %d cases, %d+%d+%d events", rep, reported, reported, dispatched, ended)
	}
	serverRejected := 0
	inError := map[int]bool{}
	for _, e := range rep.Errors {
		if e.Row < 1 || e.Row > 50 || e.Error == "" {
			t.Fatalf("bad row error %+v", e)
		}
		inError[e.Row] = true
		if e.EventID != "" {
			serverRejected++
			if e.Field != "location" || !strings.HasSuffix(e.EventID, ":reported") {
				t.Errorf("unexpected rejection %+v", e)
			}
		}
	}
	if rep.Accepted+rep.Duplicates+serverRejected != rep.Events || serverRejected != noLocation {
		t.Fatalf("accepted %d + duplicates %d + rejected %d != events %d (rows without location: %d)",
			rep.Accepted, rep.Duplicates, serverRejected, rep.Events, noLocation)
	}
	if !strings.Contains(progress.String(), "importing") {
		t.Errorf("no progress bar: %q", progress.String())
	}
	if rep.Accepted == 0 {
		t.Fatal("nothing accepted")
	}
}
