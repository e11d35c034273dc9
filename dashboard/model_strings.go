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
	region uint32 // keyNames.regions
	cat    uint32 // keyNames.cats; 0 is "" (every category)
	day    int32
	metric update.Metric
}

// keyNames numbers the regions and categories of counter keys. The model's lock guards it.
type keyNames struct {
	region  map[string]uint32
	regions []string
	cat     map[string]uint32
	cats    []string
}

// key returns k as a ckey, numbering a region or category seen for the first time.
func (n *keyNames) key(k update.Key) ckey {
	if n.region == nil {
		n.region, n.cat = map[string]uint32{}, map[string]uint32{"": 0}
		n.cats = []string{""}
	}
	r, ok := n.region[k.Region]
	if !ok {
		name := strings.Clone(k.Region)
		r = uint32(len(n.regions))
		n.region[name], n.regions = r, append(n.regions, name)
	}
	c, ok := n.cat[k.Category]
	if !ok {
		name := strings.Clone(k.Category)
		c = uint32(len(n.cats))
		n.cat[name], n.cats = c, append(n.cats, name)
	}
	return ckey{region: r, cat: c, day: k.Day, metric: k.Metric}
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
