package geo

import (
	"testing"
)

// FuzzParseTree: any GeoJSON either becomes a tree whose every region hangs under the one root
// with a bound, or an error; never a panic.
func FuzzParseTree(f *testing.F) {
	fc, err := DemoTree().FeatureCollection(DemoTree().Root.Code, 1)
	if err != nil {
		f.Fatal(err)
	}
	b, err := fc.MarshalJSON()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"R"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}]}`))
	f.Add([]byte(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"R","parent":"R"},"geometry":null}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := ParseTree(data, DefaultProps)
		if err != nil {
			return
		}
		n := 0
		tr.Walk(func(r *Region) {
			n++
			if r != tr.Root && tr.Get(r.Parent) == nil {
				t.Fatalf("region %s hangs under unknown %q", r.Code, r.Parent)
			}
		})
		if n != tr.Len() {
			t.Fatalf("walk reached %d of %d regions", n, tr.Len())
		}
	})
}
