package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The overview read from across the room: its texts, its map, its ranking and its feed at the
// sizes of the walls it runs on.

// textBox is one text node of the stage as the page lays it out: its font size (stage pixels),
// the box of its glyphs (viewport pixels), its panel and the boxes that clip it (ancestors that
// hide their overflow, up to and including its panel).
type textBox struct {
	Text  string  `json:"text"`
	Class string  `json:"cls"`
	Panel string  `json:"panel"`
	Px    float64 `json:"px"`
	X     float64 `json:"x"`
	Y     float64 `json:"y"`
	W     float64 `json:"w"`
	H     float64 `json:"h"`
	Clips []struct {
		Sel string  `json:"sel"`
		X   float64 `json:"x"`
		Y   float64 `json:"y"`
		W   float64 `json:"w"`
		H   float64 `json:"h"`
	} `json:"clips"`
}

// readTexts lists every shown text of the stage (controls aside: kiosk pages hide them).
const readTexts = `(() => {
  const out = [];
  const stage = document.getElementById('stage');
  const walker = document.createTreeWalker(stage, NodeFilter.SHOW_TEXT);
  const box = (r) => ({x: r.left, y: r.top, w: r.width, h: r.height});
  const name = (a) => a.id ? '#' + a.id : (typeof a.className === 'string' && a.className) || a.tagName;
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const text = n.nodeValue.trim();
    if (!text) continue;
    const el = n.parentElement;
    if (!el || el.closest('[hidden], .control')) continue;
    if (getComputedStyle(el).visibility === 'hidden' || el.getClientRects().length === 0) continue;
    const range = document.createRange();
    range.selectNodeContents(n);
    const r = range.getBoundingClientRect();
    if (!r.width || !r.height) continue;
    const panel = el.closest('[data-panel]');
    const clips = [];
    for (let a = el; a && a !== stage; a = a.parentElement) {
      const o = getComputedStyle(a);
      if (a === panel || o.overflowX !== 'visible' || o.overflowY !== 'visible') clips.push({sel: name(a), ...box(a.getBoundingClientRect())});
      if (a === panel) break;
    }
    out.push({text: text.slice(0, 40), cls: name(el), panel: panel ? panel.dataset.panel : '', px: parseFloat(getComputedStyle(el).fontSize), ...box(r), clips});
  }
  return out;
})()`

// chartFonts are the font sizes of the texts the charts draw on their canvases.
const chartFonts = `(() => {
  const o = (id) => echarts.getInstanceByDom(document.getElementById(id)).getOption();
  const tr = o('chart-trend');
  const cat = o('chart-categories');
  const anchors = o('map-markers').series.find((s) => s.id === 'anchors');
  return {'trend x axis': tr.xAxis[0].axisLabel.fontSize, 'trend y axis': tr.yAxis[0].axisLabel.fontSize,
    'category ring': cat.title[0].subtextStyle.fontSize, 'map marks': anchors.label.fontSize};
})()`

func readTextBoxes(t *testing.T, ctx context.Context) []textBox {
	t.Helper()
	list, err := chromedp.Run(ctx, chromedp.Evaluate[[]textBox](readTexts))
	if err != nil {
		t.Fatal(err)
	}
	if len(list) < 50 {
		t.Fatalf("only %d texts on the page", len(list))
	}
	return list
}

// checkFonts fails for every text under 20 stage pixels.
func checkFonts(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	small := 0
	for _, b := range readTextBoxes(t, ctx) {
		if b.Px < 20-0.01 {
			small++
			if small <= 25 {
				t.Errorf("%s: %q (%s, panel %q) at %.1f px: want at least 20 px on the stage", what, b.Text, b.Class, b.Panel, b.Px)
			}
		}
	}
	fonts, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]float64](chartFonts))
	if err != nil {
		t.Fatal(err)
	}
	for name, px := range fonts {
		if px < 20 {
			t.Errorf("%s: the %s labels at %.0f px: want at least 20 px", what, name, px)
		}
	}
}

// checkInside fails for every text whose glyphs leave a box that clips them (a hidden overflow,
// its panel) or the screen by more than a stage pixel.
func checkInside(t *testing.T, ctx context.Context, what string, w, h float64) {
	t.Helper()
	tol, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`window.__zhili.layout.scale`))
	if err != nil || tol <= 0 {
		t.Fatalf("stage scale %v: %v", tol, err)
	}
	bad := 0
	for _, b := range readTextBoxes(t, ctx) {
		if b.X < -tol || b.Y < -tol || b.X+b.W > w+tol || b.Y+b.H > h+tol {
			t.Errorf("%s: %q (%s) at x %.0f–%.0f, y %.0f–%.0f is off the %.0f×%.0f screen", what, b.Text, b.Class, b.X, b.X+b.W, b.Y, b.Y+b.H, w, h)
			continue
		}
		for _, c := range b.Clips {
			if b.X < c.X-tol || b.Y < c.Y-tol || b.X+b.W > c.X+c.W+tol || b.Y+b.H > c.Y+c.H+tol {
				bad++
				if bad <= 25 {
					t.Errorf("%s: %q (%s, panel %q) at x %.0f–%.0f, y %.0f–%.0f is cut by %s (x %.0f–%.0f, y %.0f–%.0f)", what, b.Text, b.Class, b.Panel,
						b.X, b.X+b.W, b.Y, b.Y+b.H, c.Sel, c.X, c.X+c.W, c.Y, c.Y+c.H)
				}
				break
			}
		}
	}
}

// checkCharts fails for every chart canvas that leaves its panel (the canvas clips what the
// chart draws, the panel's edge cuts the canvas).
func checkCharts(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	list, err := chromedp.Run(ctx, chromedp.Evaluate[[]panelBox](`(() => {
	  const out = [];
	  for (const c of document.querySelectorAll('[data-panel] canvas')) {
	    const p = c.closest('[data-panel]');
	    if (p.offsetParent === null) continue;
	    const a = c.getBoundingClientRect(), b = p.getBoundingClientRect();
	    out.push({name: p.dataset.panel + ' ' + c.parentElement.parentElement.id, x: a.left - b.left, y: a.top - b.top, w: b.right - a.right, h: b.bottom - a.bottom});
	  }
	  return out;
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	if len(list) < 4 {
		t.Fatalf("%s: %d chart canvases", what, len(list))
	}
	for _, c := range list {
		// x, y: the canvas's offset from its panel's top-left; w, h: from its bottom-right.
		if c.X < -1 || c.Y < -1 || c.W < -1 || c.H < -1 {
			t.Errorf("%s: the canvas of %s leaves its panel by %.0f, %.0f, %.0f, %.0f px (left, top, right, bottom)", what, c.Name, -c.X, -c.Y, -c.W, -c.H)
		}
	}
}

// busyDay sends reports of every category and source across the root's children, some urgent,
// some dispatched: enough for every panel to fill.
func busyDay(t *testing.T, srv *server, n int) {
	t.Helper()
	cats := []string{"dispute", "security", "safety", "environment", "cityorder", "livelihood", "petition"}
	srcs := []string{"hotline12345", "grid", "app", "sensor", "police110", "center"}
	prios := []string{"normal", "urgent", "normal", "critical", "normal"}
	var b strings.Builder
	lines := 0
	now := time.Now()
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("E2E-R%d-%d", now.UnixNano(), i)
		at := now.Add(-time.Duration(n-i) * 10 * time.Second)
		fmt.Fprintf(&b, `{"id":"%s-r","type":"case.reported","case_id":"%s","at":"%s","source":"%s","category":"%s","priority":"%s","location":{"lon":%.4f,"lat":%.4f}}`+"\n",
			id, id, at.Format(time.RFC3339), srcs[i%len(srcs)], cats[i%len(cats)], prios[i%len(prios)], 113.9+float64(i%9)*0.22, 31.7+float64(i%5)*0.17)
		lines++
		if i%3 == 0 {
			b.WriteString(dispatch(id, at.Add(5*time.Second)))
			lines++
		}
	}
	srv.ingest(t, b.String(), lines)
}

// Every text of the overview is at least 20 px on the 1920×1080 stage, and lies inside its
// panel and whatever clips it (the feed's last row, a wall's trend legend) on the 16:9 stage at
// 1920×1080 and 3840×2160 and on walls of 2×1 and 2×2 monitors.
func TestOverviewReadable(t *testing.T) {
	t.Parallel()
	srv, guard, ctx, page := wallServer(t)
	// First a day of three dispatched cases (the first minutes after midnight): the resolution
	// rate is 样本不足 with its count under it, and the response rate, whose three dispatches are
	// all within their window, says "3 件待签收" under its dash; both must be as readable as the
	// rest.
	now := time.Now()
	var few strings.Builder
	for i := range 3 {
		id := fmt.Sprintf("E2E-F%d-%d", now.UnixNano(), i)
		at := now.Add(-time.Duration(3-i) * 10 * time.Second)
		few.WriteString(report(id, "grid", 114.1, 32.1, at) + dispatch(id, at.Add(5*time.Second)))
	}
	srv.ingest(t, few.String(), 6)
	for _, q := range []string{"&kiosk=1", "&kiosk=1&lang=en"} {
		what := fmt.Sprintf("%s at 1920×1080, three cases", strings.TrimPrefix(q, "&"))
		open(t, ctx, page+q, 1920, 1080)
		if err := waitFor(ctx, `document.querySelectorAll('.rate.few .rate-n:not([hidden])').length >= 1 &&
		    !document.querySelector('#rate-response .rate-n').hidden && window.__zhili.rates.response.pending === 3 &&
		    window.__zhili.settled()`, 30*time.Second); err != nil {
			t.Fatalf("%s: the rates not marked 样本不足 and pending: %s: %v", what, jsJSON(ctx, `__zhili.rates`), err)
		}
		checkFonts(t, ctx, what)
		checkInside(t, ctx, what, 1920, 1080)
		if q == "&kiosk=1" {
			screenshot(t, ctx, "overview-readable-few-1920x1080.png")
		}
	}
	busyDay(t, srv, 120) // three-digit figures, as on a city's ordinary day
	for _, tc := range []struct {
		query string
		w, h  int64
		fonts bool
		shot  string
	}{
		{"&kiosk=1", 1920, 1080, true, "overview-readable-1920x1080.png"},
		{"&kiosk=1&lang=en", 1920, 1080, true, "overview-readable-1920x1080-en.png"},
		{"&kiosk=1&wall=2x1", 3840, 1080, true, "overview-readable-wall-2x1-3840x1080.png"},
		{"&kiosk=1&wall=2x1&lang=en", 3840, 1080, false, ""},
		{"&kiosk=1", 3840, 2160, false, ""},
		{"&kiosk=1&wall=2x2", 3840, 2160, true, ""},
	} {
		what := fmt.Sprintf("%s at %d×%d", strings.TrimPrefix(tc.query, "&"), tc.w, tc.h)
		open(t, ctx, page+tc.query, tc.w, tc.h)
		if err := waitFor(ctx, `window.__zhili.feed >= 30 && window.__zhili.trend.loads > 0 && window.__zhili.settled()`, 30*time.Second); err != nil {
			t.Fatalf("%s: the page did not show the day: %s: %v", what, jsJSON(ctx, `{feed: __zhili.feed, trend: __zhili.trend.loads}`), err)
		}
		if tc.fonts {
			checkFonts(t, ctx, what)
		}
		checkInside(t, ctx, what, float64(tc.w), float64(tc.h))
		checkCharts(t, ctx, what)
		// The feed shows whole rows only, and as many as fit (no row left out for nothing).
		rows, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(() => { const f = document.getElementById('feed').getBoundingClientRect();
		  const li = Array.from(document.querySelectorAll('#feed li')).map((e) => e.getBoundingClientRect());
		  return [li.length, f.bottom, li.length ? li[li.length - 1].bottom : 0, li.length ? li[0].height : 0]; })()`))
		if err != nil {
			t.Fatal(err)
		}
		if rows[2] > rows[1]+0.5 || rows[1]-rows[2] >= rows[3] {
			t.Errorf("%s: the feed's %0.f rows end at y %.0f, the panel's list at %.0f: want whole rows, as many as fit", what, rows[0], rows[2], rows[1])
		}
		if tc.shot != "" {
			screenshot(t, ctx, tc.shot)
		}
	}
	guard.verify(t)
}

// The ranking pages: whole rows only, rank 1 on the first page, every child reachable as the
// pages turn (?rankpage= seconds), the page shown as "k/N" in the title; a click on it turns
// the page.
func TestOverviewRankingPages(t *testing.T) {
	t.Parallel()
	srv, guard, ctx, page := wallServer(t)
	busyDay(t, srv, 12)
	open(t, ctx, page+"&kiosk=1&rankpage=3", 1920, 1080)
	_, children := childNames(t, srv, evalString(t, ctx, `window.__zhili.regionCode`))
	if len(children) < 8 {
		t.Fatalf("%d children: too few for pages", len(children))
	}
	type rankView struct {
		Indicator string   `json:"indicator"`
		Shown     bool     `json:"shown"`
		Ranks     []int    `json:"ranks"`
		Names     []string `json:"names"`
		Cut       []int    `json:"cut"` // ranks of rows not wholly inside the list's viewport
		Page      int      `json:"page"`
		Pages     int      `json:"pages"`
	}
	const readRank = `(() => {
	  const vp = document.querySelector('.rank-viewport').getBoundingClientRect();
	  const ind = document.getElementById('rank-page');
	  const rows = Array.from(document.querySelectorAll('#ranking li'));
	  const cut = [];
	  for (const li of rows) { const r = li.getBoundingClientRect(); if (r.top < vp.top - 0.5 || r.bottom > vp.bottom + 0.5) cut.push(Number(li.querySelector('.rank-no').textContent)); }
	  return {indicator: ind.textContent, shown: !ind.hidden && ind.offsetParent !== null && ind.getBoundingClientRect().width > 0,
	    ranks: rows.map((li) => Number(li.querySelector('.rank-no').textContent)), names: rows.map((li) => li.querySelector('.rank-name').textContent),
	    cut, page: window.__zhili.ranking.page, pages: window.__zhili.ranking.pages};
	})()`
	read := func() rankView {
		v, err := chromedp.Run(ctx, chromedp.Evaluate[rankView](readRank))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// Pages may have turned since the page was ready: from the first page on, read in the
	// same evaluation that sees it (a page turns every 3 s, also between two evaluations).
	var first rankView
	for until := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if first = read(); first.Page == 1 {
			break
		}
		if time.Now().After(until) {
			t.Fatalf("the ranking never shows its first page: %+v", first)
		}
	}
	if first.Pages < 2 || !first.Shown || first.Indicator != fmt.Sprintf("1/%d", first.Pages) || len(first.Ranks) == 0 || first.Ranks[0] != 1 {
		t.Fatalf("the ranking's first page: %+v: want rank 1 at the top and the indicator 1/N shown (%d children)", first, len(children))
	}
	seen := map[int]bool{}
	names := map[string]bool{}
	pagesSeen := map[int]bool{}
	deadline := time.Now().Add(time.Duration(first.Pages*3+8) * time.Second)
	for time.Now().Before(deadline) && (len(seen) < len(children) || len(pagesSeen) < first.Pages) {
		v := read()
		if len(v.Cut) > 0 {
			t.Fatalf("ranks %v of page %s are cut by the list's viewport", v.Cut, v.Indicator)
		}
		if want := fmt.Sprintf("%d/%d", v.Page, v.Pages); v.Indicator != want || !v.Shown {
			t.Fatalf("page indicator %q (shown %v), the page is %s", v.Indicator, v.Shown, want)
		}
		if v.Page == 1 && (len(v.Ranks) == 0 || v.Ranks[0] != 1) {
			t.Fatalf("page 1 shows ranks %v: want rank 1 first", v.Ranks)
		}
		for i, r := range v.Ranks {
			seen[r] = true
			names[v.Names[i]] = true
			if i > 0 && r != v.Ranks[i-1]+1 {
				t.Fatalf("page %s shows ranks %v: want consecutive ranks", v.Indicator, v.Ranks)
			}
		}
		pagesSeen[v.Page] = true
		time.Sleep(250 * time.Millisecond)
	}
	for r := 1; r <= len(children); r++ {
		if !seen[r] {
			t.Errorf("rank %d never shown (seen %v, pages %v)", r, seen, pagesSeen)
		}
	}
	for _, n := range children {
		if !names[n] {
			t.Errorf("%s never shown in the ranking", n)
		}
	}
	screenshot(t, ctx, "overview-ranking-1920x1080.png")

	// Outside kiosk mode the indicator turns the page on a click.
	open(t, ctx, page+"&rankpage=600", 1920, 1080)
	before := read()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#rank-page`))); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, `window.__zhili.ranking.page === 2`, 3*time.Second); err != nil {
		t.Errorf("a click on the page indicator %q: page %d, want 2: %v", before.Indicator, read().Page, err)
	}
	guard.verify(t)
}

// The live feed is in event time: a late event (a backfill, a source that held it) takes its
// place among the others with its own time, instead of the top; a case moves up with a newer
// event; an event of another day shows its date.
func TestOverviewFeedEventTime(t *testing.T) {
	t.Parallel()
	srv, guard, ctx, page := wallServer(t)
	open(t, ctx, page+"&kiosk=1", 1920, 1080)
	now := time.Now().Truncate(time.Second)
	id := func(s string) string { return fmt.Sprintf("E2E-FE%d-%s", now.UnixNano(), s) }
	srv.ingest(t, report(id("a"), "grid", 114.1, 32.1, now.Add(-40*time.Second))+report(id("b"), "app", 114.2, 32.1, now.Add(-20*time.Second)), 2)
	const readFeed = `Array.from(document.querySelectorAll('#feed li')).map((li) => li.dataset.case + '@' + li.querySelector('.feed-time').textContent)`
	wantFeed := func(what string, want ...string) {
		t.Helper()
		js, _ := json.Marshal(want)
		cond := fmt.Sprintf(`JSON.stringify(Array.from(document.querySelectorAll('#feed li')).map((li) => li.dataset.case)) === %q`, string(js))
		if err := waitFor(ctx, cond, 30*time.Second); err != nil {
			got, _ := chromedp.Run(ctx, chromedp.Evaluate[[]string](readFeed))
			t.Fatalf("%s: the feed shows %v, want %v: %v", what, got, want, err)
		}
	}
	wantFeed("two reports", id("b"), id("a"))
	// A report that happened 5 minutes ago arrives now; then one of 10 s ago.
	late := now.Add(-5 * time.Minute)
	srv.ingest(t, report(id("c"), "hotline12345", 114.3, 32.1, late), 1)
	srv.ingest(t, report(id("d"), "grid", 114.0, 32.2, now.Add(-10*time.Second)), 1)
	wantFeed("a late report", id("d"), id("b"), id("a"), id("c"))
	times, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](readFeed))
	if err != nil {
		t.Fatal(err)
	}
	loc, _ := time.LoadLocation("Asia/Shanghai")
	if want := id("c") + "@" + late.In(loc).Format("15:04:05"); times[3] != want {
		t.Errorf("the late report's row %q, want its own time (%s)", times[3], want)
	}
	// A newer event of the oldest case moves it to the top.
	srv.ingest(t, dispatch(id("c"), now.Add(-time.Second)), 1)
	wantFeed("a dispatch of the late case", id("c"), id("d"), id("b"), id("a"))
	// A report of yesterday goes below today's, with its date.
	yesterday := now.Add(-26 * time.Hour)
	srv.ingest(t, report(id("e"), "grid", 114.1, 32.0, yesterday), 1)
	wantFeed("yesterday's report", id("c"), id("d"), id("b"), id("a"), id("e"))
	times, _ = chromedp.Run(ctx, chromedp.Evaluate[[]string](readFeed))
	if want := id("e") + "@" + yesterday.In(loc).Format("01-0215:04"); times[4] != want {
		t.Errorf("yesterday's row %q, want its date and time (%s)", times[4], want)
	}
	screenshot(t, ctx, "overview-feed-1920x1080.png")
	guard.verify(t)
}

// bbox is a GeoJSON feature's bounds.
type bbox struct{ minX, minY, maxX, maxY float64 }

func (b bbox) aspect() float64 {
	return (b.maxX - b.minX) * math.Cos((b.minY+b.maxY)/2*math.Pi/180) / (b.maxY - b.minY)
}

// regionBoxes returns the bounds of a region and of its children.
func regionBoxes(t *testing.T, srv *server, code string) (bbox, map[string]bbox) {
	t.Helper()
	var fc struct {
		Features []struct {
			Properties struct{ Code, Parent string } `json:"properties"`
			Geometry   struct {
				Type        string          `json:"type"`
				Coordinates json.RawMessage `json:"coordinates"`
			} `json:"geometry"`
		} `json:"features"`
	}
	getJSON(t, srv, "/api/v1/regions?depth=1&root="+url.QueryEscape(code), &fc)
	var self bbox
	kids := map[string]bbox{}
	for _, f := range fc.Features {
		var polys [][][][2]float64
		if f.Geometry.Type == "Polygon" {
			var p [][][2]float64
			if err := json.Unmarshal(f.Geometry.Coordinates, &p); err != nil {
				t.Fatal(err)
			}
			polys = [][][][2]float64{p}
		} else if err := json.Unmarshal(f.Geometry.Coordinates, &polys); err != nil {
			t.Fatal(err)
		}
		b := bbox{180, 90, -180, -90}
		for _, p := range polys {
			for _, ring := range p {
				for _, c := range ring {
					b = bbox{min(b.minX, c[0]), min(b.minY, c[1]), max(b.maxX, c[0]), max(b.maxY, c[1])}
				}
			}
		}
		if f.Properties.Code == code || (code == "root" && f.Properties.Parent == "") {
			self = b
		} else {
			kids[f.Properties.Code] = b
		}
	}
	return self, kids
}

// mapView is the map as checkMap reads it: the region's bounds in viewport pixels, the map's
// box, the shown labels' boxes and the children labelled or left out.
type mapView struct {
	Corners [][]float64 `json:"corners"`
	Wrap    panelBox    `json:"wrap"`
	Labels  []panelBox  `json:"labels"`
	Placed  []string    `json:"placed"`
	Dropped []string    `json:"dropped"`
}

// checkMap compares the region's drawn bounds with its true proportions and checks the labels
// of its children: none overlaps another, each inside the map, clear of every seam of the wall.
func checkMap(t *testing.T, ctx context.Context, what string, b bbox, cols, rows int) (placed, dropped []string) {
	t.Helper()
	js := fmt.Sprintf(`(() => {
	  const el = document.getElementById('map');
	  const c = echarts.getInstanceByDom(el);
	  const r = el.getBoundingClientRect();
	  const k = r.width / el.offsetWidth;
	  const px = (p) => { const xy = c.convertToPixel({geoIndex: 0}, p); return [r.left + xy[0] * k, r.top + xy[1] * k]; };
	  const w = document.getElementById('map-wrap').getBoundingClientRect();
	  return {corners: [px([%f, %f]), px([%f, %f])], wrap: {x: w.left, y: w.top, w: w.width, h: w.height},
	    labels: Array.from(document.querySelectorAll('#map-labels .town-label:not([hidden])')).map((e) => {
	      const b = e.getBoundingClientRect(); return {name: e.dataset.code, x: b.left, y: b.top, w: b.width, h: b.height}; }),
	    placed: (window.__zhili.labels || {}).placed || [], dropped: (window.__zhili.labels || {}).dropped || []};
	})()`, b.minX, b.maxY, b.maxX, b.minY)
	m, err := chromedp.Run(ctx, chromedp.Evaluate[mapView](js))
	if err != nil {
		t.Fatal(err)
	}
	w, h := m.Corners[1][0]-m.Corners[0][0], m.Corners[1][1]-m.Corners[0][1]
	if got, want := w/h, b.aspect(); math.Abs(got/want-1) > 0.015 {
		t.Errorf("%s: the region is drawn %.0f×%.0f (%.3f wide per tall), its true proportions %.3f", what, w, h, got, want)
	}
	if m.Corners[0][0] < m.Wrap.X-1 || m.Corners[0][1] < m.Wrap.Y-1 || m.Corners[1][0] > m.Wrap.X+m.Wrap.W+1 || m.Corners[1][1] > m.Wrap.Y+m.Wrap.H+1 {
		t.Errorf("%s: the region's bounds %v leave the map %+v", what, m.Corners, m.Wrap)
	}
	if len(m.Labels) != len(m.Placed) {
		t.Errorf("%s: %d labels shown, %d placed", what, len(m.Labels), len(m.Placed))
	}
	for i, a := range m.Labels {
		if a.X < m.Wrap.X-1 || a.Y < m.Wrap.Y-1 || a.X+a.W > m.Wrap.X+m.Wrap.W+1 || a.Y+a.H > m.Wrap.Y+m.Wrap.H+1 {
			t.Errorf("%s: the label of %s %+v leaves the map %+v", what, a.Name, a, m.Wrap)
		}
		for _, o := range m.Labels[i+1:] {
			if a.X < o.X+o.W-0.5 && o.X < a.X+a.W-0.5 && a.Y < o.Y+o.H-0.5 && o.Y < a.Y+a.H-0.5 {
				t.Errorf("%s: the labels of %s %+v and %s %+v overlap", what, a.Name, a, o.Name, o)
			}
		}
		for c := 1; c < cols; c++ {
			if x := float64(c * 1920); a.X < x && a.X+a.W > x {
				t.Errorf("%s: the label of %s (x %.0f–%.0f) crosses the seam at x=%.0f", what, a.Name, a.X, a.X+a.W, x)
			}
		}
		for r := 1; r < rows; r++ {
			if y := float64(r * 1080); a.Y < y && a.Y+a.H > y {
				t.Errorf("%s: the label of %s (y %.0f–%.0f) crosses the seam at y=%.0f", what, a.Name, a.Y, a.Y+a.H, y)
			}
		}
	}
	return m.Placed, m.Dropped
}

// The map keeps the region's true proportions (a degree of longitude is cos(latitude) of one of
// latitude) at the city, drilled into its tallest county and on a 2×1 wall; its labels never
// overlap: every county labelled at the city, the most of a crowded county's townships.
func TestOverviewMapProportions(t *testing.T) {
	t.Parallel()
	srv, guard, ctx, page := wallServer(t)
	busyDay(t, srv, 20)
	root, counties := regionBoxes(t, srv, "root")
	tall, tallAspect := "", math.Inf(1)
	for code, b := range counties {
		if a := b.aspect(); a < tallAspect {
			tall, tallAspect = code, a
		}
	}
	t.Logf("city %.2f wide per tall; the tallest county %s %.2f", root.aspect(), tall, tallAspect)
	if tallAspect > 0.8 {
		t.Fatalf("no tall county to draw (the tallest %s is %.2f wide per tall)", tall, tallAspect)
	}
	settle := func() {
		if err := waitFor(ctx, `window.__zhili.settled() && document.querySelectorAll('#map-labels .town-label').length > 0`, 30*time.Second); err != nil {
			t.Fatalf("map labels not laid out: %v", err)
		}
	}
	open(t, ctx, page+"&kiosk=1", 1920, 1080)
	settle()
	placed, dropped := checkMap(t, ctx, "the city at 1920×1080", root, 1, 1)
	if len(placed) != len(counties) || len(dropped) != 0 {
		t.Errorf("the city at 1920×1080: %d of its %d counties labelled (left out: %v)", len(placed), len(counties), dropped)
	}
	screenshot(t, ctx, "overview-map-city-1920x1080.png")

	tallBox, towns := regionBoxes(t, srv, tall)
	open(t, ctx, page+"&kiosk=1&region="+tall, 1920, 1080)
	settle()
	placed, dropped = checkMap(t, ctx, "the tallest county at 1920×1080", tallBox, 1, 1)
	if len(placed)+len(dropped) != len(towns) || 2*len(placed) < len(towns) {
		t.Errorf("the tallest county: %d of its %d townships labelled, %d left out", len(placed), len(towns), len(dropped))
	}
	t.Logf("the tallest county at 1920×1080: %d of %d townships labelled", len(placed), len(towns))
	screenshot(t, ctx, "overview-map-tall-county-1920x1080.png")

	open(t, ctx, page+"&kiosk=1&wall=2x1", 3840, 1080)
	settle()
	checkMap(t, ctx, "the city on a 2×1 wall", root, 2, 1)
	open(t, ctx, page+"&kiosk=1&wall=2x1&region="+tall, 3840, 1080)
	settle()
	checkMap(t, ctx, "the tallest county on a 2×1 wall", tallBox, 2, 1)
	guard.verify(t)
}

// Intake by source (一端口) and the whistle rate (吹哨率) on the wall: the figures of the
// overview topic, the band by the audit's bounds.
func TestOverviewSourcesAndWhistles(t *testing.T) {
	t.Parallel()
	awayFromMidnight(t, 2*time.Minute)
	srv, guard, ctx, page := wallServer(t)
	now := time.Now().Add(-time.Minute)
	// Eleven new cases: at least the audits' minimum sample (10), so the whistle rate is a figure.
	sent := map[string]int{"hotline12345": 4, "grid": 3, "app": 1, "sensor": 1, "police110": 1, "center": 1}
	var b strings.Builder
	lines, n := 0, 0
	var ids []string
	for _, src := range []string{"hotline12345", "grid", "app", "sensor", "police110", "center"} {
		for i := 0; i < sent[src]; i++ {
			id := fmt.Sprintf("E2E-S%d-%d", now.UnixNano(), n)
			ids = append(ids, id)
			b.WriteString(report(id, src, 113.95+float64(n)*0.2, 32.0, now.Add(time.Duration(n)*time.Second)))
			n++
			lines++
		}
	}
	for i, id := range ids[:2] {
		fmt.Fprintf(&b, `{"id":"%s-w","type":"whistle.blown","case_id":"%s","at":"%s","whistle_id":"W-%s","whistle_kind":"advance","depts":["county.urban-mgmt"]}`+"\n",
			id, id, now.Add(time.Duration(20+i)*time.Second).Format(time.RFC3339), id)
		lines++
	}
	srv.ingest(t, b.String(), lines)
	rate := fmt.Sprintf("%.1f%%", 100*2.0/float64(n))

	type view struct {
		Sources map[string]string `json:"sources"`
		Names   map[string]string `json:"names"`
		Rate    string            `json:"rate"`
		Band    string            `json:"band"`
		Blown   string            `json:"blown"`
	}
	const readView = `(() => {
	  const s = {}, nm = {};
	  for (const li of document.querySelectorAll('#sources li')) { s[li.dataset.source] = li.querySelector('.ct').textContent; nm[li.dataset.source] = li.querySelector('.nm').textContent; }
	  const band = document.getElementById('whistle-band');
	  return {sources: s, names: nm, rate: document.getElementById('whistle-rate-value').textContent,
	    band: band.hidden ? '' : band.textContent, blown: document.getElementById('whistles-today').textContent};
	})()`
	check := func(query, band string, names map[string]string) {
		t.Helper()
		open(t, ctx, page+"&kiosk=1"+query, 1920, 1080)
		cond := fmt.Sprintf(`window.__zhili.counters.new_today === %d && document.getElementById('whistles-today').textContent === '2'`, n)
		if err := waitFor(ctx, cond, 30*time.Second); err != nil {
			t.Fatalf("%s: %s: %v", query, jsJSON(ctx, readView), err)
		}
		v, err := chromedp.Run(ctx, chromedp.Evaluate[view](readView))
		if err != nil {
			t.Fatal(err)
		}
		for src, want := range map[string]int{"hotline12345": 4, "grid": 3, "app": 1, "sensor": 1, "police110": 1, "center": 1, "other": 0} {
			if v.Sources[src] != fmt.Sprint(want) {
				t.Errorf("%s: %s shows %q new cases, %d sent", query, src, v.Sources[src], want)
			}
			if names != nil && v.Names[src] != names[src] {
				t.Errorf("%s: %s named %q, want %q", query, src, v.Names[src], names[src])
			}
		}
		if v.Rate != rate || v.Blown != "2" || v.Band != band {
			t.Errorf("%s: whistle rate %q (blown %s, band %q), want %s of 2 whistles ÷ %d new cases, band %q", query, v.Rate, v.Blown, v.Band, rate, n, band)
		}
	}
	check("", "", map[string]string{"hotline12345": "12345 热线", "grid": "网格员", "app": "随手拍", "sensor": "感知设备", "police110": "110 联动", "center": "中心受理", "other": "其他"})
	check("&whistle_low=0.02&whistle_high=0.1", "偏高", nil)
	screenshot(t, ctx, "overview-sources-whistles-1920x1080.png")
	check("&whistle_low=0.3", "偏低", nil)
	check("&whistle_low=0.02&whistle_high=0.3&lang=en", "ok", map[string]string{"hotline12345": "12345 hotline", "other": "Other",
		"grid": "Grid workers", "app": "Citizen app", "sensor": "Sensors", "police110": "110 police", "center": "Center"})
	// A new report of another source and a whistle reach the wall live.
	id := fmt.Sprintf("E2E-S%d-x", now.UnixNano())
	srv.ingest(t, report(id, "app", 114.1, 32.1, time.Now().Add(-time.Second)), 1)
	if err := waitFor(ctx, `document.querySelector('#sources li[data-source="app"] .ct').textContent === '2'`, 3*time.Second); err != nil {
		t.Errorf("a live app report: %s: %v", jsJSON(ctx, readView), err)
	}
	guard.verify(t)
}

// shortName is a child's name as the map and the ranking write it: without its parent's name in
// front (番城街道第12网格 under 番城街道 → 第12网格).
func shortName(name, parent string) string {
	if parent != "" && len([]rune(name)) > len([]rune(parent))+1 && strings.HasPrefix(name, parent) {
		return strings.TrimPrefix(name, parent)
	}
	return name
}

// shortNames maps names to their short form, sorted.
func shortNames(names []string, parent string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = shortName(n, parent)
	}
	sort.Strings(out)
	return out
}
