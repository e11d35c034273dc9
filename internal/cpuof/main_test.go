//go:build linux

package main

import (
	"strings"
	"testing"
	"time"
)

// An orphan (its parent exits at once) is waited for and its CPU counted under its name; the
// command's exit status is kept.
func TestRunCountsOrphans(t *testing.T) {
	// The shell starts a busy subshell in the background and exits 3 without waiting for it.
	r, err := run("sh", "-c", `(i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; sleep 0.3; true) & exit 3`)
	if err != nil {
		t.Fatal(err)
	}
	if r.exit != 3 {
		t.Errorf("exit %d, want the command's 3", r.exit)
	}
	if r.wall < 300*time.Millisecond {
		t.Errorf("wall %v: the orphan's last 0.3 s was not waited for", r.wall)
	}
	if r.byCmd["sh"] < 50*time.Millisecond {
		t.Errorf("CPU by name %v: the orphan's count loop not counted", r.byCmd)
	}
	var b strings.Builder
	r.write(&b)
	if !strings.HasPrefix(b.String(), "cpuof: exit 3, wall ") || !strings.Contains(b.String(), " sh=") {
		t.Errorf("report %q", b.String())
	}
}
