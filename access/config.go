package access

import (
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"zhili/event"
)

// Sections are the top-level config keys that define principals:
//
//	access:        # the general form
//	  - {name: 12345 hotline, key: <secret>, roles: [source], regions: ["411502"], types: [case.reported]}
//	  - {name: 大屏, token: <secret>, roles: [screen, leader], region: "411502"}
//	ingest_keys:   # shorthand: roles [source]
//	  - {key: <secret>, regions: [...], types: [...]}
//	view_tokens:   # shorthand: roles [screen, leader, evaluator], plus officer with pii: true
//	  - {token: <secret>, region: "411502", pii: true}
//
// A secret may be given hashed ("sha256:<hex>", see Digest). Parsing fails closed: an unknown
// field, role, region or event type, a missing secret, a source that would also read, or a
// secret given twice is an error naming the file and line.
//
// With a tenants: section (see parseTenants) every entry names its tenant:; its regions must lie
// under the tenant's roots, and an entry without regions is limited to those roots.
var Sections = []string{"access", "ingest_keys", "view_tokens", "tenants"}

// LegacyViewerRoles are the roles a view_tokens entry holds (what a viewer token could do
// before roles existed); pii: true adds Officer.
var LegacyViewerRoles = Of(Screen, Leader, Evaluator)

// ParseConfig reads the tenants and the principals under Sections from a YAML document node.
// file names the source in errors; path gives a region's path in the tree, nil for an unknown
// code (path nil: any code is known, and no code lies within another).
func ParseConfig(doc *yaml.Node, file string, path PathFunc) (*Keyring, error) {
	if path == nil {
		path = func(code string) []string { return []string{code} }
	}
	k := &Keyring{}
	root := doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind == 0 {
		return k, nil // empty file
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: the config must be a mapping", file, root.Line)
	}
	// Tenants first: entries name them wherever the section stands.
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "tenants" {
			ts, err := parseTenants(file, root.Content[i+1], path)
			if err != nil {
				return nil, err
			}
			k.tenants = ts
		}
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, val := root.Content[i], root.Content[i+1]
		switch key.Value {
		case "access", "ingest_keys", "view_tokens":
		default:
			continue
		}
		if val.Kind != yaml.SequenceNode {
			return nil, fmt.Errorf("%s:%d: %s must be a list", file, val.Line, key.Value)
		}
		for j, item := range val.Content {
			secret, p, err := parseEntry(key.Value, item, path, k.tenants)
			if err == nil {
				err = k.Add(secret, p)
			}
			if err != nil {
				line := item.Line
				if le, ok := err.(lineError); ok {
					line = le.line
				}
				return nil, fmt.Errorf("%s:%d: %s[%d]: %w", file, line, key.Value, j, err)
			}
		}
	}
	return k, nil
}

func parseEntry(section string, n *yaml.Node, path PathFunc, tenants []*Tenant) (string, *Principal, error) {
	if n.Kind != yaml.MappingNode {
		return "", nil, fmt.Errorf("must be a mapping")
	}
	allowed := map[string][]string{
		"access":      {"name", "key", "token", "roles", "regions", "region", "types", "tenant"},
		"ingest_keys": {"name", "key", "regions", "region", "types", "tenant"},
		"view_tokens": {"name", "token", "regions", "region", "pii", "tenant"},
	}[section]
	p := &Principal{}
	var secret string
	var roles []string
	pii, haveRoles := false, false
	regionsLine := n.Line
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		ok := false
		for _, a := range allowed {
			ok = ok || a == k.Value
		}
		if !ok {
			return "", nil, atLine(k.Line, "unknown field %q (allowed: %s)", k.Value, strings.Join(allowed, ", "))
		}
		var err error
		switch k.Value {
		case "name":
			p.Name, err = scalar(v)
		case "key", "token":
			if secret != "" {
				return "", nil, atLine(k.Line, "give one of key and token")
			}
			secret, err = scalar(v)
		case "roles":
			roles, err = list(v)
			haveRoles = true
		case "region", "regions":
			var rs []string
			if rs, err = list(v); err == nil {
				for _, r := range rs {
					if path(r) == nil {
						return "", nil, atLine(v.Line, "unknown region %q", r)
					}
				}
				p.Regions, regionsLine = append(p.Regions, rs...), v.Line
			}
		case "tenant":
			var name string
			if name, err = scalar(v); err == nil {
				if len(tenants) == 0 {
					return "", nil, atLine(v.Line, "tenant %q: no tenants are configured (a tenants: section names them)", name)
				}
				for _, t := range tenants {
					if t.Name == name {
						p.Tenant = t
					}
				}
				if p.Tenant == nil {
					return "", nil, atLine(v.Line, "unknown tenant %q (known: %s)", name, tenantNames(tenants))
				}
			}
		case "types":
			var ts []string
			if ts, err = list(v); err == nil {
				for _, t := range ts {
					if !event.Type(t).Known() {
						return "", nil, atLine(v.Line, "unknown event type %q", t)
					}
					p.Types = append(p.Types, event.Type(t))
				}
			}
		case "pii":
			err = v.Decode(&pii)
		}
		if err != nil {
			return "", nil, atLine(v.Line, "%s: %v", k.Value, err)
		}
	}
	if secret == "" {
		return "", nil, fmt.Errorf("a key or token is required")
	}
	if len(tenants) > 0 {
		if p.Tenant == nil {
			return "", nil, fmt.Errorf("a tenant is required when tenants are configured (one of %s)", tenantNames(tenants))
		}
		for _, r := range p.Regions {
			if !p.Tenant.Covers(path(r)) {
				return "", nil, atLine(regionsLine, "region %q lies outside the roots of tenant %q", r, p.Tenant.Name)
			}
		}
		if len(p.Regions) == 0 {
			p.Regions = slices.Clone(p.Tenant.Roots) // never the whole tree
		}
	}
	switch section {
	case "ingest_keys":
		p.Roles = Of(Source)
	case "view_tokens":
		p.Roles = LegacyViewerRoles
		if pii {
			p.Roles |= Of(Officer)
		}
	default:
		if !haveRoles || len(roles) == 0 {
			return "", nil, fmt.Errorf("roles are required (one or more of %s)", strings.Join(roleNames[:], ", "))
		}
		for _, s := range roles {
			r, err := ParseRole(s)
			if err != nil {
				return "", nil, err
			}
			p.Roles |= Of(r)
		}
	}
	if p.Roles.Has(Source) && p.Roles.Meets(Readers) {
		return "", nil, fmt.Errorf("a source key never reads: give %s its own token", (p.Roles &^ Of(Source)).String())
	}
	if len(p.Types) > 0 && !p.Roles.Has(Source) {
		return "", nil, fmt.Errorf("types apply to source keys only")
	}
	return secret, p, nil
}

func tenantNames(ts []*Tenant) string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.Name
	}
	return strings.Join(names, ", ")
}

// lineError is an error at a line of the file.
type lineError struct {
	line int
	msg  string
}

func (e lineError) Error() string { return e.msg }

func atLine(line int, format string, args ...any) error {
	return lineError{line, fmt.Sprintf(format, args...)}
}

func scalar(n *yaml.Node) (string, error) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return "", fmt.Errorf("must be a string")
	}
	return strings.TrimSpace(n.Value), nil
}

// list accepts one scalar or a list of scalars.
func list(n *yaml.Node) ([]string, error) {
	if n.Kind == yaml.ScalarNode {
		s, err := scalar(n)
		return []string{s}, err
	}
	if n.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("must be a list")
	}
	var out []string
	for _, c := range n.Content {
		s, err := scalar(c)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}
