// Package testsvc starts throw-away Redis and ClickHouse servers for integration tests: real
// server processes from the system's packages, on free loopback ports, with their data in a
// temporary directory. When a binary is missing the test is skipped with a clear message,
// unless ZHILI_REQUIRE_SERVICES=1, when it fails instead.
package testsvc

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Required reports whether missing services fail tests instead of skipping them.
func Required() bool { return os.Getenv("ZHILI_REQUIRE_SERVICES") == "1" }

// SkipOrFail skips t (or fails it under ZHILI_REQUIRE_SERVICES=1) with a clear message.
func SkipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Required() {
		t.Fatalf("%s (ZHILI_REQUIRE_SERVICES=1)", msg)
	}
	t.Skipf("%s; skipping (set ZHILI_REQUIRE_SERVICES=1 to fail instead)", msg)
}

// LookBinary finds the first of names on PATH (or as an absolute path), or skips/fails t.
func LookBinary(t testing.TB, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	SkipOrFail(t, "%v not found (install Debian's package)", names)
	return ""
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	p, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// WaitPort waits until 127.0.0.1:port accepts connections.
func WaitPort(port int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("port %d: not accepting connections after %s: %w", port, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Proc is a server process that a test can kill, stop and start again on the same port and
// data directory.
type Proc struct {
	Name string
	Port int
	Dir  string // data directory
	Log  string // combined output file

	mu    sync.Mutex
	argv  []string
	cmd   *exec.Cmd
	done  chan struct{}
	ready func() error
}

// NewProc returns a stopped process; Start runs argv and waits for ready.
func NewProc(name string, port int, dir string, argv []string, ready func() error) *Proc {
	return &Proc{Name: name, Port: port, Dir: dir, Log: dir + "/" + name + ".log", argv: argv, ready: ready}
}

// Start starts the process and waits until it is ready.
func (p *Proc) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return fmt.Errorf("%s: already running", p.Name)
	}
	out, err := os.OpenFile(p.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(p.argv[0], p.argv[1:]...)
	cmd.Dir = p.Dir
	cmd.Stdout, cmd.Stderr = out, out
	if err := StartCmd(cmd); err != nil {
		out.Close()
		return fmt.Errorf("%s: start: %w", p.Name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); out.Close(); close(done) }()
	p.cmd, p.done = cmd, done
	if p.ready != nil {
		// A process that exits before it is ready (a port taken between its choice and the
		// bind) is reported at once, not when the wait for it runs out.
		ready := make(chan error, 1)
		go func() { ready <- p.ready() }()
		select {
		case err = <-ready:
		case <-done:
			err = fmt.Errorf("exited before it was ready")
		}
		if err != nil {
			log, _ := os.ReadFile(p.Log)
			if len(log) > 4000 {
				log = log[len(log)-4000:]
			}
			return fmt.Errorf("%s: not ready: %w\n--- log tail ---\n%s", p.Name, err, log)
		}
	}
	return nil
}

func (p *Proc) signal(sig syscall.Signal, wait time.Duration) error {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = syscall.Kill(-cmd.Process.Pid, sig)
	select {
	case <-done:
		return nil
	case <-time.After(wait):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return fmt.Errorf("%s: did not stop within %s; killed", p.Name, wait)
	}
}

// Kill9 kills the process with SIGKILL and waits for it to be gone.
func (p *Proc) Kill9() error { return p.signal(syscall.SIGKILL, 10*time.Second) }

// Stop stops the process with SIGTERM (SIGKILL after 30 s).
func (p *Proc) Stop() error { return p.signal(syscall.SIGTERM, 30*time.Second) }

// Running reports whether the process was started and not stopped.
func (p *Proc) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil
}
