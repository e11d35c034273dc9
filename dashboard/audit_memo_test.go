package dashboard

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"zhili/calendar"
	"zhili/event"
	"zhili/geo"
	"zhili/governance"
	"zhili/internal/testsvc"
	"zhili/store"
)

// memDuck is an embedded store in memory, closed when the test ends.
func memDuck(t *testing.T) *store.DuckDB {
	t.Helper()
	db, err := store.OpenDuckDB("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// memClickHouse is a ClickHouse store on a database of its own on the test binary's shared
// server, closed when the test ends.
func memClickHouse(t *testing.T) *store.ClickHouse {
	t.Helper()
	st, err := store.OpenClickHouse(t.Context(), testsvc.SharedClickHouse(t).NewDatabase(t), store.ClickHouseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// changesStore is a store that tells which cases its writes touched.
type changesStore interface {
	store.Store
	store.CaseChanges
}

// countedStore counts a store's reads of whole periods and of named cases.
type countedStore struct {
	changesStore
	whole, named atomic.Int32
	unnamed      atomic.Bool // CasesChangedSince cannot tell
}

func (s *countedStore) CasesChangedSince(ctx context.Context, v uint64) ([]string, bool, error) {
	if s.unnamed.Load() {
		return nil, false, nil
	}
	return s.changesStore.CasesChangedSince(ctx, v)
}

func (s *countedStore) Cases(ctx context.Context, q store.CaseQuery, fn func(string, []store.Record) error) error {
	if q.IDs == nil {
		s.whole.Add(1)
	} else {
		s.named.Add(1)
	}
	return s.changesStore.Cases(ctx, q, fn)
}

// After writes, the cached periods are patched with the cases the writes touched, and answer
// as a request without the cache: a follow-up of a case in the period, a new case reported
// earlier than those kept (its place in the order), a report corrected into the period before
// (it leaves this one and joins that one), a case of the period before closed today, and a
// write of no case. Nothing is read whole again. On the embedded store and on ClickHouse.
func TestFactCachePatchesChangedCases(t *testing.T) {
	t.Parallel()
	t.Run("duckdb", func(t *testing.T) {
		t.Parallel()
		testFactCachePatches(t, &countedStore{changesStore: memDuck(t)})
	})
	t.Run("clickhouse", func(t *testing.T) {
		t.Parallel()
		testFactCachePatches(t, &countedStore{changesStore: memClickHouse(t)})
	})
}

func testFactCachePatches(t *testing.T, st *countedStore) {
	ctx := context.Background()
	tree := geo.DemoTree()
	root := tree.Root
	t1, t2 := root.Children[0], root.Children[1]
	day := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	at := func(h float64) time.Time { return day.Add(time.Duration(h * float64(time.Hour))) }
	var off uint64
	ev := func(typ event.Type, id, caseID string, when time.Time, r *geo.Region, more event.Event) store.Record {
		off++
		e := more
		e.ID, e.Type, e.CaseID, e.At = id, typ, caseID, when
		if typ == event.CaseReported {
			e.Category, e.Source = "environment", "grid"
		}
		return store.Record{Event: e, Offset: off, RegionPath: tree.Path(r.Code)}
	}
	write := func(recs ...store.Record) {
		t.Helper()
		if err := st.Write(ctx, store.Batch{Records: recs, Checkpoint: off}); err != nil {
			t.Fatal(err)
		}
	}
	d30, d12 := at(30), at(12)
	write(
		ev(event.CaseReported, "c0r", "c0", at(-4), t2, event.Event{}),
		ev(event.CaseReported, "c1r", "c1", at(8), t1, event.Event{}),
		ev(event.CaseDispatched, "c1d", "c1", at(9), t1, event.Event{Dept: "A", Deadline: &d30}),
		ev(event.CaseReported, "c2r", "c2", at(10), t2, event.Event{}),
		ev(event.CaseDispatched, "c2d", "c2", at(10.5), t2, event.Event{Dept: "B", Deadline: &d12}),
		ev(event.WhistleBlown, "c2w", "c2", at(11), t2, event.Event{WhistleID: "W2", WhistleKind: "advance", Depts: []string{"B"}}),
		ev(event.CaseSigned, "c2s", "c2", at(11.5), t2, event.Event{Dept: "B"}),
		ev(event.CaseReported, "c3r", "c3", at(12), t1, event.Event{}),
	)
	var cache FactCache
	now := at(20)
	// audits are the figures of the period's pages: rates by department and by region, on both
	// bases for the period before, and the whistle audit.
	audits := func(memo *FactMemo) []any {
		t.Helper()
		var out []any
		for _, basis := range []string{PreviousSameAge, PreviousFinal} {
			q := AuditQuery{Region: root.Code, From: day, To: day.AddDate(0, 0, 1), Now: now, Previous: basis, Memo: memo,
				Config: governance.AuditConfig{MinSample: 1}}
			for _, by := range []string{"dept", "region"} {
				q.By = by
				r, err := Rates(ctx, st, tree, q)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, r)
			}
			q.By = "dept"
			w, err := Whistles(ctx, st, tree, q, governance.DefaultClocks(), calendar.Default(), now)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, w)
		}
		return out
	}
	if got, want := audits(cache.Memo(context.Background(), st, tree)), audits(nil); !reflect.DeepEqual(got, want) {
		t.Fatal("the first cached audits differ from the audits without a cache")
	}

	write(
		ev(event.CaseResolved, "c1v", "c1", at(13), t1, event.Event{Dept: "A"}),
		ev(event.CaseReported, "c4r", "c4", at(6), t2, event.Event{}),
		ev(event.CaseReported, "c3r2", "c3", at(-1), t1, event.Event{Supersedes: "c3r"}),
		ev(event.CaseClosed, "c0c", "c0", at(14), t2, event.Event{Satisfaction: "satisfied"}),
	)
	write() // a checkpoint alone
	whole, named := st.whole.Load(), st.named.Load()
	got := audits(cache.Memo(context.Background(), st, tree))
	if w, n := st.whole.Load()-whole, st.named.Load()-named; w != 0 || n == 0 {
		t.Errorf("after the writes: %d whole reads and %d reads of named cases, want none whole (patched)", w, n)
	}
	want := audits(nil)
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("audit %d: the patched figures differ from those without a cache", i)
		}
	}
	if r := want[0].(*RatesReport); r.Reconcile.Received != 3 {
		t.Errorf("received %d in the period after the writes, want 3 (c1, c2, c4; c3 corrected into the day before)", r.Reconcile.Received)
	}
	// The period's facts, order included, as a full read gives them, with and without aging.
	for _, asOf := range []time.Time{{}, now.Add(-24 * time.Hour)} {
		for _, from := range []time.Time{day, day.AddDate(0, 0, -1)} {
			q := AuditQuery{Region: root.Code, Memo: cache.Memo(context.Background(), st, tree)}
			patched, err := readFactsMemo(ctx, st, tree, q, from, from.AddDate(0, 0, 1), asOf, true)
			if err != nil {
				t.Fatal(err)
			}
			fresh, err := readFacts(ctx, st, tree, q, from, from.AddDate(0, 0, 1), asOf, true)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(patched, fresh) {
				t.Errorf("period from %v as of %v: the memo's %d cases differ from a full read's %d", from, asOf, len(patched.facts), len(fresh.facts))
			}
		}
	}

	// A store that cannot name the changes (too many, or from before what it keeps; the store's
	// conformance suite shows when): read whole.
	st.unnamed.Store(true)
	write(ev(event.CaseReported, "c5r", "c5", at(15), t1, event.Event{}))
	whole = st.whole.Load()
	got = audits(cache.Memo(context.Background(), st, tree))
	if st.whole.Load() == whole {
		t.Error("after a write the store cannot name, no period was read whole")
	}
	if !reflect.DeepEqual(got, audits(nil)) {
		t.Error("after a write the store cannot name, the cached audits differ from the audits without a cache")
	}
}

// Requests through the cache while a writer adds follow-ups and new cases: each answers
// without error, and once the writes stop a request through the cache answers as one without
// it (run under -race in make test).
func TestFactCacheUnderConcurrentWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tree := geo.DemoTree()
	root := tree.Root
	db := memDuck(t)
	day := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	var off atomic.Uint64
	rec := func(typ event.Type, id, caseID string, at time.Time, more event.Event) store.Record {
		e := more
		e.ID, e.Type, e.CaseID, e.At = id, typ, caseID, at
		if typ == event.CaseReported {
			e.Category, e.Source = "environment", "grid"
		}
		return store.Record{Event: e, Offset: off.Add(1), RegionPath: tree.Path(root.Children[int(off.Load())%len(root.Children)].Code)}
	}
	var first []store.Record
	for i := range 200 {
		id := fmt.Sprintf("c%03d", i)
		at := day.Add(time.Duration(i) * 7 * time.Minute)
		first = append(first, rec(event.CaseReported, id+"r", id, at, event.Event{}),
			rec(event.CaseDispatched, id+"d", id, at.Add(time.Hour), event.Event{Dept: string(rune('A' + i%4))}))
	}
	if err := db.Write(ctx, store.Batch{Records: first, Checkpoint: off.Load()}); err != nil {
		t.Fatal(err)
	}
	var cache FactCache
	q := AuditQuery{Region: root.Code, From: day, To: day.AddDate(0, 0, 1), Now: day.Add(20 * time.Hour),
		Previous: PreviousFinal, Config: governance.AuditConfig{MinSample: 1}}
	// The writer writes 120 times, one event each; the readers ask while it writes (15 times
	// each at most).
	done := make(chan struct{})
	var werr error
	go func() {
		defer close(done)
		for i := range 120 {
			id := fmt.Sprintf("c%03d", i) // from the 100th on, new cases reported later in the day
			at := day.Add(time.Duration(i)*10*time.Minute + time.Minute)
			typ := event.CaseSigned
			if i >= 100 {
				id, typ = fmt.Sprintf("c%03d", 100+i), event.CaseReported
			}
			r := rec(typ, fmt.Sprintf("%s-w%d", id, i), id, at, event.Event{Dept: "A"})
			if werr = db.Write(ctx, store.Batch{Records: []store.Record{r}, Checkpoint: off.Load()}); werr != nil {
				return
			}
		}
	}()
	var wg sync.WaitGroup
	var requests atomic.Int32
	for range 4 {
		wg.Go(func() {
			for range 15 {
				select {
				case <-done:
					return
				default:
				}
				q := q
				q.Memo = cache.Memo(context.Background(), db, tree)
				if _, err := Rates(ctx, db, tree, q); err != nil {
					t.Error(err)
					return
				}
				requests.Add(1)
			}
		})
	}
	wg.Wait()
	<-done
	if werr != nil {
		t.Fatal(werr)
	}
	t.Logf("%d requests while 120 writes were made", requests.Load())
	q.Memo = cache.Memo(context.Background(), db, tree)
	got, err := Rates(ctx, db, tree, q)
	if err != nil {
		t.Fatal(err)
	}
	q.Memo = nil
	want, err := Rates(ctx, db, tree, q)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after concurrent writes the cached rates differ from a full read: received %d against %d",
			got.Reconcile.Received, want.Reconcile.Received)
	}
	if want.Reconcile.Received != 220 {
		t.Errorf("received %d, want 220 (200 and the writer's 20)", want.Reconcile.Received)
	}
}

// The cache keeps at most MaxCachedFacts cases: the periods read longest ago make room for a
// new one.
func TestFactCacheMakesRoom(t *testing.T) {
	defer func(n int) { MaxCachedFacts = n }(MaxCachedFacts)
	MaxCachedFacts = 4
	ctx := context.Background()
	tree := geo.DemoTree()
	db := memDuck(t)
	st := &countedStore{changesStore: db}
	day := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	var recs []store.Record
	for d, n := range []int{2, 2, 1} { // cases on days 0, 1 and 2
		for i := range n {
			id := fmt.Sprintf("d%dc%d", d, i)
			recs = append(recs, store.Record{Event: event.Event{ID: id + "r", Type: event.CaseReported, CaseID: id, Category: "environment",
				Source: "grid", At: day.AddDate(0, 0, d).Add(time.Hour)}, Offset: uint64(len(recs) + 1), RegionPath: tree.Path(tree.Root.Code)})
		}
	}
	if err := db.Write(ctx, store.Batch{Records: recs, Checkpoint: uint64(len(recs))}); err != nil {
		t.Fatal(err)
	}
	var cache FactCache
	read := func(d int) {
		t.Helper()
		q := AuditQuery{Region: tree.Root.Code, Memo: cache.Memo(context.Background(), st, tree)}
		from := day.AddDate(0, 0, d)
		if _, err := readFactsMemo(ctx, st, tree, q, from, from.AddDate(0, 0, 1), time.Time{}, true); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		day   int
		reads int32 // whole reads so far
	}{
		{0, 1}, {1, 2}, {0, 2}, // both kept: 4 cases
		{2, 3}, // day 1, read longest ago, makes room
		{0, 3}, {2, 3}, {1, 4},
	} {
		read(c.day)
		if got := st.whole.Load(); got != c.reads {
			t.Fatalf("after reading day %d: %d whole reads, want %d", c.day, got, c.reads)
		}
	}
	if h := cache.Memo(context.Background(), st, tree).held; h > MaxCachedFacts {
		t.Errorf("%d cases kept, over the bound of %d", h, MaxCachedFacts)
	}
}
