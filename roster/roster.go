// Package roster holds the people of governance work: units (departments, townships,
// villages/communities, grids) with the cadres of their leading posts and teams, the grid staff
// of every grid (网格长, 网格员), and the party organisations of each level (县区党委 一线指挥部,
// 乡镇街道党(工)委 前线指挥所, 村社党组织 攻坚小分队) with their secretaries. Terms are dated: a query
// as of a day returns who held which post then. A roster is read from a YAML, CSV or XLSX file
// checked row by row (every problem named by file, line and field); the demo generates one for
// its city. Names and phone numbers of people are personal data: the server shows them only to
// the roles that audit (docs/ROSTER.md).
package roster

import (
	"sync/atomic"
)

// Unit is a unit of the roster: a department, a city or county government, a township, a
// village/community or a grid. Region is the code of the region it serves (required but for
// departments), Dept its code in the catalogue (required for departments).
type Unit struct {
	Code   string `json:"code" yaml:"code"`
	Zh     string `json:"zh" yaml:"zh"`
	En     string `json:"en,omitempty" yaml:"en,omitempty"`
	Kind   string `json:"kind" yaml:"kind"` // a key of UnitKinds
	Region string `json:"region,omitempty" yaml:"region,omitempty"`
	Dept   string `json:"dept,omitempty" yaml:"dept,omitempty"`
	Parent string `json:"parent,omitempty" yaml:"parent,omitempty"` // code of the unit above
}

// Party is a party organisation of one level, mapped to the region it leads. Its secretaries
// and members are the cadres whose unit is its code.
type Party struct {
	Code   string `json:"code" yaml:"code"`
	Zh     string `json:"zh" yaml:"zh"`
	En     string `json:"en,omitempty" yaml:"en,omitempty"`
	Level  string `json:"level" yaml:"level"` // a key of PartyLevels
	Region string `json:"region" yaml:"region"`
	Parent string `json:"parent,omitempty" yaml:"parent,omitempty"` // code of the organisation above
}

// Cadre is one term of a person on a post of a unit or party organisation. The term holds on
// the days From ≤ d < To (To empty: still in office), so a successor may start on the day the
// predecessor's term ends. PostType groups comparable posts across units (乡镇党委书记, 乡镇长,
// 局长…) for peer comparison. Leader marks a leading post (正职: the unit's head, the party
// organisation's secretary). Seat tells apart the holders of a post held by several at once
// (deputies): terms of the same unit, post and seat never overlap.
type Cadre struct {
	ID       string `json:"id" yaml:"id"`
	Name     string `json:"name" yaml:"name"`
	Phone    string `json:"phone,omitempty" yaml:"phone,omitempty"`
	Post     string `json:"post" yaml:"post"`
	PostType string `json:"post_type" yaml:"post_type"`
	Unit     string `json:"unit" yaml:"unit"`
	Seat     string `json:"seat,omitempty" yaml:"seat,omitempty"`
	Leader   bool   `json:"leader" yaml:"leader,omitempty"`
	From     string `json:"from" yaml:"from"`
	To       string `json:"to,omitempty" yaml:"to,omitempty"`
}

// GridStaff is one term of a person serving a grid: its head (网格长, one at a time) or one of
// its workers (网格员). Grid is the code of a grid region, a leaf of the region tree.
type GridStaff struct {
	ID    string `json:"id" yaml:"id"`
	Name  string `json:"name" yaml:"name"`
	Phone string `json:"phone,omitempty" yaml:"phone,omitempty"`
	Role  string `json:"role" yaml:"role"` // a key of StaffRoles
	Grid  string `json:"grid" yaml:"grid"`
	From  string `json:"from" yaml:"from"`
	To    string `json:"to,omitempty" yaml:"to,omitempty"`
}

// Label is one value of an enumerated field: its key (what files store and replies carry), its
// names, the other words files may use for it, and for party levels the organisation's role in
// the governance structure.
type Label struct {
	Key, Zh, En string
	Role        string // party levels: 一线指挥部, 前线指挥所, 攻坚小分队
	Aliases     []string
}

// UnitKinds are the kinds of units.
var UnitKinds = []Label{
	{Key: "department", Zh: "部门", En: "Department", Aliases: []string{"县直部门", "市直部门", "区直部门"}},
	{Key: "city", Zh: "市", En: "City"},
	{Key: "county", Zh: "县区", En: "County", Aliases: []string{"县", "区", "县市区"}},
	{Key: "township", Zh: "乡镇街道", En: "Township", Aliases: []string{"乡镇", "街道", "乡", "镇"}},
	{Key: "village", Zh: "村社区", En: "Village/community", Aliases: []string{"村", "社区", "村社"}},
	{Key: "grid", Zh: "网格", En: "Grid"},
}

// PartyLevels are the levels of party organisations, with the role the governance structure
// gives the three of the 王-shaped hierarchy.
var PartyLevels = []Label{
	{Key: "city", Zh: "市委", En: "City committee"},
	{Key: "county", Zh: "县区党委", En: "County committee", Role: "一线指挥部", Aliases: []string{"县委", "区委", "县区委"}},
	{Key: "township", Zh: "乡镇街道党(工)委", En: "Township committee", Role: "前线指挥所",
		Aliases: []string{"乡镇街道党（工）委", "乡镇党委", "街道党工委", "乡镇街道党委", "乡镇街道党工委"}},
	{Key: "village", Zh: "村社党组织", En: "Village/community organisation", Role: "攻坚小分队",
		Aliases: []string{"村党组织", "社区党组织", "村党支部", "社区党支部", "村社党支部"}},
	{Key: "grid", Zh: "网格党组织", En: "Grid branch", Aliases: []string{"网格党支部", "网格党小组"}},
}

// StaffRoles are the roles of grid staff.
var StaffRoles = []Label{
	{Key: "head", Zh: "网格长", En: "Grid head"},
	{Key: "worker", Zh: "网格员", En: "Grid worker", Aliases: []string{"专职网格员", "兼职网格员"}},
}

// lookup finds the label a file's word names: its key, its Chinese or English name or an alias.
func lookup(ls []Label, v string) (Label, bool) {
	for _, l := range ls {
		if v == l.Key || v == l.Zh || v == l.En {
			return l, true
		}
		for _, a := range l.Aliases {
			if v == a {
				return l, true
			}
		}
	}
	return Label{}, false
}

// LabelOf returns the label of key in ls (a zero Label when unknown).
func LabelOf(ls []Label, key string) Label {
	l, _ := lookup(ls, key)
	return l
}

// Roster is a checked roster. It is never changed once built: a new file makes a new one.
type Roster struct {
	Units     []Unit
	Party     []Party
	Cadres    []Cadre
	GridStaff []GridStaff
	units     map[string]int
	party     map[string]int
	region    map[string]string // unit or party code → the region it serves ("": none)
	staff     map[string]bool   // grid staff ids
}

// Empty is a roster that holds nothing (no file given).
func Empty() *Roster { return build(nil, nil, nil, nil, nil) }

// build indexes the entries; regions maps a unit's code to the region it serves when it gives
// none itself (its department's, from the catalogue).
func build(units []Unit, party []Party, cadres []Cadre, staff []GridStaff, deptRegion func(dept string) string) *Roster {
	r := &Roster{Units: units, Party: party, Cadres: cadres, GridStaff: staff,
		units: make(map[string]int, len(units)), party: make(map[string]int, len(party)), region: map[string]string{},
		staff: make(map[string]bool, len(staff))}
	for _, g := range staff {
		r.staff[g.ID] = true
	}
	for i, u := range units {
		r.units[u.Code] = i
	}
	for i, p := range party {
		r.party[p.Code] = i
		r.region[p.Code] = p.Region
	}
	// A unit serves its own region, else its department's, else its parent's.
	var regionOf func(code string, depth int) string
	regionOf = func(code string, depth int) string {
		if reg, ok := r.region[code]; ok {
			return reg
		}
		i, ok := r.units[code]
		if !ok || depth > len(units) {
			return ""
		}
		u := units[i]
		reg := u.Region
		if reg == "" && u.Dept != "" && deptRegion != nil {
			reg = deptRegion(u.Dept)
		}
		if reg == "" && u.Parent != "" {
			reg = regionOf(u.Parent, depth+1)
		}
		r.region[code] = reg
		return reg
	}
	for _, u := range units {
		regionOf(u.Code, 0)
	}
	return r
}

// Unit returns the unit of code.
func (r *Roster) Unit(code string) (Unit, bool) {
	i, ok := r.units[code]
	if !ok {
		return Unit{}, false
	}
	return r.Units[i], true
}

// PartyOrg returns the party organisation of code.
func (r *Roster) PartyOrg(code string) (Party, bool) {
	i, ok := r.party[code]
	if !ok {
		return Party{}, false
	}
	return r.Party[i], true
}

// KnownStaff reports whether id may send staff.duty records: a grid staff id of the roster,
// or any id when the roster has no grid staff (none loaded).
func (r *Roster) KnownStaff(id string) bool { return len(r.staff) == 0 || r.staff[id] }

// Has reports whether code is a unit or a party organisation.
func (r *Roster) Has(code string) bool {
	_, u := r.units[code]
	_, p := r.party[code]
	return u || p
}

// RegionOf is the region a unit or party organisation serves: its own, else (a unit) its
// department's in the catalogue, else its parent's; "" when none.
func (r *Roster) RegionOf(code string) string { return r.region[code] }

// NameOf is the Chinese name of a unit or party organisation, the code itself when unknown.
func (r *Roster) NameOf(code string) string {
	if u, ok := r.Unit(code); ok {
		return u.Zh
	}
	if p, ok := r.PartyOrg(code); ok {
		return p.Zh
	}
	return code
}

// InForce reports whether a term from..to (to exclusive; "" open) holds on day (YYYY-MM-DD).
// Dates are normalised YYYY-MM-DD, so they compare as strings.
func InForce(from, to, day string) bool {
	return from <= day && (to == "" || day < to)
}

// At reports whether the term holds on day.
func (c Cadre) At(day string) bool { return InForce(c.From, c.To, day) }

// At reports whether the term holds on day.
func (g GridStaff) At(day string) bool { return InForce(g.From, g.To, day) }

// Counts are the sizes of a roster's tables.
func (r *Roster) Counts() (units, party, cadres, staff int) {
	return len(r.Units), len(r.Party), len(r.Cadres), len(r.GridStaff)
}

// Live holds the roster in force, replaced whole when the file is reloaded.
type Live struct{ p atomic.Pointer[Roster] }

// NewLive returns a holder of r (an empty roster when r is nil).
func NewLive(r *Roster) *Live {
	if r == nil {
		r = Empty()
	}
	l := &Live{}
	l.p.Store(r)
	return l
}

// Load is the roster in force (an empty one when l is nil).
func (l *Live) Load() *Roster {
	if l == nil {
		return Empty()
	}
	return l.p.Load()
}

// Store puts r in force.
func (l *Live) Store(r *Roster) { l.p.Store(r) }
