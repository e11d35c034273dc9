package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"zhili/geo"
	"zhili/simulate"
)

// The demo's planted hot spots (simulate.History with the demo's seed and span, as `zhili serve
// --demo` makes them) come out of the period view as TestDemo (e2e) asks of a running demo,
// whatever the hour it starts at: at least three of the five grids of each planted cluster 95 %
// hot over the last 7 and 30 days, and in a hot emerging class over 30 daily steps. The first
// end is one at which the persistent cluster, at 6 extra reports a grid and working day, was 95 %
// hot in 2 grids of 5 over 7 days: the intensifying cluster, at its peak then, widens the spread
// the others are judged against (docs/DEMO.md). Under the race detector only that end runs.
func TestDemoHistoryHotspots(t *testing.T) {
	if testing.Short() {
		t.Skip("generates 90-day histories")
	}
	tree, err := geo.XinyangTree()
	if err != nil {
		t.Fatal(err)
	}
	ends := []time.Time{
		time.Date(2026, 12, 7, 19, 50, 0, 0, time.UTC), // Tuesday 03:50 in Shanghai
		time.Date(2026, 12, 4, 14, 50, 0, 0, time.UTC), // Friday 22:50
		time.Date(2026, 12, 6, 8, 50, 0, 0, time.UTC),  // Sunday 16:50
	}
	if raceSeeds > 0 {
		ends = ends[:1]
	}
	locator := geo.NewIndexedLocator(tree)
	for _, end := range ends {
		t.Run(end.Format(time.RFC3339), func(t *testing.T) {
			h := simulate.NewHistory(simulate.HistoryConfig{Tree: tree, Seed: simulate.DefaultDemoSeed, End: end})
			plan := h.Plan()
			st := &hotStore{}
			for {
				lines := h.Next(10000)
				if len(lines) == 0 {
					break
				}
				for _, l := range lines {
					if !bytes.Contains(l, []byte(`"case.reported"`)) {
						continue
					}
					var e struct {
						ID       string    `json:"case_id"`
						At       time.Time `json:"at"`
						Category string    `json:"category"`
						Region   string    `json:"region"`
						Location *struct {
							Lon, Lat float64
							CRS      string
						} `json:"location"`
					}
					if err := json.Unmarshal(l, &e); err != nil {
						t.Fatal(err)
					}
					var path []string
					if e.Location != nil {
						lon, lat := geo.ToWGS84(e.Location.CRS, e.Location.Lon, e.Location.Lat)
						path = locator.Locate(orb.Point{lon, lat})
					} else if e.Region != "" {
						path = tree.Path(e.Region)
					}
					st.report(e.ID, path, e.Category, e.At)
				}
			}
			hot := func(c HotspotCell) bool { return c.Bin >= 2 }
			hotClass := func(c HotspotCell) bool { return strings.HasSuffix(c.Pattern, "_hot") }
			for _, q := range []struct {
				name string
				days int
				step time.Duration
				ok   func(HotspotCell) bool
			}{{"7 days", 7, 0, hot}, {"30 days", 30, 0, hot}, {"30 days, emerging", 30, 24 * time.Hour, hotClass}} {
				rep, err := PeriodHotspots(context.Background(), st, tree, HotspotQuery{Region: tree.Root.Code,
					From: end.AddDate(0, 0, -q.days), To: end, Step: q.step, Emerging: q.step > 0, Loc: time.UTC})
				if err != nil {
					t.Fatal(err)
				}
				planted := func(gs []string) int {
					n := 0
					for _, c := range rep.Cells {
						if slices.Contains(gs, c.Code) && q.ok(c) {
							n++
						}
					}
					return n
				}
				p, i := planted(plan.Persistent), planted(plan.Intensifying)
				t.Logf("%s: planted persistent %d/%d, intensifying %d/%d", q.name, p, len(plan.Persistent), i, len(plan.Intensifying))
				if !rep.Sufficiency.OK || p < 3 || i < 3 {
					t.Errorf("%s: sufficiency %+v, planted persistent %d, intensifying %d", q.name, rep.Sufficiency, p, i)
				}
			}
		})
	}
}
