package alerts

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"zhili/clock"
)

// TestCoverage: watch marks over two processes on one file log tell which parts of a period
// were watched, across a restart, a stall and a clean stop; the figures survive a replay.
func TestCoverage(t *testing.T) {
	dir := t.TempDir()
	path, marks := filepath.Join(dir, "alerts.jsonl"), filepath.Join(dir, "alerts.watch.jsonl")
	open := func(clk *clock.Fake) (*Engine, *FileLog) {
		t.Helper()
		lg, err := OpenFileLog(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		mk, err := OpenFileLog(marks, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { lg.Close() })
		e, err := NewEngine(nil, Options{Clock: clk, Location: shanghai, Log: lg, Marks: mk})
		if err != nil {
			t.Fatal(err)
		}
		return e, mk
	}
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	eval := func(e *Engine, clk *clock.Fake, m int) {
		t.Helper()
		clk.Set(at(m))
		if _, err := e.Evaluate(time.Time{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	clk := clock.NewFake(at(-60))
	e, lg := open(clk)
	// Nothing watched yet: no since, the whole period a gap, not complete.
	if c := e.Coverage(at(-120), at(-60)); c.Since != nil || c.Complete || c.Watched != 0 || c.Unwatched != time.Hour {
		t.Fatalf("before any evaluation: %+v", c)
	}
	// Process 1 evaluates every minute from 10:00 to 10:25 (marks at 0, 10, 20), stalls for an
	// hour (not ready: no evaluation), resumes at 11:30 to 11:35, then stops cleanly.
	for m := 0; m <= 25; m++ {
		eval(e, clk, m)
	}
	for m := 90; m <= 95; m++ {
		eval(e, clk, m)
	}
	if err := e.Watched(); err != nil {
		t.Fatal(err)
	}
	lg.Close()
	// Process 2 starts at 12:00 and evaluates to 12:12 (marks at 120, 130; live since).
	clk2 := clock.NewFake(at(120))
	e2, lg2 := open(clk2)
	defer lg2.Close()
	for m := 120; m <= 132; m++ {
		eval(e2, clk2, m)
	}
	c := e2.Coverage(at(-30), at(200)) // to beyond now: now (12:12)
	want := []Span{{at(-30), at(0)}, {at(20), at(90)}, {at(95), at(120)}}
	if !sameSpans(c.Gaps, want) {
		t.Errorf("gaps %v, want %v", c.Gaps, want)
	}
	// Watched: 10:00–10:20 (the marks; 10:20–10:25 unproved), 11:30–11:35 (the stop's mark),
	// 12:00–12:12 (live).
	if c.Watched != 37*time.Minute || c.Unwatched != 125*time.Minute || c.Complete || !c.To.Equal(at(132)) ||
		c.Since == nil || !c.Since.Equal(at(0)) {
		t.Errorf("coverage %+v", c)
	}
	// A period inside one span is complete; a zero from starts at the first mark.
	if c := e2.Coverage(at(2), at(18)); !c.Complete || c.Watched != 16*time.Minute || len(c.Gaps) != 0 {
		t.Errorf("inside a span: %+v", c)
	}
	if c := e2.Coverage(time.Time{}, time.Time{}); !c.From.Equal(at(0)) || c.Watched != 37*time.Minute {
		t.Errorf("open bounds: %+v", c)
	}
	// Stats carry the coverage; JSON gives its durations in seconds.
	st := e2.Stats(at(-30), time.Time{}, "")
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var js struct {
		Coverage struct {
			Since     time.Time `json:"since"`
			WatchedS  float64   `json:"watched_s"`
			Unwatched float64   `json:"unwatched_s"`
			Gaps      []Span    `json:"gaps"`
			Complete  bool      `json:"complete"`
		} `json:"coverage"`
	}
	if err := json.Unmarshal(b, &js); err != nil || js.Coverage.WatchedS != 37*60 || js.Coverage.Unwatched != 125*60 || len(js.Coverage.Gaps) != 3 ||
		js.Coverage.Complete || !js.Coverage.Since.Equal(at(0)) {
		t.Errorf("stats JSON %s (%v)", b, err)
	}
	// Process 2 is gone past two heartbeats (killed: no stop mark): its span ends at its last mark.
	clk2.Set(at(200))
	if c := e2.Coverage(at(120), at(200)); c.Watched != 10*time.Minute || !sameSpans(c.Gaps, []Span{{at(130), at(200)}}) {
		t.Errorf("after the marks stopped: %+v", c)
	}
	// A reader replaying the log (no evaluation of its own) sees the same spans, without a live one.
	lg3, err := OpenFileLog(marks, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer lg3.Close()
	e3, err := NewEngine(nil, Options{Clock: clock.NewFake(at(132)), Marks: lg3})
	if err != nil {
		t.Fatal(err)
	}
	if c := e3.Coverage(at(-30), at(132)); c.Watched != 35*time.Minute || len(c.Gaps) != 4 {
		t.Errorf("replayed: %+v", c)
	}
	// The alert log itself holds no mark: binaries that do not know them still read it.
	if b, err := os.ReadFile(path); err != nil || len(b) != 0 {
		t.Errorf("the alert log holds %q (%v)", b, err)
	}
}

// TestCoverageClockBack: a mark before the last (the clock set back) starts a new span; spans
// that overlap are counted once.
func TestCoverageClockBack(t *testing.T) {
	e, clk, _ := newEngine(t, "rules: []\n", nil)
	for _, m := range []int{0, 10, 20, 30, 15, 25, 35} {
		clk.Set(t0.Add(time.Duration(m) * time.Minute))
		if _, err := e.Evaluate(time.Time{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	clk.Set(t0.Add(2 * time.Hour))
	if c := e.Coverage(t0, t0.Add(time.Hour)); c.Watched != 35*time.Minute || !sameSpans(c.Gaps, []Span{{t0.Add(35 * time.Minute), t0.Add(time.Hour)}}) {
		t.Errorf("clock set back: %+v", c)
	}
}

func sameSpans(a, b []Span) bool {
	return slices.EqualFunc(a, b, func(x, y Span) bool { return x.From.Equal(y.From) && x.To.Equal(y.To) })
}

// TestCoverageGapsKept: of many gaps the latest 20 are listed and the older ones counted.
func TestCoverageGapsKept(t *testing.T) {
	var spans []Span
	for h := 0; h < 30; h++ {
		at := t0.Add(time.Duration(h) * time.Hour)
		spans = append(spans, Span{From: at, To: at.Add(30 * time.Minute)})
	}
	c := coverage(spans, false, t0, t0.Add(30*time.Hour), t0.Add(40*time.Hour))
	if len(c.Gaps) != maxGaps || c.GapsMore != 10 || !c.Gaps[maxGaps-1].From.Equal(t0.Add(29*time.Hour+30*time.Minute)) ||
		c.Watched != 15*time.Hour || c.Unwatched != 15*time.Hour {
		t.Errorf("gaps %d (+%d), last %v, watched %v", len(c.Gaps), c.GapsMore, c.Gaps[len(c.Gaps)-1], c.Watched)
	}
}
