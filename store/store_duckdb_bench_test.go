package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"zhili/event"
	"zhili/store"
)

var (
	benchCategories = event.DefaultCategories
	benchTypes      = []event.Type{event.CaseReported, event.CaseReported, event.CaseAccepted,
		event.CaseDispatched, event.CaseSigned, event.CaseResolved, event.CaseClosed}
	benchStart = mustTime("2026-11-01T00:00:00+08:00")
)

// benchRecord is a realistic record: 10 townships of 10 grids, 5% unlocated, one in ten with
// personal fields, event times spread over 30 days.
func benchRecord(rng *rand.Rand, id uint64) store.Record {
	typ := benchTypes[rng.IntN(len(benchTypes))]
	r := store.Record{Event: event.Event{
		ID: "ev-" + strconv.FormatUint(id, 10), Type: typ, CaseID: "C-" + strconv.FormatUint(id/4, 10),
		At:       benchStart.Add(time.Duration(rng.Int64N(int64(30 * 24 * time.Hour)))),
		Priority: "normal",
	}, Offset: id, Received: time.Now()}
	if typ == event.CaseReported {
		r.Source, r.Category = "grid", benchCategories[rng.IntN(len(benchCategories))]
		r.Location = &event.Location{Lon: 114 + rng.Float64()/10, Lat: 32 + rng.Float64()/10, CRS: event.WGS84}
		r.Lon, r.Lat, r.HasPoint = r.Location.Lon, r.Location.Lat, true
	} else {
		r.Dept = "county.urban-mgmt"
	}
	if rng.IntN(20) != 0 {
		town := "411502" + fmt.Sprintf("%03d", 1+rng.IntN(10))
		r.RegionPath = []string{"411502", town, town + fmt.Sprintf("%03d", 1+rng.IntN(10))}
	}
	if rng.IntN(10) == 0 {
		r.Reporter = &event.Reporter{Name: "张三", Phone: "13800000000"}
		r.Address = "浉河区某路12号"
	}
	return r
}

func benchBatches(n, size int, firstID uint64) []store.Batch {
	rng := rand.New(rand.NewPCG(1, firstID))
	out := make([]store.Batch, n)
	id := firstID
	for i := range out {
		recs := make([]store.Record, size)
		for j := range recs {
			recs[j] = benchRecord(rng, id)
			id++
		}
		out[i] = store.Batch{Records: recs, Checkpoint: id}
	}
	return out
}

// fill writes rows records to s in batches of 10,000.
func fill(b *testing.B, s store.Store, rows int) {
	b.Helper()
	for done := 0; done < rows; done += 10000 {
		batch := benchBatches(1, min(10000, rows-done), uint64(done))[0]
		if err := s.Write(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDuckDBWrite(b *testing.B) {
	for _, c := range []struct {
		name    string
		size    int
		prefill int
	}{
		{"batch=1000", 1000, 0},
		{"batch=10000", 10000, 0},
		{"batch=1000/onto=1M", 1000, 1_000_000},
		{"batch=10000/onto=1M", 10000, 1_000_000},
	} {
		b.Run(c.name, func(b *testing.B) {
			s, err := store.OpenDuckDB(filepath.Join(b.TempDir(), "bench.duckdb"))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			fill(b, s, c.prefill)
			batches := benchBatches(b.N, c.size, uint64(c.prefill))
			b.ResetTimer()
			for i := range b.N {
				if err := s.Write(context.Background(), batches[i]); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N*c.size)/b.Elapsed().Seconds(), "rows/s")
			// Rewriting stored ids: all skipped.
			start := time.Now()
			if err := s.Write(context.Background(), batches[0]); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(time.Since(start).Microseconds())/1000, "ms/dup-batch")
		})
	}
}

func BenchmarkDuckDBSeries(b *testing.B) {
	s, err := store.OpenDuckDB(filepath.Join(b.TempDir(), "bench.duckdb"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	fill(b, s, 1_000_000)
	b.Logf("filled 1,000,000 rows in %s", time.Since(start).Round(time.Millisecond))
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		b.Fatal(err)
	}
	from, to := benchStart, benchStart.AddDate(0, 0, 30)
	ctx := context.Background()
	for _, c := range []struct {
		name string
		q    store.SeriesQuery
	}{
		{"hourly-30d", store.SeriesQuery{From: from, To: to, Step: time.Hour, Loc: shanghai}},
		{"hourly-30d-township", store.SeriesQuery{From: from, To: to, Step: time.Hour, Loc: shanghai,
			Region: "411502003"}},
		{"hourly-30d-category-types", store.SeriesQuery{From: from, To: to, Step: time.Hour, Loc: shanghai,
			Category: "environment", Types: []event.Type{event.CaseReported, event.CaseClosed}}},
		{"daily-30d", store.SeriesQuery{From: from, To: to, Step: 24 * time.Hour, Loc: shanghai}},
		{"15m-1d", store.SeriesQuery{From: from, To: from.AddDate(0, 0, 1), Step: 15 * time.Minute, Loc: shanghai}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				ps, err := s.Series(ctx, c.q)
				if err != nil || len(ps) == 0 {
					b.Fatal(ps, err)
				}
			}
		})
	}
	for _, c := range []struct {
		name string
		q    store.RegionQuery
	}{
		{"region-counts-root", store.RegionQuery{Region: "411502", Depth: 0, From: from, To: to}},
		{"region-counts-township", store.RegionQuery{Region: "411502003", Depth: 1, From: from, To: to}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				rc, err := s.RegionCounts(ctx, c.q)
				if err != nil || len(rc) == 0 {
					b.Fatal(rc, err)
				}
			}
		})
	}
}

// BenchmarkDuckDBCases: the audits' case walk (Store.Cases) over a day, a week and the whole of
// a 30-day history of 1,000,000 records (250,000 cases), every record of each case read.
func BenchmarkDuckDBCases(b *testing.B) {
	s, err := store.OpenDuckDB(filepath.Join(b.TempDir(), "bench.duckdb"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	fill(b, s, 1_000_000)
	for _, days := range []int{1, 7, 30} {
		b.Run(fmt.Sprintf("period=%dd", days), func(b *testing.B) {
			q := store.CaseQuery{From: benchStart.AddDate(0, 0, 10), To: benchStart.AddDate(0, 0, 10+days)}
			if days == 30 {
				q.From = benchStart
			}
			var cases, recs int
			for range b.N {
				cases, recs = 0, 0
				err := s.Cases(context.Background(), q, func(_ string, r []store.Record) error {
					cases++
					recs += len(r)
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cases), "cases")
			b.ReportMetric(float64(recs), "records")
		})
	}
}
