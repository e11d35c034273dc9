package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// getJSON reads a REST endpoint of the server with the viewer token.
func getJSON(t *testing.T, srv *server, path string, out any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+viewToken)
	resp, err := httpc.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// seriesCounts is GET /api/v1/series for 1 h steps over [from, to).
func seriesCounts(t *testing.T, srv *server, region, typ string, from, to int64) []int64 {
	t.Helper()
	var res struct {
		Points []struct {
			T     time.Time `json:"t"`
			Count int64     `json:"count"`
		} `json:"points"`
	}
	q := url.Values{"region": {region}, "step": {"1h"}, "type": {typ},
		"from": {time.UnixMilli(from).UTC().Format(time.RFC3339)}, "to": {time.UnixMilli(to).UTC().Format(time.RFC3339)}}
	getJSON(t, srv, "/api/v1/series?"+q.Encode(), &res)
	out := make([]int64, 0, len(res.Points))
	for _, p := range res.Points {
		out = append(out, p.Count)
	}
	return out
}

// trendState is window.__zhili.trend plus the data of the chart's two series, as ECharts holds it.
type trendState struct {
	From     int64   `json:"from"`
	To       int64   `json:"to"`
	Hours    []int64 `json:"hours"`
	Loads    int     `json:"loads"`
	Reported []int64 `json:"reported"`
	Resolved []int64 `json:"resolved"`
	ChartRep []int64 `json:"chartRep"`
	ChartRes []int64 `json:"chartRes"`
}

const readTrend = `(() => {
  const z = window.__zhili.trend;
  const c = echarts.getInstanceByDom(document.getElementById('chart-trend'));
  const s = (c && c.getOption().series) || [];
  const vals = (id) => { const x = s.find((v) => v.id === id); return x ? x.data.map((d) => typeof d === 'object' ? d.value : d) : []; };
  return {from: z.from, to: z.to, hours: z.hours, loads: z.loads, reported: z.reported, resolved: z.resolved,
    chartRep: vals('reported'), chartRes: vals('resolved')};
})()`

func readTrendState(t *testing.T, ctx context.Context) trendState {
	t.Helper()
	st, err := chromedp.Run(ctx, chromedp.Evaluate[trendState](readTrend))
	if err != nil {
		t.Fatalf("read trend: %v", err)
	}
	return st
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// checkTrendREST compares the chart's 24 buckets with the series the test reads itself.
func checkTrendREST(t *testing.T, ctx context.Context, srv *server, region string) trendState {
	t.Helper()
	tr := readTrendState(t, ctx)
	// The store may write an event a moment after the live topics publish it: the REST series
	// is read again until it catches up (or 5 s pass).
	var rep, res []int64
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		rep = seriesCounts(t, srv, region, "case.reported", tr.From, tr.To)
		res = seriesCounts(t, srv, region, "case.resolved", tr.From, tr.To)
		if (equalInts(tr.Reported, rep) && equalInts(tr.Resolved, res)) || time.Now().After(deadline) {
			break
		}
	}
	if len(tr.Hours) != 24 || tr.To-tr.From != 24*3600*1000 || tr.Hours[23]-tr.Hours[0] != 23*3600*1000 {
		t.Fatalf("trend window: from %d to %d, %d hours: want 24 hourly buckets", tr.From, tr.To, len(tr.Hours))
	}
	if !equalInts(tr.ChartRep, rep) || !equalInts(tr.Reported, rep) {
		t.Errorf("region %s: the trend's new cases per hour %v (chart %v), REST /api/v1/series %v", region, tr.Reported, tr.ChartRep, rep)
	}
	if !equalInts(tr.ChartRes, res) || !equalInts(tr.Resolved, res) {
		t.Errorf("region %s: the trend's resolved cases per hour %v (chart %v), REST /api/v1/series %v", region, tr.Resolved, tr.ChartRes, res)
	}
	return tr
}

func resolved(id string, at time.Time) string {
	return fmt.Sprintf(`{"id":"%s-x","type":"case.resolved","case_id":"%s","at":"%s","dept":"county.urban-mgmt"}`+"\n",
		id, id, at.Format(time.RFC3339))
}

// clickChild clicks the map at the centroid of a child region (converted by the map's ECharts
// instance) and reports the point.
func clickChild(t *testing.T, ctx context.Context, code string) {
	t.Helper()
	pt, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(() => {
	  const z = window.__zhili;
	  const ll = z.centroid('`+code+`');
	  if (!ll || z.childAt(ll[0], ll[1]) !== '`+code+`') return [];
	  const el = document.getElementById('map');
	  const xy = echarts.getInstanceByDom(el).convertToPixel({geoIndex: 0}, ll);
	  const r = el.getBoundingClientRect();
	  return [r.left + xy[0] * r.width / el.offsetWidth, r.top + xy[1] * r.height / el.offsetHeight];
	})()`))
	if err != nil || len(pt) != 2 {
		t.Fatalf("no screen point for the centroid of %s (inside its outline): %v %v", code, pt, err)
	}
	if err := chromedp.Do(ctx, chromedp.MouseClickXY(pt[0], pt[1])); err != nil {
		t.Fatal(err)
	}
}

// pickChild returns a child on the map whose centroid lies inside its own outline, preferring
// those with children when drillable is true (and without otherwise).
func pickChild(t *testing.T, ctx context.Context, drillable bool) string {
	t.Helper()
	code, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`(() => {
	  const z = window.__zhili;
	  for (const c of z.regionChildren) {
	    const ll = z.centroid(c);
	    if (ll && z.childAt(ll[0], ll[1]) === c && z.drillable(c) === %v) return c;
	  }
	  return '';
	})()`, drillable)))
	if err != nil || code == "" {
		t.Fatalf("no child region (drillable=%v) to click: %v", drillable, err)
	}
	return code
}

type regionFC struct {
	Features []struct {
		Properties struct {
			Code   string `json:"code"`
			Name   string `json:"name"`
			Parent string `json:"parent"`
		} `json:"properties"`
	} `json:"features"`
}

// childNames returns the sorted names of a region's children and the region's own name.
func childNames(t *testing.T, srv *server, code string) (string, []string) {
	t.Helper()
	var fc regionFC
	getJSON(t, srv, "/api/v1/regions?depth=1&root="+url.QueryEscape(code), &fc)
	name := ""
	var names []string
	for _, f := range fc.Features {
		switch {
		case f.Properties.Code == code:
			name = f.Properties.Name
		case f.Properties.Parent == code:
			names = append(names, f.Properties.Name)
		}
	}
	sort.Strings(names)
	return name, names
}

// readMapNames lists the names on the map's shown labels, and the codes of the children left
// unlabelled for want of room.
const readMapNames = `({shown: Array.from(document.querySelectorAll('#map-labels .town-label:not([hidden]) b')).map((b) => b.textContent).sort(),
  dropped: window.__zhili.labels.dropped})`

func waitRegion(t *testing.T, ctx context.Context, code string, navigations int) {
	t.Helper()
	cond := fmt.Sprintf(`(() => { const z = window.__zhili;
	  return z.navigations === %d && z.regionCode === '%s' && z.seq['overview:' + z.region] !== undefined &&
	    z.seq['cases:' + z.region] !== undefined && document.querySelectorAll('#map-labels .town-label').length === z.regionChildren.length &&
	    z.trend.region === z.region && z.settled(); })()`, navigations, code)
	if err := waitFor(ctx, cond, 30*time.Second); err != nil {
		st := jsJSON(ctx, `{region: __zhili.region, code: __zhili.regionCode, nav: __zhili.navigations, seq: __zhili.seq,
		  labels: document.querySelectorAll('#map-labels .town-label').length, children: __zhili.regionChildren.length,
		  trend: __zhili.trend.region, settled: __zhili.settled()}`)
		t.Fatalf("region %s not shown (navigation %d): %s: %v", code, navigations, st, err)
	}
}

// checkShows verifies that the page shows region code: its name in the title, its children on
// the map (each labelled, or left out of a crowded map) and in the ranking (the page shown, and
// the count of all).
func checkShows(t *testing.T, ctx context.Context, srv *server, code string) {
	t.Helper()
	name, children := childNames(t, srv, code)
	title, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('title').textContent`))
	if err != nil {
		t.Fatal(err)
	}
	if name == "" || !strings.HasPrefix(title, name) {
		t.Errorf("region %s (%s): title %q", code, name, title)
	}
	short := shortNames(children, name)
	type mapNames struct {
		Shown   []string `json:"shown"`
		Dropped []string `json:"dropped"`
	}
	onMap, err := chromedp.Run(ctx, chromedp.Evaluate[mapNames](readMapNames))
	if err != nil {
		t.Fatal(err)
	}
	if len(onMap.Shown)+len(onMap.Dropped) != len(children) || len(onMap.Shown) == 0 {
		t.Errorf("region %s: %d map labels and %d left out, %d children", code, len(onMap.Shown), len(onMap.Dropped), len(children))
	}
	for _, n := range onMap.Shown {
		if _, found := slices.BinarySearch(short, n); !found {
			t.Errorf("region %s: the map label %q is none of its children %v", code, n, short)
		}
	}
	cond := fmt.Sprintf(`(() => { const shown = Array.from(document.querySelectorAll('#ranking .rank-name')).map((e) => e.textContent);
	  const all = %s; return window.__zhili.ranking.total === all.length && shown.length > 0 && shown.every((n) => all.includes(n)); })()`, jsonString(short))
	if err := waitFor(ctx, cond, 30*time.Second); err != nil {
		got := jsJSON(ctx, `{shown: Array.from(document.querySelectorAll('#ranking .rank-name')).map((e) => e.textContent), ranking: window.__zhili.ranking}`)
		t.Errorf("region %s: the ranking %s, its children %v: %v", code, got, short, err)
	}
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestOverview(t *testing.T) {
	t.Parallel()
	srv, guard, ctx, page := wallServer(t)
	loc, err := time.LoadLocation("Asia/Shanghai") // the deployment's --tz (default)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()

	// History over the last day: reports in several hours (some resolved), across the county.
	// The first is the store's first: the hours of the trend before it hold no data.
	var hist strings.Builder
	nHist, nReports := 0, 0
	first := now.Add(-22 * time.Hour)
	for i, h := range []int{22, 15, 9, 5, 3, 2, 1} {
		for k := 0; k <= i%3; k++ {
			id := fmt.Sprintf("E2E-H%d-%d-%d", now.UnixNano(), i, k)
			at := now.Add(-time.Duration(h)*time.Hour - time.Duration(k)*time.Minute)
			hist.WriteString(report(id, "grid", 113.96+float64(i%6)*0.05, 32.04+float64(k)*0.05, at))
			nHist++
			nReports++
			if k == 0 {
				hist.WriteString(resolved(id, at.Add(40*time.Minute)))
				nHist++
			}
		}
	}
	// Today, in the main district: reports, most of them resolved (new today ≠ open).
	startOfDay := time.Date(now.In(loc).Year(), now.In(loc).Month(), now.In(loc).Day(), 0, 0, 0, 0, loc)
	for i := 0; i < 6; i++ {
		at := now.Add(-time.Duration(i+1) * time.Minute)
		if at.Before(startOfDay) {
			at = now.Add(-time.Second)
		}
		id := fmt.Sprintf("E2E-T%d-%d", now.UnixNano(), i)
		hist.WriteString(report(id, "hotline12345", 114.06+float64(i)*0.01, 32.12, at))
		nHist++
		nReports++
		if i < 5 {
			hist.WriteString(resolved(id, at.Add(20*time.Second)))
			nHist++
		}
	}
	srv.ingest(t, hist.String(), nHist)
	// The history store writes behind the ingest acknowledgement: wait until it has them all, as
	// a screen opened later would find them.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var n int64
		for _, v := range seriesCounts(t, srv, "root", "case.reported", now.Add(-24*time.Hour).UnixMilli(), now.Add(time.Minute).UnixMilli()) {
			n += v
		}
		if n == int64(nReports) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the series has %d of %d reports 10 s after their ingest", n, nReports)
		}
	}

	// 1. The trend equals the REST series for the same hours, then counts a live report.
	open(t, ctx, page, 1920, 1080)
	if err := waitFor(ctx, `window.__zhili.trend.loads > 0 && window.__zhili.settled()`, 30*time.Second); err != nil {
		t.Fatalf("trend not loaded: %v", err)
	}
	tr := checkTrendREST(t, ctx, srv, "root")
	sum := int64(0)
	for _, v := range tr.Reported {
		sum += v
	}
	if sum == 0 {
		t.Errorf("trend: no new cases in 24 h after %d ingested", nHist)
	}
	// The hours that ended before the first report are shaded 无数据, not drawn as quiet.
	wantNoData := 0
	for _, h := range tr.Hours {
		if h+time.Hour.Milliseconds() <= first.UnixMilli() {
			wantNoData++
		}
	}
	nd, err := chromedp.Run(ctx, chromedp.Evaluate[[]any](`(() => {
	  const c = echarts.getInstanceByDom(document.getElementById('chart-trend')).getOption().series.find((s) => s.id === 'reported');
	  const ma = c.markArea && c.markArea.data || [];
	  return [window.__zhili.trend.noData, ma.length, ma.length ? c.markArea.label.formatter : ''];
	})()`))
	if err != nil || len(nd) != 3 || nd[0] != float64(wantNoData) || wantNoData > 0 && (nd[1] != float64(1) || nd[2] != "无数据") {
		t.Errorf("trend: hours before the history %v (%v), want %d shaded 无数据", nd, err, wantNoData)
	}
	at := time.Now().Add(-time.Second)
	hour := at.Truncate(time.Hour).UnixMilli() // Asia/Shanghai has whole-hour offsets
	before := int64(-1)
	for i, h := range tr.Hours {
		if h == hour {
			before = tr.Reported[i]
		}
	}
	if before < 0 {
		t.Fatalf("trend: the hour of %s is not among the buckets %v", at, tr.Hours)
	}
	liveID := fmt.Sprintf("E2E-L%d", time.Now().UnixNano())
	srv.ingest(t, report(liveID, "grid", 114.10, 32.12, at), 1)
	cond := fmt.Sprintf(`(() => { const z = window.__zhili.trend; const i = z.hours.indexOf(%d);
	  const c = echarts.getInstanceByDom(document.getElementById('chart-trend')).getOption().series.find((s) => s.id === 'reported');
	  return i >= 0 && z.reported[i] === %d && c.data[i].value === %d; })()`, hour, before+1, before+1)
	if err := waitFor(ctx, cond, 2*time.Second); err != nil {
		t.Fatalf("trend: the hour's bucket did not go from %d to %d within 2 s of a report: %+v: %v", before, before+1, readTrendState(t, ctx), err)
	}
	checkTrendREST(t, ctx, srv, "root") // live counting matches the store
	screenshot(t, ctx, "overview-trend-1920x1080.png")

	// 2. The choropleth switch: the map's colours and legend follow new cases today.
	var counts struct {
		Children []struct {
			Region string `json:"region"`
			Count  int    `json:"count"`
		} `json:"children"`
	}
	getJSON(t, srv, "/api/v1/counts?region=root&type=case.reported&from="+startOfDay.Format("2006-01-02")+"&to="+url.QueryEscape(time.Now().Add(time.Minute).Format(time.RFC3339)), &counts)
	wantNew := map[string]int{}
	maxNew := 0
	for _, c := range counts.Children {
		wantNew[c.Region] = c.Count
		maxNew = max(maxNew, c.Count)
	}
	type choro struct {
		Metric string         `json:"metric"`
		Max    int            `json:"max"`
		Values map[string]int `json:"values"`
		Legend string         `json:"legend"`
		Colors map[string]any `json:"colors"`
		Labels []string       `json:"labels"`
		URL    string         `json:"url"`
	}
	const readChoro = `(() => { const z = window.__zhili.choropleth;
	  const geo = echarts.getInstanceByDom(document.getElementById('map')).getOption().geo[0];
	  const colors = {};
	  for (const r of geo.regions) if (r.name[0] === 'T') colors[r.name.slice(1)] = r.itemStyle.areaColor;
	  return {metric: z.metric, max: z.max, values: z.values, legend: document.getElementById('legend-max').textContent, colors,
	    labels: Array.from(document.querySelectorAll('#map-labels .town-label span')).map((s) => s.textContent), url: location.search}; })()`
	openChoro, err := chromedp.Run(ctx, chromedp.Evaluate[choro](readChoro))
	if err != nil {
		t.Fatal(err)
	}
	if openChoro.Metric != "open" {
		t.Fatalf("choropleth by default: %q, want open", openChoro.Metric)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#choro-switch [data-choro="new"]`))); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, fmt.Sprintf(`window.__zhili.choropleth.metric === 'new' && window.__zhili.choropleth.max === %d && window.__zhili.settled()`, maxNew), 3*time.Second); err != nil {
		t.Fatalf("choropleth switch: %+v, want metric new with max %d: %v", jsJSON(ctx, `window.__zhili.choropleth`), maxNew, err)
	}
	ch, err := chromedp.Run(ctx, chromedp.Evaluate[choro](readChoro))
	if err != nil {
		t.Fatal(err)
	}
	differs := false
	for code, v := range ch.Values {
		if v != wantNew[code] {
			t.Errorf("choropleth new: %s = %d, REST new cases today %d", code, v, wantNew[code])
		}
		if v != openChoro.Values[code] {
			differs = true
		}
		if (v == maxNew) != (ch.Colors[code] == "rgb(71,198,236)") || (v == 0) != (ch.Colors[code] == "rgb(12,39,84)") {
			t.Errorf("choropleth new: %s = %d of max %d coloured %v", code, v, maxNew, ch.Colors[code])
		}
	}
	if !differs {
		t.Errorf("choropleth: new today %v equals open %v: the test data should tell them apart", ch.Values, openChoro.Values)
	}
	if ch.Legend != fmt.Sprint(maxNew) || !strings.Contains(ch.URL, "choropleth=new") {
		t.Errorf("choropleth new: legend max %q (want %d), URL %s", ch.Legend, maxNew, ch.URL)
	}
	for _, l := range ch.Labels {
		if !strings.HasPrefix(l, "新增 ") {
			t.Errorf("choropleth new: map label %q, want 新增 N", l)
			break
		}
	}

	// 3. Drill-down: a click on a county shows it (topics, title, children), keeping the other
	// URL parameters; again on a township; a grid (no children) does nothing; back returns.
	rootCode := evalString(t, ctx, `window.__zhili.regionCode`)
	checkShows(t, ctx, srv, rootCode)
	county := pickChild(t, ctx, true)
	clickChild(t, ctx, county)
	waitRegion(t, ctx, county, 1)
	checkShows(t, ctx, srv, county)
	checkTrendREST(t, ctx, srv, county)
	search := evalString(t, ctx, `location.search`)
	if !strings.Contains(search, "region="+county) || !strings.Contains(search, "choropleth=new") || !strings.Contains(search, "token=") {
		t.Errorf("after drill-down the URL is %s: want region=%s and the other parameters kept", search, county)
	}
	if ok := evalString(t, ctx, `(() => { const n = document.getElementById('drill-nav'); return n.offsetParent !== null && n.textContent.includes('`+evalString(t, ctx, `window.__zhili.regionName`)+`') ? 'yes' : 'no'; })()`); ok != "yes" {
		t.Error("the back control and breadcrumb are not shown after a drill-down")
	}
	screenshot(t, ctx, "overview-drill-1920x1080.png")

	town := pickChild(t, ctx, true)
	clickChild(t, ctx, town)
	waitRegion(t, ctx, town, 2)
	checkShows(t, ctx, srv, town)
	grid := pickChild(t, ctx, false)
	clickChild(t, ctx, grid)
	if got := evalString(t, ctx, `window.__zhili.region + '|' + window.__zhili.navigatingTo`); got != town+"|" {
		t.Errorf("a click on the grid %s (no children): region|navigating = %s, want %s|", grid, got, town)
	}

	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#drill-back`))); err != nil {
		t.Fatal(err)
	}
	waitRegion(t, ctx, county, 3)
	checkShows(t, ctx, srv, county)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#drill-back`))); err != nil {
		t.Fatal(err)
	}
	waitRegion(t, ctx, rootCode, 4)
	checkShows(t, ctx, srv, rootCode)
	if search := evalString(t, ctx, `location.search`); strings.Contains(search, "region=") || evalString(t, ctx, `String(document.getElementById('drill-nav').hidden)`) != "true" {
		t.Errorf("back at the top: URL %s, want no region; the back control must be hidden", search)
	}
	checkTrendREST(t, ctx, srv, "root")

	// 4. Kiosk: the region's page without the controls.
	open(t, ctx, page+"&kiosk=1&region="+county, 1920, 1080)
	if v := evalString(t, ctx, `[document.getElementById('drill-nav'), document.getElementById('choro-switch')].map((e) => String(e.offsetParent === null)).join()`); v != "true,true" {
		t.Errorf("?kiosk=1: back control and choropleth switch hidden: %s, want true,true", v)
	}
	checkShows(t, ctx, srv, county)
	guard.verify(t)
}

func evalString(t *testing.T, ctx context.Context, expr string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return s
}

func jsJSON(ctx context.Context, expr string) string {
	b, _ := chromedp.Run(ctx, chromedp.Evaluate[[]byte](`JSON.stringify(`+expr+`)`))
	return string(b)
}
