package evaluation

import "time"

// Rate is a count over its denominator.
type Rate struct {
	Num int64 `json:"num"`
	Den int64 `json:"den"`
}

// UnitData are Zhili's own figures of one unit for one period, from the audits
// (docs/GOVERNANCE.md): the three rates and the on-time rate, the whistle answers' on-time
// rate, repeat complaints and the signs of fake closure.
type UnitData struct {
	Response, Resolution, Satisfaction, OnTime Rate
	WhistleOnTime                              Rate
	Cases, Closed                              int64
	Repeats, Reopened, Unsatisfied             int64
}

// Plus returns the figures of two units together (a parent's from its children's).
func (d UnitData) Plus(o UnitData) UnitData {
	add := func(a, b Rate) Rate { return Rate{a.Num + b.Num, a.Den + b.Den} }
	return UnitData{Response: add(d.Response, o.Response), Resolution: add(d.Resolution, o.Resolution),
		Satisfaction: add(d.Satisfaction, o.Satisfaction), OnTime: add(d.OnTime, o.OnTime),
		WhistleOnTime: add(d.WhistleOnTime, o.WhistleOnTime), Cases: d.Cases + o.Cases, Closed: d.Closed + o.Closed,
		Repeats: d.Repeats + o.Repeats, Reopened: d.Reopened + o.Reopened, Unsatisfied: d.Unsatisfied + o.Unsatisfied}
}

// PeriodData are the figures of every unit for one period: departments by their catalogue
// code, townships, villages and grids by their region code.
type PeriodData struct {
	ByDept   map[string]UnitData
	ByRegion map[string]UnitData
	// Cover is set when the history holds only part of the period: 实绩 rests on the cases
	// from the history's beginning on.
	Cover *Cover
}

// Cover says how much of a period the history of cases holds (the deployment began, or its
// import starts, within or after it).
type Cover struct {
	Begins      time.Time         `json:"begins"`       // the day of the earliest stored case
	MissingDays float64           `json:"missing_days"` // the period's days before it
	All         bool              `json:"all"`          // the whole period is before it
	Note        map[string]string `json:"note"`         // zh, en
}

// Indicator groups: 显绩 shows within the period; 潜绩 is work whose effect lasts (problems
// that do not come back, closings that hold, departments that come when summoned).
const (
	Visible = "visible" // 显绩
	Latent  = "latent"  // 潜绩
)

// indicator is one data figure of 实绩: good cases of a denominator, shown as a percentage
// where higher is better.
type indicator struct {
	Key, Zh, En, Group string
	of                 func(d *UnitData) (good float64, den int64)
}

func pct(r Rate) (float64, int64) { return float64(r.Num), r.Den }

// indicators are the figures of 实绩, in order.
var indicators = []indicator{
	{"response", "响应率", "Response rate", Visible, func(d *UnitData) (float64, int64) { return pct(d.Response) }},
	{"resolution", "解决率", "Resolution rate", Visible, func(d *UnitData) (float64, int64) { return pct(d.Resolution) }},
	{"satisfaction", "满意率", "Satisfaction rate", Visible, func(d *UnitData) (float64, int64) { return pct(d.Satisfaction) }},
	{"on_time", "按期办结率", "On-time rate", Visible, func(d *UnitData) (float64, int64) { return pct(d.OnTime) }},
	{"no_repeat", "未重复投诉率", "Share without repeat complaints", Latent, func(d *UnitData) (float64, int64) {
		return float64(d.Cases - d.Repeats), d.Cases
	}},
	{"closure_holds", "真办结率", "Closings that hold", Latent, func(d *UnitData) (float64, int64) {
		return float64(d.Closed - d.Reopened - d.Unsatisfied), d.Closed
	}},
	{"whistle_on_time", "吹哨报到及时率", "Whistle answers on time", Latent, func(d *UnitData) (float64, int64) { return pct(d.WhistleOnTime) }},
}
