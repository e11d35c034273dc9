package server

import (
	"testing"

	"zhili/access"
	"zhili/geo"
	"zhili/ingest"
)

// Lines refused at ingest are counted per tenant and reason since start, and given to the audits
// that cover the tenant's whole scope only (refused lines have no region).
func TestRejectTally(t *testing.T) {
	tree := geo.DemoTree()
	s := New(Config{}, Deps{Tree: tree})
	town := tree.Root.Children[0].Code
	ten := &access.Tenant{Name: "t1", Roots: []string{town}}
	s.rejects.add(nil, []ingest.Rejection{{Code: ingest.CodeInvalid, Field: "location"}, {Code: ingest.CodeInvalid, Field: "location.lat"},
		{Code: ingest.CodeIDConflict, Field: "id"}, {Code: ingest.CodeInvalid, Field: "depts[3]"}})
	s.rejects.add(ten, []ingest.Rejection{{Code: ingest.CodeTypeNotAllowed, Field: "type"}})

	r := s.rejected(&access.Principal{}, tree.Root.Code)
	if r.Total == nil || *r.Total != 4 || r.ByCode["invalid:location"] != 2 || r.ByCode["id_conflict"] != 1 || r.ByCode["invalid:depts"] != 1 || r.Note == "" || r.Since.IsZero() {
		t.Fatalf("whole tree: %+v", r)
	}
	if r := s.rejected(&access.Principal{}, town); r.Total != nil || r.ByCode != nil || r.Note == "" {
		t.Fatalf("a township's audit got counts: %+v", r)
	}
	r = s.rejected(&access.Principal{Tenant: ten}, town)
	if r.Total == nil || *r.Total != 1 || r.ByCode["type_not_allowed"] != 1 {
		t.Fatalf("tenant: %+v", r)
	}
	if r := s.rejected(&access.Principal{Tenant: ten}, tree.Root.Code); r.Total != nil {
		t.Fatalf("tenant outside its roots: %+v", r)
	}
}
