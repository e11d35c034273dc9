package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"zhili/assets"
)

// auditPageFixture posts the hand-checked fixture of internal/app/audit_test.go through the ingest
// API: four cases reported two days ago (Asia/Shanghai), three for department A (c1 closed
// satisfied; c2 signed late, closed unsatisfied and reopened; c3 a repeat of c1, only
// dispatched) and one for B (c4, closed basically satisfied), and a whistle on c1 with one
// answer. It returns the day's date and the day after (the period [from, to)).
func auditPageFixture(t *testing.T, srv *server) (from, to string) {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatalf("time zone: %v", err)
	}
	day := time.Now().In(loc).AddDate(0, 0, -2)
	at := func(h, m int) string {
		return time.Date(day.Year(), day.Month(), day.Day(), h, m, 0, 0, loc).Format(time.RFC3339)
	}
	// A township of the demo tree (level 1).
	resp, err := http.Get(srv.base + "/api/v1/regions?root=root&depth=1&token=" + url.QueryEscape(viewToken))
	if err != nil {
		t.Fatalf("GET /api/v1/regions: %v", err)
	}
	var fc struct {
		Features []regionFeature `json:"features"`
	}
	err = json.NewDecoder(resp.Body).Decode(&fc)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("decode regions: %v", err)
	}
	town := ""
	for _, f := range fc.Features {
		if f.Properties.Level == 1 {
			town = f.Properties.Code
			break
		}
	}
	if town == "" {
		t.Fatalf("the demo region tree has no township: %d features", len(fc.Features))
	}
	rep := func(id string, h int) string {
		addr := ""
		if id == "c1" || id == "c3" {
			addr = `,"address":"幸福路 8号"` // c3 repeats c1: the same place and category two hours later
		}
		return `{"id":"` + id + `r","type":"case.reported","case_id":"` + id + `","at":"` + at(h, 0) + `","source":"grid","category":"environment","region":"` + town + `"` + addr + `}`
	}
	lines := []string{
		rep("c1", 8), `{"id":"c1d","type":"case.dispatched","case_id":"c1","at":"` + at(8, 10) + `","dept":"A","deadline":"` + at(18, 0) + `"}`,
		`{"id":"c1s","type":"case.signed","case_id":"c1","at":"` + at(9, 0) + `","dept":"A"}`,
		`{"id":"c1v","type":"case.resolved","case_id":"c1","at":"` + at(12, 0) + `"}`,
		`{"id":"c1c","type":"case.closed","case_id":"c1","at":"` + at(13, 0) + `","satisfaction":"satisfied"}`,
		rep("c2", 9), `{"id":"c2d","type":"case.dispatched","case_id":"c2","at":"` + at(9, 5) + `","dept":"A","deadline":"` + at(10, 0) + `"}`,
		`{"id":"c2s","type":"case.signed","case_id":"c2","at":"` + at(12, 0) + `","dept":"A"}`,
		`{"id":"c2v","type":"case.resolved","case_id":"c2","at":"` + at(11, 0) + `"}`,
		`{"id":"c2c","type":"case.closed","case_id":"c2","at":"` + at(14, 0) + `","satisfaction":"unsatisfied"}`,
		`{"id":"c2o","type":"case.reopened","case_id":"c2","at":"` + at(15, 0) + `"}`,
		rep("c3", 10), `{"id":"c3d","type":"case.dispatched","case_id":"c3","at":"` + at(10, 10) + `","dept":"A","deadline":"` + at(20, 0) + `"}`,
		rep("c4", 8), `{"id":"c4d","type":"case.dispatched","case_id":"c4","at":"` + at(8, 10) + `","dept":"B","deadline":"` + at(20, 0) + `"}`,
		`{"id":"c4s","type":"case.signed","case_id":"c4","at":"` + at(8, 30) + `","dept":"B"}`,
		`{"id":"c4v","type":"case.resolved","case_id":"c4","at":"` + at(9, 0) + `"}`,
		`{"id":"c4c","type":"case.closed","case_id":"c4","at":"` + at(10, 0) + `","satisfaction":"basically"}`,
		`{"id":"w1","type":"whistle.blown","case_id":"c1","at":"` + at(10, 0) + `","whistle_id":"W1","whistle_kind":"advance","depts":["X","Y"]}`,
		`{"id":"w2","type":"whistle.answered","case_id":"c1","at":"` + at(10, 30) + `","whistle_id":"W1","dept":"X","stage":"signed"}`,
	}
	srv.ingest(t, strings.Join(lines, "\n")+"\n", len(lines))
	from, to = day.Format("2006-01-02"), day.AddDate(0, 0, 1).Format("2006-01-02")

	// Ingest is acknowledged before the events are stored: wait until the audit sees them all.
	q := srv.base + "/api/v1/audit/whistles?token=" + url.QueryEscape(viewToken) + "&from=" + from + "&to=" + to
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n struct {
			Whistles int `json:"whistles"`
		}
		var rr struct {
			Cases int `json:"cases"`
		}
		if resp, err := http.Get(q); err == nil {
			_ = json.NewDecoder(resp.Body).Decode(&n)
			resp.Body.Close()
		}
		if resp, err := http.Get(strings.Replace(q, "/whistles?", "/rates?", 1)); err == nil {
			_ = json.NewDecoder(resp.Body).Decode(&rr)
			resp.Body.Close()
		}
		if n.Whistles == 1 && rr.Cases == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the audit did not see the fixture within 30 s: %d cases, %d whistles", rr.Cases, n.Whistles)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return from, to
}

func TestAuditPage(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	chromium := findChromium(t)
	if !assets.Built() {
		skipOrFail(t, "front-end not built: run `npm ci && npm run build` in assets/")
	}
	if f, err := assets.Files().Open("audit.html"); err != nil {
		skipOrFail(t, "front-end built without audit.html: run `npm run build` in assets/")
	} else {
		f.Close()
	}
	srv := startServer(t, buildBinary(t))
	base, _ := url.Parse(srv.base)
	guard := &hostGuard{host: base.Hostname()}
	from, to := auditPageFixture(t, srv)

	ctx := newBrowser(t, chromium, guard)
	pageURL := srv.base + "/audit?token=" + url.QueryEscape(viewToken) + "&from=" + from + "&to=" + to + "&min_sample=2"
	if err := chromedp.Do(ctx, chromedp.Navigate(pageURL)); err != nil {
		t.Fatalf("navigate %s: %v", pageURL, err)
	}
	dump := func() string {
		st, _ := chromedp.Run(ctx, chromedp.Evaluate[[]byte](`JSON.stringify({errors: (window.__zhili || {}).errors,
		  banner: document.getElementById('au-error') && document.getElementById('au-error').textContent,
		  rows: Array.from(document.querySelectorAll('#rates-body tr')).map((r) => r.textContent), casePanel: (document.getElementById('case-panel') || {}).textContent})`))
		return string(st)
	}

	// 1. The rates table: A with a 33.3 % response rate, B with the insufficient-sample badge.
	const ratesReady = `(() => {
	  const a = document.querySelector('#rates-body tr[data-unit="A"] td[data-col="response"]');
	  const b = document.querySelector('#rates-body tr[data-unit="B"] td[data-col="response"]');
	  return !!(a && b && a.textContent.includes('33.3%') && b.querySelector('[data-insufficient]'));
	})()`
	if err := waitFor(ctx, ratesReady, 30*time.Second); err != nil {
		t.Fatalf("rates table not shown within 30 s: %v\n%s", err, dump())
	}
	type ratesState struct {
		Units    []string `json:"units"`
		BRank    string   `json:"bRank"`
		ARank    string   `json:"aRank"`
		Banner   bool     `json:"banner"`
		Defs     int      `json:"defs"`
		Repeats  []string `json:"repeats"`
		Whistles []string `json:"whistles"`
		XLSX     string   `json:"xlsx"`
		CSV      string   `json:"csv"`
		Chart    int      `json:"chart"`
	}
	const readRates = `(() => {
	  const cell = (u, c) => (document.querySelector('#rates-body tr[data-unit="' + u + '"] td[data-col="' + c + '"]') || {}).textContent || '';
	  return {
	    units: Array.from(document.querySelectorAll('#rates-body tr')).map((r) => r.dataset.unit),
	    aRank: cell('A', 'response'), bRank: cell('B', 'response'),
	    banner: !document.getElementById('au-error').hidden,
	    defs: document.querySelectorAll('#defs dt').length,
	    repeats: Array.from(document.querySelectorAll('#repeats-body tr')).map((r) => r.textContent),
	    whistles: Array.from(document.querySelectorAll('#whistles-body tr')).map((r) => r.dataset.dept),
	    xlsx: document.getElementById('rates-xlsx').getAttribute('href'),
	    csv: document.getElementById('rates-csv').getAttribute('href'),
	    chart: document.querySelectorAll('#rates-chart canvas').length,
	  };
	})()`
	st, err := chromedp.Run(ctx, chromedp.Evaluate[ratesState](readRates))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rates page: units %v, A %q, B %q, %d definitions, repeats %q, whistle units %v", st.Units, st.ARank, st.BRank, st.Defs, st.Repeats, st.Whistles)
	if len(st.Units) != 2 || st.Units[0] != "A" || st.Units[1] != "B" {
		t.Errorf("units = %v, want [A B] in the API's order", st.Units)
	}
	if !strings.Contains(st.ARank, "第1名") {
		t.Errorf("A's response cell %q has no rank 第1名", st.ARank)
	}
	if !strings.Contains(st.BRank, "样本不足") || strings.Contains(st.BRank, "第") {
		t.Errorf("B's response cell %q: want 样本不足 and no rank", st.BRank)
	}
	if st.Banner {
		t.Errorf("error banner shown: %s", dump())
	}
	if st.Defs < 4 {
		t.Errorf("%d definitions shown, want the reply's (8)", st.Defs)
	}
	if len(st.Repeats) != 1 || !strings.Contains(st.Repeats[0], "c3") || !strings.Contains(st.Repeats[0], "c1") {
		t.Errorf("repeats = %q, want c3 → c1", st.Repeats)
	}
	if len(st.Whistles) != 2 {
		t.Errorf("whistle audit rows = %v, want X and Y", st.Whistles)
	}
	if st.Chart == 0 {
		t.Error("no chart canvas")
	}

	// 2. Sorting: the cases column, highest first (A 3, B 1), then lowest first (B, A).
	click := func(sel string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(document.querySelector(`+"`"+sel+"`"+`).click(), true)`)); err != nil {
			t.Fatalf("click %s: %v", sel, err)
		}
	}
	click(`#rates-head th[data-key="cases"]`)
	click(`#rates-head th[data-key="cases"]`)
	if err := waitFor(ctx, `Array.from(document.querySelectorAll('#rates-body tr')).map((r) => r.dataset.unit).join() === 'B,A'`, 5*time.Second); err != nil {
		t.Errorf("after sorting by cases ascending the order is not B, A: %v\n%s", err, dump())
	}
	// Insufficient samples sort last in both directions: by response rate, B (100 %, one case) stays after A.
	for i := 0; i < 2; i++ {
		click(`#rates-head th[data-key="response"]`)
		if err := waitFor(ctx, `Array.from(document.querySelectorAll('#rates-body tr')).map((r) => r.dataset.unit).join() === 'A,B'`, 5*time.Second); err != nil {
			t.Errorf("sorting by response (click %d): B with an insufficient sample is not last: %v\n%s", i+1, err, dump())
		}
	}

	// 3. The XLSX export link answers the spreadsheet.
	for _, c := range []struct{ href, ctype string }{{st.XLSX, "spreadsheetml"}, {st.CSV, "text/csv"}} {
		if !strings.HasPrefix(c.href, "/api/v1/audit/rates?") || !strings.Contains(c.href, "token=") {
			t.Errorf("export link %q", c.href)
			continue
		}
		resp, err := http.Get(srv.base + c.href)
		if err != nil {
			t.Fatalf("GET %s: %v", c.href, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Logf("export %s: %s %s, %d bytes", c.href, resp.Status, resp.Header.Get("Content-Type"), len(body))
		if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), c.ctype) || len(body) == 0 {
			t.Errorf("export %s: %s %q", c.href, resp.Status, resp.Header.Get("Content-Type"))
		}
	}

	// 4. A case's timeline from the repeat link: c1, with its five steps, its clock and its whistle.
	click(`#repeats-body a[data-case="c1"]`)
	if err := waitFor(ctx, `document.querySelectorAll('#case-panel .au-steps tbody tr').length === 5`, 10*time.Second); err != nil {
		t.Fatalf("c1's timeline not shown: %v\n%s", err, dump())
	}
	tl, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]any](`({
	  steps: Array.from(document.querySelectorAll('#case-panel .au-steps tbody tr')).map((r) => r.dataset.step),
	  whistles: document.querySelectorAll('#case-panel .au-wclocks tbody tr').length,
	  clocks: document.querySelectorAll('#case-panel .au-clocks tbody tr').length,
	  url: location.search,
	})`))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("c1 timeline: %v", tl)
	if tl["whistles"].(float64) < 2 || tl["clocks"].(float64) != 1 || !strings.Contains(tl["url"].(string), "case=c1") {
		t.Errorf("c1 timeline: %v", tl)
	}
	// Typing a case id: c2's signing after its resolution is an illegal step, highlighted with its reason.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(document.getElementById('case-id').value = 'c2', document.getElementById('case-form').requestSubmit(), true)`)); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, `document.querySelectorAll('#case-panel .au-steps tr.au-illegal').length >= 1 && document.querySelector('#case-panel .au-case-id').textContent === 'c2'`, 10*time.Second); err != nil {
		t.Fatalf("c2's illegal steps not highlighted: %v\n%s", err, dump())
	}
	illegal, _ := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('#case-panel .au-steps tr.au-illegal')).map((r) => r.textContent)`))
	flags, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#case-panel .au-flags').textContent`))
	t.Logf("c2 illegal steps %q, flags %q", illegal, flags)
	if !strings.Contains(strings.Join(illegal, " "), "resolved → signed") || !strings.Contains(flags, "结案后重启") {
		t.Errorf("c2: illegal steps %q, flags %q", illegal, flags)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(window.scrollTo(0, 0), true)`)); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "audit-1920x1080.png")
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(document.getElementById('sec-case').scrollIntoView(), true)`)); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "audit-1920x1080-case.png")

	// 5. English, dark.
	if err := chromedp.Do(ctx, chromedp.Navigate(pageURL+"&lang=en&theme=dark&case=c1")); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, ratesReady+` && document.querySelectorAll('#case-panel .au-steps tbody tr').length === 5`, 30*time.Second); err != nil {
		t.Fatalf("English page not ready: %v\n%s", err, dump())
	}
	en, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#rates-body tr[data-unit="B"] td[data-col="response"]').textContent + ' | ' + document.getElementById('f-query').textContent`))
	if !strings.Contains(en, "insufficient sample") || !strings.Contains(en, "Query") {
		t.Errorf("English page: %q", en)
	}
	screenshot(t, ctx, "audit-1920x1080-en-dark.png")

	// 6. An error from the API is shown with its message: from after to.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.base+"/audit?token="+url.QueryEscape(viewToken)+"&from="+to+"&to="+from)); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, `document.body.dataset.ready === "1" && !document.getElementById('au-error').hidden`, 15*time.Second); err != nil {
		t.Fatalf("no error banner for from > to: %v\n%s", err, dump())
	}
	banner, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('au-error').textContent`))
	t.Logf("error banner: %q", banner)
	if !strings.Contains(banner, "from must be before to") {
		t.Errorf("error banner %q does not carry the API's message", banner)
	}
	guard.verify(t)
}
