package aggregator

import (
	"slices"
	"time"

	"zhili/event"
	"zhili/store"
	"zhili/update"
)

// whistleState is one whistle (吹哨) as its events tell it. Every field is the earliest (or,
// for scores, the latest) by event time, so the state does not depend on arrival order: late
// and out-of-order events land where they belong.
type whistleState struct {
	id, caseID, kind string
	blown, resolved  int64    // unix ns of the earliest blown / resolved event; 0 = none yet
	depts            []string // summoned (earliest blown), then any other department that answered
	reached          map[string]map[string]int64
	scores           map[string][2]int64 // dept → (event time, score) of the latest evaluation
}

// applyWhistle records a whistle.* event. Caller: state.apply.
func (s *state) applyWhistle(c *caseState, r *store.Record) {
	id := r.WhistleID
	if id == "" {
		return
	}
	w := s.whistles[id]
	if w == nil {
		w = &whistleState{id: id, caseID: r.CaseID, reached: map[string]map[string]int64{}, scores: map[string][2]int64{}}
		s.whistles[id] = w
		c.whistles = append(c.whistles, id)
	}
	at := r.At.UnixNano()
	earliest := func(cur int64) bool { return cur == 0 || at < cur }
	addDept := func(d string) {
		if d != "" && !slices.Contains(w.depts, d) {
			w.depts = append(w.depts, d)
		}
	}
	switch r.Type {
	case event.WhistleBlown:
		if earliest(w.blown) {
			w.blown, w.kind = at, r.WhistleKind
			// The earliest blowing names the summoned departments, in its order.
			rest := slices.DeleteFunc(slices.Clone(w.depts), func(d string) bool { return slices.Contains(r.Depts, d) })
			w.depts = append(slices.Clone(r.Depts), rest...)
		} else {
			for _, d := range r.Depts {
				addDept(d)
			}
		}
	case event.WhistleAnswered:
		addDept(r.Dept)
		st := w.reached[r.Dept]
		if st == nil {
			st = map[string]int64{}
			w.reached[r.Dept] = st
		}
		if cur := st[r.Stage]; cur == 0 || at < cur {
			st[r.Stage] = at
		}
	case event.WhistleResolved:
		if earliest(w.resolved) {
			w.resolved = at
		}
	case event.WhistleEvaluated:
		addDept(r.Dept)
		if cur, ok := w.scores[r.Dept]; !ok || at >= cur[0] {
			w.scores[r.Dept] = [2]int64{at, int64(r.Score)}
		}
	}
	s.changedW[id] = true
}

// whistle is the published form of w, on its (known) case c.
func (s *state) whistle(w *whistleState, c *caseState) update.Whistle {
	out := update.Whistle{ID: w.id, CaseID: w.caseID, Kind: w.kind, Category: c.category,
		Blown: time.Unix(0, w.blown).In(s.loc), Depts: make([]update.WhistleDept, 0, len(w.depts))}
	if c.located {
		out.Region = c.path
	} else {
		out.Region = []string{}
	}
	out.Point = s.point(c)
	if w.resolved != 0 {
		out.Resolved = time.Unix(0, w.resolved).In(s.loc)
	}
	for _, d := range w.depts {
		wd := update.WhistleDept{Dept: d}
		if st := w.reached[d]; len(st) > 0 {
			wd.Reached = make(map[string]time.Time, len(st))
			for stage, at := range st {
				wd.Reached[stage] = time.Unix(0, at).In(s.loc)
			}
		}
		if sc, ok := w.scores[d]; ok {
			wd.Score = int(sc[1])
		}
		out.Depts = append(out.Depts, wd)
	}
	return out
}

// shown reports whether w is on the board: blown, its case known, not resolved long ago.
func (s *state) shown(w *whistleState, now time.Time) (*caseState, bool) {
	c := s.cases[w.caseID]
	if c == nil || !c.known || w.blown == 0 {
		return nil, false
	}
	if w.resolved != 0 && now.Sub(time.Unix(0, w.resolved)) > whistleKeep {
		return nil, false
	}
	return c, true
}

// whistleKeep is how long a resolved whistle stays on the board (and in resets).
const whistleKeep = 24 * time.Hour

// takeWhistles returns the whistles that changed since the last call.
func (s *state) takeWhistles(now time.Time) []update.Whistle {
	var out []update.Whistle
	for id := range s.changedW {
		w := s.whistles[id]
		if w == nil {
			continue
		}
		if c, ok := s.shown(w, now); ok {
			out = append(out, s.whistle(w, c))
		}
	}
	clear(s.changedW)
	slices.SortFunc(out, func(a, b update.Whistle) int { return a.Blown.Compare(b.Blown) })
	return out
}

// allWhistles returns every whistle on the board, for a reset.
func (s *state) allWhistles(now time.Time) []update.Whistle {
	out := []update.Whistle{}
	for _, w := range s.whistles {
		if c, ok := s.shown(w, now); ok {
			out = append(out, s.whistle(w, c))
		}
	}
	slices.SortFunc(out, func(a, b update.Whistle) int { return a.Blown.Compare(b.Blown) })
	return out
}

// pruneWhistles forgets whistles whose case was forgotten or that were resolved long ago.
func (s *state) pruneWhistles(now time.Time) {
	for id, w := range s.whistles {
		c := s.cases[w.caseID]
		if c == nil || w.resolved != 0 && now.Sub(time.Unix(0, w.resolved)) > whistleKeep {
			delete(s.whistles, id)
			delete(s.changedW, id)
			if c != nil {
				c.whistles = slices.DeleteFunc(c.whistles, func(x string) bool { return x == id })
			}
		}
	}
}
