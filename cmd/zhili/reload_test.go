package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"zhili/access"
)

// syncBuffer is a bytes.Buffer safe for the server's writes and the test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serveInProcess runs `zhili serve --config cfg --data dir` in the test's process until the
// test ends, and returns its base URL and its stderr.
func serveInProcess(t *testing.T, cfg, dir string) (string, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, []string{"--config", cfg, "--data", dir, "--listen", "127.0.0.1:0"}, &bytes.Buffer{}, stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop")
		}
	})
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if m := listeningRE.FindStringSubmatch(stderr.String()); m != nil {
			return m[1], stderr
		} else if time.Now().After(deadline) {
			t.Fatalf("not listening: %s", stderr.String())
		}
	}
}

var listeningRE = regexp.MustCompile(`listening on (http://\S+)`)

// TestAccessReloadOnSIGHUP: tokens in the config file change without a restart; a config that
// does not parse is refused and the current list kept.
func TestAccessReloadOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "zhili.yaml")
	write := func(s string) {
		if err := os.WriteFile(cfg, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("access:\n  - {name: old, token: t-old, roles: [screen]}\n  - {name: src, key: k, roles: [source]}\n")
	base, stderr := serveInProcess(t, cfg, dir)
	status := func(token string) int {
		resp, err := http.Get(base + "/api/v1/regions?depth=0&token=" + token)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: never; log:\n%s", what, stderr.String())
			}
		}
	}
	if status("t-old") != 200 || status("t-new") != 401 {
		t.Fatalf("before reload: t-old %d, t-new %d", status("t-old"), status("t-new"))
	}
	write("access:\n  - {name: new, token: " + access.Digest("t-new") + ", roles: [leader]}\n  - {name: src, key: k, roles: [source]}\n")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor("t-new admitted after SIGHUP", func() bool { return status("t-new") == 200 })
	if st := status("t-old"); st != 401 {
		t.Fatalf("t-old after reload: %d, want 401", st)
	}
	// A broken file is refused; the list in force stays.
	write("access:\n  - {name: x, token: t-x, roles: [mayor]}\n")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor("refusal logged", func() bool { return bytes.Contains([]byte(stderr.String()), []byte("access reload refused")) })
	if status("t-new") != 200 || status("t-x") != 401 {
		t.Fatalf("after a refused reload: t-new %d, t-x %d", status("t-new"), status("t-x"))
	}
}
