package intake

// WAL is the embedded intake log: a write-ahead log on local files.
//
// Layout. The directory holds segment files named by the offset of their first entry
// ("%020d.wal") and a small file "committed". Each segment is a sequence of frames:
//
//	u32 length | u32 CRC-32C (Castagnoli) of length bytes + payload | payload
//	payload = u64 offset | u8 flags | uvarint len(id) | id | [u64 digest] | data
//
// All integers are little-endian. Offsets inside a segment are contiguous, starting at the
// segment's name; between segments they may jump (see WALOptions.StartAfter). Flags mark the
// last entry of an Append call and the first entry of a group-commit batch; recovery uses them
// to keep Append atomic across crashes and to tell a torn tail from corruption. A third flag
// says the payload holds the record's digest (Record.Digest ≠ 0); entries written before
// digests existed have none.
//
// Durability. Concurrent Append calls join a batch; a single flusher goroutine writes each
// batch with one write and one fsync, so callers share fsyncs (group commit). A batch is
// written to one segment; rotation creates the next segment (and fsyncs the directory) before
// the first batch goes into it. Readers only see entries whose fsync has succeeded. A failed
// write is truncated away and reported to that batch's callers; a failed fsync leaves the file
// state unknown, so the log refuses further appends until it is reopened.
//
// Recovery. OpenWAL scans every segment and verifies every frame. In the last segment a bad
// frame starts a torn tail (a write that never completed its fsync): the tail, and any entries
// of an Append call that did not reach the disk in full, are truncated and counted in
// WALStats.TornBytes. A bad frame followed by the start of a later batch means data that was
// acknowledged is damaged: that, and any bad frame in an earlier segment, is an error naming
// the file and byte position. (A damaged record inside the very last batch cannot be told apart
// from a torn write and is dropped as torn.)
//
// Commit. Commit(upTo) records upTo in "committed" and deletes every segment, except the
// active one, whose entries are all ≤ upTo. The stored value tells a reopened log where the
// live (uncommitted) tail starts, which drives the MaxBytes limit and Stats; Read does not skip
// entries ≤ committed. The history store's own checkpoint stays authoritative: the aggregator
// resumes with Read(after = store checkpoint), and the file may lag behind it after a crash.
//
// Dedupe. The log keeps an in-memory set of 64-bit hashes (hash/maphash, random seed per
// process) of every accepted id: 8-byte slots at 37–75% load, i.e. 11–21 bytes per id, about
// 15 on average (10^8 ids ≈ 1.5 GB). Two distinct ids collide with probability 2^-64, so among
// n ids the chance of any false duplicate is about n²/2^65 (n = 10^8: ~3·10^-4); a false
// duplicate is reported as a duplicate and not stored. The set is rebuilt on open from the ids
// in the remaining segments plus WALOptions.KnownIDs, so ids of deleted segments are only
// remembered if the history store streams them there. Ids are marked seen only after their
// fsync succeeded; an Append that meets an id still waiting for its fsync waits for that
// outcome. An Append whose ctx ends while its batch is being written returns ctx.Err() but may
// still be stored; its retry then reports the ids as duplicates.
//
// Digests. Beside the set, the log keeps id hash → digest for the entries in its segments (a
// map; about 30 bytes per entry, dropped with the segment by Commit, read back from the frames
// on open). An id appended again with another digest is a Conflict. Ids known only through
// KnownIDs, or whose segment is gone, have no digest: any copy of them is a Duplicate.

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"hash/maphash"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"zhili/errs"
	"zhili/internal/atomicfile"
	"zhili/internal/idset"
)

// WAL defaults and hard limits.
const (
	DefaultSegmentBytes   = 64 << 20
	DefaultMaxRecordBytes = 1 << 20
	DefaultMaxBytes       = 1 << 30

	maxSegmentBytes = 1 << 30  // keeps frame positions within uint32
	maxRecordLimit  = 64 << 20 // hard cap of MaxRecordBytes; longer frames are corrupt
	maxCallBytes    = 1 << 30  // encoded bytes of one Append call
	maxBatchBytes   = 32 << 20 // a group-commit batch stops accepting calls beyond this
	maxReadBytes    = 16 << 20 // bytes returned by one Read (at least one entry)

	frameHeader  = 8                           // length + CRC
	payloadFixed = 9                           // offset + flags
	minPayload   = payloadFixed + 1 + 1        // one-byte id
	maxPayload   = maxRecordLimit + 9 + 10 + 8 // id+data plus fixed part, uvarint and digest

	flagCallEnd    = 1 << 0 // last entry of an Append call
	flagBatchStart = 1 << 1 // first entry of a group-commit batch
	flagDigest     = 1 << 2 // the payload holds a u64 digest after the id

	segSuffix     = ".wal"
	committedName = "committed"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// WALOptions configures OpenWAL. Zero values select the defaults.
type WALOptions struct {
	// SegmentBytes is the size after which the active segment is rotated
	// (default 64 MiB, at most 1 GiB).
	SegmentBytes int64
	// MaxRecordBytes bounds len(id)+len(data) of one entry (default 1 MiB, at most 64 MiB).
	MaxRecordBytes int
	// MaxBytes bounds the bytes of entries after the committed offset, including those waiting
	// for their fsync (default 1 GiB). Beyond it Append fails with Unavailable/"intake_full".
	MaxBytes int64
	// KnownIDs, if set, streams the ids the history store holds (called once by OpenWAL).
	// Together with the ids still in the segments they seed the dedupe set.
	KnownIDs func(fn func(id string) error) error
	// StartAfter makes new entries get offsets > StartAfter. Pass the history store's
	// checkpoint so a lost or replaced log directory never reuses offsets already consumed.
	StartAfter uint64
}

// WALStats are counters for monitoring. Counters run since OpenWAL.
type WALStats struct {
	Appended         uint64 // new entries made durable
	Duplicates       uint64 // entries reported as duplicates by successful Appends
	Conflicts        uint64 // entries reported as conflicts (an accepted id, another digest)
	Fsyncs           uint64 // batch fsyncs (group commits)
	DiskBytes        int64  // bytes in segment files
	UncommittedBytes int64  // bytes of entries after the committed offset
	Segments         int    // segment files, the active one included
	TornBytes        int64  // bytes truncated from the tail by OpenWAL (see WAL.Damage)
	IDs              int    // ids in the dedupe set
	LastOffset       uint64 // offset of the last durable entry (0 if none ever)
	Committed        uint64 // last committed offset
}

// WAL is the file-backed Intake. See the comment at the top of this file.
type WAL struct {
	dir  string
	opt  WALOptions
	seed maphash.Seed

	kick     chan struct{} // wakes the flusher
	flushed  chan struct{} // closed when the flusher has exited
	commitMu sync.Mutex    // serializes Commit's file work and Close

	appended, duplicates, conflicts, fsyncs atomic.Uint64

	mu             sync.Mutex
	closed         bool
	failed         error      // sticky: set when an fsync failed
	segs           []*segment // oldest first
	active         *segment   // last of segs; replaced only by the flusher
	seen           idset.Set
	digests        map[uint64]uint64 // id hash → digest of the entries in segs that have one
	pending        map[uint64]*batch // ids in batches not yet durable
	queue          []*batch          // batches waiting for the flusher
	queued         int64             // bytes in queue and in flight
	next           uint64            // offset of the next entry; written only by the flusher
	durable        uint64            // last durable offset
	committed      uint64
	diskBytes      int64
	committedBytes int64 // bytes of entries ≤ committed still on disk
	tornBytes      int64
	damage         []TailDamage
	notify         chan struct{} // closed and replaced when entries become readable
	spare          []byte        // recycled batch buffer
}

var _ Intake = (*WAL)(nil)

type segment struct {
	base    uint64
	path    string
	f       *os.File
	size    int64    // bytes of durable frames
	pos     []uint32 // frame start of entry base+i
	hashed  []uint64 // id hashes of its entries that have a digest (dropped with it)
	refs    int      // readers using f
	removed bool     // deleted by Commit; f closes when refs drops to 0
}

// last returns the offset of the last entry (base-1 when empty).
func (s *segment) last() uint64 { return s.base + uint64(len(s.pos)) - 1 }

// end returns the end position of entry index i (exclusive).
func (s *segment) end(i int) int64 {
	if i+1 < len(s.pos) {
		return int64(s.pos[i+1])
	}
	return s.size
}

type batch struct {
	buf     []byte
	frames  []int // frame starts in buf
	hashes  []uint64
	digests []uint64 // of hashes[i]; 0 for none
	done    chan struct{}
	err     error
}

// open directories of this process, to refuse a second OpenWAL on the same directory.
var walDirs = struct {
	sync.Mutex
	m map[string]bool
}{m: map[string]bool{}}

// OpenWAL opens (creating if needed) the log in dir, recovers it and starts the flusher.
func OpenWAL(dir string, opt WALOptions) (*WAL, error) {
	opt, err := normalizeOptions(opt)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, ioErr(err, "intake: resolve directory")
	}
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return nil, ioErr(err, "intake: create directory")
	}
	walDirs.Lock()
	if walDirs.m[abs] {
		walDirs.Unlock()
		return nil, errs.E(errs.Internal, "intake_in_use", "intake: %s is already open", abs)
	}
	walDirs.m[abs] = true
	walDirs.Unlock()

	w := &WAL{
		dir:     abs,
		opt:     opt,
		seed:    maphash.MakeSeed(),
		kick:    make(chan struct{}, 1),
		flushed: make(chan struct{}),
		pending: map[uint64]*batch{},
		digests: map[uint64]uint64{},
		notify:  make(chan struct{}),
	}
	if err := w.recover(); err != nil {
		for _, s := range w.segs {
			s.f.Close()
		}
		releaseDir(abs)
		return nil, err
	}
	go w.flushLoop()
	return w, nil
}

func normalizeOptions(opt WALOptions) (WALOptions, error) {
	if opt.SegmentBytes <= 0 {
		opt.SegmentBytes = DefaultSegmentBytes
	}
	if opt.MaxRecordBytes <= 0 {
		opt.MaxRecordBytes = DefaultMaxRecordBytes
	}
	if opt.MaxBytes <= 0 {
		opt.MaxBytes = DefaultMaxBytes
	}
	if opt.SegmentBytes > maxSegmentBytes {
		return opt, errs.E(errs.Invalid, "intake_options", "intake: SegmentBytes %d exceeds %d", opt.SegmentBytes, maxSegmentBytes)
	}
	if opt.MaxRecordBytes > maxRecordLimit {
		return opt, errs.E(errs.Invalid, "intake_options", "intake: MaxRecordBytes %d exceeds %d", opt.MaxRecordBytes, maxRecordLimit)
	}
	return opt, nil
}

func releaseDir(abs string) {
	walDirs.Lock()
	delete(walDirs.m, abs)
	walDirs.Unlock()
}

// Append implements Intake.
func (w *WAL) Append(ctx context.Context, recs []Record) ([]Outcome, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	hashes := make([]uint64, len(recs))
	var total int64
	for i := range recs {
		r := &recs[i]
		if r.ID == "" {
			return nil, errs.E(errs.Invalid, "intake_id", "intake: entry %d has an empty id", i)
		}
		if n := len(r.ID) + len(r.Data); n > w.opt.MaxRecordBytes {
			return nil, errs.E(errs.TooLarge, "intake_record_too_large", "intake: entry %q is %d bytes, limit %d", r.ID, n, w.opt.MaxRecordBytes)
		}
		hashes[i] = maphash.String(w.seed, r.ID)
		total += int64(frameSize(r))
	}
	if total > maxCallBytes {
		return nil, errs.E(errs.TooLarge, "intake_batch_too_large", "intake: append of %d bytes exceeds %d", total, maxCallBytes)
	}
	first := firstOf(hashes)
	out := make([]Outcome, len(recs))

	w.mu.Lock()
	for {
		if err := w.usableLocked(); err != nil {
			w.mu.Unlock()
			return nil, err
		}
		wait := w.checkLocked(recs, hashes, first, out)
		if wait == nil {
			break
		}
		// An id is in a batch that is not durable yet: its outcome decides ours.
		w.mu.Unlock()
		select {
		case <-wait.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		w.mu.Lock()
	}
	var newBytes int64
	nNew := 0
	for i, o := range out {
		if o == Appended {
			newBytes += int64(frameSize(&recs[i]))
			nNew++
		}
	}
	if nNew == 0 {
		w.mu.Unlock()
		w.count(out)
		return out, nil
	}
	if newBytes > w.opt.MaxBytes {
		w.mu.Unlock()
		return nil, errs.E(errs.TooLarge, "intake_batch_too_large", "intake: append of %d bytes exceeds MaxBytes %d", newBytes, w.opt.MaxBytes)
	}
	if w.diskBytes-w.committedBytes+w.queued+newBytes > w.opt.MaxBytes {
		w.mu.Unlock()
		return nil, errs.E(errs.Unavailable, "intake_full", "intake: %d uncommitted bytes reached the limit of %d", w.diskBytes-w.committedBytes+w.queued, w.opt.MaxBytes)
	}
	b := w.batchLocked(newBytes)
	last := 0
	for i, o := range out {
		if o != Appended {
			continue
		}
		last = len(b.buf)
		b.frames = append(b.frames, last)
		b.buf = appendFrame(b.buf, &recs[i])
		b.hashes = append(b.hashes, hashes[i])
		b.digests = append(b.digests, recs[i].Digest)
		w.pending[hashes[i]] = b
	}
	b.buf[last+frameHeader+8] |= flagCallEnd
	w.queued += newBytes
	w.mu.Unlock()

	select {
	case w.kick <- struct{}{}:
	default:
	}
	select {
	case <-b.done:
	case <-ctx.Done():
		select {
		case <-b.done:
		default:
			// The entries may still become durable; a retry then reports them as duplicates.
			return nil, ctx.Err()
		}
	}
	if b.err != nil {
		return nil, b.err
	}
	w.count(out)
	return out, nil
}

// count adds the duplicates and conflicts of a successful Append to the stats.
func (w *WAL) count(out []Outcome) {
	var d, c uint64
	for _, o := range out {
		switch o {
		case Duplicate:
			d++
		case Conflict:
			c++
		}
	}
	w.duplicates.Add(d)
	w.conflicts.Add(c)
}

// checkLocked fills out from the seen set and the digests (an id accepted before is compared
// with that copy; an id first met earlier in the call, with that record) and returns a pending
// batch holding one of the ids.
func (w *WAL) checkLocked(recs []Record, hashes []uint64, first []int, out []Outcome) *batch {
	for i, h := range hashes {
		if b := w.pending[h]; b != nil {
			return b
		}
		switch {
		case w.seen.Has(h):
			out[i] = Compare(w.digests[h], recs[i].Digest)
		case first[i] >= 0:
			out[i] = Compare(recs[first[i]].Digest, recs[i].Digest)
		default:
			out[i] = Appended
		}
	}
	return nil
}

// batchLocked returns the open batch a call of n bytes joins.
func (w *WAL) batchLocked(n int64) *batch {
	if k := len(w.queue); k > 0 {
		if b := w.queue[k-1]; int64(len(b.buf))+n <= maxBatchBytes {
			return b
		}
	}
	b := &batch{buf: w.spare[:0], done: make(chan struct{})}
	w.spare = nil
	w.queue = append(w.queue, b)
	return b
}

func (w *WAL) usableLocked() error {
	if w.closed {
		return errClosed()
	}
	return w.failed
}

func errClosed() error { return errs.E(errs.Unavailable, "intake_closed", "intake: log is closed") }

// firstOf gives, for each entry whose id already occurs earlier in the same call, the index of
// that first occurrence; -1 for the others.
func firstOf(hashes []uint64) []int {
	first := make([]int, len(hashes))
	if len(hashes) <= 16 {
		for i := range hashes {
			first[i] = -1
			for j := 0; j < i; j++ {
				if hashes[j] == hashes[i] {
					first[i] = j
					break
				}
			}
		}
		return first
	}
	at := make(map[uint64]int, len(hashes))
	for i, h := range hashes {
		if j, ok := at[h]; ok {
			first[i] = j
		} else {
			first[i] = -1
			at[h] = i
		}
	}
	return first
}

func frameSize(r *Record) int {
	n := frameHeader + payloadFixed + uvarintLen(uint64(len(r.ID))) + len(r.ID) + len(r.Data)
	if r.Digest != 0 {
		n += 8
	}
	return n
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// appendFrame encodes a frame with zero offset and CRC, and only the digest flag; the flusher
// fills them in.
func appendFrame(dst []byte, r *Record) []byte {
	n := frameSize(r) - frameHeader
	dst = binary.LittleEndian.AppendUint32(dst, uint32(n))
	var flags byte
	if r.Digest != 0 {
		flags = flagDigest
	}
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, flags)
	dst = binary.AppendUvarint(dst, uint64(len(r.ID)))
	dst = append(dst, r.ID...)
	if r.Digest != 0 {
		dst = binary.LittleEndian.AppendUint64(dst, r.Digest)
	}
	return append(dst, r.Data...)
}

func frameCRC(lenBytes, payload []byte) uint32 {
	return crc32.Update(crc32.Update(0, castagnoli, lenBytes), castagnoli, payload)
}

// decodePayload splits a payload; ok is false if it is malformed. digest is 0 when the entry
// has none.
func decodePayload(p []byte) (off uint64, flags byte, id []byte, digest uint64, data []byte, ok bool) {
	if len(p) < minPayload {
		return 0, 0, nil, 0, nil, false
	}
	off = binary.LittleEndian.Uint64(p)
	flags = p[8]
	if flags&^(flagCallEnd|flagBatchStart|flagDigest) != 0 {
		return 0, 0, nil, 0, nil, false
	}
	l, k := binary.Uvarint(p[payloadFixed:])
	if k <= 0 {
		return 0, 0, nil, 0, nil, false
	}
	rest := p[payloadFixed+k:]
	if l == 0 || l > uint64(len(rest)) {
		return 0, 0, nil, 0, nil, false
	}
	id, rest = rest[:l], rest[l:]
	if flags&flagDigest != 0 {
		if len(rest) < 8 {
			return 0, 0, nil, 0, nil, false
		}
		digest, rest = binary.LittleEndian.Uint64(rest), rest[8:]
		if digest == 0 {
			return 0, 0, nil, 0, nil, false
		}
	}
	return off, flags, id, digest, rest, true
}

// flushLoop writes queued batches one at a time until the log is closed and drained.
func (w *WAL) flushLoop() {
	defer close(w.flushed)
	for {
		w.mu.Lock()
		for len(w.queue) == 0 {
			if w.closed {
				w.mu.Unlock()
				return
			}
			w.mu.Unlock()
			<-w.kick
			w.mu.Lock()
		}
		b := w.queue[0]
		w.queue[0] = nil
		w.queue = w.queue[1:]
		failed := w.failed
		w.mu.Unlock()

		if failed != nil {
			w.finish(b, nil, 0, failed, false)
			continue
		}
		s, pos, sticky, err := w.write(b)
		w.finish(b, s, pos, err, sticky)
	}
}

// write assigns offsets from w.next, writes b and fsyncs it. It returns the segment and the
// position b was written at. sticky reports that the file state is unknown.
func (w *WAL) write(b *batch) (s *segment, pos int64, sticky bool, err error) {
	first := w.next
	s = w.active
	if s.size > 0 && s.size+int64(len(b.buf)) > w.opt.SegmentBytes {
		ns, err := w.createSegment(first)
		if err != nil {
			return nil, 0, false, err
		}
		w.mu.Lock()
		w.segs = append(w.segs, ns)
		w.active = ns
		w.mu.Unlock()
		s = ns
	}
	buf := b.buf
	for i, f := range b.frames {
		binary.LittleEndian.PutUint64(buf[f+frameHeader:], first+uint64(i))
		if i == 0 {
			buf[f+frameHeader+8] |= flagBatchStart
		}
		n := int(binary.LittleEndian.Uint32(buf[f:]))
		binary.LittleEndian.PutUint32(buf[f+4:], frameCRC(buf[f:f+4], buf[f+frameHeader:f+frameHeader+n]))
	}
	pos = s.size
	if _, err := s.f.WriteAt(buf, pos); err != nil {
		if terr := s.f.Truncate(pos); terr != nil {
			return s, pos, true, err
		}
		return s, pos, false, err
	}
	w.fsyncs.Add(1)
	if err := s.f.Sync(); err != nil {
		return s, pos, true, err
	}
	return s, pos, false, nil
}

// finish publishes the outcome of b and wakes its callers.
func (w *WAL) finish(b *batch, s *segment, pos int64, err error, sticky bool) {
	n := len(b.hashes)
	w.mu.Lock()
	for _, h := range b.hashes {
		delete(w.pending, h)
	}
	w.queued -= int64(len(b.buf))
	switch {
	case err == nil:
		for _, f := range b.frames {
			s.pos = append(s.pos, uint32(pos+int64(f)))
		}
		s.size += int64(len(b.buf))
		w.diskBytes += int64(len(b.buf))
		for i, h := range b.hashes {
			w.seen.Add(h)
			if d := b.digests[i]; d != 0 {
				w.digests[h] = d
				s.hashed = append(s.hashed, h)
			}
		}
		w.next += uint64(n)
		w.durable = w.next - 1
		close(w.notify)
		w.notify = make(chan struct{})
		w.appended.Add(uint64(n))
	case sticky:
		if w.failed == nil {
			w.failed = errs.Wrap(errs.Unavailable, "intake_failed", err, "intake: log write failed; reopen required")
		}
		b.err = w.failed
	default:
		if _, ok := err.(*errs.Error); ok {
			b.err = err
		} else {
			b.err = ioErr(err, "intake: write")
		}
	}
	if cap(b.buf) <= maxBatchBytes {
		w.spare = b.buf[:0]
	}
	b.buf = nil
	w.mu.Unlock()
	close(b.done)
}

func ioErr(err error, msg string) *errs.Error {
	return errs.Wrap(errs.Unavailable, "intake_io", err, msg)
}

// Read implements Intake. It returns at most 16 MiB of data per call (always at least one entry).
func (w *WAL) Read(ctx context.Context, after uint64, limit int) ([]Entry, error) {
	if limit <= 0 {
		return nil, errs.E(errs.Invalid, "intake_args", "intake: read limit must be positive, got %d", limit)
	}
	var plan []span
	w.mu.Lock()
	for {
		if w.closed {
			w.mu.Unlock()
			return nil, errClosed()
		}
		plan = w.planLocked(after, limit)
		if len(plan) > 0 {
			break
		}
		ch := w.notify
		w.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		w.mu.Lock()
	}
	w.mu.Unlock()

	entries, err := readSpans(plan, limit)

	w.mu.Lock()
	for _, sp := range plan {
		sp.s.refs--
		if sp.s.removed && sp.s.refs == 0 {
			sp.s.f.Close()
		}
	}
	w.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return entries, nil
}

// span is a run of entries of one segment planned for a Read.
type span struct {
	s          *segment
	first      uint64
	n          int
	start, end int64
}

// planLocked picks the entries after `after` within the count and byte budgets and takes a
// reference on each segment involved.
func (w *WAL) planLocked(after uint64, limit int) []span {
	var plan []span
	from := after + 1
	if from == 0 {
		return nil // after is the largest offset; nothing can follow
	}
	budget := int64(maxReadBytes)
	for _, s := range w.segs {
		if len(s.pos) == 0 || s.last() < from {
			continue
		}
		k := 0
		if from > s.base {
			k = int(from - s.base)
		}
		start := int64(s.pos[k])
		m := min(len(s.pos)-k, limit)
		// largest count whose bytes fit the budget
		fit := sort.Search(m, func(j int) bool { return s.end(k+j)-start > budget })
		if fit == 0 {
			if len(plan) > 0 {
				break
			}
			fit = 1
		}
		end := s.end(k + fit - 1)
		s.refs++
		plan = append(plan, span{s: s, first: s.base + uint64(k), n: fit, start: start, end: end})
		limit -= fit
		budget -= end - start
		if limit == 0 || fit < m || budget <= 0 {
			break
		}
		from = s.last() + 1
	}
	return plan
}

func readSpans(plan []span, limit int) ([]Entry, error) {
	n := 0
	for _, sp := range plan {
		n += sp.n
	}
	out := make([]Entry, 0, min(limit, n))
	for _, sp := range plan {
		buf := make([]byte, sp.end-sp.start)
		if _, err := sp.s.f.ReadAt(buf, sp.start); err != nil {
			return nil, ioErr(err, "intake: read "+sp.s.path)
		}
		p := 0
		for i := 0; i < sp.n; i++ {
			off := sp.first + uint64(i)
			bad := func(why string) error {
				return errs.E(errs.Internal, "intake_corrupt", "intake: corrupt record in %s at byte %d (offset %d): %s", sp.s.path, sp.start+int64(p), off, why)
			}
			if len(buf)-p < frameHeader {
				return nil, bad("short frame")
			}
			n := int(binary.LittleEndian.Uint32(buf[p:]))
			if n < minPayload || n > len(buf)-p-frameHeader {
				return nil, bad("bad length")
			}
			payload := buf[p+frameHeader : p+frameHeader+n]
			if frameCRC(buf[p:p+4], payload) != binary.LittleEndian.Uint32(buf[p+4:]) {
				return nil, bad("checksum mismatch")
			}
			got, _, id, _, data, ok := decodePayload(payload)
			if !ok || got != off {
				return nil, bad("unexpected offset or malformed payload")
			}
			out = append(out, Entry{Offset: off, ID: string(id), Data: data[:len(data):len(data)]})
			p += frameHeader + n
		}
	}
	return out, nil
}

// Commit implements Intake. upTo beyond the last durable offset is an error.
func (w *WAL) Commit(ctx context.Context, upTo uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w.commitMu.Lock()
	defer w.commitMu.Unlock()
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return errClosed()
	}
	if upTo <= w.committed {
		w.mu.Unlock()
		return nil
	}
	if upTo > w.durable {
		d := w.durable
		w.mu.Unlock()
		return errs.E(errs.Invalid, "intake_commit_range", "intake: commit %d beyond the last offset %d", upTo, d)
	}
	w.committed = upTo
	w.committedBytes = w.committedBytesLocked()
	w.mu.Unlock()

	if err := w.writeCommitted(upTo); err != nil {
		return ioErr(err, "intake: write committed offset")
	}

	w.mu.Lock()
	var drop []*segment
	for len(w.segs) > 1 && w.segs[0] != w.active && w.segs[0].last() <= w.committed {
		s := w.segs[0]
		w.segs[0] = nil
		w.segs = w.segs[1:]
		s.removed = true
		for _, h := range s.hashed {
			delete(w.digests, h)
		}
		s.hashed = nil
		w.diskBytes -= s.size
		w.committedBytes -= s.size
		if s.refs == 0 {
			s.f.Close()
		}
		drop = append(drop, s)
	}
	w.mu.Unlock()

	var first error
	for _, s := range drop {
		if err := os.Remove(s.path); err != nil && first == nil {
			first = ioErr(err, "intake: delete segment")
		}
	}
	return first
}

func (w *WAL) committedBytesLocked() int64 {
	var c int64
	for _, s := range w.segs {
		if s.last() <= w.committed {
			c += s.size
			continue
		}
		if s.base <= w.committed {
			c += int64(s.pos[w.committed-s.base+1])
		}
		break
	}
	return c
}

func (w *WAL) writeCommitted(off uint64) error {
	var b [12]byte
	binary.LittleEndian.PutUint64(b[:], off)
	binary.LittleEndian.PutUint32(b[8:], crc32.Checksum(b[:8], castagnoli))
	return atomicfile.WriteFile(filepath.Join(w.dir, committedName), b[:], 0o640)
}

// readCommitted returns the stored committed offset; a missing or damaged file counts as 0
// because the value is only a hint.
func readCommitted(dir string) uint64 {
	b, err := os.ReadFile(filepath.Join(dir, committedName))
	if err != nil || len(b) != 12 || crc32.Checksum(b[:8], castagnoli) != binary.LittleEndian.Uint32(b[8:]) {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}

// Close implements Intake. It waits for batches already accepted to be written. Idempotent.
func (w *WAL) Close() error {
	w.commitMu.Lock()
	defer w.commitMu.Unlock()
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	close(w.notify) // wake readers; they see closed
	w.notify = make(chan struct{})
	w.mu.Unlock()
	select {
	case w.kick <- struct{}{}:
	default:
	}
	<-w.flushed

	w.mu.Lock()
	var first error
	for _, s := range w.segs {
		if err := s.f.Close(); err != nil && first == nil {
			first = ioErr(err, "intake: close segment")
		}
	}
	w.mu.Unlock()
	releaseDir(w.dir)
	return first
}

// Stats returns current counters.
func (w *WAL) Stats() WALStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return WALStats{
		Appended:         w.appended.Load(),
		Duplicates:       w.duplicates.Load(),
		Conflicts:        w.conflicts.Load(),
		Fsyncs:           w.fsyncs.Load(),
		DiskBytes:        w.diskBytes,
		UncommittedBytes: w.diskBytes - w.committedBytes,
		Segments:         len(w.segs),
		TornBytes:        w.tornBytes,
		IDs:              w.seen.Len(),
		LastOffset:       w.durable,
		Committed:        w.committed,
	}
}

// --- recovery ---

func (w *WAL) recover() error {
	w.committed = readCommitted(w.dir)
	des, err := os.ReadDir(w.dir)
	if err != nil {
		return ioErr(err, "intake: list directory")
	}
	for _, de := range des {
		name := de.Name()
		if !de.Type().IsRegular() || len(name) != 20+len(segSuffix) || !strings.HasSuffix(name, segSuffix) {
			continue
		}
		base, err := strconv.ParseUint(name[:20], 10, 64)
		if err != nil || base == 0 {
			continue
		}
		w.segs = append(w.segs, &segment{base: base, path: filepath.Join(w.dir, name)})
	}
	sort.Slice(w.segs, func(i, j int) bool { return w.segs[i].base < w.segs[j].base })
	for i, s := range w.segs {
		f, err := os.OpenFile(s.path, os.O_RDWR, 0)
		if err != nil {
			w.segs = w.segs[:i]
			return ioErr(err, "intake: open segment")
		}
		s.f = f
	}
	for i, s := range w.segs {
		if i > 0 && s.base <= w.segs[i-1].last() {
			return errs.E(errs.Internal, "intake_corrupt", "intake: segment %s overlaps %s", s.path, w.segs[i-1].path)
		}
		if err := w.scanSegment(s, i == len(w.segs)-1); err != nil {
			return err
		}
		w.diskBytes += s.size
	}
	if w.opt.KnownIDs != nil {
		err := w.opt.KnownIDs(func(id string) error {
			w.seen.Add(maphash.String(w.seed, id))
			return nil
		})
		if err != nil {
			return errs.Wrap(errs.Unavailable, "intake_known_ids", err, "intake: load known ids")
		}
	}

	next := uint64(1)
	if k := len(w.segs); k > 0 {
		next = w.segs[k-1].last() + 1
	}
	want := max(next, w.committed+1, w.opt.StartAfter+1)
	if k := len(w.segs); k == 0 || want > next {
		if k > 0 && len(w.segs[k-1].pos) == 0 {
			// An empty active segment is renamed by replacing it.
			s := w.segs[k-1]
			s.f.Close()
			w.segs = w.segs[:k-1]
			if err := os.Remove(s.path); err != nil {
				return ioErr(err, "intake: remove empty segment")
			}
		}
		s, err := w.createSegment(want)
		if err != nil {
			return err
		}
		w.segs = append(w.segs, s)
		next = want
	}
	w.active = w.segs[len(w.segs)-1]
	w.next = next
	w.durable = next - 1
	w.committed = min(w.committed, w.durable)
	w.committedBytes = w.committedBytesLocked()
	return nil
}

// TailDamage is a tail OpenWAL cut from the last segment: bytes that do not form complete,
// valid frames, and entries of an Append call that did not reach the disk in full. Entries
// counts the whole entries dropped; the cut bytes past them hold no entry that can be read.
// Neither was ever acknowledged, unless the file was damaged after the fact (a disk error, a
// truncation), which is why the bytes are kept aside in Kept and reported.
type TailDamage struct {
	File    string // the segment
	Offset  int64  // byte position of the cut
	Bytes   int64  // bytes cut
	Entries int    // whole entries dropped (of an incomplete Append call)
	Reason  string // why the tail is invalid
	Kept    string // file holding the cut bytes
}

// Damage lists the tails OpenWAL cut (none after a clean stop).
func (w *WAL) Damage() []TailDamage {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]TailDamage(nil), w.damage...)
}

// scanSegment verifies s, indexes its entries and adds their ids to the seen set. In the last
// segment it truncates a torn tail.
func (w *WAL) scanSegment(s *segment, last bool) error {
	st, err := s.f.Stat()
	if err != nil {
		return ioErr(err, "intake: stat segment")
	}
	size := st.Size()
	r := bufio.NewReaderSize(io.NewSectionReader(s.f, 0, size), 1<<20)
	type rec struct {
		pos    uint32
		hash   uint64
		digest uint64
		end    bool
	}
	var (
		recs     []rec
		pos      int64
		hdr      [frameHeader]byte
		payload  []byte
		expected = s.base
		why      string
	)
	for pos < size {
		if size-pos < frameHeader {
			why = "short frame header"
			break
		}
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return ioErr(err, "intake: read segment")
		}
		n := int64(binary.LittleEndian.Uint32(hdr[:4]))
		if n < minPayload || n > maxPayload || n > size-pos-frameHeader {
			why = "bad frame length"
			break
		}
		if int64(cap(payload)) < n {
			payload = make([]byte, n)
		}
		payload = payload[:n]
		if _, err := io.ReadFull(r, payload); err != nil {
			return ioErr(err, "intake: read segment")
		}
		if frameCRC(hdr[:4], payload) != binary.LittleEndian.Uint32(hdr[4:]) {
			why = "checksum mismatch"
			break
		}
		off, flags, id, digest, _, ok := decodePayload(payload)
		if !ok || off != expected {
			return corruptErr(s.path, pos, expected, fmt.Sprintf("valid checksum but offset %d or malformed payload", off))
		}
		recs = append(recs, rec{pos: uint32(pos), hash: maphash.Bytes(w.seed, id), digest: digest, end: flags&flagCallEnd != 0})
		pos += frameHeader + n
		expected++
	}
	if pos < size {
		if !last {
			return corruptErr(s.path, pos, expected, why)
		}
		at, err := laterBatch(s.f, pos, size, expected)
		if err != nil {
			return err
		}
		if at >= 0 {
			return corruptErr(s.path, pos, expected, why+fmt.Sprintf("; a later batch starts at byte %d", at))
		}
	}
	valid, dropped := pos, 0
	if last {
		// Entries of an Append call that is not complete were never acknowledged.
		k := len(recs)
		for k > 0 && !recs[k-1].end {
			k--
		}
		if k < len(recs) {
			valid, dropped = int64(recs[k].pos), len(recs)-k
			recs = recs[:k]
		}
	}
	if valid < size {
		// Keep the cut bytes aside before truncating, and say what was lost.
		d := TailDamage{File: s.path, Offset: valid, Bytes: size - valid, Reason: why, Entries: dropped,
			Kept: fmt.Sprintf("%s.damaged-%d", s.path, time.Now().UnixNano())}
		if why == "" {
			d.Reason = "the last Append call is incomplete"
		} else if dropped > 0 {
			d.Reason = why + ", after an incomplete Append call"
		}
		cut := make([]byte, size-valid)
		if _, err := s.f.ReadAt(cut, valid); err != nil {
			return ioErr(err, "intake: read torn tail")
		}
		if err := os.WriteFile(d.Kept, cut, 0o640); err != nil {
			return ioErr(err, "intake: keep torn tail aside")
		}
		w.damage = append(w.damage, d)
		if err := s.f.Truncate(valid); err != nil {
			return ioErr(err, "intake: truncate torn tail")
		}
		if err := s.f.Sync(); err != nil {
			return ioErr(err, "intake: sync truncated segment")
		}
		w.tornBytes += size - valid
	}
	s.size = valid
	s.pos = make([]uint32, len(recs))
	for i, r := range recs {
		s.pos[i] = r.pos
		w.seen.Add(r.hash)
		if r.digest != 0 {
			w.digests[r.hash] = r.digest
			s.hashed = append(s.hashed, r.hash)
		}
	}
	return nil
}

// laterBatch looks for a valid frame that starts a batch after the bad frame at pos. It returns
// its position, or -1 if the rest of the file can be a torn write.
func laterBatch(f *os.File, pos, size int64, expected uint64) (int64, error) {
	rest := make([]byte, size-pos)
	if _, err := f.ReadAt(rest, pos); err != nil {
		return 0, ioErr(err, "intake: read segment tail")
	}
	for q := 1; q+frameHeader+minPayload <= len(rest); q++ {
		n := int(binary.LittleEndian.Uint32(rest[q:]))
		if n < minPayload || n > maxPayload || n > len(rest)-q-frameHeader {
			continue
		}
		payload := rest[q+frameHeader : q+frameHeader+n]
		if frameCRC(rest[q:q+4], payload) != binary.LittleEndian.Uint32(rest[q+4:]) {
			continue
		}
		if off, flags, _, _, _, ok := decodePayload(payload); ok && off >= expected && flags&flagBatchStart != 0 {
			return pos + int64(q), nil
		}
	}
	return -1, nil
}

func corruptErr(path string, pos int64, off uint64, why string) error {
	return errs.E(errs.Internal, "intake_corrupt", "intake: corrupt record in %s at byte %d (offset %d): %s", path, pos, off, why)
}

func (w *WAL) createSegment(base uint64) (*segment, error) {
	path := filepath.Join(w.dir, fmt.Sprintf("%020d%s", base, segSuffix))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return nil, ioErr(err, "intake: create segment")
	}
	if err := atomicfile.SyncDir(w.dir); err != nil {
		f.Close()
		return nil, ioErr(err, "intake: sync directory")
	}
	return &segment{base: base, path: path, f: f}, nil
}
