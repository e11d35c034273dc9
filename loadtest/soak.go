package loadtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Sample is one reading of the server's metrics during the measured period (Config.SampleEvery).
type Sample struct {
	AtS      float64 `json:"at_s"` // seconds since the measured period began
	RSSBytes float64 `json:"rss_bytes"`
	// HeapLive is the heap the server's last garbage collection kept (0: not reported): what it
	// holds, without the garbage that makes RSS saw up and down between collections.
	HeapLive float64 `json:"heap_live_bytes,omitempty"`
	// MemLimit is the server's soft limit of its Go memory (0: none). Under a limit RSS stays near
	// it whatever the heap holds, so a leak shows in the live heap instead (Soak.HeapLiveFlat).
	MemLimit float64 `json:"go_memory_limit_bytes,omitempty"`
	// Goroutines is the smallest of sampleReadings readings taken sampleGap apart, and
	// GoroutinesPeak the largest: a fan-out starts a writer per client for as long as it sends
	// (the hub's writers run on demand), a transient that a leak is not (it raises every reading).
	Goroutines     float64 `json:"goroutines"`
	GoroutinesPeak float64 `json:"goroutines_peak"`
	CPUSeconds     float64 `json:"cpu_s"`
	Received       int64   `json:"received"` // deliveries received by the clients so far (all events)
	Error          string  `json:"error,omitempty"`
}

// Soak judges a long run's samples: after the settling time, is the server's memory and its
// number of goroutines flat? Each is compared with its median over the settled samples; flat
// means every settled sample is within ±Tolerance of it. The live heap, which saws with every
// collection, is judged by its trend: the median of the second half of the settled samples
// within ±Tolerance of the first half's.
type Soak struct {
	SettleS        float64 `json:"settle_s"` // samples before this many seconds are not judged
	Samples        int     `json:"samples"`  // settled samples judged
	Tolerance      float64 `json:"tolerance"`
	RSSMedian      float64 `json:"rss_median_bytes"`
	RSSMin         float64 `json:"rss_min_bytes"`
	RSSMax         float64 `json:"rss_max_bytes"`
	GoroutinesMed  float64 `json:"goroutines_median"`
	GoroutinesMin  float64 `json:"goroutines_min"`
	GoroutinesMax  float64 `json:"goroutines_max"`
	RSSFlat        bool    `json:"rss_flat"`
	GoroutinesFlat bool    `json:"goroutines_flat"`
	// HeapLiveFlat: the live heap's halves agree (true when the server does not report it).
	HeapLiveFlat bool    `json:"heap_live_flat"`
	MemLimit     float64 `json:"go_memory_limit_bytes,omitempty"` // the server's, at the last sample (0: none)
	// RSSFirstHalf and RSSSecondHalf are the medians of the settled samples' two halves: a slow
	// leak shows as a second half above the first even when both are within the tolerance.
	RSSFirstHalf  float64 `json:"rss_first_half_bytes"`
	RSSSecondHalf float64 `json:"rss_second_half_bytes"`
	// The live heap's median over each half: it tells a heap that holds more from one that only
	// collects later.
	HeapLiveFirstHalf  float64 `json:"heap_live_first_half_bytes,omitempty"`
	HeapLiveSecondHalf float64 `json:"heap_live_second_half_bytes,omitempty"`
}

// soakTolerance is the ± band of a flat series.
const soakTolerance = 0.10

// A sample's goroutine count is the smallest of sampleReadings readings sampleGap apart.
const (
	sampleReadings = 3
	sampleGap      = 300 * time.Millisecond
)

// sample reads the server's metrics every cfg.SampleEvery until stop is closed.
func (b *bench) sample(ctx context.Context, start time.Time, stop <-chan struct{}, out *[]Sample) {
	tk := time.NewTicker(b.cfg.SampleEvery)
	defer tk.Stop()
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-tk.C:
		}
		at := time.Since(start).Seconds()
		m := b.metrics(ctx)
		low, peak := m.Goroutines, m.Goroutines
		for i := 1; i < sampleReadings && m.OK; i++ {
			select {
			case <-time.After(sampleGap):
			case <-ctx.Done():
				return
			}
			if r := b.metrics(ctx); r.OK {
				low, peak = min(low, r.Goroutines), max(peak, r.Goroutines)
			}
		}
		s := Sample{AtS: at, RSSBytes: m.RSSBytes, HeapLive: m.HeapLive, MemLimit: m.MemLimit, Goroutines: low, GoroutinesPeak: peak,
			CPUSeconds: m.CPUSeconds, Received: b.receivedTotal(), Error: m.Error}
		*out = append(*out, s)
		if m.OK {
			b.logf("sample at %.0fs: RSS %s (live heap %s), %.0f goroutines (%.0f at most), %d deliveries", s.AtS, bytesStr(s.RSSBytes), bytesStr(s.HeapLive), s.Goroutines, s.GoroutinesPeak, s.Received)
		}
	}
}

// judgeSoak compares the samples taken after settle with their medians; nil when fewer than
// three samples are settled.
func judgeSoak(samples []Sample, settle time.Duration) *Soak {
	var rss, gr, live []float64
	var limit float64
	for _, s := range samples {
		if s.AtS >= settle.Seconds() && s.Error == "" && s.RSSBytes > 0 {
			rss = append(rss, s.RSSBytes)
			gr = append(gr, s.Goroutines)
			live = append(live, s.HeapLive)
			limit = s.MemLimit
		}
	}
	if len(rss) < 3 {
		return nil
	}
	k := &Soak{SettleS: settle.Seconds(), Samples: len(rss), Tolerance: soakTolerance,
		RSSFirstHalf: median(rss[:len(rss)/2]), RSSSecondHalf: median(rss[len(rss)/2:]),
		HeapLiveFirstHalf: median(live[:len(live)/2]), HeapLiveSecondHalf: median(live[len(live)/2:])}
	k.RSSMedian, k.RSSMin, k.RSSMax = median(rss), slices.Min(rss), slices.Max(rss)
	k.GoroutinesMed, k.GoroutinesMin, k.GoroutinesMax = median(gr), slices.Min(gr), slices.Max(gr)
	within := func(lo, hi, med float64) bool {
		return lo >= (1-soakTolerance)*med && hi <= (1+soakTolerance)*med
	}
	k.RSSFlat = within(k.RSSMin, k.RSSMax, k.RSSMedian)
	k.GoroutinesFlat = within(k.GoroutinesMin, k.GoroutinesMax, k.GoroutinesMed)
	k.HeapLiveFlat = k.HeapLiveFirstHalf == 0 || within(k.HeapLiveSecondHalf, k.HeapLiveSecondHalf, k.HeapLiveFirstHalf)
	k.MemLimit = limit
	return k
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// SoakErr is the soak's verdict on a report: nil when the samples were judged flat and no delivery
// is missing.
func (r *Report) SoakErr() error {
	switch k := r.Soak; {
	case k == nil:
		return errors.New("soak: fewer than three samples after settling; run longer")
	case !k.RSSFlat || !k.GoroutinesFlat || !k.HeapLiveFlat:
		return fmt.Errorf("soak: not flat: %s", soakLine(k))
	case r.Deliveries.Missing > 0:
		return fmt.Errorf("soak: %d deliveries missing", r.Deliveries.Missing)
	}
	return nil
}

// soakLine is the table's summary of a judged soak.
func soakLine(k *Soak) string {
	flat := func(ok bool) string {
		if ok {
			return "flat"
		}
		return "NOT flat"
	}
	live := ""
	if k.HeapLiveFirstHalf > 0 {
		live = fmt.Sprintf("; live heap %s, halves %s → %s", flat(k.HeapLiveFlat), bytesStr(k.HeapLiveFirstHalf), bytesStr(k.HeapLiveSecondHalf))
	}
	if k.MemLimit > 0 {
		live += fmt.Sprintf("; Go memory limit %s", bytesStr(k.MemLimit))
	}
	return fmt.Sprintf("RSS %s (median %s, %s–%s; halves %s → %s%s), goroutines %s (median %.0f, %.0f–%.0f), ±%.0f%% over %d samples after %.0fs",
		flat(k.RSSFlat), bytesStr(k.RSSMedian), bytesStr(k.RSSMin), bytesStr(k.RSSMax), bytesStr(k.RSSFirstHalf), bytesStr(k.RSSSecondHalf), live,
		flat(k.GoroutinesFlat), k.GoroutinesMed, k.GoroutinesMin, k.GoroutinesMax, 100*k.Tolerance, k.Samples, k.SettleS)
}
