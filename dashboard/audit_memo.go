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
// place). A memo lives for one request: the facts it holds do not follow new events.
type FactMemo struct {
	mu sync.Mutex
	m  map[factKey]*factSet
}

// NewFactMemo returns an empty memo.
func NewFactMemo() *FactMemo { return &FactMemo{m: map[factKey]*factSet{}} }

// factKey is what readFacts' result depends on.
type factKey struct {
	region, category string
	depth            int
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
		m.mu.Lock()
		m.m[key] = fs
		m.mu.Unlock()
	}
	return &factSet{facts: slices.Clone(fs.facts), whistles: slices.Clone(fs.whistles), owners: slices.Clone(fs.owners),
		aged: slices.Clone(fs.aged), agedOf: slices.Clone(fs.agedOf), agedWhistles: slices.Clone(fs.agedWhistles)}, nil
}

// readFactsMemo is readFacts through q.Memo when there is one.
func readFactsMemo(ctx context.Context, st store.Store, tree *geo.Tree, q AuditQuery, from, to, asOf time.Time, withWhistles bool) (*factSet, error) {
	if q.Memo == nil {
		return readFacts(ctx, st, tree, q, from, to, asOf, withWhistles)
	}
	key := factKey{region: q.Region, category: q.Category, depth: q.Depth, from: from.UnixNano(), to: to.UnixNano()}
	if !asOf.IsZero() {
		key.asOf = asOf.UnixNano()
	}
	return q.Memo.read(key, func() (*factSet, error) { return readFacts(ctx, st, tree, q, from, to, asOf, true) })
}
