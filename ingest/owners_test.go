package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"zhili/errs"
	"zhili/geo"
	"zhili/ingest"
)

// fakeOwners is the history store's view of case regions.
type fakeOwners struct {
	mu    sync.Mutex
	m     map[string]string
	err   error
	asked [][]string
}

func (f *fakeOwners) CaseRegions(_ context.Context, ids []string) (map[string]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, append([]string(nil), ids...))
	if f.err != nil {
		return nil, f.err
	}
	out := map[string]string{}
	for _, id := range ids {
		if r, ok := f.m[id]; ok {
			out[id] = r
		}
	}
	return out, nil
}

// ownersFixture: two towns of the demo tree with a leaf each, a key limited to each, and
// line builders.
type ownersFixture struct {
	t            *testing.T
	door         *ingest.Door
	store        *fakeOwners
	leafA, leafB string
	keyA, keyB   *ingest.Policy
	at           string
	n            int
}

func leafOf(r *geo.Region) string {
	for len(r.Children) > 0 {
		r = r.Children[0]
	}
	return r.Code
}

func newOwnersFixture(t *testing.T, recent int) *ownersFixture {
	tree := geo.DemoTree()
	f := &ownersFixture{t: t, store: &fakeOwners{m: map[string]string{}}}
	townA, townB := tree.Root.Children[0], tree.Root.Children[1]
	f.leafA, f.leafB = leafOf(townA), leafOf(townB)
	f.keyA = &ingest.Policy{Name: "a", Regions: []string{townA.Code}}
	f.keyB = &ingest.Policy{Name: "b", Regions: []string{townB.Code}}
	f.door, _ = openDoor(t, ingest.Config{Tree: tree, Owners: f.store, RecentCases: recent})
	f.at = time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	return f
}

func (f *ownersFixture) report(caseID, leaf string) string {
	f.n++
	return fmt.Sprintf(`{"id":"r%d","type":"case.reported","case_id":%q,"at":%q,"source":"grid","category":"environment","region":%q}`, f.n, caseID, f.at, leaf)
}

func (f *ownersFixture) event(typ, caseID string) string {
	f.n++
	extra := ""
	switch typ {
	case "case.dispatched":
		extra = `,"dept":"d1","deadline":"` + time.Now().Add(48*time.Hour).UTC().Format(time.RFC3339) + `"`
	case "whistle.blown":
		extra = `,"whistle_id":"W1","whistle_kind":"advance","depts":["d1"]`
	}
	return fmt.Sprintf(`{"id":"e%d","type":%q,"case_id":%q,"at":%q%s}`, f.n, typ, caseID, f.at, extra)
}

func (f *ownersFixture) send(pol *ingest.Policy, lines ...string) (ingest.Reply, error) {
	return f.door.Ingest(context.Background(), ingest.ContentNDJSON, []byte(strings.Join(lines, "\n")), pol)
}

// codes is the reply in short: accepted, duplicates, and the code of each rejected line.
func codes(rep ingest.Reply) string {
	var b strings.Builder
	fmt.Fprintf(&b, "accepted %d dup %d", rep.Accepted, rep.Duplicates)
	for _, r := range rep.Rejected {
		fmt.Fprintf(&b, " %d:%s", r.Line, r.Code)
	}
	return b.String()
}

func (f *ownersFixture) want(pol *ingest.Policy, want string, lines ...string) ingest.Reply {
	f.t.Helper()
	rep, err := f.send(pol, lines...)
	if err != nil {
		f.t.Fatal(err)
	}
	if got := codes(rep); got != want {
		f.t.Fatalf("reply %q, want %q (%+v)", got, want, rep.Rejected)
	}
	return rep
}

// A region-limited key acts only on cases of its regions (known from the store or from the
// door's own recent reports); a report under a case id of another region is refused without
// naming that region; one bad line never sinks the good ones; keys without regions are free.
func TestDoorCaseOwnership(t *testing.T) {
	f := newOwnersFixture(t, 0)
	f.store.m["S-A"] = f.leafA // in the store
	f.store.m["S-none"] = ""   // reported unlocated

	// B on A's stored case: every event type refused; its own lines in the same request pass.
	rep := f.want(f.keyB, "accepted 2 dup 0 1:case_out_of_scope 2:case_out_of_scope 3:case_out_of_scope 5:case_id_taken 6:case_out_of_scope",
		f.event("case.dispatched", "S-A"), f.event("case.closed", "S-A"), f.event("whistle.blown", "S-A"),
		f.report("N-B", f.leafB), f.report("S-A", f.leafB), f.event("case.accepted", "S-none"), f.event("case.dispatched", "N-B"))
	for _, r := range rep.Rejected {
		if strings.Contains(r.Error, f.leafA) || strings.Contains(r.Error, f.keyA.Regions[0]) || r.Field != "case_id" {
			t.Fatalf("rejection %+v names the other region or no field", r)
		}
	}
	// A acts on its own case, also one it reported a moment ago that the store does not hold.
	f.want(f.keyA, "accepted 3 dup 0", f.event("case.dispatched", "S-A"), f.report("N-A", f.leafA), f.event("case.closed", "S-A"))
	f.store.asked = nil
	f.want(f.keyA, "accepted 1 dup 0", f.event("case.dispatched", "N-A"))
	f.want(f.keyB, "accepted 0 dup 0 1:case_out_of_scope 2:case_id_taken", f.event("whistle.blown", "N-A"), f.report("N-A", f.leafB))
	// A case reported by B is B's: A cannot take its id.
	f.want(f.keyA, "accepted 0 dup 0 1:case_id_taken", f.report("N-B", f.leafA))
	// An event on a case not reported anywhere yet waits for its report.
	f.want(f.keyB, "accepted 1 dup 0", f.event("case.dispatched", "later"))
	// A key without regions is not held to them, and its reports are remembered.
	all := &ingest.Policy{Name: "hotline"}
	f.want(all, "accepted 2 dup 0", f.event("case.closed", "N-B"), f.report("H-A", f.leafA))
	f.want(f.keyB, "accepted 0 dup 0 1:case_out_of_scope", f.event("case.closed", "H-A"))
	// Once accepted, the door answers for its cases without asking the store.
	for _, ids := range f.store.asked {
		for _, id := range ids {
			if id == "N-A" || id == "H-A" {
				t.Fatalf("store asked about %s, a case the door accepted: %v", id, f.store.asked)
			}
		}
	}
}

// Without the store's answer a region-limited key's request is refused whole (503), and its
// claims are dropped; keys without regions are not held up.
func TestDoorCaseOwnershipStoreDown(t *testing.T) {
	f := newOwnersFixture(t, 0)
	f.store.err = errors.New("connection refused")
	_, err := f.send(f.keyB, f.report("X", f.leafB), f.event("case.dispatched", "Y"))
	var e *errs.Error
	if !errors.As(err, &e) || e.Code != errs.Unavailable || e.Reason != "owners_unavailable" {
		t.Fatalf("store down: %v, want 503 owners_unavailable", err)
	}
	f.want(&ingest.Policy{Name: "hotline"}, "accepted 1 dup 0", f.event("case.dispatched", "Y"))
	f.store.err = nil
	f.want(f.keyA, "accepted 1 dup 0", f.report("X", f.leafA)) // B's refused report claimed nothing
}

// The door remembers at most RecentCases reports, the oldest going first.
func TestDoorRecentCasesBounded(t *testing.T) {
	f := newOwnersFixture(t, 2)
	f.want(f.keyA, "accepted 3 dup 0", f.report("A1", f.leafA), f.report("A2", f.leafA), f.report("A3", f.leafA))
	// A1 is forgotten (the store does not hold it yet): unknown, so B's event waits for it.
	f.want(f.keyB, "accepted 1 dup 0 2:case_out_of_scope 3:case_out_of_scope", f.event("case.accepted", "A1"),
		f.event("case.accepted", "A2"), f.event("case.accepted", "A3"))
}
