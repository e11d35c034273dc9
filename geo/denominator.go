package geo

import (
	"math"
	"regexp"

	"github.com/paulmach/orb/geojson"
)

// DenominatorName is the form of a denominator's name (the key in property "denominators",
// the value of per= in hotspot queries): lower-case letters, digits and underscores.
var DenominatorName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// parseDenominators reads property "denominators" (an object of positive finite numbers) and
// the shorthand "population". Other values (not a number, zero, negative, a bad name) are left
// out: the region then lacks that denominator, which hotspot replies count.
func parseDenominators(props geojson.Properties) map[string]float64 {
	var out map[string]float64
	set := func(k string, v any) {
		f, ok := v.(float64)
		if !ok || !(f > 0) || math.IsInf(f, 0) || !DenominatorName.MatchString(k) {
			return
		}
		if out == nil {
			out = map[string]float64{}
		}
		out[k] = f
	}
	if m, ok := props["denominators"].(map[string]any); ok {
		for k, v := range m {
			set(k, v)
		}
	}
	if v, ok := props["population"]; ok {
		if _, given := out["population"]; !given {
			set("population", v)
		}
	}
	return out
}

// Denominator returns r's denominator name: its own value, or else the sum over its children
// when every one of them has it (recursively). ok is false when r lacks it.
func (r *Region) Denominator(name string) (float64, bool) {
	if v, ok := r.Denominators[name]; ok {
		return v, true
	}
	if len(r.Children) == 0 {
		return 0, false
	}
	var sum float64
	for _, c := range r.Children {
		v, ok := c.Denominator(name)
		if !ok {
			return 0, false
		}
		sum += v
	}
	return sum, true
}
