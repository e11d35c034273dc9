package importer

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"unicode"
)

// CategoryUnmapped is the contract's category of a report whose source category has no code
// (event.CategoryUnmapped); every deployment accepts it, category_text keeps the wording.
const CategoryUnmapped = "unmapped"

// maxCategoryText is the contract's longest category_text, in characters.
const maxCategoryText = 200

// foldKey is the lenient form of a source value: full-width ASCII and spaces folded,
// lowercased, runs of white space collapsed, trimmed.
func foldKey(s string) string {
	var b strings.Builder
	space := false
	for _, r := range strings.TrimSpace(s) {
		switch {
		case r == '\u3000':
			r = ' '
		case r >= '\uff01' && r <= '\uff5e':
			r -= 0xfee0
		}
		if unicode.IsSpace(r) {
			if !space {
				b.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		b.WriteRune(unicode.ToLower(r))
	}
	return strings.TrimSpace(b.String())
}

// pair is one "source value,target" line of a mapping file.
type pair struct {
	value, target string
	line          int
}

// readPairs reads a two-column CSV (UTF-8, a byte-order mark allowed): source value, target.
// Blank lines and lines starting with "#" are skipped; a first line whose second cell is a
// header word (code, outcome, 编码, 代码, 结果…) is a header.
func readPairs(r io.Reader, headers ...string) ([]pair, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.Comment = '#'
	cr.TrimLeadingSpace = true
	var out []pair
	for first := true; ; first = false {
		rec, err := cr.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		line, _ := cr.FieldPos(0)
		if first && len(rec) > 0 {
			rec[0] = strings.TrimPrefix(rec[0], "\ufeff")
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if len(rec) != 2 {
			return nil, fmt.Errorf("line %d: want 2 columns (source value,%s), have %d", line, headers[0], len(rec))
		}
		v, t := strings.TrimSpace(rec[0]), strings.TrimSpace(rec[1])
		if first && slices.Contains(headers, strings.ToLower(t)) {
			continue
		}
		if v == "" {
			return nil, fmt.Errorf("line %d: empty source value", line)
		}
		out = append(out, pair{v, t, line})
	}
}

// CategoryMap maps a source system's category wording onto the catalogue codes of the
// deployment (`--category-map FILE`).
type CategoryMap struct {
	exact, folded map[string]string
	codes         map[string]bool
}

// validCode reports whether s can be a category code (the contract's id characters, 1-64).
func validCode(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// ParseCategoryMap reads a category map: CSV lines "source value,code" (a header line
// "…,code" is allowed). A value is looked up as written, else ignoring case, full-width forms
// and runs of spaces. The code unmapped says a value is known to have no code. A value given
// twice with two codes is refused.
func ParseCategoryMap(r io.Reader) (*CategoryMap, error) {
	ps, err := readPairs(r, "code", "category", "编码", "代码", "类别编码")
	if err != nil {
		return nil, fmt.Errorf("category map: %w", err)
	}
	m := &CategoryMap{exact: map[string]string{}, folded: map[string]string{}, codes: map[string]bool{}}
	seen := map[string]pair{}
	for _, p := range ps {
		if !validCode(p.target) {
			return nil, fmt.Errorf("category map: line %d: %q is not a category code (letters, digits, . _ -; at most 64)", p.line, p.target)
		}
		k := foldKey(p.value)
		if o, dup := seen[k]; dup && o.target != p.target {
			return nil, fmt.Errorf("category map: line %d: %q maps to %s, but line %d maps it to %s", p.line, p.value, p.target, o.line, o.target)
		}
		seen[k] = p
		m.exact[p.value] = p.target
		m.folded[k] = p.target
		m.codes[p.target] = true
	}
	return m, nil
}

// LoadCategoryMap reads a category map file.
func LoadCategoryMap(path string) (*CategoryMap, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, err := ParseCategoryMap(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Lookup returns the code of a source value.
func (m *CategoryMap) Lookup(value string) (string, bool) {
	if m == nil {
		return "", false
	}
	if c, ok := m.exact[strings.TrimSpace(value)]; ok {
		return c, true
	}
	c, ok := m.folded[foldKey(value)]
	return c, ok
}

// Len is the number of source values mapped.
func (m *CategoryMap) Len() int {
	if m == nil {
		return 0
	}
	return len(m.exact)
}

// StatusMap maps status values onto outcomes (`--status-map FILE`); it is consulted before
// the preset's own table.
type StatusMap map[string]Outcome

// ParseStatusMap reads "status value,outcome" lines (outcome: one of Outcomes).
func ParseStatusMap(r io.Reader) (StatusMap, error) {
	ps, err := readPairs(r, "outcome", "结果", "状态结果")
	if err != nil {
		return nil, fmt.Errorf("status map: %w", err)
	}
	m := StatusMap{}
	for _, p := range ps {
		o := Outcome(strings.ToLower(p.target))
		if o == "closed" {
			o = Fixed
		}
		if !slices.Contains(Outcomes, o) {
			return nil, fmt.Errorf("status map: line %d: outcome %q: want one of %s", p.line, p.target, outcomeList())
		}
		m[foldKey(p.value)] = o
	}
	return m, nil
}

// LoadStatusMap reads a status map file.
func LoadStatusMap(path string) (StatusMap, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, err := ParseStatusMap(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

func outcomeList() string {
	s := make([]string, len(Outcomes))
	for i, o := range Outcomes {
		s[i] = string(o)
	}
	return strings.Join(s, ", ")
}

// errNoColumns is returned for a mapping without its id and created columns.
var errNoColumns = errors.New("the id and created columns must be mapped")
