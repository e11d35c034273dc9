package simulate

import (
	"bytes"
	"container/heap"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/paulmach/orb"

	"zhili/calendar"
	"zhili/event"
	"zhili/geo"
)

// History generates the past of a demo deployment: the cases of a period before End with their
// whole lifecycles in real governance time (no compression), as a backfill sends them: in event
// time order, every line valid. It plants features the screens and audits should find:
//
//   - a daily rhythm (quiet nights, morning and afternoon peaks) and a weekly one (busy Mondays,
//     quiet weekends), and fewer reports on public holidays (the official calendar; make-up
//     working days count as working days);
//   - a persistent hot spot: a few neighbouring grids with an elevated rate all period;
//   - an intensifying hot spot: another few grids, a little above their surroundings, whose
//     rate rises over the last two weeks;
//   - a slow department that signs late, resolves late and runs past more deadlines;
//   - repeat complaints at a few addresses, returns (退回), reopenings, satisfaction callbacks
//     for most closings, a few unlocated reports;
//   - whistles (吹哨报到) with answers, resolutions and evaluations; those blown in the last
//     days are still open at End, a few of them late.
//
// Next sends the history up to End; steps after End are not sent yet, so cases and whistles
// are open at End, as they would be, and NextUntil goes on sending the history as time passes
// (new cases at the same rhythm). The same configuration (seed and End included) gives the
// same lines, byte for byte.
type History struct {
	cfg   HistoryConfig
	g     *Generator // shared helpers: grids, places, addresses, the random source
	start time.Time  // the first hour
	hour  time.Time  // the next hour whose new cases are not generated yet
	norm  [2]float64 // means of the hour profiles (working day, day off)
	pend  histHeap
	seq   uint64
	nCase uint64
	nWhis uint64
	plan  HistoryPlan
	hots  []*grid // persistent cluster
	rises []*grid // intensifying cluster
	// extra reports per grid and working day: the persistent cluster's, the intensifying
	// cluster's until its rise (a little above its surroundings) and at End
	hotRate, riseFrom, riseTo float64
	spots                     []repeatSpot
	stats                     HistoryStats
	buf                       bytes.Buffer
}

// HistoryConfig configures a History. Zero fields take defaults.
type HistoryConfig struct {
	Tree     *geo.Tree          // default geo.DemoTree()
	Calendar *calendar.Calendar // holidays and make-up working days (default calendar.Default())
	Seed     uint64
	End      time.Time     // the history ends here (usually now); required
	Span     time.Duration // how far back it starts (default DefaultHistorySpan)
	// PerDay is the mean number of new cases on an ordinary working day, planted hot spots and
	// repeat addresses aside (default DefaultHistoryPerDay).
	PerDay float64
}

// Defaults of a history.
const (
	DefaultHistorySpan   = 90 * 24 * time.Hour
	DefaultHistoryPerDay = 200
	// DefaultDemoSeed is the demo's seed when none is given: every demo starts from the same
	// history.
	DefaultDemoSeed = 411500
	// SlowDept is the department the history makes slow.
	SlowDept = "county.housing"
)

// HistoryPlan says where the planted features lie.
type HistoryPlan struct {
	Start, End time.Time
	// Persistent and Intensifying are the grid codes of the two planted hot spots (the centre
	// first); IntensifyFrom is when the second starts rising.
	Persistent, Intensifying []string
	IntensifyFrom            time.Time
	SlowDept                 string
	RepeatAddresses          []string // addresses with repeat complaints all period
}

// HistoryStats counts what a History produced.
type HistoryStats struct {
	Lines        int            `json:"lines"`
	Cases        int            `json:"cases"`
	Whistles     int            `json:"whistles"`      // whistles blown
	OpenWhistles int            `json:"open_whistles"` // blown and not resolved by End
	Unlocated    int            `json:"unlocated"`     // reports with neither location nor region
	Repeats      int            `json:"repeats"`       // reports repeating an earlier one's place and category
	ByType       map[string]int `json:"by_type"`
}

type repeatSpot struct {
	g        *grid
	point    orb.Point
	address  string
	category string
	every    time.Duration // mean time between complaints
	next     time.Time
}

// histWire is a line with the fields the live stream does not send.
type histWire struct {
	wire
	CloseReason string `json:"close_reason,omitempty"`
}

type histEvent struct {
	at  time.Time
	seq uint64
	w   *histWire
	// bookkeeping for Stats: a whistle blown or resolved, a report unlocated or repeating
	blown, resolved      bool
	unlocated, repeating bool
}

type histHeap = timeHeap[*histEvent]

func (e *histEvent) when() (time.Time, uint64) { return e.at, e.seq }

// hourShape is the relative rate of new reports by local hour on a working day: quiet nights,
// a morning peak, a lunch dip, an afternoon peak, a calmer evening.
var hourShape = [24]float64{
	0.15, 0.10, 0.07, 0.06, 0.07, 0.14, 0.35, 0.80, 1.50, 2.00, 2.10, 1.80,
	1.10, 1.20, 1.70, 1.90, 1.80, 1.40, 1.00, 0.90, 0.80, 0.60, 0.40, 0.25,
}

// weekendShape is the same on days off: a later, flatter day.
var weekendShape = [24]float64{
	0.20, 0.14, 0.09, 0.07, 0.07, 0.10, 0.22, 0.45, 0.90, 1.40, 1.70, 1.70,
	1.30, 1.30, 1.50, 1.60, 1.60, 1.40, 1.20, 1.10, 1.00, 0.80, 0.50, 0.30,
}

// NewHistory returns a history for cfg.
func NewHistory(cfg HistoryConfig) *History {
	if cfg.Tree == nil {
		cfg.Tree = geo.DemoTree()
	}
	if cfg.Calendar == nil {
		cfg.Calendar = calendar.Default()
	}
	if cfg.Span <= 0 {
		cfg.Span = DefaultHistorySpan
	}
	if cfg.PerDay <= 0 {
		cfg.PerDay = DefaultHistoryPerDay
	}
	// The door's locator: much faster on real outlines.
	g := NewGenerator(Config{Tree: cfg.Tree, Seed: cfg.Seed, Speed: 1, BadRatio: -1, LateRatio: -1, DupRatio: -1,
		Locator: geo.NewIndexedLocator(cfg.Tree)})
	g.prefix = "h" + strconv.FormatUint(cfg.Seed%(36*36*36*36), 36)
	h := &History{cfg: cfg, g: g, stats: HistoryStats{ByType: map[string]int{}}}
	h.start = cfg.End.Add(-cfg.Span).Truncate(time.Hour)
	h.hour = h.start
	for i := range 24 {
		h.norm[0] += hourShape[i] / 24
		h.norm[1] += weekendShape[i] / 24
	}
	h.plant()
	return h
}

// Plan returns where the planted features lie.
func (h *History) Plan() HistoryPlan { return h.plan }

// Stats returns what the history produced so far.
func (h *History) Stats() HistoryStats {
	s := h.stats
	s.ByType = make(map[string]int, len(h.stats.ByType))
	for k, v := range h.stats.ByType {
		s.ByType[k] = v
	}
	return s
}

// plant chooses the hot spots' grids and the repeat addresses.
func (h *History) plant() {
	g := h.g
	// Candidates: the denser grids (towns), in tree order, so the choice depends on the seed.
	var dense []*grid
	for i := range g.grids {
		if len(g.grids[i].hot) > 0 {
			dense = append(dense, &g.grids[i])
		}
	}
	if len(dense) == 0 {
		for i := range g.grids {
			dense = append(dense, &g.grids[i])
		}
	}
	centre := func(gr *grid) orb.Point { return gr.bound.Center() }
	cluster := func(c *grid, k int) []*grid {
		all := make([]*grid, len(g.grids))
		for i := range g.grids {
			all[i] = &g.grids[i]
		}
		cc := centre(c)
		sort.SliceStable(all, func(a, b int) bool {
			return geo.Haversine(centre(all[a]), cc) < geo.Haversine(centre(all[b]), cc)
		})
		return all[:min(k, len(all))]
	}
	size := 5
	if len(g.grids) < 60 {
		size = 2 // a small county: a hot spot of a few grids would be a fifth of it
	}
	p := dense[g.rng.IntN(len(dense))]
	h.hots = cluster(p, size)
	// The intensifying one far from the first: the densest candidate at least a third of the
	// tree's extent away, or the farthest.
	ext := geo.Haversine(h.cfg.Tree.Root.Bound.Min, h.cfg.Tree.Root.Bound.Max)
	var q *grid
	far := 0.0
	for _, i := range g.rng.Perm(len(dense)) {
		d := geo.Haversine(centre(dense[i]), centre(p))
		if d > ext/3 {
			q = dense[i]
			break
		}
		if d > far {
			q, far = dense[i], d
		}
	}
	h.rises = cluster(q, size)
	for _, gr := range h.hots {
		h.plan.Persistent = append(h.plan.Persistent, gr.code)
	}
	for _, gr := range h.rises {
		h.plan.Intensifying = append(h.plan.Intensifying, gr.code)
	}
	// Their extra rates, from the background of their grids: clearly above it, yet a small
	// share of the city's reports (a small county has few grids, each busy).
	bg := func(gs []*grid) float64 {
		w := 0.0
		for _, gr := range gs {
			w += gr.weight
		}
		return h.cfg.PerDay * w / g.total / float64(len(gs))
	}
	share := func(f float64, gs []*grid) float64 { return f * h.cfg.PerDay / float64(len(gs)) }
	// At least 7 a day: over the last 7 days the intensifying cluster, at its peak, widens the
	// spread the persistent one is judged against, and at 6 the persistent one came out 95 % hot
	// in fewer than 3 of its 5 grids at some hours (dashboard.TestDemoHistoryHotspots).
	h.hotRate = min(max(7, 2.5*bg(h.hots)), share(0.2, h.hots))
	h.riseTo = min(max(12, 5*bg(h.rises)), share(0.3, h.rises))
	h.riseFrom = min(max(4, bg(h.rises)), h.riseTo/3)
	h.plan.Start, h.plan.End = h.start, h.cfg.End
	h.plan.IntensifyFrom = h.cfg.End.Add(-14 * 24 * time.Hour)
	h.plan.SlowDept = SlowDept
	// Repeat addresses: a complaint every few days about the same thing at the same door.
	cats := []string{"environment", "cityorder", "environment", "dispute", "livelihood", "safety"}
	for i, cat := range cats {
		gr := dense[g.rng.IntN(len(dense))]
		pt := g.pointIn(gr)
		if pt == (orb.Point{}) {
			continue
		}
		s := repeatSpot{g: gr, point: pt, address: g.address(gr), category: cat,
			every: time.Duration(2+0.6*float64(i)) * 24 * time.Hour}
		s.next = h.start.Add(time.Duration(g.rng.Float64() * float64(s.every)))
		h.spots = append(h.spots, s)
		h.plan.RepeatAddresses = append(h.plan.RepeatAddresses, s.address)
	}
}

// dayFactor is the relative volume of a local day: the weekly rhythm, public holidays low.
func (h *History) dayFactor(t time.Time) (float64, bool) {
	d := h.cfg.Calendar.DayOf(t)
	wd := t.In(h.cfg.Calendar.Location()).Weekday()
	switch {
	case !d.Workday && d.Name != "": // a public holiday
		return 0.5, false
	case !d.Workday:
		if wd == time.Sunday {
			return 0.68, false
		}
		return 0.75, false
	case d.MakeUp:
		return 0.95, true
	}
	return [7]float64{0.7, 1.15, 1.05, 1.02, 1.0, 0.96, 0.75}[wd], true
}

// rate is the mean number of background reports in the hour starting at t.
func (h *History) rate(t time.Time) float64 {
	f, work := h.dayFactor(t)
	hr := t.In(h.cfg.Calendar.Location()).Hour()
	if !work {
		return h.cfg.PerDay / 24 * f * weekendShape[hr] / h.norm[1]
	}
	return h.cfg.PerDay / 24 * f * hourShape[hr] / h.norm[0]
}

// Next returns up to max lines (NDJSON, without newline) of the history up to End, in
// event-time order; none once it is all sent.
func (h *History) Next(max int) [][]byte { return h.NextUntil(h.cfg.End, max) }

// NextUntil returns up to max lines of events up to until, in event-time order: after End, the
// history goes on (the steps of its open cases, new cases at the same rhythm), so that it can
// be sent live as time passes. The lines do not depend on how the calls are split.
func (h *History) NextUntil(until time.Time, max int) [][]byte {
	var out [][]byte
	for len(out) < max {
		// Hours are generated as the events need them: an hour's events come at or after its
		// start, so once the heap's top is before the next hour to generate, no hour not yet
		// generated holds an earlier event and the top is the next event. Memory holds the
		// cases still running, not the whole history (a year at 4,000 a day: 10 M events).
		if !h.hour.After(until) && (len(h.pend) == 0 || !h.pend[0].at.Before(h.hour)) {
			h.genHour(h.hour)
			h.hour = h.hour.Add(time.Hour)
			continue
		}
		if len(h.pend) == 0 || h.pend[0].at.After(until) {
			break
		}
		out = append(out, h.line(heap.Pop(&h.pend).(*histEvent)))
	}
	return out
}

// Bodies calls fn with NDJSON bodies of at most max lines each until the history is done or
// fn fails.
func (h *History) Bodies(max int, fn func(body []byte, lines int) error) error {
	for {
		lines := h.Next(max)
		if len(lines) == 0 {
			return nil
		}
		h.buf.Reset()
		for _, l := range lines {
			h.buf.Write(l)
			h.buf.WriteByte('\n')
		}
		if err := fn(h.buf.Bytes(), len(lines)); err != nil {
			return err
		}
	}
}

func (h *History) line(e *histEvent) []byte {
	h.g.nEvent++
	e.w.ID = h.g.prefix + "-" + strconv.FormatUint(h.g.nEvent, 36)
	e.w.At = fmtTime(e.at)
	h.stats.Lines++
	h.stats.ByType[string(e.w.Type)]++
	switch {
	case e.w.Type == event.CaseReported:
		h.stats.Cases++
		if e.unlocated {
			h.stats.Unlocated++
		}
		if e.repeating {
			h.stats.Repeats++
		}
	case e.blown:
		h.stats.Whistles++
		h.stats.OpenWhistles++
	case e.resolved:
		h.stats.OpenWhistles--
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e.w); err != nil {
		panic(err) // plain strings and numbers only
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}

// genHour generates the cases first reported in the hour starting at t.
func (h *History) genHour(t time.Time) {
	g := h.g
	type rep struct {
		at   time.Time
		kind int // 0 background, 1 persistent, 2 intensifying, 3 repeat address
		spot int
	}
	var reps []rep
	lam := h.rate(t)
	for n := poissonN(g, lam); n > 0; n-- {
		reps = append(reps, rep{at: t.Add(time.Duration(g.rng.Float64() * float64(time.Hour)))})
	}
	// Planted hot spots: extra reports per grid and day, with the same rhythm.
	per := lam / h.cfg.PerDay // this hour's share of an ordinary working day
	extra := func(kind int, perGridDay float64, n int) {
		for k := poissonN(g, perGridDay*per*float64(n)); k > 0; k-- {
			reps = append(reps, rep{at: t.Add(time.Duration(g.rng.Float64() * float64(time.Hour))), kind: kind})
		}
	}
	extra(1, h.hotRate, len(h.hots))
	rise := h.riseFrom
	if from := h.plan.IntensifyFrom; t.After(from) {
		f := min(1, float64(t.Sub(from))/float64(h.cfg.End.Sub(from))) // 0 → 1 over the last two weeks
		rise += (h.riseTo - h.riseFrom) * f
	}
	extra(2, rise, len(h.rises))
	for i := range h.spots {
		s := &h.spots[i]
		for s.next.Before(t.Add(time.Hour)) {
			if !s.next.Before(t) {
				reps = append(reps, rep{at: s.next, kind: 3, spot: i})
			}
			// The next one after a jittered interval.
			s.next = s.next.Add(time.Duration((0.5 + g.rng.Float64()) * float64(s.every)))
		}
	}
	sort.SliceStable(reps, func(a, b int) bool { return reps[a].at.Before(reps[b].at) })
	for _, r := range reps {
		switch r.kind {
		case 1:
			h.newCase(r.at, h.hots[g.rng.IntN(len(h.hots))], nil)
		case 2:
			h.newCase(r.at, h.rises[g.rng.IntN(len(h.rises))], nil)
		case 3:
			h.newCase(r.at, nil, &h.spots[r.spot])
		default:
			h.newCase(r.at, nil, nil)
		}
	}
}

// poissonN draws a Poisson count with mean lam (Knuth for small means, normal above).
func poissonN(g *Generator, lam float64) int {
	if lam <= 0 {
		return 0
	}
	if lam > 30 {
		return max(0, int(math.Round(lam+math.Sqrt(lam)*g.rng.NormFloat64())))
	}
	l, k, p := math.Exp(-lam), 0, 1.0
	for {
		p *= g.rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// hcase is a case while its lifecycle is written.
type hcase struct {
	c    caseState
	last time.Time
}

// add queues an event of the case at `at` (kept strictly after its previous event).
func (h *History) add(hc *hcase, at time.Time, w *histWire) *histEvent {
	at = at.Truncate(time.Millisecond)
	if min := hc.last.Add(time.Millisecond); !hc.last.IsZero() && at.Before(min) {
		at = min
	}
	hc.last = at
	return h.addFree(hc, at, w)
}

// addFree queues an event of the case at `at` as it is (a whistle's evaluation, whose time
// does not hold up the case's next steps).
func (h *History) addFree(hc *hcase, at time.Time, w *histWire) *histEvent {
	w.CaseID = hc.c.id
	h.seq++
	e := &histEvent{at: at.Truncate(time.Millisecond), seq: h.seq, w: w}
	heap.Push(&h.pend, e)
	return e
}

// office moves a department's action that falls in the night (22:00-07:30) to the next
// morning, most of the time: departments work by day.
func (h *History) office(t time.Time) time.Time {
	loc := h.cfg.Calendar.Location()
	lt := t.In(loc)
	hm := lt.Hour()*60 + lt.Minute()
	if (hm >= 22*60 || hm < 7*60+30) && h.g.chance(0.8) {
		day := lt
		if hm >= 22*60 {
			day = day.AddDate(0, 0, 1)
		}
		y, m, d := day.Date()
		return time.Date(y, m, d, 8, 0, 0, 0, loc).Add(time.Duration(h.g.rng.Float64() * float64(3*time.Hour)))
	}
	return t
}

// newCase writes the lifecycle of a case reported at `at`: in grid gr (nil: chosen by weight),
// or at a repeat address.
func (h *History) newCase(at time.Time, gr *grid, spot *repeatSpot) {
	g := h.g
	h.nCase++
	hc := &hcase{c: caseState{id: fmt.Sprintf("%s-C%06d", g.prefix, h.nCase)}}
	c := &hc.c
	c.source = g.weighted(sources, sourceWeights)
	w := &histWire{wire: wire{Type: event.CaseReported}}
	unlocated, repeating := false, spot != nil
	switch {
	case spot != nil:
		c.category, c.grid, c.address = spot.category, spot.g, spot.address
		c.point = g.near(spot.g, spot.point, 0.00008)
		if c.source == "sensor" || c.source == "police110" {
			c.source = "hotline12345"
		}
	case gr != nil:
		c.category = g.weighted(categories, catWeights[c.source])
		c.grid = gr
		c.point = g.pointIn(gr)
	default:
		c.category = g.weighted(categories, catWeights[c.source])
		c.grid = g.pickGrid()
		c.point = g.pointIn(c.grid)
		if len(g.recent) > 0 && g.chance(0.04) {
			// A repeat of a recent case: same category and address, a few metres away.
			if r := g.recent[g.rng.IntN(len(g.recent))]; r.grid != nil && r.point != (orb.Point{}) {
				repeating = true
				c.category, c.grid, c.address = r.category, r.grid, r.address
				c.point = g.near(r.grid, r.point, 0.0001)
			}
		}
		unlocated = c.source != "sensor" && g.chance(0.01)
	}
	c.priority = g.weighted([]string{"normal", "urgent", "critical"}, []float64{86, 11, 3})
	w.Source, w.Category = c.source, c.category
	if c.priority != "normal" || g.chance(0.5) {
		w.Priority = c.priority
	}
	if c.address == "" {
		c.address = g.address(c.grid)
	}
	switch {
	case unlocated:
		// A backfilled record without a place (未定位).
		c.point = orb.Point{}
	case c.point == (orb.Point{}) || g.chance(0.02):
		w.Region = c.grid.code
		c.point = orb.Point{}
	default:
		w.Location = g.location(c)
	}
	switch c.source {
	case "hotline12345":
		w.Address = c.address
		w.Reporter = &event.Reporter{Name: g.pick(surnames) + g.pick([]string{"某", "某某"}), Phone: g.phone()}
		w.Summary = g.pick(summaries[c.category])
	case "app", "grid":
		if g.chance(0.7) || spot != nil {
			w.Address = c.address
		}
		w.Summary = g.pick(summaries[c.category])
	}
	rep := h.add(hc, at, w)
	rep.unlocated, rep.repeating = unlocated, repeating
	if !unlocated && c.point != (orb.Point{}) {
		if len(g.recent) < 256 {
			g.recent = append(g.recent, c)
		} else {
			g.recent[h.nCase%256] = c
		}
	}
	h.lifecycle(hc, hc.last)
}

// lifecycle writes the steps after the report at t, up to the closing.
func (h *History) lifecycle(hc *hcase, t time.Time) {
	g := h.g
	c := &hc.c
	hr := time.Hour
	day := 24 * hr
	if g.chance(0.02) {
		// Marked a duplicate of another report, then closed as such.
		t = h.add(hc, t.Add(g.uniform(10*time.Minute, 3*hr)), &histWire{wire: wire{Type: event.CaseDuplicate, Summary: "重复诉求"}}).at
		h.add(hc, t.Add(g.uniform(10*time.Minute, 2*hr)), &histWire{wire: wire{Type: event.CaseClosed}, CloseReason: "duplicate"})
		return
	}
	d := g.uniform(5*time.Minute, hr)
	switch {
	case c.source == "hotline12345":
		d = g.uniform(2*time.Minute, 20*time.Minute)
	case c.priority == "critical" || c.source == "sensor":
		d = g.uniform(time.Minute, 10*time.Minute)
	}
	t = h.add(hc, t.Add(d), &histWire{wire: wire{Type: event.CaseAccepted}}).at
	d = g.uniform(5*time.Minute, 2*hr)
	if c.priority == "critical" {
		d = g.uniform(time.Minute, 15*time.Minute)
	}
	t = t.Add(d)
	for {
		t = h.dispatch(hc, t)
		// Closed: reopened now and then (mostly after an unsatisfied callback).
		p := 0.02
		if c.sat == "unsatisfied" {
			p = 0.35
		}
		if c.reopens >= 2 || !g.chance(p) {
			return
		}
		c.reopens++
		t = h.add(hc, t.Add(g.uniform(2*hr, 2*day)), &histWire{wire: wire{Type: event.CaseReopened, Summary: "群众回访不满意，重新办理"}}).at
		c.tried = c.tried[:0]
		t = t.Add(g.uniform(10*time.Minute, 2*hr))
	}
}

// dispatch writes a dispatch at t and what follows up to the closing, and returns the
// closing's time.
func (h *History) dispatch(hc *hcase, t time.Time) time.Time {
	g := h.g
	c := &hc.c
	hr := time.Hour
	day := 24 * hr
	for {
		c.dept = g.deptFor(c)
		c.tried = append(c.tried, c.dept)
		slow := c.dept == SlowDept
		days := 2 + g.rng.IntN(4) // working days
		switch c.priority {
		case "urgent":
			days = 1 + g.rng.IntN(2)
		case "critical":
			days = 1
		}
		w := &histWire{wire: wire{Type: event.CaseDispatched, Dept: c.dept}}
		e := h.add(hc, t, w)
		t = e.at
		deadline := h.cfg.Calendar.AddWorkingDays(t, days)
		if c.priority == "critical" {
			deadline = t.Add(day)
		}
		w.Deadline = fmtTime(deadline)
		if c.returns < 2 && g.chance(0.07) {
			// 退回: not this department's business; dispatched again.
			c.returns++
			t = h.add(hc, h.office(t.Add(g.uniform(30*time.Minute, day))), &histWire{wire: wire{Type: event.CaseReturned, Dept: c.dept, Summary: returnWhy}}).at
			t = t.Add(g.uniform(10*time.Minute, 3*hr))
			continue
		}
		var sign time.Duration
		switch {
		case slow && g.chance(0.6):
			sign = g.uniform(2*hr, 30*hr)
		case g.chance(0.88):
			sign = g.uniform(5*time.Minute, 2*hr)
		default:
			sign = g.uniform(2*hr, day)
		}
		t = h.add(hc, h.office(t.Add(sign)), &histWire{wire: wire{Type: event.CaseSigned, Dept: c.dept}}).at
		// A whistle now and then on a signed case the township cannot settle alone.
		p := 0.025
		if c.priority != "normal" {
			p = 0.09
		}
		if c.whistle == nil && c.reopens == 0 && g.chance(p) {
			t = h.whistle(hc, t.Add(g.uniform(hr, day)))
		}
		// Resolution: most before the deadline; the slow department much later.
		span := deadline.Sub(t)
		if span < hr {
			span = hr
		}
		var res time.Duration
		switch {
		case c.priority == "critical":
			res = g.uniform(hr, 12*hr)
		case slow && g.chance(0.45):
			res = time.Duration(float64(span) * (0.9 + g.rng.Float64()*1.2)) // about half overdue
		case slow:
			res = time.Duration(float64(span) * (0.3 + 0.6*g.rng.Float64()))
		case g.chance(0.1):
			res = time.Duration(float64(span) * (1 + 0.5*g.rng.Float64())) // overdue
		default:
			res = time.Duration(float64(span) * (0.05 + 0.85*g.rng.Float64()*g.rng.Float64()))
		}
		rw := &histWire{wire: wire{Type: event.CaseResolved, Dept: c.dept}}
		if g.chance(0.3) {
			rw.Summary = "已现场处置完毕"
		}
		t = h.add(hc, h.office(t.Add(res)), rw).at
		// Callback and closing.
		cw := &histWire{wire: wire{Type: event.CaseClosed}}
		if g.chance(0.78) {
			c.sat = g.weighted([]string{"satisfied", "basically", "unsatisfied"}, []float64{70, 19, 11})
			if slow {
				c.sat = g.weighted([]string{"satisfied", "basically", "unsatisfied"}, []float64{52, 26, 22})
			}
			cw.Satisfaction = c.sat
		} else {
			c.sat = ""
		}
		if g.chance(0.03) {
			cw.CloseReason, cw.Summary = "not_fixed", notFixed
		}
		return h.add(hc, h.office(t.Add(g.uniform(hr, 2*day))), cw).at
	}
}

// whistle writes a whistle blown on c at t: the departments' answers, its resolution and the
// evaluations. It returns when the case may go on (after the whistle's resolution).
func (h *History) whistle(hc *hcase, t time.Time) time.Time {
	g := h.g
	c := &hc.c
	hr := time.Hour
	day := 24 * hr
	h.nWhis++
	ws := &whistleState{id: fmt.Sprintf("%s-W%05d", g.prefix, h.nWhis), late: map[string]int{}}
	ws.kind = g.weighted([]string{"advance", "tough", "emergency"}, []float64{65, 27, 8})
	if c.priority == "critical" && g.chance(0.5) {
		ws.kind = "emergency"
	}
	ws.depts = []string{c.dept}
	for n := g.rng.IntN(3); n > 0; n-- {
		if d := g.pick(allDepts); !contains(ws.depts, d) {
			ws.depts = append(ws.depts, d)
		}
	}
	c.whistle = ws
	be := h.add(hc, t, &histWire{wire: wire{Type: event.WhistleBlown, WhistleID: ws.id, WhistleKind: ws.kind, Depts: ws.depts,
		Summary: "镇街协调多次未果，吹哨请求县直部门报到"}})
	be.blown = true
	blown := be.at
	// Each department's stages, from the blowing; stages of several departments interleave, so
	// their events are written in time order afterwards.
	type ans struct {
		at    time.Time
		dept  string
		stage int
	}
	var all []ans
	lastArrive := blown
	for _, d := range ws.depts {
		at := blown
		for s := 0; s < 3; s++ {
			delay := g.answerDelay(ws, d, s)
			if d == SlowDept && g.chance(0.4) {
				delay = delay * 3 / 2
			}
			at = at.Add(delay)
			if ws.kind != "emergency" && s > 0 {
				at = h.office(at)
			}
			all = append(all, ans{at, d, s})
		}
		if at.After(lastArrive) {
			lastArrive = at
		}
	}
	sort.SliceStable(all, func(a, b int) bool { return all[a].at.Before(all[b].at) })
	for _, a := range all {
		h.add(hc, a.at, &histWire{wire: wire{Type: event.WhistleAnswered, WhistleID: ws.id, Dept: a.dept, Stage: stages[a.stage]}})
	}
	d := g.uniform(2*hr, 3*day)
	if ws.kind == "emergency" {
		d = g.uniform(hr, 12*hr)
	}
	re := h.add(hc, h.office(lastArrive.Add(d)), &histWire{wire: wire{Type: event.WhistleResolved, WhistleID: ws.id}})
	re.resolved = true
	resolved := re.at
	for _, dept := range ws.depts {
		score := 5 - ws.late[dept] + g.rng.IntN(3) - 1
		if dept == SlowDept {
			score--
		}
		score = max(1, min(5, score))
		h.addFree(hc, h.office(resolved.Add(g.uniform(hr, 2*day))), &histWire{wire: wire{Type: event.WhistleEvaluated, WhistleID: ws.id, Dept: dept, Score: score}})
	}
	return resolved.Add(g.uniform(30*time.Minute, day))
}
