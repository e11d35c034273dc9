package dashboard

import (
	"context"
	"log/slog"
	"time"

	json "github.com/goccy/go-json"

	"zhili/bus"
	"zhili/clock"
	"zhili/store"
	"zhili/update"
)

// FollowConfig configures a Follower.
type FollowConfig struct {
	Model *Model
	Hot   *Hotspots // seeded from Store; nil: none
	Hub   *Hub      // told when the live data goes stale; nil: nobody
	Bus   bus.Bus
	Store store.Store
	// Partitions is the number of intake partitions, each with its own aggregator source (1 for
	// an embedded deployment).
	Partitions int
	// CatchUp asks every source for a resync every 2 s while some partition's state is missing
	// (its first reset lost, or its aggregator not running yet): scaled-out deployments, where
	// aggregators start and stop independently of this server.
	CatchUp bool
	Clock   clock.Clock
	Logger  *slog.Logger
}

// Follower keeps one process's read model in step with the aggregators: it applies their
// updates from the bus, asks a source for a resync when its sequence has a gap, flags the
// screens stale while the live bus is away, and seeds the live hotspot windows from the history
// store up to where the live updates take over (so that no event is counted twice).
type Follower struct {
	cfg FollowConfig
	sub bus.Subscription
}

// NewFollower returns a follower; Subscribe, then Run.
func NewFollower(cfg FollowConfig) *Follower {
	if cfg.Partitions <= 0 {
		cfg.Partitions = 1
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Follower{cfg: cfg}
}

// Subscribe subscribes to the updates. Call it before any aggregator publishes its first full
// state, so that the model sees it.
func (f *Follower) Subscribe(ctx context.Context) error {
	sub, err := f.cfg.Bus.Subscribe(ctx, update.UpdatesChannel)
	if err != nil {
		return err
	}
	f.sub = sub
	f.cfg.Model.OnGap(func(src string) { f.askResync(ctx, src) })
	return nil
}

// Run follows the aggregators until ctx is done. It returns nil then.
func (f *Follower) Run(ctx context.Context) error {
	done := make(chan struct{})
	n := 0
	start := func(fn func(context.Context)) {
		n++
		go func() { fn(ctx); done <- struct{}{} }()
	}
	start(f.watchBus)
	if f.cfg.Hot != nil {
		start(f.seedHotspots)
	}
	if f.cfg.CatchUp {
		start(f.catchUp)
	}
	err := f.cfg.Model.Consume(ctx, f.sub)
	for range n {
		<-done
	}
	return err
}

// askResync asks source src ("*": every source) for a full state.
func (f *Follower) askResync(ctx context.Context, src string) {
	b, _ := json.Marshal(update.Control{Resync: src})
	if err := f.cfg.Bus.Publish(ctx, update.ControlChannel, b); err != nil && ctx.Err() == nil {
		f.cfg.Logger.Warn("live: resync request", "source", src, "err", err)
	}
}

// watchBus flags the screens stale while the live bus is away, and clears the flag after.
func (f *Follower) watchBus(ctx context.Context) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	stale := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := f.cfg.Bus.Health()
		if (err != nil) == stale {
			continue
		}
		stale = err != nil
		st := Status{Stale: stale, Since: f.cfg.Clock.Now()}
		if stale {
			st.Reason = "live_bus_unavailable"
			f.cfg.Logger.Warn("live bus unavailable: screens keep the last state, flagged stale", "err", err)
		} else {
			f.cfg.Logger.Info("live bus back")
		}
		if f.cfg.Hub != nil {
			f.cfg.Hub.SetStatus(st)
		}
	}
}

// catchUp asks every source for a resync while some partition's live state is missing.
func (f *Follower) catchUp(ctx context.Context) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if len(f.cfg.Model.ResetCut()) < f.cfg.Partitions {
			f.askResync(ctx, "*")
		}
	}
}

// seedHotspots loads the live hotspot windows from the history store: for every partition, the
// events up to the checkpoint of its source's first reset, after which its events arrive live.
// It waits for the first reset as long as it takes (an embedded aggregator replays its history
// first), then up to 30 s for the other partitions' and for the store to hold their cut.
func (f *Follower) seedHotspots(ctx context.Context) {
	wait := func(cond func() bool, limit time.Duration) bool {
		deadline := time.Now().Add(limit)
		for !cond() {
			if limit > 0 && time.Now().After(deadline) {
				return false
			}
			select {
			case <-ctx.Done():
				return false
			case <-time.After(50 * time.Millisecond):
			}
		}
		return true
	}
	m := f.cfg.Model
	if !wait(func() bool { return len(m.ResetCut()) > 0 }, 0) {
		return
	}
	wait(func() bool { return len(m.ResetCut()) >= f.cfg.Partitions }, 30*time.Second)
	cut := m.ResetCut()
	ps, _ := f.cfg.Store.(store.Partitioned)
	for p, upTo := range cut {
		view := f.cfg.Store
		if ps != nil {
			view = ps.Partition(p)
		}
		ok := wait(func() bool {
			cp, err := view.Checkpoint(ctx)
			return err == nil && cp >= upTo
		}, 30*time.Second)
		if !ok && ctx.Err() == nil {
			f.cfg.Logger.Warn("hotspot windows: history store behind the live state", "partition", p)
		}
	}
	if ctx.Err() != nil {
		return
	}
	if err := f.cfg.Hot.Seed(ctx, f.cfg.Store, cut); err != nil && ctx.Err() == nil {
		f.cfg.Logger.Error("hotspot windows: seed from history", "err", err)
	}
}
