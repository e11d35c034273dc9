package dashboard

import (
	"time"

	"zhili/errs"
	"zhili/geo"
	"zhili/update"
)

// HotspotSource serves hotspots:<region>:<window>[:cat=<category>][:per=<denominator>] topics.
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
	st := &hotspotState{h: h, r: r, spec: spec, names: map[string][]string{}, per: t.Options["per"]}
	if st.per != "" && !geo.DenominatorName.MatchString(st.per) {
		return nil, errs.E(errs.Invalid, "topic.option", "per=%q: a denominator is named by lower-case letters, digits and _", st.per)
	}
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
	st.grids = newTopicLevel("grids", sub, contiguity.weights(sub), st.per)
	st.gridChild = make([]int, len(st.leaves))
	for i := range st.gridChild {
		st.gridChild[i] = -1
	}
	if len(r.Children) > 0 {
		st.children = r.Children
		st.kids = newTopicLevel("children", r.Children, contiguity.weights(r.Children), st.per)
		st.childLeaves = make([][]int, len(r.Children))
		st.childGrids = make([][]int, len(r.Children))
		for i, c := range r.Children {
			for _, x := range leavesUnder(c) {
				li := h.leafIdx[x.Code]
				st.childLeaves[i] = append(st.childLeaves[i], li)
				st.childGrids[i] = append(st.childGrids[i], gridOf[li])
				st.gridChild[gridOf[li]] = i
			}
		}
	}
	cells := geo.HexCover(r.Geometry, h.cfg.HexRes)
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
	hw, _ := geo.HexWeights(st.hexIDs, 1)
	st.hexes = &topicLevel{key: "hex", w: hw, n: len(st.hex)}
	if st.per != "" {
		st.hexes.noDenominator = true // cells have no population
	}
	if cat := t.Options["cat"]; cat != "" {
		cw, err := h.acquireCategory(cat, spec)
		if err != nil {
			return nil, err
		}
		st.cat = cw
	}
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

// RateScale is what a rate is per: 10,000 people or households, 1 of any other denominator
// (a kilometre of road, …).
func RateScale(per string) float64 {
	switch per {
	case "population", "households":
		return 10_000
	}
	return 1
}

// topicLevel is one study area of a topic (grids, child regions or hex cells): the locations
// taking part (all, or with per= those having the denominator) and their weights.
type topicLevel struct {
	key           string
	n             int          // locations listed
	w             *geo.Weights // weights among all of them
	keep          []int        // per=: the locations with the denominator (nil: all)
	pos           []int        // per=: location → index in keep, −1 when left out
	den           []float64    // per=: denominators of keep
	wk            *geo.Weights // per=: weights among keep
	noDenominator bool         // per= and no location has it (hex cells never)
}

func newTopicLevel(key string, locs []*geo.Region, w *geo.Weights, per string) *topicLevel {
	lv := &topicLevel{key: key, n: len(locs), w: w}
	if per == "" {
		return lv
	}
	lv.pos = make([]int, len(locs))
	for i, l := range locs {
		lv.pos[i] = -1
		if d, ok := l.Denominator(per); ok {
			lv.pos[i] = len(lv.keep)
			lv.keep = append(lv.keep, i)
			lv.den = append(lv.den, d)
		}
	}
	lv.wk = w.Subset(lv.keep)
	lv.noDenominator = len(lv.keep) == 0
	return lv
}

// levelResult is a level's analysis at one tick.
type levelResult struct {
	lv     *topicLevel
	counts []float64 // per location listed
	x, c   []float64 // analysed values and their counts (over keep with per=)
	res    geo.HotspotResult
}

// index maps a listed location to its index in the result, −1 when left out.
func (r *levelResult) index(i int) int {
	if r == nil || i < 0 {
		return -1
	}
	if r.lv.pos == nil {
		return i
	}
	return r.lv.pos[i]
}

func (r *levelResult) bin(i int) int64 {
	if k := r.index(i); k >= 0 && k < len(r.res.Results) {
		return int64(r.res.Results[k].Bin)
	}
	return 0
}

type hotspotState struct {
	h    *Hotspots
	r    *geo.Region
	spec geo.WindowSpec
	per  string     // denominator of rates, "" for counts
	cat  *catWindow // category filter, nil for all categories

	leaves      []int // global leaf indices of this region's grids
	grids       *topicLevel
	gridChild   []int // per grid, the child region holding it (index into children), -1 for none
	gridHex     [][]int
	children    []*geo.Region
	kids        *topicLevel
	childLeaves [][]int
	childGrids  [][]int // per child, its grids (indexes into leaves)
	hex         []int   // global hex indices
	hexIDs      []uint64
	hexGrid     []int // per cell, the grid holding its centre (index into leaves), -1 for none
	hexes       *topicLevel
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

func (s *hotspotState) Close() {
	if s.cat != nil {
		s.h.releaseCategory(s.cat)
		s.cat = nil
	}
}

// analyse runs Gi* at one level with the floors, on counts or (per=) rates.
func (s *hotspotState) analyse(lv *topicLevel, counts []float64) *levelResult {
	return analyseLevel(lv, counts, s.per, s.h.cfg.Floors, s.h.cfg.DisableFDR)
}

// analyseLevel runs Gi* over lv's locations with the floors, on counts or (per=) rates.
func analyseLevel(lv *topicLevel, counts []float64, per string, fl HotspotFloors, disableFDR bool) *levelResult {
	r := &levelResult{lv: lv, counts: counts, x: counts, c: counts}
	w := lv.w
	if lv.noDenominator {
		r.x, r.c = nil, nil
		return r
	}
	if lv.keep != nil {
		scale := RateScale(per)
		r.x, r.c = make([]float64, len(lv.keep)), make([]float64, len(lv.keep))
		for k, i := range lv.keep {
			r.c[k] = counts[i]
			r.x[k] = counts[i] / lv.den[k] * scale
		}
		w = lv.wk
	}
	opt := geo.HotspotOptions{DisableFDR: disableFDR, MinLocal: float64(fl.minLocal(lv.key)), MinEvents: float64(fl.minEvents())}
	if lv.keep != nil {
		opt.Counts = r.c // rates: the floors count events
	} else {
		opt.CountTails = !fl.NormalTails // counts: p-values from their own distribution
	}
	r.res = geo.Hotspots(r.x, w, opt)
	return r
}

// weights are the weights the result was computed with.
func (r *levelResult) weights() *geo.Weights {
	if r.lv.keep != nil {
		return r.lv.wk
	}
	return r.lv.w
}

// emergingLevel runs the emerging analysis over lv's locations (cube: one row per location
// listed), on counts or (per=) rates. The result's rows are lv.keep's with per=; nil when no
// location has the denominator.
func emergingLevel(lv *topicLevel, cube *geo.Cube, per string, fl HotspotFloors, disableFDR bool) *geo.EmergingResult {
	if lv.noDenominator {
		return nil
	}
	opt := geo.EmergingOptions{DisableFDR: disableFDR, CountTails: !fl.NormalTails,
		MinSteps: fl.minSteps(), MinEvents: float64(fl.minEvents()), MinLocal: float64(fl.minLocal(lv.key))}
	w := lv.w
	if lv.keep != nil {
		// Rates: the kept locations' series divided by their denominators; floors on the counts.
		rc := geo.NewCube(len(lv.keep), cube.Steps)
		opt.Counts = make([]float64, len(rc.Counts))
		scale := RateScale(per)
		for k, i := range lv.keep {
			for t := 0; t < cube.Steps; t++ {
				c := cube.At(i, t)
				opt.Counts[k*cube.Steps+t] = c
				rc.Counts[k*cube.Steps+t] = c / lv.den[k] * scale
			}
		}
		cube, w = rc, lv.wk
	}
	em := geo.EmergingHotspots(cube, w, opt)
	return &em
}

// sufficiency states r against the floors.
func (s *hotspotState) sufficiency(r *levelResult) Sufficiency {
	fl := s.h.cfg.Floors
	su := sufficiencyOf(&r.res, fl.minEvents(), fl.minLocal(r.lv.key))
	if r.lv.noDenominator {
		for _, c := range r.counts {
			su.Events += int64(c)
		}
		su.Reasons = append(su.Reasons, ReasonNoDenominator)
	}
	if s.per != "" {
		su.Per = s.per
		su.Excluded = i64p(r.lv.n - len(r.lv.keep))
	}
	su.finish(adviceCtx{live: true, longest: s.spec.Name == "30d", shortest: s.spec.Name == "1h",
		coarser: r.lv.key != "children" && len(s.children) > 0, per: s.per != ""})
	return su
}

func (s *hotspotState) compute(now time.Time) map[string]any {
	h := s.h
	fl := h.cfg.Floors
	h.mu.Lock()
	lw, hw := h.leafWin[s.spec.Name], h.hexWin[s.spec.Name]
	seeded := h.seeded
	if s.cat != nil {
		lw, hw, seeded = s.cat.leaf, s.cat.hex, s.cat.seeded
	}
	lw.Advance(now)
	hw.Advance(now)
	from, to := lw.Range()
	begins := h.begins
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
	var cube *geo.Cube
	if s.patterns == nil || now.Sub(s.lastEmerging) >= h.cfg.EmergingEvery {
		cube = lw.CubeOf(s.leaves)
		s.lastEmerging = now
	}
	h.mu.Unlock()
	if cube != nil {
		s.emerging(cube)
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
	if begins.After(from) {
		// The window starts before the history of reports: its first part holds nothing.
		out["history_begins"] = begins.UTC().Format(time.RFC3339)
	}
	if s.cat != nil {
		out["category"] = s.cat.cat
	}
	if s.per != "" {
		out["per"] = s.per
		out["per_scale"] = RateScale(s.per)
	}
	suff := map[string]any{"emerging": s.emSuff.asMap()}
	grids := s.analyse(s.grids, gx)
	suff["grids"] = s.sufficiency(grids).asMap()
	var children, hexes *levelResult
	if s.kids != nil {
		children = s.analyse(s.kids, cx)
		suff["children"] = s.sufficiency(children).asMap()
	}
	if len(s.hex) > 0 {
		hexes = s.analyse(s.hexes, hx)
		suff["hex"] = s.sufficiency(hexes).asMap()
		if fl.HexMinLocal > 0 {
			out["hex_min_local"] = int64(fl.HexMinLocal)
		}
	}
	gridCode := func(i int) string { return h.leaves[s.leaves[i]].Code }
	childCode := func(i int) string { return s.children[i].Code }
	hexCode := func(i int) string { return geo.HexString(s.hexIDs[i]) }
	hexBins := func(idx []int) map[string]any {
		bins := map[string]any{}
		for _, k := range idx {
			if b := hexes.bin(k); b != 0 {
				bins[hexCode(k)] = b
			}
		}
		return map[string]any{"cells": int64(len(idx)), "bins": bins}
	}
	s.emit(out, grids, gridCode, true, s.patterns, func(i int) []string { return s.path(gridCode(i)) }, func(i int) map[string]any {
		fp := map[string]any{}
		if c := s.gridChild[i]; c >= 0 && children != nil && childCode(c) != gridCode(i) {
			fp["child"] = map[string]any{"code": childCode(c), "bin": children.bin(c)}
		}
		if hexes != nil && len(s.gridHex[i]) > 0 {
			fp["hex"] = hexBins(s.gridHex[i])
		}
		return fp
	})
	if children != nil {
		s.emit(out, children, childCode, true, nil, func(i int) []string { return s.path(childCode(i)) }, func(i int) map[string]any {
			fp := map[string]any{}
			gb := map[string]any{}
			var cellsIn []int
			for _, g := range s.childGrids[i] {
				if b := grids.bin(g); b != 0 {
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
		s.emit(out, hexes, hexCode, false, nil, func(i int) []string {
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
			fp["grid"] = map[string]any{"code": gridCode(g), "bin": grids.bin(g)}
			if c := s.gridChild[g]; c >= 0 && children != nil && childCode(c) != gridCode(g) {
				fp["child"] = map[string]any{"code": childCode(c), "bin": children.bin(c)}
			}
			return fp
		})
	}
	out["sufficiency"] = suff
	return out
}

// emerging reclassifies the grids over the window's buckets (counts, or rates with per=).
func (s *hotspotState) emerging(cube *geo.Cube) {
	fl, lv := s.h.cfg.Floors, s.grids
	s.patterns = make([]string, len(s.leaves))
	for i := range s.patterns {
		s.patterns[i] = geo.InsufficientData.String()
	}
	em := emergingLevel(lv, cube, s.per, fl, s.h.cfg.DisableFDR)
	su := Sufficiency{Reasons: []string{}, Advice: []string{}, EventsNeeded: int64(fl.minEvents()), MinLocal: int64(fl.minLocal("grids"))}
	if em == nil {
		su.Reasons = append(su.Reasons, ReasonNoDenominator)
	} else {
		for k, p := range em.Patterns {
			i := k
			if lv.keep != nil {
				i = lv.keep[k]
			}
			s.patterns[i] = p.String()
		}
		su.Events, su.SetBack = int64(em.Events+0.5), int64(em.Sparse)
		su.addEmerging(em, cube.Steps)
	}
	if s.per != "" {
		su.Per = s.per
		su.Excluded = i64p(lv.n - len(lv.keep))
	}
	su.finish(adviceCtx{live: true, longest: s.spec.Name == "30d", shortest: s.spec.Name == "1h",
		coarser: len(s.children) > 0, per: s.per != "", emergingLevel: true})
	s.emSuff = su
}

// emit writes one level's locations into out[key]: count (and rate), z, p, bin, the pattern,
// and for significant ones the explanation; locations left out (no denominator) are listed
// with "excluded".
func (s *hotspotState) emit(out map[string]any, r *levelResult, name func(i int) string, all bool, pattern []string,
	path func(i int) []string, footprint func(i int) map[string]any) {
	lv := r.lv
	cells := make(map[string]any, lv.n)
	for i := 0; i < lv.n; i++ {
		k := r.index(i)
		if r.x == nil {
			k = -1
		}
		var g geo.GiResult
		if k >= 0 {
			g = r.res.Results[k]
		}
		if !all && r.counts[i] == 0 && g.Bin == 0 {
			continue
		}
		c := make(map[string]any, 6)
		c["count"], c["z"], c["p"], c["bin"] = int64(r.counts[i]), round(g.Z, 3), round(g.P, 4), int64(g.Bin)
		if k < 0 {
			c["p"] = 1.0
			if s.per != "" {
				c["excluded"] = ReasonNoDenominator
			}
		} else if s.per != "" {
			c["rate"] = round(r.x[k], 4)
		}
		if pattern != nil && pattern[i] != "" {
			c["pattern"] = pattern[i]
		}
		if g.Bin != 0 {
			why := whyOf(r.res.LocalOf(k, r.x, r.weights(), r.c), g).asMap()
			why["path"] = path(i)
			if fp := footprint(i); len(fp) > 0 {
				why["footprint"] = fp
			}
			c["why"] = why
		}
		cells[name(i)] = c
	}
	out[lv.key] = cells
	out[lv.key+"_degenerate"] = r.res.Degenerate
	if s.h.cfg.Floors.minLocal(lv.key) > 0 {
		out[lv.key+"_sparse"] = int64(r.res.Sparse)
	}
}

// path returns the names of the regions from the root down to code (kept per topic).
func (s *hotspotState) path(code string) []string { return pathNames(s.h.tree, code, s.names) }
