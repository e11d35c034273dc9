package geo

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
)

var nycBoroughs = map[string]string{"1": "MANHATTAN", "2": "BRONX", "3": "BROOKLYN", "4": "QUEENS", "5": "STATEN ISLAND"}

// nycDataDir returns ../shared/data/nyc relative to the repository root (the directory holding
// go.mod), skipping the test when it is missing unless ZHILI_REQUIRE_SERVICES=1.
func nycDataDir(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = up
	}
	data := filepath.Join(dir, "..", "shared", "data", "nyc")
	if _, err := os.Stat(filepath.Join(data, "community_districts.geojson")); err != nil {
		if os.Getenv("ZHILI_REQUIRE_SERVICES") == "1" {
			t.Fatalf("NYC data missing at %s (ZHILI_REQUIRE_SERVICES=1): %v", data, err)
		}
		t.Skipf("NYC data missing at %s; skipping (set ZHILI_REQUIRE_SERVICES=1 to fail instead)", data)
	}
	return data
}

// nycTree builds city NYC → 5 boroughs → community districts (code BoroCD) from the districts
// file; a borough's geometry is the MultiPolygon of its districts' polygons, the city's of all.
// nycTree returns the tree of the community districts in dir, built once for the package's
// tests (they only read it).
func nycTree(t *testing.T, dir string) *Tree {
	t.Helper()
	nycTrees.mu.Lock()
	defer nycTrees.mu.Unlock()
	if tr := nycTrees.m[dir]; tr != nil {
		return tr
	}
	tr := buildNYCTree(t, dir)
	if nycTrees.m == nil {
		nycTrees.m = map[string]*Tree{}
	}
	nycTrees.m[dir] = tr
	return tr
}

var nycTrees struct {
	mu sync.Mutex
	m  map[string]*Tree
}

func buildNYCTree(t *testing.T, dir string) *Tree {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "community_districts.geojson"))
	if err != nil {
		t.Fatal(err)
	}
	fc, err := geojson.UnmarshalFeatureCollection(b)
	if err != nil {
		t.Fatal(err)
	}
	var city orb.MultiPolygon
	boro := map[string]orb.MultiPolygon{}
	var regions []*Region
	for _, f := range fc.Features {
		cd, ok := f.Properties["BoroCD"].(float64)
		if !ok {
			t.Fatalf("feature without numeric BoroCD: %v", f.Properties)
		}
		code := strconv.Itoa(int(cd))
		parent := code[:1]
		if _, ok := nycBoroughs[parent]; !ok {
			t.Fatalf("BoroCD %s: unknown borough digit", code)
		}
		var parts orb.MultiPolygon
		switch g := f.Geometry.(type) {
		case orb.Polygon:
			parts = orb.MultiPolygon{g}
		case orb.MultiPolygon:
			parts = g
		default:
			t.Fatalf("BoroCD %s: geometry %s", code, f.Geometry.GeoJSONType())
		}
		boro[parent] = append(boro[parent], parts...)
		city = append(city, parts...)
		regions = append(regions, &Region{Code: code, Name: code, Parent: parent, Kind: "district", Geometry: f.Geometry, Bound: f.Geometry.Bound()})
	}
	regions = append(regions, &Region{Code: "NYC", Name: "New York City", Kind: "city", Geometry: city, Bound: city.Bound()})
	for code, name := range nycBoroughs {
		g := boro[code]
		regions = append(regions, &Region{Code: code, Name: name, Parent: "NYC", Kind: "borough", Geometry: g, Bound: g.Bound()})
	}
	tr, err := NewTree(regions)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

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
	for digit, name := range nycBoroughs {
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
	dir := nycDataDir(t)
	tr := nycTree(t, dir)
	t0 := time.Now()
	l := NewIndexedLocator(tr)
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

// TestNYCIndexedMatchesReference compares IndexedLocator with the plain reference on the real
// district polygons (multipolygons, a hole, long rings) at the 311 rows and random points.
func TestNYCIndexedMatchesReference(t *testing.T) {
	dir := nycDataDir(t)
	tr := nycTree(t, dir)
	l := NewIndexedLocator(tr)
	rows, _, _ := nyc311(t, dir)
	pts := make([]orb.Point, 0, len(rows)+2000)
	for _, r := range rows {
		pts = append(pts, r.p)
	}
	n := 2000
	if testing.Short() || raceEnabled() {
		n = 200
	}
	pts = append(pts, randomPoints(tr.Root.Bound, n, 4)...)
	if testing.Short() || raceEnabled() {
		pts = pts[len(pts)-n-100:]
	}
	for _, p := range pts {
		if got, want := l.Locate(p), refLocate(tr, p); !slices.Equal(got, want) {
			t.Fatalf("%v: indexed %v, reference %v", p, got, want)
		}
	}
	t.Logf("%d points agree with the reference", len(pts))
}
