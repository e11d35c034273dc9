// Package nycdata opens the real NYC 311 sample and community districts under
// ../shared/data/nyc (see its README) for integration tests: the region tree city → borough →
// community district, built from the districts file.
package nycdata

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"

	"zhili/geo"
	"zhili/internal/testsvc"
)

// Boroughs by the first digit of a district code.
var Boroughs = map[string]string{"1": "MANHATTAN", "2": "BRONX", "3": "BROOKLYN", "4": "QUEENS", "5": "STATEN ISLAND"}

// Dir returns the data directory, skipping t when it is missing (failing under
// ZHILI_REQUIRE_SERVICES=1).
func Dir(t testing.TB) string {
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
	if _, err := os.Stat(filepath.Join(data, "311_sample.csv")); err != nil {
		testsvc.SkipOrFail(t, "NYC data missing at %s", data)
	}
	return data
}

// Tree builds NYC → 5 boroughs → community districts (codes BoroCD, e.g. "112").
func Tree(t testing.TB, dir string) *geo.Tree {
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
	var regions []*geo.Region
	for _, f := range fc.Features {
		cd, ok := f.Properties["BoroCD"].(float64)
		if !ok {
			t.Fatalf("feature without numeric BoroCD: %v", f.Properties)
		}
		code := strconv.Itoa(int(cd))
		parent := code[:1]
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
		regions = append(regions, &geo.Region{Code: code, Name: code, Parent: parent, Kind: "district", Geometry: f.Geometry, Bound: f.Geometry.Bound()})
	}
	regions = append(regions, &geo.Region{Code: "NYC", Name: "New York City", Kind: "city", Geometry: city, Bound: city.Bound()})
	for code, name := range Boroughs {
		g := boro[code]
		regions = append(regions, &geo.Region{Code: code, Name: name, Parent: "NYC", Kind: "borough", Geometry: g, Bound: g.Bound()})
	}
	tr, err := geo.NewTree(regions)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}
