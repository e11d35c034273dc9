package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestTenantsReloadChecked: a SIGHUP reload applies the tenant checks of a start: an entry
// without a tenant or with a region outside its tenant's roots is refused and the list in force
// stays; a good list is applied. Another tenant's region answers 404 like one that does not exist.
func TestTenantsReloadChecked(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "zhili.yaml")
	const tenants = "tenants:\n  - {name: laocheng, roots: [\"411502001\"]}\n  - {name: minquan, roots: [\"411502002\"]}\n" +
		"ingest_keys:\n  - {name: hotline, key: k-lc, tenant: laocheng}\n  - {name: hotline, key: k-mq, tenant: minquan}\n"
	write := func(s string) {
		if err := os.WriteFile(cfg, []byte(tenants+s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("view_tokens:\n  - {token: t-lc, tenant: laocheng}\n")
	base, stderr := serveInProcess(t, cfg, dir)
	status := func(token, root string) int {
		resp, err := http.Get(base + "/api/v1/regions?depth=0&root=" + root + "&token=" + token)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// root is the tenant's own region; the other tenant's is as unknown as a made-up one.
	if a, b, c := status("t-lc", "root"), status("t-lc", "411502002"), status("t-lc", "999"); a != 200 || b != 404 || c != 404 {
		t.Fatalf("t-lc: own %d, other tenant's %d, unknown %d; want 200 404 404", a, b, c)
	}
	refusals := 0
	for _, bad := range []struct{ src, want string }{
		{"view_tokens:\n  - {token: t-lc, tenant: laocheng}\n  - {token: t-x}\n", "a tenant is required"},
		{"view_tokens:\n  - {token: t-lc, tenant: laocheng}\n  - {token: t-x, tenant: laocheng, region: \"411502002\"}\n", `lies outside the roots of tenant \"laocheng\"`},
	} {
		write(bad.src)
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		refusals++
		for deadline := time.Now().Add(10 * time.Second); strings.Count(stderr.String(), "access reload refused") < refusals; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("reload of %q not refused; log:\n%s", bad.src, stderr.String())
			}
		}
		if !strings.Contains(stderr.String(), bad.want) {
			t.Fatalf("refusal does not say %q; log:\n%s", bad.want, stderr.String())
		}
		if status("t-x", "root") != 401 || status("t-lc", "root") != 200 {
			t.Fatal("a refused reload changed the list in force")
		}
	}
	write("view_tokens:\n  - {token: t-mq, tenant: minquan}\n")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); status("t-mq", "root") != 200; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("t-mq not admitted after reload; log:\n%s", stderr.String())
		}
	}
	if a, b := status("t-mq", "411502001"), status("t-lc", "root"); a != 404 || b != 401 {
		t.Fatalf("after reload: t-mq on laocheng %d (want 404), t-lc %d (want 401)", a, b)
	}
}
