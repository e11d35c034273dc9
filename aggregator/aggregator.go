// Package aggregator is the write path after the intake log: locate → case state → rollups →
// sinks (history store, live bus). It reads what the ingest door logged, in order. Personal
// fields stay in the history store: the live updates it publishes have none.
package aggregator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	json "github.com/goccy/go-json"

	"zhili/bus"
	"zhili/clock"
	"zhili/event"
	"zhili/geo"
	"zhili/ingest"
	"zhili/intake"
	"zhili/store"
	"zhili/update"
)

// Config configures an Aggregator.
type Config struct {
	Loc        *time.Location // deployment time zone: "today" and day buckets
	ReadBatch  int            // intake entries applied per step (default 2,000)
	StoreBatch int            // records per store write (default 10,000)
	StoreEvery time.Duration  // store write interval (default 1 s: big batches, one transaction a second)
	FeedKeep   int            // recent feed items kept for resets (default 200)
	CaseKeep   time.Duration  // finished or never-reported cases are forgotten this long after their last event (default 7 days)
	// Source names this aggregator's updates on the live bus ("" for the one aggregator of an
	// embedded deployment; "p<N>" for the owner of intake partition N when scaled out).
	Source string
	Part   int           // intake partition this aggregator owns
	Retain time.Duration // how often the full state is retained on the bus for joining read models (default 10 s)
	// Snapshot is the file the live state is written to on a clean stop and taken from on the
	// next start instead of a full replay of the history store (snapshot.go); "" for none.
	Snapshot string
	Logger   *slog.Logger
}

func (c *Config) defaults() {
	if c.Loc == nil {
		c.Loc = time.UTC
	}
	if c.ReadBatch <= 0 {
		c.ReadBatch = 2000
	}
	if c.StoreBatch <= 0 {
		c.StoreBatch = 10000
	}
	if c.StoreEvery <= 0 {
		c.StoreEvery = time.Second
	}
	if c.FeedKeep <= 0 {
		c.FeedKeep = 200
	}
	if c.CaseKeep <= 0 {
		c.CaseKeep = 7 * 24 * time.Hour
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Retain <= 0 {
		c.Retain = 10 * time.Second
	}
}

// Aggregator owns the write path of one deployment.
type Aggregator struct {
	cfg    Config
	intake intake.Intake
	store  store.Store
	bus    bus.Bus
	root   string // the region tree's root code: unlocated cases count there
	place  ingest.Placer
	clk    clock.Clock
	m      *metrics

	mu    sync.Mutex // guards st
	st    *state
	pos   uint64        // last intake offset applied
	start atomic.Uint64 // the store checkpoint the live state was rebuilt from
	ready atomic.Bool
	// restored tells that the live state came from the snapshot (set before ready).
	restored bool

	pubMu  sync.Mutex // orders updates: taking a delta or the full state, numbering and publishing it
	epoch  uint64
	seq    uint64 // guarded by pubMu
	resync chan struct{}

	drainReq chan struct{}
	done     chan struct{}
	runErr   error
	shutOnce sync.Once
	recent   []update.Item
}

// New builds an Aggregator. Call Run to start it.
func New(cfg Config, in intake.Intake, st store.Store, b bus.Bus, tree *geo.Tree, loc geo.Locator, clk clock.Clock, m *Metrics) *Aggregator {
	cfg.defaults()
	if m == nil {
		m = NewMetrics(nil)
	}
	a := &Aggregator{cfg: cfg, intake: in, store: st, bus: b, root: tree.Root.Code,
		place: ingest.Placer{Tree: tree, Locator: loc}, clk: clk, m: m.m,
		drainReq: make(chan struct{}), done: make(chan struct{}), epoch: rand.Uint64() | 1, resync: make(chan struct{}, 1)}
	a.st = newState(cfg.Loc, a.root)
	return a
}

// Ready reports whether recovery finished and events are being applied.
func (a *Aggregator) Ready() bool { return a.ready.Load() }

// Restored tells whether the live state came from the snapshot rather than a replay of the
// history store. Valid once Ready.
func (a *Aggregator) Restored() bool { return a.restored }

// StartCheckpoint is the intake offset up to which the live state was rebuilt from the history
// store: every later event reaches the read model as a live update. Valid once Ready.
func (a *Aggregator) StartCheckpoint() uint64 { return a.start.Load() }

// setGauges sets the gauges of the live state from it: after a restore or a replay, and after a
// prune, not only when events are applied (a quiet center would read 0 cases until its next
// event).
func (a *Aggregator) setGauges() {
	a.mu.Lock()
	pending, cases := a.st.pending, len(a.st.cases)
	a.mu.Unlock()
	a.gauges(pending, cases)
}

// gauges sets the gauges of the live state to values read under a.mu.
func (a *Aggregator) gauges(pending, cases int) {
	a.m.pending.Set(float64(pending))
	a.m.cases.Set(float64(cases))
}

// replay rebuilds the live state from the whole history store.
func (a *Aggregator) replay(ctx context.Context, cp uint64, now, start time.Time) error {
	n := 0
	a.mu.Lock()
	err := a.store.Replay(ctx, func(r store.Record) error {
		n++
		a.st.apply(&r, now, true)
		if len(a.st.items) > 4*a.cfg.FeedKeep {
			a.st.items = append(a.st.items[:0], a.st.items[len(a.st.items)-a.cfg.FeedKeep:]...)
		}
		return nil
	})
	if err != nil {
		a.mu.Unlock()
		return fmt.Errorf("aggregator: replay history: %w", err)
	}
	a.pos = cp
	a.start.Store(cp)
	u := a.st.takeDelta()
	pruned := a.st.prune(now, a.cfg.CaseKeep)
	a.recent = keepLast(u.Items, a.cfg.FeedKeep)
	a.mu.Unlock()
	a.cfg.Logger.Info("aggregator: replayed history", "events", n, "checkpoint", cp, "cases", len(a.st.cases),
		"forgotten", pruned, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// restore takes the live state from the snapshot when it was made at checkpoint cp by an
// aggregator of this configuration, and tells whether it did.
func (a *Aggregator) restore(cp uint64, now, start time.Time) bool {
	if a.cfg.Snapshot == "" {
		return false
	}
	f, err := readSnapshot(a.cfg.Snapshot)
	if err != nil {
		a.cfg.Logger.Warn("aggregator: live-state snapshot unreadable; replaying the history store", "file", a.cfg.Snapshot, "err", err)
		return false
	}
	if f == nil {
		return false
	}
	if ok, why := f.matches(&a.cfg, a.root, cp); !ok {
		a.cfg.Logger.Info("aggregator: live-state snapshot not used; replaying the history store", "file", a.cfg.Snapshot, "why", why)
		return false
	}
	a.mu.Lock()
	a.st = f.restore(a.cfg.Loc, a.root)
	a.pos = cp
	a.start.Store(cp)
	// What a replay now would give: deadlines passed since the snapshot turn overdue, and what
	// has aged out is forgotten.
	a.st.tick(now)
	a.st.takeDelta()
	pruned := a.st.prune(now, a.cfg.CaseKeep)
	a.recent = keepLast(f.Recent, a.cfg.FeedKeep)
	a.mu.Unlock()
	a.cfg.Logger.Info("aggregator: restored the live state from its snapshot", "checkpoint", cp, "cases", len(a.st.cases),
		"saved", f.Saved.Format(time.RFC3339), "forgotten", pruned, "took", time.Since(start).Round(time.Millisecond))
	return true
}

// saveSnapshot writes the live state's snapshot after a drain, when everything applied is
// stored (the store's checkpoint is the last applied offset); otherwise the next start replays.
func (a *Aggregator) saveSnapshot(ctx context.Context) {
	if a.cfg.Snapshot == "" {
		return
	}
	start := time.Now()
	cp, err := a.store.Checkpoint(ctx)
	a.mu.Lock()
	if err != nil || cp != a.pos {
		a.mu.Unlock()
		a.cfg.Logger.Warn("aggregator: no live-state snapshot: the store is not at the last applied offset",
			"checkpoint", cp, "applied", a.pos, "err", err)
		os.Remove(a.cfg.Snapshot)
		return
	}
	// Forgotten first what a start would forget anyway: a history sent in one go (the demo's)
	// is applied within one prune interval, so nothing of it was forgotten yet.
	a.st.takeDelta()
	a.st.prune(a.clk.Now(), a.cfg.CaseKeep)
	f := a.st.snapshot()
	a.mu.Unlock()
	f.Checkpoint, f.Source, f.Part, f.Root, f.Loc, f.CaseKeep = cp, a.cfg.Source, a.cfg.Part, a.root, a.cfg.Loc.String(), a.cfg.CaseKeep
	f.Saved, f.Recent = a.clk.Now(), a.recent
	if err := writeSnapshot(a.cfg.Snapshot, f); err != nil {
		a.cfg.Logger.Warn("aggregator: live-state snapshot", "file", a.cfg.Snapshot, "err", err)
		os.Remove(a.cfg.Snapshot)
		return
	}
	a.cfg.Logger.Info("aggregator: wrote the live-state snapshot", "checkpoint", cp, "cases", len(f.Cases),
		"took", time.Since(start).Round(time.Millisecond))
}

// record derives the stored record of a logged event.
func (a *Aggregator) record(e intake.Entry) (store.Record, error) {
	lg, err := ingest.Decode(e)
	if err != nil {
		return store.Record{}, err
	}
	r := store.Record{Event: lg.Event, Offset: e.Offset, Received: lg.ReceivedTime()}
	if l := lg.Event.Location; l != nil {
		r.Lon, r.Lat = geo.ToWGS84(l.CRS, l.Lon, l.Lat)
		r.HasPoint = true
	}
	if r.Type == event.CaseReported {
		r.RegionPath = a.place.Path(&r.Event)
	}
	return r, nil
}

// Run recovers the live state from the history store and the intake log, then applies new
// intake entries until ctx is done or Shutdown drains it.
func (a *Aggregator) Run(ctx context.Context) error {
	defer close(a.done)
	err := a.run(ctx)
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	a.runErr = err
	return err
}

func (a *Aggregator) run(ctx context.Context) error {
	start := time.Now()
	cp, err := a.store.Checkpoint(ctx)
	if err != nil {
		return fmt.Errorf("aggregator: read checkpoint: %w", err)
	}
	now := a.clk.Now()
	a.restored = a.restore(cp, now, start)
	if !a.restored {
		if err := a.replay(ctx, cp, now, start); err != nil {
			return err
		}
	}
	a.setGauges()

	w := newWriter(a)
	// A drain (Shutdown) flushes the writer while ctx is alive; a cancel of ctx stops it even
	// while it retries an unavailable store (what it held stays in the intake log).
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	wdone := make(chan error, 1)
	go func() { wdone <- w.run(wctx) }()

	if err := a.publishFull(ctx); err != nil {
		return err
	}
	a.ready.Store(true)
	defer a.ready.Store(false)
	if ctl, err := a.bus.Subscribe(ctx, update.ControlChannel); err != nil {
		a.cfg.Logger.Warn("aggregator: control channel unavailable; read models cannot ask for resyncs", "err", err)
	} else {
		go a.control(ctx, ctl)
	}
	lastRetain := time.Now()

	draining := false
	lastPrune := a.clk.Now()
	var readBackoff time.Duration
	readFails := 0
	// Reads wait at most a second (overdue clocks tick meanwhile), and are cut short by a
	// drain request so that shutdown does not wait for them.
	liveCtx, stopLive := context.WithCancel(ctx)
	defer stopLive()
	go func() {
		select {
		case <-a.drainReq:
			stopLive()
		case <-liveCtx.Done():
		}
	}()
	for {
		rctx, cancel := context.WithTimeout(liveCtx, time.Second)
		if draining {
			rctx, cancel = context.WithTimeout(ctx, 50*time.Millisecond)
		}
		entries, err := a.intake.Read(rctx, a.pos, a.cfg.ReadBatch)
		cancel()
		if err == nil {
			readBackoff, readFails = 0, 0
		}
		if errors.Is(err, context.Canceled) && ctx.Err() == nil {
			err = nil // the drain request interrupted the wait
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			if ctx.Err() != nil {
				w.close()
				<-wdone
				return ctx.Err()
			}
			// The intake log is away (Redis restarting): back off, and do not flood the log.
			readFails++
			if readFails == 1 || readFails%15 == 0 {
				a.cfg.Logger.Error("aggregator: intake read; retrying", "err", err, "failures", readFails)
			}
			readBackoff = min(max(2*readBackoff, 200*time.Millisecond), 2*time.Second)
			time.Sleep(readBackoff)
			continue
		}
		if len(entries) > 0 {
			if err := a.applyEntries(ctx, entries, w); err != nil {
				return err
			}
		} else {
			err := a.emit(ctx, func() update.Update {
				a.mu.Lock()
				defer a.mu.Unlock()
				a.st.tick(a.clk.Now())
				return a.st.takeDelta()
			})
			if err != nil {
				a.cfg.Logger.Error("aggregator: publish", "err", err)
			}
			if draining {
				w.close()
				if err := <-wdone; err != nil {
					return err
				}
				a.saveSnapshot(ctx)
				return nil
			}
		}
		// Finished cases are forgotten hourly, or four times per CaseKeep when that is shorter
		// (at most every 10 s), also while events never stop arriving.
		if a.clk.Now().Sub(lastPrune) > min(time.Hour, max(a.cfg.CaseKeep/4, 10*time.Second)) {
			a.mu.Lock()
			a.st.prune(a.clk.Now(), a.cfg.CaseKeep)
			a.mu.Unlock()
			a.setGauges()
			lastPrune = a.clk.Now()
		}
		select {
		case <-a.drainReq:
			draining = true
		default:
		}
		select {
		case <-a.resync:
			if err := a.publishFull(ctx); err != nil {
				a.cfg.Logger.Error("aggregator: resync", "err", err)
			}
			lastRetain = time.Now()
		default:
			if time.Since(lastRetain) >= a.cfg.Retain {
				lastRetain = time.Now()
				if err := a.retain(ctx); err != nil {
					a.cfg.Logger.Warn("aggregator: retain live state", "err", err)
				}
			}
		}
	}
}

func (a *Aggregator) applyEntries(ctx context.Context, entries []intake.Entry, w *writer) error {
	recs := make([]store.Record, 0, len(entries))
	for _, e := range entries {
		r, err := a.record(e)
		if err != nil {
			// A logged entry that cannot be decoded is a bug or disk corruption: keep the
			// rest flowing and count it loudly.
			a.cfg.Logger.Error("aggregator: undecodable intake entry", "offset", e.Offset, "err", err)
			a.m.corrupt.Inc()
			continue
		}
		recs = append(recs, r)
	}
	now := a.clk.Now()
	var pending, cases int
	err := a.emit(ctx, func() update.Update {
		a.mu.Lock()
		defer a.mu.Unlock()
		for i := range recs {
			a.st.apply(&recs[i], now, true)
		}
		a.st.tick(now)
		u := a.st.takeDelta()
		a.pos = entries[len(entries)-1].Offset
		a.recent = keepLast(append(a.recent, u.Items...), a.cfg.FeedKeep)
		pending, cases = a.st.pending, len(a.st.cases)
		return u
	})
	a.m.applied.Add(float64(len(recs)))
	a.gauges(pending, cases)
	if err != nil {
		a.cfg.Logger.Error("aggregator: publish", "err", err)
	}
	return w.add(ctx, recs, a.pos)
}

// keepLast returns the last n of items as a view of the same array: appending a batch to it
// copies the n kept items only when the array is full (amortized, a batch costs its own length,
// not n; the array holds at most about 2n + a batch).
func keepLast(items []update.Item, n int) []update.Item {
	if len(items) > n {
		return items[len(items)-n:]
	}
	return items
}

// emit takes an update from take and publishes it as the source's next delta. pubMu makes
// taking and numbering one step, so a reset never overtakes a delta it already contains.
func (a *Aggregator) emit(ctx context.Context, take func() update.Update) error {
	a.pubMu.Lock()
	defer a.pubMu.Unlock()
	u := take()
	if len(u.Counters) == 0 && len(u.Items) == 0 && len(u.Whistles) == 0 && len(u.Duty) == 0 {
		return nil
	}
	a.seq++
	a.stamp(&u, a.seq)
	b, err := json.Marshal(u)
	if err != nil {
		return err
	}
	return a.bus.Publish(ctx, update.UpdatesChannel, b)
}

func (a *Aggregator) stamp(u *update.Update, seq uint64) {
	u.Source, u.Part, u.Epoch, u.Seq = a.cfg.Source, a.cfg.Part, a.epoch, seq
}

// fullLocked encodes the whole live state as a reset at the current seq. Caller holds pubMu.
func (a *Aggregator) fullLocked() ([]byte, error) {
	a.mu.Lock()
	u := a.st.full(a.clk.Now(), a.recent)
	u.Checkpoint = a.pos
	a.mu.Unlock()
	a.stamp(&u, a.seq)
	return json.Marshal(u)
}

// publishFull publishes the whole live state as a reset update, and retains it on the bus so
// that a read model joining later starts from it.
func (a *Aggregator) publishFull(ctx context.Context) error {
	a.pubMu.Lock()
	defer a.pubMu.Unlock()
	b, err := a.fullLocked()
	if err != nil {
		return err
	}
	// Retain first: a read model subscribing meanwhile gets it one way or the other.
	if err := a.bus.Retain(ctx, update.UpdatesChannel, a.retainKey(), b); err != nil {
		return err
	}
	return a.bus.Publish(ctx, update.UpdatesChannel, b)
}

// retain stores the current full state on the bus without publishing it.
func (a *Aggregator) retain(ctx context.Context) error {
	a.pubMu.Lock()
	defer a.pubMu.Unlock()
	b, err := a.fullLocked()
	if err != nil {
		return err
	}
	return a.bus.Retain(ctx, update.UpdatesChannel, a.retainKey(), b)
}

func (a *Aggregator) retainKey() string {
	if a.cfg.Source == "" {
		return "main"
	}
	return a.cfg.Source
}

// Resync asks the running aggregator to publish its full state (for a read model that joined
// late or fell out of step). It returns at once; the reset follows within a second.
func (a *Aggregator) Resync(ctx context.Context) error {
	if !a.ready.Load() {
		return nil
	}
	select {
	case a.resync <- struct{}{}:
	default: // one is already pending
	}
	return nil
}

// control serves resync requests from read models.
func (a *Aggregator) control(ctx context.Context, sub bus.Subscription) {
	defer sub.Close()
	for {
		select {
		case p, ok := <-sub.C():
			if !ok {
				return
			}
			var c update.Control
			if err := json.Unmarshal(p, &c); err != nil {
				continue
			}
			if c.Resync == "*" || (c.Resync != "" && c.Resync == a.cfg.Source) {
				a.Resync(ctx)
			}
		case <-ctx.Done():
			return
		}
	}
}

// Epoch identifies this run of the aggregator in its updates.
func (a *Aggregator) Epoch() uint64 { return a.epoch }

// Shutdown stops accepting events, applies and stores everything already accepted, and waits
// for Run to return, bounded by ctx. Idempotent.
func (a *Aggregator) Shutdown(ctx context.Context) error {
	a.shutOnce.Do(func() {
		close(a.drainReq)
	})
	select {
	case <-a.done:
		return a.runErr
	case <-ctx.Done():
		return fmt.Errorf("aggregator: shutdown: %w", ctx.Err())
	}
}
