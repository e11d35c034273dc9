package testsvc

import (
	"errors"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"testing"
)

// Child processes of a test die with the test binary, even when it is killed with SIGKILL (a
// `go test -timeout` panic, a CI runner cancelling the job, kill -9): each child starts in a
// process group of its own with Pdeathsig SIGKILL, and t.Cleanup kills the whole group.
//
// Pdeathsig fires when the thread that forked the child exits, not the process: the Go runtime
// may end an OS thread while the test binary runs (a goroutine that locked its thread ends
// without unlocking it), and with it the child. So every child starts from one goroutine locked
// to its thread for the life of the process; Start sends it the command.

type startReq struct {
	cmd  *exec.Cmd
	done chan error
}

var (
	spawnOnce sync.Once
	spawnCh   chan startReq
)

func spawner() {
	runtime.LockOSThread() // never unlocked: this thread lives as long as the process
	for r := range spawnCh {
		r.done <- r.cmd.Start()
	}
}

// SetProcAttr makes cmd start in a process group of its own and receive SIGKILL when the
// thread that starts it exits. It keeps the rest of cmd.SysProcAttr.
func SetProcAttr(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pgid = 0
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}

// StartCmd starts cmd (see SetProcAttr) from the spawner thread, which lives as long as the
// test binary, so the child is killed when the binary dies and not before. Use Start in tests;
// StartCmd is for processes that outlive one test (TestMain), whose owner kills them with
// KillGroup.
func StartCmd(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnCh = make(chan startReq)
		go spawner()
	})
	SetProcAttr(cmd)
	r := startReq{cmd: cmd, done: make(chan error, 1)}
	spawnCh <- r
	return <-r.done
}

// Start starts cmd like StartCmd and kills its process group (the child and whatever it
// started) in t.Cleanup. The caller still owns cmd.Wait.
func Start(t testing.TB, cmd *exec.Cmd) error {
	t.Helper()
	if err := StartCmd(cmd); err != nil {
		return err
	}
	t.Cleanup(func() { KillGroup(cmd) })
	return nil
}

// KillGroup sends SIGKILL to the process group of a command started by StartCmd or Start. The
// process is not waited for.
func KillGroup(cmd *exec.Cmd) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		_ = cmd.Process.Kill()
	}
}
