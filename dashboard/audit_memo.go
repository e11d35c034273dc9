package dashboard

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"zhili/errs"
	"zhili/geo"
	"zhili/governance"
	"zhili/store"
)

// FactMemo keeps the case facts that one request reads more than once: an evaluation reads each
// period by department, by region level and for the whistle audit, and the previous period of
// one period is the current period of the one before. With a memo in AuditQuery.Memo each period
// is read from the store once; every reader gets its own copy (the audits link repeats in
// place). A memo from NewFactMemo lives for one request: the facts it holds do not follow new
// events. A FactCache's is shared by the requests and follows the store's writes (see
// FactCache); each request holds its own handle on it.
type FactMemo struct {
	*memoState
	// Set on a FactCache's handle: the data version the request started at and the store
	// that tells which cases changed since a version (nil: kept facts are never patched).
	ver     uint64
	changes store.CaseChanges
}

// memoState is what the handles of one memo share.
type memoState struct {
	mu sync.Mutex
	m  map[factKey]*memoEntry
	// shared: a FactCache's, kept across requests, bounded (MaxCachedFacts), with the newest
	// aged read of a period only
	shared bool
	held   int    // cases kept
	tick   uint64 // counts the reads, for the entries' last use
}

// memoEntry is one period's facts, case by case, or the read of them under way (done open).
type memoEntry struct {
	done  chan struct{}
	cases []caseEntry
	err   error
	held  int    // the cases it counts in its memo's held, once kept
	ver   uint64 // the data version its facts are at least as new as
	used  uint64 // the memo's tick when it was last read
}

// NewFactMemo returns an empty memo.
func NewFactMemo() *FactMemo { return &FactMemo{memoState: &memoState{m: map[factKey]*memoEntry{}}} }

// MaxCachedFacts bounds the cases a FactCache's memo keeps: about 930 bytes each with their
// strings and whistles (measured on 7,000 cases like the demo's; as of an earlier time too,
// 944), some 95 MB at most. The periods read longest ago make room for a new one; a period
// beyond the bound alone is read from the store each time, as without the cache.
var MaxCachedFacts = 100_000

// FactCache shares one FactMemo among the requests while the geography stays as it was: the
// audit page asks for the three rates and the whistle audit at once, each with its previous
// period, and refreshes them; an evaluation reads four quarters for its trend. Only a store
// that tells its data version (store.DataVersioned: the embedded one, and ClickHouse on a
// single server) gets a memo: without one nothing tells when the facts went stale, and Memo
// returns nil (every request reads).
//
// A period read at one data version answers the requests of that version. After writes, a
// store that tells which cases they touched (store.CaseChanges) lets the next request re-read
// those cases alone and patch the period's facts (the same facts, in the same order, as a full
// read: TestFactCachePatchesChangedCases); one that does not, or too many changes, and the
// memo is dropped at the first new version. The previous period as it stood at the same age is
// kept to the minute (see dropOlder).
type FactCache struct {
	mu      sync.Mutex
	version uint64
	tree    *geo.Tree
	st      store.Store
	state   *memoState
}

// Memo returns the memo for a request that starts now, or nil when st does not tell its data
// version (now). The version is read before the request's queries, so what the memo keeps is
// at least as new as the version it is kept under.
func (c *FactCache) Memo(ctx context.Context, st store.Store, tree *geo.Tree) *FactMemo {
	v, ok := st.(store.DataVersioned)
	if !ok {
		return nil
	}
	ver, err := v.DataVersion(ctx)
	if err != nil {
		return nil // cannot tell (a cluster), or the store is down: the request reads for itself
	}
	ch, _ := st.(store.CaseChanges)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == nil || c.tree != tree || c.st != st || ch == nil && c.version != ver {
		c.state = &memoState{m: map[factKey]*memoEntry{}, shared: true}
		c.tree, c.st = tree, st
	}
	c.version = ver
	return &FactMemo{memoState: c.state, ver: ver, changes: ch}
}

// factKey is what readFacts' result depends on, the bound on its cases included (a read under
// a higher bound must not answer a request that the bound now refuses).
type factKey struct {
	region, category string
	depth, bound     int
	from, to, asOf   int64 // Unix nanoseconds (asOf 0: not aged)
}

// read returns a copy of the facts of key, reading them (whistles included) when the memo does
// not hold them yet, or patching them when it holds them at an older data version than the
// request's (patch re-reads the cases the store names as changed since; with no patch, or
// when the store cannot name them, the facts are read whole). Concurrent first reads of a key
// read once: the others wait for it (the audit page asks for the rates and the whistle audit
// at once). A failed read is not kept, and a reader that waited on it reads for itself (the
// error may be the other request's cancellation).
func (m *FactMemo) read(ctx context.Context, key factKey, read func() ([]caseEntry, error), patch func(old []caseEntry, ids []string) ([]caseEntry, error)) (*factSet, error) {
	m.mu.Lock()
	m.tick++
	e := m.m[key]
	if e != nil {
		e.used = m.tick
	}
	var stale *memoEntry
	if e != nil && m.changes != nil && e.ver < m.ver {
		select {
		case <-e.done:
			if e.err == nil {
				stale, e = e, nil
			}
		default: // a read under way, started at an older version: wait for it, read after
		}
	}
	if e == nil {
		e = &memoEntry{done: make(chan struct{}), ver: m.ver, used: m.tick}
		m.m[key] = e
		if stale != nil {
			m.held -= stale.held
		}
		m.mu.Unlock()
		if stale != nil && patch != nil {
			if ids, ok, err := m.changes.CasesChangedSince(ctx, stale.ver); ok && err == nil {
				e.cases, e.err = patch(stale.cases, ids)
			} else {
				e.cases, e.err = read()
			}
		} else {
			e.cases, e.err = read()
		}
		n := len(e.cases)
		m.mu.Lock()
		if e.err == nil && m.shared && key.asOf != 0 {
			m.dropOlder(key)
		}
		if e.err == nil && m.shared {
			m.makeRoom(n, e)
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
	cases := e.cases
	if e.err != nil || m.changes != nil && e.ver < m.ver {
		// The read waited on failed, or was at an older version than this request's.
		var err error
		if cases, err = read(); err != nil {
			return nil, err
		}
	}
	return flatten(cases), nil
}

// makeRoom forgets the kept periods read longest ago, but not keep, until n more cases fit
// under MaxCachedFacts (none when n alone is over it). Reads under way are left to finish.
func (m *memoState) makeRoom(n int, keep *memoEntry) {
	if n > MaxCachedFacts {
		return
	}
	for m.held+n > MaxCachedFacts {
		var oldest factKey
		var victim *memoEntry
		for k, e := range m.m {
			if e == keep || e.held == 0 {
				continue
			}
			if victim == nil || e.used < victim.used {
				oldest, victim = k, e
			}
		}
		if victim == nil {
			return
		}
		m.held -= victim.held
		delete(m.m, oldest)
	}
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
	read := func() ([]caseEntry, error) { return readCases(ctx, st, tree, q, from, to, asOf, true, nil) }
	patch := func(old []caseEntry, ids []string) ([]caseEntry, error) {
		return patchCases(ctx, st, tree, q, from, to, asOf, old, ids)
	}
	return q.Memo.read(ctx, key, read, patch)
}

// patchCases returns old, a period's cases, with the cases of ids read again: those the period
// still selects replace theirs or join it in the store's order (first report, then case id),
// the others leave it.
func patchCases(ctx context.Context, st store.Store, tree *geo.Tree, q AuditQuery, from, to, asOf time.Time, old []caseEntry, ids []string) ([]caseEntry, error) {
	if len(ids) == 0 {
		return old, nil
	}
	gone := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		gone[id] = struct{}{}
	}
	out := make([]caseEntry, 0, len(old)+len(ids))
	for _, c := range old {
		if _, ok := gone[c.f.ID]; !ok {
			out = append(out, c)
		}
	}
	kept := len(out)
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), store.MaxCaseQueryIDs)]
		ids = ids[len(chunk):]
		var err error
		if out, err = readCases(ctx, st, tree, q, from, to, asOf, true, chunk, out...); err != nil {
			return nil, err
		}
	}
	if len(out) > MaxAuditCases {
		return nil, tooManyCases(q)
	}
	if len(out) > kept {
		slices.SortStableFunc(out, func(a, b caseEntry) int {
			return cmp.Or(a.f.Reported.Compare(b.f.Reported), cmp.Compare(a.f.ID, b.f.ID))
		})
	}
	return out, nil
}

// caseEntry is one case's part of a period's facts: its facts and whistles, and as they stood
// at the aged time (aged: it had been reported by then).
type caseEntry struct {
	f    governance.CaseFacts
	ws   []governance.WhistleFacts
	aged bool
	a    governance.CaseFacts
	aws  []governance.WhistleFacts
}

// flatten lays a period's cases out as a factSet of arrays of its own.
func flatten(cases []caseEntry) *factSet {
	fs := &factSet{facts: make([]governance.CaseFacts, 0, len(cases))}
	for _, c := range cases {
		fs.facts = append(fs.facts, c.f)
		for _, w := range c.ws {
			fs.whistles = append(fs.whistles, w)
			fs.owners = append(fs.owners, len(fs.facts)-1)
		}
		if c.aged {
			fs.aged = append(fs.aged, c.a)
			fs.agedOf = append(fs.agedOf, len(fs.facts)-1)
			fs.agedWhistles = append(fs.agedWhistles, c.aws...)
		}
	}
	return fs
}

// tooManyCases is the refusal of a period over MaxAuditCases.
func tooManyCases(q AuditQuery) error {
	return errs.E(errs.TooLarge, "max_rows",
		"the period holds more than %d cases under region %s: shorten the period or choose a smaller region", MaxAuditCases, q.Region)
}
