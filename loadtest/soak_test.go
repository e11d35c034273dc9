package loadtest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestJudgeSoak(t *testing.T) {
	series := func(rss func(i int) float64, gr func(i int) float64) []Sample {
		var s []Sample
		for i := range 60 {
			s = append(s, Sample{AtS: float64(30 * (i + 1)), RSSBytes: rss(i), Goroutines: gr(i)})
		}
		return s
	}
	const mb = 1 << 20
	steady := func(int) float64 { return 2021 }

	// Growth during the settling time does not count; a band of ±5 % after it is flat.
	k := judgeSoak(series(func(i int) float64 {
		if i < 9 {
			return float64(100+40*i) * mb
		}
		return float64(480+24*(i%2)) * mb
	}, steady), 5*time.Minute)
	if k == nil || !k.RSSFlat || !k.GoroutinesFlat || k.Samples != 51 {
		t.Fatalf("steady after settling: %+v", k)
	}

	// A leak of 1 % a sample is not flat, and its second half is above its first.
	k = judgeSoak(series(func(i int) float64 { return 400 * mb * (1 + 0.01*float64(i)) }, steady), 5*time.Minute)
	if k == nil || k.RSSFlat || k.RSSSecondHalf <= k.RSSFirstHalf {
		t.Fatalf("leak: %+v", k)
	}

	// Goroutines that pile up are not flat.
	k = judgeSoak(series(func(int) float64 { return 480 * mb }, func(i int) float64 { return float64(2000 + 20*i) }), 5*time.Minute)
	if k == nil || !k.RSSFlat || k.GoroutinesFlat {
		t.Fatalf("goroutines: %+v", k)
	}

	// Under a memory limit RSS is flat whatever the heap holds: a live heap that keeps growing
	// is not (halves about 240 → 290 MiB); one that saws around a level is.
	withLive := func(live func(i int) float64) []Sample {
		s := series(func(int) float64 { return 600 * mb }, steady)
		for i := range s {
			s[i].HeapLive, s[i].MemLimit = live(i), 512*mb
		}
		return s
	}
	k = judgeSoak(withLive(func(i int) float64 { return 200 * mb * (1 + 0.01*float64(i)) }), 5*time.Minute)
	if k == nil || !k.RSSFlat || k.HeapLiveFlat || k.MemLimit != 512*mb {
		t.Fatalf("growing live heap: %+v", k)
	}
	k = judgeSoak(withLive(func(i int) float64 { return float64(200+30*(i%3)) * mb }), 5*time.Minute)
	if k == nil || !k.RSSFlat || !k.HeapLiveFlat {
		t.Fatalf("sawing live heap: %+v", k)
	}
	if !strings.Contains(soakLine(k), "Go memory limit 512.0 MiB") {
		t.Errorf("soak line without the limit: %s", soakLine(k))
	}

	// Too few samples after settling: no judgement.
	if k := judgeSoak(series(steady, steady)[:11], 5*time.Minute); k != nil {
		t.Fatalf("two settled samples judged: %+v", k)
	}
}

func TestSoakErr(t *testing.T) {
	flat := &Soak{RSSFlat: true, GoroutinesFlat: true, HeapLiveFlat: true, Samples: 5}
	for _, c := range []struct {
		name string
		r    Report
		ok   bool
	}{
		{"flat, none missing", Report{Soak: flat}, true},
		{"not judged", Report{}, false},
		{"RSS not flat", Report{Soak: &Soak{GoroutinesFlat: true, HeapLiveFlat: true, Samples: 5}}, false},
		{"live heap growing", Report{Soak: &Soak{RSSFlat: true, GoroutinesFlat: true, Samples: 5}}, false},
		{"a delivery missing", Report{Soak: flat, Deliveries: Deliveries{Missing: 1}}, false},
	} {
		if err := c.r.SoakErr(); (err == nil) != c.ok {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

// TestSampleTakesTheFloor: a sample's goroutine count is the smallest of its readings (a
// fan-out's writers come and go), its peak the largest.
func TestSampleTakesTheFloor(t *testing.T) {
	var reads atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g := 1030
		if reads.Add(1)%3 == 1 {
			g = 1815 // every sample's first reading falls on a fan-out
		}
		fmt.Fprintf(w, "go_goroutines %d\nprocess_resident_memory_bytes 5e+08\nzhili_go_heap_live_bytes 2e+08\n", g)
	}))
	defer srv.Close()
	b := &bench{cfg: Config{URL: srv.URL, SampleEvery: 50 * time.Millisecond}, log: io.Discard, http: srv.Client()}
	stop := make(chan struct{})
	var out []Sample
	done := make(chan struct{})
	go func() { b.sample(context.Background(), time.Now(), stop, &out); close(done) }()
	for reads.Load() < 2*sampleReadings {
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	<-done
	if len(out) < 2 {
		t.Fatalf("%d samples", len(out))
	}
	for _, s := range out {
		if s.Goroutines != 1030 || s.GoroutinesPeak != 1815 || s.RSSBytes != 5e8 || s.HeapLive != 2e8 {
			t.Fatalf("sample %+v: want 1030 goroutines, 1815 at most, RSS 5e8, live heap 2e8", s)
		}
	}
}
