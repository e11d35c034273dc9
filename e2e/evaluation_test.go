package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/xuri/excelize/v2"
)

// TestEvaluationPage: the evaluators' page on the demo city (its roster and this quarter's
// survey records). The 红黑榜 of the township party secretaries is full at once, unranked
// subjects say why; a portrait whose served citizens are too few shows 样本不足 in that row and
// no number; the radar has the peer median beside the subject, the trend and the peers'
// distribution are drawn with the subject marked; the drill opens the audit on the subject's
// unit with its cases; the list exports as XLSX with numbers as numbers. In Chinese and in
// English, with a screenshot of each.
func TestEvaluationPage(t *testing.T) {
	t.Parallel()
	start := time.Now()
	browserPrereqs(t)
	requirePage(t, "evaluation.html")
	srv := sharedDemo(t, "90d")

	// This quarter in the deployment's zone (the demo rates every quarter its history covers).
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().In(loc)
	quarter := func(t time.Time) string { return t.Format("2006") + "-Q" + string(rune('1'+(int(t.Month())-1)/3)) }
	period := quarter(now)
	const group = "乡镇党委书记"

	get := func(path string, q url.Values, out any) []byte {
		t.Helper()
		q.Set("token", viewToken)
		resp, err := httpc.Get(srv.base + path + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s?%s: %s %s", path, q.Encode(), resp.Status, b)
		}
		if out != nil {
			if err := json.Unmarshal(b, out); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
		}
		return b
	}
	type entry struct {
		Subject string   `json:"subject"`
		Region  string   `json:"region"`
		Rank    *int     `json:"rank"`
		Missing []string `json:"missing"`
	}
	var rk struct {
		Ranking struct {
			Ranked, Red, Black, Unranked []entry
		} `json:"ranking"`
		Groups []struct {
			PeerGroup string `json:"peer_group"`
		} `json:"groups"`
	}
	get("/api/v1/evaluation/rankings", url.Values{"post_type": {group}, "period": {period}}, &rk)
	if len(rk.Ranking.Ranked) < 20 || len(rk.Ranking.Red) == 0 || len(rk.Ranking.Black) == 0 || len(rk.Groups) < 3 {
		t.Fatalf("rankings of %s %s: %d ranked, %d red, %d black, %d groups", group, period, len(rk.Ranking.Ranked),
			len(rk.Ranking.Red), len(rk.Ranking.Black), len(rk.Groups))
	}
	// A ranked subject with a type of too few raters (the demo gives about one cadre in eight
	// only two served citizens).
	subject, region := "", ""
	for _, e := range rk.Ranking.Ranked[:min(40, len(rk.Ranking.Ranked))] {
		var p struct {
			Evaluation struct {
				Survey struct {
					Types []struct {
						Sample string `json:"sample"`
					} `json:"types"`
				} `json:"survey"`
			} `json:"evaluation"`
		}
		get("/api/v1/evaluation/portraits", url.Values{"subject": {e.Subject}, "period": {period}, "trend": {"1"}}, &p)
		for _, ty := range p.Evaluation.Survey.Types {
			if ty.Sample == "insufficient" {
				subject, region = e.Subject, e.Region
			}
		}
		if subject != "" {
			break
		}
	}
	if subject == "" {
		t.Fatal("no ranked subject among the first 40 with an evaluator type of too few raters")
	}

	// A quarter begun over 100 days ago began before the demo's history (90 days): its ranking
	// and its export say what 实绩 misses.
	earlyQ := quarter(now.AddDate(0, 0, -100))
	var cov struct {
		DataCover *struct {
			MissingDays float64           `json:"missing_days"`
			Note        map[string]string `json:"note"`
		} `json:"data_cover"`
	}
	get("/api/v1/evaluation/rankings", url.Values{"post_type": {group}, "period": {earlyQ}}, &cov)
	if c := cov.DataCover; c == nil || c.MissingDays <= 0 || !strings.Contains(c.Note["zh"], "历史数据始于") && !strings.Contains(c.Note["zh"], "历史数据起点") {
		t.Errorf("%s began before the history: data_cover %+v", earlyQ, c)
	}
	if x, err := excelize.OpenReader(strings.NewReader(string(get("/api/v1/evaluation/rankings",
		url.Values{"post_type": {group}, "period": {earlyQ}, "format": {"xlsx"}}, nil)))); err != nil {
		t.Errorf("XLSX of %s: %v", earlyQ, err)
	} else if rows, _ := x.GetRows(x.GetSheetName(0)); !slices.ContainsFunc(rows, func(r []string) bool { return len(r) > 0 && strings.HasPrefix(r[0], "历史数据 history") }) {
		t.Errorf("the export of %s does not say the history begins within it", earlyQ)
	}

	// The export: numbers as numbers, the unranked listed with 样本不足.
	b := get("/api/v1/evaluation/rankings", url.Values{"post_type": {group}, "period": {period}, "format": {"xlsx"}}, nil)
	f, err := excelize.OpenReader(strings.NewReader(string(b)))
	if err != nil {
		t.Fatalf("XLSX: %v", err)
	}
	sheet := f.GetSheetName(0)
	rows, _ := f.GetRows(sheet)
	top := -1
	for i, r := range rows {
		if len(r) > 0 && r[0] == "名次 rank" {
			top = i
			break
		}
	}
	if top < 0 || len(rows) < top+1+len(rk.Ranking.Ranked)+len(rk.Ranking.Unranked) {
		t.Fatalf("XLSX rows: header at %d, %d rows", top, len(rows))
	}
	// The rank and the composite, found by their headers.
	i := slices.Index(rows[top], "综合得分 composite")
	if i < 0 {
		t.Fatalf("XLSX header %q has no composite", rows[top])
	}
	compCol, _ := excelize.ColumnNumberToName(i + 1)
	for _, col := range []string{"A", compCol} {
		c := col + strconv.Itoa(top+2)
		if typ, _ := f.GetCellType(sheet, c); typ != excelize.CellTypeNumber && typ != excelize.CellTypeUnset {
			t.Errorf("XLSX %s is %v, want a number", c, typ)
		}
	}
	if v, _ := f.GetCellValue(sheet, "A"+strconv.Itoa(top+2+len(rk.Ranking.Ranked))); !strings.Contains(v, "样本不足") {
		t.Errorf("the first unranked row's rank: %q", v)
	}
	f.Close()

	base, _ := url.Parse(srv.base)
	guard := &hostGuard{host: base.Hostname()}
	// Two languages of a 90-day portrait: bounded at 5 minutes for a machine busy with the
	// other tests.
	ctx := newBrowserFor(t, guard, 5*time.Minute)
	eval := func(js string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}
	for _, lang := range []string{"zh", "en"} {
		q := url.Values{"token": {viewToken}, "lang": {lang}, "period": {period}, "post_type": {group}, "subject": {subject}}
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.base+"/evaluation?"+q.Encode())); err != nil {
			t.Fatal(err)
		}
		if err := waitFor(ctx, `document.body.dataset.ready === "1" && window.__zhili.settled() && window.__zhili.portrait`, 2*time.Minute); err != nil {
			t.Fatalf("%s: page not ready: %v\n%s", lang, err, eval(`JSON.stringify({ready: document.body.dataset.ready,
			  settled: !!(window.__zhili && window.__zhili.settled()), portrait: !!(window.__zhili && window.__zhili.portrait),
			  errors: window.__zhili && window.__zhili.errors})`))
		}
		var st struct {
			Errors               []any
			Red, Black, Ranked   int
			Unranked, UnrankedNA int
			Radar                struct {
				Me, Median []any
			}
			Trend      struct{ Periods, Composites, Partial int }
			TrendCover string
			Dist       struct {
				Bins, Subjects int
				Marked         bool
			}
			Matrix, Head string
			Drill        string
			Lang         string
		}
		js := `JSON.stringify({errors: __zhili.errors, red: document.querySelectorAll('#red-list li[data-subject]').length,
		  black: document.querySelectorAll('#black-list li[data-subject]').length, ranked: document.querySelectorAll('#ranked-body tr').length,
		  unranked: document.querySelectorAll('#unranked-body tr').length,
		  unrankedNA: Array.from(document.querySelectorAll('#unranked-body tr')).filter((r) => r.querySelector('.ev-na')).length,
		  radar: __zhili.drawn.radar, trend: __zhili.drawn.trend, dist: __zhili.drawn.dist, trendCover: document.getElementById('trend-cover').innerText,
		  matrix: document.getElementById('matrix-body').innerText, head: document.querySelector('.ev-head-card').innerText,
		  drill: document.getElementById('drill-late').href, lang: document.documentElement.lang})`
		if err := json.Unmarshal([]byte(eval(js)), &st); err != nil {
			t.Fatal(err)
		}
		na := map[string]string{"zh": "样本不足", "en": "insufficient sample"}[lang]
		if len(st.Errors) > 0 || st.Red != len(rk.Ranking.Red) || st.Black != len(rk.Ranking.Black) || st.Ranked != len(rk.Ranking.Ranked) ||
			st.Unranked != len(rk.Ranking.Unranked) || st.UnrankedNA != st.Unranked {
			t.Errorf("%s: the lists %+v, want %d red, %d black, %d ranked, %d unranked (each with %s)", lang, st,
				len(rk.Ranking.Red), len(rk.Ranking.Black), len(rk.Ranking.Ranked), len(rk.Ranking.Unranked), na)
		}
		if len(st.Radar.Me) != 5 || len(st.Radar.Median) != 5 {
			t.Errorf("%s: radar %+v", lang, st.Radar)
		}
		for i, v := range st.Radar.Median {
			if _, ok := v.(float64); !ok {
				t.Errorf("%s: radar peer median %d = %v", lang, i, v)
			}
		}
		if st.Trend.Periods < 2 || st.Trend.Composites < 1 || st.Dist.Bins < 3 || st.Dist.Subjects != len(rk.Ranking.Ranked) || !st.Dist.Marked {
			t.Errorf("%s: trend %+v, distribution %+v", lang, st.Trend, st.Dist)
		}
		// The demo's history (90 days) begins within the trend's periods: those begun before it
		// are hollow points, those wholly before it have none, and the note under the chart
		// names them.
		if before := map[string]string{"zh": "历史数据", "en": "before the history"}[lang]; st.Trend.Partial < 1 || !strings.Contains(st.TrendCover, before) {
			t.Errorf("%s: the trend does not say which periods the history covers in part: %+v, %q", lang, st.Trend, st.TrendCover)
		}
		if !strings.Contains(st.Matrix, na) {
			t.Errorf("%s: %s has a type of too few raters but the matrix has no %q:\n%s", lang, subject, na, st.Matrix)
		}
		if want := map[string]string{"zh": "zh-CN", "en": "en"}[lang]; st.Lang != want {
			t.Errorf("html lang %q, want %q", st.Lang, want)
		}
		du, err := url.Parse(st.Drill)
		if err != nil || du.Path != "/audit" || du.Query().Get("unit") != region || du.Query().Get("list") != "rates" ||
			du.Query().Get("by") != "region" || du.Query().Get("from") == "" || du.Query().Get("to") == "" {
			t.Errorf("%s: drill link %q, want the audit of region %s with its cases", lang, st.Drill, region)
		}
		screenshot(t, ctx, "evaluation-"+lang+".png")
	}

	// The drill (the link's address, followed): the audit page opens with the unit's row selected and its cases listed.
	if err := chromedp.Do(ctx, chromedp.Navigate(eval(`document.getElementById('drill-audit').href`))); err != nil {
		t.Fatal(err)
	}
	sel := `#rates-body tr.au-selected[data-unit="` + region + `"]`
	if err := waitFor(ctx, `location.pathname === "/audit" && document.body.dataset.ready === "1" && window.__zhili.settled() &&
	  !!document.querySelector('`+sel+`') && !document.getElementById('cases-table').hidden`, 30*time.Second); err != nil {
		t.Errorf("the drill to the audit: %v (%s)", err, eval(`location.href + ' ' + JSON.stringify(window.__zhili && window.__zhili.errors)`))
	}

	// The townships' governments (units with survey records of their own in the demo): ranked,
	// each row naming the region it serves rather than its name twice.
	var units struct {
		Ranking struct {
			Ranked []struct {
				Name       string `json:"name"`
				RegionName string `json:"region_name"`
			}
		} `json:"ranking"`
	}
	get("/api/v1/evaluation/rankings", url.Values{"post_type": {"unit:township"}, "period": {period}}, &units)
	if len(units.Ranking.Ranked) < 20 {
		t.Fatalf("unit:township %s: %d ranked", period, len(units.Ranking.Ranked))
	}
	q := url.Values{"token": {viewToken}, "period": {period}, "post_type": {"unit:township"}}
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.base+"/evaluation?"+q.Encode())); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, `document.body.dataset.ready === "1" && window.__zhili.settled() && window.__zhili.portrait`, time.Minute); err != nil {
		t.Fatalf("unit:township: page not ready: %v", err)
	}
	first := units.Ranking.Ranked[0]
	row := eval(`(() => { const r = document.querySelector('#ranked-body tr'); return [document.getElementById('th-unit').textContent,
	  r.cells[1].textContent, r.cells[2].textContent].join('|'); })()`)
	if want := "区域|" + first.Name + "|" + first.RegionName; row != want || first.RegionName == "" || first.RegionName == first.Name {
		t.Errorf("unit:township: header and first row %q, want %q", row, want)
	}
	// A unit is not a person: the portrait says 本单位 and 同类, and counts units (个).
	words := eval(`document.querySelector('[data-i18n="radar_title"]').textContent + '|' + document.querySelector('.ev-head-card').innerText`)
	if !strings.Contains(words, "本单位与同类中位数") || !strings.Contains(words, " 个") || strings.Contains(words, "本人") {
		t.Errorf("unit:township: the portrait's words %q, want 本单位, 同类 and 个, no 本人", words)
	}
	guard.verify(t)
	t.Logf("evaluation page walk done in %v", time.Since(start).Round(time.Millisecond))
}
