package alerts

import (
	"encoding/json"
	"slices"
	"time"
)

// The engine writes a watch mark into its marks' log at its first evaluation in a process (Start) and
// then at most every heartbeat, and a last one when its evaluation loop stops (Watched). The
// marks tell over which time alerts were watched: a figure of "0 alerts" over a time nothing
// watched is no figure, and Coverage says so.

// DefaultHeartbeat is the least time between two watch marks.
const DefaultHeartbeat = 10 * time.Minute

// maxGaps bounds the gaps a Coverage lists.
const maxGaps = 20

// Span is a time range [From, To).
type Span struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// Coverage tells over which part of a period the engine was watching, from its watch marks.
// Marks further apart than two heartbeats leave a gap between them (the process was down, or
// not ready); a Start mark always begins a new span. The current span runs to now while the
// engine is marking.
type Coverage struct {
	// Since is the first watch mark (nil: none, nothing was ever watched here).
	Since *time.Time `json:"since,omitempty"`
	// From and To are the period measured: to is at most now, since the future is not missed.
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Watched is the time within [From, To) covered by the marks; Unwatched the rest.
	Watched   time.Duration `json:"-"`
	Unwatched time.Duration `json:"-"`
	// Gaps are the unwatched parts of [From, To), oldest first: the latest 20, GapsMore counts
	// the older ones left off.
	Gaps     []Span `json:"gaps"`
	GapsMore int    `json:"gaps_more,omitempty"`
	// Complete: the whole period was watched.
	Complete bool `json:"complete"`
}

// MarshalJSON writes the durations in seconds (watched_s, unwatched_s).
func (c Coverage) MarshalJSON() ([]byte, error) {
	type plain Coverage
	return json.Marshal(struct {
		plain
		Watched   float64 `json:"watched_s"`
		Unwatched float64 `json:"unwatched_s"`
	}{plain(c), c.Watched.Seconds(), c.Unwatched.Seconds()})
}

// In gives the coverage's times in loc.
func (c Coverage) In(loc *time.Location) Coverage {
	if c.Since != nil {
		t := c.Since.In(loc)
		c.Since = &t
	}
	c.From, c.To = c.From.In(loc), c.To.In(loc)
	gs := make([]Span, len(c.Gaps))
	for i, g := range c.Gaps {
		gs[i] = Span{From: g.From.In(loc), To: g.To.In(loc)}
	}
	c.Gaps = gs
	return c
}

// markSpan folds one watch mark into the spans.
func (e *Engine) markSpan(at time.Time, start bool) {
	n := len(e.spans)
	if start || n == 0 || at.Before(e.spans[n-1].To) || at.Sub(e.spans[n-1].To) > 2*e.beat {
		e.spans = append(e.spans, Span{From: at, To: at})
		return
	}
	e.spans[n-1].To = at
}

// mark writes a watch mark at now when due (the process's first, or a heartbeat after the
// last); with e.mu held.
func (e *Engine) mark(now time.Time, force bool) error {
	if !e.lastMark.IsZero() && !force && now.Sub(e.lastMark) < e.beat && !now.Before(e.lastMark) {
		return nil
	}
	en := Entry{Op: OpWatch, At: now, Start: e.lastMark.IsZero()}
	if err := e.marks.Append(en); err != nil {
		return err
	}
	e.markSpan(now, en.Start)
	e.lastMark = now
	return nil
}

// Watched writes a last watch mark at the clock's now (an evaluation loop stopping): the
// time since the last heartbeat was watched. Nothing when the engine never evaluated.
func (e *Engine) Watched() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.lastMark.IsZero() {
		return nil
	}
	return e.mark(e.clk.Now(), true)
}

// Coverage measures the watched part of [from, to) (zero from: since the first mark; zero to,
// or one after now: now).
func (e *Engine) Coverage(from, to time.Time) Coverage {
	now := e.clk.Now()
	e.mu.Lock()
	spans := slices.Clone(e.spans)
	live := !e.lastMark.IsZero() && len(spans) > 0 && !now.Before(spans[len(spans)-1].To) && now.Sub(spans[len(spans)-1].To) <= 2*e.beat
	e.mu.Unlock()
	return coverage(spans, live, from, to, now)
}

// coverage measures [from, to) against spans (in mark order); live extends the last to now.
func coverage(spans []Span, live bool, from, to, now time.Time) Coverage {
	var c Coverage
	if live {
		spans[len(spans)-1].To = now
	}
	for _, s := range spans {
		if c.Since == nil || s.From.Before(*c.Since) {
			t := s.From
			c.Since = &t
		}
	}
	if from.IsZero() {
		if c.Since == nil {
			from = now
		} else {
			from = *c.Since
		}
	}
	if to.IsZero() || to.After(now) {
		to = now
	}
	if to.Before(from) {
		to = from
	}
	c.From, c.To = from, to
	// Clip, sort and merge the spans within [from, to).
	var in []Span
	for _, s := range spans {
		s.From, s.To = later(s.From, from), earlier(s.To, to)
		if s.To.After(s.From) {
			in = append(in, s)
		}
	}
	slices.SortFunc(in, func(a, b Span) int { return a.From.Compare(b.From) })
	at := from
	gap := func(a, b time.Time) {
		if !b.After(a) {
			return
		}
		c.Unwatched += b.Sub(a)
		if c.Gaps = append(c.Gaps, Span{From: a, To: b}); len(c.Gaps) > maxGaps {
			c.Gaps = c.Gaps[1:]
			c.GapsMore++
		}
	}
	for _, s := range in {
		gap(at, s.From)
		if s.To.After(at) {
			c.Watched += s.To.Sub(later(at, s.From))
			at = s.To
		}
	}
	gap(at, to)
	if c.Gaps == nil {
		c.Gaps = []Span{}
	}
	c.Complete = c.Unwatched == 0 && c.Since != nil
	return c
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
