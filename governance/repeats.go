package governance

import (
	"math"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode"
)

// Repeat complaints (重复投诉): a case about the same place — the same normalized address, or a
// report point within Distance — and the same category as an earlier case reported at most
// Window before it. A repeat after the earlier case was closed is the sign of a cosmetic fix.

// RepeatConfig configures repeat detection.
type RepeatConfig struct {
	Distance float64       // metres (default 50)
	Window   time.Duration // (default 30 days)
}

func (c RepeatConfig) withDefaults() RepeatConfig {
	if c.Distance <= 0 {
		c.Distance = 50
	}
	if c.Window <= 0 {
		c.Window = 30 * 24 * time.Hour
	}
	return c
}

// NormalizeAddress folds an address for comparison: full-width forms to half-width, letters to
// lower case, spaces and punctuation removed.
func NormalizeAddress(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 0xFF01 && r <= 0xFF5E { // full-width ASCII
			r -= 0xFEE0
		}
		if r == 0x3000 || unicode.IsSpace(r) || unicode.IsPunct(r) || unicode.IsSymbol(r) {
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// LinkRepeats sets RepeatOf on every case that repeats an earlier one (the earliest case of its
// chain), comparing cases of the same category reported within the window.
//
// Each address and cell keeps its cases in the order of report, so the earliest within the
// window is found by a binary search, not by visiting every earlier case of a busy address.
func LinkRepeats(facts []CaseFacts, cfg RepeatConfig) {
	cfg = cfg.withDefaults()
	idx := make([]int, len(facts))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return facts[a].Reported.Compare(facts[b].Reported) })
	type cellKey struct {
		cat  string
		x, y int64
	}
	// Cells of Distance metres (in degrees at the point's latitude): a neighbour within Distance
	// is in the same or an adjacent cell.
	cellOf := func(lon, lat float64) (int64, int64) {
		dLat := cfg.Distance / 111320
		dLon := dLat / math.Max(math.Cos(lat*math.Pi/180), 0.01)
		return int64(math.Floor(lon / dLon)), int64(math.Floor(lat / dLat))
	}
	byCell := map[cellKey][]int{}
	byAddr := map[[2]string][]int{}
	root := func(i int) string {
		if facts[i].RepeatOf != "" {
			return facts[i].RepeatOf
		}
		return facts[i].ID
	}
	for _, i := range idx {
		f := &facts[i]
		limit := f.Reported.Add(-cfg.Window)
		best := -1
		// first is the earliest case of list (in the order of report) within the window that
		// near accepts (another case than f), or -1.
		first := func(list []int, near func(g *CaseFacts) bool) int {
			k := sort.Search(len(list), func(k int) bool { return !facts[list[k]].Reported.Before(limit) })
			for ; k < len(list); k++ {
				if g := &facts[list[k]]; g.ID != f.ID && near(g) {
					return list[k]
				}
			}
			return -1
		}
		consider := func(j int) {
			if j >= 0 && (best < 0 || facts[j].Reported.Before(facts[best].Reported)) {
				best = j
			}
		}
		addr := NormalizeAddress(f.Address)
		if addr != "" {
			consider(first(byAddr[[2]string{f.Category, addr}], func(*CaseFacts) bool { return true }))
		}
		var cx, cy int64
		if f.HasPoint {
			cx, cy = cellOf(f.Lon, f.Lat)
			near := func(g *CaseFacts) bool { return g.HasPoint && Meters(f.Lon, f.Lat, g.Lon, g.Lat) <= cfg.Distance }
			for dx := int64(-1); dx <= 1; dx++ {
				for dy := int64(-1); dy <= 1; dy++ {
					consider(first(byCell[cellKey{f.Category, cx + dx, cy + dy}], near))
				}
			}
		}
		if best >= 0 {
			f.RepeatOf = root(best)
		}
		if addr != "" {
			k := [2]string{f.Category, addr}
			byAddr[k] = append(byAddr[k], i)
		}
		if f.HasPoint {
			k := cellKey{f.Category, cx, cy}
			byCell[k] = append(byCell[k], i)
		}
	}
}

// Meters is the great-circle distance between two WGS-84 points.
func Meters(lon1, lat1, lon2, lat2 float64) float64 {
	const r = 6371008.8
	p1, p2 := lat1*math.Pi/180, lat2*math.Pi/180
	dp, dl := p2-p1, (lon2-lon1)*math.Pi/180
	a := math.Sin(dp/2)*math.Sin(dp/2) + math.Cos(p1)*math.Cos(p2)*math.Sin(dl/2)*math.Sin(dl/2)
	return 2 * r * math.Asin(math.Min(1, math.Sqrt(a)))
}
