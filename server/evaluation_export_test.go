package server

import (
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"zhili/evaluation"
)

// The 红黑榜 export types its cells: ranks are whole numbers, composites and percentiles
// decimals (0.00), names and codes text; the red and black lists are marked; an unranked
// subject says 样本不足 and what it misses, never a rank.
func TestEvaluationRankingsXLSXTypedCells(t *testing.T) {
	cfg, err := evaluation.Config{}.Resolved()
	if err != nil {
		t.Fatal(err)
	}
	f := func(x float64) *float64 { return &x }
	i := func(n int) *int { return &n }
	e := func(id, name string, rank int, comp, pct float64) evaluation.Entry {
		return evaluation.Entry{Subject: id, Kind: evaluation.KindCadre, Name: name, Unit: "party.411502001", UnitName: "中共某某乡委员会",
			Region: "411502001", RegionName: "某某乡", Composite: f(comp), Rank: i(rank), Percentile: f(pct)}
	}
	a, b, c, d := e("P1", "甲", 1, 88.23, 87.5), e("P2", "乙", 2, 80.5, 62.5), e("P3", "丙", 3, 75, 37.5), e("P4", "丁", 4, 61.25, 12.5)
	rk := evaluation.Ranking{Period: "2026-Q4", PeerGroup: "乡镇党委书记", Sample: evaluation.SampleOK, ListSize: 1,
		Ranked: []evaluation.Entry{a, b, c, d}, Red: []evaluation.Entry{a}, Black: []evaluation.Entry{d},
		Unranked: []evaluation.Entry{{Subject: "P5", Kind: evaluation.KindCadre, Name: "戊", Unit: "party.411502002", UnitName: "中共另一乡委员会",
			Region: "411502002", Missing: []string{"data"}}}}
	bs, err := XLSX(rankingTable(cfg, rk))
	if err != nil {
		t.Fatal(err)
	}
	_, rows, cell := readXLSX(t, bs, "名次 rank")
	if len(rows) != 5 {
		t.Fatalf("%d rows: %v", len(rows), rows)
	}
	for _, x := range []struct {
		row          int
		title, shown string
		format       string
		value        float64
	}{
		{0, "名次 rank", "1", "#1", 1}, {3, "名次 rank", "4", "#1", 4},
		{0, "综合得分 composite", "88.23", "#2", 88.23}, {3, "综合得分 composite", "61.25", "#2", 61.25},
		{1, "百分位 percentile", "62.50", "#2", 62.5},
	} {
		got := cell(x.row, x.title)
		if got.typ != excelize.CellTypeNumber && got.typ != excelize.CellTypeUnset || got.format != x.format || got.shown != x.shown ||
			abs(num(t, got.raw)-x.value) > 1e-9 {
			t.Errorf("row %d %s: %+v, want the number %v shown %q in %s", x.row, x.title, got, x.value, x.shown, x.format)
		}
	}
	for _, x := range []struct {
		row          int
		title, shown string
	}{
		{0, "榜单 list", "红榜 red"}, {3, "榜单 list", "黑榜 black"}, {1, "榜单 list", ""},
		{0, "姓名 name", "甲"}, {0, "单位 unit", "中共某某乡委员会"}, {0, "区域 region", "411502001"}, {0, "区域名称 region name", "某某乡"},
		{4, "名次 rank", "样本不足 / insufficient sample"}, {4, "姓名 name", "戊"}, {4, "综合得分 composite", ""},
	} {
		got := cell(x.row, x.title)
		if got.shown != x.shown || got.shown != "" && got.typ == excelize.CellTypeNumber {
			t.Errorf("row %d %s: %+v, want the text %q", x.row, x.title, got, x.shown)
		}
	}
	if got := cell(4, "未排名原因"); !strings.Contains(got.shown, "无实绩") {
		t.Errorf("why unranked: %+v", got)
	}

	// The notes say how the rates entered the composites.
	if notes := strings.Join(rankingTable(cfg, rk).Notes, "\n"); !strings.Contains(notes, "按样本校正") || !strings.Contains(notes, "fewer than 10 cases") {
		t.Errorf("the rate adjustment is not said: %s", notes)
	}
	raw := cfg
	raw.RateAdjust = evaluation.AdjustNone
	if notes := strings.Join(rankingTable(raw, rk).Notes, "\n"); !strings.Contains(notes, "按实测值") {
		t.Errorf("rates as measured not said: %s", notes)
	}

	// Too few ranked: no lists, the note says 样本不足.
	small := rankingTable(cfg, evaluation.Ranking{Period: "2026-Q4", PeerGroup: "局长", Sample: evaluation.SampleInsufficient,
		Ranked: []evaluation.Entry{a}})
	if !strings.Contains(strings.Join(small.Notes, "\n"), "样本不足") || small.Rows[0][1] != "" {
		t.Errorf("a group too small: notes %v rows %v", small.Notes, small.Rows)
	}
}
