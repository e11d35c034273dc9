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
	return named(r.Table(loc), name)
}

// NamedTable is Table with every unit named by name (see RatesReport.NamedTable).
func (r *WhistlesReport) NamedTable(loc *time.Location, name func(code string) string) Table {
	return named(r.Table(loc), name)
}

// named fills the empty cells of t's name column with the name of the row's unit (column 0).
func named(t Table, name func(code string) string) Table {
	col := slices.Index(t.Headers, NameHeader)
	if name == nil || col < 1 {
		return t
	}
	for _, row := range t.Rows {
		if col < len(row) && row[col] == "" && row[0] != "" {
			row[col] = name(row[0])
		}
	}
	return t
}

// NameUnits names the report's units that have no name yet (by department) with name.
func (r *RatesReport) NameUnits(name func(code string) string) {
	for i := range r.Units {
		if u := &r.Units[i]; u.Name == "" && u.Unit != "" && name != nil {
			u.Name = name(u.Unit)
		}
	}
}

// NameUnits sets Names to every unit's name (the 未定位 row by region aside) by name.
func (r *WhistlesReport) NameUnits(name func(code string) string) {
	if name == nil {
		return
	}
	r.Names = map[string]string{}
	for _, d := range r.Depts {
		if d.Dept != "" {
			r.Names[d.Dept] = name(d.Dept)
		}
	}
}
