package dashboard

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"zhili/event"
	"zhili/geo"
	"zhili/governance"
)

// Close reasons reach the rates report from the stored events: counted apart per unit, not
// assessed cases out of the rates, yet counted in the unit and in the reconcile block.
func TestAuditCloseReasons(t *testing.T) {
	tree := geo.DemoTree()
	root := tree.Root.Code
	path := []string{root, tree.Root.Children[0].Code}
	disp := event.Event{Type: event.CaseDispatched, Dept: "A"}
	signed, resolved := event.Event{Type: event.CaseSigned}, event.Event{Type: event.CaseResolved}
	closed := func(reason string) event.Event {
		return event.Event{Type: event.CaseClosed, CloseReason: reason, Satisfaction: "satisfied"}
	}
	st := &casesStore{}
	st.add("fixed", path, disp, signed, resolved, closed(""))
	st.add("notfixed", path, disp, signed, resolved, closed(event.CloseNotFixed))
	st.add("dup", path, disp, signed, closed(event.CloseDuplicate))
	st.add("cancel", path, disp, signed, closed(event.CloseCancelled))
	st.add("away", path, disp, signed, closed(event.CloseTransferred))
	q := AuditQuery{Region: root, From: time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC),
		Config: governance.AuditConfig{MinSample: 1}}
	rep, err := Rates(context.Background(), st, tree, q)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Units) != 1 || rep.Reconcile.Received != 5 || rep.Reconcile.Counted != 5 {
		t.Fatalf("units %+v reconcile %+v", rep.Units, rep.Reconcile)
	}
	a := rep.Units[0].Current
	if a.Cases != 5 || a.Closed != 2 || a.NotFixed != 1 || a.Duplicates != 1 || a.Cancelled != 1 || a.Transferred != 1 ||
		a.Resolution.Num != 1 || a.Resolution.Den != 2 || a.Satisfaction.Num != 2 || a.Satisfaction.Den != 2 || a.Response.Den != 5 {
		t.Fatalf("figures %+v", a)
	}
	b, _ := json.Marshal(a)
	for _, k := range []string{`"not_fixed":1`, `"duplicates":1`, `"transferred":1`, `"cancelled":1`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("figures JSON %s lacks %s", b, k)
		}
	}
	if rep.Definitions["close_reason"] == "" {
		t.Error("no close_reason definition")
	}
}
