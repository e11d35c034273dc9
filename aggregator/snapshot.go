package aggregator

import (
	"bufio"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"zhili/event"
	"zhili/internal/atomicfile"
	"zhili/update"
)

// The live-state snapshot: on a clean stop, once everything applied is stored, the aggregator
// writes its case state (cases and their events, rollup, whistles, duty, the timers of deadlines
// and response windows, the recent feed) next to the store's checkpoint. On start it takes the
// snapshot instead of replaying the whole history store when the snapshot was made at the store's
// current checkpoint, for the same partition, root region, time zone and case-keep window;
// otherwise (a crash, another writer since, another configuration) it replays as before. Either
// way the intake log after the checkpoint follows, so the state is the one a full replay gives.

// snapVersion changes whenever the snapshot's layout or the meaning of the state changes: an
// older snapshot is then ignored (a full replay).
const snapVersion = 2 // 2: the dispatches awaiting their signing (MAwaitingSign)

type snapFile struct {
	Version    int
	Checkpoint uint64 // the store's checkpoint the state is at
	Source     string
	Part       int
	Root       string
	Loc        string
	CaseKeep   time.Duration
	Saved      time.Time

	Now      time.Time
	Pending  int
	KeepDays int32
	Cases    []snapCase
	Rollup   []update.Counter
	Timers   []snapTimer
	Whistles []snapWhistle
	Duty     []snapDuty
	Recent   []update.Item
}

type snapCase struct {
	ID, Category, Priority, Source, Dept string
	Known, Located, Corrected, COpen     bool
	COverdue                             bool
	Status                               Status
	Path, Whistles                       []string
	Point                                *[2]float64
	Events                               []snapEv
	Deadline, Reported                   int64
	CNewDay                              int32
	CNewSrc                              update.Metric
	CAwaitDay                            int32
	CAwaitDept                           string
}

type snapEv struct {
	ID, Dept, Sat, Reason, Sup string
	Type                       event.Type
	At, Deadline               int64
	Off, By                    uint64
	Gone, Counted              bool
	Rep                        *snapRep
}

type snapRep struct {
	Category, Priority, Source string
	Path                       []string
	Point                      *[2]float64
}

type snapTimer struct {
	At int64
	ID string
}

type snapWhistle struct {
	ID, CaseID, Kind string
	Blown, Resolved  int64
	Depts            []string
	Reached          map[string]map[string]int64
	Scores           map[string][2]int64
}

type snapDuty struct {
	Staff string
	Evs   []snapDutyEv
}

type snapDutyEv struct {
	ID, Sup, Grid string
	At            int64
	Off           uint64
	On            bool
}

// snapshot returns the state as a snapshot (the rollup flushed first).
func (s *state) snapshot() *snapFile {
	s.flush()
	f := &snapFile{Version: snapVersion, Now: s.now, Pending: s.pending, KeepDays: s.keepDays,
		Cases: make([]snapCase, 0, len(s.cases)), Rollup: make([]update.Counter, 0, len(s.rollup))}
	for _, c := range s.cases {
		sc := snapCase{ID: c.id, Category: c.category, Priority: c.priority, Source: c.source, Dept: c.dept,
			Known: c.known, Located: c.located, Corrected: c.corrected, COpen: c.cOpen, COverdue: c.cOverdue,
			Status: c.status, Path: c.path, Whistles: c.whistles, Point: c.point, Deadline: c.deadline,
			Reported: c.reported, CNewDay: c.cNewDay, CNewSrc: c.cNewSrc, CAwaitDay: c.cAwaitDay, CAwaitDept: c.cAwaitDept,
			Events: make([]snapEv, len(c.events))}
		for i, e := range c.events {
			se := snapEv{ID: e.id, Dept: e.dept, Sat: e.sat, Reason: e.reason, Sup: e.sup, Type: e.typ, At: e.at,
				Deadline: e.deadline, Off: e.off, By: e.by, Gone: e.gone, Counted: e.counted}
			if r := e.rep; r != nil {
				se.Rep = &snapRep{Category: r.category, Priority: r.priority, Source: r.source, Path: r.path, Point: r.point}
			}
			sc.Events[i] = se
		}
		f.Cases = append(f.Cases, sc)
	}
	for k, n := range s.rollup {
		f.Rollup = append(f.Rollup, update.Counter{Key: k, N: n})
	}
	for _, t := range s.timers {
		f.Timers = append(f.Timers, snapTimer{At: t.at, ID: t.id})
	}
	for _, w := range s.whistles {
		f.Whistles = append(f.Whistles, snapWhistle{ID: w.id, CaseID: w.caseID, Kind: w.kind, Blown: w.blown,
			Resolved: w.resolved, Depts: w.depts, Reached: w.reached, Scores: w.scores})
	}
	for staff, d := range s.duty {
		sd := snapDuty{Staff: staff, Evs: make([]snapDutyEv, len(d.evs))}
		for i, e := range d.evs {
			sd.Evs[i] = snapDutyEv{ID: e.id, Sup: e.sup, Grid: e.grid, At: e.at, Off: e.off, On: e.on}
		}
		f.Duty = append(f.Duty, sd)
	}
	return f
}

// restore builds the state a snapshot holds, with s's zone and root.
func (f *snapFile) restore(loc *time.Location, root string) *state {
	s := newState(loc, root)
	s.now, s.pending, s.keepDays = f.Now, f.Pending, f.KeepDays
	for _, sc := range f.Cases {
		c := &caseState{id: sc.ID, category: sc.Category, priority: sc.Priority, source: sc.Source, dept: sc.Dept,
			known: sc.Known, located: sc.Located, corrected: sc.Corrected, cOpen: sc.COpen, cOverdue: sc.COverdue,
			status: sc.Status, path: sc.Path, whistles: sc.Whistles, point: sc.Point, deadline: sc.Deadline,
			reported: sc.Reported, cNewDay: sc.CNewDay, cNewSrc: sc.CNewSrc, cAwaitDay: sc.CAwaitDay, cAwaitDept: sc.CAwaitDept,
			events: make([]caseEv, len(sc.Events))}
		for i, se := range sc.Events {
			e := caseEv{id: se.ID, dept: se.Dept, sat: se.Sat, reason: se.Reason, sup: se.Sup, typ: se.Type, at: se.At,
				deadline: se.Deadline, off: se.Off, by: se.By, gone: se.Gone, counted: se.Counted}
			if r := se.Rep; r != nil {
				e.rep = &reportInfo{category: r.Category, priority: r.Priority, source: r.Source, path: r.Path, point: r.Point}
			}
			c.events[i] = e
		}
		s.cases[c.id] = c
	}
	for _, n := range f.Rollup {
		s.rollup[n.Key] = n.N
	}
	s.timers = make(deadlineHeap, 0, len(f.Timers))
	for _, t := range f.Timers {
		s.timers = append(s.timers, timer{at: t.At, id: t.ID})
	}
	for _, sw := range f.Whistles {
		w := &whistleState{id: sw.ID, caseID: sw.CaseID, kind: sw.Kind, blown: sw.Blown, resolved: sw.Resolved,
			depts: sw.Depts, reached: sw.Reached, scores: sw.Scores}
		if w.reached == nil {
			w.reached = map[string]map[string]int64{}
		}
		if w.scores == nil {
			w.scores = map[string][2]int64{}
		}
		s.whistles[w.id] = w
	}
	for _, sd := range f.Duty {
		d := &dutyState{evs: make([]dutyEv, len(sd.Evs))}
		for i, e := range sd.Evs {
			d.evs[i] = dutyEv{id: e.ID, sup: e.Sup, grid: e.Grid, at: e.At, off: e.Off, on: e.On}
		}
		s.duty[sd.Staff] = d
	}
	return s
}

// matches tells whether the snapshot was made by an aggregator of this configuration at the
// store checkpoint cp; the reason when not.
func (f *snapFile) matches(cfg *Config, root string, cp uint64) (bool, string) {
	switch {
	case f.Version != snapVersion:
		return false, fmt.Sprintf("snapshot version %d, this build reads %d", f.Version, snapVersion)
	case f.Checkpoint != cp:
		return false, fmt.Sprintf("made at checkpoint %d, the store is at %d", f.Checkpoint, cp)
	case f.Source != cfg.Source || f.Part != cfg.Part:
		return false, "made for another partition"
	case f.Root != root || f.Loc != cfg.Loc.String():
		return false, "made for another region tree or time zone"
	case f.CaseKeep != cfg.CaseKeep:
		return false, "made with another case-keep window"
	}
	return true, ""
}

// writeSnapshot writes f to path, whole or not at all.
func writeSnapshot(path string, f *snapFile) error {
	return atomicfile.Write(path, 0o600, func(w io.Writer) error { return gob.NewEncoder(w).Encode(f) })
}

// readSnapshot reads the snapshot at path; (nil, nil) when there is none.
func readSnapshot(path string) (*snapFile, error) {
	fh, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	var f snapFile
	if err := gob.NewDecoder(bufio.NewReaderSize(fh, 1<<20)).Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return &f, nil
}
