package dashboard

import (
	"slices"
	"time"
)

// NameHeader heads the name column beside a unit's code in exports.
const NameHeader = "名称 name"

// NamedTable is Table with every unit named: name gives a unit's name by its code (a
// department's from the catalogue, a region's from the tree; the code itself when unknown) for
// the units the report has not named.
func (r *RatesReport) NamedTable(loc *time.Location, name func(code string) string) Table {
	t := r.Table(loc)
	col := slices.Index(t.Headers, NameHeader)
	if name == nil || col < 0 {
		return t
	}
	for i, u := range r.Units {
		if i < len(t.Rows) && col < len(t.Rows[i]) && t.Rows[i][col] == "" && u.Unit != "" {
			t.Rows[i][col] = name(u.Unit)
		}
	}
	return t
}

// NamedTable is Table with a name column beside the unit's code: the department's (or, by
// region, the region's) name from name.
func (r *WhistlesReport) NamedTable(loc *time.Location, name func(code string) string) Table {
	t := r.Table(loc)
	if name == nil || len(t.Headers) == 0 {
		return t
	}
	t.Headers = slices.Insert(t.Headers, 1, NameHeader)
	for i, d := range r.Depts {
		if i >= len(t.Rows) || len(t.Rows[i]) == 0 {
			continue
		}
		n := ""
		if d.Dept != "" {
			n = name(d.Dept)
		}
		t.Rows[i] = slices.Insert(t.Rows[i], 1, n)
	}
	return t
}
