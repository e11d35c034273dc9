package dashboard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"zhili/alerts"
	"zhili/clock"
	"zhili/geo"
	"zhili/governance"
	"zhili/store"
)

// RepeatSignals measures repeat complaints at one place (alert kind repeat) from the history
// store: for each window the rules ask for, the cases first reported within it are linked as
// the audit links repeat complaints (governance.LinkRepeats: same category and the same
// normalized address or report points within Repeat.Distance), and every place with at least
// two cases gives one signal. Addresses and reporters are read for the matching only and never
// leave it.
type RepeatSignals struct {
	St   store.Store
	Tree *geo.Tree
	Clk  clock.Clock // for a zero now
	// Repeat is the audit's repeat rule (Distance default 50 m); its Window is each rule's.
	Repeat governance.RepeatConfig
	// CategoryName names a category in zh and en (nil or "": the code).
	CategoryName func(code string) (zh, en string)
	// Rules are the rules in force, whose repeat windows Provide measures.
	Rules func() *alerts.RuleSet
	Log   *slog.Logger // nil: slog.Default()

	cache signalCache
}

// MaxRepeatWindow is the longest window measured; rules asking for more get no signal.
const MaxRepeatWindow = 31 * 24 * time.Hour

// MaxRepeatCases bounds the cases one measurement reads; past it no signal is given (the
// measurement would be partial).
var MaxRepeatCases = 50_000

// repeatCell is the side in metres of the lattice naming a place in its key.
const repeatCell = 50.0

var errRepeatTooMany = errors.New("repeat: too many cases")

// Provide is the alerting's provider (AlertingConfig.Extra): Signals over the windows of the
// enabled repeat rules.
func (p *RepeatSignals) Provide(ctx context.Context, now time.Time) []alerts.Signal {
	if p.Rules == nil {
		return nil
	}
	return p.Signals(ctx, now, p.Rules().Windows(alerts.KindRepeat))
}

// Signals measures the windows at now (zero: the clock's), at most once per SignalsEvery;
// between, it repeats its last signals.
func (p *RepeatSignals) Signals(ctx context.Context, now time.Time, windows []time.Duration) []alerts.Signal {
	if now.IsZero() && p.Clk != nil {
		now = p.Clk.Now()
	}
	ws := make([]time.Duration, 0, len(windows))
	for _, w := range windows {
		if w > 0 && w <= MaxRepeatWindow && !slices.Contains(ws, w) {
			ws = append(ws, w)
		}
	}
	if len(ws) == 0 {
		return nil
	}
	slices.Sort(ws)
	return p.cache.get(ctx, now, SignalsEvery, windowsKey(ws), func() []alerts.Signal {
		out, err := p.measure(ctx, now, ws)
		if err != nil && ctx.Err() == nil {
			log := p.Log
			if log == nil {
				log = slog.Default()
			}
			log.Warn("alerts: repeat complaints not measured", "err", err)
			return nil
		}
		return out
	})
}

// measure reads the cases of the longest window once and links each window's share of them.
func (p *RepeatSignals) measure(ctx context.Context, now time.Time, ws []time.Duration) ([]alerts.Signal, error) {
	longest := ws[len(ws)-1]
	var facts []governance.CaseFacts
	err := p.St.Cases(ctx, store.CaseQuery{From: now.Add(-longest), To: now}, func(id string, recs []store.Record) error {
		if len(facts) >= MaxRepeatCases {
			return errRepeatTooMany
		}
		f, _, _ := factsOf(id, recs, time.Time{})
		f.RepeatOf = ""
		facts = append(facts, f)
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []alerts.Signal
	for _, w := range ws {
		from := now.Add(-w)
		var in []governance.CaseFacts
		for _, f := range facts {
			if !f.Reported.Before(from) && f.Reported.Before(now) {
				in = append(in, f)
			}
		}
		cfg := p.Repeat
		cfg.Window = w
		governance.LinkRepeats(in, cfg)
		// Places: each chain's earliest case with the cases repeating it.
		byRoot := map[string][]int{}
		for i := range in {
			root := in[i].RepeatOf
			if root == "" {
				root = in[i].ID
			}
			byRoot[root] = append(byRoot[root], i)
		}
		idx := make(map[string]int, len(in))
		for i := range in {
			idx[in[i].ID] = i
		}
		for root, members := range byRoot {
			if len(members) < 2 {
				continue
			}
			out = append(out, p.signal(in, idx[root], members, w))
		}
	}
	slices.SortFunc(out, func(a, b alerts.Signal) int {
		if a.Window != b.Window {
			return int(a.Window - b.Window)
		}
		if a.Region != b.Region {
			return strings.Compare(a.Region, b.Region)
		}
		return strings.Compare(a.Subject, b.Subject)
	})
	return out, nil
}

// signal is one place's signal: its grid and key are those of the chain's earliest case.
func (p *RepeatSignals) signal(in []governance.CaseFacts, root int, members []int, w time.Duration) alerts.Signal {
	f := &in[root]
	grid := p.Tree.Root
	if len(f.Region) > 0 {
		if r := p.Tree.Get(f.Region[len(f.Region)-1]); r != nil {
			grid = r
		}
	}
	// The place's key: grid, category and the ~50 m cell of the earliest report's point (a
	// place matched by address only is keyed by its earliest case).
	place := "case-" + f.ID
	if f.HasPoint {
		x, y := repeatCellOf(f.Lon, f.Lat)
		place = strconv.FormatInt(x, 10) + "_" + strconv.FormatInt(y, 10)
	}
	catZh, catEn := categoryNames(p.CategoryName, f.Category)
	first, last := f, f
	for _, i := range members {
		if in[i].Reported.After(last.Reported) {
			last = &in[i]
		}
	}
	return alerts.Signal{Kind: alerts.KindRepeat, Region: grid.Code, RegionPath: p.Tree.Path(grid.Code), RegionName: grid.Name,
		Category: f.Category, CategoryName: catZh, CategoryNameEn: catEn,
		Subject: grid.Code + "/" + f.Category + "/" + place, Window: w, Value: float64(len(members)),
		// Two places of one grid and category are told apart by their first case.
		SubjectName:   fmt.Sprintf("%s %s 同一地点（首件 %s）", grid.Name, catZh, f.ID),
		SubjectNameEn: fmt.Sprintf("%s %s, same place (first case %s)", grid.Name, catEn, f.ID),
		Detail: map[string]string{"cases": strconv.Itoa(len(members)), "first_case": first.ID, "last_case": last.ID,
			"first": first.Reported.Format(time.RFC3339), "last": last.Reported.Format(time.RFC3339)}}
}

// repeatCellOf is a point's cell on a fixed lattice of about repeatCell metres (WGS-84): rows
// of repeatCell metres of latitude, columns as wide at the row's centre.
func repeatCellOf(lon, lat float64) (x, y int64) {
	dLat := repeatCell / 111320
	y = int64(math.Floor(lat / dLat))
	c := (float64(y) + 0.5) * dLat
	dLon := dLat / math.Max(math.Cos(c*math.Pi/180), 0.01)
	return int64(math.Floor(lon / dLon)), y
}
