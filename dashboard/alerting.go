package dashboard

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"zhili/alerts"
	"zhili/calendar"
	"zhili/errs"
	"zhili/geo"
	"zhili/governance"
	"zhili/scan"
	"zhili/update"
)

// Alerting measures the live read model against the alert rules (docs/ALERTS.md). Every Every
// it computes the signals — overdue cases per township (the parents of the grids), late whistle
// stages, departments' response rate today, the clusters of the last space-time scan, and the
// extra providers' signals (forecast bands) — and hands them to the engine, which raises what
// the rules ask for. It also serves alerts:<region> topics (AlertsSource).
type Alerting struct {
	cfg     AlertingConfig
	scanner *scan.Scanner
	towns   []*geo.Region // the regions whose children are grids: overdue is measured on them

	mu       sync.Mutex
	lastScan time.Time
	scanRes  scan.Result
	scanSigs []alerts.Signal // the last scan's signals, repeated until the next scan

	ver atomic.Uint64 // rises with every alert change
}

// AlertingConfig configures Alerting. M and Engine are required.
type AlertingConfig struct {
	M      *Model
	Hot    *Hotspots // the scan's cases (its ScanWindow); nil: no scan
	Engine *alerts.Engine
	Clocks governance.Clocks
	Cal    *calendar.Calendar
	Every  time.Duration // evaluation cadence; default 10 s
	// Scan configures the space-time scan over the grids; its Every is how often it runs
	// (default 10 min) and its Bucket must be ScanWindow's (1 h). Replicates 0: no scan.
	Scan scan.Config
	// Names gives display names of departments ("dept") and categories ("category"); nil or
	// "": the code.
	Names func(kind, code string) (zh, en string)
	// Extra providers of signals (forecast bands), called at every evaluation.
	Extra []func(ctx context.Context, now time.Time) []alerts.Signal
	// Ready reports whether the read model holds the state (nil: always); no evaluation runs
	// before, so that nothing is measured on an empty model.
	Ready func() bool
	// RulesStatus reports the rules file's state (nil: rules not from a watched file).
	RulesStatus func() alerts.WatchStatus
	Log         *slog.Logger
}

// NewAlerting prepares the scan's circles over the grids (once) and returns the alerting.
func NewAlerting(cfg AlertingConfig) (*Alerting, error) {
	if cfg.M == nil || cfg.Engine == nil {
		return nil, fmt.Errorf("alerting: a model and an engine are required")
	}
	if cfg.Every <= 0 {
		cfg.Every = 10 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	a := &Alerting{}
	cfg.M.tree.Walk(func(r *geo.Region) {
		if r.Level > 0 && len(r.Children) > 0 && len(r.Children[0].Children) == 0 {
			a.towns = append(a.towns, r)
		}
	})
	if cfg.Hot != nil && cfg.Scan.Replicates > 0 {
		if cfg.Scan.Every <= 0 {
			cfg.Scan.Every = 10 * time.Minute
		}
		if cfg.Scan.Bucket == 0 {
			cfg.Scan.Bucket = ScanWindow.Bucket
		}
		if cfg.Scan.Study == 0 {
			cfg.Scan.Study = ScanWindow.Span()
		}
		if cfg.Scan.Bucket != ScanWindow.Bucket || cfg.Scan.Study > ScanWindow.Span() {
			return nil, fmt.Errorf("alerting: the scan reads %v buckets over at most %v", ScanWindow.Bucket, ScanWindow.Span())
		}
		leaves := cfg.Hot.Leaves()
		cells := make([]scan.Cell, len(leaves))
		for i, r := range leaves {
			c := r.Bound.Center()
			cells[i] = scan.Cell{ID: r.Code, Lon: c[0], Lat: c[1]}
		}
		if len(cells) > 0 {
			s, err := scan.NewScanner(cells, cfg.Scan)
			if err != nil {
				return nil, err
			}
			a.scanner = s
		}
	}
	a.cfg = cfg
	if a.scanner != nil {
		a.cfg.Scan = a.scanner.Config()
	}
	return a, nil
}

// Changed is the engine's observer: screens see the change at their next tick.
func (a *Alerting) Changed(alerts.Change) { a.ver.Add(1) }

// Version rises with every alert change.
func (a *Alerting) Version() uint64 { return a.ver.Load() }

// Engine is the alert engine.
func (a *Alerting) Engine() *alerts.Engine { return a.cfg.Engine }

// Run evaluates every Every until ctx ends.
func (a *Alerting) Run(ctx context.Context) error {
	t := time.NewTicker(a.cfg.Every)
	defer t.Stop()
	for {
		if _, err := a.Evaluate(ctx); err != nil && ctx.Err() == nil {
			a.cfg.Log.Warn("alerts: evaluation failed", "err", err)
		}
		select {
		case <-ctx.Done():
			// The time since the last heartbeat was watched too.
			if err := a.cfg.Engine.Watched(); err != nil {
				a.cfg.Log.Warn("alerts: last watch mark not written", "err", err)
			}
			return nil
		case <-t.C:
		}
	}
}

// Evaluate measures the signals now and applies the rules; it returns the alerts raised.
func (a *Alerting) Evaluate(ctx context.Context) ([]alerts.Alert, error) {
	if a.cfg.Ready != nil && !a.cfg.Ready() {
		return nil, nil
	}
	now := a.cfg.M.clk.Now()
	sigs := a.Signals(now)
	for _, f := range a.cfg.Extra {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		sigs = append(sigs, f(ctx, now)...)
	}
	return a.cfg.Engine.Evaluate(now, sigs)
}

// Signals measures the read model's signals at now (the scan's when it is due).
func (a *Alerting) Signals(now time.Time) []alerts.Signal {
	m := a.cfg.M
	var out []alerts.Signal
	m.mu.RLock()
	// Overdue cases per township.
	for _, r := range a.towns {
		if n := m.get(r.Code, "", 0, update.MOverdue); n > 0 {
			out = append(out, a.regionSignal(alerts.KindOverdue, r, float64(n)))
		}
	}
	// Departments' response rate today (signed in time ÷ dispatches decided: those still
	// within their window unsigned are left out), deployment-wide.
	day := update.DayOf(now, m.loc)
	root := m.tree.Root
	for _, d := range m.depts {
		code := update.DeptPrefix + d
		num, decided := responseFigures(m.get(code, "", day, update.MSignedInTime),
			m.get(code, "", day, update.MDispatched), m.get(code, "", day, update.MAwaitingSign))
		if decided == 0 {
			continue
		}
		s := a.regionSignal(alerts.KindResponseRate, root, float64(num)/float64(decided))
		s.Subject, s.Sample = d, int(decided)
		s.SubjectName, s.SubjectNameEn = a.name("dept", d)
		out = append(out, s)
	}
	var ws []update.Whistle
	for _, src := range m.srcs {
		for _, w := range src.whistles {
			if w.Resolved.IsZero() {
				ws = append(ws, w)
			}
		}
	}
	m.mu.RUnlock()
	out = append(out, a.whistleSignals(ws, now)...)
	return append(out, a.scanSignals(now)...)
}

// whistleSignals gives one signal per department and stage late on an open whistle.
func (a *Alerting) whistleSignals(ws []update.Whistle, now time.Time) []alerts.Signal {
	var out []alerts.Signal
	for _, w := range ws {
		r := a.cfg.M.tree.Get(last(w.Region))
		if r == nil {
			r = a.cfg.M.tree.Root
		}
		for _, d := range w.Depts {
			reached := map[governance.Stage]time.Time{}
			for st, at := range d.Reached {
				reached[governance.Stage(st)] = at
			}
			clocks, err := a.cfg.Clocks.Status(a.cfg.Cal, w.Kind, w.Blown, reached, now)
			if err != nil {
				continue
			}
			for _, c := range clocks {
				if !c.Late || !c.Reached.IsZero() {
					continue
				}
				s := a.regionSignal(alerts.KindWhistleLate, r, float64(-c.Left)/60)
				if len(w.Region) > 0 {
					s.RegionPath = w.Region
				}
				s.Category, s.Stage = w.Category, string(c.Stage)
				s.Subject = w.ID + "/" + d.Dept
				zh, en := a.name("dept", d.Dept)
				s.SubjectName, s.SubjectNameEn = w.ID+" "+zh, w.ID+" "+en
				s.Detail = map[string]string{"whistle": w.ID, "case_id": w.CaseID, "dept": d.Dept, "deadline": c.Deadline.Format(time.RFC3339)}
				out = append(out, s)
				break // the earliest late stage of this department
			}
		}
	}
	return out
}

// scanSignals runs the space-time scan when it is due and returns its clusters as signals.
func (a *Alerting) scanSignals(now time.Time) []alerts.Signal {
	if a.scanner == nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.lastScan.IsZero() && now.Sub(a.lastScan) < a.cfg.Scan.Every || !a.cfg.Hot.Seeded() {
		return a.scanSigs // not due, or the windows do not hold the history yet
	}
	a.lastScan = now
	var cases []scan.Case
	// The window's end is the analysis time, so that each bucket of the window is a bucket of
	// the scan (case times are their buckets' starts).
	to, _ := a.cfg.Hot.Recent(ScanWindow.Name, now, func(leaf int, start time.Time, n int32) {
		for range n {
			cases = append(cases, scan.Case{Cell: leaf, T: start})
		}
	})
	res := a.scanner.Scan(cases, to)
	a.scanRes = res
	a.scanSigs = a.scanSigs[:0]
	for _, c := range res.Clusters {
		r := a.cfg.M.tree.Get(c.Center)
		if r == nil {
			continue
		}
		s := a.regionSignal(alerts.KindScan, r, c.RecurrenceDays)
		s.Subject = c.Center
		// Named by the centre grid and how many grids the circle holds.
		s.SubjectName, s.SubjectNameEn = gridName(r.Name, len(c.Cells))
		s.Detail = map[string]string{
			"observed": strconv.Itoa(c.Observed), "expected": strconv.FormatFloat(c.Expected, 'f', 2, 64),
			"p": strconv.FormatFloat(c.P, 'g', 4, 64), "cells": strconv.Itoa(len(c.Cells)),
			"radius_m": strconv.FormatFloat(c.RadiusM, 'f', 0, 64),
			"from":     c.Start.Format(time.RFC3339), "to": c.End.Format(time.RFC3339),
		}
		a.scanSigs = append(a.scanSigs, s)
	}
	a.cfg.Log.Debug("alerts: scan", "cases", res.Cases, "clusters", len(res.Clusters), "replicates", res.Replicates, "took", res.Took)
	return a.scanSigs
}

// RulesStatus reports the rules file's state, when the rules come from a watched file.
func (a *Alerting) RulesStatus() (alerts.WatchStatus, bool) {
	if a.cfg.RulesStatus == nil {
		return alerts.WatchStatus{}, false
	}
	return a.cfg.RulesStatus(), true
}

// ScanReply is the last space-time scan as the scan route answers it.
type ScanReply struct {
	At         time.Time `json:"at"` // when it ran (zero: not yet)
	Enabled    bool      `json:"enabled"`
	Every      string    `json:"every"`
	Replicates int       `json:"replicates"` // run by the last scan (fewer than R after an early stop)
	Cases      int       `json:"cases"`      // in its study period
	Study      string    `json:"study"`
	AlarmDays  float64   `json:"alarm_days"`
	Took       string    `json:"took"`
	// Clusters are those of the region with p < 1 (a cluster no replicate falls short of is
	// no finding), the primary first.
	Clusters []ScanCluster `json:"clusters"`
}

// ScanCluster is one cluster of a scan with its centre's name, times in the deployment's zone.
type ScanCluster struct {
	scan.Cluster
	CenterName string `json:"center_name"`
}

// ScanReply returns the last scan's clusters whose centre lies in region.
func (a *Alerting) ScanReply(region string) ScanReply {
	res, at := a.LastScan()
	out := ScanReply{At: at, Enabled: a.scanner != nil, Clusters: []ScanCluster{}}
	if a.scanner == nil {
		return out
	}
	cfg := a.cfg.Scan
	out.Every, out.Study, out.AlarmDays = span(cfg.Every), span(cfg.Study), cfg.AlarmDays
	out.Replicates, out.Cases, out.Took = res.Replicates, res.Cases, res.Took.Round(time.Millisecond).String()
	loc := a.cfg.M.loc
	out.At = at.In(loc)
	for _, c := range res.Clusters {
		if c.P >= 1 || a.cfg.M.tree.Root.Code != region && !containsCode(a.cfg.M.tree.Path(c.Center), region) {
			continue
		}
		c.RadiusM, c.Start, c.End = math.Round(c.RadiusM), c.Start.In(loc), c.End.In(loc)
		sc := ScanCluster{Cluster: c}
		if r := a.cfg.M.tree.Get(c.Center); r != nil {
			sc.CenterName = r.Name
		}
		out.Clusters = append(out.Clusters, sc)
	}
	return out
}

// gridName names a circle of grids by its centre: "第14网格" or "第14网格等 3 个网格".
func gridName(centre string, n int) (zh, en string) {
	if n <= 1 {
		return centre, centre
	}
	return fmt.Sprintf("%s等 %d 个网格", centre, n), fmt.Sprintf("%s and %d neighbouring grids", centre, n-1)
}

// span writes a duration as people say it: 7d, 10m, 1h30m.
func span(d time.Duration) string {
	s := d.String()
	if d%(24*time.Hour) == 0 && d > 0 {
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	}
	if d%time.Minute == 0 && d > 0 {
		s = strings.TrimSuffix(s, "0s")
	}
	if d%time.Hour == 0 && d > 0 {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// LastScan returns the last scan's result and when it ran (zero: none yet).
func (a *Alerting) LastScan() (scan.Result, time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.scanRes, a.lastScan
}

func (a *Alerting) regionSignal(kind alerts.Kind, r *geo.Region, v float64) alerts.Signal {
	return alerts.Signal{Kind: kind, Region: r.Code, RegionPath: a.cfg.M.tree.Path(r.Code), Value: v, RegionName: r.Name}
}

func (a *Alerting) name(kind, code string) (string, string) {
	if a.cfg.Names != nil {
		if zh, en := a.cfg.Names(kind, code); zh != "" {
			return zh, en
		}
	}
	return code, code
}

func last(path []string) string {
	if len(path) == 0 {
		return ""
	}
	return path[len(path)-1]
}

// signalCache keeps a signal provider's last measurement for a while: the providers read the
// history store, which an evaluation every few seconds need not ask each time.
type signalCache struct {
	mu   sync.Mutex
	at   time.Time
	key  string // what was measured (e.g. the windows); another key measures again
	last []alerts.Signal
}

// get returns the kept signals while they are younger than every and of the same key, else
// measures; a measurement cut short by ctx is returned but not kept.
func (c *signalCache) get(ctx context.Context, now time.Time, every time.Duration, key string, measure func() []alerts.Signal) []alerts.Signal {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at.IsZero() && now.After(c.at) && now.Sub(c.at) < every && key == c.key {
		return c.last
	}
	out := measure()
	if ctx.Err() == nil {
		c.at, c.key, c.last = now, key, out
	}
	return out
}

// categoryNames names a category through names (nil, or no zh name: the code itself; no en
// name: the zh one).
func categoryNames(names func(code string) (zh, en string), code string) (zh, en string) {
	if names != nil {
		if z, e := names(code); z != "" {
			return z, cmp.Or(e, z)
		}
	}
	return code, code
}

// windowsKey names a set of windows for signalCache.
func windowsKey(ws []time.Duration) string { return fmt.Sprint(ws) }

// AlertsSource serves alerts:<region> topics: the alerts not yet closed whose region lies in
// the topic's region (severe first, then the newest), their counts, and those closed in the
// last 24 hours.
type AlertsSource struct{ A *Alerting }

// MaxTopicAlerts bounds the alerts one topic lists (counts still count them all).
const MaxTopicAlerts = 50

// Open validates t and returns its live state.
func (s AlertsSource) Open(t Topic) (TopicState, error) {
	if t.Window != "" {
		return nil, errs.E(errs.Invalid, "topic.window", "alerts topics take no window")
	}
	r, err := s.A.cfg.M.region(t.Region)
	if err != nil {
		return nil, err
	}
	st := &alertsState{a: s.A, r: r}
	st.Advance()
	return st, nil
}

type alertsState struct {
	a    *Alerting
	r    *geo.Region
	ver  uint64
	hour string // the hour of the last build: the closed list moves with time
	data map[string]any
}

func (s *alertsState) Snapshot() any { return s.data }

func (s *alertsState) Advance() (any, bool) {
	now := s.a.cfg.M.clk.Now()
	ver, hour := s.a.Version(), now.Truncate(time.Hour).String()
	if s.data != nil && ver == s.ver && hour == s.hour {
		return nil, false
	}
	s.ver, s.hour = ver, hour
	cur := s.a.board(s.r, now)
	p := mergePatch(s.data, cur)
	s.data = cur
	if p == nil {
		return nil, false
	}
	return p, true
}

func (s *alertsState) Close() {}

// board builds the alerts data of region r at now.
func (a *Alerting) board(r *geo.Region, now time.Time) map[string]any {
	eng := a.cfg.Engine
	in := func(al *alerts.Alert) bool {
		return r.Level == 0 || containsCode(al.RegionPath, r.Code) || al.Region == r.Code
	}
	var active []alerts.Alert
	counts := map[string]int64{"open": 0, "acknowledged": 0, "severe": 0, "warning": 0, "info": 0}
	for _, al := range eng.OpenAlerts() {
		if !in(&al) {
			continue
		}
		counts[string(al.State)]++
		counts[string(al.Severity)]++
		active = append(active, al)
	}
	sort.SliceStable(active, func(i, j int) bool {
		if ri, rj := active[i].Severity.Rank(), active[j].Severity.Rank(); ri != rj {
			return ri > rj
		}
		return active[i].RaisedAt.After(active[j].RaisedAt)
	})
	loc := a.cfg.M.loc
	list := make([]any, 0, min(len(active), MaxTopicAlerts))
	for _, al := range active[:min(len(active), MaxTopicAlerts)] {
		list = append(list, topicAlert(al, loc))
	}
	page, _ := eng.List(alerts.Query{States: []alerts.State{alerts.Closed}, Region: r.Code, From: now.Add(-24 * time.Hour), Limit: 10})
	closed := make([]any, 0, len(page.Alerts))
	for _, al := range page.Alerts {
		closed = append(closed, topicAlert(al, loc))
	}
	cm := make(map[string]any, len(counts))
	for k, v := range counts {
		cm[k] = v
	}
	return map[string]any{"alerts": list, "counts": cm, "closed_24h": closed}
}

// topicAlert is what a screen shows of an alert: no person's name beyond who acknowledged.
func topicAlert(al alerts.Alert, loc *time.Location) map[string]any {
	out := map[string]any{"id": al.ID, "rule_id": al.RuleID, "rule_name": al.RuleName, "kind": string(al.Kind),
		"severity": string(al.Severity), "region": al.Region, "title": al.Title, "title_en": al.TitleEn,
		"state": string(al.State), "raised_at": al.RaisedAt.In(loc).Format(time.RFC3339), "value": al.Value, "bound": al.Bound}
	if al.Category != "" {
		out["category"] = al.Category
	}
	if al.AckedAt != nil {
		out["acked_at"] = al.AckedAt.In(loc).Format(time.RFC3339)
	}
	if al.ClosedAt != nil {
		out["closed_at"] = al.ClosedAt.In(loc).Format(time.RFC3339)
	}
	return out
}
