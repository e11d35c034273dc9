package intake_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"zhili/errs"
	"zhili/intake"
	"zhili/intake/intaketest"

	"zhili/internal/testsvc"
)

// fakeStore stands in for the history store: it holds the ids of committed entries and
// streams them to OpenWAL through KnownIDs, as the server wires it.
type fakeStore struct {
	mu     sync.Mutex
	ids    map[string]bool
	stored uint64 // offset up to which entries were copied
}

func (s *fakeStore) knownIDs(fn func(string) error) error {
	s.mu.Lock()
	ids := make([]string, 0, len(s.ids))
	for id := range s.ids {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	for _, id := range ids {
		if err := fn(id); err != nil {
			return err
		}
	}
	return nil
}

// storedWAL plays the aggregator on Commit: entries up to the committed offset are copied to
// the fake store first.
type storedWAL struct {
	*intake.WAL
	store *fakeStore
}

func (s storedWAL) Commit(ctx context.Context, upTo uint64) error {
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	s.store.mu.Lock()
	after := s.store.stored
	s.store.mu.Unlock()
	for after < upTo {
		es, err := s.WAL.Read(rctx, after, 1000)
		if err != nil {
			break // Commit below reports a bad upTo
		}
		s.store.mu.Lock()
		for _, e := range es {
			if e.Offset <= upTo {
				s.store.ids[e.ID] = true
				s.store.stored = e.Offset
			}
		}
		s.store.mu.Unlock()
		after = es[len(es)-1].Offset
	}
	return s.WAL.Commit(ctx, upTo)
}

func TestWALConformance(t *testing.T) {
	var mu sync.Mutex
	stores := map[string]*fakeStore{}
	intaketest.Run(t, func(t *testing.T, dir string) intake.Intake {
		mu.Lock()
		st := stores[dir]
		if st == nil {
			st = &fakeStore{ids: map[string]bool{}}
			stores[dir] = st
		}
		mu.Unlock()
		w, err := intake.OpenWAL(dir, intake.WALOptions{SegmentBytes: 4 << 10, KnownIDs: st.knownIDs})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { w.Close() })
		return storedWAL{w, st}
	})
}

func openWAL(t *testing.T, dir string, opt intake.WALOptions) *intake.WAL {
	t.Helper()
	w, err := intake.OpenWAL(dir, opt)
	if err != nil {
		t.Fatalf("OpenWAL: %v", err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func mustAppend(t *testing.T, w intake.Intake, ids ...string) []bool {
	t.Helper()
	data := make([][]byte, len(ids))
	for i, id := range ids {
		data[i] = eventData(id, 100)
	}
	dup, err := w.Append(context.Background(), intaketest.Records(ids, data))
	if err != nil {
		t.Fatalf("Append(%v): %v", ids, err)
	}
	return intaketest.Dups(dup)
}

// eventData returns about n bytes derived from id, so any copy can be checked.
func eventData(id string, n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"id":"` + id + `","pad":"`)
	for b.Len() < n-2 {
		b.WriteString(id)
	}
	b.WriteString(`"}`)
	return b.Bytes()
}

// readAll reads every entry after `after` up to the log's last offset.
func readAll(t *testing.T, w *intake.WAL, after uint64) []intake.Entry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	last := w.Stats().LastOffset
	var out []intake.Entry
	for after < last {
		es, err := w.Read(ctx, after, 500)
		if err != nil {
			t.Fatalf("Read(after=%d, last=%d): %v", after, last, err)
		}
		out = append(out, es...)
		after = es[len(es)-1].Offset
	}
	return out
}

func ids(es []intake.Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

func segments(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.wal"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(m)
	return m
}

func appendToFile(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

func TestWALTornTail(t *testing.T) {
	dir := t.TempDir()
	w := openWAL(t, dir, intake.WALOptions{})
	mustAppend(t, w, "a", "b")
	mustAppend(t, w, "c")
	mustAppend(t, w, "d", "e", "f")
	want := []string{"a", "b", "c", "d", "e", "f"}
	w.Close()
	segs := segments(t, dir)
	if len(segs) != 1 {
		t.Fatalf("segments %v", segs)
	}
	seg := segs[0]
	whole, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	firstFrame := 8 + int(binary.LittleEndian.Uint32(whole))

	tails := map[string][]byte{
		"garbage":       []byte("\x17\x00\x00\x00garbage after the last frame"),
		"partial frame": whole[:firstFrame/2],
		"zeros":         make([]byte, 4096),
		"header only":   whole[:8],
		"random":        randomBytes(1000),
	}
	for name, tail := range tails {
		t.Run(name, func(t *testing.T) {
			appendToFile(t, seg, tail)
			w, err := intake.OpenWAL(dir, intake.WALOptions{})
			if err != nil {
				t.Fatalf("OpenWAL: %v", err)
			}
			defer w.Close()
			if got := w.Stats().TornBytes; got != int64(len(tail)) {
				t.Fatalf("TornBytes %d, want %d", got, len(tail))
			}
			if got := ids(readAll(t, w, 0)); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("entries %v, want %v", got, want)
			}
			if fileSize(t, seg) != int64(len(whole)) {
				t.Fatalf("segment is %d bytes after recovery, want %d", fileSize(t, seg), len(whole))
			}
		})
	}

	// Appends continue after a recovered tail, and the next open finds nothing torn.
	appendToFile(t, seg, []byte("junk"))
	w = openWAL(t, dir, intake.WALOptions{})
	if d := mustAppend(t, w, "f", "g"); fmt.Sprint(d) != "[true false]" {
		t.Fatalf("dup %v", d)
	}
	w.Close()
	w = openWAL(t, dir, intake.WALOptions{})
	if st := w.Stats(); st.TornBytes != 0 || st.LastOffset != 7 {
		t.Fatalf("stats after clean reopen: %+v", st)
	}
	if got := ids(readAll(t, w, 0)); fmt.Sprint(got) != "[a b c d e f g]" {
		t.Fatalf("entries %v", got)
	}
}

func randomBytes(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// A crash in the middle of an Append call's frames drops the whole call: Append is atomic.
func TestWALTornCallIsAtomic(t *testing.T) {
	dir := t.TempDir()
	w := openWAL(t, dir, intake.WALOptions{})
	mustAppend(t, w, "a", "b")
	w.Close()
	seg := segments(t, dir)[0]
	before := fileSize(t, seg)

	w = openWAL(t, dir, intake.WALOptions{})
	mustAppend(t, w, "x", "y", "z")
	w.Close()
	after := fileSize(t, seg)
	// Cut inside z's frame: x and y are whole but their call is not.
	if err := os.Truncate(seg, after-5); err != nil {
		t.Fatal(err)
	}
	w = openWAL(t, dir, intake.WALOptions{})
	if got := w.Stats().TornBytes; got != after-5-before {
		t.Fatalf("TornBytes %d, want %d", got, after-5-before)
	}
	if got := ids(readAll(t, w, 0)); fmt.Sprint(got) != "[a b]" {
		t.Fatalf("entries %v, want [a b]", got)
	}
	if d := mustAppend(t, w, "x", "y", "z"); fmt.Sprint(d) != "[false false false]" {
		t.Fatalf("ids of the lost call must not count as seen: dup %v", d)
	}
}

func TestWALCorruption(t *testing.T) {
	flip := func(t *testing.T, path string, at int64) {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		b[at] ^= 0x40
		if err := os.WriteFile(path, b, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	wantCorrupt := func(t *testing.T, dir, file string) {
		t.Helper()
		w, err := intake.OpenWAL(dir, intake.WALOptions{})
		if err == nil {
			w.Close()
			t.Fatal("OpenWAL succeeded on a corrupt log")
		}
		if errs.ReasonOf(err) != "intake_corrupt" || !strings.Contains(err.Error(), filepath.Base(file)) || !strings.Contains(err.Error(), "at byte") {
			t.Fatalf("error %q does not name the corruption, file and position", err)
		}
	}

	t.Run("earlier segment", func(t *testing.T) {
		dir := t.TempDir()
		w := openWAL(t, dir, intake.WALOptions{SegmentBytes: 1 << 10})
		for i := range 30 {
			mustAppend(t, w, fmt.Sprintf("e%d", i))
		}
		w.Close()
		segs := segments(t, dir)
		if len(segs) < 3 {
			t.Fatalf("want several segments, have %d", len(segs))
		}
		flip(t, segs[0], fileSize(t, segs[0])/2)
		wantCorrupt(t, dir, segs[0])
	})

	t.Run("acknowledged batch in the last segment", func(t *testing.T) {
		dir := t.TempDir()
		w := openWAL(t, dir, intake.WALOptions{})
		mustAppend(t, w, "a", "b")
		mustAppend(t, w, "c")
		w.Close()
		seg := segments(t, dir)[0]
		flip(t, seg, 20) // inside a's payload
		wantCorrupt(t, dir, seg)
	})

	t.Run("last batch counts as torn", func(t *testing.T) {
		dir := t.TempDir()
		w := openWAL(t, dir, intake.WALOptions{})
		mustAppend(t, w, "a")
		mustAppend(t, w, "b", "c")
		w.Close()
		seg := segments(t, dir)[0]
		flip(t, seg, fileSize(t, seg)-3)
		w = openWAL(t, dir, intake.WALOptions{})
		if got := ids(readAll(t, w, 0)); fmt.Sprint(got) != "[a]" || w.Stats().TornBytes == 0 {
			t.Fatalf("entries %v, torn %d", got, w.Stats().TornBytes)
		}
	})
}

func TestWALRotationAndCommit(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	w := openWAL(t, dir, intake.WALOptions{SegmentBytes: 4 << 10})
	for i := 0; i < 200; i += 5 {
		var batch []string
		for j := i; j < i+5; j++ {
			batch = append(batch, fmt.Sprintf("r%03d", j))
		}
		mustAppend(t, w, batch...)
	}
	st := w.Stats()
	if st.Segments < 4 || len(segments(t, dir)) != st.Segments || st.LastOffset != 200 {
		t.Fatalf("stats %+v, files %d", st, len(segments(t, dir)))
	}
	if err := w.Commit(ctx, 100); err != nil {
		t.Fatal(err)
	}
	st2 := w.Stats()
	if st2.Segments >= st.Segments || st2.Committed != 100 || st2.UncommittedBytes >= st2.DiskBytes || st2.DiskBytes >= st.DiskBytes {
		t.Fatalf("after Commit(100): %+v (before %+v)", st2, st)
	}
	es := readAll(t, w, 0)
	if first := es[0].Offset; first > 101 || es[len(es)-1].Offset != 200 {
		t.Fatalf("after Commit(100) entries run %d..%d", first, es[len(es)-1].Offset)
	}
	// Segments still on disk each hold an entry > 100, except none: check by name.
	segs := segments(t, dir)
	if len(segs) > 1 {
		second, _ := strconv.ParseUint(strings.TrimSuffix(filepath.Base(segs[1]), ".wal"), 10, 64)
		if second <= 101 {
			t.Fatalf("segment %s ends at or before the committed offset but was kept", segs[0])
		}
	}
	if err := w.Commit(ctx, 201); errs.CodeOf(err) != errs.Invalid {
		t.Fatalf("Commit beyond the end: %v", err)
	}
	w.Close()

	w = openWAL(t, dir, intake.WALOptions{SegmentBytes: 4 << 10})
	if st := w.Stats(); st.Committed != 100 || st.LastOffset != 200 {
		t.Fatalf("after reopen: %+v", st)
	}
	mustAppend(t, w, "new")
	es = readAll(t, w, 199)
	if len(es) != 2 || es[1].ID != "new" || es[1].Offset != 201 {
		t.Fatalf("entries after reopen %v", es)
	}
	if err := w.Commit(ctx, 201); err != nil {
		t.Fatal(err)
	}
	if st := w.Stats(); st.Segments != 1 || st.UncommittedBytes != 0 || len(segments(t, dir)) != 1 {
		t.Fatalf("after committing everything: %+v, files %v", st, segments(t, dir))
	}
	w.Close()

	// With only the committed active segment left, offsets still continue.
	w = openWAL(t, dir, intake.WALOptions{SegmentBytes: 4 << 10})
	mustAppend(t, w, "newer")
	if es := readAll(t, w, 201); len(es) != 1 || es[0].Offset != 202 {
		t.Fatalf("entries %v", es)
	}
}

func TestWALKnownIDs(t *testing.T) {
	known := func(fn func(string) error) error {
		for _, id := range []string{"k1", "k2"} {
			if err := fn(id); err != nil {
				return err
			}
		}
		return nil
	}
	w := openWAL(t, t.TempDir(), intake.WALOptions{KnownIDs: known})
	if d := mustAppend(t, w, "k1", "n1", "k2", "n1"); fmt.Sprint(d) != "[true false true true]" {
		t.Fatalf("dup %v", d)
	}
	if st := w.Stats(); st.IDs != 3 || st.Appended != 1 || st.Duplicates != 3 {
		t.Fatalf("stats %+v", st)
	}

	boom := errors.New("store down")
	_, err := intake.OpenWAL(t.TempDir(), intake.WALOptions{KnownIDs: func(func(string) error) error { return boom }})
	if !errors.Is(err, boom) {
		t.Fatalf("OpenWAL with failing KnownIDs: %v", err)
	}
}

func TestWALLimits(t *testing.T) {
	ctx := context.Background()
	w := openWAL(t, t.TempDir(), intake.WALOptions{MaxBytes: 8 << 10, MaxRecordBytes: 2 << 10})

	_, err := w.Append(ctx, intaketest.Records([]string{"big"}, [][]byte{make([]byte, 3<<10)}))
	if errs.CodeOf(err) != errs.TooLarge {
		t.Fatalf("oversized record: %v", err)
	}

	n := 0
	for ; ; n++ {
		id := fmt.Sprintf("f%03d", n)
		_, err = w.Append(ctx, intaketest.Records([]string{id}, [][]byte{eventData(id, 1000)}))
		if err != nil {
			break
		}
		if n > 100 {
			t.Fatal("MaxBytes never enforced")
		}
	}
	if errs.CodeOf(err) != errs.Unavailable || errs.ReasonOf(err) != "intake_full" {
		t.Fatalf("want Unavailable/intake_full, got %v (code %s reason %s)", err, errs.CodeOf(err), errs.ReasonOf(err))
	}
	es := readAll(t, w, 0)
	if len(es) != n {
		t.Fatalf("%d entries, want %d: the refused entry must not be stored", len(es), n)
	}
	if err := w.Commit(ctx, es[len(es)-1].Offset); err != nil {
		t.Fatal(err)
	}
	// The refused id was never accepted, so its retry is new.
	id := fmt.Sprintf("f%03d", n)
	if d, err := w.Append(ctx, intaketest.Records([]string{id}, [][]byte{eventData(id, 1000)})); err != nil || d[0] != intake.Appended {
		t.Fatalf("retry after Commit: %v, %v", d, err)
	}
}

// One Read returns at most 16 MiB of data, yet always at least one entry.
func TestWALReadByteBudget(t *testing.T) {
	w := openWAL(t, t.TempDir(), intake.WALOptions{})
	big := make([]byte, 1<<20-16)
	for i := range 20 {
		id := fmt.Sprintf("big%02d", i)
		if _, err := w.Append(context.Background(), intaketest.Records([]string{id}, [][]byte{big})); err != nil {
			t.Fatal(err)
		}
	}
	es, err := w.Read(context.Background(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) == 0 || len(es) >= 20 || len(es) > 16 {
		t.Fatalf("Read returned %d entries of 1 MiB", len(es))
	}
	if got := readAll(t, w, 0); len(got) != 20 {
		t.Fatalf("read %d entries in total, want 20", len(got))
	}
}

func TestWALStartAfter(t *testing.T) {
	dir := t.TempDir()
	w := openWAL(t, dir, intake.WALOptions{StartAfter: 1000})
	mustAppend(t, w, "a")
	w.Close()
	w = openWAL(t, dir, intake.WALOptions{StartAfter: 5000})
	mustAppend(t, w, "b")
	w.Close()
	w = openWAL(t, dir, intake.WALOptions{StartAfter: 10})
	mustAppend(t, w, "c")
	es := readAll(t, w, 0)
	var got []uint64
	for _, e := range es {
		got = append(got, e.Offset)
	}
	if fmt.Sprint(got) != "[1001 5001 5002]" {
		t.Fatalf("offsets %v", got)
	}
}

func TestWALCloseAndReuse(t *testing.T) {
	dir := t.TempDir()
	w := openWAL(t, dir, intake.WALOptions{})
	if _, err := intake.OpenWAL(dir, intake.WALOptions{}); err == nil {
		t.Fatal("second OpenWAL of an open directory succeeded")
	}
	errc := make(chan error, 1)
	go func() {
		_, err := w.Read(context.Background(), 0, 1)
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	w.Close()
	select {
	case err := <-errc:
		if errs.CodeOf(err) != errs.Unavailable {
			t.Fatalf("blocked Read after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not release a blocked Read")
	}
	w2 := openWAL(t, dir, intake.WALOptions{})
	w2.Close()
}

func TestWALGroupCommit(t *testing.T) {
	w := openWAL(t, t.TempDir(), intake.WALOptions{})
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				id := fmt.Sprintf("g%d-%d", g, i)
				if _, err := w.Append(context.Background(), intaketest.Records([]string{id}, [][]byte{eventData(id, 400)})); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	st := w.Stats()
	if st.Appended != 640 || st.Fsyncs >= st.Appended {
		t.Fatalf("%d appended with %d fsyncs; want fsyncs shared", st.Appended, st.Fsyncs)
	}
	t.Logf("%d appends, %d fsyncs", st.Appended, st.Fsyncs)
}

// --- kill -9 ---

const (
	crashDirEnv   = "ZHILI_WAL_CRASH_DIR"
	crashRoundEnv = "ZHILI_WAL_CRASH_ROUND"
	crashSegBytes = 64 << 10
)

// TestWALCrash re-executes the test binary as a child that appends from several goroutines
// and prints each id after its Append returned nil; the parent kills it with SIGKILL
// mid-stream and checks that every printed id is in the log exactly once.
func TestWALCrash(t *testing.T) {
	if dir := os.Getenv(crashDirEnv); dir != "" {
		crashChild(dir, os.Getenv(crashRoundEnv))
		return
	}
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	dir := t.TempDir()
	acked := map[string]bool{}
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestWALCrash$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashRoundEnv+"="+strconv.Itoa(round))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := testsvc.Start(t, cmd); err != nil {
			t.Fatal(err)
		}
		killAt := 500 + rand.IntN(3000)
		timer := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
		r := bufio.NewReader(stdout)
		n, killed := 0, false
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				break // EOF; a partial last line is ignored
			}
			if id, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "ACK "); ok {
				acked[id] = true
				n++
			}
			if !killed && n >= killAt {
				if err := cmd.Process.Kill(); err != nil {
					t.Fatal(err)
				}
				killed = true
			}
		}
		timer.Stop()
		werr := cmd.Wait()
		if !killed {
			t.Fatalf("round %d: child ended after %d acks before being killed: %v\n%s", round, n, werr, stderr.String())
		}

		w, err := intake.OpenWAL(dir, intake.WALOptions{SegmentBytes: crashSegBytes})
		if err != nil {
			t.Fatalf("round %d: reopen after kill: %v", round, err)
		}
		es := readAll(t, w, 0)
		st := w.Stats()
		w.Close()
		inLog := map[string]int{}
		for _, e := range es {
			inLog[e.ID]++
			if inLog[e.ID] > 1 {
				t.Fatalf("round %d: id %s twice in the log", round, e.ID)
			}
			if !bytes.Equal(e.Data, eventData(e.ID, 200)) {
				t.Fatalf("round %d: id %s has wrong data", round, e.ID)
			}
		}
		for id := range acked {
			if inLog[id] != 1 {
				t.Fatalf("round %d: acknowledged id %s missing from the log", round, id)
			}
		}
		t.Logf("round %d: killed after %d acks; log has %d entries (%d acked in total), %d segments, %d torn bytes",
			round, n, len(es), len(acked), st.Segments, st.TornBytes)
	}
}

func crashChild(dir, round string) {
	w, err := intake.OpenWAL(dir, intake.WALOptions{SegmentBytes: crashSegBytes})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	var outMu sync.Mutex
	out := io.Writer(os.Stdout)
	for g := range 6 {
		go func() {
			var prev []string
			for i := 0; ; i++ {
				var batch []string
				for j := range 1 + i%7 {
					batch = append(batch, fmt.Sprintf("r%s-g%d-%d-%d", round, g, i, j))
				}
				if i%3 == 0 {
					batch = append(batch, fmt.Sprintf("r%s-shared-%d", round, i/3)) // appended by every goroutine
				}
				if i%10 == 9 {
					batch = append(batch, prev...) // a retry
				}
				data := make([][]byte, len(batch))
				for k, id := range batch {
					data[k] = eventData(id, 200)
				}
				if _, err := w.Append(context.Background(), intaketest.Records(batch, data)); err != nil {
					fmt.Fprintln(os.Stderr, "append:", err)
					os.Exit(3)
				}
				var sb strings.Builder
				for _, id := range batch {
					sb.WriteString("ACK " + id + "\n")
				}
				outMu.Lock()
				io.WriteString(out, sb.String())
				outMu.Unlock()
				prev = batch
			}
		}()
	}
	time.Sleep(60 * time.Second) // the parent kills us long before
	os.Exit(4)
}

// A digest is kept while its entry is in a segment, across a reopen; Commit drops it with the
// segment, after which the id is only deduplicated (the history store knows no digests).
func TestWALDigestLifetime(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	w := openWAL(t, dir, intake.WALOptions{SegmentBytes: 4 << 10})
	app := func(id string, digest uint64) intake.Outcome {
		t.Helper()
		out, err := w.Append(ctx, []intake.Record{{ID: id, Data: eventData(id, 3000), Digest: digest}})
		if err != nil {
			t.Fatal(err)
		}
		return out[0]
	}
	if o := app("a", 1); o != intake.Appended {
		t.Fatalf("first a: %v", o)
	}
	if o := app("b", 2); o != intake.Appended { // rotates: a's segment is no longer active
		t.Fatalf("first b: %v", o)
	}
	if o := app("a", 3); o != intake.Conflict {
		t.Fatalf("a with another digest: %v, want conflict", o)
	}
	if st := w.Stats(); st.Conflicts != 1 || st.Duplicates != 0 || st.Segments != 2 {
		t.Fatalf("stats %+v", st)
	}
	w.Close()
	w = openWAL(t, dir, intake.WALOptions{SegmentBytes: 4 << 10})
	if o := app("a", 3); o != intake.Conflict {
		t.Fatalf("after reopen: %v, want conflict", o)
	}
	es := readAll(t, w, 0)
	if err := w.Commit(ctx, es[0].Offset); err != nil { // a's segment goes
		t.Fatal(err)
	}
	if o := app("a", 3); o != intake.Duplicate {
		t.Fatalf("after its segment was dropped: %v, want duplicate", o)
	}
	if o := app("b", 3); o != intake.Conflict {
		t.Fatalf("b, still in the log: %v, want conflict", o)
	}
	w.Close()
	w = openWAL(t, dir, intake.WALOptions{SegmentBytes: 4 << 10, KnownIDs: func(fn func(string) error) error { return fn("a") }})
	defer w.Close()
	if o := app("a", 3); o != intake.Duplicate {
		t.Fatalf("a known from the store only: %v, want duplicate", o)
	}
	if o := app("b", 3); o != intake.Conflict {
		t.Fatalf("b after reopen: %v, want conflict", o)
	}
}
