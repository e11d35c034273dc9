package attack_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"zhili/internal/testsvc"
)

// damageRE matches the server's log line about a damaged intake-log tail.
var damageRE = regexp.MustCompile(`msg="intake log: damaged tail cut at open; the bytes are kept aside" file=(\S+) offset=(\d+) bytes=(\d+) entries=(\d+) reason=("[^"]*"|\S+) kept=(\S+)`)

// TestIntakeTailDamage: the newest intake-log file loses its last bytes while the server is
// stopped. The server starts, names the damage (file, offset, bytes, entries lost) in its log and
// in /metrics, and keeps the cut bytes aside; after a clean stop and start nothing is reported
// and the log is not shorter.
func TestIntakeTailDamage(t *testing.T) {
	t.Parallel()
	const key, leader = "k-src-wal", "t-leader-wal"
	z := testsvc.StartZhili(t, testsvc.ZhiliOptions{Config: "access:\n" +
		"  - {name: hotline, key: " + key + ", roles: [source]}\n" +
		"  - {name: leader, token: " + leader + ", roles: [leader]}\n"})
	batch := func(b int) []string {
		var lines []string
		for i := range 3 {
			lines = append(lines, reported(fmt.Sprintf("wal-%d-%d", b, i), fmt.Sprintf("WAL-%d-%d", b, i), "411502001", nil))
		}
		return lines
	}
	for b := range 2 { // two Append calls of three events
		if ir := ingest(t, z.URL(), key, batch(b)...); ir.Accepted != 3 {
			t.Fatalf("batch %d: %+v", b, ir)
		}
	}
	for b := range 2 {
		for i := range 3 {
			waitCase(t, z.URL(), fmt.Sprintf("WAL-%d-%d", b, i), leader)
		}
	}
	took, err := z.Stop()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("SIGTERM: exited in %s", took.Round(1e6))

	dir := filepath.Join(z.Data, "intake")
	seg, _ := segments(t, dir)
	if len(seg) == 0 {
		t.Fatalf("no intake segment in %s", dir)
	}
	newest := filepath.Join(dir, seg[len(seg)-1])
	orig, err := os.ReadFile(newest)
	if err != nil || len(orig) < 100 {
		t.Fatalf("newest segment %s: %d bytes, %v", newest, len(orig), err)
	}
	const cut = 7
	if err := os.Truncate(newest, int64(len(orig)-cut)); err != nil {
		t.Fatal(err)
	}
	left := len(orig) - cut

	if err := z.Start(); err != nil {
		t.Fatalf("restart after the damage: %v", err)
	}
	m := damageRE.FindStringSubmatch(z.Output())
	if m == nil {
		t.Fatalf("the damage is not logged by name:\n%s", z.Output())
	}
	off, _ := strconv.Atoi(m[2])
	n, _ := strconv.Atoi(m[3])
	entries, _ := strconv.Atoi(m[4])
	kept := m[6]
	t.Logf("logged: file=%s offset=%d bytes=%d entries=%d reason=%s kept=%s", m[1], off, n, entries, m[5], filepath.Base(kept))
	if m[1] != newest || off+n != left || n <= 0 || entries != 2 {
		t.Errorf("logged file %s offset %d bytes %d entries %d; want %s, offset+bytes = %d, the 2 whole entries of the torn Append call",
			m[1], off, n, entries, newest, left)
	}
	if !strings.HasPrefix(filepath.Base(kept), filepath.Base(newest)+".damaged-") {
		t.Errorf("kept as %s, want %s.damaged-*", kept, newest)
	}
	if b, err := os.ReadFile(kept); err != nil || off > left || !bytes.Equal(b, orig[off:left]) {
		t.Errorf("the kept file %s (%d bytes, %v) does not hold the %d bytes cut at %d", kept, len(b), err, n, off)
	}
	for name, want := range map[string]float64{"zhili_intake_damaged_tail_bytes": float64(n), "zhili_intake_damaged_tail_entries": 2} {
		if v, err := z.Metric(name); err != nil || v != want {
			t.Errorf("/metrics %s = %v (%v), want %v", name, v, err, want)
		}
	}
	// The history store had the events: every case is still served, and sending the torn batch
	// again is answered with duplicates.
	for b := range 2 {
		for i := range 3 {
			waitCase(t, z.URL(), fmt.Sprintf("WAL-%d-%d", b, i), leader)
		}
	}
	if ir := ingest(t, z.URL(), key, batch(1)...); ir.Accepted != 0 || ir.Duplicates != 3 {
		t.Errorf("the torn batch again: %+v, want 3 duplicates", ir)
	}
	if ir := ingest(t, z.URL(), key, batch(2)...); ir.Accepted != 3 {
		t.Errorf("a new batch after the restart: %+v", ir)
	}

	// A clean stop and start: nothing damaged, nothing cut.
	if took, err = z.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("SIGTERM: exited in %s", took.Round(1e6))
	segBefore, damagedBefore := segments(t, dir)
	sizes := map[string]int64{}
	var total int64
	for _, s := range segBefore {
		st, err := os.Stat(filepath.Join(dir, s))
		if err != nil {
			t.Fatal(err)
		}
		sizes[s] = st.Size()
		total += st.Size()
	}
	if err := z.Start(); err != nil {
		t.Fatalf("clean restart: %v", err)
	}
	if strings.Contains(z.Output(), "damaged") {
		t.Errorf("a clean restart reports damage:\n%s", z.Output())
	}
	for _, name := range []string{"zhili_intake_damaged_tail_bytes", "zhili_intake_damaged_tail_entries"} {
		if v, err := z.Metric(name); err != nil || v != 0 {
			t.Errorf("after a clean restart /metrics %s = %v (%v), want 0", name, v, err)
		}
	}
	segAfter, damagedAfter := segments(t, dir)
	var after int64
	for _, s := range segAfter {
		st, err := os.Stat(filepath.Join(dir, s))
		if err != nil {
			t.Fatal(err)
		}
		after += st.Size()
		if b, ok := sizes[s]; ok && st.Size() < b {
			t.Errorf("segment %s: %d bytes after a clean restart, %d before", s, st.Size(), b)
		}
	}
	if after < total {
		t.Errorf("the intake log holds %d bytes after a clean restart, %d before (%v → %v)", after, total, segBefore, segAfter)
	}
	if fmt.Sprint(damagedBefore) != fmt.Sprint(damagedAfter) {
		t.Errorf("damaged files %v after a clean restart, %v before", damagedAfter, damagedBefore)
	}
	if took, err = z.Stop(); err != nil {
		t.Error(err)
	} else {
		t.Logf("SIGTERM: exited in %s", took.Round(1e6))
	}
}

// segments lists the intake log's segment files and the damaged tails kept aside, sorted.
func segments(t *testing.T, dir string) (segs, damaged []string) {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		switch n := e.Name(); {
		case strings.HasSuffix(n, ".wal"):
			segs = append(segs, n)
		case strings.Contains(n, ".damaged-"):
			damaged = append(damaged, n)
		}
	}
	sort.Strings(segs)
	sort.Strings(damaged)
	return segs, damaged
}
