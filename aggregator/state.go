package aggregator

import (
	"container/heap"
	"math"
	"sort"
	"strings"
	"time"

	"zhili/event"
	"zhili/internal/intern"
	"zhili/store"
	"zhili/update"
)

// Status is a case's state in its lifecycle.
type Status string

const (
	StatusReported   Status = "reported"
	StatusAccepted   Status = "accepted"
	StatusDispatched Status = "dispatched"
	StatusSigned     Status = "signed"
	StatusReturned   Status = "returned"
	StatusResolved   Status = "resolved"
	StatusClosed     Status = "closed"
	StatusReopened   Status = "reopened"
	StatusDuplicate  Status = "duplicate"
)

// caseEv is the part of an event the case state machine needs.
type caseEv struct {
	id       string
	at       int64 // unix nanoseconds
	off      uint64
	typ      event.Type
	dept     string
	sat      string // callback result on case.closed
	reason   string // close_reason on case.closed
	deadline int64  // unix nanoseconds, 0 = none
	by       uint64 // offset of the dispatch the event is counted against (noSkip: none)
	sup      string // the id of the event this one supersedes ("" = none)
	gone     bool   // superseded by another event of the case (mark): neither applied nor counted
	counted  bool   // its counters are in the rollup
	rep      *reportInfo
}

// reportInfo is what a case.reported says of its case.
type reportInfo struct {
	category, priority, source string
	path                       []string // the located path; nil when unlocated
	point                      *[2]float64
}

// caseState is one case (工单): its events sorted by event time, and what is derived from them.
type caseState struct {
	id        string
	known     bool     // a case.reported has been applied
	path      []string // region path used for counting: the located path, or [root] when unlocated
	located   bool
	category  string
	priority  string
	source    string
	point     *[2]float64 // WGS-84
	events    []caseEv
	whistles  []string // ids of the case's whistles
	corrected bool     // an event names one it supersedes

	// derived by fold
	status   Status
	dept     string
	deadline int64
	reported int64 // event time of the earliest case.reported

	// contributions currently counted
	cOpen, cOverdue bool
	cNewDay         int32
	cNewSrc         update.Metric // the source metric counted with cNewDay
	// the dispatch awaiting its signing (awaitingSign) as counted: its local day (0: none) and
	// department
	cAwaitDay  int32
	cAwaitDept string
}

func (c *caseState) insert(e caseEv) {
	i := sort.Search(len(c.events), func(i int) bool {
		x := c.events[i]
		return x.at > e.at || x.at == e.at && x.off > e.off
	})
	c.events = append(c.events, caseEv{})
	copy(c.events[i+1:], c.events[i:])
	c.events[i] = e
}

// mark sets which events are superseded (event.Superseded: another event of the case, of the
// same type, names it) and tells whether that changed for any event.
func (c *caseState) mark() bool {
	if !c.corrected {
		return false
	}
	byID := make(map[string]*caseEv, len(c.events))
	for i := range c.events {
		byID[c.events[i].id] = &c.events[i]
	}
	sup := map[string]bool{}
	for i := range c.events {
		if e := &c.events[i]; e.sup != "" && e.sup != e.id {
			if x := byID[e.sup]; x != nil && x.typ == e.typ {
				sup[x.id] = true
			}
		}
	}
	changed := false
	for i := range c.events {
		e := &c.events[i]
		if gone := sup[e.id]; gone != e.gone {
			e.gone, changed = gone, true
		}
	}
	return changed
}

// report is the case's report in force: its first report to arrive, or the last correction of
// it; nil before any report.
func (c *caseState) report() *caseEv {
	var first *caseEv
	for i := range c.events {
		if e := &c.events[i]; e.typ == event.CaseReported && (first == nil || e.off < first.off) {
			first = e
		}
	}
	for seen := 0; first != nil && first.gone && seen < len(c.events); seen++ {
		var next *caseEv
		for i := range c.events {
			if e := &c.events[i]; e.typ == event.CaseReported && e.sup == first.id && (next == nil || e.off > next.off) {
				next = e
			}
		}
		if next == nil {
			break
		}
		first = next
	}
	return first
}

// derive sets what the case's report says (category, priority, source, place) from its report
// in force; a later report (not superseded) may raise the priority.
func (c *caseState) derive(root string) {
	r := c.report()
	if r == nil {
		return
	}
	c.category, c.priority, c.source, c.point = r.rep.category, r.rep.priority, r.rep.source, r.rep.point
	if len(r.rep.path) > 0 {
		c.path, c.located = r.rep.path, true
	} else {
		c.path, c.located = []string{root}, false
	}
	for i := range c.events {
		if e := &c.events[i]; e.typ == event.CaseReported && !e.gone && e.off > r.off && e.rep.priority != "" && e.rep.priority != "normal" {
			c.priority = e.rep.priority
		}
	}
}

// early tells a closing timed before the case's first report (c.reported, set by fold).
func (c *caseState) early(e *caseEv) bool {
	return e.typ == event.CaseClosed && !e.gone && c.reported != 0 && e.at < c.reported
}

// heldUntil is the index of the event before which the early closings are applied: the first
// reopening after the first report, else len(c.events).
func (c *caseState) heldUntil() int {
	seen := false
	for i := range c.events {
		switch e := &c.events[i]; {
		case e.gone:
		case e.typ == event.CaseReported:
			seen = true
		case seen && e.typ == event.CaseReopened:
			return i
		}
	}
	return len(c.events)
}

// fold recomputes the derived state from the events in event-time order, except that a
// closing timed before the case's first report (a source's clock or zone wrong) is applied
// after the report and the events that follow it, up to the first reopening: such a case
// ends closed, as its source said, instead of staying open under its later events.
func (c *caseState) fold() {
	c.status, c.dept, c.deadline, c.reported = "", "", 0, 0
	for i := range c.events {
		if c.events[i].typ == event.CaseReported && !c.events[i].gone {
			c.reported = c.events[i].at // the earliest: events are sorted
			break
		}
	}
	held, until := false, c.heldUntil()
	for i, e := range c.events {
		if held && i == until {
			c.status, held = StatusClosed, false
		}
		if e.gone {
			continue
		}
		if c.early(&e) {
			held = true
			continue
		}
		switch e.typ {
		case event.CaseReported:
			if c.status == "" {
				c.status = StatusReported
			}
		case event.CaseAccepted:
			c.status = StatusAccepted
		case event.CaseDispatched:
			c.status, c.dept, c.deadline = StatusDispatched, e.dept, e.deadline
		case event.CaseSigned:
			c.status = StatusSigned
			if e.dept != "" {
				c.dept = e.dept
			}
		case event.CaseReturned:
			c.status, c.dept, c.deadline = StatusReturned, "", 0
		case event.CaseResolved:
			c.status = StatusResolved
		case event.CaseClosed:
			c.status = StatusClosed
		case event.CaseReopened:
			c.status, c.deadline = StatusReopened, 0
		case event.CaseDuplicate:
			c.status = StatusDuplicate
		}
	}
	if held {
		c.status = StatusClosed
	}
	if c.status == "" {
		c.status = StatusReported
	}
}

func (c *caseState) open() bool {
	if !c.known {
		return false
	}
	switch c.status {
	case StatusResolved, StatusClosed, StatusDuplicate:
		return false
	}
	return true
}

// awaitingSign returns the case's dispatch whose signing is still awaited at now (Unix ns): the
// last dispatch of an open case that has not been signed, returned or resolved since, within
// its response window. The response rate leaves it out until it is decided; nil for none.
func (c *caseState) awaitingSign(now int64) *caseEv {
	if !c.open() || c.status != StatusDispatched {
		return nil
	}
	for i := len(c.events) - 1; i >= 0; i-- {
		if e := &c.events[i]; e.typ == event.CaseDispatched && !e.gone {
			if now < e.at+int64(RespondWindow) {
				return e
			}
			return nil
		}
	}
	return nil
}

// RespondWindow is the response window of the live response rate (the audits take theirs as a
// parameter, default the same): a case signed within it after its dispatch has responded.
const RespondWindow = 2 * time.Hour

// counters is the rollup: region × category × day × metric.
type counters map[update.Key]int64

// state is the aggregator's live state: cases, rollups, and overdue timers.
type state struct {
	loc      *time.Location
	rootCode string
	cases    map[string]*caseState
	rollup   counters
	delta    counters // increments since the last takeDelta
	items    []update.Item
	timers   deadlineHeap
	pending  int // events held for cases not yet reported
	keepDays int32
	whistles map[string]*whistleState
	changedW map[string]bool       // whistles changed since the last takeDelta
	duty     map[string]*dutyState // grid staff's duty records, by staff id (staff.duty)
	changedD map[string]bool       // staff whose duty changed since the last takeDelta
	now      time.Time             // of the last apply or tick: the board's "resolved within a day"
	names    intern.Table          // names the state keeps from records (detach)
}

func newState(loc *time.Location, root string) *state {
	return &state{loc: loc, rootCode: root, cases: map[string]*caseState{}, rollup: counters{},
		delta: counters{}, keepDays: 2, whistles: map[string]*whistleState{}, changedW: map[string]bool{},
		duty: map[string]*dutyState{}, changedD: map[string]bool{}}
}

// add records an increment for every region on path. Increments gather in delta and reach
// the rollup in takeDelta, once per key per batch.
func (s *state) add(path []string, cat string, day int32, m update.Metric, n int64) {
	for _, r := range path {
		s.delta[update.Key{Region: r, Category: cat, Day: day, Metric: m}] += n
	}
}

func (s *state) day(ns int64) int32 { return update.DayOf(time.Unix(0, ns), s.loc) }

// detach makes r's strings ones the state may keep: the decoder's strings point into its copy of
// the whole intake entry (package intern), which a case kept for days would keep alive. Names
// are interned, identifiers cloned, in place (the record is the aggregator's: applied, then
// written); fields the state does not keep are left.
func (s *state) detach(r *store.Record) {
	t := &s.names
	r.ID, r.CaseID, r.Supersedes, r.WhistleID = strings.Clone(r.ID), strings.Clone(r.CaseID), strings.Clone(r.Supersedes), strings.Clone(r.WhistleID)
	r.Dept, r.Satisfaction, r.CloseReason = t.Of(r.Dept), t.Of(r.Satisfaction), t.Of(r.CloseReason)
	r.Category, r.Priority, r.Source = t.Of(r.Category), t.Of(r.Priority), t.Of(r.Source)
	r.WhistleKind, r.Stage, r.Type = t.Of(r.WhistleKind), t.Of(r.Stage), event.Type(t.Of(string(r.Type)))
	t.Path(r.RegionPath)
	t.Path(r.Depts)
	if du := r.Duty; du != nil {
		du.Staff, du.Grid, du.State = strings.Clone(du.Staff), t.Of(du.Grid), t.Of(du.State)
	}
}

// apply adds one record to the state; now drives overdue; feed asks for feed items.
func (s *state) apply(r *store.Record, now time.Time, feed bool) {
	if r.Type == event.EvaluationSurvey {
		return // a survey record belongs to no case: stored only, read by the evaluation
	}
	s.detach(r)
	if r.Type == event.StaffDuty {
		s.applyDuty(r)
		return
	}
	c := s.cases[r.CaseID]
	if c == nil {
		c = &caseState{id: r.CaseID, events: make([]caseEv, 0, 6)}
		s.cases[r.CaseID] = c
	}
	ev := caseEv{id: r.ID, at: r.At.UnixNano(), off: r.Offset, typ: r.Type, dept: r.Dept, sat: r.Satisfaction,
		reason: r.CloseReason, by: noSkip}
	if r.Type.IsCase() {
		ev.sup = r.Supersedes
	}
	if r.Deadline != nil {
		ev.deadline = r.Deadline.UnixNano()
	}
	if r.Type == event.CaseReported {
		ev.rep = &reportInfo{category: r.Category, priority: r.Priority, source: r.Source}
		if len(r.RegionPath) > 0 {
			ev.rep.path = r.RegionPath
		}
		if r.HasPoint {
			ev.rep.point = &[2]float64{r.Lon, r.Lat}
		}
	}
	wasKnown := c.known
	c.insert(ev)
	c.corrected = c.corrected || ev.sup != ""
	// A correction (or an event its correction came before) changes what is superseded: what
	// the case counted is taken back, and counted again from its events in force.
	changed := c.mark()
	if changed && wasKnown {
		s.withdraw(c)
	}
	becameKnown := false
	if r.Type == event.CaseReported {
		c.known, becameKnown = true, !wasKnown
		c.derive(s.rootCode)
		if changed {
			for _, id := range c.whistles {
				s.changedW[id] = true // their region or category may have changed
			}
		}
	}
	c.fold()
	s.now = now
	if r.WhistleID != "" {
		s.applyWhistle(c, r)
	}
	if r.Type != event.CaseReported && c.known && c.located && len(r.RegionPath) == 0 {
		// Stored with its case's region, so that period queries by region see every event type.
		r.RegionPath = c.path
	}

	if !c.known {
		s.pending++
		return
	}
	if becameKnown {
		// The case's whistles can be shown now.
		for _, id := range c.whistles {
			s.changedW[id] = true
		}
		// Count the events that waited for this report, and the report itself.
		s.pending -= len(c.events) - 1
		s.countAll(c)
	} else if changed {
		s.countAll(c)
	} else {
		s.countEvent(c, c.find(ev.off))
		switch ev.typ {
		case event.CaseDispatched, event.CaseReopened, event.CaseReported:
			s.recount(c)
		}
	}
	s.recontribute(c, now)
	if c.deadline > 0 && c.open() {
		heap.Push(&s.timers, timer{at: c.deadline, id: c.id})
	}
	if d := c.awaitingSign(now.UnixNano()); d != nil {
		heap.Push(&s.timers, timer{at: d.at + int64(RespondWindow), id: c.id})
	}
	if feed {
		if becameKnown {
			// Events that waited for the report are published now, in event-time order.
			for i := range c.events {
				it := s.item(c, &c.events[i])
				it.New = c.events[i].off == r.Offset
				s.items = append(s.items, it)
			}
		} else {
			s.items = append(s.items, s.item(c, &ev))
		}
	}
}

// find returns the case's event at intake offset off.
func (c *caseState) find(off uint64) *caseEv {
	for i := range c.events {
		if c.events[i].off == off {
			return &c.events[i]
		}
	}
	return nil
}

// countEvent adds the per-day counters of one event of a known case, and remembers the
// dispatch it was counted against. A superseded event counts nothing.
func (s *state) countEvent(c *caseState, e *caseEv) {
	if e.gone {
		return
	}
	disp := c.dispatchOf(e)
	s.count(c, e, disp, 1)
	e.by, e.counted = offOf(disp), true
}

// countAll counts every event of a known case in force, and the case as unlocated when it is.
func (s *state) countAll(c *caseState) {
	for i := range c.events {
		s.countEvent(c, &c.events[i])
	}
	if !c.located {
		s.add(c.path, c.category, s.day(c.reported), update.MUnlocated, 1)
	}
}

// withdraw takes back everything a known case counts (its events, unlocated, open, overdue,
// new), with the place, category and times they were counted with; countAll and recontribute
// count it again.
func (s *state) withdraw(c *caseState) {
	for i := range c.events {
		if e := &c.events[i]; e.counted {
			s.count(c, e, c.find(e.by), -1)
			e.by, e.counted = noSkip, false
		}
	}
	if !c.located {
		s.add(c.path, c.category, s.day(c.reported), update.MUnlocated, -1)
	}
	if c.cOpen {
		s.add(c.path, c.category, 0, update.MOpen, -1)
		c.cOpen = false
	}
	if c.cOverdue {
		s.add(c.path, c.category, 0, update.MOverdue, -1)
		c.cOverdue = false
	}
	if c.cNewDay != 0 {
		s.addNew(c, c.cNewDay, c.cNewSrc, -1)
		c.cNewDay = 0
	}
	s.addAwaiting(c, c.cAwaitDay, c.cAwaitDept, -1)
	c.cAwaitDay, c.cAwaitDept = 0, ""
}

// addAwaiting counts a dispatch awaiting its signing on its day (0: none), for the case's
// regions and for the dispatch's department.
func (s *state) addAwaiting(c *caseState, day int32, dept string, n int64) {
	if day == 0 {
		return
	}
	s.add(c.path, c.category, day, update.MAwaitingSign, n)
	if dept != "" {
		s.add([]string{update.DeptPrefix + dept}, c.category, day, update.MAwaitingSign, n)
	}
}

func offOf(d *caseEv) uint64 {
	if d == nil {
		return noSkip
	}
	return d.off
}

// dispatchOf is the dispatch an event is counted against: for the event types that follow a
// dispatch, the case's latest dispatch at or before the event, or, for a closing applied late
// (early), before the point where fold applies it; nil for none.
func (c *caseState) dispatchOf(e *caseEv) *caseEv {
	if !followsDispatch(e.typ) {
		return nil
	}
	if c.early(e) {
		var d *caseEv
		for i := range c.events[:c.heldUntil()] {
			if x := &c.events[i]; x.typ == event.CaseDispatched && !x.gone {
				d = x
			}
		}
		return d
	}
	return lastDispatch(c, e.at, noSkip)
}

// followsDispatch tells the event types counted against the dispatch they follow: their
// department is that dispatch's, and a signing within the response window of it is a response.
func followsDispatch(typ event.Type) bool {
	return typ != event.CaseReported && typ != event.CaseDispatched
}

// recount keeps the counters independent of arrival order: after an event that may change
// which dispatch other events follow (a dispatch arriving after events that follow it in event
// time; a reopening or report that moves where early closings are applied), each event counted
// against another dispatch than its dispatchOf now is counted again against that one.
func (s *state) recount(c *caseState) {
	for i := range c.events {
		e := &c.events[i]
		if !followsDispatch(e.typ) || !e.counted {
			continue
		}
		now := c.dispatchOf(e)
		if offOf(now) == e.by {
			continue
		}
		s.count(c, e, c.find(e.by), -1)
		s.count(c, e, now, 1)
		e.by = offOf(now)
	}
}

// count adds n (1, or -1 to take a count back) to the per-day counters of one event, counted
// against the dispatch it follows.
func (s *state) count(c *caseState, e *caseEv, disp *caseEv, n int64) {
	d := s.day(e.at)
	responded := e.typ == event.CaseSigned && disp != nil && e.at-disp.at <= int64(RespondWindow)
	s.countDept(c, e, d, disp, responded, n)
	switch e.typ {
	case event.CaseDispatched:
		s.add(c.path, c.category, d, update.MDispatched, n)
		s.add(c.path, c.category, d, update.MFlowDown, n)
	case event.CaseSigned:
		s.add(c.path, c.category, d, update.MSigned, n)
		if responded {
			s.add(c.path, c.category, d, update.MSignedInTime, n)
		}
	case event.CaseReturned:
		s.add(c.path, c.category, d, update.MReturned, n)
	case event.CaseResolved:
		s.add(c.path, c.category, d, update.MResolved, n)
	case event.CaseClosed:
		s.countClosed(c, e, n)
	case event.CaseReopened:
		s.add(c.path, c.category, d, update.MReopened, n)
	case event.CaseReported:
		if c.source == "hotline12345" {
			s.add(c.path, c.category, d, update.MFlowHorizontal, n)
		} else {
			s.add(c.path, c.category, d, update.MFlowUp, n)
		}
	case event.WhistleBlown:
		s.add(c.path, c.category, d, update.MWhistles, n)
		s.add(c.path, c.category, d, update.MFlowUp, n)
	case event.WhistleAnswered:
		s.add(c.path, c.category, d, update.MFlowDown, n)
	}
}

// countDept adds the department counters of an event: for the department it was dispatched to,
// or for the case's handling department (its last dispatch as of this event).
func (s *state) countDept(c *caseState, e *caseEv, d int32, disp *caseEv, responded bool, n int64) {
	dept := e.dept
	if e.typ != event.CaseDispatched {
		dept = ""
		if disp != nil {
			dept = disp.dept
		}
	}
	if dept == "" {
		return
	}
	key := []string{update.DeptPrefix + dept}
	switch e.typ {
	case event.CaseDispatched:
		s.add(key, c.category, d, update.MDispatched, n)
	case event.CaseSigned:
		s.add(key, c.category, d, update.MSigned, n)
		if responded {
			s.add(key, c.category, d, update.MSignedInTime, n)
		}
	case event.CaseResolved:
		s.add(key, c.category, d, update.MResolved, n)
	case event.CaseReopened:
		s.add(key, c.category, d, update.MReopened, n)
	case event.CaseClosed:
		if closure(e.reason) {
			s.addCallback(key, c.category, d, e.sat, n)
		}
	}
}

// closure tells a closing that ends the case here (fixed, or not_fixed): duplicate, cancelled
// and transferred closings are counted neither as closed nor for their callbacks
// (docs/GOVERNANCE.md, close reasons).
func closure(reason string) bool { return reason == "" || reason == event.CloseNotFixed }

func (s *state) addCallback(path []string, cat string, d int32, satisfaction string, n int64) {
	switch satisfaction {
	case "satisfied":
		s.add(path, cat, d, update.MSatisfied, n)
	case "basically":
		s.add(path, cat, d, update.MBasically, n)
	case "unsatisfied":
		s.add(path, cat, d, update.MUnsatisfied, n)
	}
}

// lastDispatch is the case's latest dispatch at or before at, leaving out the one at offset
// skip (noSkip: none), or nil.
func lastDispatch(c *caseState, at int64, skip uint64) *caseEv {
	for i := len(c.events) - 1; i >= 0; i-- {
		if x := &c.events[i]; x.typ == event.CaseDispatched && !x.gone && x.at <= at && x.off != skip {
			return x
		}
	}
	return nil
}

const noSkip = ^uint64(0)

// countClosed counts a closing that ends the case here (closure): closed, its callback, and
// closed_ok when fixed without an unsatisfied callback.
func (s *state) countClosed(c *caseState, e *caseEv, n int64) {
	if !closure(e.reason) {
		return
	}
	d := s.day(e.at)
	s.add(c.path, c.category, d, update.MClosed, n)
	s.addCallback(c.path, c.category, d, e.sat, n)
	if e.sat != "unsatisfied" && e.reason == "" {
		s.add(c.path, c.category, d, update.MClosedOK, n)
	}
}

// recontribute applies the difference between what the case counts now and what it counted.
func (s *state) recontribute(c *caseState, now time.Time) {
	open := c.open()
	overdue := open && c.deadline > 0 && now.UnixNano() > c.deadline
	newDay := int32(0)
	if c.known {
		newDay = s.day(c.reported)
	}
	if open != c.cOpen {
		s.add(c.path, c.category, 0, update.MOpen, b2i(open)-b2i(c.cOpen))
		c.cOpen = open
	}
	if overdue != c.cOverdue {
		s.add(c.path, c.category, 0, update.MOverdue, b2i(overdue)-b2i(c.cOverdue))
		c.cOverdue = overdue
	}
	var awDay int32
	var awDept string
	if d := c.awaitingSign(now.UnixNano()); d != nil {
		awDay, awDept = s.day(d.at), d.dept
	}
	if awDay != c.cAwaitDay || awDept != c.cAwaitDept {
		s.addAwaiting(c, c.cAwaitDay, c.cAwaitDept, -1)
		s.addAwaiting(c, awDay, awDept, 1)
		c.cAwaitDay, c.cAwaitDept = awDay, awDept
	}
	src := update.SourceMetric(c.source)
	if newDay != c.cNewDay || newDay != 0 && src != c.cNewSrc {
		if c.cNewDay != 0 {
			s.addNew(c, c.cNewDay, c.cNewSrc, -1)
		}
		if newDay != 0 {
			s.addNew(c, newDay, src, 1)
		}
		c.cNewDay, c.cNewSrc = newDay, src
	}
}

// addNew counts a new case (n = 1, or -1 to take it back) on its day, and for the source of
// its report: the two always move together.
func (s *state) addNew(c *caseState, day int32, src update.Metric, n int64) {
	s.add(c.path, c.category, day, update.MNew, n)
	s.add(c.path, c.category, day, src, n)
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// tick moves cases whose deadline has passed to overdue, and dispatches whose response window
// has ended out of awaiting their signing.
func (s *state) tick(now time.Time) {
	s.now = now
	ns := now.UnixNano()
	for len(s.timers) > 0 && s.timers[0].at < ns {
		t := heap.Pop(&s.timers).(timer)
		if c := s.cases[t.id]; c != nil && (c.deadline == t.at || c.cAwaitDay != 0) {
			s.recontribute(c, now)
		}
	}
}

func (s *state) item(c *caseState, e *caseEv) update.Item {
	ev := event.Event{Type: e.typ, Source: c.source}
	it := update.Item{ID: e.id, CaseID: c.id, Type: string(e.typ), Category: c.category,
		Priority: c.priority, Status: string(c.status), Source: c.source, Dept: e.dept,
		Flow: ev.Flow().String(), At: time.Unix(0, e.at).In(s.loc)}
	if c.located {
		it.Region = c.path
	} else {
		it.Region = []string{}
	}
	it.Point = s.point(c)
	return it
}

// point is the case's point (WGS-84, like every point inside Zhili; screens get theirs in the
// display CRS from the read model), or nil.
func (s *state) point(c *caseState) *[2]float64 {
	if c.point == nil {
		return nil
	}
	// Six decimals (~0.1 m) is finer than any source; it keeps frames small.
	return &[2]float64{math.Round(c.point[0]*1e6) / 1e6, math.Round(c.point[1]*1e6) / 1e6}
}

// takeDelta returns and clears the increments and items gathered since the last call.
func (s *state) takeDelta() update.Update {
	u := update.Update{Items: s.items, Counters: s.flush(), Whistles: s.takeWhistles(s.now), Duty: s.takeDuty()}
	s.items = nil
	return u
}

// flush merges the pending increments into the rollup and returns them.
func (s *state) flush() []update.Counter {
	var out []update.Counter
	for k, n := range s.delta {
		if n != 0 {
			s.rollup[k] += n
			out = append(out, update.Counter{Key: k, N: n})
		}
	}
	clear(s.delta)
	return out
}

// full returns the whole rollup, pending increments included, as a reset update, dropping days
// older than keepDays.
func (s *state) full(now time.Time, recent []update.Item) update.Update {
	s.flush()
	oldest := update.DayOf(now, s.loc) - s.keepDays
	clear(s.changedW) // the reset carries every whistle
	clear(s.changedD)
	u := update.Update{Reset: true, Items: recent, Whistles: s.allWhistles(now), Duty: s.allDuty(),
		Counters: make([]update.Counter, 0, len(s.rollup))}
	for k, n := range s.rollup {
		if k.Day != 0 && k.Day < oldest {
			delete(s.rollup, k)
			continue
		}
		if n != 0 {
			u.Counters = append(u.Counters, update.Counter{Key: k, N: n})
		}
	}
	return u
}

// prune forgets what can no longer change the live view: finished cases whose last event is
// older than keep, cases never reported whose events are older than keep (their events stay in
// the history store), and old per-day counters. Call it after takeDelta, so that no pending
// increment brings an old counter back. It returns how many cases it forgot.
func (s *state) prune(now time.Time, keep time.Duration) int {
	limit := now.Add(-keep).UnixNano()
	n := 0
	for id, c := range s.cases {
		if len(c.events) == 0 || c.events[len(c.events)-1].at >= limit {
			continue
		}
		switch {
		case !c.known:
			s.pending -= len(c.events)
		case c.open():
			continue
		}
		delete(s.cases, id)
		n++
	}
	s.pruneWhistles(now)
	s.pruneDuty(limit)
	// Per-day counters older than keepDays are no longer shown live (periods come from the
	// history store).
	oldest := update.DayOf(now, s.loc) - s.keepDays
	for k := range s.rollup {
		if k.Day != 0 && k.Day < oldest {
			delete(s.rollup, k)
		}
	}
	return n
}

type timer struct {
	at int64
	id string
}

type deadlineHeap []timer

func (h deadlineHeap) Len() int           { return len(h) }
func (h deadlineHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h deadlineHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *deadlineHeap) Push(x any)        { *h = append(*h, x.(timer)) }
func (h *deadlineHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
