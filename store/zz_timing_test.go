package store_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"zhili/store"
)

func TestZZTiming(t *testing.T) {
	s, _ := store.OpenDuckDB(filepath.Join(t.TempDir(), "x.duckdb"))
	defer s.Close()
	tot := map[string]time.Duration{}
	store.TimingLog = func(k string, d time.Duration) { tot[k] += d }
	bs := benchBatches(20, 10000, 0)
	t0 := time.Now()
	for _, b := range bs {
		s.Write(context.Background(), b)
	}
	t.Log("total", time.Since(t0), tot)
	tot = map[string]time.Duration{}
	bs = benchBatches(20, 1000, 1e6)
	t0 = time.Now()
	for _, b := range bs {
		s.Write(context.Background(), b)
	}
	t.Log("total 1000s", time.Since(t0), tot)
}
