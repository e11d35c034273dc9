package evaluation

import (
	"sync"

	"zhili/roster"
)

// Subjects indexes the survey subjects of the roster in force for ingest: cadre ids (each
// with the unit of its term that began last) and unit or party organisation codes. The index
// is rebuilt when the roster is replaced.
type Subjects struct {
	current func() *roster.Roster
	mu      sync.Mutex
	of      *roster.Roster
	unit    map[string]roster.Cadre
	empty   bool
}

// NewSubjects indexes the subjects of the roster current returns.
func NewSubjects(current func() *roster.Roster) *Subjects { return &Subjects{current: current} }

func (s *Subjects) load() (*roster.Roster, map[string]roster.Cadre, bool) {
	ro := s.current()
	if ro == nil {
		ro = roster.Empty()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ro != s.of {
		s.of, s.unit = ro, make(map[string]roster.Cadre, len(ro.Cadres))
		for _, c := range ro.Cadres {
			if t, ok := s.unit[c.ID]; !ok || c.From > t.From {
				s.unit[c.ID] = c
			}
		}
		units, party, cadres, _ := ro.Counts()
		s.empty = units+party+cadres == 0
	}
	return ro, s.unit, s.empty
}

// Known tells whether id is a cadre id or a unit (or party organisation) code of the roster;
// an empty roster (none configured) accepts any subject.
func (s *Subjects) Known(id string) bool {
	ro, cadres, empty := s.load()
	_, cadre := cadres[id]
	return empty || cadre || ro.Has(id)
}

// Region is the region a subject serves: a unit's, or that of the unit of the cadre's term
// that began last ("" when none or unknown).
func (s *Subjects) Region(id string) string {
	ro, cadres, _ := s.load()
	if c, ok := cadres[id]; ok {
		return ro.RegionOf(c.Unit)
	}
	return ro.RegionOf(id)
}
