package dashboard

import (
	"fmt"
	"slices"
	"strconv"
	"time"
)

// ColKind is what a column of an export holds, so that a spreadsheet gets typed cells.
type ColKind uint8

const (
	ColText  ColKind = iota // text (codes and names stay text, never numbers)
	ColInt                  // a count or a rank
	ColNum                  // a decimal (a mean score)
	ColPct                  // a rate: a fraction, shown as a percentage
	ColHours                // a duration: hours in the CSV, [h]:mm in the XLSX
)

// Table is an export: a title, notes (period, definitions, sample rule) and rows under headers;
// Reconcile (核对) is the reconcile block as rows of label, figure and explanation (a footer of
// the CSV, a second sheet of the XLSX).
type Table struct {
	Title   string
	Notes   []string
	Headers []string
	// Kinds are the columns' kinds (ColText where missing); a ColHours header names no unit:
	// HeadersFor adds the one of the format.
	Kinds []ColKind
	// Rows are the cells as text (the CSV); Values the same cells typed (nil: none, as for an
	// empty cell or a text such as 样本不足): int64, float64 (rates as fractions) or
	// time.Duration.
	Rows      [][]string
	Values    [][]any
	Reconcile [][]string
}

// Kind is column i's kind.
func (t Table) Kind(i int) ColKind {
	if i < len(t.Kinds) {
		return t.Kinds[i]
	}
	return ColText
}

// HeadersFor is the header row of an export format ("csv" or "xlsx"): a duration column says
// its unit, hours in the CSV, h:mm in the XLSX.
func (t Table) HeadersFor(format string) []string {
	out := slices.Clone(t.Headers)
	for i := range out {
		if t.Kind(i) == ColHours {
			if format == "xlsx" {
				out[i] += " (时:分 h:mm)"
			} else {
				out[i] += " (小时 h)"
			}
		}
	}
	return out
}

// row builds one row of a table: the text and the typed value of each cell.
type row struct {
	text []string
	vals []any
}

func (r *row) add(text string, v any) {
	r.text = append(r.text, text)
	r.vals = append(r.vals, v)
}

func (r *row) str(s string) { r.add(s, nil) }

func (r *row) int(n int64) { r.add(strconv.FormatInt(n, 10), n) }

func (r *row) pct(v *float64) {
	if v == nil {
		r.add("", nil)
		return
	}
	r.add(pct(v), *v)
}

// secs adds a duration of s seconds (none when s < 0).
func (r *row) secs(s int64) {
	if s < 0 {
		r.add("", nil)
		return
	}
	r.add(strconv.FormatFloat(float64(s)/3600, 'f', 2, 64), time.Duration(s)*time.Second)
}

func (r *row) secsP(p *int64) {
	if p == nil {
		r.add("", nil)
		return
	}
	r.secs(*p)
}

// rank adds a rate's rank, or why it has none.
func (r *row) rank(f RateFigure) {
	switch {
	case f.Sample == "insufficient":
		r.str("样本不足 / insufficient sample")
	case f.Rank == nil:
		r.str("")
	default:
		r.int(int64(*f.Rank))
	}
}

func (t *Table) addRow(r row) {
	t.Rows = append(t.Rows, r.text)
	t.Values = append(t.Values, r.vals)
}

// ReconcileTitle heads the reconcile rows of an export.
const ReconcileTitle = "核对 reconcile"

// rows renders the reconcile block for export: label, figure, explanation.
func (r *Reconcile) rows() [][]string {
	if r == nil {
		return nil
	}
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	out := [][]string{
		{"收到 received", n(r.Received), "本期首报的工单（所查区域与类别） cases first reported in the period, under the region and of the category asked"},
		{"计入 counted", n(r.Counted), "计入各排名单位的工单 cases in the ranked units"},
	}
	reasons := map[string]string{
		"without_dept":     "未计入：无承办部门（从未派单） not counted: never dispatched",
		"unlocated":        "未计入排名：未定位（见未定位行） not ranked: unlocated (the 未定位 row)",
		"no_whistle":       "未计入：未吹哨 not counted: no whistle blown",
		"no_dept_summoned": "未计入：吹哨未召唤部门 not counted: whistles summoning no department",
	}
	keys := make([]string, 0, len(r.Excluded))
	sum := r.Counted
	for k, v := range r.Excluded {
		keys = append(keys, k)
		sum += v
	}
	slices.Sort(keys)
	for _, k := range keys {
		why := reasons[k]
		if why == "" {
			why = k
		}
		out = append(out, []string{"未计入 excluded: " + k, n(r.Excluded[k]), why})
	}
	eq := "≠"
	if sum == r.Received {
		eq = "="
	}
	out = append(out,
		[]string{"等式 identity", fmt.Sprintf("%d %s %d", r.Received, eq, sum), r.Identity},
		[]string{"未定位 unlocated", n(r.Unlocated), "报告无区域（按区域统计时：无该层级区域） report with no region (by=region: none at the level counted)"},
		[]string{"无承办部门 without department", n(r.WithoutDept), "从未派单 never dispatched"},
		[]string{"无时限 without deadline", n(r.WithoutDeadline), "末次派单无时限：计入各率，不计入按期率 last dispatch without a deadline: counted, left out of the on-time rate"})
	if rj := r.Rejected; rj != nil {
		total := ""
		if rj.Total != nil {
			total = n(*rj.Total)
		}
		out = append(out, []string{"入口拒收 rejected at ingest", total, rj.Note})
		codes := make([]string, 0, len(rj.ByCode))
		for c := range rj.ByCode {
			codes = append(codes, c)
		}
		slices.Sort(codes)
		for _, c := range codes {
			out = append(out, []string{"拒收 rejected: " + c, n(rj.ByCode[c]), ""})
		}
	}
	return out
}

func pct(v *float64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatFloat(*v*100, 'f', 1, 64) + "%"
}

// notes are the history's note for an export (none when nothing is missing).
func (h *History) notes() []string {
	if h == nil || h.Note == nil {
		return nil
	}
	return []string{HistoryNoteLine(h.Note)}
}

// HistoryNoteLine is an export's line for a note on the history's cover ({zh, en}), in both
// languages.
func HistoryNoteLine(note map[string]string) string {
	return "历史数据 history: " + note["zh"] + " " + note["en"]
}

// previousNote says how the previous period is compared.
func previousNote(basis string, asOf *time.Time, loc *time.Location) string {
	if basis == PreviousSameAge && asOf != nil {
		return fmt.Sprintf("上期口径 previous basis: 同龄 same age — 上期工单计至 %s 的事件 the previous period's cases with their events up to %s", asOf.In(loc).Format(time.RFC3339), asOf.In(loc).Format(time.RFC3339))
	}
	return "上期口径 previous basis: 最终 final — 上期工单的全部事件 every event of the previous period's cases"
}

// Table renders the rates report for export, with Chinese headers first.
func (r *RatesReport) Table(loc *time.Location) Table {
	t := Table{Title: "三率考核 Three rates",
		Notes: []string{
			fmt.Sprintf("统计期 period: %s — %s (previous 上期: %s — %s)", r.From.In(loc).Format(time.RFC3339), r.To.In(loc).Format(time.RFC3339),
				r.PrevFrom.In(loc).Format(time.RFC3339), r.From.In(loc).Format(time.RFC3339)),
			previousNote(r.PreviousBasis, r.PreviousAsOf, loc),
			fmt.Sprintf("最小样本 minimum sample: %d; 响应时限 response window: %s", r.MinSample, r.Respond),
		},
		Reconcile: r.Reconcile.rows()}
	t.Notes = append(t.Notes, r.History.notes()...)
	cols := []struct {
		h string
		k ColKind
	}{{"单位 unit", ColText}, {NameHeader, ColText}, {"工单 cases", ColInt}, {"派单 dispatched", ColInt},
		{"响应率 response", ColPct}, {"响应排名 rank", ColInt}, {"解决率 resolution", ColPct}, {"解决排名 rank", ColInt},
		{"满意率 satisfaction", ColPct}, {"满意排名 rank", ColInt}, {"按期率 on time", ColPct},
		{"办结时长p50 close p50", ColHours}, {"办结时长p90 close p90", ColHours},
		{"上期响应率 prev response", ColPct}, {"上期解决率 prev resolution", ColPct}, {"上期满意率 prev satisfaction", ColPct},
		{"吹哨率 whistle rate", ColPct}, {"吹哨率区间 band", ColText},
		{"重复投诉 repeats", ColInt}, {"结案后重启 closed then reopened", ColInt}, {"不满意结案 closed unsatisfied", ColInt}, {"无时限 without deadline", ColInt},
		{"在办 open", ColInt}}
	for _, c := range cols {
		t.Headers = append(t.Headers, c.h)
		t.Kinds = append(t.Kinds, c.k)
	}
	for _, k := range []string{"response", "resolution", "satisfaction", "on_time", "close_time", "counting", "previous", "repeats", "fake_closure", "close_reason", "reconcile"} {
		t.Notes = append(t.Notes, RateDefinitions[k])
	}
	for _, u := range r.Units {
		c := u.Current
		name := u.Name
		if u.Unlocated {
			name = UnlocatedName
		}
		var w row
		w.str(u.Unit)
		w.str(name)
		w.int(c.Cases)
		w.int(c.Dispatched)
		for _, f := range []RateFigure{c.Response, c.Resolution, c.Satisfaction} {
			w.pct(f.Value)
			if u.Unlocated {
				w.str("不排名 / not ranked")
			} else {
				w.rank(f)
			}
		}
		w.pct(c.OnTime.Value)
		w.secsP(c.CloseP50)
		w.secsP(c.CloseP90)
		if p := u.Previous; p != nil {
			w.pct(p.Response.Value)
			w.pct(p.Resolution.Value)
			w.pct(p.Satisfaction.Value)
		} else {
			w.str("")
			w.str("")
			w.str("")
		}
		w.pct(u.WhistleRate)
		w.str(u.WhistleBand)
		w.int(c.Repeats)
		w.int(c.ClosedThenReopened)
		w.int(c.ClosedUnsatisfied)
		w.int(c.WithoutDeadline)
		w.int(c.Open)
		t.addRow(w)
	}
	return t
}

// Table renders the whistle audit for export; the 未定位 row (by region) has no unit code and
// its name in the name column.
func (r *WhistlesReport) Table(loc *time.Location) Table {
	t := Table{Title: "吹哨报到考核 Whistle audit",
		Notes: []string{fmt.Sprintf("统计期 period: %s — %s; 最小样本 minimum sample: %d", r.From.In(loc).Format(time.RFC3339), r.To.In(loc).Format(time.RFC3339), r.MinSample),
			previousNote(r.PreviousBasis, r.PreviousAsOf, loc),
			"时长自吹哨起算，最近秩 p50/p90; durations from the blowing, nearest-rank percentiles",
			"按时率 on time = stages reached by their deadline ÷ stages reached or past their deadline"},
		Reconcile: r.Reconcile.rows()}
	t.Notes = append(t.Notes, r.History.notes()...)
	cols := []struct {
		h string
		k ColKind
	}{{"部门 dept", ColText}, {NameHeader, ColText}, {"被召唤 summoned", ColInt},
		{"签收p50 signed p50", ColHours}, {"签收p90 signed p90", ColHours}, {"签收按时率 signed on time", ColPct},
		{"联系p50 contacted p50", ColHours}, {"联系p90 contacted p90", ColHours}, {"联系按时率 contacted on time", ColPct},
		{"到场p50 arrived p50", ColHours}, {"到场p90 arrived p90", ColHours}, {"到场按时率 arrived on time", ColPct},
		{"解决p50 resolved p50", ColHours}, {"评哨数 evaluations", ColInt}, {"平均分 mean score", ColNum},
		{"总按时率 on time", ColPct}, {"排名 rank", ColInt}, {"上期总按时率 previous on time", ColPct}}
	for _, c := range cols {
		t.Headers = append(t.Headers, c.h)
		t.Kinds = append(t.Kinds, c.k)
	}
	for _, d := range r.Depts {
		var w row
		w.str(d.Dept)
		if d.Dept == "" {
			w.str(UnlocatedName)
		} else {
			w.str(r.Names[d.Dept])
		}
		w.int(d.Summoned)
		for _, s := range d.Stages {
			w.secs(s.P50)
			w.secs(s.P90)
			w.pct(s.OnTime.Value)
		}
		w.secs(d.Resolved.P50)
		w.int(d.Scores)
		if d.MeanScore != nil {
			w.add(strconv.FormatFloat(*d.MeanScore, 'f', 2, 64), *d.MeanScore)
		} else {
			w.str("")
		}
		w.pct(d.OnTime.Value)
		if d.Dept == "" {
			w.str("不排名 / not ranked")
		} else {
			w.rank(RateFigureOf(d.OnTime))
		}
		if p, ok := r.Previous[d.Dept]; ok {
			w.pct(p.OnTime.Value)
		} else {
			w.str("")
		}
		t.addRow(w)
	}
	return t
}
