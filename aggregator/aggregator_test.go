package aggregator_test

import (
	"context"
	"testing"
	"time"

	"zhili/aggregator"
	"zhili/clock"
	"zhili/ingest"
)

// A hard stop (the partition's lease lost, the process stopping past its bound) ends Run at
// once even while the history store is unavailable and the writer is retrying; what it held
// stays in the intake log, uncommitted.
func TestCancelStopsWhileStoreUnavailable(t *testing.T) {
	r := aggregator.NewRig(t, aggregator.Config{StoreEvery: 20 * time.Millisecond}, clock.Real{})
	a, st, in, tree := r.Agg, r.Store, r.In, r.Tree
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	for !a.Ready() {
		time.Sleep(5 * time.Millisecond)
	}
	st.Close() // every Write fails from now on: the writer retries with backoff
	at := time.Now().Add(-time.Minute).Format(time.RFC3339)
	body := `{"id":"e1","type":"case.reported","case_id":"C1","at":"` + at + `","source":"grid","category":"environment","region":"` + tree.Root.Children[0].Code + `"}`
	door := ingest.New(ingest.Config{Tree: tree}, in)
	if rep, err := door.Ingest(ctx, ingest.ContentNDJSON, []byte(body), nil); err != nil || rep.Accepted != 1 {
		t.Fatalf("ingest: %+v %v", rep, err)
	}
	time.Sleep(300 * time.Millisecond) // applied; the write is failing and being retried
	start := time.Now()
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run still running 5 s after its context was canceled")
	}
	// The event is still in the intake log for the next owner.
	entries, err := in.Read(context.Background(), 0, 10)
	if err != nil || len(entries) != 1 || entries[0].ID != "e1" {
		t.Fatalf("intake after the stop: %v %v", entries, err)
	}
	t.Logf("Run returned %s after the cancel; the unstored event is still in the intake log", time.Since(start).Round(time.Millisecond))
}
