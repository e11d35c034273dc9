package importer

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"zhili/event"
	"zhili/geo"
)

func TestContractConstants(t *testing.T) {
	t.Parallel()
	if CategoryUnmapped != event.CategoryUnmapped || maxCategoryText != event.MaxCategoryText {
		t.Fatal("the importer's copy of the contract's constants differs")
	}
	for _, o := range Outcomes {
		if r := o.closeReason(); r != "" && !strings.Contains(strings.Join(event.CloseReasons, " "), r) {
			t.Errorf("close reason %q not in the contract", r)
		}
	}
}

func TestCategoryMap(t *testing.T) {
	t.Parallel()
	m, err := ParseCategoryMap(strings.NewReader("\ufeff诉求类型,code\n# comment\n城乡建设-市容环境,cityorder\n  噪声扰民 ,environment\nＮｏｉｓｅ  Complaint,environment\n其他,unmapped\n"))
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{"城乡建设-市容环境": "cityorder", "噪声扰民": "environment", "noise complaint": "environment",
		"NOISE   COMPLAINT": "environment", "其他": "unmapped", "未知": ""} {
		if got, _ := m.Lookup(in); got != want {
			t.Errorf("%q → %q, want %q", in, got, want)
		}
	}
	if m.Len() != 4 {
		t.Errorf("len %d", m.Len())
	}
	for _, bad := range []string{"a,b,c\n", "a,no spaces allowed\n", "a,x\nA,y\n", ",x\n"} {
		if _, err := ParseCategoryMap(strings.NewReader(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	// Resolution order: the map, then the preset's CategoryOf, else NormalizeCategory limited
	// to the map's codes.
	b := &builder{m: Presets["nyc311"], opt: &Options{Categories: m}}
	for in, want := range map[string]string{"噪声扰民": "environment", "Illegal Parking": "cityorder", "Ferry Inquiry": "unmapped", "其他": "unmapped", "": "unmapped"} {
		if got, _ := b.category(in); got != want {
			t.Errorf("nyc311 %q → %q, want %q", in, got, want)
		}
	}
	b = &builder{m: Presets["zhili"], opt: &Options{Categories: m}}
	for in, want := range map[string]string{"Environment": "environment", "safety": "unmapped", "城乡建设-市容环境": "cityorder"} {
		if got, _ := b.category(in); got != want {
			t.Errorf("zhili %q → %q, want %q", in, got, want)
		}
	}
	b.opt.Categories = nil
	if got, ok := b.category("safety"); got != "safety" || !ok {
		t.Errorf("without a map a code stands: %q", got)
	}
}

func TestStatusTables(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		f                  func(string, string) (Outcome, bool)
		status, resolution string
		want               Outcome
	}{
		{NYCStatus, "Closed", "The Police Department responded to the complaint and took action to fix the condition.", Fixed},
		{NYCStatus, "Closed", "The Police Department issued a summons in response to the complaint.", Fixed},
		{NYCStatus, "Closed", "The Police Department responded to the complaint and with the information available observed no evidence of the violation at that time.", NotFixed},
		{NYCStatus, "Closed", "The Police Department responded to the complaint and determined that police action was not necessary.", NotFixed},
		{NYCStatus, "Closed", "The Police Department responded and upon arrival those responsible for the condition were gone.", NotFixed},
		{NYCStatus, "Closed", "The Department of Environmental Protection determined that this complaint is a duplicate of a previously filed complaint.", Duplicate},
		{NYCStatus, "Closed", "This complaint does not fall under the Police Department's jurisdiction.", Transferred},
		{NYCStatus, "Closed", "Your request can not be processed at this time because of insufficient contact information.", Cancelled},
		{NYCStatus, "In Progress", "", Open},
		{NYCStatus, "CLOSED", "", Fixed},
		{Open311Status, "closed", "Pothole repaired.", Fixed},
		{Open311Status, "closed", "Duplicate of request 123.", Duplicate},
		{Open311Status, "open", "", Open},
		{Open311Status, "In Progress", "", Open},
		{HotlineStatus, "已办结", "已解决", Fixed},
		{HotlineStatus, "已办结", "未解决", NotFixed},
		{HotlineStatus, "未解决", "", NotFixed},
		{HotlineStatus, "重复件", "", Duplicate},
		{HotlineStatus, "已撤销", "", Cancelled},
		{HotlineStatus, "已转出", "", Transferred},
		{HotlineStatus, "已转办", "", Open},
		{HotlineStatus, "待回访", "", Resolved},
		{HotlineStatus, " 办理中 ", "", Open},
		{ZhiliStatus, "closed", "", Fixed},
		{ZhiliStatus, "not_fixed", "", NotFixed},
		{ZhiliStatus, "重复件", "", Duplicate},
	} {
		got, ok := c.f(c.status, c.resolution)
		if !ok || got != c.want {
			t.Errorf("%q / %.40q: %q %v, want %q", c.status, c.resolution, got, ok, c.want)
		}
	}
	for _, f := range []func(string, string) (Outcome, bool){NYCStatus, Open311Status, HotlineStatus, ZhiliStatus} {
		if _, ok := f("已冻结 / frozen", ""); ok {
			t.Error("an unknown status was read")
		}
	}
	sm, err := ParseStatusMap(strings.NewReader("工单状态,outcome\n已转办,transferred\nFrozen,open\n"))
	if err != nil || sm["已转办"] != Transferred || sm["frozen"] != Open {
		t.Fatalf("%v %v", sm, err)
	}
	if _, err := ParseStatusMap(strings.NewReader("a,finished\n")); err == nil || !strings.Contains(err.Error(), "not_fixed") {
		t.Errorf("bad outcome: %v", err)
	}
	// The status map comes first.
	b := &builder{m: Presets["hotline12345"], opt: &Options{Statuses: sm}}
	if o, _ := b.outcome("已转办", ""); o != Transferred {
		t.Errorf("status map not first: %q", o)
	}
}

func TestGazetteer(t *testing.T) {
	t.Parallel()
	fc, err := geo.DemoTree().FeatureCollection("root", -1)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(fc)
	g, err := ParseGazetteer(raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ in, within, want string }{
		{"老城街道", "", "411502001"}, {"老城", "", "411502001"}, {"老城街道办事处", "", "411502001"}, {" 东双河镇 ", "", "411502005"},
		{"东双河", "浉河区", "411502005"}, {"浉河区", "", "411502"}, {"411502003", "", "411502003"}, {"金牛山街道", "", ""},
	} {
		got, why, ok := g.Resolve(c.in, c.within)
		if got != c.want || ok != (c.want != "") || !ok && why == "" {
			t.Errorf("%q: %q %v %q, want %q", c.in, got, ok, why, c.want)
		}
	}
	if b := g.Bounds; !b.Contains(Point{32.12, 114.07}) || b.Contains(Point{39.9, 116.4}) {
		t.Errorf("bounds %v", b)
	}
	// Two regions of one name: ambiguous unless the district tells them apart.
	two := []byte(`{"type":"FeatureCollection","features":[
	 {"type":"Feature","properties":{"code":"A","name":"甲区"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}},
	 {"type":"Feature","properties":{"code":"B","name":"乙县"},"geometry":{"type":"Polygon","coordinates":[[[1,0],[2,0],[2,1],[1,0]]]}},
	 {"type":"Feature","properties":{"code":"A1","name":"城关镇","parent":"A"},"geometry":null},
	 {"type":"Feature","properties":{"code":"B1","name":"城关镇","parent":"B"},"geometry":null}]}`)
	g2, err := ParseGazetteer(two)
	if err != nil {
		t.Fatal(err)
	}
	if _, why, ok := g2.Resolve("城关镇", ""); ok || !strings.Contains(why, "2 regions") {
		t.Errorf("ambiguous: %v %q", ok, why)
	}
	if c, _, ok := g2.Resolve("城关镇", "乙县"); !ok || c != "B1" {
		t.Errorf("within: %q", c)
	}
	if _, err := ParseBounds("32,114,31,115"); err == nil {
		t.Error("min > max accepted")
	}
	if b, err := ParseBounds("31.9, 113.8, 32.4, 114.4"); err != nil || !b.Contains(Point{32.1, 114.0}) {
		t.Errorf("%v %v", b, err)
	}
	if p, err := ParsePoint("32.123,114.075"); err != nil || p.Lat != 32.123 {
		t.Errorf("%v %v", p, err)
	}
	if metres(Point{32.123, 114.075}, Point{32.1230003, 114.0750004}) > 1 || metres(Point{32.123, 114.075}, Point{32.12301, 114.075}) < 1 {
		t.Error("metres")
	}
	// The server's copy, with a viewer token; a wrong token fails.
	base := startServer(t)
	if g3, err := FetchGazetteer(context.Background(), nil, base, testToken); err != nil || len(g3.names) != 31 {
		t.Errorf("fetched: %v", err)
	}
	if _, err := FetchGazetteer(context.Background(), nil, base, "nope"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("bad token: %v", err)
	}
}
