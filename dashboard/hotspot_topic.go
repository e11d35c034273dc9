package dashboard

import (
	"time"

	"zhili/errs"
	"zhili/geo"
	"zhili/update"
)

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
	st := &hotspotState{h: h, r: r, spec: spec, names: map[string][]string{}}
	// The study areas of this region: its grids, its children, the hex cells inside it.
	var sub []*geo.Region
	gridOf := map[int]int{} // global leaf index → topic grid index
	var walk func(x *geo.Region)
	walk = func(x *geo.Region) {
		if len(x.Children) == 0 {
			gridOf[h.leafIdx[x.Code]] = len(st.leaves)
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
	st.gridChild = make([]int, len(st.leaves))
	for i := range st.gridChild {
		st.gridChild[i] = -1
	}
	if len(r.Children) > 0 {
		st.children = r.Children
		st.childW = geo.ContiguityWeights(r.Children, 1e-7)
		st.childLeaves = make([][]int, len(r.Children))
		st.childGrids = make([][]int, len(r.Children))
		for i, c := range r.Children {
			var cw func(x *geo.Region)
			cw = func(x *geo.Region) {
				if len(x.Children) == 0 {
					li := h.leafIdx[x.Code]
					st.childLeaves[i] = append(st.childLeaves[i], li)
					st.childGrids[i] = append(st.childGrids[i], gridOf[li])
					st.gridChild[gridOf[li]] = i
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
	st.gridHex = make([][]int, len(st.leaves))
	for _, c := range cells {
		if i, ok := h.hexIdx[c]; ok {
			g := -1
			if li := h.hexLeaf[i]; li >= 0 {
				if gi, in := gridOf[int(li)]; in {
					g = gi
					st.gridHex[gi] = append(st.gridHex[gi], len(st.hex))
				}
			}
			st.hexGrid = append(st.hexGrid, g)
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
	gridChild   []int // per grid, the child region holding it (index into children), -1 for none
	gridHex     [][]int
	children    []*geo.Region
	childLeaves [][]int
	childGrids  [][]int // per child, its grids (indexes into leaves)
	childW      *geo.Weights
	hex         []int // global hex indices
	hexIDs      []uint64
	hexGrid     []int // per cell, the grid holding its centre (index into leaves), -1 for none
	hexW        *geo.Weights
	names       map[string][]string // region code → names from the root down to it

	data map[string]any
	last time.Time

	patterns     []string // emerging class per grid (s.leaves order), "" before the first analysis
	emSuff       Sufficiency
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

// level is one study area of a topic: its values, weights and result.
type level struct {
	key      string // grids, children, hex
	x        []float64
	w        *geo.Weights
	res      geo.HotspotResult
	minLocal int
}

func (s *hotspotState) compute(now time.Time) map[string]any {
	h := s.h
	fl := h.cfg.Floors
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
		em := geo.EmergingHotspots(cube, s.leafW, geo.EmergingOptions{DisableFDR: h.cfg.DisableFDR,
			MinSteps: fl.minSteps(), MinEvents: float64(fl.minEvents()), MinLocal: float64(fl.minLocal("grids"))})
		s.patterns = make([]string, len(s.leaves))
		for i, p := range em.Patterns {
			s.patterns[i] = p.String()
		}
		s.emSuff = Sufficiency{Reasons: []string{}, Advice: []string{}, Events: int64(em.Events + 0.5),
			EventsNeeded: int64(fl.minEvents()), MinLocal: int64(fl.minLocal("grids")), SetBack: int64(em.Sparse)}
		s.emSuff.addEmerging(&em, cube.Steps)
		s.emSuff.finish(adviceCtx{live: true, longest: s.spec.Name == "30d", shortest: s.spec.Name == "1h",
			coarser: len(s.children) > 0, emergingLevel: true})
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
	suff := map[string]any{"emerging": s.emSuff.asMap()}
	run := func(key string, x []float64, w *geo.Weights) *level {
		lv := &level{key: key, x: x, w: w, minLocal: fl.minLocal(key)}
		lv.res = geo.Hotspots(x, w, geo.HotspotOptions{DisableFDR: h.cfg.DisableFDR,
			MinLocal: float64(lv.minLocal), MinEvents: float64(fl.minEvents())})
		su := sufficiencyOf(&lv.res, fl.minEvents(), lv.minLocal)
		su.finish(adviceCtx{live: true, longest: s.spec.Name == "30d", shortest: s.spec.Name == "1h",
			coarser: key != "children" && len(s.children) > 0})
		suff[key] = su.asMap()
		return lv
	}
	grids := run("grids", gx, s.leafW)
	var children, hexes *level
	if len(s.children) > 0 {
		children = run("children", cx, s.childW)
	}
	if len(s.hex) > 0 {
		hexes = run("hex", hx, s.hexW)
		if fl.HexMinLocal > 0 {
			out["hex_min_local"] = int64(fl.HexMinLocal)
		}
	}
	bin := func(lv *level, i int) int64 {
		if lv == nil || i < 0 {
			return 0
		}
		return int64(lv.res.Results[i].Bin)
	}
	emit := func(lv *level, name func(i int) string, all bool, pattern []string, path func(i int) []string, footprint func(i int) map[string]any) {
		cells := make(map[string]any, len(lv.x))
		for i, r := range lv.res.Results {
			if !all && lv.x[i] == 0 && r.Bin == 0 {
				continue
			}
			c := map[string]any{"count": int64(lv.x[i]), "z": round(r.Z, 3), "p": round(r.P, 4), "bin": int64(r.Bin)}
			if pattern != nil {
				c["pattern"] = pattern[i]
			}
			if r.Bin != 0 {
				why := whyOf(lv.res.LocalOf(i, lv.x, lv.w, nil), r).asMap()
				why["path"] = path(i)
				if fp := footprint(i); len(fp) > 0 {
					why["footprint"] = fp
				}
				c["why"] = why
			}
			cells[name(i)] = c
		}
		out[lv.key] = cells
		out[lv.key+"_degenerate"] = lv.res.Degenerate
		if lv.minLocal > 0 {
			out[lv.key+"_sparse"] = int64(lv.res.Sparse)
		}
	}
	gridCode := func(i int) string { return h.leaves[s.leaves[i]].Code }
	childCode := func(i int) string { return s.children[i].Code }
	hexCode := func(i int) string { return geo.HexString(s.hexIDs[i]) }
	hexBins := func(idx []int) map[string]any {
		bins := map[string]any{}
		for _, k := range idx {
			if b := bin(hexes, k); b != 0 {
				bins[hexCode(k)] = b
			}
		}
		return map[string]any{"cells": int64(len(idx)), "bins": bins}
	}
	emit(grids, gridCode, true, s.patterns, func(i int) []string { return s.path(gridCode(i)) }, func(i int) map[string]any {
		fp := map[string]any{}
		if c := s.gridChild[i]; c >= 0 && children != nil && childCode(c) != gridCode(i) {
			fp["child"] = map[string]any{"code": childCode(c), "bin": bin(children, c)}
		}
		if hexes != nil && len(s.gridHex[i]) > 0 {
			fp["hex"] = hexBins(s.gridHex[i])
		}
		return fp
	})
	if children != nil {
		emit(children, childCode, true, nil, func(i int) []string { return s.path(childCode(i)) }, func(i int) map[string]any {
			fp := map[string]any{}
			gb := map[string]any{}
			var cellsIn []int
			for _, g := range s.childGrids[i] {
				if b := bin(grids, g); b != 0 {
					gb[gridCode(g)] = b
				}
				cellsIn = append(cellsIn, s.gridHex[g]...)
			}
			if len(s.childGrids[i]) > 1 || (len(s.childGrids[i]) == 1 && gridCode(s.childGrids[i][0]) != childCode(i)) {
				fp["grids"] = map[string]any{"cells": int64(len(s.childGrids[i])), "bins": gb}
			}
			if hexes != nil && len(cellsIn) > 0 {
				fp["hex"] = hexBins(cellsIn)
			}
			return fp
		})
	}
	if hexes != nil {
		emit(hexes, hexCode, false, nil, func(i int) []string {
			if g := s.hexGrid[i]; g >= 0 {
				return s.path(gridCode(g))
			}
			return s.path(s.r.Code)
		}, func(i int) map[string]any {
			fp := map[string]any{}
			g := s.hexGrid[i]
			if g < 0 {
				return fp
			}
			fp["grid"] = map[string]any{"code": gridCode(g), "bin": bin(grids, g)}
			if c := s.gridChild[g]; c >= 0 && children != nil && childCode(c) != gridCode(g) {
				fp["child"] = map[string]any{"code": childCode(c), "bin": bin(children, c)}
			}
			return fp
		})
	}
	out["sufficiency"] = suff
	return out
}

// path returns the names of the regions from the root down to code (kept per topic).
func (s *hotspotState) path(code string) []string { return pathNames(s.h.tree, code, s.names) }
