package dashboard

import (
	"context"
	json "github.com/goccy/go-json"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"zhili/bus"
	"zhili/errs"
	"zhili/geo"
	"zhili/internal/clock"
)

// Model is the read model of one server process: the rollup counters and the recent case feed,
// mirrored from the aggregators' Updates. Topic sources read it.
type Model struct {
	tree *geo.Tree
	loc  *time.Location
	clk  clock.Clock
	log  *slog.Logger

	mu       sync.RWMutex
	counts   map[Key]int64 // per category, and with Category "" the total over categories; summed over sources
	srcs     map[string]*source
	onGap    func(source string) // asks the source for a resync
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
}

// source is what one aggregator contributed: its counters (to subtract them on its next reset)
// and its position in its sequence.
type source struct {
	part      int
	epoch     uint64
	seq       uint64
	reset     bool   // a reset was applied
	firstCP   uint64 // checkpoint of the first reset applied: live items are above it
	counts    map[Key]int64
	whistles  map[string]Whistle // the source's whistles on the board, by id
	askedAt   time.Time          // last resync request
	gaps, dup uint64
}

type feedItem struct {
	seq  uint64
	item Item
}

// NewModel returns an empty model. categories pre-seeds the category list (so a new day shows
// zeros rather than missing keys).
func NewModel(tree *geo.Tree, loc *time.Location, clk clock.Clock, categories []string, log *slog.Logger) *Model {
	if log == nil {
		log = slog.Default()
	}
	m := &Model{tree: tree, loc: loc, clk: clk, log: log, counts: map[Key]int64{}, srcs: map[string]*source{}, feedCap: 20000}
	m.cats = append(m.cats, categories...)
	slices.Sort(m.cats)
	return m
}

// SetHotspots makes the model feed live items to h. Call before Run/Consume.
func (m *Model) SetHotspots(h *Hotspots) { m.hot = h }

// Run applies the Updates published on b until ctx is done.
func (m *Model) Run(ctx context.Context, b bus.Bus) error {
	sub, err := b.Subscribe(ctx, UpdatesChannel)
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
			var u Update
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

// Apply mirrors one Update.
func (m *Model) Apply(u *Update) {
	if ask := m.apply(u); ask != "" && m.onGap != nil {
		m.onGap(ask)
	}
}

func (m *Model) apply(u *Update) (askResync string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.srcs[u.Source]
	if s == nil {
		s = &source{part: u.Part, counts: map[Key]int64{}, whistles: map[string]Whistle{}}
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
		s.reset, s.epoch, s.seq, s.part = true, u.Epoch, u.Seq, u.Part
		if firstReset {
			s.firstCP = u.Checkpoint
		}
	}
	for _, c := range u.Counters {
		s.counts[c.Key] += c.N
		m.add(c.Key, c.N)
		if c.Category != "" {
			if i, found := slices.BinarySearch(m.cats, c.Category); !found {
				m.cats = slices.Insert(m.cats, i, c.Category)
			}
		}
		if dept, ok := strings.CutPrefix(c.Region, DeptPrefix); ok {
			if i, found := slices.BinarySearch(m.depts, dept); !found {
				m.depts = slices.Insert(m.depts, i, dept)
			}
		}
	}
	for _, w := range u.Whistles {
		s.whistles[w.ID] = w
	}
	if !u.Reset && m.hot != nil {
		m.hot.Observe(u.Items)
	}
	if u.Reset && !firstReset {
		return "" // screens already showed these items
	}
	for _, it := range u.Items {
		m.feedSeq++
		if len(m.feed) == m.feedCap {
			copy(m.feed, m.feed[m.feedCap/2:])
			m.feed = m.feed[:len(m.feed)-m.feedCap/2]
		}
		m.feed = append(m.feed, feedItem{seq: m.feedSeq, item: it})
	}
	if today := DayOf(now, m.loc); today != m.lastDay {
		m.lastDay = today
		old := func(k Key) bool { return k.Day != 0 && k.Day < today-2 }
		maps.DeleteFunc(m.counts, func(k Key, _ int64) bool { return old(k) })
		for _, s := range m.srcs {
			maps.DeleteFunc(s.counts, func(k Key, _ int64) bool { return old(k) })
		}
	}
	return ""
}

// add adds n to a counter and to its total over categories. Caller holds m.mu.
func (m *Model) add(k Key, n int64) {
	m.counts[k] += n
	t := k
	t.Category = ""
	m.counts[t] += n
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

// Stats reports counts of updates applied, for metrics.
func (m *Model) Stats() (updates, resets uint64, lastData time.Time) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.updates, m.resets, m.lastData
}

func (m *Model) get(region, cat string, day int32, met Metric) int64 {
	return m.counts[Key{Region: region, Category: cat, Day: day, Metric: met}]
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
	g := func(code string, met Metric) int64 { return m.get(code, "", day, met) }
	cur := func(code string, met Metric) int64 { return m.get(code, "", 0, met) }
	totals := map[string]any{
		"new_today":      g(r.Code, MNew),
		"open":           cur(r.Code, MOpen),
		"overdue":        cur(r.Code, MOverdue),
		"resolved_today": g(r.Code, MResolved),
		"closed_today":   g(r.Code, MClosed),
	}
	if r.Level == 0 {
		totals["unlocated_today"] = g(r.Code, MUnlocated)
	}
	byCat := make(map[string]any, len(m.cats))
	for _, c := range m.cats {
		byCat[c] = m.get(r.Code, c, day, MNew)
	}
	children := make(map[string]any, len(r.Children))
	for _, c := range r.Children {
		children[c.Code] = map[string]any{
			"name":           c.Name,
			"new_today":      g(c.Code, MNew),
			"open":           cur(c.Code, MOpen),
			"overdue":        cur(c.Code, MOverdue),
			"resolved_today": g(c.Code, MResolved),
		}
	}
	callbacks := g(r.Code, MSatisfied) + g(r.Code, MBasically) + g(r.Code, MUnsatisfied)
	return map[string]any{
		"region":      map[string]any{"code": r.Code, "name": r.Name, "level": int64(r.Level)},
		"day":         DayString(day),
		"totals":      totals,
		"by_category": byCat,
		"flows": map[string]any{
			"up":         g(r.Code, MFlowUp),
			"down":       g(r.Code, MFlowDown),
			"horizontal": g(r.Code, MFlowHorizontal),
		},
		"rates": map[string]any{
			"response":     ratio(g(r.Code, MSignedInTime), g(r.Code, MDispatched)),
			"resolution":   ratio(max(0, g(r.Code, MResolved)-g(r.Code, MReopened)), g(r.Code, MDispatched)),
			"satisfaction": ratio(g(r.Code, MSatisfied)+g(r.Code, MBasically), callbacks),
		},
		"children": children,
		"depts":    m.deptRates(r, day),
	}
}

// deptRates are today's figures and rates per handling department, on the root overview only
// (department counters are kept for the whole deployment).
func (m *Model) deptRates(r *geo.Region, day int32) map[string]any {
	out := map[string]any{}
	if r.Level != 0 {
		return out
	}
	for _, d := range m.depts {
		code := DeptPrefix + d
		g := func(met Metric) int64 { return m.get(code, "", day, met) }
		disp := g(MDispatched)
		callbacks := g(MSatisfied) + g(MBasically) + g(MUnsatisfied)
		if disp == 0 && callbacks == 0 && g(MResolved) == 0 {
			continue
		}
		out[d] = map[string]any{
			"dispatched": disp,
			"resolved":   g(MResolved),
			"rates": map[string]any{
				"response":     ratio(g(MSignedInTime), disp),
				"resolution":   ratio(max(0, g(MResolved)-g(MReopened)), disp),
				"satisfaction": ratio(g(MSatisfied)+g(MBasically), callbacks),
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
	day := DayOf(s.m.clk.Now(), s.m.loc)
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
	ring   []Item
}

func (s *casesState) match(it *Item) bool {
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
		r = []Item{}
	}
	return map[string]any{"events": r}
}

func (s *casesState) Advance() (any, bool) {
	s.m.mu.RLock()
	feed := s.m.feed
	var out []Item
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
