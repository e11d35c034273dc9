package app

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"zhili/clock"
	"zhili/dashboard"
	"zhili/ingest"
	"zhili/server"
	"zhili/store"
)

// BenchmarkRestart measures a restart on a data directory holding a year of demo history of
// about ZHILI_BENCH_EVENTS events (default 200,000): the time from New to ready (what /readyz
// answers) taking the live-state snapshot, against replaying the whole history store, in
// alternated rounds (ZHILI_BENCH_ROUNDS, default 3), and checks that both give the same
// overview. ZHILI_BENCH_DIR keeps the directory between runs (filled on first use: the history
// goes through the ingest door, the aggregator and the store, as a demo's does).
//
//	ZHILI_BENCH_EVENTS=10000000 ZHILI_BENCH_DIR=/var/tmp/restart10m go test -run '^$' -bench BenchmarkRestart -benchtime 1x -timeout 120m ./internal/app
func BenchmarkRestart(b *testing.B) {
	events := benchEnv(b, "ZHILI_BENCH_EVENTS", 200000)
	rounds := benchEnv(b, "ZHILI_BENCH_ROUNDS", 3)
	dir := os.Getenv("ZHILI_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	// The demo history has about 6.5 lines per new case of a working day (lifecycles, whistles,
	// duty, surveys, quieter days off); the record says what was sent.
	const span = 365 * 24 * time.Hour
	perDay := float64(events) / 365 / 6.5
	end := time.Date(2026, 11, 27, 15, 0, 0, 0, time.UTC)
	// DuckDB's memory bounded as a deployment would bound it (its default is most of the RAM).
	cfg := Config{DataDir: dir, StoreMemory: "3GB", DemoHistory: span, DemoHistoryPerDay: perDay, DemoSeed: 5,
		Clock: clock.NewFake(end), Logger: slog.New(slog.DiscardHandler), Listen: "127.0.0.1:0",
		IngestKeys: map[string]*ingest.Policy{testKey: {Name: "test"}},
		ViewTokens: map[string]server.Viewer{testToken: {Name: "test"}}}
	if os.Getenv("ZHILI_BENCH_LOG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	snap := filepath.Join(dir, "live-state.snap")

	// start runs the server on dir until ready and returns the time it took, the overview and
	// whether the live state came from the snapshot.
	start := func() (time.Duration, []byte, bool) {
		t0 := time.Now()
		a, err := New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		if err := a.Start(); err != nil {
			b.Fatal(err)
		}
		for !a.Ready() {
			if time.Since(t0) > 3*time.Hour {
				b.Fatal("not ready")
			}
			time.Sleep(2 * time.Millisecond)
		}
		took := time.Since(t0)
		restored := a.Agg != nil && a.Agg.Restored()
		src, err := dashboard.OverviewSource{M: a.Model}.Open(dashboard.Topic{Name: "overview:root", Kind: "overview", Region: "root"})
		if err != nil {
			b.Fatal(err)
		}
		ov, err := json.Marshal(src.Snapshot())
		if err != nil {
			b.Fatal(err)
		}
		if err := a.Shutdown(context.Background()); err != nil {
			b.Fatal(err)
		}
		// As a new process would: the next start opens the database file afresh.
		if err := store.ReleaseDuckDB(filepath.Join(dir, "history.duckdb")); err != nil {
			b.Fatal(err)
		}
		return took, ov, restored
	}

	if _, err := os.Stat(filepath.Join(dir, demoHistoryFile)); err != nil {
		took, _, _ := start()
		b.Logf("filled %s in %v", dir, took.Round(time.Second))
	}
	var rec demoHistoryState
	if raw, err := os.ReadFile(filepath.Join(dir, demoHistoryFile)); err != nil || json.Unmarshal(raw, &rec) != nil || !rec.Complete {
		b.Fatalf("no complete history in %s (%v)", dir, err)
	}
	if _, err := os.Stat(snap); err != nil {
		took, _, _ := start()
		b.Logf("no snapshot in %s: one start (%v) to make it", dir, took.Round(time.Millisecond))
	}
	b.ResetTimer()
	var snapSum, replaySum time.Duration
	for r := range rounds {
		fi, err := os.Stat(snap)
		if err != nil {
			b.Fatalf("round %d: no snapshot after a clean stop: %v", r, err)
		}
		dSnap, ovSnap, restored := start()
		if !restored {
			b.Fatalf("round %d: the snapshot was not taken", r)
		}
		if err := os.Remove(snap); err != nil {
			b.Fatal(err)
		}
		dReplay, ovReplay, restored := start()
		if restored {
			b.Fatalf("round %d: restored without a snapshot", r)
		}
		if string(ovSnap) != string(ovReplay) {
			b.Fatalf("round %d: the overview differs:\nsnapshot %s\nreplay   %s", r, ovSnap, ovReplay)
		}
		b.Logf("round %d: ready in %v from the snapshot (%.1f MB), %v replaying %d events; ratio %.1f×; overviews identical (%d bytes)",
			r, dSnap.Round(time.Millisecond), float64(fi.Size())/1e6, dReplay.Round(time.Millisecond), rec.Lines,
			float64(dReplay)/float64(dSnap), len(ovSnap))
		snapSum += dSnap
		replaySum += dReplay
	}
	b.ReportMetric(float64(snapSum.Milliseconds())/float64(rounds), "ms-ready-snapshot")
	b.ReportMetric(float64(replaySum.Milliseconds())/float64(rounds), "ms-ready-replay")
	b.ReportMetric(float64(rec.Lines), "history-lines")
}

func benchEnv(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}
