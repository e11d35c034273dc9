package app

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"

	"zhili/access"
	"zhili/catalog"
	"zhili/geo"
	"zhili/roster"
	"zhili/server"
)

// A roster of the demo county across the tenants of tenantConfig: a department of the county
// and one of no region, both tenants' townships with their heads (老城's handed over on
// 2024-03-01) and party committees, a grid's party branch, grid staff in both townships.
const rosterYAML = `
units:
  - {code: county.housing, zh: 住建局, kind: department, dept: county.housing, region: "411502"}
  - {code: county.water, zh: 水利局, kind: department, dept: county.water}
  - {code: gov.411502001, zh: 老城街道办事处, kind: township, region: "411502001"}
  - {code: gov.411502002, zh: 民权街道办事处, kind: township, region: "411502002"}
party:
  - {code: party.411502, zh: 中共浉河区委员会, level: county, region: "411502"}
  - {code: party.411502001, zh: 中共老城街道工作委员会, level: township, region: "411502001", parent: party.411502}
  - {code: party.411502002, zh: 中共民权街道工作委员会, level: township, region: "411502002", parent: party.411502}
  - {code: party.411502001001, zh: 老城第1网格党支部, level: village, region: "411502001001", parent: party.411502001}
cadres:
  - {id: P1, name: 张伟, phone: "14000000001", post: 办事处主任, post_type: 乡镇长, unit: gov.411502001, leader: yes, from: 2021-03-01, to: 2024-03-01}
  - {id: P2, name: 李娜, phone: "14000000002", post: 办事处主任, post_type: 乡镇长, unit: gov.411502001, leader: yes, from: 2024-03-01}
  - {id: P1, name: 张伟, post: 党工委书记, post_type: 乡镇党委书记, unit: party.411502001, leader: yes, from: 2024-03-01}
  - {id: P3, name: 王强, post: 办事处主任, post_type: 乡镇长, unit: gov.411502002, leader: yes, from: 2021-03-01}
  - {id: P4, name: 赵敏, post: 党工委书记, post_type: 乡镇党委书记, unit: party.411502002, leader: yes, from: 2021-03-01}
  - {id: P5, name: 刘洋, post: 区委书记, post_type: 县区委书记, unit: party.411502, leader: yes, from: 2021-10-01}
  - {id: P6, name: 陈静, post: 党支部书记, post_type: 村社党组织书记, unit: party.411502001001, leader: yes, from: 2021-01-04}
  - {id: P7, name: 杨勇, post: 党支部委员, post_type: 村社党组织委员, unit: party.411502001001, from: 2021-01-04}
  - {id: P8, name: 黄艳, post: 住建局局长, post_type: 局长, unit: county.housing, leader: yes, from: 2020-01-01}
  - {id: P9, name: 周杰, post: 水利局局长, post_type: 局长, unit: county.water, leader: yes, from: 2020-01-01}
grid_staff:
  - {id: P6, name: 陈静, role: head, grid: "411502001001", from: 2021-01-04}
  - {id: W1, name: 吴敏, role: worker, grid: "411502001001", from: 2020-01-01}
  - {id: W2, name: 徐静, role: worker, grid: "411502001002", from: 2020-01-01}
  - {id: W3, name: 孙丽, role: worker, grid: "411502002001", from: 2020-01-01}
`

// rosterCovered says for TestTenantRoutesCovered how the roster routes keep tenants apart.
var rosterCovered = map[string]string{
	"/api/v1/roster/units":      "names only; another tenant's units left out (TestRosterRoutes)",
	"/api/v1/roster/cadres":     "another tenant's unit is unknown, its people left out (TestRosterRoutes)",
	"/api/v1/roster/grid-staff": "another tenant's region is unknown, its grids left out (TestRosterRoutes)",
	"/api/v1/roster/party":      "another tenant's organisations left out (TestRosterRoutes)",
}

// TestRosterRoutes: the roster's people are served to the evaluator within its tenant and
// regions only (another tenant's unit answers as an unknown one, a region outside its own
// 403), as of a day, by unit, post type and region; every reply of people is recorded in the
// access log; unit names follow the catalogue's rule; a reloaded roster answers at once.
func TestRosterRoutes(t *testing.T) {
	t.Parallel()
	tree := geo.DemoTree()
	r, rep := roster.Parse([]byte(rosterYAML), "roster.yaml", roster.Options{Tree: tree, Catalog: catalog.Default()})
	if !rep.OK() {
		t.Fatalf("roster: %v", rep.Problems)
	}
	// People are personal data: never for wall screens and leaders' views by default.
	for _, rule := range server.Rules {
		if strings.HasPrefix(rule.Path, "/api/v1/roster/") && rule.Path != "/api/v1/roster/units" && rule.Roles != access.Of(access.Evaluator, access.Admin) {
			t.Errorf("%s admits %s: the roster's people are for evaluator and admin only", rule.Path, rule.Roles)
		}
	}
	a := startWith(t, Config{Access: tenantKeyring(t), Roster: r})
	base := "http://" + a.Addr
	type person struct {
		ID, Name, Phone, Post, Unit string
		Leader                      bool
	}
	query := func(path, token string) (int, map[string]json.RawMessage) {
		t.Helper()
		st, b := get(t, base+path+"&token="+token)
		var m map[string]json.RawMessage
		if st == 200 {
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatalf("%s: %v: %s", path, err, b)
			}
		} else {
			m = map[string]json.RawMessage{"error": b}
		}
		return st, m
	}
	names := func(raw json.RawMessage) []string {
		var ps []person
		if err := json.Unmarshal(raw, &ps); err != nil {
			t.Fatalf("%v: %s", err, raw)
		}
		var out []string
		for _, p := range ps {
			out = append(out, p.Name)
		}
		slices.Sort(out)
		return out
	}
	check := func(path, token string, status int, key string, want ...string) {
		t.Helper()
		st, m := query(path, token)
		if st != status {
			t.Errorf("%s as %s: %d %s, want %d", path, token, st, m["error"], status)
			return
		}
		if status != 200 {
			if !strings.Contains(string(m["error"]), key) {
				t.Errorf("%s as %s: %s, want %s", path, token, m["error"], key)
			}
			return
		}
		slices.Sort(want)
		if got := names(m[key]); !slices.Equal(got, want) {
			t.Errorf("%s as %s: %s %q, want %q", path, token, key, got, want)
		}
	}
	const cadres, staff = "/api/v1/roster/cadres?", "/api/v1/roster/grid-staff?"
	// A tenant sees its own people only; the county's (its parent) and another tenant's are left
	// out, and so are those of a unit of no region.
	check(cadres+"at=2026-01-01", "tok-lc", 200, "cadres", "李娜", "张伟", "陈静", "杨勇")
	check(cadres+"at=2026-01-01", "tok-mq", 200, "cadres", "王强", "赵敏")
	check(cadres+"at=2026-01-01", "tok-county", 200, "cadres", "李娜", "张伟", "陈静", "杨勇", "王强", "赵敏", "刘洋", "黄艳", "周杰")
	// As of a day: who held the post then.
	check(cadres+"unit=gov.411502001&at=2024-02-29", "tok-lc", 200, "cadres", "张伟")
	check(cadres+"unit=gov.411502001&at=2024-03-01", "tok-lc", 200, "cadres", "李娜")
	check(cadres+"unit=gov.411502001&at=2020-12-31", "tok-lc", 200, "cadres")
	// A peer group across units: the heads of both townships.
	check(cadres+"post_type="+url.QueryEscape("乡镇长")+"&at=2026-01-01", "tok-county", 200, "cadres", "李娜", "王强")
	check(cadres+"post_type="+url.QueryEscape("乡镇长")+"&region=411502002&at=2026-01-01", "tok-county", 200, "cadres", "王强")
	// Another tenant's unit is an unknown unit; within the tenant, outside the token's region, 403.
	_, other := query(cadres+"unit=gov.411502002", "tok-lc")
	_, none := query(cadres+"unit=gov.nowhere", "tok-lc")
	if strings.Replace(string(other["error"]), "gov.411502002", "X", 1) != strings.Replace(string(none["error"]), "gov.nowhere", "X", 1) {
		t.Errorf("another tenant's unit %s, an unknown one %s: want the same reply", other["error"], none["error"])
	}
	check(cadres+"unit=gov.411502002", "tok-lc", 404, `"reason":"unit"`)
	check(cadres+"unit=county.water", "tok-lc", 404, `"reason":"unit"`)
	check(cadres+"unit=gov.411502001", "tok-lc-grid", 403, `"reason":"unit"`)
	check(cadres+"region=411502002", "tok-lc", 404, `"reason":"region"`)
	check(cadres+"at=2024-02-30", "tok-lc", 400, `"reason":"at"`)
	// Grid staff: the token's region by default, a region's grids when named.
	check(staff+"at=2026-01-01", "tok-lc-grid", 200, "grid_staff", "陈静", "吴敏")
	check(staff+"at=2026-01-01", "tok-lc", 200, "grid_staff", "陈静", "吴敏", "徐静")
	check(staff+"region=411502002&at=2026-01-01", "tok-county", 200, "grid_staff", "孙丽")
	check(staff+"region=411502001", "tok-lc-grid", 403, `"reason":"region"`)
	check(staff+"region=411502002", "tok-lc", 404, `"reason":"region"`)

	// Party organisations per level with their secretaries and members.
	st, m := query("/api/v1/roster/party?at=2026-01-01", "tok-county")
	if st != 200 {
		t.Fatalf("party: %d %s", st, m["error"])
	}
	var orgs []struct {
		Code        string
		RoleZh      string `json:"role_zh"`
		Secretaries []person
		Members     []person
	}
	if err := json.Unmarshal(m["party"], &orgs); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, o := range orgs {
		var secs, mems []string
		for _, p := range o.Secretaries {
			secs = append(secs, p.Name)
		}
		for _, p := range o.Members {
			mems = append(mems, p.Name)
		}
		got[o.Code] = o.RoleZh + " " + strings.Join(secs, ",") + " / " + strings.Join(mems, ",")
	}
	for code, w := range map[string]string{"party.411502": "一线指挥部 刘洋 / ", "party.411502001": "前线指挥所 张伟 / ",
		"party.411502002": "前线指挥所 赵敏 / ", "party.411502001001": "攻坚小分队 陈静 / 杨勇"} {
		if got[code] != w {
			t.Errorf("party %s: %q, want %q", code, got[code], w)
		}
	}
	if len(got) != 4 {
		t.Errorf("party organisations: %v", got)
	}
	st, m = query("/api/v1/roster/party?at=2026-01-01", "tok-mq")
	if st != 200 || strings.Contains(string(m["party"]), "411502001") || !strings.Contains(string(m["party"]), "赵敏") {
		t.Errorf("party as tok-mq: %d %s", st, m["party"])
	}

	// Unit names: every reading role; a tenant's own units, those above it and of no region.
	unitCodes := func(token string) []string {
		st, m := query("/api/v1/roster/units?", token)
		if st != 200 {
			t.Fatalf("units as %s: %d %s", token, st, m["error"])
		}
		var us []struct{ Code string }
		_ = json.Unmarshal(m["units"], &us)
		var out []string
		for _, u := range us {
			out = append(out, u.Code)
		}
		return out
	}
	if got, want := unitCodes("tok-lc"), []string{"county.housing", "county.water", "gov.411502001"}; !slices.Equal(got, want) {
		t.Errorf("units as tok-lc: %q, want %q", got, want)
	}
	if got, want := unitCodes("tok-lc-grid"), []string{"county.housing", "county.water", "gov.411502001"}; !slices.Equal(got, want) {
		t.Errorf("units as tok-lc-grid: %q, want %q", got, want)
	}

	// Every reply of people is in the access log, for the tenant's admin.
	st, b := get(t, base+"/api/v1/access-log?token=adm-lc")
	if st != 200 {
		t.Fatalf("access log: %d %s", st, b)
	}
	var log struct{ Entries []access.Entry }
	_ = json.Unmarshal(b, &log)
	reads := 0
	for _, e := range log.Entries {
		if e.Action == access.ActionPII && strings.HasPrefix(e.Object, "/api/v1/roster/") {
			reads++
			if strings.Contains(e.Object, "token") {
				t.Errorf("an entry holds the token: %s", e.Object)
			}
		}
	}
	if reads != 6 { // tok-lc's and tok-lc-grid's replies of people above (refusals are not reads)
		t.Errorf("%d roster reads recorded for laocheng, want 6: %+v", reads, log.Entries)
	}

	// A new roster answers from the next request on.
	r2, rep := roster.Parse([]byte(strings.Replace(rosterYAML, "name: 李娜", "name: 李娜娜", 1)), "roster.yaml", roster.Options{Tree: tree, Catalog: catalog.Default()})
	if !rep.OK() {
		t.Fatal(rep.Problems)
	}
	a.Roster.Store(r2)
	check(cadres+"unit=gov.411502001&at=2024-03-01", "tok-lc", 200, "cadres", "李娜娜")
}
