package aggregator

import (
	"context"
	"path/filepath"
	"testing"

	"zhili/bus"
	"zhili/clock"
	"zhili/geo"
	"zhili/intake"
	"zhili/store"
)

// Rig is an aggregator on an embedded history store, intake log and in-process bus (whose
// updates are read and dropped), in a temporary directory; the tests run it themselves.
type Rig struct {
	Agg   *Aggregator
	Store *store.DuckDB
	In    *intake.WAL
	Tree  *geo.Tree
}

// NewRig builds a Rig of cfg on clk; everything is closed when the test ends.
func NewRig(t *testing.T, cfg Config, clk clock.Clock) *Rig {
	t.Helper()
	dir := t.TempDir()
	st, err := store.OpenDuckDB(filepath.Join(dir, "h.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	in, err := intake.OpenWAL(filepath.Join(dir, "intake"), intake.WALOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	b := bus.NewMemory(64)
	t.Cleanup(func() { b.Close() })
	sub, _ := b.Subscribe(context.Background(), "updates")
	go func() {
		for range sub.C() {
		}
	}()
	tree := geo.DemoTree()
	return &Rig{Agg: New(cfg, in, st, b, tree, nil, clk, nil), Store: st, In: in, Tree: tree}
}
