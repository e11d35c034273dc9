package app

import (
	"context"
	"io"
	"testing"
	"time"

	"zhili/ingest"
	"zhili/loadtest"
	"zhili/server"
)

// The load tool against a real server: every event posted reaches every client (ids as the
// server shows them, under the tenant's namespace), the latency is measured for each delivery,
// and the server's CPU per delivery is read from its own metrics. The hub's tick is an hour, so
// only adaptive push (a delta leaves when the hub has written the last one) can deliver within
// the run: a hub that waited for its tick would deliver nothing. How fast the pushes are is the
// load tool's figure (docs/PERFORMANCE.md), not asserted here: it depends on the machine's load.
func TestBenchAgainstServer(t *testing.T) {
	t.Parallel()
	a := startWith(t, Config{Tick: time.Hour,
		IngestKeys: map[string]*ingest.Policy{testKey: {Name: "test"}},
		ViewTokens: map[string]server.Viewer{testToken: {Name: "test"}}})
	rep, err := loadtest.Run(context.Background(), loadtest.Config{URL: "http://" + a.Addr, Key: testKey, Token: testToken,
		Clients: 10, Rate: 50, Duration: 2 * time.Second, Warmup: -1, Tree: a.cfg.Tree}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	d := rep.Deliveries
	if d.Events < 50 || d.Expected != int64(d.Events)*10 || d.Received != d.Expected || d.Missing != 0 {
		t.Fatalf("deliveries %+v", d)
	}
	if rep.Latency.Count != uint64(d.Received) {
		t.Fatalf("latency counted %d of %d deliveries", rep.Latency.Count, d.Received)
	}
	// Every delivery arrived long before the hour's tick: the push did not wait for it.
	if rep.Latency.P99 >= float64(time.Minute/time.Millisecond) {
		t.Errorf("p99 latency %.1f ms: deliveries waited for the tick", rep.Latency.P99)
	}
	// In this test the load tool runs in the server's process, so the figure includes it.
	if rep.Server.CPUSeconds <= 0 || rep.Server.CPUMicrosPerDelivery <= 0 {
		t.Errorf("server CPU not reported: %+v", rep.Server)
	}
	t.Logf("%d deliveries, p50 %.1f ms, p99 %.1f ms, server CPU %.2f s (%.1f µs per delivery)",
		d.Received, rep.Latency.P50, rep.Latency.P99, rep.Server.CPUSeconds, rep.Server.CPUMicrosPerDelivery)
}
