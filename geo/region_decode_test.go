package geo

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	gojson "github.com/goccy/go-json"
	"github.com/paulmach/orb/geojson"
)

// The fast decoder of region files gives what orb's gives, feature for feature, on every tenth
// feature of the demo geography and every fifth of the real NYC districts (orb's decoder takes
// seconds for the whole files under the race detector; the fast path takes the whole demo file,
// as every test parsing it shows); what it does not handle goes to orb's, errors included.
func TestDecodeFeaturesMatchesOrb(t *testing.T) {
	// sample is a FeatureCollection of every nth feature of data, and the number of its features.
	sample := func(data []byte, nth int) ([]byte, int) {
		var whole struct {
			Features []gojson.RawMessage `json:"features"`
		}
		if err := gojson.Unmarshal(data, &whole); err != nil {
			t.Fatal(err)
		}
		out := []byte(`{"type":"FeatureCollection","features":[`)
		for i := 0; i < len(whole.Features); i += nth {
			if i > 0 {
				out = append(out, ',')
			}
			out = append(out, whole.Features[i]...)
		}
		return append(out, "]}"...), len(whole.Features)
	}
	tenth, all := sample(xinyangGeoJSON, 10)
	if fs, ok := decodeRegionFeatures(xinyangGeoJSON); !ok || len(fs) != all {
		t.Fatalf("the demo geography: %d features by the fast path (ok %v), %d in the file", len(fs), ok, all)
	}
	files := map[string][]byte{"xinyang/10": tenth}
	if b, err := os.ReadFile(filepath.Join("..", "..", "shared", "data", "nyc", "community_districts.geojson")); err == nil {
		files["nyc/5"], _ = sample(b, 5)
	}
	files["small"] = []byte(`{"type":"FeatureCollection","features":[
	  {"type":"Feature","id":7,"properties":{"code":"1","name":"甲","n":3},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]],[[0.2,0.1],[0.5,0.1],[0.5,0.4],[0.2,0.1]]]}},
	  {"type":"Feature","properties":null,"geometry":{"type":"MultiPolygon","coordinates":[[[[2,2],[3,2],[3,3],[2,2]]],[[[4,4],[5,4],[5,5],[4,4]]]]}},
	  {"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}]}`)
	for name, b := range files {
		fast, ok := decodeRegionFeatures(b)
		if !ok {
			t.Fatalf("%s: not decoded by the fast path", name)
		}
		fc, err := geojson.UnmarshalFeatureCollection(b)
		if err != nil {
			t.Fatal(err)
		}
		if len(fast) != len(fc.Features) {
			t.Fatalf("%s: %d features, orb %d", name, len(fast), len(fc.Features))
		}
		for i, f := range fc.Features {
			g := fast[i]
			if g.Type != f.Type || !reflect.DeepEqual(g.Geometry, f.Geometry) || !reflect.DeepEqual(g.Properties, f.Properties) {
				t.Fatalf("%s: feature %d: %+v, orb %+v", name, i, g, f)
			}
		}
		t.Logf("%s: %d features alike", name, len(fast))
	}
	// Not the simple case: orb decides, with its errors.
	for name, s := range map[string]string{
		"3-D position": `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[0,0,5],[1,0,5],[1,1,5],[0,0,5]]]}}]}`,
		"point":        `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[0,0]}}]}`,
		"no geometry":  `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":null}]}`,
		"bad utf-8":    "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\",\"properties\":{\"name\":\"\xff\"},\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,0],[1,1],[0,0]]]}}]}",
		"not features": `{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}`,
		"broken":       `{"type":"FeatureCollection","features":[{"type":"Feature"`,
	} {
		if _, ok := decodeRegionFeatures([]byte(s)); ok {
			t.Errorf("%s: taken by the fast path", name)
		}
		got, gotErr := decodeFeatures([]byte(s))
		fc, err := geojson.UnmarshalFeatureCollection([]byte(s))
		if (gotErr == nil) != (err == nil) || (err != nil && gotErr.Error() != err.Error()) {
			t.Errorf("%s: error %v, orb's %v", name, gotErr, err)
		}
		if err == nil && !reflect.DeepEqual(got, fc.Features) {
			t.Errorf("%s: %+v, orb %+v", name, got, fc.Features)
		}
	}
}
