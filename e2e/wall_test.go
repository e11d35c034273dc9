package e2e

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// wallServer starts the demo server and a browser for the wall-layout tests.
func wallServer(t *testing.T) (*server, *hostGuard, context.Context, string) {
	t.Helper()
	browserPrereqs(t)
	srv := startServer(t)
	base, _ := url.Parse(srv.base)
	guard := &hostGuard{host: base.Hostname()}
	ctx := newBrowser(t, guard)
	return srv, guard, ctx, srv.base + "/?token=" + url.QueryEscape(viewToken)
}

// open navigates the tab at a viewport size and waits for the first full render.
func open(t *testing.T, ctx context.Context, u string, w, h int64) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(w, h), chromedp.Navigate(u)); err != nil {
		t.Fatalf("navigate %s: %v", u, err)
	}
	if err := waitFor(ctx, `document.body && document.body.dataset.ready === "1"`, 30*time.Second); err != nil {
		st, _ := chromedp.Run(ctx, chromedp.Evaluate[[]byte](`JSON.stringify(window.__zhili || null)`))
		t.Fatalf("%s at %d×%d not ready: %v\nwindow.__zhili = %s", u, w, h, err, st)
	}
}

// motionState tells how the overview moves: "motion" or "still" (window.__zhili.motion and the
// html.still class agree, else "mixed"), the type of the ripples series, whether the flow lines
// have their moving trail ("trail") or not ("no-trail"), and whether the category ring and the
// trend animate their changes ("animated") or not ("unanimated"; "mixed" when they differ).
const motionState = `(() => {
  const c = echarts.getInstanceByDom(document.getElementById('map-markers'));
  const series = c.getOption().series;
  const still = document.documentElement.classList.contains('still');
  const m = window.__zhili.motion === !still ? (still ? 'still' : 'motion') : 'mixed';
  const ripples = series.find((x) => x.id === 'ripples');
  const flows = series.find((x) => x.id === 'flows');
  const anim = ['chart-categories', 'chart-trend'].map((id) => echarts.getInstanceByDom(document.getElementById(id)).getOption().animation !== false);
  const charts = anim[0] !== anim[1] ? 'mixed' : anim[0] ? 'animated' : 'unanimated';
  return m + ' ' + ripples.type + ' ' + (flows.effect && flows.effect.show ? 'trail' : 'no-trail') + ' ' + charts;
})()`

// flowLines is the length of the data of the map's "flows" lines series, as ECharts holds it.
const flowLines = `(() => {
  const c = echarts.getInstanceByDom(document.getElementById('map-markers'));
  const s = c && (c.getOption().series || []).find((x) => x.id === 'flows' && x.type === 'lines');
  return s ? s.data.length : -1;
})()`

func evalInt(t *testing.T, ctx context.Context, expr string) int {
	t.Helper()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return n
}

type flowKinds struct {
	Up, Down, Horizontal int
}

func readKinds(t *testing.T, ctx context.Context) flowKinds {
	t.Helper()
	k, err := chromedp.Run(ctx, chromedp.Evaluate[flowKinds](`(() => { const k = window.__zhili.flowKinds; return {Up: k.up, Down: k.down, Horizontal: k.horizontal}; })()`))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func report(id, src string, lon, lat float64, at time.Time) string {
	return fmt.Sprintf(`{"id":"%s-r","type":"case.reported","case_id":"%s","at":"%s","source":"%s","category":"environment","priority":"normal","location":{"lon":%.4f,"lat":%.4f}}`+"\n",
		id, id, at.Format(time.RFC3339), src, lon, lat)
}

func dispatch(id string, at time.Time) string {
	return fmt.Sprintf(`{"id":"%s-d","type":"case.dispatched","case_id":"%s","at":"%s","dept":"county.urban-mgmt","deadline":"%s"}`+"\n",
		id, id, at.Format(time.RFC3339), at.Add(48*time.Hour).Format(time.RFC3339))
}

// Flow lines: each flow's events draw lines on the map, at most 40, removed as they age.
func TestWallFlowLines(t *testing.T) {
	t.Parallel()
	srv, guard, ctx, page := wallServer(t)
	const keep = 15 // ?flows=: seconds a line stays
	// motion=on: the lines as a wall shows them by default, with their moving trail (the
	// package's browser asks for reduced motion; TestWallScreenProtocol checks the still screen).
	// fps=10: the trail repaints the whole screen each frame for the half minute the test takes;
	// what it checks does not depend on the frame rate.
	open(t, ctx, fmt.Sprintf("%s&flows=%d&motion=on&fps=10", page, keep), 1920, 1080)
	if n := evalInt(t, ctx, flowLines); n != 0 {
		t.Fatalf("flow lines before any event: %d, want 0", n)
	}
	if m := evalString(t, ctx, motionState); m != "motion effectScatter trail animated" {
		t.Errorf("motion=on under reduced motion: %q, want ripples, trails and animated charts (motion effectScatter trail animated)", m)
	}

	now := time.Now().Add(-time.Second)
	id := fmt.Sprintf("E2E-F%d", time.Now().UnixNano())
	// 上行: a grid report rises to the command center.
	srv.ingest(t, report(id+"a", "grid", 114.10, 32.12, now), 1)
	if err := waitFor(ctx, `window.__zhili.flowKinds.up === 1 && `+flowLines+` === 1`, 30*time.Second); err != nil {
		t.Fatalf("no 上行 line after a grid report: kinds %+v, lines %d: %v", readKinds(t, ctx), evalInt(t, ctx, flowLines), err)
	}
	// 下行: its dispatch goes down from the center.
	srv.ingest(t, dispatch(id+"a", now), 1)
	if err := waitFor(ctx, `window.__zhili.flowKinds.down === 1 && `+flowLines+` === 2`, 30*time.Second); err != nil {
		t.Fatalf("no 下行 line after a dispatch: kinds %+v, lines %d: %v", readKinds(t, ctx), evalInt(t, ctx, flowLines), err)
	}
	// 横向: a 12345 hotline report comes across from the hotline.
	srv.ingest(t, report(id+"b", "hotline12345", 114.30, 32.10, now), 1)
	if err := waitFor(ctx, `window.__zhili.flowKinds.horizontal === 1 && `+flowLines+` === 3`, 30*time.Second); err != nil {
		t.Fatalf("no 横向 line after a hotline report: kinds %+v, lines %d: %v", readKinds(t, ctx), evalInt(t, ctx, flowLines), err)
	}
	// The lines have distinct colors, one per flow.
	colors, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`(() => {
	  const c = echarts.getInstanceByDom(document.getElementById('map-markers'));
	  const s = c.getOption().series.find((x) => x.id === 'flows');
	  return s.data.map((d) => d.lineStyle.color);
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	if len(colors) != 3 || colors[0] == colors[1] || colors[1] == colors[2] || colors[0] == colors[2] {
		t.Errorf("flow line colors %v: want three distinct colors", colors)
	}

	// A burst: 60 reports and their 60 dispatches. The map keeps at most 40 lines.
	// Event times of now: the steps above may have taken seconds on a busy machine, and a line
	// stays ?flows= seconds from its event's time.
	now = time.Now().Add(-time.Second)
	var burst strings.Builder
	for i := 0; i < 60; i++ {
		cid := fmt.Sprintf("%s-%d", id, i)
		burst.WriteString(report(cid, "grid", 113.96+float64(i%6)*0.05, 32.04+float64(i/12)*0.05, now))
		burst.WriteString(dispatch(cid, now))
	}
	srv.ingest(t, burst.String(), 120)
	if err := waitFor(ctx, `window.__zhili.flowsKept === 40 && window.__zhili.counters.new_today >= 62`, 30*time.Second); err != nil {
		t.Fatalf("after 120 flow events: %d flow events kept, want the cap of 40: %v", evalInt(t, ctx, `window.__zhili.flowsKept`), err)
	}
	if err := waitFor(ctx, `window.__zhili.settled() && `+flowLines+` === window.__zhili.flows`, 30*time.Second); err != nil {
		t.Fatalf("lines not redrawn after the burst: %v", err)
	}
	if n := evalInt(t, ctx, flowLines); n > 40 || n < 30 {
		t.Errorf("flow lines after 120 flow events: %d, want between 30 and the cap of 40", n)
	}
	k := readKinds(t, ctx)
	t.Logf("after the burst: %d lines (%+v)", evalInt(t, ctx, flowLines), k)
	if k.Up == 0 || k.Down == 0 {
		t.Errorf("the burst's lines: %+v, want both 上行 and 下行", k)
	}
	// The lines age out: none are left once ?flows= seconds have passed (redrawn every 5 s).
	start := time.Now()
	if err := waitFor(ctx, flowLines+` === 0 && window.__zhili.flowsKept === 0`, time.Duration(keep+10)*time.Second); err != nil {
		t.Fatalf("flow lines not removed after %d s: %d left: %v", keep, evalInt(t, ctx, flowLines), err)
	}
	t.Logf("lines gone %.1f s after the burst (?flows=%d)", time.Since(start).Seconds(), keep)
	guard.verify(t)
}

// panelBox is an element's box in CSS pixels of the viewport.
type panelBox struct {
	Name    string  `json:"name"`
	X       float64 `json:"x"`
	Y       float64 `json:"y"`
	W       float64 `json:"w"`
	H       float64 `json:"h"`
	Visible bool    `json:"visible"`
}

const readPanels = `Array.from(document.querySelectorAll('[data-panel]')).map((el) => {
  const r = el.getBoundingClientRect();
  const visible = r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden' && el.offsetParent !== null;
  return {name: el.dataset.panel, x: r.left, y: r.top, w: r.width, h: r.height, visible};
})`

func panels(t *testing.T, ctx context.Context) map[string]panelBox {
	t.Helper()
	list, err := chromedp.Run(ctx, chromedp.Evaluate[[]panelBox](readPanels))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]panelBox{}
	for _, p := range list {
		out[p.Name] = p
	}
	return out
}

var regexpClock = regexp.MustCompile(`^\d\d:\d\d:\d\d$`)

var allPanels = []string{"map", "counters", "flows", "categories", "rates", "ranking", "trend", "sources", "feed"}

// One page per panel: ?panel=map fills the screen with the map, stays live, and shows the same
// clock as the full page, to the second.
func TestWallPanel(t *testing.T) {
	t.Parallel()
	srv, guard, ctx, page := wallServer(t)
	open(t, ctx, page, 1920, 1080)
	full := panels(t, ctx)

	tab, cancel := chromedp.NewContext(ctx)
	defer cancel()
	open(t, tab, page+"&panel=map&kiosk=1", 1920, 1080)
	ps := panels(t, tab)
	for _, name := range allPanels {
		p, ok := ps[name]
		if !ok {
			t.Fatalf("no [data-panel=%s] on the page", name)
		}
		if p.Visible != (name == "map") {
			t.Errorf("?panel=map: panel %s visible=%v", name, p.Visible)
		}
	}
	m := ps["map"]
	if m.W < 1850 || m.H < 900 || m.W <= full["map"].W {
		t.Errorf("?panel=map: the map is %.0f×%.0f (full page: %.0f×%.0f), want the whole screen under the title bar", m.W, m.H, full["map"].W, full["map"].H)
	}
	if ok, _ := chromedp.Run(tab, chromedp.Evaluate[bool](`document.getElementById('lang-switch').offsetParent === null && !!document.getElementById('clock-time').offsetParent`)); !ok {
		t.Error("?panel=map&kiosk=1: want the clock shown and the language switch hidden")
	}

	// Live: a report reaches the panel page (a marker, a 上行 line, the open count of the
	// township labels); its latency is measured by the load tools, not here.
	const sumOpen = `Array.from(document.querySelectorAll('#map-labels .town-label span')).reduce((s, el) => s + Number((el.textContent.match(/\d+/) || ['0'])[0]), 0)`
	before := evalInt(t, tab, sumOpen)
	markers := evalInt(t, tab, `window.__zhili.markers`)
	lines := evalInt(t, tab, flowLines)
	id := fmt.Sprintf("E2E-P%d", time.Now().UnixNano())
	srv.ingest(t, report(id, "grid", 114.10, 32.12, time.Now().Add(-time.Second)), 1)
	cond := fmt.Sprintf(`%s === %d && window.__zhili.markers === %d && %s === %d`, sumOpen, before+1, markers+1, flowLines, lines+1)
	if err := waitFor(tab, cond, 10*time.Second); err != nil {
		t.Fatalf("?panel=map within 10 s of a report: open on labels %d (want %d), markers %d (want %d), lines %d (want %d): %v",
			evalInt(t, tab, sumOpen), before+1, evalInt(t, tab, `window.__zhili.markers`), markers+1, evalInt(t, tab, flowLines), lines+1, err)
	}
	screenshot(t, tab, "wall-panel-map-1920x1080.png")

	// The clock: both pages tick on the deployment's second. Read them in the middle of a
	// second (by the full page's clock), the full page before and after the panel page.
	// A busy machine may delay one page's tick past the read (a second tab's timers are also
	// throttled): a mismatch is read again, and only a mismatch on every attempt fails.
	matched := false
	var last string
	for attempt := 0; attempt < 8 && !matched; attempt++ {
		if err := waitFor(ctx, `(() => { const ms = window.__zhili.serverNow() % 1000; return ms > 300 && ms < 600; })()`, 3*time.Second); err != nil {
			t.Fatal(err)
		}
		a1, err1 := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('clock-time').textContent`))
		b, err2 := chromedp.Run(tab, chromedp.Evaluate[string](`document.getElementById('clock-time').textContent`))
		a2, err3 := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('clock-time').textContent`))
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatal(err1, err2, err3)
		}
		if a1 != a2 {
			continue // the reads straddled a second: again
		}
		last = fmt.Sprintf("full page %s, ?panel=map %s", a1, b)
		if b != a1 || !regexpClock.MatchString(b) {
			continue
		}
		matched = true
		t.Logf("clocks: %s", last)
	}
	if !matched {
		t.Errorf("clocks never showed the same second in 8 reads (last: %s)", last)
	}

	// Every other panel fills its page alone, as well.
	for _, name := range allPanels[1:] {
		open(t, tab, page+"&panel="+name, 1920, 1080)
		ps := panels(t, tab)
		for _, other := range allPanels {
			if ps[other].Visible != (other == name) {
				t.Errorf("?panel=%s: panel %s visible=%v", name, other, ps[other].Visible)
			}
		}
		if p := ps[name]; p.W < 1700 && p.H < 900 {
			t.Errorf("?panel=%s: %.0f×%.0f, want it to fill the screen", name, p.W, p.H)
		}
		screenshot(t, tab, "wall-panel-"+name+"-1920x1080.png")
	}
	guard.verify(t)
}

// One page over a wall of monitors: the stage uses the width, panels do not overlap, and no
// panel but the map crosses a seam between monitors.
func TestWallLayouts(t *testing.T) {
	t.Parallel()
	srv, guard, ctx, page := wallServer(t)
	open(t, ctx, page, 1920, 1080)
	stageMap := panels(t, ctx)["map"]

	// Some live cases, flows included, for the screenshots.
	var batch strings.Builder
	now := time.Now().Add(-2 * time.Second)
	for i := 0; i < 12; i++ {
		cid := fmt.Sprintf("E2E-W%d-%d", time.Now().UnixNano(), i)
		src := "grid"
		if i%3 == 0 {
			src = "hotline12345"
		}
		batch.WriteString(report(cid, src, 113.9+float64(i%4)*0.35, 31.9+float64(i/4)*0.3, now))
		if i%2 == 0 {
			batch.WriteString(dispatch(cid, now))
		}
	}
	srv.ingest(t, batch.String(), 18)

	for _, tc := range []struct {
		wall       string
		cols, rows int
		bezel      float64 // ?bezel=, 0 for the default (8)
		shot       string
	}{
		{"2x1", 2, 1, 0, "wall-2x1-3840x1080.png"},
		{"3x1", 3, 1, 40, ""},
		{"2x2", 2, 2, 0, "wall-2x2-3840x2160.png"},
		{"3x2", 3, 2, 30, ""},
	} {
		w, h := int64(1920*tc.cols), int64(1080*tc.rows)
		q := page + "&kiosk=1&wall=" + tc.wall
		clear := 8.0 // what a panel keeps clear of a seam
		if tc.bezel > 0 {
			q += fmt.Sprintf("&bezel=%.0f", tc.bezel)
			clear = tc.bezel
		}
		open(t, ctx, q, w, h)
		if err := waitFor(ctx, `window.__zhili.flows > 0`, 30*time.Second); err != nil {
			t.Errorf("?wall=%s: no flow lines on the map: %v", tc.wall, err)
		}
		ps := panels(t, ctx)
		for _, name := range allPanels {
			p := ps[name]
			if !p.Visible {
				t.Errorf("?wall=%s: panel %s not shown", tc.wall, name)
				continue
			}
			if p.X < 0 || p.Y < 0 || p.X+p.W > float64(w)+0.5 || p.Y+p.H > float64(h)+0.5 {
				t.Errorf("?wall=%s: panel %s at %+v is off the %d×%d stage", tc.wall, name, p, w, h)
			}
			if name == "map" {
				continue
			}
			// Not across a seam, nor closer to it than the bezel.
			for c := 1; c < tc.cols; c++ {
				if x := float64(c * 1920); p.X < x+clear-0.5 && p.X+p.W > x-clear+0.5 {
					t.Errorf("?wall=%s: panel %s (x %.0f–%.0f) within %.0f px of the seam at x=%.0f", tc.wall, name, p.X, p.X+p.W, clear, x)
				}
			}
			for r := 1; r < tc.rows; r++ {
				if y := float64(r * 1080); p.Y < y+clear-0.5 && p.Y+p.H > y-clear+0.5 {
					t.Errorf("?wall=%s: panel %s (y %.0f–%.0f) within %.0f px of the seam at y=%.0f", tc.wall, name, p.Y, p.Y+p.H, clear, y)
				}
			}
		}
		for i, a := range allPanels {
			for _, b := range allPanels[i+1:] {
				pa, pb := ps[a], ps[b]
				if pa.X < pb.X+pb.W-0.5 && pb.X < pa.X+pa.W-0.5 && pa.Y < pb.Y+pb.H-0.5 && pb.Y < pa.Y+pa.H-0.5 {
					t.Errorf("?wall=%s: panels %s %+v and %s %+v overlap", tc.wall, a, pa, b, pb)
				}
			}
		}
		m := ps["map"]
		t.Logf("?wall=%s at %d×%d: map %.0f×%.0f (16:9 stage: %.0f×%.0f)", tc.wall, w, h, m.W, m.H, stageMap.W, stageMap.H)
		if m.W < 1.5*stageMap.W {
			t.Errorf("?wall=%s: the map is %.0f wide, the 16:9 stage's %.0f: want the wall's width used", tc.wall, m.W, stageMap.W)
		}
		// The panels spread over every monitor column.
		for c := 0; c < tc.cols; c++ {
			used := false
			for _, p := range ps {
				if p.X < float64((c+1)*1920) && p.X+p.W > float64(c*1920) {
					used = true
				}
			}
			if !used {
				t.Errorf("?wall=%s: monitor column %d is empty", tc.wall, c+1)
			}
		}
		// The title, the clock and the township labels of the map stay clear of the seams.
		labels, err := chromedp.Run(ctx, chromedp.Evaluate[[]panelBox](`Array.from(document.querySelectorAll('.town-label')).map((el) => {
		  const r = el.getBoundingClientRect();
		  return {name: el.querySelector('b').textContent, x: r.left, y: r.top, w: r.width, h: r.height};
		})`))
		if err != nil || len(labels) == 0 {
			t.Fatalf("?wall=%s: township labels %v: %v", tc.wall, labels, err)
		}
		for _, b := range labels {
			for r := 1; r < tc.rows; r++ {
				if y := float64(r * 1080); b.Y < y && b.Y+b.H > y {
					t.Errorf("?wall=%s: the label %s (y %.0f–%.0f) crosses the seam at y=%.0f", tc.wall, b.Name, b.Y, b.Y+b.H, y)
				}
			}
			for c := 1; c < tc.cols; c++ {
				if x := float64(c * 1920); b.X < x && b.X+b.W > x {
					t.Errorf("?wall=%s: the label %s (x %.0f–%.0f) crosses the seam at x=%.0f", tc.wall, b.Name, b.X, b.X+b.W, x)
				}
			}
		}
		for _, sel := range []string{"#title", ".topbar-left", ".topbar-right"} {
			b, err := chromedp.Run(ctx, chromedp.Evaluate[panelBox](`(() => { const r = document.querySelector('`+sel+`').getBoundingClientRect(); return {x: r.left, y: r.top, w: r.width, h: r.height}; })()`))
			if err != nil {
				t.Fatal(err)
			}
			for c := 1; c < tc.cols; c++ {
				if x := float64(c * 1920); b.X < x && b.X+b.W > x {
					t.Errorf("?wall=%s: %s (x %.0f–%.0f) crosses the seam at x=%.0f", tc.wall, sel, b.X, b.X+b.W, x)
				}
			}
		}
		if st := read(t, ctx); st.Switch {
			t.Errorf("?wall=%s&kiosk=1 shows the language switch", tc.wall)
		}
		if tc.shot != "" {
			screenshot(t, ctx, tc.shot)
		}
	}
	guard.verify(t)
}
