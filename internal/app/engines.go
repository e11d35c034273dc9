package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
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
	"zhili/geo"
	"zhili/intake"
	"zhili/server"
	"zhili/store"
)

// openEngines opens the history store, the intake log and the bus the configuration names.
func (a *App) openEngines() error {
	cfg := &a.cfg
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
	if cfg.scaled() {
		opt, err := redis.ParseURL(cfg.Redis)
		if err != nil {
			a.Store.Close()
			return fmt.Errorf("--redis: %w", err)
		}
		opt.MaxRetries = 1
		a.rdb = redis.NewClient(opt)
		prefix := "zhili:" + cfg.Tenant + ":"
		ri, err := intake.OpenRedis(ctx, a.rdb, intake.RedisOptions{Prefix: prefix, Partitions: cfg.Partitions,
			Consumer: cfg.Name})
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
	// A tail cut at open is said by name: acknowledged events may be in it if the file was
	// damaged after it was written.
	var cutBytes, cutEntries int64
	for _, d := range in.Damage() {
		cutBytes += d.Bytes
		cutEntries += int64(d.Entries)
		cfg.Logger.Warn("intake log: damaged tail cut at open; the bytes are kept aside",
			"file", d.File, "offset", d.Offset, "bytes", d.Bytes, "entries", d.Entries, "reason", d.Reason, "kept", d.Kept)
	}
	a.Reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "zhili_intake_damaged_tail_bytes",
			Help: "Bytes cut from the intake log's damaged tail when it was opened (kept aside as *.damaged-*)."},
			func() float64 { return float64(cutBytes) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "zhili_intake_damaged_tail_entries",
			Help: "Whole entries dropped with the intake log's damaged tail when it was opened."},
			func() float64 { return float64(cutEntries) }))
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
	if a.AccessLog != nil {
		out = append(out, a.AccessLog.Close())
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
	ac := aggregator.Config{Loc: c.Loc, Logger: c.Logger, Source: src, Part: part, CaseKeep: c.CaseKeep}
	if c.DataDir != "" {
		// The live state at a clean stop, taken on the next start instead of a full replay
		// when the store is still where it was (docs/ARCHITECTURE.md, "Restart").
		name := "live-state.snap"
		if src != "" {
			name = "live-state-" + src + ".snap"
		}
		ac.Snapshot = filepath.Join(c.DataDir, name)
	}
	if c.ClickHouse != "" {
		// Every INSERT has a fixed cost (a part per month and table): when catching up, bigger
		// batches; live, the 1 s interval still bounds the delay.
		ac.StoreBatch = 50000
	}
	return ac
}

// checks are the readiness checks beyond the store: the embedded aggregator's recovery, or the
// live bus and the intake log, whose absence degrades a scaled-out server (screens keep the
// last state; ingest answers 503).
func (a *App) checks() []server.Check {
	if agg := a.Agg; agg != nil {
		return []server.Check{{Name: "aggregator", Fn: func(context.Context) error {
			if !agg.Ready() {
				return errors.New("recovering")
			}
			return nil
		}}}
	}
	return []server.Check{
		{Name: "live_bus", Degraded: true, Fn: func(context.Context) error { return a.Bus.Health() }},
		{Name: "intake", Degraded: true, Fn: func(ctx context.Context) error { return a.rdb.Ping(ctx).Err() }},
	}
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
