// Package intaketest is the conformance suite every intake.Intake implementation runs.
package intaketest

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"zhili/intake"
)

// Run runs the suite. open returns a log stored in dir; it is called again with the same dir
// to reopen a log after Close. A reopened log must still know the ids of committed entries:
// implementations that get them from the history store (the WAL's KnownIDs) must simulate the
// store in open, i.e. remember the ids of entries ≤ the committed offset.
func Run(t *testing.T, open func(t *testing.T, dir string) intake.Intake) {
	t.Run("AppendDuplicates", func(t *testing.T) { testAppendDuplicates(t, open) })
	t.Run("AppendValidation", func(t *testing.T) { testAppendValidation(t, open) })
	t.Run("DigestConflicts", func(t *testing.T) { testDigestConflicts(t, open) })
	t.Run("ReadOrderAndLimit", func(t *testing.T) { testReadOrderAndLimit(t, open) })
	t.Run("ReadBlocks", func(t *testing.T) { testReadBlocks(t, open) })
	t.Run("ReadAfterReopen", func(t *testing.T) { testReadAfterReopen(t, open) })
	t.Run("CommitKeepsIDsAfterReopen", func(t *testing.T) { testCommitKeepsIDs(t, open) })
	t.Run("ConcurrentAppend", func(t *testing.T) { testConcurrentAppend(t, open) })
	t.Run("ConcurrentReadWhileAppending", func(t *testing.T) { testConcurrentRead(t, open) })
	t.Run("Close", func(t *testing.T) { testClose(t, open) })
}

type opener = func(t *testing.T, dir string) intake.Intake

// waitTimeout bounds every wait for data that must arrive.
const waitTimeout = 10 * time.Second

func appendOK(t *testing.T, l intake.Intake, ids []string, data [][]byte) []bool {
	t.Helper()
	dup, err := l.Append(context.Background(), Records(ids, data))
	if err != nil {
		t.Fatalf("Append(%v): %v", ids, err)
	}
	if len(dup) != len(ids) {
		t.Fatalf("Append(%v): %d dup flags, want %d", ids, len(dup), len(ids))
	}
	return Dups(dup)
}

// Dups maps outcomes to duplicate flags: true for Duplicate, false for Appended. It panics on
// a Conflict (the callers append records without digests, which never conflict).
func Dups(out []intake.Outcome) []bool {
	dup := make([]bool, len(out))
	for i, o := range out {
		if o == intake.Conflict {
			panic(fmt.Sprintf("intaketest.Dups: entry %d is a conflict", i))
		}
		dup[i] = o == intake.Duplicate
	}
	return dup
}

func wantDup(t *testing.T, got []bool, want ...bool) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("dup flags %v, want %v", got, want)
	}
}

// Records pairs ids with their data, without partition keys.
func Records(ids []string, data [][]byte) []intake.Record {
	if len(ids) != len(data) {
		panic(fmt.Sprintf("intaketest.Records: %d ids, %d data", len(ids), len(data)))
	}
	out := make([]intake.Record, len(ids))
	for i, id := range ids {
		out[i] = intake.Record{ID: id, Data: data[i]}
	}
	return out
}

func payload(id string) []byte { return []byte(`{"id":"` + id + `","v":"` + id + `"}`) }

func payloads(ids ...string) [][]byte {
	out := make([][]byte, len(ids))
	for i, id := range ids {
		out[i] = payload(id)
	}
	return out
}

// readN reads from after until n entries arrived, checking offset order.
func readN(t *testing.T, l intake.Intake, after uint64, n int) []intake.Entry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	var out []intake.Entry
	for len(out) < n {
		es, err := l.Read(ctx, after, n-len(out))
		if err != nil {
			t.Fatalf("Read(after=%d) after %d of %d entries: %v", after, len(out), n, err)
		}
		if len(es) == 0 || len(es) > n-len(out) {
			t.Fatalf("Read(after=%d, max=%d) returned %d entries", after, n-len(out), len(es))
		}
		for _, e := range es {
			if e.Offset <= after {
				t.Fatalf("Read(after=%d) returned offset %d", after, e.Offset)
			}
			after = e.Offset
		}
		out = append(out, es...)
	}
	return out
}

// readNone checks that Read after `after` blocks for a short while and returns no entries.
func readNone(t *testing.T, l intake.Intake, after uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	es, err := l.Read(ctx, after, 10)
	if err == nil || len(es) != 0 {
		t.Fatalf("Read(after=%d) = %d entries, %v; want none and an error at the deadline", after, len(es), err)
	}
}

func idsOf(es []intake.Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

func wantIDs(t *testing.T, es []intake.Entry, want ...string) {
	t.Helper()
	if got := idsOf(es); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("ids %v, want %v", got, want)
	}
}

func closeOK(t *testing.T, l intake.Intake) {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func testAppendDuplicates(t *testing.T, open opener) {
	l := open(t, t.TempDir())
	defer l.Close()

	dup := appendOK(t, l, []string{"a", "b", "a"}, [][]byte{[]byte("A1"), []byte("B1"), []byte("A2")})
	wantDup(t, dup, false, false, true)
	dup = appendOK(t, l, []string{"b", "c", "c", "d"}, [][]byte{[]byte("B2"), []byte("C1"), []byte("C2"), []byte("D1")})
	wantDup(t, dup, true, false, true, false)
	dup = appendOK(t, l, []string{"a", "d"}, [][]byte{[]byte("A3"), []byte("D2")})
	wantDup(t, dup, true, true)

	es := readN(t, l, 0, 4)
	wantIDs(t, es, "a", "b", "c", "d")
	for i, want := range []string{"A1", "B1", "C1", "D1"} {
		if string(es[i].Data) != want {
			t.Fatalf("entry %s data %q, want %q (the first accepted copy)", es[i].ID, es[i].Data, want)
		}
		if es[i].Offset == 0 || (i > 0 && es[i].Offset <= es[i-1].Offset) {
			t.Fatalf("offsets not 1-based and increasing: %d after %d", es[i].Offset, es[max(i-1, 0)].Offset)
		}
	}
	readNone(t, l, es[3].Offset)
}

// digested appends records with digests; data is the id and the digest, so the stored copy
// can be told apart.
func digested(t *testing.T, l intake.Intake, recs ...intake.Record) string {
	t.Helper()
	for i := range recs {
		recs[i].Data = fmt.Appendf(nil, "%s/%d", recs[i].ID, recs[i].Digest)
	}
	out, err := l.Append(context.Background(), recs)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return fmt.Sprint(out)
}

func testDigestConflicts(t *testing.T, open opener) {
	dir := t.TempDir()
	l := open(t, dir)
	check := func(got, want string) {
		t.Helper()
		if got != want {
			t.Fatalf("outcomes %s, want %s", got, want)
		}
	}
	r := func(id string, digest uint64) intake.Record { return intake.Record{ID: id, Digest: digest} }
	// Same id and digest: a duplicate; another digest: a conflict, also within one call.
	check(digested(t, l, r("a", 1), r("b", 2), r("a", 1)), "[appended appended duplicate]")
	check(digested(t, l, r("a", 9), r("a", 1), r("b", 2), r("x", 5), r("x", 6), r("x", 5)),
		"[conflict duplicate duplicate appended conflict duplicate]")
	// No digest on either side: only deduplicated.
	check(digested(t, l, r("a", 0), r("c", 0), r("c", 7)), "[duplicate appended duplicate]")
	// A conflicting copy is not stored: the first accepted copies stay.
	es := readN(t, l, 0, 4)
	wantIDs(t, es, "a", "b", "x", "c")
	for i, want := range []string{"a/1", "b/2", "x/5", "c/0"} {
		if string(es[i].Data) != want {
			t.Fatalf("entry %s data %q, want %q", es[i].ID, es[i].Data, want)
		}
	}
	readNone(t, l, es[3].Offset)
	closeOK(t, l)

	// The digests of the entries in the log survive a reopen.
	l = open(t, dir)
	defer l.Close()
	check(digested(t, l, r("x", 6), r("a", 1), r("b", 3), r("c", 8), r("d", 4)),
		"[conflict duplicate conflict duplicate appended]")
	check(digested(t, l, r("d", 5), r("d", 4)), "[conflict duplicate]")
	wantIDs(t, readN(t, l, es[3].Offset, 1), "d")
}

func testAppendValidation(t *testing.T, open opener) {
	l := open(t, t.TempDir())
	defer l.Close()
	ctx := context.Background()

	if _, err := l.Append(ctx, []intake.Record{{ID: "a", Data: payload("a")}, {Data: payload("")}}); err == nil {
		t.Fatal("Append with an empty id: want an error")
	}
	dup, err := l.Append(ctx, nil)
	if err != nil || len(dup) != 0 {
		t.Fatalf("empty Append = %v, %v; want no flags, no error", dup, err)
	}
	// Binary data and a larger record round-trip unchanged.
	big := make([]byte, 64<<10)
	for i := range big {
		big[i] = byte(i * 7)
	}
	appendOK(t, l, []string{"bin", "empty"}, [][]byte{big, {}})
	es := readN(t, l, 0, 2)
	if !bytes.Equal(es[0].Data, big) || len(es[1].Data) != 0 {
		t.Fatalf("data did not round-trip: %d bytes and %d bytes", len(es[0].Data), len(es[1].Data))
	}
	// A failed Append must not make its ids look accepted.
	if _, err := l.Append(ctx, []intake.Record{{ID: "x", Data: payload("x")}, {ID: "", Data: payload("y")}}); err == nil {
		t.Fatal("want an error")
	}
	wantDup(t, appendOK(t, l, []string{"x"}, payloads("x")), false)
}

func testReadOrderAndLimit(t *testing.T, open opener) {
	l := open(t, t.TempDir())
	defer l.Close()
	var ids []string
	for i := range 10 {
		ids = append(ids, fmt.Sprintf("e%02d", i))
	}
	appendOK(t, l, ids[:3], payloads(ids[:3]...))
	appendOK(t, l, ids[3:4], payloads(ids[3:4]...))
	appendOK(t, l, ids[4:], payloads(ids[4:]...))

	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	es, err := l.Read(ctx, 0, 3)
	if err != nil || len(es) == 0 || len(es) > 3 || es[0].ID != "e00" {
		t.Fatalf("Read(0, 3) = %v, %v", idsOf(es), err)
	}
	all := readN(t, l, 0, 10)
	wantIDs(t, all, ids...)
	for i, e := range all {
		if !bytes.Equal(e.Data, payload(e.ID)) {
			t.Fatalf("entry %d: data %q", i, e.Data)
		}
	}
	wantIDs(t, readN(t, l, all[4].Offset, 5), ids[5:]...)
	es, err = l.Read(ctx, all[8].Offset, 100)
	if err != nil {
		t.Fatal(err)
	}
	wantIDs(t, es, "e09")
	readNone(t, l, all[9].Offset)
}

func testReadBlocks(t *testing.T, open opener) {
	l := open(t, t.TempDir())
	defer l.Close()

	// An empty log blocks until the deadline.
	start := time.Now()
	readNone(t, l, 0)
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Fatalf("Read returned after %v; want it to block until the deadline", d)
	}

	// A blocked Read wakes up when an entry arrives.
	type result struct {
		es  []intake.Entry
		err error
	}
	got := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		es, err := l.Read(ctx, 0, 10)
		got <- result{es, err}
	}()
	select {
	case r := <-got:
		t.Fatalf("Read returned before any Append: %v, %v", idsOf(r.es), r.err)
	case <-time.After(50 * time.Millisecond):
	}
	appendOK(t, l, []string{"x"}, payloads("x"))
	select {
	case r := <-got:
		if r.err != nil {
			t.Fatal(r.err)
		}
		wantIDs(t, r.es, "x")
	case <-time.After(waitTimeout):
		t.Fatal("blocked Read did not wake up after Append")
	}

	// Cancelling the context releases a blocked Read.
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := l.Read(ctx, 1<<40, 1)
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("cancelled Read returned no error")
		}
	case <-time.After(waitTimeout):
		t.Fatal("cancelled Read did not return")
	}
}

func testReadAfterReopen(t *testing.T, open opener) {
	dir := t.TempDir()
	l := open(t, dir)
	appendOK(t, l, []string{"a", "b"}, payloads("a", "b"))
	appendOK(t, l, []string{"c", "d", "e"}, payloads("c", "d", "e"))
	before := readN(t, l, 0, 5)
	closeOK(t, l)

	l = open(t, dir)
	defer l.Close()
	after := readN(t, l, 0, 5)
	for i := range before {
		if before[i].Offset != after[i].Offset || before[i].ID != after[i].ID || !bytes.Equal(before[i].Data, after[i].Data) {
			t.Fatalf("entry %d changed across reopen: %+v vs %+v", i, before[i], after[i])
		}
	}
	wantIDs(t, readN(t, l, before[2].Offset, 2), "d", "e")
	wantDup(t, appendOK(t, l, []string{"a", "f"}, payloads("a", "f")), true, false)
	es := readN(t, l, before[4].Offset, 1)
	wantIDs(t, es, "f")
	if es[0].Offset <= before[4].Offset {
		t.Fatalf("offset %d after reopen does not continue after %d", es[0].Offset, before[4].Offset)
	}
}

func testCommitKeepsIDs(t *testing.T, open opener) {
	dir := t.TempDir()
	ctx := context.Background()
	l := open(t, dir)
	appendOK(t, l, []string{"a", "b", "c"}, payloads("a", "b", "c"))
	es := readN(t, l, 0, 3)
	if err := l.Commit(ctx, es[1].Offset); err != nil {
		t.Fatal(err)
	}
	if err := l.Commit(ctx, es[0].Offset); err != nil {
		t.Fatalf("Commit below the committed offset: %v", err)
	}
	wantDup(t, appendOK(t, l, []string{"a", "b"}, payloads("a", "b")), true, true)
	closeOK(t, l)

	l = open(t, dir)
	wantDup(t, appendOK(t, l, []string{"a", "b", "c", "d"}, payloads("a", "b", "c", "d")), true, true, true, false)
	// Entries after the committed offset are still readable.
	wantIDs(t, readN(t, l, es[1].Offset, 2), "c", "d")
	d := readN(t, l, es[2].Offset, 1)
	if err := l.Commit(ctx, d[0].Offset); err != nil {
		t.Fatal(err)
	}
	closeOK(t, l)

	l = open(t, dir)
	defer l.Close()
	wantDup(t, appendOK(t, l, []string{"d", "c", "e"}, payloads("d", "c", "e")), true, true, false)
	e := readN(t, l, d[0].Offset, 1)
	wantIDs(t, e, "e")
	if e[0].Offset <= d[0].Offset {
		t.Fatalf("offset %d does not continue after %d", e[0].Offset, d[0].Offset)
	}
}

func testConcurrentAppend(t *testing.T, open opener) {
	l := open(t, t.TempDir())
	defer l.Close()
	const (
		pool       = 400
		goroutines = 8
		calls      = 50
	)
	var accepted [pool]atomic.Int32
	var attempted [pool]atomic.Bool
	id := func(i int) string { return fmt.Sprintf("c%04d", i) }

	var wg sync.WaitGroup
	errc := make(chan error, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 42))
			for range calls {
				n := 1 + r.IntN(20)
				idx := make([]int, n)
				ids := make([]string, n)
				for j := range idx {
					idx[j] = r.IntN(pool)
					ids[j] = id(idx[j])
				}
				dup, err := l.Append(context.Background(), Records(ids, payloads(ids...)))
				if err != nil {
					errc <- err
					return
				}
				seen := map[int]bool{}
				for j, o := range dup {
					d := o != intake.Appended
					attempted[idx[j]].Store(true)
					if !d {
						accepted[idx[j]].Add(1)
					}
					if !d && seen[idx[j]] {
						errc <- fmt.Errorf("id %s accepted twice in one call", ids[j])
						return
					}
					seen[idx[j]] = true
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	distinct := 0
	for i := range pool {
		a := accepted[i].Load()
		if attempted[i].Load() {
			distinct++
			if a != 1 {
				t.Fatalf("id %s accepted %d times, want exactly once", id(i), a)
			}
		} else if a != 0 {
			t.Fatalf("id %s accepted without being appended", id(i))
		}
	}
	es := readN(t, l, 0, distinct)
	inLog := map[string]bool{}
	for _, e := range es {
		if inLog[e.ID] {
			t.Fatalf("id %s twice in the log", e.ID)
		}
		inLog[e.ID] = true
		if !bytes.Equal(e.Data, payload(e.ID)) {
			t.Fatalf("id %s: data %q", e.ID, e.Data)
		}
	}
	readNone(t, l, es[len(es)-1].Offset)
}

func testConcurrentRead(t *testing.T, open opener) {
	l := open(t, t.TempDir())
	defer l.Close()
	const writers, per = 4, 100
	total := writers * per

	got := make(chan []intake.Entry, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		var out []intake.Entry
		var after uint64
		for len(out) < total {
			es, err := l.Read(ctx, after, 7)
			if err != nil {
				break
			}
			out = append(out, es...)
			after = es[len(es)-1].Offset
		}
		got <- out
	}()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i += 2 {
				ids := []string{fmt.Sprintf("w%d-%d", w, i), fmt.Sprintf("w%d-%d", w, i+1)}
				if _, err := l.Append(context.Background(), Records(ids, payloads(ids...))); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	out := <-got
	if len(out) != total {
		t.Fatalf("reader got %d entries, want %d", len(out), total)
	}
	seen := map[string]bool{}
	for i, e := range out {
		if seen[e.ID] || (i > 0 && e.Offset <= out[i-1].Offset) {
			t.Fatalf("entry %d (%s, offset %d) repeated or out of order", i, e.ID, e.Offset)
		}
		seen[e.ID] = true
	}
}

func testClose(t *testing.T, open opener) {
	l := open(t, t.TempDir())
	appendOK(t, l, []string{"a"}, payloads("a"))
	closeOK(t, l)
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	ctx := context.Background()
	if _, err := l.Append(ctx, Records([]string{"b"}, payloads("b"))); err == nil {
		t.Fatal("Append after Close: want an error")
	}
	rctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if _, err := l.Read(rctx, 0, 1); err == nil {
		t.Fatal("Read after Close: want an error")
	}
	if err := l.Commit(ctx, 1); err == nil {
		t.Fatal("Commit after Close: want an error")
	}
}
