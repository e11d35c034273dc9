// Package update is the live-update contract between the write path and the read models:
// what an aggregator publishes on the bus (Update: its source, epoch and sequence, rollup
// counters, public feed items, whistle state), what a read model may ask back (Control), and the
// shared definitions both sides count by (metrics, local days, hotspot windows). Both aggregator
// and dashboard import it; neither imports the other. Updates never carry personal fields, and
// their points are WGS-84: a read model converts them to the display CRS for its screens.
package update

import (
	"time"

	"zhili/geo"
)

// UpdatesChannel is the bus channel on which aggregators publish Updates.
const UpdatesChannel = "updates"

// ControlChannel carries Control requests from read models to aggregators.
const ControlChannel = "control"

// Control is a request to the aggregators.
type Control struct {
	// Resync asks the aggregator of this source to publish a reset; "*" asks every source.
	Resync string `json:"resync,omitempty"`
}

// Metric names a rollup counter. Current metrics (open, overdue) have Day 0; the others count
// events by the local day of their event time.
type Metric uint8

const (
	MOpen           Metric = iota + 1 // current: open cases
	MOverdue                          // current: open cases past their deadline
	MNew                              // case.reported (first report of a case)
	MUnlocated                        // new cases outside every region (counted at the root)
	MDispatched                       // case.dispatched
	MSigned                           // case.signed
	MResolved                         // case.resolved
	MClosed                           // case.closed ending the case here: fixed or not_fixed (not duplicate, cancelled, transferred)
	MClosedOK                         // case.closed fixed, without an unsatisfied callback
	MSatisfied                        // callbacks of MClosed closings: satisfied
	MBasically                        // callbacks of MClosed closings: basically satisfied
	MUnsatisfied                      // callbacks of MClosed closings: unsatisfied
	MReturned                         // case.returned (退单)
	MReopened                         // case.reopened
	MFlowUp                           // 上行
	MFlowDown                         // 下行
	MFlowHorizontal                   // 横向
	MWhistles                         // whistle.blown
	MSignedInTime                     // case.signed within the response window of its dispatch (响应)
	// New cases by the source of their report (一端口): counted with MNew, so that at every
	// region and category they sum to it.
	MNewHotline // source hotline12345 (12345 热线)
	MNewGrid    // source grid (网格员)
	MNewApp     // source app (随手拍)
	MNewSensor  // source sensor (感知设备)
	MNewPolice  // source police110 (110 联动)
	MNewCenter  // source center (中心受理)
	MNewOther   // any other source code (a deployment's own)
	// MAwaitingSign counts, by the local day of their dispatch, the open cases whose last
	// dispatch is neither signed nor returned and whose response window is still open: not yet
	// decided for the response rate. The aggregator keeps it current with timers, as it keeps
	// MOverdue.
	MAwaitingSign
	metricCount
)

var metricNames = [...]string{"", "open", "overdue", "new", "unlocated", "dispatched", "signed",
	"resolved", "closed", "closed_ok", "satisfied", "basically", "unsatisfied", "returned",
	"reopened", "flow_up", "flow_down", "flow_horizontal", "whistles", "signed_in_time",
	"new_hotline12345", "new_grid", "new_app", "new_sensor", "new_police110", "new_center", "new_other",
	"awaiting_sign"}

// Every metric has its name (a compile error otherwise).
var _ [len(metricNames)]struct{} = [metricCount]struct{}{}

// SourceOther names the sources without a metric of their own in NewBySource.
const SourceOther = "other"

// NewBySource lists the new-case metrics per report source, in the order screens show them;
// the last, SourceOther, takes every other code.
var NewBySource = []struct {
	Source string
	Metric Metric
}{
	{"hotline12345", MNewHotline}, {"grid", MNewGrid}, {"app", MNewApp}, {"sensor", MNewSensor},
	{"police110", MNewPolice}, {"center", MNewCenter}, {SourceOther, MNewOther},
}

// SourceMetric is the new-case metric of a report's source.
func SourceMetric(source string) Metric {
	for _, s := range NewBySource[:len(NewBySource)-1] {
		if s.Source == source {
			return s.Metric
		}
	}
	return MNewOther
}

func (m Metric) String() string {
	if int(m) < len(metricNames) {
		return metricNames[m]
	}
	return "unknown"
}

// Current reports whether m is a current (not per-day) metric.
func (m Metric) Current() bool { return m == MOpen || m == MOverdue }

// DeptPrefix marks department counters: Key.Region "@<dept>" holds the deployment-wide per-day
// figures (per category, like region counters) of one handling department: the department of
// the case's last dispatch.
const DeptPrefix = "@"

// Key addresses one rollup counter: region × category × day × metric.
type Key struct {
	Region   string `json:"r"`
	Category string `json:"c"`
	Day      int32  `json:"d"` // local day number (DayOf); 0 for current metrics
	Metric   Metric `json:"m"`
}

// Counter is one counter value or increment.
type Counter struct {
	Key
	N int64 `json:"n"`
}

// Item is one public case event for the cases: feed. It never carries personal information.
type Item struct {
	ID       string      `json:"id"`
	CaseID   string      `json:"case_id"`
	Type     string      `json:"type"`
	Category string      `json:"category"`
	Priority string      `json:"priority"`
	Status   string      `json:"status"`
	Source   string      `json:"source,omitempty"`
	Dept     string      `json:"dept,omitempty"`
	Flow     string      `json:"flow,omitempty"`
	Point    *[2]float64 `json:"point,omitempty"`
	Region   []string    `json:"region"`
	At       time.Time   `json:"at"`
	New      bool        `json:"new,omitempty"` // the report that opened the case (counted as new)
}

// Update is what aggregators publish. A reset carries the full state of its source (after a
// restart or for a read model that fell out of step); a delta carries increments and new feed
// items.
//
// Several aggregators may publish (one per intake partition in a scaled-out deployment): each
// is a Source, and the read model sums the sources. Within a source's Epoch (one run of the
// aggregator that owns it) Seq rises by exactly one per update; a read model that sees a gap
// asks for a resync (a reset) on ControlChannel.
type Update struct {
	Source     string    `json:"src,omitempty"`   // "" for the single aggregator of an embedded deployment
	Part       int       `json:"part,omitempty"`  // intake partition of the source
	Epoch      uint64    `json:"epoch,omitempty"` // random per aggregator run
	Seq        uint64    `json:"seq,omitempty"`
	Checkpoint uint64    `json:"cp,omitempty"` // resets: the intake offset the state covers; later items are above it
	Reset      bool      `json:"reset,omitempty"`
	Counters   []Counter `json:"counters,omitempty"`
	Items      []Item    `json:"items,omitempty"`
	// Whistles: in a delta, the whole current state of each whistle that changed; in a reset,
	// every whistle the source tracks (active, or resolved within the last day).
	Whistles []Whistle `json:"whistles,omitempty"`
	// Duty: in a delta, the duty state in force of each grid staff member whose state changed;
	// in a reset, of every one the source tracks (staff.duty records).
	Duty []Duty `json:"duty,omitempty"`
}

// Duty is a grid staff member's duty state in force: the latest staff.duty record by event
// time, corrections applied. Staff is an id, never a name; screens get counts per grid only.
type Duty struct {
	Staff string    `json:"staff"`
	Grid  string    `json:"grid"`
	On    bool      `json:"on"`
	At    time.Time `json:"at"`
}

// Whistle is the live state of one whistle (吹哨): who was summoned and how far each got. It
// never carries personal information.
type Whistle struct {
	ID       string        `json:"id"`
	CaseID   string        `json:"case_id"`
	Kind     string        `json:"kind"`
	Region   []string      `json:"region"` // the case's region path: the township that blew it is on it
	Category string        `json:"category"`
	Point    *[2]float64   `json:"point,omitempty"`
	Blown    time.Time     `json:"blown"`
	Resolved time.Time     `json:"resolved,omitzero"`
	Depts    []WhistleDept `json:"depts"`
}

// WhistleDept is one summoned department: when it reached each stage (signed, contacted,
// arrived), and the center's latest score (评哨, 0 = none).
type WhistleDept struct {
	Dept    string               `json:"dept"`
	Reached map[string]time.Time `json:"reached,omitempty"`
	Score   int                  `json:"score,omitempty"`
}

// HotspotWindows are the live hotspot windows every read model keeps from the items that open a
// case (Item.New), and the windows of the hotspots:<region>:<window> topics: length and bucket.
// Buckets grow with the window so that memory stays small (a 30-day window moves a day at a
// time).
var HotspotWindows = []geo.WindowSpec{
	{Name: "1h", Bucket: time.Minute, Buckets: 60},
	{Name: "24h", Bucket: 15 * time.Minute, Buckets: 96},
	{Name: "7d", Bucket: 2 * time.Hour, Buckets: 84},
	{Name: "30d", Bucket: 24 * time.Hour, Buckets: 30},
}

// DayOf returns the local day number of t in loc (days since 1970-01-01 local).
func DayOf(t time.Time, loc *time.Location) int32 {
	y, m, d := t.In(loc).Date()
	return int32(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// DayString formats a day number as YYYY-MM-DD.
func DayString(day int32) string {
	return time.Unix(int64(day)*86400, 0).UTC().Format("2006-01-02")
}
