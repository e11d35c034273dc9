package geo

import (
	"unicode/utf8"

	gojson "github.com/goccy/go-json"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
)

// decodeFeatures decodes a GeoJSON FeatureCollection. A region file (every feature a Polygon
// or MultiPolygon of two-number positions, valid UTF-8) takes a decoder about three times
// faster than the standard library's (a server start parses the demo's 2.8 MB); anything else
// goes through orb's decoder, whose results and errors ParseTree has always given.
func decodeFeatures(data []byte) ([]*geojson.Feature, error) {
	if fs, ok := decodeRegionFeatures(data); ok {
		return fs, nil
	}
	fc, err := geojson.UnmarshalFeatureCollection(data)
	if err != nil {
		return nil, err
	}
	return fc.Features, nil
}

// decodeRegionFeatures is the fast path of decodeFeatures; ok is false when data is not the
// simple case it handles.
func decodeRegionFeatures(data []byte) ([]*geojson.Feature, bool) {
	if !utf8.Valid(data) {
		return nil, false
	}
	var fc struct {
		Type     string `json:"type"`
		Features []struct {
			Type       string         `json:"type"`
			Properties map[string]any `json:"properties"`
			Geometry   *struct {
				Type        string            `json:"type"`
				Coordinates gojson.RawMessage `json:"coordinates"`
			} `json:"geometry"`
		} `json:"features"`
	}
	if err := gojson.Unmarshal(data, &fc); err != nil || fc.Type != "FeatureCollection" {
		return nil, false
	}
	out := make([]*geojson.Feature, 0, len(fc.Features))
	for _, f := range fc.Features {
		if f.Type != "Feature" || f.Geometry == nil {
			return nil, false
		}
		var g orb.Geometry
		switch f.Geometry.Type {
		case "Polygon":
			var c [][][]float64
			if gojson.Unmarshal(f.Geometry.Coordinates, &c) != nil {
				return nil, false
			}
			p, ok := polygonOf(c)
			if !ok {
				return nil, false
			}
			g = p
		case "MultiPolygon":
			var c [][][][]float64
			if gojson.Unmarshal(f.Geometry.Coordinates, &c) != nil {
				return nil, false
			}
			mp := make(orb.MultiPolygon, len(c))
			for i, pc := range c {
				p, ok := polygonOf(pc)
				if !ok {
					return nil, false
				}
				mp[i] = p
			}
			g = mp
		default:
			return nil, false
		}
		out = append(out, &geojson.Feature{Type: "Feature", Geometry: g, Properties: geojson.Properties(f.Properties)})
	}
	return out, true
}

// polygonOf converts rings of positions; ok is false unless every position has two numbers.
func polygonOf(c [][][]float64) (orb.Polygon, bool) {
	p := make(orb.Polygon, len(c))
	for i, rc := range c {
		r := make(orb.Ring, len(rc))
		for j, pt := range rc {
			if len(pt) != 2 {
				return nil, false
			}
			r[j] = orb.Point{pt[0], pt[1]}
		}
		p[i] = r
	}
	return p, true
}
