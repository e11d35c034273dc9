package server

import (
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"zhili/access"
	"zhili/alerts"
	"zhili/dashboard"
	"zhili/errs"
)

func (s *Server) alertRoutes() map[string]fiber.Handler {
	return map[string]fiber.Handler{
		"GET /api/v1/alerts":                          s.alertList,
		"GET /api/v1/alerts/stats":                    s.alertStats,
		"GET /api/v1/alerts/rules":                    s.alertRules,
		"GET /api/v1/alerts/scan":                     s.alertScan,
		"POST /api/v1/alerts/:id/ack":                 s.alertAck,
		"POST /api/v1/alerts/:id/close":               s.alertClose,
		"GET /api/v1/alerts/dead-letters":             s.deadLetters,
		"POST /api/v1/alerts/dead-letters/:id/resend": s.deadLetterResend,
		"GET /api/v1/forecast":                        s.forecast,
	}
}

func (s *Server) alerting() (*alerts.Engine, error) {
	if s.d.Alerts == nil {
		return nil, errs.E(errs.Unavailable, "alerts", "alerts are off in this process")
	}
	return s.d.Alerts.Engine(), nil
}

// alertList answers GET /api/v1/alerts: state (open, acknowledged, closed; comma-separated),
// region (default the token's), rule, kind, from, to (raised in [from, to)), limit, offset.
func (s *Server) alertList(c *fiber.Ctx) error {
	eng, err := s.alerting()
	if err != nil {
		return err
	}
	region, _, err := s.regionParam(c, principal(c))
	if err != nil {
		return err
	}
	// The root covers every alert, as the store's root covers every event.
	q := alerts.Query{Region: dashboard.StoreRegion(s.d.Tree, region), RuleID: c.Query("rule"), Kind: alerts.Kind(c.Query("kind"))}
	if v := c.Query("state"); v != "" {
		for _, st := range strings.Split(v, ",") {
			q.States = append(q.States, alerts.State(strings.TrimSpace(st)))
		}
	}
	if q.From, q.To, err = s.optionalRange(c); err != nil {
		return err
	}
	for name, dst := range map[string]*int{"limit": &q.Limit, "offset": &q.Offset} {
		if v := c.Query(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return errs.E(errs.Invalid, name, "%s must be a whole number", name)
			}
			*dst = n
		}
	}
	page, err := eng.List(q)
	if err != nil {
		return err
	}
	for i := range page.Alerts {
		page.Alerts[i] = s.localAlert(page.Alerts[i])
	}
	return c.JSON(page)
}

// localAlert gives an alert's times in the deployment's zone, as every other reply does.
func (s *Server) localAlert(al alerts.Alert) alerts.Alert {
	loc := s.cfg.Loc
	if loc == nil {
		return al
	}
	al.RaisedAt, al.MeasuredAt = al.RaisedAt.In(loc), al.MeasuredAt.In(loc)
	for _, p := range []**time.Time{&al.AckedAt, &al.ClosedAt} {
		if *p != nil {
			t := (*p).In(loc)
			*p = &t
		}
	}
	return al
}

// optionalRange reads from and to (timeParam), either may be missing.
func (s *Server) optionalRange(c *fiber.Ctx) (from, to time.Time, err error) {
	for name, dst := range map[string]*time.Time{"from": &from, "to": &to} {
		if v := c.Query(name); v != "" {
			if *dst, err = s.timeParam(name, v); err != nil {
				return from, to, err
			}
		}
	}
	if !from.IsZero() && !to.IsZero() && to.Before(from) {
		return from, to, errs.E(errs.Invalid, "to", "the range ends before it starts")
	}
	return from, to, nil
}

// alertStats answers GET /api/v1/alerts/stats: region, from, to (default the last 30 days).
func (s *Server) alertStats(c *fiber.Ctx) error {
	eng, err := s.alerting()
	if err != nil {
		return err
	}
	region, _, err := s.regionParam(c, principal(c))
	if err != nil {
		return err
	}
	from, to, err := s.optionalRange(c)
	if err != nil {
		return err
	}
	if from.IsZero() {
		from = s.now().Add(-30 * 24 * time.Hour)
	}
	st := eng.Stats(from, to, dashboard.StoreRegion(s.d.Tree, region))
	if loc := s.cfg.Loc; loc != nil {
		st.From, st.At, st.Coverage = st.From.In(loc), st.At.In(loc), st.Coverage.In(loc)
		if !st.To.IsZero() {
			st.To = st.To.In(loc)
		}
	}
	return c.JSON(st)
}

// alertRules answers the rules in force and the state of their file.
func (s *Server) alertRules(c *fiber.Ctx) error {
	eng, err := s.alerting()
	if err != nil {
		return err
	}
	rs := eng.Rules()
	p := principal(c)
	// A rule scoped to regions of another tenant is that tenant's.
	shown := make([]alerts.Rule, 0, len(rs.Rules))
	for _, r := range rs.Rules {
		mine := true
		for _, code := range r.Regions {
			mine = mine && s.inTenant(p, code)
		}
		if mine {
			shown = append(shown, r)
		}
	}
	out := fiber.Map{"file": rs.File, "rules": shown}
	if st, ok := s.d.Alerts.RulesStatus(); ok {
		out["status"] = st
	}
	return c.JSON(out)
}

// alertScan answers the last space-time scan's clusters of the token's regions.
func (s *Server) alertScan(c *fiber.Ctx) error {
	if s.d.Alerts == nil {
		return errs.E(errs.Unavailable, "alerts", "alerts are off in this process")
	}
	region, _, err := s.regionParam(c, principal(c))
	if err != nil {
		return err
	}
	return c.JSON(s.d.Alerts.ScanReply(region))
}

// who names the principal that acts on an alert, as the log keeps it.
func who(p *access.Principal) string {
	if p.Name != "" {
		return p.Name
	}
	return "anonymous"
}

// alertFor returns the alert id names when the principal may see it.
func (s *Server) alertFor(c *fiber.Ctx, eng *alerts.Engine) (alerts.Alert, error) {
	p := principal(c)
	al, err := eng.Get(c.Params("id"))
	if err != nil {
		return al, err
	}
	if !s.alertInTenant(p, al) {
		return al, errs.E(errs.NotFound, "alert", "no alert %q", c.Params("id"))
	}
	return al, nil
}

func (s *Server) alertAck(c *fiber.Ctx) error {
	eng, err := s.alerting()
	if err != nil {
		return err
	}
	if _, err := s.alertFor(c, eng); err != nil {
		return err
	}
	al, err := eng.Ack(c.Params("id"), who(principal(c)), s.now())
	if err != nil {
		return err
	}
	return c.JSON(s.localAlert(al))
}

func (s *Server) alertClose(c *fiber.Ctx) error {
	eng, err := s.alerting()
	if err != nil {
		return err
	}
	if _, err := s.alertFor(c, eng); err != nil {
		return err
	}
	var body struct {
		Note string `json:"note"`
	}
	if len(c.Body()) > 0 {
		if err := c.BodyParser(&body); err != nil {
			return errs.E(errs.Invalid, "body", "a JSON object with an optional note")
		}
	}
	if len([]rune(body.Note)) > 500 {
		return errs.E(errs.TooLarge, "note", "the note has more than 500 characters")
	}
	al, err := eng.Close(c.Params("id"), who(principal(c)), s.now(), body.Note)
	if err != nil {
		return err
	}
	return c.JSON(s.localAlert(al))
}

func (s *Server) deadLetters(c *fiber.Ctx) error {
	out := []alerts.Delivery{}
	if s.d.Notifier != nil && s.d.Notifier.DeadLetters() != nil {
		for _, d := range s.d.Notifier.DeadLetters().List() {
			if s.alertInTenant(principal(c), d.Change.Alert) {
				out = append(out, d)
			}
		}
	}
	return c.JSON(fiber.Map{"dead_letters": out})
}

// alertInTenant reports whether an alert's region lies in p's tenant and regions.
func (s *Server) alertInTenant(p *access.Principal, al alerts.Alert) bool {
	code := al.Region
	if code == "" {
		code = s.d.Tree.Root.Code
	}
	return s.inTenant(p, code) && s.allows(p, code)
}

func (s *Server) deadLetterResend(c *fiber.Ctx) error {
	missing := errs.E(errs.NotFound, "id", "no dead letter %q", c.Params("id"))
	if s.d.Notifier == nil || s.d.Notifier.DeadLetters() == nil {
		return missing
	}
	if d, ok := s.d.Notifier.DeadLetters().Get(c.Params("id")); !ok || !s.alertInTenant(principal(c), d.Change.Alert) {
		return missing
	}
	if err := s.d.Notifier.Resend(c.UserContext(), c.Params("id")); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"resent": c.Params("id")})
}

// forecast answers GET /api/v1/forecast: region (default the token's), category ("" all),
// from (RFC 3339, default now; up to 7 days back: the expected range of hours past), hours
// (1–168, default 24).
func (s *Server) forecast(c *fiber.Ctx) error {
	if s.d.Forecasts == nil {
		return errs.E(errs.Unavailable, "forecast", "forecasts are off in this process")
	}
	region, _, err := s.regionParam(c, principal(c))
	if err != nil {
		return err
	}
	hours := 24
	if v := c.Query("hours"); v != "" {
		if hours, err = strconv.Atoi(v); err != nil || hours < 1 || hours > 168 {
			return errs.E(errs.Invalid, "hours", "hours must be a whole number from 1 to 168")
		}
	}
	from, _, err := s.optionalRange(c)
	if err != nil {
		return err
	}
	rep, err := s.d.Forecasts.Forecast(c.UserContext(), region, c.Query("category"), from, hours)
	if err != nil {
		return err
	}
	return c.JSON(rep)
}
