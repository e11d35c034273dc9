package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"zhili/geo"
	"zhili/ingest"
	"zhili/server"
)

const (
	testKey   = "test-key"
	testToken = "test-token"
	piiToken  = "pii-token" // a case officer allowed personal fields
)

// startApp runs a real process (DuckDB + file intake + in-process bus) on a free port.
func startApp(t *testing.T, dir string) *App {
	t.Helper()
	return startWith(t, Config{DataDir: dir,
		IngestKeys: map[string]*ingest.Policy{testKey: {Name: "test"}},
		ViewTokens: map[string]server.Viewer{testToken: {Name: "test"}, piiToken: {Name: "case officer", PII: true}}})
}

// startWith starts an app of cfg on a free port (a fresh data directory and a 50 ms tick unless
// cfg names them), waits until it is ready and shuts it down when the test ends.
func startWith(t *testing.T, cfg Config) *App {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	if cfg.Tick == 0 {
		cfg.Tick = 50 * time.Millisecond
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Shutdown(context.Background()) })
	// Generous: a demo history is stored before ready, slowly on a machine busy with other tests.
	deadline := time.Now().Add(2 * time.Minute)
	for !a.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("app not ready")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return a
}

func post(t *testing.T, base, ctype, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/api/v1/events", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testKey)
	req.Header.Set("Content-Type", ctype)
	resp, b := roundTrip(t, req)
	return resp.StatusCode, b
}

// roundTrip does req and returns the reply with its body read and closed.
func roundTrip(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// wsClient subscribes to topics and returns a function that waits for a message matching pred.
type wsClient struct {
	c    *websocket.Conn
	msgs chan map[string]any
	seen []map[string]any // every message received so far, in order
	raw  [][]byte         // every frame received so far
	mu   sync.Mutex
}

func dialWS(t *testing.T, addr string, topics ...string) *wsClient {
	t.Helper()
	return dialWSToken(t, addr, testToken, topics...)
}

// dialWSToken opens /ws with token and subscribes to topics.
func dialWSToken(t *testing.T, addr, token string, topics ...string) *wsClient {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws?token="+token, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := &wsClient{c: c, msgs: make(chan map[string]any, 1024)}
	go func() {
		defer close(w.msgs)
		for {
			_, b, err := c.ReadMessage()
			if err != nil {
				return
			}
			w.mu.Lock()
			w.raw = append(w.raw, b)
			w.mu.Unlock()
			var arr []map[string]any
			if len(b) > 0 && b[0] == '[' {
				_ = json.Unmarshal(b, &arr)
			} else {
				var m map[string]any
				_ = json.Unmarshal(b, &m)
				arr = []map[string]any{m}
			}
			for _, m := range arr {
				w.msgs <- m
			}
		}
	}()
	for _, tp := range topics {
		_ = c.WriteJSON(map[string]any{"op": "sub", "topic": tp})
	}
	t.Cleanup(func() { c.Close() })
	return w
}

// waitFor returns the first message, among those already received and those to come, for
// which pred holds.
func (w *wsClient) waitFor(t *testing.T, within time.Duration, pred func(m map[string]any) bool) map[string]any {
	t.Helper()
	for _, m := range w.seen {
		if pred(m) {
			return m
		}
	}
	deadline := time.After(within)
	for {
		select {
		case m, ok := <-w.msgs:
			if !ok {
				t.Fatal("websocket closed")
			}
			w.seen = append(w.seen, m)
			if pred(m) {
				return m
			}
		case <-deadline:
			t.Fatalf("no matching message within %s", within)
		}
	}
}

// waitForState waits until the state of topic, its last snapshot with the deltas since merged
// in (RFC 7386), satisfies pred, and returns it. A delta carries only what changed, so a
// condition across fields that change apart is checked on the state, never on one message.
func (w *wsClient) waitForState(t *testing.T, topic string, within time.Duration, pred func(data map[string]any) bool) map[string]any {
	t.Helper()
	var state map[string]any
	w.waitFor(t, within, func(m map[string]any) bool {
		if m["topic"] != topic {
			return false
		}
		switch m["op"] {
		case "snapshot":
			state = dataOf(m)
		case "delta":
			if state == nil {
				return false
			}
			state = applyMergePatch(state, dataOf(m))
		default:
			return false
		}
		return pred(state)
	})
	return state
}

// applyMergePatch applies an RFC 7386 merge patch to doc (a fresh map; doc is left as it was).
func applyMergePatch(doc, patch map[string]any) map[string]any {
	out := make(map[string]any, len(doc))
	for k, v := range doc {
		out[k] = v
	}
	for k, pv := range patch {
		switch x := pv.(type) {
		case nil:
			delete(out, k)
		case map[string]any:
			old, _ := out[k].(map[string]any)
			out[k] = applyMergePatch(old, x)
		default:
			out[k] = pv
		}
	}
	return out
}

func metricValue(t *testing.T, base, name string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, name+" ") {
			var v float64
			fmt.Sscan(strings.TrimPrefix(line, name+" "), &v)
			return v
		}
	}
	return -1
}

// A batch with good lines, bad lines and duplicates: the per-line report, the stored rows, the
// counters and the live topics all agree, and personal fields never reach a screen.
func TestIngestBatchGoodBadDuplicates(t *testing.T) {
	t.Parallel()
	a := startApp(t, t.TempDir())
	defer a.Shutdown(context.Background())
	base := "http://" + a.Addr
	ws := dialWS(t, a.Addr, "cases:root", "overview:root")
	ws.waitFor(t, 30*time.Second, func(m map[string]any) bool { return m["op"] == "snapshot" && m["topic"] == "overview:root" })

	now := time.Now().In(a.cfg.Loc)
	at := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	lines := []string{
		// 1: good report (GCJ-02, inside the demo county) with personal fields
		`{"id":"g1","type":"case.reported","case_id":"C1","at":"` + at(-time.Minute) + `","source":"hotline12345","category":"environment","priority":"urgent","location":{"lon":114.05,"lat":32.12,"crs":"gcj02"},"address":"浉河区某路12号","reporter":{"name":"张三","phone":"13800000000"}}`,
		// 2: bad latitude
		`{"id":"b1","type":"case.reported","case_id":"C2","at":"` + at(-time.Minute) + `","source":"grid","category":"dispute","location":{"lon":114.05,"lat":132.1}}`,
		// 3: good dispatch
		`{"id":"g2","type":"case.dispatched","case_id":"C1","at":"` + at(-30*time.Second) + `","dept":"county.urban-mgmt","deadline":"` + at(48*time.Hour) + `"}`,
		// 4: duplicate of line 1 in the same request (the same event, its keys in another order)
		`{"type":"case.reported","id":"g1","case_id":"C1","at":"` + at(-time.Minute) + `","source":"hotline12345","category":"environment","priority":"urgent","location":{"lon":114.05,"lat":32.12,"crs":"gcj02"},"reporter":{"phone":"13800000000","name":"张三"},"address":"浉河区某路12号"}`,
		// 5: not JSON
		`{"id":"b2",`,
		// 6: too far in the future
		`{"id":"b3","type":"case.accepted","case_id":"C1","at":"` + at(time.Hour) + `"}`,
		// 7: unknown type
		`{"id":"b4","type":"case.teleported","case_id":"C1","at":"` + at(0) + `"}`,
		// 8: good report outside every region (unlocated)
		`{"id":"g3","type":"case.reported","case_id":"C3","at":"` + at(-time.Minute) + `","source":"app","category":"dispute","location":{"lon":116.4,"lat":39.9}}`,
	}
	code, body := post(t, base, "application/x-ndjson", strings.Join(lines, "\n")+"\n")
	if code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	var rep ingest.Reply
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Accepted != 3 || rep.Duplicates != 1 || len(rep.Rejected) != 4 {
		t.Fatalf("reply %s", body)
	}
	wantRej := map[int]string{2: "location.lat: out of range", 5: "line: ", 6: "at: more than", 7: "type: unknown type"}
	for _, r := range rep.Rejected {
		if w, ok := wantRej[r.Line]; !ok || !strings.HasPrefix(r.Error, w) {
			t.Errorf("line %d rejected with %q, want prefix %q", r.Line, r.Error, w)
		}
	}
	// The same request again: everything already accepted is a duplicate.
	_, body = post(t, base, "application/x-ndjson", strings.Join(lines, "\n"))
	_ = json.Unmarshal(body, &rep)
	if rep.Accepted != 0 || rep.Duplicates != 4 {
		t.Fatalf("replayed request: %s", body)
	}
	// A JSON array body is accepted too.
	code, body = post(t, base, "application/json", `[{"id":"g4","type":"case.signed","case_id":"C1","at":"`+at(0)+`","dept":"county.urban-mgmt"}, {"id":"b5"}]`)
	_ = json.Unmarshal(body, &rep)
	if code != 200 || rep.Accepted != 1 || len(rep.Rejected) != 1 || rep.Rejected[0].Line != 2 || !strings.HasPrefix(rep.Rejected[0].Error, "type: required") {
		t.Fatalf("array body: %d %s", code, body)
	}

	// Live: the overview shows 2 new cases (one unlocated) and the feed never carries PII.
	ov := ws.waitFor(t, 30*time.Second, func(m map[string]any) bool {
		if m["topic"] != "overview:root" {
			return false
		}
		tot, _ := dataOf(m)["totals"].(map[string]any)
		return tot != nil && tot["new_today"] == float64(2)
	})
	_ = ov
	ws.waitFor(t, 30*time.Second, func(m map[string]any) bool {
		if m["topic"] != "cases:root" {
			return false
		}
		b, _ := json.Marshal(m)
		return bytes.Contains(b, []byte(`"test/g4"`)) // stored under the key's name
	})
	ws.mu.Lock()
	for _, b := range ws.raw {
		for _, pii := range []string{"张三", "13800000000", "某路"} {
			if bytes.Contains(b, []byte(pii)) {
				t.Fatalf("personal data %q reached a screen: %s", pii, b)
			}
		}
	}
	ws.mu.Unlock()

	// Stored: exactly the 4 accepted events, once each.
	waitStored(t, a, 4)
	recs, err := a.Store.CaseEvents(context.Background(), "C1")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[0].ID != "test/g1" || recs[0].Reporter == nil || recs[0].Reporter.Name != "张三" {
		t.Fatalf("stored C1: %+v", recs)
	}
	if len(recs[0].RegionPath) != 3 {
		t.Fatalf("C1 not located to a grid: %v", recs[0].RegionPath)
	}

	// Counters.
	if v := metricValue(t, base, `zhili_ingest_lines_total{result="accepted"}`); v != 4 {
		t.Errorf("accepted counter %v", v)
	}
	if v := metricValue(t, base, `zhili_ingest_lines_total{result="duplicate"}`); v != 5 {
		t.Errorf("duplicate counter %v", v)
	}
	if v := metricValue(t, base, `zhili_ingest_rejected_total{code="invalid",field="location.lat"}`); v != 2 {
		t.Errorf("rejected location.lat counter %v", v)
	}
	// The live heap, for soaks (a collection has run: the demo tree alone is megabytes).
	runtime.GC()
	if v := metricValue(t, base, `zhili_go_heap_live_bytes`); v < 1<<20 {
		t.Errorf("zhili_go_heap_live_bytes %v", v)
	}
}

func waitStored(t *testing.T, a *App, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		// The events, then their checkpoint: ClickHouse stores the checkpoint after the events,
		// and readers see a new data version only with it. Offsets here run from 1 without gaps.
		c, err := a.Store.Count(context.Background())
		var cp uint64
		if err == nil {
			cp, err = a.Store.Checkpoint(context.Background())
		}
		if err == nil && c == n && cp >= uint64(n) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stored %d events with checkpoint %d, want %d (err %v)", c, cp, n, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitStoredIDs waits until every one of ids is stored: waitStored for a deployment whose
// demo history goes on arriving, where the total is no fixed number.
func waitStoredIDs(t *testing.T, a *App, ids ...string) {
	t.Helper()
	eventually(t, 10*time.Second, func() string {
		got, err := a.Store.Versions(context.Background(), ids)
		if err != nil || len(got) != len(ids) {
			return fmt.Sprintf("stored %d of the %d events %v (err %v)", len(got), len(ids), ids, err)
		}
		return ""
	})
}

func TestIngestLimitsAndAuth(t *testing.T) {
	t.Parallel()
	a, err := New(Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), MaxLines: 3, MaxBytes: 1000,
		IngestKeys: map[string]*ingest.Policy{testKey: {}}, ViewTokens: map[string]server.Viewer{testToken: {}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	defer a.Shutdown(context.Background())
	base := "http://" + a.Addr
	line := `{"id":"x","type":"case.accepted","case_id":"C","at":"2026-01-01T00:00:00+08:00"}`
	cases := []struct {
		name, ctype, body string
		status            int
		reason            string
	}{
		{"too many lines", "application/x-ndjson", strings.Repeat(line+"\n", 4), 413, "max_lines"},
		{"too many bytes", "application/x-ndjson", strings.Repeat(" ", 1500) + line, 413, "max_bytes"},
		{"far too many bytes", "application/x-ndjson", strings.Repeat(" ", 5000) + line, 413, "max_bytes"},
		{"wrong content type", "text/plain", line, 415, "content_type"},
		{"json not array", "application/json", line, 400, "not_array"},
		{"empty", "application/x-ndjson", "\n\n", 400, "empty_body"},
	}
	for _, c := range cases {
		code, body := post(t, base, c.ctype, c.body)
		var e struct {
			Error struct{ Code, Reason, Message string }
		}
		_ = json.Unmarshal(body, &e)
		if code != c.status || e.Error.Reason != c.reason {
			t.Errorf("%s: %d %s", c.name, code, body)
		}
	}
	req, _ := http.NewRequest("POST", base+"/api/v1/events", strings.NewReader(line))
	req.Header.Set("Authorization", "Bearer wrong")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("wrong key: %d", resp.StatusCode)
	}
	resp, _ = http.Get(base + "/api/v1/regions")
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("regions without token: %d", resp.StatusCode)
	}
	resp, _ = http.Get(base + "/api/v1/regions?token=" + testToken + "&depth=1")
	var fc struct{ Features []json.RawMessage }
	_ = json.NewDecoder(resp.Body).Decode(&fc)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(fc.Features) != 7 {
		t.Errorf("regions depth 1: %d, %d features", resp.StatusCode, len(fc.Features))
	}
	// Regions in the CRS a screen asks for: GCJ-02 outlines are the WGS-84 ones shifted.
	first := func(crs string) [2]float64 {
		resp, err := http.Get(base + "/api/v1/regions?token=" + testToken + "&depth=0&crs=" + crs)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var fc struct {
			Features []struct {
				Geometry struct{ Coordinates [][][2]float64 }
			}
		}
		_ = json.NewDecoder(resp.Body).Decode(&fc)
		if len(fc.Features) != 1 {
			t.Fatalf("crs=%s: %d features", crs, len(fc.Features))
		}
		return fc.Features[0].Geometry.Coordinates[0][0]
	}
	w, g := first("wgs84"), first("gcj02")
	if gl, ga := geo.WGS84ToGCJ02(w[0], w[1]); math.Abs(g[0]-gl) > 1e-9 || math.Abs(g[1]-ga) > 1e-9 || g == w {
		t.Errorf("gcj02 outline %v, wgs84 %v", g, w)
	}
}

// Period queries over HTTP: series buckets in the deployment time zone, counts per child
// region, and a case timeline with personal fields masked.
func TestSeriesCountsAndTimeline(t *testing.T) {
	t.Parallel()
	a := startApp(t, t.TempDir())
	defer a.Shutdown(context.Background())
	base := "http://" + a.Addr
	loc := a.cfg.Loc
	day := time.Now().In(loc).Add(-48 * time.Hour)
	at := func(h, m int) string {
		return time.Date(day.Year(), day.Month(), day.Day(), h, m, 0, 0, loc).Format(time.RFC3339)
	}
	t1, t2 := a.cfg.Tree.Root.Children[0], a.cfg.Tree.Root.Children[1]
	lines := []string{
		`{"id":"s1","type":"case.reported","case_id":"K1","at":"` + at(8, 10) + `","source":"grid","category":"safety","region":"` + t1.Code + `","reporter":{"name":"李四","phone":"13912345678"},"address":"老城街道幸福路8号"}`,
		`{"id":"s2","type":"case.reported","case_id":"K2","at":"` + at(8, 50) + `","source":"app","category":"safety","region":"` + t1.Children[0].Code + `"}`,
		`{"id":"s3","type":"case.reported","case_id":"K3","at":"` + at(10, 5) + `","source":"grid","category":"dispute","region":"` + t2.Code + `"}`,
		`{"id":"s4","type":"case.dispatched","case_id":"K1","at":"` + at(8, 20) + `","dept":"county.emergency","deadline":"` + at(20, 0) + `"}`,
	}
	if code, body := post(t, base, "application/x-ndjson", strings.Join(lines, "\n")); code != 200 || !strings.Contains(string(body), `"accepted":4`) {
		t.Fatalf("%d %s", code, body)
	}
	waitStored(t, a, 4)
	getJSON := func(path string, v any) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
		}
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
	date := day.Format("2006-01-02")
	var series struct {
		Points []struct {
			T     time.Time
			Count int
		}
	}
	getJSON("/api/v1/series?token="+testToken+"&from="+date+"&to="+day.Add(24*time.Hour).Format("2006-01-02")+"&step=1h", &series)
	if len(series.Points) != 24 {
		t.Fatalf("%d hourly points for a day", len(series.Points))
	}
	if series.Points[8].Count != 2 || series.Points[10].Count != 1 || series.Points[8].T.In(loc).Hour() != 8 {
		t.Fatalf("hourly series: 08h=%d 10h=%d", series.Points[8].Count, series.Points[10].Count)
	}
	getJSON("/api/v1/series?token="+testToken+"&region="+t1.Code+"&category=safety&from="+date+"&to="+day.Add(24*time.Hour).Format("2006-01-02")+"&step=1d", &series)
	if len(series.Points) != 1 || series.Points[0].Count != 2 {
		t.Fatalf("daily series for %s: %+v", t1.Code, series.Points)
	}
	var counts struct {
		Children []struct {
			Region string
			Count  int
		}
	}
	getJSON("/api/v1/counts?token="+testToken+"&from="+date+"&to="+day.Add(24*time.Hour).Format("2006-01-02"), &counts)
	got := map[string]int{}
	for _, c := range counts.Children {
		got[c.Region] = c.Count
	}
	if got[t1.Code] != 2 || got[t2.Code] != 1 {
		t.Fatalf("counts per township: %v", got)
	}
	var tl struct {
		Events []struct {
			ID       string
			Address  string
			Reporter struct{ Name, Phone string }
		}
		PII      string
		Timeline struct {
			Status string
			Flags  []string
			Steps  []struct {
				ID    string
				To    string
				Legal bool
			}
			Clocks []struct {
				Dept     string
				Late     bool
				Overdue  int64 `json:"overdue_s"`
				Deadline time.Time
			}
		}
	}
	getJSON("/api/v1/cases/K1?token="+testToken, &tl)
	if len(tl.Events) != 2 || tl.Events[0].ID != "test/s1" || tl.Events[1].ID != "test/s4" { // stored under the key's name
		t.Fatalf("timeline %+v", tl.Events)
	}
	if e := tl.Events[0]; tl.PII != "masked" || strings.Contains(e.Reporter.Phone, "12345678") || strings.Contains(e.Reporter.Name, "四") || strings.Contains(e.Address, "8号") {
		t.Fatalf("personal fields not masked: %+v", e)
	}
	// The clocks as they ran: dispatched two days ago, due at 20:00 that day, never resolved.
	g := tl.Timeline
	if g.Status != "dispatched" || len(g.Steps) != 2 || g.Steps[1].To != "dispatched" || !g.Steps[1].Legal ||
		len(g.Clocks) != 1 || !g.Clocks[0].Late || g.Clocks[0].Dept != "county.emergency" ||
		time.Since(g.Clocks[0].Deadline)-time.Duration(g.Clocks[0].Overdue)*time.Second > 5*time.Second ||
		!slices.Contains(g.Flags, "overdue") {
		t.Fatalf("case timeline %+v", g)
	}
	// A token allowed personal fields sees them.
	getJSON("/api/v1/cases/K1?token="+piiToken, &tl)
	if e := tl.Events[0]; tl.PII != "shown" || e.Reporter.Phone != "13912345678" || e.Address != "老城街道幸福路8号" {
		t.Fatalf("a PII token: %s %+v", tl.PII, e)
	}
	resp, _ := http.Get(base + "/api/v1/series?token=" + testToken + "&step=5h")
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("a 5h step (does not divide a day): %d", resp.StatusCode)
	}
}

// The hotspot topic counts live reports per grid, and after a restart starts from the history
// store without counting anything twice.
func TestHotspotsLiveAndAfterRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := startApp(t, dir)
	base := "http://" + a.Addr
	var leaves []string
	var regions []*geo.Region
	a.cfg.Tree.Walk(func(r *geo.Region) {
		if len(r.Children) == 0 {
			leaves = append(leaves, r.Code)
			regions = append(regions, r)
		}
	})
	hot := leaves[9]
	at := time.Now().In(a.cfg.Loc).Add(-30 * time.Minute).Format(time.RFC3339)
	var lines []string
	n := 0
	report := func(region string, k int) {
		for i := 0; i < k; i++ {
			n++
			lines = append(lines, fmt.Sprintf(`{"id":"h%d","type":"case.reported","case_id":"H%d","at":%q,"source":"grid","category":"security","region":%q}`, n, n, at, region))
		}
	}
	for _, l := range leaves {
		report(l, 1)
	}
	report(hot, 25)
	// A hot area: the neighbours are busy too, so the cluster is significant after FDR.
	nbrs, _ := geo.ContiguityWeights(regions, 1e-7).Row(9)
	for _, j := range nbrs {
		if j != 9 {
			report(leaves[j], 10)
		}
	}
	if code, body := post(t, base, "application/x-ndjson", strings.Join(lines, "\n")); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	countOf := func(d map[string]any) (float64, float64) {
		grids, _ := d["grids"].(map[string]any)
		g, _ := grids[hot].(map[string]any)
		if g == nil {
			return -1, 0
		}
		c, _ := g["count"].(float64)
		b, _ := g["bin"].(float64)
		return c, b
	}
	ws := dialWS(t, a.Addr, "hotspots:root:24h")
	ws.waitForState(t, "hotspots:root:24h", 30*time.Second, func(d map[string]any) bool {
		// Counts arrive in the snapshot or a later delta; wait until the grid shows 26.
		c, bin := countOf(d)
		return c == 26 && bin > 0
	})
	waitStored(t, a, int64(n))
	a.Shutdown(context.Background())

	b := startApp(t, dir)
	defer b.Shutdown(context.Background())
	ws2 := dialWS(t, b.Addr, "hotspots:root:24h")
	ws2.waitForState(t, "hotspots:root:24h", 30*time.Second, func(d map[string]any) bool {
		seeded, _ := d["seeded"].(bool)
		c, bin := countOf(d)
		if seeded && c != 26 && c != -1 {
			t.Fatalf("after restart the hot grid counts %v, want 26", c)
		}
		return seeded && c == 26 && bin > 0
	})
}

// Hotspots for a past period from the history store: Gi* per grid, and emerging classes per
// grid over daily steps (twelve: emerging classes need at least ten steps holding data).
func TestPeriodHotspotsAPI(t *testing.T) {
	t.Parallel()
	a := startApp(t, t.TempDir())
	defer a.Shutdown(context.Background())
	base := "http://" + a.Addr
	var regions []*geo.Region
	a.cfg.Tree.Walk(func(r *geo.Region) {
		if len(r.Children) == 0 {
			regions = append(regions, r)
		}
	})
	nbrs, _ := geo.ContiguityWeights(regions, 1e-7).Row(9)
	loc := a.cfg.Loc
	day0 := time.Now().In(loc).AddDate(0, 0, -12)
	day0 = time.Date(day0.Year(), day0.Month(), day0.Day(), 0, 0, 0, 0, loc)
	var lines []string
	n := 0
	report := func(code string, d, k int) {
		for i := 0; i < k; i++ {
			n++
			at := day0.AddDate(0, 0, d).Add(time.Duration(9+i%8) * time.Hour).Format(time.RFC3339)
			lines = append(lines, fmt.Sprintf(`{"id":"p%d","type":"case.reported","case_id":"P%d","at":%q,"source":"app","category":"environment","region":%q}`, n, n, at, code))
		}
	}
	for d := 0; d < 12; d++ {
		for _, r := range regions {
			report(r.Code, d, 1)
		}
		if d >= 8 { // the area around grid 9 heats up over the last four days
			for _, j := range nbrs {
				report(regions[j].Code, d, 4*(d-7))
			}
		}
	}
	if code, body := post(t, base, "application/x-ndjson", strings.Join(lines, "\n")); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	waitStored(t, a, int64(n))
	from, to := day0.Format("2006-01-02"), day0.AddDate(0, 0, 12).Format("2006-01-02")
	var rep struct {
		FDR   bool
		Steps []time.Time
		Cells []struct {
			Code    string
			Count   int
			Bin     int
			Pattern string
		}
	}
	resp, err := http.Get(base + "/api/v1/hotspots?token=" + testToken + "&from=" + from + "&to=" + to + "&step=1d")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.FDR || len(rep.Steps) != 12 || len(rep.Cells) != len(regions) {
		t.Fatalf("reply: fdr %v, %d steps, %d cells", rep.FDR, len(rep.Steps), len(rep.Cells))
	}
	// Gi* looks at neighbourhoods: grids touching the heated area may share its hot bins, grids
	// farther away may not.
	in := map[string]bool{}
	w := geo.ContiguityWeights(regions, 1e-7)
	for _, j := range nbrs {
		ks, _ := w.Row(j)
		for _, k := range ks {
			in[regions[k].Code] = true
		}
	}
	hot := rep.Cells[9]
	if hot.Code != regions[9].Code || hot.Count != 12+4+8+12+16 || hot.Bin < 2 || !strings.HasSuffix(hot.Pattern, "_hot") {
		t.Fatalf("the heating grid: %+v", hot)
	}
	for _, c := range rep.Cells {
		if !in[c.Code] && (c.Bin > 0 || strings.HasSuffix(c.Pattern, "_hot")) {
			t.Fatalf("a quiet grid came out hot: %+v", c)
		}
	}
	t.Logf("heating grid %s: %d cases, bin %d, pattern %s", hot.Code, hot.Count, hot.Bin, hot.Pattern)
}

// The whistle board: a whistle posted through the API appears on whistles:root with each
// summoned department's stages and deadlines; an answer arrives as a delta.
func TestWhistleBoardLive(t *testing.T) {
	t.Parallel()
	a := startApp(t, t.TempDir())
	defer a.Shutdown(context.Background())
	base := "http://" + a.Addr
	town := a.cfg.Tree.Root.Children[0].Code
	now := time.Now().In(mustShanghai())
	ts := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	body := `{"id":"r1","type":"case.reported","case_id":"C1","at":"` + ts(-time.Hour) + `","source":"grid","category":"environment","region":"` + town + `"}
{"id":"b1","type":"whistle.blown","case_id":"C1","at":"` + ts(-50*time.Minute) + `","whistle_id":"W1","whistle_kind":"advance","depts":["county.urban-mgmt","county.eco-env"]}`
	if code, b := post(t, base, "application/x-ndjson", body); code != 200 {
		t.Fatalf("%d %s", code, b)
	}
	ws := dialWS(t, a.Addr, "whistles:root")
	snap := ws.waitFor(t, 30*time.Second, func(m map[string]any) bool {
		if m["op"] != "snapshot" && m["op"] != "delta" {
			return false
		}
		w, _ := dataOf(m)["whistles"].(map[string]any)
		return w != nil && w["W1"] != nil
	})
	w1 := snap["data"].(map[string]any)["whistles"].(map[string]any)["W1"].(map[string]any)
	depts := w1["depts"].([]any)
	if len(depts) != 2 || w1["kind"] != "advance" {
		t.Fatalf("W1 on the board: %v", w1)
	}
	urban := depts[0].(map[string]any)
	// 50 of their 60 minutes to sign are gone: amber until they sign.
	if urban["dept"] != "county.urban-mgmt" || len(urban["stages"].([]any)) != 3 || urban["light"] != "amber" {
		t.Fatalf("urban-mgmt with 10 min left to sign: %v", urban)
	}
	if env := depts[1].(map[string]any); env["light"] != "amber" {
		t.Fatalf("eco-env with 10 min left to sign: %v", env)
	}
	body = `{"id":"a1","type":"whistle.answered","case_id":"C1","at":"` + ts(-time.Minute) + `","whistle_id":"W1","dept":"county.eco-env","stage":"signed"}`
	if code, b := post(t, base, "application/x-ndjson", body); code != 200 {
		t.Fatalf("%d %s", code, b)
	}
	ws.waitFor(t, 30*time.Second, func(m map[string]any) bool {
		if m["op"] != "delta" {
			return false
		}
		w, _ := dataOf(m)["whistles"].(map[string]any)
		if w == nil || w["W1"] == nil {
			return false
		}
		d, _ := w["W1"].(map[string]any)["depts"].([]any)
		// Signed: that clock is done, the next (24 h to make contact) is green.
		return len(d) == 2 && d[1].(map[string]any)["light"] == "green" &&
			d[1].(map[string]any)["stages"].([]any)[0].(map[string]any)["reached"] != nil
	})
}

// dataOf is a pushed message's data (nil when the message carries none, as a status frame).
func dataOf(m map[string]any) map[string]any {
	d, _ := m["data"].(map[string]any)
	return d
}
