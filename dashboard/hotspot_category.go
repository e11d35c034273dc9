package dashboard

import (
	"context"
	"time"

	"github.com/paulmach/orb"

	"zhili/errs"
	"zhili/event"
	"zhili/geo"
	"zhili/store"
	"zhili/update"
)

// MaxCategoryWindows bounds the category windows open at once (each holds a window's buckets
// for every grid and hex cell).
const MaxCategoryWindows = 16

// seededKeep is how long a category window remembers the cases its seed counted, so that the
// live report of one of them, applied after the history store had it, is not counted twice.
const seededKeep = 5 * time.Minute

// catWindow is the live window of one category, opened for the topics that filter on it
// (hotspots:<region>:<window>:cat=<code>) and dropped when the last of them closes. Its grid
// level is seeded from the history store (the cases whose first report falls in the window),
// its hex level fills from live events, as the unfiltered windows' does.
type catWindow struct {
	cat       string
	spec      geo.WindowSpec
	leaf, hex *geo.LiveWindow
	refs      int
	seeded    bool
	live      map[string]struct{} // cases observed live while the seed runs (nil after)
	seededIDs map[string]struct{} // cases the seed counted, kept until dropAt
	dropAt    time.Time
}

// acquireCategory returns the window of category cat and spec, opening it (and starting its
// seed) when no topic holds it. Callers release it.
func (h *Hotspots) acquireCategory(cat string, spec geo.WindowSpec) (*catWindow, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, cw := range h.cats[cat] {
		if cw.spec.Name == spec.Name {
			cw.refs++
			return cw, nil
		}
	}
	open := 0
	for _, ws := range h.cats {
		open += len(ws)
	}
	if open >= MaxCategoryWindows {
		return nil, errs.E(errs.TooLarge, "topic.option", "at most %d category windows open at once", MaxCategoryWindows)
	}
	now := h.clk.Now()
	cw := &catWindow{cat: cat, spec: spec, refs: 1, live: map[string]struct{}{},
		leaf: geo.NewLiveWindow(len(h.leaves), spec, now), hex: geo.NewLiveWindow(len(h.hexCells), spec, now)}
	if h.cats == nil {
		h.cats = map[string][]*catWindow{}
	}
	h.cats[cat] = append(h.cats[cat], cw)
	if h.st != nil {
		go h.seedCategory(h.seedCtx, h.st, cw)
	}
	return cw, nil
}

// releaseCategory drops a holder of cw; the window goes with its last one.
func (h *Hotspots) releaseCategory(cw *catWindow) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if cw.refs--; cw.refs > 0 {
		return
	}
	ws := h.cats[cw.cat]
	for i, x := range ws {
		if x == cw {
			ws = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(h.cats, cw.cat)
	} else {
		h.cats[cw.cat] = ws
	}
}

// observeCategory counts one new case in the windows of its category. Caller holds h.mu.
func (h *Hotspots) observeCategory(it *update.Item, leaf, hex int, now time.Time) {
	for _, cw := range h.cats[it.Category] {
		if cw.seededIDs != nil {
			if now.After(cw.dropAt) {
				cw.seededIDs = nil
			} else if _, done := cw.seededIDs[it.CaseID]; done {
				continue // the seed counted it from the history store
			}
		}
		if cw.live != nil {
			cw.live[it.CaseID] = struct{}{}
		}
		if leaf >= 0 {
			cw.leaf.Add(leaf, it.At)
		}
		if hex >= 0 {
			cw.hex.Add(hex, it.At)
		}
	}
}

// seedCategory loads cw's grid and hex levels from the history store: every case of its
// category whose first report falls in the window, except those already observed live. Events applied live
// before the window opened but not yet written to the store when the seed reads it are missed
// (the store is normally a second or so behind).
func (h *Hotspots) seedCategory(ctx context.Context, st store.Store, cw *catWindow) {
	now := h.clk.Now()
	from := now.Add(-cw.spec.Span()).Truncate(cw.spec.Bucket)
	type found struct {
		id        string
		leaf, hex int
		at        time.Time
	}
	var cases []found
	err := st.Cases(ctx, store.CaseQuery{Region: h.tree.Root.Code, Depth: 0, From: from, To: now.Add(time.Minute), Category: cw.cat},
		func(id string, recs []store.Record) error {
			for _, r := range recs {
				if r.Type != event.CaseReported {
					continue
				}
				f := found{id: id, leaf: -1, hex: -1, at: r.At}
				if n := len(r.RegionPath); n > 0 {
					if li, ok := h.leafIdx[r.RegionPath[n-1]]; ok {
						f.leaf = li
					}
				}
				if r.HasPoint {
					f.hex = h.hexOf(&[2]float64{r.Lon, r.Lat})
				}
				if f.leaf >= 0 || f.hex >= 0 {
					cases = append(cases, f)
				}
				break // the first report opened the case
			}
			return nil
		})
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil {
		cw.live = nil // the window keeps what it observed; seeded stays false
		return
	}
	cw.seededIDs = make(map[string]struct{}, len(cases))
	for _, c := range cases {
		if _, dup := cw.live[c.id]; dup {
			continue
		}
		added := c.leaf >= 0 && cw.leaf.Add(c.leaf, c.at)
		if c.hex >= 0 && cw.hex != nil && cw.hex.Add(c.hex, c.at) {
			added = true
		}
		if added {
			cw.seededIDs[c.id] = struct{}{}
		}
	}
	cw.live, cw.seeded, cw.dropAt = nil, true, h.clk.Now().Add(seededKeep)
}

// hexOf is the hex index of a point, -1 outside the cover.
func (h *Hotspots) hexOf(p *[2]float64) int {
	if p == nil {
		return -1
	}
	if hi, ok := h.hexIdx[geo.HexCell(orb.Point{p[0], p[1]}, h.cfg.HexRes)]; ok {
		return hi
	}
	return -1
}
