package dashboard

import (
	"slices"

	"zhili/geo"
)

// HotspotWhy explains one significant location (bin ≠ 0): what Gi* compared, and where it
// is. docs/HOTSPOTS.md, "Why is it hot".
type HotspotWhy struct {
	// Observed is the neighbourhood's sum (the location and its neighbours) of the analysed
	// value (counts, or rates with per=); Expected the same sum were every location at the
	// study area's mean; Ratio = Observed / Expected (0 when nothing was expected).
	Observed float64 `json:"observed"`
	Expected float64 `json:"expected"`
	Ratio    float64 `json:"ratio"`
	Z        float64 `json:"z"`
	Q        float64 `json:"q"` // the Benjamini-Hochberg adjusted p-value (p without FDR)
	// Neighbours: how many locations share the neighbourhood (the location not counted);
	// LocalEvents: the events in the neighbourhood, the location included.
	Neighbours  int64 `json:"neighbours"`
	LocalEvents int64 `json:"local_events"`
	// NeighbourMean: the neighbours' mean of the analysed value (cases; rates with per=), the
	// location not counted. ThroughNeighbours: a hot location whose own value is below it, hot
	// mostly because the locations around it are busy (the screens mark it 邻).
	NeighbourMean     float64 `json:"neighbour_mean"`
	ThroughNeighbours bool    `json:"through_neighbours"`
	// Path: the names of the regions from the root down to the location (for a hex cell, to
	// the grid holding its centre), for "county › township › grid".
	Path []string `json:"path"`
	// Footprint: the same place at the other levels, with their bins.
	Footprint *HotspotFootprint `json:"footprint,omitempty"`
}

// HotspotFootprint is a significant location at the other levels of the same study.
type HotspotFootprint struct {
	Child *FootprintRegion `json:"child,omitempty"` // a grid's child region (of the queried region)
	Grids *FootprintSet    `json:"grids,omitempty"` // a child region's grids
}

// FootprintRegion is one region of another level and its bin.
type FootprintRegion struct {
	Code string `json:"code"`
	Bin  int    `json:"bin"`
}

// FootprintSet is the locations of another level inside a location: how many, and the bins of
// those with a bin other than 0.
type FootprintSet struct {
	Cells int            `json:"cells"`
	Bins  map[string]int `json:"bins"`
}

func whyOf(l geo.Local, r geo.GiResult) HotspotWhy {
	return HotspotWhy{Observed: round(l.Observed, 3), Expected: round(l.Expected, 3), Ratio: round(l.Ratio(), 3),
		Z: round(r.Z, 3), Q: round(r.Q, 5), Neighbours: int64(l.Neighbours), LocalEvents: int64(l.Events + 0.5),
		NeighbourMean: round(l.NeighbourMean, 3), ThroughNeighbours: r.Bin > 0 && l.ThroughNeighbours()}
}

// asMap is the topic form (without path and footprint, which the topic adds).
func (w HotspotWhy) asMap() map[string]any {
	m := make(map[string]any, 11) // the topic adds path and footprint
	m["observed"], m["expected"], m["ratio"], m["z"], m["q"] = w.Observed, w.Expected, w.Ratio, w.Z, w.Q
	m["neighbours"], m["local_events"] = w.Neighbours, w.LocalEvents
	m["neighbour_mean"], m["through_neighbours"] = w.NeighbourMean, w.ThroughNeighbours
	return m
}

// ThroughNeighbours applies the rule of HotspotWhy.ThroughNeighbours to every cell of a period
// view over counts (grid or child level): it returns, by code, the neighbours' mean of the
// cells unremarkable by themselves and below their neighbours' mean, over the period's counts.
// Unlike why, which only significant cells carry, it covers the cells hot only in the emerging
// classes too; callers keep the hot ones. rep.Cells are in the order of the regions the view
// analysed, so the memoised weights are the view's. Nil when a cell is not in tree.
func ThroughNeighbours(tree *geo.Tree, rep HotspotReply) map[string]float64 {
	locs := make([]*geo.Region, len(rep.Cells))
	x := make([]float64, len(rep.Cells))
	for i, c := range rep.Cells {
		locs[i], x[i] = tree.Get(c.Code), float64(c.Count)
	}
	if len(locs) == 0 || slices.Contains(locs, nil) {
		return nil
	}
	w := contiguity.weights(locs)
	var stats geo.HotspotResult
	stats.Mean, stats.SD = geo.Moments(x)
	out := map[string]float64{}
	for i, c := range rep.Cells {
		if l := stats.LocalOf(i, x, w, nil); l.ThroughNeighbours() {
			out[c.Code] = l.NeighbourMean
		}
	}
	return out
}
