package aggregator

import (
	"context"
	"time"

	"zhili/store"
)

// writer batches records into big store writes and commits the intake log after each one.
// Its queue is bounded, so a slow or unavailable store slows the apply loop, and accepted
// events wait in the durable intake log, never only in memory.
type writer struct {
	a    *Aggregator
	in   chan store.Batch
	quit chan struct{}
}

func newWriter(a *Aggregator) *writer {
	return &writer{a: a, in: make(chan store.Batch, 8), quit: make(chan struct{})}
}

func (w *writer) add(ctx context.Context, recs []store.Record, checkpoint uint64) error {
	select {
	case w.in <- store.Batch{Records: recs, Checkpoint: checkpoint}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close asks the writer to flush what it holds and stop.
func (w *writer) close() { close(w.quit) }

func (w *writer) run(ctx context.Context) error {
	var cur store.Batch
	t := time.NewTicker(w.a.cfg.StoreEvery)
	defer t.Stop()
	flush := func() error {
		if len(cur.Records) == 0 && cur.Checkpoint == 0 {
			return nil
		}
		if err := w.write(ctx, cur); err != nil {
			return err
		}
		cur = store.Batch{}
		return nil
	}
	for {
		select {
		case b := <-w.in:
			cur.Records = append(cur.Records, b.Records...)
			cur.Checkpoint = b.Checkpoint
			if len(cur.Records) >= w.a.cfg.StoreBatch {
				if err := flush(); err != nil {
					return err
				}
			}
		case <-t.C:
			if err := flush(); err != nil {
				return err
			}
		case <-w.quit:
			for {
				select {
				case b := <-w.in:
					cur.Records = append(cur.Records, b.Records...)
					cur.Checkpoint = b.Checkpoint
				default:
					return flush()
				}
			}
		}
	}
}

// write stores one batch, retrying with backoff while the store is unavailable.
func (w *writer) write(ctx context.Context, b store.Batch) error {
	backoff := 100 * time.Millisecond
	for {
		start := time.Now()
		err := w.a.store.Write(ctx, b)
		if err == nil {
			w.a.m.storeWrite.Observe(time.Since(start).Seconds())
			w.a.m.stored.Add(float64(len(b.Records)))
			if err := w.a.intake.Commit(ctx, b.Checkpoint); err != nil {
				w.a.cfg.Logger.Warn("aggregator: intake commit", "err", err)
			}
			return nil
		}
		w.a.m.storeErrors.Inc()
		w.a.cfg.Logger.Error("aggregator: store write failed; retrying", "records", len(b.Records), "err", err, "backoff", backoff)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return ctx.Err()
		}
		if backoff < 5*time.Second {
			backoff *= 2
		}
	}
}
