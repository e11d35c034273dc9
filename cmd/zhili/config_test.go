package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"zhili/access"
)

func TestFlagPrecedence(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "zhili.yaml")
	os.WriteFile(cfg, []byte("listen: 0.0.0.0:9000\ntick: 1s\nmax-lines: 7\nview_tokens:\n  - {token: t1, region: \"411502001\"}\ningest_keys:\n  - {key: k1, types: [case.reported]}\n"), 0o600)
	t.Setenv("ZHILI_TICK", "500ms")
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	var conf, listen string
	var lines int
	tick := fs.Duration("tick", 0, "")
	fs.StringVar(&conf, "config", "", "")
	fs.StringVar(&listen, "listen", "127.0.0.1:8080", "")
	fs.IntVar(&lines, "max-lines", 10000, "")
	file, err := parseFlags(fs, []string{"--config", cfg, "--max-lines", "3"}, &conf)
	if err != nil {
		t.Fatal(err)
	}
	if listen != "0.0.0.0:9000" || tick.String() != "500ms" || lines != 3 {
		t.Fatalf("listen=%s tick=%s lines=%d: want file, env, flag", listen, tick, lines)
	}
	k, err := access.ParseConfig(&file.Doc, file.Path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := k.Lookup("t1"); !ok || len(p.Regions) != 1 || p.Regions[0] != "411502001" || p.Roles.Has(access.Source) {
		t.Fatalf("token t1: %+v", p)
	}
	if p, ok := k.Lookup("k1"); !ok || len(p.Types) != 1 || p.Roles != access.Of(access.Source) {
		t.Fatalf("key k1: %+v", p)
	}
	if err := file.checkKeys(fs, access.Sections...); err != nil {
		t.Fatal(err)
	}
}

// TestServeConfigFailsClosed: a misspelt key, an unknown role or region refuses to start and
// names the file and line.
func TestServeConfigFailsClosed(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{"listen: 127.0.0.1:0\nview_tokenz: t\n", `zhili.yaml:2: unknown config key "view_tokenz"`},
		{"access:\n  - {token: t, roles: [screen], regions: [\"999\"]}\n", `unknown region "999"`},
		{"access:\n  - {token: t, roles: [mayor]}\n", `unknown role "mayor"`},
		{"view_tokens:\n  - {token: t, regoin: \"411502\"}\n", `unknown field "regoin"`},
		// A flag's key given the entries of its list section: refused, never one unscoped secret.
		{"listen: 127.0.0.1:0\nview_token:\n  - {token: t, region: \"411502001\"}\n", `zhili.yaml:2: config key "view_token" takes one value, not a list or map (the list of entries is "view_tokens")`},
		{"ingest_key: {key: k, regions: [\"411502001\"]}\n", `zhili.yaml:1: config key "ingest_key" takes one value`},
		// With tenants, a secret of the command line (of no tenant) is refused.
		{"tenants:\n  - {name: laocheng, roots: [\"411502001\"]}\nview_tokens:\n  - {token: t, tenant: laocheng}\ningest_keys:\n  - {key: k2, tenant: laocheng}\n",
			"zhili.yaml: tenants are configured: --ingest-key and --view-token"},
		{"tenant:\n  - {name: a, roots: [\"411502001\"]}\n", `zhili.yaml:1: config key "tenant" takes one value, not a list or map (the list of entries is "tenants")`},
		{"tenants:\n  - {name: a, roots: [\"411502001\"]}\nview_tokens:\n  - {token: t}\n", "zhili.yaml:4: view_tokens[0]: a tenant is required"},
	} {
		dir := t.TempDir()
		cfg := filepath.Join(dir, "zhili.yaml")
		os.WriteFile(cfg, []byte(c.src), 0o600)
		var out, errb bytes.Buffer
		code := run([]string{"serve", "--config", cfg, "--data", dir, "--listen", "127.0.0.1:0", "--ingest-key", "k", "--view-token", "v"}, &out, &errb)
		if code == 0 || !strings.Contains(errb.String(), c.want) || !strings.Contains(errb.String(), "zhili.yaml:") {
			t.Errorf("%q: exit %d, stderr %q; want %q", c.src, code, errb.String(), c.want)
		}
	}
}

func TestVersionAndUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"version"}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "zhili ") {
		t.Fatalf("version: %d %q", code, out.String())
	}
	if code := run([]string{"nope"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "unknown command") {
		t.Fatalf("unknown command: %d %q", code, errb.String())
	}
	errb.Reset()
	if code := run([]string{"serve", "--tz", "Mars/Olympus"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "--tz") {
		t.Fatalf("bad tz: %d %q", code, errb.String())
	}
	errb.Reset()
	if code := run([]string{"serve", "--case-keep", "10s"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "--case-keep 10s: at least 1m") {
		t.Fatalf("case-keep under a minute: %d %q", code, errb.String())
	}
}

func TestDemoAccessIsStable(t *testing.T) {
	dir := t.TempDir()
	k1, t1, err := demoAccess(dir)
	if err != nil || len(k1) != 32 || len(t1) != 32 || k1 == t1 {
		t.Fatalf("%q %q %v", k1, t1, err)
	}
	k2, t2, _ := demoAccess(dir)
	if k1 != k2 || t1 != t2 {
		t.Fatal("demo key or token changed on restart")
	}
	if st, _ := os.Stat(filepath.Join(dir, "demo-access.json")); st.Mode().Perm() != 0o600 {
		t.Fatalf("demo-access.json mode %v", st.Mode())
	}
}
