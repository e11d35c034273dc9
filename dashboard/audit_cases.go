package dashboard

import (
	"cmp"
	"context"
	"slices"
	"time"

	"zhili/calendar"
	"zhili/errs"
	"zhili/geo"
	"zhili/governance"
	"zhili/store"
)

// CasesQuery asks for the cases behind one unit's row of an audit, in the audit's period (q.From,
// q.To; q.Now the time of the clocks): the rates audit's (the cases the unit's rates count) or
// the whistle audit's (the cases with a whistle whose answer counts for the unit).
type CasesQuery struct {
	AuditQuery
	Audit string // "rates" (default) or "whistles"
	// Unit is the row's code: a department (by=dept) or a region at the level (by=region);
	// "" is, by=dept, the cases never dispatched and, by=region, the 未定位 row.
	Unit string
	// Sort: "reported" (newest first, the default), "sign" (dispatch → signing), "close" (report
	// → closing) or "arrive" (whistle blown → arrival, 到场报到), longest first; a step not
	// reached yet counts its time so far, so the cases still waiting rank with the slow ones.
	Sort string
	// Late keeps only the cases late on a clock: signed out of the response window, resolved
	// past the deadline or still open past it, a whistle stage reached late or open past it.
	Late          bool
	Limit, Offset int
}

// MaxCasesLimit bounds the rows of one page of a unit's cases.
const MaxCasesLimit = 200

// CasesReport is one page of a unit's cases.
type CasesReport struct {
	From          time.Time `json:"from"`
	To            time.Time `json:"to"`
	AsOf          time.Time `json:"as_of"`
	By            string    `json:"by"`
	Audit         string    `json:"audit"`
	Unit          string    `json:"unit"`
	Name          string    `json:"name,omitempty"`
	Sort          string    `json:"sort"`
	Late          bool      `json:"late_only"`
	RespondWindow string    `json:"respond_window"`
	// Total is how many cases the unit's row holds (with late_only, how many of them are late);
	// Rows are those from Offset, at most Limit.
	Total  int       `json:"total"`
	Offset int       `json:"offset"`
	Limit  int       `json:"limit"`
	Rows   []CaseRow `json:"rows"`
	// Definitions say what each column counts, in one language each ("zh", "en").
	Definitions map[string]map[string]string `json:"definitions_i18n"`
}

// CaseRow is one case as the audit counts it.
type CaseRow struct {
	Case        string            `json:"case_id"`
	Reported    time.Time         `json:"reported"`
	Category    string            `json:"category"`
	Region      string            `json:"region,omitempty"` // the deepest region of its report
	RegionName  string            `json:"region_name,omitempty"`
	Dept        string            `json:"dept,omitempty"` // of its last dispatch
	Status      governance.Status `json:"status"`
	CloseReason string            `json:"close_reason,omitempty"`
	// NotAssessed: closed as a duplicate, cancelled or transferred away (out of most rates).
	NotAssessed bool       `json:"not_assessed,omitempty"`
	Dispatched  *time.Time `json:"dispatched"` // last dispatch
	Deadline    *time.Time `json:"deadline"`   // of the last dispatch
	Signed      *time.Time `json:"signed"`
	// SignS: last dispatch → signing, seconds. Responded: signed within the response window;
	// null when the case is not in the unit's response rate (never dispatched, or not assessed
	// and closed unsigned within the window).
	SignS     *int64     `json:"sign_s"`
	Responded *bool      `json:"responded"`
	Resolved  *time.Time `json:"resolved"`
	// OnTime: resolved by the deadline; null when the case is not in the on-time rate (not
	// resolved, no deadline, not fixed or not assessed). Overdue: still unresolved and open
	// past its deadline.
	OnTime  *bool      `json:"on_time"`
	Overdue bool       `json:"overdue"`
	Closed  *time.Time `json:"closed"`
	// CloseS: first report → closing, seconds (null when not closed, not assessed, or closed
	// before its report).
	CloseS       *int64        `json:"close_s"`
	Satisfaction string        `json:"satisfaction,omitempty"`
	Flags        []string      `json:"flags"`
	Whistles     []CaseWhistle `json:"whistles"`

	key time.Duration // the sort key (longest first); -1: none
}

// CaseWhistle is one summoned department's answer to a whistle on the case.
type CaseWhistle struct {
	Whistle string    `json:"whistle_id"`
	Kind    string    `json:"kind"`
	Blown   time.Time `json:"blown"`
	// Resolved: when the whistle was resolved (its clocks stop then).
	Resolved *time.Time              `json:"resolved"`
	Dept     string                  `json:"dept"`
	Stages   []governance.StageClock `json:"stages"`
	// ArriveS: blown → arrived (到场, the 报到), seconds; null when not arrived yet.
	ArriveS *int64 `json:"arrive_s"`
	// Late: a stage reached after its deadline, or still open past it.
	Late bool `json:"late"`
}

// CaseDefinitions say what the columns of a unit's cases count.
var CaseDefinitions = map[string]map[string]string{
	"zh": {
		"rows":    "按统计单位列出本期首报的工单：三率考核为计入该单位的工单（按部门为末次派单部门），吹哨考核为有吹哨计入该单位的工单。",
		"sign":    "签收用时：末次派单至签收；响应时限内签收为按时。未签收的显示已等待时长。",
		"arrive":  "到场（报到）用时：吹哨至被召唤部门到场；逾到场时限为超时。未到场的显示已等待时长。",
		"close":   "办结时长：首次上报至结案。按期：末次派单时限内办结；未办结且已过时限为超时未办结；无时限或未参与考核的不计。",
		"status":  "状态：工单当前所处环节；结案原因为重复件、已撤销或已转办的不参与考核。",
		"waiting": "排序时，尚未签收、到场或结案的工单按至今已用时长计，与最慢的一同排在前面。",
	},
	"en": {
		"rows":    "The cases first reported in the period that a unit's row counts: for the three rates, the cases counted for the unit (by department, the department of the last dispatch); for the whistle audit, the cases with a whistle counted for the unit.",
		"sign":    "Time to sign: last dispatch to signing; signed within the response window is on time. Cases not signed yet show how long they have waited.",
		"arrive":  "Time to arrive (report in): whistle blown to the summoned department's arrival; past the arrival deadline is late. Departments not arrived yet show how long they have waited.",
		"close":   "Time to close: first report to closing. On time: resolved by the last dispatch's deadline; still unresolved past it is overdue; cases without a deadline or not assessed are left out.",
		"status":  "Status: where the case stands now; cases closed as duplicate, cancelled or transferred away are not assessed.",
		"waiting": "In sorting, cases not yet signed, arrived or closed count the time so far and rank with the slowest.",
	},
}

// UnitCases lists the cases of one unit's row of an audit, a page at a time.
func UnitCases(ctx context.Context, st store.Store, tree *geo.Tree, q CasesQuery, clocks governance.Clocks, cal *calendar.Calendar) (*CasesReport, error) {
	if !q.From.Before(q.To) {
		return nil, errs.E(errs.Invalid, "period", "from must be before to")
	}
	if q.By == "" {
		q.By = "dept"
	}
	key, err := q.keyFunc()
	if err != nil {
		return nil, err
	}
	switch q.Audit {
	case "":
		q.Audit = "rates"
	case "rates", "whistles":
	default:
		return nil, errs.E(errs.Invalid, "audit", "audit must be rates or whistles, got %q", q.Audit)
	}
	switch q.Sort {
	case "":
		q.Sort = "reported"
	case "reported", "sign", "close", "arrive":
	default:
		return nil, errs.E(errs.Invalid, "sort", "sort must be reported, sign, close or arrive, got %q", q.Sort)
	}
	switch {
	case q.Limit == 0:
		q.Limit = 50
	case q.Limit < 0 || q.Limit > MaxCasesLimit:
		return nil, errs.E(errs.Invalid, "limit", "limit must be 1 to %d", MaxCasesLimit)
	}
	if q.Offset < 0 {
		return nil, errs.E(errs.Invalid, "offset", "offset must not be negative")
	}
	cfg := q.Config
	if cfg.Respond <= 0 {
		cfg.Respond = 2 * time.Hour
	}
	now := q.Now
	if now.IsZero() {
		now = time.Now()
	}
	byRegion, lvl := q.By == "region", q.level()
	// unitOfWhistle is the unit a summoned department's answer counts for (the whistle audit's).
	unitOfWhistle := func(region []string, dept string) string {
		if !byRegion {
			return dept
		}
		if len(region) > lvl {
			return region[lvl]
		}
		return ""
	}
	rep := &CasesReport{From: q.From, To: q.To, AsOf: now, By: q.By, Audit: q.Audit, Unit: q.Unit, Sort: q.Sort, Late: q.Late,
		RespondWindow: cfg.Respond.String(), Offset: q.Offset, Limit: q.Limit, Rows: []CaseRow{}, Definitions: CaseDefinitions}
	var rows []CaseRow
	err = scanCases(ctx, st, tree, q.AuditQuery, q.From, q.To, func(id string, recs []store.Record) error {
		f, evs, _ := factsOf(id, recs, time.Time{})
		var answers []governance.WhistleFacts // the whistles that count for the unit
		if q.Audit == "whistles" {
			for _, w := range governance.WhistlesOf(f.Region, evs) {
				for _, d := range w.Depts {
					if unitOfWhistle(w.Region, d) == q.Unit && (byRegion || d != "") {
						answers = append(answers, w)
						break
					}
				}
			}
			if len(answers) == 0 {
				return nil
			}
		} else if key(&f) != q.Unit {
			return nil
		}
		tl := governance.Fold(evs, clocks, cal, now)
		r := caseRow(&f, tl, cfg, now, tree)
		for _, w := range tl.Whistles {
			if q.Audit == "whistles" && !slices.ContainsFunc(answers, func(a governance.WhistleFacts) bool { return a.ID == w.ID }) {
				continue
			}
			depts := make([]string, 0, len(w.Depts))
			for d := range w.Depts {
				if q.Audit != "whistles" || unitOfWhistle(f.Region, d) == q.Unit {
					depts = append(depts, d)
				}
			}
			slices.Sort(depts)
			for _, d := range depts {
				cw := CaseWhistle{Whistle: w.ID, Kind: w.Kind, Blown: w.Blown, Dept: d, Stages: w.Depts[d]}
				if !w.Resolved.IsZero() {
					res := w.Resolved
					cw.Resolved = &res
				}
				for _, sc := range cw.Stages {
					cw.Late = cw.Late || sc.Late
					if sc.Stage == governance.Arrived && !sc.Reached.IsZero() {
						s := int64(sc.Reached.Sub(w.Blown) / time.Second)
						cw.ArriveS = &s
					}
				}
				r.Whistles = append(r.Whistles, cw)
			}
		}
		r.key = sortKey(&r, q.Sort, now)
		if q.Late && !r.late() {
			return nil
		}
		rows = append(rows, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(rows, func(a, b CaseRow) int {
		if c := cmp.Compare(b.key, a.key); c != 0 && q.Sort != "reported" {
			return c
		}
		if c := b.Reported.Compare(a.Reported); c != 0 {
			return c
		}
		return cmp.Compare(a.Case, b.Case)
	})
	rep.Total = len(rows)
	if q.Offset < len(rows) {
		rep.Rows = rows[q.Offset:min(len(rows), q.Offset+q.Limit)]
	}
	return rep, nil
}

// caseRow is a case's row from its facts (as the rates count them) and its timeline.
func caseRow(f *governance.CaseFacts, tl governance.Timeline, cfg governance.AuditConfig, now time.Time, tree *geo.Tree) CaseRow {
	at := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	r := CaseRow{Case: f.ID, Reported: f.Reported, Category: f.Category, Dept: f.Dept, Status: tl.Status,
		CloseReason: tl.CloseReason, NotAssessed: governance.NotAssessed(f), Dispatched: at(f.Dispatched),
		Deadline: at(f.Deadline), Signed: at(f.Signed), Resolved: at(f.Resolved), Closed: at(f.Closed),
		Satisfaction: f.Satisfaction, Flags: tl.Flags, Whistles: []CaseWhistle{}}
	if r.Flags == nil {
		r.Flags = []string{}
	}
	if len(f.Region) > 0 {
		r.Region = f.Region[len(f.Region)-1]
		r.RegionName = regionName(tree, r.Region)
	}
	// As governance.Rates counts them.
	if !f.Dispatched.IsZero() {
		responded := !f.Signed.IsZero() && f.Signed.Sub(f.Dispatched) <= cfg.Respond
		if !f.Signed.IsZero() {
			s := int64(f.Signed.Sub(f.Dispatched) / time.Second)
			r.SignS = &s
		}
		if !r.NotAssessed || responded || !f.Closed.Before(f.Dispatched.Add(cfg.Respond)) {
			r.Responded = &responded
		}
	}
	notFixed := !f.Closed.IsZero() && f.CloseReason == "not_fixed"
	if !r.NotAssessed && !notFixed && !f.Resolved.IsZero() && !f.Deadline.IsZero() {
		ok := !f.Resolved.After(f.Deadline)
		r.OnTime = &ok
	}
	r.Overdue = !f.Deadline.IsZero() && f.Resolved.IsZero() && f.Closed.IsZero() && now.After(f.Deadline)
	if !f.Closed.IsZero() && !r.NotAssessed && !f.Closed.Before(f.Reported) {
		s := int64(f.Closed.Sub(f.Reported) / time.Second)
		r.CloseS = &s
	}
	return r
}

// late reports whether the case is late on any clock the row shows.
func (r *CaseRow) late() bool {
	if r.Responded != nil && !*r.Responded || r.OnTime != nil && !*r.OnTime || r.Overdue {
		return true
	}
	for _, w := range r.Whistles {
		if w.Late {
			return true
		}
	}
	return false
}

// sortKey is the row's duration for a sort (a step not reached yet: its time so far), -1 none.
func sortKey(r *CaseRow, by string, now time.Time) time.Duration {
	switch by {
	case "sign":
		switch {
		case r.Dispatched == nil:
			return -1
		case r.Signed != nil:
			return r.Signed.Sub(*r.Dispatched)
		case r.Closed != nil:
			return -1 // closed without signing: not waiting
		}
		return now.Sub(*r.Dispatched)
	case "close":
		switch {
		case r.CloseS != nil:
			return time.Duration(*r.CloseS) * time.Second
		case r.Closed == nil:
			return now.Sub(r.Reported)
		}
		return -1
	case "arrive":
		k := time.Duration(-1)
		for _, w := range r.Whistles {
			end := now
			if w.Resolved != nil && w.Resolved.Before(now) {
				end = *w.Resolved // the clocks stop at the whistle's resolution
			}
			d := end.Sub(w.Blown)
			if w.ArriveS != nil {
				d = time.Duration(*w.ArriveS) * time.Second
			}
			k = max(k, d)
		}
		return k
	}
	return -1
}
