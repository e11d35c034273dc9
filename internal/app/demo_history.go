package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"zhili/aggregator"
	"zhili/bus"
	"zhili/errs"
	"zhili/ingest"
	"zhili/intake"
	"zhili/internal/atomicfile"
	"zhili/simulate"
)

// The demo's history: a --demo process whose data directory holds nothing yet starts with the
// demo city's past (simulate.History: DemoHistory long, from DemoSeed), sent through the same
// path as live events (the ingest door, the intake log, an aggregator, the history store)
// before the live aggregator starts. That one then starts as after a restart: it replays the
// store, and the read model seeds its hotspot windows from it. Once the process is ready, the
// history goes on in real time (its open cases and whistles move on, new cases follow the same
// rhythm), also after a restart of the same data directory.

// demoHistoryFile records the history of a data directory: what generated it and how far it
// has been sent.
const demoHistoryFile = "demo-history.json"

type demoHistoryState struct {
	Seed     uint64    `json:"seed"`
	Span     string    `json:"span"`
	PerDay   float64   `json:"per_day"`
	End      time.Time `json:"end"`        // the history up to here is sent at start,
	Complete bool      `json:"complete"`   // which is done
	Sent     time.Time `json:"sent_until"` // and up to here since, as time passed
	Lines    int       `json:"lines"`      // lines sent at start
	Cases    int       `json:"cases"`
	Took     string    `json:"took"`
}

// demoSeed is the seed of a new demo history: DemoSeed, else one from the clock (recorded
// with the history, so that a restart goes on with the same one).
func (c *Config) demoSeed() uint64 {
	if c.DemoSeed != 0 {
		return c.DemoSeed
	}
	return uint64(time.Now().UnixNano())
}

func (a *App) demoHistoryPath() string { return filepath.Join(a.cfg.DataDir, demoHistoryFile) }

func (a *App) newDemoHistory(st demoHistoryState) (*simulate.History, error) {
	span, err := time.ParseDuration(st.Span)
	if err != nil {
		return nil, err
	}
	return simulate.NewHistory(simulate.HistoryConfig{Tree: a.cfg.Tree, Calendar: a.cfg.Calendar, Seed: st.Seed,
		End: st.End, Span: span, PerDay: st.PerDay}), nil
}

func (a *App) saveDemoHistory(st demoHistoryState) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(a.demoHistoryPath(), b, 0o640)
}

// demoHistory prepares the history before the live aggregator starts: it sends the whole
// history when the data directory holds no event yet, or picks up the one recorded there. It
// returns the history to go on with in real time (nil: none) and its state.
func (a *App) demoHistory(ctx context.Context) (*simulate.History, *demoHistoryState) {
	cfg := &a.cfg
	log := cfg.Logger
	if cfg.DemoHistory <= 0 || a.Agg == nil || a.Door == nil {
		return nil, nil
	}
	var st demoHistoryState
	if b, err := os.ReadFile(a.demoHistoryPath()); err == nil {
		if err := json.Unmarshal(b, &st); err != nil {
			log.Warn("demo history: unreadable record; the history is not continued", "file", a.demoHistoryPath(), "err", err)
			return nil, nil
		}
	} else {
		if held, err := a.holdsEvents(ctx); err != nil || held {
			if err != nil {
				log.Warn("demo history: cannot tell whether the data directory holds events; none generated", "err", err)
			} else {
				log.Info("demo history: the data directory holds events already; none generated")
			}
			return nil, nil
		}
		st = demoHistoryState{Seed: cfg.demoSeed(), Span: cfg.DemoHistory.String(), PerDay: cfg.DemoHistoryPerDay,
			End: cfg.Clock.Now().Truncate(time.Millisecond)}
		st.Sent = st.End
		// Recorded first: after a stop half-way, the next start sends the same history again
		// (what is stored already counts as duplicates) instead of another one.
		if err := a.saveDemoHistory(st); err != nil {
			log.Warn("demo history: not recorded; a restart will not continue it", "err", err)
		}
	}
	h, err := a.newDemoHistory(st)
	if err != nil {
		log.Warn("demo history: bad record; the history is not continued", "file", a.demoHistoryPath(), "err", err)
		return nil, nil
	}
	if st.Complete {
		log.Info("demo history: already in the data directory; it goes on from where it was", "seed", st.Seed,
			"span", st.Span, "end", st.End.Format(time.RFC3339), "sent_until", st.Sent.Format(time.RFC3339))
		return h, &st
	}
	start := time.Now()
	log.Info("demo history: generating", "span", st.Span, "seed", st.Seed, "end", st.End.Format(time.RFC3339))
	lines, err := a.sendDemoHistory(ctx, h)
	stats := h.Stats()
	st.Lines, st.Cases, st.Took = lines, stats.Cases, time.Since(start).Round(time.Millisecond).String()
	st.Complete = err == nil
	if err != nil {
		if ctx.Err() == nil {
			log.Error("demo history: stopped", "err", err, "lines", lines)
		} else {
			log.Info("demo history: stopped half-way; the next start sends it again", "lines", lines)
		}
		return nil, nil
	}
	if err := a.saveDemoHistory(st); err != nil {
		log.Warn("demo history: not recorded", "err", err)
	}
	log.Info("demo history: stored", "lines", lines, "cases", stats.Cases, "whistles", stats.Whistles,
		"open_whistles", stats.OpenWhistles, "unlocated", stats.Unlocated, "repeats", stats.Repeats, "took", st.Took)
	return h, &st
}

// holdsEvents reports whether the history store or the intake log holds any event.
func (a *App) holdsEvents(ctx context.Context) (bool, error) {
	cp, err := a.Store.Checkpoint(ctx)
	if err != nil {
		return false, err
	}
	if cp > 0 {
		return true, nil
	}
	if w, ok := a.In.(*intake.WAL); ok && w.Stats().LastOffset > 0 {
		return true, nil
	}
	return false, nil
}

// sendDemoHistory sends the history up to its end through the door, with an aggregator of its
// own (on a bus nobody reads: the live state is built from the store afterwards), and returns
// once that aggregator has stored everything. It returns the number of lines sent.
func (a *App) sendDemoHistory(ctx context.Context, h *simulate.History) (int, error) {
	b := bus.NewMemory(16)
	defer b.Close()
	ac := a.aggConfig("", 0)
	ac.ReadBatch = 10000
	ac.StoreBatch, ac.StoreEvery = 50000, 5*time.Second // fewer, bigger writes
	agg := aggregator.New(ac, a.In, a.Store, b, a.cfg.Tree, a.locator(), a.cfg.Clock, a.aggM)
	actx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- agg.Run(actx) }()

	// Bodies are generated while the previous one is ingested.
	gctx, stop := context.WithCancel(ctx)
	defer stop()
	bodies := make(chan []byte, 2)
	gerr := make(chan error, 1)
	go func() {
		defer close(bodies)
		gerr <- h.Bodies(a.demoBatch(), func(body []byte, _ int) error {
			select {
			case bodies <- append([]byte(nil), body...):
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		})
	}()
	lines := 0
	var err error
	for body := range bodies {
		if err != nil {
			stop() // and drain the generator
			continue
		}
		var rep ingest.Reply
		for {
			rep, err = a.Door.Ingest(ctx, ingest.ContentNDJSON, body, nil)
			// A long history outruns the store: the intake log fills up to its bound and
			// refuses the body whole. Wait for the aggregator to store some, then send it again.
			if errs.ReasonOf(err) != "intake_full" || ctx.Err() != nil {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		lines += rep.Accepted + rep.Duplicates + len(rep.Rejected)
		if err == nil && len(rep.Rejected) > 0 {
			r := rep.Rejected[0]
			a.cfg.Logger.Warn("demo history: lines refused", "count", len(rep.Rejected), "first", fmt.Sprintf("line %d %s: %s", r.Line, r.ID, r.Error))
		}
	}
	if gen := <-gerr; err == nil {
		err = gen
	}
	if err == nil {
		n, serr := a.sendDemoSurveys(ctx, a.cfg.Clock.Now())
		a.cfg.Logger.Info("demo history: survey records sent", "lines", n)
		err = serr
	}
	a.cfg.Logger.Debug("demo history: sent; storing the rest", "lines", lines)
	// Drain, also when stopped half-way (so that the store's writes end cleanly): the aggregator
	// applies and stores everything in the log, then returns.
	if serr := agg.Shutdown(actx); serr != nil {
		err = errors.Join(err, serr)
	}
	return lines, err
}

// demoBatch is the number of lines per ingest request of the history: the door's limit.
func (a *App) demoBatch() int {
	if a.cfg.MaxLines > 0 {
		return min(a.cfg.MaxLines, simulate.MaxBatch)
	}
	return simulate.MaxBatch
}

// followDemoHistory sends the history on as time passes, once the process is ready and until
// ctx is done: first what came due meanwhile (after a restart, what was not sent before), then
// every second what has come due.
func (a *App) followDemoHistory(ctx context.Context, h *simulate.History, st *demoHistoryState) error {
	log := a.cfg.Logger
	for !a.Agg.Ready() {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(50 * time.Millisecond):
		}
	}
	// Grid staff check in and out (staff.duty), so that the wall's staffing is live.
	a.goRun("demo duty", func() error { a.runDemoDuty(ctx); return nil })
	// After a restart, the lines sent before are generated again and skipped.
	for len(h.NextUntil(st.Sent, a.demoBatch())) > 0 {
		if ctx.Err() != nil {
			return nil
		}
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	lastSave := time.Now()
	var body []byte
	for {
		now := a.cfg.Clock.Now()
		for {
			lines := h.NextUntil(now, a.demoBatch())
			if len(lines) == 0 {
				break
			}
			body = body[:0]
			for _, l := range lines {
				body = append(append(body, l...), '\n')
			}
			if _, err := a.Door.Ingest(ctx, ingest.ContentNDJSON, body, nil); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				// Lines refused as a whole (the intake log full): they are not sent again; the
				// history goes on.
				log.Warn("demo history: lines not accepted", "lines", len(lines), "err", err)
			}
		}
		st.Sent = now
		if time.Since(lastSave) >= time.Minute {
			lastSave = time.Now()
			if err := a.saveDemoHistory(*st); err != nil {
				log.Warn("demo history: progress not recorded", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			_ = a.saveDemoHistory(*st)
			return nil
		case <-tick.C:
		}
	}
}
