package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"

	"zhili/geo"
)

// regionSquare is a counter-clockwise square of side s at x, y.
func regionSquare(x, y, s float64) orb.Polygon {
	return orb.Polygon{{{x, y}, {x + s, y}, {x + s, y + s}, {x, y + s}, {x, y}}}
}

// writeRegionFile writes features (code, parent, geometry) as a FeatureCollection.
func writeRegionFile(t *testing.T, path string, fs ...*geojson.Feature) string {
	t.Helper()
	fc := geojson.NewFeatureCollection()
	fc.Features = fs
	b, err := json.Marshal(fc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func regionFeature(code, parent string, g orb.Geometry) *geojson.Feature {
	f := geojson.NewFeature(g)
	f.Properties = geojson.Properties{"code": code, "name": code, "parent": parent}
	return f
}

// A city's districts alone (no city feature) are imported under a synthesized root, which
// serve reads back and locates through.
func TestImportRegionsForest(t *testing.T) {
	dir := t.TempDir()
	src := writeRegionFile(t, filepath.Join(dir, "districts.geojson"),
		regionFeature("411502", "", regionSquare(114.0, 32.0, 0.1)), regionFeature("411503", "", regionSquare(114.1, 32.0, 0.1)),
		regionFeature("411521", "", regionSquare(114.0, 32.1, 0.1)), regionFeature("411522", "", regionSquare(114.1, 32.1, 0.1)),
		regionFeature("411502001", "411502", regionSquare(114.0, 32.0, 0.1)))
	data := filepath.Join(dir, "data")
	var out, errb bytes.Buffer
	if err := runImport(context.Background(), []string{"regions", "--data", data, src}, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if n := strings.Count(out.String(), "synthesized root"); n != 1 ||
		!strings.Contains(out.String(), "synthesized root 411500 411500 over 4 top-level regions") ||
		!strings.Contains(out.String(), "6 regions, root 411500 411500, 3 levels: 1 4 1") {
		t.Fatalf("output:\n%s", out.String())
	}
	b, err := os.ReadFile(filepath.Join(data, regionsFile))
	if err != nil {
		t.Fatal(err)
	}
	tree, err := geo.ParseTree(b, geo.DefaultProps)
	if err != nil {
		t.Fatal(err)
	}
	if tree.Root.Code != "411500" || len(tree.Root.Children) != 4 {
		t.Fatalf("stored root %s with %d children", tree.Root.Code, len(tree.Root.Children))
	}
	l := geo.NewIndexedLocator(tree)
	for p, want := range map[orb.Point]string{
		{114.05, 32.05}: "411500/411502/411502001", {114.15, 32.05}: "411500/411503",
		{114.05, 32.15}: "411500/411521", {114.15, 32.15}: "411500/411522",
	} {
		if got := strings.Join(l.Locate(p), "/"); got != want {
			t.Errorf("%v located at %s, want %s", p, got, want)
		}
	}
	// Named by the flags.
	out.Reset()
	if err := runImport(context.Background(), []string{"regions", "--data", data, "--root-code", "xy", "--root-name", "信阳市", src}, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	b, _ = os.ReadFile(filepath.Join(data, regionsFile))
	if tree, err = geo.ParseTree(b, geo.DefaultProps); err != nil || tree.Root.Code != "xy" || tree.Root.Name != "信阳市" || tree.Get("411522").Parent != "xy" {
		t.Fatalf("named root: %v\n%s", err, out.String())
	}
}

// A ring with a repeated vertex is legal GeoJSON: imported, normalised, with a warning. (A
// root code given for files that have a root is said to be unused.)
func TestImportRegionsNormalisesRings(t *testing.T) {
	dir := t.TempDir()
	repeated := orb.Polygon{{{114.1, 32.0}, {114.2, 32.0}, {114.2, 32.0}, {114.2, 32.1}, {114.1, 32.1}, {114.1, 32.0}}}
	src := writeRegionFile(t, filepath.Join(dir, "r.geojson"),
		regionFeature("R", "", regionSquare(114.0, 32.0, 0.2)), regionFeature("A", "R", regionSquare(114.0, 32.0, 0.1)), regionFeature("B", "R", repeated),
		regionFeature("C", "R", regionSquare(114.0, 32.1, 0.1)), regionFeature("D", "R", regionSquare(114.1, 32.1, 0.1)))
	data := filepath.Join(dir, "data")
	var out, errb bytes.Buffer
	if err := runImport(context.Background(), []string{"regions", "--data", data, "--root-code", "x", src}, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "r.geojson feature 2 (B): warning: ring_normalised: removed 1 of 6 vertices: 1 repeated, 0 in zero-area spikes\n") ||
		!strings.Contains(out.String(), "--root-code and --root-name unused: the files have a root (R)\n") {
		t.Fatalf("output:\n%s", out.String())
	}
	b, _ := os.ReadFile(filepath.Join(data, regionsFile))
	tree, err := geo.ParseTree(b, geo.DefaultProps)
	if err != nil {
		t.Fatal(err)
	}
	if ring := tree.Get("B").Geometry.(orb.Polygon)[0]; len(ring) != 5 {
		t.Fatalf("stored ring %v", ring)
	}
}

// A refused parent is one line, not one per descendant.
func TestImportRegionsRefusedParent(t *testing.T) {
	dir := t.TempDir()
	bowTie := orb.Polygon{{{114.0, 32.0}, {114.1, 32.1}, {114.1, 32.0}, {114.0, 32.1}, {114.0, 32.0}}}
	src := writeRegionFile(t, filepath.Join(dir, "r.geojson"),
		regionFeature("R", "", regionSquare(114.0, 32.0, 0.2)), regionFeature("A", "R", bowTie),
		regionFeature("A1", "A", regionSquare(114.0, 32.0, 0.05)), regionFeature("A2", "A", regionSquare(114.05, 32.0, 0.05)),
		regionFeature("B", "R", regionSquare(114.1, 32.0, 0.1)), regionFeature("C", "R", regionSquare(114.0, 32.1, 0.1)), regionFeature("D", "R", regionSquare(114.1, 32.1, 0.1)))
	var out, errb bytes.Buffer
	err := runImport(context.Background(), []string{"regions", "--check", src}, &out, &errb)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if err == nil || !strings.HasPrefix(err.Error(), "1 problem(s)") || len(lines) != 1 ||
		!strings.Contains(lines[0], "r.geojson feature 1 (A): self_intersection: ") || !strings.HasSuffix(lines[0], "; 2 descendants left out") {
		t.Fatalf("%v\n%s", err, out.String())
	}
}
