package app

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The series and the hot-spot period say where the history begins when their period starts
// before the store's first report, and nothing when it starts after.
func TestHistoryBeginsOverTheAPI(t *testing.T) {
	t.Parallel()
	a := startApp(t, t.TempDir())
	defer a.Shutdown(context.Background())
	base := "http://" + a.Addr
	loc := a.cfg.Loc
	first := time.Now().In(loc).Add(-30 * time.Hour).Truncate(time.Second)
	town := a.cfg.Tree.Root.Children[0].Code
	var lines []string
	for i, at := range []time.Time{first.Add(2 * time.Hour), first, first.Add(20 * time.Hour)} {
		lines = append(lines, `{"id":"hb`+string(rune('a'+i))+`","type":"case.reported","case_id":"hb`+string(rune('a'+i))+
			`","at":"`+at.Format(time.RFC3339)+`","source":"grid","category":"environment","region":"`+town+`"}`)
	}
	if code, b := post(t, base, "application/x-ndjson", strings.Join(lines, "\n")); code != 200 {
		t.Fatalf("%d %s", code, b)
	}
	waitStored(t, a, int64(len(lines)))
	q := func(path, from string) any {
		t.Helper()
		rep := getJSON(t, base+path+"?token="+testToken+"&from="+url.QueryEscape(from)+"&to="+url.QueryEscape(time.Now().In(loc).Add(time.Hour).Format(time.RFC3339))).(map[string]any)
		return rep["history_begins"]
	}
	before := first.Add(-48 * time.Hour).Format("2006-01-02")
	for _, path := range []string{"/api/v1/series", "/api/v1/hotspots"} {
		got, _ := q(path, before).(string)
		if at, err := time.Parse(time.RFC3339, got); err != nil || !at.Equal(first) {
			t.Errorf("%s from %s: history_begins %q, want %s", path, before, got, first.Format(time.RFC3339))
		}
		if got := q(path, first.Add(time.Hour).Format(time.RFC3339)); got != nil {
			t.Errorf("%s from after the first report: history_begins %v", path, got)
		}
	}
}
