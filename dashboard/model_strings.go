package dashboard

import (
	"strings"
	"time"

	"zhili/internal/intern"
	"zhili/update"
)

// What the model keeps from a decoded Update is detached from the payload first (package
// intern: the decoder's strings point into its copy of the whole payload): names interned in
// the model's table, identifiers cloned.

// detachKey returns k with its names interned.
func detachKey(t *intern.Table, k update.Key) update.Key {
	k.Region, k.Category = t.Of(k.Region), t.Of(k.Category)
	return k
}

// detachItem detaches a feed item in place.
func detachItem(t *intern.Table, it *update.Item) {
	it.ID, it.CaseID = strings.Clone(it.ID), strings.Clone(it.CaseID)
	it.Type, it.Category, it.Priority, it.Status = t.Of(it.Type), t.Of(it.Category), t.Of(it.Priority), t.Of(it.Status)
	it.Source, it.Dept, it.Flow = t.Of(it.Source), t.Of(it.Dept), t.Of(it.Flow)
	t.Path(it.Region)
}

// detachWhistle detaches a whistle in place (its reach maps are rebuilt).
func detachWhistle(t *intern.Table, w *update.Whistle) {
	w.ID, w.CaseID = strings.Clone(w.ID), strings.Clone(w.CaseID)
	w.Kind, w.Category = t.Of(w.Kind), t.Of(w.Category)
	t.Path(w.Region)
	for i := range w.Depts {
		d := &w.Depts[i]
		d.Dept = t.Of(d.Dept)
		if d.Reached != nil {
			r := make(map[string]time.Time, len(d.Reached))
			for who, at := range d.Reached {
				r[strings.Clone(who)] = at
			}
			d.Reached = r
		}
	}
}

// detachDuty returns a duty state detached.
func detachDuty(t *intern.Table, d update.Duty) update.Duty {
	d.Staff, d.Grid = strings.Clone(d.Staff), t.Of(d.Grid)
	return d
}
