package server

import (
	"fmt"
	"math"
	"sync"

	"github.com/gofiber/fiber/v2"

	"zhili/access"
	"zhili/errs"
	"zhili/ingest"
)

// Rule is one row of the access table: a route and the roles it admits. Public routes admit
// anyone without a secret.
type Rule struct {
	Method, Path string
	Roles        access.Set
	Public       bool
	What         string
	Heavy        bool // a history query: at most MaxHeavyPerPrincipal at once per principal
}

// MaxHeavyPerPrincipal is how many history queries one principal may have running at once;
// more are refused with 429 busy and Retry-After, so one screen or script cannot take the
// store from everyone else.
const MaxHeavyPerPrincipal = 3

// Rules is the access table: every route the server answers, the roles it admits and why.
// routes() registers exactly these, in this order (the pages' catch-all last); docs/ACCESS.md
// prints it and a test walks it.
var Rules = []Rule{
	{"GET", "/healthz", 0, true, "liveness", false},
	{"GET", "/readyz", 0, true, "readiness of the store and the engines", false},
	{"GET", "/metrics", 0, true, "Prometheus metrics (counts only; bind it to the monitoring network)", false},
	{"GET", "/openapi.yaml", 0, true, "the API description", false},
	{"POST", "/api/v1/events", access.Of(access.Source), false, "send events, within the key's regions and types", false},
	{"POST", "/api/v1/events/versions", access.Of(access.Source), false, "whether the key's own events are stored as a body would send them (corrections)", false},
	{"GET", "/api/v1/regions", access.Readers, false, "the region tree (outlines) of the token's regions", false},
	{"GET", "/api/v1/catalog", access.Readers, false, "the catalogue: names of categories and departments", false},
	{"GET", "/api/v1/roster/units", access.Readers, false, "the roster's units: names, kinds, regions (no person)", false},
	{"GET", "/api/v1/roster/cadres", access.Of(access.Evaluator, access.Admin), false, "cadres in office on a day, by unit, post type, region (names, phones: recorded in the access log)", false},
	{"GET", "/api/v1/roster/grid-staff", access.Of(access.Evaluator, access.Admin), false, "grid heads and workers of a region on a day (names, phones: recorded)", false},
	{"GET", "/api/v1/roster/party", access.Of(access.Evaluator, access.Admin), false, "party organisations of a region with their secretaries on a day (recorded)", false},
	{"GET", "/api/v1/hexes", access.Of(access.Screen, access.Leader), false, "outlines of H3 cells (geometry only)", false},
	{"GET", "/api/v1/series", access.Of(access.Screen, access.Leader, access.Evaluator), false, "counts per step (the overview's 24-hour chart)", false},
	{"GET", "/api/v1/counts", access.Of(access.Screen, access.Leader, access.Evaluator), false, "counts per region for a period", false},
	{"GET", "/api/v1/hotspots", access.Of(access.Leader), false, "hotspot reviews over history", true},
	{"GET", "/api/v1/cases/:id", access.Of(access.Leader, access.Evaluator, access.Officer), false, "a case's timeline; personal fields only for officer", false},
	{"GET", "/api/v1/audit/rates", access.Of(access.Evaluator), false, "the three rates per department", true},
	{"GET", "/api/v1/audit/whistles", access.Of(access.Evaluator), false, "the whistle audit", true},
	{"GET", "/api/v1/audit/cases", access.Of(access.Evaluator), false, "the cases behind one unit's row of an audit, paged", true},
	{"GET", "/api/v1/evaluation/portraits", access.Of(access.Evaluator, access.Admin), false, "one cadre's or unit's evaluation of a period: survey, 实绩, composite with its components, standing and trend (names: recorded)", true},
	{"GET", "/api/v1/evaluation/rankings", access.Of(access.Evaluator, access.Admin), false, "the 红黑榜 of a post type in a period (names: recorded)", true},
	{"GET", "/api/v1/alerts", access.Readers, false, "alerts of the token's regions: open, acknowledged, closed, by rule and period", false},
	{"GET", "/api/v1/alerts/stats", access.Readers, false, "alert history figures: raised, time to acknowledge and to close, per rule and region", false},
	{"GET", "/api/v1/alerts/rules", access.Readers, false, "the alert rules in force and the state of the rules file", false},
	{"GET", "/api/v1/alerts/scan", access.Of(access.Screen, access.Leader, access.Evaluator, access.Admin), false, "the last space-time scan: clusters with their p-values and recurrence intervals", false},
	{"POST", "/api/v1/alerts/:id/ack", access.Readers, false, "acknowledge an alert (who and when are kept)", false},
	{"POST", "/api/v1/alerts/:id/close", access.Readers, false, "close an alert with a note (who and when are kept)", false},
	{"GET", "/api/v1/alerts/dead-letters", access.Of(access.Admin), false, "webhook deliveries that failed every attempt", false},
	{"POST", "/api/v1/alerts/dead-letters/:id/resend", access.Of(access.Admin), false, "send a dead letter again", false},
	{"GET", "/api/v1/forecast", access.Of(access.Screen, access.Leader, access.Evaluator), false, "hourly volume forecast with its prediction interval for a region and category", true},
	{"GET", "/api/v1/briefings", access.Of(access.Leader, access.Evaluator, access.Admin), false, "the kept 研判 briefings of a region", false},
	{"GET", "/api/v1/briefings/:period", access.Of(access.Leader, access.Evaluator, access.Admin), false, "one briefing (day:YYYY-MM-DD or week:YYYY-Www), generated and kept once its period has ended", true},
	{"GET", "/api/v1/briefings/:period/pdf", access.Of(access.Leader, access.Evaluator, access.Admin), false, "the briefing printed to PDF (headless Chromium)", true},
	{"GET", "/api/v1/access-log", access.Of(access.Admin), false, "the access log: personal-field reads, exports, access reloads", false},
	{"GET", "/ws", access.Of(access.Screen, access.Leader), false, "live topics of the token's regions", false},
	{"GET", "/*", 0, true, "the wall-screen pages and their scripts (no data)", false},
}

// keyring is the server's principals and the ingest policy of each source among them.
type keyring struct {
	*access.Keyring
	pols map[*access.Principal]*ingest.Policy
}

// newKeyring builds the server's principals from the configured keyring and the short forms.
func newKeyring(cfg Config) (*keyring, error) {
	k := cfg.Access.Clone()
	if len(k.Tenants()) > 0 && len(cfg.IngestKeys)+len(cfg.ViewTokens) > 0 {
		// A short form is of no tenant: it would see every tenant's data.
		return nil, fmt.Errorf("tenants are configured: a key or token given outside the config file (--ingest-key, --view-token) is of no tenant; give it in access, ingest_keys or view_tokens with its tenant")
	}
	policies := map[*access.Principal]*ingest.Policy{}
	for secret, pol := range cfg.IngestKeys {
		p := &access.Principal{Name: pol.Name, Roles: access.Of(access.Source), Regions: pol.Regions, Types: pol.Types}
		if err := k.Add(secret, p); err != nil {
			return nil, err
		}
		policies[p] = pol
	}
	for secret, v := range cfg.ViewTokens {
		p := &access.Principal{Name: v.Name, Roles: v.Roles}
		if p.Roles == 0 {
			p.Roles = access.LegacyViewerRoles
			if v.PII {
				p.Roles |= access.Of(access.Officer)
			}
		}
		if v.Region != "" {
			p.Regions = []string{v.Region}
		}
		if err := k.Add(secret, p); err != nil {
			return nil, err
		}
	}
	for _, p := range k.Principals() {
		if p.Roles.Has(access.Source) && policies[p] == nil {
			policies[p] = &ingest.Policy{Name: idNamespace(p), Types: p.Types, Regions: p.Regions}
		}
	}
	return &keyring{k, policies}, nil
}

// SetAccess replaces the principals of the access config (the short forms given at start stay),
// for requests that start from now on; open WebSocket connections keep the principal they
// opened with.
func (s *Server) SetAccess(k *access.Keyring, from string) error {
	cfg := s.cfg
	cfg.Access = k
	kr, err := newKeyring(cfg)
	if err != nil {
		return err
	}
	s.keys.Store(kr)
	s.regionReplies.reset()
	return s.d.AccessLog.Record(access.Entry{Principal: "operator", Action: access.ActionConfig,
		Object: fmt.Sprintf("%s (%d secrets)", from, kr.Len())})
}

// record writes an access-log entry for the request's principal. The action's reply waits
// for it: an action that cannot be recorded is not done.
func (s *Server) record(c *fiber.Ctx, action, object string) error {
	p := principal(c)
	var tenant string
	if p.Tenant != nil {
		tenant = p.Tenant.Name
	}
	if err := s.d.AccessLog.Record(access.Entry{Principal: p.Name, Tenant: tenant, Roles: p.Roles.String(), Action: action,
		Object: object, Remote: c.IP()}); err != nil {
		return errs.Wrap(errs.Internal, "access_log", err, "cannot record the access")
	}
	return nil
}

// accessLog serves the access log's newest entries: GET /api/v1/access-log?limit=N (default
// 200, at most 10,000), oldest first. An admin of a tenant gets the entries of its tenant and
// of the tenants under it only (see tenantEntries).
func (s *Server) accessLog(c *fiber.Ctx) error {
	n := c.QueryInt("limit", 200)
	if n < 1 || n > 10000 {
		return errs.E(errs.Invalid, "limit", "limit must be 1 to 10000")
	}
	p := principal(c)
	want := n
	if p.Tenant != nil {
		want = math.MaxInt32 // the whole window Tail reads, filtered below
	}
	es, err := s.d.AccessLog.Tail(want)
	if err != nil {
		return errs.Wrap(errs.Internal, "access_log", err, "cannot read the access log")
	}
	if p.Tenant != nil {
		es = s.tenantEntries(p.Tenant, es)
		if len(es) > n {
			es = es[len(es)-n:]
		}
	}
	if es == nil {
		es = []access.Entry{}
	}
	return c.JSON(fiber.Map{"entries": es})
}

// CheckAccess reports a configuration New would refuse (a secret given twice).
func CheckAccess(cfg Config) error {
	_, err := newKeyring(cfg)
	return err
}

// secret is the presented credential: Bearer, or ?token= (screens open in a browser).
func secret(c *fiber.Ctx) string {
	if s := bearer(c); s != "" {
		return s
	}
	return c.Query("token")
}

// require admits a request whose secret holds one of roles and keeps its principal for the
// handler.
func (s *Server) require(roles access.Set, heavy bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ingest := roles == access.Of(access.Source)
		sec := secret(c)
		if ingest {
			sec = bearer(c) // a key never travels in a URL
		}
		kr := s.keys.Load()
		p, ok := kr.Lookup(sec)
		switch {
		case sec == "" && ingest:
			return errs.E(errs.Unauthorized, "key", "source API key required (Authorization: Bearer <key>)")
		case sec == "":
			return errs.E(errs.Unauthorized, "token", "token required (Authorization: Bearer or ?token=)")
		case !ok && ingest:
			return errs.E(errs.Unauthorized, "key", "unknown source API key")
		case !ok:
			return errs.E(errs.Unauthorized, "token", "unknown token")
		}
		if !p.Roles.Meets(roles) {
			return errs.E(errs.Forbidden, "role", "this token (%s) may not %s %s: it needs one of the roles %s",
				p.Roles, c.Method(), c.Route().Path, roles)
		}
		if heavy {
			release, ok := s.heavy.acquire(p)
			if !ok {
				return errs.E(errs.Busy, "busy", "%d history queries of this token are running; retry when one is done", MaxHeavyPerPrincipal)
			}
			defer release()
		}
		c.Locals(principalKey, p)
		if pol := kr.pols[p]; pol != nil {
			c.Locals(policyKey, pol)
		}
		if heavy {
			return s.runHeavy(c) // cancelled when the client goes, at shutdown and at the deadline
		}
		return c.Next()
	}
}

// principalKey is a string: the WebSocket upgrade copies only string-keyed locals.
const (
	principalKey = "zhili.principal"
	policyKey    = "zhili.policy" // a source's ingest policy, from the same keyring
)

// principal is the request's principal, set by require.
func principal(c *fiber.Ctx) *access.Principal {
	p, _ := c.Locals(principalKey).(*access.Principal)
	if p == nil {
		return &access.Principal{} // unreachable behind require; sees nothing
	}
	return p
}

// home is the region "root" means for p: the tree's root, or p's one region.
func (s *Server) home(p *access.Principal) (string, error) {
	switch len(p.Regions) {
	case 0:
		return s.d.Tree.Root.Code, nil
	case 1:
		return p.Regions[0], nil
	}
	return "", errs.E(errs.Invalid, "region", "this token covers %d regions: name one", len(p.Regions))
}

// allows reports whether p may see region code.
func (s *Server) allows(p *access.Principal, code string) bool {
	if len(p.Regions) == 0 {
		return true
	}
	for _, a := range s.d.Tree.Path(code) {
		for _, r := range p.Regions {
			if a == r {
				return true
			}
		}
	}
	return false
}

// heavyGate counts each principal's running history queries.
type heavyGate struct {
	mu      sync.Mutex
	running map[*access.Principal]int
}

func (g *heavyGate) acquire(p *access.Principal) (release func(), ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.running == nil {
		g.running = map[*access.Principal]int{}
	}
	if g.running[p] >= MaxHeavyPerPrincipal {
		return nil, false
	}
	g.running[p]++
	return func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.running[p]--; g.running[p] == 0 {
			delete(g.running, p)
		}
	}, true
}
