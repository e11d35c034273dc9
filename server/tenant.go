package server

import (
	"github.com/paulmach/orb/geojson"

	"zhili/access"
	"zhili/errs"
	"zhili/store"
)

// Tenants (docs/ACCESS.md "Tenants"): a principal of a tenant sees only the regions, cases and
// topics under its tenant's roots. Everything else is answered exactly as a region or case that
// does not exist (404 not_found, unknown_topic on /ws), so a token never learns what another
// tenant holds. Within its tenant, a region outside the principal's own regions stays 403.

// inTenant reports whether region code lies under p's tenant's roots (always true without
// tenants; false for an unknown code).
func (s *Server) inTenant(p *access.Principal, code string) bool {
	if p.Tenant == nil {
		return true
	}
	return p.Tenant.Covers(s.d.Tree.Path(code))
}

// unknownRegion is the reply for a region that does not exist, and for one of another tenant.
func unknownRegion(param, code string) error {
	return errs.E(errs.NotFound, param, "unknown region %q", code)
}

// unknownCase is the reply for a case that does not exist, and for one of another tenant.
func unknownCase(id string) error {
	return errs.E(errs.NotFound, "id", "no events for case %q", id)
}

// caseInTenant reports whether a case's records lie in p's tenant: every located record under
// its roots. A case located nowhere belongs to the tenant whose roots hold the tree's root.
func (s *Server) caseInTenant(p *access.Principal, recs []store.Record) bool {
	if p.Tenant == nil {
		return true
	}
	located := false
	for _, r := range recs {
		if len(r.RegionPath) == 0 {
			continue
		}
		located = true
		if !p.Tenant.Covers(r.RegionPath) {
			return false
		}
	}
	return located || p.Tenant.Covers([]string{s.d.Tree.Root.Code})
}

// trimTenantParents blanks the parent of a feature whose parent region lies outside p's tenant
// (the top of the tenant's subtree), so the region tree names no region of another tenant.
func (s *Server) trimTenantParents(p *access.Principal, fc *geojson.FeatureCollection) {
	if p.Tenant == nil {
		return
	}
	for _, f := range fc.Features {
		if par, _ := f.Properties["parent"].(string); par != "" && !s.inTenant(p, par) {
			f.Properties["parent"] = ""
		}
	}
}

// tenantEntries keeps the access-log entries an admin of tenant t may read: those of t and of
// the tenants under it. Entries of no tenant (config reloads, entries written before tenants
// were configured) and of tenants no longer configured stay in the file only.
func (s *Server) tenantEntries(t *access.Tenant, es []access.Entry) []access.Entry {
	byName := map[string]*access.Tenant{}
	for _, x := range s.keys.Load().Tenants() {
		byName[x.Name] = x
	}
	out := es[:0:0]
	for _, e := range es {
		if x := byName[e.Tenant]; x != nil && x.Within(t) {
			out = append(out, e)
		}
	}
	return out
}

// idNamespace is the name a source key's event ids are stored under (ingest.Policy.Name): its
// configured name, after its tenant's ("<tenant>:<name>"; a tenant's name holds no ':'), so
// that keys of two tenants never share event ids, whatever they are named.
func idNamespace(p *access.Principal) string {
	if p.Tenant == nil {
		return p.Name
	}
	return p.Tenant.Name + ":" + p.Name
}
