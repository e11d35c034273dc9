package server

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"zhili/dashboard"
	"zhili/governance"
)

// xlsxCell is one cell of a workbook as a spreadsheet program reads it.
type xlsxCell struct {
	typ        excelize.CellType
	raw, shown string
	format     string // the custom number format, or "#<id>" for a built-in one
}

// readXLSX opens a workbook and returns, for its first sheet, the header row's cells by column
// title and a reader of a row's cell by title (rows are the data rows under the header).
func readXLSX(t *testing.T, b []byte, firstHeader string) (headers []string, rows [][]string, cell func(row int, title string) xlsxCell) {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	sheet := f.GetSheetName(0)
	all, err := f.GetRows(sheet)
	if err != nil {
		t.Fatal(err)
	}
	top := slices.IndexFunc(all, func(r []string) bool { return len(r) > 0 && r[0] == firstHeader })
	if top < 0 {
		t.Fatalf("no header row %q in %v", firstHeader, all)
	}
	headers, rows = all[top], all[top+1:]
	cell = func(row int, title string) xlsxCell {
		t.Helper()
		col := slices.IndexFunc(headers, func(h string) bool { return strings.HasPrefix(h, title) })
		if col < 0 {
			t.Fatalf("no column %q in %v", title, headers)
		}
		name, _ := excelize.CoordinatesToCellName(col+1, top+2+row)
		var c xlsxCell
		c.typ, _ = f.GetCellType(sheet, name)
		c.raw, _ = f.GetCellValue(sheet, name, excelize.Options{RawCellValue: true})
		c.shown, _ = f.GetCellValue(sheet, name)
		if id, err := f.GetCellStyle(sheet, name); err == nil && id != 0 {
			if st, err := f.GetStyle(id); err == nil {
				if st.CustomNumFmt != nil {
					c.format = *st.CustomNumFmt
				} else {
					c.format = "#" + strconv.Itoa(st.NumFmt)
				}
			}
		}
		return c
	}
	return headers, rows, cell
}

func num(t *testing.T, s string) float64 {
	t.Helper()
	x, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("%q is not a number", s)
	}
	return x
}

// The XLSX export types its cells: counts and ranks are numbers, rates percentages of the exact
// fraction (0.0%), durations times ([h]:mm, also past a day), codes and names text; every row is
// named, the 未定位 row included; the CSV keeps hours, its header saying so.
func TestAuditXLSXTypedCells(t *testing.T) {
	third, half := 1.0/3, 0.5
	rank1 := 1
	p50, p90 := int64(5*3600+30*60), int64(51*3600+50*60) // 5:30 and 51:50
	rep := &dashboard.RatesReport{From: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
		By: "region", MinSample: 2, Respond: "2h0m0s", PreviousBasis: dashboard.PreviousFinal,
		Units: []dashboard.RatesUnit{
			{Unit: "411502", Current: dashboard.UnitFigures{Cases: 3, Open: 1, Dispatched: 3,
				Response:   dashboard.RateFigure{Value: &third, Num: 1, Den: 3, Rank: &rank1, Sample: "ok"},
				Resolution: dashboard.RateFigure{Value: &half, Num: 1, Den: 2, Sample: "insufficient"},
				CloseP50:   &p50, CloseP90: &p90}},
			{Unit: "", Unlocated: true, Current: dashboard.UnitFigures{Cases: 2}},
		}}
	names := map[string]string{"411502": "浉河区"}
	b, err := XLSX(rep.NamedTable(time.UTC, func(c string) string { return names[c] }))
	if err != nil {
		t.Fatal(err)
	}
	_, rows, cell := readXLSX(t, b, "单位 unit")
	if len(rows) != 2 {
		t.Fatalf("%d data rows: %v", len(rows), rows)
	}
	for i, want := range []string{"浉河区", dashboard.UnlocatedName} {
		if c := cell(i, dashboard.NameHeader); c.shown != want || c.typ == excelize.CellTypeNumber {
			t.Errorf("row %d: name %+v, want %q", i, c, want)
		}
	}
	if c := cell(0, "单位 unit"); c.shown != "411502" || c.typ == excelize.CellTypeNumber || c.typ == excelize.CellTypeUnset {
		t.Errorf("a region code is text, not a number: %+v", c)
	}
	for _, c := range []struct {
		title, shown, format string
		value                float64
	}{
		{"工单 cases", "3", "#1", 3},
		{"在办 open", "1", "#1", 1},
		{"响应率 response", "33.3%", "0.0%", third},
		{"响应排名 rank", "1", "#1", 1},
		{"解决率 resolution", "50.0%", "0.0%", half},
		{"办结时长p50", "5:30", "[h]:mm", float64(p50) / 86400},
		{"办结时长p90", "51:50", "[h]:mm", float64(p90) / 86400},
	} {
		got := cell(0, c.title)
		if got.typ != excelize.CellTypeNumber && got.typ != excelize.CellTypeUnset || got.format != c.format || got.shown != c.shown ||
			got.raw == "" || abs(num(t, got.raw)-c.value) > 1e-9 {
			t.Errorf("%s: %+v, want a number %v shown %q in format %s", c.title, got, c.value, c.shown, c.format)
		}
	}
	if c := cell(0, "解决排名 rank"); c.shown != "样本不足 / insufficient sample" {
		t.Errorf("an insufficient sample's rank: %+v", c)
	}
	if c := cell(1, "响应排名 rank"); c.shown != "不排名 / not ranked" {
		t.Errorf("the 未定位 row's rank: %+v", c)
	}

	// The CSV: hours with two decimals, the header saying so.
	tab := rep.Table(time.UTC)
	h := tab.HeadersFor("csv")
	col := slices.IndexFunc(h, func(s string) bool { return strings.HasPrefix(s, "办结时长p90") })
	if col < 0 || !strings.Contains(h[col], "小时") || tab.Rows[0][col] != "51.83" || !strings.Contains(tab.HeadersFor("xlsx")[col], "h:mm") {
		t.Errorf("CSV duration column %q = %q", h[col], tab.Rows[0][col])
	}

	// The whistle audit: every row named (the 未定位 row by its name), durations as times.
	mean := 4.25
	stages := func(arrived int64) []governance.WhistleStageStats {
		return []governance.WhistleStageStats{{Stage: governance.Signed, P50: 600, P90: 900}, {Stage: governance.Contacted, P50: -1, P90: -1},
			{Stage: governance.Arrived, P50: arrived, P90: arrived}}
	}
	wr := &dashboard.WhistlesReport{From: rep.From, To: rep.To, MinSample: 1, PreviousBasis: dashboard.PreviousFinal,
		Depts: []governance.WhistleDeptStats{
			{Dept: "county.housing", Summoned: 4, Stages: stages(30 * 3600), Resolved: governance.WhistleStageStats{P50: -1}, Scores: 2, MeanScore: &mean,
				OnTime: governance.Rate{Value: &half, Num: 2, Den: 4, Enough: true, Rank: 1}},
			{Dept: "", Summoned: 1, Stages: stages(3600), Resolved: governance.WhistleStageStats{P50: -1}}},
	}
	wr.NameUnits(func(c string) string { return map[string]string{"county.housing": "住建局"}[c] })
	b, err = XLSX(wr.NamedTable(time.UTC, nil))
	if err != nil {
		t.Fatal(err)
	}
	_, rows, cell = readXLSX(t, b, "部门 dept")
	if len(rows) != 2 || cell(0, dashboard.NameHeader).shown != "住建局" || cell(1, dashboard.NameHeader).shown != dashboard.UnlocatedName ||
		cell(1, "部门 dept").shown != "" {
		t.Errorf("whistle rows %v", rows)
	}
	for _, c := range []struct{ title, shown, format string }{
		{"被召唤 summoned", "4", "#1"}, {"签收p50", "0:10", "[h]:mm"}, {"到场p90", "30:00", "[h]:mm"},
		{"平均分 mean score", "4.25", "#2"}, {"总按时率 on time", "50.0%", "0.0%"}, {"排名 rank", "1", "#1"},
	} {
		if got := cell(0, c.title); got.shown != c.shown || got.format != c.format {
			t.Errorf("whistles %s: %+v, want %q in %s", c.title, got, c.shown, c.format)
		}
	}
	if got := cell(0, "联系p50"); got.shown != "" || got.raw != "" {
		t.Errorf("no contact yet: %+v", got)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
