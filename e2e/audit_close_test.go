package e2e

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// A case sent with its source's own category wording (category unmapped) and closed as a
// duplicate at a time before its report: the case API returns the close reason, the category
// text and the closing applied after the report (flagged), and the audit page's case view shows
// them in Chinese and English.
func TestAuditCaseCloseReason(t *testing.T) {
	t.Parallel()
	browserPrereqs(t)
	requirePage(t, "audit.html")
	srv := startServer(t)
	town := auditTown(t, srv)
	at := func(d time.Duration) string { return time.Now().Add(-d).UTC().Format(time.RFC3339) }
	lines := []string{
		`{"id":"k1c","type":"case.closed","case_id":"k1","at":"` + at(3*time.Hour) + `","close_reason":"duplicate"}`,
		`{"id":"k1r","type":"case.reported","case_id":"k1","at":"` + at(2*time.Hour) + `","source":"hotline12345","category":"unmapped","category_text":"夜间施工噪音扰民","region":"` + town + `"}`,
		`{"id":"k1d","type":"case.dispatched","case_id":"k1","at":"` + at(time.Hour) + `","dept":"A"}`,
	}
	srv.ingest(t, strings.Join(lines, "\n")+"\n", len(lines))

	var got struct {
		Timeline struct {
			Status       string   `json:"status"`
			CloseReason  string   `json:"close_reason"`
			CategoryText string   `json:"category_text"`
			Flags        []string `json:"flags"`
			Steps        []struct {
				ID          string `json:"id"`
				CloseReason string `json:"close_reason"`
			} `json:"steps"`
		} `json:"timeline"`
	}
	q := srv.base + "/api/v1/cases/k1?token=" + url.QueryEscape(viewToken)
	deadline := time.Now().Add(30 * time.Second)
	for len(got.Timeline.Steps) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("the case's three events not stored within 30 s: %+v", got)
		}
		time.Sleep(100 * time.Millisecond)
		if resp, err := httpc.Get(q); err == nil {
			_ = json.NewDecoder(resp.Body).Decode(&got)
			resp.Body.Close()
		}
	}
	tl := got.Timeline
	if tl.Status != "closed" || tl.CloseReason != "duplicate" || tl.CategoryText != "夜间施工噪音扰民" ||
		!strings.HasSuffix(tl.Steps[2].ID, "k1c") || tl.Steps[2].CloseReason != "duplicate" || !strings.Contains(strings.Join(tl.Flags, ","), "closed_before_reported") {
		t.Fatalf("timeline %+v", tl)
	}

	base, _ := url.Parse(srv.base)
	guard := &hostGuard{host: base.Hostname()}
	ctx := newBrowser(t, guard)
	for _, c := range []struct{ lang, reason, flag string }{{"zh", "重复件", "上报前结案"}, {"en", "duplicate", "closed before reported"}} {
		pageURL := srv.base + "/audit?token=" + url.QueryEscape(viewToken) + "&case=k1&lang=" + c.lang
		if err := chromedp.Do(ctx, chromedp.Navigate(pageURL)); err != nil {
			t.Fatalf("navigate %s: %v", pageURL, err)
		}
		if err := waitFor(ctx, `document.querySelectorAll('#case-panel .au-steps tbody tr').length === 3`, 15*time.Second); err != nil {
			txt, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.getElementById('case-panel') || {}).textContent || ''`))
			t.Fatalf("%s: the case view did not show three steps: %v\n%s", c.lang, err, txt)
		}
		view, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]string](`({
		  head: document.querySelector('#case-panel .au-case-head').textContent,
		  flags: document.querySelector('#case-panel .au-flags').textContent,
		  text: (document.querySelector('#case-panel .au-category-text') || {}).textContent || '',
		  last: document.querySelector('#case-panel .au-steps tbody tr:last-child').textContent,
		})`))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(view["head"], c.reason) || !strings.Contains(view["last"], c.reason) ||
			!strings.Contains(view["flags"], c.flag) || !strings.Contains(view["text"], "夜间施工噪音扰民") {
			t.Errorf("%s: case view %v", c.lang, view)
		}
	}
	guard.verify(t)
}
