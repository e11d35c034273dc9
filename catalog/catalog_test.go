package catalog

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"zhili/event"
)

// TestDefault: the built-in catalogue is the contract's categories, in their order, then
// unmapped, and the demo's departments with the names the pages have shown.
func TestDefault(t *testing.T) {
	c := Default()
	var codes []string
	for _, x := range c.Categories {
		codes = append(codes, x.Code)
	}
	if want := append(slices.Clone(event.DefaultCategories), event.CategoryUnmapped); !slices.Equal(codes, want) {
		t.Errorf("categories %v, want %v", codes, want)
	}
	if got := c.TopCategories(); !slices.Equal(got, event.DefaultCategories) {
		t.Errorf("top categories %v", got)
	}
	if c.CategoryName("environment") != "环境卫生" || c.CategoryName("unmapped") != "未归类" || c.CategoryName("flood") != "flood" {
		t.Errorf("category names: %q %q %q", c.CategoryName("environment"), c.CategoryName("unmapped"), c.CategoryName("flood"))
	}
	if c.DeptName("county.housing") != "住建局" || c.DeptName("county.water") != "水利局" || c.DeptName("X") != "X" {
		t.Errorf("department names: %q %q %q", c.DeptName("county.housing"), c.DeptName("county.water"), c.DeptName("X"))
	}
	if d, _ := c.Department("county.eco-env"); d.En != "Eco-Environment" {
		t.Errorf("county.eco-env: %+v", d)
	}
	// The demo feed's departments all have names.
	for _, code := range []string{"county.urban-mgmt", "county.eco-env", "county.housing", "county.market-reg", "county.public-security", "county.emergency", "county.water"} {
		if _, ok := c.Department(code); !ok {
			t.Errorf("no department %s", code)
		}
	}
}

const goodYAML = `# a county's catalogue
categories:
  - {code: environment, zh: 环境卫生, en: Sanitation, color: "#2ee59d"}
  - {code: environment.noise, zh: 噪声扰民, en: Noise, parent: environment}
  - code: flood
    zh: 防汛
departments:
  - {code: county.housing, zh: 住建局, en: Housing, kind: 县直部门, region: "411502"}
  - {code: town.laocheng, zh: 老城街道, kind: 乡镇街道, region: "411502001"}
  - {code: town.laocheng.c1, zh: 一社区, kind: 村社区, parent: town.laocheng}
`

func TestParseYAML(t *testing.T) {
	known := func(code string) bool { return strings.HasPrefix(code, "411502") }
	c, err := Parse([]byte(goodYAML), "cat.yaml", Options{KnownRegion: known})
	if err != nil {
		t.Fatal(err)
	}
	if !c.HasCategory("flood") || !c.HasCategory("environment.noise") || !c.HasCategory(event.CategoryUnmapped) || c.HasCategory("dispute") {
		t.Errorf("categories %+v", c.Categories)
	}
	if got := c.TopCategories(); !slices.Equal(got, []string{"environment", "flood"}) {
		t.Errorf("top categories %v", got)
	}
	if len(c.Departments) != 3 || c.DeptName("town.laocheng.c1") != "一社区" {
		t.Errorf("departments %+v", c.Departments)
	}
	// Written and read back, the same catalogue.
	b, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(b, "catalog.yaml", Options{KnownRegion: known})
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if !slices.Equal(back.Categories, c.Categories) || !slices.Equal(back.Departments, c.Departments) {
		t.Errorf("round trip:\n%+v\n%+v", back, c)
	}
}

// TestParseSections: a section left out keeps the built-in one; a section given empty has none.
func TestParseSections(t *testing.T) {
	c, err := Parse([]byte("categories:\n  - {code: flood, zh: 防汛}\n"), "c.yaml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.DeptName("county.housing") != "住建局" || c.HasCategory("dispute") {
		t.Errorf("departments left out: %+v", c)
	}
	c, err = Parse([]byte("departments: []\n"), "c.yaml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Departments) != 0 || !c.HasCategory("dispute") || !c.HasCategory("unmapped") {
		t.Errorf("empty departments: %+v", c)
	}
	c, err = Parse(nil, "c.yaml", Options{})
	if err != nil || len(c.Categories) != len(Default().Categories) {
		t.Errorf("empty file: %v %+v", err, c)
	}
}

func TestParseCSV(t *testing.T) {
	csv := "\uFEFFtable,code,zh,en,parent,color,kind,region\n" +
		"# categories first\n" +
		"category,environment,环境卫生,Sanitation,,#2ee59d,,\n" +
		"类别,environment.noise,噪声扰民,Noise,environment,,,\n" +
		"\n" +
		"部门,county.housing,住建局,Housing,,,县直部门,411502\n" +
		"department,城管局,城管局,,county.housing,,县直部门,\n"
	c, err := Parse([]byte(csv), "cat.csv", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !c.HasCategory("environment.noise") || c.HasCategory("dispute") || c.DeptName("城管局") != "城管局" {
		t.Errorf("%+v", c)
	}
	if d, _ := c.Department("county.housing"); d.Region != "411502" || d.Kind != "县直部门" {
		t.Errorf("county.housing: %+v", d)
	}
}

// TestParseProblems: every bad row is named by file and line, all of them at once.
func TestParseProblems(t *testing.T) {
	for _, c := range []struct {
		name, file, text string
		want             []string
	}{
		{"yaml rows", "bad.yaml", `categories:
  - {code: env, zh: 环境}
  - {code: env, zh: 环境二}
  - {code: "has space", zh: x}
  - {code: noise, zh: 噪声, parent: nowhere}
  - {code: c1, zh: x, color: red}
  - {code: c2, zh: ""}
  - {code: c3, zh: x, colour: "#fff"}
  - {code: a, zh: x, parent: b}
  - {code: b, zh: x, parent: a}
  - {code: sub, zh: x, parent: unmapped}
departments:
  - {code: county.housing, zh: 住建局, region: "999"}
  - {zh: 无代码}
  - {code: d1, zh: x, kind: 一个非常非常非常非常非常非常非常非常非常非常长的单位类别名称超过三十二个字符了}
  - {code: d2, zh: x, parent: d2}
colours: []
`, []string{
			"bad.yaml:3: category \"env\" given twice (first at line 2)",
			"bad.yaml:4: category: code \"has space\" holds a blank or a control character",
			"bad.yaml:5: noise: parent \"nowhere\" is not a category of the file",
			"bad.yaml:6: c1: color \"red\" must be #rgb or #rrggbb",
			"bad.yaml:7: c2: no zh name",
			"bad.yaml:8: unknown field \"colour\" (allowed: code, zh, en, parent, color)",
			"bad.yaml:9: a: its parents go round in a circle (a → b → a)",
			"bad.yaml:10: b: its parents go round in a circle",
			"bad.yaml:11: sub: parent unmapped: the category of reports without a code refines none",
			"bad.yaml:13: county.housing: unknown region \"999\"",
			"bad.yaml:14: department: no code",
			"bad.yaml:15: d1: kind is",
			"bad.yaml:16: d2: is its own parent",
			"bad.yaml:17: unknown section \"colours\"",
		}},
		{"csv rows", "bad.csv", "table,code,zh,color,region\n" +
			"category,env,环境,,\n" +
			"category,env,环境,,\n" +
			"section,x,y,,\n" +
			"category,c1,x,,411502\n" +
			"department,d1,x,#fff,\n" +
			"department,d2,,,\n" +
			"department,\"d3\",x,,,extra\n", []string{
			"bad.csv:3: category \"env\" given twice (first at line 2)",
			"bad.csv:4: table \"section\": category (类别) or department (部门)",
			"bad.csv:5: region is not a field of a category",
			"bad.csv:6: color is not a field of a department",
			"bad.csv:7: d2: no zh name",
			"bad.csv:8: 6 fields, the header has 5",
		}},
		{"csv header", "head.csv", "kind,code,name\n", []string{
			"head.csv:1: unknown column \"name\"",
			"head.csv:1: no column \"table\"",
			"head.csv:1: no column \"zh\"",
		}},
		{"csv quote", "q.csv", "table,code,zh\ncategory,\"a,x\n", []string{"q.csv:2: "}},
		{"not utf-8", "gbk.csv", "table,code,zh\ncategory,a,\xbb\xb7\xbe\xb3\n", []string{"gbk.csv: not UTF-8"}},
		{"not yaml", "x.yaml", "categories: [\n", []string{"x.yaml: not YAML"}},
		{"not a mapping", "l.yaml", "- a\n- b\n", []string{"l.yaml:1: the catalogue must be a mapping"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.text), c.file, Options{KnownRegion: func(code string) bool { return code == "411502" }})
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("err = %v, want Problems", err)
			}
			var lines []string
			for _, p := range ps {
				lines = append(lines, p.String())
			}
			t.Logf("%s", strings.Join(lines, "\n"))
			for _, w := range c.want {
				if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, w) }) {
					t.Errorf("no problem %q", w)
				}
			}
			if len(lines) != len(c.want) {
				t.Errorf("%d problems, want %d", len(lines), len(c.want))
			}
		})
	}
}

func TestLive(t *testing.T) {
	var nilLive *Live
	if !nilLive.Load().HasCategory("dispute") {
		t.Error("a nil holder is not the built-in catalogue")
	}
	l := NewLive(Default())
	c, err := Parse([]byte("categories: [{code: flood, zh: 防汛}]\n"), "c.yaml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	l.Store(c)
	if !l.Load().HasCategory("flood") || l.Load().HasCategory("dispute") {
		t.Error("Store did not replace the catalogue")
	}
}

// TestValidatorCategories: the validator's categories come from the catalogue: a category it
// adds is accepted, one it does not name is refused (field category), unmapped always passes,
// and a reloaded catalogue decides for the next event.
func TestValidatorCategories(t *testing.T) {
	c, err := Parse([]byte("categories:\n  - {code: flood, zh: 防汛}\n  - {code: flood.dam, zh: 水库险情, parent: flood}\n"), "c.yaml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	line := func(cat string) []byte {
		return []byte(`{"id":"e1","type":"case.reported","case_id":"C1","at":"2026-06-01T07:00:00Z","source":"grid","category":"` + cat + `","region":"R"}`)
	}
	decode := func(r event.Rules, cat string) error {
		_, _, err := event.Decode(line(cat), &r, now)
		return err
	}
	rules := event.DefaultRules()
	rules.Categories = c.CategorySet()
	for _, cat := range []string{"flood", "flood.dam", event.CategoryUnmapped} {
		if err := decode(rules, cat); err != nil {
			t.Errorf("category %s refused: %v", cat, err)
		}
	}
	for _, cat := range []string{"dispute", "drought"} {
		var fe *event.FieldError
		if err := decode(rules, cat); !errors.As(err, &fe) || fe.Field != "category" {
			t.Errorf("category %s: %v, want refused naming the field category", cat, err)
		}
	}
	// A holder the validator asks at each event: a reload changes the answer.
	live := NewLive(Default())
	rules = event.DefaultRules()
	rules.KnownCategory = func(code string) bool { return live.Load().HasCategory(code) }
	if decode(rules, "flood") == nil || decode(rules, "dispute") != nil {
		t.Error("the built-in catalogue: flood accepted or dispute refused")
	}
	live.Store(c)
	if decode(rules, "flood") != nil || decode(rules, "dispute") == nil {
		t.Error("after the reload: flood refused or dispute accepted")
	}
}
