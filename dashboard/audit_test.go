package dashboard

import (
	"context"
	"errors"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"zhili/calendar"
	"zhili/errs"
	"zhili/event"
	"zhili/geo"
	"zhili/governance"
	"zhili/store"
)

// casesStore answers Cases from records held in memory, filtered as the stores do (the first
// report's time, region at the query's depth, category).
type casesStore struct {
	store.Store
	cases map[string][]store.Record
	order []string
}

func (s *casesStore) Cases(_ context.Context, q store.CaseQuery, fn func(string, []store.Record) error) error {
	for _, id := range s.order {
		recs := s.cases[id]
		r := recs[0]
		if r.At.Before(q.From) || !r.At.Before(q.To) || q.Category != "" && r.Category != q.Category {
			continue
		}
		if q.Region != "" && (len(r.RegionPath) <= q.Depth || r.RegionPath[q.Depth] != q.Region) {
			continue
		}
		if err := fn(id, recs); err != nil {
			return err
		}
	}
	return nil
}

// add stores a case: its report (at h o'clock, region path as given) and later events.
func (s *casesStore) add(id string, path []string, evs ...event.Event) {
	day := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	recs := []store.Record{{Event: event.Event{ID: id + "r", Type: event.CaseReported, CaseID: id, At: day, Category: "environment"}, RegionPath: path}}
	for i, e := range evs {
		e.ID, e.CaseID, e.At = id+string(rune('a'+i)), id, day.Add(time.Duration(i+1)*time.Hour)
		recs = append(recs, store.Record{Event: e})
	}
	if s.cases == nil {
		s.cases = map[string][]store.Record{}
	}
	s.cases[id] = recs
	s.order = append(s.order, id)
}

// addsUp checks received = counted + Σ excluded.
func addsUp(t *testing.T, name string, r *Reconcile) {
	t.Helper()
	sum := r.Counted
	for _, v := range r.Excluded {
		sum += v
	}
	if sum != r.Received || r.Identity == "" {
		t.Errorf("%s: received %d ≠ counted %d + excluded %v", name, r.Received, r.Counted, r.Excluded)
	}
}

// Unlocated cases count for their department and, by region, in the 未定位 row; cases without a
// deadline count everywhere but in the on-time rate; the reconcile block adds up in each view.
func TestAuditUnlocatedAndReconcile(t *testing.T) {
	tree := geo.DemoTree()
	root := tree.Root.Code
	t1, t2 := tree.Root.Children[0].Code, tree.Root.Children[1].Code
	due := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	disp := func(dept string, deadline *time.Time) event.Event {
		return event.Event{Type: event.CaseDispatched, Dept: dept, Deadline: deadline}
	}
	resolved, closed := event.Event{Type: event.CaseResolved}, event.Event{Type: event.CaseClosed}
	blown := func(w, dept string) event.Event {
		return event.Event{Type: event.WhistleBlown, WhistleID: w, WhistleKind: "advance", Depts: []string{dept}}
	}
	st := &casesStore{}
	st.add("c1", []string{root, t1}, disp("A", &due), resolved, blown("W1", "X"))
	st.add("c2", []string{root, t1}, disp("A", nil), resolved, closed)
	st.add("c3", nil, disp("B", nil), closed, blown("W3", "Y")) // unlocated, no deadline
	st.add("c4", nil)                                           // unlocated, never dispatched
	st.add("c5", []string{root, t2})                            // never dispatched
	st.add("c6", []string{root}, disp("A", &due))               // placed at the root only
	q := AuditQuery{Region: root, From: time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC),
		Config: governance.AuditConfig{MinSample: 1}}
	ctx := context.Background()

	byDept, err := Rates(ctx, st, tree, q)
	if err != nil {
		t.Fatal(err)
	}
	rc := byDept.Reconcile
	if byDept.Cases != 6 || rc.Received != 6 || rc.Counted != 4 || rc.Excluded["without_dept"] != 2 || rc.Unlocated != 2 || rc.WithoutDept != 2 || rc.WithoutDeadline != 2 {
		t.Fatalf("by dept: cases %d, reconcile %+v", byDept.Cases, rc)
	}
	addsUp(t, "by dept", rc)
	units := map[string]RatesUnit{}
	for _, u := range byDept.Units {
		units[u.Unit] = u
	}
	if a, b := units["A"].Current, units["B"].Current; len(units) != 2 || a.Cases != 3 || a.WithoutDeadline != 1 || a.OnTime.Den != 1 || b.Cases != 1 || b.WithoutDeadline != 1 || b.Closed != 1 {
		t.Fatalf("by dept units %+v", byDept.Units)
	}

	q.By = "region"
	byRegion, err := Rates(ctx, st, tree, q)
	if err != nil {
		t.Fatal(err)
	}
	rc = byRegion.Reconcile
	if rc.Received != 6 || rc.Counted != 3 || rc.Excluded["unlocated"] != 3 || rc.Unlocated != 3 || len(rc.Excluded) != 1 {
		t.Fatalf("by region: reconcile %+v", rc)
	}
	addsUp(t, "by region", rc)
	last := byRegion.Units[len(byRegion.Units)-1]
	if len(byRegion.Units) != 3 || last.Unit != "" || !last.Unlocated || last.Name != UnlocatedName || last.Current.Cases != 3 ||
		last.Current.Response.Rank != nil || byRegion.Units[0].Unlocated {
		t.Fatalf("by region units %+v", byRegion.Units)
	}
	tab := byRegion.Table(time.UTC)
	if len(tab.Reconcile) == 0 || tab.Rows[len(tab.Rows)-1][1] != UnlocatedName {
		t.Fatalf("export %+v", tab)
	}
	found := false
	for _, r := range tab.Reconcile {
		found = found || r[0] == "等式 identity" && r[1] == "6 = 6"
	}
	if !found {
		t.Fatalf("export reconcile rows %v", tab.Reconcile)
	}

	// A township's audit holds its own cases only.
	sub := q
	sub.Region, sub.Depth, sub.By = t1, 1, "dept"
	town, err := Rates(ctx, st, tree, sub)
	if err != nil {
		t.Fatal(err)
	}
	if town.Reconcile.Received != 2 || town.Reconcile.Unlocated != 0 {
		t.Fatalf("township reconcile %+v", town.Reconcile)
	}
	addsUp(t, "township", town.Reconcile)

	// Whistles: by department the unlocated case's whistle counts; by region it is the 未定位 row.
	now := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	q.By = "dept"
	wd, err := Whistles(ctx, st, tree, q, governance.DefaultClocks(), calendar.Default(), now)
	if err != nil {
		t.Fatal(err)
	}
	if wd.Whistles != 2 || len(wd.Depts) != 2 || wd.Reconcile.Counted != 2 || wd.Reconcile.Excluded["no_whistle"] != 4 {
		t.Fatalf("whistles by dept %+v / %+v", wd.Depts, wd.Reconcile)
	}
	addsUp(t, "whistles by dept", wd.Reconcile)
	q.By = "region"
	wr, err := Whistles(ctx, st, tree, q, governance.DefaultClocks(), calendar.Default(), now)
	if err != nil {
		t.Fatal(err)
	}
	if len(wr.Depts) != 2 || wr.Depts[0].Dept != t1 || wr.Depts[1].Dept != "" || wr.Depts[1].OnTime.Rank != 0 ||
		wr.Reconcile.Counted != 1 || wr.Reconcile.Excluded["unlocated"] != 1 || wr.Reconcile.Excluded["no_whistle"] != 4 {
		t.Fatalf("whistles by region %+v / %+v", wr.Depts, wr.Reconcile)
	}
	addsUp(t, "whistles by region", wr.Reconcile)
}

// countingStore counts the Cases reads.
type countingStore struct {
	*casesStore
	reads int
}

func (s *countingStore) Cases(ctx context.Context, q store.CaseQuery, fn func(string, []store.Record) error) error {
	s.reads++
	return s.casesStore.Cases(ctx, q, fn)
}

// An evaluation's audits through one memo read each period once and give the figures they give
// without it, on either previous-period basis.
func TestFactMemoReadsEachPeriodOnce(t *testing.T) {
	tree := geo.DemoTree()
	root := tree.Root.Code
	t1, t2 := tree.Root.Children[0].Code, tree.Root.Children[1].Code
	due := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	disp := func(dept string) event.Event {
		return event.Event{Type: event.CaseDispatched, Dept: dept, Deadline: &due}
	}
	blown := event.Event{Type: event.WhistleBlown, WhistleID: "W", WhistleKind: "advance", Depts: []string{"X"}}
	cs := &casesStore{}
	cs.add("a1", []string{root, t1}, disp("A"), event.Event{Type: event.CaseResolved})
	cs.add("a2", []string{root, t2}, disp("B"), blown)
	cs.add("a3", nil, disp("A"))
	cs.add("b1", []string{root, t1}, disp("A"), event.Event{Type: event.CaseResolved}, event.Event{Type: event.CaseClosed})
	cs.add("b2", []string{root, t2}, disp("B"))
	cs.add("c1", []string{root, t1}, disp("A"))
	// b1 and b2 a day earlier, c1 two: the previous periods of 11-26 and of 11-25.
	for id, days := range map[string]int{"b1": 1, "b2": 1, "c1": 2} {
		for i := range cs.cases[id] {
			cs.cases[id][i].At = cs.cases[id][i].At.AddDate(0, 0, -days)
		}
	}
	// a1 repeats b1, which repeats c1 (the same place and category): the audits link repeats
	// in the facts they are given.
	for _, id := range []string{"a1", "b1", "c1"} {
		cs.cases[id][0].Lon, cs.cases[id][0].Lat, cs.cases[id][0].HasPoint = 114.07, 32.12, true
	}
	day := func(d int) time.Time { return time.Date(2026, 11, d, 0, 0, 0, 0, time.UTC) }
	now := day(27).Add(6 * time.Hour)

	for _, basis := range []string{PreviousFinal, PreviousSameAge} {
		// The audits one evaluation request runs: two periods, each by department, by region
		// and for the whistles. The earlier first: its audits link b1 to c1, which must not
		// show in the facts 11-26's audits get of 11-25.
		run := func(st store.Store, memo *FactMemo) []any {
			var out []any
			for _, d := range []int{25, 26} {
				q := AuditQuery{Region: root, From: day(d), To: day(d + 1), Now: now, Previous: basis, Memo: memo,
					Config: governance.AuditConfig{MinSample: 1}}
				for _, by := range []string{"dept", "region"} {
					q.By = by
					r, err := Rates(context.Background(), st, tree, q)
					if err != nil {
						t.Fatal(err)
					}
					out = append(out, r)
				}
				q.By = "dept"
				w, err := Whistles(context.Background(), st, tree, q, governance.DefaultClocks(), calendar.Default(), now)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, w)
			}
			return out
		}
		plain := &countingStore{casesStore: cs}
		want := run(plain, nil)
		memoed := &countingStore{casesStore: cs}
		got := run(memoed, NewFactMemo())
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: the audits through a memo differ from the audits without", basis)
		}
		if r := want[3].(*RatesReport); r.RepeatsTotal != 1 || r.Repeats[0].Case != "a1" || r.Repeats[0].RepeatOf != "b1" {
			t.Errorf("%s: repeats of 11-26 %+v, want a1 repeating b1 (c1 is not in the two periods read)", basis, r.Repeats)
		}
		if plain.reads != 12 {
			t.Errorf("%s: %d reads without a memo, want 12 (6 audits × 2 periods)", basis, plain.reads)
		}
		// 11-26, 11-25 and 11-24; the same-age basis reads the previous periods as they stood
		// then, a key of its own (11-25 aged, 11-24 aged).
		wantReads := 3
		if basis == PreviousSameAge {
			wantReads = 4
		}
		if memoed.reads != wantReads {
			t.Errorf("%s: %d reads through the memo, want %d", basis, memoed.reads, wantReads)
		}
	}
}

// versionedStore is a countingStore that tells its data version, as the embedded store does.
type versionedStore struct {
	*countingStore
	version uint64
}

func (s *versionedStore) DataVersion(context.Context) (uint64, error) { return s.version, nil }

// The audits' cache across requests: while the store's data version and the geography stay,
// a second request reads nothing and answers as a request without the cache; a write (a new
// version) is seen by the next request; a store that does not tell its version, or a period
// beyond the cache's bound, is read every time.
func TestFactCacheFollowsTheDataVersion(t *testing.T) {
	tree := geo.DemoTree()
	root, t1 := tree.Root.Code, tree.Root.Children[0].Code
	cs := &casesStore{}
	cs.add("a1", []string{root, t1}, event.Event{Type: event.CaseDispatched, Dept: "A"})
	st := &versionedStore{countingStore: &countingStore{casesStore: cs}, version: 1}
	day := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	var cache FactCache
	// audit is the day's rates as of now, the previous day compared on basis.
	audit := func(st store.Store, memo *FactMemo, now time.Time, basis string) *RatesReport {
		t.Helper()
		q := AuditQuery{Region: root, From: day, To: day.AddDate(0, 0, 1), Now: now,
			Previous: basis, Memo: memo, Config: governance.AuditConfig{MinSample: 1}}
		r, err := Rates(context.Background(), st, tree, q)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	rates := func(st store.Store, memo *FactMemo) *RatesReport {
		t.Helper()
		return audit(st, memo, day.AddDate(0, 0, 2), PreviousFinal)
	}
	if m := cache.Memo(context.Background(), &countingStore{casesStore: cs}, tree); m != nil {
		t.Fatal("a memo for a store that does not tell its data version")
	}
	first := rates(st, cache.Memo(context.Background(), st, tree))
	if st.reads != 2 {
		t.Fatalf("first request: %d reads, want 2 (the period and the one before)", st.reads)
	}
	again := rates(st, cache.Memo(context.Background(), st, tree))
	if st.reads != 2 || !reflect.DeepEqual(again, first) {
		t.Fatalf("same version: %d reads in all, want 2; same answer: %v", st.reads, reflect.DeepEqual(again, first))
	}
	if want := rates(&countingStore{casesStore: cs}, nil); !reflect.DeepEqual(first, want) {
		t.Fatal("the cached audit differs from the audit without a cache")
	}

	// A write: the next request reads afresh and counts the new case.
	cs.add("a2", []string{root, t1}, event.Event{Type: event.CaseDispatched, Dept: "A"})
	st.version++
	after := rates(st, cache.Memo(context.Background(), st, tree))
	if st.reads != 4 || after.Reconcile.Received != first.Reconcile.Received+1 {
		t.Fatalf("after a write: %d reads in all (want 4), received %d (want %d)", st.reads, after.Reconcile.Received, first.Reconcile.Received+1)
	}
	// The same-age basis ages the previous period to the request's minute: the requests of one
	// minute read it once (the same answer as without the cache), a later minute reads again,
	// and the memo keeps the newest age of the period only.
	sameAge := func(now time.Time, memo *FactMemo) *RatesReport {
		t.Helper()
		return audit(st, memo, now, "")
	}
	at := day.AddDate(0, 0, 1).Add(3*time.Hour + 10*time.Second)
	r1 := sameAge(at, cache.Memo(context.Background(), st, tree))
	if want := at.AddDate(0, 0, -1).Truncate(time.Minute); r1.PreviousAsOf == nil || !r1.PreviousAsOf.Equal(want) {
		t.Fatalf("same age as of %v, want %v (the minute)", r1.PreviousAsOf, want)
	}
	r2 := sameAge(at.Add(40*time.Second), cache.Memo(context.Background(), st, tree))
	if m := cache.Memo(context.Background(), st, tree); st.reads != 5 || len(m.m) != 3 {
		t.Fatalf("same age twice in a minute: %d reads in all, want 5; %d periods kept, want 3 (two final, one aged)", st.reads, len(m.m))
	}
	reads := st.reads
	if want := sameAge(at.Add(40*time.Second), nil); !reflect.DeepEqual(r2, want) {
		t.Fatal("the cached same-age audit differs from the audit without a cache")
	}
	st.reads = reads
	sameAge(at.Add(2*time.Minute), cache.Memo(context.Background(), st, tree))
	if m := cache.Memo(context.Background(), st, tree); st.reads != 6 || len(m.m) != 3 {
		t.Fatalf("same age a minute later: %d reads in all, want 6; %d periods kept, want 3 (the older age dropped)", st.reads, len(m.m))
	}
	// A lower bound on an audit's cases refuses the period, although it is kept.
	func() {
		defer func(n int) { MaxAuditCases = n }(MaxAuditCases)
		MaxAuditCases = 1
		q := AuditQuery{Region: root, From: day, To: day.AddDate(0, 0, 1), Previous: PreviousFinal, Memo: cache.Memo(context.Background(), st, tree)}
		if _, err := Rates(context.Background(), st, tree, q); errs.CodeOf(err) != errs.TooLarge {
			t.Fatalf("two cases over a bound of one, the period kept: %v, want too large", err)
		}
	}()
	// Another geography: a memo of its own.
	if cache.Memo(context.Background(), st, geo.DemoTree()).memoState == cache.Memo(context.Background(), st, tree).memoState {
		t.Fatal("one memo for two geographies")
	}

	// Beyond the bound nothing is kept.
	defer func(n int) { MaxCachedFacts = n }(MaxCachedFacts)
	MaxCachedFacts = 1
	st.version++
	st.reads = 0
	rates(st, cache.Memo(context.Background(), st, tree))
	rates(st, cache.Memo(context.Background(), st, tree))
	if st.reads != 3 {
		t.Fatalf("two cases over a bound of one: %d reads for two requests, want 3 (the one-case period kept)", st.reads)
	}
}

// Concurrent first readers of a period read it once: the audit page asks for the rates and the
// whistle audit at once. A failed read is not kept, and those that waited on it read for
// themselves.
func TestFactMemoConcurrentReadsOnce(t *testing.T) {
	m := NewFactMemo()
	key := factKey{region: "r", from: 1, to: 2}
	var reads atomic.Int32
	release := make(chan struct{})
	read := func() ([]caseEntry, error) {
		reads.Add(1)
		<-release
		return []caseEntry{{f: governance.CaseFacts{ID: "c1"}}}, nil
	}
	var started, done sync.WaitGroup
	for range 8 {
		started.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			started.Done()
			fs, err := m.read(context.Background(), key, read, nil)
			if err != nil || len(fs.facts) != 1 || fs.facts[0].ID != "c1" {
				t.Errorf("read: %v %v", fs, err)
			}
		}()
	}
	started.Wait()
	for reads.Load() == 0 {
		runtime.Gosched()
	}
	time.Sleep(20 * time.Millisecond) // let the others reach the memo while the read is under way
	close(release)
	done.Wait()
	if n := reads.Load(); n != 1 {
		t.Fatalf("8 concurrent readers: %d reads, want 1", n)
	}

	boom := errors.New("boom")
	fail := NewFactMemo()
	first := true
	var mu sync.Mutex
	failing := func() ([]caseEntry, error) {
		mu.Lock()
		defer mu.Unlock()
		if first {
			first = false
			return nil, boom
		}
		return nil, nil
	}
	if _, err := fail.read(context.Background(), key, failing, nil); !errors.Is(err, boom) {
		t.Fatalf("failed read: %v", err)
	}
	if _, err := fail.read(context.Background(), key, failing, nil); err != nil {
		t.Fatalf("after a failed read, not kept: %v", err)
	}
}
