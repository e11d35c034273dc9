package app

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"zhili/ingest"
	"zhili/server"
	"zhili/simulate"
)

func demoGet(t *testing.T, base, path string, q url.Values, out any) {
	t.Helper()
	q.Set("token", testToken)
	resp, err := http.Get(base + path + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// A demo process on an empty data directory starts with its history, stored through the
// ingest path before it is ready: the history store, the audits, the series and the whistle
// board hold it. Started again on the same directory, it sends no second history.
func TestDemoHistory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := Config{DataDir: dir, DemoHistory: 7 * 24 * time.Hour, DemoHistoryPerDay: 150, DemoSeed: 5,
		IngestKeys: map[string]*ingest.Policy{testKey: {Name: "test"}},
		ViewTokens: map[string]server.Viewer{testToken: {Name: "test"}}}
	start := time.Now()
	a := startWith(t, cfg)
	t.Logf("ready with 7 days of history after %v", time.Since(start).Round(time.Millisecond))
	base := "http://" + a.Addr

	var rec demoHistoryState
	b, err := os.ReadFile(filepath.Join(dir, demoHistoryFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rec); err != nil || !rec.Complete || rec.Seed != 5 || rec.Lines < 5000 {
		t.Fatalf("record %s (%v)", b, err)
	}
	ctx := context.Background()
	cp, err := a.Store.Checkpoint(ctx)
	if err != nil || cp < uint64(rec.Lines) {
		t.Fatalf("store checkpoint %d (%v), %d lines sent", cp, err, rec.Lines)
	}
	t.Logf("history: %d lines, %d cases; store checkpoint %d", rec.Lines, rec.Cases, cp)

	// New cases per day over the week add up to the history's cases.
	now := time.Now().In(a.cfg.Loc)
	var series struct {
		Points []struct {
			T     string `json:"t"`
			Count int    `json:"count"`
		} `json:"points"`
	}
	demoGet(t, base, "/api/v1/series", url.Values{"step": {"1d"}, "from": {now.Add(-8 * 24 * time.Hour).Format(time.RFC3339)}}, &series)
	sum := 0
	for _, p := range series.Points {
		sum += p.Count
	}
	if sum < rec.Cases || sum > rec.Cases+50 {
		t.Errorf("new cases over the week: %d, the history sent %d", sum, rec.Cases)
	}
	// The last 24 hours: every hour but a few night ones has reports, and they vary.
	demoGet(t, base, "/api/v1/series", url.Values{"step": {"1h"}}, &series)
	if len(series.Points) < 24 {
		t.Fatalf("24 h series has %d points", len(series.Points))
	}
	// The first and last hours are partial (the window starts and ends now), so only whole hours count.
	lo, hi, empty := 1<<30, 0, 0
	for _, p := range series.Points[1 : len(series.Points)-1] {
		lo, hi = min(lo, p.Count), max(hi, p.Count)
		if p.Count == 0 {
			empty++
		}
	}
	if hi < 3*max(lo, 1) || empty > 6 {
		t.Errorf("24 h series: %+v", series.Points)
	}

	// The audit of the week: every department has cases, and the slow one responds least.
	var audit struct {
		Units []struct {
			Unit    string `json:"unit"`
			Current struct {
				Cases    int `json:"cases"`
				Response struct {
					Value *float64 `json:"value"`
				} `json:"response"`
			} `json:"current"`
		} `json:"units"`
	}
	demoGet(t, base, "/api/v1/audit/rates", url.Values{"from": {now.Add(-7 * 24 * time.Hour).Format(time.RFC3339)},
		"to": {now.Add(time.Minute).Format(time.RFC3339)}}, &audit)
	var slowest string
	lowest := 2.0
	for _, u := range audit.Units {
		if u.Current.Cases == 0 || u.Current.Response.Value == nil {
			t.Errorf("department %s: %+v", u.Unit, u.Current)
			continue
		}
		if v := *u.Current.Response.Value; v < lowest {
			slowest, lowest = u.Unit, v
		}
	}
	if len(audit.Units) < 5 || slowest != simulate.SlowDept {
		t.Errorf("audit: %d departments, the lowest response rate %s (%.2f)", len(audit.Units), slowest, lowest)
	}

	// The whistle board is populated at once.
	ws := dialWS(t, a.Addr, "whistles:root")
	m := ws.waitFor(t, 30*time.Second, func(m map[string]any) bool { return m["op"] == "snapshot" && m["topic"] == "whistles:root" })
	totals, _ := dataOf(m)["totals"].(map[string]any)
	if active, _ := totals["active"].(float64); active < 1 {
		t.Errorf("whistle board at start: %v", totals)
	}
	ws.c.Close()

	// Again on the same directory: the history goes on, none is sent again.
	if err := a.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	a2 := startWith(t, cfg)
	cp2, err := a2.Store.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cp2 < cp || cp2 > cp+200 {
		t.Errorf("after a restart the store holds %d events, before %d", cp2, cp)
	}
}
