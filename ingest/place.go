package ingest

import (
	"github.com/paulmach/orb"

	"zhili/event"
	"zhili/geo"
)

// Placer finds where an event belongs: the door checks a source key's regions with it, the
// aggregator stores the region path it finds.
type Placer struct {
	Tree    *geo.Tree
	Locator geo.Locator // nil: a plain descent of Tree
}

// Path returns the root-to-deepest region path of the event's location (converted to WGS-84),
// else of its explicit region, or nil when it lies in no region.
func (p Placer) Path(ev *event.Event) []string {
	if l := ev.Location; l != nil {
		lon, lat := geo.ToWGS84(l.CRS, l.Lon, l.Lat)
		loc := p.Locator
		if loc == nil {
			loc = geo.TreeLocator{T: p.Tree}
		}
		if path := loc.Locate(orb.Point{lon, lat}); path != nil {
			return path
		}
	}
	if ev.Region != "" {
		return p.Tree.Path(ev.Region)
	}
	return nil
}
