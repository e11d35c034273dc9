package access

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func parse(t *testing.T, src string) (*Keyring, error) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	return ParseConfig(&doc, "zhili.yaml", testPath)
}

// testPath is a tree of the codes starting with 4115, each code's ancestors its prefixes of 4,
// 6, 9, 12… digits (4115 → 411502 → 411502001).
func testPath(code string) []string {
	if !strings.HasPrefix(code, "4115") {
		return nil
	}
	var out []string
	for _, n := range []int{4, 6, 9, 12, 15} {
		if n < len(code) {
			out = append(out, code[:n])
		}
	}
	return append(out, code)
}

func TestConfigGrantsWhatItSays(t *testing.T) {
	k, err := parse(t, `
listen: 127.0.0.1:8080
access:
  - {name: hotline, key: k-hot, roles: [source], regions: ["411502"], types: [case.reported]}
  - {name: wall, token: t-wall, roles: screen, region: "411502"}
  - {name: evaluator, token: `+Digest("t-eval")+`, roles: [evaluator, officer]}
ingest_keys:
  - {key: k-legacy}
view_tokens:
  - {token: t-legacy, regions: ["411503"]}
  - {token: t-pii, pii: true}
`)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		secret  string
		roles   Set
		regions []string
	}{
		{"k-hot", Of(Source), []string{"411502"}},
		{"t-wall", Of(Screen), []string{"411502"}},
		{"t-eval", Of(Evaluator, Officer), nil},
		{"k-legacy", Of(Source), nil},
		{"t-legacy", LegacyViewerRoles, []string{"411503"}}, // plural on a token is honoured
		{"t-pii", LegacyViewerRoles | Of(Officer), nil},
	} {
		p, ok := k.Lookup(c.secret)
		if !ok {
			t.Fatalf("%s: not found", c.secret)
		}
		if p.Roles != c.roles || strings.Join(p.Regions, ",") != strings.Join(c.regions, ",") {
			t.Errorf("%s: roles %s regions %v, want %s %v", c.secret, p.Roles, p.Regions, c.roles, c.regions)
		}
	}
	if p, _ := k.Lookup("k-hot"); len(p.Types) != 1 || p.Types[0] != "case.reported" {
		t.Errorf("types %v", p.Types)
	}
	for _, s := range []string{"", "k-ho", "k-hot ", Digest("t-eval"), "t-walls"} {
		if _, ok := k.Lookup(s); ok {
			t.Errorf("%q accepted", s)
		}
	}
}

// TestConfigFailsClosed: every mistake refuses to start, naming the file and the line.
func TestConfigFailsClosed(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{"access:\n  - {token: t, roles: [screen], regoins: [\"411502\"]}\n", `zhili.yaml:2: access[0]: unknown field "regoins"`},
		{"access:\n  - token: t\n    roles: [screen, mayor]\n", `zhili.yaml:2: access[0]: unknown role "mayor"`},
		{"access:\n  - token: t\n    roles: [screen]\n    region: \"110101\"\n", `zhili.yaml:4: access[0]: unknown region "110101"`},
		{"access:\n  - {token: t}\n", "roles are required"},
		{"access:\n  - {roles: [screen]}\n", "a key or token is required"},
		{"access:\n  - {key: k, roles: [source, leader]}\n", "a source key never reads"},
		{"access:\n  - {token: t, roles: [screen], types: [case.reported]}\n", "types apply to source keys only"},
		{"ingest_keys:\n  - {key: k, types: [case.nope]}\n", `unknown event type "case.nope"`},
		{"ingest_keys:\n  - {key: k, pii: true}\n", `unknown field "pii"`},
		{"view_tokens:\n  - {token: t, roles: [admin]}\n", `unknown field "roles"`},
		{"view_tokens:\n  - {token: t}\n  - {token: t}\n", "zhili.yaml:3: view_tokens[1]: secret given twice"},
		{"view_tokens:\n  - {token: " + Digest("t") + "}\ningest_keys:\n  - {key: t}\n", "secret given twice"},
		{"view_tokens:\n  - {token: sha256:abc}\n", "hex digits"},
		{"view_tokens: {token: t}\n", "zhili.yaml:1: view_tokens must be a list"},
		{"view_tokens:\n  - {token: t, pii: maybe}\n", "pii"},
	} {
		_, err := parse(t, c.src)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.src, err, c.want)
		}
	}
}

func TestRoleNamesRoundTrip(t *testing.T) {
	for _, r := range AllRoles() {
		got, err := ParseRole(r.String())
		if err != nil || got != r {
			t.Errorf("%s: %v %v", r, got, err)
		}
	}
	if Of(Screen, Leader).String() != "screen,leader" || !Of(Screen).Meets(Readers) || Of(Source).Meets(Readers) {
		t.Error("sets")
	}
}
