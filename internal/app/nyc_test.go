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
	"strings"
	"testing"
	"time"

	"zhili/importer"
	"zhili/ingest"
	"zhili/internal/nycdata"
	"zhili/server"
)

// The real-data check: NYC's 311 sample imported with `zhili import cases` (agencies as
// departments, complaint types as categories, community districts as regions, created →
// reported, closed → resolved and closed); the audit's p50 and p90 time to close per agency
// equal a plain recomputation from the CSV written here.
func TestNYCAuditTimeToClose(t *testing.T) {
	t.Parallel()
	dir, ny, a := startNYC(t)
	base := "http://" + a.Addr

	f, err := os.Open(filepath.Join(dir, "311_sample.csv"))
	if err != nil {
		t.Fatal(err)
	}
	m := importer.Presets["nyc311"]
	m.DueAfter = 72 * time.Hour
	rep, err := importer.Run(context.Background(), f, m, importer.Options{URL: base, Key: testKey})
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("import: %d rows, %d cases, %d events: %d accepted, %d duplicates, %d row errors", rep.Rows, rep.Cases, rep.Events, rep.Accepted, rep.Duplicates, len(rep.Errors))

	// The plain recomputation, from the CSV alone.
	f, _ = os.Open(filepath.Join(dir, "311_sample.csv"))
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
	parse := func(s string) (time.Time, bool) {
		v, err := time.ParseInLocation("2006-01-02T15:04:05.000", strings.TrimSpace(s), ny)
		return v, err == nil
	}
	durs := map[string][]int64{}
	kept := 0
	for _, row := range rows[1:] {
		created, ok := parse(row[col["created_date"]])
		if !ok || row[col["unique_key"]] == "" {
			continue
		}
		kept++ // every row: one with neither a point nor a known district is an unlocated case
		closed, ok := parse(row[col["closed_date"]])
		if !ok || closed.Before(created) || !nycAssessed(row[col["status"]], row[col["resolution_description"]]) {
			continue
		}
		agency := row[col["agency"]]
		durs[agency] = append(durs[agency], int64(closed.Sub(created)/time.Second))
	}
	nearestRank := func(xs []int64, p float64) int64 {
		s := slices.Clone(xs)
		slices.Sort(s)
		return s[int(math.Ceil(p*float64(len(s))))-1]
	}

	var audit struct {
		Cases int
		Units []struct {
			Unit    string
			Current struct {
				Cases    int
				Closed   int
				CloseP50 *int64 `json:"close_p50_s"`
				CloseP90 *int64 `json:"close_p90_s"`
			}
		}
	}
	eventually(t, 30*time.Second, func() string {
		resp, err := http.Get(base + "/api/v1/audit/rates?token=" + testToken + "&by=dept&from=2023-01-01&to=2025-01-01")
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(&audit); err != nil {
			return err.Error()
		}
		if audit.Cases != kept {
			return fmt.Sprintf("audit counts %d cases, the CSV keeps %d", audit.Cases, kept)
		}
		return ""
	})
	got := map[string][2]int64{}
	for _, u := range audit.Units {
		if u.Current.CloseP50 != nil {
			got[u.Unit] = [2]int64{*u.Current.CloseP50, *u.Current.CloseP90}
		}
	}
	if len(got) != len(durs) {
		t.Fatalf("agencies with closed cases: audit %v, recomputation %d agencies", got, len(durs))
	}
	for agency, ds := range durs {
		want := [2]int64{nearestRank(ds, 0.5), nearestRank(ds, 0.9)}
		if got[agency] != want {
			t.Errorf("%s: audit p50/p90 %v s, recomputed %v s (%d closed)", agency, got[agency], want, len(ds))
		}
		t.Logf("%-6s %3d closed: time to close p50 %s, p90 %s (audit = recomputation)", agency, len(ds),
			time.Duration(want[0])*time.Second, time.Duration(want[1])*time.Second)
	}
}

// startNYC starts an app on the NYC community districts in New York time (the data's folder
// and zone are returned too); it stops with the test.
func startNYC(t *testing.T) (dir string, ny *time.Location, a *App) {
	t.Helper()
	dir = nycdata.Dir(t)
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	a, err = New(Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Tree: nycdata.Tree(t, dir), Loc: ny, Tick: 50 * time.Millisecond,
		IngestKeys: map[string]*ingest.Policy{testKey: {}}, ViewTokens: map[string]server.Viewer{testToken: {}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Shutdown(context.Background()) })
	return dir, ny, a
}
