package aggregator

import (
	"context"
	dto "github.com/prometheus/client_model/go"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"zhili/bus"
	"zhili/clock"
	"zhili/geo"
	"zhili/ingest"
	"zhili/intake"
	"zhili/simulate"
	"zhili/store"
	"zhili/update"
)

// snapRun is one run of an aggregator on a store and intake log that outlive it.
type snapRun struct {
	dir  string
	tree *geo.Tree
	loc  *time.Location
	clk  *clock.Fake
}

// start runs an aggregator (snapshot file snap, "" for none) until ready, sends body if any,
// and waits until the store holds everything logged. The caller shuts it down.
func (g snapRun) start(t *testing.T, snap string, send func(door *ingest.Door)) (*Aggregator, func()) {
	t.Helper()
	st, err := store.OpenDuckDB(filepath.Join(g.dir, "h.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	in, err := intake.OpenWAL(filepath.Join(g.dir, "intake"), intake.WALOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b := bus.NewMemory(64)
	sub, _ := b.Subscribe(context.Background(), "updates")
	go func() {
		for range sub.C() {
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	a := New(Config{Loc: g.loc, StoreEvery: 20 * time.Millisecond, Snapshot: snap,
		Logger: slog.New(slog.DiscardHandler)}, in, st, b, g.tree, nil, g.clk, nil)
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	stop := func() {
		if err := a.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
		<-done
		cancel()
		b.Close()
		in.Close()
		st.Close()
	}
	for deadline := time.Now().Add(60 * time.Second); !a.Ready(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			stop()
			t.Fatal("aggregator not ready")
		}
	}
	if send != nil {
		send(ingest.New(ingest.Config{Tree: g.tree, Clock: g.clk}, in))
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		cp, err := st.Checkpoint(ctx)
		if err == nil && cp == in.Stats().LastOffset {
			break
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("store checkpoint %d (%v), intake end %d", cp, err, in.Stats().LastOffset)
		}
	}
	return a, stop
}

// view is what the aggregator's live state shows and holds, in a comparable form: the full
// update's counters, whistles and duty, and every case's snapshot form.
type view struct {
	counters map[update.Key]int64
	whistles []update.Whistle
	duty     []update.Duty
	cases    map[string]snapCase
	held     []string // whistles held, shown or not
}

func viewOf(a *Aggregator, now time.Time) view {
	a.mu.Lock()
	defer a.mu.Unlock()
	u := a.st.full(now, nil)
	v := view{counters: map[update.Key]int64{}, whistles: u.Whistles, duty: u.Duty, cases: map[string]snapCase{}}
	for _, c := range u.Counters {
		v.counters[c.Key] = c.N
	}
	slices.SortFunc(v.whistles, func(x, y update.Whistle) int { return strings.Compare(x.ID, y.ID) })
	slices.SortFunc(v.duty, func(x, y update.Duty) int { return strings.Compare(x.Staff, y.Staff) })
	for _, c := range a.st.snapshot().Cases {
		v.cases[c.ID] = c
	}
	for id := range a.st.whistles {
		v.held = append(v.held, id)
	}
	slices.Sort(v.held)
	return v
}

// A restart from the snapshot gives the state a full replay of the history store gives on the
// same data: the same counters, whistles, duty and cases, also after time has passed
// (deadlines gone by, cases and whistles aged out) and with events logged after the snapshot.
func TestSnapshotRestartMatchesFullReplay(t *testing.T) {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	now := time.Date(2026, 11, 27, 15, 0, 0, 0, loc)
	g := snapRun{dir: t.TempDir(), tree: geo.DemoTree(), loc: loc, clk: clock.NewFake(now)}
	snap := filepath.Join(g.dir, "live.snap")
	h := simulate.NewHistory(simulate.HistoryConfig{Tree: g.tree, Seed: 7, End: now, Span: 20 * 24 * time.Hour, PerDay: 60})
	sent := 0
	send := func(door *ingest.Door) {
		err := h.Bodies(2000, func(body []byte, lines int) error {
			rep, err := door.Ingest(context.Background(), ingest.ContentNDJSON, body, nil)
			if err == nil && rep.Accepted != lines {
				t.Fatalf("ingest: %+v", rep)
			}
			sent += lines
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	a, stop := g.start(t, snap, send)
	if a.restored {
		t.Fatal("restored on the first start")
	}
	stop()
	if _, err := os.Stat(snap); err != nil {
		t.Fatalf("no snapshot after a clean stop: %v", err)
	}
	t.Logf("%d lines of history sent", sent)

	// Hours later, with more events logged while the aggregator was down: the snapshot is at
	// the store's checkpoint, and the log's later entries are applied after it.
	later := now.Add(5 * time.Hour)
	g.clk.Set(later)
	in, err := intake.OpenWAL(filepath.Join(g.dir, "intake"), intake.WALOptions{})
	if err != nil {
		t.Fatal(err)
	}
	door := ingest.New(ingest.Config{Tree: g.tree, Clock: g.clk}, in)
	lines := h.NextUntil(later, 5000)
	if len(lines) == 0 {
		t.Fatal("the history has nothing after its end")
	}
	var body []byte
	for _, l := range lines {
		body = append(append(body, l...), '\n')
	}
	if rep, err := door.Ingest(context.Background(), ingest.ContentNDJSON, body, nil); err != nil || rep.Accepted != len(lines) {
		t.Fatalf("ingest after the end: %+v %v", rep, err)
	}
	in.Close()

	// The same directory twice: one restarts from the snapshot, the other replays.
	g2 := g
	g2.dir = filepath.Join(t.TempDir(), "copy")
	if err := os.CopyFS(g2.dir, os.DirFS(g.dir)); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(g2.dir, "live.snap")); err != nil {
		t.Fatal(err)
	}

	a, stop = g.start(t, snap, nil)
	if !a.restored {
		t.Fatal("the second start did not take the snapshot")
	}
	fromSnap := viewOf(a, later)
	gaugeCases := func(a *Aggregator, want int) {
		t.Helper()
		var m dto.Metric
		if err := a.m.cases.Write(&m); err != nil || m.GetGauge().GetValue() != float64(want) {
			got := m.GetGauge().GetValue()
			t.Errorf("zhili_cases_tracked after the start: %v, want the %d cases held", got, want)
		}
	}
	gaugeCases(a, len(fromSnap.cases))
	stop()

	a, stop = g2.start(t, filepath.Join(g2.dir, "live.snap"), nil)
	if a.restored {
		t.Fatal("restored without a snapshot")
	}
	replayed := viewOf(a, later)
	gaugeCases(a, len(replayed.cases))
	stop()
	// Restored with nothing after the snapshot to apply: the gauges still tell the cases held.
	a, stop = g2.start(t, filepath.Join(g2.dir, "live.snap"), nil)
	if !a.restored {
		t.Fatal("the replayed copy's snapshot was not taken")
	}
	gaugeCases(a, len(viewOf(a, later).cases))
	stop()

	if len(replayed.cases) < 100 || len(replayed.counters) < 100 || len(replayed.whistles) == 0 {
		t.Fatalf("too little state to compare: %d cases, %d counters, %d whistles",
			len(replayed.cases), len(replayed.counters), len(replayed.whistles))
	}
	if !reflect.DeepEqual(fromSnap.counters, replayed.counters) {
		n := 0
		for k, v := range replayed.counters {
			if fromSnap.counters[k] != v && n < 10 {
				t.Errorf("counter %+v: %d from the snapshot, %d replayed", k, fromSnap.counters[k], v)
				n++
			}
		}
		t.Fatalf("counters differ: %d from the snapshot, %d replayed", len(fromSnap.counters), len(replayed.counters))
	}
	if !reflect.DeepEqual(fromSnap.whistles, replayed.whistles) {
		t.Errorf("whistles differ")
	}
	if !slices.Equal(fromSnap.held, replayed.held) {
		t.Errorf("whistles held: %d from the snapshot, %d replayed", len(fromSnap.held), len(replayed.held))
	}
	if !reflect.DeepEqual(fromSnap.duty, replayed.duty) {
		t.Errorf("duty differs")
	}
	if len(fromSnap.cases) != len(replayed.cases) {
		t.Errorf("%d cases from the snapshot, %d replayed", len(fromSnap.cases), len(replayed.cases))
	}
	n := 0
	for id, c := range replayed.cases {
		if s, ok := fromSnap.cases[id]; !equalEmpty(reflect.ValueOf(s), reflect.ValueOf(c)) && n < 5 {
			t.Errorf("case %s (%v): from the snapshot %+v, replayed %+v", id, ok, s, c)
			n++
		}
	}
}

// A snapshot made at another checkpoint, or by another configuration, is not taken.
func TestSnapshotMatches(t *testing.T) {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	cfg := Config{Loc: loc, Part: 1, Source: "p1"}
	cfg.defaults()
	f := &snapFile{Version: snapVersion, Checkpoint: 10, Source: "p1", Part: 1, Root: "R", Loc: loc.String(), CaseKeep: cfg.CaseKeep}
	if ok, why := f.matches(&cfg, "R", 10); !ok {
		t.Fatalf("a matching snapshot refused: %s", why)
	}
	for name, mod := range map[string]func(f *snapFile){
		"checkpoint": func(f *snapFile) { f.Checkpoint = 9 },
		"version":    func(f *snapFile) { f.Version = snapVersion + 1 },
		"partition":  func(f *snapFile) { f.Part, f.Source = 2, "p2" },
		"root":       func(f *snapFile) { f.Root = "S" },
		"zone":       func(f *snapFile) { f.Loc = "UTC" },
		"case keep":  func(f *snapFile) { f.CaseKeep = time.Hour },
	} {
		g := *f
		mod(&g)
		if ok, _ := g.matches(&cfg, "R", 10); ok {
			t.Errorf("a snapshot of another %s taken", name)
		}
	}
}

// The snapshot carries every field of the state it restores: a field added to one of these
// types must be added to the snapshot (snapshot.go) and snapVersion raised. (state's intern
// table is not state: it is refilled as records and the snapshot are applied.)
func TestSnapshotCoversTheState(t *testing.T) {
	for _, c := range []struct {
		v      any
		fields int
	}{
		{state{}, 15}, {caseState{}, 21}, {caseEv{}, 13}, {reportInfo{}, 5}, {whistleState{}, 8},
		{dutyState{}, 1}, {dutyEv{}, 6}, {timer{}, 2},
	} {
		if n := reflect.TypeOf(c.v).NumField(); n != c.fields {
			t.Errorf("%T has %d fields, the snapshot knows of %d: carry the new ones in snapshot.go and raise snapVersion",
				c.v, n, c.fields)
		}
	}
}

// equalEmpty is reflect.DeepEqual with nil and empty slices and maps equal (gob does not tell
// them apart).
func equalEmpty(a, b reflect.Value) bool {
	if a.Kind() != b.Kind() {
		return false
	}
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return equalEmpty(a.Elem(), b.Elem())
	case reflect.Struct:
		for i := range a.NumField() {
			if !equalEmpty(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Slice, reflect.Array:
		if a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !equalEmpty(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.Len() != b.Len() {
			return false
		}
		for _, k := range a.MapKeys() {
			bv := b.MapIndex(k)
			if !bv.IsValid() || !equalEmpty(a.MapIndex(k), bv) {
				return false
			}
		}
		return true
	case reflect.String:
		return a.String() == b.String()
	case reflect.Bool:
		return a.Bool() == b.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return a.Int() == b.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return a.Uint() == b.Uint()
	case reflect.Float32, reflect.Float64:
		return a.Float() == b.Float()
	}
	panic("equalEmpty: " + a.Kind().String())
}
