package dashboard

import (
	"context"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"zhili/alerts"
	"zhili/clock"
	"zhili/geo"
	"zhili/store"
)

// HotspotSignals measures emerging hot spots (alert kind hotspot) from the history store: every
// Every it classifies the grids (the tree's leaves) over the last Period in Steps, as the period
// hotspot view does (PeriodHotspots: Gi* per step, Mann-Kendall trend, the floors of the live
// topics), and every grid with a hot-spot pattern gives one signal. Too little data (fewer
// steps holding cases or fewer cases than the floors ask) classifies nothing: no signal.
type HotspotSignals struct {
	St   store.Store
	Tree *geo.Tree
	Clk  clock.Clock    // for a zero now
	Loc  *time.Location // steps start at its midnight (nil: UTC)
	// Floors are the data-sufficiency rules (the live topics': Model.HotspotFloors).
	Floors     HotspotFloors
	DisableFDR bool
	Period     time.Duration // default 7 days
	Step       time.Duration // default 6 h; must divide a day
	Every      time.Duration // default 10 min
	Log        *slog.Logger  // nil: slog.Default()
	// Rules are the rules in force: without an enabled hotspot rule nothing is measured (nil:
	// always measured).
	Rules func() *alerts.RuleSet

	cache signalCache
}

// HotspotSignalsEvery is how often HotspotSignals classifies the grids by default.
const HotspotSignalsEvery = 10 * time.Minute

func (p *HotspotSignals) defaults() (period, step, every time.Duration, loc *time.Location) {
	period, step, every, loc = p.Period, p.Step, p.Every, p.Loc
	if period <= 0 {
		period = 7 * 24 * time.Hour
	}
	if step <= 0 {
		step = 6 * time.Hour
	}
	if every <= 0 {
		every = HotspotSignalsEvery
	}
	if loc == nil {
		loc = time.UTC
	}
	return
}

// Signals classifies the grids at now (zero: the clock's) when Every has passed since the last
// time; between, it repeats its last signals.
func (p *HotspotSignals) Signals(ctx context.Context, now time.Time) []alerts.Signal {
	if now.IsZero() && p.Clk != nil {
		now = p.Clk.Now()
	}
	if p.Rules != nil && !slices.ContainsFunc(p.Rules().Rules, func(r alerts.Rule) bool { return r.Enabled && r.Kind == alerts.KindHotspot }) {
		return nil
	}
	_, _, every, _ := p.defaults()
	return p.cache.get(ctx, now, every, "", func() []alerts.Signal {
		out, err := p.measure(ctx, now)
		if err != nil && ctx.Err() == nil {
			log := p.Log
			if log == nil {
				log = slog.Default()
			}
			log.Warn("alerts: emerging hot spots not measured", "err", err)
		}
		return out
	})
}

// HotspotSteps returns the period classified at now: the last whole step (steps start at loc's
// midnight) ends it, so that the final step, which the classes weigh most, is a full one.
func HotspotSteps(now time.Time, period, step time.Duration, loc *time.Location) (from, to time.Time) {
	t := now.In(loc)
	y, m, d := t.Date()
	midnight := time.Date(y, m, d, 0, 0, 0, 0, loc)
	to = midnight.Add(t.Sub(midnight) / step * step)
	days := int(period / (24 * time.Hour))
	from = to.AddDate(0, 0, -days).Add(-(period % (24 * time.Hour)))
	return from, to
}

func (p *HotspotSignals) measure(ctx context.Context, now time.Time) ([]alerts.Signal, error) {
	period, step, _, loc := p.defaults()
	from, to := HotspotSteps(now, period, step, loc)
	rep, err := PeriodHotspots(ctx, p.St, p.Tree, HotspotQuery{Region: p.Tree.Root.Code, From: from, To: to, Level: "grid",
		Step: step, Emerging: true, DisableFDR: p.DisableFDR, Loc: loc, Floors: p.Floors})
	if err != nil {
		return nil, err
	}
	spanZh := "近" + alerts.WindowZh(period) + "，" + alerts.WindowZh(step) + "步长"
	spanEn := "last " + alerts.WindowEn(period) + ", " + alerts.WindowEn(step) + " steps"
	// A grid with no case of its own is not sent a team without saying so.
	through := ThroughNeighbours(p.Tree, rep)
	var out []alerts.Signal
	for _, c := range rep.Cells {
		pat, ok := HotspotAlertPattern(c.Pattern)
		if !ok {
			continue
		}
		r := p.Tree.Get(c.Code)
		if r == nil {
			continue
		}
		out = append(out, alerts.Signal{Kind: alerts.KindHotspot, Region: r.Code, RegionPath: p.Tree.Path(r.Code), RegionName: r.Name,
			Subject: r.Code, SubjectName: "（" + spanZh + "）", SubjectNameEn: "(" + spanEn + ")",
			Pattern: pat, Value: float64(c.Count),
			Detail: map[string]string{"pattern": c.Pattern, "count": strconv.FormatInt(c.Count, 10),
				"z": strconv.FormatFloat(c.Z, 'f', 2, 64), "bin": strconv.Itoa(c.Bin),
				"trend_z": strconv.FormatFloat(c.TrendZ, 'f', 2, 64), "trend_p": strconv.FormatFloat(c.TrendP, 'g', 4, 64),
				"from": from.Format(time.RFC3339), "to": to.Format(time.RFC3339), "step": span(step)}})
		if nm, ok := through[c.Code]; ok {
			d := out[len(out)-1].Detail
			d["through_neighbours"], d["neighbour_mean"] = "true", strconv.FormatFloat(nm, 'f', 1, 64)
		}
	}
	return out, nil
}

// HotspotAlertPattern maps an emerging class (geo's name, e.g. new_hot) to the pattern the
// alert rules name (new); cold spots, no pattern and insufficient data map to nothing.
func HotspotAlertPattern(class string) (string, bool) {
	p, ok := strings.CutSuffix(class, "_hot")
	return p, ok && slices.Contains(alerts.Patterns, p)
}
