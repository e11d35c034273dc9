package access

import (
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// FuzzParseConfig: any YAML either yields principals that keep the rules (a source never reads,
// every reader's regions are known; with tenants, every principal is of one and limited to its
// roots) or an error naming the file; never a panic.
func FuzzParseConfig(f *testing.F) {
	f.Add("access:\n  - {name: a, key: k, roles: [source], regions: [\"4115\"], types: [case.reported]}\n")
	f.Add("view_tokens:\n  - {token: t, region: \"4115\", pii: true}\ningest_keys:\n  - {key: k}\n")
	f.Add("access:\n  - token: " + Digest("x") + "\n    roles: [evaluator, officer]\n")
	f.Add("access: [1, 2]\n")
	f.Add("tenants:\n  - {name: city, roots: [\"4115\"]}\n  - {name: shihe, roots: [\"411502\"], parent: city}\n  - {name: pingqiao, roots: [\"411503\"], parent: city}\n" +
		"access:\n  - {name: wall, token: t, roles: [screen], tenant: shihe, region: \"411502001\"}\n" +
		"ingest_keys:\n  - {key: k, tenant: pingqiao}\nview_tokens:\n  - {token: v, tenant: city, pii: true}\n")
	f.Add("tenants:\n  - {name: a, roots: [\"411502\"]}\n  - {name: b, roots: [\"4115\"]}\nview_tokens:\n  - {token: v, tenant: a}\n")
	f.Fuzz(func(t *testing.T, src string) {
		var doc yaml.Node
		if yaml.Unmarshal([]byte(src), &doc) != nil {
			return
		}
		k, err := ParseConfig(&doc, "f.yaml", testPath)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.yaml:") {
				t.Fatalf("error without file and line: %v", err)
			}
			return
		}
		ts := k.Tenants()
		for i, a := range ts {
			for _, b := range ts[:i] {
				for _, r := range a.Roots {
					for _, q := range b.Roots {
						overlap := slices.Contains(testPath(r), q) || slices.Contains(testPath(q), r)
						if overlap && !a.Within(b) && !b.Within(a) {
							t.Fatalf("tenants %q and %q overlap (%s, %s) without being parent and child", a.Name, b.Name, r, q)
						}
					}
				}
			}
		}
		for _, p := range k.Principals() {
			if p.Roles == 0 || p.Roles.Has(Source) && p.Roles.Meets(Readers) {
				t.Fatalf("principal %+v breaks the rules", p)
			}
			for _, r := range p.Regions {
				if !strings.HasPrefix(r, "4115") {
					t.Fatalf("unknown region %q admitted", r)
				}
			}
			// With tenants, every principal is of one, and limited to regions under its roots.
			if ts := k.Tenants(); len(ts) > 0 {
				if p.Tenant == nil || !slices.Contains(ts, p.Tenant) || len(p.Regions) == 0 {
					t.Fatalf("principal %+v: no tenant or no regions", p)
				}
				for _, r := range p.Regions {
					if !p.Tenant.Covers(testPath(r)) {
						t.Fatalf("principal %+v: region %q outside its tenant", p, r)
					}
				}
			} else if p.Tenant != nil {
				t.Fatalf("principal %+v of a tenant without tenants", p)
			}
		}
	})
}
