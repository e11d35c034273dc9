package geo

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/paulmach/orb/geojson"
)

// The fast decoder of region files gives what orb's gives, feature for feature, on the demo
// geography and on the real NYC districts; what it does not handle goes to orb's, errors
// included.
func TestDecodeFeaturesMatchesOrb(t *testing.T) {
	files := map[string][]byte{"xinyang": xinyangGeoJSON}
	if b, err := os.ReadFile(filepath.Join("..", "..", "shared", "data", "nyc", "community_districts.geojson")); err == nil {
		files["nyc"] = b
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
