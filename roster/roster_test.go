package roster

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"zhili/catalog"
	"zhili/geo"
)

// A roster of the small demo county: a township's head handed over to a successor on the day
// the former head became the party secretary; deputies on seats; a grid's head and workers.
const goodYAML = `
units:
  - {code: county.housing, zh: 住建局, kind: department, dept: county.housing, region: "411502"}
  - {code: gov.411502001, zh: 老城街道办事处, kind: 乡镇街道, region: "411502001"}
  - {code: county.water, zh: 水利局, kind: 部门, dept: county.water, parent: county.housing}
party:
  - {code: party.411502, zh: 中共浉河区委员会, level: 县区党委, region: "411502"}
  - {code: party.411502001, zh: 中共老城街道工作委员会, level: township, region: "411502001", parent: party.411502}
  - {code: party.411502001001, zh: 第1网格党支部, level: 村社党组织, region: "411502001001", parent: party.411502001}
cadres:
  - {id: P1, name: 张伟, phone: "14000000001", post: 办事处主任, post_type: 乡镇长, unit: gov.411502001, leader: 是, from: 2021-03-01, to: 2024-03-01}
  - {id: P2, name: 李娜, post: 办事处主任, post_type: 乡镇长, unit: gov.411502001, leader: yes, from: 2024/3/1}
  - {id: P1, name: 张伟, post: 党工委书记, post_type: 乡镇党委书记, unit: party.411502001, leader: true, from: 2024-03-01}
  - {id: P3, name: 王强, post: 办事处副主任, post_type: 副乡镇长, unit: gov.411502001, seat: 1, from: 2021-03-01}
  - {id: P4, name: 赵敏, post: 办事处副主任, post_type: 副乡镇长, unit: gov.411502001, seat: 2, from: 2022年5月9日}
  - {id: P5, name: 刘洋, post: 住建局局长, post_type: 局长, unit: county.housing, leader: yes, from: 2020-01-01}
  - {id: P6, name: 陈静, post: 党支部书记, post_type: 村社党组织书记, unit: party.411502001001, leader: yes, from: 2021-01-04}
grid_staff:
  - {id: P6, name: 陈静, role: 网格长, grid: "411502001001", from: 2021-01-04}
  - {id: W1, name: 杨勇, role: 网格员, grid: "411502001001", from: 2019-05-01, to: 2025-07-01}
  - {id: W2, name: 黄艳, role: worker, grid: "411502001001", from: 2025-07-01}
  - {id: W3, name: 周杰, role: worker, grid: "411502001001", from: 2020-01-01}
`

func shihe() Options { return Options{Tree: geo.DemoTree(), Catalog: catalog.Default()} }

// held lists "post name" of the cadres of unit in office on day, in file order.
func held(r *Roster, unit, day string) []string {
	var out []string
	for _, c := range r.Cadres {
		if c.Unit == unit && c.At(day) {
			out = append(out, c.Post+" "+c.Name)
		}
	}
	return out
}

// staffed lists "role name" of a grid's staff on day.
func staffed(r *Roster, grid, day string) []string {
	var out []string
	for _, s := range r.GridStaff {
		if s.Grid == grid && s.At(day) {
			out = append(out, s.Role+" "+s.Name)
		}
	}
	return out
}

// TestAsOf: a query as of a day returns who held which post then; a term ends the day its
// successor starts; values in Chinese and other date forms are read as their keys.
func TestAsOf(t *testing.T) {
	r, rep := Parse([]byte(goodYAML), "roster.yaml", shihe())
	if !rep.OK() {
		t.Fatalf("problems: %v", rep.Problems)
	}
	for _, c := range []struct {
		unit, day string
		want      []string
	}{
		{"gov.411502001", "2020-06-01", nil},
		{"gov.411502001", "2021-03-01", []string{"办事处主任 张伟", "办事处副主任 王强"}},
		{"gov.411502001", "2024-02-29", []string{"办事处主任 张伟", "办事处副主任 王强", "办事处副主任 赵敏"}},
		{"gov.411502001", "2024-03-01", []string{"办事处主任 李娜", "办事处副主任 王强", "办事处副主任 赵敏"}},
		{"party.411502001", "2024-02-29", nil},
		{"party.411502001", "2024-03-01", []string{"党工委书记 张伟"}},
	} {
		if got := held(r, c.unit, c.day); !slices.Equal(got, c.want) {
			t.Errorf("%s on %s: %q, want %q", c.unit, c.day, got, c.want)
		}
	}
	if got, want := staffed(r, "411502001001", "2025-06-30"), []string{"head 陈静", "worker 杨勇", "worker 周杰"}; !slices.Equal(got, want) {
		t.Errorf("grid staff on 2025-06-30: %q, want %q", got, want)
	}
	if got, want := staffed(r, "411502001001", "2025-07-01"), []string{"head 陈静", "worker 黄艳", "worker 周杰"}; !slices.Equal(got, want) {
		t.Errorf("grid staff on 2025-07-01: %q, want %q", got, want)
	}
	u, _ := r.Unit("gov.411502001")
	o, _ := r.PartyOrg("party.411502")
	if u.Kind != "township" || o.Level != "county" || r.GridStaff[0].Role != "head" || r.Cadres[1].From != "2024-03-01" || r.Cadres[4].From != "2022-05-09" {
		t.Errorf("not normalised: kind %q, level %q, role %q, dates %s %s", u.Kind, o.Level, r.GridStaff[0].Role, r.Cadres[1].From, r.Cadres[4].From)
	}
	// A department without a region of its own serves its parent's (the catalogue gives none).
	if got := r.RegionOf("county.water"); got != "411502" {
		t.Errorf("region of county.water: %q, want its parent's 411502", got)
	}
	if got := r.RegionOf("party.411502001001"); got != "411502001001" {
		t.Errorf("region of the grid's party branch: %q", got)
	}
	// The stored form reads back as the same roster.
	b, err := r.YAML()
	if err != nil {
		t.Fatal(err)
	}
	back, rep := Parse(b, "roster.yaml", shihe())
	if !rep.OK() {
		t.Fatalf("stored form refused: %v\n%s", rep.Problems, b)
	}
	if !reflect.DeepEqual(back.Units, r.Units) || !reflect.DeepEqual(back.Party, r.Party) || !reflect.DeepEqual(back.Cadres, r.Cadres) || !reflect.DeepEqual(back.GridStaff, r.GridStaff) {
		t.Errorf("stored form reads back differently:\n%s", b)
	}
}

// A CSV of every table with bad rows among good ones. Lines are numbered in the comments.
const badCSV = `table,code,zh,kind,level,region,dept,parent,id,name,phone,post,post_type,unit,seat,leader,from,to,role,grid
单位,gov.411502001,老城街道办事处,township,,411502001,,,,,,,,,,,,,,
unit,gov.999,某镇政府,township,,999999,,,,,,,,,,,,,,
unit,dept.x,某局,department,,,no.such.dept,,,,,,,,,,,,,
unit,gov.411502001,老城街道办二,township,,411502001,,,,,,,,,,,,,,
party,party.411502,中共浉河区委员会,,county,411502,,,,,,,,,,,,,,
party,party.411502002,中共民权街道工委,,township,411502002,,,,,,,,,,,,,,
party,party.x,错挂支部,,village,411502001001,,party.411502002,,,,,,,,,,,,
cadre,,,,,,,,P1,张伟,,办事处主任,乡镇长,gov.411502001,,yes,2021-03-01,2024-03-01,,
cadre,,,,,,,,P2,李娜,,办事处主任,乡镇长,gov.411502001,,yes,2024-02-01,,,
cadre,,,,,,,,P3,王强,,办事处副主任,副乡镇长,gov.411502001,1,,2021-03-01,,,
cadre,,,,,,,,P4,赵敏,,办事处副主任,副乡镇长,gov.411502001,2,,2021-03-01,,,
cadre,,,,,,,,P5,刘洋,,科员甲,科员,gov.411502001,,,2024-02-30,,,
cadre,,,,,,,,P6,陈静,,科员乙,科员,gov.411502001,,,2024-05-01,2024-04-01,,
cadre,,,,,,,,P1,张三,,科员丙,科员,gov.411502001,,,2020-01-01,,,
cadre,,,,,,,,P7,杨勇,,书记,乡镇党委书记,party.nowhere,,yes,2021-01-01,,,
cadre,,,,,,,,P8,黄艳,,镇长,乡镇长,gov.999,,yes,2021-01-01,,,
cadre,,,,,,,,P9,周杰,,科员丁,科员,gov.411502001,,maybe,2021-01-01,,county,
staff,,,,,,,,W1,吴敏,,,,,,,2021-01-01,,网格长,411502001
staff,,,,,,,,W2,徐静,,,,,,,2021-01-01,,网格长,411502001001
staff,,,,,,,,W3,孙丽,,,,,,,2023-01-01,,head,411502001001
staff,,,,,,,,W4,马军,,,,,,,2021-01-01,,网格员,411502001001
roster,x,,,,,,,,,,,,,,,,,,
`

// TestRowProblems: every bad row is named with its line, its entry and the field at fault;
// overlapping terms refuse both rows, each naming the other; rows that refer to a refused row
// go with it; the good rows stay.
func TestRowProblems(t *testing.T) {
	r, rep := Parse([]byte(badCSV), "r.csv", shihe())
	if rep.Whole {
		t.Fatalf("refused whole: %v", rep.Problems)
	}
	var lines []string
	for _, p := range rep.Problems {
		lines = append(lines, p.String())
	}
	out := strings.Join(lines, "\n")
	for _, want := range []string{
		`r.csv:3: unit gov.999: region: unknown region "999999"`,
		`r.csv:4: unit dept.x: dept: unknown department "no.such.dept" (not in the catalogue)`,
		`r.csv:5: unit gov.411502001: code: "gov.411502001" given twice (first at line 2, a unit)`,
		`r.csv:8: party organisation party.x: parent: party.411502002 leads region 411502002, which is neither 411502001001 nor above it`,
		`r.csv:9: cadre P1: from: term 2021-03-01–2024-03-01 overlaps the term 2024-02-01–在任 in office of P2 李娜 on the same post 办事处主任 of gov.411502001 (line 10)`,
		`r.csv:10: cadre P2: from: term 2024-02-01–在任 in office overlaps the term 2021-03-01–2024-03-01 of P1 张伟`,
		`r.csv:13: cadre P5: from: "2024-02-30" is not a date of the calendar`,
		`r.csv:14: cadre P6: to: 2024-04-01 is not after from 2024-05-01`,
		`r.csv:15: cadre P1: name: id P1 is 张伟 at line 9: one id, one person`,
		`r.csv:16: cadre P7: unit: "party.nowhere" is neither a unit nor a party organisation of the file`,
		`r.csv:18: cadre P9: leader: "maybe": yes or no`,
		`r.csv:17: cadre P8: unit: unit gov.999 is refused (line 3)`,
		`r.csv:18: cadre P9: role: not a field of a cadre`,
		`r.csv:19: grid staff W1: grid: region 411502001 老城街道 is not a grid: 4 regions lie below it`,
		`r.csv:20: grid staff W2: from: term 2021-01-01–在任 in office overlaps the term 2023-01-01–在任 in office of W3 孙丽 on the same grid 411502001001 as its head (网格长) (line 21)`,
		`r.csv:21: grid staff W3: from:`,
		`r.csv:23: row: table: "roster" is not a table`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("problems lack %q", want)
		}
	}
	if t.Failed() {
		t.Logf("problems:\n%s", out)
	}
	// Deputies on two seats and a worker beside a head are no overlap; a post given seats.
	for _, line := range []string{"r.csv:11:", "r.csv:12:", "r.csv:22:", "r.csv:2:", "r.csv:6:", "r.csv:7:"} {
		if strings.Contains(out, line) {
			t.Errorf("a good row refused (%s):\n%s", line, out)
		}
	}
	want := map[string][2]int{"units": {4, 3}, "party": {3, 1}, "cadres": {10, 8}, "grid_staff": {4, 3}}
	for _, tc := range rep.Tables {
		if got := [2]int{tc.Read, tc.Refused}; got != want[tc.Table] {
			t.Errorf("%s: read %d, refused %d; want %v", tc.Table, tc.Read, tc.Refused, want[tc.Table])
		}
	}
	if rep.NoTable != 1 || rep.Refused() != 16 {
		t.Errorf("refused %d (%d without a table), want 16 (1)", rep.Refused(), rep.NoTable)
	}
	// The good rows make the roster.
	if got := held(r, "gov.411502001", "2022-01-01"); !slices.Equal(got, []string{"办事处副主任 王强", "办事处副主任 赵敏"}) {
		t.Errorf("good rows: %q", got)
	}
	if len(r.Units) != 1 || len(r.Party) != 2 || len(r.GridStaff) != 1 {
		t.Errorf("good rows: %d units, %d party organisations, %d grid staff", len(r.Units), len(r.Party), len(r.GridStaff))
	}
}

// TestWholeFileRefused: problems no row can be trusted after (an unknown column or section, a
// broken quote, not UTF-8, an old workbook) refuse the file whole.
func TestWholeFileRefused(t *testing.T) {
	for _, c := range []struct {
		file, body, want string
	}{
		{"a.csv", "table,code,zh,colour\nunit,x,某,red\n", `a.csv:1: unknown column "colour"`},
		{"b.csv", "code,zh,kind,region\nx,某,township,411502001\n", "b.csv:1: no column table"},
		{"c.csv", "table,code,zh\nunit,\"x,某\n", "c.csv:2: extraneous or missing \" in quoted-field"},
		{"d.csv", "table,code,zh\nunit,x,\xff\xfe\n", "d.csv: not UTF-8"},
		{"e.yaml", "units: []\nmembers: []\n", `e.yaml:2: unknown section "members"`},
		{"f.yaml", "units: [{code: x\n", "f.yaml: not YAML"},
		{"g.xls", "whatever", "an Excel 97 workbook (.xls) is not read"},
		{"h.xlsx", "not a zip", "h.xlsx: not an XLSX workbook"},
	} {
		r, rep := Parse([]byte(c.body), c.file, shihe())
		if r != nil || !rep.Whole || len(rep.Problems) == 0 || !strings.Contains(rep.Problems[0].String(), c.want) {
			t.Errorf("%s: roster %v, whole %v, problems %v; want %q", c.file, r != nil, rep.Whole, rep.Problems, c.want)
		}
	}
}

// TestXLSX: a workbook of one sheet per table with Chinese headers, dates as date cells or
// text; problems name the sheet and row.
func TestXLSX(t *testing.T) {
	f := excelize.NewFile()
	defer f.Close()
	set := func(sheet string, rows ...[]any) {
		if _, err := f.NewSheet(sheet); err != nil {
			t.Fatal(err)
		}
		for i, row := range rows {
			cell, _ := excelize.CoordinatesToCellName(1, i+1)
			if err := f.SetSheetRow(sheet, cell, &row); err != nil {
				t.Fatal(err)
			}
		}
	}
	set("单位", []any{"编码", "名称", "类型", "区划"}, []any{"gov.411502001", "老城街道办事处", "乡镇街道", "411502001"})
	set("干部", []any{"编号", "姓名", "电话", "职务", "岗位类型", "单位", "正职", "任职日期", "离任日期"},
		[]any{"P1", "张伟", 14000000001, "办事处主任", "乡镇长", "gov.411502001", "是", time.Date(2021, 3, 1, 0, 0, 0, 0, time.UTC), "2024-03-01"},
		[]any{"P2", "李娜", "", "办事处主任", "乡镇长", "gov.411502001", "是", "2024-03-01", ""},
		[]any{"P3", "王强", "", "", "副乡镇长", "gov.411502001", "", "2021-03-01", ""})
	set("网格人员", []any{"编号", "姓名", "角色", "网格", "任职日期"}, []any{"W1", "杨勇", "网格员", "411502001001", "2020-01-01"})
	_ = f.DeleteSheet("Sheet1")
	buf, err := f.WriteToBuffer()
	if err != nil {
		t.Fatal(err)
	}
	r, rep := Parse(buf.Bytes(), "roster.xlsx", shihe())
	if len(rep.Problems) != 1 || rep.Problems[0].String() != "roster.xlsx:干部:4: cadre P3: post: missing" {
		t.Fatalf("problems: %v", rep.Problems)
	}
	if got := held(r, "gov.411502001", "2024-02-29"); !slices.Equal(got, []string{"办事处主任 张伟"}) {
		t.Errorf("on 2024-02-29: %q (cadres %+v)", got, r.Cadres)
	}
	if r.Cadres[0].From != "2021-03-01" || r.Cadres[0].Phone != "14000000001" {
		t.Errorf("a date cell read as %q, a number cell as %q", r.Cadres[0].From, r.Cadres[0].Phone)
	}
	if got := staffed(r, "411502001001", "2026-01-01"); !slices.Equal(got, []string{"worker 杨勇"}) {
		t.Errorf("grid staff: %q", got)
	}
}

// TestParseDate: the forms a day may take, and what is not one.
func TestParseDate(t *testing.T) {
	for in, want := range map[string]string{"2024-03-01": "2024-03-01", "2024/3/1": "2024-03-01", "2024.03.01": "2024-03-01",
		"2024年3月1日": "2024-03-01", "2024-02-29": "2024-02-29"} {
		if got, err := ParseDate(in); err != nil || got != want {
			t.Errorf("%q: %q %v, want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"2023-02-29", "2024-13-01", "24-03-01", "2024-03", "1900-01-01", "yesterday", "2024-03-01T00:00:00Z"} {
		if got, err := ParseDate(in); err == nil {
			t.Errorf("%q read as %q", in, got)
		}
	}
}

// TestDemo: the demo city's roster is the same for the same seed and another for another; it
// passes every check of a file; on a day of the demo every township has its secretary and head,
// every grid its head and a worker, every region its party organisation of its level.
func TestDemo(t *testing.T) {
	tree, err := geo.XinyangTree()
	if err != nil {
		t.Fatal(err)
	}
	cat := catalog.Default()
	r := Demo(tree, cat, 411500)
	a, _ := r.YAML()
	b, _ := Demo(tree, cat, 411500).YAML()
	c, _ := Demo(tree, cat, 7).YAML()
	if string(a) != string(b) || string(a) == string(c) {
		t.Fatalf("same seed same roster: %v; another seed another: %v", string(a) == string(b), string(a) != string(c))
	}
	back, rep := Parse(a, "demo.yaml", Options{Tree: tree, Catalog: cat})
	if !rep.OK() {
		t.Fatalf("the demo roster fails the checks: %v", rep.Problems)
	}
	if !reflect.DeepEqual(back.Cadres, r.Cadres) || !reflect.DeepEqual(back.GridStaff, r.GridStaff) {
		t.Fatal("the demo roster reads back differently")
	}
	const day = "2026-12-01"
	// Grid staff in post on the day, by grid (one pass: 3,634 grids).
	type staffing struct{ heads, workers int }
	byGrid := map[string]staffing{}
	for _, s := range r.GridStaff {
		if s.At(day) {
			g := byGrid[s.Grid]
			if s.Role == "head" {
				g.heads++
			} else {
				g.workers++
			}
			byGrid[s.Grid] = g
		}
	}
	levels := map[string]int{}
	tree.Walk(func(reg *geo.Region) {
		levels[reg.Kind]++
		switch reg.Kind {
		case "township":
			if got := countAt(r, day, func(c Cadre) bool { return c.Unit == "party."+reg.Code && c.PostType == "乡镇党委书记" }); got != 1 {
				t.Errorf("%s %s: %d party secretaries on %s", reg.Code, reg.Name, got, day)
			}
			if got := countAt(r, day, func(c Cadre) bool { return c.Unit == "gov."+reg.Code && c.PostType == "乡镇长" && c.Leader }); got != 1 {
				t.Errorf("%s %s: %d heads on %s", reg.Code, reg.Name, got, day)
			}
		case "grid":
			heads, workers := byGrid[reg.Code].heads, byGrid[reg.Code].workers
			if heads != 1 || workers < 1 {
				t.Errorf("grid %s: %d heads, %d workers on %s", reg.Code, heads, workers, day)
			}
		}
	})
	orgs := map[string]int{}
	for _, o := range r.Party {
		orgs[o.Level]++
	}
	if orgs["city"] != levels["city"] || orgs["county"] != levels["county"] || orgs["township"] != levels["township"] || orgs["village"] != levels["grid"] {
		t.Errorf("party organisations per level %v, regions per kind %v", orgs, levels)
	}
	for _, d := range cat.Departments {
		if got := countAt(r, day, func(c Cadre) bool { return c.Unit == d.Code && c.Leader }); got != 1 {
			t.Errorf("department %s: %d heads on %s", d.Code, got, day)
		}
	}
	// The roster moves: heads who became the secretary in 2026, changes in the autumn of 2026
	// (so a day of the demo's history may see another holder than today).
	promoted, autumn := 0, 0
	headUntil := map[string]string{}
	for _, c := range r.Cadres {
		if c.PostType == "乡镇长" && c.To != "" {
			headUntil[c.ID] = c.To
		}
		if c.From >= "2026-09-01" {
			autumn++
		}
	}
	for _, s := range r.GridStaff {
		if s.From >= "2026-09-01" {
			autumn++
		}
	}
	for _, c := range r.Cadres {
		if c.PostType == "乡镇党委书记" && headUntil[c.ID] == c.From {
			promoted++
		}
	}
	if promoted < 20 || autumn < 10 {
		t.Errorf("%d heads became secretaries, %d terms (cadres, grid staff) began in the autumn of 2026", promoted, autumn)
	}
	u, p, cs, gs := r.Counts()
	t.Logf("demo roster: %d units, %d party organisations, %d cadre terms, %d grid staff terms, %d bytes as YAML", u, p, cs, gs, len(a))
}

func countAt(r *Roster, day string, keep func(Cadre) bool) int {
	n := 0
	for _, c := range r.Cadres {
		if c.At(day) && keep(c) {
			n++
		}
	}
	return n
}

func ExampleInForce() {
	fmt.Println(InForce("2021-03-01", "2024-03-01", "2024-02-29"), InForce("2021-03-01", "2024-03-01", "2024-03-01"), InForce("2024-03-01", "", "2030-01-01"))
	// Output: true false true
}
