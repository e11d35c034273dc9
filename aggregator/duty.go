package aggregator

import (
	"time"

	"zhili/event"
	"zhili/store"
	"zhili/update"
)

// dutyKeep is how many of a staff member's latest duty records are kept to judge corrections
// and late records: a correction or a late record older than all of them changes nothing.
const dutyKeep = 16

// dutyEv is one staff.duty record.
type dutyEv struct {
	id, sup, grid string
	at            int64 // unix nanoseconds
	off           uint64
	on            bool
}

// dutyState is one grid staff member's recent duty records, sorted by (event time, offset).
type dutyState struct {
	evs []dutyEv
}

// inForce is the latest record no other record supersedes (nil when none). A staff member
// holds at most dutyKeep records: a scan beats an allocation on every change.
func (d *dutyState) inForce() *dutyEv {
	for i := len(d.evs) - 1; i >= 0; i-- {
		if !d.superseded(d.evs[i].id) {
			return &d.evs[i]
		}
	}
	return nil
}

// superseded is whether another record names id in supersedes.
func (d *dutyState) superseded(id string) bool {
	for _, e := range d.evs {
		if e.sup == id && e.id != id {
			return true
		}
	}
	return false
}

// applyDuty adds a staff.duty record: the staff member's state in force is its latest record
// by event time (a late record older than the latest changes nothing), corrections applied (a
// record naming another of the same staff member in supersedes takes its place).
func (s *state) applyDuty(r *store.Record) {
	du := r.Duty
	if du == nil {
		return
	}
	d := s.duty[du.Staff]
	if d == nil {
		d = &dutyState{}
		s.duty[du.Staff] = d
	}
	e := dutyEv{id: r.ID, sup: r.Supersedes, grid: du.Grid, at: r.At.UnixNano(), off: r.Offset, on: du.State == event.DutyOn}
	for _, x := range d.evs {
		if x.id == e.id {
			return // the same record again (a replay overlapping the log)
		}
	}
	i := len(d.evs)
	for i > 0 && (d.evs[i-1].at > e.at || d.evs[i-1].at == e.at && d.evs[i-1].off > e.off) {
		i--
	}
	d.evs = append(d.evs, dutyEv{})
	copy(d.evs[i+1:], d.evs[i:])
	d.evs[i] = e
	if len(d.evs) > dutyKeep {
		d.evs = append(d.evs[:0], d.evs[len(d.evs)-dutyKeep:]...)
	}
	s.changedD[du.Staff] = true
}

// dutyOf is the update form of a staff member's state in force (false when none).
func (s *state) dutyOf(staff string) (update.Duty, bool) {
	d := s.duty[staff]
	if d == nil {
		return update.Duty{}, false
	}
	e := d.inForce()
	if e == nil {
		return update.Duty{}, false
	}
	return update.Duty{Staff: staff, Grid: e.grid, On: e.on, At: time.Unix(0, e.at).In(s.loc)}, true
}

// takeDuty returns the states of the staff changed since the last call. A staff member
// whose every record is superseded is sent off duty.
func (s *state) takeDuty() []update.Duty {
	if len(s.changedD) == 0 {
		return nil
	}
	out := make([]update.Duty, 0, len(s.changedD))
	for id := range s.changedD {
		u, ok := s.dutyOf(id)
		if !ok {
			u = update.Duty{Staff: id}
		}
		out = append(out, u)
	}
	clear(s.changedD)
	return out
}

// allDuty returns every staff member's state in force.
func (s *state) allDuty() []update.Duty {
	out := make([]update.Duty, 0, len(s.duty))
	for id := range s.duty {
		if u, ok := s.dutyOf(id); ok {
			out = append(out, u)
		}
	}
	return out
}

// pruneDuty forgets the staff whose state in force is off duty since before limit (unix
// nanoseconds): they count nowhere, and their records stay in the history store. A check-in
// without a check-out is kept.
func (s *state) pruneDuty(limit int64) {
	for id, d := range s.duty {
		if e := d.inForce(); e == nil || !e.on && d.evs[len(d.evs)-1].at < limit {
			delete(s.duty, id)
		}
	}
}
