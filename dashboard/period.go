package dashboard

import (
	"context"
	"time"

	"zhili/errs"
	"zhili/event"
	"zhili/geo"
	"zhili/store"
)

// HotspotQuery asks for hotspot statistics over any past period.
type HotspotQuery struct {
	Region   string // region code or "root"
	From, To time.Time
	Level    string // "grid" (the deepest regions under Region, default) or "child"
	Category string
	Types    []event.Type // default case.reported
	Step     time.Duration
	// Emerging asks for the space-time analysis with bins of Step (which must divide a day or
	// be whole days).
	Emerging   bool
	DisableFDR bool
	Loc        *time.Location
	// Floors are the data-sufficiency rules (zero fields: the defaults, HotspotFloors.Resolve);
	// the server passes the live topics' ones.
	Floors HotspotFloors
}

// HotspotCell is one location's result.
type HotspotCell struct {
	Code    string  `json:"code"`
	Name    string  `json:"name"`
	Count   int64   `json:"count"`
	Z       float64 `json:"z"`
	P       float64 `json:"p"`
	Q       float64 `json:"q"` // FDR-adjusted p (equals p without FDR)
	Bin     int     `json:"bin"`
	Pattern string  `json:"pattern,omitempty"` // emerging-hotspot class
	TrendZ  float64 `json:"trend_z,omitempty"` // Mann-Kendall over the location's z-scores
	TrendP  float64 `json:"trend_p,omitempty"`
	// Why explains a significant location (bin ≠ 0); absent otherwise.
	Why *HotspotWhy `json:"why,omitempty"`
}

// HotspotReply answers a HotspotQuery.
type HotspotReply struct {
	Region     string      `json:"region"`
	Level      string      `json:"level"`
	From       time.Time   `json:"from"`
	To         time.Time   `json:"to"`
	FDR        bool        `json:"fdr"`
	Weights    string      `json:"weights"`
	Steps      []time.Time `json:"steps,omitempty"`
	Degenerate string      `json:"degenerate,omitempty"`
	// Sufficiency: whether the period held enough data for the statistics, by the floors
	// (with step: for the emerging classes too), and what is missing.
	Sufficiency Sufficiency   `json:"sufficiency"`
	Cells       []HotspotCell `json:"cells"`
}

// MaxCubeCells bounds locations × steps of an emerging-hotspot query: its space-time cube, the
// store's grouped rows and the Gi* per step all grow with it (3,634 grids × 110 daily steps).
const MaxCubeCells = 400_000

// ctxCells is how many cells the in-Go loops of a period query handle between checks of its
// context.
const ctxCells = 4096

// PeriodHotspots computes Gi* (and, when asked, emerging-hotspot classes) from the history
// store for any period. Study area: the grids under the region (or its children), zero-count
// locations included; weights: queen contiguity of the polygons (tolerance 1e-7°).
//
// It stops when ctx is done and returns an error wrapping ctx's error: the store queries are
// cancelled, and the loops here check ctx between stages and every ctxCells cells (the
// geo computations themselves, bounded by MaxCubeCells, run to their end).
func PeriodHotspots(ctx context.Context, st store.Store, tree *geo.Tree, q HotspotQuery) (HotspotReply, error) {
	r := tree.Get(q.Region)
	if r == nil {
		return HotspotReply{}, errs.E(errs.NotFound, "region", "unknown region %q", q.Region)
	}
	if len(r.Children) == 0 {
		return HotspotReply{}, errs.E(errs.Invalid, "region", "region %s has no subdivisions to compare", r.Code)
	}
	var locs []*geo.Region
	level := 0
	switch q.Level {
	case "", "grid":
		q.Level = "grid"
		// The deepest level under r; regions that stop earlier take part as they are.
		var walk func(x *geo.Region)
		walk = func(x *geo.Region) {
			if len(x.Children) == 0 {
				locs = append(locs, x)
				level = max(level, x.Level)
				return
			}
			for _, c := range x.Children {
				walk(c)
			}
		}
		walk(r)
	case "child":
		locs = r.Children
		level = r.Level + 1
	default:
		return HotspotReply{}, errs.E(errs.Invalid, "level", "level must be grid or child")
	}
	idx := make(map[string]int, len(locs))
	for i, l := range locs {
		idx[l.Code] = i
	}
	// The emerging review's size is checked before the store is asked anything.
	var starts []store.Point
	if q.Emerging {
		plan, err := store.PlanSeries(store.SeriesQuery{From: q.From, To: q.To, Step: q.Step, Loc: q.Loc})
		if err != nil {
			return HotspotReply{}, err
		}
		starts = plan.Points()
		if len(starts) < 2 {
			return HotspotReply{}, errs.E(errs.Invalid, "step", "emerging hotspots need at least two time steps in the period")
		}
		if cells := len(locs) * len(starts); cells > MaxCubeCells {
			return HotspotReply{}, errs.E(errs.TooLarge, "max_cells",
				"%d locations × %d steps = %d cells, at most %d: shorten the period, widen the step or choose a smaller region or level",
				len(locs), len(starts), cells, MaxCubeCells)
		}
	}
	if err := ctx.Err(); err != nil {
		return HotspotReply{}, err
	}
	w := geo.ContiguityWeights(locs, 1e-7)
	rq := store.RegionQuery{Region: r.Code, Depth: r.Level, Level: level, From: q.From, To: q.To, Category: q.Category, Types: q.Types}
	// Regions shallower than the deepest level are counted at their own depth.
	depths := map[int]bool{}
	for _, l := range locs {
		depths[l.Level] = true
	}
	x, err := periodCounts(ctx, st, rq, locs)
	if err != nil {
		return HotspotReply{}, err
	}
	fl := q.Floors.Resolve()
	minLocal := fl.minLocal(q.Level)
	res := geo.Hotspots(x, w, geo.HotspotOptions{DisableFDR: q.DisableFDR, MinLocal: float64(minLocal), MinEvents: float64(fl.minEvents())})
	rep := HotspotReply{Region: r.Code, Level: q.Level, From: q.From, To: q.To, FDR: res.FDR,
		Weights: "queen contiguity", Degenerate: res.Degenerate, Cells: make([]HotspotCell, len(locs))}
	rep.Sufficiency = sufficiencyOf(&res, fl.minEvents(), minLocal)
	// The footprint: the same period at the other level (grids ↔ child regions), unless the
	// children are the grids.
	other, err := periodOtherLevel(ctx, st, tree, r, q, fl)
	if err != nil {
		return HotspotReply{}, err
	}
	names := map[string][]string{}
	for i, l := range locs {
		g := res.Results[i]
		rep.Cells[i] = HotspotCell{Code: l.Code, Name: l.Name, Count: int64(x[i]), Z: round(g.Z, 4), P: round(g.P, 5), Q: round(g.Q, 5), Bin: g.Bin}
		if g.Bin != 0 {
			why := whyOf(res.LocalOf(i, x, w, nil), g)
			why.Path = pathNames(tree, l.Code, names)
			why.Footprint = other.footprint(l)
			rep.Cells[i].Why = &why
		}
	}
	if !q.Emerging {
		rep.Sufficiency.finish(adviceCtx{coarser: q.Level == "grid" && !childrenAreLeaves(r)})
		return rep, nil
	}
	for _, p := range starts {
		rep.Steps = append(rep.Steps, p.T)
	}
	cube := geo.NewCube(len(locs), len(starts))
	cells := 0
	for d := range depths {
		rq.Level = d
		cs, err := st.Cube(ctx, store.CubeQuery{RegionQuery: rq, Step: q.Step, Loc: q.Loc})
		if err != nil {
			return HotspotReply{}, err
		}
		for _, c := range cs {
			if i, ok := idx[c.Region]; ok && locs[i].Level == d {
				for s, p := range c.Points {
					if cells++; cells%ctxCells == 0 && ctx.Err() != nil {
						return HotspotReply{}, ctx.Err()
					}
					if s < len(starts) {
						cube.Add(i, s, float64(p.Count))
					}
				}
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return HotspotReply{}, err
	}
	em := geo.EmergingHotspots(cube, w, geo.EmergingOptions{DisableFDR: q.DisableFDR,
		MinSteps: fl.minSteps(), MinEvents: float64(fl.minEvents()), MinLocal: float64(minLocal)})
	for i := range rep.Cells {
		rep.Cells[i].Pattern = em.Patterns[i].String()
		if !em.Insufficient {
			rep.Cells[i].TrendZ = round(em.Trends[i].Z, 4)
			rep.Cells[i].TrendP = round(em.Trends[i].P, 5)
		}
	}
	rep.Sufficiency.addEmerging(&em, len(starts))
	rep.Sufficiency.finish(adviceCtx{coarser: q.Level == "grid" && !childrenAreLeaves(r), emergingLevel: true})
	if em.Degenerate != "" {
		rep.Degenerate = em.Degenerate
	}
	return rep, nil
}
