//go:build linux

// Command cpuof runs a command and prints the CPU time of every process it started, by process
// name, orphans included: cpuof is the children's subreaper, so a process whose parent exits
// first (a browser's helpers when the browser is killed with its group) is reaped and counted
// here instead of by init. A process reaped by its own parent is counted in that parent's
// figure (the kernel adds a reaped child's usage to its parent's), so a name stands for the
// processes it reaped too. It waits for every descendant, not only the command. The figures in
// README.md ("Tests") were taken with
//
//	go run ./internal/cpuof make test
//
// The report goes to standard error; cpuof exits with the command's status.
package main

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: cpuof COMMAND [ARG...]")
		os.Exit(2)
	}
	r, err := run(os.Args[1], os.Args[2:]...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cpuof:", err)
		os.Exit(2)
	}
	r.write(os.Stderr)
	os.Exit(r.exit)
}

// report is what one run used.
type report struct {
	exit  int                      // the command's exit status
	wall  time.Duration            // until the last descendant exited
	byCmd map[string]time.Duration // user + system CPU by process name
}

func (r report) total() time.Duration {
	var t time.Duration
	for _, d := range r.byCmd {
		t += d
	}
	return t
}

func (r report) write(w io.Writer) {
	names := slices.SortedFunc(maps.Keys(r.byCmd), func(a, b string) int { return cmp.Compare(r.byCmd[b], r.byCmd[a]) })
	var parts []string
	for _, n := range names[:min(12, len(names))] {
		parts = append(parts, fmt.Sprintf("%s=%.1f", n, r.byCmd[n].Seconds()))
	}
	fmt.Fprintf(w, "cpuof: exit %d, wall %.1f s, CPU %.1f CPU-s: %s\n", r.exit, r.wall.Seconds(), r.total().Seconds(), strings.Join(parts, " "))
}

// run starts name with args as a child of a subreaper and reaps every descendant.
func run(name string, args ...string) (report, error) {
	r := report{byCmd: map[string]time.Duration{}}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return r, fmt.Errorf("become a subreaper: %w", err)
	}
	cmd := exec.Command(name, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return r, err
	}
	for {
		// Learn who exited without reaping it, so that its name can still be read.
		var info unix.Siginfo
		if err := unix.Waitid(unix.P_ALL, 0, &info, unix.WEXITED|unix.WNOWAIT, nil); err != nil {
			if err == unix.ECHILD {
				break
			}
			if err == unix.EINTR {
				continue
			}
			return r, err
		}
		pid := siginfoPid(&info)
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		var ws unix.WaitStatus
		var ru unix.Rusage
		if _, err := unix.Wait4(pid, &ws, 0, &ru); err != nil {
			return r, err
		}
		n := strings.TrimSpace(string(comm))
		if n == "" {
			n = "?"
		}
		r.byCmd[n] += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		if pid == cmd.Process.Pid {
			r.exit = ws.ExitStatus()
			if ws.Signaled() {
				r.exit = 128 + int(ws.Signal())
			}
		}
	}
	r.wall = time.Since(start)
	return r, nil
}

// siginfoPid is si_pid of a SIGCHLD siginfo: after si_signo, si_errno, si_code and padding, at
// byte 16 on Linux's 64-bit layouts (x/sys does not name the field).
func siginfoPid(info *unix.Siginfo) int {
	return int(*(*int32)(unsafe.Add(unsafe.Pointer(info), 16)))
}
