package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	keys, tokens, err := accessFromFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if tokens["t1"].Region != "411502001" || len(keys["k1"].Types) != 1 {
		t.Fatalf("access %v %v", keys, tokens)
	}
	if _, _, err := accessFromFile(map[string]any{"ingest_keys": []any{map[string]any{"key": "k", "types": []any{"case.nope"}}}}); err == nil {
		t.Fatal("unknown type in config accepted")
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
