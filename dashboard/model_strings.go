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

// ckey is a counter's key as the model keeps it (update.Key with its region and category as
// numbers): 16 bytes instead of 40, and no string into a payload. The model keeps two maps of
// them (the sum and each source's share) over three days of every region × category × metric.
type ckey struct {
	region uint32 // keyNames.region
	cat    uint32 // keyNames.cat; 0 is "" (every category)
	day    int32
	metric update.Metric
}

// numbering numbers names in the order first seen; number 0 is "". The model's lock guards it.
type numbering struct {
	num   map[string]uint32
	names []string
}

// of returns the number of name, numbering it (its copy from t) when it is new.
func (n *numbering) of(t *intern.Table, name string) uint32 {
	if i, ok := n.num[name]; ok {
		return i
	}
	if n.num == nil {
		n.num, n.names = map[string]uint32{"": 0}, []string{""}
		if name == "" {
			return 0
		}
	}
	name = t.Of(name)
	i := uint32(len(n.names))
	n.num[name], n.names = i, append(n.names, name)
	return i
}

// keyNames numbers the regions and categories of counter keys.
type keyNames struct{ region, cat numbering }

// key returns k as a ckey, numbering a region or category seen for the first time (their copies
// shared with the rest of the model through t).
func (n *keyNames) key(t *intern.Table, k update.Key) ckey {
	return ckey{region: n.region.of(t, k.Region), cat: n.cat.of(t, k.Category), day: k.Day, metric: k.Metric}
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
