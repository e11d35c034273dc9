package roster

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"zhili/catalog"
	"zhili/geo"
)

// Demo is the demo city's roster, generated from its region tree and catalogue: the same tree,
// catalogue and seed give the same roster. Every department of the catalogue is a unit with a
// head (局长) and two deputies; every township a unit (its government: 乡镇长 and deputies) and a
// party committee (secretary and deputy); the city and every county a party committee; every
// grid, standing for its village or community, a party branch (村社党组织) whose secretary is also
// the grid's head (网格长), and one or two grid workers (网格员). Terms follow the 2021 and 2026
// elections (换届) with changes between them, some in the autumn of 2026, on fixed days (the
// roster does not depend on the day the demo starts). Names are generated; phone numbers start
// with 140, a range no person is reached on.
func Demo(tree *geo.Tree, cat *catalog.Catalog, seed uint64) *Roster {
	g := &demo{rng: rand.New(rand.NewPCG(seed, 0x726f73746572)), tree: tree}
	if cat == nil {
		cat = catalog.Default()
	}
	for _, d := range cat.Departments {
		g.department(d)
	}
	tree.Walk(func(r *geo.Region) {
		switch demoLevel(r) {
		case "city", "county":
			g.committee(r)
		case "township":
			g.township(r)
		case "grid":
			g.grid(r)
		}
	})
	return build(g.units, g.party, g.cadres, g.staff, deptRegion(Options{Tree: tree, Catalog: cat}))
}

type demo struct {
	rng    *rand.Rand
	tree   *geo.Tree
	people int
	units  []Unit
	party  []Party
	cadres []Cadre
	staff  []GridStaff
}

// demoLevel is the level a region plays in the demo: its kind when the tree names one, else
// its place (a leaf is a grid, its parent a township).
func demoLevel(r *geo.Region) string {
	switch r.Kind {
	case "city", "county", "township", "grid":
		return r.Kind
	}
	switch {
	case len(r.Children) == 0:
		return "grid"
	case len(r.Children[0].Children) == 0:
		return "township"
	case r.Level == 0 && len(r.Children[0].Children[0].Children) > 0:
		return "city"
	}
	return "county"
}

// partyCode and govCode are the codes of a region's party organisation and government unit.
func partyCode(region string) string { return "party." + region }
func govCode(region string) string   { return "gov." + region }

// parentParty is the party organisation above region's: that of the nearest region above it
// that has one (every region above a grid has one in the demo).
func (g *demo) parentParty(r *geo.Region) string {
	if r.Parent == "" {
		return ""
	}
	return partyCode(r.Parent)
}

var (
	surnames = []rune("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
	given    = []rune("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰文辉建国志红梅鹏飞斌宇浩凯俊峰林亮成燕萍琳雪春晓东海波宁博新利清运德振光永兴旭晨阳鑫丹颖欣怡倩婷雯彬健安康忠")
)

// person is a new person: an id, a name and a phone number of the 140 range.
func (g *demo) person() (id, name, phone string) {
	g.people++
	n := string(surnames[g.rng.IntN(len(surnames))]) + string(given[g.rng.IntN(len(given))])
	if g.rng.IntN(3) > 0 {
		n += string(given[g.rng.IntN(len(given))])
	}
	return fmt.Sprintf("P%06d", g.people), n, fmt.Sprintf("140%08d", g.rng.IntN(100_000_000))
}

// day is a day between from and to (YYYY-MM-DD, both included).
func (g *demo) day(from, to string) string {
	a, _ := time.Parse(time.DateOnly, from)
	b, _ := time.Parse(time.DateOnly, to)
	n := int(b.Sub(a).Hours()/24) + 1
	return a.AddDate(0, 0, g.rng.IntN(n)).Format(time.DateOnly)
}

func (g *demo) chance(p float64) bool { return g.rng.Float64() < p }

// holders adds the successive holders of one post: the first from `from`, another on each of
// the days changes names (a day not after the previous change is skipped); next, when given,
// names the holder (id, name, phone) from a change day on.
func (g *demo) holders(post Cadre, from string, changes []string, next map[string][3]string) []Cadre {
	var out []Cadre
	id, name, phone := g.person()
	cur := from
	for _, d := range changes {
		if d == "" || d <= cur {
			continue
		}
		c := post
		c.ID, c.Name, c.Phone, c.From, c.To = id, name, phone, cur, d
		out = append(out, c)
		if p, ok := next[d]; ok {
			id, name, phone = p[0], p[1], p[2]
		} else {
			id, name, phone = g.person()
		}
		cur = d
	}
	c := post
	c.ID, c.Name, c.Phone, c.From = id, name, phone, cur
	out = append(out, c)
	g.cadres = append(g.cadres, out...)
	return out
}

// maybe is day with probability p, else "".
func (g *demo) maybe(p float64, from, to string) string {
	if g.chance(p) {
		return g.day(from, to)
	}
	return ""
}

func (g *demo) department(d catalog.Department) {
	region := d.Region
	if g.tree.Get(region) == nil {
		region = g.tree.Root.Code
	}
	g.units = append(g.units, Unit{Code: d.Code, Zh: d.Zh, En: d.En, Kind: "department", Region: region, Dept: d.Code})
	head, deputy, headType, deputyType := "主任", "副主任", "部门主要负责人", "部门副职"
	if strings.HasSuffix(d.Zh, "局") {
		head, deputy, headType, deputyType = "局长", "副局长", "局长", "副局长"
	}
	start := g.day("2018-03-01", "2021-12-31")
	g.holders(Cadre{Post: d.Zh + head, PostType: headType, Unit: d.Code, Leader: true}, start,
		[]string{g.maybe(0.45, "2022-03-01", "2025-12-31"), g.maybe(0.15, "2026-09-01", "2026-11-15")}, nil)
	for seat := 1; seat <= 2; seat++ {
		g.holders(Cadre{Post: d.Zh + deputy, PostType: deputyType, Unit: d.Code, Seat: fmt.Sprint(seat)}, g.day("2018-03-01", "2022-12-31"),
			[]string{g.maybe(0.4, "2023-01-01", "2026-06-30")}, nil)
	}
}

// committee adds the party committee of the city or a county, with its secretary and a deputy.
func (g *demo) committee(r *geo.Region) {
	level, sec, typ := "county", "县委书记", "县区委书记"
	if strings.HasSuffix(r.Name, "区") {
		sec = "区委书记"
	}
	if demoLevel(r) == "city" {
		level, sec, typ = "city", "市委书记", "市委书记"
	}
	code := partyCode(r.Code)
	g.party = append(g.party, Party{Code: code, Zh: "中共" + r.Name + "委员会", Level: level, Region: r.Code, Parent: g.parentParty(r)})
	elected := g.day("2021-09-01", "2021-11-30")
	g.holders(Cadre{Post: sec, PostType: typ, Unit: code, Leader: true}, elected,
		[]string{g.maybe(0.4, "2023-03-01", "2025-10-31")}, nil)
	g.holders(Cadre{Post: strings.Replace(sec, "书记", "副书记", 1), PostType: strings.Replace(typ, "书记", "副书记", 1), Unit: code, Seat: "1"}, elected,
		[]string{g.maybe(0.3, "2023-03-01", "2025-10-31")}, nil)
}

// township adds a township's party committee and government with their leaders and teams. At
// the 2026 election the secretary's post often goes to the township's head.
func (g *demo) township(r *geo.Region) {
	party, gov := partyCode(r.Code), govCode(r.Code)
	partyName, secPost, govName, headPost, deputyPost := "中共"+r.Name+"委员会", "党委书记", r.Name+"人民政府", "乡长", "副乡长"
	switch {
	case strings.HasSuffix(r.Name, "街道"):
		partyName, secPost, govName, headPost, deputyPost = "中共"+r.Name+"工作委员会", "党工委书记", r.Name+"办事处", "办事处主任", "办事处副主任"
	case strings.HasSuffix(r.Name, "镇"):
		headPost, deputyPost = "镇长", "副镇长"
	case !strings.HasSuffix(r.Name, "乡"):
		partyName, secPost, govName, headPost, deputyPost = "中共"+r.Name+"工作委员会", "党工委书记", r.Name+"管理委员会", "管委会主任", "管委会副主任"
	}
	g.party = append(g.party, Party{Code: party, Zh: partyName, Level: "township", Region: r.Code, Parent: g.parentParty(r)})
	g.units = append(g.units, Unit{Code: gov, Zh: govName, Kind: "township", Region: r.Code})
	e2021, e2026 := g.day("2021-01-11", "2021-03-31"), g.day("2026-01-12", "2026-03-31")
	// The head first: whether the secretary's post goes to the head at the 2026 election is
	// drawn before either post's holders.
	promoted := g.chance(0.3)
	headChanges := []string{g.maybe(0.2, "2023-03-01", "2024-12-20"), "", g.maybe(0.06, "2026-09-01", "2026-11-15")}
	if promoted || g.chance(0.35) {
		headChanges[1] = e2026
	}
	heads := g.holders(Cadre{Post: headPost, PostType: "乡镇长", Unit: gov, Leader: true}, e2021, headChanges, nil)
	secChanges := []string{g.maybe(0.2, "2023-03-01", "2024-12-20"), ""}
	var next map[string][3]string
	if promoted {
		secChanges[1] = e2026
		for _, h := range heads {
			if h.To == e2026 {
				next = map[string][3]string{e2026: {h.ID, h.Name, h.Phone}}
			}
		}
	} else if g.chance(0.4) {
		secChanges[1] = e2026
	}
	g.holders(Cadre{Post: secPost, PostType: "乡镇党委书记", Unit: party, Leader: true}, e2021, secChanges, next)
	g.holders(Cadre{Post: strings.Replace(secPost, "书记", "副书记", 1), PostType: "乡镇党委副书记", Unit: party, Seat: "1"}, e2021,
		[]string{g.maybe(0.5, "2026-01-12", "2026-03-31")}, nil)
	for seat := 1; seat <= 2+g.rng.IntN(2); seat++ {
		g.holders(Cadre{Post: deputyPost, PostType: "副乡镇长", Unit: gov, Seat: fmt.Sprint(seat)}, e2021,
			[]string{g.maybe(0.2, "2022-06-01", "2025-06-30"), g.maybe(0.5, e2026, e2026)}, nil)
	}
}

// grid adds a grid's party branch (its village or community's) with its secretary, who heads
// the grid (网格长), and its grid workers.
func (g *demo) grid(r *geo.Region) {
	code := partyCode(r.Code)
	g.party = append(g.party, Party{Code: code, Zh: r.Name + "党支部", Level: "village", Region: r.Code, Parent: g.parentParty(r)})
	secs := g.holders(Cadre{Post: "党支部书记", PostType: "村社党组织书记", Unit: code, Leader: true}, g.day("2021-01-04", "2021-04-30"),
		[]string{g.maybe(0.1, "2022-06-01", "2025-06-30"), g.maybe(0.35, "2026-01-05", "2026-04-30")}, nil)
	for _, s := range secs {
		g.staff = append(g.staff, GridStaff{ID: s.ID, Name: s.Name, Phone: s.Phone, Role: "head", Grid: r.Code, From: s.From, To: s.To})
	}
	workers := 1
	if r.Weight > 0.5 || g.chance(0.4) {
		workers = 2
	}
	for range workers {
		from := g.day("2019-01-01", "2024-06-30")
		for _, w := range g.succession(from, g.maybe(0.25, "2024-07-01", "2026-11-15")) {
			id, name, phone := g.person()
			g.staff = append(g.staff, GridStaff{ID: id, Name: name, Phone: phone, Role: "worker", Grid: r.Code, From: w[0], To: w[1]})
		}
	}
}

// succession splits the time from `from` on at each change day (after it): one span per holder,
// the last one open.
func (g *demo) succession(from string, changes ...string) [][2]string {
	var out [][2]string
	cur := from
	for _, d := range changes {
		if d == "" || d <= cur {
			continue
		}
		out = append(out, [2]string{cur, d})
		cur = d
	}
	return append(out, [2]string{cur, ""})
}
