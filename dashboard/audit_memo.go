package dashboard

import (
	"context"
	"slices"
	"sync"
	"time"

	"zhili/geo"
	"zhili/store"
)

// FactMemo keeps the case facts that one request reads more than once: an evaluation reads each
// period by department, by region level and for the whistle audit, and the previous period of
// one period is the current period of the one before. With a memo in AuditQuery.Memo each period
// is read from the store once; every reader gets its own copy (the audits link repeats in
// place). A memo from NewFactMemo lives for one request: the facts it holds do not follow new
// events; a FactCache's lives while the store's data version holds.
type FactMemo struct {
	mu sync.Mutex
	m  map[factKey]*memoEntry
	// shared: a FactCache's, kept across requests, bounded (MaxCachedFacts), with the newest
	// aged read of a period only
	shared bool
	held   int // cases kept
}

// memoEntry is one period's facts, or the read of them under way (done open).
type memoEntry struct {
	done chan struct{}
	fs   *factSet
	err  error
	held int // the cases it counts in its memo's held, once kept
}

// NewFactMemo returns an empty memo.
func NewFactMemo() *FactMemo { return &FactMemo{m: map[factKey]*memoEntry{}} }

// MaxCachedFacts bounds the cases a FactCache's memo keeps: about 500 bytes each with their
// strings, some 50 MB at most until the next write. A period beyond it is read from the store
// each time, as without the cache.
var MaxCachedFacts = 100_000

// FactCache shares one FactMemo among the requests that run while the store's data and the
// geography stay as they were: the audit page asks for the three rates and the whistle audit
// at once, each with its previous period, and refreshes them; with a cache the period is read
// once for them all until the next write, and the previous period as it stood at the same age
// once a minute (its age is kept to the minute, see dropOlder). Only a store that tells its
// data version (store.DataVersioned, the embedded one) gets a memo: without one nothing tells
// when the facts went stale, and Memo returns nil (every request reads).
type FactCache struct {
	mu      sync.Mutex
	version uint64
	tree    *geo.Tree
	memo    *FactMemo
}

// Memo returns the memo for a request that starts now, or nil when st does not tell its data
// version. The version is read before the request's queries, so what the memo keeps is at
// least as new as the version it is kept under.
func (c *FactCache) Memo(st store.Store, tree *geo.Tree) *FactMemo {
	v, ok := st.(store.DataVersioned)
	if !ok {
		return nil
	}
	ver := v.DataVersion()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.memo == nil || c.version != ver || c.tree != tree {
		c.memo = &FactMemo{m: map[factKey]*memoEntry{}, shared: true}
		c.version, c.tree = ver, tree
	}
	return c.memo
}

// factKey is what readFacts' result depends on, the bound on its cases included (a read under
// a higher bound must not answer a request that the bound now refuses).
type factKey struct {
	region, category string
	depth, bound     int
	from, to, asOf   int64 // Unix nanoseconds (asOf 0: not aged)
}

// read returns a copy of the facts of key, reading them (whistles included) when the memo does
// not hold them yet. Concurrent first reads of a key read once: the others wait for it (the
// audit page asks for the rates and the whistle audit at once). A failed read is not kept, and
// a reader that waited on it reads for itself (the error may be the other request's
// cancellation).
func (m *FactMemo) read(key factKey, read func() (*factSet, error)) (*factSet, error) {
	m.mu.Lock()
	e := m.m[key]
	if e == nil {
		e = &memoEntry{done: make(chan struct{})}
		m.m[key] = e
		m.mu.Unlock()
		e.fs, e.err = read()
		n := 0
		if e.err == nil {
			n = len(e.fs.facts) + len(e.fs.aged)
		}
		m.mu.Lock()
		if e.err == nil && m.shared && key.asOf != 0 {
			m.dropOlder(key)
		}
		if e.err != nil || m.shared && m.held+n > MaxCachedFacts {
			delete(m.m, key) // not kept; the readers waiting still get it
		} else {
			e.held = n
			m.held += n
		}
		m.mu.Unlock()
		close(e.done)
		if e.err != nil {
			return nil, e.err
		}
	} else {
		m.mu.Unlock()
		<-e.done
	}
	fs := e.fs
	if e.err != nil {
		var err error
		if fs, err = read(); err != nil {
			return nil, err
		}
	}
	return &factSet{facts: slices.Clone(fs.facts), whistles: slices.Clone(fs.whistles), owners: slices.Clone(fs.owners),
		aged: slices.Clone(fs.aged), agedOf: slices.Clone(fs.agedOf), agedWhistles: slices.Clone(fs.agedWhistles)}, nil
}

// dropOlder forgets the kept reads of key's period as of an earlier time than key's: the
// same-age basis ages the previous period to the request's minute, which only moves on, so a
// shared memo keeps the newest age of each period. Reads under way are left to finish (an
// entry whose read has finished is in the map only when kept).
func (m *FactMemo) dropOlder(key factKey) {
	for k, e := range m.m {
		same := k
		same.asOf = key.asOf
		if k.asOf == 0 || k.asOf >= key.asOf || same != key {
			continue
		}
		select {
		case <-e.done:
			m.held -= e.held
			delete(m.m, k)
		default:
		}
	}
}

// readFactsMemo is readFacts through q.Memo when there is one.
func readFactsMemo(ctx context.Context, st store.Store, tree *geo.Tree, q AuditQuery, from, to, asOf time.Time, withWhistles bool) (*factSet, error) {
	if q.Memo == nil {
		return readFacts(ctx, st, tree, q, from, to, asOf, withWhistles)
	}
	key := factKey{region: q.Region, category: q.Category, depth: q.Depth, bound: MaxAuditCases, from: from.UnixNano(), to: to.UnixNano()}
	if !asOf.IsZero() {
		key.asOf = asOf.UnixNano()
	}
	return q.Memo.read(key, func() (*factSet, error) { return readFacts(ctx, st, tree, q, from, to, asOf, true) })
}
