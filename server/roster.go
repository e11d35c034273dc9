package server

import (
	"cmp"
	"slices"
	"time"

	"github.com/gofiber/fiber/v2"

	"zhili/access"
	"zhili/errs"
	"zhili/roster"
)

// The roster routes (docs/ROSTER.md). Units are names and serve every reading role; cadres,
// grid staff and party secretaries are people with names and phone numbers (personal data):
// those routes admit the roles of the access table only (evaluator, admin), hold a principal
// to its regions and tenant, and every reply is recorded in the access log.

// MaxRosterRows bounds the people (and organisations) of one roster reply: past it the request
// is refused 413 max_rows, naming a smaller region or a unit.
const MaxRosterRows = 50_000

// rosterRoutes are the handlers of the roster routes, by method and path.
func (s *Server) rosterRoutes() map[string]fiber.Handler {
	return map[string]fiber.Handler{
		"GET /api/v1/roster/units":      s.rosterUnits,
		"GET /api/v1/roster/cadres":     s.rosterCadres,
		"GET /api/v1/roster/grid-staff": s.rosterGridStaff,
		"GET /api/v1/roster/party":      s.rosterParty,
	}
}

func (s *Server) rosterNow() *roster.Roster { return s.d.Roster.Load() }

// rosterDay is the day of at= (YYYY-MM-DD), today in the deployment zone when not given.
func (s *Server) rosterDay(c *fiber.Ctx) (string, error) {
	v := c.Query("at")
	if v == "" {
		now := time.Now()
		if s.d.Clock != nil {
			now = s.d.Clock.Now()
		}
		return now.In(s.cfg.Loc).Format(time.DateOnly), nil
	}
	d, err := roster.ParseDate(v)
	if err != nil {
		return "", errs.E(errs.Invalid, "at", "at: %v", err)
	}
	return d, nil
}

// under reports whether region code lies in the subtree of top (any region when top is "").
func (s *Server) under(code, top string) bool {
	return top == "" || slices.Contains(s.d.Tree.Path(code), top)
}

// peopleFilter returns whether p may see the people of a unit or organisation serving a region:
// a region within its tenant and its own regions; a unit of no region only a principal that
// sees the whole tree. Answers are remembered for the request.
func (s *Server) peopleFilter(p *access.Principal) func(region string) bool {
	seen := map[string]bool{}
	return func(code string) bool {
		if v, ok := seen[code]; ok {
			return v
		}
		reg := code
		if reg == "" {
			reg = s.d.Tree.Root.Code // a unit of no region: the whole tree's
		}
		v := s.inTenant(p, reg) && s.allows(p, reg)
		seen[code] = v
		return v
	}
}

// seesUnitName reports whether p may see the name of a unit serving region code: a unit of no
// region, of its regions or of the regions above them, within what its tenant sees (as the
// catalogue's departments).
func (s *Server) seesUnitName(p *access.Principal, code string) bool {
	if code == "" {
		return true
	}
	if p.Tenant != nil && !s.tenantSeesRegion(p, code) {
		return false
	}
	if len(p.Regions) == 0 || s.allows(p, code) {
		return true
	}
	for _, r := range p.Regions {
		if slices.Contains(s.d.Tree.Path(r), code) {
			return true
		}
	}
	return false
}

// rosterRegion is the region= of a roster route: "" when not given and optional, else checked
// as every region parameter (unknown or another tenant's 404, outside the token's regions 403).
func (s *Server) rosterRegion(c *fiber.Ctx, p *access.Principal, optional bool) (string, error) {
	if optional && c.Query("region") == "" {
		return "", nil
	}
	code, _, err := s.regionParam(c, p)
	return code, err
}

func (s *Server) regionName(code string) string {
	if r := s.d.Tree.Get(code); r != nil {
		return r.Name
	}
	return ""
}

type unitView struct {
	roster.Unit
	KindZh     string `json:"kind_zh"`
	RegionName string `json:"region_name,omitempty"`
	Serves     string `json:"serves,omitempty"` // the region it serves when it names none itself
}

// rosterUnits answers GET /api/v1/roster/units?region=: the units (names, kinds, regions; no
// person) the token may see, those serving region's subtree when given.
func (s *Server) rosterUnits(c *fiber.Ctx) error {
	p := principal(c)
	top, err := s.rosterRegion(c, p, true)
	if err != nil {
		return err
	}
	ro := s.rosterNow()
	out := []unitView{}
	for _, u := range ro.Units {
		reg := ro.RegionOf(u.Code)
		if !s.seesUnitName(p, reg) || top != "" && (reg == "" || !s.under(reg, top)) {
			continue
		}
		v := unitView{Unit: u, KindZh: roster.LabelOf(roster.UnitKinds, u.Kind).Zh, RegionName: s.regionName(reg)}
		if u.Region == "" {
			v.Serves = reg
		}
		out = append(out, v)
	}
	c.Set(fiber.HeaderCacheControl, "no-cache")
	return c.JSON(fiber.Map{"region": top, "units": out})
}

type cadreView struct {
	roster.Cadre
	UnitName string `json:"unit_name"`
	Region   string `json:"region,omitempty"`
}

// rosterCadres answers GET /api/v1/roster/cadres?unit=&post_type=&region=&at=: the cadres in
// office on the day, of a unit or party organisation, a post type (peer group) and a region's
// subtree when given, within the token's regions and tenant.
func (s *Server) rosterCadres(c *fiber.Ctx) error {
	p := principal(c)
	day, err := s.rosterDay(c)
	if err != nil {
		return err
	}
	top, err := s.rosterRegion(c, p, true)
	if err != nil {
		return err
	}
	ro := s.rosterNow()
	sees := s.peopleFilter(p)
	unit := c.Query("unit")
	if unit != "" {
		reg := ro.RegionOf(unit)
		// Another tenant's unit answers as one that does not exist.
		if !ro.Has(unit) || !s.inTenant(p, cmp.Or(reg, s.d.Tree.Root.Code)) {
			return errs.E(errs.NotFound, "unit", "unknown unit %q", unit)
		}
		if !sees(reg) {
			return errs.E(errs.Forbidden, "unit", "token may not see the people of unit %s", unit)
		}
	}
	postType := c.Query("post_type")
	out := []cadreView{}
	for _, x := range ro.Cadres {
		if !x.At(day) || unit != "" && x.Unit != unit || postType != "" && x.PostType != postType {
			continue
		}
		reg := ro.RegionOf(x.Unit)
		if !sees(reg) || top != "" && (reg == "" || !s.under(reg, top)) {
			continue
		}
		if len(out) == MaxRosterRows {
			return tooManyPeople()
		}
		out = append(out, cadreView{Cadre: x, UnitName: ro.NameOf(x.Unit), Region: reg})
	}
	if err := s.record(c, access.ActionPII, withoutToken(c)); err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"at": day, "region": top, "unit": unit, "post_type": postType, "cadres": out})
}

func tooManyPeople() error {
	return errs.E(errs.TooLarge, "max_rows", "more than %d entries: choose a smaller region or a unit", MaxRosterRows)
}

type staffView struct {
	roster.GridStaff
	RoleZh   string `json:"role_zh"`
	GridName string `json:"grid_name"`
}

// rosterGridStaff answers GET /api/v1/roster/grid-staff?region=&at=: the heads and workers of
// the grids in region's subtree (the token's region by default) on the day.
func (s *Server) rosterGridStaff(c *fiber.Ctx) error {
	p := principal(c)
	day, err := s.rosterDay(c)
	if err != nil {
		return err
	}
	top, err := s.rosterRegion(c, p, false)
	if err != nil {
		return err
	}
	sees := s.peopleFilter(p)
	out := []staffView{}
	for _, x := range s.rosterNow().GridStaff {
		if !x.At(day) || !sees(x.Grid) || !s.under(x.Grid, top) {
			continue
		}
		if len(out) == MaxRosterRows {
			return tooManyPeople()
		}
		out = append(out, staffView{GridStaff: x, RoleZh: roster.LabelOf(roster.StaffRoles, x.Role).Zh, GridName: s.regionName(x.Grid)})
	}
	if err := s.record(c, access.ActionPII, withoutToken(c)); err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"at": day, "region": top, "grid_staff": out})
}

type partyView struct {
	roster.Party
	LevelZh     string         `json:"level_zh"`
	RoleZh      string         `json:"role_zh,omitempty"` // 一线指挥部, 前线指挥所, 攻坚小分队
	RegionName  string         `json:"region_name"`
	Secretaries []roster.Cadre `json:"secretaries"`
	Members     []roster.Cadre `json:"members"`
}

// rosterParty answers GET /api/v1/roster/party?region=&at=: the party organisations leading
// regions of region's subtree (the token's region by default), each with its secretaries (its
// leading post) and other members in office on the day.
func (s *Server) rosterParty(c *fiber.Ctx) error {
	p := principal(c)
	day, err := s.rosterDay(c)
	if err != nil {
		return err
	}
	top, err := s.rosterRegion(c, p, false)
	if err != nil {
		return err
	}
	ro := s.rosterNow()
	sees := s.peopleFilter(p)
	out := []*partyView{}
	byCode := map[string]*partyView{}
	for _, o := range ro.Party {
		if !sees(o.Region) || !s.under(o.Region, top) {
			continue
		}
		l := roster.LabelOf(roster.PartyLevels, o.Level)
		v := &partyView{Party: o, LevelZh: l.Zh, RoleZh: l.Role, RegionName: s.regionName(o.Region),
			Secretaries: []roster.Cadre{}, Members: []roster.Cadre{}}
		out = append(out, v)
		byCode[o.Code] = v
	}
	n := len(out)
	for _, x := range ro.Cadres {
		v := byCode[x.Unit]
		if v == nil || !x.At(day) {
			continue
		}
		if n++; n > MaxRosterRows {
			return tooManyPeople()
		}
		if x.Leader {
			v.Secretaries = append(v.Secretaries, x)
		} else {
			v.Members = append(v.Members, x)
		}
	}
	if n > MaxRosterRows {
		return tooManyPeople()
	}
	if err := s.record(c, access.ActionPII, withoutToken(c)); err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"at": day, "region": top, "party": out})
}
