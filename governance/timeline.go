package governance

import (
	"sort"
	"strings"
	"time"

	"zhili/calendar"
	"zhili/event"
)

// Status is a case's state in its lifecycle (工单状态).
type Status string

const (
	Reported   Status = "reported"   // 上报
	Accepted   Status = "accepted"   // 受理
	Dispatched Status = "dispatched" // 派单
	SignedS    Status = "signed"     // 签收
	Returned   Status = "returned"   // 退单: back at the center
	Resolved   Status = "resolved"   // 办结
	Closed     Status = "closed"     // 结案
	Reopened   Status = "reopened"   // 重启
	Duplicate  Status = "duplicate"  // 重复件
)

// statusOf is the status a case event moves the case to ("" for events that do not).
var statusOf = map[event.Type]Status{
	event.CaseReported: Reported, event.CaseAccepted: Accepted, event.CaseDispatched: Dispatched,
	event.CaseSigned: SignedS, event.CaseReturned: Returned, event.CaseResolved: Resolved,
	event.CaseClosed: Closed, event.CaseReopened: Reopened, event.CaseDuplicate: Duplicate,
}

// legal lists the statuses each status may move to. A further case.reported (a repeat report
// of the same case) is legal from any status and does not change it.
var legal = map[Status][]Status{
	Reported:   {Accepted, Dispatched, Duplicate, Closed},
	Accepted:   {Dispatched, Duplicate, Closed},
	Dispatched: {Dispatched, SignedS, Returned, Resolved},
	SignedS:    {Dispatched, Returned, Resolved},
	Returned:   {Accepted, Dispatched, Closed, Duplicate},
	Resolved:   {Closed, Reopened},
	Closed:     {Reopened},
	Reopened:   {Accepted, Dispatched, Resolved, Closed},
	Duplicate:  {Reopened},
}

// Step is one case event in the timeline, with the status it found and the one it left.
type Step struct {
	ID          string     `json:"id"`
	Type        event.Type `json:"type"`
	At          time.Time  `json:"at"`
	Dept        string     `json:"dept,omitempty"`
	From        Status     `json:"from,omitempty"`
	To          Status     `json:"to"`
	Legal       bool       `json:"legal"`
	Reason      string     `json:"reason,omitempty"`       // why a step is flagged
	CloseReason string     `json:"close_reason,omitempty"` // of a case.closed: "" = fixed
	// Supersedes is the event this one corrects (it is applied in its stead); SupersededBy the
	// correction of this one, which is then kept in the timeline but not applied (From = To).
	Supersedes   string `json:"supersedes,omitempty"`
	SupersededBy string `json:"superseded_by,omitempty"`
}

// CaseClock is a dispatch's deadline as it ran.
type CaseClock struct {
	Dept       string    `json:"dept,omitempty"`
	Dispatched time.Time `json:"dispatched"`
	Deadline   time.Time `json:"deadline"`
	Ended      time.Time `json:"ended,omitzero"` // resolved, returned, re-dispatched or closed
	EndedBy    string    `json:"ended_by,omitempty"`
	Late       bool      `json:"late"` // ended after the deadline, or still running past it
	Overdue    int64     `json:"overdue_s,omitempty"`
}

// Timeline is a case's history as the governance rules read it.
type Timeline struct {
	Status Status `json:"status"`
	// CloseReason is the close_reason of the closing that left the case closed ("" = fixed, or
	// not closed).
	CloseReason string `json:"close_reason,omitempty"`
	// CategoryText is the source system's wording of the category, from the first report.
	CategoryText string      `json:"category_text,omitempty"`
	Steps        []Step      `json:"steps"`
	Clocks       []CaseClock `json:"clocks"`
	// illegal_transition, returned, reopened, closed_unsatisfied, closed_then_reopened, overdue,
	// closed_before_reported, corrected (an event superseded by a correction)
	Flags     []string    `json:"flags"`
	Returns   int         `json:"returns"`
	Reopens   int         `json:"reopens"`
	Whistles  []WhistleTL `json:"whistles"`
	Evaluated []Eval      `json:"evaluations"`
}

// WhistleTL is one whistle of the case with its departments' clocks (at its resolution, or now).
type WhistleTL struct {
	ID       string                  `json:"id"`
	Kind     string                  `json:"kind"`
	Blown    time.Time               `json:"blown"`
	Resolved time.Time               `json:"resolved,omitzero"`
	Depts    map[string][]StageClock `json:"depts"`
	Error    string                  `json:"error,omitempty"`
}

// Eval is one evaluation (评哨), as recorded: evaluations are never changed; a correction is a
// later evaluation of the same department on the same whistle, and the latest counts.
type Eval struct {
	ID         string    `json:"id"`
	WhistleID  string    `json:"whistle_id"`
	Dept       string    `json:"dept"`
	Score      int       `json:"score"`
	At         time.Time `json:"at"`
	By         string    `json:"by,omitempty"`         // the source system that sent it (e.g. center)
	Supersedes string    `json:"supersedes,omitempty"` // the evaluation this one corrects
}

// ApplyOrder returns a case's events (any order) in the order the rules apply them: by event
// time, ties in the given order, except that a case.closed timed before the case's first
// case.reported is moved after the report and the events that follow it, up to the first
// case.reopened after the report (docs/EVENTS.md; the live state does the same). early tells,
// per returned event, whether it is such a closing.
func ApplyOrder(evs []event.Event) (ordered []event.Event, early []bool) {
	out := append([]event.Event(nil), evs...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	early = make([]bool, len(out))
	var reported time.Time
	for _, e := range out {
		if e.Type == event.CaseReported {
			reported = e.At
			break
		}
	}
	var held, rest []event.Event
	for _, e := range out {
		if e.Type == event.CaseClosed && !reported.IsZero() && e.At.Before(reported) {
			held = append(held, e)
		} else {
			rest = append(rest, e)
		}
	}
	if len(held) == 0 {
		return out, early
	}
	at, seen := len(rest), false
	for i, e := range rest {
		if e.Type == event.CaseReported {
			seen = true
		} else if seen && e.Type == event.CaseReopened {
			at = i
			break
		}
	}
	out = append(append(append(out[:0], rest[:at]...), held...), rest[at:]...)
	for i := range held {
		early[at+i] = true
	}
	return out, early
}

// closure tells a closing that ends the case (fixed or not_fixed): duplicate, cancelled and
// transferred closings are counted apart (docs/GOVERNANCE.md).
func closure(reason string) bool { return reason == "" || reason == event.CloseNotFixed }

// withSuperseded puts the superseded events back among the ordered live ones, each before the
// first later event; early is extended with false for them.
func withSuperseded(ordered []event.Event, early []bool, all []event.Event, sup map[string]string) ([]event.Event, []bool) {
	if len(sup) == 0 {
		return ordered, early
	}
	gone := make([]event.Event, 0, len(sup))
	for _, e := range all {
		if _, ok := sup[e.ID]; ok {
			gone = append(gone, e)
		}
	}
	sort.SliceStable(gone, func(i, j int) bool { return gone[i].At.Before(gone[j].At) })
	out := make([]event.Event, 0, len(ordered)+len(gone))
	oe := make([]bool, 0, len(ordered)+len(gone))
	g := 0
	for i, e := range ordered {
		for g < len(gone) && gone[g].At.Before(e.At) {
			out, oe = append(out, gone[g]), append(oe, false)
			g++
		}
		out, oe = append(out, e), append(oe, early[i])
	}
	for ; g < len(gone); g++ {
		out, oe = append(out, gone[g]), append(oe, false)
	}
	return out, oe
}

// Fold reads a case's events (any order; applied in ApplyOrder) into its timeline at now.
// Events are never dropped: an illegal transition is applied and flagged; an event superseded
// by a correction (event.Superseded) is kept as a step, not applied, and the correction is
// applied in its stead.
func Fold(evs []event.Event, clocks Clocks, cal *calendar.Calendar, now time.Time) Timeline {
	all := evs
	sup := event.Superseded(evs)
	evs, early := ApplyOrder(event.Live(evs))
	evs, early = withSuperseded(evs, early, all, sup)
	honoured := map[string]bool{}
	for _, by := range sup {
		honoured[by] = true
	}
	tl := Timeline{Steps: []Step{}, Clocks: []CaseClock{}, Flags: []string{}, Whistles: []WhistleTL{}, Evaluated: []Eval{}}
	flag := func(f string) {
		for _, x := range tl.Flags {
			if x == f {
				return
			}
		}
		tl.Flags = append(tl.Flags, f)
	}
	var cur Status
	var run *CaseClock // the dispatch clock running
	end := func(at time.Time, by string) {
		if run == nil {
			return
		}
		run.Ended, run.EndedBy, run.Late = at, by, at.After(run.Deadline)
		if run.Late {
			run.Overdue = int64(at.Sub(run.Deadline) / time.Second)
		}
		tl.Clocks = append(tl.Clocks, *run)
		run = nil
	}
	lastEval := map[[2]string]string{}
	closedUnsatisfied := false
	for i, e := range evs {
		to, isCase := statusOf[e.Type]
		if by, gone := sup[e.ID]; gone && isCase {
			tl.Steps = append(tl.Steps, Step{ID: e.ID, Type: e.Type, At: e.At, Dept: e.Dept, From: cur, To: cur, Legal: true,
				CloseReason: e.CloseReason, SupersededBy: by, Reason: "superseded by " + by + ": not applied"})
			flag("corrected")
			continue
		}
		if isCase {
			st := Step{ID: e.ID, Type: e.Type, At: e.At, Dept: e.Dept, From: cur, To: to, Legal: true, CloseReason: e.CloseReason}
			if honoured[e.ID] {
				st.Supersedes = e.Supersedes
			}
			switch {
			case e.Type == event.CaseReported && cur != "":
				st.To = cur // a repeat report
			case cur == "" && e.Type != event.CaseReported:
				st.Legal, st.Reason = false, "before the case was reported"
			case cur == Closed && to == Dispatched && tl.CloseReason == event.CloseTransferred:
				// a dispatch to the department the case was transferred to
			case to == Closed && e.CloseReason != "" && cur != Closed && cur != Duplicate:
				// a closing with a reason (not fixed, duplicate, transferred, cancelled) may end
				// an open case at any step
			case cur != "" && !allowed(cur, to):
				st.Legal, st.Reason = false, string(cur)+" → "+string(to)
			}
			if !st.Legal {
				flag("illegal_transition")
			}
			if early[i] {
				st.Reason = strings.TrimPrefix(st.Reason+"; closed before the case was reported: applied after its later events", "; ")
				flag("closed_before_reported")
			}
			if e.Type == event.CaseReported && tl.CategoryText == "" && cur == "" {
				tl.CategoryText = e.CategoryText
			}
			switch e.Type {
			case event.CaseDispatched:
				end(e.At, "redispatched")
				if e.Deadline != nil {
					run = &CaseClock{Dept: e.Dept, Dispatched: e.At, Deadline: *e.Deadline}
				}
			case event.CaseReturned:
				tl.Returns++
				flag("returned")
				end(e.At, "returned")
			case event.CaseResolved:
				end(e.At, "resolved")
			case event.CaseClosed:
				end(e.At, "closed")
				closedUnsatisfied = e.Satisfaction == "unsatisfied" && closure(e.CloseReason)
				if closedUnsatisfied {
					flag("closed_unsatisfied")
				}
			case event.CaseReopened:
				tl.Reopens++
				flag("reopened")
				if cur == Closed && tl.CloseReason != event.CloseTransferred {
					flag("closed_then_reopened")
				}
			}
			if e.Type == event.CaseClosed {
				tl.CloseReason = e.CloseReason
			} else if st.To != cur {
				tl.CloseReason = ""
			}
			cur = st.To
			tl.Steps = append(tl.Steps, st)
			continue
		}
		if e.Type == event.WhistleEvaluated && e.WhistleID != "" {
			k := [2]string{e.WhistleID, e.Dept}
			tl.Evaluated = append(tl.Evaluated, Eval{ID: e.ID, WhistleID: e.WhistleID, Dept: e.Dept, Score: e.Score, At: e.At, By: e.Source, Supersedes: lastEval[k]})
			lastEval[k] = e.ID
		}
	}
	if run != nil {
		run.Late = now.After(run.Deadline)
		if run.Late {
			run.Overdue = int64(now.Sub(run.Deadline) / time.Second)
		}
		tl.Clocks = append(tl.Clocks, *run)
	}
	for _, c := range tl.Clocks {
		if c.Late {
			flag("overdue")
		}
	}
	for _, w := range WhistlesOf(nil, event.Live(evs)) {
		wt := WhistleTL{ID: w.ID, Kind: w.Kind, Blown: w.Blown, Resolved: w.Resolved, Depts: map[string][]StageClock{}}
		at := now
		if !w.Resolved.IsZero() {
			at = w.Resolved
		}
		for _, d := range w.Depts {
			sc, err := clocks.Status(cal, w.Kind, w.Blown, w.Reached[d], at)
			if err != nil {
				wt.Error = "unknown_kind"
				break
			}
			wt.Depts[d] = sc
		}
		tl.Whistles = append(tl.Whistles, wt)
	}
	if cur == "" {
		cur = Reported
	}
	tl.Status = cur
	return tl
}

func allowed(from, to Status) bool {
	for _, s := range legal[from] {
		if s == to {
			return true
		}
	}
	return false
}
