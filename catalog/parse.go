package catalog

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"zhili/errs"
	"zhili/event"
)

// Options are the checks that need the deployment.
type Options struct {
	// KnownRegion reports whether a department's region is in the region tree (nil: not checked).
	KnownRegion func(code string) bool
}

// Problem is one refused row or field of a catalogue file.
type Problem struct {
	File string
	Line int // 0: the file as a whole
	Msg  string
}

func (p Problem) String() string {
	if p.Line == 0 {
		return p.File + ": " + p.Msg
	}
	return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
}

// Problems is the error of a file that was refused: every problem found, by line.
type Problems []Problem

func (ps Problems) Error() string { return errs.Lines(ps, 20) }

// MaxProblems bounds the problems reported for one file.
const MaxProblems = 200

// Limits of one entry, in characters.
const (
	MaxCodeLen = event.MaxDeptLen // a code (events carry department codes of at most this)
	MaxNameLen = 64
	MaxKindLen = 32
)

// Load reads and checks a catalogue file: CSV when its name ends in .csv, else YAML.
func Load(path string, opt Options) (*Catalog, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(b, path, opt)
}

// Parse checks a catalogue file's content; file names it in problems (and decides the format:
// CSV when it ends in .csv, else YAML). A refused file returns Problems.
func Parse(b []byte, file string, opt Options) (*Catalog, error) {
	p := &parser{file: file, opt: opt, catLine: map[string]int{}, deptLine: map[string]int{}}
	b = bytes.TrimPrefix(b, []byte("\uFEFF"))
	if !utf8.Valid(b) {
		p.add(0, "not UTF-8: save the file as UTF-8")
		return nil, p.probs
	}
	var cats []Category
	var depts []Department
	var haveCats, haveDepts bool
	if strings.EqualFold(filepath.Ext(file), ".csv") {
		cats, depts = p.csv(b)
		haveCats, haveDepts = len(cats) > 0, len(depts) > 0
	} else {
		cats, depts, haveCats, haveDepts = p.yaml(b)
	}
	p.check(cats, depts)
	if len(p.probs) > 0 {
		slices.SortStableFunc(p.probs, func(a, b Problem) int { return a.Line - b.Line })
		return nil, p.probs
	}
	// A table the file leaves out keeps the built-in one.
	if !haveCats {
		cats = slices.Clone(defaultCategories)
	}
	if !haveDepts {
		depts = slices.Clone(defaultDepartments)
	}
	return build(cats, depts), nil
}

type parser struct {
	file     string
	opt      Options
	probs    Problems
	catLine  map[string]int // code → line of its entry
	deptLine map[string]int
}

func (p *parser) add(line int, format string, args ...any) {
	if len(p.probs) < MaxProblems {
		p.probs = append(p.probs, Problem{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
}

// field is a named text field of a catalogue entry, as files name it.
type field struct {
	name string
	p    *string
}

// fields lists a category's fields in file order.
func (x *Category) fields() []field {
	return []field{{"code", &x.Code}, {"zh", &x.Zh}, {"en", &x.En}, {"parent", &x.Parent}, {"color", &x.Color}}
}

// fields lists a department's fields in file order.
func (x *Department) fields() []field {
	return []field{{"code", &x.Code}, {"zh", &x.Zh}, {"en", &x.En}, {"kind", &x.Kind}, {"parent", &x.Parent}, {"region", &x.Region}}
}

// setField assigns the field called name; it reports false when the entry has no such field.
func setField(fs []field, name, v string) bool {
	for _, f := range fs {
		if f.name == name {
			*f.p = v
			return true
		}
	}
	return false
}

// fieldNames lists the names of fs, for messages.
func fieldNames(fs []field) string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.name
	}
	return strings.Join(names, ", ")
}

// yaml reads the mapping {categories: [...], departments: [...]}; a section present (even
// empty) replaces the built-in one.
func (p *parser) yaml(b []byte) (cats []Category, depts []Department, haveCats, haveDepts bool) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		p.add(0, "not YAML: %v", err)
		return
	}
	if len(doc.Content) == 0 {
		return // an empty file: the built-in catalogue
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		p.add(root.Line, "the catalogue must be a mapping with categories: and departments:")
		return
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch k.Value {
		case "categories", "departments":
		default:
			p.add(k.Line, "unknown section %q (categories, departments)", k.Value)
			continue
		}
		if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
			v = &yaml.Node{Kind: yaml.SequenceNode, Line: v.Line}
		}
		if v.Kind != yaml.SequenceNode {
			p.add(v.Line, "%s must be a list of entries", k.Value)
			continue
		}
		cat := k.Value == "categories"
		if cat {
			haveCats = true
		} else {
			haveDepts = true
		}
		for _, item := range v.Content {
			if item.Kind != yaml.MappingNode {
				p.add(item.Line, "an entry of %s must be a mapping (code: …, zh: …)", k.Value)
				continue
			}
			var c Category
			var d Department
			ok := true
			for j := 0; j+1 < len(item.Content); j += 2 {
				fk, fv := item.Content[j], item.Content[j+1]
				if fv.Kind != yaml.ScalarNode {
					p.add(fv.Line, "%s must be one value", fk.Value)
					ok = false
					continue
				}
				val := fv.Value
				if fv.Tag == "!!null" {
					val = ""
				}
				fs := d.fields()
				if cat {
					fs = c.fields()
				}
				if !setField(fs, fk.Value, val) {
					p.add(fk.Line, "unknown field %q (allowed: %s)", fk.Value, fieldNames(fs))
					ok = false
				}
			}
			if !ok {
				continue
			}
			if cat {
				if p.category(item.Line, &c) {
					cats = append(cats, c)
				}
			} else if p.department(item.Line, &d) {
				depts = append(depts, d)
			}
		}
	}
	return
}

// csv reads rows under a header: table (category or department, 类别 or 部门), code, zh, and any
// of en, parent, color (categories), kind, region (departments). Lines starting with # are
// comments.
func (p *parser) csv(b []byte) (cats []Category, depts []Department) {
	r := csv.NewReader(bytes.NewReader(b))
	r.Comment = '#'
	r.FieldsPerRecord = -1
	head, err := r.Read()
	if err == io.EOF {
		return nil, nil
	}
	if err != nil {
		p.csvError(err)
		return nil, nil
	}
	hline, _ := r.FieldPos(0)
	cols := map[string]int{}
	var order []string // the known columns, in the header's order
	for i, h := range head {
		h = strings.ToLower(strings.TrimSpace(h))
		switch h {
		case "table", "code", "zh", "en", "parent", "color", "kind", "region":
		default:
			p.add(hline, "unknown column %q (table, code, zh, en, parent, color, kind, region)", head[i])
			continue
		}
		if _, dup := cols[h]; dup {
			p.add(hline, "column %q given twice", h)
			continue
		}
		cols[h] = i
		order = append(order, h)
	}
	for _, need := range []string{"table", "code", "zh"} {
		if _, ok := cols[need]; !ok {
			p.add(hline, "no column %q: the header needs table, code and zh", need)
		}
	}
	if len(p.probs) > 0 {
		return nil, nil
	}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			p.csvError(err)
			break
		}
		line, _ := r.FieldPos(0)
		get := func(name string) string {
			if i, ok := cols[name]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		if len(rec) > len(head) {
			p.add(line, "%d fields, the header has %d", len(rec), len(head))
			continue
		}
		var c Category
		var d Department
		var fields []field
		var table string
		switch t := get("table"); strings.ToLower(t) {
		case "category", "类别":
			table, fields = "category", c.fields()
		case "department", "dept", "部门":
			table, fields = "department", d.fields()
		default:
			p.add(line, "table %q: category (类别) or department (部门)", t)
			continue
		}
		ok := true
		for _, name := range order {
			if name == "table" {
				continue
			}
			v := get(name)
			if !setField(fields, name, v) && v != "" {
				p.add(line, "%s is not a field of a %s (%s)", name, table, fieldNames(fields))
				ok = false
			}
		}
		if !ok {
			continue
		}
		if table == "category" {
			if p.category(line, &c) {
				cats = append(cats, c)
			}
		} else if p.department(line, &d) {
			depts = append(depts, d)
		}
	}
	return cats, depts
}

func (p *parser) csvError(err error) {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		p.add(pe.Line, "%v", pe.Err)
		return
	}
	p.add(0, "%v", err)
}

var colorRE = regexp.MustCompile(`^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)

// codeProblem says what is wrong with a code ("" when nothing). Category codes hold no blank;
// department codes may (events name departments by code or by name).
func codeProblem(code string, blanks bool) string {
	switch n := utf8.RuneCountInString(code); {
	case code == "":
		return "no code"
	case n > MaxCodeLen:
		return fmt.Sprintf("code %q is %d characters long, at most %d", code, n, MaxCodeLen)
	case strings.TrimSpace(code) != code:
		return fmt.Sprintf("code %q starts or ends with a blank", code)
	}
	for _, r := range code {
		if unicode.IsControl(r) || !blanks && unicode.IsSpace(r) {
			return fmt.Sprintf("code %q holds a blank or a control character", code)
		}
	}
	return ""
}

// text checks a name or kind; it reports false after adding the problem.
func (p *parser) text(line int, code, field, v string, max int, required bool) bool {
	switch n := utf8.RuneCountInString(v); {
	case v == "" && required:
		p.add(line, "%s: no %s name", code, field)
	case n > max:
		p.add(line, "%s: %s is %d characters long, at most %d", code, field, n, max)
	case strings.IndexFunc(v, unicode.IsControl) >= 0:
		p.add(line, "%s: %s holds a control character", code, field)
	default:
		return true
	}
	return false
}

// entry checks what categories and departments share: the code (blanks: it may hold blanks,
// codeProblem), its first appearance in seen, and the zh and en names. checked is false
// when the code itself is unusable (nothing else was checked); ok is false on any problem.
func (p *parser) entry(line int, table, code, zh, en string, blanks bool, seen map[string]int) (ok, checked bool) {
	if msg := codeProblem(code, blanks); msg != "" {
		p.add(line, "%s: %s", table, msg)
		return false, false
	}
	ok = true
	if first, dup := seen[code]; dup {
		p.add(line, "%s %q given twice (first at line %d)", table, code, first)
		ok = false
	} else {
		seen[code] = line
	}
	ok = p.text(line, code, "zh", zh, MaxNameLen, true) && ok
	ok = p.text(line, code, "en", en, MaxNameLen, false) && ok
	return ok, true
}

// category checks one category's own fields (parents are checked once all are read).
func (p *parser) category(line int, c *Category) bool {
	ok, checked := p.entry(line, "category", c.Code, c.Zh, c.En, false, p.catLine)
	if !checked {
		return false
	}
	if c.Color != "" && !colorRE.MatchString(c.Color) {
		p.add(line, "%s: color %q must be #rgb or #rrggbb", c.Code, c.Color)
		ok = false
	}
	if c.Code == event.CategoryUnmapped && c.Parent != "" {
		p.add(line, "%s: the category of reports without a code has no parent", c.Code)
		ok = false
	}
	return ok
}

// department checks one department's own fields.
func (p *parser) department(line int, d *Department) bool {
	ok, checked := p.entry(line, "department", d.Code, d.Zh, d.En, true, p.deptLine)
	if !checked {
		return false
	}
	ok = p.text(line, d.Code, "kind", d.Kind, MaxKindLen, false) && ok
	if d.Region != "" && p.opt.KnownRegion != nil && !p.opt.KnownRegion(d.Region) {
		p.add(line, "%s: unknown region %q", d.Code, d.Region)
		ok = false
	}
	return ok
}

// check checks the parents of the entries read: known (a code of the file, its row refused or
// not), not the entry itself, no cycle.
func (p *parser) check(cats []Category, depts []Department) {
	catParent := map[string]string{}
	for code := range p.catLine {
		catParent[code] = ""
	}
	for _, c := range cats {
		catParent[c.Code] = c.Parent
	}
	for _, c := range cats {
		p.parent(p.catLine[c.Code], "category", c.Code, c.Parent, catParent)
		if c.Parent == event.CategoryUnmapped {
			p.add(p.catLine[c.Code], "%s: parent %s: the category of reports without a code refines none", c.Code, c.Parent)
		}
	}
	deptParent := map[string]string{}
	for code := range p.deptLine {
		deptParent[code] = ""
	}
	for _, d := range depts {
		deptParent[d.Code] = d.Parent
	}
	for _, d := range depts {
		p.parent(p.deptLine[d.Code], "department", d.Code, d.Parent, deptParent)
	}
}

func (p *parser) parent(line int, what, code, parent string, parents map[string]string) {
	if parent == "" {
		return
	}
	if _, ok := parents[parent]; !ok && !(what == "category" && parent == event.CategoryUnmapped) {
		p.add(line, "%s: parent %q is not a %s of the file", code, parent, what)
		return
	}
	if parent == code {
		p.add(line, "%s: is its own parent", code)
		return
	}
	seen := map[string]bool{code: true}
	chain := []string{code}
	for at := parent; at != ""; at = parents[at] {
		chain = append(chain, at)
		if seen[at] {
			p.add(line, "%s: its parents go round in a circle (%s)", code, strings.Join(chain, " → "))
			return
		}
		seen[at] = true
	}
}

// YAML is the catalogue as the file `zhili import catalog` stores (the form Parse reads back).
func (c *Catalog) YAML() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("# The catalogue in force: written by `zhili import catalog`, read by `zhili serve`.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(struct {
		Categories  []Category   `yaml:"categories"`
		Departments []Department `yaml:"departments"`
	}{c.Categories, c.Departments}); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
