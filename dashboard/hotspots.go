package dashboard

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"

	"zhili/clock"
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
	// Floors.HexMinLocal, when set, takes precedence.
	HexMinLocal int
	// Floors are the data-sufficiency rules of every level (defaults: HotspotFloors.Resolve).
	Floors HotspotFloors
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
	hexLeaf  []int32 // the leaf (index into leaves) holding each cell's centre, -1 for none
	leafWin  map[string]*geo.LiveWindow
	hexWin   map[string]*geo.LiveWindow
	seeded   bool
	// begins is when the history of reports begins (the store's at the seed, moved by earlier
	// live reports; zero: none yet): a window that starts before it is said to.
	begins time.Time
	cats   map[string][]*catWindow // category windows open for filtered topics, by category
	// st and seedCtx are the history store and context of Seed, kept to seed category windows.
	st      store.Store
	seedCtx context.Context
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
	if cfg.Floors.HexMinLocal == 0 {
		cfg.Floors.HexMinLocal = cfg.HexMinLocal
	}
	cfg.Floors = cfg.Floors.Resolve()
	cfg.HexMinLocal = cfg.Floors.HexMinLocal
	h := &Hotspots{tree: tree, clk: clk, cfg: cfg, leafIdx: map[string]int{}, hexIdx: map[uint64]int{},
		leafWin: map[string]*geo.LiveWindow{}, hexWin: map[string]*geo.LiveWindow{}}
	tree.Walk(func(r *geo.Region) {
		if len(r.Children) == 0 {
			h.leafIdx[r.Code] = len(h.leaves)
			h.leaves = append(h.leaves, r)
		}
	})
	for _, c := range geo.HexCover(tree.Root.Geometry, cfg.HexRes) {
		if _, dup := h.hexIdx[c]; !dup {
			h.hexIdx[c] = len(h.hexCells)
			h.hexCells = append(h.hexCells, c)
		}
	}
	loc := geo.NewIndexedLocator(tree)
	h.hexLeaf = make([]int32, len(h.hexCells))
	for i, c := range h.hexCells {
		h.hexLeaf[i] = -1
		if path := loc.Locate(geo.HexCentroid(c)); len(path) > 0 {
			if li, ok := h.leafIdx[path[len(path)-1]]; ok {
				h.hexLeaf[i] = int32(li)
			}
		}
	}
	now := clk.Now()
	for _, spec := range update.HotspotWindows {
		h.leafWin[spec.Name] = geo.NewLiveWindow(len(h.leaves), spec, now)
		h.hexWin[spec.Name] = geo.NewLiveWindow(len(h.hexCells), spec, now)
	}
	h.leafWin[ScanWindow.Name] = geo.NewLiveWindow(len(h.leaves), ScanWindow, now)
	return h
}

// ScanWindow is the grids' window the space-time scan reads (Alerting): a week of hours. It is
// kept and seeded like the topic windows, and serves no topic.
var ScanWindow = geo.WindowSpec{Name: "scan", Bucket: time.Hour, Buckets: 7 * 24}

// Seeded reports whether the windows hold the history (Seed has run).
func (h *Hotspots) Seeded() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seeded
}

// Leaves returns the grids (the tree's leaves) in the order of the windows' locations.
func (h *Hotspots) Leaves() []*geo.Region { return h.leaves }

// Recent advances window name to now and calls fn for every non-zero count of a grid in one of
// its buckets (grid index into Leaves, bucket start, count); it returns the window's end (the
// newest bucket's end), or false for an unknown window.
func (h *Hotspots) Recent(name string, now time.Time, fn func(leaf int, start time.Time, n int32)) (time.Time, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	w := h.leafWin[name]
	if w == nil {
		return time.Time{}, false
	}
	w.Advance(now)
	w.Each(fn)
	_, to := w.Range()
	return to, true
}

// Observe counts the new cases among live feed items.
func (h *Hotspots) Observe(items []update.Item) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var now time.Time
	if len(h.cats) > 0 {
		now = h.clk.Now()
	}
	for i := range items {
		it := &items[i]
		if !it.New {
			continue // only the report that opened a case counts
		}
		if h.begins.IsZero() || it.At.Before(h.begins) {
			h.begins = it.At
		}
		li := -1
		if n := len(it.Region); n > 0 {
			if l, ok := h.leafIdx[it.Region[n-1]]; ok {
				li = l
				for _, w := range h.leafWin {
					w.Add(li, it.At)
				}
			}
		}
		hi := h.hexOf(it.Point)
		if hi >= 0 {
			for _, w := range h.hexWin {
				w.Add(hi, it.At)
			}
		}
		if len(h.cats) > 0 {
			h.observeCategory(it, li, hi, now)
		}
	}
}

// Seed loads the grid and hex windows from the history store with the events of each intake
// partition p up to cut[p] (the cut after which events arrive live, so none is counted twice).
// The hex level reads the reports' points (the store knows no cells) once, for the longest
// window; each window keeps those within its span. Everything is read first and the windows
// take it in one step, so a topic never shows a window half seeded.
func (h *Hotspots) Seed(ctx context.Context, st store.Store, cut map[int]uint64) error {
	now := h.clk.Now()
	hexes, err := h.readHexes(ctx, st, cut, now)
	if err != nil {
		return err
	}
	levels := map[int]bool{}
	for _, l := range h.leaves {
		if l.Level > 0 {
			levels[l.Level] = true
		}
	}
	type seedOf struct {
		w    *geo.LiveWindow
		cube []store.CubeSeries
	}
	var cubes []seedOf
	for _, spec := range append(slices.Clone(update.HotspotWindows), ScanWindow) {
		from := now.Add(-spec.Span()).Truncate(spec.Bucket)
		for lvl := range levels {
			rq := store.RegionQuery{Region: h.tree.Root.Code, Depth: 0, Level: lvl, From: from, To: now.Add(time.Minute), Cut: cut}
			cube, err := st.Cube(ctx, store.CubeQuery{RegionQuery: rq, Step: spec.Bucket, Loc: time.UTC})
			if err != nil {
				return err
			}
			cubes = append(cubes, seedOf{h.leafWin[spec.Name], cube})
		}
	}
	begins, known := HistoryBegins(ctx, st)
	h.mu.Lock()
	defer h.mu.Unlock()
	if known && (h.begins.IsZero() || begins.Before(h.begins)) {
		h.begins = begins
	}
	for _, w := range h.hexWin {
		for _, l := range hexes {
			w.Add(l.hex, l.at)
		}
	}
	for _, c := range cubes {
		if err := h.addCube(ctx, c.w, c.cube); err != nil {
			return err
		}
	}
	h.seeded = true
	h.st, h.seedCtx = st, ctx
	for _, ws := range h.cats {
		for _, cw := range ws {
			if !cw.seeded && cw.live != nil {
				go h.seedCategory(ctx, st, cw)
			}
		}
	}
	return nil
}

// hexAt is one located report of the history: its hex cell's index and time.
type hexAt struct {
	hex int
	at  time.Time
}

// readHexes reads the located reports of the longest window up to the cut, by hex cell.
func (h *Hotspots) readHexes(ctx context.Context, st store.Store, cut map[int]uint64, now time.Time) ([]hexAt, error) {
	if len(h.hexCells) == 0 {
		return nil, nil
	}
	var from time.Time
	for _, spec := range update.HotspotWindows {
		if f := now.Add(-spec.Span()).Truncate(spec.Bucket); from.IsZero() || f.Before(from) {
			from = f
		}
	}
	var seen []hexAt
	err := st.Points(ctx, store.PointQuery{From: from, To: now.Add(time.Minute), Cut: cut}, func(e store.LocatedEvent) error {
		if hi := h.hexOf(&[2]float64{e.Lon, e.Lat}); hi >= 0 {
			seen = append(seen, hexAt{hi, e.At})
		}
		return nil
	})
	return seen, err
}

// addCube adds a cube's counts to w; h.mu is held.
func (h *Hotspots) addCube(ctx context.Context, w *geo.LiveWindow, cube []store.CubeSeries) error {
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

func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	if digits >= 0 && digits < len(pow10) {
		p = pow10[digits] // a topic rounds every figure of every location each tick
	}
	return math.Round(x*p) / p
}

var pow10 = [...]float64{1, 10, 100, 1e3, 1e4, 1e5, 1e6}
