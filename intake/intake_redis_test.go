package intake_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"zhili/errs"
	"zhili/intake"
	"zhili/intake/intaketest"
	"zhili/internal/testsvc"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func redisClient(t *testing.T, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: 1, DialTimeout: time.Second})
	t.Cleanup(func() { c.Close() })
	return c
}

func openRedis(t *testing.T, addr string, opt intake.RedisOptions) *intake.Redis {
	t.Helper()
	if opt.Logger == nil {
		opt.Logger = quiet
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := intake.OpenRedis(ctx, redisClient(t, addr), opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestRedisConformance(t *testing.T) {
	srv := testsvc.StartRedis(t)
	var mu sync.Mutex
	prefixes := map[string]string{} // dir → tenant prefix: reopening a dir = new client, same keys
	intaketest.Run(t, func(t *testing.T, dir string) intake.Intake {
		mu.Lock()
		p, ok := prefixes[dir]
		if !ok {
			p = fmt.Sprintf("zhili:t%d:", len(prefixes))
			prefixes[dir] = p
		}
		mu.Unlock()
		r := openRedis(t, srv.Addr, intake.RedisOptions{Prefix: p, Consumer: "c"})
		if !r.Durable() {
			t.Error("test server runs with appendfsync always but Durable() = false")
		}
		return r
	})
}

func TestRedisPartitionOf(t *testing.T) {
	// Golden values: FNV-1a 32 of the key bytes mod n. Changing them re-partitions deployments.
	for _, c := range []struct {
		key  string
		n    int
		want int
	}{
		{"", 4, 1},        // offset basis 2166136261
		{"a", 1000, 220},  // 0xe40c292c = 3826002220
		{"case-42", 1, 0}, // one partition
		{"case-42", 0, 0}, // defensive
		{"foobar", 7, 0},  // 0xbf9cf968 = 3214735720
	} {
		if got := intake.PartitionOf(c.key, c.n); got != c.want {
			t.Errorf("PartitionOf(%q, %d) = %d, want %d", c.key, c.n, got, c.want)
		}
	}
}

func TestRedisPartitionsKeepCaseOrder(t *testing.T) {
	srv := testsvc.StartRedis(t)
	const parts = 4
	r := openRedis(t, srv.Addr, intake.RedisOptions{Prefix: "p:", Partitions: parts})
	ctx := context.Background()
	const cases, per = 12, 10
	for i := range per {
		var recs []intake.Record
		for c := range cases {
			recs = append(recs, intake.Record{ID: fmt.Sprintf("e-%d-%d", c, i), Key: fmt.Sprintf("case%d", c),
				Data: fmt.Appendf(nil, "case%d/%d", c, i)})
		}
		if _, err := r.Append(ctx, recs); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]int{} // case → partition
	total := 0
	used := map[int]bool{}
	for p := range parts {
		view := r.Partition(p)
		next := map[string]int{}
		var after uint64
		for {
			rctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			es, err := view.Read(rctx, after, 7)
			cancel()
			if err != nil {
				break
			}
			for _, e := range es {
				if e.Offset != after+1 {
					t.Fatalf("partition %d: offset %d after %d; want contiguous", p, e.Offset, after)
				}
				after = e.Offset
				c, n, _ := strings.Cut(string(e.Data), "/")
				if q, ok := seen[c]; ok && q != p {
					t.Fatalf("%s in partitions %d and %d", c, q, p)
				}
				seen[c] = p
				if want := fmt.Sprint(next[c]); n != want {
					t.Fatalf("%s: event %s, want %s (order)", c, n, want)
				}
				next[c]++
				if intake.PartitionOf(c, parts) != p {
					t.Fatalf("%s in partition %d, PartitionOf says %d", c, p, intake.PartitionOf(c, parts))
				}
				used[p] = true
				total++
			}
		}
	}
	if total != cases*per || len(seen) != cases {
		t.Fatalf("read %d entries of %d cases, want %d of %d", total, len(seen), cases*per, cases)
	}
	if len(used) < 2 {
		t.Fatalf("12 cases all in one partition: %v", used)
	}
}

func pendingBy(t *testing.T, c *redis.Client, stream, group string) map[string]int64 {
	t.Helper()
	p, err := c.XPending(context.Background(), stream, group).Result()
	if err != nil {
		t.Fatal(err)
	}
	return p.Consumers
}

func TestRedisTakeover(t *testing.T) {
	srv := testsvc.StartRedis(t)
	ctx := context.Background()
	admin := redisClient(t, srv.Addr)
	// Every record of this test belongs to one case, so to one partition.
	keyed := func(ids []string, data [][]byte) []intake.Record {
		recs := intaketest.Records(ids, data)
		for i := range recs {
			recs[i].Key = "case-1"
		}
		return recs
	}
	a := openRedis(t, srv.Addr, intake.RedisOptions{Prefix: "to:", Partitions: 3, Consumer: "A"})
	b := openRedis(t, srv.Addr, intake.RedisOptions{Prefix: "to:", Partitions: 3, Consumer: "B"})
	p := intake.PartitionOf("case-1", 3)
	stream := a.StreamKey(p)

	ids := []string{"e1", "e2", "e3", "e4", "e5"}
	if _, err := a.Append(ctx, keyed(ids, [][]byte{{1}, {2}, {3}, {4}, {5}})); err != nil {
		t.Fatal(err)
	}
	es, err := a.Partition(p).Read(ctx, 0, 10)
	if err != nil || len(es) != 5 {
		t.Fatalf("A read %d entries, %v", len(es), err)
	}
	if got := pendingBy(t, admin, stream, "aggregators"); got["A"] != 5 {
		t.Fatalf("pending after A's read: %v, want 5 under A", got)
	}
	// A dies without Commit. Two more entries arrive that nobody has read.
	a.Close()
	if _, err := b.Append(ctx, keyed([]string{"e6", "e7"}, [][]byte{{6}, {7}})); err != nil {
		t.Fatal(err)
	}

	// B resumes from the store's checkpoint 0: A's entries first, in order, then the new ones.
	got, err := b.Partition(p).Read(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(idsOf(got)) != "[e1 e2 e3 e4 e5 e6 e7]" {
		t.Fatalf("B read %v", idsOf(got))
	}
	for i, e := range got {
		if e.Offset != uint64(i+1) || e.Data[0] != byte(i+1) {
			t.Fatalf("entry %d: %+v", i, e)
		}
	}
	if pend := pendingBy(t, admin, stream, "aggregators"); pend["B"] != 7 || pend["A"] != 0 {
		t.Fatalf("pending after B's read: %v, want 7 under B, none under A", pend)
	}

	// A reader resuming after a checkpoint acknowledges what is below it.
	c := openRedis(t, srv.Addr, intake.RedisOptions{Prefix: "to:", Partitions: 3, Consumer: "C"})
	got, err = c.Partition(p).Read(ctx, 4, 10)
	if err != nil || fmt.Sprint(idsOf(got)) != "[e5 e6 e7]" {
		t.Fatalf("C read %v, %v", idsOf(got), err)
	}
	if pend := pendingBy(t, admin, stream, "aggregators"); pend["C"] != 3 || pend["B"] != 0 {
		t.Fatalf("pending after C's read after 4: %v, want 3 under C and the rest acknowledged", pend)
	}

	if err := c.Partition(p).Commit(ctx, 7); err != nil {
		t.Fatal(err)
	}
	if pend := pendingBy(t, admin, stream, "aggregators"); len(pend) != 0 {
		t.Fatalf("pending after Commit: %v", pend)
	}
	if n := admin.XLen(ctx, stream).Val(); n != 0 {
		t.Fatalf("stream has %d entries after Commit(7), want trimmed", n)
	}
	if cs := admin.XInfoConsumers(ctx, stream, "aggregators").Val(); len(cs) != 3 {
		t.Fatalf("consumers %v; want A, B, C kept (idle < ConsumerIdle)", cs)
	}
	// A later owner's Commit removes former consumers that hold nothing.
	d := openRedis(t, srv.Addr, intake.RedisOptions{Prefix: "to:", Partitions: 3, Consumer: "D", ConsumerIdle: time.Millisecond})
	time.Sleep(10 * time.Millisecond)
	if err := d.Partition(p).Commit(ctx, 7); err != nil {
		t.Fatal(err)
	}
	if cs := admin.XInfoConsumers(ctx, stream, "aggregators").Val(); len(cs) != 0 {
		t.Fatalf("consumers %v after D's Commit; want the idle empty ones removed", cs)
	}
	if dup, err := c.Append(ctx, keyed(ids, make([][]byte, len(ids)))); err != nil || fmt.Sprint(dup) != "[duplicate duplicate duplicate duplicate duplicate]" {
		t.Fatalf("re-append after Commit: %v, %v; want all duplicates", dup, err)
	}
	// The next entry continues the offsets.
	if _, err := c.Append(ctx, keyed([]string{"e8"}, [][]byte{{8}})); err != nil {
		t.Fatal(err)
	}
	got, err = c.Partition(p).Read(ctx, 7, 10)
	if err != nil || len(got) != 1 || got[0].Offset != 8 || got[0].ID != "e8" {
		t.Fatalf("read after trim: %+v, %v", got, err)
	}
}

func TestRedisDurableAcrossKill9(t *testing.T) {
	srv := testsvc.StartRedis(t)
	ctx := context.Background()
	r := openRedis(t, srv.Addr, intake.RedisOptions{Prefix: "d:"})
	if !r.Durable() {
		t.Fatal("Durable() = false on an appendfsync always server")
	}
	var ids []string
	var data [][]byte
	for i := range 50 {
		ids = append(ids, fmt.Sprintf("id%d", i))
		data = append(data, fmt.Appendf(nil, "data%d", i))
	}
	for i := 0; i < len(ids); i += 10 {
		if _, err := r.Append(ctx, intaketest.Records(ids[i:i+10], data[i:i+10])); err != nil {
			t.Fatal(err)
		}
	}
	es := readRedisN(t, r, 0, 30)
	if err := r.Commit(ctx, es[29].Offset); err != nil { // ids 0..29 only in the dedupe set now
		t.Fatal(err)
	}
	if err := srv.Kill9(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	r2 := openRedis(t, srv.Addr, intake.RedisOptions{Prefix: "d:"})
	got := readRedisN(t, r2, es[29].Offset, 20)
	for i, e := range got {
		if e.ID != ids[30+i] || string(e.Data) != string(data[30+i]) || e.Offset != uint64(31+i) {
			t.Fatalf("entry %d after kill -9: %+v", i, e)
		}
	}
	dup, err := r2.Append(ctx, intaketest.Records(ids, data))
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range dup {
		if d != intake.Duplicate {
			t.Fatalf("id %s forgotten after kill -9", ids[i])
		}
	}
}

func readRedisN(t *testing.T, l intake.Intake, after uint64, n int) []intake.Entry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []intake.Entry
	for len(out) < n {
		es, err := l.Read(ctx, after, n-len(out))
		if err != nil {
			t.Fatalf("Read after %d: %v", after, err)
		}
		out = append(out, es...)
		after = es[len(es)-1].Offset
	}
	return out
}

func TestRedisDown(t *testing.T) {
	srv := testsvc.StartRedis(t)
	ctx := context.Background()
	r := openRedis(t, srv.Addr, intake.RedisOptions{Prefix: "down:", BlockSlice: 100 * time.Millisecond})
	if _, err := r.Append(ctx, intaketest.Records([]string{"a"}, [][]byte{{1}})); err != nil {
		t.Fatal(err)
	}
	readRedisN(t, r, 0, 1)

	// A Read waiting for data when the server goes away returns an Unavailable error.
	rerr := make(chan error, 1)
	go func() {
		rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		_, err := r.Read(rctx, 1, 10)
		rerr <- err
	}()
	time.Sleep(150 * time.Millisecond)
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-rerr:
		if errs.CodeOf(err) != errs.Unavailable {
			t.Fatalf("blocked Read during the outage: %v (code %s), want unavailable", err, errs.CodeOf(err))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("blocked Read did not return when Redis went away")
	}
	_, err := r.Append(ctx, intaketest.Records([]string{"b"}, [][]byte{{2}}))
	if errs.CodeOf(err) != errs.Unavailable || errs.ReasonOf(err) != "intake_unavailable" {
		t.Fatalf("Append while Redis is down: %v (code %s); want unavailable", err, errs.CodeOf(err))
	}
	if err := r.Commit(ctx, 1); errs.CodeOf(err) != errs.Unavailable {
		t.Fatalf("Commit while Redis is down: %v", err)
	}

	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	var dup []intake.Outcome
	for {
		dup, err = r.Append(ctx, intaketest.Records([]string{"a", "b"}, [][]byte{{1}, {2}}))
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil || fmt.Sprint(dup) != "[duplicate appended]" {
		t.Fatalf("Append after restart: %v, %v", dup, err)
	}
	es := readRedisN(t, r, 1, 1)
	if es[0].ID != "b" || es[0].Offset != 2 {
		t.Fatalf("after restart: %+v", es[0])
	}
}

func idsOf(es []intake.Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

// Commit deletes the digests of the entries it trims: the ids stay deduplicated, without
// conflicts.
func TestRedisCommitDropsDigests(t *testing.T) {
	srv := testsvc.StartRedis(t)
	ctx := context.Background()
	r := openRedis(t, srv.Addr, intake.RedisOptions{Prefix: "zhili:dg:", Consumer: "c"})
	recs := []intake.Record{{ID: "a", Data: []byte{1}, Digest: 1}, {ID: "b", Data: []byte{2}, Digest: 2}}
	if _, err := r.Append(ctx, recs); err != nil {
		t.Fatal(err)
	}
	es := readRedisN(t, r, 0, 2)
	if err := r.Commit(ctx, es[0].Offset); err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer c.Close()
	if n, err := c.HLen(ctx, "{zhili:dg:}intake:digests").Result(); err != nil || n != 1 {
		t.Fatalf("digests after committing one of two entries: %d, %v", n, err)
	}
	out, err := r.Append(ctx, []intake.Record{{ID: "a", Data: []byte{3}, Digest: 3}, {ID: "b", Data: []byte{4}, Digest: 4}})
	if err != nil || fmt.Sprint(out) != "[duplicate conflict]" {
		t.Fatalf("re-append: %v, %v; want [duplicate conflict]", out, err)
	}
}
