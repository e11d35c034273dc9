package testsvc

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Redis is a throw-away redis-server on a loopback port. It runs with the settings the durable
// intake needs (appendonly yes, appendfsync always, no RDB snapshots), so Kill9 and Start
// again keep every acknowledged write (the AOF lives in Dir). Stop/Kill9/Start restart it on
// the same port and directory.
type Redis struct {
	*Proc
	Addr string // host:port
	URL  string // redis://host:port/0
}

// StartRedis starts redis-server (Debian's package) for t and kills it in t.Cleanup. When the
// binary is missing t is skipped (failed under ZHILI_REQUIRE_SERVICES=1).
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	bin := LookBinary(t, "redis-server")
	dir := t.TempDir()
	// A port chosen free can be taken before the server binds it (by a connection's ephemeral
	// port, in a busy run): the server exits and is started again on another.
	var errs []string
	for attempt := 1; attempt <= 3; attempt++ {
		port := FreePort(t)
		addr := "127.0.0.1:" + strconv.Itoa(port)
		argv := []string{bin,
			"--port", strconv.Itoa(port),
			"--bind", "127.0.0.1",
			"--protected-mode", "no",
			"--dir", dir,
			"--appendonly", "yes",
			"--appendfsync", "always",
			"--save", "",
			"--daemonize", "no",
			"--logfile", "",
		}
		p := NewProc("redis", port, dir, argv, func() error { return waitRedis(addr, 15*time.Second) })
		err := p.Start()
		t.Cleanup(func() { _ = p.Kill9() })
		if err == nil {
			return &Redis{Proc: p, Addr: addr, URL: "redis://" + addr + "/0"}
		}
		_ = p.Kill9()
		errs = append(errs, fmt.Sprintf("attempt %d: %v", attempt, err))
	}
	t.Fatalf("redis: did not start in 3 attempts:\n%s", strings.Join(errs, "\n"))
	return nil
}

// waitRedis waits until the server answers PING with PONG (not LOADING, i.e. the AOF is
// loaded).
func waitRedis(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		if last = pingRedis(addr); last == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("redis %s: not ready after %s: %w", addr, timeout, last)
}

func pingRedis(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("PING: %q", strings.TrimSpace(line))
	}
	return nil
}
