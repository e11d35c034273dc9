package app

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"zhili/importer"
	"zhili/internal/nycdata"
)

// nycAssessed tells a CSV row whose closing the audits count (docs/GOVERNANCE.md, close reasons):
// not one the importer sends as a duplicate, transferred or cancelled closing.
func nycAssessed(status, resolution string) bool {
	out, _ := importer.NYCStatus(status, resolution)
	return out != importer.Duplicate && out != importer.Transferred && out != importer.Cancelled
}

// The audits' coverage on real data: NYC's 311 sample imported as it is (no invented deadlines:
// only rows with a usable due date get one). Every row that names an agency counts in that
// agency's audit, with or without a due date, with or without a place (a row with neither a
// point nor a known district is an unlocated case); the agency's cases, closed cases, cases
// without a deadline, and time-to-close p50 and p90 equal a recomputation from the CSV; the
// reconcile block adds up to the file's rows, the unlocated ones among them.
func TestNYCAuditCoverage(t *testing.T) {
	t.Parallel()
	dir, ny, a := startNYC(t)
	tree := a.cfg.Tree
	base := "http://" + a.Addr

	csvPath := filepath.Join(dir, "311_sample.csv")
	f, err := os.Open(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := importer.Run(context.Background(), f, importer.Presets["nyc311"], importer.Options{URL: base, Key: testKey})
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	skipped, rejected := 0, 0
	for _, n := range rep.Skipped {
		skipped += n
	}
	for _, n := range rep.Rejected {
		rejected += n
	}
	t.Logf("import: %d rows, %d cases sent, %d imported, skipped %v, rejected %v, %d events sent %v", rep.Rows, rep.Cases, rep.Imported, rep.Skipped, rep.Rejected, rep.Events, rep.Sent)

	// The recomputation, from the CSV alone.
	f, err = os.Open(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.LazyQuotes, r.FieldsPerRecord = true, -1
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	get := func(row []string, name string) string { return strings.TrimSpace(row[col[name]]) }
	parse := func(s string) (time.Time, bool) {
		v, err := time.ParseInLocation("2006-01-02T15:04:05.000", s, ny)
		return v, err == nil
	}
	district := func(board string) bool {
		num, boro, ok := strings.Cut(board, " ")
		n, err := strconv.Atoi(num)
		if !ok || err != nil {
			return false
		}
		for d, name := range nycdata.Boroughs {
			if name == boro && tree.Get(fmt.Sprintf("%s%02d", d, n)) != nil {
				return true
			}
		}
		return false
	}
	type agency struct {
		cases, withDeadline int64
		withClose           int64 // rows with a close time: closed, or closed as not assessed
		durs                []int64
	}
	want := map[string]*agency{}
	placelessClosed := map[string]int{} // unlocated rows with an agency and a close time
	fileRows, placeless, sent := len(rows)-1, 0, 0
	for _, row := range rows[1:] {
		created, ok := parse(get(row, "created_date"))
		if !ok || get(row, "unique_key") == "" {
			continue
		}
		sent++
		lat, latErr := strconv.ParseFloat(get(row, "latitude"), 64)
		lon, lonErr := strconv.ParseFloat(get(row, "longitude"), 64)
		point := latErr == nil && lonErr == nil && (lat != 0 || lon != 0) && math.Abs(lat) <= 90 && math.Abs(lon) <= 180
		if !point && !district(get(row, "community_board")) {
			placeless++ // neither a point nor a known district: an unlocated case
			if _, ok := parse(get(row, "closed_date")); ok && get(row, "agency") != "" {
				placelessClosed[get(row, "agency")]++
			}
		}
		name := get(row, "agency")
		if name == "" {
			continue
		}
		ag := want[name]
		if ag == nil {
			ag = &agency{}
			want[name] = ag
		}
		ag.cases++
		if due, ok := parse(get(row, "due_date")); ok && due.After(created) {
			ag.withDeadline++
		}
		if _, ok := parse(get(row, "closed_date")); ok {
			ag.withClose++
		}
		if closed, ok := parse(get(row, "closed_date")); ok && !closed.Before(created) && nycAssessed(get(row, "status"), get(row, "resolution_description")) {
			ag.durs = append(ag.durs, int64(closed.Sub(created)/time.Second))
		}
	}
	nearestRank := func(xs []int64, p float64) int64 {
		if len(xs) == 0 {
			return -1
		}
		s := slices.Clone(xs)
		slices.Sort(s)
		return s[int(math.Ceil(p*float64(len(s))))-1]
	}
	if rep.Rows != fileRows || rep.Cases != sent || sent != fileRows || skipped != 0 || rep.Unlocated != placeless || rep.Imported != sent {
		t.Fatalf("importer: %d rows, %d sent, %d imported, %d skipped, %d unlocated; the CSV: %d rows, %d valid, %d without a place",
			rep.Rows, rep.Cases, rep.Imported, skipped, rep.Unlocated, fileRows, sent, placeless)
	}

	type reconcile struct {
		Received, Counted, Unlocated int64
		Excluded                     map[string]int64
		WithoutDept                  int64 `json:"without_dept"`
		WithoutDeadline              int64 `json:"without_deadline"`
		Identity                     string
		Rejected                     struct {
			Total  *int64
			ByCode map[string]int64 `json:"by_code"`
		}
	}
	type figures struct {
		Cases, Dispatched, Closed int64
		Duplicates, Transferred   int64
		Cancelled                 int64
		WithoutDeadline           int64                    `json:"without_deadline"`
		CloseP50                  *int64                   `json:"close_p50_s"`
		CloseP90                  *int64                   `json:"close_p90_s"`
		OnTime                    struct{ Num, Den int64 } `json:"on_time"`
	}
	type audit struct {
		Cases int64
		Units []struct {
			Unit      string
			Unlocated bool
			Current   figures
		}
		Reconcile reconcile
	}
	fetch := func(by string) (audit, error) {
		var out audit
		resp, err := http.Get(base + "/api/v1/audit/rates?token=" + testToken + "&by=" + by + "&from=2023-01-01&to=2025-01-01")
		if err != nil {
			return out, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			return out, fmt.Errorf("audit by=%s: HTTP %d", by, resp.StatusCode)
		}
		return out, json.NewDecoder(resp.Body).Decode(&out)
	}
	var byDept audit
	eventually(t, 15*time.Second, func() string {
		var err error
		if byDept, err = fetch("dept"); err != nil {
			return err.Error()
		}
		if byDept.Cases != int64(sent) {
			return fmt.Sprintf("the audit reads %d cases, the importer sent %d", byDept.Cases, sent)
		}
		return ""
	})
	adds := func(name string, rc reconcile) int64 {
		t.Helper()
		sum := rc.Counted
		for _, v := range rc.Excluded {
			sum += v
		}
		if sum != rc.Received {
			t.Errorf("%s: received %d ≠ counted %d + excluded %v", name, rc.Received, rc.Counted, rc.Excluded)
		}
		return sum
	}

	// Every agency: its cases, closed cases, cases without a deadline, p50 and p90.
	got := map[string]figures{}
	for _, u := range byDept.Units {
		got[u.Unit] = u.Current
	}
	if len(got) != len(want) {
		t.Errorf("agencies: audit %d, CSV %d", len(got), len(want))
	}
	names := make([]string, 0, len(want))
	for n := range want {
		names = append(names, n)
	}
	slices.Sort(names)
	secs := func(p *int64) int64 {
		if p == nil {
			return -1
		}
		return *p
	}
	dur := func(s int64) string {
		if s < 0 {
			return "—"
		}
		return (time.Duration(s) * time.Second).String()
	}
	for _, n := range names {
		w, g := want[n], got[n]
		p50, p90 := nearestRank(w.durs, 0.5), nearestRank(w.durs, 0.9)
		// Every row with a close time counts: closed (time to close), or apart as not assessed.
		ended := g.Closed + g.Duplicates + g.Transferred + g.Cancelled
		same := g.Cases == w.cases && g.Dispatched == w.cases && g.Closed == int64(len(w.durs)) && g.WithoutDeadline == w.cases-w.withDeadline &&
			secs(g.CloseP50) == p50 && secs(g.CloseP90) == p90 && ended == w.withClose
		if !same {
			t.Errorf("%s: audit %d cases, %d dispatched, %d closed (%d ended), %d without deadline, p50 %d s, p90 %d s; CSV %d, %d closed (%d with a close time), %d without deadline, p50 %d s, p90 %d s",
				n, g.Cases, g.Dispatched, g.Closed, ended, g.WithoutDeadline, secs(g.CloseP50), secs(g.CloseP90), w.cases, len(w.durs), w.withClose, w.cases-w.withDeadline, p50, p90)
		}
		t.Logf("%-6s %3d cases (%3d without deadline, on time %d/%d), %3d closed + %d not assessed: time to close p50 %s, p90 %s (audit = CSV: %v)",
			n, g.Cases, g.WithoutDeadline, g.OnTime.Num, g.OnTime.Den, g.Closed, ended-g.Closed, dur(secs(g.CloseP50)), dur(secs(g.CloseP90)), same)
	}
	t.Logf("rows with an agency and a close time but neither a point nor a known district (unlocated, in their agency's figures): %v", placelessClosed)

	// The reconcile block adds up to the file's rows; the rows without a place are its unlocated.
	rc := byDept.Reconcile
	adds("by dept", rc)
	var withoutDL int64
	for _, w := range want {
		withoutDL += w.cases - w.withDeadline
	}
	if rc.Received != int64(fileRows) || rc.Excluded["without_dept"] != rc.WithoutDept || rc.WithoutDeadline != withoutDL || rc.Rejected.Total == nil ||
		*rc.Rejected.Total != int64(rejected) || rc.Unlocated != int64(placeless) {
		t.Errorf("reconcile %+v: want received %d (the file's rows), %d unlocated, %d without deadline, %d refused at ingest", rc, fileRows, placeless, withoutDL, rejected)
	}
	t.Logf("reconcile by dept: received %d (rows in the file %d) = counted %d + excluded %v; unlocated %d, without dept %d, without deadline %d, rejected at ingest %d %v",
		rc.Received, fileRows, rc.Counted, rc.Excluded, rc.Unlocated, rc.WithoutDept, rc.WithoutDeadline, *rc.Rejected.Total, rc.Rejected.ByCode)

	byRegion, err := fetch("region")
	if err != nil {
		t.Fatal(err)
	}
	rr := byRegion.Reconcile
	adds("by region", rr)
	var rowCases int64
	for _, u := range byRegion.Units {
		rowCases += u.Current.Cases
		if u.Unlocated && u.Current.Cases != rr.Unlocated {
			t.Errorf("the 未定位 row holds %d cases, the reconcile block says %d", u.Current.Cases, rr.Unlocated)
		}
	}
	if rr.Received != rc.Received || rowCases != rr.Received || rr.Unlocated < int64(placeless) || rr.Excluded["unlocated"] != rr.Unlocated {
		t.Errorf("by region: received %d, rows hold %d, unlocated %d (excluded %v); by dept received %d, %d rows without a place",
			rr.Received, rowCases, rr.Unlocated, rr.Excluded, rc.Received, placeless)
	}
	t.Logf("reconcile by region (boroughs): received %d = counted %d + excluded %v; unlocated %d", rr.Received, rr.Counted, rr.Excluded, rr.Unlocated)
}
