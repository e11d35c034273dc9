package server

import (
	"context"
	"io/fs"
	"mime"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"zhili/access"
	"zhili/assets"
	"zhili/dashboard"
	"zhili/errs"
	"zhili/event"
	"zhili/governance"
	"zhili/store"
)

type httpMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newHTTPMetrics(reg *prometheus.Registry) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zhili_http_requests_total",
			Help: "HTTP requests by route and status."}, []string{"route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "zhili_http_request_seconds",
			Help: "HTTP request latency by route.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"route"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.latency)
	}
	return m
}

func (s *Server) instrument(c *fiber.Ctx) error {
	start := time.Now()
	err := c.Next()
	route := c.Route().Path
	st := c.Response().StatusCode()
	if err != nil {
		if fe, ok := err.(*fiber.Error); ok {
			st = fe.Code
		} else if code, ok := statusOf[errs.CodeOf(err)]; ok {
			st = code
		}
	}
	s.m.requests.WithLabelValues(route, strconv.Itoa(st)).Inc()
	s.m.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
	return err
}

func (s *Server) routes() {
	a := s.app
	a.Use(s.instrument, s.securityHeaders)
	handlers := map[string]fiber.Handler{
		"GET /healthz": func(c *fiber.Ctx) error {
			return c.JSON(fiber.Map{"status": "ok", "version": s.cfg.Version})
		},
		"GET /readyz":                  s.readyz,
		"GET /metrics":                 s.metrics,
		"POST /api/v1/events":          s.ingest,
		"POST /api/v1/events/versions": s.versions,
		"GET /api/v1/regions":          s.regions,
		"GET /api/v1/catalog":          s.catalogue,
		"GET /api/v1/series":           s.series,
		"GET /api/v1/counts":           s.counts,
		"GET /api/v1/hotspots":         s.hotspots,
		"GET /api/v1/hexes":            s.hexes,
		"GET /api/v1/cases/:id":        s.caseTimeline,
		"GET /api/v1/audit/rates":      s.auditRates,
		"GET /api/v1/audit/whistles":   s.auditWhistles,
		"GET /api/v1/audit/cases":      s.auditCases,
		"GET /api/v1/access-log":       s.accessLog,
		"GET /ws":                      s.websocket(),
		"GET /openapi.yaml": func(c *fiber.Ctx) error {
			c.Set(fiber.HeaderContentType, "application/yaml; charset=utf-8")
			return c.Send(openAPI)
		},
		"GET /*": s.static,
	}
	for k, h := range s.rosterRoutes() {
		handlers[k] = h
	}
	for k, h := range s.evalRoutes() {
		handlers[k] = h
	}
	for k, h := range s.alertRoutes() {
		handlers[k] = h
	}
	for k, h := range s.briefingRoutes() {
		handlers[k] = h
	}
	// Every route comes from the access table, with the roles it admits.
	for _, r := range Rules {
		h := handlers[r.Method+" "+r.Path]
		if h == nil {
			panic("server: no handler for " + r.Method + " " + r.Path)
		}
		if r.Public {
			a.Add(r.Method, r.Path, h)
		} else {
			a.Add(r.Method, r.Path, s.require(r.Roles, r.Heavy), h)
		}
		delete(handlers, r.Method+" "+r.Path)
	}
	for k := range handlers {
		panic("server: " + k + " is not in the access table")
	}
}

// securityHeaders: no framing but by the configured ancestors, no referrer (tokens travel in
// screen URLs), no content sniffing.
func (s *Server) securityHeaders(c *fiber.Ctx) error {
	s.setSecurityHeaders(c)
	return c.Next()
}

// setSecurityHeaders sets the headers every reply carries: also the ones written before the
// routes run (the HTTP parser's refusals go through errorHandler).
func (s *Server) setSecurityHeaders(c *fiber.Ctx) {
	c.Set(fiber.HeaderContentSecurityPolicy, "frame-ancestors "+s.cfg.FrameAncestors)
	c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
}

func (s *Server) metrics(c *fiber.Ctx) error {
	if s.d.Registry == nil {
		return errs.E(errs.NotFound, "metrics", "no metrics registry")
	}
	return adaptor.HTTPHandler(promhttp.HandlerFor(s.d.Registry, promhttp.HandlerOpts{}))(c)
}

func (s *Server) readyz(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	checks := fiber.Map{}
	ok := true
	if err := s.d.Store.Ping(ctx); err != nil {
		checks["store"], ok = err.Error(), false
	} else {
		checks["store"] = "ok"
	}
	degraded := false
	for _, ch := range s.d.Checks {
		if err := ch.Fn(ctx); err != nil {
			checks[ch.Name] = err.Error()
			if ch.Degraded {
				degraded = true
			} else {
				ok = false
			}
		} else {
			checks[ch.Name] = "ok"
		}
	}
	if !ok {
		return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "unavailable", "checks": checks})
	}
	if degraded {
		// Screens are still served from the last state (flagged stale); ingest answers 503.
		return c.JSON(fiber.Map{"status": "degraded", "checks": checks})
	}
	return c.JSON(fiber.Map{"status": "ok", "checks": checks})
}

func (s *Server) ingest(c *fiber.Ctx) error {
	pol, body, release, err := s.sourceBody(c)
	defer release()
	if err != nil {
		return err
	}
	// The body is only valid during the handler; the door copies what it keeps.
	reply, err := s.d.Door.Ingest(c.UserContext(), c.Get(fiber.HeaderContentType), body, pol)
	if err != nil {
		return err
	}
	s.rejects.add(principal(c).Tenant, reply.Rejected)
	return c.JSON(reply)
}

// versions tells a source, for each event of the body, whether the history store holds its id,
// which version is in force and whether the body's content is that version's (ingest.Door.Versions).
func (s *Server) versions(c *fiber.Ctx) error {
	pol, body, release, err := s.sourceBody(c)
	defer release()
	if err != nil {
		return err
	}
	reply, err := s.d.Door.Versions(c.UserContext(), c.Get(fiber.HeaderContentType), body, pol,
		func(ctx context.Context, ids []string) (map[string][]event.Event, error) {
			held, err := s.d.Store.Versions(ctx, ids)
			if err != nil {
				return nil, err
			}
			out := make(map[string][]event.Event, len(held))
			for id, rs := range held {
				evs := make([]event.Event, len(rs))
				for i := range rs {
					evs[i] = rs[i].Event
				}
				out[id] = evs
			}
			return out, nil
		})
	if err != nil {
		return err
	}
	return c.JSON(reply)
}

// timeParam parses a time parameter: RFC 3339, or a date YYYY-MM-DD in the deployment zone.
func (s *Server) timeParam(name, v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation("2006-01-02", v, s.cfg.Loc); err == nil {
		return t, nil
	}
	return time.Time{}, errs.E(errs.Invalid, name, "%s must be RFC 3339 or YYYY-MM-DD", name)
}

// period parses from/to (timeParam) with defaults.
func (s *Server) period(c *fiber.Ctx, defSpan time.Duration) (time.Time, time.Time, error) {
	to := s.d.Clock.Now()
	if v := c.Query("to"); v != "" {
		t, err := s.timeParam("to", v)
		if err != nil {
			return time.Time{}, time.Time{}, err
		}
		to = t
	}
	from := to.Add(-defSpan)
	if v := c.Query("from"); v != "" {
		t, err := s.timeParam("from", v)
		if err != nil {
			return time.Time{}, time.Time{}, err
		}
		from = t
	}
	if !from.Before(to) {
		return time.Time{}, time.Time{}, errs.E(errs.Invalid, "from", "from must be before to")
	}
	if lo, hi := s.cfg.Earliest, s.d.Clock.Now().AddDate(1, 0, 0); from.Before(lo) || to.After(hi) {
		return time.Time{}, time.Time{}, errs.E(errs.Invalid, "period_bounds", "from and to must lie between %s and %s",
			lo.In(s.cfg.Loc).Format("2006-01-02"), hi.In(s.cfg.Loc).Format("2006-01-02"))
	}
	if span := to.Sub(from); span > s.cfg.MaxPeriod {
		return time.Time{}, time.Time{}, errs.E(errs.TooLarge, "max_period", "the period spans %d days, at most %d",
			int(span.Hours()/24), int(s.cfg.MaxPeriod.Hours()/24))
	}
	return from, to, nil
}

func (s *Server) regionParam(c *fiber.Ctx, v *access.Principal) (code string, depth int, err error) {
	code = c.Query("region", "root")
	if code == "root" {
		if code, err = s.home(v); err != nil {
			return "", 0, err
		}
	}
	r := s.d.Tree.Get(code)
	if r == nil || !s.inTenant(v, r.Code) {
		return "", 0, unknownRegion("region", code)
	}
	if !s.allows(v, r.Code) {
		return "", 0, errs.E(errs.Forbidden, "region", "token may not see region %s", r.Code)
	}
	return r.Code, r.Level, nil
}

func typesParam(c *fiber.Ctx) ([]event.Type, error) {
	v := c.Query("type")
	if v == "" {
		return nil, nil
	}
	var out []event.Type
	for _, t := range strings.Split(v, ",") {
		et := event.Type(strings.TrimSpace(t))
		if !et.Known() {
			return nil, errs.E(errs.Invalid, "type", "unknown event type %q", t)
		}
		out = append(out, et)
	}
	return out, nil
}

// periodQuery holds the parameters shared by the period endpoints.
type periodQuery struct {
	region   string
	depth    int
	from, to time.Time
	category string
	types    []event.Type
}

// periodParams authenticates and parses region, from, to, category and type.
func (s *Server) periodParams(c *fiber.Ctx) (periodQuery, error) {
	var q periodQuery
	var err error
	if q.region, q.depth, err = s.regionParam(c, principal(c)); err != nil {
		return q, err
	}
	if q.from, q.to, err = s.period(c, 24*time.Hour); err != nil {
		return q, err
	}
	if q.types, err = typesParam(c); err != nil {
		return q, err
	}
	q.category = c.Query("category")
	return q, nil
}

func (s *Server) series(c *fiber.Ctx) error {
	p, err := s.periodParams(c)
	if err != nil {
		return err
	}
	step := time.Hour
	if sv := c.Query("step"); sv != "" {
		if step, err = parseStep(sv); err != nil {
			return err
		}
	}
	q := store.SeriesQuery{Region: dashboard.StoreRegion(s.d.Tree, p.region), From: p.from, To: p.to, Step: step, Category: p.category, Types: p.types, Loc: s.cfg.Loc}
	pts, err := s.d.Store.Series(c.UserContext(), q)
	if err != nil {
		return err
	}
	out := fiber.Map{"region": p.region, "from": p.from.In(s.cfg.Loc), "to": p.to.In(s.cfg.Loc), "step": c.Query("step", "1h"),
		"category": p.category, "points": pts}
	// The period starts before the history of reports: its first points are zeros of no data.
	if at := s.historyAfter(c, p.from); at != nil {
		out["history_begins"] = at
	}
	return c.JSON(out)
}

// historyAfter is the store's earliest case report in the deployment's zone when it comes
// after from (a period starting before the history), else nil.
func (s *Server) historyAfter(c *fiber.Ctx, from time.Time) *time.Time {
	at, ok := dashboard.HistoryBegins(c.UserContext(), s.d.Store)
	if !ok || !at.After(from) {
		return nil
	}
	at = at.In(s.cfg.Loc)
	return &at
}

// parseStep accepts Go durations and d/w suffixes (1d, 7d, 1w).
func parseStep(v string) (time.Duration, error) {
	mult := time.Duration(0)
	switch {
	case strings.HasSuffix(v, "d"):
		mult = 24 * time.Hour
	case strings.HasSuffix(v, "w"):
		mult = 7 * 24 * time.Hour
	}
	if mult > 0 {
		n, err := strconv.Atoi(strings.TrimRight(v, "dw"))
		if err != nil || n <= 0 {
			return 0, errs.E(errs.Invalid, "step", "bad step %q", v)
		}
		return time.Duration(n) * mult, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < time.Minute {
		return 0, errs.E(errs.Invalid, "step", "step must be a duration of at least 1m (e.g. 15m, 1h, 1d)")
	}
	return d, nil
}

func (s *Server) counts(c *fiber.Ctx) error {
	p, err := s.periodParams(c)
	if err != nil {
		return err
	}
	rc, err := s.d.Store.RegionCounts(c.UserContext(), store.RegionQuery{Region: p.region, Depth: p.depth, From: p.from, To: p.to, Category: p.category, Types: p.types})
	if err != nil {
		return err
	}
	if rc == nil {
		rc = []store.RegionCount{}
	}
	return c.JSON(fiber.Map{"region": p.region, "from": p.from.In(s.cfg.Loc), "to": p.to.In(s.cfg.Loc), "category": p.category, "children": rc})
}

// hotspots answers Gi* (and emerging-hotspot classes with step=) for any period.
func (s *Server) hotspots(c *fiber.Ctx) error {
	p, err := s.periodParams(c)
	if err != nil {
		return err
	}
	q := dashboard.HotspotQuery{Region: p.region, From: p.from, To: p.to, Level: c.Query("level"), Category: p.category,
		Types: p.types, DisableFDR: c.Query("fdr") == "false", Loc: s.cfg.Loc, Per: c.Query("per"),
		Floors: s.d.Model.HotspotFloors()} // the live topics' data-sufficiency rules
	if sv := c.Query("step"); sv != "" {
		if q.Step, err = parseStep(sv); err != nil {
			return err
		}
		q.Emerging = true
	}
	rep, err := dashboard.PeriodHotspots(c.UserContext(), s.d.Store, s.d.Tree, q)
	if err != nil {
		return err
	}
	rep.HistoryBegins = s.historyAfter(c, p.from)
	return c.JSON(rep)
}

// caseTimeline returns a case's events in order, personal fields masked.
func (s *Server) caseTimeline(c *fiber.Ctx) error {
	v := principal(c)
	pii := v.Roles.Has(access.Officer)
	id, err := url.PathUnescape(c.Params("id")) // case ids are any UTF-8
	if err != nil {
		return errs.E(errs.Invalid, "id", "case id is not a valid URL path segment")
	}
	recs, err := s.d.Store.CaseEvents(c.UserContext(), id)
	if err != nil {
		return err
	}
	if len(recs) == 0 || !s.caseInTenant(v, recs) {
		return unknownCase(id)
	}
	type item struct {
		event.Event
		Region   []string  `json:"region_path"`
		Received time.Time `json:"received"`
	}
	out := make([]item, 0, len(recs))
	evs := make([]event.Event, 0, len(recs))
	for _, r := range recs {
		if len(r.RegionPath) > 0 && !s.allows(v, r.RegionPath[len(r.RegionPath)-1]) {
			return errs.E(errs.Forbidden, "region", "token may not see this case")
		}
		evs = append(evs, r.Event)
		ev := r.Event
		if !pii {
			maskPII(&ev)
		}
		out = append(out, item{Event: ev, Region: r.RegionPath, Received: r.Received.In(s.cfg.Loc)})
	}
	shown := "masked"
	if pii {
		shown = "shown"
	}
	if pii {
		if err := s.record(c, access.ActionPII, id); err != nil {
			return err
		}
	}
	tl := governance.Fold(evs, s.d.Clocks, s.d.Calendar, s.d.Clock.Now())
	return c.JSON(fiber.Map{"case_id": id, "events": out, "pii": shown, "timeline": tl})
}

// maskPII keeps the shape of personal fields but not their content.
func maskPII(ev *event.Event) {
	if ev.Reporter != nil {
		ev.Reporter = &event.Reporter{Name: maskRunes(ev.Reporter.Name, 1), Phone: maskRunes(ev.Reporter.Phone, 3), IDNumber: maskRunes(ev.Reporter.IDNumber, 0)}
	}
	if ev.Address != "" {
		ev.Address = maskRunes(ev.Address, 6)
	}
	if ev.Summary != "" {
		ev.Summary = "***"
	}
}

func maskRunes(s string, keep int) string {
	r := []rune(s)
	if len(r) <= keep {
		return strings.Repeat("*", len(r))
	}
	return string(r[:keep]) + strings.Repeat("*", len(r)-keep)
}

// static serves the embedded wall-screen pages.
func (s *Server) static(c *fiber.Ctx) error {
	if !assets.Built() {
		c.Set(fiber.HeaderContentType, "text/plain; charset=utf-8")
		return c.Status(fiber.StatusServiceUnavailable).SendString(assets.NotBuiltMessage)
	}
	name := strings.TrimPrefix(path.Clean("/"+c.Params("*")), "/")
	if name == "audit" || name == "evaluation" || name == "alerts" || name == "briefing" {
		// The desktop pages (not wall screens), when built.
		if _, err := fs.Stat(assets.Files(), name+".html"); err == nil {
			name += ".html"
		}
	}
	if screen, ok := strings.CutPrefix(name, "screen/"); ok && !strings.Contains(screen, "/") {
		// /screen/<name> is the page <name>.html when there is one, else the overview page.
		if _, err := fs.Stat(assets.Files(), screen+".html"); err == nil {
			name = screen + ".html"
		}
	}
	if name == "" || !strings.Contains(path.Base(name), ".") {
		name = "index.html" // screens are served by the one page; it routes by path
	}
	b, err := fs.ReadFile(assets.Files(), name)
	if err != nil {
		return errs.E(errs.NotFound, "path", "no such file %q", name)
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	c.Set(fiber.HeaderContentType, ct)
	c.Set(fiber.HeaderCacheControl, assets.CacheControl(name))
	if strings.HasSuffix(name, ".html") {
		// Intranet screens load nothing from outside the server, and are framed only by the
		// configured ancestors.
		c.Set(fiber.HeaderContentSecurityPolicy, "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors "+s.cfg.FrameAncestors)
	}
	return c.Send(b)
}
