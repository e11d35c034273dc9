package briefing

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"zhili/alerts"
	"zhili/calendar"
	"zhili/catalog"
	"zhili/clock"
	"zhili/dashboard"
	"zhili/errs"
	"zhili/event"
	"zhili/forecast"
	"zhili/geo"
	"zhili/governance"
	"zhili/store"
)

// Builder composes briefings from the history store and the domain functions.
type Builder struct {
	Store  store.Store
	Tree   *geo.Tree
	Cal    *calendar.Calendar // the deployment's zone and working days
	Clocks governance.Clocks  // whistle clocks
	// Forecasts gives the next period's forecast (nil: the section says it is unavailable).
	Forecasts *dashboard.Forecasts
	// Alerts is the alert engine (nil: alerts are off).
	Alerts *alerts.Engine
	Floors dashboard.HotspotFloors // hot-spot sufficiency rules (zero: the defaults)
	Audit  governance.AuditConfig  // response window and minimum sample (zero: the defaults)
	Repeat governance.RepeatConfig // repeat distance and window (zero: the defaults)
	Names  func() *catalog.Catalog // names of categories and departments (nil: catalog.Default)
	Clock  clock.Clock             // nil: clock.Real
	// RepeatMin: cases of one place in the period for the place to be listed (default 3).
	RepeatMin int
}

func (b *Builder) now() time.Time {
	if b.Clock == nil {
		return time.Now()
	}
	return b.Clock.Now()
}

func (b *Builder) names() *catalog.Catalog {
	if b.Names != nil {
		if c := b.Names(); c != nil {
			return c
		}
	}
	return catalog.Default()
}

func (b *Builder) audit() governance.AuditConfig {
	c := b.Audit
	if c.MinSample <= 0 {
		c.MinSample = 10
	}
	if c.Respond <= 0 {
		c.Respond = 2 * time.Hour
	}
	return c
}

// Build composes the briefing of region for period p as of the clock's now. A period not yet
// begun is errs NotFound; one not yet ended is Provisional.
func (b *Builder) Build(ctx context.Context, region string, p Period) (*Briefing, error) {
	loc := b.Cal.Location()
	r := b.Tree.Get(region)
	if r == nil {
		return nil, errs.E(errs.NotFound, "region", "unknown region %q", region)
	}
	now := b.now().In(loc)
	from, to := p.Bounds(loc)
	if !now.After(from) {
		return nil, errs.E(errs.NotFound, "period", "period %s has not begun", p)
	}
	prev, next := p.Shift(-1, loc), p.Shift(1, loc)
	pf, pt := prev.Bounds(loc)
	br := &Briefing{Format: Format, Period: p.String(), Kind: p.Kind, Region: r.Code, RegionName: r.Name,
		From: from, To: to, TimeZone: loc.String(), Previous: prev.String(), PrevFrom: pf, PrevTo: pt, Next: next.String(),
		Generated: now.Truncate(time.Second), Provisional: now.Before(to)}
	br.Title = title(r.Name, r.Code, p, from, to)
	if br.Provisional {
		n := tx("本期尚未结束：简报为实时生成的临时版本，不存档，数字还会变化。",
			"The period has not ended: this is a provisional briefing made live, not kept; its figures will change.")
		br.ProvisionalNote = &n
	}
	if h := dashboard.PeriodHistory(ctx, b.Store, loc, from, to, pf); h != nil && h.Note != nil {
		br.History = h
	}
	// The previous period is read at the same age as this one (同龄).
	prevAsOf := now.Add(-to.Sub(from))
	cur, _, err := b.facts(ctx, r, from, to, time.Time{})
	if err != nil {
		return nil, err
	}
	prevAll, prevAged, err := b.facts(ctx, r, pf, pt, prevAsOf)
	if err != nil {
		return nil, err
	}
	// Repeats are linked over both periods (as the audit does).
	all := append(append([]governance.CaseFacts(nil), prevAll...), cur...)
	governance.LinkRepeats(all, b.Repeat)
	copy(cur, all[len(prevAll):])
	if err := b.changes(ctx, br, r, cur, prevAged, now, prevAsOf); err != nil {
		return nil, err
	}
	if h := br.History; h != nil && h.PreviousMissing != nil && h.PreviousMissing.All {
		// The previous period lies before the history: its zeros are no figures, nothing is compared.
		for i := range br.Changes.Figures {
			br.Changes.Figures[i].Change, br.Changes.Figures[i].ChangePct = nil, nil
		}
	}
	br.Repeats = b.repeats(cur, all[:len(prevAll)])
	if err := b.hotspots(ctx, br, r, p); err != nil {
		return nil, err
	}
	b.forecast(ctx, br, r, next, now)
	if err := b.departments(ctx, br, r, now); err != nil {
		return nil, err
	}
	b.alerts(br, r, now)
	return br, nil
}

func title(name, code string, p Period, from, to time.Time) Text {
	if name == "" {
		name = code
	}
	if p.Kind == Week {
		last := to.AddDate(0, 0, -1)
		return tx(fmt.Sprintf("%s 研判周报 %d年第%d周（%s—%s）", name, p.Year, p.Week, from.Format("01-02"), last.Format("01-02")),
			fmt.Sprintf("%s weekly briefing, %d week %d (%s to %s)", name, p.Year, p.Week, from.Format("Jan 2"), last.Format("Jan 2")))
	}
	return tx(fmt.Sprintf("%s 研判日报 %s", name, from.Format("2006-01-02")),
		fmt.Sprintf("%s daily briefing, %s", name, from.Format("2006-01-02")))
}

// facts reads the cases first reported in [from, to) under r (the whole tree: unlocated ones
// too) with every event stored; with asOf set, also the same cases as they stood at asOf.
func (b *Builder) facts(ctx context.Context, r *geo.Region, from, to, asOf time.Time) (all, aged []governance.CaseFacts, err error) {
	err = b.Store.Cases(ctx, store.CaseQuery{Region: dashboard.StoreRegion(b.Tree, r.Code), Depth: r.Level, From: from, To: to}, func(id string, recs []store.Record) error {
		// A case counts while a report of it stands (not superseded), as of asOf for aged.
		if f, ok := dashboard.CaseFactsOf(id, recs, time.Time{}); ok && !f.Reported.IsZero() {
			all = append(all, f)
		}
		if !asOf.IsZero() {
			if f, ok := dashboard.CaseFactsOf(id, recs, asOf); ok && !f.Reported.IsZero() {
				aged = append(aged, f)
			}
		}
		return nil
	})
	return all, aged, err
}

func i64(v int64) *int64     { return &v }
func f64(v float64) *float64 { return &v }

func countFigure(key string, name Text, cur, prev int64, counts, leaves Text) Figure {
	f := Figure{Key: key, Name: name, Unit: "count", Current: Value{Count: i64(cur)}, Previous: Value{Count: i64(prev)},
		Change: f64(float64(cur - prev)), Counts: counts, LeavesOut: leaves}
	if prev > 0 {
		f.ChangePct = f64(math.Round(float64(cur-prev)/float64(prev)*1000) / 10)
	}
	return f
}

func rateValue(r governance.Rate) Value {
	v := Value{Value: r.Value, Num: r.Num, Den: r.Den, Sample: "ok"}
	if !r.Enough {
		v.Sample = "insufficient"
	}
	return v
}

func rateFigure(key string, name Text, cur, prev governance.Rate, counts, leaves Text) Figure {
	f := Figure{Key: key, Name: name, Unit: "rate", Current: rateValue(cur), Previous: rateValue(prev), Counts: counts, LeavesOut: leaves}
	if cur.Value != nil && prev.Value != nil && cur.Enough && prev.Enough {
		f.Change = f64(math.Round((*cur.Value-*prev.Value)*1000) / 10)
	}
	return f
}

// overdue counts the cases whose last dispatch's deadline had passed by at without a
// resolution by the deadline (cases not assessed left out).
func overdue(fs []governance.CaseFacts, at time.Time) int64 {
	var n int64
	for i := range fs {
		f := &fs[i]
		if f.Dispatched.IsZero() || f.Deadline.IsZero() || governance.NotAssessed(f) || f.Deadline.After(at) {
			continue
		}
		if f.Resolved.IsZero() || f.Resolved.After(f.Deadline) {
			n++
		}
	}
	return n
}

func (b *Builder) changes(ctx context.Context, br *Briefing, r *geo.Region, cur, prev []governance.CaseFacts, now, prevAsOf time.Time) error {
	cfg := b.audit()
	ch := &br.Changes
	ch.PreviousAsOf, ch.MinSample = prevAsOf.Truncate(time.Second), cfg.MinSample
	closings := func(from, to, asOf time.Time) (int64, error) {
		if asOf.Before(to) {
			to = asOf
		}
		if !from.Before(to) {
			return 0, nil
		}
		pts, err := b.Store.Series(ctx, store.SeriesQuery{Region: dashboard.StoreRegion(b.Tree, r.Code), From: from, To: to, Step: time.Hour,
			Types: []event.Type{event.CaseClosed}, Loc: b.Cal.Location()})
		var n int64
		for _, p := range pts {
			n += p.Count
		}
		return n, err
	}
	cc, err := closings(br.From, br.To, now)
	if err != nil {
		return err
	}
	pc, err := closings(br.PrevFrom, br.PrevTo, prevAsOf)
	if err != nil {
		return err
	}
	all := func(*governance.CaseFacts) string { return "all" }
	rates := func(fs []governance.CaseFacts) governance.UnitRates {
		if us := governance.Rates(fs, all, cfg); len(us) > 0 {
			return us[0]
		}
		return governance.UnitRates{}
	}
	cr, pr := rates(cur), rates(prev)
	scope := tx("本区域（含全部下级）", "the region and every region under it")
	if r == b.Tree.Root {
		scope = tx("全域（含未定位工单）", "the whole tree, unlocated cases included")
	}
	ch.Figures = []Figure{
		countFigure("new_cases", tx("新增工单", "New cases"), int64(len(cur)), int64(len(prev)),
			tx("本期首次上报的工单，"+scope.Zh+"；以首次上报时间计", "cases first reported in the period, "+scope.En+"; by the time of the first report"),
			tx("被更正取代的上报不计；入口拒收的事件不计", "reports superseded by a correction; events refused at ingest")),
		countFigure("closings", tx("结案", "Closings"), cc, pc,
			tx("本期内的结案事件（任何时候上报的工单），"+scope.Zh+"；一件工单结案两次计两次", "case.closed events in the period (of cases reported at any time), "+scope.En+"; a case closed twice counts twice"),
			tx("被更正取代的结案；下级区域的简报不含未定位工单的结案（无区域）", "closings superseded by a correction; below the root, closings of unlocated cases (they have no region)")),
		countFigure("overdue", tx("超期", "Overdue"), overdue(cur, now), overdue(prev, prevAsOf),
			tx("本期上报的工单中，最后一次派单的期限已过而未在期限内办结的（上期按同龄时点计）", "cases reported in the period whose last dispatch's deadline had passed without a resolution by it (the previous period at the same age)"),
			tx("未派单或派单无期限的工单；重复件、已撤销、已转办；更早上报的超期工单", "cases never dispatched or without a deadline; duplicates, cancelled and transferred cases; overdue cases reported before the period")),
		rateFigure("response", tx("响应率", "Response rate"), cr.Response, pr.Response,
			rateDef("response"),
			tx("未派单的工单；分母不足最小样本时注明样本不足，不计变化", "cases never dispatched; below the minimum sample the rate is marked insufficient and no change is given")),
		rateFigure("resolution", tx("解决率", "Resolution rate"), cr.Resolution, pr.Resolution,
			rateDef("resolution"),
			tx("未派单的工单；重复件、已撤销、已转办不考核", "cases never dispatched; duplicates, cancelled and transferred cases are not assessed")),
		rateFigure("satisfaction", tx("满意率", "Satisfaction rate"), cr.Satisfaction, pr.Satisfaction,
			rateDef("satisfaction"),
			tx("未回访或回访无结果的结案工单；未结案工单", "closed cases without a callback result; open cases")),
	}
	// Categories: new cases by category, the largest moves first.
	cnt := func(fs []governance.CaseFacts) map[string]int64 {
		m := map[string]int64{}
		for i := range fs {
			m[fs[i].Category]++
		}
		return m
	}
	cm, pm := cnt(cur), cnt(prev)
	keys := map[string]bool{}
	for k := range cm {
		keys[k] = true
	}
	for k := range pm {
		keys[k] = true
	}
	cat := b.names()
	moves := []CategoryMove{}
	for k := range keys {
		moves = append(moves, CategoryMove{Code: k, Name: catName(cat, k), Current: cm[k], Previous: pm[k], Change: cm[k] - pm[k]})
	}
	sort.Slice(moves, func(i, j int) bool {
		a, c := moves[i], moves[j]
		if abs(a.Change) != abs(c.Change) {
			return abs(a.Change) > abs(c.Change)
		}
		if a.Current != c.Current {
			return a.Current > c.Current
		}
		return a.Code < c.Code
	})
	if len(moves) > 8 {
		moves = moves[:8]
	}
	ch.Categories = moves
	ch.CategoryNote = tx(fmt.Sprintf("新增工单按类别，与上期相比变化最大的（至多8类，共%d类有工单）", len(keys)),
		fmt.Sprintf("new cases by category, the largest changes against the previous period (at most 8 of %d categories with cases)", len(keys)))
	return nil
}

// rateDef is a rate's written definition in both languages.
func rateDef(key string) Text {
	return tx(dashboard.RateDefinitionsByLang["zh"][key], dashboard.RateDefinitionsByLang["en"][key])
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

func catName(c *catalog.Catalog, code string) Text {
	if code == "" {
		return tx("未分类", "no category")
	}
	if x, ok := c.Category(code); ok {
		en := x.En
		if en == "" {
			en = code
		}
		return tx(x.Zh, en)
	}
	return tx(code, code)
}

func deptName(c *catalog.Catalog, code string) Text {
	if x, ok := c.Department(code); ok {
		en := x.En
		if en == "" {
			en = code
		}
		return tx(x.Zh, en)
	}
	return tx(code, code)
}

// repeats groups the period's cases by the chain they belong to (the earliest case they
// repeat) and lists the chains with at least RepeatMin cases in the period.
func (b *Builder) repeats(cur, prev []governance.CaseFacts) Repeats {
	min := b.RepeatMin
	if min <= 0 {
		min = 3
	}
	rp := Repeats{Min: min, Places: []Place{}}
	byID := map[string]*governance.CaseFacts{}
	for i := range prev {
		byID[prev[i].ID] = &prev[i]
	}
	for i := range cur {
		byID[cur[i].ID] = &cur[i]
	}
	chains := map[string][]*governance.CaseFacts{}
	var order []string
	for i := range cur {
		f := &cur[i]
		root := f.ID
		if f.RepeatOf != "" {
			rp.Links++
			root = f.RepeatOf
		}
		if chains[root] == nil {
			order = append(order, root)
		}
		chains[root] = append(chains[root], f)
	}
	cat := b.names()
	for _, root := range order {
		fs := chains[root]
		if len(fs) < min {
			continue
		}
		first := byID[root]
		if first == nil {
			first = fs[0]
		}
		pl := Place{Category: first.Category, CatName: catName(cat, first.Category), Cases: len(fs), First: first.Reported, Last: fs[0].Reported, CaseIDs: []string{}}
		if len(first.Region) > 0 {
			pl.Region = first.Region[len(first.Region)-1]
			pl.RegionName = regionName(b.Tree, pl.Region)
			if len(first.Region) > 1 {
				pl.Parent = regionName(b.Tree, first.Region[len(first.Region)-2])
			}
		}
		for _, f := range fs {
			if f.Reported.After(pl.Last) {
				pl.Last = f.Reported
			}
			if len(pl.CaseIDs) < 10 {
				pl.CaseIDs = append(pl.CaseIDs, f.ID)
			}
			if f.Closed.IsZero() {
				pl.Open++
			}
		}
		rp.Places = append(rp.Places, pl)
	}
	sort.SliceStable(rp.Places, func(i, j int) bool { return rp.Places[i].Cases > rp.Places[j].Cases })
	rc := b.Repeat
	if rc.Distance <= 0 {
		rc.Distance = 50
	}
	if rc.Window <= 0 {
		rc.Window = 30 * 24 * time.Hour
	}
	rp.Counts = tx(fmt.Sprintf("同一地点（规范化地址相同或上报点相距%.0f米内）同一类别、本期上报至少%d件的工单链；链从%s内最早的一件算起（可早于本期，只在本期与上期内查找）", rc.Distance, min, durZh(rc.Window)),
		fmt.Sprintf("chains of cases about the same place (same normalized address, or report points within %.0f m) and category with at least %d cases reported in the period; a chain starts at its earliest case within %s (searched in this and the previous period only)", rc.Distance, min, rc.Window))
	rp.LeavesOut = tx("地址属个人信息，不显示：地点以其网格表示；少于"+fmt.Sprint(min)+"件的地点只计入重复投诉数", "addresses are personal fields and are not shown: a place is named by its grid; places with fewer than "+fmt.Sprint(min)+" cases count only in the repeat total")
	return rp
}

func durZh(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d天", d/(24*time.Hour))
	}
	return d.String()
}

func (b *Builder) hotspots(ctx context.Context, br *Briefing, r *geo.Region, p Period) error {
	h := &br.Hotspots
	h.Level, h.Spots, h.Children = "grid", []Spot{}, []Spot{}
	h.Map = Map{Root: r.Code, Cells: []MapCell{}}
	h.Counts = tx("新增工单（首次上报）按网格计数；Gi*（邻接权重，FDR校正）显著热点（置信度≥90%）及新兴热点类别（按时段切分的时空立方体，Mann-Kendall趋势）",
		"new cases (first reports) counted per grid; Gi* (contiguity weights, FDR-corrected) significant hot spots (90 % confidence or more) and emerging hot-spot classes (space-time cube of the period's steps, Mann-Kendall trend)")
	h.LeavesOut = tx("未定位工单；冷点；事件数不足下限时不判定热点（见数据充分性）", "unlocated cases; cold spots; no hot spot is called when the events are below the floors (see sufficiency)")
	if len(r.Children) == 0 {
		n := tx("该区域无下级区域，无法比较热点", "the region has no subdivisions to compare")
		h.EmergingNote = &n
		return nil
	}
	loc := b.Cal.Location()
	step := time.Hour
	if p.Kind == Week {
		step = 6 * time.Hour
	}
	h.Step = step.String()
	q := dashboard.HotspotQuery{Region: r.Code, From: br.From, To: br.To, Level: "grid", Emerging: true, Step: step, Loc: loc, Floors: b.Floors}
	if br.Provisional {
		q.To = b.now().In(loc).Truncate(step).Add(step)
		if q.To.After(br.To) {
			q.To = br.To
		}
	}
	rep, err := dashboard.PeriodHotspots(ctx, b.Store, b.Tree, q)
	if err != nil && ctx.Err() == nil && (errs.CodeOf(err) == errs.Invalid || errs.CodeOf(err) == errs.TooLarge) {
		// Without the emerging classes (too few steps so far, or too large a cube).
		n := tx("未计算新兴热点类别："+err.Error(), "emerging classes not computed: "+err.Error())
		h.EmergingNote = &n
		q.Emerging = false
		rep, err = dashboard.PeriodHotspots(ctx, b.Store, b.Tree, q)
	}
	if err != nil {
		return err
	}
	h.Emerging = q.Emerging
	h.Sufficiency, h.Events = rep.Sufficiency, rep.Sufficiency.Events
	if q.Emerging && !rep.Sufficiency.OK && slices.Contains(rep.Sufficiency.Reasons, dashboard.ReasonTooFewSteps) {
		n := tx("样本不足：有工单的时段太少，新兴热点类别均为数据不足", "insufficient sample: too few time steps hold cases, every emerging class is insufficient_data")
		h.EmergingNote = &n
	}
	deepest := r.Level
	var total int64
	// Hot through its neighbours, for the spots hot by Gi* and those hot only in a class.
	through := dashboard.ThroughNeighbours(b.Tree, rep)
	for _, c := range rep.Cells {
		total += c.Count
		if g := b.Tree.Get(c.Code); g != nil {
			deepest = max(deepest, g.Level)
		}
		hotPattern := strings.HasSuffix(c.Pattern, "_hot")
		if c.Count > 0 || c.Bin > 0 || hotPattern {
			mc := MapCell{Code: c.Code, Count: c.Count}
			if c.Bin > 0 {
				mc.Bin = c.Bin
			}
			if hotPattern {
				mc.Pattern = c.Pattern
			}
			h.Map.Cells = append(h.Map.Cells, mc)
			h.Map.Max = max(h.Map.Max, c.Count)
		}
		if c.Bin > 0 || hotPattern {
			s := Spot{Code: c.Code, Name: c.Name, Count: c.Count, Z: c.Z, Q: c.Q, Bin: max(c.Bin, 0)}
			if nm, ok := through[c.Code]; ok {
				s.Neighbours, s.NeighbourMean = true, nm
			}
			if hotPattern {
				s.Pattern = c.Pattern
			}
			if g := b.Tree.Get(c.Code); g != nil && g.Parent != "" {
				s.Parent = regionName(b.Tree, g.Parent)
			}
			h.Spots = append(h.Spots, s)
		}
	}
	h.Map.Depth = deepest - r.Level
	if len(rep.Cells) > 0 {
		h.MeanCount = float64(total) / float64(len(rep.Cells))
	}
	sortSpots(h.Spots)
	if len(h.Spots) > 20 {
		h.Spots = h.Spots[:20]
	}
	// The child regions at their own level, when they are not the grids.
	leaves := true
	for _, c := range r.Children {
		leaves = leaves && len(c.Children) == 0
	}
	if !leaves {
		q.Level, q.Emerging = "child", false
		crep, err := dashboard.PeriodHotspots(ctx, b.Store, b.Tree, q)
		if err != nil {
			return err
		}
		h.ChildrenSufficient = crep.Sufficiency.OK
		for _, c := range crep.Cells {
			if c.Bin > 0 {
				h.Children = append(h.Children, Spot{Code: c.Code, Name: c.Name, Count: c.Count, Z: c.Z, Q: c.Q, Bin: c.Bin})
			}
		}
		sortSpots(h.Children)
	}
	return nil
}

func sortSpots(s []Spot) {
	sort.SliceStable(s, func(i, j int) bool {
		if s[i].Bin != s[j].Bin {
			return s[i].Bin > s[j].Bin
		}
		if s[i].Z != s[j].Z {
			return s[i].Z > s[j].Z
		}
		return s[i].Count > s[j].Count
	})
}

func (b *Builder) forecast(ctx context.Context, br *Briefing, r *geo.Region, next Period, now time.Time) {
	loc := b.Cal.Location()
	nf, nt := next.Bounds(loc)
	fc := &br.Forecast
	*fc = Forecast{Period: next.String(), From: nf, To: nt, Hours: []forecast.Band{}}
	fc.Counts = tx("下一期每小时新增工单（首次上报）的预测均值与预测区间；合计为各小时均值之和", "hourly new cases (first reports) forecast for the next period, mean and prediction interval; the total is the sum of the hourly means")
	fc.LeavesOut = tx("合计的区间不是各小时区间之和，不给出；生成简报之前已过去的小时不预测；按类别的预测不列出", "the total's interval is not the sum of the hours' and is not given; hours already past when the briefing was made are not forecast; forecasts by category are not listed")
	if b.Forecasts == nil {
		fc.Status, fc.Message = "unavailable", tx("本服务未启用预测", "forecasts are not enabled on this server")
		return
	}
	if !now.Before(nt) {
		fc.Status, fc.Message = "passed", tx("下一期已经结束，不再预测", "the next period has already ended: no forecast")
		return
	}
	hour := now.Truncate(time.Hour)
	hours := int(math.Ceil(nt.Sub(hour).Hours()))
	rep, err := b.Forecasts.Forecast(ctx, r.Code, "", time.Time{}, min(hours, dashboard.MaxForecastHours))
	if err != nil {
		fc.Status, fc.Reason = "unavailable", err.Error()
		fc.Message = tx("预测失败："+err.Error(), "the forecast failed: "+err.Error())
		return
	}
	fc.Days, fc.Method = rep.Days, rep.Method
	if !rep.Sufficient {
		fc.Status, fc.Reason = "insufficient", rep.Reason
		fc.Message = tx("样本不足：历史数据太短，无法预测（"+rep.Reason+"）", "insufficient sample: the history is too short to forecast ("+rep.Reason+")")
		return
	}
	fc.Sufficient, fc.Level, fc.Interval = true, rep.Level, rep.Interval
	var total float64
	for _, h := range rep.Hours {
		if !h.T.Before(nf) && h.T.Before(nt) {
			fc.Hours = append(fc.Hours, h)
			total += h.Mean
		}
	}
	fc.Total = f64(math.Round(total*10) / 10)
	if len(fc.Hours) > 0 {
		t := fc.Hours[0].T
		fc.HoursFrom = &t
	}
	fc.Status = "ok"
	fc.Message = tx(fmt.Sprintf("预测%d小时，%.0f%%预测区间", len(fc.Hours), rep.Interval*100), fmt.Sprintf("%d hours forecast, %.0f %% prediction interval", len(fc.Hours), rep.Interval*100))
	if now.After(nf) {
		fc.Status = "passed"
		fc.Message = tx(fmt.Sprintf("生成时下一期已开始：仅预测其余%d小时", len(fc.Hours)), fmt.Sprintf("the next period had begun when the briefing was made: only its remaining %d hours are forecast", len(fc.Hours)))
	}
}

func (b *Builder) departments(ctx context.Context, br *Briefing, r *geo.Region, now time.Time) error {
	cfg := b.audit()
	q := dashboard.AuditQuery{Region: r.Code, Depth: r.Level, From: br.From, To: br.To, By: "dept", Config: cfg, Repeat: b.Repeat, Now: now}
	rep, err := dashboard.Rates(ctx, b.Store, b.Tree, q)
	if err != nil {
		return err
	}
	cat := b.names()
	d := &br.Departments
	d.MinSample, d.Units, d.PreviousBasis, d.Slowest, d.Insufficient = cfg.MinSample, len(rep.Units), rep.PreviousBasis, []Dept{}, []Dept{}
	if rep.PreviousAsOf != nil {
		d.PreviousAsOf = rep.PreviousAsOf.Truncate(time.Second)
	}
	if rep.Reconcile != nil {
		d.WithoutDept = rep.Reconcile.WithoutDept
	}
	for _, u := range rep.Units {
		c := u.Current
		x := Dept{Code: u.Unit, Name: deptName(cat, u.Unit), Cases: c.Cases, Dispatched: c.Dispatched, Open: c.Open,
			Response: c.Response, Resolution: c.Resolution, Satisfaction: c.Satisfaction, OnTime: c.OnTime, CloseP50: c.CloseP50}
		if u.Previous != nil && u.Previous.Response.Value != nil {
			x.PrevResponse = u.Previous.Response.Value
		}
		if c.Response.Sample == "ok" && c.Response.Value != nil {
			d.Slowest = append(d.Slowest, x)
		} else {
			d.Insufficient = append(d.Insufficient, x)
		}
	}
	p50 := func(x Dept) int64 {
		if x.CloseP50 == nil {
			return -1
		}
		return *x.CloseP50
	}
	sort.SliceStable(d.Slowest, func(i, j int) bool {
		a, c := d.Slowest[i], d.Slowest[j]
		if *a.Response.Value != *c.Response.Value {
			return *a.Response.Value < *c.Response.Value
		}
		return p50(a) > p50(c)
	})
	if len(d.Slowest) > 5 {
		d.Slowest = d.Slowest[:5]
	}
	sort.SliceStable(d.Insufficient, func(i, j int) bool { return d.Insufficient[i].Cases > d.Insufficient[j].Cases })
	d.Counts = tx(fmt.Sprintf("本期上报工单按最后一次派单的部门计；按响应率从低到高排列最慢的5个部门（分母≥%d件才排名），并列时办结时长中位数长者在前", cfg.MinSample),
		fmt.Sprintf("the period's cases by the department of their last dispatch; the 5 slowest by response rate, lowest first (ranked only with a denominator of %d or more), ties by the longer median time to close", cfg.MinSample))
	d.LeavesOut = tx(fmt.Sprintf("未派单的工单（%d件）；派单不足%d件的部门只列名、不排名（样本不足）", d.WithoutDept, cfg.MinSample),
		fmt.Sprintf("cases never dispatched (%d); departments with fewer than %d dispatched cases are named, never ranked (insufficient sample)", d.WithoutDept, cfg.MinSample))

	// Late whistles.
	wr, err := dashboard.Whistles(ctx, b.Store, b.Tree, q, b.Clocks, b.Cal, now)
	if err != nil {
		return err
	}
	w := &br.Whistles
	w.Whistles, w.MinSample, w.Late = wr.Whistles, wr.MinSample, []WhistleDept{}
	for _, s := range wr.Depts {
		if s.Dept == "" {
			continue
		}
		w.Units++
		x := WhistleDept{Code: s.Dept, Name: deptName(cat, s.Dept), Summoned: s.Summoned, OnTime: dashboard.RateFigureOf(s.OnTime), Stages: []StageLate{}}
		for _, st := range s.Stages {
			late := st.OnTime.Den - st.OnTime.Num
			x.Late += late
			x.Counted += st.OnTime.Den
			x.Stages = append(x.Stages, StageLate{Stage: string(st.Stage), Late: late, Counted: st.OnTime.Den})
		}
		if x.Late > 0 {
			w.Late = append(w.Late, x)
		}
	}
	sort.SliceStable(w.Late, func(i, j int) bool {
		if w.Late[i].Late != w.Late[j].Late {
			return w.Late[i].Late > w.Late[j].Late
		}
		return w.Late[i].Code < w.Late[j].Code
	})
	if len(w.Late) > 10 {
		w.Late = w.Late[:10]
	}
	w.Counts = tx("本期上报工单上的吹哨，按被召集的部门：签收、联系、到场各环节超过时限才到达、或超过时限仍未到达的次数（工作日时钟），超时多者在前（至多10个）",
		"whistles on the period's cases, by summoned department: stages (signed, contacted, arrived) reached after their deadline or still open past it (working-day clocks), the most first (at most 10)")
	w.LeavesOut = tx(fmt.Sprintf("时限未到、尚未到达的环节；按时率分母不足%d时注明样本不足、不排名", w.MinSample),
		fmt.Sprintf("stages not reached whose deadline has not passed; an on-time rate with fewer than %d stages is marked insufficient and not ranked", w.MinSample))
	return nil
}

func (b *Builder) alerts(br *Briefing, r *geo.Region, now time.Time) {
	a := &br.Alerts
	a.ByRule, a.List = []RuleFigures{}, []AlertRow{}
	a.Counts = tx("本期内触发的预警（含其所有下级区域）：已确认、已关闭的数量，触发到确认、触发到关闭的时长（中位数、90分位，就近秩）", "alerts raised in the period for the region and its subtree: how many were acknowledged and closed, time from raise to acknowledgement and to close (median, 90th percentile, nearest rank)")
	a.LeavesOut = tx("本期之前触发、本期内处理的预警；仍未确认或未关闭的预警不计入时长；预警无运行记录的时段（服务未运行或尚未就绪）的预警无从统计，这些时段另行注明",
		"alerts raised before the period but handled in it; alerts not yet acknowledged or closed are in no time; times with no record of the alert engine running (the server down or not ready), whose alerts cannot be counted, named apart")
	if b.Alerts == nil {
		return
	}
	a.Available = true
	st := b.Alerts.Stats(br.From, br.To, r.Code)
	a.AsOf = now.Truncate(time.Second)
	cov := st.Coverage.In(b.Cal.Location())
	a.Coverage = &cov
	if cov.Watched == 0 && st.Total.Raised == 0 {
		return // nothing watched the period: zero raised would be no figure
	}
	f := st.Total
	a.Figures = &f
	page, err := b.Alerts.List(alerts.Query{From: br.From, To: br.To, Region: r.Code, Limit: 50})
	if err != nil && !errors.Is(err, context.Canceled) {
		return
	}
	a.Total = page.Total
	names := map[string]string{}
	for _, x := range page.Alerts {
		names[x.RuleID] = x.RuleName
		row := AlertRow{ID: x.ID, Rule: x.RuleName, Severity: string(x.Severity), Title: tx(x.Title, x.TitleEn), Region: x.Region,
			RegionName: regionName(b.Tree, x.Region), Raised: x.RaisedAt, Acked: x.AckedAt, Closed: x.ClosedAt, State: string(x.State)}
		if row.Rule == "" {
			row.Rule = x.RuleID
		}
		a.List = append(a.List, row)
	}
	for id, fig := range st.ByRule {
		n := names[id]
		if n == "" {
			n = id
		}
		a.ByRule = append(a.ByRule, RuleFigures{Rule: id, Name: n, Figures: fig})
	}
	sort.Slice(a.ByRule, func(i, j int) bool {
		if a.ByRule[i].Figures.Raised != a.ByRule[j].Figures.Raised {
			return a.ByRule[i].Figures.Raised > a.ByRule[j].Figures.Raised
		}
		return a.ByRule[i].Rule < a.ByRule[j].Rule
	})
}
