package e2e

import (
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"zhili/geo"
)

// alertRules is the rules file of the alerts test: a space-time cluster raises a severe alert.
// The server scans every second, so a recurrence interval of 0.005 days (432 s) means p ≤ 1/432.
const alertRules = `rules:
  - {id: cluster, name: 新发时空聚集, name_en: Emerging cluster, kind: scan, severity: severe, min_recurrence_days: 0.005, cooldown: 1h}
`

// TestAlertBurst: a week of scattered reports, then a burst of reports in one grid. The live
// space-time scan finds the burst; the alert is on the overview (ticker and severe banner)
// within 5 s of the POST; on the alerts desk staff acknowledge it and close it with a note; the
// history then shows who and when, and the time to acknowledge and to close.
func TestAlertBurst(t *testing.T) {
	t.Parallel()
	browserPrereqs(t)
	dir := t.TempDir()
	rules := filepath.Join(dir, "alerts.yaml")
	if err := os.WriteFile(rules, []byte(alertRules), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, "--alert-rules", rules, "--alerts-every", "500ms", "--scan-every", "1s", "--scan-replicates", "999")
	srv.waitReady(t, 60*time.Second)
	base, _ := url.Parse(srv.base)
	guard := &hostGuard{host: base.Hostname()}
	ctx := newBrowser(t, guard)

	tree := xinyang(t)
	// Background: 700 reports over the last 7 days in the grids of the first county, spread
	// evenly (no cluster).
	county := tree.Root.Children[0]
	var grids []string
	tree.Walk(func(r *geo.Region) {
		if len(r.Children) == 0 && len(tree.Path(r.Code)) > 1 && tree.Path(r.Code)[1] == county.Code {
			grids = append(grids, r.Code)
		}
	})
	rnd := rand.New(rand.NewPCG(11, 12))
	now := time.Now()
	var b strings.Builder
	const background = 700
	for i := range background {
		at := now.Add(-time.Duration(rnd.Int64N(int64(7*24*time.Hour - 2*time.Hour)))).Add(-time.Hour)
		fmt.Fprintf(&b, `{"id":"bg%d","type":"case.reported","case_id":"bg%d","at":"%s","source":"grid","category":"environment","region":"%s"}`+"\n",
			i, i, at.UTC().Format(time.RFC3339), grids[rnd.IntN(len(grids))])
	}
	srv.ingest(t, b.String(), background)
	open(t, ctx, srv.base+"/?token="+url.QueryEscape(viewToken), 1920, 1080)
	// One quiet scan has run over the background before the burst.
	var scanned struct {
		At    time.Time `json:"at"`
		Cases int       `json:"cases"`
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		getJSON(t, srv, "/api/v1/alerts/scan", &scanned)
		if scanned.Cases >= background {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no scan over the background: %+v", scanned)
		}
	}
	var before struct {
		Total int `json:"total"`
	}
	getJSON(t, srv, "/api/v1/alerts?state=open", &before)

	// The burst: 14 reports in one grid within the last minutes.
	burst := grids[len(grids)/2]
	b.Reset()
	for i := range 14 {
		fmt.Fprintf(&b, `{"id":"b%d","type":"case.reported","case_id":"burst%d","at":"%s","source":"hotline12345","category":"environment","region":"%s"}`+"\n",
			i, i, now.Add(-time.Duration(14-i)*20*time.Second).UTC().Format(time.RFC3339), burst)
	}
	posted := time.Now()
	srv.ingest(t, b.String(), 14)
	onScreen := `(() => { const d = window.Zhili.alerts.data(); const tk = document.getElementById('alert-ticker');
	  const bn = document.getElementById('alert-banner');
	  return !!(d && (d.alerts || []).some((a) => a.kind === 'scan') && tk && !tk.hidden && bn && !bn.hidden); })()`
	if err := waitFor(ctx, onScreen, 5*time.Second); err != nil {
		var scan any
		getJSON(t, srv, "/api/v1/alerts/scan", &scan)
		t.Fatalf("no cluster alert on the overview within 5 s of the burst: %v\nscan: %v", err, scan)
	}
	shown := time.Since(posted)
	t.Logf("burst of 14 in grid %s: alert on the overview %s after the POST (%d open before)", burst, shown.Round(time.Millisecond), before.Total)
	// The banner covers none of the screen's figures: it sits in the title bar between the
	// clock and the data time, the layout starts below it and ends above the ticker.
	if err := waitFor(ctx, `(() => { const r = (s) => document.querySelector(s).getBoundingClientRect();
	  const bn = r('#alert-banner'), bar = r('.topbar'), left = r('.topbar-left'), right = r('.topbar-right');
	  const lay = r('.layout'), tk = r('#alert-ticker');
	  return bn.height > 0 && bn.top >= bar.top && bn.bottom <= bar.bottom && bn.left >= left.right && bn.right <= right.left &&
	    lay.top >= bn.bottom && lay.bottom <= tk.top + 1; })()`, 5*time.Second); err != nil {
		geom, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`['#alert-banner', '.topbar', '.topbar-left', '.topbar-right', '.layout', '#alert-ticker']
		  .map((s) => s + ' ' + JSON.stringify(document.querySelector(s).getBoundingClientRect())).join('; ')`))
		t.Errorf("the severe-alert banner or the ticker covers a figure of the overview: %s", geom)
	}

	// The alert is the burst's: the cluster it names holds the burst's grid.
	var scan struct {
		Clusters []struct {
			Center         string   `json:"center"`
			Cells          []string `json:"cells"`
			Observed       int      `json:"observed"`
			Expected       float64  `json:"expected"`
			P              float64  `json:"p"`
			RecurrenceDays float64  `json:"recurrence_days"`
		} `json:"clusters"`
	}
	getJSON(t, srv, "/api/v1/alerts/scan", &scan)
	var list struct {
		Alerts []struct {
			ID, Subject, State, Title string
			RaisedAt                  time.Time `json:"raised_at"`
		} `json:"alerts"`
	}
	getJSON(t, srv, "/api/v1/alerts?state=open&rule=cluster", &list)
	var id string
	for _, a := range list.Alerts {
		for _, c := range scan.Clusters {
			if c.Center == a.Subject && slices.Contains(c.Cells, burst) {
				id = a.ID
				t.Logf("alert %s %q: cluster of %d grids, %d observed vs %.2f expected, p %.4f, recurrence %.3f days",
					a.ID, a.Title, len(c.Cells), c.Observed, c.Expected, c.P, c.RecurrenceDays)
			}
		}
	}
	if id == "" {
		t.Fatalf("no open cluster alert holds grid %s: alerts %+v, clusters %+v", burst, list.Alerts, scan.Clusters)
	}
	screenshot(t, ctx, "alerts-overview-zh.png")

	// The alerts desk: acknowledge, then close with a note.
	desk := srv.base + "/alerts?token=" + url.QueryEscape(viewToken)
	if err := chromedp.Do(ctx, chromedp.Navigate(desk)); err != nil {
		t.Fatal(err)
	}
	row := `#active-table tr[data-id="` + id + `"]`
	if err := waitFor(ctx, `!!document.querySelector('`+row+`')`, 30*time.Second); err != nil {
		t.Fatalf("the alert is not on the desk: %v", err)
	}
	// The server has watched for a minute of the 30 days: the desk says so above its figures.
	if err := waitFor(ctx, `(() => { const c = document.getElementById('stats-cov'); return !!c && !c.hidden && c.textContent.length > 0; })()`, 10*time.Second); err != nil {
		t.Errorf("the desk does not say how little of the 30 days was watched: %v", err)
	} else if cov, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('stats-cov').textContent`)); err != nil ||
		!strings.Contains(cov, "无预警运行记录") || !strings.Contains(cov, "记录始于") {
		t.Errorf("the desk's coverage line: %q (%v)", cov, err)
	}
	screenshot(t, ctx, "alerts-desk-zh.png")
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(row+` button[data-act="ack"]`))); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, `!!document.querySelector('`+row+` .al-state-acknowledged')`, 30*time.Second); err != nil {
		t.Fatalf("not acknowledged on the desk: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS(row+` .al-note-in`), "已派网格员核查"),
		chromedp.Click(chromedp.CSS(row+` button[data-act="close"]`))); err != nil {
		t.Fatal(err)
	}
	hist := `#history-table tr[data-id="` + id + `"]`
	if err := waitFor(ctx, `(() => { const r = document.querySelector('`+hist+`');
	  return !!r && !!r.querySelector('.al-state-closed') && r.querySelector('.al-to-ack').textContent !== '—' && r.querySelector('.al-to-close').textContent !== '—'; })()`, 10*time.Second); err != nil {
		t.Fatalf("the history does not show the closed alert with its times: %v", err)
	}
	var got struct {
		Alerts []struct {
			ID, State, Note string
			AckedBy         string     `json:"acked_by"`
			ClosedBy        string     `json:"closed_by"`
			RaisedAt        time.Time  `json:"raised_at"`
			AckedAt         *time.Time `json:"acked_at"`
			ClosedAt        *time.Time `json:"closed_at"`
		} `json:"alerts"`
	}
	getJSON(t, srv, "/api/v1/alerts?rule=cluster&state=closed", &got)
	found := false
	for _, a := range got.Alerts {
		if a.ID != id {
			continue
		}
		found = true
		if a.AckedAt == nil || a.ClosedAt == nil || a.AckedBy == "" || a.ClosedBy == "" || a.Note != "已派网格员核查" || a.ClosedAt.Before(*a.AckedAt) {
			t.Errorf("closed alert: %+v", a)
		}
		t.Logf("acknowledged by %s after %s, closed by %s after %s", a.AckedBy, a.AckedAt.Sub(a.RaisedAt).Round(time.Millisecond),
			a.ClosedBy, a.ClosedAt.Sub(a.RaisedAt).Round(time.Millisecond))
	}
	if !found {
		t.Fatalf("alert %s is not closed: %+v", id, got.Alerts)
	}
	var stats struct {
		ByRule map[string]struct {
			Raised, Acked, Closed int
			TimeToAck             struct{ N int } `json:"time_to_ack"`
			TimeToClose           struct{ N int } `json:"time_to_close"`
		} `json:"by_rule"`
		Coverage struct {
			Since    *time.Time `json:"since"`
			WatchedS float64    `json:"watched_s"`
			Complete bool       `json:"complete"`
			Gaps     []struct{ From, To time.Time }
		} `json:"coverage"`
	}
	getJSON(t, srv, "/api/v1/alerts/stats", &stats)
	// Watched since the server's first evaluation, a gap before it.
	if c := stats.Coverage; c.Since == nil || time.Since(*c.Since) > 10*time.Minute || c.WatchedS <= 0 || c.Complete || len(c.Gaps) == 0 ||
		!c.Gaps[len(c.Gaps)-1].To.Equal(*c.Since) {
		t.Errorf("coverage of the last 30 days: %+v", c)
	}
	if f := stats.ByRule["cluster"]; f.Acked < 1 || f.Closed < 1 || f.TimeToAck.N < 1 || f.TimeToClose.N < 1 {
		t.Errorf("handling figures of the rule: %+v", f)
	}
	// The overview's banner goes once nothing severe is left unacknowledged.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.base+"/?token="+url.QueryEscape(viewToken))); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, `(() => { const d = window.Zhili.alerts.data(); const bn = document.getElementById('alert-banner');
	  return !!d && !(d.alerts || []).some((a) => a.id === '`+id+`') && (!bn || bn.hidden); })()`, 10*time.Second); err != nil {
		t.Errorf("the closed alert stays on the overview: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(desk+"&lang=en")); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, `document.body.dataset.ready === "1" && !!document.querySelector('`+hist+`')`, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "alerts-desk-en.png")
	guard.verify(t)
}
