// Package governance holds the rules of the governance work itself, apart from transport and
// storage: the whistle clocks (吹哨报到: how long a summoned department has to sign, make
// contact and arrive), on the official working-day calendar. Pure: no I/O except LoadClocks.
package governance

import (
	"fmt"
	"os"
	"slices"
	"time"

	"gopkg.in/yaml.v3"

	"zhili/calendar"
)

// Stage is a step of a summoned department's answer (报到), in order.
type Stage string

const (
	Signed    Stage = "signed"    // 签收
	Contacted Stage = "contacted" // 联系
	Arrived   Stage = "arrived"   // 到场
)

// Stages are the stages in order.
var Stages = []Stage{Signed, Contacted, Arrived}

// Clocks configures the deadline of each stage per whistle kind, counted from the whistle's
// blowing; a span is calendar time ("1h") or working days ("3wd").
type Clocks struct {
	Kinds map[string]map[Stage]calendar.Span `yaml:"kinds"`
	// Amber is the share of a stage's span left at which its countdown turns amber (default 0.2).
	Amber float64 `yaml:"amber"`
}

// DefaultClocks are the usual rules: an advance whistle (推进哨) is signed within an hour,
// contacted within 24 hours and attended within 3 working days; a tough one (攻坚哨) within 5
// working days; an emergency one (应急哨) in minutes.
func DefaultClocks() Clocks {
	h := func(d time.Duration) calendar.Span { return calendar.Span{D: d} }
	wd := func(n int) calendar.Span { return calendar.Span{WorkDays: n} }
	return Clocks{Amber: 0.2, Kinds: map[string]map[Stage]calendar.Span{
		"advance":   {Signed: h(time.Hour), Contacted: h(24 * time.Hour), Arrived: wd(3)},
		"tough":     {Signed: h(time.Hour), Contacted: h(24 * time.Hour), Arrived: wd(5)},
		"emergency": {Signed: h(10 * time.Minute), Contacted: h(30 * time.Minute), Arrived: h(time.Hour)},
	}}
}

// LoadClocks reads a clocks file over the defaults: a kind in the file replaces that kind's
// stages it names; new kinds are added (they must name every stage).
func LoadClocks(path string) (Clocks, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Clocks{}, err
	}
	var f Clocks
	if err := yaml.Unmarshal(b, &f); err != nil {
		return Clocks{}, fmt.Errorf("clocks %s: %w", path, err)
	}
	c := DefaultClocks()
	if f.Amber != 0 {
		c.Amber = f.Amber
	}
	for kind, stages := range f.Kinds {
		cur, ok := c.Kinds[kind]
		if !ok {
			cur = map[Stage]calendar.Span{}
			c.Kinds[kind] = cur
		}
		for st, sp := range stages {
			cur[st] = sp
		}
	}
	if err := c.Check(); err != nil {
		return Clocks{}, fmt.Errorf("clocks %s: %w", path, err)
	}
	return c, nil
}

// Check validates the configuration: known stages only, every stage of every kind, amber in (0,1).
func (c Clocks) Check() error {
	if c.Amber <= 0 || c.Amber >= 1 {
		return fmt.Errorf("amber must be between 0 and 1, got %v", c.Amber)
	}
	for kind, stages := range c.Kinds {
		for st := range stages {
			if !slices.Contains(Stages, st) {
				return fmt.Errorf("kind %s: unknown stage %q (signed, contacted, arrived)", kind, st)
			}
		}
		for _, st := range Stages {
			if _, ok := stages[st]; !ok {
				return fmt.Errorf("kind %s: no clock for stage %s", kind, st)
			}
		}
	}
	return nil
}

// Light is a countdown's colour on the whistle board.
type Light string

const (
	Green Light = "green" // running, plenty of time
	Amber Light = "amber" // running, less than Amber of the span left
	Red   Light = "red"   // past its deadline (still open, or reached late)
	Done  Light = "done"  // reached in time
)

// StageClock is one stage of one department's answer at a moment.
type StageClock struct {
	Stage    Stage     `json:"stage"`
	Deadline time.Time `json:"deadline"`
	Reached  time.Time `json:"reached,omitzero"` // when the department reached the stage
	Late     bool      `json:"late"`             // reached after the deadline, or open past it
	Left     int64     `json:"left_s"`           // seconds until the deadline (negative: overdue); counted in working time for working-day clocks
	Light    Light     `json:"light"`
}

// Status computes the clocks of one summoned department: the whistle of kind was blown at
// blown; reached holds the time each stage was reached (absent: not yet). An unknown kind is an
// error naming it.
func (c Clocks) Status(cal *calendar.Calendar, kind string, blown time.Time, reached map[Stage]time.Time, now time.Time) ([]StageClock, error) {
	stages, ok := c.Kinds[kind]
	if !ok {
		return nil, fmt.Errorf("unknown whistle kind %q", kind)
	}
	out := make([]StageClock, 0, len(Stages))
	for _, st := range Stages {
		sp := stages[st]
		sc := StageClock{Stage: st, Deadline: cal.Deadline(blown, sp)}
		left := func(at time.Time) time.Duration {
			if sp.WorkDays > 0 {
				return cal.WorkingTime(at, sc.Deadline)
			}
			return sc.Deadline.Sub(at)
		}
		if at, ok := reached[st]; ok {
			sc.Reached = at
			sc.Late = at.After(sc.Deadline)
			sc.Left = int64(left(at) / time.Second)
			sc.Light = Done
			if sc.Late {
				sc.Light = Red
			}
		} else {
			l := left(now)
			sc.Left = int64(l / time.Second)
			total := time.Duration(sp.WorkDays) * 24 * time.Hour
			if sp.WorkDays == 0 {
				total = sp.D
			}
			switch {
			case now.After(sc.Deadline):
				sc.Late, sc.Light = true, Red
			case float64(l) < c.Amber*float64(total):
				sc.Light = Amber
			default:
				sc.Light = Green
			}
		}
		out = append(out, sc)
	}
	return out, nil
}
