// A log-linear latency histogram: constant memory, quantiles within 1% relative error.

package loadtest

import (
	"math"
	"math/bits"
	"sync/atomic"
)

// hist is a log-linear histogram of non-negative integers (µs) with < 1% relative error,
// safe for concurrent use; its memory does not grow with the number of samples.
type hist struct {
	counts [histBuckets]atomic.Uint64
	n      atomic.Uint64
	sum    atomic.Uint64
	max    atomic.Int64
}

const (
	histSubBits = 7 // 128 sub-buckets per power of two
	histSub     = 1 << histSubBits
	histBuckets = 2*histSub + 40*histSub
)

func histIndex(v int64) int {
	if v < 2*histSub {
		return int(v)
	}
	m := bits.Len64(uint64(v)) - histSubBits - 1 // ≥ 1
	i := 2*histSub + (m-1)*histSub + int(v>>m) - histSub
	return min(i, histBuckets-1)
}

func histValue(i int) int64 {
	if i < 2*histSub {
		return int64(i)
	}
	k := i - 2*histSub
	m := k/histSub + 1
	lo := int64(k%histSub+histSub) << m
	return lo + (int64(1)<<m)/2
}

func (h *hist) record(v int64) {
	if v < 0 {
		v = 0
	}
	h.counts[histIndex(v)].Add(1)
	h.n.Add(1)
	h.sum.Add(uint64(v))
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			break
		}
	}
}

func (h *hist) quantile(q float64) int64 {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	target := uint64(math.Ceil(q * float64(n)))
	if target < 1 {
		target = 1
	}
	var cum uint64
	for i := range h.counts {
		cum += h.counts[i].Load()
		if cum >= target {
			return min(histValue(i), h.max.Load())
		}
	}
	return h.max.Load()
}

func (h *hist) dist() Dist {
	n := h.n.Load()
	if n == 0 {
		return Dist{}
	}
	us := func(v int64) float64 { return float64(v) / 1000 }
	return Dist{Count: n, Mean: float64(h.sum.Load()) / float64(n) / 1000,
		P50: us(h.quantile(0.5)), P90: us(h.quantile(0.9)), P99: us(h.quantile(0.99)), Max: us(h.max.Load())}
}
