// Package app wires one Zhili process: history store, intake log, bus, aggregator, read model,
// hub and HTTP server, with Run(ctx) and an idempotent Shutdown(ctx). cmd/zhili and the
// end-to-end tests use it, so what is tested is what runs.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"zhili/aggregator"
	"zhili/bus"
	"zhili/calendar"
	"zhili/cluster"
	"zhili/dashboard"
	"zhili/event"
	"zhili/geo"
	"zhili/governance"
	"zhili/intake"
	"zhili/internal/clock"
	"zhili/server"
	"zhili/simulate"
	"zhili/store"
)

// Config configures a process.
type Config struct {
	Listen          string
	DataDir         string
	Tree            *geo.Tree
	Loc             *time.Location
	DisplayCRS      string
	Tick            time.Duration
	ClientQueue     int
	ClientQueueB    int // bytes
	MaxLines        int
	MaxBytes        int64
	StoreMemory     string // DuckDB memory_limit, e.g. "1GB" ("" = DuckDB's default, 80% of RAM)
	HexRes          int    // H3 resolution of the hex hotspot level (0 = default)
	HexMinLocal     int    // events a hex cell's neighbourhood needs to be hot (0 = default 3, < 0 none)
	IngestKeys      map[string]*aggregator.Policy
	ViewTokens      map[string]server.Viewer
	Clocks          *governance.Clocks // whistle clocks (nil: governance.DefaultClocks)
	Calendar        *calendar.Calendar // working-day calendar (nil: the official one in Loc)
	DemoRate        float64            // events/s of the built-in simulated feed; 0 = none
	DemoSeed        uint64
	ShutdownTimeout time.Duration
	Version         string

	// Production engines. Empty: the embedded defaults (DuckDB history, file intake log,
	// in-process bus).
	ClickHouse string        // ClickHouse DSN for the history store
	Redis      string        // Redis URL for the intake streams, the live bus and the partition leases
	Role       string        // all (default), server (HTTP + screens) or aggregator (the write path); split roles need Redis
	Partitions int           // intake partitions (Redis; default 4, 1 without ClickHouse)
	Tenant     string        // key prefix in Redis (default "default")
	Name       string        // this process in consumer groups and leases (default host-pid)
	LeaseTTL   time.Duration // how long a dead aggregator keeps its partitions (default 6 s)
	Logger     *slog.Logger
	Clock      clock.Clock
}

// App is one running process.
type App struct {
	cfg   Config
	Addr  string // bound address, known after New
	Store store.Store
	In    intake.Intake
	Bus   bus.Bus
	Agg   *aggregator.Aggregator
	Model *dashboard.Model
	Hot   *dashboard.Hotspots
	Hub   *dashboard.Hub
	Srv   *server.Server
	Reg   *prometheus.Registry

	scaled    bool // Redis: ingest appends to streams; partition owners aggregate
	role      string
	rdb       redis.UniversalClient
	redisIn   *intake.Redis
	Mgr       *cluster.Manager // the partition manager (scaled, roles all and aggregator)
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
	shutErr  error
}

// New opens storage and binds the listener (so Addr is known before serving).
func New(cfg Config) (*App, error) {
	if cfg.Tree == nil {
		cfg.Tree = geo.DemoTree()
	}
	if cfg.Loc == nil {
		loc, err := time.LoadLocation("Asia/Shanghai")
		if err != nil {
			return nil, err
		}
		cfg.Loc = loc
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 15 * time.Second
	}
	if cfg.DisplayCRS == "" {
		cfg.DisplayCRS = event.WGS84
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	a := &App{cfg: cfg, errc: make(chan error, 8)}
	a.Reg = prometheus.NewRegistry()
	a.Reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	if err := a.openEngines(); err != nil {
		return nil, err
	}
	a.aggM = aggregator.NewMetrics(a.Reg)
	// In a scaled-out deployment this aggregator only validates and appends to the intake
	// streams; the partition owners (cluster.Manager) aggregate.
	a.Agg = aggregator.New(a.aggConfig("", 0), a.In, a.Store, a.Bus, cfg.Tree, a.locator(), cfg.Clock, a.aggM)
	if a.role == RoleAggregator {
		if err := a.listenOps(); err != nil {
			a.closeEngines()
			return nil, err
		}
		return a, nil
	}
	a.Model = dashboard.NewModel(cfg.Tree, cfg.Loc, cfg.Clock, event.DefaultCategories, cfg.Logger)
	a.Hub = dashboard.NewHub(dashboard.HubConfig{Tick: cfg.Tick, ClientQueue: cfg.ClientQueue, ClientQueueBytes: cfg.ClientQueueB, Loc: cfg.Loc}, cfg.Clock)
	a.Hub.Register("overview", dashboard.OverviewSource{M: a.Model})
	a.Hub.Register("cases", dashboard.CasesSource{M: a.Model})
	a.Hot = dashboard.NewHotspots(cfg.Tree, cfg.Clock, dashboard.HotspotConfig{DisplayCRS: cfg.DisplayCRS, HexRes: cfg.HexRes, HexMinLocal: cfg.HexMinLocal})
	a.Model.SetHotspots(a.Hot)
	a.Hub.Register("hotspots", dashboard.HotspotSource{H: a.Hot})
	clocks := governance.DefaultClocks()
	if cfg.Clocks != nil {
		clocks = *cfg.Clocks
	}
	cal := cfg.Calendar
	if cal == nil {
		cal = calendar.Official(cfg.Loc, 2000, 2100)
	}
	a.Hub.Register("whistles", dashboard.WhistlesSource{M: a.Model, Clocks: clocks, Cal: cal})
	a.Reg.MustRegister(hubCollector{a.Hub})
	model := a.Model
	a.Reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "zhili_live_updates_applied_total",
		Help: "Updates from the aggregators applied to this server's read model."},
		func() float64 { u, _, _ := model.Stats(); return float64(u) }))
	a.Reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "zhili_live_source_gaps_total",
		Help: "Updates not applied because their source's sequence had a gap (each asks for a resync)."},
		func() float64 {
			var n uint64
			for _, s := range model.Sources() {
				n += s.Gaps
			}
			return float64(n)
		}))
	a.Reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "zhili_live_last_update_age_seconds",
		Help: "Seconds since the read model last received an update (-1: never)."},
		func() float64 {
			_, _, last := model.Stats()
			if last.IsZero() {
				return -1
			}
			return cfg.Clock.Now().Sub(last).Seconds()
		}))
	a.Srv = server.New(server.Config{IngestKeys: cfg.IngestKeys, ViewTokens: cfg.ViewTokens, MaxBytes: cfg.MaxBytes, DisplayCRS: cfg.DisplayCRS,
		Loc: cfg.Loc, Version: cfg.Version, Logger: cfg.Logger},
		server.Deps{Agg: a.Agg, IngestOnly: a.scaled, Clocks: &clocks, Calendar: cal, Checks: a.checks(), Hub: a.Hub, Model: a.Model, Store: a.Store,
			Tree: cfg.Tree, Clock: cfg.Clock, Registry: a.Reg})
	addr, err := a.Srv.Listen(cfg.Listen)
	if err != nil {
		a.closeEngines()
		return nil, err
	}
	a.Addr = addr
	return a, nil
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
	if a.role != RoleAggregator {
		// The model subscribes before the aggregator publishes its first full state.
		sub, err := a.Bus.Subscribe(a.runCtx, dashboard.UpdatesChannel)
		if err != nil {
			return err
		}
		a.Model.OnGap(func(src string) {
			b, _ := json.Marshal(dashboard.Control{Resync: src})
			if err := a.Bus.Publish(a.runCtx, dashboard.ControlChannel, b); err != nil {
				a.cfg.Logger.Warn("live: resync request", "source", src, "err", err)
			}
		})
		a.goRun("model", func() error { return a.Model.Consume(a.runCtx, sub) })
		a.goRun("hub", func() error { return a.Hub.Run(a.runCtx) })
		a.goRun("hotspot windows", a.seedHotspots)
		a.goRun("live status", a.watchLive)
		if a.scaled {
			a.goRun("live catch-up", a.catchUp)
		}
		a.goRun("http", a.Srv.Serve)
	} else {
		a.goRun("ops http", func() error {
			if err := a.ops.Serve(a.opsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		})
	}
	if !a.scaled {
		a.goRun("aggregator", func() error { return a.Agg.Run(a.runCtx) })
	} else if a.role != RoleServer {
		a.startManager()
	}
	var feedCtx context.Context
	feedCtx, a.stopFeed = context.WithCancel(a.runCtx)
	if a.cfg.DemoRate > 0 {
		seed := a.cfg.DemoSeed
		if seed == 0 {
			seed = uint64(time.Now().UnixNano())
		}
		a.goRun("demo feed", func() error {
			for !a.scaled && !a.Agg.Ready() {
				select {
				case <-feedCtx.Done():
					return nil
				case <-time.After(50 * time.Millisecond):
				}
			}
			err := simulate.Run(feedCtx, simulate.Config{Tree: a.cfg.Tree, Seed: seed, Rate: a.cfg.DemoRate}, 0,
				func(ctx context.Context, body []byte) error {
					_, err := a.Agg.Ingest(ctx, aggregator.ContentNDJSON, body, nil)
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
	case !a.scaled:
		return a.Agg.Ready()
	case a.role == RoleAggregator:
		return a.Mgr != nil
	default:
		_, resets, _ := a.Model.Stats()
		return resets > 0
	}
}

// Shutdown stops the feed and new ingest, lets in-flight requests finish, applies and stores
// everything accepted, pushes the last deltas, closes sockets and storage. Idempotent;
// bounded by ctx.
func (a *App) Shutdown(ctx context.Context) error {
	a.once.Do(func() {
		log := a.cfg.Logger
		var errsOut []error
		if a.stopFeed != nil {
			a.stopFeed()
		}
		if a.Srv != nil {
			if err := a.Srv.Shutdown(ctx); err != nil {
				log.Warn("http shutdown", "err", err)
			}
		}
		if a.ops != nil {
			_ = a.ops.Shutdown(ctx)
		}
		if a.runCtx != nil && a.scaled {
			a.stopManager(ctx)
		}
		if a.runCtx != nil && !a.scaled {
			if err := a.Agg.Shutdown(ctx); err != nil {
				errsOut = append(errsOut, err)
			}
			// Let the model take the last update, then push the last deltas.
			deadline := time.Now().Add(200 * time.Millisecond)
			for time.Now().Before(deadline) && len(a.errc) == 0 {
				if u, _, _ := a.Model.Stats(); u > 0 {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			a.Hub.Tick()
		}
		if a.Hub != nil {
			if err := a.Hub.Shutdown(ctx); err != nil {
				log.Warn("hub shutdown", "err", err)
			}
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
		errsOut = append(errsOut, a.closeEngines())
		a.shutErr = errors.Join(errsOut...)
		log.Info("stopped")
	})
	return a.shutErr
}

// hubCollector exports the hub's counters on every scrape.
type hubCollector struct{ h *dashboard.Hub }

var (
	hubClientsDesc  = prometheus.NewDesc("zhili_ws_clients", "Connected WebSocket clients.", nil, nil)
	hubTopicsDesc   = prometheus.NewDesc("zhili_ws_topics", "Open live topics.", nil, nil)
	hubMessagesDesc = prometheus.NewDesc("zhili_ws_messages_total", "Messages written to clients.", nil, nil)
	hubFramesDesc   = prometheus.NewDesc("zhili_ws_frames_total", "WebSocket frames written.", nil, nil)
	hubBytesDesc    = prometheus.NewDesc("zhili_ws_bytes_total", "Bytes written to WebSocket clients.", nil, nil)
	hubResyncsDesc  = prometheus.NewDesc("zhili_ws_resyncs_total", "Slow clients resynced with snapshots.", nil, nil)
	hubSlowDesc     = prometheus.NewDesc("zhili_ws_slow_disconnects_total", "Clients closed for resyncing too often.", nil, nil)
	hubWriteErrDesc = prometheus.NewDesc("zhili_ws_write_errors_total", "Clients closed on write errors.", nil, nil)
)

func (c hubCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{hubClientsDesc, hubTopicsDesc, hubMessagesDesc, hubFramesDesc, hubBytesDesc, hubResyncsDesc, hubSlowDesc, hubWriteErrDesc} {
		ch <- d
	}
}

func (c hubCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.h.Stats()
	ch <- prometheus.MustNewConstMetric(hubClientsDesc, prometheus.GaugeValue, float64(s.Clients))
	ch <- prometheus.MustNewConstMetric(hubTopicsDesc, prometheus.GaugeValue, float64(len(s.Topics)))
	ch <- prometheus.MustNewConstMetric(hubMessagesDesc, prometheus.CounterValue, float64(s.Messages))
	ch <- prometheus.MustNewConstMetric(hubFramesDesc, prometheus.CounterValue, float64(s.Frames))
	ch <- prometheus.MustNewConstMetric(hubBytesDesc, prometheus.CounterValue, float64(s.Bytes))
	ch <- prometheus.MustNewConstMetric(hubResyncsDesc, prometheus.CounterValue, float64(s.Resyncs))
	ch <- prometheus.MustNewConstMetric(hubSlowDesc, prometheus.CounterValue, float64(s.SlowDisconnects))
	ch <- prometheus.MustNewConstMetric(hubWriteErrDesc, prometheus.CounterValue, float64(s.WriteErrors))
}
