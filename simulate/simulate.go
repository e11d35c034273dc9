// Package simulate generates a realistic event stream for demos and load: cases that go through
// their whole lifecycle (reported → accepted → dispatched → signed → resolved → closed, with
// returns, reopenings, duplicates and whistles), placed inside the grids of a region tree, sent
// partly late, out of order, twice, or malformed, as real source systems do.
//
// Time is compressed by Config.Speed: a step that takes an hour in governance time happens a
// minute later at the default speed of 60, and dispatch deadlines shrink alike, so overdue cases
// and late whistle answers appear within a demo. At Speed 1 every timing is real.
//
// Once warm, the generator holds every open case: about Rate/7 new cases a second, open for
// some 2.5 days / Speed (at Rate 500 and Speed 60, some 250,000 cases, ~100 MB).
package simulate

import (
	"bytes"
	"container/heap"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"time"

	"github.com/paulmach/orb"

	"zhili/event"
	"zhili/geo"
)

// Config configures a Generator. Zero fields take defaults.
type Config struct {
	Tree *geo.Tree // where to place cases (default geo.DemoTree())
	Seed uint64
	Rate float64 // lines per second overall, including late, duplicate and bad ones (default 10)
	// Shares of malformed lines, late lines and re-sent lines (defaults 0.005, 0.03, 0.01;
	// a negative value disables the kind).
	BadRatio, LateRatio, DupRatio float64
	Speed                         float64 // lifecycle time compression (default 60)
	// Locator places points in Tree's grids (default a geo.TreeLocator; a geo.IndexedLocator is
	// much faster on real outlines).
	Locator geo.Locator
}

// Defaults.
const (
	DefaultRate      = 10
	DefaultBadRatio  = 0.005
	DefaultLateRatio = 0.03
	DefaultDupRatio  = 0.01
	DefaultSpeed     = 60
	// MaxBatch is the contract's line limit per ingest request.
	MaxBatch = 10000
)

// linesPerCase is the mean number of lifecycle lines a case produces (measured); it sets the
// rate of new cases so that the stream is in balance once cases mature.
const linesPerCase = 7.2

// meanStepDelay is the mean governance time between a case's steps (measured).
const meanStepDelay = 10*time.Hour + 40*time.Minute

// Zone is the time zone written in `at`.
var Zone = time.FixedZone("CST", 8*3600)

const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// Stats counts what a Generator produced.
type Stats struct {
	Lines    int            `json:"lines"`    // all lines returned
	Cases    int            `json:"cases"`    // cases reported
	Whistles int            `json:"whistles"` // whistles blown
	Bad      int            `json:"bad"`      // malformed lines (rejected by a correct server)
	Dups     int            `json:"dups"`     // lines re-sent with an id already sent
	Late     int            `json:"late"`     // lines held back after their `at`, or late-reported cases
	Backfill int            `json:"backfill"` // cases from the recent past sent while warming up
	ByType   map[string]int `json:"by_type"`  // good first sends per event type
}

// Generator produces the stream. It is not safe for concurrent use.
type Generator struct {
	cfg     Config
	rng     *rand.Rand
	loc     geo.Locator // point → region path
	grids   []grid
	total   float64 // sum of grid weights
	rootNm  string
	started bool
	start   time.Time
	prefix  string
	slot    int64
	seq     uint64 // tie-break for heaps
	nEvent  uint64
	nCase   uint64
	nWhis   uint64
	tasks   taskHeap
	held    lineHeap
	recent  []*caseState // ring of recent cases (duplicate references, repeat complaints)
	stats   Stats
	tokens  float64                          // new-case budget
	trace   func(kind lineKind, line []byte) // tests
}

type lineKind uint8

const (
	kindGood lineKind = iota
	kindBad
	kindDup
)

type grid struct {
	code, town, townName string
	bound                orb.Bound
	weight               float64
	hot                  []orb.Point // hotspot centres (dense "town" grids only)
}

// NewGenerator returns a generator for cfg.
func NewGenerator(cfg Config) *Generator {
	if cfg.Tree == nil {
		cfg.Tree = geo.DemoTree()
	}
	if cfg.Rate <= 0 {
		cfg.Rate = DefaultRate
	}
	def := func(v *float64, d float64) {
		switch {
		case *v == 0:
			*v = d
		case *v < 0:
			*v = 0
		}
	}
	def(&cfg.BadRatio, DefaultBadRatio)
	def(&cfg.LateRatio, DefaultLateRatio)
	def(&cfg.DupRatio, DefaultDupRatio)
	if cfg.Speed <= 0 {
		cfg.Speed = DefaultSpeed
	}
	if cfg.Locator == nil {
		cfg.Locator = geo.TreeLocator{T: cfg.Tree}
	}
	g := &Generator{
		cfg:    cfg,
		rng:    rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		loc:    cfg.Locator,
		tokens: 1, // the first line is a live case
		rootNm: cfg.Tree.Root.Name,
		stats:  Stats{ByType: map[string]int{}},
	}
	cfg.Tree.Walk(func(r *geo.Region) {
		if len(r.Children) > 0 || r.Bound.IsEmpty() {
			return
		}
		gr := grid{code: r.Code, bound: r.Bound, weight: 1}
		if p := cfg.Tree.Get(r.Parent); p != nil {
			gr.town, gr.townName = p.Code, p.Name
		}
		g.grids = append(g.grids, gr)
	})
	if len(g.grids) == 0 { // a tree of one region
		r := cfg.Tree.Root
		g.grids = append(g.grids, grid{code: r.Code, bound: r.Bound, weight: 1})
	}
	// A few "town" grids are dense, with hotspots; the rest are sparse. A region file may say
	// which (property "weight", 0..1): then the densest fifth are the towns.
	nTown := (len(g.grids) + 4) / 5
	towns := g.rng.Perm(len(g.grids))[:nTown]
	weighted := g.dataWeights(cfg.Tree)
	if weighted != nil {
		towns = weighted[:nTown]
	}
	for _, i := range towns {
		gr := &g.grids[i]
		if weighted == nil {
			gr.weight = 7
		}
		for k := 0; k < 2; k++ {
			if p, ok := g.uniformIn(gr); ok {
				gr.hot = append(gr.hot, p)
			}
		}
	}
	for _, gr := range g.grids {
		g.total += gr.weight
	}
	return g
}

// dataWeights applies the grids' own density hints, when the region file has them, and returns
// the grid indices densest first; nil when it has none.
func (g *Generator) dataWeights(t *geo.Tree) []int {
	found := false
	for i := range g.grids {
		if r := t.Get(g.grids[i].code); r != nil && r.Weight > 0 {
			found = true
			g.grids[i].weight = 0.2 + 4*r.Weight
		}
	}
	if !found {
		return nil
	}
	idx := make([]int, len(g.grids))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return g.grids[idx[a]].weight > g.grids[idx[b]].weight })
	return idx
}

// Stats returns what the generator produced so far.
func (g *Generator) Stats() Stats {
	s := g.stats
	s.ByType = make(map[string]int, len(g.stats.ByType))
	for k, v := range g.stats.ByType {
		s.ByType[k] = v
	}
	return s
}

// Prefix returns the run's id prefix (empty before the first Next).
func (g *Generator) Prefix() string { return g.prefix }

func (g *Generator) begin(now time.Time) {
	g.started = true
	g.start = now
	g.prefix = "s" + strconv.FormatUint(g.cfg.Seed%(36*36*36*36), 36) + strconv.FormatInt(now.Unix(), 36)
}

func (g *Generator) slotTime(k int64) time.Time {
	return g.start.Add(time.Duration(float64(k) / g.cfg.Rate * float64(time.Second)))
}

// Next returns the event lines (NDJSON lines without trailing newline) due up to now, at most
// max. Lines not returned stay due for the next call. The output depends only on the seed, the
// first call's now (which anchors the run) and the slots passed, not on how calls are split.
func (g *Generator) Next(now time.Time, max int) [][]byte {
	if !g.started {
		g.begin(now)
	}
	var out [][]byte
	for len(out) < max {
		st := g.slotTime(g.slot)
		if st.After(now) {
			break
		}
		line, kind := g.fill(st)
		g.slot++
		g.tokens = math.Min(g.tokens+g.caseRate()/g.cfg.Rate, 2)
		g.stats.Lines++
		switch kind {
		case kindBad:
			g.stats.Bad++
		case kindDup:
			g.stats.Dups++
		}
		if g.trace != nil {
			g.trace(kind, line)
		}
		out = append(out, line)
	}
	return out
}

// fill produces the line of the slot at st, by priority: a malformed line now and then; a late
// or re-sent line whose time has come; a new case at the balanced case rate; a due lifecycle
// step; while the pipeline of open cases is still filling (warm-up), a case from the recent past
// whose earlier steps follow as a catch-up; else the earliest pending step, pulled forward.
func (g *Generator) fill(st time.Time) ([]byte, lineKind) {
	for {
		if g.rng.Float64() < g.cfg.BadRatio {
			return g.badLine(st), kindBad
		}
		if len(g.held) > 0 && !g.held[0].release.After(st) {
			h := heap.Pop(&g.held).(*heldLine)
			if h.dup {
				return h.line, kindDup
			}
			g.maybeDup(h.line, st)
			return h.line, kindGood
		}
		var line []byte
		var late bool
		switch {
		case g.tokens >= 1:
			g.tokens--
			line, late = g.newCase(st, false)
		case len(g.tasks) > 0 && !g.tasks[0].at.After(st):
			t := heap.Pop(&g.tasks).(*task)
			line, late = g.run(t, t.at)
		case len(g.tasks) < g.poolTarget():
			line, late = g.newCase(st, true)
		default:
			line, late = g.newCase(st, false)
		}
		if late {
			continue // held back; the slot takes something else
		}
		g.maybeDup(line, st)
		return line, kindGood
	}
}

// caseRate is the balanced rate of new cases per second.
func (g *Generator) caseRate() float64 { return g.cfg.Rate / linesPerCase }

// poolTarget is about the number of pending steps in the steady state (Little's law: the rate
// of steps times their mean delay), capped at ten minutes of lines.
func (g *Generator) poolTarget() int {
	n := 0.8 * (g.cfg.Rate - g.caseRate()) * meanStepDelay.Seconds() / g.cfg.Speed
	return int(math.Min(n, g.cfg.Rate*600))
}

func (g *Generator) maybeDup(line []byte, st time.Time) {
	if g.rng.Float64() < g.cfg.DupRatio {
		g.hold(line, st.Add(g.uniform(200*time.Millisecond, 30*time.Second)), true)
	}
}

func (g *Generator) hold(line []byte, release time.Time, dup bool) {
	g.seq++
	heap.Push(&g.held, &heldLine{release: release, seq: g.seq, line: line, dup: dup})
}

// ---- cases and their lifecycle ----

type step uint8

const (
	stAccept step = iota
	stDispatch
	stSign
	stReturn
	stResolve
	stClose
	stReopen
	stDuplicate
	stWhistle
	stAnswer
	stWhistleResolve
	stEvaluate
)

type caseState struct {
	id       string
	source   string
	category string
	priority string
	grid     *grid
	point    orb.Point // WGS-84, zero when region-only
	address  string
	dept     string
	tried    []string
	returns  int
	reopens  int
	lastAt   time.Time
	sat      string
	whistle  *whistleState
}

type whistleState struct {
	id      string
	kind    string
	depts   []string
	pending int            // departments not yet arrived
	late    map[string]int // late stages per department
}

type task struct {
	at    time.Time
	seq   uint64
	c     *caseState
	step  step
	dept  string
	stage int // whistle stage index: 0 signed, 1 contacted, 2 arrived
}

// schedule queues step s of c at governance delay d after base (compressed by Speed).
func (g *Generator) schedule(c *caseState, s step, base time.Time, d time.Duration, dept string, stage int) {
	g.seq++
	at := base.Add(time.Duration(float64(d) / g.cfg.Speed))
	heap.Push(&g.tasks, &task{at: at, seq: g.seq, c: c, step: s, dept: dept, stage: stage})
}

func (g *Generator) nextID() string {
	g.nEvent++
	return g.prefix + "-" + strconv.FormatUint(g.nEvent, 36)
}

// wire is the JSON line; times are preformatted.
type wire struct {
	ID           string          `json:"id"`
	Type         event.Type      `json:"type"`
	CaseID       string          `json:"case_id,omitempty"`
	At           string          `json:"at"`
	Source       string          `json:"source,omitempty"`
	Category     string          `json:"category,omitempty"`
	Priority     string          `json:"priority,omitempty"`
	Location     *event.Location `json:"location,omitempty"`
	Region       string          `json:"region,omitempty"`
	Address      string          `json:"address,omitempty"`
	Dept         string          `json:"dept,omitempty"`
	Deadline     string          `json:"deadline,omitempty"`
	WhistleID    string          `json:"whistle_id,omitempty"`
	WhistleKind  string          `json:"whistle_kind,omitempty"`
	Depts        []string        `json:"depts,omitempty"`
	Stage        string          `json:"stage,omitempty"`
	Score        int             `json:"score,omitempty"`
	Satisfaction string          `json:"satisfaction,omitempty"`
	Reporter     *event.Reporter `json:"reporter,omitempty"`
	Summary      string          `json:"summary,omitempty"`
}

func fmtTime(t time.Time) string { return t.In(Zone).Format(timeLayout) }

func marshal(w *wire) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(w); err != nil {
		panic(err) // plain strings and numbers only
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}

// emit finishes an event of c at `at`: keeps the case's times strictly increasing, and decides
// whether the line is held back (sent late, possibly after later events of the same case).
func (g *Generator) emit(c *caseState, w *wire, at time.Time) ([]byte, time.Time, bool) {
	return g.emitDeadline(c, w, at, 0)
}

// emitDeadline is emit with a deadline `within` after the event's time (when within > 0).
func (g *Generator) emitDeadline(c *caseState, w *wire, at time.Time, within time.Duration) ([]byte, time.Time, bool) {
	at = at.Truncate(time.Millisecond)
	if min := c.lastAt.Add(time.Millisecond); !c.lastAt.IsZero() && at.Before(min) {
		at = min
	}
	c.lastAt = at
	if within > 0 {
		w.Deadline = fmtTime(at.Add(within))
	}
	w.ID = g.nextID()
	w.CaseID = c.id
	w.At = fmtTime(at)
	line := marshal(w)
	g.stats.ByType[string(w.Type)]++
	if g.rng.Float64() < g.cfg.LateRatio*2/3 {
		g.stats.Late++
		// Minutes to hours late in governance time.
		g.hold(line, at.Add(time.Duration(float64(g.uniform(2*time.Minute, 3*time.Hour))/g.cfg.Speed)), false)
		return line, at, true
	}
	return line, at, false
}

var (
	sources       = []string{"hotline12345", "grid", "app", "sensor", "police110", "center"}
	sourceWeights = []float64{40, 25, 15, 8, 7, 5}
	categories    = []string{"dispute", "security", "safety", "environment", "cityorder", "livelihood", "petition"}
	// category weights per source, in the order of categories
	catWeights = map[string][]float64{
		"hotline12345": {14, 6, 6, 22, 20, 26, 6},
		"grid":         {20, 12, 12, 22, 22, 10, 2},
		"app":          {8, 6, 6, 28, 26, 24, 2},
		"sensor":       {0, 5, 40, 55, 0, 0, 0},
		"police110":    {45, 45, 10, 0, 0, 0, 0},
		"center":       {15, 10, 20, 15, 10, 10, 20},
	}
	deptsByCategory = map[string][]string{
		"dispute":     {"county.housing", "county.public-security", "county.market-reg"},
		"security":    {"county.public-security"},
		"safety":      {"county.emergency", "county.market-reg", "county.housing"},
		"environment": {"county.eco-env", "county.urban-mgmt", "county.water"},
		"cityorder":   {"county.urban-mgmt", "county.market-reg"},
		"livelihood":  {"county.water", "county.housing", "county.market-reg"},
		"petition":    {"county.housing", "county.urban-mgmt", "county.eco-env"},
	}
	allDepts = []string{"county.urban-mgmt", "county.eco-env", "county.housing", "county.market-reg",
		"county.public-security", "county.emergency", "county.water"}
	crsBySource = map[string][]string{ // equally likely
		"hotline12345": {event.BD09, event.BD09, event.GCJ02},
		"grid":         {event.GCJ02, event.WGS84},
		"app":          {event.GCJ02, event.GCJ02, event.BD09},
		"sensor":       {event.WGS84},
		"police110":    {event.WGS84, event.GCJ02},
		"center":       {event.WGS84},
	}
	summaries = map[string][]string{
		"dispute":     {"反映邻里因占用公共通道发生纠纷，请求协调", "反映物业费收取争议，业主与物业矛盾激化", "反映宅基地边界争议"},
		"security":    {"反映小区周边夜间有可疑人员聚集", "反映路段监控损坏，存在治安隐患", "反映出租屋人员流动频繁"},
		"safety":      {"反映沿街商铺违规使用液化气罐", "反映楼道堆放杂物堵塞消防通道", "反映建筑工地未设安全防护"},
		"environment": {"反映小区垃圾清运不及时，异味严重", "反映河道有污水排放", "反映餐馆油烟扰民", "反映夜间施工噪音扰民"},
		"cityorder":   {"反映占道经营影响通行", "反映共享单车乱停乱放", "反映违规设置户外广告"},
		"livelihood":  {"反映小区停水未提前通知", "反映路灯损坏夜间无照明", "反映供暖温度不达标"},
		"petition":    {"反映征地补偿款未按时发放", "反映拖欠农民工工资", "反映历史遗留房产证办理问题"},
	}
	roads     = []string{"人民路", "解放路", "中山路", "胜利路", "新华街", "建设路", "和平路", "工区路", "东方红大道", "申城大道"}
	estates   = []string{"幸福小区", "阳光花园", "金桂苑", "茶韵小区", "南湖家园", "锦绣华庭"}
	surnames  = []string{"张", "王", "李", "赵", "刘", "陈", "杨", "黄", "周", "吴"}
	notFixed  = "经核实暂不具备解决条件，已向群众解释说明（未解决办结）"
	returnWhy = "经核实不属于本单位职责范围，申请退回重新派单"
)

func (g *Generator) pick(xs []string) string { return xs[g.rng.IntN(len(xs))] }

func (g *Generator) weighted(xs []string, ws []float64) string {
	sum := 0.0
	for _, w := range ws {
		sum += w
	}
	u := g.rng.Float64() * sum
	for i, w := range ws {
		if u < w {
			return xs[i]
		}
		u -= w
	}
	return xs[len(xs)-1]
}

// uniform returns a duration in [lo, hi), skewed towards lo (most steps are quick, a few slow).
func (g *Generator) uniform(lo, hi time.Duration) time.Duration {
	u := g.rng.Float64()
	return lo + time.Duration(u*u*float64(hi-lo))
}

func (g *Generator) chance(p float64) bool { return g.rng.Float64() < p }

// newCase reports a new case at st, or for history a case reported in the recent past (within
// about the time a case takes), whose past steps become due at once.
func (g *Generator) newCase(st time.Time, history bool) ([]byte, bool) {
	g.nCase++
	g.stats.Cases++
	c := &caseState{id: fmt.Sprintf("%s-C%06d", g.prefix, g.nCase)}
	at := st
	if history {
		g.stats.Backfill++
		at = st.Add(-time.Duration(g.rng.Float64() * float64(4*24*time.Hour) / g.cfg.Speed))
	} else if g.chance(g.cfg.LateRatio / 3) {
		// A backfill from a flaky source: the case happened minutes to hours ago.
		g.stats.Late++
		at = st.Add(-g.uniform(5*time.Minute, 3*time.Hour))
	}
	w := &wire{Type: event.CaseReported}
	var repeat *caseState
	if len(g.recent) > 0 && g.chance(0.05) {
		if r := g.recent[g.rng.IntN(len(g.recent))]; r.grid != nil && r.point != (orb.Point{}) {
			repeat = r
		}
	}
	if repeat != nil {
		// A repeat complaint at the same place: same category and address, a few metres away.
		c.source = g.weighted(sources, sourceWeights)
		c.category, c.grid, c.address = repeat.category, repeat.grid, repeat.address
		c.point = g.near(repeat.grid, repeat.point, 0.0001)
	} else {
		c.source = g.weighted(sources, sourceWeights)
		c.category = g.weighted(categories, catWeights[c.source])
		c.grid = g.pickGrid()
		c.point = g.pointIn(c.grid)
	}
	c.priority = g.weighted([]string{"normal", "urgent", "critical"}, []float64{85, 12, 3})
	if c.source == "sensor" && c.category == "safety" && g.chance(0.3) {
		c.priority = "urgent"
	}
	w.Source, w.Category = c.source, c.category
	if c.priority != "normal" || g.chance(0.5) {
		w.Priority = c.priority
	}
	if c.point == (orb.Point{}) || g.chance(0.03) {
		// Only a region: the grid, or for some the township.
		w.Region = c.grid.code
		if c.grid.town != "" && g.chance(0.3) {
			w.Region = c.grid.town
		}
		c.point = orb.Point{}
	} else {
		w.Location = g.location(c)
	}
	if c.address == "" {
		c.address = g.address(c.grid)
	}
	switch c.source {
	case "hotline12345":
		w.Address = c.address
		w.Reporter = &event.Reporter{Name: g.pick(surnames) + g.pick([]string{"某", "某某"}), Phone: g.phone()}
		w.Summary = g.pick(summaries[c.category])
	case "app", "grid":
		if g.chance(0.6) {
			w.Address = c.address
		}
		w.Summary = g.pick(summaries[c.category])
	}
	line, at, late := g.emit(c, w, at)
	// Next step.
	if len(g.recent) > 0 && g.chance(0.03) {
		g.schedule(c, stDuplicate, at, g.uniform(5*time.Minute, 2*time.Hour), "", 0)
	} else {
		d := g.uniform(5*time.Minute, time.Hour)
		switch {
		case c.source == "hotline12345":
			d = g.uniform(2*time.Minute, 20*time.Minute)
		case c.priority == "critical" || c.source == "sensor":
			d = g.uniform(time.Minute, 10*time.Minute)
		}
		g.schedule(c, stAccept, at, d, "", 0)
	}
	if len(g.recent) < 64 {
		g.recent = append(g.recent, c)
	} else {
		g.recent[g.nCase%64] = c
	}
	return line, late
}

func (g *Generator) phone() string {
	p := []string{"13", "15", "18", "19"}[g.rng.IntN(4)]
	return fmt.Sprintf("%s%d****%04d", p, g.rng.IntN(10), g.rng.IntN(10000))
}

func (g *Generator) address(gr *grid) string {
	prefix := g.rootNm + gr.townName
	if g.chance(0.5) {
		return fmt.Sprintf("%s%s%d号", prefix, g.pick(roads), 1+g.rng.IntN(300))
	}
	return fmt.Sprintf("%s%s%d栋%d单元", prefix, g.pick(estates), 1+g.rng.IntN(30), 1+g.rng.IntN(6))
}

func (g *Generator) pickGrid() *grid {
	u := g.rng.Float64() * g.total
	for i := range g.grids {
		if u < g.grids[i].weight {
			return &g.grids[i]
		}
		u -= g.grids[i].weight
	}
	return &g.grids[len(g.grids)-1]
}

// locatesTo reports whether p (WGS-84) lies in grid code.
func (g *Generator) locatesTo(p orb.Point, code string) bool {
	path := g.loc.Locate(p)
	return len(path) > 0 && path[len(path)-1] == code
}

func (g *Generator) uniformIn(gr *grid) (orb.Point, bool) {
	b := gr.bound
	for i := 0; i < 200; i++ {
		p := orb.Point{b.Min[0] + g.rng.Float64()*(b.Max[0]-b.Min[0]), b.Min[1] + g.rng.Float64()*(b.Max[1]-b.Min[1])}
		if g.locatesTo(p, gr.code) {
			return p, true
		}
	}
	return orb.Point{}, false
}

// near returns a point about sigma degrees around c inside gr, or a uniform one.
func (g *Generator) near(gr *grid, c orb.Point, sigma float64) orb.Point {
	for i := 0; i < 20; i++ {
		p := orb.Point{c[0] + g.rng.NormFloat64()*sigma, c[1] + g.rng.NormFloat64()*sigma}
		if g.locatesTo(p, gr.code) {
			return p
		}
	}
	p, _ := g.uniformIn(gr)
	return p
}

func (g *Generator) pointIn(gr *grid) orb.Point {
	if len(gr.hot) > 0 && g.chance(0.6) {
		return g.near(gr, gr.hot[g.rng.IntN(len(gr.hot))], 0.003)
	}
	p, _ := g.uniformIn(gr)
	return p
}

// location writes c.point in a CRS typical of the source, rounded to 6 decimals (~0.1 m), such
// that converting back to WGS-84 still lands in the case's grid.
func (g *Generator) location(c *caseState) *event.Location {
	crs := g.pick(crsBySource[c.source])
	for i := 0; i < 50; i++ {
		x, y := geo.FromWGS84(crs, c.point[0], c.point[1])
		x, y = math.Round(x*1e6)/1e6, math.Round(y*1e6)/1e6
		bx, by := geo.ToWGS84(crs, x, y)
		if g.locatesTo(orb.Point{bx, by}, c.grid.code) {
			l := &event.Location{Lon: x, Lat: y, CRS: crs}
			if crs == event.WGS84 && g.chance(0.5) {
				l.CRS = "" // the default
			}
			return l
		}
		c.point = g.near(c.grid, c.point, 0.00005) // on an edge: move a little
	}
	return &event.Location{Lon: c.point[0], Lat: c.point[1], CRS: event.WGS84}
}

func (g *Generator) deptFor(c *caseState) string {
	cands := deptsByCategory[c.category]
	for i := 0; i < 4; i++ {
		d := g.pick(cands)
		if !contains(c.tried, d) {
			return d
		}
	}
	for _, d := range allDepts {
		if !contains(c.tried, d) {
			return d
		}
	}
	return g.pick(cands)
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

var stages = []string{"signed", "contacted", "arrived"}

// run emits task t at time at and schedules what follows.
func (g *Generator) run(t *task, at time.Time) ([]byte, bool) {
	c := t.c
	h := time.Hour
	day := 24 * h
	switch t.step {
	case stAccept:
		line, at, late := g.emit(c, &wire{Type: event.CaseAccepted}, at)
		d := g.uniform(5*time.Minute, 2*h)
		if c.priority == "critical" {
			d = g.uniform(time.Minute, 15*time.Minute)
		}
		g.schedule(c, stDispatch, at, d, "", 0)
		return line, late

	case stDispatch:
		c.dept = g.deptFor(c)
		c.tried = append(c.tried, c.dept)
		days := 2 + g.rng.IntN(4) // 2-5
		switch c.priority {
		case "urgent":
			days = 1 + g.rng.IntN(2)
		case "critical":
			days = 1
		}
		within := time.Duration(float64(time.Duration(days)*day) / g.cfg.Speed)
		line, at, late := g.emitDeadline(c, &wire{Type: event.CaseDispatched, Dept: c.dept}, at, within)
		if c.returns < 2 && g.chance(0.08) {
			g.schedule(c, stReturn, at, g.uniform(30*time.Minute, day), c.dept, 0)
		} else if g.chance(0.9) {
			g.schedule(c, stSign, at, g.uniform(5*time.Minute, 4*h), c.dept, 0)
		} else {
			g.schedule(c, stSign, at, g.uniform(4*h, day), c.dept, 0) // slow to sign
		}
		return line, late

	case stReturn:
		c.returns++
		line, at, late := g.emit(c, &wire{Type: event.CaseReturned, Dept: c.dept, Summary: returnWhy}, at)
		g.schedule(c, stDispatch, at, g.uniform(10*time.Minute, 3*h), "", 0)
		return line, late

	case stSign:
		line, at, late := g.emit(c, &wire{Type: event.CaseSigned, Dept: c.dept}, at)
		p := 0.035
		if c.priority != "normal" {
			p = 0.12
		}
		if c.whistle == nil && c.reopens == 0 && g.chance(p) {
			g.schedule(c, stWhistle, at, g.uniform(h, day), "", 0)
		} else {
			d := g.uniform(2*h, 4*day)
			if c.priority == "critical" {
				d = g.uniform(h, 12*h)
			}
			g.schedule(c, stResolve, at, d, "", 0)
		}
		return line, late

	case stResolve:
		w := &wire{Type: event.CaseResolved, Dept: c.dept}
		if g.chance(0.3) {
			w.Summary = "已现场处置完毕"
		}
		line, at, late := g.emit(c, w, at)
		g.schedule(c, stClose, at, g.uniform(h, 2*day), "", 0)
		return line, late

	case stClose:
		w := &wire{Type: event.CaseClosed}
		c.sat = g.weighted([]string{"", "satisfied", "basically", "unsatisfied"}, []float64{6, 68, 18, 8})
		w.Satisfaction = c.sat
		if g.chance(0.04) {
			w.Summary = notFixed
		}
		line, at, late := g.emit(c, w, at)
		p := 0.02
		if c.sat == "unsatisfied" {
			p = 0.4
		}
		if c.reopens < 2 && g.chance(p) {
			g.schedule(c, stReopen, at, g.uniform(2*h, 2*day), "", 0)
		}
		return line, late

	case stReopen:
		c.reopens++
		line, at, late := g.emit(c, &wire{Type: event.CaseReopened, Summary: "群众回访不满意，重新办理"}, at)
		c.tried = c.tried[:0]
		g.schedule(c, stDispatch, at, g.uniform(10*time.Minute, 2*h), "", 0)
		return line, late

	case stDuplicate:
		other := g.recent[g.rng.IntN(len(g.recent))]
		if other == c {
			other = g.recent[0]
		}
		sum := "与工单" + other.id + "重复"
		if other == c {
			sum = "重复诉求"
		}
		line, _, late := g.emit(c, &wire{Type: event.CaseDuplicate, Summary: sum}, at)
		return line, late

	case stWhistle:
		g.nWhis++
		g.stats.Whistles++
		ws := &whistleState{id: fmt.Sprintf("%s-W%05d", g.prefix, g.nWhis), late: map[string]int{}}
		ws.kind = g.weighted([]string{"advance", "tough", "emergency"}, []float64{65, 25, 10})
		if c.priority == "critical" && g.chance(0.5) {
			ws.kind = "emergency"
		}
		ws.depts = []string{c.dept}
		for n := g.rng.IntN(3); n > 0; n-- { // 1-3 departments
			if d := g.pick(allDepts); !contains(ws.depts, d) {
				ws.depts = append(ws.depts, d)
			}
		}
		ws.pending = len(ws.depts)
		c.whistle = ws
		w := &wire{Type: event.WhistleBlown, WhistleID: ws.id, WhistleKind: ws.kind, Depts: ws.depts,
			Summary: "镇街协调多次未果，吹哨请求县直部门报到"}
		line, at, late := g.emit(c, w, at)
		for _, d := range ws.depts {
			g.schedule(c, stAnswer, at, g.answerDelay(ws, d, 0), d, 0)
		}
		return line, late

	case stAnswer:
		ws := c.whistle
		w := &wire{Type: event.WhistleAnswered, WhistleID: ws.id, Dept: t.dept, Stage: stages[t.stage]}
		line, at, late := g.emit(c, w, at)
		if t.stage < 2 {
			g.schedule(c, stAnswer, at, g.answerDelay(ws, t.dept, t.stage+1), t.dept, t.stage+1)
		} else if ws.pending--; ws.pending == 0 {
			d := g.uniform(2*h, 3*day)
			if ws.kind == "emergency" {
				d = g.uniform(h, 12*h)
			}
			g.schedule(c, stWhistleResolve, at, d, "", 0)
		}
		return line, late

	case stWhistleResolve:
		ws := c.whistle
		line, at, late := g.emit(c, &wire{Type: event.WhistleResolved, WhistleID: ws.id}, at)
		for _, d := range ws.depts {
			g.schedule(c, stEvaluate, at, g.uniform(h, 2*day), d, 0)
		}
		g.schedule(c, stResolve, at, g.uniform(30*time.Minute, day), "", 0)
		return line, late

	case stEvaluate:
		ws := c.whistle
		score := 5 - ws.late[t.dept] + g.rng.IntN(3) - 1
		score = max(1, min(5, score))
		line, _, late := g.emit(c, &wire{Type: event.WhistleEvaluated, WhistleID: ws.id, Dept: t.dept, Score: score}, at)
		return line, late
	}
	panic("simulate: unknown step")
}

// answerDelay is the governance time a department takes to reach stage (from the previous
// one). Most are within the local rules' clocks (sign 1 h, contact 24 h, report in 3 days for
// advance, 5 for tough; emergency much faster); some are late, which lowers the evaluation.
func (g *Generator) answerDelay(ws *whistleState, dept string, stage int) time.Duration {
	h := time.Hour
	day := 24 * h
	type clk struct{ lo, limit, lateMax time.Duration }
	var c clk
	switch {
	case ws.kind == "emergency":
		c = []clk{{2 * time.Minute, 10 * time.Minute, h}, {5 * time.Minute, h, 4 * h}, {10 * time.Minute, 2 * h, 8 * h}}[stage]
	case stage == 0:
		c = clk{5 * time.Minute, h, 8 * h}
	case stage == 1:
		c = clk{h, day, 3 * day}
	case ws.kind == "tough":
		c = clk{day, 5 * day, 8 * day}
	default:
		c = clk{12 * h, 3 * day, 6 * day}
	}
	if g.chance(0.15) {
		ws.late[dept]++
		return g.uniform(c.limit, c.lateMax)
	}
	return g.uniform(c.lo, c.limit)
}

// badLine returns a malformed line: a bad latitude, an unknown type, a missing case_id, or
// truncated JSON.
func (g *Generator) badLine(st time.Time) []byte {
	id := g.nextID()
	at := fmtTime(st.Truncate(time.Millisecond))
	cid := fmt.Sprintf("%s-X%d", g.prefix, g.nEvent)
	switch g.rng.IntN(4) {
	case 0:
		gr := g.pickGrid()
		p := g.pointIn(gr)
		return marshal(&wire{ID: id, Type: event.CaseReported, CaseID: cid, At: at, Source: "grid", Category: "cityorder",
			Location: &event.Location{Lon: math.Round(p[0]*1e6) / 1e6, Lat: 91 + math.Round(g.rng.Float64()*1e4)/1e2, CRS: event.WGS84}})
	case 1:
		return marshal(&wire{ID: id, Type: "case.escalated", CaseID: cid, At: at})
	case 2:
		return marshal(&wire{ID: id, Type: event.CaseAccepted, At: at})
	}
	full := marshal(&wire{ID: id, Type: event.CaseReported, CaseID: cid, At: at, Source: "app", Category: "environment", Region: g.grids[0].code})
	return full[:len(full)/2]
}

// ---- heaps ----

// timed is what a timeHeap orders by: a time, then a sequence number (the order of scheduling).
type timed interface{ when() (time.Time, uint64) }

// timeHeap is a container/heap of items by time, ties in scheduling order.
type timeHeap[T timed] []T

func (h timeHeap[T]) Len() int { return len(h) }
func (h timeHeap[T]) Less(i, j int) bool {
	ai, as := h[i].when()
	bi, bs := h[j].when()
	if !ai.Equal(bi) {
		return ai.Before(bi)
	}
	return as < bs
}
func (h timeHeap[T]) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *timeHeap[T]) Push(x any)   { *h = append(*h, x.(T)) }
func (h *timeHeap[T]) Pop() any {
	old := *h
	x := old[len(old)-1]
	var zero T
	old[len(old)-1] = zero
	*h = old[:len(old)-1]
	return x
}

type (
	taskHeap = timeHeap[*task]
	lineHeap = timeHeap[*heldLine]
)

func (t *task) when() (time.Time, uint64) { return t.at, t.seq }

func (l *heldLine) when() (time.Time, uint64) { return l.release, l.seq }

type heldLine struct {
	release time.Time
	seq     uint64
	line    []byte
	dup     bool
}

// ---- pacing ----

// Run paces a generator for cfg at cfg.Rate and calls send with NDJSON bodies (one per ~100 ms
// batch) until ctx is done or dur elapses (dur 0: forever). It returns send's first error.
func Run(ctx context.Context, cfg Config, dur time.Duration, send func(ctx context.Context, body []byte) error) error {
	return NewGenerator(cfg).Run(ctx, dur, send)
}

// Run is the package-level Run on g, so that the caller can read g.Stats afterwards.
func (g *Generator) Run(ctx context.Context, dur time.Duration, send func(ctx context.Context, body []byte) error) error {
	const every = 100 * time.Millisecond
	tick := time.NewTicker(every)
	defer tick.Stop()
	var end time.Time
	if dur > 0 {
		end = time.Now().Add(dur)
	}
	var body bytes.Buffer
	for {
		now := time.Now()
		done := dur > 0 && !now.Before(end)
		if done {
			now = end
		}
		lines := g.Next(now, MaxBatch)
		if len(lines) > 0 {
			body.Reset()
			for _, l := range lines {
				body.Write(l)
				body.WriteByte('\n')
			}
			if err := send(ctx, body.Bytes()); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		}
		if len(lines) == MaxBatch {
			continue // behind: catch up without waiting
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
