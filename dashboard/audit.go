package dashboard

import (
	"context"
	"slices"
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
	// Now is the deployment's time of the audit (whistle clocks, the same-age comparison).
	Now time.Time
	// Previous is the basis of the previous period's figures: PreviousSameAge (the default when
	// Now is set) or PreviousFinal.
	Previous string
	// Memo, when set, reads each period's facts once across the audits that share it
	// (audit_memo.go).
	Memo *FactMemo
}

// The bases of the previous period's figures (上期口径).
const (
	// PreviousSameAge: the previous period as it stood at the same age, its cases read with
	// the events up to Now minus the period's length, so that both periods' cases have had the
	// same time to be signed, resolved and closed.
	PreviousSameAge = "same_age"
	// PreviousFinal: the previous period with every event up to now.
	PreviousFinal = "final"
)

// previousBasis is the basis of the previous period's figures and, for the same age, the time
// up to which its events count.
func (q AuditQuery) previousBasis() (string, time.Time, error) {
	switch q.Previous {
	case "", PreviousSameAge:
		if q.Now.IsZero() {
			if q.Previous == "" {
				return PreviousFinal, time.Time{}, nil
			}
			return "", time.Time{}, errs.E(errs.Invalid, "previous", "previous=same_age needs the audit's time")
		}
		// To the minute: the audits asked within one minute (the page's rates and whistle audit,
		// its refreshes, the evaluator's next click) share one read of the previous period.
		return PreviousSameAge, q.Now.Add(-q.To.Sub(q.From)).Truncate(time.Minute), nil
	case PreviousFinal:
		return PreviousFinal, time.Time{}, nil
	}
	return "", time.Time{}, errs.E(errs.Invalid, "previous", "previous must be same_age or final, got %q", q.Previous)
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
	// DefinitionsByLang are the same definitions in one language each ("zh", "en").
	DefinitionsByLang map[string]map[string]string `json:"definitions_i18n"`
	// AsOf is the time of the audit; PreviousBasis how the previous period is compared
	// (same_age: as it stood at PreviousAsOf, the same age as this period now; final).
	AsOf          time.Time   `json:"as_of,omitzero"`
	PreviousBasis string      `json:"previous_basis"`
	PreviousAsOf  *time.Time  `json:"previous_as_of"`
	Units         []RatesUnit `json:"units"`
	Cases         int         `json:"cases"`
	// Repeats links each repeat complaint of the period to the earliest case it repeats (with
	// repeats_limit, only the newest, newest first); RepeatsTotal counts them all.
	Repeats      []RepeatLink `json:"repeats"`
	RepeatsTotal int          `json:"repeats_total"`
	Reconcile    *Reconcile   `json:"reconcile"`
	// History: how much of the period and the previous period the stored history covers
	// (absent: the store cannot tell, or holds no case).
	History *History `json:"history,omitempty"`
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
	// RegionName is that region's name.
	RegionName string `json:"region_name,omitempty"`
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
	Cases int64 `json:"cases"`
	// Open: cases with no standing closing yet (their rates may still change).
	Open         int64      `json:"open"`
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
	"previous":     "上期 previous = the period of the same length just before; by default compared at the same age (同龄): its cases count their events up to now minus the period's length, the time this period's cases have had (previous=final: every event)",
	"close_reason": "结案原因 close reasons: 未解决 not fixed = closed, never resolved (in the resolution denominator, out of on time); 重复件 duplicates, 已撤销 cancelled and 已转办 transferred away (no dispatch after the transfer; a reopening undoes these closings) are not assessed: out of the resolution, satisfaction and on-time rates, closed counts and close times, and out of the response rate when closed within the response window unsigned; a dispatch after a transfer counts for its department; a closing timed before the report has no time to close",
}

// MaxAuditCases bounds the cases one audit reads (their facts are held in memory, about half
// a kilobyte each): past it the audit is refused 413 max_rows, having held at most this many.
var MaxAuditCases = 500_000

// StoreRegion is the history store's filter for region code: the code, or "" for the tree's
// root, whose queries count every event, unlocated ones included.
func StoreRegion(tree *geo.Tree, code string) string {
	if code == tree.Root.Code {
		return ""
	}
	return code
}

// scanCases hands fn each case of q's period [from, to) with its stored records, at most
// MaxAuditCases of them. The whole tree's audit (q.Region is the tree's root) reads the
// unlocated cases too.
func scanCases(ctx context.Context, st store.Store, tree *geo.Tree, q AuditQuery, from, to time.Time, fn func(id string, recs []store.Record) error) error {
	return scanCasesOf(ctx, st, tree, q, from, to, nil, fn)
}

// scanCasesOf is scanCases over the cases of ids only (nil: all).
func scanCasesOf(ctx context.Context, st store.Store, tree *geo.Tree, q AuditQuery, from, to time.Time, ids []string, fn func(id string, recs []store.Record) error) error {
	region := q.Region
	if tree != nil {
		region = StoreRegion(tree, region)
	}
	n := 0
	return st.Cases(ctx, store.CaseQuery{Region: region, Depth: q.Depth, From: from, To: to, Category: q.Category, IDs: ids},
		func(id string, recs []store.Record) error {
			if n >= MaxAuditCases {
				return tooManyCases(q)
			}
			n++
			return fn(id, recs)
		})
}

// CaseFactsOf is factsOf without the events, for readers of the audit's facts elsewhere.
func CaseFactsOf(id string, recs []store.Record, asOf time.Time) (governance.CaseFacts, bool) {
	f, _, ok := factsOf(id, recs, asOf)
	return f, ok
}

// factsOf reads one case's facts (its place from its first report in force) and events. With
// asOf set, only the events up to asOf count (the case as it stood then), and ok is false when
// the case had not been reported by then.
func factsOf(id string, recs []store.Record, asOf time.Time) (f governance.CaseFacts, evs []event.Event, ok bool) {
	if !asOf.IsZero() {
		kept := make([]store.Record, 0, len(recs))
		for _, r := range recs {
			if !r.At.After(asOf) {
				kept = append(kept, r)
			}
		}
		recs = kept
	}
	evs = make([]event.Event, len(recs))
	reported := asOf.IsZero()
	for i, r := range recs {
		evs[i] = r.Event
		reported = reported || r.Type == event.CaseReported
	}
	if !reported {
		return f, nil, false
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
	f = governance.Facts(id, evs)
	f.Region = region
	if report != nil {
		f.Address = report.Address
		f.Lon, f.Lat, f.HasPoint = report.Lon, report.Lat, report.HasPoint
	}
	return f, evs, true
}

// factSet is what one read of a period holds: every case's facts and whistles (owners: the index
// in facts of each whistle's case) and, with an as-of time, the cases as they stood then (aged,
// agedOf: the index in facts of each) with their whistles.
type factSet struct {
	facts        []governance.CaseFacts
	whistles     []governance.WhistleFacts
	owners       []int
	aged         []governance.CaseFacts
	agedOf       []int
	agedWhistles []governance.WhistleFacts
}

// readFacts reads the facts of the cases of q's period [from, to), and with asOf set the same
// cases as they stood at asOf.
func readFacts(ctx context.Context, st store.Store, tree *geo.Tree, q AuditQuery, from, to, asOf time.Time, withWhistles bool) (*factSet, error) {
	cases, err := readCases(ctx, st, tree, q, from, to, asOf, withWhistles, nil)
	if err != nil {
		return nil, err
	}
	return flatten(cases), nil
}

// readCases appends to into the facts of the cases of q's period [from, to) (of ids only, when
// not nil), case by case, in the store's order.
func readCases(ctx context.Context, st store.Store, tree *geo.Tree, q AuditQuery, from, to, asOf time.Time, withWhistles bool, ids []string, into ...caseEntry) ([]caseEntry, error) {
	err := scanCasesOf(ctx, st, tree, q, from, to, ids, func(id string, recs []store.Record) error {
		var c caseEntry
		var evs []event.Event
		c.f, evs, _ = factsOf(id, recs, time.Time{})
		if withWhistles {
			c.ws = governance.WhistlesOf(c.f.Region, evs)
		}
		if !asOf.IsZero() {
			if c.a, evs, c.aged = factsOf(id, recs, asOf); c.aged && withWhistles {
				c.aws = governance.WhistlesOf(c.a.Region, evs)
			}
		}
		into = append(into, c)
		return nil
	})
	return into, err
}

// caseFacts reads the facts of the cases of q's period [from, to). whistles, when not nil, gets
// the cases' whistles, and owners the index in the result of each whistle's case.
func caseFacts(ctx context.Context, st store.Store, tree *geo.Tree, q AuditQuery, from, to time.Time, whistles *[]governance.WhistleFacts, owners *[]int) ([]governance.CaseFacts, error) {
	fs, err := readFactsMemo(ctx, st, tree, q, from, to, time.Time{}, whistles != nil)
	if err != nil {
		return nil, err
	}
	if whistles != nil {
		*whistles = append(*whistles, fs.whistles...)
		if owners != nil {
			*owners = append(*owners, fs.owners...)
		}
	}
	return fs.facts, nil
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
	basis, asOf, err := q.previousBasis()
	if err != nil {
		return nil, err
	}
	cur, err := caseFacts(ctx, st, tree, q, q.From, q.To, nil, nil)
	if err != nil {
		return nil, err
	}
	prevFrom := q.From.Add(-q.To.Sub(q.From))
	pfs, err := readFactsMemo(ctx, st, tree, q, prevFrom, q.From, asOf, false)
	if err != nil {
		return nil, err
	}
	prev := pfs.facts
	// Repeats are linked over both periods, so a case can repeat one of the previous period.
	all := append(append([]governance.CaseFacts(nil), prev...), cur...)
	governance.LinkRepeats(all, q.Repeat)
	copy(prev, all[:len(prev)])
	copy(cur, all[len(prev):])
	// The previous period's figures: as it stood at the same age (its repeats are earlier cases,
	// already reported then), or final.
	prevFig := prev
	if basis == PreviousSameAge {
		prevFig = pfs.aged
		for i, j := range pfs.agedOf {
			prevFig[i].RepeatOf = prev[j].RepeatOf
		}
	}
	rep := &RatesReport{From: q.From, To: q.To, PrevFrom: prevFrom, By: q.By, MinSample: cfg.MinSample,
		Respond: cfg.Respond.String(), Definitions: RateDefinitions, DefinitionsByLang: RateDefinitionsByLang,
		AsOf: q.Now, PreviousBasis: basis, Cases: len(cur), Units: []RatesUnit{}, Repeats: []RepeatLink{}}
	if basis == PreviousSameAge {
		rep.PreviousAsOf = &asOf
	}
	rep.History = PeriodHistory(ctx, st, q.zone(), q.From, q.To, prevFrom)
	for _, f := range cur {
		if f.RepeatOf != "" {
			l := RepeatLink{Case: f.ID, RepeatOf: f.RepeatOf, Reported: f.Reported, Dept: f.Dept}
			if len(f.Region) > 0 {
				l.Region = f.Region[len(f.Region)-1]
				l.RegionName = regionName(tree, l.Region)
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
	for _, u := range unitRates(prevFig, key, byRegion, cfg) {
		prevBy[u.Unit] = u
	}
	curOpen, prevOpen := openBy(cur, key, byRegion), openBy(prevFig, key, byRegion)
	rc := reconcileCases(cur, q.unlocatedFunc())
	for _, u := range unitRates(cur, key, byRegion, cfg) {
		ru := RatesUnit{Unit: u.Unit, Current: figures(u), Unlocated: byRegion && u.Unit == ""}
		ru.Current.Open = curOpen[u.Unit]
		if p, ok := prevBy[u.Unit]; ok {
			f := figures(p)
			f.Open = prevOpen[u.Unit]
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

// regionName is a region's name in tree ("" when unknown).
func regionName(tree *geo.Tree, code string) string {
	if tree == nil || code == "" {
		return ""
	}
	if r := tree.Get(code); r != nil {
		return r.Name
	}
	return ""
}

// openBy counts per unit the cases with no standing closing (by=region, the cases without a
// region at the level under "", the 未定位 row).
func openBy(facts []governance.CaseFacts, key func(*governance.CaseFacts) string, byRegion bool) map[string]int64 {
	out := map[string]int64{}
	for i := range facts {
		f := &facts[i]
		k := key(f)
		if k == "" && !byRegion {
			continue
		}
		if f.Closed.IsZero() {
			out[k]++
		}
	}
	return out
}

func figures(u governance.UnitRates) UnitFigures {
	f := UnitFigures{Cases: u.Cases, Dispatched: u.Dispatched, Closed: u.Closed, Whistles: u.Whistles,
		Repeats: u.Repeats, ClosedThenReopened: u.ClosedThenReopened, ClosedUnsatisfied: u.ClosedUnsatisfied,
		NotFixed: u.NotFixed, Duplicates: u.Duplicates, Transferred: u.Transferred, Cancelled: u.Cancelled,
		WithoutDeadline: u.WithoutDeadline, Response: RateFigureOf(u.Response), Resolution: RateFigureOf(u.Resolution), Satisfaction: RateFigureOf(u.Satisfaction), OnTime: RateFigureOf(u.OnTime)}
	if u.CloseP50 >= 0 {
		p50, p90 := u.CloseP50, u.CloseP90
		f.CloseP50, f.CloseP90 = &p50, &p90
	}
	return f
}

// RateFigureOf is a rate as the audits answer it: sample flag and rank.
func RateFigureOf(r governance.Rate) RateFigure {
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
	// Previous is the audit of the previous period of the same length, by department: as it
	// stood at PreviousAsOf (PreviousBasis same_age) or final.
	PrevFrom      time.Time                              `json:"previous_from"`
	PreviousBasis string                                 `json:"previous_basis"`
	PreviousAsOf  *time.Time                             `json:"previous_as_of"`
	Previous      map[string]governance.WhistleDeptStats `json:"previous"`
	// Names are the units' names by code (departments from the catalogue, regions from the tree).
	Names     map[string]string `json:"names,omitempty"`
	Reconcile *Reconcile        `json:"reconcile"`
	History   *History          `json:"history,omitempty"` // as RatesReport's
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
	basis, asOf, err := q.previousBasis()
	if err != nil {
		return nil, err
	}
	var ws []governance.WhistleFacts
	var owners []int
	facts, err := caseFacts(ctx, st, tree, q, q.From, q.To, &ws, &owners)
	if err != nil {
		return nil, err
	}
	prevFrom := q.From.Add(-q.To.Sub(q.From))
	pfs, err := readFactsMemo(ctx, st, tree, q, prevFrom, q.From, asOf, true)
	if err != nil {
		return nil, err
	}
	// The previous period as it stood at the same age: its whistles' clocks read at that time.
	prev, prevNow := pfs.whistles, now
	if basis == PreviousSameAge {
		prev, prevNow = pfs.agedWhistles, asOf
	}
	cfg := q.Config
	if cfg.MinSample <= 0 {
		cfg.MinSample = 10
	}
	rep := &WhistlesReport{From: q.From, To: q.To, MinSample: cfg.MinSample, Whistles: len(ws),
		Depts: whistleAudit(ws, clocks, cal, now, cfg, lvl), PrevFrom: prevFrom, PreviousBasis: basis,
		Previous: map[string]governance.WhistleDeptStats{}}
	if basis == PreviousSameAge {
		rep.PreviousAsOf = &asOf
	}
	rep.History = PeriodHistory(ctx, st, q.zone(), q.From, q.To, prevFrom)
	for _, d := range whistleAudit(prev, clocks, cal, prevNow, cfg, lvl) {
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
