package dashboard

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/paulmach/orb"

	"zhili/clock"
	"zhili/errs"
	"zhili/geo"
	"zhili/store"
	"zhili/update"
)

// HotspotConfig tunes the live hotspot windows.
type HotspotConfig struct {
	HexRes int           // H3 resolution of the hex level (default geo.DefaultHexRes)
	Every  time.Duration // a topic recomputes Gi* at most this often (default 1 s)
	// EmergingEvery is how often a topic reclassifies its grids as emerging hot spots over the
	// window's buckets (default 1 min: the space-time analysis costs more than a Gi* tick).
	EmergingEvery time.Duration
	DisableFDR    bool // bins from raw p-values instead of FDR-corrected ones
	// HexMinLocal: a hex cell is hot only when it and its 6 neighbours hold at least this many
	// events (default 3; negative: no floor). Res-8 cells are ~0.7 km²: over a city most are
	// empty, and Gi* would call every lone report and its neighbours a 99 % hot spot.
	HexMinLocal int
}

// Hotspots keeps, for every window of update.HotspotWindows, the count of new cases per
// grid (leaf region) and per H3 cell covering the root, in sliding time buckets: an event costs
// O(1), a topic tick O(locations + neighbours) (see geo.LiveWindow). Topics compute Gi* (with
// FDR) over their region's grids, children and hex cells.
type Hotspots struct {
	tree *geo.Tree
	clk  clock.Clock
	cfg  HotspotConfig

	mu       sync.Mutex
	leaves   []*geo.Region
	leafIdx  map[string]int
	hexCells []uint64
	hexIdx   map[uint64]int
	leafWin  map[string]*geo.LiveWindow
	hexWin   map[string]*geo.LiveWindow
	seeded   bool
}

// NewHotspots prepares empty windows for tree.
func NewHotspots(tree *geo.Tree, clk clock.Clock, cfg HotspotConfig) *Hotspots {
	if cfg.HexRes <= 0 {
		cfg.HexRes = geo.DefaultHexRes
	}
	if cfg.Every <= 0 {
		cfg.Every = time.Second
	}
	if cfg.EmergingEvery <= 0 {
		cfg.EmergingEvery = time.Minute
	}
	if cfg.HexMinLocal == 0 {
		cfg.HexMinLocal = 3
	}
	h := &Hotspots{tree: tree, clk: clk, cfg: cfg, leafIdx: map[string]int{}, hexIdx: map[uint64]int{},
		leafWin: map[string]*geo.LiveWindow{}, hexWin: map[string]*geo.LiveWindow{}}
	tree.Walk(func(r *geo.Region) {
		if len(r.Children) == 0 {
			h.leafIdx[r.Code] = len(h.leaves)
			h.leaves = append(h.leaves, r)
		}
	})
	for _, c := range hexCover(tree.Root.Geometry, cfg.HexRes) {
		if _, dup := h.hexIdx[c]; !dup {
			h.hexIdx[c] = len(h.hexCells)
			h.hexCells = append(h.hexCells, c)
		}
	}
	now := clk.Now()
	for _, spec := range update.HotspotWindows {
		h.leafWin[spec.Name] = geo.NewLiveWindow(len(h.leaves), spec, now)
		h.hexWin[spec.Name] = geo.NewLiveWindow(len(h.hexCells), spec, now)
	}
	return h
}

func hexCover(g orb.Geometry, res int) []uint64 {
	switch x := g.(type) {
	case orb.Polygon:
		return geo.HexCover(x, res)
	case orb.MultiPolygon:
		var out []uint64
		for _, p := range x {
			out = append(out, geo.HexCover(p, res)...)
		}
		return out
	}
	return nil
}

// Observe counts the new cases among live feed items.
func (h *Hotspots) Observe(items []update.Item) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range items {
		it := &items[i]
		if !it.New {
			continue // only the report that opened a case counts
		}
		if n := len(it.Region); n > 0 {
			if li, ok := h.leafIdx[it.Region[n-1]]; ok {
				for _, w := range h.leafWin {
					w.Add(li, it.At)
				}
			}
		}
		if it.Point != nil {
			if hi, ok := h.hexIdx[geo.HexCell(orb.Point{it.Point[0], it.Point[1]}, h.cfg.HexRes)]; ok {
				for _, w := range h.hexWin {
					w.Add(hi, it.At)
				}
			}
		}
	}
}

// Seed loads the grid windows from the history store with the events of each intake partition
// p up to cut[p] (the cut after which events arrive live, so none is counted twice). The hex
// level fills from live events: the store is not queried by cell.
func (h *Hotspots) Seed(ctx context.Context, st store.Store, cut map[int]uint64) error {
	now := h.clk.Now()
	levels := map[int]bool{}
	for _, l := range h.leaves {
		if l.Level > 0 {
			levels[l.Level] = true
		}
	}
	for _, spec := range update.HotspotWindows {
		from := now.Add(-spec.Span()).Truncate(spec.Bucket)
		for lvl := range levels {
			rq := store.RegionQuery{Region: h.tree.Root.Code, Depth: 0, Level: lvl, From: from, To: now.Add(time.Minute), Cut: cut}
			cube, err := st.Cube(ctx, store.CubeQuery{RegionQuery: rq, Step: spec.Bucket, Loc: time.UTC})
			if err != nil {
				return err
			}
			if err := h.seedCube(ctx, h.leafWin[spec.Name], cube); err != nil {
				return err
			}
		}
	}
	h.mu.Lock()
	h.seeded = true
	h.mu.Unlock()
	return nil
}

// seedCube adds the events of cube to w, checking ctx every ctxCells cells and events (a
// 30-day window holds every new case of a month).
func (h *Hotspots) seedCube(ctx context.Context, w *geo.LiveWindow, cube []store.CubeSeries) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	work, next := 0, ctxCells
	for _, c := range cube {
		li, ok := h.leafIdx[c.Region]
		if !ok {
			continue
		}
		for _, p := range c.Points {
			if work += 1 + int(p.Count); work >= next {
				if err := ctx.Err(); err != nil {
					return err
				}
				next = work + ctxCells
			}
			for k := int64(0); k < p.Count; k++ {
				w.Add(li, p.T)
			}
		}
	}
	return nil
}

// HotspotSource serves hotspots:<region>:<window> topics.
type HotspotSource struct{ H *Hotspots }

func (s HotspotSource) Open(t Topic) (TopicState, error) {
	h := s.H
	spec, ok := windowSpec(t.Window)
	if !ok {
		return nil, errs.E(errs.Invalid, "topic.window", "hotspot windows are 1h, 24h, 7d and 30d")
	}
	r := h.tree.Get(t.Region)
	if r == nil {
		return nil, errs.E(errs.UnknownTopic, "region", "unknown region %q", t.Region)
	}
	st := &hotspotState{h: h, r: r, spec: spec}
	// The study areas of this region: its grids, its children, the hex cells inside it.
	var sub []*geo.Region
	var walk func(x *geo.Region)
	walk = func(x *geo.Region) {
		if len(x.Children) == 0 {
			st.leaves = append(st.leaves, h.leafIdx[x.Code])
			sub = append(sub, x)
			return
		}
		for _, c := range x.Children {
			walk(c)
		}
	}
	walk(r)
	st.leafW = geo.ContiguityWeights(sub, 1e-7)
	if len(r.Children) > 0 {
		st.children = r.Children
		st.childW = geo.ContiguityWeights(r.Children, 1e-7)
		st.childLeaves = make([][]int, len(r.Children))
		for i, c := range r.Children {
			var cw func(x *geo.Region)
			cw = func(x *geo.Region) {
				if len(x.Children) == 0 {
					st.childLeaves[i] = append(st.childLeaves[i], h.leafIdx[x.Code])
					return
				}
				for _, y := range x.Children {
					cw(y)
				}
			}
			cw(c)
		}
	}
	cells := hexCover(r.Geometry, h.cfg.HexRes)
	for _, c := range cells {
		if i, ok := h.hexIdx[c]; ok {
			st.hex = append(st.hex, i)
			st.hexIDs = append(st.hexIDs, c)
		}
	}
	st.hexW, _ = geo.HexWeights(st.hexIDs, 1)
	st.Advance()
	return st, nil
}

func windowSpec(name string) (geo.WindowSpec, bool) {
	for _, s := range update.HotspotWindows {
		if s.Name == name {
			return s, true
		}
	}
	return geo.WindowSpec{}, false
}

type hotspotState struct {
	h    *Hotspots
	r    *geo.Region
	spec geo.WindowSpec

	leaves      []int // global leaf indices of this region's grids
	leafW       *geo.Weights
	children    []*geo.Region
	childLeaves [][]int
	childW      *geo.Weights
	hex         []int // global hex indices
	hexIDs      []uint64
	hexW        *geo.Weights

	data map[string]any
	last time.Time

	patterns     []string // emerging class per grid (s.leaves order), "" before the first analysis
	lastEmerging time.Time
}

func (s *hotspotState) Snapshot() any { return s.data }

func (s *hotspotState) Advance() (any, bool) {
	now := s.h.clk.Now()
	if s.data != nil && now.Sub(s.last) < s.h.cfg.Every {
		return nil, false
	}
	s.last = now
	cur := s.compute(now)
	p := mergePatch(s.data, cur)
	s.data = cur
	if p == nil {
		return nil, false
	}
	return p, true
}

func (s *hotspotState) Close() {}

func (s *hotspotState) compute(now time.Time) map[string]any {
	h := s.h
	opt := geo.HotspotOptions{DisableFDR: h.cfg.DisableFDR}
	h.mu.Lock()
	lw, hw := h.leafWin[s.spec.Name], h.hexWin[s.spec.Name]
	lw.Advance(now)
	hw.Advance(now)
	from, to := lw.Range()
	lt, ht := lw.Totals(), hw.Totals()
	gx := make([]float64, len(s.leaves))
	for i, li := range s.leaves {
		gx[i] = float64(lt[li])
	}
	cx := make([]float64, len(s.children))
	for i, ls := range s.childLeaves {
		for _, li := range ls {
			cx[i] += float64(lt[li])
		}
	}
	hx := make([]float64, len(s.hex))
	for i, hi := range s.hex {
		hx[i] = float64(ht[hi])
	}
	seeded := h.seeded
	var cube *geo.Cube
	if s.patterns == nil || now.Sub(s.lastEmerging) >= h.cfg.EmergingEvery {
		cube = lw.CubeOf(s.leaves)
		s.lastEmerging = now
	}
	h.mu.Unlock()
	if cube != nil {
		em := geo.EmergingHotspots(cube, s.leafW, geo.EmergingOptions{DisableFDR: h.cfg.DisableFDR})
		s.patterns = make([]string, len(s.leaves))
		for i, p := range em.Patterns {
			s.patterns[i] = p.String()
		}
	}

	out := map[string]any{
		"region":  map[string]any{"code": s.r.Code, "name": s.r.Name, "level": int64(s.r.Level)},
		"window":  s.spec.Name,
		"from":    from.Format(time.RFC3339),
		"to":      to.Format(time.RFC3339),
		"fdr":     !h.cfg.DisableFDR,
		"hex_res": int64(h.cfg.HexRes),
		"seeded":  seeded,
	}
	level := func(key string, x []float64, w *geo.Weights, name func(i int) string, all bool, pattern []string, opt geo.HotspotOptions) {
		res := geo.Hotspots(x, w, opt)
		cells := make(map[string]any, len(x))
		for i, r := range res.Results {
			if !all && x[i] == 0 && r.Bin == 0 {
				continue
			}
			c := map[string]any{"count": int64(x[i]), "z": round(r.Z, 3), "p": round(r.P, 4), "bin": int64(r.Bin)}
			if pattern != nil {
				c["pattern"] = pattern[i]
			}
			cells[name(i)] = c
		}
		out[key] = cells
		out[key+"_degenerate"] = res.Degenerate
		if opt.MinLocal > 0 {
			out[key+"_sparse"] = int64(res.Sparse)
		}
	}
	level("grids", gx, s.leafW, func(i int) string { return h.leaves[s.leaves[i]].Code }, true, s.patterns, opt)
	if len(s.children) > 0 {
		level("children", cx, s.childW, func(i int) string { return s.children[i].Code }, true, nil, opt)
	}
	if len(s.hex) > 0 {
		hopt := opt
		if h.cfg.HexMinLocal > 0 {
			hopt.MinLocal = float64(h.cfg.HexMinLocal)
			out["hex_min_local"] = int64(h.cfg.HexMinLocal)
		}
		level("hex", hx, s.hexW, func(i int) string { return geo.HexString(s.hexIDs[i]) }, false, nil, hopt)
	}
	return out
}

func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}
