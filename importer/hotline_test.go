package importer

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/paulmach/orb"

	"zhili/geo"
)

// The 12345 fixture (信阳浉河区, GCJ-02 points, Chinese headers) into the real server on the
// demo county: every row lands where its point or its recorded township puts it, with the
// events its 工单状态 says, or is reported.
func TestImportHotline12345(t *testing.T) {
	t.Parallel()
	path := filepath.Join("testdata", "hotline12345.csv")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	rows = rows[1:]

	base := startServer(t)
	gz, err := FetchGazetteer(context.Background(), nil, base, testToken)
	if err != nil {
		t.Fatal(err)
	}
	cats, err := LoadCategoryMap(filepath.Join("testdata", "hotline12345-categories.csv"))
	if err != nil {
		t.Fatal(err)
	}
	placeholder := Point{Lat: 32.123, Lon: 114.075}
	u, sent := recorder(t, base)
	rep, err := Run(context.Background(), strings.NewReader(mustRead(t, path)), Presets["hotline12345"],
		Options{URL: u, Key: testKey, Batch: 50, Regions: gz, Categories: cats, NullPoints: []Point{placeholder}})
	if err != nil {
		t.Fatal(err)
	}
	var sum strings.Builder
	rep.WriteSummary(&sum)
	t.Logf("\n%s", sum.String())

	// Expectations from the rows, independently: the demo tree's townships by name, its
	// locator for the points (GCJ-02 → WGS-84), the documented status table.
	tree := geo.DemoTree()
	loc := geo.NewIndexedLocator(tree)
	byName := map[string]string{}
	tree.Walk(func(r *geo.Region) { byName[r.Name] = r.Code })
	bound := tree.Root.Geometry.Bound()
	statusEvents := map[string][]string{
		"已办结": {"case.resolved", "case.closed"}, "未解决": {"case.resolved", "case.closed"},
		"待回访": {"case.resolved"}, "已冻结": {"case.resolved"}, // unknown: the times decide (办结时间 only)
		"办理中": nil, "已转办": nil, "已派单": nil,
		"重复件": {"case.closed"}, "已撤销": {"case.closed"}, "已转出": {"case.closed"},
	}
	reasons := map[string]string{"重复件": "duplicate", "已撤销": "cancelled", "已转出": "transferred"}
	last := lastSent(sent())
	seen := map[string]bool{}
	cases, skipped, unlocated, placeless := 0, 0, 0, 0
	for _, r := range rows {
		id := r[col["工单编号"]]
		if id == "" {
			skipped++
			continue
		}
		lon, e1 := strconv.ParseFloat(r[col["经度"]], 64)
		lat, e2 := strconv.ParseFloat(r[col["纬度"]], 64)
		wlon, wlat := geo.GCJ02ToWGS84(lon, lat)
		plausible := e1 == nil && e2 == nil && !(lon == 0 && lat == 0) && metres(Point{lat, lon}, placeholder) > 1 &&
			wlat > bound.Min[1]-0.02 && wlat < bound.Max[1]+0.02 && wlon > bound.Min[0]-0.02 && wlon < bound.Max[0]+0.02
		var wantPath []string
		switch {
		case plausible:
			wantPath = loc.Locate(orb.Point{wlon, wlat})[:2]
		case byName[r[col["所属街道"]]] != "":
			wantPath = []string{"411502", byName[r[col["所属街道"]]]}
		case r[col["所属区县"]] == "浉河区":
			wantPath = []string{"411502"}
		default:
			placeless++ // no usable point, no known township: imported as unlocated (one warning)
		}
		if !plausible && r[col["经度"]] != "" && wantPath != nil {
			unlocated++ // a point given but not usable: warned
		}
		if seen[id] {
			continue // the same 工单 twice in the export: duplicates
		}
		seen[id] = true
		cases++
		status := r[col["工单状态"]]
		want := []string{"case.reported", "case.dispatched"}
		if r[col["工单状态"]] == "已办结" && r[col["解决情况"]] == "未解决" {
			status = "未解决"
		}
		evs, ok := statusEvents[status]
		if !ok {
			t.Fatalf("%s: status %q not in the test's table", id, status)
		}
		want = append(want, evs...)
		got := caseEvents(t, base, id, len(want))
		for _, w := range want {
			if got[w].Type == "" {
				t.Errorf("%s (%s): no %s landed: %+v", id, status, w, got)
			}
		}
		repEv := got["case.reported"]
		if len(repEv.RegionPath) < len(wantPath) || !slices.Equal(repEv.RegionPath[:len(wantPath)], wantPath) || plausible != (repEv.Location != nil) ||
			wantPath == nil && len(repEv.RegionPath) != 0 {
			t.Errorf("%s: region path %v, location %v; want %v (plausible point: %v)", id, repEv.RegionPath, repEv.Location, wantPath, plausible)
		}
		if d := got["case.dispatched"]; (d.Deadline != nil) != (r[col["办理时限"]] != "") || d.Dept != r[col["承办单位"]] {
			t.Errorf("%s: dispatch %+v, 办理时限 %q", id, d, r[col["办理时限"]])
		}
		// Sent, and stored where the history store keeps category_text and close_reason.
		sr := last[EventID(id, "reported")]
		code, mapped := cats.Lookup(r[col["诉求类型"]])
		if !mapped {
			code = CategoryUnmapped
		}
		if sr.Category != code || sr.CategoryText != r[col["诉求类型"]] || repEv.Category != code ||
			repEv.CategoryText != "" && repEv.CategoryText != sr.CategoryText {
			t.Errorf("%s: category %q (stored %q), text %q; want %q", id, sr.Category, repEv.Category, sr.CategoryText, code)
		}
		if c, ok := last[EventID(id, "closed")]; ok {
			want := reasons[status]
			if status == "未解决" {
				want = "not_fixed"
			}
			if c.CloseReason != want || got["case.closed"].CloseReason != "" && got["case.closed"].CloseReason != want {
				t.Errorf("%s: close_reason %q (stored %q), want %q", id, c.CloseReason, got["case.closed"].CloseReason, want)
			}
			sat, _ := satisfactionOf(r[col["回访满意度"]])
			if got["case.closed"].Satisfaction != sat {
				t.Errorf("%s: satisfaction %q, want %q (%s)", id, got["case.closed"].Satisfaction, sat, r[col["回访满意度"]])
			}
		}
	}
	if rep.Rows != len(rows) || rep.Cases != len(rows)-skipped || rep.Imported != rep.Cases || len(rep.Rejected) != 0 ||
		rep.Skipped["id_missing"] != 1 || len(rep.Skipped) != 1 || rep.Duplicates != 4 || placeless != 1 || rep.Unlocated != placeless ||
		rep.Warnings["unlocated"] != placeless {
		t.Fatalf("report %+v; want %d rows, %d cases, %d distinct, %d unlocated", rep, len(rows), len(rows)-skipped, cases, placeless)
	}
	w := rep.Warnings
	if w["null_point"] != 5 || w["coordinates_out_of_range"] != 1 || w["out_of_bounds"] != 1 || w["region_unresolved"] != 1 ||
		w["status_unknown"] != 1 || w["time_order"] != 2 || w["category_unmapped"] == 0 || w["null_point"]+w["coordinates_out_of_range"]+w["out_of_bounds"] != unlocated {
		t.Errorf("warnings %v (%d unlocated)", w, unlocated)
	}
	// Closed before created: both steps at the created time, the row flagged.
	c := caseEvents(t, base, "XY202503110214", 4)
	if c["case.resolved"].At != "2025-03-11T17:12:07+08:00" || c["case.closed"].At != "2025-03-11T17:12:07+08:00" {
		t.Errorf("clamped closing: %+v", c)
	}
	if !strings.Contains(sum.String(), `"其他"`) || !strings.Contains(sum.String(), "id=工单编号") {
		t.Errorf("summary:\n%s", sum.String())
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Header variants of 12345 exports map onto the same fields; a 办理时限 given as working days
// counts them on the official calendar.
func TestHotlineHeaderVariants(t *testing.T) {
	t.Parallel()
	header := []string{"工单号", "来电时间", "问题分类", "承办部门", "街道", "事发地址", "工单内容", "经度（GCJ-02）", "纬度（GCJ-02）",
		"处理时限", "办理状态", "办结日期", "回访时间", "满意度"}
	idx, used, missing, err := resolveColumns(header, Presets["hotline12345"])
	if err != nil {
		t.Fatal(err)
	}
	for f, h := range map[string]string{"id": "工单号", "created": "来电时间", "category": "问题分类", "dept": "承办部门",
		"region": "街道", "lon": "经度（GCJ-02）", "lat": "纬度（GCJ-02）", "due": "处理时限", "status": "办理状态",
		"resolved": "办结日期", "closed": "回访时间", "satisfaction": "满意度"} {
		if used[f] != h {
			t.Errorf("%s: column %q, want %q", f, used[f], h)
		}
	}
	if !slices.Contains(missing, "district") || slices.Contains(missing, "id") || len(idx) != len(used) {
		t.Errorf("missing %v", missing)
	}
	// Without an id column the import is refused, naming it.
	if _, _, _, err := resolveColumns(header[1:], Presets["hotline12345"]); err == nil || !strings.Contains(err.Error(), "工单编号") {
		t.Errorf("no id column: %v", err)
	}

	csvText := strings.Join(header, ",") + "\n" +
		// Friday 2025-09-26 09:00 + 3 working days (72 h of working time): 15 h on the 26th,
		// Saturday off, Sunday 09-28 a make-up working day of the National Day holiday, 09-29,
		// and 9 h of 09-30.
		"A1,2025/9/26 9:00,噪声,城管局,老城街道,某路,内容,114.07,32.12,3个工作日,办理中,,,\n" +
		"A2,2025年9月26日 09:00,噪声,城管局,老城街道,某路,内容,114.07,32.12,48小时,已办结,2025-09-27 10:00:00,2025-09-27 12:00:00,非常满意\n"
	var got []wireEvent
	srv := fakeServer(t, &got)
	rep, err := Run(context.Background(), strings.NewReader(csvText), Presets["hotline12345"], Options{URL: srv, Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	by := lastSent(got)
	if d := by["A1:dispatched"].Deadline; d != "2025-09-30T09:00:00+08:00" {
		t.Errorf("A1 deadline %q", d)
	}
	if d := by["A2:dispatched"].Deadline; d != "2025-09-28T09:00:00+08:00" {
		t.Errorf("A2 deadline %q", d)
	}
	if by["A2:closed"].Satisfaction != "satisfied" || by["A2:reported"].Location.CRS != "gcj02" || by["A2:reported"].Category != CategoryUnmapped {
		t.Errorf("A2: %+v %+v", by["A2:closed"], by["A2:reported"])
	}
	if rep.Warnings["region_unresolved"] != 0 || rep.Cases != 2 {
		t.Errorf("report %+v", rep)
	}
}
