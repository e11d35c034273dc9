package dashboard

import (
	"zhili/geo"
)

// Reasons a hotspot level's statistics were withheld (Sufficiency.Reasons).
const (
	// ReasonTooFewEvents: the study area holds fewer events than events_needed: no location
	// is in a hot or cold bin.
	ReasonTooFewEvents = "too_few_events"
	// ReasonTooFewSteps: fewer time steps hold data than steps_needed: every emerging pattern
	// is insufficient_data.
	ReasonTooFewSteps = "too_few_steps"
	// ReasonNoDenominator: a rate was asked (per=) and no location of the level has that
	// denominator (hex cells never have one).
	ReasonNoDenominator = "no_denominator"
)

// Advice: what would give the statistics enough data (Sufficiency.Advice).
const (
	AdviceLongerWindow  = "longer_window"  // a longer window or period holds more events
	AdviceCoarserLevel  = "coarser_level"  // child regions pool the events of many grids or cells
	AdviceShorterWindow = "shorter_window" // live: the 1h and 24h windows have shorter time steps
	AdviceFinerStep     = "finer_step"     // period view: a shorter step makes more time steps
	AdviceWait          = "wait"           // live: the window fills as events arrive
	AdviceCounts        = "counts"         // analyse counts (no per=)
)

// Sufficiency says whether one level of a hotspot reply had enough data for its statistics,
// by the rules of HotspotFloors, and what is missing (docs/HOTSPOTS.md, "Data sufficiency").
type Sufficiency struct {
	OK      bool     `json:"ok"`      // no reason below: every rule was met
	Reasons []string `json:"reasons"` // ReasonTooFewEvents, ReasonTooFewSteps, ReasonNoDenominator
	// Events in the study area over the window or period; EventsNeeded the floor (0: none).
	Events       int64 `json:"events"`
	EventsNeeded int64 `json:"events_needed"`
	// MinLocal: events a location's neighbourhood needs to be hot (0: no floor); SetBack: how
	// many locations Gi* alone put in a significant bin and the floors kept at bin 0.
	MinLocal int64 `json:"min_local"`
	SetBack  int64 `json:"set_back"`
	// Emerging analysis only: time steps in the window or period, those holding at least one
	// event, the minimum, and the leading steps left out because no event precedes them.
	Steps         *int64 `json:"steps,omitempty"`
	StepsWithData *int64 `json:"steps_with_data,omitempty"`
	StepsNeeded   *int64 `json:"steps_needed,omitempty"`
	StepsSkipped  *int64 `json:"steps_skipped,omitempty"`
	// Rates only: the denominator and how many locations lack it (left out of the analysis).
	Per      string `json:"per,omitempty"`
	Excluded *int64 `json:"excluded,omitempty"`
	// Advice: AdviceLongerWindow, AdviceCoarserLevel, … in that order; empty when OK.
	Advice []string `json:"advice"`
}

func i64p(v int) *int64 { x := int64(v); return &x }

// sufficiencyOf states a Gi* result against the floors it was computed with.
func sufficiencyOf(res *geo.HotspotResult, minEvents, minLocal int) Sufficiency {
	s := Sufficiency{Reasons: []string{}, Advice: []string{}, Events: int64(res.Events + 0.5),
		EventsNeeded: int64(minEvents), MinLocal: int64(minLocal), SetBack: int64(res.Sparse + res.Withheld)}
	if res.TooFewEvents {
		s.Reasons = append(s.Reasons, ReasonTooFewEvents)
	}
	return s
}

// addEmerging states an emerging analysis.
func (s *Sufficiency) addEmerging(em *geo.EmergingResult, steps int) {
	s.Steps, s.StepsWithData = i64p(steps), i64p(em.StepsWithData)
	s.StepsNeeded, s.StepsSkipped = i64p(em.MinSteps), i64p(em.FirstStep)
	if em.StepsWithData < em.MinSteps {
		s.Reasons = append(s.Reasons, ReasonTooFewSteps)
	}
	if em.TooFewEvents && !s.has(ReasonTooFewEvents) {
		s.Reasons = append(s.Reasons, ReasonTooFewEvents)
	}
}

func (s *Sufficiency) has(reason string) bool {
	for _, r := range s.Reasons {
		if r == reason {
			return true
		}
	}
	return false
}

// adviceCtx is what advice can be given for one level.
type adviceCtx struct {
	live          bool // a live topic (windows) rather than the period view
	longest       bool // live: already the longest window
	shortest      bool // live: already the window with the shortest steps
	coarser       bool // a coarser level exists (child regions)
	per           bool // a rate was asked
	emergingLevel bool // the level carries emerging patterns
}

// finish sets OK and the advice.
func (s *Sufficiency) finish(a adviceCtx) {
	s.OK = len(s.Reasons) == 0
	add := func(v string) {
		for _, x := range s.Advice {
			if x == v {
				return
			}
		}
		s.Advice = append(s.Advice, v)
	}
	for _, r := range s.Reasons {
		switch r {
		case ReasonTooFewEvents:
			if !a.longest {
				add(AdviceLongerWindow)
			}
			if a.coarser {
				add(AdviceCoarserLevel)
			}
			if a.live {
				add(AdviceWait)
			}
		case ReasonTooFewSteps:
			if a.live {
				if !a.shortest {
					add(AdviceShorterWindow)
				}
				add(AdviceWait)
			} else {
				add(AdviceFinerStep)
				add(AdviceLongerWindow)
			}
		case ReasonNoDenominator:
			add(AdviceCounts)
		}
	}
}

// asMap is the topic form of s (topic data are maps, merged as JSON merge patches).
func (s Sufficiency) asMap() map[string]any {
	m := map[string]any{
		"ok": s.OK, "reasons": s.Reasons, "events": s.Events, "events_needed": s.EventsNeeded,
		"min_local": s.MinLocal, "set_back": s.SetBack, "advice": s.Advice,
	}
	opt := func(k string, v *int64) {
		if v != nil {
			m[k] = *v
		}
	}
	opt("steps", s.Steps)
	opt("steps_with_data", s.StepsWithData)
	opt("steps_needed", s.StepsNeeded)
	opt("steps_skipped", s.StepsSkipped)
	if s.Per != "" {
		m["per"] = s.Per
	}
	opt("excluded", s.Excluded)
	return m
}
