package intake_test

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"zhili/intake"
	"zhili/intake/intaketest"
)

// BenchmarkWALAppend measures Append with real fsyncs. One op is one Append call of `batch`
// events of about 400 bytes. The parallel variants run 16 goroutines per CPU so that callers
// wait on fsyncs together (group commit). A background committer keeps the log small.
func BenchmarkWALAppend(b *testing.B) {
	for _, batch := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("batch=%d/serial", batch), func(b *testing.B) { benchAppend(b, batch, false) })
		b.Run(fmt.Sprintf("batch=%d/parallel", batch), func(b *testing.B) { benchAppend(b, batch, true) })
	}
}

func benchAppend(b *testing.B, batch int, parallel bool) {
	w, err := intake.OpenWAL(b.TempDir(), intake.WALOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				w.Commit(context.Background(), w.Stats().LastOffset)
			}
		}
	}()
	defer func() { close(stop); <-done }()

	var seq atomic.Uint64
	appendOne := func(ids []string, data [][]byte) {
		base := seq.Add(uint64(len(ids)))
		for i := range ids {
			ids[i] = "evt-" + strconv.FormatUint(base-uint64(i), 10)
			data[i] = benchEvent(ids[i])
		}
		if _, err := w.Append(context.Background(), intaketest.Records(ids, data)); err != nil {
			b.Error(err)
		}
	}
	fsyncs := w.Stats().Fsyncs
	b.SetBytes(int64(batch * 400))
	b.ResetTimer()
	start := time.Now()
	if parallel {
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			ids, data := make([]string, batch), make([][]byte, batch)
			for pb.Next() {
				appendOne(ids, data)
			}
		})
	} else {
		ids, data := make([]string, batch), make([][]byte, batch)
		for range b.N {
			appendOne(ids, data)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N*batch)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(w.Stats().Fsyncs-fsyncs)/float64(b.N), "fsyncs/op")
}

// benchEvent returns a ~400-byte event document for id.
func benchEvent(id string) []byte {
	head := `{"id":"` + id + `","type":"grid.report","county":"330106","lat":30.27,"lng":120.13,"text":"`
	out := make([]byte, 0, 400)
	out = append(out, head...)
	for len(out) < 398 {
		out = append(out, 'x')
	}
	return append(out, '"', '}')
}
