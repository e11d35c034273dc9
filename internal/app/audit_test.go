package app

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"zhili/dashboard"
	"zhili/ingest"
	"zhili/server"
)

// The three-rate audit over the API on a hand-checked fixture (the same cases as the governance
// unit test, through ingest, the store and the audit), and its CSV and XLSX exports read back.
func TestAuditRatesAndExports(t *testing.T) {
	t.Parallel()
	a := startApp(t, t.TempDir())
	defer a.Shutdown(context.Background())
	auditFixture(t, a)
}

// The same audit with the history in ClickHouse.
func TestAuditRatesClickHouse(t *testing.T) {
	t.Parallel()
	_, _, dsn := services(t)
	a, err := New(Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Tick: 50 * time.Millisecond, ClickHouse: dsn,
		IngestKeys: map[string]*ingest.Policy{testKey: {}}, ViewTokens: map[string]server.Viewer{testToken: {}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	defer a.Shutdown(context.Background())
	eventually(t, 30*time.Second, func() string {
		if !a.Ready() {
			return "not ready"
		}
		return ""
	})
	auditFixture(t, a)
}

func auditFixture(t *testing.T, a *App) {
	t.Helper()
	base := "http://" + a.Addr
	loc := a.cfg.Loc
	day := time.Now().In(loc).AddDate(0, 0, -2)
	at := func(h, m int) string {
		return time.Date(day.Year(), day.Month(), day.Day(), h, m, 0, 0, loc).Format(time.RFC3339)
	}
	town := a.cfg.Tree.Root.Children[0].Code
	rep := func(id string, h int) string {
		addr := ""
		if id == "c1" || id == "c3" {
			addr = `,"address":"幸福路 8号"` // c3 repeats c1: the same place and category two hours later
		}
		return `{"id":"` + id + `r","type":"case.reported","case_id":"` + id + `","at":"` + at(h, 0) + `","source":"grid","category":"environment","region":"` + town + `"` + addr + `}`
	}
	lines := []string{
		rep("c1", 8), `{"id":"c1d","type":"case.dispatched","case_id":"c1","at":"` + at(8, 10) + `","dept":"A","deadline":"` + at(18, 0) + `"}`,
		`{"id":"c1s","type":"case.signed","case_id":"c1","at":"` + at(9, 0) + `","dept":"A"}`,
		`{"id":"c1v","type":"case.resolved","case_id":"c1","at":"` + at(12, 0) + `"}`,
		`{"id":"c1c","type":"case.closed","case_id":"c1","at":"` + at(13, 0) + `","satisfaction":"satisfied"}`,
		rep("c2", 9), `{"id":"c2d","type":"case.dispatched","case_id":"c2","at":"` + at(9, 5) + `","dept":"A","deadline":"` + at(10, 0) + `"}`,
		`{"id":"c2s","type":"case.signed","case_id":"c2","at":"` + at(12, 0) + `","dept":"A"}`,
		`{"id":"c2v","type":"case.resolved","case_id":"c2","at":"` + at(11, 0) + `"}`,
		`{"id":"c2c","type":"case.closed","case_id":"c2","at":"` + at(14, 0) + `","satisfaction":"unsatisfied"}`,
		`{"id":"c2o","type":"case.reopened","case_id":"c2","at":"` + at(15, 0) + `"}`,
		rep("c3", 10), `{"id":"c3d","type":"case.dispatched","case_id":"c3","at":"` + at(10, 10) + `","dept":"A","deadline":"` + at(20, 0) + `"}`,
		rep("c4", 8), `{"id":"c4d","type":"case.dispatched","case_id":"c4","at":"` + at(8, 10) + `","dept":"B","deadline":"` + at(20, 0) + `"}`,
		`{"id":"c4s","type":"case.signed","case_id":"c4","at":"` + at(8, 30) + `","dept":"B"}`,
		`{"id":"c4v","type":"case.resolved","case_id":"c4","at":"` + at(9, 0) + `"}`,
		`{"id":"c4c","type":"case.closed","case_id":"c4","at":"` + at(10, 0) + `","satisfaction":"basically"}`,
	}
	if code, b := post(t, base, "application/x-ndjson", strings.Join(lines, "\n")); code != 200 || !strings.Contains(string(b), `"rejected":[]`) {
		t.Fatalf("%d %s", code, b)
	}
	// A report with its latitude out of range is refused at ingest: counted apart in the
	// reconcile block.
	if code, b := post(t, base, "application/x-ndjson", `{"id":"z1r","type":"case.reported","case_id":"z1","at":"`+at(8, 0)+`","source":"grid","category":"environment","location":{"lon":114.07,"lat":132.12}}`); code != 200 ||
		!strings.Contains(string(b), `"code":"invalid"`) {
		t.Fatalf("%d %s", code, b)
	}
	waitStored(t, a, int64(len(lines)))
	from, to := day.Format("2006-01-02"), day.AddDate(0, 0, 1).Format("2006-01-02")
	q := base + "/api/v1/audit/rates?token=" + testToken + "&from=" + from + "&to=" + to + "&min_sample=2"
	resp, err := http.Get(q)
	if err != nil {
		t.Fatal(err)
	}
	var rep1 struct {
		Cases int
		Units []struct {
			Unit    string
			Current struct {
				Cases                              int
				Response, Resolution, Satisfaction struct {
					Num, Den int
					Rank     *int
					Sample   string
				}
				CloseP50           *int64 `json:"close_p50_s"`
				ClosedThenReopened int64  `json:"closed_then_reopened"`
				ClosedUnsatisfied  int64  `json:"closed_unsatisfied"`
				Repeats            int64
			}
			Previous *struct{ Cases int }
		}
		Definitions map[string]string
		Repeats     []struct {
			CaseID   string `json:"case_id"`
			RepeatOf string `json:"repeat_of"`
		}
		Reconcile struct {
			Received, Counted int64
			Excluded          map[string]int64
			Rejected          struct {
				Total  *int64
				ByCode map[string]int64 `json:"by_code"`
			}
		}
	}
	json.NewDecoder(resp.Body).Decode(&rep1)
	resp.Body.Close()
	if rep1.Cases != 4 || len(rep1.Units) != 2 || rep1.Units[0].Unit != "A" || rep1.Definitions["response"] == "" {
		t.Fatalf("rates report %+v", rep1)
	}
	if rc := rep1.Reconcile; rc.Received != 4 || rc.Counted != 4 || len(rc.Excluded) != 1 || rc.Excluded["without_dept"] != 0 ||
		rc.Rejected.Total == nil || *rc.Rejected.Total != 1 || rc.Rejected.ByCode["invalid:location"] != 1 {
		t.Fatalf("reconcile %+v", rc)
	}
	if len(rep1.Repeats) != 1 || rep1.Repeats[0].CaseID != "c3" || rep1.Repeats[0].RepeatOf != "c1" {
		t.Fatalf("repeat links %+v", rep1.Repeats)
	}
	ua, ub := rep1.Units[0].Current, rep1.Units[1].Current
	if ua.Response.Num != 1 || ua.Response.Den != 3 || ua.Resolution.Num != 1 || ua.Satisfaction.Num != 1 || ua.Satisfaction.Den != 2 ||
		*ua.Response.Rank != 1 || ua.CloseP50 == nil || *ua.CloseP50 != 5*3600 || ua.ClosedThenReopened != 1 || ua.ClosedUnsatisfied != 1 || ua.Repeats != 1 || ub.Repeats != 0 {
		t.Fatalf("unit A %+v", ua)
	}
	if ub.Response.Sample != "insufficient" || ub.Response.Rank != nil || rep1.Units[0].Previous != nil {
		t.Fatalf("unit B must not be ranked with one case: %+v", ub)
	}

	// CSV: a byte-order mark, the title, notes with the period and the definitions, then the table.
	resp, _ = http.Get(q + "&format=csv")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.HasPrefix(body, []byte("\uFEFF")) || !strings.Contains(resp.Header.Get("Content-Disposition"), ".csv") {
		t.Fatalf("csv headers %v", resp.Header)
	}
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(body, []byte("\uFEFF"))))
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var header []string
	var rows [][]string
	for i, rec := range recs {
		if len(rec) > 0 && rec[0] == "单位 unit" {
			header, rows = rec, recs[i+1:]
		}
		if len(rec) > 0 && rec[0] == dashboard.ReconcileTitle && header != nil {
			rows = rows[:len(rows)-(len(recs)-i)]
		}
	}
	if header == nil || len(rows) != 2 || rows[0][0] != "A" || rows[0][4] != "33.3%" || rows[1][5] != "样本不足 / insufficient sample" {
		t.Fatalf("csv table %v / %v", header, rows)
	}
	if !strings.Contains(string(body), "响应率 response rate") {
		t.Fatal("csv without the definitions")
	}
	// The reconcile block is the CSV's footer.
	var footer map[string]string
	for _, rec := range recs {
		if len(rec) > 0 && rec[0] == dashboard.ReconcileTitle {
			footer = map[string]string{}
		} else if footer != nil && len(rec) > 1 {
			footer[rec[0]] = rec[1]
		}
	}
	if footer["收到 received"] != "4" || footer["等式 identity"] != "4 = 4" || footer["拒收 rejected: invalid:location"] != "1" {
		t.Fatalf("csv footer %v", footer)
	}

	// XLSX read back by a second reader (excelize).
	resp, _ = http.Get(q + "&format=xlsx")
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	f, err := excelize.OpenReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	xrows, err := f.GetRows(f.GetSheetName(0))
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, xr := range xrows {
		if len(xr) > 8 && xr[0] == "A" {
			found = xr[2] == "3" && xr[4] == "33.3%" && xr[8] == "50.0%"
		}
	}
	if !found || !strings.HasPrefix(xrows[0][0], "三率考核") {
		t.Fatalf("xlsx rows %v", xrows)
	}
	// The reconcile block is the workbook's second sheet.
	if xr, err := f.GetRows(dashboard.ReconcileTitle); err != nil || len(xr) < 3 || xr[1][0] != "收到 received" || xr[1][1] != "4" {
		t.Fatalf("xlsx reconcile sheet %v %v (sheets %v)", xr, err, f.GetSheetList())
	}

	// The whistle audit: a whistle on c1, one department signs after 30 minutes.
	wl := `{"id":"w1","type":"whistle.blown","case_id":"c1","at":"` + at(10, 0) + `","whistle_id":"W1","whistle_kind":"advance","depts":["X","Y"]}
{"id":"w2","type":"whistle.answered","case_id":"c1","at":"` + at(10, 30) + `","whistle_id":"W1","dept":"X","stage":"signed"}`
	if code, b := post(t, base, "application/x-ndjson", wl); code != 200 {
		t.Fatalf("%d %s", code, b)
	}
	waitStored(t, a, int64(len(lines)+2))
	resp, _ = http.Get(base + "/api/v1/audit/whistles?token=" + testToken + "&from=" + from + "&to=" + to + "&min_sample=1")
	var wrep struct {
		Whistles int
		Depts    []struct {
			Dept   string
			Stages []struct {
				Count int64
				P50   int64 `json:"p50_s"`
			}
			OnTime struct{ Num, Den, Rank int } `json:"on_time"`
		}
	}
	json.NewDecoder(resp.Body).Decode(&wrep)
	resp.Body.Close()
	if wrep.Whistles != 1 || len(wrep.Depts) != 2 || wrep.Depts[0].Dept != "X" || wrep.Depts[0].Stages[0].P50 != 1800 ||
		wrep.Depts[0].OnTime.Rank != 1 || wrep.Depts[1].OnTime.Num != 0 || wrep.Depts[1].OnTime.Den == 0 {
		t.Fatalf("whistle audit %+v", wrep)
	}
	resp, _ = http.Get(base + "/api/v1/audit/whistles?token=" + testToken + "&from=" + from + "&to=" + to + "&format=xlsx")
	if resp.StatusCode != 200 {
		t.Fatalf("whistle audit xlsx %d", resp.StatusCode)
	}
	resp.Body.Close()
	resp, _ = http.Get(q + "&by=nope")
	if resp.StatusCode != 400 {
		t.Fatalf("by=nope: %d", resp.StatusCode)
	}
	resp.Body.Close()
}

// repeats_limit keeps the page's download bounded however many repeat links a period has: the
// newest first, with the total beside them; a bad limit is refused with its name.
func TestAuditRepeatsLimit(t *testing.T) {
	// Not parallel: it lowers dashboard.MaxAuditCases for the process.
	a := startApp(t, t.TempDir())
	defer a.Shutdown(context.Background())
	base := "http://" + a.Addr
	loc := a.cfg.Loc
	day := time.Now().In(loc).AddDate(0, 0, -3)
	town := a.cfg.Tree.Root.Children[0].Code
	var lines []string
	for i, h := range []int{8, 9, 10, 11} {
		at := time.Date(day.Year(), day.Month(), day.Day(), h, 0, 0, 0, loc).Format(time.RFC3339)
		lines = append(lines, fmt.Sprintf(`{"id":"r%dr","type":"case.reported","case_id":"r%d","at":"%s","source":"grid","category":"environment","region":"%s","address":"幸福路 8号"}`,
			i+1, i+1, at, town))
	}
	if code, b := post(t, base, "application/x-ndjson", strings.Join(lines, "\n")); code != 200 {
		t.Fatalf("%d %s", code, b)
	}
	waitStored(t, a, int64(len(lines)))
	q := base + "/api/v1/audit/rates?token=" + testToken + "&from=" + day.Format("2006-01-02") + "&to=" + day.AddDate(0, 0, 1).Format("2006-01-02")
	get := func(u string) (int, []byte) {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	type reply struct {
		Repeats []struct {
			CaseID   string `json:"case_id"`
			RepeatOf string `json:"repeat_of"`
		}
		Total int `json:"repeats_total"`
	}
	links := func(u string) reply {
		code, b := get(u)
		if code != 200 {
			t.Fatalf("%s: %d %s", u, code, b)
		}
		var r reply
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	all := links(q)
	if all.Total != 3 || len(all.Repeats) != 3 {
		t.Fatalf("without a limit: %+v", all)
	}
	lim := links(q + "&repeats_limit=2")
	if lim.Total != 3 || len(lim.Repeats) != 2 || lim.Repeats[0].CaseID != "r4" || lim.Repeats[1].CaseID != "r3" || lim.Repeats[0].RepeatOf != "r1" {
		t.Fatalf("repeats_limit=2: %+v, want r4 and r3 (newest first) of 3", lim)
	}
	for _, bad := range []string{"-1", "x", "100001"} {
		if code, b := get(q + "&repeats_limit=" + bad); code != 400 || !strings.Contains(string(b), "repeats_limit") {
			t.Fatalf("repeats_limit=%s: %d %s", bad, code, b)
		}
	}

	// The cases an audit holds are bounded: past the bound it is refused by name, also the export.
	defer func(n int) { dashboard.MaxAuditCases = n }(dashboard.MaxAuditCases)
	dashboard.MaxAuditCases = 3
	for _, u := range []string{q, q + "&format=csv", base + "/api/v1/audit/whistles?token=" + testToken + "&from=" + day.Format("2006-01-02") + "&to=" + day.AddDate(0, 0, 1).Format("2006-01-02")} {
		if code, b := get(u); code != 413 || !strings.Contains(string(b), `"reason":"max_rows"`) {
			t.Errorf("%s with 4 cases over a bound of 3: %d %s, want 413 max_rows", u, code, b)
		}
	}
	dashboard.MaxAuditCases = 4
	if code, b := get(q); code != 200 {
		t.Errorf("4 cases within a bound of 4: %d %s", code, b)
	}
}
