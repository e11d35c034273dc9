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
	// Per names a denominator (a region property, e.g. population): the analysis runs on
	// count ÷ denominator × RateScale(Per); locations without it are left out. "": counts.
	Per string
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
	// With per=: the rate analysed (count per RateScale of the denominator), or why the
	// location was left out ("no_denominator": z 0, p and q 1, bin 0, no pattern).
	Rate        *float64 `json:"rate,omitempty"`
	Denominator float64  `json:"denominator,omitempty"`
	Excluded    string   `json:"excluded,omitempty"`
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
	// With per=: the denominator and the rate's scale (10,000 for population and households).
	Per      string  `json:"per,omitempty"`
	PerScale float64 `json:"per_scale,omitempty"`
	// Sufficiency: whether the period held enough data for the statistics, by the floors
	// (with step: for the emerging classes too), and what is missing.
	Sufficiency Sufficiency   `json:"sufficiency"`
	Cells       []HotspotCell `json:"cells"`
	// HistoryBegins: the store's earliest case report, when the period starts before it (its
	// first part holds nothing because nothing is stored for it).
	HistoryBegins *time.Time `json:"history_begins,omitempty"`
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
	if q.Per != "" && !geo.DenominatorName.MatchString(q.Per) {
		return HotspotReply{}, errs.E(errs.Invalid, "per", "per=%q: a denominator is named by lower-case letters, digits and _", q.Per)
	}
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
	w := contiguity.weights(locs)
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
	lv := newTopicLevel(q.Level, locs, w, q.Per)
	an := analyseLevel(lv, x, q.Per, fl, q.DisableFDR)
	rep := HotspotReply{Region: r.Code, Level: q.Level, From: q.From, To: q.To, FDR: !q.DisableFDR,
		Weights: "queen contiguity", Degenerate: an.res.Degenerate, Cells: make([]HotspotCell, len(locs))}
	rep.Sufficiency = sufficiencyOf(&an.res, fl.minEvents(), fl.minLocal(q.Level))
	if q.Per != "" {
		rep.Per, rep.PerScale = q.Per, RateScale(q.Per)
		rep.Sufficiency.Per, rep.Sufficiency.Excluded = q.Per, i64p(len(locs)-len(lv.keep))
		if lv.noDenominator {
			rep.Sufficiency.Events = int64(sum(x))
			rep.Sufficiency.Reasons = append(rep.Sufficiency.Reasons, ReasonNoDenominator)
		}
	}
	// The footprint: the same period at the other level (grids ↔ child regions), unless the
	// children are the grids.
	other, err := periodOtherLevel(ctx, st, tree, r, q, fl)
	if err != nil {
		return HotspotReply{}, err
	}
	names := map[string][]string{}
	for i, l := range locs {
		c := HotspotCell{Code: l.Code, Name: l.Name, Count: int64(x[i]), P: 1, Q: 1}
		k := an.index(i)
		if an.x == nil {
			k = -1
		}
		if k < 0 {
			if q.Per != "" {
				c.Excluded = ReasonNoDenominator
			}
			rep.Cells[i] = c
			continue
		}
		g := an.res.Results[k]
		c.Z, c.P, c.Q, c.Bin = round(g.Z, 4), round(g.P, 5), round(g.Q, 5), g.Bin
		if q.Per != "" {
			rate := round(an.x[k], 4)
			c.Rate, c.Denominator = &rate, lv.den[k]
		}
		if g.Bin != 0 {
			why := whyOf(an.res.LocalOf(k, an.x, an.weights(), an.c), g)
			why.Path = pathNames(tree, l.Code, names)
			why.Footprint = other.footprint(l)
			c.Why = &why
		}
		rep.Cells[i] = c
	}
	advice := adviceCtx{coarser: q.Level == "grid" && !childrenAreLeaves(r), per: q.Per != ""}
	if !q.Emerging {
		rep.Sufficiency.finish(advice)
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
	em := emergingLevel(lv, cube, q.Per, fl, q.DisableFDR)
	for i := range rep.Cells {
		rep.Cells[i].Pattern = geo.InsufficientData.String()
		k := an.index(i)
		if em == nil || k < 0 {
			continue
		}
		rep.Cells[i].Pattern = em.Patterns[k].String()
		if !em.Insufficient {
			rep.Cells[i].TrendZ = round(em.Trends[k].Z, 4)
			rep.Cells[i].TrendP = round(em.Trends[k].P, 5)
		}
	}
	if em != nil {
		rep.Sufficiency.addEmerging(em, len(starts))
		if em.Degenerate != "" {
			rep.Degenerate = em.Degenerate
		}
	}
	advice.emergingLevel = true
	rep.Sufficiency.finish(advice)
	return rep, nil
}
