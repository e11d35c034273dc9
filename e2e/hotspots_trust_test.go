package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
)

// TestHotspotTrust drives the hotspot screen as a leader reads it from across the room: the
// emerging view says plainly when the data are too few (and paints no class), then shows the
// classes once a month of history is in; significant cells are marks of at least 12 px in the
// colour of their list row and of the legend; a hot list row names county › township › grid,
// whole, and a click zooms onto the place and explains it; a drill-down into a county places
// its labels without any overlap and colours every significant township; a kiosk screen
// explains the top hot spots in turn.
func TestHotspotTrust(t *testing.T) {
	t.Parallel()
	browserPrereqs(t)
	start := time.Now()
	lap := func(what string) { t.Logf("[%4.1f s] %s", time.Since(start).Seconds(), what) }
	srv := startServer(t)
	lap("server started")
	base, _ := url.Parse(srv.base)
	guard := &hostGuard{host: base.Hostname()}
	ctx := newBrowserFor(t, guard, 3*time.Minute)
	dump := func() string {
		st, _ := chromedp.Run(ctx, chromedp.Evaluate[[]byte](`JSON.stringify(Object.assign({}, window.__zhili || {}, {marks: undefined, hotGrids: undefined}))`))
		return string(st)
	}

	// The region tree, read in the browser (quicker there than decoding the GeoJSON here, and
	// from a bare page of the server: no screen drawing beside it): names and parents, the
	// county with the most grids, its grids' neighbours (shared vertices, as the server's queen
	// contiguity) and, as the cluster's centre, the grid with the most of them.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.base+"/healthz")); err != nil {
		t.Fatal(err)
	}
	type treeView struct {
		Names    map[string][]any    `json:"names"`
		Grids    []string            `json:"grids"`
		County   string              `json:"county"`
		InCounty []string            `json:"inCounty"`
		NB       map[string][]string `json:"nb"`
	}
	tv := evalJSAsync[treeView](t, ctx, `(async () => {
	  const r = await fetch('/api/v1/regions?root=root&depth=-1&token=`+url.QueryEscape(viewToken)+`');
	  const fc = await r.json();
	  const names = {}, parents = new Set(), geom = {};
	  for (const f of fc.features) {
	    const p = f.properties;
	    names[p.code] = [p.name, p.parent || '', p.level];
	    parents.add(p.parent || '');
	    geom[p.code] = f.geometry;
	  }
	  const top = Math.min(...Object.values(names).map((v) => v[2]));
	  for (const c in names) names[c][2] -= top;
	  const countyOf = (c) => { while (names[c] && names[c][2] > 1) c = names[c][1]; return c; };
	  const grids = Object.keys(names).filter((c) => !parents.has(c)).sort();
	  const per = {};
	  for (const c of grids) per[countyOf(c)] = (per[countyOf(c)] || 0) + 1;
	  const county = Object.keys(per).sort((a, b) => per[b] - per[a] || (a < b ? -1 : 1))[0];
	  const inCounty = grids.filter((c) => countyOf(c) === county);
	  const at = new Map();
	  for (const c of inCounty) {
	    const g = geom[c];
	    const polys = g.type === 'Polygon' ? [g.coordinates] : g.coordinates;
	    for (const poly of polys) for (const ring of poly) for (const v of ring) {
	      const k = Math.round(v[0] * 1e6) + ',' + Math.round(v[1] * 1e6);
	      if (!at.has(k)) at.set(k, new Set());
	      at.get(k).add(c);
	    }
	  }
	  const nb = {};
	  for (const c of inCounty) nb[c] = new Set();
	  for (const s of at.values()) for (const a of s) for (const b of s) if (a !== b) nb[a].add(b);
	  for (const c of inCounty) nb[c] = Array.from(nb[c]).sort();
	  return {names, grids, county, inCounty, nb};
	})()`)
	tr := tree{}
	for c, v := range tv.Names {
		var f regionFeature
		f.Properties.Code = c
		f.Properties.Name, _ = v[0].(string)
		f.Properties.Parent, _ = v[1].(string)
		lv, _ := v[2].(float64)
		f.Properties.Level = int(lv)
		tr[c] = f
	}
	codes, county, inCounty, nb := tv.Grids, tv.County, tv.InCounty, tv.NB
	centre := ""
	for _, c := range inCounty {
		if centre == "" || len(nb[c]) > len(nb[centre]) {
			centre = c
		}
	}
	lap("region tree")
	t.Logf("cluster at %s (%s, %d neighbours) in %s (%s, %d grids)", centre, tr[centre].Properties.Name, len(nb[centre]),
		county, tr[county].Properties.Name, len(inCounty))

	rng := rand.New(rand.NewPCG(7, 11))
	now := time.Now()
	stamp := now.UnixNano()
	var batch strings.Builder
	n := 0
	add := func(grid string, at time.Time) {
		id := fmt.Sprintf("E2E-T%d-%d", stamp, n)
		fmt.Fprintf(&batch, `{"id":"%s","type":"case.reported","case_id":"%s","at":"%s","source":"grid","category":"environment","priority":"normal","region":"%s"}`+"\n",
			id, id, at.Format(time.RFC3339), grid)
		n++
	}

	// 1. Too little data: 45 reports of the last three hours in one county. The county's 7-day
	// emerging view has cases in two or three of its 2-hour steps: it must say so and paint no
	// class.
	for i := range 45 {
		g := inCounty[rng.IntN(len(inCounty))]
		if i < 20 {
			g = centre
		}
		add(g, now.Add(-time.Duration(5+rng.IntN(170))*time.Minute))
	}
	srv.ingest(t, batch.String(), n)
	waitStored(t, srv, county, n)
	pageURL := srv.base + "/screen/hotspots?token=" + url.QueryEscape(viewToken)
	if err := chromedp.Do(ctx, chromedp.Navigate(pageURL+"&region="+county+"&window=7d&mode=emerging")); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, `document.body.dataset.ready === "1" && window.__zhili.cases === 45 && window.__zhili.sufficiency && window.__zhili.settled()`, 30*time.Second); err != nil {
		t.Fatalf("emerging view of %s not ready: %v\nwindow.__zhili = %s", county, err, dump())
	}
	type suffView struct {
		Suff    map[string]any `json:"suff"`
		Banner  string         `json:"banner"`
		Shown   bool           `json:"shown"`
		Drawn   map[string]int `json:"drawn"`
		Legend  []string       `json:"legend"`
		Grids   int            `json:"grids"`
		Classes int            `json:"classes"`
	}
	const readSuff = `(() => { const z = window.__zhili; const b = document.getElementById('hs-suff');
	  const trend = Object.keys(z.patternsDrawn).filter((p) => p !== 'no_pattern' && p !== 'insufficient_data');
	  return {suff: z.sufficiency, banner: b.textContent, shown: !b.hidden && b.offsetParent !== null, drawn: z.patternsDrawn,
	    legend: Array.from(document.querySelectorAll('#hs-legend .hs-legend-item')).map((e) => e.textContent), grids: z.grids,
	    classes: trend.reduce((s, p) => s + z.patternsDrawn[p], 0)}; })()`
	sv := evalJS[suffView](t, ctx, readSuff)
	t.Logf("too little data: %v; banner %q; drawn %v", sv.Suff, sv.Banner, sv.Drawn)
	if sv.Suff["ok"] != false || !sv.Shown {
		t.Errorf("7-day emerging view on 45 reports of 3 hours: sufficiency %v, banner shown %v; want not ok and the banner", sv.Suff, sv.Shown)
	}
	for _, want := range []string{"数据不足", "7天窗口", "时间步", "Not enough data", "7-day window"} {
		if !strings.Contains(sv.Banner, want) {
			t.Errorf("sufficiency banner %q lacks %q", sv.Banner, want)
		}
	}
	if zh, en := strings.Index(sv.Banner, "数据不足"), strings.Index(sv.Banner, "Not enough data"); zh > en {
		t.Errorf("banner %q: Chinese must come first", sv.Banner)
	}
	if sv.Classes != 0 || sv.Drawn["insufficient_data"] != sv.Grids {
		t.Errorf("with too little data the map paints %d cells with an emerging class; want none, all %d as not enough data: %v", sv.Classes, sv.Grids, sv.Drawn)
	}
	if !slices.ContainsFunc(sv.Legend, func(s string) bool { return strings.HasPrefix(s, "数据不足"+fmt.Sprint(sv.Grids)) }) {
		t.Errorf("legend %v lacks the 数据不足 entry counting the %d grids", sv.Legend, sv.Grids)
	}
	screenshot(t, ctx, "hotspots-trust-emerging-insufficient.png")
	lap("emerging")

	// 2. A month of history, back-dated (the ingest contract takes past times): about 90
	// reports a day over the city, and a cluster around the centre grid growing over the last
	// week.
	batch.Reset()
	before := n
	for d := 1; d < 30; d++ {
		for range 90 {
			add(codes[rng.IntN(len(codes))], now.Add(-time.Duration(d)*24*time.Hour-time.Duration(rng.IntN(86400))*time.Second))
		}
	}
	// The cluster's township and those around it in the county: busier all week.
	town := tr.ancestor(centre, 2)
	busy := map[string]bool{town: true}
	for _, c := range codes {
		if tr.ancestor(c, 2) != town {
			continue
		}
		for _, o := range nb[c] {
			if tr.ancestor(o, 1) == county {
				busy[tr.ancestor(o, 2)] = true
			}
		}
	}
	var busyGrids []string
	for _, c := range inCounty {
		if busy[tr.ancestor(c, 2)] {
			busyGrids = append(busyGrids, c)
		}
	}
	for d := range 7 {
		for range 4 * len(busy) {
			add(busyGrids[rng.IntN(len(busyGrids))], now.Add(-time.Duration(d)*24*time.Hour-time.Duration(rng.IntN(86400))*time.Second))
		}
		for k := 0; k < 2*(7-d); k++ {
			at := now.Add(-time.Duration(d)*24*time.Hour - time.Duration(3*3600+rng.IntN(20*3600))*time.Second)
			add(centre, at)
			if k%2 == 0 {
				add(nb[centre][rng.IntN(len(nb[centre]))], at)
			}
		}
	}
	t0 := time.Now()
	srv.ingest(t, batch.String(), n-before)
	waitStored(t, srv, "root", n)
	t.Logf("ingested %d back-dated reports in %v (stored)", n-before, time.Since(t0).Round(time.Millisecond))

	// The city's 7-day emerging view (a topic opened now, classified with all of it).
	if err := chromedp.Do(ctx, chromedp.Navigate(pageURL+"&window=7d&mode=emerging")); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, `document.body.dataset.ready === "1" && window.__zhili.sufficiency && window.__zhili.sufficiency.ok === true && window.__zhili.settled()`, 30*time.Second); err != nil {
		t.Fatalf("7-day emerging view with a month of data not sufficient: %v\nwindow.__zhili = %s", err, dump())
	}
	sv = evalJS[suffView](t, ctx, readSuff)
	t.Logf("enough data: %v; drawn %v", sv.Suff, sv.Drawn)
	if sv.Shown || sv.Classes == 0 {
		t.Errorf("with a month of data: banner shown %v, %d cells in an emerging class (want the classes, no banner)", sv.Shown, sv.Classes)
	}
	screenshot(t, ctx, "hotspots-trust-emerging-enough.png")
	lap("emerging")

	// 3. Confidence bins: marks of at least 12 px, in the colours of the list and the legend.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(document.querySelector('#hs-modes button[data-mode="gi"]').click(), true)`)); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, `window.__zhili.mode === "gi" && window.__zhili.hot >= 1 && window.__zhili.marks.length >= 1 && window.__zhili.settled()`, 20*time.Second); err != nil {
		t.Fatalf("Gi* view: %v\nwindow.__zhili = %s", err, dump())
	}
	type markView struct {
		Min      float64  `json:"min"`
		Marks    int      `json:"marks"`
		Hot      []string `json:"hot"`
		Pixel    []int    `json:"pixel"`
		Mark     string   `json:"mark"`
		Row      string   `json:"row"`
		Legend   []string `json:"legend"`
		TopColor string   `json:"topColor"`
	}
	mv := evalJS[markView](t, ctx, `(() => { const z = window.__zhili; const top = z.hotGrids[0];
	  const m = z.marks.find((x) => x.code === top);
	  const c = document.getElementById('hs-map'); const k = c.width / c.clientWidth;
	  // The mark's colour: the commonest of the pixels around its centre (a boundary or a leader
	  // line may cross the centre itself).
	  let px = [];
	  if (m) {
	    const r = Math.max(2, Math.round(Math.min(m.w, m.h) * k / 4));
	    const d = c.getContext('2d').getImageData(Math.round(m.x * k) - r, Math.round(m.y * k) - r, 2 * r + 1, 2 * r + 1).data;
	    const seen = new Map();
	    for (let i = 0; i < d.length; i += 4) { const key = d[i] + ',' + d[i + 1] + ',' + d[i + 2]; seen.set(key, (seen.get(key) || 0) + 1); }
	    px = [...seen].sort((a, b) => b[1] - a[1])[0][0].split(',').map(Number);
	  }
	  const rgb = (s) => getComputedStyle(s).backgroundColor;
	  const row = document.querySelector('#hs-list li .cf i');
	  return {min: z.minMark, marks: z.marks.length, hot: z.hotGrids.slice(0, 5), pixel: px, mark: m ? m.color : '',
	    row: row ? rgb(row) : '', topColor: m ? m.color : '',
	    legend: Array.from(document.querySelectorAll('#hs-legend .hs-legend-item i')).map(rgb)}; })()`)
	t.Logf("marks: %d, smallest %.1f px; top %s drawn %s, pixel %v, its row %s", mv.Marks, mv.Min, mv.Hot[0], mv.Mark, mv.Pixel, mv.Row)
	if mv.Min < 12 {
		t.Errorf("the smallest significant mark is %.1f px on the 1920×1080 stage; want at least 12", mv.Min)
	}
	if want := hexRGB(mv.TopColor); len(mv.Pixel) < 3 || !near(mv.Pixel, want) || mv.Row != cssRGB(want) || !slices.Contains(mv.Legend, cssRGB(want)) {
		t.Errorf("the top hot spot's colour %s: map pixel %v, its list row %s, legend %v; want the same colour in all three", mv.TopColor, mv.Pixel, mv.Row, mv.Legend)
	}

	// 4. The hot list: rows whole, with their parents; a click zooms onto the place and explains it.
	type rowView struct {
		Code    string `json:"code"`
		Name    string `json:"name"`
		Chain   string `json:"chain"`
		Clipped bool   `json:"clipped"`
	}
	rows := evalJS[[]rowView](t, ctx, `Array.from(document.querySelectorAll('#hs-list li')).map((li) => {
	  const b = li.querySelector('.nm b'), s = li.querySelector('.nm small');
	  const clipped = (e) => !!e && (e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > 2.6 * parseFloat(getComputedStyle(e).fontSize));
	  return {code: li.dataset.code, name: b ? b.textContent : '', chain: s ? s.textContent : '', clipped: clipped(b) || clipped(s)}; })`)
	if len(rows) == 0 {
		t.Fatalf("no hot list rows\nwindow.__zhili = %s", dump())
	}
	for _, r := range rows {
		if r.Clipped {
			t.Errorf("hot list row %s %q · %q is cut off", r.Code, r.Name, r.Chain)
		}
		if f, ok := tr[r.Code]; ok && f.Properties.Level == 3 {
			want := tr[tr.ancestor(r.Code, 1)].Properties.Name + " › " + tr[tr.ancestor(r.Code, 2)].Properties.Name
			if r.Chain != want {
				t.Errorf("hot list row %s %q: parents %q, want %q", r.Code, r.Name, r.Chain, want)
			}
		}
	}
	t.Logf("hot list: %v", rows)
	top := rows[0].Code
	pt := evalJS[map[string]float64](t, ctx, `(() => { const r = document.querySelector('#hs-list li').getBoundingClientRect();
	  return {x: r.left + r.width / 2, y: r.top + r.height / 2}; })()`)
	if _, err := chromedp.Run(ctx, chromedp.MouseClickXY(pt["x"], pt["y"])); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, `window.__zhili.zoom && window.__zhili.zoom.code === `+jsString(top)+` && window.__zhili.callout === `+jsString(top)+
		` && !document.getElementById('hs-callout').hidden && window.__zhili.settled()`, 10*time.Second); err != nil {
		t.Fatalf("click on the first hot list row: %v\nwindow.__zhili = %s", err, dump())
	}
	type whyView struct {
		Why  map[string]any `json:"why"`
		Text string         `json:"text"`
		Mark map[string]any `json:"mark"`
	}
	wv := evalJS[whyView](t, ctx, `({why: window.__zhili.why, text: document.getElementById('hs-callout').textContent,
	  mark: window.__zhili.marks.find((m) => m.code === window.__zhili.zoom.code) || null})`)
	t.Logf("explanation of %s: %v\n  %q", top, wv.Why, wv.Text)
	for _, k := range []string{"count", "local", "expected", "ratio", "z", "q"} {
		if v, ok := wv.Why[k].(float64); !ok || (k != "q" && v == 0) {
			t.Errorf("explanation of %s: %s = %v", top, k, wv.Why[k])
		}
	}
	for _, want := range []string{rows[0].Name, tr[tr.ancestor(top, 1)].Properties.Name, "邻域案件", "期望", "倍数", "校正后 p"} {
		if !strings.Contains(wv.Text, want) {
			t.Errorf("explanation card %q lacks %q", wv.Text, want)
		}
	}
	// The place at the other levels, when the reply gives it (the region holding it, the
	// significant hex cells inside it): said in the card and drawn.
	if _, ok := wv.Why["footprint"]; ok {
		drawn := evalJS[int](t, ctx, `window.__zhili.footprintDrawn`)
		if !strings.Contains(wv.Text, "其他层级") || drawn == 0 {
			t.Errorf("explanation of %s: footprint %v, card %q, %d shapes drawn", top, wv.Why["footprint"], wv.Text, drawn)
		}
	}
	if wv.Mark == nil || max(wv.Mark["w"].(float64), wv.Mark["h"].(float64)) < 40 {
		t.Errorf("zoomed onto %s, its mark is %v; want it drawn large", top, wv.Mark)
	}
	screenshot(t, ctx, "hotspots-trust-why.png")
	lap("why")
	// The same in English (the banner and card texts switch with the page).
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(document.getElementById('lang-switch').click(), true)`)); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, `document.getElementById('hs-callout').textContent.includes('Neighbourhood') && window.__zhili.settled()`, 30*time.Second); err != nil {
		t.Errorf("English explanation card: %v", err)
	}
	screenshot(t, ctx, "hotspots-trust-why-en.png")
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(document.getElementById('lang-switch').click(), true)`)); err != nil {
		t.Fatal(err)
	}

	// 5. Drill-down into the county (its row in the sub-region list): no two labels overlap,
	// every significant township is coloured on the map. The pointer leaves the list first (a
	// row under it would be explained).
	if err := chromedp.Do(ctx, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, 4, 1076)); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(window.__zhili.zoomOut(), document.querySelector('#hs-towns li[data-code="`+county+`"]').click(), true)`)); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, `window.__zhili.region === `+jsString(county)+` && window.__zhili.seq["hotspots:`+county+`:7d"] !== undefined && window.__zhili.settled()`, 20*time.Second); err != nil {
		t.Fatalf("drill-down into %s: %v\nwindow.__zhili = %s", county, err, dump())
	}
	type drillView struct {
		Boxes     [][]float64 `json:"boxes"`
		IDs       []string    `json:"ids"`
		DOM       [][]float64 `json:"dom"`
		Sig       []string    `json:"sig"`
		Marked    []string    `json:"marked"`
		Dropped   []string    `json:"dropped"`
		Towns     int         `json:"towns"`
		MinMark   float64     `json:"minMark"`
		MarkCount int         `json:"markCount"`
		RenderMs  float64     `json:"renderMs"`
	}
	dv := evalJS[drillView](t, ctx, `(() => { const z = window.__zhili;
	  const vis = Array.from(document.querySelectorAll('#hs-labels > *, #hs-callout')).filter((e) => !e.hidden && getComputedStyle(e).visibility !== 'hidden');
	  return {boxes: z.labelBoxes.map((b) => [b.x, b.y, b.w, b.h]), ids: z.labelBoxes.map((b) => b.id),
	    dom: vis.map((e) => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; }),
	    sig: z.childSignificant, marked: z.childMarked, dropped: z.labelsDropped, towns: document.querySelectorAll('#hs-labels .hs-town').length,
	    minMark: z.minMark, markCount: z.marks.length, renderMs: z.renderMs}; })()`)
	t.Logf("drill-down render: %.1f ms", dv.RenderMs)
	t.Logf("drill-down into %s: %d labels placed, %d left out %v; significant townships %v, coloured %v; %d marks, smallest %.1f px",
		county, len(dv.Boxes), len(dv.Dropped), dv.Dropped, dv.Sig, dv.Marked, dv.MarkCount, dv.MinMark)
	if len(dv.Boxes) < dv.Towns/2 {
		t.Errorf("drill-down: %d of %d township labels placed", len(dv.Boxes), dv.Towns)
	}
	if a, b, ok := overlapping(dv.Boxes); ok {
		t.Errorf("drill-down: label boxes %s %v and %s %v overlap", dv.IDs[a], dv.Boxes[a], dv.IDs[b], dv.Boxes[b])
	}
	if a, b, ok := overlapping(dv.DOM); ok {
		t.Errorf("drill-down: drawn labels %v and %v overlap on the page", dv.DOM[a], dv.DOM[b])
	}
	for _, c := range dv.Sig {
		if !slices.Contains(dv.Marked, c) {
			t.Errorf("drill-down: township %s is significant but not coloured on the map", c)
		}
	}
	if dv.MarkCount > 0 && dv.MinMark < 12 {
		t.Errorf("drill-down: smallest significant mark %.1f px", dv.MinMark)
	}
	screenshot(t, ctx, "hotspots-trust-drill.png")
	lap("drill-down")

	// 6. Kiosk: the top hot spots explained in turn, one card at a time, no control.
	if err := chromedp.Do(ctx, chromedp.Navigate(pageURL+"&window=7d&kiosk=1&callout=1")); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, `document.body.dataset.ready === "1" && new Set(window.__zhili.callouts).size >= 2 && window.__zhili.settled()`, 20*time.Second); err != nil {
		t.Fatalf("kiosk callouts: %v\nwindow.__zhili = %s", err, dump())
	}
	if vis := visibleControls(t, ctx); len(vis) > 0 {
		t.Errorf("kiosk mode shows controls: %v", vis)
	}
	kv := evalJS[map[string]any](t, ctx, `({cards: document.querySelectorAll('.hs-callout:not([hidden])').length,
	  buttons: Array.from(document.querySelectorAll('#hs-callout button')).filter((b) => b.offsetParent !== null).length,
	  callouts: window.__zhili.callouts})`)
	t.Logf("kiosk: %v", kv)
	if kv["cards"] != float64(1) || kv["buttons"] != float64(0) {
		t.Errorf("kiosk: %v cards shown, %v buttons in them; want one card, no button", kv["cards"], kv["buttons"])
	}
	screenshot(t, ctx, "hotspots-trust-kiosk.png")
	lap("kiosk")
	guard.verify(t)
}

// evalJSAsync evaluates an expression whose value is a promise.
func evalJSAsync[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitStored waits until the history store holds want reports under region (the live windows
// have them before the store does).
func waitStored(t *testing.T, srv *server, region string, want int) {
	t.Helper()
	q := url.Values{"region": {region}, "level": {"grid"},
		"from": {time.Now().Add(-31 * 24 * time.Hour).Format(time.RFC3339)}, "to": {time.Now().Add(time.Minute).Format(time.RFC3339)}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		total := 0
		for _, c := range restHotspots(t, srv, q) {
			total += c.Count
		}
		if total >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the history store has %d reports under %s after 30 s, want %d", total, region, want)
		}
		time.Sleep(100 * time.Millisecond) // polling the store until it has the reports
	}
}

// overlapping returns the first two boxes [x, y, w, h] that overlap by more than a pixel.
func overlapping(boxes [][]float64) (int, int, bool) {
	idx := make([]int, len(boxes))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return boxes[idx[a]][0] < boxes[idx[b]][0] })
	for a := 0; a < len(idx); a++ {
		p := boxes[idx[a]]
		for b := a + 1; b < len(idx); b++ {
			q := boxes[idx[b]]
			if q[0] >= p[0]+p[2]-1 {
				break
			}
			if q[1] < p[1]+p[3]-1 && p[1] < q[1]+q[3]-1 {
				return idx[a], idx[b], true
			}
		}
	}
	return 0, 0, false
}

// hexRGB parses #rrggbb.
func hexRGB(s string) [3]int {
	var c [3]int
	if len(s) == 7 {
		fmt.Sscanf(s, "#%02x%02x%02x", &c[0], &c[1], &c[2])
	}
	return c
}

func cssRGB(c [3]int) string { return fmt.Sprintf("rgb(%d, %d, %d)", c[0], c[1], c[2]) }

func near(px []int, c [3]int) bool {
	for i := range 3 {
		if px[i]-c[i] > 10 || c[i]-px[i] > 10 {
			return false
		}
	}
	return true
}
