package aggregator_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"zhili/aggregator"
	"zhili/bus"
	"zhili/clock"
	"zhili/dashboard"
	"zhili/event"
	"zhili/geo"
	"zhili/ingest"
	"zhili/intake"
	"zhili/internal/testsvc"
	"zhili/roster"
	"zhili/store"
)

// TestMain stops the ClickHouse server the restart test shares (testsvc.SharedClickHouse).
func TestMain(m *testing.M) { os.Exit(testsvc.RunShared(m)) }

// The overview's figures derived from counters (new cases by source, today's whistles and the
// whistle rate) are not stored as counters: a restarted aggregator counts them again from the
// history store's replay, which must give back each report's source. Both stores.
func TestOverviewFiguresSurviveRestart(t *testing.T) { onBothStores(t, restartCheck) }

// onBothStores runs check on a DuckDB file and on a ClickHouse database, each reopened by the
// open it is given (a restart opens the same store again).
func onBothStores(t *testing.T, check func(t *testing.T, open func(t *testing.T) store.Store)) {
	t.Run("DuckDB", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "h.duckdb")
		check(t, func(t *testing.T) store.Store {
			st, err := store.OpenDuckDB(path)
			if err != nil {
				t.Fatal(err)
			}
			return st
		})
	})
	t.Run("ClickHouse", func(t *testing.T) {
		dsn := testsvc.SharedClickHouse(t).NewDatabase(t)
		check(t, func(t *testing.T) store.Store {
			st, err := store.OpenClickHouse(t.Context(), dsn, store.ClickHouseOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return st
		})
	})
}

type closer interface{ Close() error }

// restartCheck runs an aggregator and a read model on a store opened by open, sends reports of
// every source and two whistles, and compares the overview before and after a restart on the
// same store and intake log.
func restartCheck(t *testing.T, open func(t *testing.T) store.Store) {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, loc)
	clk := clock.NewFake(now)
	tree := geo.DemoTree()
	walDir := filepath.Join(t.TempDir(), "intake")
	towns := tree.Root.Children

	rules := event.DefaultRules()
	rules.Sources["wechat"] = true // a deployment's own source code
	rules.KnownRegion = func(code string) bool { return tree.Get(code) != nil }
	rig := restartRig{tree: tree, loc: loc, clk: clk, walDir: walDir, rules: rules}
	newToday := func(ov map[string]any) any { return ov["totals"].(map[string]any)["new_today"] }
	// run sends body (if any), waits until the root overview shows want new cases, stops and
	// returns the overview.
	run := func(body string, lines, want int) map[string]any {
		return rig.run(t, open, body, lines, func(ov map[string]any) bool { return newToday(ov) == int64(want) },
			func(ov map[string]any) string { return fmt.Sprintf("new_today %v, want %d", newToday(ov), want) })
	}

	var body strings.Builder
	lines := 0
	sources := []string{"hotline12345", "hotline12345", "hotline12345", "grid", "grid", "app", "sensor", "police110", "center", "wechat"}
	for i, src := range sources {
		at := now.Add(-3*time.Hour + time.Duration(i)*time.Minute).Format(time.RFC3339)
		fmt.Fprintf(&body, `{"id":"r%d","type":"case.reported","case_id":"C%d","at":%q,"source":%q,"category":"environment","region":%q}`+"\n",
			i, i, at, src, towns[i%len(towns)].Code)
		lines++
	}
	for i, id := range []string{"W1", "W2"} {
		at := now.Add(-time.Hour + time.Duration(i)*time.Minute).Format(time.RFC3339)
		fmt.Fprintf(&body, `{"id":"w%d","type":"whistle.blown","case_id":"C%d","at":%q,"whistle_id":%q,"whistle_kind":"advance","depts":["county.urban-mgmt"]}`+"\n",
			i, i, at, id)
		lines++
	}
	before := run(body.String(), lines, len(sources))
	wantSrc := map[string]any{"hotline12345": int64(3), "grid": int64(2), "app": int64(1), "sensor": int64(1),
		"police110": int64(1), "center": int64(1), "other": int64(1)}
	if !reflect.DeepEqual(before["by_source"], wantSrc) {
		t.Fatalf("by_source %v, want %v", before["by_source"], wantSrc)
	}
	wantW := map[string]any{"blown_today": int64(2), "rate": 0.2}
	if !reflect.DeepEqual(before["whistles"], wantW) {
		t.Fatalf("whistles %v, want %v", before["whistles"], wantW)
	}
	after := run("", 0, len(sources))
	for _, k := range []string{"by_source", "whistles", "totals", "by_category", "children"} {
		if !reflect.DeepEqual(before[k], after[k]) {
			t.Errorf("%s after the restart %v, before %v", k, after[k], before[k])
		}
	}
}

// restartRig runs an aggregator and a read model on a store and an intake log that outlive
// one run, as a restart finds them.
type restartRig struct {
	tree   *geo.Tree
	loc    *time.Location
	clk    clock.Clock
	walDir string
	rules  event.Rules
	roster *roster.Live // the read model's roster (nil: none)
}

// run starts the aggregator and the model on a store opened by open, sends body (if any)
// through a door expecting lines accepted, waits until the root overview satisfies done (want
// says what it waited for), stops both and returns that overview.
func (g restartRig) run(t *testing.T, open func(t *testing.T) store.Store, body string, lines int,
	done func(ov map[string]any) bool, want func(ov map[string]any) string) map[string]any {
	t.Helper()
	st := open(t)
	in, err := intake.OpenWAL(g.walDir, intake.WALOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b := bus.NewMemory(1024)
	ctx, cancel := context.WithCancel(context.Background())
	defer func() {
		cancel()
		b.Close()
		in.Close()
		st.(closer).Close()
	}()
	m := dashboard.NewModel(dashboard.ModelConfig{Tree: g.tree, Loc: g.loc, Clock: g.clk, Roster: g.roster})
	sub, err := b.Subscribe(ctx, "updates")
	if err != nil {
		t.Fatal(err)
	}
	go m.Consume(ctx, sub)
	a := aggregator.New(aggregator.Config{Loc: g.loc, StoreEvery: 20 * time.Millisecond}, in, st, b, g.tree, nil, g.clk, nil)
	go a.Run(ctx)
	for deadline := time.Now().Add(30 * time.Second); !a.Ready(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("aggregator not ready")
		}
	}
	if body != "" {
		door := ingest.New(ingest.Config{Tree: g.tree, Clock: g.clk, Rules: g.rules}, in)
		rep, err := door.Ingest(ctx, ingest.ContentNDJSON, []byte(body), nil)
		if err != nil || rep.Accepted != lines {
			t.Fatalf("ingest: %+v %v", rep, err)
		}
	}
	var ov map[string]any
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		ts, err := dashboard.OverviewSource{M: m}.Open(dashboard.Topic{Name: "overview:root", Kind: "overview", Region: "root"})
		if err != nil {
			t.Fatal(err)
		}
		ov = ts.Snapshot().(map[string]any)
		if done(ov) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("overview %s", want(ov))
		}
	}
	if err := a.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	return ov
}
