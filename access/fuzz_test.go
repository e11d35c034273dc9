package access

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// FuzzParseConfig: any YAML either yields principals that keep the rules (a source never reads,
// every reader's regions are known) or an error naming the file; never a panic.
func FuzzParseConfig(f *testing.F) {
	f.Add("access:\n  - {name: a, key: k, roles: [source], regions: [\"4115\"], types: [case.reported]}\n")
	f.Add("view_tokens:\n  - {token: t, region: \"4115\", pii: true}\ningest_keys:\n  - {key: k}\n")
	f.Add("access:\n  - token: " + Digest("x") + "\n    roles: [evaluator, officer]\n")
	f.Add("access: [1, 2]\n")
	f.Fuzz(func(t *testing.T, src string) {
		var doc yaml.Node
		if yaml.Unmarshal([]byte(src), &doc) != nil {
			return
		}
		k, err := ParseConfig(&doc, "f.yaml", func(c string) bool { return strings.HasPrefix(c, "4115") })
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.yaml:") {
				t.Fatalf("error without file and line: %v", err)
			}
			return
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
		}
	})
}
