package dashboard

import (
	"time"

	"zhili/calendar"
	"zhili/errs"
	"zhili/geo"
	"zhili/governance"
	"zhili/update"
)

// WhistlesSource serves whistles:<region> topics: the whistle board (吹哨报到). Every whistle on
// a case in the region, with each summoned department's stages, deadlines on the working-day
// calendar, countdowns and lights; resolved ones stay a day.
type WhistlesSource struct {
	M      *Model
	Clocks governance.Clocks
	Cal    *calendar.Calendar
}

// Open validates t and returns its live state.
func (s WhistlesSource) Open(t Topic) (TopicState, error) {
	if t.Window != "" {
		return nil, errs.E(errs.Invalid, "topic.window", "whistles topics take no window")
	}
	r, err := s.M.region(t.Region)
	if err != nil {
		return nil, err
	}
	st := &whistlesState{src: s, r: r}
	st.Advance()
	return st, nil
}

type whistlesState struct {
	src  WhistlesSource
	r    *geo.Region
	data map[string]any
}

func (s *whistlesState) Snapshot() any { return s.data }

func (s *whistlesState) Advance() (any, bool) {
	cur := s.src.board(s.r, s.src.M.clk.Now())
	p := mergePatch(s.data, cur)
	s.data = cur
	if p == nil {
		return nil, false
	}
	return p, true
}

func (s *whistlesState) Close() {}

// lightRank orders lights from the least to the most urgent.
var lightRank = map[governance.Light]int{governance.Done: 0, governance.Green: 1, governance.Amber: 2, governance.Red: 3}

// board builds the whistles data of region r at now. Countdowns are in whole minutes, so a
// running whistle changes at most once a minute between events.
func (s WhistlesSource) board(r *geo.Region, now time.Time) map[string]any {
	m := s.M
	m.mu.RLock()
	var ws []update.Whistle
	for _, src := range m.srcs {
		for _, w := range src.whistles {
			if r.Level == 0 || containsCode(w.Region, r.Code) {
				ws = append(ws, w)
			}
		}
	}
	m.mu.RUnlock()
	out := map[string]any{}
	active, late, overdue, resolvedToday := 0, 0, 0, 0
	today := update.DayOf(now, m.loc)
	for _, w := range ws {
		if !w.Resolved.IsZero() {
			if now.Sub(w.Resolved) > 24*time.Hour {
				continue
			}
			if update.DayOf(w.Resolved, m.loc) == today {
				resolvedToday++
			}
		} else {
			active++
		}
		worst, next, isLate, isOverdue := governance.Done, time.Time{}, false, false
		depts := make([]any, 0, len(w.Depts))
		for _, d := range w.Depts {
			reached := map[governance.Stage]time.Time{}
			for st, at := range d.Reached {
				reached[governance.Stage(st)] = at
			}
			dept := map[string]any{"dept": d.Dept}
			if d.Score > 0 {
				dept["score"] = d.Score
			}
			clocks, err := s.Clocks.Status(s.Cal, w.Kind, w.Blown, reached, now)
			if err != nil {
				dept["error"] = "unknown_kind"
				depts = append(depts, dept)
				continue
			}
			dl := governance.Done
			stages := make([]any, 0, len(clocks))
			for _, c := range clocks {
				st := map[string]any{"stage": string(c.Stage), "deadline": c.Deadline.In(m.loc), "light": string(c.Light), "late": c.Late}
				if !c.Reached.IsZero() {
					st["reached"] = c.Reached.In(m.loc)
				} else {
					st["left_min"] = floorMinutes(c.Left)
					if w.Resolved.IsZero() && (next.IsZero() || c.Deadline.Before(next)) {
						next = c.Deadline
					}
				}
				if !w.Resolved.IsZero() && c.Reached.IsZero() {
					// Solved before the department got this far: no clock runs any more.
					st["light"] = string(governance.Done)
				} else if lightRank[c.Light] > lightRank[dl] {
					dl = c.Light
				}
				if c.Late {
					isLate = true
					isOverdue = isOverdue || c.Reached.IsZero()
				}
				stages = append(stages, st)
			}
			dept["light"], dept["stages"] = string(dl), stages
			if lightRank[dl] > lightRank[worst] {
				worst = dl
			}
			depts = append(depts, dept)
		}
		if isLate && w.Resolved.IsZero() {
			late++
			if isOverdue {
				overdue++
			}
		}
		item := map[string]any{"case_id": w.CaseID, "kind": w.Kind, "region": w.Region, "category": w.Category,
			"blown": w.Blown.In(m.loc), "light": string(worst), "late": isLate, "depts": depts}
		if pt := m.display(w.Point); pt != nil {
			item["point"] = []any{pt[0], pt[1]}
		}
		if !w.Resolved.IsZero() {
			item["resolved"] = w.Resolved.In(m.loc)
		}
		if !next.IsZero() {
			item["next_deadline"] = next.In(m.loc)
		}
		out[w.ID] = item
	}
	return map[string]any{
		"whistles": out,
		"totals": map[string]any{"active": int64(active), "late": int64(late), "overdue": int64(overdue),
			"resolved_today": int64(resolvedToday)},
		// The fewest evaluations a department's mean score needs to be ranked (the audits' rule).
		"min_sample": int64(governance.DefaultMinSample),
	}
}

func containsCode(path []string, code string) bool {
	for _, c := range path {
		if c == code {
			return true
		}
	}
	return false
}

// floorMinutes converts seconds to whole minutes, rounding towards minus infinity.
func floorMinutes(sec int64) int64 {
	if sec >= 0 {
		return sec / 60
	}
	return -((-sec + 59) / 60)
}
