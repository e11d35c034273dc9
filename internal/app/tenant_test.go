package app

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
	"gopkg.in/yaml.v3"

	"zhili/access"
	"zhili/geo"
	"zhili/ingest"
	"zhili/server"
)

// Two tenants of the demo county, one township each, under a city-level parent.
const tenantConfig = `
tenants:
  - {name: county, roots: ["411502"]}
  - {name: laocheng, roots: ["411502001"], parent: county}
  - {name: minquan, roots: ["411502002"], parent: county}
access:
  - {name: hotline, key: src-lc, roles: [source], tenant: laocheng}
  - {name: hotline, key: src-mq, roles: [source], tenant: minquan}
  - {name: center, token: tok-lc, roles: [screen, leader, evaluator, officer], tenant: laocheng}
  - {name: center, token: tok-mq, roles: [screen, leader, evaluator, officer], tenant: minquan}
  - {name: grid-1, token: tok-lc-grid, roles: [screen, leader, evaluator], tenant: laocheng, region: "411502001001"}
  - {name: admin, token: adm-lc, roles: [admin], tenant: laocheng}
  - {name: admin, token: adm-mq, roles: [admin], tenant: minquan}
  - {name: city, token: tok-county, roles: [screen, evaluator], tenant: county}
`

// tenantKeyring parses tenantConfig against the demo tree, as zhili serve does.
func tenantKeyring(t *testing.T) *access.Keyring {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(tenantConfig), &doc); err != nil {
		t.Fatal(err)
	}
	k, err := access.ParseConfig(&doc, "tenants.yaml", geo.DemoTree().Path)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestTenantIsolation: embedded (DuckDB, file intake, in-process bus).
func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	start := time.Now()
	a := startWith(t, Config{Access: tenantKeyring(t)})
	tenantIsolation(t, a, 1)
	t.Logf("embedded: %s", time.Since(start).Round(time.Millisecond))
}

// TestTenantIsolationClickHouseRedis: ClickHouse history, Redis intake and bus (real servers).
func TestTenantIsolationClickHouseRedis(t *testing.T) {
	t.Parallel()
	r, _, dsn := services(t)
	start := time.Now()
	a := startWith(t, Config{Access: tenantKeyring(t), Redis: r.URL, ClickHouse: dsn, Partitions: 2, Tenant: "tenants",
		LeaseTTL: 2 * time.Second, ShutdownTimeout: 10 * time.Second})
	waitReady(t, a, 2)
	tenantIsolation(t, a, 2)
	t.Logf("ClickHouse + Redis: %s", time.Since(start).Round(time.Millisecond))
}

// tenantIsolation: each tenant ingests its cases; then every read route and the live topics are
// tried with one tenant's tokens on the other's regions, cases and topics (404 / unknown_topic,
// exactly the reply of one that does not exist), and on its own (200, only its own data).
func tenantIsolation(t *testing.T, a *App, parts int) {
	base := "http://" + a.Addr
	loc := a.cfg.Loc
	now := time.Now()
	at := now.Add(-time.Minute)
	if midnight := time.Date(now.In(loc).Year(), now.In(loc).Month(), now.In(loc).Day(), 0, 0, 0, 0, loc); at.Before(midnight) {
		at = midnight // stay in today, for the live overview
	}
	ts := func(d time.Duration) string { return at.Add(d).UTC().Format(time.RFC3339) }
	const laocheng, minquan = "411502001", "411502002"
	cases := func(prefix, township, dept string, n int) string {
		var b strings.Builder
		for i := range n {
			id := fmt.Sprintf("%s-%d", prefix, i)
			grid := fmt.Sprintf("%s%03d", township, 1+i%2)
			// Both tenants' sources use the same event ids (r0, d0…): ids are the key's own.
			fmt.Fprintf(&b, `{"id":"r%d","type":"case.reported","case_id":"%s","at":"%s","source":"hotline12345","category":"environment","region":"%s","reporter":{"name":"张三","phone":"13800000000"}}`+"\n",
				i, id, ts(time.Duration(i)*time.Second), grid)
			fmt.Fprintf(&b, `{"id":"d%d","type":"case.dispatched","case_id":"%s","at":"%s","dept":"%s","deadline":"%s"}`+"\n",
				i, id, ts(time.Duration(i)*time.Second+10*time.Second), dept, now.Add(24*time.Hour).UTC().Format(time.RFC3339))
		}
		fmt.Fprintf(&b, `{"id":"w","type":"whistle.blown","case_id":"%s-0","at":"%s","whistle_id":"W-%s","whistle_kind":"advance","depts":["%s"]}`+"\n",
			prefix, ts(20*time.Second), prefix, dept)
		return b.String()
	}
	const nLC, nMQ = 3, 2
	send := func(key, body string, lines int) {
		t.Helper()
		req, _ := http.NewRequest("POST", base+"/api/v1/events", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/x-ndjson")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var rep ingest.Reply
		_ = json.NewDecoder(resp.Body).Decode(&rep)
		resp.Body.Close()
		if resp.StatusCode != 200 || rep.Accepted != lines {
			t.Fatalf("ingest with %s: %d %+v, want %d accepted", key, resp.StatusCode, rep, lines)
		}
	}
	ingestStart := time.Now()
	send("src-lc", cases("LC", laocheng, "lc.urban", nLC), 2*nLC+1)
	send("src-mq", cases("MQ", minquan, "mq.urban", nMQ), 2*nMQ+1)
	// A source of one tenant never reports in the other's region, nor acts on its cases, nor
	// reports under a case id the other holds (case ids are the deployment's).
	for _, c := range []struct{ line, code string }{
		{`{"id":"x1","type":"case.reported","case_id":"X-1","at":"` + ts(0) + `","source":"hotline12345","category":"environment","region":"` + minquan + `001"}`, ingest.CodeRegionNotAllowed},
		{`{"id":"x2","type":"case.closed","case_id":"MQ-0","at":"` + ts(30*time.Second) + `","satisfaction":"satisfied"}`, ingest.CodeCaseOutOfScope},
		{`{"id":"x3","type":"case.reported","case_id":"MQ-1","at":"` + ts(0) + `","source":"hotline12345","category":"environment","region":"` + laocheng + `001"}`, ingest.CodeCaseIDTaken},
	} {
		req, _ := http.NewRequest("POST", base+"/api/v1/events", strings.NewReader(c.line+"\n"))
		req.Header.Set("Authorization", "Bearer src-lc")
		req.Header.Set("Content-Type", "application/x-ndjson")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var rep ingest.Reply
		_ = json.NewDecoder(resp.Body).Decode(&rep)
		resp.Body.Close()
		if rep.Accepted != 0 || len(rep.Rejected) != 1 || rep.Rejected[0].Code != c.code || strings.Contains(rep.Rejected[0].Error, minquan) {
			t.Fatalf("laocheng's key on minquan's region or case: %+v, want %s", rep, c.code)
		}
	}
	want := 2*nLC + 1 + 2*nMQ + 1
	eventually(t, 30*time.Second, func() string {
		if n := len(allIDs(t, a.Store, parts)); n != want {
			return fmt.Sprintf("stored %d of %d events", n, want)
		}
		return ""
	})
	t.Logf("ingested and stored in %s", time.Since(ingestStart).Round(time.Millisecond))

	call := func(path, token string) (int, []byte) {
		t.Helper()
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		return get(t, base+path+sep+"token="+token)
	}
	// notFound: the reply for another tenant's object is the reply for one that does not exist
	// (the same status and body, the name aside).
	notFound := func(path, token, other, fake string) {
		t.Helper()
		st, b := call(strings.ReplaceAll(path, "{}", url.PathEscape(other)), token)
		fst, fb := call(strings.ReplaceAll(path, "{}", url.PathEscape(fake)), token)
		if st != 404 || fst != 404 || !bytes.Equal(bytes.ReplaceAll(b, []byte(other), []byte(fake)), fb) {
			t.Errorf("%s as %s on %s: %d %s; on %s (none): %d %s; want the same 404", path, token, other, st, b, fake, fst, fb)
		}
	}
	ok := func(path, token string) []byte {
		t.Helper()
		st, b := call(path, token)
		if st != 200 {
			t.Errorf("%s as %s: %d %s, want 200", path, token, st, b)
		}
		return b
	}
	regionRoutes := []string{
		"/api/v1/regions?root={}&depth=1",
		"/api/v1/series?region={}",
		"/api/v1/counts?region={}",
		"/api/v1/hotspots?region={}",
		"/api/v1/audit/rates?region={}",
		"/api/v1/audit/whistles?region={}",
		"/api/v1/audit/rates?region={}&format=csv",
		"/api/v1/audit/rates?region={}&format=xlsx",
		"/api/v1/audit/whistles?region={}&format=csv",
		"/api/v1/audit/cases?unit=lc.urban&region={}",
	}
	for _, p := range regionRoutes {
		notFound(p, "tok-lc", minquan, "411502999")
		notFound(p, "tok-lc", minquan+"001", "411502999001")  // a grid of the other tenant
		notFound(p, "tok-lc", a.cfg.Tree.Root.Code, "411599") // the parent's region
		notFound(p, "tok-mq", laocheng, "411502999")
		notFound(p, "tok-lc-grid", minquan, "411502999")
		ok(strings.ReplaceAll(p, "{}", laocheng), "tok-lc")
		ok(strings.ReplaceAll(p, "{}", minquan), "tok-mq")
		// Within its tenant, a region outside the token's own stays 403 region.
		if st, b := call(strings.ReplaceAll(p, "{}", laocheng+"002"), "tok-lc-grid"); st != 403 || !strings.Contains(string(b), `"reason":"region"`) && !strings.Contains(string(b), `"reason":"root"`) {
			t.Errorf("%s as tok-lc-grid on a grid of its tenant outside its region: %d %s, want 403 region", p, st, b)
		}
	}
	notFound("/api/v1/cases/{}", "tok-lc", "MQ-0", "MQ-none")
	notFound("/api/v1/cases/{}", "tok-mq", "LC-1", "LC-none")
	for _, c := range []struct{ id, token string }{{"LC-1", "tok-lc"}, {"MQ-0", "tok-mq"}, {"LC-0", "tok-lc-grid"}} {
		if b := ok("/api/v1/cases/"+c.id, c.token); !strings.Contains(string(b), `"case_id":"`+c.id+`"`) {
			t.Errorf("case %s as %s: %s", c.id, c.token, b)
		}
	}
	if st, b := call("/api/v1/cases/LC-1", "tok-lc-grid"); st != 403 { // LC-1 is in grid 002
		t.Errorf("case of its tenant outside its region: %d %s, want 403", st, b)
	}

	// Own data only: the region tree, counts, series, audit rows and export rows.
	var fc struct {
		Features []struct{ Properties map[string]any }
	}
	_ = json.Unmarshal(ok("/api/v1/regions?depth=-1", "tok-lc"), &fc)
	for _, f := range fc.Features {
		code, _ := f.Properties["code"].(string)
		par, _ := f.Properties["parent"].(string)
		if !strings.HasPrefix(code, laocheng) || par != "" && !strings.HasPrefix(par, laocheng) {
			t.Errorf("laocheng's region tree lists %s (parent %q)", code, par)
		}
	}
	if len(fc.Features) != 5 {
		t.Errorf("laocheng's region tree: %d features, want the township and its 4 grids", len(fc.Features))
	}
	sum := func(b []byte, list, field string) int64 {
		var v map[string]any
		_ = json.Unmarshal(b, &v)
		var n int64
		items, _ := v[list].([]any)
		for _, it := range items {
			x, _ := it.(map[string]any)[field].(float64)
			n += int64(x)
		}
		return n
	}
	for _, c := range []struct {
		token, region string
		n             int64
	}{{"tok-lc", laocheng, nLC}, {"tok-mq", minquan, nMQ}, {"tok-county", "411502", nLC + nMQ}} {
		if got := sum(ok("/api/v1/counts?region="+c.region, c.token), "children", "count"); got != c.n {
			t.Errorf("counts of %s as %s sum to %d, want %d", c.region, c.token, got, c.n)
		}
		if got := sum(ok("/api/v1/series?region="+c.region, c.token), "points", "count"); got != c.n {
			t.Errorf("series of %s as %s sum to %d, want %d", c.region, c.token, got, c.n)
		}
	}
	// Root means the tenant's own region.
	if got := sum(ok("/api/v1/counts", "tok-mq"), "children", "count"); got != nMQ {
		t.Errorf("minquan's counts of root: %d, want %d", got, nMQ)
	}
	var rates struct {
		Cases int
		Units []struct{ Unit string }
	}
	_ = json.Unmarshal(ok("/api/v1/audit/rates?region="+laocheng, "tok-lc"), &rates)
	if rates.Cases != nLC || len(rates.Units) != 1 || rates.Units[0].Unit != "lc.urban" {
		t.Errorf("laocheng's rates audit: %+v, want %d cases of lc.urban only", rates, nLC)
	}
	var whistles struct {
		Whistles int
		Depts    []struct{ Dept string }
	}
	_ = json.Unmarshal(ok("/api/v1/audit/whistles?region="+minquan, "tok-mq"), &whistles)
	if whistles.Whistles != 1 || len(whistles.Depts) != 1 || whistles.Depts[0].Dept != "mq.urban" {
		t.Errorf("minquan's whistle audit: %+v, want its one whistle", whistles)
	}
	// A unit's cases: the tenant's own only, whatever unit it names.
	for _, c := range []struct {
		token, region, unit string
		want                int
	}{{"tok-lc", laocheng, "lc.urban", nLC}, {"tok-mq", minquan, "lc.urban", 0}, {"tok-mq", minquan, "mq.urban", nMQ}} {
		var list struct {
			Total int
			Rows  []struct {
				CaseID string `json:"case_id"`
			}
		}
		_ = json.Unmarshal(ok("/api/v1/audit/cases?unit="+c.unit+"&region="+c.region, c.token), &list)
		if list.Total != c.want || len(list.Rows) != c.want {
			t.Errorf("%s's cases of %s as %s: %+v, want %d", c.region, c.unit, c.token, list, c.want)
		}
		for _, r := range list.Rows {
			if !strings.HasPrefix(r.CaseID, strings.ToUpper(c.unit[:2])+"-") {
				t.Errorf("%s's cases of %s as %s list %s", c.region, c.unit, c.token, r.CaseID)
			}
		}
	}
	exportRows := func(b []byte) [][]string {
		rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\uFEFF")))).ReadAll()
		if err != nil {
			csvr := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\uFEFF"))))
			csvr.FieldsPerRecord = -1
			rows, _ = csvr.ReadAll()
		}
		return rows
	}
	for _, c := range []struct{ token, region, mine, theirs string }{{"tok-lc", laocheng, "lc.urban", "mq."}, {"tok-mq", minquan, "mq.urban", "lc."}} {
		for _, audit := range []string{"rates", "whistles"} {
			b := ok("/api/v1/audit/"+audit+"?format=csv&region="+c.region, c.token)
			found := 0
			for _, r := range exportRows(b) {
				if len(r) > 0 && r[0] == c.mine {
					found++
				}
			}
			if found != 1 || strings.Contains(string(b), c.theirs) || strings.Contains(string(b), "LC-") && c.theirs == "lc." || strings.Contains(string(b), "MQ-") && c.theirs == "mq." {
				t.Errorf("%s CSV export as %s: %d rows of %s, or the other tenant's data:\n%s", audit, c.token, found, c.mine, b)
			}
		}
		f, err := excelize.OpenReader(bytes.NewReader(ok("/api/v1/audit/rates?format=xlsx&region="+c.region, c.token)))
		if err != nil {
			t.Fatal(err)
		}
		rows, _ := f.GetRows(f.GetSheetName(0))
		f.Close()
		found := 0
		for _, r := range rows {
			if len(r) > 0 && r[0] == c.mine {
				found++
			}
			if strings.Contains(strings.Join(r, "|"), c.theirs) {
				t.Errorf("XLSX export as %s holds the other tenant's row %v", c.token, r)
			}
		}
		if found != 1 {
			t.Errorf("XLSX export as %s: %d rows of %s, want 1", c.token, found, c.mine)
		}
	}

	// The access log: each tenant's admin reads its own tenant's entries only.
	for _, c := range []struct{ admin, mine, theirs string }{{"adm-lc", "laocheng", "minquan"}, {"adm-mq", "minquan", "laocheng"}} {
		var log struct{ Entries []access.Entry }
		_ = json.Unmarshal(ok("/api/v1/access-log", c.admin), &log)
		pii, export := false, false
		for _, e := range log.Entries {
			if e.Tenant != c.mine {
				t.Errorf("%s reads an entry of %q: %+v", c.admin, e.Tenant, e)
			}
			pii = pii || e.Action == access.ActionPII
			export = export || e.Action == access.ActionExport
		}
		if !pii || !export {
			t.Errorf("%s's access log lacks its tenant's personal-field read or export: %+v", c.admin, log.Entries)
		}
	}

	// Live topics: the other tenant's answer as one that does not exist; the own one is served
	// with its own figures only.
	wsStart := time.Now()
	ws := dialWSToken(t, a.Addr, "tok-lc")
	errOf := func(topic string) (string, string) {
		t.Helper()
		_ = ws.c.WriteJSON(map[string]any{"op": "sub", "topic": topic})
		m := ws.waitFor(t, 30*time.Second, func(m map[string]any) bool { return m["op"] == "error" && m["topic"] == topic })
		code, _ := m["code"].(string)
		msg, _ := m["message"].(string)
		return code, msg
	}
	for _, kind := range []string{"overview", "cases", "whistles", "hotspots"} {
		suffix := ""
		if kind == "hotspots" {
			suffix = ":24h"
		}
		code, msg := errOf(kind + ":" + minquan + suffix)
		fcode, fmsg := errOf(kind + ":411502999" + suffix)
		if code != "unknown_topic" || code != fcode || strings.ReplaceAll(msg, minquan, "411502999") != fmsg {
			t.Errorf("%s topic of the other tenant: %s %q; of none: %s %q", kind, code, msg, fcode, fmsg)
		}
	}
	if code, msg := errOf("overview:root"); code != "forbidden" || strings.Contains(msg, "411502") {
		t.Errorf("overview:root as a tenant's token: %s %q, want forbidden without naming the region", code, msg)
	}
	topic := "overview:" + laocheng
	_ = ws.c.WriteJSON(map[string]any{"op": "sub", "topic": topic})
	ws.waitFor(t, 30*time.Second, func(m map[string]any) bool {
		if m["topic"] != topic || (m["op"] != "snapshot" && m["op"] != "delta") {
			return false
		}
		totals, _ := dataOf(m)["totals"].(map[string]any)
		n, _ := totals["new_today"].(float64)
		return n == nLC
	})
	mq := dialWSToken(t, a.Addr, "tok-mq")
	_ = mq.c.WriteJSON(map[string]any{"op": "sub", "topic": "cases:" + laocheng})
	m := mq.waitFor(t, 30*time.Second, func(m map[string]any) bool { return m["topic"] == "cases:"+laocheng })
	if m["op"] != "error" || m["code"] != "unknown_topic" {
		t.Errorf("minquan on laocheng's cases topic: %v", m)
	}
	t.Logf("live topics checked in %s", time.Since(wsStart).Round(time.Millisecond))
}

// TestTenantRoutesCovered keeps the access table and the isolation test together: every route
// that reads data is tried across tenants above, or is named here with the reason it needs no
// tenant check. A new route fails until it is one or the other.
func TestTenantRoutesCovered(t *testing.T) {
	t.Parallel()
	covered := map[string]string{
		"/api/v1/regions":         "isolation test",
		"/api/v1/series":          "isolation test",
		"/api/v1/counts":          "isolation test",
		"/api/v1/hotspots":        "isolation test",
		"/api/v1/cases/:id":       "isolation test",
		"/api/v1/audit/rates":     "isolation test (JSON, CSV, XLSX)",
		"/api/v1/audit/whistles":  "isolation test (JSON, CSV)",
		"/api/v1/audit/cases":     "isolation test (a unit's cases: own region only)",
		"/api/v1/access-log":      "isolation test (each admin reads its tenant's entries)",
		"/ws":                     "isolation test (overview, cases, whistles, hotspots topics)",
		"/api/v1/events":          "a source key reports within its tenant's roots (isolation test)",
		"/api/v1/events/versions": "a source key asks about its own event ids only (namespaced by its name), and learns only whether they are stored as it would send them",
		"/api/v1/hexes":           "H3 geometry of any cell id: no tenant's data",
		"/api/v1/catalog":         "names only; another tenant's departments left out (TestCatalogRoute)",
	}
	for k, v := range rosterCovered {
		covered[k] = v
	}
	for k, v := range evaluationCovered {
		covered[k] = v
	}
	for k, v := range alertsCovered {
		covered[k] = v
	}
	for _, r := range server.Rules {
		if r.Public {
			continue
		}
		if covered[r.Path] == "" {
			t.Errorf("%s %s: try it across tenants in tenantIsolation, or say here why it needs no tenant check", r.Method, r.Path)
		}
	}
}
