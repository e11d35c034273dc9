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
	mu    sync.Mutex
	m     map[factKey]*factSet
	limit int // most cases (facts and aged facts) kept; 0: no limit
	held  int
}

// NewFactMemo returns an empty memo.
func NewFactMemo() *FactMemo { return &FactMemo{m: map[factKey]*factSet{}} }

// MaxCachedFacts bounds the cases a FactCache's memo keeps: about 500 bytes each with their
// strings, some 50 MB at most until the next write. A period beyond it is read from the store
// each time, as without the cache.
var MaxCachedFacts = 100_000

// FactCache shares one FactMemo among the requests that run while the store's data and the
// geography stay as they were: the audit page asks for the three rates and the whistle audit
// at once, each with its previous period, and refreshes them; with a cache the period is read
// once for them all until the next write (the previous period as it stood at the same age is
// still read by each, see readFactsMemo). Only a store that tells its data version
// (store.DataVersioned, the embedded one) gets a memo: without one nothing tells when the
// facts went stale, and Memo returns nil (every request reads).
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
		c.memo = &FactMemo{m: map[factKey]*factSet{}, limit: MaxCachedFacts}
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
// not hold them yet. A failed read is not kept. The audits of one request run one after the
// other; two concurrent first reads of a key would both read.
func (m *FactMemo) read(key factKey, read func() (*factSet, error)) (*factSet, error) {
	m.mu.Lock()
	fs := m.m[key]
	m.mu.Unlock()
	if fs == nil {
		var err error
		if fs, err = read(); err != nil {
			return nil, err
		}
		n := len(fs.facts) + len(fs.aged)
		m.mu.Lock()
		if _, had := m.m[key]; !had && (m.limit == 0 || m.held+n <= m.limit) {
			m.m[key] = fs
			m.held += n
		}
		m.mu.Unlock()
	}
	return &factSet{facts: slices.Clone(fs.facts), whistles: slices.Clone(fs.whistles), owners: slices.Clone(fs.owners),
		aged: slices.Clone(fs.aged), agedOf: slices.Clone(fs.agedOf), agedWhistles: slices.Clone(fs.agedWhistles)}, nil
}

// readFactsMemo is readFacts through q.Memo when there is one. A FactCache's memo keeps no
// read as of a time: the same-age basis ages the previous period to the request's own now,
// which no later request asks for again.
func readFactsMemo(ctx context.Context, st store.Store, tree *geo.Tree, q AuditQuery, from, to, asOf time.Time, withWhistles bool) (*factSet, error) {
	if q.Memo == nil || q.Memo.limit > 0 && !asOf.IsZero() {
		return readFacts(ctx, st, tree, q, from, to, asOf, withWhistles)
	}
	key := factKey{region: q.Region, category: q.Category, depth: q.Depth, bound: MaxAuditCases, from: from.UnixNano(), to: to.UnixNano()}
	if !asOf.IsZero() {
		key.asOf = asOf.UnixNano()
	}
	return q.Memo.read(key, func() (*factSet, error) { return readFacts(ctx, st, tree, q, from, to, asOf, true) })
}
