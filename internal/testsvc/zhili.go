package testsvc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The zhili binary as a black box: built once per test binary, started as `zhili serve` on a
// free loopback port with a data directory and a config file of its own, stopped with SIGTERM
// (the time the exit took is reported) or killed, and read from outside (/proc, /metrics).
// Like the other services here it runs in a process group of its own, dies with the test
// binary and is killed in t.Cleanup.

var zhiliBuild struct {
	once sync.Once
	bin  string
	err  error
	skip string // why the binary cannot be had (no go command)
}

// ZhiliBinary returns the zhili binary: $ZHILI_BIN (or $ZHILI_E2E_BIN) when set (`make test`
// builds one for every package), else ./cmd/zhili built once per test binary with `go build`
// into a temporary directory that StopShared removes (call testsvc.RunShared, or StopShared,
// from the package's TestMain). A missing go command skips t (fails it under
// ZHILI_REQUIRE_SERVICES=1); a failed build fails it.
func ZhiliBinary(t testing.TB) string {
	t.Helper()
	for _, env := range []string{"ZHILI_BIN", "ZHILI_E2E_BIN"} {
		if p := os.Getenv(env); p != "" {
			if _, err := os.Stat(p); err != nil {
				SkipOrFail(t, "%s=%s: %v", env, p, err)
			}
			return p
		}
	}
	zhiliBuild.once.Do(func() { zhiliBuild.bin, zhiliBuild.skip, zhiliBuild.err = buildZhili() })
	if zhiliBuild.skip != "" {
		SkipOrFail(t, "%s", zhiliBuild.skip)
	}
	if zhiliBuild.err != nil {
		t.Fatal(zhiliBuild.err)
	}
	return zhiliBuild.bin
}

func buildZhili() (bin, skip string, err error) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return "", "the go command is not on PATH, so cmd/zhili cannot be built (or set ZHILI_BIN)", nil
	}
	out, err := exec.Command(goCmd, "env", "GOMOD").Output()
	if err != nil {
		return "", "", fmt.Errorf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", "", errors.New("go env GOMOD: not inside the zhili module")
	}
	dir, err := os.MkdirTemp("", "zhili-bin-")
	if err != nil {
		return "", "", err
	}
	shared.mu.Lock()
	shared.dirs = append(shared.dirs, dir)
	shared.mu.Unlock()
	bin = filepath.Join(dir, "zhili")
	// -trimpath as `make` builds (the packages vet compiled serve this build from the cache);
	// no DWARF: a test server needs none (profiles and stack traces use the symbol table), and
	// its link takes half the time.
	cmd := exec.Command(goCmd, "build", "-trimpath", "-ldflags=-w", "-o", bin, "./cmd/zhili")
	cmd.Dir = filepath.Dir(gomod)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	start := time.Now()
	if err := StartCmd(cmd); err != nil {
		return "", "", fmt.Errorf("go build ./cmd/zhili: %v", err)
	}
	if err := cmd.Wait(); err != nil {
		return "", "", fmt.Errorf("go build ./cmd/zhili (%s): %v\n%s", time.Since(start).Round(time.Millisecond), err, log.Bytes())
	}
	return bin, "", nil
}

// ZhiliOptions configure StartZhili.
type ZhiliOptions struct {
	// Config is the YAML config file's content, written to <Dir>/zhili.yaml and passed as
	// --config; empty: no config file.
	Config string
	// Data is the --data directory; empty: a new directory under t.TempDir().
	Data string
	// Args are more flags of `zhili serve`, after the defaults (--listen 127.0.0.1:0, --data,
	// --config): a flag given again here wins.
	Args []string
	// Ready bounds the wait for the "listening on" line and a ready /readyz (default 60 s).
	Ready time.Duration
}

// Zhili is a `zhili serve` process that a test can stop, kill and start again with the same
// arguments and data directory (on a new free port unless Args fix one).
type Zhili struct {
	Bin    string
	Dir    string   // the test's directory for this server (config file)
	Data   string   // --data
	Config string   // path of the config file, or ""
	Argv   []string // the arguments after the binary

	t     testing.TB
	ready time.Duration

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	exitErr error         // cmd.Wait's result, once done
	out     *syncBuffer   // this run's stdout and stderr
	url     string
}

// listeningRE matches the line `zhili serve` prints once it listens.
var listeningRE = regexp.MustCompile(`listening on (http://[0-9.]+:[0-9]+)`)

// StartZhili starts `zhili serve` for t and waits until it listens and /readyz answers 200. It
// is killed (with its process group) in t.Cleanup; when t failed, the tail of its output is
// logged.
func StartZhili(t testing.TB, o ZhiliOptions) *Zhili {
	t.Helper()
	z := NewZhili(t, o)
	if err := z.Start(); err != nil {
		t.Fatal(err)
	}
	return z
}

// NewZhili prepares a server like StartZhili without starting it.
func NewZhili(t testing.TB, o ZhiliOptions) *Zhili {
	t.Helper()
	bin := ZhiliBinary(t)
	z := &Zhili{Bin: bin, Dir: t.TempDir(), Data: o.Data, t: t, ready: o.Ready}
	if z.Data == "" {
		z.Data = filepath.Join(z.Dir, "data")
	}
	if z.ready <= 0 {
		z.ready = 60 * time.Second
	}
	z.Argv = []string{"serve", "--listen", "127.0.0.1:0", "--data", z.Data}
	if o.Config != "" {
		z.Config = filepath.Join(z.Dir, "zhili.yaml")
		if err := os.WriteFile(z.Config, []byte(o.Config), 0o600); err != nil {
			t.Fatal(err)
		}
		z.Argv = append(z.Argv, "--config", z.Config)
	}
	z.Argv = append(z.Argv, o.Args...)
	t.Cleanup(func() {
		z.Kill()
		if t.Failed() {
			t.Logf("zhili serve output (last run):\n%s", tail(z.Output(), 6000))
		}
	})
	return z
}

// URL is the server's base URL (http://127.0.0.1:port) of the current or last run.
func (z *Zhili) URL() string {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.url
}

// Addr is the server's host:port.
func (z *Zhili) Addr() string { return strings.TrimPrefix(z.URL(), "http://") }

// PID is the process id of the current run (0 when not running).
func (z *Zhili) PID() int {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.cmd == nil || z.cmd.Process == nil {
		return 0
	}
	return z.cmd.Process.Pid
}

// Output is what the current (or last) run wrote to stdout and stderr.
func (z *Zhili) Output() string {
	z.mu.Lock()
	out := z.out
	z.mu.Unlock()
	if out == nil {
		return ""
	}
	return out.String()
}

// Start starts the process (again) and waits until it listens and /readyz answers 200.
func (z *Zhili) Start() error {
	z.mu.Lock()
	if z.cmd != nil {
		z.mu.Unlock()
		return errors.New("zhili: already running")
	}
	out := &syncBuffer{}
	cmd := exec.Command(z.Bin, z.Argv...)
	cmd.Dir = z.Dir
	cmd.Stdout, cmd.Stderr = out, out
	if err := StartCmd(cmd); err != nil {
		z.mu.Unlock()
		return fmt.Errorf("zhili: start %s: %w", z.Bin, err)
	}
	done := make(chan struct{})
	z.cmd, z.done, z.out, z.url, z.exitErr = cmd, done, out, "", nil
	go func() {
		err := cmd.Wait()
		z.mu.Lock()
		z.exitErr = err
		z.mu.Unlock()
		close(done)
	}()
	z.mu.Unlock()

	deadline := time.Now().Add(z.ready)
	fail := func(format string, args ...any) error {
		return fmt.Errorf("zhili serve %s: %s\n--- output ---\n%s", strings.Join(z.Argv, " "), fmt.Sprintf(format, args...), tail(out.String(), 4000))
	}
	var base string
	for base == "" {
		if m := listeningRE.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
			break
		}
		select {
		case <-done:
			return fail("exited before listening (%v)", z.exitError())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fail("no \"listening on\" line within %s", z.ready)
		}
	}
	z.mu.Lock()
	z.url = base
	z.mu.Unlock()
	client := &http.Client{Timeout: 2 * time.Second}
	var last string
	for {
		resp, err := client.Get(base + "/readyz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("%s %s", resp.Status, b)
		} else {
			last = err.Error()
		}
		select {
		case <-done:
			return fail("exited before ready (%v)", z.exitError())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fail("/readyz not ready within %s: %s", z.ready, last)
		}
	}
}

func (z *Zhili) exitError() error {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.exitErr
}

// Stop sends SIGTERM and waits for the process to exit (SIGKILL after 60 s). It returns how
// long the exit took, and an error when the process was killed or exited non-zero.
func (z *Zhili) Stop() (time.Duration, error) {
	return z.signal(syscall.SIGTERM, 60*time.Second)
}

// Kill kills the process group with SIGKILL and waits for the process to be gone.
func (z *Zhili) Kill() {
	_, _ = z.signal(syscall.SIGKILL, 10*time.Second)
}

func (z *Zhili) signal(sig syscall.Signal, wait time.Duration) (time.Duration, error) {
	z.mu.Lock()
	cmd, done := z.cmd, z.done
	z.cmd = nil
	z.mu.Unlock()
	if cmd == nil {
		return 0, nil
	}
	start := time.Now()
	if sig == syscall.SIGKILL {
		KillGroup(cmd)
	} else {
		_ = cmd.Process.Signal(sig)
	}
	select {
	case <-done:
	case <-time.After(wait):
		KillGroup(cmd)
		<-done
		return time.Since(start), fmt.Errorf("zhili: did not exit within %s of %s; killed", wait, sig)
	}
	took := time.Since(start)
	if err := z.exitError(); err != nil && sig != syscall.SIGKILL {
		return took, fmt.Errorf("zhili: exit after %s: %v", sig, err)
	}
	return took, nil
}

// Memory is a process's resident memory, in bytes: VmRSS now and VmHWM, the peak since it
// started.
type Memory struct {
	RSS, HWM int64
}

// MB formats a byte count in MiB.
func MB(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/(1<<20)) }

// Memory reads the current run's VmRSS and VmHWM.
func (z *Zhili) Memory() (Memory, error) {
	pid := z.PID()
	if pid == 0 {
		return Memory{}, errors.New("zhili: not running")
	}
	return ProcMemory(pid)
}

// ProcMemory reads VmRSS and VmHWM of a process from /proc/<pid>/status.
func ProcMemory(pid int) (Memory, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, err
	}
	defer f.Close()
	var m Memory
	var seen int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || k != "VmRSS" && k != "VmHWM" {
			continue
		}
		fs := strings.Fields(v)
		if len(fs) != 2 || fs[1] != "kB" {
			return Memory{}, fmt.Errorf("/proc/%d/status: %s:%s", pid, k, v)
		}
		n, err := strconv.ParseInt(fs[0], 10, 64)
		if err != nil {
			return Memory{}, fmt.Errorf("/proc/%d/status: %s: %v", pid, k, err)
		}
		if k == "VmRSS" {
			m.RSS = n << 10
		} else {
			m.HWM = n << 10
		}
		seen++
	}
	if err := sc.Err(); err != nil {
		return Memory{}, err
	}
	if seen != 2 {
		return Memory{}, fmt.Errorf("/proc/%d/status: no VmRSS and VmHWM", pid)
	}
	return m, nil
}

// OpenFiles counts the current run's open file descriptors (sockets included).
func (z *Zhili) OpenFiles() (int, error) {
	pid := z.PID()
	if pid == 0 {
		return 0, errors.New("zhili: not running")
	}
	es, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return len(es), err
}

// Metric reads one sample without labels (`name value`) from the server's /metrics.
func (z *Zhili) Metric(name string) (float64, error) {
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(z.URL() + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("/metrics: no sample %s", name)
}

// ZhiliRun is the outcome of RunZhili.
type ZhiliRun struct {
	Output   string
	ExitCode int  // -1 when it was killed
	Served   bool // it printed "listening on": a server started (and was killed)
	Took     time.Duration
}

// RunZhili runs the zhili binary with args until it exits, for commands expected to end
// (a `zhili serve` that must refuse its configuration). A `serve` that starts listening
// instead is killed at once and reported with Served; one still running after timeout is
// killed and fails t.
func RunZhili(t testing.TB, timeout time.Duration, args ...string) ZhiliRun {
	t.Helper()
	bin := ZhiliBinary(t)
	out := &syncBuffer{}
	cmd := exec.Command(bin, args...)
	cmd.Dir = t.TempDir()
	cmd.Stdout, cmd.Stderr = out, out
	start := time.Now()
	if err := Start(t, cmd); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var r ZhiliRun
	deadline := time.After(timeout)
	for {
		select {
		case err := <-done:
			r.Took, r.Output = time.Since(start), out.String()
			r.ExitCode = cmd.ProcessState.ExitCode()
			if err != nil && r.ExitCode == 0 {
				r.ExitCode = -1
			}
			r.Served = r.Served || listeningRE.MatchString(r.Output)
			return r
		case <-time.After(20 * time.Millisecond):
			if !r.Served && listeningRE.MatchString(out.String()) {
				r.Served = true
				KillGroup(cmd)
			}
		case <-deadline:
			KillGroup(cmd)
			<-done
			t.Fatalf("zhili %s: still running after %s\n%s", strings.Join(args, " "), timeout, tail(out.String(), 4000))
		}
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and readers at once.
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

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
