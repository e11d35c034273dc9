// Package server is the thin HTTP and WebSocket transport (Fiber): it authenticates, parses
// requests, calls the domain (the ingest door, the read model, the history store) and maps
// errors to status codes.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"zhili/access"
	"zhili/alerts"
	"zhili/calendar"
	"zhili/catalog"
	"zhili/clock"
	"zhili/dashboard"
	"zhili/errs"
	"zhili/evaluation"
	"zhili/geo"
	"zhili/governance"
	"zhili/ingest"
	"zhili/roster"
	"zhili/store"
)

// Viewer is a viewer token in its short form (config view_tokens).
type Viewer struct {
	Name   string
	Region string     // subtree root the token is limited to; "" = everything
	PII    bool       // adds the officer role: personal fields in case timelines
	Roles  access.Set // zero: access.LegacyViewerRoles
}

// Config configures the transport.
type Config struct {
	Access     *access.Keyring           // principals from the access config (may be nil)
	IngestKeys map[string]*ingest.Policy // short form: source API key → policy
	ViewTokens map[string]Viewer         // short form: viewer token → scope
	DisplayCRS string                    // CRS of coordinates served to screens (wgs84, gcj02, bd09)
	// FrameAncestors is the CSP frame-ancestors source list: who may put the pages in a frame
	// (default "'self'"; a wall controller's origin, or "'none'").
	FrameAncestors string
	// Query periods: from no earlier than Earliest (default 2000-01-01), to at most a year
	// ahead, and at most MaxPeriod long (default 1,100 days: three years and their edges).
	Earliest  time.Time
	MaxPeriod time.Duration
	// QueryTimeout bounds a history query (the routes with Heavy): past it the query is
	// cancelled and answered 504 query_timeout (default 60 s).
	QueryTimeout time.Duration
	Loc          *time.Location
	Version      string
	Logger       *slog.Logger
	// Evaluation holds the weights and guards of the evaluation routes (zero: the defaults).
	Evaluation evaluation.Config
}

// Check is one readiness check. Err nil: ok. A check marked Degraded reports the server as
// degraded (still serving its last state) rather than unavailable.
type Check struct {
	Name     string
	Degraded bool
	Fn       func(ctx context.Context) error
}

// Deps are the domain objects the transport calls.
type Deps struct {
	Door   *ingest.Door
	Checks []Check // readiness checks beyond the store
	// Governance rules for case timelines and the whistle audit.
	Clocks   governance.Clocks
	Calendar *calendar.Calendar
	Hub      *dashboard.Hub
	Model    *dashboard.Model
	Store    store.Store
	Tree     *geo.Tree
	Clock    clock.Clock
	Registry *prometheus.Registry
	// AccessLog records personal-field reads, exports and access reloads (nil: none).
	AccessLog *access.Log
	// Catalog is the catalogue in force: category and department names (nil: the built-in one).
	Catalog *catalog.Live
	// Roster is the roster in force: units, cadres, grid staff, party organisations (nil: none).
	Roster *roster.Live
	// Alerts is the alerting (rules, engine, scan); nil: alerts are off in this process.
	Alerts *dashboard.Alerting
	// Notifier sends alerts to webhooks and keeps their dead letters (nil: none).
	Notifier *alerts.Notifier
	// Forecasts answers hourly volume forecasts (nil: none).
	Forecasts *dashboard.Forecasts
	// Briefings are the kept briefings (nil: none).
	Briefings Briefings
}

// Server is the HTTP server.
type Server struct {
	cfg   Config
	d     Deps
	app   *fiber.App
	ln    net.Listener
	once  sync.Once
	m     *httpMetrics
	keys  atomic.Pointer[keyring] // swapped whole by SetAccess
	heavy heavyGate
	// inflating holds the free inflation buffers (maxInflating; allocated when first used).
	inflating chan *[]byte
	// queries is the parent of every history query's context; Shutdown cancels it.
	queries     context.Context
	stopQueries context.CancelFunc
	qm          *queryMetrics
	// bodyLimit is the most body an ingest request may bring: twice the door's limit, so
	// that the door names the limit it exceeds.
	bodyLimit int
	pols      map[*access.Principal]*ingest.Policy
	rejects   *rejectTally        // lines refused at ingest since start, for the audits' reconcile
	facts     dashboard.FactCache // the audits' case facts while the store's data stay as they were
	eval      evalCache           // the units' figures of recent periods (evaluation)
	evalSurv  evalSurvCache       // the survey records in force (evaluation)
	// regionReplies are the encoded region outlines (regions.go).
	regionReplies regionCache
}

// New builds the server and its routes. A secret given twice panics: configuration is checked
// before (see Check).
func New(cfg Config, d Deps) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Loc == nil {
		cfg.Loc = time.UTC
	}
	if cfg.Earliest.IsZero() {
		cfg.Earliest = time.Date(2000, 1, 1, 0, 0, 0, 0, cfg.Loc)
	}
	if cfg.MaxPeriod <= 0 {
		cfg.MaxPeriod = 1100 * 24 * time.Hour
	}
	if cfg.FrameAncestors == "" {
		cfg.FrameAncestors = "'self'"
	}
	if cfg.QueryTimeout <= 0 {
		cfg.QueryTimeout = 60 * time.Second
	}
	started := time.Now()
	if d.Clock != nil {
		started = d.Clock.Now()
	}
	s := &Server{cfg: cfg, d: d, inflating: make(chan *[]byte, maxInflating), rejects: newRejectTally(started)}
	for range maxInflating {
		s.inflating <- new([]byte)
	}
	s.queries, s.stopQueries = context.WithCancel(context.Background())
	kr, err := newKeyring(cfg)
	if err != nil {
		panic("server: " + err.Error())
	}
	s.keys.Store(kr)
	bodyLimit := int64(8 << 20)
	if d.Door != nil {
		bodyLimit = d.Door.MaxBytes()
	}
	s.bodyLimit = int(2 * bodyLimit)
	s.app = fiber.New(fiber.Config{
		AppName:               "zhili",
		DisableStartupMessage: true,
		ErrorHandler:          s.errorHandler,
		// Bodies up to twice the ingest limit reach the handler so the door can name the
		// limit; larger ones are refused by fasthttp and reported by errorHandler.
		BodyLimit:    int(2 * bodyLimit),
		ReadTimeout:  30 * time.Second,
		WriteTimeout: 30 * time.Second,
		IdleTimeout:  120 * time.Second,
		// Read buffers go back to fasthttp's pool between requests instead of staying with an
		// idle connection. A WebSocket upgrade otherwise hands the request's 4 KB read buffer
		// to the upgraded connection for its whole life: 4 KB of every screen's memory.
		ReduceMemoryUsage: true,
		// The strings a handler gets (query, path and header values) are its own copies, not
		// views of fasthttp's request buffers, which the next request on the connection
		// overwrites: the caches key on them (region replies, the audits' fact memo). The
		// ingest door reads the body from fasthttp itself, uncopied.
		Immutable: true,
	})
	// Each request's body limit is set from its header, before the body is read.
	s.app.Server().HeaderReceived = s.headerReceived
	s.m = newHTTPMetrics(d.Registry)
	s.qm = newQueryMetrics(d.Registry)
	s.routes()
	return s
}

// Listen binds the address (":0" picks a free port) and returns the bound address. Call it
// before Serve so that callers know the address before any request arrives.
func (s *Server) Listen(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("listen %s: %w", addr, err)
	}
	s.ln = ln
	return ln.Addr().String(), nil
}

// Serve serves on the listener from Listen until Shutdown.
func (s *Server) Serve() error {
	if s.ln == nil {
		return errors.New("server: Listen first")
	}
	return s.app.Listener(s.ln)
}

// Shutdown cancels the running history queries (answered 503 shutting_down), stops accepting
// connections and waits for in-flight requests, bounded by ctx. WebSocket connections are
// closed by the hub's Shutdown. Idempotent.
func (s *Server) Shutdown(ctx context.Context) error {
	var err error
	s.once.Do(func() {
		s.stopQueries()
		err = s.app.ShutdownWithContext(ctx)
	})
	return err
}

// App exposes the Fiber app for in-process tests (app.Test).
func (s *Server) App() *fiber.App { return s.app }

func bearer(c *fiber.Ctx) string { return bearerOf(c.Get(fiber.HeaderAuthorization)) }

func bearerOf(h string) string {
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// authorizeTopic returns the hub's authorize func for a viewer.
func (s *Server) authorizeTopic(v *access.Principal) func(dashboard.Topic) error {
	return func(t dashboard.Topic) error {
		code := t.Region
		if code == "root" {
			code = s.d.Tree.Root.Code
			if !s.inTenant(v, code) {
				// "root" is a word every token knows: naming the tree's top says nothing of
				// another tenant, nor does this reply name its code.
				return errs.E(errs.Forbidden, "region", "token may not see region root: subscribe to its own region")
			}
		}
		if s.d.Tree.Get(code) == nil {
			return nil // the source reports unknown regions
		}
		if !s.inTenant(v, code) {
			// The reply of a region that does not exist (the sources' own).
			return errs.E(errs.UnknownTopic, "region", "unknown region %q", t.Region)
		}
		if !s.allows(v, code) {
			return errs.E(errs.Forbidden, "region", "token may not see region %s", code)
		}
		return nil
	}
}
