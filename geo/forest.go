package geo

import (
	"strings"

	"github.com/paulmach/orb"
)

// synthesizeRoot makes the root of a forest: its geometry is the MultiPolygon of the top-level
// regions' polygons (not dissolved: their shared edges stay), and each of them becomes its child.
func synthesizeRoot(code, name string, tops []*Region) *Region {
	var mp orb.MultiPolygon
	b := orb.Bound{}
	for i, r := range tops {
		switch g := r.Geometry.(type) {
		case orb.Polygon:
			mp = append(mp, g)
		case orb.MultiPolygon:
			mp = append(mp, g...)
		}
		if i == 0 {
			b = r.Bound
		} else {
			b = b.Union(r.Bound)
		}
		r.Parent = code
	}
	return &Region{Code: code, Name: name, Geometry: mp, Bound: b}
}

// ForestRootCode is the default code of a forest's synthesized root, from its top-level codes:
//   - GB/T 2260 codes (all digits, all 6, 9 or 12 long): the longest administrative prefix they
//     share (2, 4, 6 or 9 digits), padded with zeros to 6 digits: counties 411502 and 411521 give
//     the city 411500, townships 411502003 and 411502004 the county 411502 (none shared, or
//     taken by one of the codes: "0");
//   - else their longest common prefix, not ending inside a number nor with a separator
//     (" -_./:"), if not empty and not one of the codes: MN01 and MN02 give MN;
//   - else "0".
func ForestRootCode(codes []string) string {
	if len(codes) == 0 {
		return "0"
	}
	prefix := codes[0]
	for _, c := range codes[1:] {
		n := 0
		for n < len(prefix) && n < len(c) && prefix[n] == c[n] {
			n++
		}
		prefix = prefix[:n]
	}
	taken := func(s string) bool {
		for _, c := range codes {
			if c == s {
				return true
			}
		}
		return false
	}
	if l := len(codes[0]); (l == 6 || l == 9 || l == 12) && allDigits(codes, l) {
		for _, lp := range []int{9, 6, 4, 2} {
			if lp < l && lp <= len(prefix) {
				c := prefix[:lp]
				if lp < 6 {
					c += strings.Repeat("0", 6-lp)
				}
				if !taken(c) {
					return c
				}
				break
			}
		}
		return "0"
	}
	// Never cut a number in two: MN01 and MN02 share MN, not MN0.
	for _, c := range codes {
		if len(c) > len(prefix) && isDigit(c[len(prefix)]) {
			prefix = strings.TrimRight(prefix, "0123456789")
			break
		}
	}
	if p := strings.TrimRight(prefix, " -_./:"); p != "" && !taken(p) {
		return p
	}
	return "0"
}

func allDigits(codes []string, l int) bool {
	for _, c := range codes {
		if len(c) != l {
			return false
		}
		for i := 0; i < len(c); i++ {
			if !isDigit(c[i]) {
				return false
			}
		}
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
