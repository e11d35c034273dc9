package access

import (
	"slices"
	"strings"
	"testing"
)

const tenantsYAML = `
tenants:
  - {name: xinyang, roots: ["4115"]}
  - {name: shihe, roots: ["411502"], parent: xinyang}
  - {name: pingqiao, root: "411503", parent: xinyang}
`

// TestTenantsScopePrincipals: every entry is of its tenant; one without regions is limited to
// the tenant's roots, never the whole tree.
func TestTenantsScopePrincipals(t *testing.T) {
	k, err := parse(t, tenantsYAML+`
access:
  - {name: hotline, key: k-hot, roles: [source], tenant: shihe}
  - {name: wall, token: t-wall, roles: [screen], tenant: shihe, region: "411502001"}
  - {name: admin, token: t-admin, roles: [admin], tenant: pingqiao}
ingest_keys:
  - {key: k-pq, tenant: pingqiao, regions: ["411503002"]}
view_tokens:
  - {token: t-city, tenant: xinyang, pii: true}
`)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(k.Tenants()); n != 3 {
		t.Fatalf("%d tenants", n)
	}
	for _, c := range []struct{ secret, tenant, regions string }{
		{"k-hot", "shihe", "411502"},
		{"t-wall", "shihe", "411502001"},
		{"t-admin", "pingqiao", "411503"},
		{"k-pq", "pingqiao", "411503002"},
		{"t-city", "xinyang", "4115"},
	} {
		p, ok := k.Lookup(c.secret)
		if !ok || p.Tenant == nil || p.Tenant.Name != c.tenant || strings.Join(p.Regions, ",") != c.regions {
			t.Errorf("%s: %+v, want tenant %s regions %s", c.secret, p, c.tenant, c.regions)
		}
	}
	shihe, city := k.Tenants()[1], k.Tenants()[0]
	if !shihe.Within(city) || city.Within(shihe) || !shihe.Within(shihe) || shihe.Within(k.Tenants()[2]) {
		t.Error("Within")
	}
	if !shihe.Covers(testPath("411502001")) || shihe.Covers(testPath("411503")) || shihe.Covers(testPath("4115")) || shihe.Covers(nil) {
		t.Error("Covers")
	}
	// A clone (the server adds its short forms to one) keeps the tenants.
	if !slices.Equal(k.Clone().Tenants(), k.Tenants()) {
		t.Error("clone lost the tenants")
	}
}

// TestTenantsFailClosed: with tenants, an entry without a tenant, of an unknown tenant or with
// regions outside its tenant's roots refuses to start, naming the file and line; so do tenants
// that overlap without being parent and child.
func TestTenantsFailClosed(t *testing.T) {
	two := "tenants:\n  - {name: shihe, roots: [\"411502\"]}\n  - {name: pingqiao, roots: [\"411503\"]}\n"
	for _, c := range []struct{ src, want string }{
		{two + "view_tokens:\n  - {token: t}\n", `zhili.yaml:5: view_tokens[0]: a tenant is required when tenants are configured (one of shihe, pingqiao)`},
		{two + "access:\n  - {token: t, roles: [screen], tenant: xinyang}\n", `zhili.yaml:5: access[0]: unknown tenant "xinyang"`},
		{two + "ingest_keys:\n  - key: k\n    tenant: shihe\n    regions: [\"411502001\", \"411503001\"]\n", `zhili.yaml:7: ingest_keys[0]: region "411503001" lies outside the roots of tenant "shihe"`},
		{two + "view_tokens:\n  - {token: t, tenant: shihe, region: \"4115\"}\n", `region "4115" lies outside the roots of tenant "shihe"`},
		{"view_tokens:\n  - {token: t, tenant: shihe}\n", `zhili.yaml:2: view_tokens[0]: tenant "shihe": no tenants are configured`},
		{"tenants: []\n", "zhili.yaml:1: tenants lists no tenant"},
		{"tenants: {name: a}\n", "zhili.yaml:1: tenants must be a list"},
		{"tenants:\n  - {name: a, roots: [\"411502\"], rots: [1]}\n", `zhili.yaml:2: tenants[0]: unknown field "rots"`},
		{"tenants:\n  - {roots: [\"411502\"]}\n", "tenants[0]: a name is required"},
		{"tenants:\n  - {name: \"a:b\", roots: [\"411502\"]}\n", "name: must be a word"},
		{"tenants:\n  - {name: a}\n", `tenant "a": roots are required`},
		{"tenants:\n  - {name: a, roots: [\"110101\"]}\n", `zhili.yaml:2: tenants[0]: unknown region "110101"`},
		{"tenants:\n  - {name: a, roots: [\"4115\", \"411502\"]}\n", `root "411502" lies within root "4115" of the same tenant`},
		{two + "  - {name: shihe, roots: [\"411504\"]}\n", `zhili.yaml:4: tenants[2]: tenant "shihe" given twice`},
		{two + "  - {name: city, roots: [\"4115\"]}\n", `zhili.yaml:4: tenants[2]: root "4115" of tenant "city" overlaps root "411502" of tenant "shihe"`},
		{"tenants:\n  - {name: a, roots: [\"411502\"]}\n  - {name: b, roots: [\"411502001\"]}\n", `root "411502001" of tenant "b" overlaps root "411502"`},
		{"tenants:\n  - {name: a, roots: [\"411502\"]}\n  - {name: b, roots: [\"411503\"], parent: a}\n", `zhili.yaml:3: tenants[1]: root "411503" lies outside the roots of its parent "a"`},
		{"tenants:\n  - {name: a, roots: [\"411502\"], parent: c}\n", `parent "c" is not another tenant`},
		{"tenants:\n  - {name: a, roots: [\"411502\"], parent: a}\n", `parent "a" is not another tenant`},
		{"tenants:\n  - {name: a, roots: [\"411502\"], parent: b}\n  - {name: b, roots: [\"411502\"], parent: a}\n", "is its own ancestor"},
	} {
		_, err := parse(t, c.src)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.src, err, c.want)
		}
	}
	// A parent over its children, the entries of each in its own subtree, parses.
	if _, err := parse(t, tenantsYAML+"view_tokens:\n  - {token: t, tenant: pingqiao, region: \"411503001\"}\n"); err != nil {
		t.Fatal(err)
	}
}
