package dashboard

import (
	"context"
	"log/slog"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	json "github.com/goccy/go-json"

	"zhili/bus"
	"zhili/clock"
	"zhili/errs"
	"zhili/event"
	"zhili/geo"
	"zhili/governance"
	"zhili/internal/intern"
	"zhili/roster"
	"zhili/update"
)

// Model is the read model of one server process: the rollup counters and the recent case feed,
// mirrored from the aggregators' Updates. Topic sources read it.
type Model struct {
	tree *geo.Tree
	loc  *time.Location
	clk  clock.Clock
	log  *slog.Logger
	crs  string // display CRS of points served to screens

	mu       sync.RWMutex
	counts   map[ckey]int64 // per category, and with Category "" the total over categories; summed over sources
	keys     keyNames       // the names of the counters' regions and categories (ckey)
	srcs     map[string]*source
	names    intern.Table        // names of what the model keeps from decoded Updates (model_strings.go)
	onGap    func(source string) // asks the source for a resync
	onChange func()              // called after every Update applied (the hub's Poke)
	cats     []string            // categories seen, sorted
	depts    []string            // departments seen in counters (Key.Region "@<dept>"), sorted
	feed     []feedItem          // ring of recent items, oldest first
	feedCap  int
	feedSeq  uint64 // seq of the newest item in feed
	lastDay  int32
	hot      *Hotspots // fed with live items, when set
	updates  uint64
	resets   uint64
	lastData time.Time
	roster   *roster.Live // the roster in force (the people layer); nil: none
	dutyVer  uint64       // rises with every duty state applied

	pmu    sync.Mutex // guards people
	people *people    // the people layer's counts, rebuilt when the roster, day or duty change
}

// source is what one aggregator contributed: its counters (to subtract them on its next reset)
// and its position in its sequence.
type source struct {
	part      int
	epoch     uint64
	seq       uint64
	reset     bool   // a reset was applied
	firstCP   uint64 // checkpoint of the first reset applied: live items are above it
	counts    map[ckey]int64
	whistles  map[string]update.Whistle // the source's whistles on the board, by id
	duty      map[string]update.Duty    // the source's grid staff duty states, by staff id
	askedAt   time.Time                 // last resync request
	gaps, dup uint64
}

type feedItem struct {
	seq  uint64
	item update.Item
}

// ModelConfig configures a Model.
type ModelConfig struct {
	Tree *geo.Tree
	Loc  *time.Location // the deployment zone: "today" (nil: UTC)
	// DisplayCRS is the coordinate system of the points screens get (wgs84, gcj02, bd09; ""
	// = wgs84). Updates carry WGS-84; the model converts each point once, where it leaves for a
	// screen (the feed and the whistle board).
	DisplayCRS string
	Categories []string // pre-seeds the category list, so a new day shows zeros rather than missing keys
	Clock      clock.Clock
	Logger     *slog.Logger
	// Roster is the roster in force, for the overview's people layer (grid staffing, party
	// organisation); nil: the layer counts an empty roster.
	Roster *roster.Live
}

// NewModel returns an empty model.
func NewModel(cfg ModelConfig) *Model {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Loc == nil {
		cfg.Loc = time.UTC
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	m := &Model{tree: cfg.Tree, loc: cfg.Loc, clk: cfg.Clock, log: cfg.Logger, crs: cfg.DisplayCRS,
		counts: map[ckey]int64{}, srcs: map[string]*source{}, feedCap: 20000, roster: cfg.Roster}
	m.cats = append(m.cats, cfg.Categories...)
	slices.Sort(m.cats)
	return m
}

// display returns p (WGS-84) in the display CRS, or nil.
func (m *Model) display(p *[2]float64) *[2]float64 {
	if p == nil || m.crs == "" || m.crs == event.WGS84 {
		return p
	}
	x, y := geo.FromWGS84(m.crs, p[0], p[1])
	// Six decimals (~0.1 m) is finer than any source; it keeps frames small.
	return &[2]float64{math.Round(x*1e6) / 1e6, math.Round(y*1e6) / 1e6}
}

// SetHotspots makes the model feed live items to h. Call before Run/Consume.
func (m *Model) SetHotspots(h *Hotspots) { m.hot = h }

// Run applies the Updates published on b until ctx is done.
func (m *Model) Run(ctx context.Context, b bus.Bus) error {
	sub, err := b.Subscribe(ctx, update.UpdatesChannel)
	if err != nil {
		return err
	}
	return m.Consume(ctx, sub)
}

// Consume applies the Updates of an existing subscription until ctx is done or it closes.
func (m *Model) Consume(ctx context.Context, sub bus.Subscription) error {
	defer sub.Close()
	for {
		select {
		case p, ok := <-sub.C():
			if !ok {
				return nil
			}
			var u update.Update
			if err := json.Unmarshal(p, &u); err != nil {
				m.log.Error("dashboard: bad update", "err", err)
				continue
			}
			m.Apply(&u)
		case <-ctx.Done():
			return nil
		}
	}
}

// OnGap sets the function called (at most once a second per source, without the model's lock)
// when a source's sequence has a gap or a delta arrives before its first reset: it should ask
// that source for a resync. Call before Run/Consume.
func (m *Model) OnGap(fn func(source string)) { m.onGap = fn }

// OnChange sets the function called (without the model's lock) after every Update applied:
// the hub's Poke, so that screens get the change at once. Call before Run/Consume.
func (m *Model) OnChange(fn func()) { m.onChange = fn }

// Apply mirrors one Update.
func (m *Model) Apply(u *update.Update) {
	if ask := m.apply(u); ask != "" && m.onGap != nil {
		m.onGap(ask)
	}
	if m.onChange != nil {
		m.onChange()
	}
}

func (m *Model) apply(u *update.Update) (askResync string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.srcs[u.Source]
	if s == nil {
		u.Source = strings.Clone(u.Source) // a map key kept: detached from the payload (package intern)
		s = &source{part: u.Part, counts: map[ckey]int64{}, whistles: map[string]update.Whistle{}, duty: map[string]update.Duty{}}
		m.srcs[u.Source] = s
	}
	now := m.clk.Now()
	if !u.Reset && u.Seq != 0 {
		// Sequenced delta: apply only the next one of the current epoch.
		switch {
		case s.reset && u.Epoch == s.epoch && u.Seq <= s.seq:
			s.dup++
			return "" // already covered by a reset
		case !s.reset || u.Epoch != s.epoch || u.Seq != s.seq+1:
			s.gaps++
			if now.Sub(s.askedAt) >= time.Second {
				s.askedAt = now
				return sourceName(u.Source)
			}
			return ""
		}
		s.seq = u.Seq
	}
	m.updates++
	m.lastData = now
	firstReset := u.Reset && !s.reset
	if u.Reset {
		m.resets++
		for k, n := range s.counts {
			m.add(k, -n)
		}
		clear(s.counts)
		clear(s.whistles)
		if len(s.duty) > 0 {
			clear(s.duty)
			m.dutyVer++
		}
		s.reset, s.epoch, s.seq, s.part = true, u.Epoch, u.Seq, u.Part
		if firstReset {
			s.firstCP = u.Checkpoint
		}
	}
	for _, c := range u.Counters {
		k := m.keys.key(&m.names, c.Key)
		s.counts[k] += c.N
		m.add(k, c.N)
		if c.Category != "" {
			if i, found := slices.BinarySearch(m.cats, c.Category); !found {
				m.cats = slices.Insert(m.cats, i, m.keys.cat.names[k.cat])
			}
		}
		if dept, ok := strings.CutPrefix(c.Region, update.DeptPrefix); ok {
			if i, found := slices.BinarySearch(m.depts, dept); !found {
				m.depts = slices.Insert(m.depts, i, m.keys.region.names[k.region][len(update.DeptPrefix):])
			}
		}
	}
	for _, w := range u.Whistles {
		detachWhistle(&m.names, &w)
		s.whistles[w.ID] = w
	}
	for _, d := range u.Duty {
		if d.Grid == "" {
			delete(s.duty, d.Staff) // every record of the staff member was superseded
		} else {
			d = detachDuty(&m.names, d)
			s.duty[d.Staff] = d
		}
		m.dutyVer++
	}
	if u.Reset && !firstReset {
		return "" // screens already showed these items
	}
	for i := range u.Items {
		detachItem(&m.names, &u.Items[i])
	}
	if !u.Reset && m.hot != nil {
		m.hot.Observe(u.Items)
	}
	for _, it := range u.Items {
		m.feedSeq++
		if len(m.feed) == m.feedCap {
			copy(m.feed, m.feed[m.feedCap/2:])
			m.feed = m.feed[:len(m.feed)-m.feedCap/2]
		}
		it.Point = m.display(it.Point)
		m.feed = append(m.feed, feedItem{seq: m.feedSeq, item: it})
	}
	if today := update.DayOf(now, m.loc); today != m.lastDay {
		m.lastDay = today
		old := func(k ckey) bool { return k.day != 0 && k.day < today-2 }
		maps.DeleteFunc(m.counts, func(k ckey, _ int64) bool { return old(k) })
		for _, s := range m.srcs {
			maps.DeleteFunc(s.counts, func(k ckey, _ int64) bool { return old(k) })
		}
	}
	return ""
}

// add adds n to a counter and to its total over categories. Caller holds m.mu.
func (m *Model) add(k ckey, n int64) {
	m.counts[k] += n
	k.cat = 0 // ""
	m.counts[k] += n
}

// sourceName is the resync target of a source ("" is the embedded aggregator).
func sourceName(s string) string {
	if s == "" {
		return "*"
	}
	return s
}

// SourceStat describes one aggregator source as this model sees it.
type SourceStat struct {
	Source     string `json:"source"`
	Part       int    `json:"part"`
	Epoch      uint64 `json:"epoch"`
	Seq        uint64 `json:"seq"`
	Reset      bool   `json:"reset"`
	FirstCP    uint64 `json:"first_checkpoint"`
	Gaps       uint64 `json:"gaps"`
	Duplicates uint64 `json:"duplicates"`
}

// Sources reports every source seen, ordered by name.
func (m *Model) Sources() []SourceStat {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]SourceStat, 0, len(m.srcs))
	for name, s := range m.srcs {
		out = append(out, SourceStat{Source: name, Part: s.part, Epoch: s.epoch, Seq: s.seq, Reset: s.reset,
			FirstCP: s.firstCP, Gaps: s.gaps, Duplicates: s.dup})
	}
	slices.SortFunc(out, func(a, b SourceStat) int { return strings.Compare(a.Source, b.Source) })
	return out
}

// ResetCut maps each partition whose source sent a reset to that reset's checkpoint: a
// consistent cut of the intake log, after which the partition's events arrive live.
func (m *Model) ResetCut() map[int]uint64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := map[int]uint64{}
	for _, s := range m.srcs {
		if s.reset {
			out[s.part] = s.firstCP
		}
	}
	return out
}

// Stats reports counts of updates applied, for metrics.
func (m *Model) Stats() (updates, resets uint64, lastData time.Time) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.updates, m.resets, m.lastData
}

func (m *Model) get(region, cat string, day int32, met update.Metric) int64 {
	r, ok := m.keys.region.num[region]
	if !ok {
		return 0
	}
	c, ok := m.keys.cat.num[cat]
	if !ok {
		return 0
	}
	return m.counts[ckey{region: r, cat: c, day: day, metric: met}]
}

// responseFigures are the response rate's numerator and denominator from the day's counters:
// the dispatches decided (signed in their window, or past it; those still in their window and
// unsigned, update.MAwaitingSign, are pending, not misses) and those signed in time among them.
func responseFigures(inTime, dispatched, awaiting int64) (num, den int64) {
	den = max(0, dispatched-awaiting)
	return min(inTime, den), den
}

func ratio(num, den int64) any {
	if den <= 0 {
		return nil
	}
	return float64(num) / float64(den)
}

// region resolves a topic's region.
func (m *Model) region(code string) (*geo.Region, error) {
	r := m.tree.Get(code)
	if r == nil {
		return nil, errs.E(errs.UnknownTopic, "region", "unknown region %q", code)
	}
	return r, nil
}

// overview builds the overview data of region r for day. Caller holds m.mu (read).
func (m *Model) overview(r *geo.Region, day int32) map[string]any {
	g := func(code string, met update.Metric) int64 { return m.get(code, "", day, met) }
	cur := func(code string, met update.Metric) int64 { return m.get(code, "", 0, met) }
	totals := map[string]any{
		"new_today":      g(r.Code, update.MNew),
		"open":           cur(r.Code, update.MOpen),
		"overdue":        cur(r.Code, update.MOverdue),
		"resolved_today": g(r.Code, update.MResolved),
		"closed_today":   g(r.Code, update.MClosed),
	}
	if r.Level == 0 {
		totals["unlocated_today"] = g(r.Code, update.MUnlocated)
	}
	byCat := make(map[string]any, len(m.cats))
	for _, c := range m.cats {
		byCat[c] = m.get(r.Code, c, day, update.MNew)
	}
	children := make(map[string]any, len(r.Children))
	for _, c := range r.Children {
		children[c.Code] = map[string]any{
			"name":           c.Name,
			"new_today":      g(c.Code, update.MNew),
			"open":           cur(c.Code, update.MOpen),
			"overdue":        cur(c.Code, update.MOverdue),
			"resolved_today": g(c.Code, update.MResolved),
		}
	}
	bySource := make(map[string]any, len(update.NewBySource))
	for _, src := range update.NewBySource {
		bySource[src.Source] = g(r.Code, src.Metric)
	}
	newToday, blown := g(r.Code, update.MNew), g(r.Code, update.MWhistles)
	pp := m.peopleOn(day)
	callbacks := g(r.Code, update.MSatisfied) + g(r.Code, update.MBasically) + g(r.Code, update.MUnsatisfied)
	dispatched := g(r.Code, update.MDispatched)
	awaiting := g(r.Code, update.MAwaitingSign)
	respNum, decided := responseFigures(g(r.Code, update.MSignedInTime), dispatched, awaiting)
	return map[string]any{
		"region":      map[string]any{"code": r.Code, "name": r.Name, "level": int64(r.Level)},
		"day":         update.DayString(day),
		"totals":      totals,
		"by_category": byCat,
		"by_source":   bySource,
		// 吹哨率: whistles blown today ÷ new cases today (docs/GOVERNANCE.md, "whistle rate").
		"whistles": map[string]any{"blown_today": blown, "rate": ratio(blown, newToday)},
		"flows": map[string]any{
			"up":         g(r.Code, update.MFlowUp),
			"down":       g(r.Code, update.MFlowDown),
			"horizontal": g(r.Code, update.MFlowHorizontal),
		},
		"rates": map[string]any{
			"response":     ratio(respNum, decided),
			"resolution":   ratio(max(0, g(r.Code, update.MResolved)-g(r.Code, update.MReopened)), dispatched),
			"satisfaction": ratio(g(r.Code, update.MSatisfied)+g(r.Code, update.MBasically), callbacks),
		},
		// The rates' denominators: a screen shows a rate of fewer than min_sample cases as
		// 样本不足 with its count, not as a figure (the audits' rule; after midnight, or in a
		// township, a day's rate is often one of two or three cases).
		"rates_n": map[string]any{"response": decided, "resolution": dispatched, "satisfaction": callbacks},
		// Dispatched today, unsigned and still within the response window: left out of the
		// response rate until decided.
		"rates_pending": map[string]any{"response": awaiting},
		"min_sample":    int64(governance.DefaultMinSample),
		"children":      children,
		"depts":         m.deptRates(r, day),
		// The people layer: counts only, never a name (docs/ROSTER.md, "On the wall").
		"staffing": pp.staffingOf(r),
		"party":    pp.partyOf(r),
	}
}

// peopleOn returns the people layer's counts for day, rebuilding them when the roster, the day
// or a duty state changed. Caller holds m.mu (read).
func (m *Model) peopleOn(day int32) *people {
	ro := m.roster.Load()
	ds := update.DayString(day)
	m.pmu.Lock()
	defer m.pmu.Unlock()
	if p := m.people; p != nil && p.ro == ro && p.day == ds && p.ver == m.dutyVer {
		return p
	}
	// Each staff member's state in force over the sources: the latest by event time.
	duty := map[string]update.Duty{}
	for _, s := range m.srcs {
		for id, d := range s.duty {
			if o, ok := duty[id]; !ok || d.At.After(o.At) {
				duty[id] = d
			}
		}
	}
	m.people = buildPeople(m.tree, ro, ds, duty)
	m.people.ver = m.dutyVer
	return m.people
}

// deptRates are today's figures and rates per handling department, on the root overview only
// (department counters are kept for the whole deployment).
func (m *Model) deptRates(r *geo.Region, day int32) map[string]any {
	out := map[string]any{}
	if r.Level != 0 {
		return out
	}
	for _, d := range m.depts {
		code := update.DeptPrefix + d
		g := func(met update.Metric) int64 { return m.get(code, "", day, met) }
		disp := g(update.MDispatched)
		callbacks := g(update.MSatisfied) + g(update.MBasically) + g(update.MUnsatisfied)
		if disp == 0 && callbacks == 0 && g(update.MResolved) == 0 {
			continue
		}
		awaiting := g(update.MAwaitingSign)
		respNum, decided := responseFigures(g(update.MSignedInTime), disp, awaiting)
		out[d] = map[string]any{
			"dispatched":    disp,
			"awaiting_sign": awaiting,
			"resolved":      g(update.MResolved),
			"rates": map[string]any{
				"response":     ratio(respNum, decided),
				"resolution":   ratio(max(0, g(update.MResolved)-g(update.MReopened)), disp),
				"satisfaction": ratio(g(update.MSatisfied)+g(update.MBasically), callbacks),
			},
		}
	}
	return out
}

// sameValue compares two leaf values of topic data; lists compare element by element.
func sameValue(a, b any) bool {
	switch a.(type) {
	case []any, []string, []int64, []float64:
		return reflect.DeepEqual(a, b)
	}
	switch b.(type) {
	case []any, []string, []int64, []float64:
		return false
	}
	return a == b
}

// mergePatch returns the RFC 7386 merge patch that turns old into cur, or nil when equal.
func mergePatch(old, cur map[string]any) map[string]any {
	var p map[string]any
	set := func(k string, v any) {
		if p == nil {
			p = map[string]any{}
		}
		p[k] = v
	}
	for k, nv := range cur {
		ov, had := old[k]
		nm, nIsMap := nv.(map[string]any)
		om, oIsMap := ov.(map[string]any)
		switch {
		case !had:
			set(k, nv)
		case nIsMap && oIsMap:
			if sub := mergePatch(om, nm); sub != nil {
				set(k, sub)
			}
		case nIsMap != oIsMap || !sameValue(nv, ov):
			set(k, nv)
		}
	}
	for k := range old {
		if _, ok := cur[k]; !ok {
			set(k, nil)
		}
	}
	return p
}

// OverviewSource serves overview:<region> topics.
type OverviewSource struct{ M *Model }

func (s OverviewSource) Open(t Topic) (TopicState, error) {
	if t.Window != "" {
		return nil, errs.E(errs.Invalid, "topic.window", "overview topics take no window")
	}
	r, err := s.M.region(t.Region)
	if err != nil {
		return nil, err
	}
	st := &overviewState{m: s.M, r: r}
	st.Advance()
	return st, nil
}

type overviewState struct {
	m    *Model
	r    *geo.Region
	data map[string]any
}

func (s *overviewState) Snapshot() any { return s.data }

func (s *overviewState) Advance() (any, bool) {
	day := update.DayOf(s.m.clk.Now(), s.m.loc)
	s.m.mu.RLock()
	cur := s.m.overview(s.r, day)
	s.m.mu.RUnlock()
	p := mergePatch(s.data, cur)
	s.data = cur
	if p == nil {
		return nil, false
	}
	return p, true
}

func (s *overviewState) Close() {}

// CasesSource serves cases:<region> topics: the live feed of case events in a subtree.
type CasesSource struct {
	M    *Model
	Keep int // items in a snapshot (default 200)
}

func (s CasesSource) Open(t Topic) (TopicState, error) {
	if t.Window != "" {
		return nil, errs.E(errs.Invalid, "topic.window", "cases topics take no window")
	}
	r, err := s.M.region(t.Region)
	if err != nil {
		return nil, err
	}
	keep := s.Keep
	if keep <= 0 {
		keep = 200
	}
	st := &casesState{m: s.M, code: r.Code, all: r.Level == 0, keep: keep}
	// Start from the recent feed so the first snapshot is not empty.
	s.M.mu.RLock()
	for _, f := range s.M.feed {
		if st.match(&f.item) {
			st.ring = append(st.ring, f.item)
		}
	}
	st.cursor = s.M.feedSeq
	s.M.mu.RUnlock()
	st.trim()
	return st, nil
}

type casesState struct {
	m      *Model
	code   string
	all    bool
	keep   int
	cursor uint64
	ring   []update.Item
}

func (s *casesState) match(it *update.Item) bool {
	return s.all || slices.Contains(it.Region, s.code)
}

func (s *casesState) trim() {
	if len(s.ring) > s.keep {
		s.ring = append(s.ring[:0:0], s.ring[len(s.ring)-s.keep:]...)
	}
}

func (s *casesState) Snapshot() any {
	r := s.ring
	if len(r) > s.keep {
		r = r[len(r)-s.keep:]
	}
	if r == nil {
		r = []update.Item{}
	}
	return map[string]any{"events": r}
}

func (s *casesState) Advance() (any, bool) {
	s.m.mu.RLock()
	feed := s.m.feed
	var out []update.Item
	// Items are in seq order; find the first newer than the cursor.
	i, _ := slices.BinarySearchFunc(feed, s.cursor+1, func(f feedItem, seq uint64) int {
		switch {
		case f.seq < seq:
			return -1
		case f.seq > seq:
			return 1
		}
		return 0
	})
	for ; i < len(feed); i++ {
		if s.match(&feed[i].item) {
			out = append(out, feed[i].item)
		}
	}
	s.cursor = s.m.feedSeq
	s.m.mu.RUnlock()
	if len(out) == 0 {
		return nil, false
	}
	s.ring = append(s.ring, out...)
	if len(s.ring) > 2*s.keep {
		s.trim()
	}
	return map[string]any{"events": out}, true
}

func (s *casesState) Close() {}
