package main

import (
	"bytes"
	"context"
	"encoding/json"
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
