package app

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"zhili/catalog"
	"zhili/geo"
	"zhili/ingest"
)

// A catalogue of the demo county: its own categories, a department above both tenants'
// townships, one in each, one of no region.
const catalogYAML = `
categories:
  - {code: environment, zh: 环境卫生, en: Sanitation}
  - {code: flood, zh: 防汛, en: Flood control, color: "#1e8fff"}
departments:
  - {code: county.housing, zh: 住建局, en: Housing, kind: 县直部门, region: "411502"}
  - {code: town.laocheng, zh: 老城街道办, en: Laocheng office, kind: 乡镇街道, region: "411502001", parent: county.housing}
  - {code: town.minquan, zh: 民权街道办, kind: 乡镇街道, region: "411502002"}
  - {code: power.grid, zh: 供电公司, kind: 驻地单位}
`

// TestCatalogRoute: GET /api/v1/catalog answers every reading role (a source key 403, no secret
// 401) with the catalogue, a tenant's departments only (and those above it or of no region);
// ingest accepts the catalogue's categories and refuses others, and follows a reloaded
// catalogue; the audit exports name each department beside its code.
func TestCatalogRoute(t *testing.T) {
	t.Parallel()
	tree := geo.DemoTree()
	cat, err := catalog.Parse([]byte(catalogYAML), "catalog.yaml", catalog.Options{KnownRegion: func(c string) bool { return tree.Get(c) != nil }})
	if err != nil {
		t.Fatal(err)
	}
	a := startWith(t, Config{Access: tenantKeyring(t), Catalog: cat})
	base := "http://" + a.Addr

	type reply struct {
		Categories  []catalog.Category   `json:"categories"`
		Departments []catalog.Department `json:"departments"`
	}
	read := func(token string) (int, reply) {
		t.Helper()
		st, b := get(t, base+"/api/v1/catalog?token="+token)
		var r reply
		if st == 200 {
			if err := json.Unmarshal(b, &r); err != nil {
				t.Fatalf("catalogue: %v: %s", err, b)
			}
		}
		return st, r
	}
	depts := func(r reply) []string {
		var out []string
		for _, d := range r.Departments {
			out = append(out, d.Code)
		}
		return out
	}
	for _, c := range []struct {
		token  string
		status int
		depts  []string
	}{
		{"tok-lc", 200, []string{"county.housing", "town.laocheng", "power.grid"}},
		{"tok-mq", 200, []string{"county.housing", "town.minquan", "power.grid"}},
		{"adm-lc", 200, []string{"county.housing", "town.laocheng", "power.grid"}},
		{"tok-county", 200, []string{"county.housing", "town.laocheng", "town.minquan", "power.grid"}},
		{"src-lc", 403, nil},
		{"", 401, nil},
	} {
		st, r := read(c.token)
		if st != c.status || !slices.Equal(depts(r), c.depts) {
			t.Errorf("catalogue as %q: %d %v, want %d %v", c.token, st, depts(r), c.status, c.depts)
		}
	}
	_, r := read("tok-lc")
	var codes []string
	for _, c := range r.Categories {
		codes = append(codes, c.Code)
	}
	if !slices.Equal(codes, []string{"environment", "flood", "unmapped"}) || r.Categories[1].Zh != "防汛" || r.Categories[1].Color != "#1e8fff" {
		t.Errorf("categories %+v", r.Categories)
	}

	// Ingest: the catalogue's categories, not the built-in ones.
	at := func(d time.Duration) string { return time.Now().Add(-2*time.Minute + d).UTC().Format(time.RFC3339) }
	send := func(lines ...string) ingest.Reply {
		t.Helper()
		req, _ := http.NewRequest("POST", base+"/api/v1/events", strings.NewReader(strings.Join(lines, "\n")+"\n"))
		req.Header.Set("Authorization", "Bearer src-lc")
		req.Header.Set("Content-Type", "application/x-ndjson")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var rep ingest.Reply
		if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil || resp.StatusCode != 200 {
			t.Fatalf("ingest: %d %v", resp.StatusCode, err)
		}
		return rep
	}
	report := func(id, category string) string {
		return `{"id":"` + id + `r","type":"case.reported","case_id":"` + id + `","at":"` + at(0) + `","source":"grid","category":"` + category + `","region":"411502001001"}`
	}
	rep := send(report("F1", "flood"),
		`{"id":"F1d","type":"case.dispatched","case_id":"F1","at":"`+at(time.Second)+`","dept":"town.laocheng","deadline":"`+at(time.Hour)+`"}`,
		`{"id":"F1w","type":"whistle.blown","case_id":"F1","at":"`+at(2*time.Second)+`","whistle_id":"W1","whistle_kind":"advance","depts":["town.laocheng","X-unknown"]}`,
		report("D1", "dispute"))
	if rep.Accepted != 3 || len(rep.Rejected) != 1 || rep.Rejected[0].Line != 4 || !strings.HasPrefix(rep.Rejected[0].Error, "category:") {
		t.Errorf("ingest: %+v, want the flood case accepted and the dispute report refused on its category", rep)
	}
	// A reloaded catalogue decides for the next events.
	def := catalog.Default()
	a.Catalog.Store(def)
	if rep := send(report("F2", "flood"), report("D2", "dispute")); rep.Accepted != 1 || len(rep.Rejected) != 1 || rep.Rejected[0].Line != 1 {
		t.Errorf("after the reload: %+v, want flood refused and dispute accepted", rep)
	}
	if _, r := read("tok-lc"); len(r.Categories) != len(def.Categories) {
		t.Errorf("after the reload the route serves %d categories, want %d", len(r.Categories), len(def.Categories))
	}
	a.Catalog.Store(cat)

	// The exports: a name column beside each department's code, unknown codes named by themselves.
	q := base + "/api/v1/audit/rates?token=tok-lc&region=411502001"
	eventually(t, 30*time.Second, func() string {
		st, b := get(t, strings.Replace(q, "/rates?", "/whistles?", 1))
		var w struct {
			Whistles int `json:"whistles"`
		}
		_ = json.Unmarshal(b, &w)
		if st != 200 || w.Whistles != 1 {
			return "the audit does not see the whistle: " + string(b)
		}
		return ""
	})
	rows := func(path string) [][]string {
		t.Helper()
		st, b := get(t, path)
		if st != 200 {
			t.Fatalf("%s: %d %s", path, st, b)
		}
		r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\uFEFF"))))
		r.FieldsPerRecord = -1
		recs, err := r.ReadAll()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return recs
	}
	has := func(recs [][]string, want ...string) bool {
		return slices.ContainsFunc(recs, func(r []string) bool { return len(r) >= len(want) && slices.Equal(r[:len(want)], want) })
	}
	rates := rows(q + "&format=csv")
	if !has(rates, "单位 unit", "名称 name") || !has(rates, "town.laocheng", "老城街道办") {
		t.Errorf("rates CSV without the department's name:\n%v", rates)
	}
	whistles := rows(strings.Replace(q, "/rates?", "/whistles?", 1) + "&format=csv")
	if !has(whistles, "部门 dept", "名称 name", "被召唤 summoned") || !has(whistles, "town.laocheng", "老城街道办", "1") || !has(whistles, "X-unknown", "X-unknown", "1") {
		t.Errorf("whistles CSV without names:\n%v", whistles)
	}
	byRegion := rows(q + "&format=csv&by=region")
	if !has(byRegion, "411502001001", tree.Get("411502001001").Name) {
		t.Errorf("rates by region CSV without the region's name:\n%v", byRegion)
	}
	st, b := get(t, q+"&format=xlsx")
	if st != 200 {
		t.Fatalf("xlsx: %d", st)
	}
	f, err := excelize.OpenReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	xrows, err := f.GetRows(f.GetSheetName(0))
	if err != nil {
		t.Fatal(err)
	}
	if !has(xrows, "town.laocheng", "老城街道办") {
		t.Errorf("rates XLSX without the department's name:\n%v", xrows)
	}
}
