package server

import (
	"slices"

	"github.com/gofiber/fiber/v2"

	"zhili/access"
	"zhili/catalog"
)

// catalogue answers the catalogue in force (GET /api/v1/catalog): the categories and the
// departments with their names. A principal of a tenant gets the departments of no region, of
// its tenant's regions and of the regions above its roots (the city's departments a county's
// cases go to), never those of another tenant's regions.
func (s *Server) catalogue(c *fiber.Ctx) error {
	cat := s.d.Catalog.Load()
	p := principal(c)
	depts := cat.Departments
	if p.Tenant != nil {
		depts = make([]catalog.Department, 0, len(depts))
		for _, d := range cat.Departments {
			if s.tenantSeesRegion(p, d.Region) {
				depts = append(depts, d)
			}
		}
	}
	c.Set(fiber.HeaderCacheControl, "no-cache")
	return c.JSON(fiber.Map{"categories": cat.Categories, "departments": depts})
}

// tenantSeesRegion reports whether a department of region code is p's tenant's to see: no
// region, a region under its roots, or one above them.
func (s *Server) tenantSeesRegion(p *access.Principal, code string) bool {
	if code == "" || s.inTenant(p, code) {
		return true
	}
	for _, root := range p.Tenant.Roots {
		if slices.Contains(s.d.Tree.Path(root), code) {
			return true
		}
	}
	return false
}

// unitNames names an audit's units in its exports: departments by the catalogue (by=dept),
// regions by the tree (by=region); an unknown code is its own name.
func (s *Server) unitNames(by string) func(code string) string {
	if by == "region" {
		return func(code string) string {
			if r := s.d.Tree.Get(code); r != nil {
				return r.Name
			}
			return code
		}
	}
	return s.d.Catalog.Load().DeptName
}
