package geo

import (
	"math"
	"testing"
)

// Reference pairs from the README of the coordtransform project (wandergis/coordtransform,
// MIT), an independent JavaScript implementation of the same published algorithms:
//
//	wgs84togcj02(116.404, 39.915) = [116.41024449916938, 39.91640428150164]
//	gcj02tobd09(116.404, 39.915)  = [116.41036949371029, 39.92133699351021]
//	bd09togcj02(116.404, 39.915)  = [116.39762729119315, 39.90865673957631]
func TestCRSReferencePairs(t *testing.T) {
	check := func(name string, gotLon, gotLat, wantLon, wantLat, tol float64) {
		t.Helper()
		if math.Abs(gotLon-wantLon) > tol || math.Abs(gotLat-wantLat) > tol {
			t.Errorf("%s = %.14f,%.14f, want %.14f,%.14f", name, gotLon, gotLat, wantLon, wantLat)
		}
	}
	lon, lat := WGS84ToGCJ02(116.404, 39.915)
	check("WGS84ToGCJ02", lon, lat, 116.41024449916938, 39.91640428150164, 1e-9)
	lon, lat = GCJ02ToBD09(116.404, 39.915)
	check("GCJ02ToBD09", lon, lat, 116.41036949371029, 39.92133699351021, 1e-9)
	lon, lat = BD09ToGCJ02(116.404, 39.915)
	check("BD09ToGCJ02", lon, lat, 116.39762729119315, 39.90865673957631, 1e-9)
	// The inverse of the reference forward pair recovers the input to 1e-7 degrees (~1 cm).
	lon, lat = GCJ02ToWGS84(116.41024449916938, 39.91640428150164)
	check("GCJ02ToWGS84", lon, lat, 116.404, 39.915, 1e-7)
}
