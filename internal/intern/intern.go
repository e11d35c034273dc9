// Package intern detaches strings from the buffers they were decoded from. The JSON decoder the
// hot paths use (goccy/go-json) does not copy strings: each points into the decoder's copy of
// the whole input, so one string kept for long (a counter's region, a case's category) keeps
// that input alive, up to megabytes for one bus payload. Names from small, bounded sets (region
// codes, categories, departments, statuses) are interned, so that every holder shares one copy;
// identifiers are cloned (strings.Clone).
package intern

import "strings"

// MaxNames bounds a table; past it names are cloned instead of added (a bug upstream sending
// unbounded names must not grow the table for ever).
const MaxNames = 1 << 18

// Table is an intern table. Not safe for concurrent use: its owner's lock guards it.
type Table struct{ m map[string]string }

// Of returns the table's copy of s, adding a copy of s when it has none.
func (t *Table) Of(s string) string {
	if s == "" {
		return ""
	}
	if c, ok := t.m[s]; ok {
		return c
	}
	c := strings.Clone(s)
	if t.m == nil {
		t.m = map[string]string{}
	}
	if len(t.m) < MaxNames {
		t.m[c] = c
	}
	return c
}

// Path interns the codes of a region path in place.
func (t *Table) Path(p []string) {
	for i, c := range p {
		p[i] = t.Of(c)
	}
}

// Len is the number of names held.
func (t *Table) Len() int { return len(t.m) }
