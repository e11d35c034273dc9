package dashboard

import (
	"context"
	"reflect"
	"testing"
	"time"

	"zhili/calendar"
	"zhili/event"
	"zhili/geo"
	"zhili/governance"
	"zhili/store"
)

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
