package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/paulmach/orb"

	"zhili/assets"
	"zhili/geo"
)

// regionFeature is one feature of GET /api/v1/regions.
type regionFeature struct {
	Properties struct {
		Code   string `json:"code"`
		Name   string `json:"name"`
		Level  int    `json:"level"`
		Parent string `json:"parent"`
	} `json:"properties"`
	Geometry struct {
		Type        string          `json:"type"`
		Coordinates json.RawMessage `json:"coordinates"`
	} `json:"geometry"`
}

// vertices returns the vertices of a Polygon or MultiPolygon, rounded to about 10 cm.
func (f regionFeature) vertices(t *testing.T) map[[2]int64]bool {
	t.Helper()
	out := map[[2]int64]bool{}
	for _, ring := range f.rings(t) {
		for _, c := range ring {
			out[[2]int64{int64(math.Round(c[0] * 1e6)), int64(math.Round(c[1] * 1e6))}] = true
		}
	}
	return out
}

// rings returns the rings of a Polygon or MultiPolygon.
func (f regionFeature) rings(t *testing.T) [][][2]float64 {
	t.Helper()
	var polys [][][][2]float64
	switch f.Geometry.Type {
	case "Polygon":
		var p [][][2]float64
		if err := json.Unmarshal(f.Geometry.Coordinates, &p); err != nil {
			t.Fatalf("region %s: %v", f.Properties.Code, err)
		}
		polys = [][][][2]float64{p}
	case "MultiPolygon":
		if err := json.Unmarshal(f.Geometry.Coordinates, &polys); err != nil {
			t.Fatalf("region %s: %v", f.Properties.Code, err)
		}
	default:
		t.Fatalf("region %s: geometry %s", f.Properties.Code, f.Geometry.Type)
	}
	var out [][][2]float64
	for _, p := range polys {
		out = append(out, p...)
	}
	return out
}

// gridsWithNeighbours reads the region tree and returns the deepest regions' codes and, for
// each, the grids that share at least one vertex with it or have a vertex on one of its edges
// (queen contiguity with T-junctions, as the server's hotspot weights: the demo city's grids
// meet so where two districts do).
func gridsWithNeighbours(t *testing.T, srv *server) ([]string, map[string][]string) {
	t.Helper()
	resp, err := httpc.Get(srv.base + "/api/v1/regions?root=root&depth=-1&token=" + url.QueryEscape(viewToken))
	if err != nil {
		t.Fatalf("GET /api/v1/regions: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v1/regions: %s", resp.Status)
	}
	var fc struct {
		Features []regionFeature `json:"features"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&fc); err != nil {
		t.Fatalf("decode regions: %v", err)
	}
	deepest := 0
	for _, f := range fc.Features {
		deepest = max(deepest, f.Properties.Level)
	}
	verts := map[string]map[[2]int64]bool{}
	rings := map[string][][][2]float64{}
	var codes []string
	for _, f := range fc.Features {
		if f.Properties.Level == deepest {
			codes = append(codes, f.Properties.Code)
			verts[f.Properties.Code] = f.vertices(t)
			rings[f.Properties.Code] = f.rings(t)
		}
	}
	sort.Strings(codes)
	// The grids at each vertex, then each grid's neighbours in code order (a pairwise
	// comparison of 3,634 grids' vertex sets took minutes under the race detector).
	at := map[[2]int64][]string{}
	for _, c := range codes {
		for v := range verts[c] {
			at[v] = append(at[v], c)
		}
	}
	nb := map[string][]string{}
	for _, a := range codes {
		set := map[string]bool{}
		for v := range verts[a] {
			for _, b := range at[v] {
				if b != a {
					set[b] = true
				}
			}
		}
		for b := range set {
			nb[a] = append(nb[a], b)
		}
	}
	// T-junctions: a vertex of one grid within 1e-7° (about 1 cm, the server's tolerance) of an
	// edge of another. The edges are found through buckets of 0.005° that their bounds cover.
	const cell, tol = 0.005, 1e-7
	type edge struct {
		code string
		p, q [2]float64
	}
	bucket := func(x, y float64) [2]int64 { return [2]int64{int64(math.Floor(x / cell)), int64(math.Floor(y / cell))} }
	edges := map[[2]int64][]edge{}
	for _, c := range codes {
		for _, ring := range rings[c] {
			for i := 1; i < len(ring); i++ {
				e := edge{c, ring[i-1], ring[i]}
				lo := bucket(min(e.p[0], e.q[0])-tol, min(e.p[1], e.q[1])-tol)
				hi := bucket(max(e.p[0], e.q[0])+tol, max(e.p[1], e.q[1])+tol)
				for x := lo[0]; x <= hi[0]; x++ {
					for y := lo[1]; y <= hi[1]; y++ {
						edges[[2]int64{x, y}] = append(edges[[2]int64{x, y}], e)
					}
				}
			}
		}
	}
	near := func(v, p, q [2]float64) bool { // v within tol of the segment pq
		dx, dy := q[0]-p[0], q[1]-p[1]
		u := 0.0
		if l2 := dx*dx + dy*dy; l2 > 0 {
			u = max(0, min(1, ((v[0]-p[0])*dx+(v[1]-p[1])*dy)/l2))
		}
		ex, ey := p[0]+u*dx-v[0], p[1]+u*dy-v[1]
		return ex*ex+ey*ey <= tol*tol
	}
	for _, a := range codes {
		for _, ring := range rings[a] {
			for _, v := range ring {
				for _, e := range edges[bucket(v[0], v[1])] {
					if e.code != a && !slices.Contains(nb[a], e.code) && near(v, e.p, e.q) {
						nb[a] = append(nb[a], e.code)
						nb[e.code] = append(nb[e.code], a)
					}
				}
			}
		}
	}
	for _, c := range codes {
		sort.Strings(nb[c])
	}
	return codes, nb
}

func TestHotspotScreen(t *testing.T) {
	t.Parallel()
	browserPrereqs(t)
	if _, err := fsStatHotspots(); err != nil {
		skipOrFail(t, "front-end built without hotspots.html: run `npm run build` in assets/")
	}
	srv := startServer(t)
	base, _ := url.Parse(srv.base)
	guard := &hostGuard{host: base.Hostname()}

	// 1. The page before any report: ready; a quiet window has no variance, and says so.
	// The period views and playback add a minute or so to the three of the live page.
	ctx := newBrowserFor(t, guard, 6*time.Minute)
	pageURL := srv.base + "/screen/hotspots?token=" + url.QueryEscape(viewToken) + "&window=1h"
	if err := chromedp.Do(ctx, chromedp.Navigate(pageURL)); err != nil {
		t.Fatalf("navigate %s: %v", pageURL, err)
	}
	dump := func() string {
		st, _ := chromedp.Run(ctx, chromedp.Evaluate[[]byte](`JSON.stringify(window.__zhili || null)`))
		return string(st)
	}
	if err := waitFor(ctx, `document.body && document.body.dataset.ready === "1"`, 30*time.Second); err != nil {
		t.Fatalf("hotspot page did not become ready within 30 s: %v\nwindow.__zhili = %s", err, dump())
	}
	// The note is the no-variance one, or the data-sufficiency banner that says more.
	quiet, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]any](`({hot: window.__zhili.hot, degenerate: window.__zhili.degenerate,
	  note: !document.getElementById('hs-degenerate').hidden || !document.getElementById('hs-suff').hidden})`))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("before the reports: %v", quiet)
	if quiet["degenerate"] != "" && quiet["note"] != true {
		t.Errorf("grids_degenerate = %v but the page shows no note", quiet["degenerate"])
	}
	if quiet["degenerate"] != "" {
		screenshot(t, ctx, "hotspots-1920x1080-quiet.png")
	}

	// 2. A clustered batch: 25 reports in one grid, 10 in each of its neighbours, 1 in every
	// grid. The centre is the grid with the fewest neighbours that still has some (an edge
	// grid: its neighbourhood is not the whole study area, so its Gi* can be significant).
	codes, nb := gridsWithNeighbours(t, srv)
	if len(codes) < 9 {
		t.Fatalf("the demo region tree has %d grids; the test needs at least 9", len(codes))
	}
	centre := ""
	for _, c := range codes {
		if len(nb[c]) >= 2 && (centre == "" || len(nb[c]) < len(nb[centre])) {
			centre = c
		}
	}
	if centre == "" {
		t.Fatalf("no grid has two or more neighbours: %v", nb)
	}
	perGrid := map[string]int{}
	for _, c := range codes {
		perGrid[c] = 1
	}
	perGrid[centre] = 25
	for _, c := range nb[centre] {
		perGrid[c] = 10
	}
	var batch strings.Builder
	n := 0
	now := time.Now()
	stamp := now.UnixNano()
	for _, c := range codes {
		for i := 0; i < perGrid[c]; i++ {
			id := fmt.Sprintf("E2E-H%d-%s-%d", stamp, c, i)
			fmt.Fprintf(&batch, `{"id":"%s","type":"case.reported","case_id":"%s","at":"%s","source":"grid","category":"environment","priority":"normal","region":"%s"}`+"\n",
				id, id, now.Add(-time.Duration(30+n%120)*time.Second).Format(time.RFC3339), c)
			n++
		}
	}
	srv.ingest(t, batch.String(), n)
	t.Logf("ingested %d reports: %d in %s, 10 in each of %v, 1 in each other grid", n, perGrid[centre], centre, nb[centre])

	// Reports with a location (the hex level counts points): another category, clustered in
	// one H3 cell and its six neighbours, plus one in each of 40 grids spread over the city.
	tree := regionTree(t, srv)
	centreAt := tree.interior(t, centre)
	hot := geo.HexCell(centreAt, geo.DefaultHexRes)
	var points []orb.Point
	for range 15 {
		points = append(points, centreAt)
	}
	for _, c := range geo.HexNeighbours(hot) {
		for range 4 {
			points = append(points, geo.HexCentroid(c))
		}
	}
	for i := range 40 {
		points = append(points, tree.interior(t, codes[(i*len(codes))/40]))
	}
	var located strings.Builder
	hexCells := map[string]bool{}
	for i, p := range points {
		id := fmt.Sprintf("E2E-P%d-%d", stamp, i)
		fmt.Fprintf(&located, `{"id":"%s","type":"case.reported","case_id":"%s","at":"%s","source":"app","category":"petition","priority":"normal","location":{"lon":%.7f,"lat":%.7f}}`+"\n",
			id, id, now.Add(-time.Duration(20+i%60)*time.Second).Format(time.RFC3339), p[0], p[1])
		hexCells[geo.HexString(geo.HexCell(p, geo.DefaultHexRes))] = true
	}
	srv.ingest(t, located.String(), len(points))
	t.Logf("ingested %d located petition reports in %d H3 cells (cluster at %s)", len(points), len(hexCells), geo.HexString(hot))

	// The live topic sends the change as merge-patch deltas: at least one grid turns hot.
	if err := waitFor(ctx, `window.__zhili.hot >= 1`, 20*time.Second); err != nil {
		t.Fatalf("no hot grid on the page within 20 s: %v\nwindow.__zhili = %s", err, dump())
	}
	type hsState struct {
		Window   string   `json:"window"`
		Hot      int      `json:"hot"`
		Stale    bool     `json:"stale"`
		Banner   bool     `json:"banner"`
		Title    string   `json:"title"`
		List     []string `json:"list"`
		Switch   bool     `json:"switchVisible"`
		Grids    int      `json:"grids"`
		Painted  int      `json:"painted"`
		Total    int      `json:"total"`
		HotGrids []string `json:"hotGrids"`
	}
	const readHS = `(() => {
	  const z = window.__zhili;
	  const c = document.getElementById('hs-map');
	  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
	  let painted = 0;
	  for (let i = 3; i < d.length; i += 4) if (d[i] > 8) painted++;
	  const sw = document.getElementById('hs-windows');
	  return {
	    window: z.window, hot: z.hot, hotGrids: z.hotGrids, stale: !!z.stale, grids: z.grids,
	    banner: !document.getElementById('stale-banner').hidden,
	    title: document.getElementById('title').textContent,
	    list: Array.from(document.querySelectorAll('#hs-list li .nm')).map((e) => e.textContent),
	    switchVisible: !!(sw && sw.offsetParent !== null),
	    painted, total: c.width * c.height,
	  };
	})()`
	readState := func() hsState {
		st, err := chromedp.Run(ctx, chromedp.Evaluate[hsState](readHS))
		if err != nil {
			t.Fatalf("read hotspot page: %v", err)
		}
		return st
	}
	st := readState()
	t.Logf("page: window %s, %d grids, %d hot, title %q, list %v", st.Window, st.Grids, st.Hot, st.Title, st.List)
	if st.Window != "1h" {
		t.Errorf("window = %q, want 1h from ?window=1h", st.Window)
	}
	if st.Stale || st.Banner {
		t.Errorf("after ready: stale=%v banner=%v", st.Stale, st.Banner)
	}
	if !strings.Contains(st.Title, "热点追踪") {
		t.Errorf("title = %q, want the region name and 热点追踪", st.Title)
	}
	if st.Grids != len(codes) {
		t.Errorf("the topic has %d grids, the region tree %d", st.Grids, len(codes))
	}
	if len(st.List) == 0 || len(st.List) > st.Hot {
		t.Errorf("side panel lists %d hot grids, the page counts %d", len(st.List), st.Hot)
	}
	if !slices.Contains(st.HotGrids, centre) {
		t.Errorf("the grid with 25 reports (%s) is not hot; hot grids: %v", centre, st.HotGrids)
	}
	// 3. The map canvas has pixels.
	t.Logf("map canvas: %d of %d pixels painted (%.1f %%)", st.Painted, st.Total, 100*float64(st.Painted)/float64(max(st.Total, 1)))
	if st.Total == 0 || float64(st.Painted) < 0.05*float64(st.Total) {
		t.Errorf("map canvas nearly empty: %d of %d pixels painted", st.Painted, st.Total)
	}
	screenshot(t, ctx, "hotspots-1920x1080.png")

	// A hot row with fewer cases than its neighbours have on average and unremarkable by itself
	// (standard score under 1.645 among the level's cells) is hot through them: the row says so
	// (邻) and a note under the list says why; any other row says nothing. The neighbours are the
	// test's own (nb, from the outlines), the counts the page's.
	type listRow struct {
		Code      string `json:"code"`
		Count     int    `json:"count"`
		Neighbour bool   `json:"neighbour"`
		Tagged    bool   `json:"tagged"`
	}
	type listState struct {
		Rows   []listRow        `json:"rows"`
		Counts map[string]int64 `json:"counts"`
		Note   string           `json:"note"`
		Cut    []string         `json:"cut"`   // rows not wholly inside the list's box
		Room   float64          `json:"room"`  // height left under the last row
		RowH   float64          `json:"rowH"`  // height of a row
		Ranks  []string         `json:"ranks"` // the cells with a rank badge on the map, in rank order
		Hot    int              `json:"hot"`
		Fit    any              `json:"fit"` // the last render's measure (Zhili.listFit)
		Height float64          `json:"height"`
		Panel  float64          `json:"panel"` // the hot list's panel (list and note)
	}
	readList := func() listState {
		t.Helper()
		// The page draws again when a box changes (the alert ticker appearing, a resize): read
		// it once it has caught up.
		if err := waitFor(ctx, `window.__zhili.settled()`, 30*time.Second); err != nil {
			t.Errorf("hot list: page not settled: %v", err)
		}
		ls, err := chromedp.Run(ctx, chromedp.Evaluate[listState](`(() => {
	  const z = window.__zhili;
	  const items = Array.from(document.querySelectorAll('#hs-list li'));
	  const tagged = new Set(items.filter((li) => li.querySelector('.ct .nb')).map((li) => li.dataset.code));
	  const note = document.getElementById('hs-list-note');
	  const box = document.getElementById('hs-list').getBoundingClientRect();
	  const last = items.length ? items[items.length - 1].getBoundingClientRect() : box;
	  return { rows: z.listRows.map((r) => ({ code: r.code, count: r.count, neighbour: r.neighbour, tagged: tagged.has(r.code) })),
	    counts: z.counts(), note: note.hidden ? '' : note.textContent,
	    cut: items.filter((li) => { const r = li.getBoundingClientRect(); return r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5; }).map((li) => li.dataset.code),
	    room: box.bottom - (items.length ? last.bottom : box.top), rowH: items.length ? last.height : 0, ranks: z.ranks, hot: z.hot,
	    fit: z.listFit, height: document.getElementById('hs-list').clientHeight,
	    panel: document.querySelector('.hs-panel-list').clientHeight };
	})()`))
		if err != nil {
			t.Fatal(err)
		}
		return ls
	}
	// Every row shown is whole and the list leaves no room for another row while hot grids are
	// left out, also after the layout lost 80 px at its foot (as it does when the alert ticker
	// appears, kit-alerts.js: --za-h) with no new data to draw, and after it got them back.
	fitted := func(when string, rows listState) {
		t.Helper()
		if len(rows.Cut) > 0 {
			t.Errorf("%s: hot list rows %v are cut by the list's box (note %q; list %.0f px high, at the last render %+v)", when, rows.Cut, rows.Note, rows.Height, rows.Fit)
		}
		if len(rows.Rows) < rows.Hot && rows.RowH > 0 && rows.Room >= rows.RowH {
			t.Errorf("%s: hot list shows %d of %d hot grids and leaves %.0f px under its last row, room for another (%.0f px)", when, len(rows.Rows), rows.Hot, rows.Room, rows.RowH)
		}
	}
	foot := func(px int) {
		t.Helper()
		js := fmt.Sprintf(`document.querySelector('.hs-layout').style.setProperty('--za-h', '%dpx'); true`, px)
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js)); err != nil {
			t.Fatal(err)
		}
	}
	// The foot set on the layout itself, 0 first: the alert ticker may show at any moment (the
	// test's reports raise hot-spot alerts) and take its own height off through the stage.
	foot(0)
	rows := readList()
	fitted("the layout whole", rows)
	foot(80)
	shrunk := readList()
	fitted("80 px taken at the foot", shrunk)
	if rows.Panel-shrunk.Panel != 80 {
		t.Errorf("the hot list's panel went from %.0f to %.0f px when the layout lost 80", rows.Panel, shrunk.Panel)
	}
	foot(0)
	rows = readList()
	fitted("the 80 px given back", rows)
	// The map's rank badges are the list's first rows: a badge the list does not show would send
	// a reader looking for a row that is not there.
	if want := min(5, len(rows.Rows)); len(rows.Ranks) != want {
		t.Errorf("map shows rank badges %v; want the list's first %d rows", rows.Ranks, want)
	} else {
		for i, c := range rows.Ranks {
			if c != rows.Rows[i].Code {
				t.Errorf("map's rank %d is %s, the list's row %d %s", i+1, c, i+1, rows.Rows[i].Code)
			}
		}
	}
	var sx, sxx float64
	for _, n := range rows.Counts {
		sx, sxx = sx+float64(n), sxx+float64(n*n)
	}
	mean := sx / float64(max(len(rows.Counts), 1))
	sd := math.Sqrt(max(0, sxx/float64(max(len(rows.Counts), 1))-mean*mean))
	flagged := 0
	for _, r := range rows.Rows {
		var around, k int64
		for _, c := range nb[r.Code] {
			if n, ok := rows.Counts[c]; ok {
				around, k = around+n, k+1
			}
		}
		own := (float64(r.Count) - mean) / sd
		want := k > 0 && int64(r.Count)*k < around && own < 1.645
		if r.Neighbour != want || r.Tagged != want {
			t.Errorf("row %s with %d cases (standard score %.2f; its %d neighbours %d): neighbour %v, tagged %v; want %v",
				r.Code, r.Count, own, k, around, r.Neighbour, r.Tagged, want)
		}
		if r.Code == centre && r.Neighbour {
			t.Errorf("the grid with 25 reports is marked as hot through its neighbours")
		}
		if want {
			flagged++
		}
	}
	if (flagged > 0) != strings.Contains(rows.Note, "热度来自相邻") {
		t.Errorf("%d rows hot through neighbours, note %q", flagged, rows.Note)
	}
	t.Logf("hot list: %d rows, %d hot through neighbours (cells' mean %.2f, SD %.2f); note %q", len(rows.Rows), flagged, mean, sd, rows.Note)

	// 4. The window switch re-subscribes (unsub the old topic, sub the new one) and back.
	if !st.Switch {
		t.Error("the window switch is not visible outside kiosk mode")
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(document.querySelector('#hs-windows button[data-window="24h"]').click(), true)`)); err != nil {
		t.Fatalf("click 24h: %v", err)
	}
	if err := waitFor(ctx, `window.__zhili.window === "24h" && window.__zhili.seq["hotspots:root:24h"] !== undefined && window.__zhili.hot >= 1`, 20*time.Second); err != nil {
		t.Fatalf("24h window: %v\nwindow.__zhili = %s", err, dump())
	}

	hotspotLevels(t, ctx, srv, tree, centre, hexCells, n, dump)
	hotspotPlayback(t, ctx, srv, pageURL, dump, now.Add(-30*time.Second))

	// 5. 3840×2160 kiosk: sharp map, no controls.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(3840, 2160), chromedp.Navigate(pageURL+"&kiosk=1")); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, `document.body.dataset.ready === "1" && window.__zhili.hot >= 1 && window.__zhili.layout.renderedDpr >= 2`, 30*time.Second); err != nil {
		t.Fatalf("kiosk page at 3840×2160 not ready: %v\nwindow.__zhili = %s", err, dump())
	}
	st = readState()
	if st.Switch {
		t.Error("kiosk mode shows the window switch")
	}
	if vis := visibleControls(t, ctx); len(vis) > 0 {
		t.Errorf("kiosk mode shows controls: %v", vis)
	}
	if float64(st.Painted) < 0.05*float64(st.Total) {
		t.Errorf("map canvas at 3840×2160 nearly empty: %d of %d", st.Painted, st.Total)
	}
	screenshot(t, ctx, "hotspots-3840x2160.png")

	// 6. English.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1920, 1080), chromedp.Navigate(pageURL+"&lang=en")); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, `document.body.dataset.ready === "1" && window.__zhili.hot >= 1`, 30*time.Second); err != nil {
		t.Fatalf("English page not ready: %v", err)
	}
	if st := readState(); !strings.Contains(st.Title, "Hotspot Tracking") {
		t.Errorf("English title = %q", st.Title)
	}
	screenshot(t, ctx, "hotspots-1920x1080-en.png")
	guard.verify(t) // before the server stops: reconnect attempts are not page requests of interest

	// 7. The feed is lost: stop the server; the red banner must show.
	_ = srv.cmd.Process.Kill()
	if err := waitFor(ctx, `!document.getElementById('stale-banner').hidden && window.__zhili.stale === true`, 10*time.Second); err != nil {
		t.Fatalf("stale banner not shown within 10 s of the server stopping: %v", err)
	}
	guard.verify(t)
}

// fsStatHotspots reports whether the embedded front-end has the hotspot page.
func fsStatHotspots() (bool, error) {
	f, err := assets.Files().Open("hotspots.html")
	if err != nil {
		return false, err
	}
	return true, f.Close()
}

// tree is the demo region tree as GET /api/v1/regions gives it.
type tree map[string]regionFeature

func regionTree(t *testing.T, srv *server) tree {
	t.Helper()
	resp, err := httpc.Get(srv.base + "/api/v1/regions?root=root&depth=-1&token=" + url.QueryEscape(viewToken))
	if err != nil {
		t.Fatalf("GET /api/v1/regions: %v", err)
	}
	defer resp.Body.Close()
	var fc struct {
		Features []regionFeature `json:"features"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&fc); err != nil {
		t.Fatalf("decode regions: %v", err)
	}
	out := tree{}
	for _, f := range fc.Features {
		out[f.Properties.Code] = f
	}
	return out
}

// polygons returns a region's outline.
func (tr tree) polygons(t *testing.T, code string) orb.MultiPolygon {
	t.Helper()
	f := tr[code]
	var mp orb.MultiPolygon
	switch f.Geometry.Type {
	case "Polygon":
		var p orb.Polygon
		if err := json.Unmarshal(f.Geometry.Coordinates, &p); err != nil {
			t.Fatal(err)
		}
		mp = orb.MultiPolygon{p}
	case "MultiPolygon":
		if err := json.Unmarshal(f.Geometry.Coordinates, &mp); err != nil {
			t.Fatal(err)
		}
	}
	return mp
}

// interior returns a point inside a region: the mean of its outer vertices when that is
// inside, else the first point inside on the way from it to a vertex.
func (tr tree) interior(t *testing.T, code string) orb.Point {
	t.Helper()
	mp := tr.polygons(t, code)
	if len(mp) == 0 || len(mp[0]) == 0 {
		t.Fatalf("region %s has no outline", code)
	}
	ring := mp[0][0]
	var c orb.Point
	for _, p := range ring {
		c[0] += p[0] / float64(len(ring))
		c[1] += p[1] / float64(len(ring))
	}
	for _, f := range []float64{0, 0.2, 0.4, 0.6, 0.8, 0.95} {
		for _, v := range ring {
			q := orb.Point{c[0] + (v[0]-c[0])*f, c[1] + (v[1]-c[1])*f}
			if polygonContains(mp, q) {
				return q
			}
			if f == 0 {
				break
			}
		}
	}
	t.Fatalf("no interior point found for region %s", code)
	return c
}

func polygonContains(mp orb.MultiPolygon, q orb.Point) bool {
	in := false
	for _, poly := range mp {
		for _, ring := range poly {
			for i, j := 0, len(ring)-1; i < len(ring); j, i = i, i+1 {
				a, b := ring[i], ring[j]
				if (a[1] > q[1]) != (b[1] > q[1]) && q[0] < (b[0]-a[0])*(q[1]-a[1])/(b[1]-a[1])+a[0] {
					in = !in
				}
			}
		}
	}
	return in
}

// ancestor returns code's ancestor at level (code itself when it is at that level).
func (tr tree) ancestor(code string, level int) string {
	for c := code; c != ""; c = tr[c].Properties.Parent {
		if tr[c].Properties.Level == level {
			return c
		}
	}
	return ""
}

// leaves counts the regions without children under code.
func (tr tree) leaves(code string) int {
	parents := map[string]bool{}
	for _, f := range tr {
		parents[f.Properties.Parent] = true
	}
	n := 0
	for c, f := range tr {
		if parents[c] {
			continue
		}
		for p := f.Properties.Parent; p != ""; p = tr[p].Properties.Parent {
			if p == code {
				n++
				break
			}
		}
	}
	return n
}

// visibleControls lists the new controls of the hotspot page that are visible.
func visibleControls(t *testing.T, ctx context.Context) []string {
	t.Helper()
	vis, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`['hs-tools', 'hs-levels', 'hs-modes', 'hs-category', 'hs-from', 'hs-apply',
	  'hs-play-start', 'hs-play', 'hs-speeds', 'hs-scrub', 'hs-up', 'hs-windows', 'lang-switch']
	  .filter((id) => { const e = document.getElementById(id); return e && e.offsetParent !== null; })`))
	if err != nil {
		t.Fatalf("read controls: %v", err)
	}
	return vis
}

// restHotspots calls GET /api/v1/hotspots as the test's own check of the page.
type restCell struct {
	Code    string `json:"code"`
	Count   int    `json:"count"`
	Bin     int    `json:"bin"`
	Pattern string `json:"pattern"`
}

func restHotspots(t *testing.T, srv *server, q url.Values) []restCell {
	t.Helper()
	q.Set("token", viewToken)
	resp, err := httpc.Get(srv.base + "/api/v1/hotspots?" + q.Encode())
	if err != nil {
		t.Fatalf("GET /api/v1/hotspots: %v", err)
	}
	defer resp.Body.Close()
	var rep struct {
		Cells []restCell `json:"cells"`
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v1/hotspots?%s: %s", q.Encode(), resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		t.Fatalf("decode hotspots: %v", err)
	}
	return rep.Cells
}

func evalJS[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// canvasColour counts the map pixels within 12 of an RGB colour.
func canvasColour(t *testing.T, ctx context.Context, rgb [3]int) int {
	t.Helper()
	return evalJS[int](t, ctx, fmt.Sprintf(`(() => {
	  const c = document.getElementById('hs-map');
	  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
	  let n = 0;
	  for (let i = 0; i < d.length; i += 4) {
	    if (d[i + 3] > 200 && Math.abs(d[i] - %d) < 12 && Math.abs(d[i + 1] - %d) < 12 && Math.abs(d[i + 2] - %d) < 12) n++;
	  }
	  return n;
	})()`, rgb[0], rgb[1], rgb[2]))
}

// hotspotLevels checks the hex level, the emerging mode, the category filter (against the
// test's own REST call) and the drill-down by a click on the map. The page shows the 24h window.
func hotspotLevels(t *testing.T, ctx context.Context, srv *server, tr tree, centre string, hexCells map[string]bool, envCases int, dump func() string) {
	click := func(sel string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(document.querySelector(`+jsString(sel)+`).click(), true)`)); err != nil {
			t.Fatalf("click %s: %v", sel, err)
		}
	}

	// Hex level: every cell of the topic is drawn from the outlines of /api/v1/hexes.
	click(`#hs-levels button[data-level="hex"]`)
	if err := waitFor(ctx, `window.__zhili.levelShown === "hex" && window.__zhili.hexListed >= `+fmt.Sprint(len(hexCells))+
		` && window.__zhili.hexDrawn === window.__zhili.hexListed && window.__zhili.settled()`, 20*time.Second); err != nil {
		t.Fatalf("hex level not drawn: %v\nwindow.__zhili = %s", err, dump())
	}
	listed := evalJS[[]string](t, ctx, `window.__zhili.cellIds()`)
	for c := range hexCells {
		if !slices.Contains(listed, c) {
			t.Errorf("hex cell %s (has reports) is not in the page's hex level %v", c, listed)
		}
	}
	hotPx := canvasColour(t, ctx, [3]int{0xe3, 0x26, 0x2f})
	hexHot := evalJS[int](t, ctx, `window.__zhili.hot`)
	t.Logf("hex level: %d cells listed, all drawn, %d hot, %d px in the 99 %% hot colour", len(listed), hexHot, hotPx)
	if hexHot < 1 || hotPx == 0 {
		t.Errorf("hex level: %d hot cells, %d hot pixels; want the cluster hot and drawn", hexHot, hotPx)
	}
	if title := evalJS[string](t, ctx, `document.getElementById('hs-map-title').textContent`); !strings.Contains(title, "六边形") {
		t.Errorf("hex map title = %q", title)
	}
	screenshot(t, ctx, "hotspots-1920x1080-hex.png")

	// Emerging mode: the legend shows the classes, in Chinese.
	click(`#hs-levels button[data-level="grid"]`)
	click(`#hs-modes button[data-mode="emerging"]`)
	if err := waitFor(ctx, `window.__zhili.mode === "emerging" && window.__zhili.levelShown === "grid" && window.__zhili.legend.length === 18`, 30*time.Second); err != nil {
		t.Fatalf("emerging mode: %v\nwindow.__zhili = %s", err, dump())
	}
	legend := evalJS[[]string](t, ctx, `Array.from(document.querySelectorAll('#hs-legend .hs-legend-item')).map((e) => e.textContent)`)
	for _, want := range []string{"新增热点", "连续热点", "加强热点", "持续热点", "减弱热点", "零星热点", "振荡热点", "历史热点", "新增冷点", "历史冷点", "无明显模式"} {
		if !slices.ContainsFunc(legend, func(s string) bool { return strings.HasPrefix(s, want) }) {
			t.Errorf("emerging legend lacks %s: %v", want, legend)
		}
	}
	screenshot(t, ctx, "hotspots-1920x1080-emerging.png")
	click(`#hs-modes button[data-mode="gi"]`)

	// Category filter: the live topic with the cat= option (seeded from the history store),
	// labelled; its counts are the server's for the same period and category.
	q := url.Values{"region": {"root"}, "level": {"grid"}, "category": {"environment"},
		"from": {time.Now().Add(-2 * time.Hour).Format(time.RFC3339)}, "to": {time.Now().Add(time.Minute).Format(time.RFC3339)}}
	deadline := time.Now().Add(20 * time.Second)
	for {
		total := 0
		for _, c := range restHotspots(t, srv, q) {
			total += c.Count
		}
		if total == envCases {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the history store has %d environment reports after 20 s, want %d", total, envCases)
		}
		time.Sleep(100 * time.Millisecond) // polling the store until it has the reports
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const s = document.getElementById('hs-category');
	  s.value = 'environment'; s.dispatchEvent(new Event('change')); return true; })()`)); err != nil {
		t.Fatal(err)
	}
	const catTopic = "hotspots:root:24h:cat=environment"
	if err := waitFor(ctx, `window.__zhili.view === "live" && window.__zhili.topic === "`+catTopic+`" && window.__zhili.seq["`+catTopic+`"] !== undefined &&
	  window.__zhili.range.seeded && window.__zhili.cases === `+fmt.Sprint(envCases)+` && window.__zhili.settled()`, 20*time.Second); err != nil {
		t.Fatalf("category filter: %v\nwindow.__zhili = %s", err, dump())
	}
	type catView struct {
		From, To string
		Cells    map[string]int
		Label    string
		Shown    int
		Summary  string
	}
	rv := evalJS[catView](t, ctx, `(() => { const z = window.__zhili; const l = document.getElementById('hs-view');
	  return {from: z.range.from, to: z.range.to, cells: z.counts(), label: l.offsetParent !== null ? l.textContent : '', shown: z.cases,
	    summary: document.getElementById('hs-summary').textContent}; })()`)
	t.Logf("filtered view: %q, %d cases from %s to %s", rv.Label, rv.Shown, rv.From, rv.To)
	if !strings.Contains(rv.Label, "筛选") || !strings.Contains(rv.Label, "环境卫生") || !strings.Contains(rv.Label, "实时") {
		t.Errorf("filtered view label = %q, want it to name the filter, 环境卫生 and that it is live", rv.Label)
	}
	server := restHotspots(t, srv, url.Values{"region": {"root"}, "level": {"grid"}, "category": {"environment"}, "from": {rv.From}, "to": {rv.To}})
	sum := 0
	for _, c := range server {
		sum += c.Count
		if rv.Cells[c.Code] != c.Count {
			t.Errorf("grid %s: the page shows %d environment cases, the server says %d", c.Code, rv.Cells[c.Code], c.Count)
		}
	}
	if len(server) != len(rv.Cells) || rv.Shown != sum || sum != envCases {
		t.Errorf("filtered totals: page %d (%d cells), server %d (%d cells), ingested %d", rv.Shown, len(rv.Cells), sum, len(server), envCases)
	}
	if !strings.Contains(rv.Summary, fmt.Sprint(sum)) {
		t.Errorf("summary %q does not show the %d filtered cases", rv.Summary, sum)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const s = document.getElementById('hs-category');
	  s.value = ''; s.dispatchEvent(new Event('change')); return true; })()`)); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, `window.__zhili.view === "live" && window.__zhili.topic === "hotspots:root:24h" && document.getElementById('hs-view').hidden`, 30*time.Second); err != nil {
		t.Fatalf("back to live: %v", err)
	}

	// Drill-down: a click at the centre of the county with the hot spot.
	county := tr.ancestor(centre, 1)
	pt := evalJS[map[string]float64](t, ctx, `window.__zhili.pointOf(`+jsString(county)+`)`)
	if _, err := chromedp.Run(ctx, chromedp.MouseClickXY(pt["x"], pt["y"])); err != nil {
		t.Fatalf("click at %v: %v", pt, err)
	}
	topic := "hotspots:" + county + ":24h"
	if err := waitFor(ctx, `window.__zhili.region === `+jsString(county)+` && window.__zhili.topic === `+jsString(topic)+
		` && window.__zhili.seq[`+jsString(topic)+`] !== undefined && location.search.includes('region=`+county+`') && window.__zhili.settled()`, 20*time.Second); err != nil {
		t.Fatalf("drill-down to %s: %v\nwindow.__zhili = %s", county, err, dump())
	}
	type drillState struct {
		Grids  int      `json:"grids"`
		Hot    []string `json:"hot"`
		Crumbs string   `json:"crumbs"`
		Up     bool     `json:"up"`
		Title  string   `json:"title"`
	}
	ds := evalJS[drillState](t, ctx, `({grids: window.__zhili.grids, hot: window.__zhili.hotGrids,
	  crumbs: document.getElementById('hs-crumbs').textContent, up: !!document.getElementById('hs-up'),
	  title: document.getElementById('title').textContent})`)
	t.Logf("drilled into %s (%s): %d grids, hot %v, breadcrumb %q", county, tr[county].Properties.Name, ds.Grids, ds.Hot, ds.Crumbs)
	if want := tr.leaves(county); ds.Grids != want {
		t.Errorf("drilled topic has %d grids, the county %d", ds.Grids, want)
	}
	if !slices.Contains(ds.Hot, centre) {
		t.Errorf("the hot grid %s is not hot in its county's topic: %v", centre, ds.Hot)
	}
	if name := tr[county].Properties.Name; !strings.Contains(ds.Crumbs, name) || !strings.Contains(ds.Title, name) || !ds.Up {
		t.Errorf("breadcrumb %q, title %q, up button %v; want %s and a way up", ds.Crumbs, ds.Title, ds.Up, name)
	}
	screenshot(t, ctx, "hotspots-1920x1080-drill.png")
	click(`#hs-up`)
	if err := waitFor(ctx, `window.__zhili.topic === "hotspots:root:24h" && window.__zhili.seq["hotspots:root:24h"] !== undefined && !location.search.includes('region=')`, 20*time.Second); err != nil {
		t.Fatalf("back up: %v\nwindow.__zhili = %s", err, dump())
	}
}

// hotspotPlayback starts a playback, by the hour, of the day of the test's reports (reported) from the URL: the page steps through
// the frames (the label changes), the timeline chart is drawn, a frame's cases are the server's.
func hotspotPlayback(t *testing.T, ctx context.Context, srv *server, pageURL string, dump func() string, reported time.Time) {
	loc, err := time.LoadLocation("Asia/Shanghai") // the server's --tz default
	if err != nil {
		t.Fatal(err)
	}
	// The frame checked is the hour of the test's latest report, not the hour the check runs in:
	// a run that crosses the hour would otherwise look at an hour without reports.
	now := reported.In(loc)
	day := now.Format("2006-01-02")
	next := now.AddDate(0, 0, 1).Format("2006-01-02")
	u := pageURL + "&playback=" + day + "," + next + "&step=1h&speed=8"
	if err := chromedp.Do(ctx, chromedp.Navigate(u)); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, `document.body.dataset.ready === "1" && window.__zhili.view === "playback" && window.__zhili.playback &&
	  window.__zhili.playback.frames === 24 && window.__zhili.playback.shown.length >= 4`, 30*time.Second); err != nil {
		t.Fatalf("playback did not step through frames: %v\nwindow.__zhili = %s", err, dump())
	}
	type pbState struct {
		Frames int      `json:"frames"`
		Index  int      `json:"index"`
		Label  string   `json:"label"`
		Shown  []string `json:"shown"`
		From   string   `json:"from"`
		To     string   `json:"to"`
		Cases  int      `json:"cases"`
		Big    string   `json:"big"`
		Chart  bool     `json:"chart"`
	}
	const readPB = `(() => { const p = window.__zhili.playback;
	  return Object.assign({}, p, {big: document.getElementById('hs-frame-big').textContent,
	    chart: !!document.querySelector('#hs-timeline canvas')}); })()`
	pb := evalJS[pbState](t, ctx, readPB)
	t.Logf("playback: %d frames, shown %v", pb.Frames, pb.Shown)
	distinct := map[string]bool{}
	for _, l := range pb.Shown {
		distinct[l] = true
	}
	if len(distinct) < 3 {
		t.Errorf("playback showed %d distinct frame labels, want at least 3: %v", len(distinct), pb.Shown)
	}
	if !pb.Chart {
		t.Error("playback: no timeline chart")
	}
	// Pause on the current hour (it has the test's reports) and check it against the server.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(document.getElementById('hs-play').click(), window.__zhili.seek(`+fmt.Sprint(now.Hour())+`), true)`)); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, `!window.__zhili.playback.playing && window.__zhili.playback.index === `+fmt.Sprint(now.Hour())+
		` && window.__zhili.playback.loaded === 24 && window.__zhili.settled()`, 20*time.Second); err != nil {
		t.Fatalf("playback pause/seek: %v\nwindow.__zhili = %s", err, dump())
	}
	pb = evalJS[pbState](t, ctx, readPB)
	want := fmt.Sprintf("%02d:00–%02d:00", now.Hour(), (now.Hour()+1)%24)
	if !strings.Contains(pb.Label, want) || !strings.Contains(pb.Big, want) {
		t.Errorf("frame label %q (shown %q), want the hour %s", pb.Label, pb.Big, want)
	}
	sum := 0
	for _, c := range restHotspots(t, srv, url.Values{"region": {"root"}, "level": {"grid"}, "from": {pb.From}, "to": {pb.To}}) {
		sum += c.Count
	}
	t.Logf("frame %d %q: %d cases (server %d)", pb.Index, pb.Label, pb.Cases, sum)
	if pb.Cases != sum || sum == 0 {
		t.Errorf("frame %q: the page counts %d cases, the server %d", pb.Label, pb.Cases, sum)
	}
	screenshot(t, ctx, "hotspots-1920x1080-playback.png")

	// Kiosk playback: frames and timeline shown, every control hidden.
	if err := chromedp.Do(ctx, chromedp.Navigate(u+"&kiosk=1")); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, `document.body.dataset.ready === "1" && window.__zhili.playback && window.__zhili.playback.shown.length >= 2`, 30*time.Second); err != nil {
		t.Fatalf("kiosk playback: %v\nwindow.__zhili = %s", err, dump())
	}
	if vis := visibleControls(t, ctx); len(vis) > 0 {
		t.Errorf("kiosk playback shows controls: %v", vis)
	}
	if !evalJS[bool](t, ctx, `document.getElementById('hs-timeline').offsetParent !== null && !document.getElementById('hs-frame-big').hidden`) {
		t.Error("kiosk playback hides the timeline or the frame label")
	}
	screenshot(t, ctx, "hotspots-1920x1080-playback-kiosk.png")
}
