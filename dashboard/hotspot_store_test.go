package dashboard

import (
	"context"
	"fmt"
	"sort"
	"time"

	"zhili/event"
	"zhili/store"
)

// hotStore answers the hotspot queries (RegionCounts, Cube, Cases) from new-case reports held
// in memory, filtered as the stores do: region at the query's depth, level, period, category.
type hotStore struct {
	store.Store
	recs []hotRec
}

// hotRec is a stored case report, kept small (a planted scenario stores tens of thousands).
type hotRec struct {
	CaseID, Category string
	RegionPath       []string
	At               time.Time
	Point            *[2]float64 // WGS-84; nil when the report has none
}

func (s *hotStore) report(id string, path []string, cat string, at time.Time) {
	s.recs = append(s.recs, hotRec{CaseID: id, Category: cat, RegionPath: path, At: at})
}

func (s *hotStore) match(r hotRec, q store.RegionQuery) (string, bool) {
	lvl := q.Level
	if lvl <= q.Depth {
		lvl = q.Depth + 1
	}
	if r.At.Before(q.From) || !r.At.Before(q.To) || q.Category != "" && r.Category != q.Category {
		return "", false
	}
	if q.Region != "" && (len(r.RegionPath) <= q.Depth || r.RegionPath[q.Depth] != q.Region) || len(r.RegionPath) <= lvl {
		return "", false
	}
	return r.RegionPath[lvl], true
}

func (s *hotStore) RegionCounts(ctx context.Context, q store.RegionQuery) ([]store.RegionCount, error) {
	n := map[string]int64{}
	for _, r := range s.recs {
		if code, ok := s.match(r, q); ok {
			n[code]++
		}
	}
	var out []store.RegionCount
	for code, c := range n {
		out = append(out, store.RegionCount{Region: code, Count: c})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Region < out[j].Region })
	return out, ctx.Err()
}

func (s *hotStore) Cube(ctx context.Context, q store.CubeQuery) ([]store.CubeSeries, error) {
	plan, err := store.PlanSeries(store.SeriesQuery{From: q.From, To: q.To, Step: q.Step, Loc: q.Loc})
	if err != nil {
		return nil, err
	}
	starts := plan.Points()
	series := map[string][]store.Point{}
	for _, r := range s.recs {
		code, ok := s.match(r, q.RegionQuery)
		if !ok {
			continue
		}
		if series[code] == nil {
			series[code] = plan.Points()
		}
		k := sort.Search(len(starts), func(i int) bool { return starts[i].T.After(r.At) }) - 1
		if k < 0 {
			return nil, fmt.Errorf("hotStore: %s before the first step", r.At)
		}
		series[code][k].Count++
	}
	var out []store.CubeSeries
	for code, pts := range series {
		out = append(out, store.CubeSeries{Region: code, Points: pts})
	}
	return out, ctx.Err()
}

func (s *hotStore) Cases(ctx context.Context, q store.CaseQuery, fn func(string, []store.Record) error) error {
	for _, r := range s.recs {
		if r.At.Before(q.From) || !r.At.Before(q.To) || q.Category != "" && r.Category != q.Category {
			continue
		}
		if q.Region != "" && (len(r.RegionPath) <= q.Depth || r.RegionPath[q.Depth] != q.Region) {
			continue
		}
		rec := store.Record{Event: event.Event{ID: r.CaseID + "r", Type: event.CaseReported, CaseID: r.CaseID, At: r.At, Category: r.Category},
			RegionPath: r.RegionPath}
		if r.Point != nil {
			rec.Lon, rec.Lat, rec.HasPoint = r.Point[0], r.Point[1], true
		}
		if err := fn(r.CaseID, []store.Record{rec}); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// Points yields the reports with a point, filtered by period, category and region (the cut
// is not modelled: every stored report is within it).
func (s *hotStore) Points(ctx context.Context, q store.PointQuery, fn func(store.LocatedEvent) error) error {
	for _, r := range s.recs {
		if r.Point == nil || r.At.Before(q.From) || !r.At.Before(q.To) || q.Category != "" && r.Category != q.Category {
			continue
		}
		if q.Region != "" && (len(r.RegionPath) <= q.Depth || r.RegionPath[q.Depth] != q.Region) {
			continue
		}
		if err := fn(store.LocatedEvent{At: r.At, Lon: r.Point[0], Lat: r.Point[1]}); err != nil {
			return err
		}
	}
	return ctx.Err()
}
