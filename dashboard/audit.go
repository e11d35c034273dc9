package dashboard

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"zhili/calendar"
	"zhili/errs"
	"zhili/event"
	"zhili/geo"
	"zhili/governance"
	"zhili/store"
)

// AuditQuery asks for an audit of the cases first reported in [From, To), and of the previous
// period of the same length beside it.
type AuditQuery struct {
	Region   string // "" = the whole tree
	Depth    int    // of Region
	From, To time.Time
	Category string
	By       string // "dept" (default) or "region"
	Level    int    // by=region: the depth of the regions counted (default Depth+1)
	Config   governance.AuditConfig
	Repeat   governance.RepeatConfig
	// Whistle-rate bands (吹哨率 = whistles ÷ cases per region): below Low or above High is flagged.
	WhistleLow, WhistleHigh float64
	// RepeatsLimit keeps only the newest repeat links (0: all); RepeatsTotal still counts all.
	RepeatsLimit int
}

// RatesReport is the three-rate audit.
type RatesReport struct {
	From        time.Time         `json:"from"`
	To          time.Time         `json:"to"`
	PrevFrom    time.Time         `json:"previous_from"`
	By          string            `json:"by"`
	MinSample   int               `json:"min_sample"`
	Respond     string            `json:"respond_window"`
	Definitions map[string]string `json:"definitions"`
	Units       []RatesUnit       `json:"units"`
	Cases       int               `json:"cases"`
	// Repeats links each repeat complaint of the period to the earliest case it repeats (with
	// repeats_limit, only the newest, newest first); RepeatsTotal counts them all.
	Repeats      []RepeatLink `json:"repeats"`
	RepeatsTotal int          `json:"repeats_total"`
	Reconcile    *Reconcile   `json:"reconcile"`
}

// Reconcile says what an audit's figure holds of the cases received in the period, and why the
// rest is not in it: received = counted + the sum of excluded. Unlocated, WithoutDept and
// WithoutDeadline describe the received cases, whether in the figure or not.
type Reconcile struct {
	// Received: cases first reported in the period, under the region and of the category asked
	// (the whole tree's audit includes the unlocated cases).
	Received int64 `json:"received"`
	// Counted: cases in the figure's ranked units (rates: one unit each; whistles: cases with a
	// whistle counted for a unit).
	Counted int64 `json:"counted"`
	// Excluded: the cases left out of the ranked units, by reason (without_dept: never
	// dispatched, by=dept; unlocated: in the 未定位 row, by=region; no_whistle: no whistle
	// blown, whistle audit). Every reason of the audit's kind is present, zeros included.
	Excluded map[string]int64 `json:"excluded"`
	// Unlocated: cases whose report has no region (by=region: none at the level counted).
	Unlocated int64 `json:"unlocated"`
	// WithoutDept: cases never dispatched.
	WithoutDept int64 `json:"without_dept"`
	// WithoutDeadline: dispatched cases whose last dispatch has no deadline (in the figure, out
	// of the on-time rate).
	WithoutDeadline int64 `json:"without_deadline"`
	// Identity is the equation the figures satisfy, in words.
	Identity string `json:"identity"`
	// Rejected: events refused at ingest (set by the server).
	Rejected *Rejected `json:"rejected"`
}

// Rejected are the events the ingest door refused, by rejection code. The door keeps no record
// of them: they are counted in memory since the server process started, over every period,
// region and category (the audit of a subtree gets no counts), and are not part of received.
type Rejected struct {
	Since  time.Time        `json:"since"`
	Total  *int64           `json:"total"`   // nil: not known for this audit
	ByCode map[string]int64 `json:"by_code"` // nil: not known for this audit
	Note   string           `json:"note"`
}

// UnlocatedName is the name of the 未定位 row of region audits (its unit code is "").
const UnlocatedName = "未定位 unlocated"

// RepeatLink is one repeat complaint.
type RepeatLink struct {
	Case     string    `json:"case_id"`
	RepeatOf string    `json:"repeat_of"`
	Reported time.Time `json:"reported"`
	Dept     string    `json:"dept,omitempty"`
	Region   string    `json:"region,omitempty"` // the deepest region of its report
}

// RatesUnit is one unit with the period's figures and the previous period's beside them.
type RatesUnit struct {
	Unit        string       `json:"unit"`
	Name        string       `json:"name,omitempty"`
	Current     UnitFigures  `json:"current"`
	Previous    *UnitFigures `json:"previous"`
	WhistleRate *float64     `json:"whistle_rate,omitempty"` // by=region
	WhistleBand string       `json:"whistle_band,omitempty"` // low, ok, high
	// Unlocated marks the 未定位 row of by=region (unit ""): the cases with no region at the
	// level counted; never ranked.
	Unlocated bool `json:"unlocated,omitempty"`
}

// UnitFigures are the published figures of one unit in one period.
type UnitFigures struct {
	Cases        int64      `json:"cases"`
	Dispatched   int64      `json:"dispatched"`
	Closed       int64      `json:"closed"`
	Whistles     int64      `json:"whistles"`
	Response     RateFigure `json:"response"`
	Resolution   RateFigure `json:"resolution"`
	Satisfaction RateFigure `json:"satisfaction"`
	OnTime       RateFigure `json:"on_time"`
	// WithoutDeadline: dispatched cases whose last dispatch has no deadline (left out of on_time).
	WithoutDeadline int64  `json:"without_deadline"`
	CloseP50        *int64 `json:"close_p50_s"`
	CloseP90        *int64 `json:"close_p90_s"`
	// Signs of cosmetic fixes: repeat complaints, closed then reopened, closed unsatisfied.
	Repeats            int64 `json:"repeats"`
	ClosedThenReopened int64 `json:"closed_then_reopened"`
	ClosedUnsatisfied  int64 `json:"closed_unsatisfied"`
	// Cases by the reason of the closing they ended with: not_fixed is counted in closed;
	// duplicates, cancelled and transferred away are not assessed (close_reason definition).
	NotFixed    int64 `json:"not_fixed"`
	Duplicates  int64 `json:"duplicates"`
	Transferred int64 `json:"transferred"`
	Cancelled   int64 `json:"cancelled"`
}

// RateFigure is a rate with its sample and rank; a unit below the minimum sample is never ranked
// (rank null, sample "insufficient").
type RateFigure struct {
	Value  *float64 `json:"value"`
	Num    int64    `json:"num"`
	Den    int64    `json:"den"`
	Rank   *int     `json:"rank"`
	Sample string   `json:"sample"` // ok | insufficient
}

// RateDefinitions are the written definitions of the three rates (docs/GOVERNANCE.md).
var RateDefinitions = map[string]string{
	"response":     "响应率 response rate = cases whose handling department signed within the response window after dispatch ÷ cases dispatched (Beijing 接诉即办 counts contacting the citizen in time; the case contract has no contact step, so signing is the response signal)",
	"resolution":   "解决率 resolution rate = cases resolved and not reopened afterwards ÷ cases dispatched (Beijing uses the citizen's judgment at the callback; the callback here carries satisfaction only)",
	"satisfaction": "满意率 satisfaction rate = cases closed with a satisfied or basically satisfied callback ÷ cases closed with a callback result",
	"on_time":      "按期办结率 on-time rate = cases resolved by the deadline of their last dispatch ÷ resolved cases with a deadline; cases dispatched without a deadline count everywhere else and are left out of it (无时限 without_deadline per unit)",
	"close_time":   "办结时长 time to close: first report → last closing, nearest-rank p50 and p90, closed cases only",
	"counting":     "a case counts in the period of its first report, for the region of its report (cases with no region at the level counted: the 未定位 unlocated row, not ranked) and the department of its last dispatch (located or not)",
	"reconcile":    "核对 reconcile: received (cases first reported in the period) = counted (in the ranked units) + excluded by reason (by=dept: never dispatched; by=region: the 未定位 row; whistle audit: no whistle blown); unlocated, without department and without deadline describe the received cases; events refused at ingest are counted apart, since the server started",
	"repeats":      "重复投诉 repeats = cases about the same place (same normalized address, or report points within the repeat distance) and category as an earlier case reported within the repeat window (linked over this and the previous period)",
	"fake_closure": "虚假办结迹象 fake-closure signs = cases closed and later reopened; cases closed with an unsatisfied callback",
	"close_reason": "结案原因 close reasons: 未解决 not fixed = closed, never resolved (in the resolution denominator, out of on time); 重复件 duplicates, 已撤销 cancelled and 已转办 transferred away (no dispatch after the transfer; a reopening undoes these closings) are not assessed: out of the resolution, satisfaction and on-time rates, closed counts and close times, and out of the response rate when closed within the response window unsigned; a dispatch after a transfer counts for its department; a closing timed before the report has no time to close",
}

// MaxAuditCases bounds the cases one audit reads (their facts are held in memory, about half
// a kilobyte each): past it the audit is refused 413 max_rows, having held at most this many.
var MaxAuditCases = 500_000

// caseFacts reads the facts of the cases of q's period [from, to). The whole tree's audit
// (q.Region is tree's root) reads the unlocated cases too. whistles, when not nil, gets the
// cases' whistles, and owners the index in the result of each whistle's case.
func caseFacts(ctx context.Context, st store.Store, tree *geo.Tree, q AuditQuery, from, to time.Time, whistles *[]governance.WhistleFacts, owners *[]int) ([]governance.CaseFacts, error) {
	var out []governance.CaseFacts
	region := q.Region
	if tree != nil && region == tree.Root.Code {
		region = "" // every case, unlocated ones included
	}
	err := st.Cases(ctx, store.CaseQuery{Region: region, Depth: q.Depth, From: from, To: to, Category: q.Category},
		func(id string, recs []store.Record) error {
			if len(out) >= MaxAuditCases {
				return errs.E(errs.TooLarge, "max_rows",
					"the period holds more than %d cases under region %s: shorten the period or choose a smaller region", MaxAuditCases, q.Region)
			}
			evs := make([]event.Event, len(recs))
			for i, r := range recs {
				evs[i] = r.Event
			}
			// The case's place is its first report's, a superseded one left out.
			sup := event.Superseded(evs)
			var region []string
			var report *store.Record
			for i, r := range recs {
				if _, gone := sup[r.ID]; !gone && r.Type == event.CaseReported {
					report = &recs[i]
					region = r.RegionPath
					break
				}
			}
			f := governance.Facts(id, evs)
			f.Region = region
			if report != nil {
				f.Address = report.Address
				f.Lon, f.Lat, f.HasPoint = report.Lon, report.Lat, report.HasPoint
			}
			out = append(out, f)
			if whistles != nil {
				ws := governance.WhistlesOf(region, evs)
				*whistles = append(*whistles, ws...)
				if owners != nil {
					for range ws {
						*owners = append(*owners, len(out)-1)
					}
				}
			}
			return nil
		})
	return out, err
}

// level is the depth of the regions a by=region audit counts.
func (q AuditQuery) level() int {
	if q.Level <= q.Depth {
		return q.Depth + 1
	}
	return q.Level
}

// keyFunc is the unit a case counts for ("": none; by=region, the 未定位 row).
func (q AuditQuery) keyFunc() (func(*governance.CaseFacts) string, error) {
	switch q.By {
	case "", "dept":
		return func(f *governance.CaseFacts) string { return f.Dept }, nil
	case "region":
		lvl := q.level()
		return func(f *governance.CaseFacts) string {
			if len(f.Region) > lvl {
				return f.Region[lvl]
			}
			return ""
		}, nil
	}
	return nil, errs.E(errs.Invalid, "by", "by must be dept or region, got %q", q.By)
}

// unlocatedKey is the key of the 未定位 row while it is computed (never a region code).
const unlocatedKey = "\x00unlocated"

// unitRates audits facts by key; by=region, the cases without a unit form the 未定位 row
// (audited apart, so it takes no rank and moves no other unit's), last.
func unitRates(facts []governance.CaseFacts, key func(*governance.CaseFacts) string, byRegion bool, cfg governance.AuditConfig) []governance.UnitRates {
	us := governance.Rates(facts, key, cfg)
	if !byRegion {
		return us
	}
	var rest []governance.CaseFacts
	for i := range facts {
		if key(&facts[i]) == "" {
			rest = append(rest, facts[i])
		}
	}
	for _, u := range governance.Rates(rest, func(*governance.CaseFacts) string { return unlocatedKey }, cfg) {
		u.Unit = ""
		for _, r := range []*governance.Rate{&u.Response, &u.Resolution, &u.Satisfaction, &u.OnTime} {
			r.Rank = 0
		}
		us = append(us, u)
	}
	return us
}

// reconcileCases fills the case-level parts of a reconcile block: received, unlocated (no
// region, or none at the level counted), without department and without deadline.
func reconcileCases(facts []governance.CaseFacts, unlocated func(*governance.CaseFacts) bool) *Reconcile {
	r := &Reconcile{Received: int64(len(facts)), Excluded: map[string]int64{}}
	for i := range facts {
		f := &facts[i]
		if unlocated(f) {
			r.Unlocated++
		}
		switch {
		case f.Dept == "":
			r.WithoutDept++
		case f.Deadline.IsZero():
			r.WithoutDeadline++
		}
	}
	return r
}

// unlocatedFunc tells the cases an audit counts as unlocated.
func (q AuditQuery) unlocatedFunc() func(*governance.CaseFacts) bool {
	if q.By == "region" {
		lvl := q.level()
		return func(f *governance.CaseFacts) bool { return len(f.Region) <= lvl }
	}
	return func(f *governance.CaseFacts) bool { return len(f.Region) == 0 }
}

// Rates audits the three rates of q's period beside the previous period.
func Rates(ctx context.Context, st store.Store, tree *geo.Tree, q AuditQuery) (*RatesReport, error) {
	if !q.From.Before(q.To) {
		return nil, errs.E(errs.Invalid, "period", "from must be before to")
	}
	key, err := q.keyFunc()
	if err != nil {
		return nil, err
	}
	if q.By == "" {
		q.By = "dept"
	}
	cfg := q.Config
	if cfg.MinSample <= 0 {
		cfg.MinSample = 10
	}
	if cfg.Respond <= 0 {
		cfg.Respond = 2 * time.Hour
	}
	cur, err := caseFacts(ctx, st, tree, q, q.From, q.To, nil, nil)
	if err != nil {
		return nil, err
	}
	prevFrom := q.From.Add(-q.To.Sub(q.From))
	prev, err := caseFacts(ctx, st, tree, q, prevFrom, q.From, nil, nil)
	if err != nil {
		return nil, err
	}
	// Repeats are linked over both periods, so a case can repeat one of the previous period.
	all := append(append([]governance.CaseFacts(nil), prev...), cur...)
	governance.LinkRepeats(all, q.Repeat)
	copy(prev, all[:len(prev)])
	copy(cur, all[len(prev):])
	rep := &RatesReport{From: q.From, To: q.To, PrevFrom: prevFrom, By: q.By, MinSample: cfg.MinSample,
		Respond: cfg.Respond.String(), Definitions: RateDefinitions, Cases: len(cur), Units: []RatesUnit{}, Repeats: []RepeatLink{}}
	for _, f := range cur {
		if f.RepeatOf != "" {
			l := RepeatLink{Case: f.ID, RepeatOf: f.RepeatOf, Reported: f.Reported, Dept: f.Dept}
			if len(f.Region) > 0 {
				l.Region = f.Region[len(f.Region)-1]
			}
			rep.Repeats = append(rep.Repeats, l)
		}
	}
	rep.RepeatsTotal = len(rep.Repeats)
	if q.RepeatsLimit > 0 && len(rep.Repeats) > q.RepeatsLimit {
		slices.SortStableFunc(rep.Repeats, func(a, b RepeatLink) int { return b.Reported.Compare(a.Reported) })
		rep.Repeats = rep.Repeats[:q.RepeatsLimit]
	}
	byRegion := q.By == "region"
	prevBy := map[string]governance.UnitRates{}
	for _, u := range unitRates(prev, key, byRegion, cfg) {
		prevBy[u.Unit] = u
	}
	rc := reconcileCases(cur, q.unlocatedFunc())
	for _, u := range unitRates(cur, key, byRegion, cfg) {
		ru := RatesUnit{Unit: u.Unit, Current: figures(u), Unlocated: byRegion && u.Unit == ""}
		if p, ok := prevBy[u.Unit]; ok {
			f := figures(p)
			ru.Previous = &f
		}
		if !ru.Unlocated {
			rc.Counted += u.Cases
		}
		if byRegion {
			if ru.Unlocated {
				ru.Name = UnlocatedName
			} else if r := tree.Get(u.Unit); r != nil {
				ru.Name = r.Name
			}
			if u.Cases > 0 {
				wr := float64(u.Whistles) / float64(u.Cases)
				ru.WhistleRate = &wr
				ru.WhistleBand = "ok"
				if q.WhistleLow > 0 && wr < q.WhistleLow {
					ru.WhistleBand = "low"
				} else if q.WhistleHigh > 0 && wr > q.WhistleHigh {
					ru.WhistleBand = "high"
				}
			}
		}
		rep.Units = append(rep.Units, ru)
	}
	if byRegion {
		rc.Excluded["unlocated"] = rc.Unlocated
		rc.Identity = "received = counted + excluded.unlocated (the 未定位 row)"
	} else {
		rc.Excluded["without_dept"] = rc.WithoutDept
		rc.Identity = "received = counted + excluded.without_dept (never dispatched); unlocated cases count for their department"
	}
	rep.Reconcile = rc
	return rep, nil
}

func figures(u governance.UnitRates) UnitFigures {
	f := UnitFigures{Cases: u.Cases, Dispatched: u.Dispatched, Closed: u.Closed, Whistles: u.Whistles,
		Repeats: u.Repeats, ClosedThenReopened: u.ClosedThenReopened, ClosedUnsatisfied: u.ClosedUnsatisfied,
		NotFixed: u.NotFixed, Duplicates: u.Duplicates, Transferred: u.Transferred, Cancelled: u.Cancelled,
		WithoutDeadline: u.WithoutDeadline, Response: rateFig(u.Response), Resolution: rateFig(u.Resolution), Satisfaction: rateFig(u.Satisfaction), OnTime: rateFig(u.OnTime)}
	if u.CloseP50 >= 0 {
		p50, p90 := u.CloseP50, u.CloseP90
		f.CloseP50, f.CloseP90 = &p50, &p90
	}
	return f
}

func rateFig(r governance.Rate) RateFigure {
	f := RateFigure{Value: r.Value, Num: r.Num, Den: r.Den, Sample: "ok"}
	if !r.Enough {
		f.Sample = "insufficient"
	}
	if r.Rank > 0 {
		k := r.Rank
		f.Rank = &k
	}
	return f
}

// WhistlesReport is the whistle audit.
type WhistlesReport struct {
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
	MinSample int       `json:"min_sample"`
	Whistles  int       `json:"whistles"`
	// Depts are the units (departments, or regions by=region); by=region the whistles of cases
	// with no region at the level counted form the 未定位 row (dept "", never ranked), last.
	Depts []governance.WhistleDeptStats `json:"depts"`
	// Previous is the audit of the previous period of the same length, by department.
	PrevFrom  time.Time                              `json:"previous_from"`
	Previous  map[string]governance.WhistleDeptStats `json:"previous"`
	Reconcile *Reconcile                             `json:"reconcile"`
}

// whistleAudit audits ws by unit; by=region (lvl ≥ 0) the whistles of cases without a region at
// lvl form the 未定位 row, audited apart (no rank, no effect on the others' ranks), last.
func whistleAudit(ws []governance.WhistleFacts, clocks governance.Clocks, cal *calendar.Calendar, now time.Time, cfg governance.AuditConfig, lvl int) []governance.WhistleDeptStats {
	if lvl < 0 {
		return governance.WhistleAudit(ws, clocks, cal, now, cfg, nil)
	}
	var located, rest []governance.WhistleFacts
	for _, w := range ws {
		if len(w.Region) > lvl {
			located = append(located, w)
		} else {
			rest = append(rest, w)
		}
	}
	out := governance.WhistleAudit(located, clocks, cal, now, cfg, governance.WhistleByRegion(lvl))
	for _, d := range governance.WhistleAudit(rest, clocks, cal, now, cfg, func(*governance.WhistleFacts, string) string { return unlocatedKey }) {
		d.Dept, d.OnTime.Rank = "", 0
		out = append(out, d)
	}
	return out
}

// Whistles audits the whistles of the cases first reported in q's period, per department.
func Whistles(ctx context.Context, st store.Store, tree *geo.Tree, q AuditQuery, clocks governance.Clocks, cal *calendar.Calendar, now time.Time) (*WhistlesReport, error) {
	if !q.From.Before(q.To) {
		return nil, errs.E(errs.Invalid, "period", "from must be before to")
	}
	lvl := -1
	switch q.By {
	case "", "dept":
	case "region":
		lvl = q.level()
	default:
		return nil, errs.E(errs.Invalid, "by", "by must be dept or region, got %q", q.By)
	}
	var ws, prev []governance.WhistleFacts
	var owners []int
	facts, err := caseFacts(ctx, st, tree, q, q.From, q.To, &ws, &owners)
	if err != nil {
		return nil, err
	}
	prevFrom := q.From.Add(-q.To.Sub(q.From))
	if _, err := caseFacts(ctx, st, tree, q, prevFrom, q.From, &prev, nil); err != nil {
		return nil, err
	}
	cfg := q.Config
	if cfg.MinSample <= 0 {
		cfg.MinSample = 10
	}
	rep := &WhistlesReport{From: q.From, To: q.To, MinSample: cfg.MinSample, Whistles: len(ws),
		Depts: whistleAudit(ws, clocks, cal, now, cfg, lvl), PrevFrom: prevFrom, Previous: map[string]governance.WhistleDeptStats{}}
	for _, d := range whistleAudit(prev, clocks, cal, now, cfg, lvl) {
		rep.Previous[d.Dept] = d
	}
	// A case counts when one of its whistles counts for a ranked unit (a department summoned;
	// by=region, a region at the level); else it is in the 未定位 row, or has no whistle.
	rc := reconcileCases(facts, q.unlocatedFunc())
	state := make([]int8, len(facts)) // 0 no whistle, 1 unlocated row (or no department), 2 counted
	for i, w := range ws {
		k := &state[owners[i]]
		switch {
		case lvl < 0 && len(w.Depts) > 0, lvl >= 0 && len(w.Region) > lvl:
			*k = 2
		default:
			*k = max(*k, 1)
		}
	}
	rc.Excluded["no_whistle"] = 0
	if lvl >= 0 {
		rc.Excluded["unlocated"] = 0
	}
	for _, k := range state {
		switch k {
		case 2:
			rc.Counted++
		case 1:
			if lvl >= 0 {
				rc.Excluded["unlocated"]++
			} else {
				rc.Excluded["no_dept_summoned"]++
			}
		default:
			rc.Excluded["no_whistle"]++
		}
	}
	if lvl >= 0 {
		rc.Identity = "received = counted (cases with a whistle in a region row) + excluded.unlocated (whistles in the 未定位 row only) + excluded.no_whistle"
	} else {
		rc.Identity = "received = counted (cases with a whistle that summoned a department) + excluded.no_whistle (no whistle blown)"
	}
	rep.Reconcile = rc
	return rep, nil
}

// Table is an export: a title, notes (period, definitions, sample rule) and rows under headers;
// Reconcile (核对) is the reconcile block as rows of label, figure and explanation (a footer of
// the CSV, a second sheet of the XLSX).
type Table struct {
	Title     string
	Notes     []string
	Headers   []string
	Rows      [][]string
	Reconcile [][]string
}

// ReconcileTitle heads the reconcile rows of an export.
const ReconcileTitle = "核对 reconcile"

// rows renders the reconcile block for export: label, figure, explanation.
func (r *Reconcile) rows() [][]string {
	if r == nil {
		return nil
	}
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	out := [][]string{
		{"收到 received", n(r.Received), "本期首报的工单（所查区域与类别） cases first reported in the period, under the region and of the category asked"},
		{"计入 counted", n(r.Counted), "计入各排名单位的工单 cases in the ranked units"},
	}
	reasons := map[string]string{
		"without_dept":     "未计入：无承办部门（从未派单） not counted: never dispatched",
		"unlocated":        "未计入排名：未定位（见未定位行） not ranked: unlocated (the 未定位 row)",
		"no_whistle":       "未计入：未吹哨 not counted: no whistle blown",
		"no_dept_summoned": "未计入：吹哨未召唤部门 not counted: whistles summoning no department",
	}
	keys := make([]string, 0, len(r.Excluded))
	sum := r.Counted
	for k, v := range r.Excluded {
		keys = append(keys, k)
		sum += v
	}
	slices.Sort(keys)
	for _, k := range keys {
		why := reasons[k]
		if why == "" {
			why = k
		}
		out = append(out, []string{"未计入 excluded: " + k, n(r.Excluded[k]), why})
	}
	eq := "≠"
	if sum == r.Received {
		eq = "="
	}
	out = append(out,
		[]string{"等式 identity", fmt.Sprintf("%d %s %d", r.Received, eq, sum), r.Identity},
		[]string{"未定位 unlocated", n(r.Unlocated), "报告无区域（按区域统计时：无该层级区域） report with no region (by=region: none at the level counted)"},
		[]string{"无承办部门 without department", n(r.WithoutDept), "从未派单 never dispatched"},
		[]string{"无时限 without deadline", n(r.WithoutDeadline), "末次派单无时限：计入各率，不计入按期率 last dispatch without a deadline: counted, left out of the on-time rate"})
	if rj := r.Rejected; rj != nil {
		total := ""
		if rj.Total != nil {
			total = n(*rj.Total)
		}
		out = append(out, []string{"入口拒收 rejected at ingest", total, rj.Note})
		codes := make([]string, 0, len(rj.ByCode))
		for c := range rj.ByCode {
			codes = append(codes, c)
		}
		slices.Sort(codes)
		for _, c := range codes {
			out = append(out, []string{"拒收 rejected: " + c, n(rj.ByCode[c]), ""})
		}
	}
	return out
}

func pct(v *float64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatFloat(*v*100, 'f', 1, 64) + "%"
}

func rankStr(r RateFigure) string {
	if r.Sample == "insufficient" {
		return "样本不足 / insufficient sample"
	}
	if r.Rank == nil {
		return ""
	}
	return strconv.Itoa(*r.Rank)
}

func secs(p *int64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatFloat(float64(*p)/3600, 'f', 2, 64)
}

// Table renders the rates report for export, with Chinese headers first.
func (r *RatesReport) Table(loc *time.Location) Table {
	t := Table{Title: "三率考核 Three rates",
		Notes: []string{
			fmt.Sprintf("统计期 period: %s — %s (previous 上期: %s — %s)", r.From.In(loc).Format(time.RFC3339), r.To.In(loc).Format(time.RFC3339),
				r.PrevFrom.In(loc).Format(time.RFC3339), r.From.In(loc).Format(time.RFC3339)),
			fmt.Sprintf("最小样本 minimum sample: %d; 响应时限 response window: %s", r.MinSample, r.Respond),
		},
		Headers: []string{"单位 unit", "名称 name", "工单 cases", "派单 dispatched", "响应率 response", "响应排名 rank",
			"解决率 resolution", "解决排名 rank", "满意率 satisfaction", "满意排名 rank", "按期率 on time",
			"办结时长p50(小时) close p50 h", "办结时长p90(小时) close p90 h", "上期响应率 prev response", "上期解决率 prev resolution",
			"上期满意率 prev satisfaction", "吹哨率 whistle rate", "吹哨率区间 band",
			"重复投诉 repeats", "结案后重启 closed then reopened", "不满意结案 closed unsatisfied", "无时限 without deadline"},
		Reconcile: r.Reconcile.rows()}
	for _, k := range []string{"response", "resolution", "satisfaction", "on_time", "close_time", "counting", "repeats", "fake_closure", "close_reason", "reconcile"} {
		t.Notes = append(t.Notes, RateDefinitions[k])
	}
	for _, u := range r.Units {
		c := u.Current
		name := u.Name
		if u.Unlocated {
			name = UnlocatedName
		}
		rank := rankStr
		if u.Unlocated {
			rank = func(RateFigure) string { return "不排名 / not ranked" }
		}
		row := []string{u.Unit, name, strconv.FormatInt(c.Cases, 10), strconv.FormatInt(c.Dispatched, 10),
			pct(c.Response.Value), rank(c.Response), pct(c.Resolution.Value), rank(c.Resolution),
			pct(c.Satisfaction.Value), rank(c.Satisfaction), pct(c.OnTime.Value), secs(c.CloseP50), secs(c.CloseP90)}
		if p := u.Previous; p != nil {
			row = append(row, pct(p.Response.Value), pct(p.Resolution.Value), pct(p.Satisfaction.Value))
		} else {
			row = append(row, "", "", "")
		}
		row = append(row, pct(u.WhistleRate), u.WhistleBand, strconv.FormatInt(c.Repeats, 10),
			strconv.FormatInt(c.ClosedThenReopened, 10), strconv.FormatInt(c.ClosedUnsatisfied, 10), strconv.FormatInt(c.WithoutDeadline, 10))
		t.Rows = append(t.Rows, row)
	}
	return t
}

// Table renders the whistle audit for export.
func (r *WhistlesReport) Table(loc *time.Location) Table {
	t := Table{Title: "吹哨报到考核 Whistle audit",
		Notes: []string{fmt.Sprintf("统计期 period: %s — %s; 最小样本 minimum sample: %d", r.From.In(loc).Format(time.RFC3339), r.To.In(loc).Format(time.RFC3339), r.MinSample),
			"时长自吹哨起算，最近秩 p50/p90 (小时); durations from the blowing, nearest-rank percentiles in hours",
			"按时率 on time = stages reached by their deadline ÷ stages reached or past their deadline"},
		Headers: []string{"部门 dept", "被召唤 summoned", "签收p50", "签收p90", "签收按时率 signed on time", "联系p50", "联系p90",
			"联系按时率 contacted on time", "到场p50", "到场p90", "到场按时率 arrived on time", "解决p50 resolved p50", "评哨数 evaluations", "平均分 mean score",
			"总按时率 on time", "排名 rank", "上期总按时率 previous on time"},
		Reconcile: r.Reconcile.rows()}
	for _, d := range r.Depts {
		unit := d.Dept
		if unit == "" {
			unit = UnlocatedName
		}
		row := []string{unit, strconv.FormatInt(d.Summoned, 10)}
		for _, s := range d.Stages {
			row = append(row, hours(s.P50), hours(s.P90), pct(s.OnTime.Value))
		}
		row = append(row, hours(d.Resolved.P50), strconv.FormatInt(d.Scores, 10))
		if d.MeanScore != nil {
			row = append(row, strconv.FormatFloat(*d.MeanScore, 'f', 2, 64))
		} else {
			row = append(row, "")
		}
		row = append(row, pct(d.OnTime.Value), rankStr(rateFig(d.OnTime)))
		if p, ok := r.Previous[d.Dept]; ok {
			row = append(row, pct(p.OnTime.Value))
		} else {
			row = append(row, "")
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

func hours(s int64) string {
	if s < 0 {
		return ""
	}
	return strconv.FormatFloat(float64(s)/3600, 'f', 2, 64)
}
