package ingest

import (
	"context"
	"slices"
	"strings"
	"sync"

	"zhili/errs"
	"zhili/event"
	"zhili/intake"
	"zhili/internal/intern"
)

// Owners tells which region each case belongs to: the leaf region of its report. The history
// store answers it (store.Store.CaseRegions).
type Owners interface {
	// CaseRegions returns the leaf region of each of ids that is a reported case ("" when its
	// report is unlocated); other ids are left out.
	CaseRegions(ctx context.Context, ids []string) (map[string]string, error)
}

// Rejection codes of case ownership.
const (
	// CodeCaseOutOfScope: an event on a case reported in a region outside the key's regions.
	CodeCaseOutOfScope = "case_out_of_scope"
	// CodeCaseIDTaken: a report under a case id that already belongs to a region outside the
	// key's regions.
	CodeCaseIDTaken = "case_id_taken"
)

// DefaultRecentCases is how many recently accepted reports a door remembers (Config.RecentCases).
const DefaultRecentCases = 100_000

// recentCases is the door's bounded memory of case → owner region: reports it accepted (the
// history store may not hold them yet) and the store's answers. The oldest entry goes first.
type recentCases struct {
	mu    sync.Mutex
	max   int
	m     map[string]string
	ring  []string // insertion order; len(ring) ≤ max
	next  int      // oldest entry of a full ring
	names intern.Table
}

// newRecentCases sizes the memory for n cases at once (about 70 bytes each with the ids): a busy
// door fills it within minutes, and growing it step by step would copy it each time.
func newRecentCases(n int) *recentCases {
	return &recentCases{max: n, m: make(map[string]string, n), ring: make([]string, 0, n)}
}

// addLocked remembers case id's owner unless it is known; it returns the owner in force.
func (r *recentCases) addLocked(id, region string) string {
	if had, ok := r.m[id]; ok {
		return had
	}
	// Kept for long: detached from the request's decoded lines (package intern).
	id, region = strings.Clone(id), r.names.Of(region)
	if len(r.ring) < r.max {
		r.ring = append(r.ring, id)
	} else {
		delete(r.m, r.ring[r.next])
		r.ring[r.next] = id
		r.next = (r.next + 1) % r.max
	}
	r.m[id] = region
	return region
}

// forget drops claims whose report was not accepted.
func (r *recentCases) forget(ids []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		delete(r.m, id) // its ring slot is reused when it comes round
	}
}

// pending is a line that passed validation and the key's policy, waiting for its ownership
// check and the append.
type pending struct {
	n    int    // line
	id   string // as sent
	ev   event.Event
	leaf string // a report's leaf region ("" when unlocated); set only for case.reported
}

// ownership checks the events of a region-limited key against the regions their cases belong
// to: an event on a case reported outside the key's regions is refused (case_out_of_scope),
// and so is a report under such a case's id (case_id_taken). A report of a case no one owns
// yet claims it for its region at once (returned in claimed), so that a concurrent request of
// this process sees it. It returns the lines that may be appended.
func (d *Door) ownership(ctx context.Context, pol *Policy, lines []pending, reply *Reply) (ok []pending, claimed []string, err error) {
	ids := make([]string, 0, len(lines))
	for i := range lines {
		ids = append(ids, lines[i].ev.CaseID)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)

	// Known owners: the door's memory first, then the store for the rest.
	known := make(map[string]string, len(ids))
	var ask []string
	d.recent.mu.Lock()
	for _, id := range ids {
		if r, ok := d.recent.m[id]; ok {
			known[id] = r
		} else {
			ask = append(ask, id)
		}
	}
	d.recent.mu.Unlock()
	var stored map[string]string
	if len(ask) > 0 && d.cfg.Owners != nil {
		if stored, err = d.cfg.Owners.CaseRegions(ctx, ask); err != nil {
			if ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			return nil, nil, errs.Wrap(errs.Unavailable, "owners_unavailable", err,
				"cannot tell which regions the cases belong to (history store unavailable); nothing in this request was accepted")
		}
	}

	d.recent.mu.Lock()
	defer d.recent.mu.Unlock()
	for id, r := range stored {
		known[id] = d.recent.addLocked(id, r)
	}
	for _, id := range ask {
		if _, ok := stored[id]; !ok {
			if r, ok := d.recent.m[id]; ok { // claimed meanwhile by another request
				known[id] = r
			}
		}
	}
	for _, l := range lines {
		owner, isKnown := known[l.ev.CaseID]
		switch {
		case !isKnown && l.ev.Type == event.CaseReported:
			known[l.ev.CaseID] = d.recent.addLocked(l.ev.CaseID, l.leaf)
			claimed = append(claimed, l.ev.CaseID)
		case !isKnown || d.inRegions(pol, owner):
			// An event of a case not reported yet waits for its report, wherever that is.
		case l.ev.Type == event.CaseReported:
			reply.Rejected = append(reply.Rejected, Rejection{Line: l.n, ID: l.id, Code: CodeCaseIDTaken, Field: "case_id",
				Error: "case_id: already taken by a case outside the regions of this source key"})
			continue
		default:
			reply.Rejected = append(reply.Rejected, Rejection{Line: l.n, ID: l.id, Code: CodeCaseOutOfScope, Field: "case_id",
				Error: "case_id: the case lies outside the regions of this source key"})
			continue
		}
		ok = append(ok, l)
	}
	return ok, claimed, nil
}

// inRegions reports whether region lies in one of the key's region subtrees. An unlocated
// case ("") lies in none.
func (d *Door) inRegions(pol *Policy, region string) bool {
	if region == "" || d.cfg.Tree == nil {
		return false
	}
	path := d.cfg.Tree.Path(region)
	for _, r := range pol.Regions {
		if slices.Contains(path, r) {
			return true
		}
	}
	return false
}

// remember records the owner of every case reported in lines whose report was accepted or
// was a duplicate (a key without regions claims nothing before its append).
func (d *Door) remember(lines []pending, out []intake.Outcome) {
	d.recent.mu.Lock()
	defer d.recent.mu.Unlock()
	for i, l := range lines {
		if l.ev.Type == event.CaseReported && out[i] != intake.Conflict {
			d.recent.addLocked(l.ev.CaseID, l.leaf)
		}
	}
}
