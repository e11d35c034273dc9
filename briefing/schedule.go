package briefing

import (
	"context"
	"log/slog"
	"time"

	"zhili/clock"
)

// Scheduler keeps the briefings of the periods just ended: yesterday's daily briefing once the
// clock is past 00:30, last week's on Monday after 00:30 (and on any later day it is still
// missing), for each region of Regions. It is idempotent: a kept briefing is skipped.
type Scheduler struct {
	Service *Service
	// Regions to keep briefings for (nil: Service.Regions, the root and its children).
	Regions func() []string
	Clock   clock.Clock // nil: clock.Real
	// After is how long after midnight a period counts as ready (default 30 min: late events
	// of the last minutes have arrived).
	After time.Duration
	// Every is how often Run looks (default 1 min); the first look is after Delay (default
	// 1 min, so that a starting server serves first).
	Every, Delay time.Duration
	Logger       *slog.Logger
	// Ready reports whether the history store holds what the process will serve (nil: always).
	// Until it does, Tick keeps nothing: a briefing made from a half-loaded store would be kept
	// with figures that are too low.
	Ready func() bool
}

// Due returns the periods whose briefings should be kept at now: the last day and the last
// ISO week that ended at least After before now.
func (s *Scheduler) Due(now time.Time) []Period {
	loc := s.Service.b.Cal.Location()
	after := s.After
	if after <= 0 {
		after = 30 * time.Minute
	}
	t := now.In(loc).Add(-after)
	return []Period{DayOf(t, loc).Shift(-1, loc), WeekOf(t, loc).Shift(-1, loc)}
}

// Tick keeps every due briefing not kept yet; it returns how many it made and the first error
// (it goes on with the others after one).
func (s *Scheduler) Tick(ctx context.Context) (int, error) {
	if s.Ready != nil && !s.Ready() {
		return 0, nil
	}
	clk := s.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	regions := s.Service.Regions
	if s.Regions != nil {
		regions = s.Regions
	}
	made := 0
	var first error
	for _, p := range s.Due(clk.Now()) {
		for _, r := range regions() {
			if ctx.Err() != nil {
				return made, ctx.Err()
			}
			ok, err := s.Service.Ensure(ctx, r, p)
			if err != nil {
				if first == nil {
					first = err
				}
				if s.Logger != nil {
					s.Logger.Warn("briefing not kept", "region", r, "period", p.String(), "err", err)
				}
				continue
			}
			if ok {
				made++
				if s.Logger != nil {
					s.Logger.Info("briefing kept", "region", r, "period", p.String())
				}
			}
		}
	}
	return made, first
}

// Run looks every Every until ctx is done; it returns nil then.
func (s *Scheduler) Run(ctx context.Context) error {
	every, delay := s.Every, s.Delay
	if every <= 0 {
		every = time.Minute
	}
	if delay <= 0 {
		delay = time.Minute
	}
	timer := time.NewTimer(delay)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		_, _ = s.Tick(ctx)
		timer.Reset(every)
	}
}
