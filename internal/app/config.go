package app

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"zhili/access"
	"zhili/calendar"
	"zhili/catalog"
	"zhili/clock"
	"zhili/evaluation"
	"zhili/event"
	"zhili/geo"
	"zhili/governance"
	"zhili/ingest"
	"zhili/roster"
	"zhili/server"
	"zhili/store"
)

// DefaultZone is the deployment time zone when none is given: "today" and day buckets.
const DefaultZone = "Asia/Shanghai"

// Roles of a process.
const (
	RoleAll        = "all"        // everything in one process
	RoleServer     = "server"     // HTTP API, ingest (append only) and screens
	RoleAggregator = "aggregator" // owns intake partitions: aggregates and stores
)

// Config configures a process. Zero values take the defaults, resolved once by New (resolve);
// every component gets resolved values and resolves no deployment default of its own.
type Config struct {
	Listen     string
	DataDir    string
	Tree       *geo.Tree      // nil: the small demo county
	Loc        *time.Location // deployment time zone (nil: DefaultZone)
	DisplayCRS string         // CRS of coordinates served to screens ("": wgs84)
	// FrameAncestors: who may frame the pages (CSP source list; "": 'self').
	FrameAncestors string
	Tick           time.Duration
	PushCoalesce   float64 // dashboard.HubConfig.Coalesce
	// CaseKeep: finished cases stay in the live state this long after their last event
	// (aggregator.Config.CaseKeep; 0: its default, 7 days).
	CaseKeep     time.Duration
	ClientQueue  int
	ClientQueueB int // bytes
	MaxLines     int
	MaxBytes     int64
	StoreMemory  string          // DuckDB memory_limit, e.g. "1GB" ("" = DuckDB's default, 80% of RAM)
	HexRes       int             // H3 resolution of the hex hotspot level (0 = default)
	HexMinLocal  int             // events a hex cell's neighbourhood needs to be hot (0 = default 3, < 0 none)
	Access       *access.Keyring // principals from the access config
	IngestKeys   map[string]*ingest.Policy
	ViewTokens   map[string]server.Viewer
	// Whistle clocks: Clocks, else ClocksFile over the defaults, else governance.DefaultClocks.
	Clocks     *governance.Clocks
	ClocksFile string
	// Catalog is the catalogue of category and department names (nil: catalog.Default()); its
	// categories are the ones ingest accepts.
	Catalog *catalog.Catalog
	// Roster is the roster of units, cadres, grid staff and party organisations (nil: none).
	Roster *roster.Roster
	// Evaluation holds the weights and guards of the evaluation (zero: the defaults).
	Evaluation evaluation.Config
	// Working-day calendar: Calendar, else the official one in Loc with CalendarFile on top.
	Calendar        *calendar.Calendar
	CalendarFile    string
	DemoRate        float64 // events/s of the built-in simulated feed; 0 = none
	DemoSeed        uint64
	ShutdownTimeout time.Duration // default 15 s
	QueryTimeout    time.Duration // a history query is cancelled after this long (default 60 s)
	Version         string

	// DemoHistory is how much past the demo starts with (0: none): generated once into an empty
	// data directory through the ingest path, then sent on as time passes (demo_history.go);
	// DemoHistoryPerDay its new cases on an ordinary working day (0: the simulate default).
	// DemoSeed seeds it as it seeds the feed (0: from the clock; zhili serve defaults to
	// simulate.DefaultDemoSeed).
	DemoHistory       time.Duration
	DemoHistoryPerDay float64

	// Decision support (docs/ALERTS.md, docs/SCAN.md). AlertRules: the rules file, watched and
	// reloaded (""; the built-in rules); AlertsOff: no alerting in this process; AlertsEvery:
	// how often the rules are evaluated (default 10 s); ScanEvery and ScanReplicates: the
	// space-time scan's cadence and Monte Carlo replicates (default 10 min and 14,999: with
	// sequential stopping a quiet scan runs few; < 0 replicates: no scan).
	AlertRules     string
	AlertsOff      bool
	AlertsEvery    time.Duration
	ScanEvery      time.Duration
	ScanReplicates int

	// The data-sufficiency rules of the hotspot topics and period view (0 = the defaults of
	// dashboard.HotspotFloors.Resolve: 30 events, 3 per neighbourhood, 10 time steps; < 0 none);
	// HotspotNormalTails: normal p-values, as ArcGIS.
	HotspotMinEvents, GridMinLocal, ChildMinLocal, EmergingMinSteps int
	HotspotNormalTails                                              bool

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

	wrapStore func(store.Store) store.Store // tests: wraps the history store once it is open
}

// scaled reports whether the process is part of a scaled-out deployment (Redis).
func (c *Config) scaled() bool { return c.Redis != "" }

// resolve fills every default and checks the combination. It is the one place where the
// deployment's defaults are decided.
func (c *Config) resolve() error {
	if c.Tree == nil {
		c.Tree = geo.DemoTree()
	}
	if c.Loc == nil {
		loc, err := time.LoadLocation(DefaultZone)
		if err != nil {
			return err
		}
		c.Loc = loc
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 15 * time.Second
	}
	if c.QueryTimeout <= 0 {
		c.QueryTimeout = 60 * time.Second
	}
	if c.AlertsEvery <= 0 {
		c.AlertsEvery = 10 * time.Second
	}
	if c.ScanEvery <= 0 {
		c.ScanEvery = 10 * time.Minute
	}
	switch {
	case c.ScanReplicates == 0:
		c.ScanReplicates = 14999
	case c.ScanReplicates < 0:
		c.ScanReplicates = 0 // no scan
	}
	switch c.DisplayCRS {
	case "":
		c.DisplayCRS = event.WGS84
	case event.WGS84, event.GCJ02, event.BD09:
	default:
		return fmt.Errorf("display CRS %q: must be wgs84, gcj02 or bd09", c.DisplayCRS)
	}
	if c.Catalog == nil {
		c.Catalog = catalog.Default()
	}
	if c.Calendar == nil {
		c.Calendar = calendar.Official(c.Loc, 2000, 2100)
		if c.CalendarFile != "" {
			if err := c.Calendar.LoadFile(c.CalendarFile); err != nil {
				return fmt.Errorf("calendar: %w", err)
			}
		}
	}
	if c.Clocks == nil {
		clocks := governance.DefaultClocks()
		if c.ClocksFile != "" {
			var err error
			if clocks, err = governance.LoadClocks(c.ClocksFile); err != nil {
				return fmt.Errorf("whistle clocks: %w", err)
			}
		}
		c.Clocks = &clocks
	}

	if c.Role == "" {
		c.Role = RoleAll
	}
	switch c.Role {
	case RoleAll, RoleServer, RoleAggregator:
	default:
		return fmt.Errorf("unknown role %q (all, server, aggregator)", c.Role)
	}
	if !c.scaled() && c.Role != RoleAll {
		return fmt.Errorf("role %s needs Redis (--redis): the processes share the intake streams and the live bus", c.Role)
	}
	if !c.scaled() {
		c.Partitions = 1
	} else if c.Partitions <= 0 {
		c.Partitions = 4
		if c.ClickHouse == "" {
			c.Partitions = 1
		}
	}
	if c.scaled() && c.ClickHouse == "" && (c.Partitions > 1 || c.Role != RoleAll) {
		return errors.New("the embedded history store serves one process and one partition: use --clickhouse to scale out, or --role all --partitions 1")
	}
	if c.Tenant == "" {
		c.Tenant = "default"
	}
	if c.Name == "" {
		host, _ := os.Hostname()
		c.Name = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if err := server.CheckAccess(server.Config{Access: c.Access, IngestKeys: c.IngestKeys, ViewTokens: c.ViewTokens}); err != nil {
		return fmt.Errorf("access: %w", err)
	}
	return nil
}
