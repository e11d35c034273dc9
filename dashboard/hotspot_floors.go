package dashboard

import (
	"zhili/geo"
)

// Defaults of the hotspot data-sufficiency rules (docs/HOTSPOTS.md, "Data sufficiency").
const (
	// DefaultMinEvents: a study area with fewer events gets no significant location at all.
	DefaultMinEvents = 30
	// DefaultMinLocal: a location is hot only when its neighbourhood (itself and its
	// neighbours) holds at least this many events, at every level.
	DefaultMinLocal = 3
)

// HotspotFloors are the data-sufficiency rules of every hotspot reply: the live topics and the
// period view apply the same ones. Zero fields take the defaults (Resolve); a negative field
// turns its rule off.
type HotspotFloors struct {
	// MinEvents: Gi* bins only when the study area holds at least this many events in the
	// window or period (default DefaultMinEvents); otherwise every bin is 0.
	MinEvents int
	// Per level: a location is hot only when its neighbourhood holds at least this many events
	// (default DefaultMinLocal each).
	GridMinLocal, ChildMinLocal, HexMinLocal int
	// MinSteps: emerging-hotspot classes only when at least this many time steps hold data
	// (default geo.DefaultMinSteps, ArcGIS's rule); otherwise every pattern is insufficient_data.
	MinSteps int
	// NormalTails takes every p-value from the normal distribution, as ArcGIS does. By default
	// the p-values of counts come from the counts' own distribution (geo.HotspotOptions
	// .CountTails): the normal ones make hot spots of chance over sparse counts.
	NormalTails bool
}

// Resolve fills the defaults: the one place where they are decided.
func (f HotspotFloors) Resolve() HotspotFloors {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&f.MinEvents, DefaultMinEvents)
	def(&f.GridMinLocal, DefaultMinLocal)
	def(&f.ChildMinLocal, DefaultMinLocal)
	def(&f.HexMinLocal, DefaultMinLocal)
	def(&f.MinSteps, geo.DefaultMinSteps)
	return f
}

// minLocal is the floor of a level ("grids", "children", "hex"), 0 when off.
func (f HotspotFloors) minLocal(level string) int {
	v := 0
	switch level {
	case "grids", "grid":
		v = f.GridMinLocal
	case "children", "child":
		v = f.ChildMinLocal
	case "hex":
		v = f.HexMinLocal
	}
	return max(v, 0)
}

func (f HotspotFloors) minEvents() int { return max(f.MinEvents, 0) }

func (f HotspotFloors) minSteps() int {
	if f.MinSteps < 0 {
		return -1 // geo: no minimum
	}
	return f.MinSteps
}

// HotspotFloors returns the floors the live topics apply (the resolved defaults when the model
// feeds no live windows), so that the period view applies the same ones.
func (m *Model) HotspotFloors() HotspotFloors {
	if m != nil && m.hot != nil {
		return m.hot.cfg.Floors
	}
	return HotspotFloors{}.Resolve()
}
