package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/fasthttp/websocket"

	"zhili/simulate"
)

// TestDemo starts `zhili serve --demo` as `make demo` does, with its default history (90 days),
// and checks through the REST API and the whistle topic that every view that looks back has
// something to show at once: hot spots over 7 and 30 days and their emerging classes where the
// history planted them, last month's audit, open whistles, a 24-hour trend with a shape.
func TestDemo(t *testing.T) {
	t.Parallel()
	// The package's shared demo (90d: the default), which the audit and evaluation pages read
	// too; they send it nothing.
	d := sharedDemoOf(t, "90d")
	srv, dir, start, listening, ready := d.srv, d.data, d.start, d.listening, d.took
	var rec struct {
		Seed   uint64    `json:"seed"`
		Span   string    `json:"span"`
		PerDay float64   `json:"per_day"`
		End    time.Time `json:"end"`
		Lines  int       `json:"lines"`
		Cases  int       `json:"cases"`
		Took   string    `json:"took"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "demo-history.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	t.Logf("ready after %v (listening after %v): %s of history, %d events, %d cases, stored in %s",
		ready.Round(time.Millisecond), listening.Round(time.Millisecond), rec.Span, rec.Lines, rec.Cases, rec.Took)
	if rec.Lines < 100000 || rec.Cases < 15000 {
		t.Errorf("history: %s", b)
	}

	// Where the history planted its hot spots.
	tree := xinyang(t)
	span, _ := time.ParseDuration(rec.Span)
	plan := simulate.NewHistory(simulate.HistoryConfig{Tree: tree, Seed: rec.Seed, End: rec.End, Span: span, PerDay: rec.PerDay}).Plan()

	type cell struct {
		Code    string `json:"code"`
		Count   int    `json:"count"`
		Bin     int    `json:"bin"`
		Pattern string `json:"pattern"`
	}
	type hotspots struct {
		Cells       []cell `json:"cells"`
		Sufficiency struct {
			OK      bool     `json:"ok"`
			Reasons []string `json:"reasons"`
		} `json:"sufficiency"`
	}
	now := time.Now()
	q := func(v url.Values) string { return v.Encode() }
	since := func(d time.Duration) string { return now.Add(-d).Format(time.RFC3339) }
	planted := func(h hotspots, gs []string, ok func(cell) bool) int {
		n := 0
		for _, c := range h.Cells {
			if slices.Contains(gs, c.Code) && ok(c) {
				n++
			}
		}
		return n
	}
	hot := func(c cell) bool { return c.Bin >= 2 }
	for _, days := range []int{7, 30} {
		var h hotspots
		t0 := time.Now()
		getJSON(t, srv, "/api/v1/hotspots?"+q(url.Values{"from": {since(time.Duration(days) * 24 * time.Hour)}}), &h)
		n := 0
		for _, c := range h.Cells {
			if hot(c) {
				n++
			}
		}
		p, i := planted(h, plan.Persistent, hot), planted(h, plan.Intensifying, hot)
		t.Logf("%d days: %d grids, %d hot at 95 %% or more (FDR), planted persistent %d/%d, intensifying %d/%d (%v)",
			days, len(h.Cells), n, p, len(plan.Persistent), i, len(plan.Intensifying), time.Since(t0).Round(time.Millisecond))
		if !h.Sufficiency.OK || n < 5 || p < 3 || i < 3 {
			t.Errorf("%d-day hot spots: sufficiency %+v, %d hot, planted %d and %d", days, h.Sufficiency, n, p, i)
		}
	}

	// Emerging hot spots over 30 days, a day a step.
	{
		var h hotspots
		t0 := time.Now()
		getJSON(t, srv, "/api/v1/hotspots?"+q(url.Values{"from": {since(30 * 24 * time.Hour)}, "step": {"1d"}}), &h)
		classes := map[string]int{}
		for _, c := range h.Cells {
			classes[c.Pattern]++
		}
		hotClass := func(c cell) bool { return strings.HasSuffix(c.Pattern, "_hot") }
		p, i := planted(h, plan.Persistent, hotClass), planted(h, plan.Intensifying, hotClass)
		t.Logf("emerging, 30 days: %v; planted persistent %d, intensifying %d in a hot class (%v)", classes, p, i, time.Since(t0).Round(time.Millisecond))
		if !h.Sufficiency.OK || classes["insufficient_data"] > 0 || len(classes) < 3 || p < 3 || i < 3 {
			t.Errorf("emerging classes: sufficiency %+v, %v, planted %d and %d", h.Sufficiency, classes, p, i)
		}
	}

	// Last month's audit: every department has cases; the slow one responds least.
	{
		loc, _ := time.LoadLocation("Asia/Shanghai")
		y, m, _ := now.In(loc).Date()
		to := time.Date(y, m, 1, 0, 0, 0, 0, loc)
		from := to.AddDate(0, -1, 0)
		var audit struct {
			Units []struct {
				Unit    string `json:"unit"`
				Current struct {
					Cases    int `json:"cases"`
					Closed   int `json:"closed"`
					Whistles int `json:"whistles"`
					Response struct {
						Value *float64 `json:"value"`
					} `json:"response"`
				} `json:"current"`
				Previous struct {
					Cases int `json:"cases"`
				} `json:"previous"`
			} `json:"units"`
		}
		t0 := time.Now()
		getJSON(t, srv, "/api/v1/audit/rates?"+q(url.Values{"from": {from.Format("2006-01-02")}, "to": {to.Format("2006-01-02")}}), &audit)
		cases, whistles, slowest, lowest := 0, 0, "", 2.0
		for _, u := range audit.Units {
			c := u.Current
			cases += c.Cases
			whistles += c.Whistles
			if c.Cases == 0 || c.Closed == 0 || u.Previous.Cases == 0 || c.Response.Value == nil {
				t.Errorf("audit of %s: department %s: %+v, previous %+v", from.Format("2006-01"), u.Unit, c, u.Previous)
				continue
			}
			if *c.Response.Value < lowest {
				slowest, lowest = u.Unit, *c.Response.Value
			}
		}
		t.Logf("audit of %s: %d departments, %d cases, %d whistles; lowest response rate %s %.2f (%v)",
			from.Format("2006-01"), len(audit.Units), cases, whistles, slowest, lowest, time.Since(t0).Round(time.Millisecond))
		if len(audit.Units) < 5 || cases < 3000 || whistles == 0 || slowest != simulate.SlowDept {
			t.Errorf("audit of %s: %d departments, %d cases, %d whistles, slowest %s", from.Format("2006-01"), len(audit.Units), cases, whistles, slowest)
		}
	}

	// The 24-hour trend has a shape: reports in most hours, quiet nights, busy days.
	{
		var series struct {
			Points []struct {
				Count int `json:"count"`
			} `json:"points"`
		}
		for _, typ := range []string{"case.reported", "case.resolved"} {
			getJSON(t, srv, "/api/v1/series?"+q(url.Values{"step": {"1h"}, "type": {typ}}), &series)
			counts := make([]int, len(series.Points))
			nonzero, distinct := 0, map[int]bool{}
			for i, p := range series.Points {
				counts[i] = p.Count
				distinct[p.Count] = true
				if p.Count > 0 {
					nonzero++
				}
			}
			t.Logf("24 h of %s per hour: %v", typ, counts)
			if len(counts) < 24 || nonzero < 14 || len(distinct) < 6 || slices.Max(counts) < 10 {
				t.Errorf("24 h series of %s is flat: %v", typ, counts)
			}
		}
	}

	// The live hot spot windows hold the history (seeded from the store once ready).
	for _, w := range []string{"7d", "30d"} {
		topic := "hotspots:root:" + w
		var live struct {
			Seeded bool `json:"seeded"`
			Grids  map[string]struct {
				Bin     int    `json:"bin"`
				Pattern string `json:"pattern"`
			} `json:"grids"`
		}
		t0 := time.Now()
		for {
			wsSnapshot(t, srv, topic, &live)
			if live.Seeded || time.Since(t0) > 30*time.Second {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		hotGrids, p := 0, 0
		for code, g := range live.Grids {
			if g.Bin >= 2 {
				hotGrids++
				if slices.Contains(plan.Persistent, code) {
					p++
				}
			}
		}
		t.Logf("%s: seeded %v after %v, %d hot grids, %d of them planted persistent", topic, live.Seeded, time.Since(t0).Round(time.Millisecond), hotGrids, p)
		if !live.Seeded || hotGrids < 5 || p < 3 {
			t.Errorf("%s: seeded %v, %d hot grids, %d planted persistent", topic, live.Seeded, hotGrids, p)
		}
	}

	// The whistle board: open whistles at once, some of them late.
	{
		var board struct {
			Whistles map[string]struct {
				Light string `json:"light"`
			} `json:"whistles"`
			Totals struct {
				Active, Late int
			} `json:"totals"`
		}
		wsSnapshot(t, srv, "whistles:root", &board)
		lights := map[string]int{}
		for _, w := range board.Whistles {
			lights[w.Light]++
		}
		t.Logf("whistle board: %d whistles, totals %+v, lights %v", len(board.Whistles), board.Totals, lights)
		if board.Totals.Active < 5 || lights["red"] == 0 {
			t.Errorf("whistle board at start: totals %+v, lights %v", board.Totals, lights)
		}
	}
	t.Logf("checked %v after start", time.Since(start).Round(time.Millisecond))

	// Every page, opened 30 s after the start as a newcomer would, shows what it is for.
	t.Run("pages", func(t *testing.T) { demoPages(t, srv, start, now) })
}

// demoPage is one page of the demo and what shows that it is populated (a predicate on the
// page's window.__zhili, Z).
type demoPage struct {
	name, path, populated string
	check                 func(t *testing.T, ctx context.Context) // more checks of the page, if any
}

// demoPages opens each page of the demo 30 s after start (or at once when later), waits for it
// to show what it is for, checks it, and writes its screenshot at 1920×1080.
func demoPages(t *testing.T, srv *server, start, now time.Time) {
	browserPrereqs(t)
	loc, _ := time.LoadLocation("Asia/Shanghai")
	y, m, _ := now.In(loc).Date()
	monthStart := time.Date(y, m, 1, 0, 0, 0, 0, loc)
	day := func(t time.Time) string { return t.In(loc).Format("2006-01-02") }
	tok := "token=" + url.QueryEscape(viewToken)
	// 今日新增 as the server counts it (the shared demo has no live feed). In the first hours of
	// the day the history's night-time rate (a case or two an hour) may not have brought
	// today's first case yet: 0 is then the truth; later in the day it is a failure.
	var ov overviewTotals
	wsSnapshot(t, srv, "overview:root", &ov)
	if ov.Totals.NewToday == 0 && now.In(loc).Hour() >= 3 {
		t.Errorf("the demo has no new case today at %s", now.In(loc).Format("15:04"))
	}
	// The history goes on live (a case now and then), so a case may arrive between this
	// snapshot and the page: the page must show at least this count, then the server's count
	// of the moment it is checked.
	newToday := fmt.Sprintf("Z.counters.new_today >= %d", ov.Totals.NewToday)
	// asServer waits until the page's value (js) equals the server's (pick of an overview:root
	// snapshot), reading the server again when the page moved on; it returns that value.
	asServer := func(t *testing.T, ctx context.Context, what, js string, pick func(overviewTotals) int) (int, bool) {
		var want int
		for range 3 {
			var cur overviewTotals
			wsSnapshot(t, srv, "overview:root", &cur)
			want = pick(cur)
			if waitFor(ctx, fmt.Sprintf("%s === %d", js, want), 10*time.Second) == nil {
				return want, true
			}
		}
		t.Errorf("%s on the page %d, the server's %d", what, evalInt(t, ctx, js), want)
		return want, false
	}
	newTodayAsServer := func(t *testing.T, ctx context.Context) {
		asServer(t, ctx, "今日新增", "window.__zhili.counters.new_today", func(o overviewTotals) int { return o.Totals.NewToday })
	}
	// The response rate's dispatches still within their window, as the server counts them, are
	// said under its figure (N 件待签收) and left out of it.
	pendingAsServer := func(t *testing.T, ctx context.Context) {
		n, ok := asServer(t, ctx, "响应率 pending", "window.__zhili.rates.response.pending", func(o overviewTotals) int { return o.RatesPending.Response })
		if !ok {
			return
		}
		// The ring's line against the page's own count, read together (a dispatch may arrive
		// meanwhile); 样本不足 (fewer decided than the minimum sample) takes the line first.
		var ring struct {
			Pending int    `json:"pending"`
			Few     bool   `json:"few"`
			Text    string `json:"text"`
		}
		if err := json.Unmarshal([]byte(evalJS[string](t, ctx, `JSON.stringify({pending: window.__zhili.rates.response.pending,
			few: window.__zhili.rates.response.few,
			text: (e => e.hidden ? '' : e.textContent)(document.querySelector('#rate-response .rate-n'))})`)), &ring); err != nil {
			t.Fatal(err)
		}
		if !ring.Few {
			if want := map[bool]string{true: fmt.Sprintf("%d 件待签收", ring.Pending), false: ""}[ring.Pending > 0]; ring.Text != want {
				t.Errorf("响应率 ring says %q, want %q", ring.Text, want)
			}
		}
		t.Logf("响应率: %d dispatches pending, as the server counts", n)
	}
	hotOK := `!(Z.sufficiency && Z.sufficiency.ok === false) && Z.marks.length >= 5`
	// The window's header ends now, not at the end of its last bucket.
	headerEndsNow := func(t *testing.T, ctx context.Context) {
		end := evalJS[string](t, ctx, `document.getElementById('hs-range').textContent.split(' – ').pop()`)
		clock := evalJS[string](t, ctx, `new Intl.DateTimeFormat('en-CA', {timeZone: 'Asia/Shanghai', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23'}).format(new Date()).replace(', ', ' ').replace('/', '-')`)
		if end > clock {
			t.Errorf("hot spot window header ends at %q, after the clock %q", end, clock)
		}
	}
	// The date fields show the days of the window chosen, also after a switch (and back: the
	// page's screenshot shows the window it was opened with).
	datesFollowWindow := func(t *testing.T, ctx context.Context) {
		for _, w := range []struct {
			button string
			span   time.Duration
		}{{"", 30 * 24 * time.Hour}, {"7d", 7 * 24 * time.Hour}, {"30d", 30 * 24 * time.Hour}} {
			if w.button != "" {
				evalJS[bool](t, ctx, `(document.querySelector('#hs-windows button[data-window="`+w.button+`"]').click(), true)`)
			}
			got := evalJS[[]string](t, ctx, `[document.getElementById('hs-from').value, document.getElementById('hs-to').value]`)
			n := time.Now()
			if want := []string{day(n.Add(-w.span)), day(n)}; !slices.Equal(got, want) {
				t.Errorf("window %v: date fields %v, want %v", w.span, got, want)
			}
		}
		if err := waitFor(ctx, `document.getElementById('hs-range').textContent.startsWith('近30天 · ') && window.__zhili.hot >= 5`, 20*time.Second); err != nil {
			t.Errorf("back to 30 days: %v", err)
		}
	}
	pages := []demoPage{
		{"overview", "/?" + tok,
			`Z.ready && Z.counters.open > 0 && ` + newToday + ` && Z.feed >= 5 &&
			 Z.choropleth.max > 0 && Object.keys(Z.choropleth.values).length >= 10 &&
			 Z.trend.reported.filter(n => n > 0).length >= 14 &&
			 Z.trend.band && Z.trend.band.hi && Z.trend.band.hi.filter((h, i) => h !== null && h >= Z.trend.band.lo[i]).length === 24 &&
			 Z.trend.band.hi.some(h => h > 0)`, func(t *testing.T, ctx context.Context) { newTodayAsServer(t, ctx); pendingAsServer(t, ctx) }},
		{"hotspots-7d", "/screen/hotspots?window=7d&" + tok,
			`Z.ready && Z.view === 'live' && Z.window === '7d' && Z.hot >= 5 && ` + hotOK, headerEndsNow},
		{"hotspots-30d", "/screen/hotspots?window=30d&" + tok,
			`Z.ready && Z.view === 'live' && Z.window === '30d' && Z.hot >= 5 && ` + hotOK, datesFollowWindow},
		{"hotspots-7d-hex", "/screen/hotspots?window=7d&level=hex&" + tok,
			`Z.ready && Z.levelShown === 'hex' && Z.window === '7d' && Z.hot >= 3 && Z.hexDrawn >= 100 && ` + hotOK, nil},
		{"hotspots-emerging", "/screen/hotspots?window=30d&mode=emerging&" + tok,
			`Z.ready && Z.mode === 'emerging' && ` + hotOK + ` &&
			 Object.keys(Z.patternsDrawn).filter(k => /_hot$/.test(k) && Z.patternsDrawn[k] > 0).length >= 2`, nil},
		{"hotspots-playback", "/screen/hotspots?playback=" + day(now.AddDate(0, 0, -14)) + "," + day(now) + "&step=1d&speed=8&" + tok,
			`Z.ready && Z.view === 'playback' && Z.playback && Z.playback.frames === 14 && Z.playback.shown.length >= 4 &&
			 Z.playback.loaded === 14 && !Z.playback.error && Z.hot > 0`, nil},
		{"whistles", "/screen/whistles?" + tok,
			`Z.ready && Z.active >= 5 && Z.board.length >= 3 && Z.markers >= 5`, nil},
		{"audit-last-month", "/audit?from=" + day(monthStart.AddDate(0, -1, 0)) + "&to=" + day(monthStart) + "&" + tok,
			`Z.settled() && Z.rates && Z.rates.units.length >= 5 && Z.rates.units.every(u => u.current.cases > 0) &&
			 Z.whistles && Z.whistles.depts.length >= 3 && document.querySelectorAll('#rates-table tbody tr, table tbody tr').length >= 5`, nil},
	}
	if wait := time.Until(start.Add(30 * time.Second)); wait > 0 {
		time.Sleep(wait)
	}
	for _, p := range pages {
		t.Run("page/"+p.name, func(t *testing.T) {
			base, _ := url.Parse(srv.base)
			guard := &hostGuard{host: base.Hostname()}
			ctx := newBrowserFor(t, guard, 2*time.Minute)
			opened := time.Since(start)
			if err := chromedp.Do(ctx, chromedp.Navigate(srv.base+p.path)); err != nil {
				t.Fatal(err)
			}
			t0 := time.Now()
			if err := waitFor(ctx, `(() => { const Z = window.__zhili; return !!Z && (`+p.populated+`); })()`, 60*time.Second); err != nil {
				t.Fatalf("%s opened %v after start: not populated: %v\nwindow.__zhili = %s", p.name, opened.Round(time.Second), err,
					evalJS[string](t, ctx, `JSON.stringify(window.__zhili, (k, v) => Array.isArray(v) && v.length > 30 ? v.length : v).slice(0, 4000)`))
			}
			t.Logf("%s: opened %v after start, populated %v later", p.name, opened.Round(time.Second), time.Since(t0).Round(time.Millisecond))
			if p.check != nil {
				p.check(t, ctx)
			}
			if errs := evalJS[string](t, ctx, `JSON.stringify(window.__zhili.errors || [])`); errs != "[]" {
				t.Errorf("%s: errors from the server: %s", p.name, errs)
			}
			screenshot(t, ctx, "demo-"+p.name+"-1920x1080.png")
			guard.verify(t)
		})
	}
}

// overviewTotals is the part of the overview:root snapshot the demo's pages are checked against.
type overviewTotals struct {
	Totals struct {
		NewToday int `json:"new_today"`
	} `json:"totals"`
	RatesPending struct {
		Response int `json:"response"`
	} `json:"rates_pending"`
}

// wsSnapshot subscribes topic on a new connection and decodes the data of its snapshot into out.
func wsSnapshot(t *testing.T, srv *server, topic string, out any) {
	t.Helper()
	u, _ := url.Parse(srv.base)
	c, _, err := websocket.DefaultDialer.Dial("ws://"+u.Host+"/ws?token="+url.QueryEscape(viewToken), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.WriteJSON(map[string]any{"op": "sub", "topic": topic}); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	type msg struct {
		Op    string          `json:"op"`
		Topic string          `json:"topic"`
		Data  json.RawMessage `json:"data"`
	}
	for {
		_, b, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("%s: %v", topic, err)
		}
		var ms []msg
		if len(b) > 0 && b[0] == '[' {
			err = json.Unmarshal(b, &ms)
		} else {
			ms = make([]msg, 1)
			err = json.Unmarshal(b, &ms[0])
		}
		if err != nil {
			t.Fatalf("%s: %v: %.200s", topic, err, b)
		}
		for _, m := range ms {
			if m.Op == "snapshot" && m.Topic == topic {
				if err := json.Unmarshal(m.Data, out); err != nil {
					t.Fatalf("%s: %v", topic, err)
				}
				return
			}
		}
	}
}
