package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"zhili/aggregator"
	"zhili/bus"
	"zhili/cluster"
	"zhili/dashboard"
	"zhili/event"
	"zhili/geo"
	"zhili/intake"
	"zhili/server"
	"zhili/store"
)

// Roles of a process.
const (
	RoleAll        = "all"        // everything in one process
	RoleServer     = "server"     // HTTP API, ingest (append only) and screens
	RoleAggregator = "aggregator" // owns intake partitions: aggregates and stores
)

// openEngines opens the history store, the intake log and the bus the configuration names.
func (a *App) openEngines() error {
	cfg := &a.cfg
	a.role = cfg.Role
	if a.role == "" {
		a.role = RoleAll
	}
	switch a.role {
	case RoleAll, RoleServer, RoleAggregator:
	default:
		return fmt.Errorf("unknown role %q (all, server, aggregator)", a.role)
	}
	a.scaled = cfg.Redis != ""
	if !a.scaled && a.role != RoleAll {
		return fmt.Errorf("role %s needs Redis (--redis): the processes share the intake streams and the live bus", a.role)
	}
	if a.scaled && cfg.Partitions <= 0 {
		cfg.Partitions = 4
		if cfg.ClickHouse == "" {
			cfg.Partitions = 1
		}
	}
	if a.scaled && cfg.ClickHouse == "" && (cfg.Partitions > 1 || a.role != RoleAll) {
		return errors.New("the embedded history store serves one process and one partition: use --clickhouse to scale out, or --role all --partitions 1")
	}
	if cfg.Tenant == "" {
		cfg.Tenant = "default"
	}
	if cfg.Name == "" {
		host, _ := os.Hostname()
		cfg.Name = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// History store.
	if cfg.ClickHouse != "" {
		ch, err := store.OpenClickHouse(ctx, cfg.ClickHouse, store.ClickHouseOptions{Loc: cfg.Loc})
		if err != nil {
			return fmt.Errorf("open ClickHouse history store: %w", err)
		}
		a.Store = ch
	} else {
		dsn := filepath.Join(cfg.DataDir, "history.duckdb")
		if cfg.StoreMemory != "" {
			dsn += "?memory_limit=" + url.QueryEscape(cfg.StoreMemory)
		}
		st, err := store.OpenDuckDB(dsn)
		if err != nil {
			return fmt.Errorf("open history store: %w", err)
		}
		a.Store = st
	}

	// Intake log and bus.
	if a.scaled {
		opt, err := redis.ParseURL(cfg.Redis)
		if err != nil {
			a.Store.Close()
			return fmt.Errorf("--redis: %w", err)
		}
		opt.MaxRetries = 1
		a.rdb = redis.NewClient(opt)
		prefix := "zhili:" + cfg.Tenant + ":"
		ri, err := intake.OpenRedis(ctx, a.rdb, intake.RedisOptions{Prefix: prefix, Partitions: cfg.Partitions,
			Consumer: cfg.Name, KeyOf: aggregator.PartitionKey})
		if err != nil {
			a.rdb.Close()
			a.Store.Close()
			return fmt.Errorf("open Redis intake: %w", err)
		}
		a.redisIn, a.In = ri, ri
		rb := bus.NewRedisBus(a.rdb, bus.RedisBusOptions{Prefix: prefix})
		a.Bus = rb
		a.Reg.MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "zhili_bus_gaps_total",
				Help: "Times a live-bus subscription found entries trimmed away before it read them."},
				func() float64 { return float64(rb.Gaps()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "zhili_bus_lost_total",
				Help: "Live-bus payloads trimmed before a subscription read them (the read model resyncs)."},
				func() float64 { return float64(rb.Lost()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "zhili_intake_durable",
				Help: "1 when Redis fsyncs every write (appendonly yes, appendfsync always), else 0."},
				func() float64 {
					if ri.Durable() {
						return 1
					}
					return 0
				}))
		return nil
	}
	cp, err := a.Store.Checkpoint(ctx)
	if err != nil {
		a.Store.Close()
		return fmt.Errorf("read history checkpoint: %w", err)
	}
	st := a.Store
	in, err := intake.OpenWAL(filepath.Join(cfg.DataDir, "intake"), intake.WALOptions{
		// Ids of events already stored (their log segments may be gone) stay known, and new
		// offsets always follow the store's checkpoint.
		KnownIDs:   func(fn func(id string) error) error { return st.EventIDs(context.Background(), fn) },
		StartAfter: cp,
	})
	if err != nil {
		a.Store.Close()
		return fmt.Errorf("open intake log: %w", err)
	}
	a.In = in
	a.Bus = bus.NewMemory(4096)
	return nil
}

func (a *App) closeEngines() error {
	var out []error
	if a.Bus != nil {
		a.Bus.Close()
	}
	if a.In != nil {
		out = append(out, a.In.Close())
	}
	if a.Store != nil {
		out = append(out, a.Store.Close())
	}
	if a.rdb != nil {
		a.rdb.Close()
	}
	return errors.Join(out...)
}

func (a *App) locator() geo.Locator { return geo.NewIndexedLocator(a.cfg.Tree) }

// aggConfig is the aggregator configuration of source src (partition part).
func (a *App) aggConfig(src string, part int) aggregator.Config {
	c := a.cfg
	ac := aggregator.Config{Rules: event.DefaultRules(), Loc: c.Loc, MaxLines: c.MaxLines, MaxBytes: c.MaxBytes,
		DisplayCRS: c.DisplayCRS, Logger: c.Logger, Source: src, Part: part}
	if c.ClickHouse != "" {
		// Every INSERT has a fixed cost (a part per month and table): when catching up, bigger
		// batches; live, the 1 s interval still bounds the delay.
		ac.StoreBatch = 50000
	}
	return ac
}

// checks are the readiness checks beyond the store: the live bus and the intake log, whose
// absence degrades a server (screens keep the last state; ingest answers 503).
func (a *App) checks() []server.Check {
	if !a.scaled {
		return nil
	}
	return []server.Check{
		{Name: "live_bus", Degraded: true, Fn: func(context.Context) error { return a.Bus.Health() }},
		{Name: "intake", Degraded: true, Fn: func(ctx context.Context) error { return a.rdb.Ping(ctx).Err() }},
	}
}

// watchLive flags the screens stale while the live bus is away, and clears the flag after.
func (a *App) watchLive() error {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	stale := false
	for {
		select {
		case <-a.runCtx.Done():
			return nil
		case <-t.C:
		}
		err := a.Bus.Health()
		if (err != nil) == stale {
			continue
		}
		stale = err != nil
		st := dashboard.Status{Stale: stale, Since: a.cfg.Clock.Now()}
		if stale {
			st.Reason = "live_bus_unavailable"
			a.cfg.Logger.Warn("live bus unavailable: screens keep the last state, flagged stale", "err", err)
		} else {
			a.cfg.Logger.Info("live bus back")
		}
		a.Hub.SetStatus(st)
	}
}

// catchUp asks every source for a resync while some partition's live state is missing (its
// first reset lost, or its aggregator not yet running), every 2 s.
func (a *App) catchUp() error {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-a.runCtx.Done():
			return nil
		case <-t.C:
		}
		if len(a.resetParts()) >= a.cfg.Partitions {
			continue
		}
		b, _ := json.Marshal(dashboard.Control{Resync: "*"})
		if err := a.Bus.Publish(a.runCtx, dashboard.ControlChannel, b); err != nil && a.runCtx.Err() == nil {
			a.cfg.Logger.Warn("live: resync request", "err", err)
		}
	}
}

// seedHotspots loads the live hotspot windows from the history store, up to where the live
// updates take over.
func (a *App) seedHotspots() error {
	ctx := a.runCtx
	wait := func(cond func() bool, limit time.Duration) bool {
		deadline := time.Now().Add(limit)
		for !cond() {
			if time.Now().After(deadline) {
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
	var err error
	if !a.scaled {
		if !wait(a.Agg.Ready, 24*time.Hour) {
			return nil
		}
		err = a.Hot.Seed(ctx, a.Store, a.Agg.StartCheckpoint())
	} else {
		// Live items of partition p follow the first reset of its source: seed up to that
		// reset's checkpoint, once the store holds it.
		n := a.cfg.Partitions
		wait(func() bool { return len(a.resetParts()) >= n }, 30*time.Second)
		cut := a.resetParts()
		ps, _ := a.Store.(store.Partitioned)
		for p, upTo := range cut {
			view := a.Store
			if ps != nil {
				view = ps.Partition(p)
			}
			ok := wait(func() bool {
				cp, err := view.Checkpoint(ctx)
				return err == nil && cp >= upTo
			}, 30*time.Second)
			if !ok && ctx.Err() == nil {
				a.cfg.Logger.Warn("hotspot windows: history store behind the live state", "partition", p)
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		err = a.Hot.SeedCut(ctx, a.Store, cut)
	}
	if err != nil && ctx.Err() == nil {
		a.cfg.Logger.Error("hotspot windows: seed from history", "err", err)
	}
	return nil
}

// resetParts maps each partition whose source sent a reset to that reset's checkpoint.
func (a *App) resetParts() map[int]uint64 {
	out := map[int]uint64{}
	for _, s := range a.Model.Sources() {
		if s.Reset {
			out[s.Part] = s.FirstCP
		}
	}
	return out
}

// startManager starts the partition manager: it takes partition leases and runs one
// aggregator per partition held.
func (a *App) startManager() {
	leases := cluster.NewRedisLeases(a.rdb, "zhili:"+a.cfg.Tenant+":", a.cfg.Name, a.cfg.LeaseTTL)
	ps, _ := a.Store.(store.Partitioned)
	loc := a.locator()
	a.Mgr = &cluster.Manager{Partitions: a.cfg.Partitions, Leases: leases, Logger: a.cfg.Logger,
		Run: func(pctx context.Context, p int) error {
			st := a.Store
			if ps != nil {
				st = ps.Partition(p)
			}
			ag := aggregator.New(a.aggConfig(fmt.Sprintf("p%d", p), p), a.redisIn.Partition(p), st, a.Bus,
				a.cfg.Tree, loc, a.cfg.Clock, a.aggM)
			runCtx, cancel := context.WithCancel(context.Background())
			defer cancel()
			errc := make(chan error, 1)
			go func() { errc <- ag.Run(runCtx) }()
			select {
			case err := <-errc:
				return err
			case <-pctx.Done():
			}
			if errors.Is(context.Cause(pctx), cluster.ErrLeaseLost) {
				cancel() // another process owns the partition now: stop at once
				<-errc
				return nil
			}
			sctx, scancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
			defer scancel()
			err := ag.Shutdown(sctx)
			cancel()
			<-errc
			return err
		}}
	ctx, stop := context.WithCancel(context.Background())
	a.mgrStop, a.mgrDone = stop, make(chan struct{})
	a.mgrLeases = leases
	go func() {
		defer close(a.mgrDone)
		a.Mgr.Serve(ctx)
	}()
}

// stopManager hands every partition over gracefully (drain, store, release the lease).
func (a *App) stopManager(ctx context.Context) {
	if a.mgrStop == nil {
		return
	}
	a.mgrStop()
	<-a.mgrDone
	a.Mgr.StopAll(ctx)
	_ = a.mgrLeases.Leave(context.WithoutCancel(ctx))
}

// listenOps binds the aggregator role's small HTTP server: /healthz, /readyz, /metrics.
func (a *App) listenOps() error {
	ln, err := net.Listen("tcp", a.cfg.Listen)
	if err != nil {
		return err
	}
	a.opsLn, a.Addr = ln, ln.Addr().String()
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(`{"status":"ok"}`)) })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		var bad []string
		if err := a.Store.Ping(ctx); err != nil {
			bad = append(bad, "store: "+err.Error())
		}
		if err := a.rdb.Ping(ctx).Err(); err != nil {
			bad = append(bad, "redis: "+err.Error())
		}
		held := []string{}
		if a.Mgr != nil {
			for _, p := range a.Mgr.Held() {
				held = append(held, fmt.Sprint(p))
			}
		}
		sort.Strings(held)
		w.Header().Set("Content-Type", "application/json")
		status := "ok"
		if len(bad) > 0 {
			status = "degraded"
		}
		fmt.Fprintf(w, `{"status":%q,"partitions":[%s],"problems":%q}`, status, strings.Join(held, ","), bad)
	})
	mux.Handle("/metrics", promhttp.HandlerFor(a.Reg, promhttp.HandlerOpts{}))
	a.ops = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	return nil
}
