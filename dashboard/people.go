package dashboard

import (
	"zhili/geo"
	"zhili/roster"
	"zhili/update"
)

// The people layer of the overview (docs/ROSTER.md, "On the wall"): grid staffing (网格长
// present, 网格员 on the roster, how many on duty now from staff.duty records) and the party
// organisation of the 王-shaped structure (顶线 县区党委, 中线 乡镇街道党(工)委, 底线 村社党组织,
// 竖线 the departments), as counts only: no name of a person ever reaches a wall.

// staffing are the grid staffing counts of a region (its grids, or one grid).
type staffing struct {
	grids, heads, workers, onDuty, noHead, noneOn, uncovered int64
}

func (s *staffing) add(o *staffing) {
	s.grids += o.grids
	s.heads += o.heads
	s.workers += o.workers
	s.onDuty += o.onDuty
	s.noHead += o.noHead
	s.noneOn += o.noneOn
	s.uncovered += o.uncovered
}

func (s *staffing) data() map[string]any {
	return map[string]any{"grids": s.grids, "heads": s.heads, "workers": s.workers, "on_duty": s.onDuty,
		"no_head": s.noHead, "none_on_duty": s.noneOn, "uncovered": s.uncovered}
}

// partyCount is one level of the party organisation within a region: organisations, regions
// of the level, and how many of them have an organisation whose secretary is in office today.
type partyCount struct{ orgs, regions, inForce int64 }

// partyLines are the lines of the 王 structure the wall shows, in order: a party level of the
// roster with the line it draws (顶线, 中线, 底线); the departments (竖线) come last.
var partyLines = []struct{ level, line, lineEn, nameEn, roleEn string }{
	{"county", "顶线", "Top", "County committee", "First-line HQ"},
	{"township", "中线", "Middle", "Township committees", "Front posts"},
	{"village", "底线", "Bottom", "Village branches", "Task squads"},
}

// people is what the people layer needs of a roster on one day, per region code (each region
// sums its subtree).
type people struct {
	ro    *roster.Roster
	day   string
	ver   uint64 // duty version it was built with
	staff map[string]*staffing
	party map[string]*[3]partyCount
	depts [2]int64 // departments (竖线) of the roster, and those with a head in office today
}

// gridTest tells the grids of the tree: regions of kind grid when the tree names any, else its
// leaves below the root.
func gridTest(t *geo.Tree) func(r *geo.Region) bool {
	named := false
	t.Walk(func(r *geo.Region) {
		if r.Kind == "grid" {
			named = true
		}
	})
	if named {
		return func(r *geo.Region) bool { return r.Kind == "grid" }
	}
	return func(r *geo.Region) bool { return r.Level > 0 && len(r.Children) == 0 }
}

// buildPeople counts the staffing of every grid and sums it up the tree, and the party
// organisations per level. duty is each staff member's state in force.
func buildPeople(t *geo.Tree, ro *roster.Roster, day string, duty map[string]update.Duty) *people {
	p := &people{ro: ro, day: day, staff: map[string]*staffing{}, party: map[string]*[3]partyCount{}}
	isGrid := gridTest(t)
	grid := map[string]*staffing{}
	t.Walk(func(r *geo.Region) {
		if isGrid(r) {
			grid[r.Code] = &staffing{grids: 1}
		}
	})
	for _, g := range ro.GridStaff {
		s := grid[g.Grid]
		if s == nil || !g.At(day) {
			continue
		}
		if g.Role == "head" {
			s.heads = 1
		} else {
			s.workers++
		}
	}
	for _, d := range duty {
		if s := grid[d.Grid]; s != nil && d.On {
			s.onDuty++
		}
	}
	up := func(code string, fn func(code string)) {
		for r := t.Get(code); r != nil; r = t.Get(r.Parent) {
			fn(r.Code)
			if r.Parent == "" {
				break
			}
		}
	}
	for code, s := range grid {
		if s.heads == 0 {
			s.noHead = 1
		}
		if s.onDuty == 0 {
			s.noneOn = 1
		}
		if s.heads == 0 || s.onDuty == 0 {
			s.uncovered = 1
		}
		up(code, func(c string) {
			a := p.staff[c]
			if a == nil {
				a = &staffing{}
				p.staff[c] = a
			}
			a.add(s)
		})
	}

	// Party: which organisations have a secretary (a leading post) in office today.
	led := map[string]bool{}
	for _, c := range ro.Cadres {
		if c.Leader && c.At(day) {
			led[c.Unit] = true
		}
	}
	pc := func(code string) *[3]partyCount {
		a := p.party[code]
		if a == nil {
			a = &[3]partyCount{}
			p.party[code] = a
		}
		return a
	}
	for i, l := range partyLines {
		// The tree level a party level sits at: the most common level of its organisations.
		levels := map[int]int{}
		covered := map[string]bool{}
		for _, o := range ro.Party {
			if o.Level != l.level {
				continue
			}
			r := t.Get(o.Region)
			if r == nil {
				continue
			}
			levels[r.Level]++
			up(r.Code, func(c string) { pc(c)[i].orgs++ })
			if led[o.Code] {
				covered[r.Code] = true
			}
		}
		at, most := -1, 0
		for lv, n := range levels {
			if n > most || n == most && lv < at {
				at, most = lv, n
			}
		}
		if at < 0 {
			continue
		}
		t.Walk(func(r *geo.Region) {
			if r.Level != at {
				return
			}
			in := covered[r.Code]
			up(r.Code, func(c string) {
				a := &pc(c)[i]
				a.regions++
				if in {
					a.inForce++
				}
			})
		})
	}
	for _, u := range ro.Units {
		if u.Kind == "department" {
			p.depts[0]++
			if led[u.Code] {
				p.depts[1]++
			}
		}
	}
	return p
}

// staffingOf is the staffing data of region r: its totals, each child's and each grandchild's
// (the map's two levels: at a county the townships and their grids; at a city the counties and
// their townships, grids being too small to see there).
func (p *people) staffingOf(r *geo.Region) map[string]any {
	get := func(code string) map[string]any {
		if s := p.staff[code]; s != nil {
			return s.data()
		}
		return (&staffing{}).data()
	}
	children := make(map[string]any, len(r.Children))
	cells := map[string]any{}
	for _, c := range r.Children {
		children[c.Code] = get(c.Code)
		for _, g := range c.Children {
			cells[g.Code] = get(g.Code)
		}
	}
	return map[string]any{"totals": get(r.Code), "children": children, "cells": cells}
}

// partyOf is the party-organisation data of region r: one entry per line of the 王 structure.
func (p *people) partyOf(r *geo.Region) map[string]any {
	a := p.party[r.Code]
	if a == nil {
		a = &[3]partyCount{}
	}
	lines := make([]any, 0, len(partyLines))
	for i, l := range partyLines {
		lb := roster.LabelOf(roster.PartyLevels, l.level)
		lines = append(lines, map[string]any{"level": l.level, "line": l.line, "line_en": l.lineEn,
			"zh": lb.Zh, "en": l.nameEn, "role": lb.Role, "role_en": l.roleEn,
			"orgs": a[i].orgs, "regions": a[i].regions, "in_force": a[i].inForce})
	}
	return map[string]any{"day": p.day, "lines": lines,
		"depts": map[string]any{"line": "竖线", "line_en": "Vertical", "units": p.depts[0], "in_force": p.depts[1]}}
}
