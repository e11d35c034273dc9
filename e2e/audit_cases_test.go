package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/chromedp/chromedp"
	"github.com/xuri/excelize/v2"

	"zhili/simulate"
)

// auditJS is s as a JavaScript string literal.
func auditJS(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// auditGet decodes a GET of the API with the viewer token.
func auditGet(t *testing.T, srv *server, path string, q url.Values, out any) {
	t.Helper()
	q.Set("token", viewToken)
	resp, err := httpc.Get(srv.base + path + "?" + q.Encode())
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s?%s: %s %s", path, q.Encode(), resp.Status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
}

// unitCases are the cases of a unit's row as GET /api/v1/audit/cases gives them.
type unitCases struct {
	Total int    `json:"total"`
	Name  string `json:"name"`
	Rows  []struct {
		Case      string `json:"case_id"`
		Responded *bool  `json:"responded"`
		Whistles  []struct {
			Dept    string `json:"dept"`
			ArriveS *int64 `json:"arrive_s"`
		} `json:"whistles"`
	} `json:"rows"`
}

// The evaluator's walk on the demo city's last month: the whistle audit sorted by the slowest
// arrival (到场, 报到), that department's cases (the slowest first, as the API lists them, all of
// its answers over the pages), a case's timeline; under a minute, in practice seconds. Then the
// slow department's response: its cases as many as its row counts, paged, late only; the typed
// XLSX export; the definitions in one language each and whole at 1920×1080; the previous
// period compared at the same age; the quick periods.
func TestAuditCasesWalk(t *testing.T) {
	t.Parallel()
	auditPrereqs(t)
	srv := sharedDemo(t, "90d")
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().In(loc)
	to := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, loc)
	from := to.AddDate(0, -1, 0)
	period := url.Values{"from": {from.Format("2006-01-02")}, "to": {to.Format("2006-01-02")}}

	// The API's view: the department slowest to arrive (its arrival p50, the whistle audit's).
	var wa struct {
		Depts []struct {
			Dept     string `json:"dept"`
			Summoned int    `json:"summoned"`
			Stages   []struct {
				Stage string `json:"stage"`
				P50   int64  `json:"p50_s"`
				P90   int64  `json:"p90_s"`
			} `json:"stages"`
		} `json:"depts"`
		Names map[string]string `json:"names"`
	}
	auditGet(t, srv, "/api/v1/audit/whistles", period, &wa)
	slowest, slowP50, summoned := "", int64(-1), 0
	for _, d := range wa.Depts {
		for _, s := range d.Stages {
			if s.Stage == "arrived" && s.P50 > slowP50 {
				slowest, slowP50, summoned = d.Dept, s.P50, d.Summoned
			}
		}
	}
	if slowest == "" || len(wa.Depts) < 5 || wa.Names[slowest] == "" || wa.Names[slowest] == slowest {
		t.Fatalf("whistle audit of last month: %+v", wa)
	}
	// Its cases over every page: each answer of the department once, the slowest first.
	var answers int
	var seen []string
	for off := 0; ; off += 200 {
		var page unitCases
		auditGet(t, srv, "/api/v1/audit/cases", url.Values{"from": period["from"], "to": period["to"], "audit": {"whistles"},
			"unit": {slowest}, "sort": {"arrive"}, "limit": {"200"}, "offset": {strconv.Itoa(off)}}, &page)
		for _, r := range page.Rows {
			seen = append(seen, r.Case)
			for _, w := range r.Whistles {
				if w.Dept != slowest {
					t.Errorf("case %s of %s lists %s's answer", r.Case, slowest, w.Dept)
				}
				answers++
			}
		}
		if off+200 >= page.Total {
			break
		}
	}
	if answers != summoned || len(seen) == 0 {
		t.Fatalf("%s: its cases hold %d answers in %d cases; the whistle audit: summoned %d", slowest, answers, len(seen), summoned)
	}
	t.Logf("slowest to arrive last month: %s (%s), p50 %.1f h, %d answers in %d cases", slowest, wa.Names[slowest], float64(slowP50)/3600, answers, len(seen))

	base, _ := url.Parse(srv.base)
	guard := &hostGuard{host: base.Hostname()}
	ctx := newBrowser(t, guard)
	pageURL := srv.base + "/audit?token=" + url.QueryEscape(viewToken) + "&" + period.Encode()
	if err := chromedp.Do(ctx, chromedp.Navigate(pageURL)); err != nil {
		t.Fatal(err)
	}
	dump := func() string {
		b, _ := chromedp.Run(ctx, chromedp.Evaluate[[]byte](`JSON.stringify({errors: window.__zhili.errors, err: document.getElementById('au-error').textContent,
		  cases: (document.getElementById('sec-cases') || {}).textContent})`))
		return string(b)
	}
	eval := func(js string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}
	if err := waitFor(ctx, `document.body.dataset.ready === "1" && window.__zhili.settled() && document.querySelectorAll('#whistles-body tr').length >= 5 && document.querySelectorAll('#rates-body tr').length >= 5`, 60*time.Second); err != nil {
		t.Fatalf("page not ready: %v\n%s", err, dump())
	}

	// 1. The walk, timed from the whistle table's header.
	walk := time.Now()
	auditClick(t, ctx, `#whistles-head th[data-key="arrived_p50"]`)
	order := eval(`Array.from(document.querySelectorAll('#whistles-body tr')).map((r) => r.dataset.dept + '=' + r.querySelector('td[data-col="arrived_p50"]').textContent).join(' ')`)
	first := strings.SplitN(strings.Fields(order)[0], "=", 2)[0]
	if first != slowest || eval(`document.querySelector('#whistles-head th[data-key="arrived_p50"]').getAttribute('aria-sort')`) != "descending" {
		t.Fatalf("sorted by arrival p50 (highest first): %s; the API's slowest is %s", order, slowest)
	}
	var prev float64 = 1e18
	for _, f := range strings.Fields(order) {
		v, _ := strconv.ParseFloat(strings.SplitN(f, "=", 2)[1], 64)
		if v > prev {
			t.Errorf("whistle table not sorted by arrival p50: %s", order)
		}
		prev = v
	}
	auditClick(t, ctx, `#whistles-body tr[data-dept=`+auditJS(slowest)+`] td[data-col="arrived_p50"]`)
	if err := waitFor(ctx, `document.getElementById('sec-cases').dataset.open === '1' && document.querySelectorAll('#cases-body tr').length > 0 && window.__zhili.settled()`, 20*time.Second); err != nil {
		t.Fatalf("the department's cases not shown: %v\n%s", err, dump())
	}
	listed := eval(`Array.from(document.querySelectorAll('#cases-body tr')).map((r) => r.dataset.case).join(',')`)
	if n := min(50, len(seen)); listed != strings.Join(seen[:n], ",") {
		t.Errorf("the page lists %s; the API's slowest first: %s", listed, strings.Join(seen[:n], ","))
	}
	title := eval(`document.getElementById('cases-title').textContent + ' | ' + document.getElementById('cases-page').textContent + ' | ' + document.getElementById('cases-sort').value`)
	if !strings.Contains(title, wa.Names[slowest]) || !strings.Contains(title, "吹哨报到") || !strings.Contains(title, fmt.Sprintf("共 %d 件", len(seen))) || !strings.HasSuffix(title, "arrive") {
		t.Errorf("the cases' title, page and sort: %q", title)
	}
	firstCase := strings.Split(listed, ",")[0]
	auditClick(t, ctx, `#cases-body tr[data-case=`+auditJS(firstCase)+`] a[data-case]`)
	if err := waitFor(ctx, `(document.querySelector('#case-panel .au-case-id') || {}).textContent === `+auditJS(firstCase)+` && document.querySelectorAll('#case-panel .au-wclocks tbody tr').length > 0`, 20*time.Second); err != nil {
		t.Fatalf("case %s's timeline not shown: %v\n%s", firstCase, err, dump())
	}
	took := time.Since(walk)
	wclocks := eval(`document.querySelector('#case-panel .au-wclocks').textContent`)
	if !strings.Contains(wclocks, wa.Names[slowest]) {
		t.Errorf("case %s's whistle clocks do not show %s: %q", firstCase, wa.Names[slowest], wclocks)
	}
	if u := eval(`location.search`); !strings.Contains(u, "list=whistles") || !strings.Contains(u, "unit="+url.QueryEscape(slowest)) || !strings.Contains(u, "case="+url.QueryEscape(firstCase)) {
		t.Errorf("the address does not keep the walk: %s", u)
	}
	t.Logf("walk: whistle audit → %s's %d cases → %s's timeline in %v", slowest, len(seen), firstCase, took.Round(time.Millisecond))
	if took > time.Minute {
		t.Errorf("the walk took %v", took)
	}
	eval(`(document.getElementById('sec-cases').scrollIntoView(), '')`)
	screenshot(t, ctx, "audit-cases-walk-1920x1080.png")

	// 2. The slow department's response: its cases, as many as its row counts, the slowest to
	// sign first; the next page; late only.
	slow := simulate.SlowDept
	type unit struct {
		Unit    string `json:"unit"`
		Name    string `json:"name"`
		Current struct {
			Cases    int `json:"cases"`
			Open     int `json:"open"`
			Response struct {
				Num int `json:"num"`
				Den int `json:"den"`
			} `json:"response"`
		} `json:"current"`
	}
	var rates struct {
		PreviousBasis string     `json:"previous_basis"`
		PreviousAsOf  *time.Time `json:"previous_as_of"`
		Units         []unit     `json:"units"`
	}
	auditGet(t, srv, "/api/v1/audit/rates", period, &rates)
	i := slices.IndexFunc(rates.Units, func(u unit) bool { return u.Unit == slow })
	if i < 0 || rates.PreviousBasis != "same_age" || rates.PreviousAsOf == nil {
		t.Fatalf("rates of last month: %+v", rates)
	}
	su := rates.Units[i]
	for _, u := range rates.Units {
		if u.Name == "" || u.Name == u.Unit {
			t.Errorf("the rates reply does not name %s: %q", u.Unit, u.Name)
		}
	}
	auditClick(t, ctx, `#rates-body tr[data-unit=`+auditJS(slow)+`] td[data-col="response"]`)
	want := fmt.Sprintf("第 1–50 件 · 共 %d 件", su.Current.Cases)
	if err := waitFor(ctx, `document.getElementById('cases-page').textContent === `+auditJS(want)+` && document.getElementById('cases-sort').value === 'sign'`, 20*time.Second); err != nil {
		t.Fatalf("%s's cases: want %q: %v\n%s", slow, want, err, dump())
	}
	// Sorted by the time to sign, the slowest (or still waiting) first: the first page answers late.
	late := eval(`String(document.querySelectorAll('#cases-body [data-responded="0"]').length)`)
	if late != "50" {
		t.Errorf("the first page of %s's slowest to sign holds %s late responses of 50", slow, late)
	}
	auditClick(t, ctx, `#cases-next`)
	want2 := fmt.Sprintf("第 51–100 件 · 共 %d 件", su.Current.Cases)
	if err := waitFor(ctx, `document.getElementById('cases-page').textContent === `+auditJS(want2), 20*time.Second); err != nil {
		t.Errorf("next page: %v\n%s", err, dump())
	}
	auditClick(t, ctx, `#cases-late`)
	if err := waitFor(ctx, `document.getElementById('cases-page').textContent.startsWith('第 1–') && window.__zhili.cases && window.__zhili.cases.late_only`, 20*time.Second); err != nil {
		t.Fatalf("late only: %v\n%s", err, dump())
	}
	lateRows := eval(`Array.from(document.querySelectorAll('#cases-body tr')).filter((r) => !r.querySelector('.au-badge-bad')).map((r) => r.dataset.case).join(',')`)
	lateTotal := eval(`String(window.__zhili.cases.total)`)
	if lateRows != "" || lateTotal == fmt.Sprint(su.Current.Cases) {
		t.Errorf("late only: %s of %d listed; rows without a late mark: %q", lateTotal, su.Current.Cases, lateRows)
	}
	if n, _ := strconv.Atoi(lateTotal); n < su.Current.Response.Den-su.Current.Response.Num {
		t.Errorf("late only lists %d cases; %d responded late", n, su.Current.Response.Den-su.Current.Response.Num)
	}
	// The slow department's row: its open cases, the previous period's basis said on the page.
	cell := eval(`document.querySelector('#rates-body tr[data-unit=` + auditJS(slow) + `] td[data-col="cases"]').textContent + ' | ' + document.getElementById('prev-note').textContent`)
	// The page asked a moment before the test did: its cut-off is within a minute of the test's.
	shownAsOf, asOfErr := time.ParseInLocation("2006-01-02 15:04", regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d`).FindString(cell), loc)
	if d := rates.PreviousAsOf.Sub(shownAsOf); asOfErr != nil || d < -time.Minute || d > 2*time.Minute ||
		(su.Current.Open > 0) != strings.Contains(cell, fmt.Sprintf("在办 %d", su.Current.Open)) || !strings.Contains(cell, "同龄") {
		t.Errorf("%s's cases cell and the previous-period note: %q (open %d, as of %v)", slow, cell, su.Current.Open, rates.PreviousAsOf)
	}
	guard.verify(t)

	// 3. The XLSX export of the page: typed cells, every row named.
	href := eval(`document.getElementById('rates-xlsx').getAttribute('href')`)
	resp, err := httpc.Get(srv.base + href)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	f, err := excelize.OpenReader(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("XLSX %s: %v", href, err)
	}
	defer f.Close()
	sheet := f.GetSheetName(0)
	xrows, _ := f.GetRows(sheet)
	top := slices.IndexFunc(xrows, func(r []string) bool { return len(r) > 0 && r[0] == "单位 unit" })
	if top < 0 {
		t.Fatalf("XLSX without its table: %v", xrows)
	}
	col := func(title string) int {
		return slices.IndexFunc(xrows[top], func(h string) bool { return strings.HasPrefix(h, title) })
	}
	nameCol, respCol, p50Col := col("名称 name"), col("响应率 response"), col("办结时长p50")
	checked := 0
	for r := top + 1; r < len(xrows); r++ {
		row := xrows[r]
		if len(row) <= p50Col || row[0] == "" {
			continue
		}
		checked++
		cellAt := func(c int) string { n, _ := excelize.CoordinatesToCellName(c+1, r+1); return n }
		raw, _ := f.GetCellValue(sheet, cellAt(respCol), excelize.Options{RawCellValue: true})
		typ, _ := f.GetCellType(sheet, cellAt(respCol))
		sid, _ := f.GetCellStyle(sheet, cellAt(respCol))
		st, _ := f.GetStyle(sid)
		x, perr := strconv.ParseFloat(raw, 64)
		if row[nameCol] == "" || row[nameCol] == row[0] || perr != nil || x < 0 || x > 1 || typ == excelize.CellTypeSharedString ||
			st.CustomNumFmt == nil || *st.CustomNumFmt != "0.0%" || !regexp.MustCompile(`^\d+\.\d%$`).MatchString(row[respCol]) ||
			!regexp.MustCompile(`^\d+:\d\d$`).MatchString(row[p50Col]) {
			t.Errorf("XLSX row %d: %v (response raw %q, type %v, format %v)", r+1, row, raw, typ, st.CustomNumFmt)
		}
	}
	if checked < 5 {
		t.Errorf("XLSX: %d department rows", checked)
	}

	// 4. Definitions: whole at 1920×1080 and in the page's language only, Chinese then English.
	for _, lang := range []string{"zh", "en"} {
		if lang == "en" {
			auditClick(t, ctx, `#lang-switch`)
			if err := waitFor(ctx, `document.querySelector('#defs dt[data-def="response"]').textContent === 'Response rate'`, 30*time.Second); err != nil {
				t.Fatalf("English definitions: %v", err)
			}
		}
		// Scrolled to, the whole list shows: nothing hidden inside it, its last row inside its card
		// and on the screen below the sticky title bar.
		eval(`(document.getElementById('defs').closest('.au-card').scrollIntoView({block: 'center'}), '')`)
		defs := eval(`(() => {
		  const dl = document.getElementById('defs'), card = dl.closest('.au-card').getBoundingClientRect();
		  const first = dl.firstElementChild.getBoundingClientRect(), last = dl.lastElementChild.getBoundingClientRect();
		  const bar = document.querySelector('.au-sticky').getBoundingClientRect();
		  return JSON.stringify({clipped: dl.scrollHeight > dl.clientHeight + 1 || last.bottom > card.bottom + 0.5 || last.bottom > window.innerHeight + 0.5 || first.top < bar.bottom - 0.5,
		    n: dl.querySelectorAll('dd').length, text: Array.from(dl.querySelectorAll('dd')).map((d) => d.textContent).join(' ')});
		})()`)
		var d struct {
			Clipped bool   `json:"clipped"`
			N       int    `json:"n"`
			Text    string `json:"text"`
		}
		_ = json.Unmarshal([]byte(defs), &d)
		han := strings.IndexFunc(d.Text, func(r rune) bool { return unicode.Is(unicode.Han, r) }) >= 0
		latin := regexp.MustCompile(`[A-Za-z]{2,}`).FindString(d.Text)
		if d.Clipped || d.N < 10 || lang == "zh" && latin != "" || lang == "en" && han {
			t.Errorf("%s definitions: clipped %v, %d shown, latin %q, Chinese %v: %s", lang, d.Clipped, d.N, latin, han, d.Text)
		}
		screenshot(t, ctx, "audit-defs-"+lang+"-1920x1080.png")
	}
	auditClick(t, ctx, `#lang-switch`)

	// 5. By region: the whistle audit names its townships' counties, sorts with the 未定位 row
	// last in both directions, and a region's row lists the region's cases.
	if err := chromedp.Do(ctx, chromedp.Navigate(pageURL+"&by=region")); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, `document.body.dataset.ready === "1" && window.__zhili.settled() && document.querySelectorAll('#whistles-body tr').length >= 5`, 60*time.Second); err != nil {
		t.Fatalf("by region: %v\n%s", err, dump())
	}
	unnamed := eval(`Array.from(document.querySelectorAll('#whistles-body tr')).filter((r) => r.dataset.dept !== '' && !/\p{Script=Han}/u.test(r.querySelector('td[data-col="dept"]').textContent)).map((r) => r.dataset.dept).join(',')`)
	if unnamed != "" {
		t.Errorf("by region, whistle rows without a name: %s", unnamed)
	}
	for range 2 {
		auditClick(t, ctx, `#whistles-head th[data-key="on_time"]`)
		rows := eval(`Array.from(document.querySelectorAll('#whistles-body tr')).map((r) => r.dataset.dept).join(',')`)
		if strings.Contains(rows, ",,") || strings.HasPrefix(rows, ",") {
			t.Errorf("by region, sorted by on time: the 未定位 row is not last: %q", rows)
		}
	}
	region := eval(`document.querySelector('#rates-body tr[data-unit]:not([data-unit=""])').dataset.unit`)
	nCases := eval(`document.querySelector('#rates-body tr[data-unit="' + ` + auditJS(region) + ` + '"] td[data-col="cases"] > div').textContent`)
	auditClick(t, ctx, `#rates-body tr[data-unit=`+auditJS(region)+`] td[data-col="unit"]`)
	if err := waitFor(ctx, `window.__zhili.cases && window.__zhili.cases.unit === `+auditJS(region)+` && String(window.__zhili.cases.total) === `+auditJS(nCases), 20*time.Second); err != nil {
		t.Errorf("region %s's cases: want %s: %v\n%s", region, nCases, err, dump())
	}

	// 6. Quick periods: from a 7-day period, 近30天 fills the boxes with the last 30 days and
	// queries them.
	week := url.Values{"from": {now.AddDate(0, 0, -6).Format("2006-01-02")}, "to": {now.AddDate(0, 0, 1).Format("2006-01-02")}}
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.base+"/audit?token="+url.QueryEscape(viewToken)+"&"+week.Encode())); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, `document.body.dataset.ready === "1" && window.__zhili.settled()`, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	auditClick(t, ctx, `[data-quick="30d"]`)
	want30 := now.AddDate(0, 0, -29).Format("2006-01-02") + " " + now.AddDate(0, 0, 1).Format("2006-01-02")
	if err := waitFor(ctx, `document.getElementById('f-from').value + ' ' + document.getElementById('f-to').value === `+auditJS(want30)+
		` && window.__zhili.rates && window.__zhili.rates.from.startsWith(`+auditJS(want30[:10])+`) && document.querySelector('[data-quick="30d"]').getAttribute('aria-pressed') === 'true'`, 20*time.Second); err != nil {
		got := eval(`document.getElementById('f-from').value + ' ' + document.getElementById('f-to').value + ' ' + (window.__zhili.rates || {}).from`)
		t.Errorf("近30天: boxes and query %q, want %s: %v", got, want30, err)
	}
	guard.verify(t)
}
