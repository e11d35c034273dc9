package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"zhili/assets"
)

// gridPoint returns a grid region of the demo tree and a point inside it (the mean of its
// vertices; the demo grids are convex cells), for a case report with both region and location.
func gridPoint(t *testing.T, srv *server) (string, [2]float64) {
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
	if f, err := assets.Files().Open("whistles.html"); err != nil {
		skipOrFail(t, "front-end built without whistles.html: run `npm run build` in assets/")
	} else {
		_ = f.Close()
	}
	srv := startServer(t, buildBinary(t))
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
		` && window.__zhili.scores === 2 && document.querySelector('#total-late b').textContent === "1"`, 5*time.Second); err != nil {
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

	// 6. English.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1920, 1080), chromedp.Navigate(pageURL+"&lang=en")); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, ready, 30*time.Second); err != nil {
		t.Fatalf("English page not ready: %v", err)
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
