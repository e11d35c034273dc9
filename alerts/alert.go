package alerts

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
)

// Signal is one measured fact the integrator computes from the live read model; which fields
// a kind reads is given in docs/ALERTS.md and at Rule.match.
type Signal struct {
	Kind       Kind          `json:"kind"`
	Region     string        `json:"region"`      // the region code the fact is about
	RegionPath []string      `json:"region_path"` // root → Region; nil: [Region]
	Category   string        `json:"category,omitempty"`
	Subject    string        `json:"subject,omitempty"` // whistle id, department code, place, cell, cluster id
	Value      float64       `json:"value"`             // the measured figure
	Sample     int           `json:"sample,omitempty"`  // sample size behind Value (response_rate: cases dispatched today and decided)
	Bound      float64       `json:"bound,omitempty"`   // a bound measured with Value (forecast: the upper band)
	Window     time.Duration `json:"window,omitempty"`  // forecast, repeat: the window Value counts over
	Stage      string        `json:"stage,omitempty"`   // whistle_late: signed | contacted | arrived (governance stages)
	Pattern    string        `json:"pattern,omitempty"` // hotspot: new | intensifying | …
	At         time.Time     `json:"at"`                // when the fact was measured (zero: the evaluation's now)

	// Display names for titles (zh first, en optional); codes stand in for missing names.
	RegionName, RegionNameEn     string            `json:"-"`
	SubjectName, SubjectNameEn   string            `json:"-"`
	CategoryName, CategoryNameEn string            `json:"-"`
	Detail                       map[string]string `json:"detail,omitempty"` // carried into the alert as is
}

// State of an alert.
type State string

const (
	Open         State = "open"
	Acknowledged State = "acknowledged"
	Closed       State = "closed"
)

// Alert is one raised alert with its lifecycle.
type Alert struct {
	ID         string            `json:"id"`
	RuleID     string            `json:"rule_id"`
	RuleName   string            `json:"rule_name"`
	Kind       Kind              `json:"kind"`
	Severity   Severity          `json:"severity"`
	Region     string            `json:"region"`
	RegionPath []string          `json:"region_path"`
	Category   string            `json:"category,omitempty"`
	Subject    string            `json:"subject,omitempty"`
	Title      string            `json:"title"`    // zh
	TitleEn    string            `json:"title_en"` // en
	Value      float64           `json:"value"`    // the measured figure
	Bound      float64           `json:"bound"`    // the threshold it crossed
	Sample     int               `json:"sample,omitempty"`
	Detail     map[string]string `json:"detail,omitempty"`
	MeasuredAt time.Time         `json:"measured_at"`
	RaisedAt   time.Time         `json:"raised_at"`

	State    State      `json:"state"`
	AckedAt  *time.Time `json:"acked_at,omitempty"`
	AckedBy  string     `json:"acked_by,omitempty"`
	ClosedAt *time.Time `json:"closed_at,omitempty"`
	ClosedBy string     `json:"closed_by,omitempty"`
	Note     string     `json:"note,omitempty"` // the closing note
}

// key is what cooldown and the one-open-alert rule count by: rule × region × subject.
func (a *Alert) key() string { return a.RuleID + "\x00" + a.Region + "\x00" + a.Subject }

func (a Alert) clone() Alert {
	a.RegionPath = slices.Clone(a.RegionPath)
	if a.Detail != nil {
		d := make(map[string]string, len(a.Detail))
		for k, v := range a.Detail {
			d[k] = v
		}
		a.Detail = d
	}
	return a
}

// path is the signal's region path (never empty when Region is set).
func (s *Signal) path() []string {
	if len(s.RegionPath) > 0 {
		return s.RegionPath
	}
	if s.Region != "" {
		return []string{s.Region}
	}
	return nil
}

// inScope reports whether the region (with its path) lies under one of the scope's codes.
func inScope(scope []string, region string, path []string) bool {
	if len(scope) == 0 {
		return true
	}
	if len(path) == 0 {
		path = []string{region}
	}
	for _, c := range scope {
		if slices.Contains(path, c) {
			return true
		}
	}
	return false
}

// match applies the rule's kind, scope, category filter, sample minimum and threshold to a
// signal; it returns the alert's value and bound.
func (r *Rule) match(s *Signal) (value, bound float64, ok bool) {
	if !r.Enabled || s.Kind != r.Kind || !inScope(r.Regions, s.Region, s.path()) {
		return 0, 0, false
	}
	if len(r.Categories) > 0 && !slices.Contains(r.Categories, s.Category) {
		return 0, 0, false
	}
	v := s.Value
	switch r.Kind {
	case KindOverdue:
		return v, r.Min, v >= r.Min
	case KindWhistleLate:
		return v, 0, v > 0 && (r.Stage == "any" || r.Stage == s.Stage)
	case KindResponseRate:
		return v, r.Below, s.Sample >= r.MinCases && v < r.Below
	case KindForecast:
		b := s.Bound * r.Factor
		return v, b, s.Window == r.Window && v > b && v >= r.Min
	case KindHotspot:
		return v, 0, slices.Contains(r.Patterns, s.Pattern)
	case KindRepeat:
		return v, r.Min, s.Window == r.Window && v >= r.Min
	case KindScan:
		return v, r.MinRecurrenceDays, v >= r.MinRecurrenceDays
	}
	return 0, 0, false
}

var stageZh = map[string]string{"signed": "签收", "contacted": "联系", "arrived": "到场报到"}

var patternZh = map[string]string{"new": "新增", "intensifying": "加剧", "persistent": "持续",
	"consecutive": "连续", "sporadic": "零星", "oscillating": "振荡", "historical": "历史", "diminishing": "减弱"}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// num formats a figure: whole numbers without decimals, others with at most two.
func num(x float64) string {
	if x == math.Trunc(x) && math.Abs(x) < 1e15 {
		return strconv.FormatInt(int64(x), 10)
	}
	return strconv.FormatFloat(math.Round(x*100)/100, 'f', -1, 64)
}

func pct(x float64) string { return num(math.Round(x*1000) / 10) }

// lateZh and lateEn write minutes late: 45 分钟, 3 小时 5 分, 2 天 4 小时 / 45 min, 3 h 5 min, 2 d 4 h.
func lateZh(m int64) string {
	switch {
	case m < 60:
		return fmt.Sprintf("%d 分钟", m)
	case m < 24*60:
		return fmt.Sprintf("%d 小时 %d 分", m/60, m%60)
	}
	return fmt.Sprintf("%d 天 %d 小时", m/(24*60), m%(24*60)/60)
}

func lateEn(m int64) string {
	switch {
	case m < 60:
		return fmt.Sprintf("%d min", m)
	case m < 24*60:
		return fmt.Sprintf("%d h %d min", m/60, m%60)
	}
	return fmt.Sprintf("%d d %d h", m/(24*60), m%(24*60)/60)
}

// days formats a number of days: whole days from 10 on, else three significant digits.
func days(x float64) string {
	if x >= 10 {
		return strconv.FormatFloat(math.Round(x), 'f', -1, 64)
	}
	return strconv.FormatFloat(x, 'g', 3, 64)
}

// recurrence formats a recurrence interval of x days in the unit a reader takes in at once:
// days from one day on, else hours from one hour on, else whole minutes (7.5 天, 6.2 小时,
// 17 分钟 / 7.5 days, 6.2 h, 17 min).
func recurrence(x float64) (zh, en string) {
	switch h := x * 24; {
	case x >= 1:
		return days(x) + " 天", days(x) + " days"
	case h >= 1:
		v := strconv.FormatFloat(h, 'g', 3, 64)
		return v + " 小时", v + " h"
	default:
		m := strconv.FormatFloat(max(1, math.Round(h*60)), 'f', -1, 64)
		return m + " 分钟", m + " min"
	}
}

// WindowZh and WindowEn name a window: 30分钟, 3小时, 7天 / 30 min, 3 h, 7 d.
func WindowZh(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%d天", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("%d小时", d/time.Hour)
	}
	return fmt.Sprintf("%d分钟", d/time.Minute)
}

func WindowEn(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%d d", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("%d h", d/time.Hour)
	}
	return fmt.Sprintf("%d min", d/time.Minute)
}

// titles writes the alert's zh and en titles.
func titles(r *Rule, s *Signal, value, bound float64) (zh, en string) {
	reg, regEn := or(s.RegionName, s.Region), or(s.RegionNameEn, or(s.RegionName, s.Region))
	sub, subEn := or(s.SubjectName, s.Subject), or(s.SubjectNameEn, or(s.SubjectName, s.Subject))
	cat, catEn := or(s.CategoryName, s.Category), or(s.CategoryNameEn, or(s.CategoryName, s.Category))
	switch r.Kind {
	case KindOverdue:
		return fmt.Sprintf("%s 超期工单 %s 件 (≥%s)", reg, num(value), num(bound)),
			fmt.Sprintf("%s: %s overdue cases (≥%s)", regEn, num(value), num(bound))
	case KindWhistleLate:
		m := int64(math.Round(value))
		return fmt.Sprintf("%s 吹哨 %s %s超时 %s", reg, sub, or(stageZh[s.Stage], s.Stage), lateZh(m)),
			fmt.Sprintf("%s: whistle %s late at %s by %s", regEn, subEn, or(s.Stage, "a stage"), lateEn(m))
	case KindResponseRate:
		return fmt.Sprintf("%s 今日响应率 %s%% (<%s%%, %d 件)", sub, pct(value), pct(bound), s.Sample),
			fmt.Sprintf("%s: response rate today %s%% (<%s%%, %d cases)", subEn, pct(value), pct(bound), s.Sample)
	case KindForecast:
		return fmt.Sprintf("%s %s 近%s %s 件，超出预测上限 %s", reg, cat, WindowZh(s.Window), num(value), num(bound)),
			fmt.Sprintf("%s %s: %s in the last %s, above the forecast's upper band %s", regEn, catEn, num(value), WindowEn(s.Window), num(bound))
	case KindHotspot:
		zh, en := fmt.Sprintf("%s %s热点 %s", reg, or(patternZh[s.Pattern], s.Pattern), sub), fmt.Sprintf("%s: %s hot spot %s", regEn, s.Pattern, subEn)
		if s.Detail["through_neighbours"] == "true" {
			// Hot through its neighbours: no team is sent to a grid without knowing its own
			// cases are few and the heat is around it.
			zh += fmt.Sprintf("：本网格 %s 件，热度来自相邻网格（均 %s 件）", num(value), s.Detail["neighbour_mean"])
			en += fmt.Sprintf(": its own count %s, hot through its neighbours (%s on average)", num(value), s.Detail["neighbour_mean"])
		}
		return zh, en
	case KindRepeat:
		return fmt.Sprintf("%s 重复投诉 %s 次 (近%s, ≥%s)", sub, num(value), WindowZh(s.Window), num(bound)),
			fmt.Sprintf("%s: %s repeat complaints (last %s, ≥%s)", subEn, num(value), WindowEn(s.Window), num(bound))
	case KindScan:
		rz, re := recurrence(value)
		if obs, exp := s.Detail["observed"], s.Detail["expected"]; obs != "" && exp != "" {
			return fmt.Sprintf("%s 时空聚集：%s 件（期望 %s），复发间隔 %s", sub, obs, exp, rz),
				fmt.Sprintf("%s: space-time cluster, %s cases (%s expected), recurrence %s", subEn, obs, exp, re)
		}
		return fmt.Sprintf("%s 时空聚集 %s 复发间隔 %s (≥%s)", reg, sub, rz, num(bound)),
			fmt.Sprintf("%s: space-time cluster %s recurs every %s (≥%s)", regEn, subEn, re, num(bound))
	}
	return r.Name, or(r.NameEn, r.Name)
}
