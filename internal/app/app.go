// Package app wires one Zhili process: history store, intake log, bus, ingest door, aggregator,
// read model, hub and HTTP server, with Run(ctx) and an idempotent Shutdown(ctx). It holds no
// domain logic: cmd/zhili and the integration tests use it, so what is tested is what runs.
package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/metrics"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"zhili/access"
	"zhili/aggregator"
	"zhili/alerts"
	"zhili/briefing"
	"zhili/bus"
	"zhili/catalog"
	"zhili/cluster"
	"zhili/dashboard"
	"zhili/evaluation"
	"zhili/event"
	"zhili/ingest"
	"zhili/intake"
	"zhili/roster"
	"zhili/server"
	"zhili/simulate"
	"zhili/store"
)

// App is one running process.
type App struct {
	cfg   Config
	Addr  string // bound address, known after New
	Store store.Store
	In    intake.Intake
	Bus   bus.Bus
	Door  *ingest.Door           // nil in the aggregator role
	Agg   *aggregator.Aggregator // the embedded deployment's one aggregator; nil when scaled out
	Model *dashboard.Model       // the read model (nil in the aggregator role), with
	Hot   *dashboard.Hotspots    // its live hotspot windows,
	Hub   *dashboard.Hub         // the hub that serves its topics,
	Live  *dashboard.Follower    // and what keeps it in step with the aggregators
	Srv   *server.Server
	// AccessLog is this server's append-only access log (<data>/access.log).
	AccessLog *access.Log
	Mgr       *cluster.Manager // the partition manager (scaled out, roles all and aggregator)
	Reg       *prometheus.Registry

	// Catalog is the catalogue in force (names, and the categories ingest accepts); Store
	// replaces it for the requests and events that follow.
	Catalog *catalog.Live
	// Roster is the roster in force (units, cadres, grid staff, party organisations); Store
	// replaces it for the requests that follow.
	Roster *roster.Live
	// Decision support (server roles): hourly forecasts, and the alerting over the read model
	// (nil when alerts are off).
	Forecasts *dashboard.Forecasts
	Alerts    *dashboard.Alerting

	brief       *briefing.Service // the kept briefings (server roles)
	alertEngine *alerts.Engine
	alertRules  *alerts.Watcher
	alertLog    alerts.Log
	alertMarks  alerts.Log // the alert engine's watch marks
	notifier    *alerts.Notifier

	rdb       redis.UniversalClient
	redisIn   *intake.Redis
	aggM      *aggregator.Metrics
	ops       *http.Server // health and metrics of the aggregator role
	opsLn     net.Listener
	mgrStop   context.CancelFunc
	mgrLeases *cluster.RedisLeases
	mgrDone   chan struct{}

	runCtx   context.Context
	cancel   context.CancelFunc
	stopFeed context.CancelFunc
	wg       sync.WaitGroup
	errc     chan error
	once     sync.Once
	shutDone chan struct{} // closed when the shutdown has finished
	shutErr  error         // its result, set before shutDone is closed
}

// New resolves the configuration, opens storage and binds the listener (so Addr is known
// before serving).
func New(cfg Config) (*App, error) {
	if err := cfg.resolve(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	a := &App{cfg: cfg, errc: make(chan error, 8), Catalog: catalog.NewLive(cfg.Catalog), Roster: roster.NewLive(cfg.Roster)}
	a.Reg = prometheus.NewRegistry()
	a.Reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "zhili_go_heap_live_bytes",
			Help: "Bytes of heap the last garbage collection marked live: what the process holds, its garbage left out (RSS follows about twice this)."},
			heapLive))

	if err := a.openEngines(); err != nil {
		return nil, err
	}
	if cfg.wrapStore != nil {
		a.Store = cfg.wrapStore(a.Store)
	}
	a.aggM = aggregator.NewMetrics(a.Reg)
	if cfg.Role == RoleAggregator {
		if err := a.listenOps(); err != nil {
			a.closeEngines()
			return nil, err
		}
		return a, nil
	}
	al, err := access.OpenLog(filepath.Join(cfg.DataDir, "access.log"))
	if err != nil {
		a.closeEngines()
		return nil, err
	}
	a.AccessLog = al
	// In a scaled-out deployment the door only appends to the intake streams; the partition
	// owners (cluster.Manager) aggregate. The history store (every partition) tells the door
	// which region a case belongs to.
	rules := event.DefaultRules()
	rules.KnownCategory = func(code string) bool { return a.Catalog.Load().HasCategory(code) }
	subjects := evaluation.NewSubjects(a.Roster.Load)
	rules.KnownSubject = subjects.Known
	rules.KnownStaff = func(id string) bool { return a.Roster.Load().KnownStaff(id) }
	a.Door = ingest.New(ingest.Config{Rules: rules, MaxLines: cfg.MaxLines, MaxBytes: cfg.MaxBytes, Tree: cfg.Tree,
		Locator: a.locator(), Clock: cfg.Clock, Registry: a.Reg, Logger: cfg.Logger, Owners: a.Store,
		SubjectRegion: subjects.Region}, a.In)
	if !cfg.scaled() {
		a.Agg = aggregator.New(a.aggConfig("", 0), a.In, a.Store, a.Bus, cfg.Tree, a.locator(), cfg.Clock, a.aggM)
	}
	a.readModel()
	if err := a.openAlerts(); err != nil {
		a.closeEngines()
		return nil, err
	}
	if err := a.openBriefings(); err != nil {
		a.closeEngines()
		return nil, err
	}
	var brief server.Briefings
	if a.brief != nil {
		brief = briefings{a.brief}
	}
	a.Srv = server.New(server.Config{Access: cfg.Access, IngestKeys: cfg.IngestKeys, ViewTokens: cfg.ViewTokens, DisplayCRS: cfg.DisplayCRS, FrameAncestors: cfg.FrameAncestors,
		QueryTimeout: cfg.QueryTimeout, Loc: cfg.Loc, Version: cfg.Version, Logger: cfg.Logger, Evaluation: cfg.Evaluation},
		server.Deps{Door: a.Door, Clocks: *cfg.Clocks, Calendar: cfg.Calendar, Checks: a.checks(), Hub: a.Hub, Model: a.Model,
			Store: a.Store, Tree: cfg.Tree, Clock: cfg.Clock, Registry: a.Reg, AccessLog: a.AccessLog, Catalog: a.Catalog, Roster: a.Roster,
			Alerts: a.Alerts, Notifier: a.notifier, Forecasts: a.Forecasts, Briefings: brief})
	addr, err := a.Srv.Listen(cfg.Listen)
	if err != nil {
		a.closeEngines()
		return nil, err
	}
	a.Addr = addr
	return a, nil
}

// readModel builds the read model, its live hotspot windows, the hub and its topics.
func (a *App) readModel() {
	cfg := &a.cfg
	a.Model = dashboard.NewModel(dashboard.ModelConfig{Tree: cfg.Tree, Loc: cfg.Loc, DisplayCRS: cfg.DisplayCRS,
		Categories: cfg.Catalog.TopCategories(), Clock: cfg.Clock, Logger: cfg.Logger, Roster: a.Roster})
	a.Hot = dashboard.NewHotspots(cfg.Tree, cfg.Clock, dashboard.HotspotConfig{HexRes: cfg.HexRes, HexMinLocal: cfg.HexMinLocal,
		Floors: dashboard.HotspotFloors{MinEvents: cfg.HotspotMinEvents, GridMinLocal: cfg.GridMinLocal, ChildMinLocal: cfg.ChildMinLocal,
			MinSteps: cfg.EmergingMinSteps, NormalTails: cfg.HotspotNormalTails}})
	a.Model.SetHotspots(a.Hot)
	a.Hub = dashboard.NewHub(dashboard.HubConfig{Tick: cfg.Tick, Coalesce: cfg.PushCoalesce, ClientQueue: cfg.ClientQueue, ClientQueueBytes: cfg.ClientQueueB, Loc: cfg.Loc}, cfg.Clock)
	a.Model.OnChange(a.Hub.Poke)
	a.Hub.Register("overview", dashboard.OverviewSource{M: a.Model})
	a.Hub.Register("cases", dashboard.CasesSource{M: a.Model})
	a.Hub.Register("hotspots", dashboard.HotspotSource{H: a.Hot})
	a.Hub.Register("whistles", dashboard.WhistlesSource{M: a.Model, Clocks: *cfg.Clocks, Cal: cfg.Calendar})
	dashboard.RegisterMetrics(a.Reg, a.Model, a.Hub, cfg.Clock)
	a.Live = dashboard.NewFollower(dashboard.FollowConfig{Model: a.Model, Hot: a.Hot, Hub: a.Hub, Bus: a.Bus, Store: a.Store,
		Partitions: cfg.Partitions, CatchUp: cfg.scaled(), Clock: cfg.Clock, Logger: cfg.Logger})
}

func (a *App) goRun(name string, fn func() error) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if err := fn(); err != nil && !errors.Is(err, context.Canceled) {
			a.errc <- fmt.Errorf("%s: %w", name, err)
		}
	}()
}

// Start starts every component in the background.
func (a *App) Start() error {
	a.runCtx, a.cancel = context.WithCancel(context.Background())
	if a.cfg.Role != RoleAggregator {
		// The read model subscribes before the aggregator publishes its first full state.
		if err := a.Live.Subscribe(a.runCtx); err != nil {
			return err
		}
		a.goRun("live", func() error { return a.Live.Run(a.runCtx) })
		a.goRun("hub", func() error { return a.Hub.Run(a.runCtx) })
		a.goRun("http", a.Srv.Serve)
		a.startAlerts()
		a.startBriefings()
	} else {
		a.goRun("ops http", func() error {
			if err := a.ops.Serve(a.opsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		})
	}
	var feedCtx context.Context
	feedCtx, a.stopFeed = context.WithCancel(a.runCtx)
	if a.Agg != nil {
		a.goRun("aggregator", func() error {
			// The demo's history is stored first; the live state is then rebuilt from the store.
			if h, st := a.demoHistory(feedCtx); h != nil {
				a.goRun("demo history", func() error { return a.followDemoHistory(feedCtx, h, st) })
			}
			return a.Agg.Run(a.runCtx)
		})
	} else if a.cfg.Role != RoleServer {
		a.startManager()
	}
	if a.cfg.DemoRate > 0 && a.Door != nil {
		seed := a.cfg.DemoSeed
		if seed == 0 {
			seed = uint64(time.Now().UnixNano())
		}
		a.goRun("demo feed", func() error {
			for a.Agg != nil && !a.Agg.Ready() {
				select {
				case <-feedCtx.Done():
					return nil
				case <-time.After(50 * time.Millisecond):
				}
			}
			err := simulate.Run(feedCtx, simulate.Config{Tree: a.cfg.Tree, Seed: seed, Rate: a.cfg.DemoRate}, 0,
				func(ctx context.Context, body []byte) error {
					_, err := a.Door.Ingest(ctx, ingest.ContentNDJSON, body, nil)
					return err
				})
			if feedCtx.Err() != nil {
				return nil
			}
			return err
		})
	}
	return nil
}

// Run starts the process and blocks until ctx is done or a component fails, then shuts down.
func (a *App) Run(ctx context.Context) error {
	if err := a.Start(); err != nil {
		return err
	}
	var runErr error
	select {
	case <-ctx.Done():
		a.cfg.Logger.Info("shutting down")
	case runErr = <-a.errc:
		a.cfg.Logger.Error("stopping after a failure", "err", runErr)
	}
	sctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	return errors.Join(runErr, a.Shutdown(sctx))
}

// Ready reports whether the process is serving: the aggregator recovered (embedded), or the
// read model has live state (scaled-out server), or the partition manager runs (aggregator).
func (a *App) Ready() bool {
	switch {
	case a.Agg != nil:
		// Ready once the read model holds the replayed state, not merely once it was published:
		// a screen served between the two would see zeros.
		_, resets, _ := a.Model.Stats()
		return a.Agg.Ready() && resets > 0
	case a.cfg.Role == RoleAggregator:
		return a.Mgr != nil
	default:
		_, resets, _ := a.Model.Stats()
		return resets > 0
	}
}

// Shutdown stops the feed and new ingest, cancels running history queries, lets in-flight
// requests finish, applies and stores everything accepted, pushes the last deltas, closes
// sockets and storage. It returns by ctx's deadline whatever a component does: what has not
// finished by then goes on in the background, and the error says so. Idempotent: a later call
// waits for the same shutdown (bounded by its own ctx) and returns its result.
func (a *App) Shutdown(ctx context.Context) error {
	a.once.Do(func() {
		a.shutDone = make(chan struct{})
		go func() {
			defer close(a.shutDone)
			a.shutErr = a.shutdown(ctx)
		}()
	})
	select {
	case <-a.shutDone:
		return a.shutErr
	default:
	}
	select {
	case <-a.shutDone:
		return a.shutErr
	case <-ctx.Done():
		a.cfg.Logger.Warn("shutdown limit passed; the rest of the shutdown goes on in the background")
		return fmt.Errorf("shutdown: not finished within its limit: %w", ctx.Err())
	}
}

func (a *App) shutdown(ctx context.Context) error {
	log := a.cfg.Logger
	var errsOut []error
	if a.stopFeed != nil {
		a.stopFeed()
	}
	if a.Srv != nil {
		// Requests that do not end when told (history queries are cancelled) get half the time
		// left: the aggregator still has to store what was accepted.
		sctx, cancel := share(ctx, 2)
		if err := a.Srv.Shutdown(sctx); err != nil {
			log.Warn("http shutdown", "err", err)
		}
		cancel()
	}
	if a.Door != nil {
		a.Door.Drain()
	}
	if a.ops != nil {
		_ = a.ops.Shutdown(ctx)
	}
	if a.runCtx != nil && a.cfg.scaled() {
		a.stopManager(ctx)
	}
	if a.runCtx != nil && a.Agg != nil {
		if err := a.Agg.Shutdown(ctx); err != nil {
			errsOut = append(errsOut, err)
		}
		// Let the model take the last update, then push the last deltas.
		deadline := time.Now().Add(200 * time.Millisecond)
		for time.Now().Before(deadline) && len(a.errc) == 0 && ctx.Err() == nil {
			if u, _, _ := a.Model.Stats(); u > 0 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if ctx.Err() == nil {
			a.Hub.Tick()
		}
	}
	if a.Hub != nil {
		// Clients that do not read are not waited for beyond three quarters of the time left:
		// the rest is for closing storage.
		hctx, cancel := share(ctx, 4.0/3)
		if err := a.Hub.Shutdown(hctx); err != nil {
			log.Warn("hub shutdown", "err", err)
		}
		cancel()
	}
	if a.cancel != nil {
		a.cancel()
	}
	done := make(chan struct{})
	go func() { a.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		errsOut = append(errsOut, fmt.Errorf("shutdown: components still running: %w", ctx.Err()))
	}
	errsOut = append(errsOut, a.closeAlerts(ctx), a.closeEngines())
	log.Info("stopped")
	return errors.Join(errsOut...)
}

// share returns a context that ends when ctx does or once 1/div of the time ctx has left has
// passed, whichever is first.
func share(ctx context.Context, div float64) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, time.Duration(float64(time.Until(dl))/div))
}

// heapLive reads the runtime's live heap as of the last garbage collection.
func heapLive() float64 {
	sm := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(sm)
	if sm[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return float64(sm[0].Value.Uint64())
}
