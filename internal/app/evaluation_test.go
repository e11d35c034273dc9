package app

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"zhili/access"
	"zhili/catalog"
	"zhili/evaluation"
	"zhili/geo"
	"zhili/roster"
	"zhili/server"
)

// evaluationCovered says for TestTenantRoutesCovered how the evaluation routes keep tenants
// apart.
var evaluationCovered = map[string]string{
	"/api/v1/evaluation/portraits": "another tenant's subject is unknown; peers are the tenant's (TestEvaluationRoutes)",
	"/api/v1/evaluation/rankings":  "another tenant's subjects are neither peers nor shown (TestEvaluationRoutes)",
}

// TestEvaluationRoutes: surveys sent through the ingest port by each tenant's source key (its
// own subjects only, checked against the roster), read back as portraits and rankings by the
// evaluator within its tenant and regions: raters never shown, a cell below three raters
// insufficient, a correction in force, the composite's components summing to it, every reply
// recorded in the access log.
func TestEvaluationRoutes(t *testing.T) {
	t.Parallel()
	for _, rule := range server.Rules {
		if strings.HasPrefix(rule.Path, "/api/v1/evaluation/") && (rule.Roles != access.Of(access.Evaluator, access.Admin) || !rule.Heavy) {
			t.Errorf("%s admits %s: cadres' evaluations are for evaluator and admin only", rule.Path, rule.Roles)
		}
	}
	evaluationRoutes(t, startWith(t, evaluationConfig(t)))
}

// TestEvaluationRoutesClickHouseRedis: the same on ClickHouse, with Redis intake streams of
// two partitions.
func TestEvaluationRoutesClickHouseRedis(t *testing.T) {
	t.Parallel()
	r, _, dsn := services(t)
	cfg := evaluationConfig(t)
	cfg.Redis, cfg.ClickHouse, cfg.Partitions, cfg.Tenant = r.URL, dsn, 2, "tenants"
	cfg.LeaseTTL, cfg.ShutdownTimeout = 2*time.Second, 10*time.Second
	a := startWith(t, cfg)
	waitReady(t, a, 2)
	evaluationRoutes(t, a)
}

// evaluationConfig: two township heads (乡镇长) in two tenants: a peer group of two needs
// min_peers 2; the test's three cells of the survey hold 0.14 of its weight (min_coverage 0.1).
func evaluationConfig(t *testing.T) Config {
	r, rep := roster.Parse([]byte(rosterYAML), "roster.yaml", roster.Options{Tree: geo.DemoTree(), Catalog: catalog.Default()})
	if !rep.OK() {
		t.Fatalf("roster: %v", rep.Problems)
	}
	return Config{Access: tenantKeyring(t), Roster: r, Evaluation: evaluation.Config{MinPeers: 2, MinSample: 1, MinCoverage: 0.1}}
}

func evaluationRoutes(t *testing.T, a *App) {
	base := "http://" + a.Addr
	now := time.Now().In(a.cfg.Loc)
	period := fmt.Sprintf("%d-Q%d", now.Year(), (int(now.Month())-1)/3+1)
	at := now.Add(-time.Minute).Format(time.RFC3339)

	survey := func(id, subject, typ, dim string, score float64, rater, extra string) string {
		return fmt.Sprintf(`{"id":%q,"type":"evaluation.survey","at":%q%s,"survey":{"evaluator_type":%q,"dimension":%q,"score":%v,"scale":"0-100","period":%q,"subject":%q,"rater":%q}}`,
			id, at, extra, typ, dim, score, period, subject, rater)
	}
	var lc, mq []string
	cells := [][2]string{{"superior", "performance"}, {"head", "leadership"}, {"served", "purpose"}}
	for i, c := range cells {
		for j := 0; j < 3; j++ {
			lc = append(lc, survey(fmt.Sprintf("lc-%d-%d", i, j), "P2", c[0], c[1], float64(70+10*j), fmt.Sprintf("secret-rater-%d", j), ""))
			mq = append(mq, survey(fmt.Sprintf("mq-%d-%d", i, j), "P3", c[0], c[1], float64(60+5*j), fmt.Sprintf("secret-rater-%d", j), ""))
		}
	}
	// Two raters only on one cell: 样本不足.
	lc = append(lc, survey("lc-few-1", "P2", "team", "teamwork", 90, "secret-rater-7", ""), survey("lc-few-2", "P2", "team", "teamwork", 95, "secret-rater-8", ""))
	// Cases of both townships, for 实绩.
	for i := 0; i < 4; i++ {
		for _, tw := range []struct {
			key, region string
			lines       *[]string
		}{{"src-lc", "411502001", &lc}, {"src-mq", "411502002", &mq}} {
			cid := fmt.Sprintf("%s-c%d", tw.key, i)
			*tw.lines = append(*tw.lines,
				fmt.Sprintf(`{"id":"%s-r","type":"case.reported","case_id":%q,"at":%q,"source":"grid","category":"environment","region":%q}`, cid, cid, at, tw.region),
				fmt.Sprintf(`{"id":"%s-d","type":"case.dispatched","case_id":%q,"at":%q,"dept":"county.housing"}`, cid, cid, at))
		}
	}
	if got := send(t, base, "src-lc", lc...); got != fmt.Sprintf("accepted %d dup 0", len(lc)) {
		t.Fatalf("laocheng's surveys and cases: %s", got)
	}
	if got := send(t, base, "src-mq", mq...); got != fmt.Sprintf("accepted %d dup 0", len(mq)) {
		t.Fatalf("minquan's surveys and cases: %s", got)
	}
	// A source key rates its own tenant's cadres only; a subject must be in the roster.
	if got := send(t, base, "src-lc", survey("lc-x", "P3", "served", "purpose", 50, "r", "")); got != "accepted 0 dup 0 1:region_not_allowed" {
		t.Errorf("laocheng rating minquan's head: %s", got)
	}
	if got := send(t, base, "src-lc", survey("lc-y", "nobody", "served", "purpose", 50, "r", "")); got != "accepted 0 dup 0 1:invalid" {
		t.Errorf("an unknown subject: %s", got)
	}

	type cell struct {
		EvaluatorType string `json:"evaluator_type"`
		Dimension     string
		Raters        int
		Mean          *float64
		Sample        string
	}
	type portrait struct {
		Evaluation struct {
			Subject   string
			Composite *float64
			Survey    struct{ Cells []cell }
			Parts     []evaluation.Component `json:"components"`
			Rank      *int
			Peers     int
		}
		Trend evaluation.Trend
	}
	getJSON := func(path, token string, v any) (int, string) {
		t.Helper()
		st, b := get(t, base+path+"&token="+token)
		if st == 200 && v != nil {
			if err := json.Unmarshal(b, v); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
		}
		return st, string(b)
	}
	pq := "/api/v1/evaluation/portraits?period=" + period + "&subject="
	var p portrait
	deadline := time.Now().Add(15 * time.Second)
	for {
		st, body := getJSON(pq+"P2", "tok-county", &p)
		if st != 200 {
			t.Fatalf("portrait of P2: %d %s", st, body)
		}
		if strings.Contains(body, "secret-rater") {
			t.Fatalf("a rater is shown: %s", body)
		}
		// Both secretaries' surveys stored (the history store takes them a moment after the
		// ingest's reply, on ClickHouse more than a moment): P2 has a composite and a peer.
		if p.Evaluation.Composite != nil && p.Evaluation.Peers == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no composite for P2 among 2 peers: %s", body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, c := range p.Evaluation.Survey.Cells {
		switch {
		case c.EvaluatorType == "superior" && c.Dimension == "performance":
			if c.Raters != 3 || c.Mean == nil || *c.Mean != (70.0+80+90)/3 {
				t.Errorf("superior·performance %+v", c)
			}
		case c.EvaluatorType == "team" && c.Dimension == "teamwork":
			if c.Raters != 2 || c.Mean != nil || c.Sample != evaluation.SampleInsufficient {
				t.Errorf("team·teamwork with two raters %+v", c)
			}
		}
	}
	sum := 0.0
	for _, c := range p.Evaluation.Parts {
		sum += c.Contribution
	}
	if d := sum - *p.Evaluation.Composite; d > 0.01 || d < -0.01 || p.Evaluation.Peers != 2 || p.Evaluation.Rank == nil {
		t.Errorf("P2: components sum %.3f, composite %.2f, peers %d, rank %v", sum, *p.Evaluation.Composite, p.Evaluation.Peers, p.Evaluation.Rank)
	}
	if len(p.Trend.Points) != 4 || p.Trend.Points[3].Period != period {
		t.Errorf("trend points %+v", p.Trend.Points)
	}
	var short portrait
	if st, body := getJSON(pq+"P2&trend=2", "tok-county", &short); st != 200 || len(short.Trend.Points) != 2 {
		t.Errorf("trend=2: %d %s", st, body)
	}
	if st, body := getJSON(pq+"P2&trend=13", "tok-county", nil); st != 400 || !strings.Contains(body, `"reason":"trend"`) {
		t.Errorf("trend=13: %d %s", st, body)
	}

	// A correction through supersedes replaces the row it names.
	if got := send(t, base, "src-lc", survey("lc-0-0b", "P2", "superior", "performance", 100, "secret-rater-0", `,"supersedes":"lc-0-0"`)); got != "accepted 1 dup 0" {
		t.Fatalf("correction: %s", got)
	}
	want := (100.0 + 80 + 90) / 3
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		getJSON(pq+"P2", "tok-county", &p)
		var got *float64
		for _, c := range p.Evaluation.Survey.Cells {
			if c.EvaluatorType == "superior" && c.Dimension == "performance" {
				got = c.Mean
			}
		}
		if got != nil && *got == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the correction superior·performance = %v, want %.2f", got, want)
		}
	}

	// Within its tenant, laocheng's head has no peer: no 实绩 compared, no composite.
	var own portrait
	if st, body := getJSON(pq+"P2", "tok-lc", &own); st != 200 || own.Evaluation.Composite != nil || own.Evaluation.Peers != 0 {
		t.Errorf("P2 as laocheng: %d %s", st, body)
	}
	// Another tenant's cadre answers as an unknown one; outside the token's region, 403.
	st1, other := getJSON(pq+"P3", "tok-lc", nil)
	st2, none := getJSON(pq+"nobody", "tok-lc", nil)
	if st1 != 404 || st2 != 404 || strings.Replace(other, "P3", "X", 1) != strings.Replace(none, "nobody", "X", 1) {
		t.Errorf("another tenant's cadre %d %s, an unknown one %d %s", st1, other, st2, none)
	}
	if st, body := getJSON(pq+"P2", "tok-lc-grid", nil); st != 403 {
		t.Errorf("P2 as the grid's token: %d %s", st, body)
	}
	if st, body := getJSON("/api/v1/evaluation/portraits?subject=P2", "tok-lc", nil); st != 400 || !strings.Contains(body, `"reason":"period"`) {
		t.Errorf("no period: %d %s", st, body)
	}

	// 红黑榜 of the heads: the county sees both tenants' heads compared; a tenant only its own,
	// alone in its peer group (not ranked).
	var rk struct{ Ranking evaluation.Ranking }
	rq := "/api/v1/evaluation/rankings?period=" + period + "&post_type=" + url.QueryEscape("乡镇长")
	if st, body := getJSON(rq, "tok-county", &rk); st != 200 || len(rk.Ranking.Ranked) != 2 || len(rk.Ranking.Red) != 1 || len(rk.Ranking.Black) != 1 {
		t.Errorf("heads as the county: %d %s", st, body)
	}
	if st, body := getJSON(rq, "tok-lc", &rk); st != 200 || len(rk.Ranking.Ranked) != 0 || len(rk.Ranking.Unranked) != 1 || rk.Ranking.Unranked[0].Subject != "P2" {
		t.Errorf("heads as laocheng: %d %s", st, body)
	}

	// Every reply is in the access log.
	st, b := get(t, base+"/api/v1/access-log?token=adm-lc")
	if st != 200 {
		t.Fatalf("access log: %d %s", st, b)
	}
	var log struct{ Entries []access.Entry }
	_ = json.Unmarshal(b, &log)
	reads := 0
	for _, e := range log.Entries {
		if e.Action == access.ActionPII && strings.HasPrefix(e.Object, "/api/v1/evaluation/") {
			reads++
			if strings.Contains(e.Object, "token") {
				t.Errorf("an entry holds the token: %s", e.Object)
			}
		}
	}
	if reads != 2 { // tok-lc's portrait and ranking (refusals are not reads)
		t.Errorf("%d evaluation reads recorded for laocheng: %+v", reads, log.Entries)
	}
}
