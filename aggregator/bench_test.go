package aggregator

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	json "github.com/goccy/go-json"

	"zhili/event"
	"zhili/geo"
	"zhili/ingest"
	"zhili/store"
)

// benchLines makes n NDJSON events: cases reported inside the demo county (a third in GCJ-02),
// then dispatched, signed, resolved and closed, interleaved across cases.
func benchLines(n int, base time.Time) [][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	cats := event.DefaultCategories
	out := make([][]byte, 0, n)
	for c := 0; len(out) < n; c++ {
		cid := fmt.Sprintf("C%d", c)
		at := base.Add(time.Duration(c) * time.Second)
		crs := "wgs84"
		if c%3 == 0 {
			crs = "gcj02"
		}
		lon, lat := 113.95+rng.Float64()*0.28, 32.03+rng.Float64()*0.18
		out = append(out, fmt.Appendf(nil, `{"id":"r%d","type":"case.reported","case_id":%q,"at":%q,"source":"hotline12345","category":%q,"location":{"lon":%.5f,"lat":%.5f,"crs":%q},"reporter":{"name":"张某","phone":"13800000000"}}`,
			c, cid, at.Format(time.RFC3339), cats[c%len(cats)], lon, lat, crs))
		out = append(out, fmt.Appendf(nil, `{"id":"d%d","type":"case.dispatched","case_id":%q,"at":%q,"dept":"county.urban-mgmt","deadline":%q}`,
			c, cid, at.Add(time.Minute).Format(time.RFC3339), at.Add(48*time.Hour).Format(time.RFC3339)))
		out = append(out, fmt.Appendf(nil, `{"id":"s%d","type":"case.signed","case_id":%q,"at":%q,"dept":"county.urban-mgmt"}`,
			c, cid, at.Add(2*time.Minute).Format(time.RFC3339)))
		out = append(out, fmt.Appendf(nil, `{"id":"v%d","type":"case.resolved","case_id":%q,"at":%q}`,
			c, cid, at.Add(time.Hour).Format(time.RFC3339)))
		out = append(out, fmt.Appendf(nil, `{"id":"x%d","type":"case.closed","case_id":%q,"at":%q,"satisfaction":"satisfied"}`,
			c, cid, at.Add(2*time.Hour).Format(time.RFC3339)))
	}
	return out[:n]
}

// BenchmarkHotPath measures the aggregator's per-event work without storage: validate, locate
// (with CRS conversion), case state machine, rollups, and the bus payload every 1,000 events.
func BenchmarkHotPath(b *testing.B) {
	tree := geo.DemoTree()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, shanghai)
	lines := benchLines(100_000, now.Add(-30*time.Hour))
	rules := event.DefaultRules()
	rules.KnownRegion = func(code string) bool { return tree.Get(code) != nil }
	place := ingest.Placer{Tree: tree}
	b.ReportAllocs()
	b.ResetTimer()
	var st *state
	for i := 0; i < b.N; i++ {
		j := i % len(lines)
		if j == 0 {
			st = newState(shanghai, tree.Root.Code)
		}
		ev, _, err := event.Decode(lines[j], &rules, now)
		if err != nil {
			b.Fatal(err)
		}
		r := store.Record{Event: ev, Offset: uint64(i + 1)}
		if l := ev.Location; l != nil {
			r.Lon, r.Lat = geo.ToWGS84(l.CRS, l.Lon, l.Lat)
			r.HasPoint = true
		}
		if ev.Type == event.CaseReported {
			r.RegionPath = place.Path(&r.Event)
		}
		st.apply(&r, now, true)
		if j%1000 == 999 {
			u := st.takeDelta()
			if _, err := json.Marshal(u); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
