package geo

import (
	"math"
	"testing"
)

// Reference pairs: the Tiananmen example used by the eviltransform and coordtransform
// projects (WGS-84 39.90850,116.39740 ↔ GCJ-02 39.909903,116.403644 approx.), which
// implement the same published algorithm.
func TestGCJ02Reference(t *testing.T) {
	lon, lat := WGS84ToGCJ02(116.3974, 39.9085)
	if math.Abs(lon-116.40364) > 2e-4 || math.Abs(lat-39.90990) > 2e-4 {
		t.Fatalf("WGS84→GCJ02 = %.6f,%.6f", lon, lat)
	}
	wl, wa := GCJ02ToWGS84(lon, lat)
	if math.Abs(wl-116.3974) > 1e-7 || math.Abs(wa-39.9085) > 1e-7 {
		t.Fatalf("round trip = %.8f,%.8f", wl, wa)
	}
	// Outside China GCJ-02 is WGS-84.
	if l, a := WGS84ToGCJ02(-73.98, 40.75); l != -73.98 || a != 40.75 {
		t.Fatalf("outside China changed: %v %v", l, a)
	}
	// BD-09 round trip.
	bl, ba := FromWGS84("bd09", 114.07, 32.12)
	rl, ra := ToWGS84("bd09", bl, ba)
	if math.Abs(rl-114.07) > 1e-6 || math.Abs(ra-32.12) > 1e-6 {
		t.Fatalf("bd09 round trip = %.8f,%.8f", rl, ra)
	}
}
