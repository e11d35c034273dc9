package roster

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
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"gopkg.in/yaml.v3"

	"zhili/catalog"
	"zhili/errs"
	"zhili/geo"
)

// Options are the checks that need the deployment.
type Options struct {
	Tree    *geo.Tree        // regions and grids are checked against it (nil: not checked)
	Catalog *catalog.Catalog // department codes are checked against it (nil: not checked)
}

// Limits of a roster file.
const (
	MaxFileBytes = 64 << 20 // a file's size
	MaxRows      = 500_000  // rows of all tables together
	MaxProblems  = 200      // problems reported (all are counted)
	MaxCodeLen   = 64       // a code or an id
	MaxNameLen   = 64       // a unit's or an organisation's name, a post
	MaxPersonLen = 32       // a person's name, a post type
	MaxSeatLen   = 16
)

// Problem is one refused row or field of a roster file, or a problem of the file as a whole.
type Problem struct {
	File  string
	Sheet string // XLSX: the sheet
	Line  int    // the line (YAML, CSV) or row (XLSX); 0: the file as a whole
	What  string // the row: "cadre P000123", "unit gov.411502001"; "" for the file or a header
	Field string // the field at fault; "" for the row as a whole
	Msg   string
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Sheet != "" {
		b.WriteString(":" + p.Sheet)
	}
	if p.Line > 0 {
		b.WriteString(":" + strconv.Itoa(p.Line))
	}
	b.WriteString(": ")
	if p.What != "" {
		b.WriteString(p.What + ": ")
	}
	if p.Field != "" {
		b.WriteString(p.Field + ": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems is the error of a refused file: the problems found, in file order.
type Problems []Problem

func (ps Problems) Error() string { return errs.Lines(ps, 20) }

// TableCount is what a file held of one table and how much of it was refused.
type TableCount struct {
	Table, Zh     string
	Read, Refused int
}

// Report is what checking a file found.
type Report struct {
	Problems Problems // at most MaxProblems, in file order
	Unshown  int      // problems beyond those
	// Whole: a problem of the file as a whole (not UTF-8, not YAML, a broken quote, an unknown
	// column or section, too many rows): none of its rows can be trusted.
	Whole   bool
	Tables  []TableCount // units, party, cadres, grid_staff
	NoTable int          // rows refused for naming no known table
}

// OK reports whether the file passed every check.
func (r *Report) OK() bool { return len(r.Problems) == 0 && r.Unshown == 0 }

// Refused is the number of refused rows.
func (r *Report) Refused() int {
	n := 0
	for _, t := range r.Tables {
		n += t.Refused
	}
	return n + r.NoTable
}

// Load reads a roster file and refuses it whole on any problem (Problems): the file a server
// starts with or reloads.
func Load(path string, opt Options) (*Roster, error) {
	r, rep, err := Read(path, opt)
	if err != nil {
		return nil, err
	}
	if !rep.OK() {
		ps := rep.Problems
		if rep.Unshown > 0 {
			ps = append(slices.Clip(ps), Problem{File: path, Msg: fmt.Sprintf("and %d more problems", rep.Unshown)})
		}
		return nil, ps
	}
	return r, nil
}

// Read reads and checks a roster file: XLSX when its name ends in .xlsx, CSV in .csv, else
// YAML. The roster holds the rows that passed (nil when the file as a whole was refused); the
// report names every problem. The error is the file's own (missing, unreadable, too large).
func Read(path string, opt Options) (*Roster, *Report, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if st.Size() > MaxFileBytes {
		return nil, nil, fmt.Errorf("%s: %d bytes, at most %d", path, st.Size(), MaxFileBytes)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	r, rep := Parse(b, path, opt)
	return r, rep, nil
}

// Parse checks a roster file's content; file names it in problems and decides the format by
// its extension (.xlsx, .csv, else YAML).
func Parse(b []byte, file string, opt Options) (*Roster, *Report) {
	p := &parser{file: file, opt: opt, rep: &Report{}}
	for _, t := range tables {
		p.rep.Tables = append(p.rep.Tables, TableCount{Table: t.key, Zh: t.zh})
	}
	switch ext := strings.ToLower(filepath.Ext(file)); ext {
	case ".xlsx":
		p.xlsx(b)
	case ".xls":
		p.whole("", 0, "an Excel 97 workbook (.xls) is not read: save it as .xlsx or .csv")
	case ".csv":
		if b, ok := p.text(b); ok {
			p.csv(b)
		}
	default:
		if b, ok := p.text(b); ok {
			p.yaml(b)
		}
	}
	if p.rep.Whole {
		for _, r := range p.rows {
			r.bad = true
		}
		p.count()
		return nil, p.rep
	}
	for _, r := range p.rows {
		p.decode(r)
	}
	p.check()
	p.count()
	return p.build(), p.rep
}

// Tables of a file, as YAML sections, CSV table values and XLSX sheet names.
const (
	tUnits = iota
	tParty
	tCadres
	tStaff
)

var tables = []struct {
	key, zh, what string
	aliases       []string
	fields        []string
}{
	{"units", "单位", "unit", []string{"unit", "单位"},
		[]string{"code", "zh", "en", "kind", "region", "dept", "parent"}},
	{"party", "党组织", "party organisation", []string{"party_organisations", "party-organisations", "党组织"},
		[]string{"code", "zh", "en", "level", "region", "parent"}},
	{"cadres", "干部", "cadre", []string{"cadre", "干部"},
		[]string{"id", "name", "phone", "post", "post_type", "unit", "seat", "leader", "from", "to"}},
	{"grid_staff", "网格人员", "grid staff", []string{"grid-staff", "staff", "网格力量"},
		[]string{"id", "name", "phone", "role", "grid", "from", "to"}},
}

// tableOf is the table a word names (its key, Chinese name or an alias, any case), or -1.
func tableOf(v string) int {
	v = strings.ToLower(strings.TrimSpace(v))
	for i, t := range tables {
		if v == t.key || v == t.zh || slices.Contains(t.aliases, v) {
			return i
		}
	}
	return -1
}

func tableNames() string {
	var out []string
	for _, t := range tables {
		out = append(out, t.zh+" "+t.key)
	}
	return strings.Join(out, ", ")
}

// columns maps the names a file may give a field (a header, a YAML key) to the field.
var columns = map[string]string{
	"table": "table", "表": "table",
	"code": "code", "编码": "code", "代码": "code",
	"zh": "zh", "名称": "zh",
	"en": "en", "英文名称": "en", "英文名": "en",
	"kind": "kind", "类型": "kind",
	"level": "level", "层级": "level",
	"region": "region", "区划": "region", "区划代码": "region",
	"dept": "dept", "部门": "dept", "部门代码": "dept",
	"parent": "parent", "上级": "parent",
	"id": "id", "编号": "id",
	"name": "name", "姓名": "name",
	"phone": "phone", "电话": "phone", "手机": "phone",
	"post": "post", "职务": "post",
	"post_type": "post_type", "post type": "post_type", "岗位类型": "post_type",
	"unit": "unit", "单位": "unit",
	"seat": "seat", "席位": "seat",
	"leader": "leader", "正职": "leader",
	"from": "from", "任职日期": "from", "起始日期": "from",
	"to": "to", "离任日期": "to", "截止日期": "to",
	"role": "role", "角色": "role",
	"grid": "grid", "网格": "grid",
}

func columnNames() string {
	var out []string
	seen := map[string]bool{}
	for _, t := range append([]string{"table"}, slices.Concat(tables[0].fields, tables[1].fields, tables[2].fields, tables[3].fields)...) {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return strings.Join(out, ", ")
}

type cell struct {
	name, val string
	line      int // YAML: the field's line
}

// row is one entry of a file: its table, where it is, its fields as given, and once decoded,
// the entry it makes.
type row struct {
	t     int
	sheet string
	line  int
	cells []cell
	stray []cell // fields given that are not its table's (refused once the row's key is known)
	bad   bool
	key   string // its code or id once checked usable ("" otherwise)

	unit  Unit
	party Party
	cadre Cadre
	staff GridStaff
}

func (r *row) get(name string) string {
	for _, c := range r.cells {
		if c.name == name {
			return c.val
		}
	}
	return ""
}

func (r *row) what() string {
	if r.t < 0 {
		return "row"
	}
	if r.key == "" {
		return tables[r.t].what
	}
	return tables[r.t].what + " " + r.key
}

type parser struct {
	file   string
	opt    Options
	rep    *Report
	rows   []*row
	sheets []string // XLSX: the sheets read, in workbook order
}

func (p *parser) add(pr Problem) {
	if len(p.rep.Problems) < MaxProblems {
		p.rep.Problems = append(p.rep.Problems, pr)
	} else {
		p.rep.Unshown++
	}
}

// whole adds a problem of the file as a whole.
func (p *parser) whole(sheet string, line int, format string, args ...any) {
	p.rep.Whole = true
	p.add(Problem{File: p.file, Sheet: sheet, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// problem refuses row r for field (its line the field's, in YAML).
func (p *parser) problem(r *row, field, format string, args ...any) {
	r.bad = true
	line := r.line
	for _, c := range r.cells {
		if c.name == field && c.line > 0 {
			line = c.line
		}
	}
	p.add(Problem{File: p.file, Sheet: r.sheet, Line: line, What: r.what(), Field: field, Msg: fmt.Sprintf(format, args...)})
}

// at names where a row is, for messages about another row.
func at(r *row) string {
	if r.sheet != "" {
		return fmt.Sprintf("%s row %d", r.sheet, r.line)
	}
	return fmt.Sprintf("line %d", r.line)
}

func (p *parser) newRow(t int, sheet string, line int) *row {
	r := &row{t: t, sheet: sheet, line: line}
	if len(p.rows) == MaxRows {
		p.whole(sheet, line, "more than %d rows", MaxRows)
	}
	p.rows = append(p.rows, r)
	return r
}

// text checks a text file's encoding and drops a byte-order mark.
func (p *parser) text(b []byte) ([]byte, bool) {
	b = bytes.TrimPrefix(b, []byte("\uFEFF"))
	if !utf8.Valid(b) {
		p.whole("", 0, "not UTF-8: save the file as UTF-8")
		return nil, false
	}
	return b, true
}

// yaml reads the mapping {units: [...], party: [...], cadres: [...], grid_staff: [...]}.
func (p *parser) yaml(b []byte) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		p.whole("", 0, "not YAML: %v", err)
		return
	}
	if len(doc.Content) == 0 {
		return
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		p.whole("", root.Line, "a roster is a mapping of sections (%s)", tableNames())
		return
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		t := tableOf(k.Value)
		if t < 0 {
			p.whole("", k.Line, "unknown section %q (%s)", k.Value, tableNames())
			continue
		}
		if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
			continue
		}
		if v.Kind != yaml.SequenceNode {
			p.whole("", v.Line, "%s must be a list of entries", k.Value)
			continue
		}
		for _, item := range v.Content {
			r := p.newRow(t, "", item.Line)
			if item.Kind != yaml.MappingNode {
				p.problem(r, "", "an entry of %s must be a mapping (%s: …)", k.Value, tables[t].fields[0])
				continue
			}
			for j := 0; j+1 < len(item.Content); j += 2 {
				fk, fv := item.Content[j], item.Content[j+1]
				name, ok := columns[strings.ToLower(fk.Value)]
				if !ok || !slices.Contains(tables[t].fields, name) {
					r.stray = append(r.stray, cell{name: fk.Value, line: fk.Line})
					continue
				}
				if fv.Kind != yaml.ScalarNode {
					r.cells = append(r.cells, cell{name: name, line: fv.Line})
					p.problem(r, name, "must be one value")
					continue
				}
				val := fv.Value
				if fv.Tag == "!!null" {
					val = ""
				}
				if slices.ContainsFunc(r.cells, func(c cell) bool { return c.name == name }) {
					p.problem(r, name, "given twice")
					continue
				}
				r.cells = append(r.cells, cell{name: name, val: strings.TrimSpace(val), line: fv.Line})
			}
		}
	}
}

// record is one row of a CSV file or an XLSX sheet.
type record struct {
	line int
	vals []string
}

// csv reads rows under a header whose table column says which table each row belongs to.
func (p *parser) csv(b []byte) {
	r := csv.NewReader(bytes.NewReader(b))
	r.Comment = '#'
	r.FieldsPerRecord = -1
	var recs []record
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				p.whole("", pe.Line, "%v", pe.Err)
			} else {
				p.whole("", 0, "%v", err)
			}
			return
		}
		line, _ := r.FieldPos(0)
		recs = append(recs, record{line, rec})
		if len(recs) > MaxRows+1 {
			p.whole("", line, "more than %d rows", MaxRows)
			return
		}
	}
	p.tabular("", -1, recs, false)
}

// xlsx reads every sheet of a workbook: a sheet with a table column holds rows of any table,
// else the sheet's name says its table (单位, 党组织, 干部, 网格人员 or their English keys).
// Empty sheets are skipped.
func (p *parser) xlsx(b []byte) {
	f, err := excelize.OpenReader(bytes.NewReader(b), excelize.Options{UnzipSizeLimit: 4 * MaxFileBytes, UnzipXMLSizeLimit: MaxFileBytes})
	if err != nil {
		p.whole("", 0, "not an XLSX workbook: %v", err)
		return
	}
	defer f.Close()
	for _, sheet := range f.GetSheetList() {
		rows, err := f.GetRows(sheet, excelize.Options{RawCellValue: true})
		if err != nil {
			p.whole(sheet, 0, "cannot read the sheet: %v", err)
			return
		}
		p.sheets = append(p.sheets, sheet)
		var recs []record
		for i, vals := range rows {
			recs = append(recs, record{i + 1, vals})
		}
		p.tabular(sheet, tableOf(sheet), recs, true)
		if p.rep.Whole {
			return
		}
	}
}

// xlsxSerial is a number as an XLSX date cell stores it.
var xlsxSerial = regexp.MustCompile(`^[0-9]{1,6}(\.[0-9]+)?$`)

// tabular reads records under their header. sheet names the XLSX sheet; fixed is the sheet's
// table when its name says it (-1: none); rows then need no table column.
func (p *parser) tabular(sheet string, fixed int, recs []record, xlsx bool) {
	blank := func(vals []string) bool {
		return !slices.ContainsFunc(vals, func(v string) bool { return strings.TrimSpace(v) != "" })
	}
	comment := func(vals []string) bool {
		return len(vals) > 0 && strings.HasPrefix(strings.TrimSpace(vals[0]), "#")
	}
	for len(recs) > 0 && (blank(recs[0].vals) || xlsx && comment(recs[0].vals)) {
		recs = recs[1:]
	}
	if len(recs) == 0 {
		return
	}
	head, hline := recs[0].vals, recs[0].line
	cols := make([]string, len(head))
	seen := map[string]bool{}
	for i, h := range head {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		name, ok := columns[strings.ToLower(h)]
		if !ok {
			p.whole(sheet, hline, "unknown column %q (%s)", h, columnNames())
			continue
		}
		if seen[name] {
			p.whole(sheet, hline, "column %q given twice", h)
			continue
		}
		seen[name] = true
		cols[i] = name
	}
	if !seen["table"] && fixed < 0 {
		if sheet != "" {
			p.whole(sheet, hline, "no column table, and the sheet's name is not a table's (%s)", tableNames())
		} else {
			p.whole(sheet, hline, "no column table: each row names its table (%s)", tableNames())
		}
	}
	if p.rep.Whole {
		return
	}
	for _, rec := range recs[1:] {
		if blank(rec.vals) || xlsx && comment(rec.vals) {
			continue
		}
		t := fixed
		if seen["table"] {
			var v string
			if i := slices.Index(cols, "table"); i < len(rec.vals) {
				v = strings.TrimSpace(rec.vals[i])
			}
			if t = tableOf(v); t < 0 {
				r := p.newRow(-1, sheet, rec.line)
				p.problem(r, "table", "%q is not a table (%s)", v, tableNames())
				continue
			}
		}
		r := p.newRow(t, sheet, rec.line)
		for i, v := range rec.vals {
			v = strings.TrimSpace(v)
			if v == "" {
				continue
			}
			if i >= len(cols) || cols[i] == "" {
				p.problem(r, "", "a value (%q) in column %d, which has no header", v, i+1)
				continue
			}
			name := cols[i]
			if name == "table" {
				continue
			}
			if !slices.Contains(tables[t].fields, name) {
				r.stray = append(r.stray, cell{name: name, val: v})
				continue
			}
			if xlsx && (name == "from" || name == "to") && xlsxSerial.MatchString(v) {
				// A date cell: days since 1900 as the workbook stores it.
				if f, err := strconv.ParseFloat(v, 64); err == nil {
					if d, err := excelize.ExcelDateToTime(f, false); err == nil {
						v = d.Format(time.DateOnly)
					}
				}
			}
			r.cells = append(r.cells, cell{name: name, val: v})
		}
	}
}

// decode makes a row's entry and checks its own fields.
func (p *parser) decode(r *row) {
	if r.t < 0 || r.bad && r.cells == nil && r.stray == nil {
		return
	}
	defer func() {
		for _, c := range r.stray {
			r.cells = append(r.cells, c)
			p.problem(r, c.name, "not a field of a %s (%s)", tables[r.t].what, strings.Join(tables[r.t].fields, ", "))
		}
	}()
	g := r.get
	switch r.t {
	case tUnits:
		u := Unit{Code: g("code"), Zh: g("zh"), En: g("en"), Region: g("region"), Dept: g("dept"), Parent: g("parent")}
		p.code(r, "code", u.Code, true)
		p.name(r, "zh", u.Zh, MaxNameLen, true)
		p.name(r, "en", u.En, MaxNameLen, false)
		if k, ok := p.label(r, "kind", UnitKinds, g("kind")); ok {
			u.Kind = k.Key
			if u.Kind != "department" && u.Region == "" {
				p.problem(r, "region", "missing: a unit of kind %s serves a region", k.Zh)
			}
			if u.Kind == "department" && u.Dept == "" {
				p.problem(r, "dept", "missing: a department names its code in the catalogue")
			}
		}
		p.region(r, "region", u.Region)
		if u.Dept != "" && p.opt.Catalog != nil {
			if _, ok := p.opt.Catalog.Department(u.Dept); !ok {
				p.problem(r, "dept", "unknown department %q (not in the catalogue)", u.Dept)
			}
		}
		r.unit = u
	case tParty:
		o := Party{Code: g("code"), Zh: g("zh"), En: g("en"), Region: g("region"), Parent: g("parent")}
		p.code(r, "code", o.Code, true)
		p.name(r, "zh", o.Zh, MaxNameLen, true)
		p.name(r, "en", o.En, MaxNameLen, false)
		if l, ok := p.label(r, "level", PartyLevels, g("level")); ok {
			o.Level = l.Key
		}
		if o.Region == "" {
			p.problem(r, "region", "missing: a party organisation leads a region")
		}
		p.region(r, "region", o.Region)
		r.party = o
	case tCadres:
		c := Cadre{ID: g("id"), Name: g("name"), Phone: g("phone"), Post: g("post"), PostType: g("post_type"), Unit: g("unit"), Seat: g("seat")}
		p.code(r, "id", c.ID, true)
		p.name(r, "name", c.Name, MaxPersonLen, true)
		p.phone(r, c.Phone)
		p.name(r, "post", c.Post, MaxNameLen, true)
		p.name(r, "post_type", c.PostType, MaxPersonLen, true)
		if c.Unit == "" {
			p.problem(r, "unit", "missing: the unit or party organisation of the post")
		}
		p.name(r, "seat", c.Seat, MaxSeatLen, false)
		switch v := strings.ToLower(g("leader")); v {
		case "", "no", "false", "0", "n", "否":
		case "yes", "true", "1", "y", "是":
			c.Leader = true
		default:
			p.problem(r, "leader", "%q: yes or no (是, 否)", g("leader"))
		}
		c.From, c.To = p.term(r)
		r.cadre = c
	case tStaff:
		s := GridStaff{ID: g("id"), Name: g("name"), Phone: g("phone"), Grid: g("grid")}
		p.code(r, "id", s.ID, true)
		p.name(r, "name", s.Name, MaxPersonLen, true)
		p.phone(r, s.Phone)
		if l, ok := p.label(r, "role", StaffRoles, g("role")); ok {
			s.Role = l.Key
		}
		if s.Grid == "" {
			p.problem(r, "grid", "missing: the code of the grid served")
		} else if p.region(r, "grid", s.Grid) && p.opt.Tree != nil {
			if reg := p.opt.Tree.Get(s.Grid); len(reg.Children) > 0 {
				p.problem(r, "grid", "region %s %s is not a grid: %d regions lie below it (grid staff serve the regions at the bottom of the tree)",
					reg.Code, reg.Name, len(reg.Children))
			}
		}
		s.From, s.To = p.term(r)
		r.staff = s
	}
}

// code checks a code or an id; a usable one becomes the row's key.
func (p *parser) code(r *row, field, v string, required bool) {
	switch n := utf8.RuneCountInString(v); {
	case v == "":
		if required {
			p.problem(r, field, "missing")
		}
		return
	case n > MaxCodeLen:
		p.problem(r, field, "%q is %d characters long, at most %d", v, n, MaxCodeLen)
		return
	case strings.IndexFunc(v, func(c rune) bool { return unicode.IsSpace(c) || unicode.IsControl(c) }) >= 0:
		p.problem(r, field, "%q holds a blank or a control character", v)
		return
	}
	if field == "code" || field == "id" {
		r.key = v
	}
}

// name checks a name or another text field.
func (p *parser) name(r *row, field, v string, maxLen int, required bool) {
	switch n := utf8.RuneCountInString(v); {
	case v == "" && required:
		p.problem(r, field, "missing")
	case n > maxLen:
		p.problem(r, field, "%d characters long, at most %d", n, maxLen)
	case strings.IndexFunc(v, unicode.IsControl) >= 0:
		p.problem(r, field, "holds a control character")
	}
}

var phoneRE = regexp.MustCompile(`^\+?[0-9][0-9 ()\-]{2,23}$`)

func (p *parser) phone(r *row, v string) {
	if v != "" && !phoneRE.MatchString(v) {
		p.problem(r, "phone", "%q: digits, with + - ( ) and blanks, 3 to 24 characters", v)
	}
}

func (p *parser) label(r *row, field string, ls []Label, v string) (Label, bool) {
	if v == "" {
		p.problem(r, field, "missing")
		return Label{}, false
	}
	l, ok := lookup(ls, v)
	if !ok {
		var names []string
		for _, l := range ls {
			names = append(names, l.Key+" "+l.Zh)
		}
		p.problem(r, field, "%q is not one of: %s", v, strings.Join(names, ", "))
	}
	return l, ok
}

// region checks a region code against the tree; it reports whether the code is known (or not
// checked).
func (p *parser) region(r *row, field, v string) bool {
	if v == "" || p.opt.Tree == nil {
		return v != ""
	}
	if v == "root" || p.opt.Tree.Get(v) == nil {
		p.problem(r, field, "unknown region %q (not in the region tree)", v)
		return false
	}
	return true
}

// term checks a row's from and to.
func (p *parser) term(r *row) (from, to string) {
	var err error
	if v := r.get("from"); v == "" {
		p.problem(r, "from", "missing: the first day of the term")
	} else if from, err = ParseDate(v); err != nil {
		p.problem(r, "from", "%v", err)
	}
	if v := r.get("to"); v != "" {
		if to, err = ParseDate(v); err != nil {
			p.problem(r, "to", "%v", err)
		} else if from != "" && to <= from {
			p.problem(r, "to", "%s is not after from %s (a term holds from its first day up to the day before to)", to, from)
		}
	}
	return from, to
}

var (
	dateRE   = regexp.MustCompile(`^([0-9]{4})[-/.]([0-9]{1,2})[-/.]([0-9]{1,2})$`)
	dateZhRE = regexp.MustCompile(`^([0-9]{4})年([0-9]{1,2})月([0-9]{1,2})日$`)
)

// ParseDate reads a day: YYYY-MM-DD (also with / or . and one-digit months and days, or
// YYYY年M月D日) between 1949 and 2100, normalised to YYYY-MM-DD.
func ParseDate(v string) (string, error) {
	m := dateRE.FindStringSubmatch(v)
	if m == nil {
		m = dateZhRE.FindStringSubmatch(v)
	}
	if m == nil {
		return "", fmt.Errorf("%q is not a date (YYYY-MM-DD)", v)
	}
	y, _ := strconv.Atoi(m[1])
	mo, _ := strconv.Atoi(m[2])
	d, _ := strconv.Atoi(m[3])
	t := time.Date(y, time.Month(mo), d, 0, 0, 0, 0, time.UTC)
	if t.Year() != y || int(t.Month()) != mo || t.Day() != d {
		return "", fmt.Errorf("%q is not a date of the calendar", v)
	}
	if y < 1949 || y > 2100 {
		return "", fmt.Errorf("%q: a year between 1949 and 2100", v)
	}
	return t.Format(time.DateOnly), nil
}

// check runs the checks across rows: codes and ids given twice, parents and units referred to,
// overlapping terms; then refuses the rows that refer to a refused one.
func (p *parser) check() {
	codes := map[string]*row{} // unit and party codes: the first row of each
	people := map[string]*row{}
	for _, r := range p.rows {
		if r.key == "" {
			continue
		}
		switch r.t {
		case tUnits, tParty:
			if first, dup := codes[r.key]; dup {
				p.problem(r, "code", "%q given twice (first at %s, a %s)", r.key, at(first), tables[first.t].what)
			} else {
				codes[r.key] = r
			}
		case tCadres, tStaff:
			name := r.get("name")
			if first, ok := people[r.key]; !ok {
				people[r.key] = r
			} else if fn := first.get("name"); fn != name && name != "" {
				p.problem(r, "name", "id %s is %s at %s: one id, one person", r.key, fn, at(first))
			}
		}
	}
	for _, r := range p.rows {
		switch r.t {
		case tUnits:
			p.parent(r, r.unit.Parent, codes, tUnits)
		case tParty:
			if p.parent(r, r.party.Parent, codes, tParty) && p.opt.Tree != nil && r.party.Region != "" {
				par := codes[r.party.Parent].party
				if path := p.opt.Tree.Path(r.party.Region); path != nil && p.opt.Tree.Get(par.Region) != nil && !slices.Contains(path, par.Region) {
					p.problem(r, "parent", "%s leads region %s, which is neither %s nor above it", par.Code, par.Region, r.party.Region)
				}
			}
		case tCadres:
			if u := r.cadre.Unit; u != "" && codes[u] == nil {
				p.problem(r, "unit", "%q is neither a unit nor a party organisation of the file", u)
			}
		}
	}
	p.overlaps()
	// Rows that refer to a refused row go with it.
	for changed := true; changed; {
		changed = false
		for _, r := range p.rows {
			if r.bad {
				continue
			}
			var ref, field string
			switch r.t {
			case tUnits:
				ref, field = r.unit.Parent, "parent"
			case tParty:
				ref, field = r.party.Parent, "parent"
			case tCadres:
				ref, field = r.cadre.Unit, "unit"
			}
			if d := codes[ref]; ref != "" && d != nil && d.bad {
				p.problem(r, field, "%s %s is refused (%s)", tables[d.t].what, ref, at(d))
				changed = true
			}
		}
	}
}

// parent checks a unit's or an organisation's parent: a code of the same table, not itself,
// no circle. It reports whether the parent is usable.
func (p *parser) parent(r *row, parent string, codes map[string]*row, t int) bool {
	if parent == "" || r.key == "" {
		return false
	}
	d := codes[parent]
	if d == nil || d.t != t {
		p.problem(r, "parent", "%q is not a %s of the file", parent, tables[t].what)
		return false
	}
	if parent == r.key {
		p.problem(r, "parent", "is the %s itself", tables[t].what)
		return false
	}
	chain := []string{r.key}
	for cur := parent; cur != ""; {
		chain = append(chain, cur)
		if cur == r.key || len(chain) > len(codes)+1 {
			p.problem(r, "parent", "the parents go round in a circle (%s)", strings.Join(chain, " → "))
			return false
		}
		d := codes[cur]
		if d == nil || d.t != t {
			break
		}
		if t == tUnits {
			cur = d.unit.Parent
		} else {
			cur = d.party.Parent
		}
	}
	return true
}

// overlaps refuses terms that overlap on a post held by one person at a time: a cadre's
// unit, post and seat; a grid's head. Both terms are refused (which one is right cannot be
// told), each naming the other. A person holding the same post (any seat) or serving the same
// grid twice at once is refused too.
func (p *parser) overlaps() {
	type key [3]string
	posts, holds := map[key][]*row{}, map[key][]*row{}
	for _, r := range p.rows {
		switch {
		case r.t == tCadres && r.cadre.From != "" && r.key != "":
			c := r.cadre
			posts[key{c.Unit, c.Post, c.Seat}] = append(posts[key{c.Unit, c.Post, c.Seat}], r)
			holds[key{r.key, c.Unit, c.Post}] = append(holds[key{r.key, c.Unit, c.Post}], r)
		case r.t == tStaff && r.staff.From != "" && r.key != "":
			if r.staff.Role == "head" {
				posts[key{r.staff.Grid, "head"}] = append(posts[key{r.staff.Grid, "head"}], r)
			}
			holds[key{r.key, r.staff.Grid}] = append(holds[key{r.key, r.staff.Grid}], r)
		}
	}
	term := func(r *row) (string, string) {
		if r.t == tCadres {
			return r.cadre.From, r.cadre.To
		}
		return r.staff.From, r.staff.To
	}
	span := func(r *row) string {
		from, to := term(r)
		if to == "" {
			to = "在任 in office"
		}
		return from + "–" + to
	}
	person := func(r *row) string { return r.key + " " + r.get("name") }
	check := func(group []*row, same bool) {
		slices.SortStableFunc(group, func(a, b *row) int { fa, _ := term(a); fb, _ := term(b); return strings.Compare(fa, fb) })
		for i, a := range group {
			_, aTo := term(a)
			for _, b := range group[i+1:] {
				bFrom, _ := term(b)
				if aTo != "" && bFrom >= aTo {
					break
				}
				if same {
					// One person twice at once: the post is the same whatever the seats; a seat
					// already shared is reported by the post's check.
					if a.t == tCadres && a.cadre.Seat == b.cadre.Seat || a.t == tStaff && a.staff.Role == "head" && b.staff.Role == "head" {
						continue
					}
					for _, x := range [][2]*row{{a, b}, {b, a}} {
						p.problem(x[0], "from", "term %s overlaps the same person's term %s on the same %s (%s)", span(x[0]), span(x[1]), postOf(x[0]), at(x[1]))
					}
					continue
				}
				for _, x := range [][2]*row{{a, b}, {b, a}} {
					hint := ""
					if x[0].t == tCadres {
						hint = "; a post held by several at once gives each holder a seat (seat: 1, 2…)"
					}
					p.problem(x[0], "from", "term %s overlaps the term %s of %s on the same %s (%s): one holder at a time%s",
						span(x[0]), span(x[1]), person(x[1]), postOf(x[0]), at(x[1]), hint)
				}
			}
		}
	}
	for _, k := range sortedKeys(posts) {
		check(posts[k], false)
	}
	for _, k := range sortedKeys(holds) {
		check(holds[k], true)
	}
}

func postOf(r *row) string {
	if r.t == tCadres {
		s := fmt.Sprintf("post %s of %s", r.cadre.Post, r.cadre.Unit)
		if r.cadre.Seat != "" {
			s += " seat " + r.cadre.Seat
		}
		return s
	}
	if r.staff.Role == "head" {
		return "grid " + r.staff.Grid + " as its head (网格长)"
	}
	return "grid " + r.staff.Grid
}

func sortedKeys[K ~[3]string, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b K) int {
		for i := range a {
			if c := strings.Compare(a[i], b[i]); c != 0 {
				return c
			}
		}
		return 0
	})
	return keys
}

// count tallies the rows read and refused per table, and puts the problems in file order.
func (p *parser) count() {
	for _, r := range p.rows {
		if r.t < 0 {
			p.rep.NoTable++
			continue
		}
		p.rep.Tables[r.t].Read++
		if r.bad {
			p.rep.Tables[r.t].Refused++
		}
	}
	slices.SortStableFunc(p.rep.Problems, func(a, b Problem) int {
		if a.Sheet != b.Sheet {
			return slices.Index(p.sheets, a.Sheet) - slices.Index(p.sheets, b.Sheet)
		}
		return a.Line - b.Line
	})
}

// build makes the roster of the rows that passed.
func (p *parser) build() *Roster {
	var units []Unit
	var party []Party
	var cadres []Cadre
	var staff []GridStaff
	for _, r := range p.rows {
		if r.bad {
			continue
		}
		switch r.t {
		case tUnits:
			units = append(units, r.unit)
		case tParty:
			party = append(party, r.party)
		case tCadres:
			cadres = append(cadres, r.cadre)
		case tStaff:
			staff = append(staff, r.staff)
		}
	}
	return build(units, party, cadres, staff, deptRegion(p.opt))
}

// deptRegion is the region of a catalogue department, when the tree holds it.
func deptRegion(opt Options) func(string) string {
	if opt.Catalog == nil {
		return nil
	}
	return func(code string) string {
		d, ok := opt.Catalog.Department(code)
		if !ok || opt.Tree != nil && opt.Tree.Get(d.Region) == nil {
			return ""
		}
		return d.Region
	}
}

// YAML is the roster as the file `zhili import roster` stores (the form Parse reads back): one
// entry a line, every value a double-quoted string.
func (r *Roster) YAML() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("# The roster in force: written by `zhili import roster`, read by `zhili serve` (docs/ROSTER.md).\n")
	section := func(name string, n int, entry func(i int) []string) {
		if n == 0 {
			b.WriteString(name + ": []\n")
			return
		}
		b.WriteString(name + ":\n")
		for i := range n {
			kv := entry(i)
			b.WriteString("  - {")
			first := true
			for j := 0; j+1 < len(kv); j += 2 {
				if kv[j+1] == "" {
					continue
				}
				if !first {
					b.WriteString(", ")
				}
				first = false
				b.WriteString(kv[j] + ": " + strconv.Quote(kv[j+1]))
			}
			b.WriteString("}\n")
		}
	}
	section("units", len(r.Units), func(i int) []string {
		u := r.Units[i]
		return []string{"code", u.Code, "zh", u.Zh, "en", u.En, "kind", u.Kind, "region", u.Region, "dept", u.Dept, "parent", u.Parent}
	})
	section("party", len(r.Party), func(i int) []string {
		o := r.Party[i]
		return []string{"code", o.Code, "zh", o.Zh, "en", o.En, "level", o.Level, "region", o.Region, "parent", o.Parent}
	})
	section("cadres", len(r.Cadres), func(i int) []string {
		c := r.Cadres[i]
		leader := ""
		if c.Leader {
			leader = "yes"
		}
		return []string{"id", c.ID, "name", c.Name, "phone", c.Phone, "post", c.Post, "post_type", c.PostType, "unit", c.Unit,
			"seat", c.Seat, "leader", leader, "from", c.From, "to", c.To}
	})
	section("grid_staff", len(r.GridStaff), func(i int) []string {
		s := r.GridStaff[i]
		return []string{"id", s.ID, "name", s.Name, "phone", s.Phone, "role", s.Role, "grid", s.Grid, "from", s.From, "to", s.To}
	})
	return b.Bytes(), nil
}
