package alerts

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"zhili/clock"
	"zhili/errs"
)

// Change is one lifecycle transition, as observers and webhooks see it: the alert after it.
type Change struct {
	Op    Op        `json:"op"`
	At    time.Time `json:"at"`
	Who   string    `json:"who,omitempty"`
	Alert Alert     `json:"alert"`
}

// Options configure an Engine.
type Options struct {
	Clock    clock.Clock    // default clock.Real
	Location *time.Location // the deployment time zone for quiet hours; default UTC
	Log      Log            // default a MemoryLog
	// Observe receives every change after it is logged, in log order, outside the engine's
	// lock: it may call Get, List, Stats and OpenAlerts, but not Evaluate, Ack or Close (they
	// wait for it), and should not block for long. Webhooks: pass Notifier.Notify.
	Observe func(Change)
	// Marks keeps the watch marks (default a MemoryLog): a log of its own, so that the alert
	// log stays readable by binaries that do not know them.
	Marks Log
	// Heartbeat is the least time between two watch marks (default DefaultHeartbeat); marks
	// further apart than two heartbeats leave a gap in the coverage. Set it above the
	// evaluation interval.
	Heartbeat time.Duration
}

// Engine applies rules to signals and keeps the alerts' lifecycle over its log. Safe for
// concurrent use.
type Engine struct {
	clk     clock.Clock
	loc     *time.Location
	log     Log
	observe func(Change)

	mu     sync.Mutex
	rules  *RuleSet
	alerts map[string]*Alert
	order  []*Alert             // by raise, oldest first
	active map[string]*Alert    // key → the alert not yet closed
	last   map[string]time.Time // key → last raise, for cooldowns
	seq    int
	// Watch marks (coverage.go): their log, the watched spans, this process's last mark (zero:
	// it has not marked yet).
	marks    Log
	beat     time.Duration
	spans    []Span
	lastMark time.Time

	obsMu sync.Mutex // keeps observers' calls in log order
}

// NewEngine returns an engine with the rules (nil: none) whose alerts are rebuilt by replaying
// the log: open and acknowledged alerts stay so, and cooldowns count from their raise times.
func NewEngine(rules *RuleSet, opt Options) (*Engine, error) {
	if opt.Clock == nil {
		opt.Clock = clock.Real{}
	}
	if opt.Location == nil {
		opt.Location = time.UTC
	}
	if opt.Log == nil {
		opt.Log = NewMemoryLog()
	}
	if rules == nil {
		rules = &RuleSet{}
	}
	if opt.Marks == nil {
		opt.Marks = NewMemoryLog()
	}
	if opt.Heartbeat <= 0 {
		opt.Heartbeat = DefaultHeartbeat
	}
	e := &Engine{clk: opt.Clock, loc: opt.Location, log: opt.Log, marks: opt.Marks, observe: opt.Observe, rules: rules, beat: opt.Heartbeat,
		alerts: map[string]*Alert{}, active: map[string]*Alert{}, last: map[string]time.Time{}}
	err := e.log.Replay(func(en Entry) error {
		_, err := e.apply(en)
		return err
	})
	if err == nil {
		err = e.marks.Replay(func(en Entry) error {
			if en.Op != OpWatch {
				return errs.E(errs.Invalid, "alert_log", "%s entry in the watch marks", en.Op)
			}
			_, err := e.apply(en)
			return err
		})
	}
	if err != nil {
		return nil, err
	}
	return e, nil
}

// SetRules swaps in a new rule set (Watcher's onChange). Open alerts of removed rules stay open
// until closed.
func (e *Engine) SetRules(rs *RuleSet) {
	if rs == nil {
		rs = &RuleSet{}
	}
	e.mu.Lock()
	e.rules = rs
	e.mu.Unlock()
}

// Rules returns the rule set in force.
func (e *Engine) Rules() *RuleSet {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.rules
}

// apply applies one log entry to the state (replay and live); it returns the alert after it.
func (e *Engine) apply(en Entry) (*Alert, error) {
	switch en.Op {
	case OpRaise:
		if en.Alert == nil || en.Alert.ID == "" {
			return nil, errs.E(errs.Invalid, "alert_log", "raise entry %q without its alert", en.ID)
		}
		a := en.Alert.clone()
		a.State = Open
		e.alerts[a.ID] = &a
		e.order = append(e.order, &a)
		e.active[a.key()] = &a
		if a.RaisedAt.After(e.last[a.key()]) {
			e.last[a.key()] = a.RaisedAt
		}
		if i := strings.LastIndexByte(a.ID, '-'); i >= 0 {
			if n, err := strconv.Atoi(a.ID[i+1:]); err == nil && n > e.seq {
				e.seq = n
			}
		}
		return &a, nil
	case OpAck, OpClose:
		a := e.alerts[en.ID]
		if a == nil {
			return nil, errs.E(errs.Invalid, "alert_log", "%s entry for unknown alert %q", en.Op, en.ID)
		}
		at := en.At
		if en.Op == OpAck {
			a.State, a.AckedAt, a.AckedBy = Acknowledged, &at, en.Who
		} else {
			a.State, a.ClosedAt, a.ClosedBy, a.Note = Closed, &at, en.Who, en.Note
			if e.active[a.key()] == a {
				delete(e.active, a.key())
			}
		}
		return a, nil
	case OpWatch:
		e.markSpan(en.At, en.Start)
		return nil, nil
	}
	return nil, errs.E(errs.Invalid, "alert_log", "unknown op %q", en.Op)
}

// Evaluate applies every enabled rule to the signals at now (zero: the clock's now): kind,
// scope, category filter, sample minimum, threshold, quiet hours, then the one-alert rule — no
// alert while one for the same rule × region × subject is open or acknowledged, nor within
// the rule's cooldown after the last raise. It returns the alerts raised, each logged before it
// is returned; on a log error it returns those raised before it and the error. It writes a
// watch mark when one is due (coverage.go).
func (e *Engine) Evaluate(now time.Time, signals []Signal) ([]Alert, error) {
	if now.IsZero() {
		now = e.clk.Now()
	}
	var raised []Alert
	var err error
	e.mu.Lock()
	local := now.In(e.loc)
	for i := range e.rules.Rules {
		r := &e.rules.Rules[i]
		if !r.Enabled {
			continue
		}
		quiet := r.Quiet != nil && r.Quiet.In(local) && !(r.Severity == Severe && r.Quiet.Severe)
		if quiet {
			continue
		}
		for j := range signals {
			s := &signals[j]
			v, b, ok := r.match(s)
			if !ok {
				continue
			}
			a := Alert{RuleID: r.ID, RuleName: r.Name, Kind: r.Kind, Severity: r.Severity, Region: s.Region,
				RegionPath: slices.Clone(s.path()), Category: s.Category, Subject: s.Subject, Value: v, Bound: b,
				Sample: s.Sample, MeasuredAt: s.At, RaisedAt: now, State: Open}
			if a.MeasuredAt.IsZero() {
				a.MeasuredAt = now
			}
			k := a.key()
			if e.active[k] != nil {
				continue
			}
			if last, ok := e.last[k]; ok && now.Sub(last) < r.Cooldown {
				continue
			}
			a.Title, a.TitleEn = titles(r, s, v, b)
			if len(s.Detail) > 0 {
				a.Detail = make(map[string]string, len(s.Detail))
				for k, v := range s.Detail {
					a.Detail[k] = v
				}
			}
			e.seq++
			a.ID = fmt.Sprintf("%s-%06d", now.In(e.loc).Format("20060102"), e.seq)
			en := Entry{Op: OpRaise, ID: a.ID, At: now, Alert: &a}
			if err = e.log.Append(en); err != nil {
				e.seq--
				break
			}
			p, _ := e.apply(en)
			raised = append(raised, p.clone())
		}
		if err != nil {
			break
		}
	}
	if err == nil {
		err = e.mark(now, false)
	}
	e.prune(now)
	changes := make([]Change, len(raised))
	for i, a := range raised {
		changes[i] = Change{Op: OpRaise, At: now, Alert: a}
	}
	e.notify(changes) // unlocks e.mu
	return raised, err
}

// prune forgets cooldown marks older than any cooldown could reach (a week).
func (e *Engine) prune(now time.Time) {
	if len(e.last) < 10000 {
		return
	}
	var longest time.Duration = 7 * 24 * time.Hour
	for _, r := range e.rules.Rules {
		longest = max(longest, r.Cooldown)
	}
	for k, t := range e.last {
		if now.Sub(t) > longest && e.active[k] == nil {
			delete(e.last, k)
		}
	}
}

// notify is called with e.mu held and releases it: the observer lock is taken first, so
// observers see changes in log order while the engine is free for Get and List.
func (e *Engine) notify(cs []Change) {
	if e.observe == nil || len(cs) == 0 {
		e.mu.Unlock()
		return
	}
	e.obsMu.Lock()
	e.mu.Unlock()
	defer e.obsMu.Unlock()
	for _, c := range cs {
		e.observe(c)
	}
}

// Ack acknowledges an open alert: who and at (zero: the clock's now) are kept. Errors:
// not_found (unknown id), invalid with reason "already_acknowledged" or "already_closed".
func (e *Engine) Ack(id, who string, at time.Time) (Alert, error) {
	return e.transition(OpAck, id, who, at, "")
}

// Close closes an open or acknowledged alert with an optional note. Errors: not_found,
// invalid with reason "already_closed".
func (e *Engine) Close(id, who string, at time.Time, note string) (Alert, error) {
	return e.transition(OpClose, id, who, at, note)
}

// MaxNoteLen bounds a closing note, in characters.
const MaxNoteLen = 500

func (e *Engine) transition(op Op, id, who string, at time.Time, note string) (Alert, error) {
	if at.IsZero() {
		at = e.clk.Now()
	}
	if r := []rune(note); len(r) > MaxNoteLen {
		return Alert{}, errs.E(errs.Invalid, "note", "the note is %d characters long, at most %d", len(r), MaxNoteLen)
	}
	if who == "" {
		return Alert{}, errs.E(errs.Invalid, "who", "who acknowledges or closes an alert must be named")
	}
	e.mu.Lock()
	a := e.alerts[id]
	switch {
	case a == nil:
		e.mu.Unlock()
		return Alert{}, errs.E(errs.NotFound, "alert", "no alert %q", id)
	case a.State == Closed:
		e.mu.Unlock()
		return Alert{}, errs.E(errs.Invalid, "already_closed", "alert %s was closed by %s at %s", id, a.ClosedBy, a.ClosedAt.Format(time.RFC3339))
	case op == OpAck && a.State == Acknowledged:
		e.mu.Unlock()
		return Alert{}, errs.E(errs.Invalid, "already_acknowledged", "alert %s was acknowledged by %s at %s", id, a.AckedBy, a.AckedAt.Format(time.RFC3339))
	}
	if at.Before(a.RaisedAt) {
		at = a.RaisedAt // a skewed caller clock never yields a negative duration
	}
	en := Entry{Op: op, ID: id, At: at, Who: who, Note: note}
	if err := e.log.Append(en); err != nil {
		e.mu.Unlock()
		return Alert{}, err
	}
	e.apply(en)
	out := a.clone()
	e.notify([]Change{{Op: op, At: at, Who: who, Alert: out}}) // unlocks e.mu
	return out, nil
}

// Get returns one alert.
func (e *Engine) Get(id string) (Alert, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if a := e.alerts[id]; a != nil {
		return a.clone(), nil
	}
	return Alert{}, errs.E(errs.NotFound, "alert", "no alert %q", id)
}

// Query selects alerts; zero fields select all. Alerts come newest first.
type Query struct {
	States   []State   // any of
	Region   string    // the region and its subtree (by the alert's region path)
	RuleID   string    //
	Kind     Kind      //
	From, To time.Time // raised in [From, To)
	Limit    int       // default 50, at most MaxPage
	Offset   int
}

// MaxPage bounds one page of List.
const MaxPage = 500

// Page is one page of a List.
type Page struct {
	Alerts []Alert `json:"alerts"`
	Total  int     `json:"total"`  // matching alerts in all
	Offset int     `json:"offset"` //
	Next   int     `json:"next"`   // the offset of the next page; -1 when this is the last
}

// List returns a page of the alerts the query selects, newest first.
func (e *Engine) List(q Query) (Page, error) {
	if q.Limit == 0 {
		q.Limit = 50
	}
	if q.Limit < 0 || q.Limit > MaxPage {
		return Page{}, errs.E(errs.Invalid, "limit", "limit %d: from 1 to %d", q.Limit, MaxPage)
	}
	if q.Offset < 0 {
		return Page{}, errs.E(errs.Invalid, "offset", "offset %d must not be negative", q.Offset)
	}
	for _, s := range q.States {
		if s != Open && s != Acknowledged && s != Closed {
			return Page{}, errs.E(errs.Invalid, "state", "state %q: open, acknowledged or closed", s)
		}
	}
	if !q.To.IsZero() && q.To.Before(q.From) {
		return Page{}, errs.E(errs.Invalid, "to", "the range ends before it starts")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	p := Page{Offset: q.Offset, Next: -1, Alerts: []Alert{}}
	for i := len(e.order) - 1; i >= 0; i-- {
		a := e.order[i]
		if !q.selects(a) {
			continue
		}
		if p.Total >= q.Offset && len(p.Alerts) < q.Limit {
			p.Alerts = append(p.Alerts, a.clone())
		}
		p.Total++
	}
	if q.Offset+len(p.Alerts) < p.Total {
		p.Next = q.Offset + len(p.Alerts)
	}
	return p, nil
}

func (q *Query) selects(a *Alert) bool {
	return (len(q.States) == 0 || slices.Contains(q.States, a.State)) &&
		(q.Region == "" || slices.Contains(a.RegionPath, q.Region) || a.Region == q.Region) &&
		(q.RuleID == "" || a.RuleID == q.RuleID) &&
		(q.Kind == "" || a.Kind == q.Kind) &&
		(q.From.IsZero() || !a.RaisedAt.Before(q.From)) &&
		(q.To.IsZero() || a.RaisedAt.Before(q.To))
}

// Durations sums up durations: how many, the median, the 90th percentile (nearest rank) and the
// longest. Zero N: no figures.
type Durations struct {
	N      int           `json:"n"`
	Median time.Duration `json:"median"`
	P90    time.Duration `json:"p90"`
	Max    time.Duration `json:"max"`
}

// MarshalJSON writes the durations in seconds: {"n","median_s","p90_s","max_s"}.
func (d Durations) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		N      int     `json:"n"`
		Median float64 `json:"median_s"`
		P90    float64 `json:"p90_s"`
		Max    float64 `json:"max_s"`
	}{d.N, d.Median.Seconds(), d.P90.Seconds(), d.Max.Seconds()})
}

func summarize(ds []time.Duration) Durations {
	if len(ds) == 0 {
		return Durations{}
	}
	slices.Sort(ds)
	rank := func(p float64) time.Duration {
		i := int(p*float64(len(ds))+0.999999999) - 1
		return ds[min(max(i, 0), len(ds)-1)]
	}
	return Durations{N: len(ds), Median: rank(0.5), P90: rank(0.9), Max: ds[len(ds)-1]}
}

// Figures are the history figures of a group of alerts raised in a period.
type Figures struct {
	Raised int `json:"raised"` // alerts raised
	Acked  int `json:"acked"`  // of them, acknowledged (whether closed later or not)
	Closed int `json:"closed"` // of them, closed (with or without an acknowledgement)
	Open   int `json:"open"`   // of them, not closed now (open or acknowledged)
	// TimeToAck: raise → acknowledgement, over the acknowledged alerts only.
	TimeToAck Durations `json:"time_to_ack"`
	// TimeToClose: raise → close, over the closed alerts only.
	TimeToClose Durations `json:"time_to_close"`
	// Unacked counts the alerts still open without an acknowledgement; OldestOpen is the age of
	// the oldest alert not closed, at the time of the figures. Still-open alerts are in no time.
	Unacked    int           `json:"unacked"`
	OldestOpen time.Duration `json:"-"`
}

// MarshalJSON writes OldestOpen in seconds (oldest_open_s).
func (f Figures) MarshalJSON() ([]byte, error) {
	type plain Figures
	return json.Marshal(struct {
		plain
		OldestOpen float64 `json:"oldest_open_s"`
	}{plain(f), f.OldestOpen.Seconds()})
}

// Stats are the history figures per rule, per region (the alert's own region code) and in all.
type Stats struct {
	From     time.Time          `json:"from"`
	To       time.Time          `json:"to"`
	At       time.Time          `json:"at"`
	Total    Figures            `json:"total"`
	ByRule   map[string]Figures `json:"by_rule"`
	ByRegion map[string]Figures `json:"by_region"`
	// Coverage is the part of the period the engine watched: zero figures over a time not
	// watched count nothing.
	Coverage Coverage `json:"coverage"`
}

// Stats computes the history figures over the alerts raised in [from, to) (zero bounds: open),
// as of the clock's now; region limits them to a subtree ("" all).
func (e *Engine) Stats(from, to time.Time, region string) Stats {
	now := e.clk.Now()
	st := Stats{From: from, To: to, At: now, ByRule: map[string]Figures{}, ByRegion: map[string]Figures{}, Coverage: e.Coverage(from, to)}
	type acc struct {
		f          Figures
		ack, close []time.Duration
	}
	total := &acc{}
	byRule, byRegion := map[string]*acc{}, map[string]*acc{}
	get := func(m map[string]*acc, k string) *acc {
		if m[k] == nil {
			m[k] = &acc{}
		}
		return m[k]
	}
	q := Query{From: from, To: to, Region: region}
	e.mu.Lock()
	for _, a := range e.order {
		if !q.selects(a) {
			continue
		}
		for _, c := range []*acc{total, get(byRule, a.RuleID), get(byRegion, a.Region)} {
			c.f.Raised++
			if a.AckedAt != nil {
				c.f.Acked++
				c.ack = append(c.ack, a.AckedAt.Sub(a.RaisedAt))
			}
			if a.ClosedAt != nil {
				c.f.Closed++
				c.close = append(c.close, a.ClosedAt.Sub(a.RaisedAt))
			} else {
				c.f.Open++
				if a.AckedAt == nil {
					c.f.Unacked++
				}
				c.f.OldestOpen = max(c.f.OldestOpen, now.Sub(a.RaisedAt))
			}
		}
	}
	e.mu.Unlock()
	done := func(c *acc) Figures {
		c.f.TimeToAck, c.f.TimeToClose = summarize(c.ack), summarize(c.close)
		return c.f
	}
	st.Total = done(total)
	for k, c := range byRule {
		st.ByRule[k] = done(c)
	}
	for k, c := range byRegion {
		st.ByRegion[k] = done(c)
	}
	return st
}

// OpenAlerts returns the alerts not closed (open or acknowledged), oldest first: what a
// screen shows after a restart.
func (e *Engine) OpenAlerts() []Alert {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Alert, 0, len(e.active))
	for _, a := range e.active {
		out = append(out, a.clone())
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].RaisedAt.Equal(out[j].RaisedAt) {
			return out[i].RaisedAt.Before(out[j].RaisedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out
}
