package aggregator

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"zhili/event"
	"zhili/ingest"
	"zhili/intake"
	"zhili/internal/testsvc"
	"zhili/store"
)

// TestStateKeepsNoEntry: cases are kept for days, and the decoder's strings point into its copy
// of the whole intake entry; the state must not keep the entries alive with what it keeps of
// them. Each entry here carries a megabyte the state has no use for.
func TestStateKeepsNoEntry(t *testing.T) {
	s := newTestState()
	now := ts("2026-11-27T10:00:00+08:00")
	const n, pad = 30, 1 << 20
	heap := testsvc.HeapAfterGC
	before := heap()
	for i := range n {
		for j, typ := range []event.Type{event.CaseReported, event.CaseDispatched, event.WhistleBlown} {
			ev := event.Event{ID: fmt.Sprintf("e-%d-%d", i, j), Type: typ, CaseID: fmt.Sprintf("case-%d", i),
				At: now.Add(-time.Duration(3-j) * time.Minute), Category: "environment", Source: "grid", Priority: "normal",
				Dept: fmt.Sprintf("dept-%d", i), WhistleID: fmt.Sprintf("w-%d", i), WhistleKind: "arrive", Depts: []string{fmt.Sprintf("dept-%d", i)}}
			rec, err := ingest.Encode(ev, now)
			if err != nil {
				t.Fatal(err)
			}
			data := append(rec.Data[:len(rec.Data)-1:len(rec.Data)-1], `,"pad":"`+strings.Repeat("x", pad)+`"}`...)
			lg, err := ingest.Decode(intake.Entry{Offset: uint64(3*i + j + 1), Data: data})
			if err != nil {
				t.Fatal(err)
			}
			r := store.Record{Event: lg.Event, Offset: uint64(3*i + j + 1)}
			if typ == event.CaseReported {
				r.RegionPath = []string{"R", lg.Event.Dept} // a path decoded like the rest
			}
			s.apply(&r, now, true)
		}
	}
	s.flush()
	grew := int64(heap()) - int64(before)
	if len(s.cases) != n || len(s.whistles) != n {
		t.Fatalf("%d cases, %d whistles kept, want %d", len(s.cases), len(s.whistles), n)
	}
	// Kept: n cases of three events, n whistles: kilobytes. An entry kept alive: a megabyte each.
	if grew > 8<<20 {
		t.Fatalf("heap grew %.1f MiB over %d entries of %d KiB unused padding each: the state keeps the entries", float64(grew)/(1<<20), 3*n, pad>>10)
	}
	t.Logf("heap grew %d KiB", grew>>10)
}
