package dashboard

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"zhili/calendar"
	"zhili/errs"
	"zhili/event"
	"zhili/geo"
	"zhili/governance"
	"zhili/store"
)

// AuditQuery asks for an audit of the cases first reported in [From, To), and of the previous
// period of the same length beside it.
type AuditQuery struct {
	Region   string // "" = the whole tree
	Depth    int    // of Region
	From, To time.Time
	Category string
	By       string // "dept" (default) or "region"
	Level    int    // by=region: the depth of the regions counted (default Depth+1)
	Config   governance.AuditConfig
	Repeat   governance.RepeatConfig
	// Whistle-rate bands (吹哨率 = whistles ÷ cases per region): below Low or above High is flagged.
	WhistleLow, WhistleHigh float64
	// RepeatsLimit keeps only the newest repeat links (0: all); RepeatsTotal still counts all.
	RepeatsLimit int
}

// RatesReport is the three-rate audit.
type RatesReport struct {
	From        time.Time         `json:"from"`
	To          time.Time         `json:"to"`
	PrevFrom    time.Time         `json:"previous_from"`
	By          string            `json:"by"`
	MinSample   int               `json:"min_sample"`
	Respond     string            `json:"respond_window"`
	Definitions map[string]string `json:"definitions"`
	Units       []RatesUnit       `json:"units"`
	Cases       int               `json:"cases"`
	// Repeats links each repeat complaint of the period to the earliest case it repeats (with
	// repeats_limit, only the newest, newest first); RepeatsTotal counts them all.
	Repeats      []RepeatLink `json:"repeats"`
	RepeatsTotal int          `json:"repeats_total"`
}

// RepeatLink is one repeat complaint.
type RepeatLink struct {
	Case     string    `json:"case_id"`
	RepeatOf string    `json:"repeat_of"`
	Reported time.Time `json:"reported"`
	Dept     string    `json:"dept,omitempty"`
	Region   string    `json:"region,omitempty"` // the deepest region of its report
}

// RatesUnit is one unit with the period's figures and the previous period's beside them.
type RatesUnit struct {
	Unit        string       `json:"unit"`
	Name        string       `json:"name,omitempty"`
	Current     UnitFigures  `json:"current"`
	Previous    *UnitFigures `json:"previous"`
	WhistleRate *float64     `json:"whistle_rate,omitempty"` // by=region
	WhistleBand string       `json:"whistle_band,omitempty"` // low, ok, high
}

// UnitFigures are the published figures of one unit in one period.
type UnitFigures struct {
	Cases        int64      `json:"cases"`
	Dispatched   int64      `json:"dispatched"`
	Closed       int64      `json:"closed"`
	Whistles     int64      `json:"whistles"`
	Response     RateFigure `json:"response"`
	Resolution   RateFigure `json:"resolution"`
	Satisfaction RateFigure `json:"satisfaction"`
	OnTime       RateFigure `json:"on_time"`
	CloseP50     *int64     `json:"close_p50_s"`
	CloseP90     *int64     `json:"close_p90_s"`
	// Signs of cosmetic fixes: repeat complaints, closed then reopened, closed unsatisfied.
	Repeats            int64 `json:"repeats"`
	ClosedThenReopened int64 `json:"closed_then_reopened"`
	ClosedUnsatisfied  int64 `json:"closed_unsatisfied"`
}

// RateFigure is a rate with its sample and rank; a unit below the minimum sample is never ranked
// (rank null, sample "insufficient").
type RateFigure struct {
	Value  *float64 `json:"value"`
	Num    int64    `json:"num"`
	Den    int64    `json:"den"`
	Rank   *int     `json:"rank"`
	Sample string   `json:"sample"` // ok | insufficient
}

// RateDefinitions are the written definitions of the three rates (docs/GOVERNANCE.md).
var RateDefinitions = map[string]string{
	"response":     "响应率 response rate = cases whose handling department signed within the response window after dispatch ÷ cases dispatched (Beijing 接诉即办 counts contacting the citizen in time; the case contract has no contact step, so signing is the response signal)",
	"resolution":   "解决率 resolution rate = cases resolved and not reopened afterwards ÷ cases dispatched (Beijing uses the citizen's judgment at the callback; the callback here carries satisfaction only)",
	"satisfaction": "满意率 satisfaction rate = cases closed with a satisfied or basically satisfied callback ÷ cases closed with a callback result",
	"on_time":      "按期办结率 on-time rate = cases resolved by the deadline of their last dispatch ÷ resolved cases with a deadline",
	"close_time":   "办结时长 time to close: first report → last closing, nearest-rank p50 and p90, closed cases only",
	"counting":     "a case counts in the period of its first report, for the region of its report and the department of its last dispatch",
	"repeats":      "重复投诉 repeats = cases about the same place (same normalized address, or report points within the repeat distance) and category as an earlier case reported within the repeat window (linked over this and the previous period)",
	"fake_closure": "虚假办结迹象 fake-closure signs = cases closed and later reopened; cases closed with an unsatisfied callback",
}

// MaxAuditCases bounds the cases one audit reads (their facts are held in memory, about half
// a kilobyte each): past it the audit is refused 413 max_rows, having held at most this many.
var MaxAuditCases = 500_000

// caseFacts reads the facts of the cases of q's period [from, to).
func caseFacts(ctx context.Context, st store.Store, q AuditQuery, from, to time.Time, whistles *[]governance.WhistleFacts) ([]governance.CaseFacts, error) {
	var out []governance.CaseFacts
	err := st.Cases(ctx, store.CaseQuery{Region: q.Region, Depth: q.Depth, From: from, To: to, Category: q.Category},
		func(id string, recs []store.Record) error {
			if len(out) >= MaxAuditCases {
				return errs.E(errs.TooLarge, "max_rows",
					"the period holds more than %d cases under region %s: shorten the period or choose a smaller region", MaxAuditCases, q.Region)
			}
			evs := make([]event.Event, len(recs))
			var region []string
			var report *store.Record
			for i, r := range recs {
				evs[i] = r.Event
				if report == nil && r.Type == event.CaseReported {
					report = &recs[i]
					region = r.RegionPath
				}
			}
			f := governance.Facts(id, evs)
			f.Region = region
			if report != nil {
				f.Address = report.Address
				f.Lon, f.Lat, f.HasPoint = report.Lon, report.Lat, report.HasPoint
			}
			out = append(out, f)
			if whistles != nil {
				*whistles = append(*whistles, governance.WhistlesOf(region, evs)...)
			}
			return nil
		})
	return out, err
}

// keyFunc is the unit a case counts for.
func (q AuditQuery) keyFunc() (func(*governance.CaseFacts) string, error) {
	switch q.By {
	case "", "dept":
		return func(f *governance.CaseFacts) string { return f.Dept }, nil
	case "region":
		lvl := q.Level
		if lvl <= q.Depth {
			lvl = q.Depth + 1
		}
		return func(f *governance.CaseFacts) string {
			if len(f.Region) > lvl {
				return f.Region[lvl]
			}
			return ""
		}, nil
	}
	return nil, errs.E(errs.Invalid, "by", "by must be dept or region, got %q", q.By)
}

// Rates audits the three rates of q's period beside the previous period.
func Rates(ctx context.Context, st store.Store, tree *geo.Tree, q AuditQuery) (*RatesReport, error) {
	if !q.From.Before(q.To) {
		return nil, errs.E(errs.Invalid, "period", "from must be before to")
	}
	key, err := q.keyFunc()
	if err != nil {
		return nil, err
	}
	if q.By == "" {
		q.By = "dept"
	}
	cfg := q.Config
	if cfg.MinSample <= 0 {
		cfg.MinSample = 10
	}
	if cfg.Respond <= 0 {
		cfg.Respond = 2 * time.Hour
	}
	cur, err := caseFacts(ctx, st, q, q.From, q.To, nil)
	if err != nil {
		return nil, err
	}
	prevFrom := q.From.Add(-q.To.Sub(q.From))
	prev, err := caseFacts(ctx, st, q, prevFrom, q.From, nil)
	if err != nil {
		return nil, err
	}
	// Repeats are linked over both periods, so a case can repeat one of the previous period.
	all := append(append([]governance.CaseFacts(nil), prev...), cur...)
	governance.LinkRepeats(all, q.Repeat)
	copy(prev, all[:len(prev)])
	copy(cur, all[len(prev):])
	rep := &RatesReport{From: q.From, To: q.To, PrevFrom: prevFrom, By: q.By, MinSample: cfg.MinSample,
		Respond: cfg.Respond.String(), Definitions: RateDefinitions, Cases: len(cur), Units: []RatesUnit{}, Repeats: []RepeatLink{}}
	for _, f := range cur {
		if f.RepeatOf != "" {
			l := RepeatLink{Case: f.ID, RepeatOf: f.RepeatOf, Reported: f.Reported, Dept: f.Dept}
			if len(f.Region) > 0 {
				l.Region = f.Region[len(f.Region)-1]
			}
			rep.Repeats = append(rep.Repeats, l)
		}
	}
	rep.RepeatsTotal = len(rep.Repeats)
	if q.RepeatsLimit > 0 && len(rep.Repeats) > q.RepeatsLimit {
		slices.SortStableFunc(rep.Repeats, func(a, b RepeatLink) int { return b.Reported.Compare(a.Reported) })
		rep.Repeats = rep.Repeats[:q.RepeatsLimit]
	}
	prevBy := map[string]governance.UnitRates{}
	for _, u := range governance.Rates(prev, key, cfg) {
		prevBy[u.Unit] = u
	}
	for _, u := range governance.Rates(cur, key, cfg) {
		ru := RatesUnit{Unit: u.Unit, Current: figures(u)}
		if p, ok := prevBy[u.Unit]; ok {
			f := figures(p)
			ru.Previous = &f
		}
		if q.By == "region" {
			if r := tree.Get(u.Unit); r != nil {
				ru.Name = r.Name
			}
			if u.Cases > 0 {
				wr := float64(u.Whistles) / float64(u.Cases)
				ru.WhistleRate = &wr
				ru.WhistleBand = "ok"
				if q.WhistleLow > 0 && wr < q.WhistleLow {
					ru.WhistleBand = "low"
				} else if q.WhistleHigh > 0 && wr > q.WhistleHigh {
					ru.WhistleBand = "high"
				}
			}
		}
		rep.Units = append(rep.Units, ru)
	}
	return rep, nil
}

func figures(u governance.UnitRates) UnitFigures {
	f := UnitFigures{Cases: u.Cases, Dispatched: u.Dispatched, Closed: u.Closed, Whistles: u.Whistles,
		Repeats: u.Repeats, ClosedThenReopened: u.ClosedThenReopened, ClosedUnsatisfied: u.ClosedUnsatisfied,
		Response: rateFig(u.Response), Resolution: rateFig(u.Resolution), Satisfaction: rateFig(u.Satisfaction), OnTime: rateFig(u.OnTime)}
	if u.CloseP50 >= 0 {
		p50, p90 := u.CloseP50, u.CloseP90
		f.CloseP50, f.CloseP90 = &p50, &p90
	}
	return f
}

func rateFig(r governance.Rate) RateFigure {
	f := RateFigure{Value: r.Value, Num: r.Num, Den: r.Den, Sample: "ok"}
	if !r.Enough {
		f.Sample = "insufficient"
	}
	if r.Rank > 0 {
		k := r.Rank
		f.Rank = &k
	}
	return f
}

// WhistlesReport is the whistle audit.
type WhistlesReport struct {
	From      time.Time                     `json:"from"`
	To        time.Time                     `json:"to"`
	MinSample int                           `json:"min_sample"`
	Whistles  int                           `json:"whistles"`
	Depts     []governance.WhistleDeptStats `json:"depts"`
	// Previous is the audit of the previous period of the same length, by department.
	PrevFrom time.Time                              `json:"previous_from"`
	Previous map[string]governance.WhistleDeptStats `json:"previous"`
}

// Whistles audits the whistles of the cases first reported in q's period, per department.
func Whistles(ctx context.Context, st store.Store, q AuditQuery, clocks governance.Clocks, cal *calendar.Calendar, now time.Time) (*WhistlesReport, error) {
	if !q.From.Before(q.To) {
		return nil, errs.E(errs.Invalid, "period", "from must be before to")
	}
	var ws, prev []governance.WhistleFacts
	if _, err := caseFacts(ctx, st, q, q.From, q.To, &ws); err != nil {
		return nil, err
	}
	prevFrom := q.From.Add(-q.To.Sub(q.From))
	if _, err := caseFacts(ctx, st, q, prevFrom, q.From, &prev); err != nil {
		return nil, err
	}
	cfg := q.Config
	if cfg.MinSample <= 0 {
		cfg.MinSample = 10
	}
	var unit func(*governance.WhistleFacts, string) string
	switch q.By {
	case "", "dept":
	case "region":
		lvl := q.Level
		if lvl <= q.Depth {
			lvl = q.Depth + 1
		}
		unit = governance.WhistleByRegion(lvl)
	default:
		return nil, errs.E(errs.Invalid, "by", "by must be dept or region, got %q", q.By)
	}
	rep := &WhistlesReport{From: q.From, To: q.To, MinSample: cfg.MinSample, Whistles: len(ws),
		Depts: governance.WhistleAudit(ws, clocks, cal, now, cfg, unit), PrevFrom: prevFrom, Previous: map[string]governance.WhistleDeptStats{}}
	for _, d := range governance.WhistleAudit(prev, clocks, cal, now, cfg, unit) {
		rep.Previous[d.Dept] = d
	}
	return rep, nil
}

// Table is an export: a title, notes (period, definitions, sample rule) and rows under headers.
type Table struct {
	Title   string
	Notes   []string
	Headers []string
	Rows    [][]string
}

func pct(v *float64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatFloat(*v*100, 'f', 1, 64) + "%"
}

func rankStr(r RateFigure) string {
	if r.Sample == "insufficient" {
		return "样本不足 / insufficient sample"
	}
	if r.Rank == nil {
		return ""
	}
	return strconv.Itoa(*r.Rank)
}

func secs(p *int64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatFloat(float64(*p)/3600, 'f', 2, 64)
}

// Table renders the rates report for export, with Chinese headers first.
func (r *RatesReport) Table(loc *time.Location) Table {
	t := Table{Title: "三率考核 Three rates",
		Notes: []string{
			fmt.Sprintf("统计期 period: %s — %s (previous 上期: %s — %s)", r.From.In(loc).Format(time.RFC3339), r.To.In(loc).Format(time.RFC3339),
				r.PrevFrom.In(loc).Format(time.RFC3339), r.From.In(loc).Format(time.RFC3339)),
			fmt.Sprintf("最小样本 minimum sample: %d; 响应时限 response window: %s", r.MinSample, r.Respond),
		},
		Headers: []string{"单位 unit", "名称 name", "工单 cases", "派单 dispatched", "响应率 response", "响应排名 rank",
			"解决率 resolution", "解决排名 rank", "满意率 satisfaction", "满意排名 rank", "按期率 on time",
			"办结时长p50(小时) close p50 h", "办结时长p90(小时) close p90 h", "上期响应率 prev response", "上期解决率 prev resolution",
			"上期满意率 prev satisfaction", "吹哨率 whistle rate", "吹哨率区间 band",
			"重复投诉 repeats", "结案后重启 closed then reopened", "不满意结案 closed unsatisfied"}}
	for _, k := range []string{"response", "resolution", "satisfaction", "on_time", "close_time", "counting", "repeats", "fake_closure"} {
		t.Notes = append(t.Notes, RateDefinitions[k])
	}
	for _, u := range r.Units {
		c := u.Current
		row := []string{u.Unit, u.Name, strconv.FormatInt(c.Cases, 10), strconv.FormatInt(c.Dispatched, 10),
			pct(c.Response.Value), rankStr(c.Response), pct(c.Resolution.Value), rankStr(c.Resolution),
			pct(c.Satisfaction.Value), rankStr(c.Satisfaction), pct(c.OnTime.Value), secs(c.CloseP50), secs(c.CloseP90)}
		if p := u.Previous; p != nil {
			row = append(row, pct(p.Response.Value), pct(p.Resolution.Value), pct(p.Satisfaction.Value))
		} else {
			row = append(row, "", "", "")
		}
		row = append(row, pct(u.WhistleRate), u.WhistleBand, strconv.FormatInt(c.Repeats, 10),
			strconv.FormatInt(c.ClosedThenReopened, 10), strconv.FormatInt(c.ClosedUnsatisfied, 10))
		t.Rows = append(t.Rows, row)
	}
	return t
}

// Table renders the whistle audit for export.
func (r *WhistlesReport) Table(loc *time.Location) Table {
	t := Table{Title: "吹哨报到考核 Whistle audit",
		Notes: []string{fmt.Sprintf("统计期 period: %s — %s; 最小样本 minimum sample: %d", r.From.In(loc).Format(time.RFC3339), r.To.In(loc).Format(time.RFC3339), r.MinSample),
			"时长自吹哨起算，最近秩 p50/p90 (小时); durations from the blowing, nearest-rank percentiles in hours",
			"按时率 on time = stages reached by their deadline ÷ stages reached or past their deadline"},
		Headers: []string{"部门 dept", "被召唤 summoned", "签收p50", "签收p90", "签收按时率 signed on time", "联系p50", "联系p90",
			"联系按时率 contacted on time", "到场p50", "到场p90", "到场按时率 arrived on time", "解决p50 resolved p50", "评哨数 evaluations", "平均分 mean score",
			"总按时率 on time", "排名 rank", "上期总按时率 previous on time"}}
	for _, d := range r.Depts {
		row := []string{d.Dept, strconv.FormatInt(d.Summoned, 10)}
		for _, s := range d.Stages {
			row = append(row, hours(s.P50), hours(s.P90), pct(s.OnTime.Value))
		}
		row = append(row, hours(d.Resolved.P50), strconv.FormatInt(d.Scores, 10))
		if d.MeanScore != nil {
			row = append(row, strconv.FormatFloat(*d.MeanScore, 'f', 2, 64))
		} else {
			row = append(row, "")
		}
		row = append(row, pct(d.OnTime.Value), rankStr(rateFig(d.OnTime)))
		if p, ok := r.Previous[d.Dept]; ok {
			row = append(row, pct(p.OnTime.Value))
		} else {
			row = append(row, "")
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

func hours(s int64) string {
	if s < 0 {
		return ""
	}
	return strconv.FormatFloat(float64(s)/3600, 'f', 2, 64)
}
