package testsvc

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A server whose port was taken between its choice and the bind exits at once; Start says so at
// once, not when the wait for the port runs out, and StartRedis comes up on another port.
func TestPortTakenBeforeTheBind(t *testing.T) {
	bin := LookBinary(t, "redis-server")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	dir := t.TempDir()
	p := NewProc("redis", port, dir, []string{bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--dir", dir},
		func() error { return waitRedis("127.0.0.1:"+strconv.Itoa(port), 30*time.Second) })
	t0 := time.Now()
	err = p.Start()
	t.Cleanup(func() { _ = p.Kill9() })
	if err == nil || !strings.Contains(err.Error(), "exited before it was ready") || time.Since(t0) > 10*time.Second {
		t.Fatalf("start on a taken port: %v after %v; want an exit reported at once", err, time.Since(t0))
	}
	r := StartRedis(t)
	if err := pingRedis(r.Addr); err != nil {
		t.Fatal(err)
	}
}
