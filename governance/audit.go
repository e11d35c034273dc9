package governance

import (
	"math"
	"slices"
	"sort"
	"time"

	"zhili/calendar"
	"zhili/event"
)

// The three rates (三率), as Zhili computes them. They follow the public definitions of
// Beijing's 接诉即办 scoring where the event contract carries what they need, and say where
// they differ:
//
//   - Response rate (响应率) = cases whose handling department signed (签收) within the response
//     window after dispatch ÷ cases dispatched. Beijing counts contacting the citizen in time
//     (usually within 2 hours); the contract has no "contacted" step for cases, so the
//     department's signing is the response signal. Window: AuditConfig.Respond (default 2 h).
//   - Resolution rate (解决率) = cases resolved (办结) and not reopened afterwards ÷ cases
//     dispatched. Beijing takes the citizen's own judgment at the callback ("已解决"); the
//     contract's callback carries satisfaction only, so a reopening is what undoes a resolution.
//   - Satisfaction rate (满意率) = cases closed with a "satisfied" or "basically satisfied"
//     callback ÷ cases closed with a callback result (rated). As Beijing, unrated cases are left
//     out of the denominator.
//
// Counting: a case belongs to the period of its first report, to the region of its report, and to
// the department of its last dispatch. Durations are from the first report. Close reasons:
// not_fixed is closed but never resolved; duplicates, cancelled cases and cases transferred away
// are not assessed (NotAssessed); a dispatch after a transfer counts for its department.

// DefaultMinSample is the fewest cases in a rate's denominator for the rate to be ranked or
// shown as a figure: below it a screen says 样本不足 (too few cases) instead.
const DefaultMinSample = 10

// AuditConfig configures audits.
type AuditConfig struct {
	Respond   time.Duration // response window after dispatch (default 2 h)
	MinSample int           // units with fewer cases in a rate's denominator are not ranked on it (default 10)
}

func (c AuditConfig) withDefaults() AuditConfig {
	if c.Respond <= 0 {
		c.Respond = 2 * time.Hour
	}
	if c.MinSample <= 0 {
		c.MinSample = DefaultMinSample
	}
	return c
}

// CaseFacts is what the audits need of one case.
type CaseFacts struct {
	ID           string
	Region       []string // of its report
	Category     string
	Dept         string // of its last dispatch ("" when never dispatched)
	Reported     time.Time
	Dispatched   time.Time // last dispatch
	Deadline     time.Time // of the last dispatch
	Signed       time.Time // first signing after the last dispatch
	Resolved     time.Time // last resolution
	Closed       time.Time // last closing (zero again after a transfer followed by a dispatch)
	Satisfaction string    // of the last closing
	CloseReason  string    // of the last case.closed: "" (fixed), not_fixed, duplicate, transferred, cancelled
	CategoryText string    // the source's wording of the category, from the first report
	Reopened     bool      // reopened after its last resolution or closing
	Whistles     int
	// Fake-closure signs (虚假办结): closed and later reopened; closed with an unsatisfied callback.
	ClosedThenReopened bool
	ClosedUnsatisfied  bool
	// For repeat detection (set by the caller from the stored report).
	Address  string
	Lon, Lat float64
	HasPoint bool
	RepeatOf string // the earliest case this one repeats (LinkRepeats)
}

// Facts reads a case's events (sorted or not, applied in ApplyOrder) into the facts the audits
// count. An event superseded by a correction is left out: the correction counts in its stead.
func Facts(caseID string, evs []event.Event) CaseFacts {
	evs, _ = ApplyOrder(event.Live(evs))
	f := CaseFacts{ID: caseID}
	for _, e := range evs {
		switch e.Type {
		case event.CaseReported:
			if f.Reported.IsZero() {
				f.Reported, f.Category, f.Region, f.CategoryText = e.At, e.Category, nil, e.CategoryText
			}
		case event.CaseDispatched:
			if !f.Closed.IsZero() && f.CloseReason == event.CloseTransferred {
				// Transferred to this dispatch's department: the hand-over was no closing, and
				// a resolution before it is not this department's.
				f.Closed, f.Satisfaction, f.Resolved = time.Time{}, "", time.Time{}
			}
			f.Dispatched, f.Dept, f.Signed = e.At, e.Dept, time.Time{}
			f.Deadline = time.Time{}
			if e.Deadline != nil {
				f.Deadline = *e.Deadline
			}
		case event.CaseSigned:
			if f.Signed.IsZero() && !f.Dispatched.IsZero() {
				f.Signed = e.At
			}
		case event.CaseResolved:
			f.Resolved, f.Reopened = e.At, false
		case event.CaseClosed:
			f.Closed, f.Satisfaction, f.Reopened, f.CloseReason = e.At, e.Satisfaction, false, e.CloseReason
			if e.Satisfaction == "unsatisfied" && closure(e.CloseReason) {
				f.ClosedUnsatisfied = true
			}
		case event.CaseReopened:
			if !f.Resolved.IsZero() || !f.Closed.IsZero() {
				f.Reopened = true
			}
			if !f.Closed.IsZero() && f.CloseReason != event.CloseTransferred {
				f.ClosedThenReopened = true
			}
			if !f.Closed.IsZero() && !closure(f.CloseReason) {
				// Undoes a closing that took the case out of the assessment.
				f.Closed, f.Satisfaction = time.Time{}, ""
			}
		case event.WhistleBlown:
			f.Whistles++
		}
	}
	return f
}

// Rate is a ratio with its sample.
type Rate struct {
	Num    int64    `json:"num"`
	Den    int64    `json:"den"`
	Value  *float64 `json:"value"`  // nil when Den is 0
	Enough bool     `json:"enough"` // Den ≥ MinSample: rankable
	Rank   int      `json:"rank"`   // among units of the same kind with Enough samples (1 = best); 0 = not ranked
}

func rate(num, den int64, min int) Rate {
	r := Rate{Num: num, Den: den, Enough: den >= int64(min)}
	if den > 0 {
		v := float64(num) / float64(den)
		r.Value = &v
	}
	return r
}

// UnitRates are the audit figures of one unit (a department or a region).
type UnitRates struct {
	Unit               string
	Cases              int64
	Dispatched         int64
	Response           Rate
	Resolution         Rate
	Satisfaction       Rate
	OnTime             Rate  // resolved by the deadline ÷ resolved cases with a deadline
	WithoutDeadline    int64 // dispatched cases whose last dispatch has no deadline: counted, left out of OnTime
	CloseP50           int64 // seconds from first report to closing, nearest-rank percentiles; -1 = no closed case
	CloseP90           int64
	Closed             int64
	Whistles           int64
	Repeats            int64 // cases repeating an earlier one (same place and category)
	ClosedThenReopened int64
	ClosedUnsatisfied  int64
	// Cases by the reason of the closing they ended with (docs/GOVERNANCE.md): NotFixed are
	// closed and counted, the others are not assessed (NotAssessed).
	NotFixed, Duplicates, Transferred, Cancelled int64
}

// NotAssessed tells a case whose closing stands and takes it out of the assessment: a
// duplicate, a cancelled case, or one transferred away with no dispatch after the transfer.
func NotAssessed(f *CaseFacts) bool {
	if f.Closed.IsZero() {
		return false
	}
	switch f.CloseReason {
	case event.CloseDuplicate, event.CloseCancelled, event.CloseTransferred:
		return true
	}
	return false
}

// Rates computes the audit of facts grouped by key (which unit a case counts for; "" skips it),
// ranked within the result on each rate (higher is better), units sorted by name.
func Rates(facts []CaseFacts, key func(*CaseFacts) string, cfg AuditConfig) []UnitRates {
	cfg = cfg.withDefaults()
	type acc struct {
		cases, disp, resp, res, rated, sat, withDL, onTime, whistles int64
		repeats, reopened, unsatisfied, noDL                         int64
		respDen, resDen, closed                                      int64
		byReason                                                     map[string]int64
		closeSecs                                                    []int64
	}
	by := map[string]*acc{}
	for i := range facts {
		f := &facts[i]
		k := key(f)
		if k == "" {
			continue
		}
		a := by[k]
		if a == nil {
			a = &acc{byReason: map[string]int64{}}
			by[k] = a
		}
		a.cases++
		skip := NotAssessed(f)
		notFixed := !f.Closed.IsZero() && f.CloseReason == event.CloseNotFixed
		if !f.Closed.IsZero() {
			a.byReason[f.CloseReason]++
		}
		a.whistles += int64(f.Whistles)
		if f.RepeatOf != "" {
			a.repeats++
		}
		if f.ClosedThenReopened {
			a.reopened++
		}
		if f.ClosedUnsatisfied {
			a.unsatisfied++
		}
		if !f.Dispatched.IsZero() {
			a.disp++
			responded := !f.Signed.IsZero() && f.Signed.Sub(f.Dispatched) <= cfg.Respond
			// A case not assessed stays in the response rate when its department had its
			// whole window (or signed in it) before the closing.
			if !skip || responded || !f.Closed.Before(f.Dispatched.Add(cfg.Respond)) {
				a.respDen++
				if responded {
					a.resp++
				}
			}
			if !skip {
				a.resDen++
			}
			if !skip && !notFixed && !f.Resolved.IsZero() && !f.Reopened {
				a.res++
			}
			if f.Deadline.IsZero() {
				a.noDL++
			}
			if !skip && !notFixed && !f.Resolved.IsZero() && !f.Deadline.IsZero() {
				a.withDL++
				if !f.Resolved.After(f.Deadline) {
					a.onTime++
				}
			}
		}
		if !f.Closed.IsZero() && !skip {
			a.closed++
			if !f.Closed.Before(f.Reported) { // a closing before the report has no time to close
				a.closeSecs = append(a.closeSecs, int64(f.Closed.Sub(f.Reported)/time.Second))
			}
			if f.Satisfaction != "" {
				a.rated++
				if f.Satisfaction == "satisfied" || f.Satisfaction == "basically" {
					a.sat++
				}
			}
		}
	}
	out := make([]UnitRates, 0, len(by))
	for k, a := range by {
		u := UnitRates{Unit: k, Cases: a.cases, Dispatched: a.disp, Closed: a.closed, Whistles: a.whistles,
			Repeats: a.repeats, ClosedThenReopened: a.reopened, ClosedUnsatisfied: a.unsatisfied, WithoutDeadline: a.noDL,
			NotFixed: a.byReason[event.CloseNotFixed], Duplicates: a.byReason[event.CloseDuplicate],
			Transferred: a.byReason[event.CloseTransferred], Cancelled: a.byReason[event.CloseCancelled],
			Response: rate(a.resp, a.respDen, cfg.MinSample), Resolution: rate(a.res, a.resDen, cfg.MinSample),
			Satisfaction: rate(a.sat, a.rated, cfg.MinSample), OnTime: rate(a.onTime, a.withDL, cfg.MinSample)}
		u.CloseP50, u.CloseP90 = Percentile(a.closeSecs, 50), Percentile(a.closeSecs, 90)
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b UnitRates) int {
		switch {
		case a.Unit < b.Unit:
			return -1
		case a.Unit > b.Unit:
			return 1
		}
		return 0
	})
	for _, get := range []func(*UnitRates) *Rate{
		func(u *UnitRates) *Rate { return &u.Response }, func(u *UnitRates) *Rate { return &u.Resolution },
		func(u *UnitRates) *Rate { return &u.Satisfaction }, func(u *UnitRates) *Rate { return &u.OnTime },
	} {
		rankOn(out, get)
	}
	return out
}

// rankOn ranks units with enough sample on one rate, higher first; ties share a rank.
func rankOn(us []UnitRates, get func(*UnitRates) *Rate) {
	var idx []int
	for i := range us {
		if r := get(&us[i]); r.Enough && r.Value != nil {
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(a, b int) bool { return *get(&us[idx[a]]).Value > *get(&us[idx[b]]).Value })
	for n, i := range idx {
		r := get(&us[i])
		if n > 0 && *r.Value == *get(&us[idx[n-1]]).Value {
			r.Rank = get(&us[idx[n-1]]).Rank
		} else {
			r.Rank = n + 1
		}
	}
}

// Percentile is the nearest-rank p-th percentile of xs (sorted or not): the smallest value with
// at least p % of the values at or below it. -1 for no values.
func Percentile(xs []int64, p float64) int64 {
	if len(xs) == 0 {
		return -1
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	k := int(math.Ceil(p / 100 * float64(len(s))))
	return s[max(k, 1)-1]
}

// WhistleStageStats are one department's figures for one stage of its answers.
type WhistleStageStats struct {
	Stage  Stage `json:"stage"`
	Count  int64 `json:"count"`   // answers that reached the stage
	OnTime Rate  `json:"on_time"` // reached by the deadline ÷ summoned (reached or not, once the deadline passed)
	P50    int64 `json:"p50_s"`   // seconds from blowing, nearest rank; -1 = none
	P90    int64 `json:"p90_s"`
}

// WhistleDeptStats is the whistle audit of one department.
type WhistleDeptStats struct {
	Dept      string              `json:"dept"`
	Summoned  int64               `json:"summoned"`
	Stages    []WhistleStageStats `json:"stages"`
	Resolved  WhistleStageStats   `json:"resolved"` // blown → resolved, over the whistles it was summoned to
	Scores    int64               `json:"scores"`   // evaluations counted (the latest per whistle)
	MeanScore *float64            `json:"mean_score"`
	// OnTime is the share of all its stages reached by their deadline (over stages reached or
	// past their deadline); departments are ranked on it when the sample is large enough.
	OnTime Rate `json:"on_time"`
}

// WhistleByDept counts an answer for its department.
func WhistleByDept(_ *WhistleFacts, dept string) string { return dept }

// WhistleByRegion counts an answer for the whistle's region at depth level.
func WhistleByRegion(level int) func(*WhistleFacts, string) string {
	return func(w *WhistleFacts, _ string) string {
		if len(w.Region) > level {
			return w.Region[level]
		}
		return ""
	}
}

// WhistleFacts is one whistle as the audit reads it.
type WhistleFacts struct {
	ID, Kind  string
	Region    []string
	Blown     time.Time
	Resolved  time.Time
	Depts     []string
	Reached   map[string]map[Stage]time.Time
	LastScore map[string]int
}

// WhistlesOf reads the whistles of a case's events.
func WhistlesOf(region []string, evs []event.Event) []WhistleFacts {
	evs = append([]event.Event(nil), evs...)
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].At.Before(evs[j].At) })
	by := map[string]*WhistleFacts{}
	var order []string
	for _, e := range evs {
		if e.WhistleID == "" {
			continue
		}
		w := by[e.WhistleID]
		if w == nil {
			w = &WhistleFacts{ID: e.WhistleID, Region: region, Reached: map[string]map[Stage]time.Time{}, LastScore: map[string]int{}}
			by[e.WhistleID] = w
			order = append(order, e.WhistleID)
		}
		add := func(d string) {
			if d != "" && !slices.Contains(w.Depts, d) {
				w.Depts = append(w.Depts, d)
			}
		}
		switch e.Type {
		case event.WhistleBlown:
			if w.Blown.IsZero() {
				w.Blown, w.Kind = e.At, e.WhistleKind
			}
			for _, d := range e.Depts {
				add(d)
			}
		case event.WhistleAnswered:
			add(e.Dept)
			if w.Reached[e.Dept] == nil {
				w.Reached[e.Dept] = map[Stage]time.Time{}
			}
			if _, ok := w.Reached[e.Dept][Stage(e.Stage)]; !ok {
				w.Reached[e.Dept][Stage(e.Stage)] = e.At
			}
		case event.WhistleResolved:
			if w.Resolved.IsZero() {
				w.Resolved = e.At
			}
		case event.WhistleEvaluated:
			add(e.Dept)
			w.LastScore[e.Dept] = e.Score // events are in time order: the latest wins (a correction)
		}
	}
	out := make([]WhistleFacts, 0, len(order))
	for _, id := range order {
		if w := by[id]; !w.Blown.IsZero() {
			out = append(out, *w)
		}
	}
	return out
}

// WhistleAudit computes per department: for each stage, how many reached it, the share reached
// by the deadline (a stage still open before its deadline is not counted yet), and the
// durations from blowing; blown → resolved; the evaluations.
//
// unit names the unit a summoned department's answer on a whistle counts for: nil = the
// department (WhistleByDept); WhistleByRegion(level) = the whistle's region at that depth (the
// township that blew it). A whistle's resolution counts once per unit.
func WhistleAudit(ws []WhistleFacts, clocks Clocks, cal *calendar.Calendar, now time.Time, cfg AuditConfig, unit func(w *WhistleFacts, dept string) string) []WhistleDeptStats {
	cfg = cfg.withDefaults()
	if unit == nil {
		unit = WhistleByDept
	}
	type stageAcc struct {
		durs            []int64
		onTime, counted int64
	}
	type acc struct {
		summoned int64
		stages   map[Stage]*stageAcc
		resolved stageAcc
		scores   []int
	}
	by := map[string]*acc{}
	for wi := range ws {
		w := &ws[wi]
		resolvedFor := map[string]bool{}
		for _, d := range w.Depts {
			u := unit(w, d)
			if u == "" {
				continue
			}
			a := by[u]
			if a == nil {
				a = &acc{stages: map[Stage]*stageAcc{}}
				by[u] = a
			}
			a.summoned++
			sc, err := clocks.Status(cal, w.Kind, w.Blown, w.Reached[d], now)
			if err == nil {
				for _, c := range sc {
					sa := a.stages[c.Stage]
					if sa == nil {
						sa = &stageAcc{}
						a.stages[c.Stage] = sa
					}
					if !c.Reached.IsZero() {
						sa.durs = append(sa.durs, int64(c.Reached.Sub(w.Blown)/time.Second))
					}
					if !c.Reached.IsZero() || c.Late {
						sa.counted++
						if !c.Late {
							sa.onTime++
						}
					}
				}
			}
			if !w.Resolved.IsZero() && !resolvedFor[u] {
				resolvedFor[u] = true
				a.resolved.durs = append(a.resolved.durs, int64(w.Resolved.Sub(w.Blown)/time.Second))
			}
			if s, ok := w.LastScore[d]; ok {
				a.scores = append(a.scores, s)
			}
		}
	}
	out := make([]WhistleDeptStats, 0, len(by))
	for d, a := range by {
		st := WhistleDeptStats{Dept: d, Summoned: a.summoned, Scores: int64(len(a.scores))}
		for _, s := range Stages {
			sa := a.stages[s]
			if sa == nil {
				sa = &stageAcc{}
			}
			st.Stages = append(st.Stages, WhistleStageStats{Stage: s, Count: int64(len(sa.durs)),
				OnTime: rate(sa.onTime, sa.counted, cfg.MinSample), P50: Percentile(sa.durs, 50), P90: Percentile(sa.durs, 90)})
		}
		var on, cnt int64
		for _, s := range Stages {
			if sa := a.stages[s]; sa != nil {
				on, cnt = on+sa.onTime, cnt+sa.counted
			}
		}
		st.OnTime = rate(on, cnt, cfg.MinSample)
		st.Resolved = WhistleStageStats{Stage: "resolved", Count: int64(len(a.resolved.durs)),
			P50: Percentile(a.resolved.durs, 50), P90: Percentile(a.resolved.durs, 90)}
		if len(a.scores) > 0 {
			sum := 0
			for _, s := range a.scores {
				sum += s
			}
			m := float64(sum) / float64(len(a.scores))
			st.MeanScore = &m
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b WhistleDeptStats) int {
		if a.Dept < b.Dept {
			return -1
		}
		if a.Dept > b.Dept {
			return 1
		}
		return 0
	})
	var idx []int
	for i := range out {
		if out[i].OnTime.Enough && out[i].OnTime.Value != nil {
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(a, b int) bool { return *out[idx[a]].OnTime.Value > *out[idx[b]].OnTime.Value })
	for n, i := range idx {
		if n > 0 && *out[i].OnTime.Value == *out[idx[n-1]].OnTime.Value {
			out[i].OnTime.Rank = out[idx[n-1]].OnTime.Rank
		} else {
			out[i].OnTime.Rank = n + 1
		}
	}
	return out
}
