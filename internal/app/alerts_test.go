package app

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"zhili/alerts"
)

// alertsCovered names the alert, forecast and briefing routes for TestTenantRoutesCovered.
var alertsCovered = map[string]string{
	"/api/v1/alerts":                         "another tenant's alerts are neither listed nor counted (TestAlertRoutes)",
	"/api/v1/alerts/stats":                   "figures over the token's region only, another tenant's region is unknown (TestAlertRoutes)",
	"/api/v1/alerts/rules":                   "rules scoped to another tenant's regions left out (TestAlertRoutes)",
	"/api/v1/alerts/scan":                    "clusters centred in the token's region only; another tenant's region is unknown (regionParam)",
	"/api/v1/alerts/:id/ack":                 "another tenant's alert answers as one that does not exist (TestAlertRoutes)",
	"/api/v1/alerts/:id/close":               "another tenant's alert answers as one that does not exist (TestAlertRoutes)",
	"/api/v1/alerts/dead-letters":            "deliveries of alerts outside the admin's tenant left out (deadLetters)",
	"/api/v1/alerts/dead-letters/:id/resend": "a delivery of another tenant's alert answers as one that does not exist (deadLetterResend)",
	"/api/v1/forecast":                       "the region goes through regionParam: another tenant's region is unknown",
	"/api/v1/briefings":                      "the region goes through regionParam: another tenant's region is unknown",
	"/api/v1/briefings/:period":              "the region goes through regionParam: another tenant's region is unknown",
	"/api/v1/briefings/:period/pdf":          "the region goes through regionParam: another tenant's region is unknown",
}

// TestAlertRoutes: an alert raised in one tenant's township is listed, counted, acknowledged and
// closed by that tenant's token (who and when kept, and in the log after a restart), and is
// unknown to the other tenant's; a rules file scoped to one tenant's region is hidden from the
// other; a bad rules file refuses to start, naming file:line.
func TestAlertRoutes(t *testing.T) {
	t.Parallel()
	const laocheng, minquan = "411502001", "411502002"
	dir := t.TempDir()
	// A receiver of the generic webhook: it checks the signature as docs/ALERTS.md tells.
	type delivery struct {
		event, body string
		signed      bool
	}
	hooked := make(chan delivery, 8)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		ok := r.Header.Get(alerts.HeaderSignature) == alerts.Sign("hook-secret", r.Header.Get(alerts.HeaderTimestamp), b)
		hooked <- delivery{r.Header.Get(alerts.HeaderEvent), string(b), ok}
	}))
	t.Cleanup(hook.Close) // after the server has stopped (cleanups run last-in, first-out)
	rules := filepath.Join(dir, "alerts.yaml")
	if err := os.WriteFile(rules, []byte(`rules:
  - {id: lc-overdue, name: 老城超期, kind: overdue, severity: severe, min: 2, regions: ["`+laocheng+`"]}
  - {id: all-overdue, name: 超期, kind: overdue, severity: warning, min: 5}
webhooks:
  - {name: desk, format: generic, url: "`+hook.URL+`", secret: hook-secret, min_severity: severe, events: [raise, ack, close]}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	a := startWith(t, Config{Access: tenantKeyring(t), AlertRules: rules, DataDir: data, ScanReplicates: -1})
	base := "http://" + a.Addr
	call := func(method, path, token string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, b := roundTrip(t, req)
		return resp.StatusCode, b
	}
	// The live figures of the townships are the read model's; the signal is given here.
	raised, err := a.alertEngine.Evaluate(time.Time{}, []alerts.Signal{
		{Kind: alerts.KindOverdue, Region: laocheng, RegionPath: a.cfg.Tree.Path(laocheng), Value: 3, RegionName: "老城"},
		{Kind: alerts.KindOverdue, Region: minquan, RegionPath: a.cfg.Tree.Path(minquan), Value: 6, RegionName: "民权"},
	})
	if err != nil || len(raised) != 2 {
		t.Fatalf("raised %d alerts (%v), want lc-overdue in laocheng and all-overdue in minquan", len(raised), err)
	}
	var lc, mq alerts.Alert
	for _, al := range raised {
		if al.Region == laocheng {
			lc = al
		} else {
			mq = al
		}
	}
	if lc.RuleID != "lc-overdue" || mq.RuleID != "all-overdue" {
		t.Fatalf("rules: laocheng %s, minquan %s", lc.RuleID, mq.RuleID)
	}
	// The severe alert goes to the webhook, signed; the warning does not (min_severity).
	select {
	case d := <-hooked:
		if d.event != "raise" || !d.signed || !strings.Contains(d.body, lc.ID) || strings.Contains(d.body, mq.ID) {
			t.Errorf("webhook delivery %+v", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no webhook delivery of the severe alert")
	}
	list := func(token string) alerts.Page {
		t.Helper()
		st, b := call("GET", "/api/v1/alerts", token)
		var p alerts.Page
		if st != 200 || json.Unmarshal(b, &p) != nil {
			t.Fatalf("list as %s: %d %s", token, st, b)
		}
		return p
	}
	if p := list("tok-lc"); p.Total != 1 || p.Alerts[0].ID != lc.ID {
		t.Errorf("laocheng lists %+v, want only its alert", p)
	}
	if p := list("tok-mq"); p.Total != 1 || p.Alerts[0].ID != mq.ID {
		t.Errorf("minquan lists %+v, want only its alert", p)
	}
	if p := list("tok-county"); p.Total != 2 {
		t.Errorf("the county (parent tenant) lists %d alerts, want both", p.Total)
	}
	// The other tenant's alert is unknown, exactly as one that does not exist.
	for _, path := range []string{"/api/v1/alerts/" + lc.ID + "/ack", "/api/v1/alerts/" + lc.ID + "/close"} {
		st, b := call("POST", path, "tok-mq")
		st2, b2 := call("POST", strings.Replace(path, lc.ID, "20991231-999999", 1), "tok-mq")
		if st != 404 || st2 != 404 || strings.Replace(string(b), lc.ID, "", 1) != strings.Replace(string(b2), "20991231-999999", "", 1) {
			t.Errorf("%s as minquan: %d %s; a missing alert: %d %s", path, st, b, st2, b2)
		}
	}
	// Rules scoped to laocheng are the laocheng tenant's.
	_, b := call("GET", "/api/v1/alerts/rules", "tok-mq")
	if strings.Contains(string(b), "lc-overdue") || !strings.Contains(string(b), "all-overdue") {
		t.Errorf("minquan's rules: %s", b)
	}
	// Acknowledge, then close: who and when are kept; a second close is refused by name.
	st, b := call("POST", "/api/v1/alerts/"+lc.ID+"/ack", "tok-lc")
	var got alerts.Alert
	if st != 200 || json.Unmarshal(b, &got) != nil || got.State != alerts.Acknowledged || got.AckedBy != "center" || got.AckedAt == nil {
		t.Fatalf("ack: %d %s", st, b)
	}
	if st, b = call("POST", "/api/v1/alerts/"+lc.ID+"/close", "tok-lc"); st != 200 {
		t.Fatalf("close: %d %s", st, b)
	}
	if st, b = call("POST", "/api/v1/alerts/"+lc.ID+"/close", "tok-lc"); st != 400 || !strings.Contains(string(b), "already_closed") {
		t.Errorf("second close: %d %s", st, b)
	}
	var stats struct {
		ByRule map[string]struct {
			Raised, Acked, Closed int
			TimeToAck             struct{ N int } `json:"time_to_ack"`
		} `json:"by_rule"`
	}
	if st, b = call("GET", "/api/v1/alerts/stats", "tok-lc"); st != 200 || json.Unmarshal(b, &stats) != nil {
		t.Fatalf("stats: %d %s", st, b)
	}
	if f := stats.ByRule["lc-overdue"]; f.Raised != 1 || f.Acked != 1 || f.Closed != 1 || f.TimeToAck.N != 1 || len(stats.ByRule) != 1 {
		t.Errorf("laocheng's stats: %s", b)
	}
	// A screen role may acknowledge; a source key may not.
	if st, _ := call("POST", "/api/v1/alerts/"+mq.ID+"/ack", "src-mq"); st != 403 && st != 401 {
		t.Errorf("a source key acknowledged an alert: %d", st)
	}
	// The log keeps the lifecycle: the engine rebuilt from it has the same alert.
	lg, err := alerts.OpenFileLog(filepath.Join(data, "alerts.jsonl"), func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := alerts.NewEngine(nil, alerts.Options{Log: lg})
	if err != nil {
		t.Fatal(err)
	}
	lg.Close()
	if re, err := eng.Get(lc.ID); err != nil || re.State != alerts.Closed || re.ClosedBy != "center" || re.AckedBy != "center" {
		t.Errorf("replayed alert: %+v %v", re, err)
	}
}

// TestAlertRulesRefused: a rules file with a bad field refuses to start, naming file:line.
func TestAlertRulesRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rules := filepath.Join(dir, "alerts.yaml")
	if err := os.WriteFile(rules, []byte("rules:\n  - {id: x, name: 超期, kind: overdue, severity: loud, min: 2}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := New(Config{Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, "data"), AlertRules: rules})
	if err == nil || !strings.Contains(err.Error(), "alerts.yaml:2") || !strings.Contains(err.Error(), "severity") {
		t.Fatalf("New with a bad rules file: %v", err)
	}
}
