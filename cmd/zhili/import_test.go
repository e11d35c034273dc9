package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"zhili/geo"
)

func TestImportRegions(t *testing.T) {
	dir := t.TempDir()
	fc, _ := geo.DemoTree().FeatureCollection("root", -1)
	good := filepath.Join(dir, "good.geojson")
	b, _ := json.Marshal(fc)
	os.WriteFile(good, b, 0o644)

	// A file with one feature whose parent does not exist: refused, by feature, nothing written.
	bad := filepath.Join(dir, "bad.geojson")
	os.WriteFile(bad, []byte(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"X1","parent":"nope"},"geometry":{"type":"Polygon","coordinates":[[[114,32.1],[114.01,32.1],[114.01,32.11],[114,32.1]]]}}]}`), 0o644)
	data := filepath.Join(dir, "data")
	var out, errb bytes.Buffer
	err := runImport(context.Background(), []string{"regions", "--data", data, good, bad}, &out, &errb)
	if err == nil || !strings.Contains(out.String(), "bad.geojson feature 0 (X1): unknown_parent") {
		t.Fatalf("bad import: %v\n%s", err, out.String())
	}
	if _, err := os.Stat(filepath.Join(data, regionsFile)); err == nil {
		t.Fatal("a refused import wrote the regions file")
	}
	// Told to skip it, the rest is imported and serve can read it back.
	out.Reset()
	if err := runImport(context.Background(), []string{"regions", "--data", data, "--skip", "X1", good, bad}, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "31 regions") || !strings.Contains(out.String(), "3 levels: 1 6 24") {
		t.Fatalf("summary %q", out.String())
	}
	back, err := os.ReadFile(filepath.Join(data, regionsFile))
	if err != nil {
		t.Fatal(err)
	}
	tree, err := geo.ParseTree(back, geo.DefaultProps)
	if err != nil || tree.Len() != 31 || tree.Get("411502003").Kind != "township" {
		t.Fatalf("re-read: %v", err)
	}
}

// A region file in GCJ-02 (as exported from AMap) is stored in WGS-84.
func TestImportRegionsFromGCJ02(t *testing.T) {
	dir := t.TempDir()
	tree := geo.DemoTree()
	fc, _ := tree.FeatureCollection("root", -1)
	for _, f := range fc.Features {
		f.Geometry = geo.TransformGeometry(f.Geometry, func(lon, lat float64) (float64, float64) { return geo.WGS84ToGCJ02(lon, lat) })
	}
	b, _ := json.Marshal(fc)
	src := filepath.Join(dir, "gcj.geojson")
	os.WriteFile(src, b, 0o644)
	data := filepath.Join(dir, "data")
	var out, errb bytes.Buffer
	if err := runImport(context.Background(), []string{"regions", "--crs", "gcj02", "--data", data, src}, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	back, _ := os.ReadFile(filepath.Join(data, regionsFile))
	got, err := geo.ParseTree(back, geo.DefaultProps)
	if err != nil {
		t.Fatal(err)
	}
	want := tree.Root.Geometry.Bound()
	if g := got.Root.Geometry.Bound(); math.Abs(g.Min[0]-want.Min[0]) > 1e-7 || math.Abs(g.Max[1]-want.Max[1]) > 1e-7 {
		t.Fatalf("stored bound %v, want the WGS-84 %v", g, want)
	}
}
