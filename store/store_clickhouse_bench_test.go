package store_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"zhili/event"
	"zhili/internal/testsvc"
	"zhili/store"
)

// Side-by-side benchmarks of the two stores. ClickHouse sub-benchmarks skip when no server is
// installed (fail under ZHILI_REQUIRE_SERVICES=1). See docs/CLICKHOUSE.md for the figures.

// sinkTree is a 4-level region tree: 1 county, 12 towns, 12 communities each, 20 grids each
// (2,880 grids).
const (
	sinkTowns, sinkCommunities, sinkGrids = 12, 12, 20
	sinkRoot                              = "411502"
)

var sinkStart = mustTime("2026-11-01T00:00:00+08:00")

// sinkRecord is a realistic record: a 20-character id, a type mix, categories, a grid path
// (5% unlocated, 5% located to a community only), a point, 10% with personal fields, event
// times over the 30 local days from sinkStart, all in one UTC month as live data mostly is.
func sinkRecord(rng *rand.Rand, n uint64) store.Record {
	typ := benchTypes[rng.IntN(len(benchTypes))]
	r := store.Record{Event: event.Event{
		ID: fmt.Sprintf("EV%08d%010x", n/1000, rng.Uint64()>>24), Type: typ,
		CaseID:   "C" + strconv.FormatUint(n/4, 36),
		At:       sinkStart.Add(8*time.Hour + time.Duration(rng.Int64N(int64(30*24*time.Hour-8*time.Hour)))),
		Priority: "normal", Source: "grid",
	}, Offset: n, Received: time.Now()}
	r.Category = event.DefaultCategories[rng.IntN(len(event.DefaultCategories))]
	if typ == event.CaseReported {
		r.Location = &event.Location{Lon: 114 + rng.Float64()/10, Lat: 32 + rng.Float64()/10, CRS: event.WGS84}
		r.Lon, r.Lat, r.HasPoint = r.Location.Lon, r.Location.Lat, true
	} else {
		r.Dept = "county.urban-mgmt"
	}
	if rng.IntN(20) != 0 {
		town := sinkRoot + fmt.Sprintf("%03d", 1+rng.IntN(sinkTowns))
		comm := town + fmt.Sprintf("%03d", 1+rng.IntN(sinkCommunities))
		grid := comm + fmt.Sprintf("%02d", 1+rng.IntN(sinkGrids))
		r.RegionPath = []string{sinkRoot, town, comm, grid}
		if rng.IntN(20) == 0 {
			r.RegionPath = r.RegionPath[:3]
		}
	}
	if rng.IntN(10) == 0 {
		r.Reporter = &event.Reporter{Name: "张三", Phone: "13800000000"}
		r.Address = "浉河区某路12号"
	}
	return r
}

func sinkBatch(rng *rand.Rand, first uint64, size int) store.Batch {
	recs := make([]store.Record, size)
	for i := range recs {
		recs[i] = sinkRecord(rng, first+uint64(i))
	}
	return store.Batch{Records: recs, Checkpoint: first + uint64(size)}
}

// sinkBatchLive is a batch as the live stream makes it: event times within the hour the batch
// covers (batch k covers hour k after mid-month), 3% late ones up to a day older. Mid-month:
// on the first day of a month the late rows of the previous month make a second INSERT per
// batch (one more part, 40-70 ms here), which the other 29 days do not pay.
func sinkBatchLive(rng *rand.Rand, k int, first uint64, size int) store.Batch {
	b := sinkBatch(rng, first, size)
	hour := sinkStart.Add(time.Duration(14*24+k) * time.Hour)
	for i := range b.Records {
		at := hour.Add(time.Duration(rng.Int64N(int64(time.Hour))))
		if rng.IntN(100) < 3 {
			at = at.Add(-time.Duration(rng.Int64N(int64(24 * time.Hour))))
		}
		b.Records[i].At = at
	}
	return b
}

type benchStore struct {
	name string
	open func(b *testing.B) store.Store
}

func benchStores() []benchStore {
	return []benchStore{
		{"duckdb", func(b *testing.B) store.Store {
			s, err := store.OpenDuckDB(filepath.Join(b.TempDir(), "bench.duckdb"))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			return s
		}},
		{"clickhouse", func(b *testing.B) store.Store {
			ch := testsvc.StartClickHouse(b)
			s, err := store.OpenClickHouse(context.Background(), ch.NewDatabase(b), store.ClickHouseOptions{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			return s
		}},
	}
}

// BenchmarkSink measures the history sink's throughput in rows/s: times=live (event times within
// the batch's hour, 3% late: what the live stream writes) and times=30d (spread over 30 days: a
// backfill, the worst case for the rollups).
func BenchmarkSink(b *testing.B) {
	for _, times := range []string{"live", "30d"} {
		for _, size := range []int{10000, 100000} {
			for _, bs := range benchStores() {
				b.Run(fmt.Sprintf("times=%s/batch=%d/%s", times, size, bs.name), func(b *testing.B) {
					benchSink(b, bs, times, size)
				})
			}
		}
	}
}

func benchSink(b *testing.B, bs benchStore, times string, size int) {
	s := bs.open(b)
	rng := rand.New(rand.NewPCG(1, uint64(size)))
	batches := make([]store.Batch, b.N)
	for i := range batches {
		if times == "live" {
			batches[i] = sinkBatchLive(rng, i, uint64(i*size), size)
		} else {
			batches[i] = sinkBatch(rng, uint64(i*size), size)
		}
	}
	b.ResetTimer()
	for i := range b.N {
		if err := s.Write(context.Background(), batches[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkSinkPartitions measures the sink of a scaled-out deployment: the writers of 4 intake
// partitions, each writing its own batches through its partition view at the same time (one
// Write per partition at a time, as the aggregators do). rows/s is the total.
func BenchmarkSinkPartitions(b *testing.B) {
	const parts, size = 4, 100000
	ch := testsvc.StartClickHouse(b)
	s, err := store.OpenClickHouse(context.Background(), ch.NewDatabase(b), store.ClickHouseOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	batches := make([][]store.Batch, parts)
	for p := range batches {
		rng := rand.New(rand.NewPCG(uint64(p), size))
		for i := range b.N {
			batches[p] = append(batches[p], sinkBatchLive(rng, i, uint64(p)<<40|uint64(i*size), size))
		}
	}
	b.ResetTimer()
	var wg sync.WaitGroup
	errc := make(chan error, parts)
	for p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := s.Partition(p)
			for _, bt := range batches[p] {
				if err := v.Write(context.Background(), bt); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	select {
	case err := <-errc:
		b.Fatal(err)
	default:
	}
	b.ReportMetric(float64(parts*b.N*size)/b.Elapsed().Seconds(), "rows/s")
}

// benchEvents is ZHILI_BENCH_EVENTS, the stored events of a benchmark (default 200,000).
func benchEvents(b *testing.B) int {
	v := os.Getenv("ZHILI_BENCH_EVENTS")
	if v == "" {
		return 200_000
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("ZHILI_BENCH_EVENTS=%q: want a positive number", v)
	}
	return n
}

// BenchmarkHotspot30d is the hotspot screen's query: counts per grid (the deepest level) over
// 30 days, over ZHILI_BENCH_EVENTS stored events (default 200,000).
func BenchmarkHotspot30d(b *testing.B) {
	events := benchEvents(b)
	for _, bs := range benchStores() {
		b.Run(fmt.Sprintf("events=%d/%s", events, bs.name), func(b *testing.B) {
			s := bs.open(b)
			rng := rand.New(rand.NewPCG(2, 2))
			start := time.Now()
			const size = 50000
			for done := 0; done < events; done += size {
				if err := s.Write(context.Background(), sinkBatch(rng, uint64(done), min(size, events-done))); err != nil {
					b.Fatal(err)
				}
			}
			b.Logf("%s: stored %d events in %s", bs.name, events, time.Since(start).Round(time.Millisecond))
			q := store.RegionQuery{Region: sinkRoot, Depth: 0, Level: 3,
				From: sinkStart, To: sinkStart.AddDate(0, 0, 30)}
			b.ResetTimer()
			var grids int
			for b.Loop() {
				rc, err := s.RegionCounts(context.Background(), q)
				if err != nil || len(rc) == 0 {
					b.Fatal(rc, err)
				}
				grids = len(rc)
			}
			b.ReportMetric(float64(grids), "grids")
		})
	}
}

// BenchmarkChangedCases is what a reader keeping case facts pays on ClickHouse after a write:
// the cases written since the version it kept them under (store.CaseChanges), over
// ZHILI_BENCH_EVENTS stored events (default 200,000; the query reads the part and run columns
// of every event). Each op: a version, a write of one event (not timed), the changed cases.
// chFilled opens a ClickHouse store of its own on a fresh server holding events sink events.
func chFilled(b *testing.B, events int) (*store.ClickHouse, *rand.Rand) {
	ctx := context.Background()
	ch := testsvc.StartClickHouse(b)
	s, err := store.OpenClickHouse(ctx, ch.NewDatabase(b), store.ClickHouseOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	rng := rand.New(rand.NewPCG(2, 2))
	const size = 50000
	for done := 0; done < events; done += size {
		if err := s.Write(ctx, sinkBatch(rng, uint64(done), min(size, events-done))); err != nil {
			b.Fatal(err)
		}
	}
	return s, rng
}

// BenchmarkHistoryBegins times the query for the history's beginning (every audit asks for it,
// kept 10 s) beside DataVersion's (asked with every audit already), on one store:
// ZHILI_BENCH_EVENTS events (default 200,000).
func BenchmarkHistoryBegins(b *testing.B) {
	events := benchEvents(b)
	b.Run(fmt.Sprintf("events=%d", events), func(b *testing.B) {
		s, _ := chFilled(b, events)
		ctx := context.Background()
		b.Run("query=history_begins", func(b *testing.B) {
			for b.Loop() {
				if _, ok, err := s.HistoryBegins(ctx); err != nil || !ok {
					b.Fatal(ok, err)
				}
			}
		})
		b.Run("query=data_version", func(b *testing.B) {
			for b.Loop() {
				if _, err := s.DataVersion(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

func BenchmarkChangedCases(b *testing.B) {
	events := benchEvents(b)
	b.Run(fmt.Sprintf("events=%d", events), func(b *testing.B) {
		ctx := context.Background()
		s, rng := chFilled(b, events)
		next := uint64(events)
		for b.Loop() {
			b.StopTimer()
			v, err := s.DataVersion(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Write(ctx, sinkBatch(rng, next, 1)); err != nil {
				b.Fatal(err)
			}
			next++
			b.StartTimer()
			ids, ok, err := s.CasesChangedSince(ctx, v)
			if err != nil || !ok || len(ids) != 1 {
				b.Fatal(ids, ok, err)
			}
		}
	})
}

// BenchmarkSinkWithoutRollups is BenchmarkSink (live times, 100k batches) on a database whose
// rollup views were dropped: the share of the materialized views in the sink's cost.
func BenchmarkSinkWithoutRollups(b *testing.B) {
	ch := testsvc.StartClickHouse(b)
	dsn := ch.NewDatabase(b)
	db := dsn[strings.LastIndex(dsn, "/")+1:]
	benchSink(b, benchStore{"clickhouse", func(b *testing.B) store.Store {
		s, err := store.OpenClickHouse(context.Background(), dsn, store.ClickHouseOptions{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		for _, mv := range []string{"rollup_hour_mv", "rollup_day_mv"} {
			if err := ch.Exec("DROP TABLE " + db + "." + mv); err != nil {
				b.Fatal(err)
			}
		}
		return s
	}}, "live", 100000)
}

// BenchmarkSinkCeiling sets the sink beside the server alone. The same rows (live times, 100k
// batches) are written by the sink into one database, then copied batch by batch into a second,
// freshly migrated one with INSERT … SELECT inside the server: no client, no network, no
// exactly-once bookkeeping, no checkpoint, no personal-fields table, the rollup views fed as for
// the sink. That copy bounds what any client can reach on this server and machine. rows/s is the
// sink's, ceiling-rows/s the copy's, sink/ceiling their ratio.
func BenchmarkSinkCeiling(b *testing.B) {
	const size = 100000
	ch := testsvc.StartClickHouse(b)
	open := func() (store.Store, string) {
		dsn := ch.NewDatabase(b)
		s, err := store.OpenClickHouse(context.Background(), dsn, store.ClickHouseOptions{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s, dsn[strings.LastIndex(dsn, "/")+1:]
	}
	src, srcDB := open()
	_, dstDB := open()
	rng := rand.New(rand.NewPCG(1, size))
	batches := make([]store.Batch, b.N)
	for i := range batches {
		batches[i] = sinkBatchLive(rng, i, uint64(i*size), size)
	}
	b.ResetTimer()
	start := time.Now()
	for _, bt := range batches {
		if err := src.Write(context.Background(), bt); err != nil {
			b.Fatal(err)
		}
	}
	sink := time.Since(start)
	start = time.Now()
	for i := range b.N {
		q := fmt.Sprintf("INSERT INTO %s.events SELECT * FROM %s.events WHERE intake_offset >= %d AND intake_offset < %d",
			dstDB, srcDB, i*size, (i+1)*size)
		resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/?parallel_view_processing=1&query=%s", ch.HTTPPort, url.QueryEscape(q)), "text/plain", nil)
		if err != nil {
			b.Fatal(err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("copy: %s %s", resp.Status, msg)
		}
	}
	ceiling := time.Since(start)
	b.StopTimer()
	if got, err := ch.Query("SELECT count() FROM " + dstDB + ".events"); err != nil || strings.TrimSpace(got) != strconv.Itoa(b.N*size) {
		b.Fatalf("copied %q rows (%v), want %d", got, err, b.N*size)
	}
	rows := float64(b.N * size)
	b.ReportMetric(rows/sink.Seconds(), "rows/s")
	b.ReportMetric(rows/ceiling.Seconds(), "ceiling-rows/s")
	b.ReportMetric(ceiling.Seconds()/sink.Seconds(), "sink/ceiling")
}
