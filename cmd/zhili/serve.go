package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	_ "net/http/pprof" // served only on --debug-listen
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"zhili/access"
	"zhili/geo"
	"zhili/ingest"
	"zhili/internal/app"
	"zhili/server"
	"zhili/simulate"
)

type serveFlags struct {
	config, listen, data, regions, regionsCRS, ingestKey, viewToken, tz, displayCRS, logLevel, debugListen, storeMemory, memoryLimit, frameAncestors string
	clickhouse, redisURL, role, tenant, name, calendarFile, clocksFile, catalog, roster                                                              string
	partitions                                                                                                                                       int
	leaseTTL                                                                                                                                         time.Duration
	demo, demoRateSet                                                                                                                                bool
	demoRate, demoPerDay, pushCoalesce                                                                                                               float64
	demoSeed                                                                                                                                         uint64
	demoHistory                                                                                                                                      days
	tick, shutdownTimeout, queryTimeout, caseKeep                                                                                                    time.Duration
	clientQueue, clientQueueBytes, maxLines, hexRes, hexMinLocal                                                                                     int
	hotspotMinEvents, gridMinLocal, childMinLocal, emergingMinSteps                                                                                  int
	hotspotNormalTails                                                                                                                               bool
	maxBytes                                                                                                                                         int64
	alertRules                                                                                                                                       string
	alertsOff                                                                                                                                        bool
	alertsEvery, scanEvery                                                                                                                           time.Duration
	scanReplicates                                                                                                                                   int
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f serveFlags
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.config, "config", "", "YAML config file (keys are flag names; also ingest_keys and view_tokens lists)")
	fs.StringVar(&f.listen, "listen", "127.0.0.1:8080", "address to listen on (port 0 picks a free port)")
	fs.StringVar(&f.data, "data", "zhili-data", "directory for embedded storage (history store and intake log)")
	fs.StringVar(&f.regions, "regions", "", "region GeoJSON file, or builtin:xinyang (Xinyang city: 10 real county outlines, 208 townships, 3,634 grids; the --demo default) or builtin:shihe (a small county); default DATA/regions.geojson when imported")
	fs.StringVar(&f.regionsCRS, "regions-crs", "wgs84", "coordinate system of the --regions file: wgs84, gcj02 or bd09")
	fs.IntVar(&f.hexRes, "hex-res", 8, "H3 resolution of the hex hotspot level (8 ≈ 0.74 km², 9 ≈ 0.1 km²)")
	fs.IntVar(&f.hexMinLocal, "hex-min-local", 3, "a hex cell is a hot spot only when it and its 6 neighbours hold at least this many events (-1: no floor)")
	fs.IntVar(&f.hotspotMinEvents, "hotspot-min-events", 0, "hot and cold spots only where the window or period holds at least this many events in the study area (0: the default 30; -1: no floor)")
	fs.IntVar(&f.gridMinLocal, "grid-min-local", 0, "a grid is a hot spot only when it and its neighbours hold at least this many events (0: the default 3; -1: no floor)")
	fs.IntVar(&f.childMinLocal, "child-min-local", 0, "a child region is a hot spot only when it and its neighbours hold at least this many events (0: the default 3; -1: no floor)")
	fs.IntVar(&f.emergingMinSteps, "emerging-min-steps", 0, "emerging-hotspot classes only when at least this many time steps hold data (0: the default 10; -1: no minimum)")
	fs.BoolVar(&f.hotspotNormalTails, "hotspot-normal-tails", false, "take hotspot p-values from the normal distribution as ArcGIS does (default: counts' own distribution)")
	fs.BoolVar(&f.demo, "demo", false, "the demo city (Xinyang) with its history going on live (--demo-history) or a simulated feed; generates keys when unset")
	f.demoHistory = days(simulate.DefaultHistorySpan)
	fs.Var(&f.demoHistory, "demo-history", "with --demo, the past the demo city starts with, e.g. 90d, 7d, 36h (0 = none): generated once into an empty --data through the ingest path, then going on in real time (embedded storage only)")
	fs.Float64Var(&f.demoPerDay, "demo-per-day", simulate.DefaultHistoryPerDay, "with --demo-history, the new cases of an ordinary working day, in the history and as it goes on")
	fs.Float64Var(&f.demoRate, "demo-rate", 5, "events per second of the demo's simulated feed, whose cases run 60 times faster (0 = none); with --demo-history, 0 unless given")
	fs.Uint64Var(&f.demoSeed, "demo-seed", simulate.DefaultDemoSeed, "seed of the demo history and feed: the same seed gives the same history (0 = from the clock)")
	fs.StringVar(&f.ingestKey, "ingest-key", "", "source API key accepted by POST /api/v1/events (all types, all regions)")
	fs.StringVar(&f.viewToken, "view-token", "", "viewer token for screens and read APIs (all regions)")
	fs.StringVar(&f.tz, "tz", app.DefaultZone, "deployment time zone: 'today' and day buckets")
	fs.StringVar(&f.frameAncestors, "frame-ancestors", "'self'", "CSP frame-ancestors: the origins that may show the pages in a frame (a wall controller's), or 'none'")
	fs.StringVar(&f.displayCRS, "display-crs", "wgs84", "coordinate system of points pushed to screens: wgs84, gcj02, bd09")
	fs.DurationVar(&f.tick, "tick", 200*time.Millisecond, "live push ceiling: every topic's delta leaves within one tick")
	fs.Float64Var(&f.pushCoalesce, "push-coalesce", 10, "adaptive push: under load wait this many times the last fan-out's write time before the next (-1: push on the tick only)")
	fs.DurationVar(&f.caseKeep, "case-keep", 7*24*time.Hour, "finished cases stay in the live state this long after their last event (the history store keeps them all); memory grows with the cases finished in this time")
	fs.IntVar(&f.clientQueue, "client-queue", 256, "frames queued per WebSocket client before it is resynced")
	fs.IntVar(&f.clientQueueBytes, "client-queue-bytes", 4<<20, "bytes queued per WebSocket client before it is resynced")
	fs.IntVar(&f.maxLines, "max-lines", 10000, "ingest: lines per request")
	fs.Int64Var(&f.maxBytes, "max-bytes", 8<<20, "ingest: bytes per request")
	fs.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 15*time.Second, "bound on graceful shutdown")
	fs.DurationVar(&f.queryTimeout, "query-timeout", 60*time.Second, "deadline of one history query (hotspots, audits, their exports): past it the query is cancelled and answered 504 query_timeout")
	fs.StringVar(&f.storeMemory, "store-memory", "1GB", "memory limit of the embedded history store (DuckDB memory_limit)")
	fs.StringVar(&f.memoryLimit, "memory-limit", "", "soft limit of this process's Go memory (heap, stacks, runtime; not the embedded store's), e.g. 600MiB: near it the garbage collector runs more often instead of letting the heap grow to twice what it holds, so memory stays flat (empty: GOMEMLIMIT, else none)")
	fs.StringVar(&f.clickhouse, "clickhouse", "", "ClickHouse DSN for the history store (clickhouse://host:9000/db); empty = embedded DuckDB")
	fs.StringVar(&f.redisURL, "redis", "", "Redis URL for the intake streams, live bus and partition leases (redis://host:6379/0); empty = embedded log and in-process bus")
	fs.StringVar(&f.role, "role", "all", "all, server (HTTP, ingest, screens) or aggregator (owns intake partitions); split roles need --redis and --clickhouse")
	fs.IntVar(&f.partitions, "partitions", 0, "intake partitions with --redis, fixed for a deployment (default 4; 1 without --clickhouse)")
	fs.StringVar(&f.tenant, "tenant", "default", "tenant: the key prefix in Redis (zhili:<tenant>:)")
	fs.StringVar(&f.name, "name", "", "this process in consumer groups and leases (default host-pid)")
	fs.DurationVar(&f.leaseTTL, "lease-ttl", 6*time.Second, "how long a dead aggregator keeps its partitions before another takes them over")
	fs.StringVar(&f.calendarFile, "calendar", "", "YAML file of official holidays and make-up working days by year, over the built-in arrangements (see docs/GOVERNANCE.md)")
	fs.StringVar(&f.catalog, "catalog", "", "catalogue `file` (YAML, or CSV ending in .csv) of category and department names; its categories are the ones ingest accepts (default DATA/catalog.yaml when imported, else the built-in one; SIGHUP reloads it)")
	fs.StringVar(&f.alertRules, "alert-rules", "", "alert rules `file` (YAML, docs/ALERTS.md): thresholds, forecast surges, hot spots, repeat complaints, space-time clusters, and webhooks; watched and reloaded (also on SIGHUP), a file that does not parse is refused whole and the rules in force stay (default: the built-in rules)")
	fs.BoolVar(&f.alertsOff, "alerts-off", false, "no alerting in this process (a scaled-out deployment runs it in one server)")
	fs.DurationVar(&f.alertsEvery, "alerts-every", 10*time.Second, "how often the alert rules are evaluated over the live figures")
	fs.DurationVar(&f.scanEvery, "scan-every", 10*time.Minute, "how often the space-time scan runs over the grids (docs/SCAN.md); its recurrence intervals count in these")
	fs.IntVar(&f.scanReplicates, "scan-replicates", 14999, "Monte Carlo replicates of the space-time scan (a recurrence interval of X days needs at least X days / scan-every; -1: no scan)")
	fs.StringVar(&f.roster, "roster", "", "roster `file` (YAML, or CSV / XLSX by its ending) of units, cadres, grid staff and party organisations, checked against the regions and the catalogue (default DATA/roster.yaml when imported, else with --demo the demo city's, else none; SIGHUP reloads it)")
	fs.StringVar(&f.clocksFile, "whistle-clocks", "", "YAML file of whistle clocks per kind and stage (signed, contacted, arrived: 1h, 24h, 3wd…), over the defaults")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn, error")
	fs.StringVar(&f.debugListen, "debug-listen", "", "address for Go profiling endpoints (/debug/pprof/); empty = off")
	file, err := parseFlags(fs, args, &f.config)
	if err != nil {
		return err
	}
	fs.Visit(func(fl *flag.Flag) { f.demoRateSet = f.demoRateSet || fl.Name == "demo-rate" })
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(f.logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))
	slog.SetDefault(log)

	if f.memoryLimit != "" {
		n, err := parseBytes(f.memoryLimit)
		if err != nil || n < 64<<20 {
			return fmt.Errorf("--memory-limit %q: a size of at least 64MiB, such as 600MiB or 2GiB", f.memoryLimit)
		}
		debug.SetMemoryLimit(n)
	}
	loc, err := time.LoadLocation(f.tz)
	if err != nil {
		return fmt.Errorf("--tz: %w", err)
	}
	if f.caseKeep < time.Minute {
		return fmt.Errorf("--case-keep %v: at least 1m (finished cases leave the live state this long after their last event)", f.caseKeep)
	}
	tree := geo.DemoTree()
	if f.regions == "" {
		if _, err := os.Stat(filepath.Join(f.data, regionsFile)); err == nil {
			f.regions = filepath.Join(f.data, regionsFile) // imported with `zhili import regions`
		}
	}
	if f.demo && f.regions == "" {
		f.regions = "builtin:xinyang" // the real demo geography
	}
	switch f.regions {
	case "builtin:shihe":
		f.regions = ""
	case "builtin:xinyang":
		// The Xinyang city demo geography: 10 real county outlines, generated townships and grids.
		t, err := geo.XinyangTree()
		if err != nil {
			return fmt.Errorf("--regions builtin:xinyang: %w", err)
		}
		tree, f.regions = t, ""
	}
	if f.regions != "" {
		b, err := os.ReadFile(f.regions)
		if err != nil {
			return fmt.Errorf("--regions: %w", err)
		}
		if tree, err = geo.ParseTreeOptions(b, geo.CheckOptions{Props: geo.DefaultProps, CRS: f.regionsCRS}); err != nil {
			return fmt.Errorf("--regions %s: %w", f.regions, err)
		}
	}
	cat, catalogPath, err := serveCatalog(f.catalog, f.data, tree)
	if err != nil {
		return err
	}
	ros, rosterPath, err := serveRoster(f.roster, f.data, tree, cat, f.demo, f.demoSeed)
	if err != nil {
		return err
	}
	if err := file.checkKeys(fs, append([]string{evaluationSection}, access.Sections...)...); err != nil {
		return err
	}
	evalCfg, err := file.evaluationConfig()
	if err != nil {
		return err
	}
	principals, err := access.ParseConfig(&file.Doc, file.Path, tree.Path)
	if err != nil {
		return err
	}
	tenants := len(principals.Tenants()) > 0
	if tenants && (f.ingestKey != "" || f.viewToken != "") {
		// A secret given outside the file has no tenant: it would see every tenant's data.
		return fmt.Errorf("%s: tenants are configured: --ingest-key and --view-token (or ZHILI_INGEST_KEY, ZHILI_VIEW_TOKEN, ingest_key:, view_token:) are of no tenant; give each secret in access, ingest_keys or view_tokens with its tenant", file.Path)
	}
	sources, readers := principals.Count(access.Of(access.Source)), principals.Count(access.Readers)
	if f.demo && !tenants && (f.ingestKey == "" && sources == 0 || f.viewToken == "" && readers == 0) {
		// Generated once per data directory, so bookmarked screen URLs survive a restart.
		k, t, err := demoAccess(f.data)
		if err != nil {
			return err
		}
		if f.ingestKey == "" && sources == 0 {
			f.ingestKey = k
		}
		if f.viewToken == "" && readers == 0 {
			f.viewToken = t
		}
	}
	keys := map[string]*ingest.Policy{}
	tokens := map[string]server.Viewer{}
	if f.ingestKey != "" {
		keys[f.ingestKey] = &ingest.Policy{Name: "default"}
		sources++
	}
	if f.viewToken != "" {
		tokens[f.viewToken] = server.Viewer{Name: "default"}
		readers++
	}
	if sources == 0 || readers == 0 {
		return errors.New("no ingest key or no viewer token: set --ingest-key and --view-token, or an access list in --config (or use --demo)")
	}

	a, err := app.New(app.Config{Catalog: cat, Roster: ros, Evaluation: evalCfg, CalendarFile: f.calendarFile, ClocksFile: f.clocksFile, Listen: f.listen, DataDir: f.data, Tree: tree, Loc: loc, DisplayCRS: f.displayCRS, FrameAncestors: f.frameAncestors,
		Tick: f.tick, PushCoalesce: f.pushCoalesce, CaseKeep: f.caseKeep, ClientQueue: f.clientQueue, ClientQueueB: f.clientQueueBytes, MaxLines: f.maxLines, MaxBytes: f.maxBytes, StoreMemory: f.storeMemory, HexRes: f.hexRes, HexMinLocal: f.hexMinLocal,
		HotspotMinEvents: f.hotspotMinEvents, GridMinLocal: f.gridMinLocal, ChildMinLocal: f.childMinLocal,
		EmergingMinSteps: f.emergingMinSteps, HotspotNormalTails: f.hotspotNormalTails,
		Access: principals, IngestKeys: keys, ViewTokens: tokens, DemoRate: demoRate(f), DemoSeed: f.demoSeed, DemoHistory: demoHistory(f), DemoHistoryPerDay: f.demoPerDay,
		ShutdownTimeout: f.shutdownTimeout, QueryTimeout: f.queryTimeout, Version: version, Logger: log,
		ClickHouse: f.clickhouse, Redis: f.redisURL, Role: f.role, Partitions: f.partitions, Tenant: f.tenant, Name: f.name, LeaseTTL: f.leaseTTL,
		AlertRules: f.alertRules, AlertsOff: f.alertsOff, AlertsEvery: f.alertsEvery, ScanEvery: f.scanEvery, ScanReplicates: f.scanReplicates})
	if err != nil {
		return err
	}
	if f.debugListen != "" {
		go func() {
			// Profiling stays off the public listener; bind it to loopback.
			if err := http.ListenAndServe(f.debugListen, nil); err != nil {
				log.Error("debug listener", "err", err)
			}
		}()
	}
	base := "http://" + a.Addr
	fmt.Fprintf(stderr, "listening on %s\n", base)
	if f.demo {
		printDemo(stdout, base, tree, demoLive(f), f.ingestKey, f.viewToken)
	}
	{
		// SIGHUP reloads the access list from the config file, the catalogue and the roster,
		// without a restart; one that does not parse is refused and the current one kept.
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-hup:
					reloadCatalog(a, catalogPath, tree, log)
					reloadRoster(a, rosterPath, tree, log)
					if err := a.ReloadAlertRules(); err != nil {
						log.Error("alert rules reload refused; the rules in force stay", "file", f.alertRules, "err", err)
					}
					if file.Path == "" {
						continue
					}
					n, err := reloadAccess(a, fs, file.Path, tree)
					if err != nil {
						log.Error("access reload refused; the current access list stays", "config", file.Path, "err", err)
						continue
					}
					log.Info("access list reloaded", "config", file.Path, "principals", n)
				}
			}
		}()
	}
	return a.Run(ctx)
}

// reloadAccess re-reads the access sections of the config file and hands them to the server.
func reloadAccess(a *app.App, fs *flag.FlagSet, path string, tree *geo.Tree) (int, error) {
	file, err := loadConfigFile(path)
	if err != nil {
		return 0, err
	}
	if err := file.checkKeys(fs, append([]string{evaluationSection}, access.Sections...)...); err != nil {
		return 0, err
	}
	k, err := access.ParseConfig(&file.Doc, file.Path, tree.Path)
	if err != nil {
		return 0, err
	}
	// The same checks as at start: with tenants, SetAccess refuses the command line's secrets.
	return k.Len(), a.Srv.SetAccess(k, path)
}

func demoRate(f serveFlags) float64 {
	if !f.demo || demoHistory(f) > 0 && !f.demoRateSet {
		// With a history, the live events are the history going on at its own pace: a feed
		// 60 times faster would dwarf it on every chart.
		return 0
	}
	return f.demoRate
}

// demoHistory is the span of the demo's history: embedded deployments only (scaled out, the
// history would need every aggregator's share of it before they start).
func demoHistory(f serveFlags) time.Duration {
	if !f.demo || f.redisURL != "" {
		return 0
	}
	return time.Duration(f.demoHistory)
}

// days is a duration flag that also takes whole days ("90d").
type days time.Duration

func (d *days) String() string {
	v := time.Duration(*d)
	if v > 0 && v%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", v/(24*time.Hour))
	}
	return v.String()
}

func (d *days) Set(s string) error {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		v, err := strconv.ParseFloat(n, 64)
		if err != nil || v < 0 {
			return fmt.Errorf("%q: days as a number, e.g. 90d", s)
		}
		*d = days(time.Duration(v * float64(24*time.Hour)))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return fmt.Errorf("%q: a duration such as 90d, 36h or 0", s)
	}
	*d = days(v)
	return nil
}

// demoAccess returns the demo's generated ingest key and viewer token, kept in the data
// directory (readable by its owner only).
func demoAccess(dir string) (key, token string, err error) {
	path := filepath.Join(dir, "demo-access.json")
	var v struct {
		IngestKey string `json:"ingest_key"`
		ViewToken string `json:"view_token"`
	}
	if b, err := os.ReadFile(path); err == nil && json.Unmarshal(b, &v) == nil && v.IngestKey != "" && v.ViewToken != "" {
		return v.IngestKey, v.ViewToken, nil
	}
	v.IngestKey, v.ViewToken = randomToken(), randomToken()
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", "", fmt.Errorf("--data: %w", err)
	}
	b, _ := json.Marshal(v)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return "", "", fmt.Errorf("demo keys: %w", err)
	}
	return v.IngestKey, v.ViewToken, nil
}

func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// demoLive says what the demo's data are.
func demoLive(f serveFlags) string {
	var out []string
	if demoHistory(f) > 0 {
		seed := "seed " + strconv.FormatUint(f.demoSeed, 10)
		if f.demoSeed == 0 {
			seed = "seed from the clock"
		}
		out = append(out, fmt.Sprintf("历史 History: the last %s (%s, about %.0f new cases a working day), stored at start unless --data holds it, then going on live; screens are ready when /readyz answers ok",
			f.demoHistory.String(), seed, f.demoPerDay))
	}
	if r := demoRate(f); r > 0 {
		out = append(out, fmt.Sprintf("模拟 Simulated feed: %g events/s, its cases 60 times faster", r))
	}
	if len(out) == 0 {
		return "no demo data (--demo-history 0 --demo-rate 0)"
	}
	return strings.Join(out, ";\n  ")
}

// demoLevels describes the levels of the tree: "10 县区 counties, 208 乡镇街道 townships, …".
func demoLevels(tree *geo.Tree) string {
	names := map[string]string{"city": "市", "county": "县区", "township": "乡镇街道", "grid": "网格"}
	var counts []int
	kinds := map[int]string{}
	tree.Walk(func(r *geo.Region) {
		if r.Level == 0 {
			return
		}
		for len(counts) < r.Level {
			counts = append(counts, 0)
		}
		counts[r.Level-1]++
		kinds[r.Level-1] = r.Kind
	})
	var out []string
	for i, n := range counts {
		k := kinds[i]
		switch {
		case names[k] != "":
			out = append(out, fmt.Sprintf("%s %s %s", thousands(n), names[k], plural(k, n)))
		case k != "":
			out = append(out, fmt.Sprintf("%s %s", thousands(n), plural(k, n)))
		default:
			out = append(out, fmt.Sprintf("%s regions at level %d", thousands(n), i+1))
		}
	}
	return strings.Join(out, ", ")
}

// thousands writes n with thousands separators: 3,634.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func plural(kind string, n int) string {
	switch {
	case n == 1:
		return kind
	case strings.HasSuffix(kind, "y"):
		return strings.TrimSuffix(kind, "y") + "ies"
	}
	return kind + "s"
}

func printDemo(w io.Writer, base string, tree *geo.Tree, live, key, token string) {
	fmt.Fprintf(w, `
Zhili demo: %s (%s): %s.
  %s.

  一张屏 Overview screen:   %s/?token=%s
  Kiosk (wall) mode:       %s/?token=%s&kiosk=1
  热点追踪 Hotspots:        %s/screen/hotspots?token=%s
  吹哨报到 Whistle board:   %s/screen/whistles?token=%s
  Wall playlist:           %s/?token=%s&kiosk=1&playlist=overview,hotspots,whistles&interval=60
  考核审计 Audit:           %s/audit?token=%s
  三评两比 Evaluation:      %s/evaluation?token=%s
  预警值班台 Alerts desk:   %s/alerts?token=%s
  研判周报 Weekly briefing: %s/briefing?token=%s
  干部名册 Roster:          %s/api/v1/roster/party?token=%s
  Region tree (GeoJSON):   %s/api/v1/regions?token=%s
  Series (24 h, hourly):   %s/api/v1/series?token=%s
  Metrics:                 %s/metrics

  Send events:  curl -H 'Authorization: Bearer %s' -H 'Content-Type: application/x-ndjson' \
                  --data-binary @events.ndjson %s/api/v1/events
  Simulate:     zhili simulate --url %s --key %s --rate 50 --duration 1m

`, tree.Root.Name, tree.Root.Code, demoLevels(tree), live, base, token, base, token, base, token, base, token, base, token, base, token,
		base, token, base, token, base, token, base, token, base, token, base, token, base,
		key, base, base, key)
}
