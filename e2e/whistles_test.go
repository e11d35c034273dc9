package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// gridPoint returns a grid region of the demo tree and a point inside it (the mean of its
// vertices; the demo grids are convex cells), for a case report with both region and location.
func gridPoint(t *testing.T, srv *server) (string, [2]float64) {
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
	for _, f := range fc.Features {
		if f.Properties.Level != deepest || deepest == 0 {
			continue
		}
		var sx, sy float64
		n := 0
		for v := range f.vertices(t) {
			sx += float64(v[0]) / 1e6
			sy += float64(v[1]) / 1e6
			n++
		}
		if n > 0 {
			return f.Properties.Code, [2]float64{sx / float64(n), sy / float64(n)}
		}
	}
	t.Fatal("the demo region tree has no grid below the root")
	return "", [2]float64{}
}

func TestWhistleScreen(t *testing.T) {
	t.Parallel()
	browserPrereqs(t)
	requirePage(t, "whistles.html")
	srv := startServer(t)
	base, _ := url.Parse(srv.base)
	guard := &hostGuard{host: base.Hostname()}

	// 1. A case and an advance whistle summoning two departments.
	grid, pt := gridPoint(t, srv)
	now := time.Now()
	stamp := now.UnixNano()
	caseID := fmt.Sprintf("E2E-W%d", stamp)
	whistleID := fmt.Sprintf("W-E2E-%d", stamp)
	srv.ingest(t, fmt.Sprintf(
		`{"id":"%[1]s-r","type":"case.reported","case_id":"%[1]s","at":"%[2]s","source":"grid","category":"environment","priority":"normal","region":"%[3]s","location":{"lon":%.6[4]f,"lat":%.6[5]f,"crs":"wgs84"}}`+"\n"+
			`{"id":"%[1]s-b","type":"whistle.blown","case_id":"%[1]s","at":"%[6]s","whistle_id":"%[7]s","whistle_kind":"advance","depts":["county.urban-mgmt","county.eco-env"]}`+"\n",
		caseID, now.Add(-20*time.Minute).Format(time.RFC3339), grid, pt[0], pt[1],
		now.Add(-10*time.Minute).Format(time.RFC3339), whistleID), 2)
	t.Logf("case %s in grid %s at %.5f,%.5f; whistle %s", caseID, grid, pt[0], pt[1], whistleID)

	ctx := newBrowser(t, guard)
	pageURL := srv.base + "/screen/whistles?token=" + url.QueryEscape(viewToken)
	if err := chromedp.Do(ctx, chromedp.Navigate(pageURL)); err != nil {
		t.Fatalf("navigate %s: %v", pageURL, err)
	}
	dump := func() string {
		st, _ := chromedp.Run(ctx, chromedp.Evaluate[[]byte](`JSON.stringify({z: window.__zhili || null,
		  board: (document.getElementById('wh-board') || {}).innerHTML})`))
		return string(st)
	}
	card := `document.querySelector('#wh-board li[data-id="` + whistleID + `"]')`
	ready := `document.body && document.body.dataset.ready === "1" && ` + card + ` !== null &&
	  ` + card + `.querySelectorAll('.wh-dept').length === 2 && window.__zhili.markers >= 1`
	if err := waitFor(ctx, ready, 30*time.Second); err != nil {
		t.Fatalf("the board did not show the whistle with two departments within 30 s: %v\n%s", err, dump())
	}

	type whState struct {
		Title   string            `json:"title"`
		Depts   []string          `json:"depts"`
		Chips   map[string]string `json:"chips"`
		Kind    string            `json:"kind"`
		Town    string            `json:"town"`
		CD      []string          `json:"cd"`
		Totals  map[string]string `json:"totals"`
		Painted int               `json:"painted"`
		Total   int               `json:"total"`
		Stale   bool              `json:"stale"`
		Banner  bool              `json:"banner"`
		Switch  bool              `json:"switchVisible"`
	}
	readWH := `(() => {
	  const li = ` + card + `;
	  const c = document.getElementById('wh-map');
	  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
	  let painted = 0;
	  for (let i = 3; i < d.length; i += 4) if (d[i] > 8) painted++;
	  const chips = {};
	  for (const row of li.querySelectorAll('.wh-dept')) {
	    for (const ch of row.querySelectorAll('.chip')) chips[row.dataset.dept + '/' + ch.dataset.stage] = ch.dataset.light;
	  }
	  const sw = document.getElementById('lang-switch');
	  const tot = (id) => document.querySelector('#' + id + ' b').textContent;
	  return {
	    title: document.getElementById('title').textContent,
	    depts: Array.from(li.querySelectorAll('.wh-dept')).map((r) => r.dataset.dept),
	    chips, kind: li.querySelector('.kind').textContent, town: li.querySelector('.town').textContent,
	    cd: Array.from(li.querySelectorAll('.wh-dept .cd em')).map((e) => e.textContent),
	    totals: {active: tot('total-active'), late: tot('total-late'), resolved: tot('total-resolved')},
	    painted, total: c.width * c.height,
	    stale: !!window.__zhili.stale, banner: !document.getElementById('stale-banner').hidden,
	    switchVisible: !!(sw && sw.offsetParent !== null),
	  };
	})()`
	readState := func() whState {
		st, err := chromedp.Run(ctx, chromedp.Evaluate[whState](readWH))
		if err != nil {
			t.Fatalf("read whistle page: %v", err)
		}
		return st
	}
	st := readState()
	t.Logf("page: title %q, kind %q, town %q, depts %v, chips %v, countdowns %v, totals %v", st.Title, st.Kind, st.Town, st.Depts, st.Chips, st.CD, st.Totals)
	if !strings.Contains(st.Title, "吹哨报到") {
		t.Errorf("title = %q, want 吹哨报到", st.Title)
	}
	if st.Kind != "推进哨" {
		t.Errorf("kind = %q, want 推进哨", st.Kind)
	}
	if st.Town == "" || strings.HasPrefix(grid, st.Town) {
		t.Errorf("township = %q, want a township name", st.Town)
	}
	if len(st.Depts) != 2 || st.Depts[0] != "county.urban-mgmt" || st.Depts[1] != "county.eco-env" {
		t.Errorf("department rows = %v", st.Depts)
	}
	if got := st.Chips["county.urban-mgmt/signed"]; got == "done" || got == "" {
		t.Errorf("signed chip of county.urban-mgmt before the answer = %q", got)
	}
	for _, c := range st.CD {
		if !strings.HasPrefix(c, "剩 ") {
			t.Errorf("countdown %q, want 剩 …", c)
		}
	}
	if st.Totals["active"] != "1" || st.Totals["late"] != "0" {
		t.Errorf("totals = %v, want 1 active, 0 late", st.Totals)
	}
	if st.Stale || st.Banner {
		t.Errorf("after ready: stale=%v banner=%v", st.Stale, st.Banner)
	}
	t.Logf("map canvas: %d of %d pixels painted", st.Painted, st.Total)
	if st.Total == 0 || float64(st.Painted) < 0.05*float64(st.Total) {
		t.Errorf("map canvas nearly empty: %d of %d pixels painted", st.Painted, st.Total)
	}

	// 2. The countdown ticks on the client between messages.
	first := st.CD
	if len(first) == 0 {
		t.Fatalf("no countdown on the department rows\n%s", dump())
	}
	if err := waitFor(ctx, `(() => { const e = `+card+`.querySelector('.wh-dept .cd em'); return e && e.textContent !== `+jsString(first[0])+`; })()`, 5*time.Second); err != nil {
		t.Errorf("the countdown %q did not change within 5 s: %v", first[0], err)
	}

	// 3. An answer: the signed chip turns done within 2 s.
	srv.ingest(t, fmt.Sprintf(`{"id":"%[1]s-a","type":"whistle.answered","case_id":"%[1]s","at":"%[2]s","whistle_id":"%[3]s","dept":"county.urban-mgmt","stage":"signed"}`+"\n",
		caseID, time.Now().Format(time.RFC3339), whistleID), 1)
	posted := time.Now()
	chip := card + `.querySelector('.wh-dept[data-dept="county.urban-mgmt"] .chip[data-stage="signed"]')`
	if err := waitFor(ctx, chip+` && `+chip+`.dataset.light === "done"`, 2*time.Second); err != nil {
		t.Fatalf("the signed chip did not turn done within 2 s of the answer: %v\n%s", err, dump())
	}
	t.Logf("signed chip done %v after the answer", time.Since(posted).Round(time.Millisecond))
	st = readState()
	if got := st.Chips["county.eco-env/signed"]; got == "done" {
		t.Errorf("county.eco-env's signed chip is done without an answer")
	}

	// 4. More whistles: a late emergency whistle goes first, then the tough one (amber, its
	// next deadline in 10 minutes); evaluations fill the score panel.
	var more strings.Builder
	lateID := whistleID + "-late"
	for i, w := range []struct {
		id, kind, depts string
		ago             time.Duration
	}{
		{lateID, "emergency", `["county.public-security","county.emergency"]`, 90 * time.Minute},
		{whistleID + "-tough", "tough", `["county.water","county.housing","county.market-reg"]`, 50 * time.Minute},
	} {
		c := fmt.Sprintf("%s-%d", caseID, i)
		fmt.Fprintf(&more, `{"id":"%[1]s-r","type":"case.reported","case_id":"%[1]s","at":"%[2]s","source":"hotline12345","category":"dispute","priority":"urgent","region":"%[3]s"}`+"\n"+
			`{"id":"%[1]s-b","type":"whistle.blown","case_id":"%[1]s","at":"%[4]s","whistle_id":"%[5]s","whistle_kind":"%[6]s","depts":%[7]s}`+"\n",
			c, now.Add(-w.ago-time.Minute).Format(time.RFC3339), grid, now.Add(-w.ago).Format(time.RFC3339), w.id, w.kind, w.depts)
	}
	fmt.Fprintf(&more, `{"id":"%[1]s-t1","type":"whistle.answered","case_id":"%[1]s-1","at":"%[2]s","whistle_id":"%[3]s-tough","dept":"county.water","stage":"signed"}`+"\n"+
		`{"id":"%[1]s-t2","type":"whistle.evaluated","case_id":"%[1]s-1","at":"%[2]s","whistle_id":"%[3]s-tough","dept":"county.water","score":4}`+"\n"+
		`{"id":"%[1]s-t3","type":"whistle.evaluated","case_id":"%[1]s","at":"%[4]s","whistle_id":"%[3]s","dept":"county.urban-mgmt","score":5}`+"\n",
		caseID, now.Add(-45*time.Minute).Format(time.RFC3339), whistleID, time.Now().Format(time.RFC3339))
	srv.ingest(t, more.String(), 7)
	if err := waitFor(ctx, `window.__zhili.board.join() === `+jsString(lateID+","+whistleID+"-tough,"+whistleID)+
		` && window.__zhili.scores === 2 && window.__zhili.scoresFew === 2 && document.querySelector('#total-late b').textContent === "1"`+
		` && document.getElementById('total-overdue').textContent === '仍超时 1'`, 5*time.Second); err != nil {
		t.Fatalf("the late whistle is not first, or scores/totals missing: %v\n%s", err, dump())
	}
	lateCD, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#wh-board li[data-id=`+jsString(lateID)+`] .wh-dept .cd em').textContent`))
	if err != nil || !strings.HasPrefix(lateCD, "超时 ") {
		t.Errorf("late whistle's countdown = %q (%v), want 超时 …", lateCD, err)
	}
	screenshot(t, ctx, "whistles-1920x1080.png")

	// 5. 3840×2160 kiosk: sharp map, no controls.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(3840, 2160), chromedp.Navigate(pageURL+"&kiosk=1")); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, ready+` && window.__zhili.layout.renderedDpr >= 2`, 30*time.Second); err != nil {
		t.Fatalf("kiosk page at 3840×2160 not ready: %v\n%s", err, dump())
	}
	st = readState()
	if st.Switch {
		t.Error("kiosk mode shows the language switch")
	}
	if float64(st.Painted) < 0.05*float64(st.Total) {
		t.Errorf("map canvas at 3840×2160 nearly empty: %d of %d", st.Painted, st.Total)
	}
	screenshot(t, ctx, "whistles-3840x2160.png")

	// 6. English, with a minimum sample of one evaluation: the departments' mean scores shown
	// and ranked (5 before 4); with the default (10) both said to be too few, above.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1920, 1080), chromedp.Navigate(pageURL+"&lang=en&min_sample=1")); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, ready+` && window.__zhili.scores === 2 && window.__zhili.scoresFew === 0 &&
	  Array.from(document.querySelectorAll('#wh-scores li')).map((li) => li.dataset.dept + ' ' + li.querySelector('b').textContent).join() ===
	  'county.urban-mgmt 5.0,county.water 4.0'`, 30*time.Second); err != nil {
		t.Fatalf("English page with min_sample=1 not ready or scores not ranked: %v\n%s", err, dump())
	}
	st = readState()
	if !strings.Contains(st.Title, "Whistle Board") || st.Kind != "Advance" {
		t.Errorf("English: title %q, kind %q", st.Title, st.Kind)
	}
	screenshot(t, ctx, "whistles-1920x1080-en.png")
	guard.verify(t)
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// boardCounty is a county of the demo city as the whistle board's map sees it: its code, name
// and a point inside it at its label point when that lies inside (else inside one of its grids).
type boardCounty struct {
	Code  string     `json:"code"`
	Name  string     `json:"name"`
	Point [2]float64 `json:"point"`
	AtTag bool       `json:"atLabel"`
}

// whistleMark is a marker of window.__zhili.marks (map pixels).
type whistleMark struct {
	ID    string  `json:"id"`
	Light string  `json:"light"`
	X     float64 `json:"x"`
	Y     float64 `json:"y"`
	R     float64 `json:"r"`
}

// TestWhistleBoardPagesMapLevels: a city board with 23 active whistles, 10 of them late, in
// every county. The board pages through all of them, late first then by the nearest deadline,
// says which of how many it shows and turns the pages by itself in kiosk mode; every card of a
// page is whole. Late markers are drawn over the others and larger, no region name covers a
// late marker, a node or another name; the departments' nodes are named by their level from
// the catalogue (a city's 市直部门 over the map, each county's 县直部门 inside the county; on
// a county's board its own 县直部门 over the map). Durations read 剩 23小时5x分, 超时 1天1小时
// (zh) and 23h 5xm left, 1d 1h overdue (en).
func TestWhistleBoardPagesMapLevels(t *testing.T) {
	t.Parallel()
	browserPrereqs(t)
	requirePage(t, "whistles.html")
	catalogue := filepath.Join(t.TempDir(), "catalog.yaml")
	if err := os.WriteFile(catalogue, []byte("departments:\n"+
		"  - {code: city.housing, zh: 市住建局, en: City Housing, kind: 市直部门, region: \"411500\"}\n"+
		"  - {code: county.urban-mgmt, zh: 城管局, en: Urban Mgmt, kind: 县直部门}\n"+
		"  - {code: county.eco-env, zh: 生态环境局, en: Eco-Environment, kind: 县直部门}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// No alerting: its ticker would take the board's last rows once the late whistles raise
	// alerts, and the pages counted here would change mid-test (TestAlertBurst covers it).
	srv := startServer(t, "--catalog", catalogue, "--alerts-off")
	base, _ := url.Parse(srv.base)
	guard := &hostGuard{host: base.Hostname()}
	ctx := newBrowser(t, guard)
	tok := url.QueryEscape(viewToken)
	cityURL := srv.base + "/screen/whistles?kiosk=1&boardpage=3&token=" + tok
	if err := chromedp.Do(ctx, chromedp.Navigate(cityURL)); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, `document.body && document.body.dataset.ready === "1"`, 30*time.Second); err != nil {
		t.Fatalf("empty board not ready: %v", err)
	}
	// The counties and a point of each where its name would go.
	counties := evalJSAsync[[]boardCounty](t, ctx, `(async () => {
	  const r = await fetch('/api/v1/regions?root=root&depth=-1&token=`+tok+`');
	  const tree = Zhili.map.regionTree(await r.json());
	  const out = [];
	  for (const c of tree.regions.values()) {
	    if (c.level !== 1) continue;
	    let p = Zhili.map.labelPoint(c.geometry);
	    const at = Zhili.map.inGeometry(p, c.geometry);
	    if (!at) {
	      const leaf = Array.from(tree.regions.values()).find((g) => g.level === tree.deepest && g.code.startsWith(c.code));
	      p = Zhili.map.labelPoint(leaf.geometry);
	    }
	    out.push({code: c.code, name: c.name, point: p, atLabel: at});
	  }
	  return out;
	})()`)
	if len(counties) < 5 {
		t.Fatalf("the demo city has %d counties", len(counties))
	}

	// 10 late emergency whistles, one per county at its label point (the first blown 26 h ago),
	// then 13 recent advance whistles: one at the first county's point (green under red), the
	// others beside the points; the city's housing bureau is summoned by every third.
	now := time.Now()
	stamp := now.UnixNano()
	var b strings.Builder
	var ids []string
	late := map[string]bool{}
	n := 0
	add := func(kind string, c boardCounty, dx float64, ago time.Duration, depts string) string {
		n++
		caseID := fmt.Sprintf("E2E-P%d-%02d", stamp, n)
		id := fmt.Sprintf("W-P%d-%02d", stamp, n)
		fmt.Fprintf(&b, `{"id":"%[1]s-r","type":"case.reported","case_id":"%[1]s","at":"%[2]s","source":"grid","category":"environment","priority":"normal","location":{"lon":%.6[3]f,"lat":%.6[4]f,"crs":"wgs84"}}`+"\n"+
			`{"id":"%[1]s-b","type":"whistle.blown","case_id":"%[1]s","at":"%[5]s","whistle_id":"%[6]s","whistle_kind":"%[7]s","depts":%[8]s}`+"\n",
			caseID, now.Add(-ago-time.Minute).Format(time.RFC3339), c.Point[0]+dx, c.Point[1], now.Add(-ago).Format(time.RFC3339), id, kind, depts)
		ids = append(ids, id)
		return id
	}
	lateCounty := map[string]string{}
	for i := range 10 {
		c := counties[i%len(counties)]
		ago := 2*time.Hour + time.Duration(i)*7*time.Minute
		if i == 0 {
			ago = 26 * time.Hour
		}
		depts := `["county.urban-mgmt"]`
		if i%2 == 0 {
			depts = `["county.urban-mgmt","county.eco-env"]`
		}
		id := add("emergency", c, 0, ago, depts)
		late[id] = true
		lateCounty[id] = c.Code
	}
	var fresh []string
	housingCounty := ""
	for i := range 13 {
		c := counties[i%len(counties)]
		dx := 0.12
		if i == 0 {
			dx = 0
		}
		depts := []string{`"county.eco-env"`, `"county.urban-mgmt","county.eco-env"`, `"county.urban-mgmt","county.eco-env","city.housing"`}[i%3]
		if i%3 == 2 && housingCounty == "" {
			housingCounty = c.Code
		}
		fresh = append(fresh, add("advance", c, dx, time.Duration(2+i)*time.Minute, "["+depts+"]"))
	}
	// The first recent whistle's county.eco-env signed: its next clock is contacted, 24 h.
	fmt.Fprintf(&b, `{"id":"%[1]s-a","type":"whistle.answered","case_id":"E2E-P%[2]d-11","at":"%[3]s","whistle_id":"%[1]s","dept":"county.eco-env","stage":"signed"}`+"\n",
		fresh[0], stamp, now.Format(time.RFC3339))
	srv.ingest(t, b.String(), 2*len(ids)+1)
	total := len(ids)

	dump := func() string {
		return evalJS[string](t, ctx, `JSON.stringify(window.__zhili, (k, v) => Array.isArray(v) && v.length > 40 ? v.length : v).slice(0, 4000)`)
	}
	if err := waitFor(ctx, fmt.Sprintf(`window.__zhili.active === %d && window.__zhili.settled()`, total), 15*time.Second); err != nil {
		t.Fatalf("the board did not show %d whistles: %v\n%s", total, err, dump())
	}
	// The expected order: late first, then by the nearest open deadline (the topic's).
	var board struct {
		Whistles map[string]struct {
			Late         bool   `json:"late"`
			NextDeadline string `json:"next_deadline"`
			Blown        string `json:"blown"`
		} `json:"whistles"`
	}
	wsSnapshot(t, srv, "whistles:root", &board)
	want := append([]string(nil), ids...)
	sort.SliceStable(want, func(i, j int) bool {
		a, b := board.Whistles[want[i]], board.Whistles[want[j]]
		if a.Late != b.Late {
			return a.Late
		}
		ta, _ := time.Parse(time.RFC3339, a.NextDeadline)
		tb, _ := time.Parse(time.RFC3339, b.NextDeadline)
		if !ta.Equal(tb) {
			return ta.Before(tb)
		}
		return a.Blown < b.Blown
	})
	for _, id := range ids {
		if board.Whistles[id].Late != late[id] {
			t.Fatalf("whistle %s late = %v in the topic, the fixture meant %v", id, board.Whistles[id].Late, late[id])
		}
	}

	// 1. Pages: each whole, turning every 3 s, together every whistle once, in order.
	type pageView struct {
		Page   int      `json:"page"`
		Pages  int      `json:"pages"`
		IDs    []string `json:"ids"`
		Clip   []string `json:"clipped"`
		Label  string   `json:"label"`
		Shown  string   `json:"shown"`
		Counts []string `json:"counts"`
	}
	readPage := `(() => {
	  const box = document.getElementById('wh-board').getBoundingClientRect();
	  const lis = Array.from(document.querySelectorAll('#wh-board > li'));
	  const pg = document.getElementById('wh-pager') || {hidden: true};
	  const shown = document.getElementById('wh-shown');
	  const p = window.__zhili.page || {};
	  return {
	    page: p.page || 0, pages: p.pages || 0,
	    ids: lis.map((li) => li.dataset.id),
	    clipped: lis.filter((li) => { const r = li.getBoundingClientRect(); return r.height === 0 || r.bottom > box.bottom + 1 || r.top < box.top - 1; }).map((li) => li.dataset.id),
	    label: pg.hidden ? '' : pg.textContent, shown: shown ? shown.textContent : '',
	    counts: Array.from(document.querySelectorAll('#wh-board [data-cd]')).map((e) => e.textContent),
	  };
	})()`
	first := evalJS[pageView](t, ctx, readPage)
	var seen []string
	var counts []string
	if first.Pages < 3 {
		t.Errorf("%d whistles on %d pages (%d cards shown, %q); a 1080-pixel board holds about 5 cards a page", total, first.Pages, len(first.IDs), first.Shown)
		counts = first.Counts
	} else {
		// One full turn from the page after the one showing now: every page in turn, and from
		// the last back to the first.
		views := make([]pageView, first.Pages+1) // by page number
		from := first.Page%first.Pages + 1
		for k := range first.Pages {
			page := (from-1+k)%first.Pages + 1
			if err := waitFor(ctx, fmt.Sprintf(`window.__zhili.page.page === %d`, page), 6*time.Second); err != nil {
				t.Fatalf("page %d/%d did not come within 6 s (3 s a page): %v\n%s", page, first.Pages, err, dump())
			}
			v := evalJS[pageView](t, ctx, readPage)
			t.Logf("%s, %s: %v", v.Label, v.Shown, v.IDs)
			if v.Pages != first.Pages || len(v.IDs) == 0 || len(v.Clip) > 0 {
				t.Errorf("page %d/%d: cards %v, cut off %v", page, v.Pages, v.IDs, v.Clip)
			}
			if want := fmt.Sprintf("第 %d/%d 页", page, first.Pages); v.Label != want {
				t.Errorf("page indicator %q, want %q", v.Label, want)
			}
			views[page] = v
		}
		if from == 1 {
			if err := waitFor(ctx, `window.__zhili.page && window.__zhili.page.page === 1`, 6*time.Second); err != nil {
				t.Errorf("after the last page the board did not turn back to page 1: %v", err)
			}
		}
		for page := 1; page <= first.Pages; page++ {
			v := views[page]
			if want := fmt.Sprintf("第 %d–%d 条 · 共 %d 条", len(seen)+1, len(seen)+len(v.IDs), total); v.Shown != want {
				t.Errorf("page %d: count line %q, want %q", page, v.Shown, want)
			}
			seen = append(seen, v.IDs...)
			counts = append(counts, v.Counts...)
		}
	}
	if strings.Join(seen, ",") != strings.Join(want, ",") {
		t.Errorf("the pages in turn showed\n %v\nwant every whistle once, late first, then by the nearest deadline:\n %v", seen, want)
	}
	// Durations in zh: 小时 for hours, the late one blown 26 h ago a day and more over.
	durRE := regexp.MustCompile(`^(剩|超时) (\d+天\d+小时|\d+小时\d+分|\d+分\d\d秒)$`)
	sawDay, sawHours := false, false
	for _, c := range counts {
		if c == "已全部报到" {
			continue
		}
		if !durRE.MatchString(c) {
			t.Errorf("countdown %q, want 剩/超时 with 天, 小时, 分, 秒", c)
		}
		sawDay = sawDay || regexp.MustCompile(`^超时 1天1小时$`).MatchString(c)
		sawHours = sawHours || regexp.MustCompile(`^剩 23小时\d+分$`).MatchString(c)
	}
	if !sawDay || !sawHours {
		t.Errorf("countdowns %v: want 超时 1天1小时 (blown 26 h ago) and 剩 23小时…分 (contacted due in 24 h)", counts)
	}

	// 2. The map: late markers over and larger than the others, names clear of them.
	type mapView struct {
		Marks  []whistleMark `json:"marks"`
		Pixels []string      `json:"pixels"`
		Names  []struct {
			Name string     `json:"name"`
			Box  [4]float64 `json:"box"`
		} `json:"names"`
		Hubs []struct {
			Kind   string  `json:"kind"`
			Region string  `json:"region"`
			X      float64 `json:"x"`
			Y      float64 `json:"y"`
		} `json:"hubs"`
		Pills  []string     `json:"pills"`
		PillBx [][4]float64 `json:"pillBoxes"`
		Legend string       `json:"legend"`
	}
	readMap := `(() => {
	  const Z = window.__zhili;
	  const wrap = document.getElementById('wh-map-wrap').getBoundingClientRect();
	  const k = Z.layout.scale;
	  const rel = (el) => { const r = el.getBoundingClientRect(); return [(r.left - wrap.left) / k, (r.top - wrap.top) / k, r.width / k, r.height / k]; };
	  const c = document.getElementById('wh-map');
	  const ctx = c.getContext('2d');
	  const d = Z.layout.renderedDpr;
	  const marks = Z.marks || [];
	  return {
	    marks,
	    pixels: marks.map((m) => Array.from(ctx.getImageData(Math.round(m.x * d), Math.round(m.y * d), 1, 1).data).slice(0, 3).join(',')),
	    names: Array.from(document.querySelectorAll('.wh-town')).filter((e) => getComputedStyle(e).visibility !== 'hidden').map((e) => ({name: e.querySelector('b').textContent, box: rel(e)})),
	    hubs: Z.hubs || [],
	    pills: Array.from(document.querySelectorAll('.wh-anchor')).map((e) => e.textContent),
	    pillBoxes: Array.from(document.querySelectorAll('.wh-anchor')).map(rel),
	    legend: document.getElementById('wh-legend').textContent,
	  };
	})()`
	mv := evalJS[mapView](t, ctx, readMap)
	if len(mv.Marks) != total {
		t.Errorf("%d markers on the map, want %d", len(mv.Marks), total)
	}
	lastCalm, firstRed := -1, len(mv.Marks)
	redR, calmR := 0.0, 100.0
	for i, m := range mv.Marks {
		if m.Light == "red" {
			firstRed = min(firstRed, i)
			redR = max(redR, m.R)
			var r, g, bl int
			fmt.Sscanf(mv.Pixels[i], "%d,%d,%d", &r, &g, &bl)
			if r < 200 || g > 120 || bl > 140 {
				t.Errorf("late marker %s at (%.0f, %.0f) is not red on the map: rgb %s", m.ID, m.X, m.Y, mv.Pixels[i])
			}
		} else {
			lastCalm = i
			calmR = min(calmR, m.R)
		}
	}
	if lastCalm > firstRed {
		t.Errorf("a calm marker is drawn after a late one: order %v", mv.Marks)
	}
	if !(calmR < redR*0.7) {
		t.Errorf("calm markers radius %.1f, late %.1f: the late ones should stand out", calmR, redR)
	}
	names := map[string]bool{}
	overlap := func(a [4]float64, x, y, w, h float64) bool {
		return a[0] < x+w && x < a[0]+a[2] && a[1] < y+h && y < a[1]+a[3]
	}
	for i, nm := range mv.Names {
		names[nm.Name] = true
		for _, m := range mv.Marks {
			if m.Light == "red" && overlap(nm.Box, m.X-m.R, m.Y-m.R, 2*m.R, 2*m.R) {
				t.Errorf("the name of %s %v covers late marker %s at (%.0f, %.0f)", nm.Name, nm.Box, m.ID, m.X, m.Y)
			}
		}
		for _, h := range mv.Hubs {
			if overlap(nm.Box, h.X-9, h.Y-9, 18, 18) {
				t.Errorf("the name of %s covers the node of %s %s", nm.Name, h.Region, h.Kind)
			}
		}
		for _, p := range mv.PillBx {
			if overlap(nm.Box, p[0], p[1], p[2], p[3]) {
				t.Errorf("the name of %s covers a node's name", nm.Name)
			}
		}
		for _, o := range mv.Names[i+1:] {
			if overlap(nm.Box, o.Box[0], o.Box[1], o.Box[2], o.Box[3]) {
				t.Errorf("the names of %s and %s overlap", nm.Name, o.Name)
			}
		}
	}
	for _, c := range counties {
		if !names[c.Name] {
			t.Errorf("no name of %s %s on the map", c.Code, c.Name)
		}
	}

	// 3. The nodes by level: the city's housing bureau over the map as 市直部门, the counties'
	// bureaus inside each county; no 县直部门 over a city's map.
	if strings.Join(mv.Pills, ",") != "市直部门" {
		t.Errorf("nodes over the city's map %q, want 市直部门 only", mv.Pills)
	}
	inCounty := map[string]bool{}
	for _, h := range mv.Hubs {
		if h.Region != "" {
			inCounty[h.Region] = true
			if h.Kind != "县直部门" {
				t.Errorf("node in %s named %q, want 县直部门", h.Region, h.Kind)
			}
		}
	}
	for _, c := range lateCounty {
		if !inCounty[c] {
			t.Errorf("no 县直部门 node in county %s (a whistle there summons its 城管局)", c)
		}
	}
	if !strings.Contains(mv.Legend, "县直部门（在各县区）") {
		t.Errorf("legend %q does not explain the nodes in the counties", mv.Legend)
	}
	// The page's own styles leave the title bar whole (a page class once gave the body a
	// button's line height, cutting the title's glyphs).
	if cut := evalJS[string](t, ctx, `(() => { const e = document.getElementById('title'); return e.scrollHeight > e.clientHeight + 1 ? e.scrollHeight + ' > ' + e.clientHeight : ''; })()`); cut != "" {
		t.Errorf("the title is cut: its text is %s pixels high", cut)
	}
	screenshot(t, ctx, "whistles-pages-1920x1080.png")

	// 4. A county's board: its own 县直部门 over the map, the city's 市直部门 beside it.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.base+"/screen/whistles?region="+housingCounty+"&token="+tok)); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, `document.body.dataset.ready === "1" && window.__zhili.active > 0 && window.__zhili.settled()`, 30*time.Second); err != nil {
		t.Fatalf("county board not ready: %v\n%s", err, dump())
	}
	mv = evalJS[mapView](t, ctx, readMap)
	pills := append([]string(nil), mv.Pills...)
	sort.Strings(pills)
	if strings.Join(pills, ",") != "县直部门,市直部门" {
		t.Errorf("nodes over county %s's map %q, want 县直部门 and 市直部门", housingCounty, mv.Pills)
	}
	screenshot(t, ctx, "whistles-county-1920x1080.png")

	// 5. In a wall playlist the screen is loaded again on every visit: the board resumes at the
	// page it was on, so that a short visit does not show page 1 forever.
	playURL := cityURL + "&playlist=whistles,hotspots&interval=3600"
	if err := chromedp.Do(ctx, chromedp.Navigate(playURL)); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, `document.body.dataset.ready === "1" && (window.__zhili.page || {}).page === 3`, 20*time.Second); err != nil {
		t.Fatalf("the playlist's board did not reach page 3: %v\n%s", err, dump())
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(playURL)); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, fmt.Sprintf(`document.body.dataset.ready === "1" && window.__zhili.active === %d`, total), 20*time.Second); err != nil {
		t.Fatalf("the playlist's board not ready again: %v\n%s", err, dump())
	}
	if p := evalJS[int](t, ctx, `window.__zhili.page.page`); p != 3 && p != 4 {
		t.Errorf("the playlist's board came back at page %d, want page 3 where it was (4 after a slow start)", p)
	}

	// 6. English: the same durations and page line in English (pages held for the reading: a
	// slow machine may take longer than a page's time to settle).
	if err := chromedp.Do(ctx, chromedp.Navigate(strings.Replace(cityURL, "boardpage=3", "boardpage=600", 1)+"&lang=en")); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, fmt.Sprintf(`document.body.dataset.ready === "1" && window.__zhili.active === %d && (window.__zhili.page || {}).page === 1 && window.__zhili.settled()`, total), 30*time.Second); err != nil {
		t.Fatalf("English board not ready: %v\n%s", err, dump())
	}
	v := evalJS[pageView](t, ctx, readPage)
	if v.Label != fmt.Sprintf("Page 1/%d", first.Pages) || v.Shown != fmt.Sprintf("1–%d of %d", len(v.IDs), total) {
		t.Errorf("English page line %q %q", v.Label, v.Shown)
	}
	enRE := regexp.MustCompile(`^(\d+d \d+h|\d+h \d+m|\d+m \d\ds) (left|overdue)$`)
	for _, c := range v.Counts {
		if c != "All reported" && !enRE.MatchString(c) {
			t.Errorf("English countdown %q", c)
		}
	}
	if len(v.Counts) == 0 || v.Counts[0] != "1d 1h overdue" {
		t.Errorf("English countdowns %v, want the first 1d 1h overdue", v.Counts)
	}
	if mv := evalJS[mapView](t, ctx, readMap); strings.Join(mv.Pills, ",") != "City departments" {
		t.Errorf("English node over the city's map %q", mv.Pills)
	}
	screenshot(t, ctx, "whistles-pages-1920x1080-en.png")
	guard.verify(t)
}
