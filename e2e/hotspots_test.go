package e2e

import (
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

	"zhili/assets"
)

// regionFeature is one feature of GET /api/v1/regions.
type regionFeature struct {
	Properties struct {
		Code  string `json:"code"`
		Name  string `json:"name"`
		Level int    `json:"level"`
	} `json:"properties"`
	Geometry struct {
		Type        string          `json:"type"`
		Coordinates json.RawMessage `json:"coordinates"`
	} `json:"geometry"`
}

// vertices returns the vertices of a Polygon or MultiPolygon, rounded to about 10 cm.
func (f regionFeature) vertices(t *testing.T) map[[2]int64]bool {
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
	out := map[[2]int64]bool{}
	for _, p := range polys {
		for _, ring := range p {
			for _, c := range ring {
				out[[2]int64{int64(math.Round(c[0] * 1e6)), int64(math.Round(c[1] * 1e6))}] = true
			}
		}
	}
	return out
}

// gridsWithNeighbours reads the region tree and returns the deepest regions' codes and, for
// each, the grids that share at least one vertex with it (queen contiguity, as the server's
// hotspot weights; T-junctions are not looked for, which the demo tiling does not have).
func gridsWithNeighbours(t *testing.T, srv *server) ([]string, map[string][]string) {
	t.Helper()
	resp, err := http.Get(srv.base + "/api/v1/regions?root=root&depth=-1&token=" + url.QueryEscape(viewToken))
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
	var codes []string
	for _, f := range fc.Features {
		if f.Properties.Level == deepest {
			codes = append(codes, f.Properties.Code)
			verts[f.Properties.Code] = f.vertices(t)
		}
	}
	sort.Strings(codes)
	nb := map[string][]string{}
	for _, a := range codes {
		for _, b := range codes {
			if a == b {
				continue
			}
			for v := range verts[a] {
				if verts[b][v] {
					nb[a] = append(nb[a], b)
					break
				}
			}
		}
	}
	return codes, nb
}

func TestHotspotScreen(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	chromium := findChromium(t)
	if !assets.Built() {
		skipOrFail(t, "front-end not built: run `npm ci && npm run build` in assets/")
	}
	if _, err := fsStatHotspots(); err != nil {
		skipOrFail(t, "front-end built without hotspots.html: run `npm run build` in assets/")
	}
	srv := startServer(t, buildBinary(t))
	base, _ := url.Parse(srv.base)
	guard := &hostGuard{host: base.Hostname()}

	// 1. The page before any report: ready; a quiet window has no variance, and says so.
	ctx := newBrowser(t, chromium, guard)
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
	quiet, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]any](`({hot: window.__zhili.hot, degenerate: window.__zhili.degenerate,
	  note: !document.getElementById('hs-degenerate').hidden})`))
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
