package aggregator

import (
	"context"
	"fmt"
	"testing"
	"time"

	"zhili/clock"
	"zhili/ingest"
)

// A finished case is forgotten CaseKeep after its last event also while events never stop
// arriving (the prune once ran only when a read found nothing, so a busy aggregator kept every
// case it had seen).
func TestPruneWhileBusy(t *testing.T) {
	clk := clock.NewFake(time.Now())
	r := NewRig(t, Config{StoreEvery: 20 * time.Millisecond, CaseKeep: time.Minute}, clk)
	a, in, tree := r.Agg, r.In, r.Tree
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for !a.Ready() {
		time.Sleep(5 * time.Millisecond)
	}
	door := ingest.New(ingest.Config{Tree: tree}, in)
	region := tree.Root.Children[0].Code
	send := func(id, typ, caseID string) {
		t.Helper()
		at := clk.Now().Add(-time.Second).Format(time.RFC3339Nano)
		body := fmt.Sprintf(`{"id":%q,"type":%q,"case_id":%q,"at":%q,"source":"grid","category":"environment","region":%q}`, id, typ, caseID, at, region)
		if rep, err := door.Ingest(ctx, ingest.ContentNDJSON, []byte(body), nil); err != nil || rep.Accepted != 1 {
			t.Fatalf("ingest %s: %+v %v", id, rep, err)
		}
	}
	tracked := func(id string) bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.st.cases[id] != nil
	}
	closed := func(id string) bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		c := a.st.cases[id]
		return c != nil && c.status == StatusClosed
	}
	send("r-old", "case.reported", "OLD")
	send("c-old", "case.closed", "OLD")
	// Closed, not only tracked: a prune between the report and the closing, after the clock
	// moves, would keep the open case and put off the next prune past this test.
	for !closed("OLD") {
		time.Sleep(5 * time.Millisecond)
	}
	clk.Add(2 * time.Minute) // OLD finished two CaseKeeps ago
	// A steady stream: every read of the intake log finds events.
	for i := 0; ; i++ {
		send(fmt.Sprintf("r%d", i), "case.reported", fmt.Sprintf("N%d", i))
		if !tracked("OLD") {
			break
		}
		if i == 2000 {
			t.Fatal("the finished case is still tracked after 2000 events kept the aggregator busy")
		}
		time.Sleep(2 * time.Millisecond)
	}
	// The open cases are kept: the first is tracked once applied, through later prunes.
	clk.Add(2 * time.Minute)
	for i := 0; !tracked("N0"); i++ {
		if i == 1000 {
			t.Fatal("an open case was forgotten")
		}
		send(fmt.Sprintf("s%d", i), "case.reported", fmt.Sprintf("S%d", i))
		time.Sleep(2 * time.Millisecond)
	}
}
