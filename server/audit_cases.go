package server

import (
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"zhili/dashboard"
	"zhili/errs"
)

// now is the deployment's time.
func (s *Server) now() time.Time {
	if s.d.Clock == nil {
		return time.Now()
	}
	return s.d.Clock.Now()
}

// auditCases answers the cases behind one unit's row of an audit, a page at a time
// (GET /api/v1/audit/cases?unit=…): the audit's parameters, audit=rates|whistles, unit (required;
// empty for the row with no unit), sort, late=1, limit (1–200, default 50), offset.
func (s *Server) auditCases(c *fiber.Ctx) error {
	aq, err := s.auditQuery(c)
	if err != nil {
		return err
	}
	if !c.Request().URI().QueryArgs().Has("unit") {
		return errs.E(errs.Invalid, "unit", "unit is required: the code of the audit's row (empty for the row with no unit)")
	}
	q := dashboard.CasesQuery{AuditQuery: aq, Audit: c.Query("audit"), Unit: c.Query("unit"), Sort: c.Query("sort")}
	switch c.Query("late") {
	case "", "0", "false":
	case "1", "true":
		q.Late = true
	default:
		return errs.E(errs.Invalid, "late", "late must be 1 or 0")
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
	rep, err := dashboard.UnitCases(c.UserContext(), s.d.Store, s.d.Tree, q, s.d.Clocks, s.d.Calendar)
	if err != nil {
		return err
	}
	if q.Unit == "" {
		if q.By == "region" {
			rep.Name = dashboard.UnlocatedName
		}
	} else {
		rep.Name = s.unitNames(q.By)(q.Unit)
	}
	return c.JSON(rep)
}
