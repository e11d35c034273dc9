// Reading records back, shared by every store: offsets to zones, and grouping a case's records.

package store

import "time"

// zones caches fixed zones by offset while decoding.
type zones map[int32]*time.Location

func (z zones) join(utc time.Time, ns int16, off int32) time.Time {
	t := utc.Add(time.Duration(ns))
	if off == 0 {
		return t.UTC()
	}
	loc, ok := z[off]
	if !ok {
		loc = time.FixedZone("", int(off))
		z[off] = loc
	}
	return t.In(loc)
}

// caseGrouper cuts a stream of records ordered by case into per-case groups for fn.
type caseGrouper struct {
	fn   func(caseID string, recs []Record) error
	id   string
	recs []Record
}

func (g *caseGrouper) add(r Record) error {
	if len(g.recs) > 0 && r.CaseID != g.id {
		if err := g.flush(); err != nil {
			return err
		}
	}
	g.id = r.CaseID
	g.recs = append(g.recs, r)
	return nil
}

func (g *caseGrouper) flush() error {
	if len(g.recs) == 0 {
		return nil
	}
	recs := g.recs
	g.recs = nil // fn may keep recs
	return g.fn(g.id, recs)
}
