package bus

// RedisBus carries a channel over a Redis stream, so that every server process sees every
// aggregator's payloads and a subscription rides out a short Redis outage without loss.
//
//	<prefix>bus:<channel>            stream; one entry per payload, field "p"
//	<prefix>bus:retained:<channel>   hash: key → retained payload
//
// Publish is XADD MAXLEN ~ MaxLen, so a channel's stream keeps about the last MaxLen payloads.
// Subscribe reads HGETALL of the retained hash and the stream's last generated id, delivers the
// retained payloads, and then reads the stream after that id (XREAD BLOCK) in a goroutine that
// sends each payload to the subscription's Go channel, waiting while it is full (the stream
// keeps the rest). Each batch is read in a MULTI together with XINFO STREAM, whose
// entries-added and length give the position of the stream's first entry: when that is past the
// subscription's position (entries-added at subscribe plus the entries delivered since), payloads
// it had not read were trimmed away (a gap); it goes on with what is there and counts the gap
// (Gaps, Lost). This needs Redis ≥ 7.0; on older servers gaps go uncounted.
//
// When Redis is unreachable a subscription keeps its Go channel open, retries with backoff
// (100 ms doubling to 5 s) and resumes after its last id; Publish and Retain return
// errs.Unavailable (the caller retries); Health returns the connection error.

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"zhili/errs"
)

// RedisBusOptions configures a RedisBus.
type RedisBusOptions struct {
	Prefix string // key prefix (default "zhili:")
	MaxLen int64  // approximate stream length cap per channel (default 100000)
	Buffer int    // payloads buffered per subscription's Go channel (default 1024)
	// BlockSlice is the longest XREAD BLOCK; Close and sub.Close take effect within it
	// (default 250 ms).
	BlockSlice time.Duration
}

// RedisBus is the Bus over Redis streams. The client stays the caller's.
type RedisBus struct {
	c    redis.UniversalClient
	opt  RedisBusOptions
	gaps atomic.Int64
	lost atomic.Int64

	hmu     sync.Mutex
	lastErr error

	mu     sync.Mutex
	closed bool
	subs   map[*redisSub]struct{}
	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

var _ Bus = (*RedisBus)(nil)

// NewRedisBus returns a bus on client. It starts a goroutine that pings Redis every second
// for Health; Close stops it.
func NewRedisBus(client redis.UniversalClient, opt RedisBusOptions) *RedisBus {
	if opt.Prefix == "" {
		opt.Prefix = "zhili:"
	}
	if opt.MaxLen <= 0 {
		opt.MaxLen = 100000
	}
	if opt.Buffer <= 0 {
		opt.Buffer = 1024
	}
	if opt.BlockSlice <= 0 {
		opt.BlockSlice = 250 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &RedisBus{c: client, opt: opt, subs: map[*redisSub]struct{}{}, ctx: ctx, cancel: cancel}
	b.wg.Add(1)
	go b.pinger()
	return b
}

func (b *RedisBus) streamKey(channel string) string { return b.opt.Prefix + "bus:" + channel }
func (b *RedisBus) retainedKey(channel string) string {
	return b.opt.Prefix + "bus:retained:" + channel
}

// Gaps returns how many times a subscription found payloads trimmed away before it read them.
func (b *RedisBus) Gaps() int64 { return b.gaps.Load() }

// Lost returns how many payloads subscriptions missed in those gaps.
func (b *RedisBus) Lost() int64 { return b.lost.Load() }

// Health returns nil while Redis answers, the last connection error while it does not, and
// ErrClosed after Close.
func (b *RedisBus) Health() error {
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return ErrClosed
	}
	b.hmu.Lock()
	defer b.hmu.Unlock()
	return b.lastErr
}

// observe records the outcome of a Redis call for Health; it returns err mapped to
// errs.Unavailable (nil stays nil).
func (b *RedisBus) observe(ctx context.Context, err error) error {
	if err != nil && (errors.Is(err, redis.Nil) || ctx.Err() != nil) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		err = nil
	}
	if err != nil {
		var re redis.Error
		if errors.As(err, &re) && !isTransient(re) {
			// A command error (e.g. WRONGTYPE) says nothing about the connection.
			return errs.Wrap(errs.Internal, "bus_redis", err, "bus: redis")
		}
	}
	b.hmu.Lock()
	b.lastErr = err
	b.hmu.Unlock()
	if err != nil {
		return errs.Wrap(errs.Unavailable, "bus_unavailable", err, "bus: redis unreachable")
	}
	return nil
}

// isTransient reports server replies that mean "not available right now".
func isTransient(err redis.Error) bool {
	msg := err.Error()
	for _, p := range []string{"LOADING", "READONLY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "BUSY", "OOM"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

func (b *RedisBus) pinger() {
	defer b.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
		err := b.c.Ping(ctx).Err()
		cancel()
		if b.ctx.Err() != nil {
			return
		}
		_ = b.observe(b.ctx, err)
		select {
		case <-b.ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (b *RedisBus) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

// Publish appends payload to channel's stream. It never waits for subscribers; while Redis is
// unreachable it returns errs.Unavailable.
func (b *RedisBus) Publish(ctx context.Context, channel string, payload []byte) error {
	if b.isClosed() {
		return ErrClosed
	}
	err := b.c.XAdd(ctx, &redis.XAddArgs{
		Stream: b.streamKey(channel), MaxLen: b.opt.MaxLen, Approx: true, Values: []any{"p", payload},
	}).Err()
	return b.observe(ctx, err)
}

// Retain stores payload as channel's retained message under key (see Bus).
func (b *RedisBus) Retain(ctx context.Context, channel, key string, payload []byte) error {
	if b.isClosed() {
		return ErrClosed
	}
	return b.observe(ctx, b.c.HSet(ctx, b.retainedKey(channel), key, payload).Err())
}

// Subscribe returns a subscription that delivers channel's retained messages, then every
// payload published after Subscribe returns. It fails with errs.Unavailable while Redis is
// unreachable.
func (b *RedisBus) Subscribe(ctx context.Context, channel string) (Subscription, error) {
	if b.isClosed() {
		return nil, ErrClosed
	}
	stream := b.streamKey(channel)
	// The stream position first, then the retained messages: a publisher that retains before it
	// publishes (Retain, then Publish) can then never fall between the two reads.
	pipe := b.c.Pipeline()
	info := pipe.XInfoStream(ctx, stream)
	kept := pipe.HGetAll(ctx, b.retainedKey(channel))
	_, _ = pipe.Exec(ctx)
	if err := kept.Err(); err != nil {
		return nil, b.observe(ctx, err)
	}
	last, pos := "0-0", int64(0)
	switch err := info.Err(); {
	case err == nil:
		last, pos = info.Val().LastGeneratedID, info.Val().EntriesAdded
	case isNoSuchKey(err): // no stream yet: everything it will hold is new
	default:
		return nil, b.observe(ctx, err)
	}
	_ = b.observe(ctx, nil)

	sctx, cancel := context.WithCancel(b.ctx)
	s := &redisSub{b: b, stream: stream, last: last, pos: pos, c: make(chan []byte, b.opt.Buffer), ctx: sctx, cancel: cancel}
	for _, v := range kept.Val() {
		s.kept = append(s.kept, []byte(v))
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		cancel()
		return nil, ErrClosed
	}
	b.subs[s] = struct{}{}
	b.wg.Add(1)
	b.mu.Unlock()
	go s.run()
	return s, nil
}

func isNoSuchKey(err error) bool {
	return err != nil && strings.Contains(strings.ToLower(err.Error()), "no such key")
}

// Close ends every subscription (closing their channels) and waits for their goroutines.
// Idempotent; the client stays open.
func (b *RedisBus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.subs = nil
	b.mu.Unlock()
	b.cancel()
	b.wg.Wait()
	return nil
}

type redisSub struct {
	b      *RedisBus
	stream string
	last   string   // id of the last entry delivered (or the stream's last id at subscribe)
	pos    int64    // number of entries ever added to the stream up to last
	kept   [][]byte // retained payloads, delivered first
	c      chan []byte
	ctx    context.Context
	cancel context.CancelFunc
}

func (s *redisSub) C() <-chan []byte { return s.c }

// Close ends the subscription; its channel is closed shortly after (within BlockSlice).
func (s *redisSub) Close() error {
	s.cancel()
	s.b.mu.Lock()
	delete(s.b.subs, s)
	s.b.mu.Unlock()
	return nil
}

func (s *redisSub) send(p []byte) bool {
	select {
	case s.c <- p:
		return true
	case <-s.ctx.Done():
		return false
	}
}

const readBatch = 256

// run delivers the retained payloads, then the stream after s.last, until the subscription
// or the bus is closed.
func (s *redisSub) run() {
	b := s.b
	defer b.wg.Done()
	defer close(s.c)
	for _, p := range s.kept {
		if !s.send(p) {
			return
		}
	}
	s.kept = nil
	backoff := time.Duration(0)
	wait := false // block for new entries before the next batch
	for s.ctx.Err() == nil {
		if backoff > 0 {
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(backoff):
			}
		}
		var err error
		if wait {
			err = b.c.XRead(s.ctx, &redis.XReadArgs{
				Streams: []string{s.stream, s.last}, Count: 1, Block: b.opt.BlockSlice,
			}).Err()
			if errors.Is(err, redis.Nil) { // nothing yet
				_ = b.observe(s.ctx, nil)
				continue
			}
		}
		var n int
		if err == nil {
			n, err = s.batch()
		}
		if s.ctx.Err() != nil {
			return
		}
		if err != nil {
			_ = b.observe(s.ctx, err)
			backoff = min(max(2*backoff, 100*time.Millisecond), 5*time.Second)
			continue
		}
		_ = b.observe(s.ctx, nil)
		backoff = 0
		wait = n < readBatch
	}
}

// batch reads and delivers up to readBatch entries after s.last; it counts a gap when the
// stream was trimmed past s.last.
func (s *redisSub) batch() (int, error) {
	var info *redis.XInfoStreamCmd
	var read *redis.XStreamSliceCmd
	_, err := s.b.c.TxPipelined(s.ctx, func(p redis.Pipeliner) error {
		info = p.XInfoStream(s.ctx, s.stream)
		read = p.XRead(s.ctx, &redis.XReadArgs{Streams: []string{s.stream, s.last}, Count: readBatch, Block: -1})
		return nil
	})
	if isNoSuchKey(info.Err()) {
		return 0, nil // no stream (yet)
	}
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, err
	}
	if err := read.Err(); errors.Is(err, redis.Nil) {
		return 0, nil
	}
	streams := read.Val()
	if len(streams) == 0 || len(streams[0].Messages) == 0 {
		return 0, nil
	}
	msgs := streams[0].Messages
	if in := info.Val(); in.EntriesAdded > 0 {
		first := in.EntriesAdded - in.Length + 1 // position of the stream's first entry
		if first > s.pos+1 && idLess(s.last, msgs[0].ID) {
			s.b.gaps.Add(1)
			s.b.lost.Add(first - s.pos - 1)
			s.pos = first - 1
		}
	}
	for _, m := range msgs {
		p, _ := m.Values["p"].(string)
		if !s.send([]byte(p)) {
			return 0, nil
		}
		s.last = m.ID
		s.pos++
	}
	return len(msgs), nil
}

// idLess compares stream ids "<ms>-<seq>"; malformed or empty ids compare as 0-0.
func idLess(a, b string) bool {
	am, as := parseID(a)
	bm, bs := parseID(b)
	return am < bm || (am == bm && as < bs)
}

func parseID(id string) (uint64, uint64) {
	ms, seq, _ := strings.Cut(id, "-")
	m, _ := strconv.ParseUint(ms, 10, 64)
	s, _ := strconv.ParseUint(seq, 10, 64)
	return m, s
}
