package intake

// Redis is the production intake log: one Redis stream per partition, read through a consumer
// group so that a partition's pending entries can be taken over when its reader dies.
// docs/REDIS.md describes the deployment side (durability settings, memory, cluster).
//
// Keys. Every key of a tenant carries the hash tag {<prefix>} so that all of them live in one
// cluster slot (a script may only touch keys of one slot); with the default prefix:
//
//	{zhili:}intake:ids       set of every accepted id (dedupe; never trimmed)
//	{zhili:}intake:digests   hash: id → digest (16 hex digits) of the entries in the streams
//	{zhili:}intake:<p>:seq   counter: the last offset of partition p
//	{zhili:}intake:<p>       stream of partition p; entry id "<offset>-0", fields id, d
//
// Append runs one Lua script per call (EVALSHA; EVAL on NOSCRIPT): for each entry SADD the id;
// when new, INCR the partition's counter, XADD the entry with the explicit id "<n>-0", so an
// entry's Offset is n (1-based, contiguous per partition), and HSET its digest (if any); when
// not new, HGET the digest it was accepted with: another one is a Conflict. A script is
// atomic, and with appendonly yes + appendfsync always its effects are fsync'ed before the
// reply.
//
// Read (per partition) runs one script that: acknowledges pending entries ≤ after (they are in
// the history store); XRANGEs (after, +] COUNT max; delivers the not-yet-delivered ones among
// them to this consumer with XREADGROUP '>' (advancing the group's last-delivered id); and
// XCLAIMs the already-delivered ones that are pending under another consumer (a dead reader's
// entries) to this consumer. Every returned entry is thus pending under this consumer until a
// Commit acknowledges it. When nothing is there, Read waits with XREAD BLOCK in short slices
// (ctx and Close are checked between them) and then runs the script again.
//
// Commit(upTo) acknowledges every pending entry ≤ upTo (whichever consumer holds it) and trims
// the stream with XTRIM MINID upTo+1, deleting the digests of the trimmed entries (an id whose
// entry is gone is then only deduplicated). The ids stay in the dedupe set. It also deletes idle
// consumers that hold nothing (RedisOptions.ConsumerIdle), so restarts do not pile them up.
//
// Only one reader may read a partition at a time (the caller holds a lease); two live readers
// of one partition would steal each other's pending entries.

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"zhili/errs"
)

// RedisOptions configures a Redis intake.
type RedisOptions struct {
	Prefix         string        // key prefix per tenant, e.g. "zhili:xinyang:" (default "zhili:")
	Partitions     int           // number of partition streams (default 1); fixed for a deployment
	Group          string        // consumer group (default "aggregators")
	Consumer       string        // this process's consumer name (default <hostname>-<pid>)
	MaxRecordBytes int           // largest accepted entry, id + data (default DefaultMaxRecordBytes)
	BlockSlice     time.Duration // longest single XREAD BLOCK of a waiting Read (default 250 ms)
	Logger         *slog.Logger  // for the durability warning (default slog.Default())
	// ConsumerIdle: Commit removes other consumers of the partition's group that hold no
	// pending entries and were idle this long (default 1 h).
	ConsumerIdle time.Duration
}

// Redis is the Redis-backed intake. The value itself is the whole log: Append spreads entries
// over the partitions; Read and Commit act on partition 0. Partition(p) gives a reader's view.
type Redis struct {
	c       redis.UniversalClient
	opt     RedisOptions
	tag     string // "{prefix}"
	durable bool
	closed  atomic.Bool
	done    chan struct{}
	once    sync.Once
	p0      *redisPart
}

var _ Intake = (*Redis)(nil)

// redisPart is the view of one partition.
type redisPart struct {
	r      *Redis
	p      int
	stream string
	closed atomic.Bool
}

var _ Intake = (*redisPart)(nil)

const (
	maxRedisRead     = 1000     // entries per Read
	maxRedisCallSize = 64 << 20 // bytes of one Append call
)

// PartitionOf returns the partition of key among n: FNV-1a (32-bit) of the key's bytes modulo n,
// or 0 when n ≤ 1. It is part of the storage format and must never change.
func PartitionOf(key string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

// OpenRedis opens the intake on client (which the caller keeps and closes). It creates the
// consumer group of every partition and checks the server's durability settings: without
// appendonly yes and appendfsync always (or when CONFIG is not allowed) it logs a warning and
// Durable reports false. An unreachable server is an errs.Unavailable error.
func OpenRedis(ctx context.Context, client redis.UniversalClient, opt RedisOptions) (*Redis, error) {
	if opt.Prefix == "" {
		opt.Prefix = "zhili:"
	}
	if opt.Partitions <= 0 {
		opt.Partitions = 1
	}
	if opt.Group == "" {
		opt.Group = "aggregators"
	}
	if opt.Consumer == "" {
		h, _ := os.Hostname()
		opt.Consumer = fmt.Sprintf("%s-%d", h, os.Getpid())
	}
	if opt.MaxRecordBytes <= 0 {
		opt.MaxRecordBytes = DefaultMaxRecordBytes
	}
	if opt.BlockSlice <= 0 {
		opt.BlockSlice = 250 * time.Millisecond
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.ConsumerIdle <= 0 {
		opt.ConsumerIdle = time.Hour
	}
	tag := opt.Prefix
	if !strings.Contains(tag, "{") {
		tag = "{" + tag + "}"
	}
	r := &Redis{c: client, opt: opt, tag: tag, done: make(chan struct{})}
	r.p0 = &redisPart{r: r, p: 0, stream: r.streamKey(0)}
	for p := range opt.Partitions {
		err := client.XGroupCreateMkStream(ctx, r.streamKey(p), opt.Group, "0").Err()
		if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
			return nil, r.fail(ctx, err)
		}
	}
	r.durable = r.checkDurable(ctx)
	return r, nil
}

func (r *Redis) checkDurable(ctx context.Context) bool {
	got := map[string]string{}
	for _, k := range []string{"appendonly", "appendfsync"} {
		m, err := r.c.ConfigGet(ctx, k).Result()
		if err != nil {
			r.opt.Logger.Warn("intake: cannot check the Redis durability settings; acknowledged events may be lost on a Redis crash unless the server runs with appendonly yes and appendfsync always", "err", err)
			return false
		}
		got[k] = m[k]
	}
	if got["appendonly"] != "yes" || got["appendfsync"] != "always" {
		r.opt.Logger.Warn("intake: Redis is not durable; acknowledged events may be lost on a Redis crash (set appendonly yes, appendfsync always)",
			"appendonly", got["appendonly"], "appendfsync", got["appendfsync"])
		return false
	}
	return true
}

// Durable reports whether the server was seen at open with appendonly yes and appendfsync always.
func (r *Redis) Durable() bool { return r.durable }

// Partitions returns the number of partitions.
func (r *Redis) Partitions() int { return r.opt.Partitions }

// Consumer returns this process's consumer name in the group.
func (r *Redis) Consumer() string { return r.opt.Consumer }

// Partition returns the reader's view of partition p: Read and Commit act on p, Append
// spreads over all partitions like the whole. Closing a view ends only the view. It panics
// when p is out of range.
func (r *Redis) Partition(p int) Intake {
	if p < 0 || p >= r.opt.Partitions {
		panic(fmt.Sprintf("intake: partition %d out of range [0,%d)", p, r.opt.Partitions))
	}
	return &redisPart{r: r, p: p, stream: r.streamKey(p)}
}

func (r *Redis) idsKey() string         { return r.tag + "intake:ids" }
func (r *Redis) digestsKey() string     { return r.tag + "intake:digests" }
func (r *Redis) seqKey(p int) string    { return r.tag + "intake:" + strconv.Itoa(p) + ":seq" }
func (r *Redis) streamKey(p int) string { return r.tag + "intake:" + strconv.Itoa(p) }

// StreamKey returns the key of partition p's stream (for operators and tests).
func (r *Redis) StreamKey(p int) string { return r.streamKey(p) }

// DedupeSetKey returns the key of the set of accepted ids (for operators and tests).
func (r *Redis) DedupeSetKey() string { return r.idsKey() }

// Group returns the consumer group's name.
func (r *Redis) Group() string { return r.opt.Group }

// partitionOf is the partition of a record: by its key, else by its id.
func (r *Redis) partitionOf(rec *Record) int {
	key := rec.Key
	if key == "" {
		key = rec.ID
	}
	return PartitionOf(key, r.opt.Partitions)
}

// fail maps a Redis error: the ctx's own error when ctx is done, else errs.Unavailable.
func (r *Redis) fail(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if r.closed.Load() {
		return errClosed()
	}
	return errs.Wrap(errs.Unavailable, "intake_unavailable", err, "intake: redis")
}

// appendScript: KEYS = ids set, digests hash, then (seq, stream) pairs; ARGV = (id, pair
// index, data, digest or "") quadruples. Returns one Outcome per entry (0 appended,
// 1 duplicate, 2 conflict).
var appendScript = redis.NewScript(`
local out = {}
local n = #ARGV / 4
for i = 0, n - 1 do
  local id, dg = ARGV[4*i+1], ARGV[4*i+4]
  if redis.call('SADD', KEYS[1], id) == 1 then
    local k = tonumber(ARGV[4*i+2])
    local seq = redis.call('INCR', KEYS[2*k+1])
    redis.call('XADD', KEYS[2*k+2], seq .. '-0', 'id', id, 'd', ARGV[4*i+3])
    if dg ~= '' then redis.call('HSET', KEYS[2], id, dg) end
    out[i+1] = 0
  else
    local had = redis.call('HGET', KEYS[2], id)
    if dg ~= '' and had and had ~= dg then out[i+1] = 2 else out[i+1] = 1 end
  end
end
return out
`)

// Append stores the new entries (see Intake). A record goes to partition
// PartitionOf(its key, or its id when it has none, Partitions). A Redis failure is
// errs.Unavailable; the call may then have been stored or not, and a retry reports the stored
// ids as duplicates.
func (r *Redis) Append(ctx context.Context, recs []Record) ([]Outcome, error) {
	if r.closed.Load() {
		return nil, errClosed()
	}
	if len(recs) == 0 {
		return []Outcome{}, nil
	}
	keys := []string{r.idsKey(), r.digestsKey()}
	pair := map[int]int{} // partition → pair index in keys (1-based)
	args := make([]any, 0, 4*len(recs))
	total := 0
	for i := range recs {
		rec := &recs[i]
		if rec.ID == "" {
			return nil, errs.E(errs.Invalid, "intake_id", "intake: entry %d has an empty id", i)
		}
		n := len(rec.ID) + len(rec.Data)
		if n > r.opt.MaxRecordBytes {
			return nil, errs.E(errs.TooLarge, "intake_record_too_large", "intake: entry %q is %d bytes, limit %d", rec.ID, n, r.opt.MaxRecordBytes)
		}
		if total += n; total > maxRedisCallSize {
			return nil, errs.E(errs.TooLarge, "intake_batch_too_large", "intake: append of more than %d bytes", maxRedisCallSize)
		}
		p := r.partitionOf(rec)
		k, ok := pair[p]
		if !ok {
			k = len(pair) + 1
			pair[p] = k
			keys = append(keys, r.seqKey(p), r.streamKey(p))
		}
		dg := ""
		if rec.Digest != 0 {
			dg = fmt.Sprintf("%016x", rec.Digest)
		}
		args = append(args, rec.ID, k, rec.Data, dg)
	}
	res, err := appendScript.Run(ctx, r.c, keys, args...).Int64Slice()
	if err != nil {
		return nil, r.fail(ctx, err)
	}
	if len(res) != len(recs) {
		return nil, errs.E(errs.Internal, "intake_redis", "intake: append script returned %d flags for %d ids", len(res), len(recs))
	}
	out := make([]Outcome, len(recs))
	for i, v := range res {
		if v < 0 || v > int64(Conflict) {
			return nil, errs.E(errs.Internal, "intake_redis", "intake: append script returned %d", v)
		}
		out[i] = Outcome(v)
	}
	return out, nil
}

// Read reads partition 0 (see Partition).
func (r *Redis) Read(ctx context.Context, after uint64, max int) ([]Entry, error) {
	return r.p0.Read(ctx, after, max)
}

// Commit commits partition 0 (see Partition).
func (r *Redis) Commit(ctx context.Context, upTo uint64) error { return r.p0.Commit(ctx, upTo) }

// Close ends the intake and every view; blocked Reads return within BlockSlice. The client
// stays open. Close is idempotent.
func (r *Redis) Close() error {
	r.once.Do(func() {
		r.closed.Store(true)
		close(r.done)
	})
	return nil
}

func (v *redisPart) Append(ctx context.Context, recs []Record) ([]Outcome, error) {
	if v.closed.Load() {
		return nil, errClosed()
	}
	return v.r.Append(ctx, recs)
}

func (v *redisPart) Close() error {
	v.closed.Store(true)
	return nil
}

func (v *redisPart) isClosed() bool { return v.closed.Load() || v.r.closed.Load() }

// readScript: KEYS[1] = stream; ARGV = group, consumer, after, first id to read, max.
// See the package comment at the top of this file.
var readScript = redis.NewScript(`
local s, g, me = KEYS[1], ARGV[1], ARGV[2]
local after = tonumber(ARGV[3])
if redis.call('EXISTS', s) == 0 then return {} end
local ld = nil
for _, gi in ipairs(redis.call('XINFO', 'GROUPS', s)) do
  local name, last
  for i = 1, #gi, 2 do
    if gi[i] == 'name' then name = gi[i+1] elseif gi[i] == 'last-delivered-id' then last = gi[i+1] end
  end
  if name == g then ld = tonumber(string.match(last, '^%d+')) end
end
if ld == nil then
  redis.call('XGROUP', 'CREATE', s, g, '0')
  ld = 0
end
if after > 0 then
  local p = redis.call('XPENDING', s, g, '-', ARGV[3] .. '-0', 1000)
  if #p > 0 then
    local ack = {s, g}
    for _, e in ipairs(p) do ack[#ack+1] = e[1] end
    redis.call('XACK', unpack(ack))
  end
end
local es = redis.call('XRANGE', s, ARGV[4], '+', 'COUNT', ARGV[5])
if #es == 0 then return es end
if ld < after then
  redis.call('XGROUP', 'SETID', s, g, ARGV[3] .. '-0')
  ld = after
end
local lastn = tonumber(string.match(es[#es][1], '^%d+'))
if lastn > ld then
  redis.call('XREADGROUP', 'GROUP', g, me, 'COUNT', lastn - ld, 'STREAMS', s, '>')
end
local claim = {s, g, me, 0}
for _, e in ipairs(es) do
  if tonumber(string.match(e[1], '^%d+')) <= ld then claim[#claim+1] = e[1] end
end
if #claim > 4 then
  claim[#claim+1] = 'JUSTID'
  redis.call('XCLAIM', unpack(claim))
end
return es
`)

// Read returns entries of this partition with Offset > after (see Intake). Every returned
// entry is pending under this consumer until Commit; pending entries of another consumer
// (a dead reader) in the range are claimed; pending entries ≤ after are acknowledged. At most
// 1000 entries are returned per call. A Redis failure is errs.Unavailable (the caller backs
// off and retries).
func (v *redisPart) Read(ctx context.Context, after uint64, max int) ([]Entry, error) {
	if max <= 0 {
		return nil, errs.E(errs.Invalid, "intake_args", "intake: read limit must be positive, got %d", max)
	}
	max = min(max, maxRedisRead)
	r := v.r
	afterS := strconv.FormatUint(after, 10)
	start := strconv.FormatUint(after+1, 10) + "-0"
	for {
		if v.isClosed() {
			return nil, errClosed()
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		raw, err := readScript.Run(ctx, r.c, []string{v.stream}, r.opt.Group, r.opt.Consumer, afterS, start, max).Slice()
		if err != nil {
			return nil, r.fail(ctx, err)
		}
		if len(raw) > 0 {
			return parseEntries(raw)
		}
		if err := v.wait(ctx, afterS+"-0"); err != nil {
			return nil, err
		}
	}
}

// wait blocks until the stream has an entry after id, in XREAD BLOCK slices.
func (v *redisPart) wait(ctx context.Context, id string) error {
	r := v.r
	for {
		if v.isClosed() {
			return errClosed()
		}
		d := r.opt.BlockSlice
		if dl, ok := ctx.Deadline(); ok {
			left := time.Until(dl)
			if left < time.Millisecond {
				<-ctx.Done()
				return ctx.Err()
			}
			d = min(d, left)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		err := r.c.XRead(ctx, &redis.XReadArgs{Streams: []string{v.stream, id}, Count: 1, Block: d}).Err()
		switch {
		case err == nil:
			return nil
		case errors.Is(err, redis.Nil): // timeout: next slice
		default:
			return r.fail(ctx, err)
		}
	}
}

func parseEntries(raw []any) ([]Entry, error) {
	out := make([]Entry, 0, len(raw))
	for _, x := range raw {
		e, ok := x.([]any)
		if !ok || len(e) != 2 {
			return nil, errBadReply(x)
		}
		sid, _ := e[0].(string)
		fields, _ := e[1].([]any)
		num, _, _ := strings.Cut(sid, "-")
		off, err := strconv.ParseUint(num, 10, 64)
		if err != nil || len(fields)%2 != 0 {
			return nil, errBadReply(x)
		}
		ent := Entry{Offset: off}
		for i := 0; i < len(fields); i += 2 {
			k, _ := fields[i].(string)
			val, _ := fields[i+1].(string)
			switch k {
			case "id":
				ent.ID = val
			case "d":
				ent.Data = []byte(val)
			}
		}
		if ent.ID == "" {
			return nil, errBadReply(x)
		}
		if ent.Data == nil {
			ent.Data = []byte{}
		}
		out = append(out, ent)
	}
	return out, nil
}

func errBadReply(x any) error {
	return errs.E(errs.Internal, "intake_corrupt", "intake: unexpected stream entry %v", x)
}

// commitScript: KEYS = stream, digests hash; ARGV = group, upTo, upTo+1, consumer, idle ms.
// It deletes the digests of the entries it trims, and the other consumers that hold nothing
// and were idle that long (former owners).
var commitScript = redis.NewScript(`
local s, g = KEYS[1], ARGV[1]
if redis.call('EXISTS', s) == 0 then return 0 end
local from = '-'
while true do
  local es = redis.call('XRANGE', s, from, ARGV[2] .. '-0', 'COUNT', 500)
  if #es == 0 then break end
  local ids = {}
  for _, e in ipairs(es) do
    local f = e[2]
    for i = 1, #f, 2 do
      if f[i] == 'id' then ids[#ids+1] = f[i+1] end
    end
  end
  if #ids > 0 then redis.call('HDEL', KEYS[2], unpack(ids)) end
  if #es < 500 then break end
  from = '(' .. es[#es][1]
end
local n = 0
while true do
  local p = redis.call('XPENDING', s, g, '-', ARGV[2] .. '-0', 1000)
  if #p == 0 then break end
  local ack = {s, g}
  for _, e in ipairs(p) do ack[#ack+1] = e[1] end
  n = n + redis.call('XACK', unpack(ack))
  if #p < 1000 then break end
end
redis.call('XTRIM', s, 'MINID', ARGV[3] .. '-0')
for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', s, g)) do
  local name, pending, idle
  for i = 1, #c, 2 do
    if c[i] == 'name' then name = c[i+1] elseif c[i] == 'pending' then pending = c[i+1] elseif c[i] == 'idle' then idle = c[i+1] end
  end
  if name ~= ARGV[4] and pending == 0 and idle > tonumber(ARGV[5]) then
    redis.call('XGROUP', 'DELCONSUMER', s, g, name)
  end
end
return n
`)

// Commit acknowledges every pending entry of this partition ≤ upTo, whichever consumer holds
// it, and trims the stream below upTo+1. The ids stay in the dedupe set.
func (v *redisPart) Commit(ctx context.Context, upTo uint64) error {
	if v.isClosed() {
		return errClosed()
	}
	if upTo == 0 {
		return nil
	}
	err := commitScript.Run(ctx, v.r.c, []string{v.stream, v.r.digestsKey()}, v.r.opt.Group,
		strconv.FormatUint(upTo, 10), strconv.FormatUint(upTo+1, 10), v.r.opt.Consumer,
		v.r.opt.ConsumerIdle.Milliseconds()).Err()
	if err != nil && !errors.Is(err, redis.Nil) {
		if strings.HasPrefix(err.Error(), "NOGROUP") {
			return nil // the group is recreated by the next Read; nothing is pending
		}
		return v.r.fail(ctx, err)
	}
	return nil
}
