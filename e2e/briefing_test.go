package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBriefing: the 研判 briefings on the shared demo city (90 days of history). Yesterday's
// daily and last week's weekly briefing are answered as kept JSON with every section filled;
// the page /briefing shows every section (figures, categories, the hot-spot map, the forecast
// band, departments, whistles, repeat complaints, alerts) with no error, in Chinese and in
// English (screenshots at 1920×1080), and the PDF is a PDF with at least one page.
func TestBriefing(t *testing.T) {
	t.Parallel()
	browserPrereqs(t)
	requirePage(t, "briefing.html")
	srv := sharedDemo(t, "90d")

	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().In(loc)
	yesterday := "day:" + now.AddDate(0, 0, -1).Format("2006-01-02")
	y, w := now.AddDate(0, 0, -7).ISOWeek()
	lastWeek := fmt.Sprintf("week:%04d-W%02d", y, w)

	get := func(path string) ([]byte, http.Header) {
		t.Helper()
		resp, err := httpc.Get(srv.base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s %s", path, resp.Status, b)
		}
		return b, resp.Header
	}
	tok := "token=" + url.QueryEscape(viewToken)

	// 1. The API: both briefings kept, every section there.
	type figure struct {
		Key     string `json:"key"`
		Current struct {
			Count *int64 `json:"count"`
			Den   int64  `json:"den"`
		} `json:"current"`
		Counts struct{ Zh, En string } `json:"counts"`
	}
	var briefing struct {
		Period      string `json:"period"`
		Kept        bool   `json:"kept"`
		Provisional bool   `json:"provisional"`
		Changes     struct {
			Figures    []figure          `json:"figures"`
			Categories []json.RawMessage `json:"categories"`
		} `json:"changes"`
		Hotspots struct {
			Events    int64   `json:"events"`
			MeanCount float64 `json:"mean_count"`
			Spots     []struct {
				Code          string  `json:"code"`
				Count         int64   `json:"count"`
				Bin           int     `json:"bin"`
				Neighbours    bool    `json:"neighbours"`
				NeighbourMean float64 `json:"neighbour_mean"`
			} `json:"spots"`
			Map struct {
				Cells []struct {
					Code  string `json:"code"`
					Count int64  `json:"count"`
				} `json:"cells"`
			} `json:"map"`
		} `json:"hotspots"`
		Forecast struct {
			Status string            `json:"status"`
			Hours  []json.RawMessage `json:"hours"`
		} `json:"forecast"`
		Departments struct {
			Slowest      []json.RawMessage `json:"slowest"`
			Insufficient []json.RawMessage `json:"insufficient"`
		} `json:"departments"`
		Whistles struct {
			Whistles int `json:"whistles"`
		} `json:"whistles"`
		Repeats struct {
			Links int `json:"links"`
		} `json:"repeats"`
		Alerts struct {
			Available bool            `json:"available"`
			Figures   json.RawMessage `json:"figures"`
			Coverage  *struct {
				WatchedS float64 `json:"watched_s"`
				Complete bool    `json:"complete"`
			} `json:"coverage"`
		} `json:"alerts"`
	}
	grids, nb := gridsWithNeighbours(t, srv) // the test's own neighbours, from the outlines
	zero := briefing
	for _, p := range []string{yesterday, lastWeek} {
		briefing = zero // fields left out of one reply (omitempty) must not keep the last one's values
		t0 := time.Now()
		body, _ := get("/api/v1/briefings/" + p + "?" + tok)
		took := time.Since(t0)
		if err := json.Unmarshal(body, &briefing); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		var newCases int64
		for _, f := range briefing.Changes.Figures {
			if f.Key == "new_cases" && f.Current.Count != nil {
				newCases = *f.Current.Count
			}
			if f.Counts.Zh == "" || f.Counts.En == "" {
				t.Errorf("%s: figure %s does not say what it counts", p, f.Key)
			}
		}
		t.Logf("%s (%v, %d bytes): %d new cases, %d categories, %d hot grids of %d on the map, forecast %s (%d hours), %d slow and %d insufficient departments, %d whistles, %d repeats, alerts %v",
			p, took.Round(time.Millisecond), len(body), newCases, len(briefing.Changes.Categories), len(briefing.Hotspots.Spots), len(briefing.Hotspots.Map.Cells),
			briefing.Forecast.Status, len(briefing.Forecast.Hours), len(briefing.Departments.Slowest), len(briefing.Departments.Insufficient),
			briefing.Whistles.Whistles, briefing.Repeats.Links, briefing.Alerts.Available)
		if briefing.Period != p || !briefing.Kept || briefing.Provisional || len(briefing.Changes.Figures) != 6 || newCases == 0 ||
			len(briefing.Changes.Categories) == 0 || len(briefing.Hotspots.Map.Cells) == 0 ||
			len(briefing.Departments.Slowest)+len(briefing.Departments.Insufficient) == 0 {
			t.Errorf("%s: a section is empty: %.600s", p, body)
		}
		// The alert engine has watched only since this server started: the past period's
		// alerts are not counted, and no figure says 0.
		if a := briefing.Alerts; !a.Available || a.Coverage == nil || a.Coverage.WatchedS != 0 || a.Coverage.Complete || len(a.Figures) != 0 {
			t.Errorf("%s: alerts of a period nothing watched: available %v, coverage %+v, figures %s", p, a.Available, a.Coverage, a.Figures)
		}
		// A spot (hot by Gi* or in a hot class) with fewer cases than its neighbours have on
		// average and unremarkable by itself (standard score under 1.645 among the grids) is
		// marked as hot through them, with that average; the map lists every grid with a case.
		counts := map[string]int64{}
		var sx, sxx float64
		for _, c := range briefing.Hotspots.Map.Cells {
			counts[c.Code] = c.Count
			sx, sxx = sx+float64(c.Count), sxx+float64(c.Count*c.Count)
		}
		mean := sx / float64(len(grids))
		sd := math.Sqrt(max(0, sxx/float64(len(grids))-mean*mean))
		nbs := 0
		for _, sp := range briefing.Hotspots.Spots {
			var around int64
			for _, c := range nb[sp.Code] {
				around += counts[c]
			}
			k := int64(len(nb[sp.Code]))
			own := (float64(sp.Count) - mean) / sd
			want := k > 0 && sp.Count*k < around && own < 1.645
			if sp.Neighbours != want || (want && math.Abs(sp.NeighbourMean-float64(around)/float64(k)) > 1e-3) {
				t.Errorf("%s: spot %s with %d cases (bin %d, standard score %.2f; its %d neighbours %d): neighbours %v (mean %v), want %v",
					p, sp.Code, sp.Count, sp.Bin, own, k, around, sp.Neighbours, sp.NeighbourMean, want)
			}
			if sp.Neighbours {
				nbs++
			}
		}
		if briefing.Hotspots.Events > 0 && briefing.Hotspots.MeanCount <= 0 {
			t.Errorf("%s: %d events but an average grid of %v", p, briefing.Hotspots.Events, briefing.Hotspots.MeanCount)
		}
		t.Logf("%s: %d of %d hot spots hot through their neighbours (average grid %.2f cases)", p, nbs, len(briefing.Hotspots.Spots), briefing.Hotspots.MeanCount)
		if briefing.Forecast.Status == "unavailable" {
			t.Errorf("%s: no forecast: %.300s", p, body)
		}
		// Kept: the same bytes again.
		again, _ := get("/api/v1/briefings/" + p + "?" + tok)
		if !bytes.Equal(body, again) {
			t.Errorf("%s: the kept briefing read differently the second time", p)
		}
	}
	var list struct {
		Briefings []struct {
			Period string `json:"period"`
		} `json:"briefings"`
	}
	b, _ := get("/api/v1/briefings?" + tok)
	if err := json.Unmarshal(b, &list); err != nil || len(list.Briefings) < 2 {
		t.Errorf("list of kept briefings: %s", b)
	}

	// 2. The page, yesterday's and last week's, in Chinese and in English.
	base, _ := url.Parse(srv.base)
	guard := &hostGuard{host: base.Hostname()}
	ctx := newBrowser(t, guard)
	type pageState struct {
		Ready    string   `json:"ready"`
		Error    string   `json:"error"`
		Errors   []string `json:"errors"`
		Banner   bool     `json:"banner"`
		Figs     int      `json:"figs"`
		Cats     int      `json:"cats"`
		MapDrawn int      `json:"mapDrawn"`
		HotSum   string   `json:"hotSum"`
		FcSum    string   `json:"fcSum"`
		FcSVG    int      `json:"fcSvg"`
		Depts    int      `json:"depts"`
		DeptText string   `json:"deptText"`
		Whistles string   `json:"whistles"`
		Repeats  string   `json:"repeats"`
		Alerts   string   `json:"alerts"`
		AlEmpty  bool     `json:"alEmpty"`
		Title    string   `json:"title"`
		Lang     string   `json:"lang"`
		Clipped  []string `json:"clipped"`
	}
	const readPage = `(() => {
	  const q = (s) => document.querySelector(s);
	  const txt = (s) => (q(s) ? q(s).innerText : '');
	  const clipped = [];
	  for (const el of document.querySelectorAll('.bf-card, .bf-fig, .bf-table td, .bf-table th')) {
	    if (el.scrollWidth > el.clientWidth + 2) clipped.push((el.id || el.className) + ':' + el.textContent.slice(0, 30));
	  }
	  return {
	    ready: document.body.dataset.ready || '', error: document.body.dataset.error || '',
	    errors: (window.__zhili || {}).errors || [], banner: !q('#bf-error').hidden,
	    figs: document.querySelectorAll('#changes-cards .bf-fig').length,
	    cats: document.querySelectorAll('#categories-body tr').length,
	    mapDrawn: (window.__zhili || {}).mapDrawn || 0,
	    hotSum: txt('#hot-summary'), fcSum: txt('#fc-summary'), fcSvg: document.querySelectorAll('#fc-chart svg').length,
	    depts: document.querySelectorAll('#dept-body tr').length, deptText: txt('#sec-departments'),
	    whistles: txt('#sec-whistles'), repeats: txt('#sec-repeats'), alerts: txt('#sec-alerts'), alEmpty: !q('#al-empty').hidden,
	    title: txt('#bf-title'), lang: document.documentElement.lang, clipped,
	  };
	})()`
	open := func(p string) pageState {
		t.Helper()
		pageURL := srv.base + "/briefing?" + tok + "&period=" + url.QueryEscape(p)
		if err := chromedp.Do(ctx, chromedp.Navigate(pageURL)); err != nil {
			t.Fatalf("navigate %s: %v", pageURL, err)
		}
		if err := waitFor(ctx, `document.body.dataset.ready === '1' || document.body.dataset.ready === 'error'`, 60*time.Second); err != nil {
			t.Fatalf("%s: the page did not finish within 60 s: %v", p, err)
		}
		st, err := chromedp.Run(ctx, chromedp.Evaluate[pageState](readPage))
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	check := func(p string, st pageState) {
		t.Helper()
		t.Logf("%s page (%s): %q; %d figures, %d categories, map %d regions, hot spots %q, forecast %q (%d svg), %d departments ranked",
			p, st.Lang, st.Title, st.Figs, st.Cats, st.MapDrawn, st.HotSum, st.FcSum, st.FcSVG, st.Depts)
		if st.Ready != "1" || st.Banner || len(st.Errors) > 0 || st.Error != "" {
			t.Errorf("%s: ready %q, error %q %v, banner %v", p, st.Ready, st.Error, st.Errors, st.Banner)
		}
		if st.Figs != 6 || st.Cats == 0 || st.MapDrawn == 0 || st.HotSum == "" || st.FcSum == "" || st.DeptText == "" ||
			st.Whistles == "" || st.Repeats == "" || st.Alerts == "" || st.Title == "" {
			t.Errorf("%s: a section is empty: %+v", p, st)
		}
		if !strings.Contains(st.Alerts, "预警运行记录") && !strings.Contains(st.Alerts, "alert engine running") || st.AlEmpty {
			t.Errorf("%s: the alerts section does not say the period was not watched: %q", p, st.Alerts)
		}
		if st.FcSVG == 0 && !strings.Contains(st.FcSum, "样本不足") && !strings.Contains(st.FcSum, "insufficient") {
			t.Errorf("%s: no forecast chart and no reason: %q", p, st.FcSum)
		}
		if len(st.Clipped) > 0 {
			t.Errorf("%s: clipped text: %v", p, st.Clipped)
		}
	}
	st := open(yesterday)
	check(yesterday, st)
	if st.Lang != "zh-CN" || !strings.Contains(st.Title, "研判日报") {
		t.Errorf("not in Chinese first: lang %q title %q", st.Lang, st.Title)
	}
	saveScreenshot(t, ctx, "briefing-zh.png")
	st = open(lastWeek)
	check(lastWeek, st)
	if !strings.Contains(st.Title, "研判周报") {
		t.Errorf("weekly title %q", st.Title)
	}
	// English by the switch.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(document.getElementById('lang-switch').click(), true)`)); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, `document.body.dataset.ready === '1' && document.documentElement.lang === 'en'`, 20*time.Second); err != nil {
		t.Fatalf("English: %v", err)
	}
	st, err = chromedp.Run(ctx, chromedp.Evaluate[pageState](readPage))
	if err != nil {
		t.Fatal(err)
	}
	check(lastWeek+" en", st)
	if !strings.Contains(st.Title, "weekly briefing") || strings.Contains(st.HotSum, "热点") {
		t.Errorf("English page: title %q, hot spots %q", st.Title, st.HotSum)
	}
	saveScreenshot(t, ctx, "briefing-en.png")
	guard.verify(t)

	// 3. The PDF.
	t0 := time.Now()
	pdf, h := get("/api/v1/briefings/" + lastWeek + "/pdf?" + tok)
	pages := len(regexp.MustCompile(`/Type\s*/Page[^s]`).FindAll(pdf, -1))
	t.Logf("PDF of %s: %d pages, %d bytes, %s, in %v", lastWeek, pages, len(pdf), h.Get("Content-Type"), time.Since(t0).Round(time.Millisecond))
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) || pages < 1 {
		t.Errorf("not a PDF with pages: %d pages, starts %q", pages, pdf[:min(len(pdf), 16)])
	}
}
