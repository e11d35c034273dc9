package attack_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"zhili/internal/testsvc"
)

// TestConfigFailsClosed: an access config with a misspelt or unknown key, field, role or region,
// or a secret that would do more than it says, refuses to start, naming the file and line; no
// server listens. (The small built-in county, 浉河区 411502, is the geography.)
func TestConfigFailsClosed(t *testing.T) {
	t.Parallel()
	const head = "access:\n" + // lines 1-3
		"  - {name: hotline, key: k-src-cfg, roles: [source]}\n" +
		"  - {name: screen, token: t-screen-cfg, roles: [screen]}\n"
	for _, c := range []struct {
		name  string
		extra string // from line 4
		line  int
		want  string
	}{
		{"field regoin", "view_tokens:\n  - {token: t-v, regoin: \"411502\"}\n", 5, `view_tokens[0]: unknown field "regoin"`},
		{"field regoin in access", "  - {name: x, token: t-x, roles: [screen], regoin: \"411502\"}\n", 4, `access[2]: unknown field "regoin"`},
		{"top-level key", "viewtokens:\n  - {token: t-v}\n", 4, `unknown config key "viewtokens"`},
		{"role", "  - {name: x, token: t-x, roles: [superuser]}\n", 4, `unknown role "superuser"`},
		{"region", "  - {name: x, token: t-x, roles: [screen], region: \"999999\"}\n", 4, `unknown region "999999"`},
		{"region in view_tokens", "view_tokens:\n  - {token: t-v, regions: [\"411502\", \"411599\"]}\n", 5, `unknown region "411599"`},
		{"event type", "  - {name: x, key: k-x, roles: [source], types: [case.stolen]}\n", 4, `unknown event type "case.stolen"`},
		{"source that reads", "  - {name: x, key: k-x, roles: [source, screen]}\n", 4, "a source key never reads"},
		{"secret twice", "  - {name: x, token: t-screen-cfg, roles: [admin]}\n", 4, "secret given twice"},
		{"types on a reader", "  - {name: x, token: t-x, roles: [screen], types: [case.reported]}\n", 4, "types apply to source keys only"},
		{"no roles", "  - {name: x, token: t-x}\n", 4, "roles are required"},
		{"no secret", "  - {name: x, roles: [screen]}\n", 4, "a key or token is required"},
		// The flags' own names, singular, given the list form of the sections: the list must
		// not become a secret of its own, unscoped.
		{"view_token given a list", "view_token:\n  - {token: t-v, region: \"411502001\"}\n", 4, ""},
		{"ingest_key given a list", "ingest_key:\n  - {key: k-v, regions: [\"411502001\"]}\n", 4, ""},
	} {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "zhili.yaml")
			if err := os.WriteFile(path, []byte(head+c.extra), 0o600); err != nil {
				t.Fatal(err)
			}
			r := testsvc.RunZhili(t, 30*time.Second, "serve", "--config", path, "--listen", "127.0.0.1:0", "--data", filepath.Join(dir, "data"))
			at := fmt.Sprintf("%s:%d:", path, c.line)
			if r.Served || r.ExitCode == 0 || !strings.Contains(r.Output, at) || !strings.Contains(r.Output, c.want) {
				t.Errorf("config line %d %q: exit %d, served %v:\n%s\nwant a refusal to start naming %s %s", c.line,
					strings.TrimSpace(c.extra), r.ExitCode, r.Served, r.Output, at, c.want)
			}
			if _, err := os.Stat(filepath.Join(dir, "data", "intake")); err == nil {
				t.Errorf("a refused config opened the data directory")
			}
		})
	}

	// `regions:` and `region:` are the same field (docs/ACCESS.md): a view token written with
	// the plural is held to its region, never left unscoped.
	t.Run("regions_plural_holds", func(t *testing.T) {
		z := testsvc.StartZhili(t, testsvc.ZhiliOptions{Config: head +
			"view_tokens:\n  - {token: t-plural, regions: [\"411502001\"]}\n" +
			"  - token: t-plural-list\n    regions:\n      - \"411502002\"\n"})
		for tok, own := range map[string]string{"t-plural": "411502001", "t-plural-list": "411502002"} {
			var counts struct{ Region string }
			r := do(t, "GET", z.URL()+"/api/v1/counts", tok, nil, nil)
			if r.Status != 200 || json.Unmarshal(r.Body, &counts) != nil || counts.Region != own {
				t.Errorf("counts of root with %s: %s, want region %s", tok, r, own)
			}
			for _, other := range []string{"411502", "411502001", "411502002", "411502003"} {
				if other == own {
					continue
				}
				wantError(t, tok+" asking for "+other, do(t, "GET", z.URL()+"/api/v1/counts?region="+other, tok, nil, nil), 403, "forbidden", "region")
			}
		}
	})
}
