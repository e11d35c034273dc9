package importer

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"zhili/geo"
	"zhili/ingest"
	"zhili/internal/app"
	"zhili/internal/nycdata"
	"zhili/server"
)

const (
	testKey   = "k"
	testToken = "t"
)

// stored is an event as GET /api/v1/cases/{id} shows it.
type stored struct {
	ID           string
	Type         string
	At           string
	Category     string
	CategoryText string `json:"category_text"`
	Dept         string
	Deadline     *string
	Region       string
	Location     *struct{ Lon, Lat float64 }
	Satisfaction string
	CloseReason  string   `json:"close_reason"`
	RegionPath   []string `json:"region_path"`
}

// caseEvents waits until the server's history holds n events of a case, and returns them by
// type (the last of each type).
func caseEvents(t *testing.T, base, id string, n int) map[string]stored {
	t.Helper()
	out := map[string]stored{}
	for _, e := range caseEventList(t, base, id, n) {
		out[e.Type] = e
	}
	return out
}

// caseEventList waits until the server's history holds n events of a case, and returns them
// in the server's order.
func caseEventList(t *testing.T, base, id string, n int) []stored {
	t.Helper()
	var got struct{ Events []stored }
	deadline := time.Now().Add(20 * time.Second)
	for {
		got.Events = nil
		resp, err := http.Get(base + "/api/v1/cases/" + url.PathEscape(id) + "?token=" + testToken)
		if err == nil {
			if resp.StatusCode == http.StatusOK {
				err = json.NewDecoder(resp.Body).Decode(&got)
			}
			resp.Body.Close()
		}
		if err == nil && len(got.Events) >= n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("case %s: %d events stored, want %d (%v)", id, len(got.Events), n, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(got.Events) != n {
		t.Fatalf("case %s: %d events stored, want %d: %+v", id, len(got.Events), n, got.Events)
	}
	return got.Events
}

// recorder proxies to target and keeps every event line sent through it.
func recorder(t *testing.T, target string) (string, func() []wireEvent) {
	u, _ := url.Parse(target)
	proxy := httputil.NewSingleHostReverseProxy(u)
	var mu sync.Mutex
	var lines []wireEvent
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		for _, l := range bytes.Split(bytes.TrimSpace(body), []byte("\n")) {
			var ev wireEvent
			if json.Unmarshal(l, &ev) == nil {
				lines = append(lines, ev)
			}
		}
		mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s.URL, func() []wireEvent {
		mu.Lock()
		defer mu.Unlock()
		return append([]wireEvent(nil), lines...)
	}
}

// fakeServer accepts every line and records it.
func fakeServer(t *testing.T, got *[]wireEvent) string {
	var mu sync.Mutex
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		n := 0
		mu.Lock()
		for _, l := range bytes.Split(bytes.TrimSpace(body), []byte("\n")) {
			var ev wireEvent
			if json.Unmarshal(l, &ev) == nil {
				*got = append(*got, ev)
				n++
			}
		}
		mu.Unlock()
		fmt.Fprintf(w, `{"accepted":%d,"duplicates":0,"rejected":[]}`, n)
	}))
	t.Cleanup(s.Close)
	return s.URL
}

// lastSent returns the last version sent of each event id.
func lastSent(evs []wireEvent) map[string]wireEvent {
	out := map[string]wireEvent{}
	for _, e := range evs {
		out[e.ID] = e
	}
	return out
}

// sentOf counts the distinct events sent for a case.
func sentOf(last map[string]wireEvent, caseID string) int {
	n := 0
	for _, e := range last {
		if e.CaseID == caseID {
			n++
		}
	}
	return n
}

// startServer runs the real server (DuckDB history, file intake, demo region tree).
func startServer(t *testing.T) string { return startServerTree(t, nil, nil) }

// startServerTree runs the real server on a region tree (nil: the demo county) in a zone.
func startServerTree(t *testing.T, tree *geo.Tree, loc *time.Location) string {
	t.Helper()
	a, err := app.New(app.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Tick: 50 * time.Millisecond, Tree: tree, Loc: loc,
		IngestKeys: map[string]*ingest.Policy{testKey: {Name: "import"}},
		ViewTokens: map[string]server.Viewer{testToken: {Name: "test"}}})
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
	t.Parallel()
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
	// C1 4 events, C2 1, C5 4 (closed before created: clamped), C6 3 (its category sent again
	// as unmapped), C7 1, C8 2 (dispatched without a deadline).
	if rep.Rows != 8 || rep.Cases != 6 || rep.Imported != 6 || rep.Events != 15 || rep.Accepted != 15 || rep.Duplicates != 0 ||
		fmt.Sprint(rep.Skipped) != "map[created_unreadable:1 id_missing:1]" || len(rep.Rejected) != 0 ||
		fmt.Sprint(rep.Sent) != "map[case.closed:3 case.dispatched:3 case.reported:6 case.resolved:3]" ||
		fmt.Sprint(rep.Warnings) != "map[category_refused:1 time_order:1]" || fmt.Sprint(rep.Unmapped) != "map[Free Text Stuff:1]" {
		t.Fatalf("report %+v", rep)
	}
	type e struct {
		row, line             int
		caseID, evtID, column string
		warn                  bool
	}
	wantErrs := []e{
		{3, 4, "", "", "case_id", false},
		{4, 5, "C4", "", "reported_at", false},
		{5, 6, "C5", "C5:resolved", "closed_at", true},
		{6, 7, "C6", "C6:reported", "category", true},
	}
	check := func(rep Report) {
		t.Helper()
		if len(rep.Errors) != len(wantErrs) {
			t.Fatalf("errors %+v", rep.Errors)
		}
		for i, w := range wantErrs {
			g := rep.Errors[i]
			if (e{g.Row, g.Line, g.CaseID, g.EventID, g.Field, g.Warning}) != w || g.Error == "" {
				t.Errorf("error %d: %+v, want %+v", i, g, w)
			}
		}
	}
	check(rep)
	if !strings.Contains(rep.Errors[3].Error, `refused category "free-text-stuff"`) || !strings.Contains(rep.Errors[3].Error, "sent as unmapped") {
		t.Errorf("category fallback: %q", rep.Errors[3].Error)
	}
	if !strings.Contains(rep.Errors[2].Error, "before the dispatch") || !strings.Contains(rep.Errors[2].Error, "clamped to 2025-03-05T10:00:00+08:00") {
		t.Errorf("closed before created: %q", rep.Errors[2].Error)
	}

	// What landed: C5 closed at its created time, C6 unmapped, C8 dispatched without a deadline.
	c5 := caseEvents(t, base, "C5", 4)
	if c5["case.closed"].At != "2025-03-05T10:00:00+08:00" || c5["case.resolved"].At != "2025-03-05T10:00:00+08:00" {
		t.Errorf("C5 %+v", c5)
	}
	if c6 := caseEvents(t, base, "C6", 3); c6["case.reported"].Category != CategoryUnmapped {
		t.Errorf("C6 %+v", c6)
	}
	if c8 := caseEvents(t, base, "C8", 2); c8["case.dispatched"].Dept != "county.eco-env" || c8["case.dispatched"].Deadline != nil {
		t.Errorf("C8 %+v", c8)
	}

	// Importing again: every sent event is a duplicate, the same rows are reported.
	rep2, err := Run(ctx, strings.NewReader(zhiliCSV), m, Options{URL: base, Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	if rep2.Events != 15 || rep2.Accepted != 0 || rep2.Duplicates != 15 {
		t.Fatalf("re-import %+v", rep2)
	}
	check(rep2)
}

func TestImportFailures(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
	for in, want := range map[string]string{"12 MANHATTAN": "112", "08 BRONX": "208", "Unspecified BROOKLYN": "",
		"01 STATEN ISLAND": "501", "14 QUEENS": "414", "03 BROOKLYN": "303", "0 Unspecified": "", "": "", "12 ATLANTIS": ""} {
		if got := NYCCommunityBoard(in); got != want {
			t.Errorf("%q → %q, want %q", in, got, want)
		}
	}
}

func TestParseTimeAndCategory(t *testing.T) {
	t.Parallel()
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

// The NYC preset on the real 311 sample, into a server whose regions are NYC's community
// districts: every row is imported or reported, statuses become closings with their reasons.
func TestImportNYC311Sample(t *testing.T) {
	t.Parallel()
	dir := nycdata.Dir(t)
	src := filepath.Join(dir, "311_sample.csv")
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	cr := csv.NewReader(f)
	cr.LazyQuotes = true
	cr.FieldsPerRecord = -1
	rows, err := cr.ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	header, rows := rows[0], rows[1:]
	tree := nycdata.Tree(t, dir)

	// Expected lines, computed from the rows with the sample's README rules.
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	ny := Presets["nyc311"].TZ
	var reported, dispatched, closed, notResolved int
	unlocated := 0
	var dupID, fixedID, noViolationID, placedByBoard, placeless string
	for _, r := range rows {
		if r[col["unique_key"]] == "" {
			continue
		}
		if _, err := ParseTime(r[col["created_date"]], ny); err != nil {
			continue
		}
		board := NYCCommunityBoard(r[col["community_board"]])
		noPoint := r[col["latitude"]] == "" || r[col["longitude"]] == ""
		if noPoint && (board == "" || tree.Get(board) == nil) {
			unlocated++ // neither a point nor a known district: sent as unlocated
			if placeless == "" && r[col["agency"]] != "" && r[col["closed_date"]] != "" {
				placeless = r[col["unique_key"]]
			}
		}
		if noPoint && placedByBoard == "" && r[col["agency"]] != "" && r[col["closed_date"]] == "" {
			placedByBoard = r[col["unique_key"]]
		}
		reported++
		if r[col["agency"]] != "" {
			dispatched++
		}
		if r[col["status"]] == "Closed" && r[col["closed_date"]] != "" {
			closed++
			res := strings.ToLower(r[col["resolution_description"]])
			switch {
			case strings.Contains(res, "duplicate"):
				notResolved++
				dupID = r[col["unique_key"]]
			case strings.Contains(res, "does not fall under"), strings.Contains(res, "can not be processed"):
				notResolved++
			case strings.Contains(res, "no evidence of the violation"):
				noViolationID = r[col["unique_key"]]
			case strings.Contains(res, "took action to fix the condition"):
				fixedID = r[col["unique_key"]]
			}
		}
	}

	base := startServerTree(t, tree, ny)
	u, sent := recorder(t, base)
	in, _ := os.Open(src)
	defer in.Close()
	var progress bytes.Buffer
	rep, err := Run(context.Background(), in, Presets["nyc311"], Options{URL: u, Key: testKey, Batch: 500, Progress: &progress, ProgressEvery: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	var summary bytes.Buffer
	rep.WriteSummary(&summary)
	t.Logf("\n%s", summary.String())
	if rep.Rows != 1000 || rep.Cases != reported || rep.Imported != reported || len(rep.Skipped) != 0 || rep.Unlocated != unlocated ||
		rep.Warnings["unlocated"] != unlocated ||
		rep.Sent["case.reported"] != reported || rep.Sent["case.dispatched"] != dispatched ||
		rep.Sent["case.closed"] != closed || rep.Sent["case.resolved"] != closed-notResolved {
		t.Fatalf("report %+v; want %d cases (%d unlocated), %d dispatched, %d closed of which %d not resolved",
			rep, reported, unlocated, dispatched, closed, notResolved)
	}
	if rep.Accepted+rep.Duplicates != rep.Events || len(rep.Rejected) != 0 || rep.Duplicates != 0 {
		t.Fatalf("accepted %d + duplicates %d != events %d; rejected %v", rep.Accepted, rep.Duplicates, rep.Events, rep.Rejected)
	}
	// No dispatch is lost for want of a due date (998 rows have none), and none is invented.
	last := lastSent(sent())
	withDeadline := 0
	reasons := map[string]int{}
	for _, e := range last {
		if e.Type == typeDispatched && e.Deadline != "" {
			withDeadline++
		}
		if e.Type == typeClosed {
			reasons[e.CloseReason]++
		}
		if e.Type == typeReported && (e.Category == CategoryUnmapped) != (NYCCategory(e.CategoryText) == "") {
			t.Errorf("%s: category %q, text %q", e.ID, e.Category, e.CategoryText)
		}
	}
	if withDeadline != 2 || reasons["duplicate"] == 0 || reasons["transferred"] == 0 || reasons["not_fixed"] == 0 || reasons[""] == 0 {
		t.Errorf("deadlines %d, close reasons %v", withDeadline, reasons)
	}
	t.Logf("close reasons %v, unmapped %v", reasons, rep.Unmapped)

	// What landed.
	if e := caseEvents(t, base, dupID, 3); e["case.closed"].Type == "" || e["case.resolved"].Type != "" {
		t.Errorf("duplicate %s: %+v", dupID, e)
	}
	if last[EventID(dupID, "closed")].CloseReason != "duplicate" || last[EventID(noViolationID, "closed")].CloseReason != "not_fixed" ||
		last[EventID(fixedID, "closed")].CloseReason != "" {
		t.Errorf("close reasons sent: %+v %+v %+v", last[EventID(dupID, "closed")], last[EventID(noViolationID, "closed")], last[EventID(fixedID, "closed")])
	}
	if e := caseEvents(t, base, fixedID, 4); e["case.resolved"].Type == "" || e["case.closed"].Type == "" {
		t.Errorf("fixed %s: %+v", fixedID, e)
	}
	if e := caseEvents(t, base, placedByBoard, 2); len(e["case.reported"].RegionPath) != 3 || e["case.reported"].Location != nil {
		t.Errorf("placed by its board %s: %+v", placedByBoard, e)
	}
	if !strings.Contains(progress.String(), "rows") || !strings.Contains(progress.String(), "events") || strings.Contains(progress.String(), "B/s") {
		t.Errorf("progress: %q", progress.String())
	}
	// A row with neither a point nor a district, dispatched and closed: an unlocated case.
	if e := caseEvents(t, base, placeless, sentOf(last, placeless)); len(e["case.reported"].RegionPath) != 0 || e["case.reported"].Location != nil ||
		e["case.dispatched"].Dept == "" || e["case.closed"].Type == "" {
		t.Errorf("unlocated %s: %+v", placeless, e)
	}
	if !strings.Contains(summary.String(), "1,000") || !strings.Contains(summary.String(), "case.dispatched") ||
		!regexp.MustCompile(fmt.Sprintf(`未定位 imported as unlocated +%d `, unlocated)).MatchString(summary.String()) {
		t.Errorf("summary:\n%s", summary.String())
	}
}

// NYC Open Data's own export (Title-Case headers, 12-hour US times) reads like the snake_case
// one: the same events.
func TestImportNYCTitleCase(t *testing.T) {
	t.Parallel()
	dir := nycdata.Dir(t)
	f, err := os.Open(filepath.Join(dir, "311_sample.csv"))
	if err != nil {
		t.Fatal(err)
	}
	cr := csv.NewReader(f)
	cr.LazyQuotes, cr.FieldsPerRecord = true, -1
	rows, err := cr.ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	rows = rows[:301]
	title := map[string]string{"unique_key": "Unique Key", "created_date": "Created Date", "closed_date": "Closed Date",
		"agency": "Agency", "complaint_type": "Complaint Type", "community_board": "Community Board", "latitude": "Latitude",
		"longitude": "Longitude", "incident_address": "Incident Address", "due_date": "Due Date", "status": "Status",
		"resolution_description": "Resolution Description", "resolution_action_updated_date": "Resolution Action Updated Date"}
	var snake, titled bytes.Buffer
	csv.NewWriter(&snake).WriteAll(rows)
	w := csv.NewWriter(&titled)
	for i, r := range rows {
		out := slices.Clone(r)
		for j, v := range r {
			if i == 0 {
				if h, ok := title[v]; ok {
					out[j] = h
				}
				continue
			}
			if tm, err := time.Parse("2006-01-02T15:04:05.000", v); err == nil {
				out[j] = tm.Format("01/02/2006 03:04:05 PM")
			}
		}
		w.Write(out)
	}
	w.Flush()
	var a, b []wireEvent
	ra, err := Run(context.Background(), &snake, Presets["nyc311"], Options{URL: fakeServer(t, &a)})
	if err != nil {
		t.Fatal(err)
	}
	rb, err := Run(context.Background(), &titled, Presets["nyc311"], Options{URL: fakeServer(t, &b)})
	if err != nil {
		t.Fatal(err)
	}
	if rb.Columns["id"] != "Unique Key" || rb.Columns["resolution"] != "Resolution Description" || len(rb.MissingColumns) != 0 {
		t.Fatalf("columns %v, missing %v", rb.Columns, rb.MissingColumns)
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if len(a) < 600 || !bytes.Equal(ja, jb) || ra.Events != rb.Events {
		t.Fatalf("%d and %d events differ", len(a), len(b))
	}
}
