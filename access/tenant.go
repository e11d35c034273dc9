package access

import (
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Tenant is one party a deployment serves (a county's center beside its neighbours', a city's
// over its counties): the region subtrees its data lives in. A principal of a tenant sees only
// the regions, cases and live topics under its tenant's roots; anything else is answered as if
// it did not exist. Roots of two tenants never overlap unless one tenant is the other's
// ancestor (Parent): a parent's roots contain its children's, so it sees their data too.
type Tenant struct {
	Name   string
	Roots  []string
	Parent *Tenant // nil: a top-level tenant
}

// Covers reports whether the region whose path (root → region, as the tree gives it) is path
// lies under one of t's roots. A nil tenant covers every region; an empty path none.
func (t *Tenant) Covers(path []string) bool {
	if t == nil {
		return true
	}
	for _, c := range path {
		if slices.Contains(t.Roots, c) {
			return true
		}
	}
	return false
}

// Within reports whether t is u or one of u's descendants, that is whether u sees t's data.
// Tenants are compared by name (a reload builds new values).
func (t *Tenant) Within(u *Tenant) bool {
	if u == nil {
		return true
	}
	for x, n := t, 0; x != nil && n < 64; x, n = x.Parent, n+1 {
		if x.Name == u.Name {
			return true
		}
	}
	return false
}

// PathFunc returns the codes from the region tree's root to code (inclusive), nil when the code
// is unknown. The config checks regions and tenant roots with it.
type PathFunc func(code string) []string

// parseTenants reads the tenants: section.
//
//	tenants:
//	  - {name: xinyang, roots: ["4115"]}                    # a city center over its counties
//	  - {name: shihe, roots: ["411502"], parent: xinyang}
//	  - {name: pingqiao, roots: ["411503"], parent: xinyang}
//
// Names are unique and hold no ':', '/' or blank; roots are known regions, none inside another
// root of the same tenant; a tenant's roots lie within its parent's; roots of two tenants overlap
// only when one is the other's ancestor.
func parseTenants(file string, val *yaml.Node, path PathFunc) ([]*Tenant, error) {
	if val.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%s:%d: tenants must be a list", file, val.Line)
	}
	if len(val.Content) == 0 {
		return nil, fmt.Errorf("%s:%d: tenants lists no tenant (leave the section out for one tenant)", file, val.Line)
	}
	fail := func(line, j int, format string, args ...any) error {
		return fmt.Errorf("%s:%d: tenants[%d]: %s", file, line, j, fmt.Sprintf(format, args...))
	}
	type parsed struct {
		t               *Tenant
		parent          string
		line, rootsLine int
		parentLine      int
	}
	var ts []parsed
	byName := map[string]int{}
	for j, item := range val.Content {
		if item.Kind != yaml.MappingNode {
			return nil, fail(item.Line, j, "must be a mapping")
		}
		p := parsed{t: &Tenant{}, line: item.Line}
		for i := 0; i+1 < len(item.Content); i += 2 {
			k, v := item.Content[i], item.Content[i+1]
			var err error
			switch k.Value {
			case "name":
				p.t.Name, err = scalar(v)
				if err == nil && (p.t.Name == "" || strings.ContainsAny(p.t.Name, ":/ \t\r\n")) {
					err = fmt.Errorf("must be a word without ':', '/' or blanks")
				}
			case "roots", "root":
				var rs []string
				if rs, err = list(v); err == nil {
					for _, r := range rs {
						if path(r) == nil {
							return nil, fail(v.Line, j, "unknown region %q", r)
						}
					}
					p.t.Roots, p.rootsLine = append(p.t.Roots, rs...), v.Line
				}
			case "parent":
				p.parent, err = scalar(v)
				p.parentLine = v.Line
			default:
				return nil, fail(k.Line, j, "unknown field %q (allowed: name, roots, parent)", k.Value)
			}
			if err != nil {
				return nil, fail(v.Line, j, "%s: %v", k.Value, err)
			}
		}
		if p.t.Name == "" {
			return nil, fail(item.Line, j, "a name is required")
		}
		if _, dup := byName[p.t.Name]; dup {
			return nil, fail(item.Line, j, "tenant %q given twice", p.t.Name)
		}
		if len(p.t.Roots) == 0 {
			return nil, fail(item.Line, j, "tenant %q: roots are required (the region subtrees of its data)", p.t.Name)
		}
		for a, r := range p.t.Roots {
			for b, q := range p.t.Roots {
				if a != b && slices.Contains(path(r), q) {
					return nil, fail(p.rootsLine, j, "root %q lies within root %q of the same tenant", r, q)
				}
			}
		}
		byName[p.t.Name] = j
		ts = append(ts, p)
	}
	for j, p := range ts {
		if p.parent == "" {
			continue
		}
		k, ok := byName[p.parent]
		if !ok || k == j {
			return nil, fail(p.parentLine, j, "parent %q is not another tenant", p.parent)
		}
		p.t.Parent = ts[k].t
	}
	for j, p := range ts {
		for x, n := p.t.Parent, 0; x != nil; x, n = x.Parent, n+1 {
			if x == p.t || n > len(ts) {
				return nil, fail(p.parentLine, j, "tenant %q is its own ancestor", p.t.Name)
			}
		}
		if par := p.t.Parent; par != nil {
			for _, r := range p.t.Roots {
				if !par.Covers(path(r)) {
					return nil, fail(p.rootsLine, j, "root %q lies outside the roots of its parent %q", r, par.Name)
				}
			}
		}
	}
	for j, p := range ts {
		for k := range j {
			q := ts[k]
			if p.t.Within(q.t) || q.t.Within(p.t) {
				continue
			}
			for _, r := range p.t.Roots {
				for _, s := range q.t.Roots {
					if slices.Contains(path(r), s) || slices.Contains(path(s), r) {
						return nil, fail(p.rootsLine, j, "root %q of tenant %q overlaps root %q of tenant %q: two tenants' roots overlap only when one is the other's parent",
							r, p.t.Name, s, q.t.Name)
					}
				}
			}
		}
	}
	out := make([]*Tenant, len(ts))
	for j, p := range ts {
		out[j] = p.t
	}
	return out, nil
}
