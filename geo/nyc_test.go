package geo_test

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"zhili/geo"
	"zhili/geo/locatortest"
	"zhili/internal/nycdata"
)

type nycRow struct {
	key      string
	board    string // as recorded
	district string // BoroCD, "" when unspecified
	p        orb.Point
}

// nycDistrict turns "12 MANHATTAN" into "112"; "Unspecified QUEENS" and "0 Unspecified" give "".
func nycDistrict(board string) (string, error) {
	num, boro, ok := strings.Cut(strings.TrimSpace(board), " ")
	if !ok || num == "Unspecified" || boro == "Unspecified" {
		return "", nil
	}
	n, err := strconv.Atoi(num)
	if err != nil {
		return "", fmt.Errorf("board %q: %w", board, err)
	}
	for digit, name := range nycdata.Boroughs {
		if name == boro {
			return fmt.Sprintf("%s%02d", digit, n), nil
		}
	}
	return "", fmt.Errorf("board %q: unknown borough", board)
}

// nyc311 reads the geocoded rows of 311_sample.csv and counts the rows without coordinates.
func nyc311(t *testing.T, dir string) (rows []nycRow, total, noCoords int) {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "311_sample.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	head, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[h] = i
	}
	for _, c := range []string{"unique_key", "community_board", "latitude", "longitude"} {
		if _, ok := col[c]; !ok {
			t.Fatalf("311_sample.csv: no column %q", c)
		}
	}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		total++
		lat, e1 := strconv.ParseFloat(rec[col["latitude"]], 64)
		lon, e2 := strconv.ParseFloat(rec[col["longitude"]], 64)
		if e1 != nil || e2 != nil {
			noCoords++
			continue
		}
		d, err := nycDistrict(rec[col["community_board"]])
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, nycRow{key: rec[col["unique_key"]], board: rec[col["community_board"]], district: d, p: orb.Point{lon, lat}})
	}
	return rows, total, noCoords
}

// TestNYC311Districts locates every geocoded NYC 311 row in the real community districts and
// compares with the district NYC recorded.
func TestNYC311Districts(t *testing.T) {
	dir := nycdata.Dir(t)
	tr := nycdata.Tree(t, dir)
	t0 := time.Now()
	l := geo.NewIndexedLocator(tr)
	build := time.Since(t0)
	rows, total, noCoords := nyc311(t, dir)

	var agree, disagree, unspecified, unlocated int
	t0 = time.Now()
	for _, row := range rows {
		path := l.Locate(row.p)
		if row.district == "" {
			unspecified++
			continue
		}
		if len(path) != 3 {
			unlocated++
			t.Logf("row %s (%s) at %v: located at %v", row.key, row.board, row.p, path)
			continue
		}
		if path[1] != path[2][:1] {
			t.Errorf("row %s: path %v is not city → borough → district", row.key, path)
		}
		if path[2] == row.district {
			agree++
		} else {
			disagree++
			t.Logf("row %s (%s) at %v: located in %s", row.key, row.board, row.p, path[2])
		}
	}
	elapsed := time.Since(t0)
	comparable := agree + disagree + unlocated
	if comparable == 0 {
		t.Fatal("no comparable rows")
	}
	rate := float64(agree) / float64(comparable)
	t.Logf("NYC 311: %d rows, %d without coordinates, %d geocoded; %d with board Unspecified (not compared); "+
		"%d/%d agree with the recorded district (%.2f %%), %d disagree, %d located in no district",
		total, noCoords, len(rows), unspecified, agree, comparable, 100*rate, disagree, unlocated)
	t.Logf("tree %d regions; index built in %v; %d lookups in %v", tr.Len(), build, len(rows), elapsed)
	if rate < 0.99 {
		t.Fatalf("agreement %.2f %% < 99 %%", 100*rate)
	}
}

// TestNYCLocatorsMatchReference runs every locator over the real district polygons
// (multipolygons, a hole, long rings) at the 311 rows and at random points: clear of every
// outline each agrees with the reference, on an outline each keeps the Locator contract.
func TestNYCLocatorsMatchReference(t *testing.T) {
	dir := nycdata.Dir(t)
	tr := nycdata.Tree(t, dir)
	rows, _, _ := nyc311(t, dir)
	pts := make([]orb.Point, 0, len(rows)+2000)
	for _, r := range rows {
		pts = append(pts, r.p)
	}
	b := tr.Root.Bound
	rng := rand.New(rand.NewPCG(4, 2026))
	for range 2000 {
		pts = append(pts, orb.Point{b.Min[0] + rng.Float64()*(b.Max[0]-b.Min[0]), b.Min[1] + rng.Float64()*(b.Max[1]-b.Min[1])})
	}
	// TreeLocator tests the city's MultiPolygon part by part: every fifth point keeps it quick.
	var fifth []orb.Point
	for i := 0; i < len(pts); i += 5 {
		fifth = append(fifth, pts[i])
	}
	for _, tc := range []struct {
		name string
		l    geo.Locator
		pts  []orb.Point
	}{{"indexed", geo.NewIndexedLocator(tr), pts}, {"tree", geo.TreeLocator{T: tr}, fifth}} {
		t.Run(tc.name, func(t *testing.T) {
			if exact := locatortest.Agree(t, tr, tc.l, tc.pts); exact < len(tc.pts)*9/10 {
				t.Fatalf("only %d of %d points clear of every outline", exact, len(tc.pts))
			}
		})
	}
}
