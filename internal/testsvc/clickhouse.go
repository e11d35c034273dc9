package testsvc

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// ClickHouse is a throw-away ClickHouse server: one process with its data, logs and config in
// a temporary directory, listening on free loopback ports.
type ClickHouse struct {
	*Proc
	TCPPort, HTTPPort int
	DSN               string // clickhouse://127.0.0.1:port/default
}

// The minimal config; the root element is accepted by every version from 18.x to 25.x.
const clickHouseConfig = `<?xml version="1.0"?>
<yandex>
  <logger>
    <level>warning</level>
    <log>{{dir}}/log/server.log</log>
    <errorlog>{{dir}}/log/error.log</errorlog>
    <console>0</console>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <tcp_port>{{tcp}}</tcp_port>
  <http_port>{{http}}</http_port>
  <interserver_http_port>{{inter}}</interserver_http_port>
  <path>{{dir}}/data/</path>
  <tmp_path>{{dir}}/tmp/</tmp_path>
  <user_files_path>{{dir}}/user_files/</user_files_path>
  <format_schema_path>{{dir}}/format_schemas/</format_schema_path>
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
  <timezone>UTC</timezone>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <users_config>{{dir}}/users.xml</users_config>
</yandex>
`

const clickHouseUsers = `<?xml version="1.0"?>
<yandex>
  <profiles><default></default></profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas><default></default></quotas>
</yandex>
`

// StartClickHouse starts a server for t, killed in t.Cleanup. It skips t when no server binary
// is installed (fails under ZHILI_REQUIRE_SERVICES=1). Kill9 and Start restart it on the same
// directory and ports. Tests that only need a database of their own use SharedClickHouse.
func StartClickHouse(t testing.TB) *ClickHouse {
	t.Helper()
	bin := LookBinary(t, "clickhouse-server", "clickhouse")
	c, err := startClickHouse(bin, t.TempDir())
	if c != nil {
		t.Cleanup(func() { c.Kill9() })
	}
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var shared struct {
	mu         sync.Mutex
	clickhouse *ClickHouse
	chErr      error
	dirs       []string
	procs      []*Proc
}

// SharedClickHouse returns the test binary's ClickHouse server, started on first use: a
// ClickHouse server takes seconds to start, so the tests of a package that do not stop or
// kill the server share one, each with a database of its own (NewDatabase). The package's
// TestMain calls StopShared after m.Run; the server dies with the test binary anyway.
func SharedClickHouse(t testing.TB) *ClickHouse {
	t.Helper()
	bin := LookBinary(t, "clickhouse-server", "clickhouse")
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.clickhouse == nil && shared.chErr == nil {
		dir, err := os.MkdirTemp("", "zhili-clickhouse-")
		if err != nil {
			t.Fatal(err)
		}
		shared.dirs = append(shared.dirs, dir)
		c, err := startClickHouse(bin, dir)
		if c != nil {
			shared.procs = append(shared.procs, c.Proc)
		}
		shared.clickhouse, shared.chErr = c, err
	}
	if shared.chErr != nil {
		t.Fatal(shared.chErr)
	}
	return shared.clickhouse
}

// RunShared runs a package's tests (from TestMain) and then stops the servers they shared;
// it returns the exit code.
func RunShared(m *testing.M) int {
	code := m.Run()
	StopShared()
	return code
}

// StopShared kills the shared servers and removes their directories.
func StopShared() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	for _, p := range shared.procs {
		_ = p.Kill9()
	}
	for _, d := range shared.dirs {
		_ = os.RemoveAll(d)
	}
	shared.procs, shared.dirs, shared.clickhouse, shared.chErr = nil, nil, nil, nil
}

// startClickHouse starts a server in dir on free ports, trying again on other ports when it
// does not come up: a port chosen free can be taken before the server binds it (by any
// connection's ephemeral port, in a busy test run).
func startClickHouse(bin, dir string) (*ClickHouse, error) {
	var errs []string
	for attempt := 1; attempt <= 3; attempt++ {
		c, err := startClickHouseOnce(bin, dir)
		if err == nil {
			return c, nil
		}
		if c != nil {
			_ = c.Proc.Kill9()
		}
		if tail, _ := os.ReadFile(filepath.Join(dir, "log", "error.log")); len(tail) > 0 {
			if len(tail) > 2000 {
				tail = tail[len(tail)-2000:]
			}
			err = fmt.Errorf("%w\n--- error.log tail ---\n%s", err, tail)
		}
		errs = append(errs, fmt.Sprintf("attempt %d: %v", attempt, err))
	}
	return nil, fmt.Errorf("clickhouse: did not start in 3 attempts:\n%s", strings.Join(errs, "\n"))
}

func startClickHouseOnce(bin, dir string) (*ClickHouse, error) {
	for _, d := range []string{"log", "data", "tmp", "user_files", "format_schemas"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	var ports [3]int
	for i := range ports {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	tcp, httpPort, inter := ports[0], ports[1], ports[2]
	cfg := strings.NewReplacer("{{dir}}", dir, "{{tcp}}", fmt.Sprint(tcp), "{{http}}", fmt.Sprint(httpPort),
		"{{inter}}", fmt.Sprint(inter)).Replace(clickHouseConfig)
	cfgPath := filepath.Join(dir, "config.xml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "users.xml"), []byte(clickHouseUsers), 0o644); err != nil {
		return nil, err
	}
	argv := []string{bin, "--config-file=" + cfgPath}
	if filepath.Base(bin) == "clickhouse" { // the single binary of newer releases
		argv = []string{bin, "server", "--config-file=" + cfgPath}
	}
	c := &ClickHouse{TCPPort: tcp, HTTPPort: httpPort,
		DSN: fmt.Sprintf("clickhouse://127.0.0.1:%d/default", tcp)}
	c.Proc = NewProc("clickhouse", tcp, dir, argv, func() error {
		if err := WaitPort(tcp, 60*time.Second); err != nil {
			return err
		}
		// The HTTP interface answers Ok. when it is this server's (a port can be someone else's).
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/ping", httpPort))
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if strings.TrimSpace(string(body)) == "Ok." {
					return nil
				}
				err = fmt.Errorf("/ping answered %q", body)
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("port %d: %w", httpPort, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	if err := c.Start(); err != nil {
		return c, err
	}
	return c, nil
}

var dbSeq atomic.Uint64

// NewDatabase creates a fresh database and returns a DSN for it.
func (c *ClickHouse) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("t%d_%d", time.Now().UnixNano()%1e9, dbSeq.Add(1))
	if err := c.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("clickhouse://127.0.0.1:%d/%s", c.TCPPort, name)
}

// Exec runs one statement through the HTTP interface.
func (c *ClickHouse) Exec(query string) error {
	_, err := c.Query(query)
	return err
}

// Query runs a query through the HTTP interface and returns its output (TabSeparated).
func (c *ClickHouse) Query(query string) (string, error) {
	resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/?query=%s", c.HTTPPort, url.QueryEscape(query)),
		"text/plain", nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("clickhouse: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return string(body), nil
}
