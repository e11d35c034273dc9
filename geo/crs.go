package geo

import (
	"math"

	"github.com/paulmach/orb"
)

// Coordinate systems used in China. GCJ-02 ("Mars coordinates") is WGS-84 with a published
// obfuscation applied inside China; BD-09 is GCJ-02 with a further Baidu offset. Outside China
// GCJ-02 equals WGS-84, as the published algorithm does. Inverse transforms iterate to < 1e-7°.

const (
	gcjA  = 6378245.0
	gcjEE = 0.00669342162296594323
	bdPi  = math.Pi * 3000.0 / 180.0
)

// OutOfChina reports whether the point is outside the rough box where GCJ-02 applies.
func OutOfChina(lon, lat float64) bool {
	return lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271
}

func transformLat(x, y float64) float64 {
	r := -100.0 + 2.0*x + 3.0*y + 0.2*y*y + 0.1*x*y + 0.2*math.Sqrt(math.Abs(x))
	r += (20.0*math.Sin(6.0*x*math.Pi) + 20.0*math.Sin(2.0*x*math.Pi)) * 2.0 / 3.0
	r += (20.0*math.Sin(y*math.Pi) + 40.0*math.Sin(y/3.0*math.Pi)) * 2.0 / 3.0
	r += (160.0*math.Sin(y/12.0*math.Pi) + 320*math.Sin(y*math.Pi/30.0)) * 2.0 / 3.0
	return r
}

func transformLon(x, y float64) float64 {
	r := 300.0 + x + 2.0*y + 0.1*x*x + 0.1*x*y + 0.1*math.Sqrt(math.Abs(x))
	r += (20.0*math.Sin(6.0*x*math.Pi) + 20.0*math.Sin(2.0*x*math.Pi)) * 2.0 / 3.0
	r += (20.0*math.Sin(x*math.Pi) + 40.0*math.Sin(x/3.0*math.Pi)) * 2.0 / 3.0
	r += (150.0*math.Sin(x/12.0*math.Pi) + 300.0*math.Sin(x/30.0*math.Pi)) * 2.0 / 3.0
	return r
}

func gcjDelta(lon, lat float64) (dLon, dLat float64) {
	dLat = transformLat(lon-105.0, lat-35.0)
	dLon = transformLon(lon-105.0, lat-35.0)
	radLat := lat / 180.0 * math.Pi
	magic := math.Sin(radLat)
	magic = 1 - gcjEE*magic*magic
	sqrtMagic := math.Sqrt(magic)
	dLat = (dLat * 180.0) / ((gcjA * (1 - gcjEE)) / (magic * sqrtMagic) * math.Pi)
	dLon = (dLon * 180.0) / (gcjA / sqrtMagic * math.Cos(radLat) * math.Pi)
	return
}

// WGS84ToGCJ02 converts a WGS-84 point to GCJ-02.
func WGS84ToGCJ02(lon, lat float64) (float64, float64) {
	if OutOfChina(lon, lat) {
		return lon, lat
	}
	dLon, dLat := gcjDelta(lon, lat)
	return lon + dLon, lat + dLat
}

// GCJ02ToWGS84 converts a GCJ-02 point to WGS-84 by fixed-point iteration.
func GCJ02ToWGS84(lon, lat float64) (float64, float64) {
	if OutOfChina(lon, lat) {
		return lon, lat
	}
	wLon, wLat := lon, lat
	for i := 0; i < 30; i++ {
		gLon, gLat := WGS84ToGCJ02(wLon, wLat)
		dLon, dLat := gLon-lon, gLat-lat
		wLon -= dLon
		wLat -= dLat
		if math.Abs(dLon) < 1e-9 && math.Abs(dLat) < 1e-9 {
			break
		}
	}
	return wLon, wLat
}

// GCJ02ToBD09 converts a GCJ-02 point to BD-09.
func GCJ02ToBD09(lon, lat float64) (float64, float64) {
	z := math.Sqrt(lon*lon+lat*lat) + 0.00002*math.Sin(lat*bdPi)
	theta := math.Atan2(lat, lon) + 0.000003*math.Cos(lon*bdPi)
	return z*math.Cos(theta) + 0.0065, z*math.Sin(theta) + 0.006
}

// BD09ToGCJ02 converts a BD-09 point to GCJ-02.
func BD09ToGCJ02(lon, lat float64) (float64, float64) {
	x, y := lon-0.0065, lat-0.006
	z := math.Sqrt(x*x+y*y) - 0.00002*math.Sin(y*bdPi)
	theta := math.Atan2(y, x) - 0.000003*math.Cos(x*bdPi)
	return z * math.Cos(theta), z * math.Sin(theta)
}

// ToWGS84 converts a point in crs ("wgs84", "gcj02", "bd09") to WGS-84.
func ToWGS84(crs string, lon, lat float64) (float64, float64) {
	switch crs {
	case "gcj02":
		return GCJ02ToWGS84(lon, lat)
	case "bd09":
		return GCJ02ToWGS84(BD09ToGCJ02(lon, lat))
	}
	return lon, lat
}

// FromWGS84 converts a WGS-84 point to crs.
func FromWGS84(crs string, lon, lat float64) (float64, float64) {
	switch crs {
	case "gcj02":
		return WGS84ToGCJ02(lon, lat)
	case "bd09":
		return GCJ02ToBD09(WGS84ToGCJ02(lon, lat))
	}
	return lon, lat
}

// TransformGeometry returns a copy of g with every point passed through fn.
func TransformGeometry(g orb.Geometry, fn func(lon, lat float64) (float64, float64)) orb.Geometry {
	ring := func(r orb.Ring) orb.Ring {
		out := make(orb.Ring, len(r))
		for i, p := range r {
			out[i][0], out[i][1] = fn(p[0], p[1])
		}
		return out
	}
	poly := func(p orb.Polygon) orb.Polygon {
		out := make(orb.Polygon, len(p))
		for i, r := range p {
			out[i] = ring(r)
		}
		return out
	}
	switch x := g.(type) {
	case orb.Polygon:
		return poly(x)
	case orb.MultiPolygon:
		out := make(orb.MultiPolygon, len(x))
		for i, p := range x {
			out[i] = poly(p)
		}
		return out
	case orb.Point:
		lon, lat := fn(x[0], x[1])
		return orb.Point{lon, lat}
	}
	return g
}
