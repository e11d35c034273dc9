// Package briefing composes the 研判 briefings for leaders (docs/BRIEFING.md): one region, one
// day or ISO week, what changed against the period before, the period's hot spots, the forecast
// for the next period, the slowest departments, late whistles, repeat complaints and the
// alerts. A Keeper stores each ended period's briefing once, so that it reads the same whenever
// it is opened; a Scheduler generates yesterday's and last week's after 00:30; a Printer prints
// the briefing page to PDF with headless Chromium.
package briefing

import (
	"time"

	"zhili/alerts"
	"zhili/dashboard"
	"zhili/forecast"
	"zhili/geo"
)

// Format is the version of the briefing's JSON; a kept briefing carries the one it was made with.
const Format = 1

// Text is a text in Chinese and English.
type Text struct {
	Zh string `json:"zh"`
	En string `json:"en"`
}

func tx(zh, en string) Text { return Text{Zh: zh, En: en} }

// Briefing is one briefing, as kept and served.
type Briefing struct {
	Format     int       `json:"format"`
	Period     string    `json:"period"` // day:YYYY-MM-DD or week:YYYY-Www
	Kind       string    `json:"kind"`   // day or week
	Region     string    `json:"region"`
	RegionName string    `json:"region_name"`
	Title      Text      `json:"title"`
	From       time.Time `json:"from"` // [from, to) in the deployment's zone
	To         time.Time `json:"to"`
	TimeZone   string    `json:"time_zone"`
	Previous   string    `json:"previous_period"`
	PrevFrom   time.Time `json:"previous_from"`
	PrevTo     time.Time `json:"previous_to"`
	Next       string    `json:"next_period"`
	Generated  time.Time `json:"generated"`
	// Provisional: the period has not ended; the briefing was made live and is not kept.
	Provisional     bool  `json:"provisional"`
	ProvisionalNote *Text `json:"provisional_note,omitempty"`
	// Kept: the reply is the stored briefing (set when served, also in the kept file).
	Kept bool `json:"kept"`
	// History is set when the period or the previous one begins before the stored history:
	// those days hold no case, and the note says what that means for the comparison.
	History *dashboard.History `json:"history,omitempty"`

	Changes     Changes      `json:"changes"`
	Hotspots    Hotspots     `json:"hotspots"`
	Forecast    Forecast     `json:"forecast"`
	Departments Departments  `json:"departments"`
	Whistles    Whistles     `json:"whistles"`
	Repeats     Repeats      `json:"repeats"`
	Alerts      AlertSection `json:"alerts"`
}

// Info describes one kept briefing (server.BriefingInfo has the same fields).
type Info struct {
	Period    string    `json:"period"`
	Region    string    `json:"region"`
	Title     string    `json:"title"`
	Generated time.Time `json:"generated"`
}

// Value is one side of a figure: a count, or a rate with its sample.
type Value struct {
	Count  *int64   `json:"count,omitempty"`
	Value  *float64 `json:"value,omitempty"` // a rate, 0..1; absent when its denominator is 0
	Num    int64    `json:"num"`
	Den    int64    `json:"den"`
	Sample string   `json:"sample,omitempty"` // rates: ok | insufficient (den below the minimum sample)
}

// Figure is one figure of the period beside the previous period's.
type Figure struct {
	Key      string `json:"key"` // new_cases, closings, overdue, response, resolution, satisfaction
	Name     Text   `json:"name"`
	Unit     string `json:"unit"` // count or rate
	Current  Value  `json:"current"`
	Previous Value  `json:"previous"`
	// Change: counts, the difference; rates, percentage points (absent when either side has no
	// value or too small a sample).
	Change    *float64 `json:"change"`
	ChangePct *float64 `json:"change_pct,omitempty"` // counts: relative change (absent when the previous is 0)
	Counts    Text     `json:"counts"`
	LeavesOut Text     `json:"leaves_out"`
}

// Changes is what changed against the previous period.
type Changes struct {
	// PreviousAsOf: the previous period's cases are read as they stood at this time, the same
	// age as this period's cases at the briefing's generation (同龄).
	PreviousAsOf time.Time      `json:"previous_as_of"`
	MinSample    int            `json:"min_sample"`
	Figures      []Figure       `json:"figures"`
	Categories   []CategoryMove `json:"categories"` // top movers by absolute change
	CategoryNote Text           `json:"category_note"`
}

// CategoryMove is one category's new cases in both periods.
type CategoryMove struct {
	Code     string `json:"code"`
	Name     Text   `json:"name"`
	Current  int64  `json:"current"`
	Previous int64  `json:"previous"`
	Change   int64  `json:"change"`
}

// Hotspots are the period's hot spots.
type Hotspots struct {
	Level       string                `json:"level"` // grid
	Step        string                `json:"step"`  // the emerging analysis's time step
	Events      int64                 `json:"events"`
	Sufficiency dashboard.Sufficiency `json:"sufficiency"`
	// Emerging: whether the emerging classes were computed (EmergingNote says why not).
	Emerging     bool   `json:"emerging"`
	EmergingNote *Text  `json:"emerging_note,omitempty"`
	Spots        []Spot `json:"spots"` // grids significant hot (Gi*, FDR) or in a hot emerging class
	// MeanCount is the average grid's new cases in the period (events ÷ grids analysed).
	MeanCount float64 `json:"mean_count"`
	// Children: the child regions (townships) significant hot at their own level.
	Children           []Spot `json:"children"`
	ChildrenSufficient bool   `json:"children_sufficient"`
	Map                Map    `json:"map"`
	Counts             Text   `json:"counts"`
	LeavesOut          Text   `json:"leaves_out"`
}

// Spot is one significant location.
type Spot struct {
	Code    string  `json:"code"`
	Name    string  `json:"name"`
	Parent  string  `json:"parent,omitempty"` // its parent region's name
	Count   int64   `json:"count"`
	Z       float64 `json:"z"`
	Q       float64 `json:"q"`
	Bin     int     `json:"bin"`               // Gi* confidence bin (3: 99 %, 2: 95 %, 1: 90 %)
	Pattern string  `json:"pattern,omitempty"` // emerging class (new_hot, …)
	// Neighbours: a spot unremarkable by itself with fewer cases than its neighbours have on
	// average (NeighbourMean) over the period; Gi* weighs a grid with its neighbours, so it is
	// hot because the grids around it are busy (dashboard.ThroughNeighbours).
	Neighbours    bool    `json:"neighbours,omitempty"`
	NeighbourMean float64 `json:"neighbour_mean,omitempty"`
}

// Map is what the page's map draws: the regions' outlines come from /api/v1/regions?root=Root
// &depth=Depth, the values from Cells (regions absent from Cells have no case).
type Map struct {
	Root  string    `json:"root"`
	Depth int       `json:"depth"` // levels below Root
	Cells []MapCell `json:"cells"`
	Max   int64     `json:"max"`
}

// MapCell is one region's value on the map.
type MapCell struct {
	Code    string `json:"code"`
	Count   int64  `json:"count"`
	Bin     int    `json:"bin,omitempty"`
	Pattern string `json:"pattern,omitempty"`
}

// Forecast is the forecast of new cases for the next period.
type Forecast struct {
	Period string    `json:"period"`
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	// Status: ok, insufficient (样本不足: the history is too short), passed (the next period
	// had begun when the briefing was made: only its remaining hours are forecast) or
	// unavailable (no forecaster, or it failed).
	Status     string          `json:"status"`
	Reason     string          `json:"reason,omitempty"`
	Message    Text            `json:"message"`
	Hours      []forecast.Band `json:"hours"`
	HoursFrom  *time.Time      `json:"hours_from,omitempty"` // the first hour forecast
	Total      *float64        `json:"total_mean,omitempty"` // sum of the hourly means forecast
	Level      float64         `json:"level,omitempty"`
	Interval   float64         `json:"interval,omitempty"`
	Days       int             `json:"history_days"`
	Method     string          `json:"method,omitempty"`
	Counts     Text            `json:"counts"`
	LeavesOut  Text            `json:"leaves_out"`
	Sufficient bool            `json:"sufficient"`
}

// Departments are the slowest departments of the period's cases.
type Departments struct {
	MinSample int    `json:"min_sample"`
	Units     int    `json:"units"`   // departments with cases
	Slowest   []Dept `json:"slowest"` // ranked, the lowest response rate first
	// Insufficient: departments whose response sample is below MinSample: named, never ranked.
	Insufficient  []Dept    `json:"insufficient"`
	WithoutDept   int64     `json:"without_dept"` // cases never dispatched
	PreviousBasis string    `json:"previous_basis"`
	PreviousAsOf  time.Time `json:"previous_as_of"`
	Counts        Text      `json:"counts"`
	LeavesOut     Text      `json:"leaves_out"`
}

// Dept is one department's figures.
type Dept struct {
	Code         string               `json:"code"`
	Name         Text                 `json:"name"`
	Cases        int64                `json:"cases"`
	Dispatched   int64                `json:"dispatched"`
	Open         int64                `json:"open"`
	Response     dashboard.RateFigure `json:"response"`
	Resolution   dashboard.RateFigure `json:"resolution"`
	Satisfaction dashboard.RateFigure `json:"satisfaction"`
	OnTime       dashboard.RateFigure `json:"on_time"`
	CloseP50     *int64               `json:"close_p50_s"`
	// PrevResponse: the response rate of the previous period (same age), when it had cases.
	PrevResponse *float64 `json:"previous_response,omitempty"`
}

// Whistles are the departments that answered whistles late.
type Whistles struct {
	Whistles  int           `json:"whistles"` // whistles on the period's cases
	MinSample int           `json:"min_sample"`
	Units     int           `json:"units"` // departments summoned
	Late      []WhistleDept `json:"late"`  // departments with a late stage, the most first
	Counts    Text          `json:"counts"`
	LeavesOut Text          `json:"leaves_out"`
}

// WhistleDept is one department's whistle answers.
type WhistleDept struct {
	Code     string               `json:"code"`
	Name     Text                 `json:"name"`
	Summoned int64                `json:"summoned"`
	Late     int64                `json:"late"`    // stages reached late or open past their deadline
	Counted  int64                `json:"counted"` // stages reached or past their deadline
	OnTime   dashboard.RateFigure `json:"on_time"`
	Stages   []StageLate          `json:"stages"`
}

// StageLate is one stage's late answers.
type StageLate struct {
	Stage   string `json:"stage"`
	Late    int64  `json:"late"`
	Counted int64  `json:"counted"`
}

// Repeats are the places with repeat complaints.
type Repeats struct {
	Min       int     `json:"min"`   // cases of one place in the period to be listed
	Links     int     `json:"links"` // cases of the period that repeat an earlier one
	Places    []Place `json:"places"`
	Counts    Text    `json:"counts"`
	LeavesOut Text    `json:"leaves_out"`
}

// Place is one place with repeat complaints: a chain of cases about the same place and category.
type Place struct {
	Region     string    `json:"region"` // the deepest region of the first case's report
	RegionName string    `json:"region_name"`
	Parent     string    `json:"parent,omitempty"`
	Category   string    `json:"category"`
	CatName    Text      `json:"category_name"`
	Cases      int       `json:"cases"` // in the period
	First      time.Time `json:"first"` // the chain's first report (may be before the period)
	Last       time.Time `json:"last"`
	CaseIDs    []string  `json:"case_ids"` // the period's cases (at most 10)
	Open       int       `json:"open"`     // of them, not closed
}

// AlertSection are the alerts raised in the period and how fast they were handled.
type AlertSection struct {
	Available bool `json:"available"`
	// Coverage is the part of the period the alert engine watched (absent in briefings kept
	// before it was recorded). Nothing watched and nothing raised: no figures.
	Coverage  *alerts.Coverage `json:"coverage,omitempty"`
	Figures   *alerts.Figures  `json:"figures,omitempty"`
	ByRule    []RuleFigures    `json:"by_rule"`
	List      []AlertRow       `json:"list"` // newest first, at most 50
	Total     int              `json:"total"`
	AsOf      time.Time        `json:"as_of"`
	Counts    Text             `json:"counts"`
	LeavesOut Text             `json:"leaves_out"`
}

// RuleFigures are one rule's figures.
type RuleFigures struct {
	Rule    string         `json:"rule"`
	Name    string         `json:"name"`
	Figures alerts.Figures `json:"figures"`
}

// AlertRow is one alert.
type AlertRow struct {
	ID         string     `json:"id"`
	Rule       string     `json:"rule"`
	Severity   string     `json:"severity"`
	Title      Text       `json:"title"`
	Region     string     `json:"region"`
	RegionName string     `json:"region_name,omitempty"`
	Raised     time.Time  `json:"raised"`
	Acked      *time.Time `json:"acked,omitempty"`
	Closed     *time.Time `json:"closed,omitempty"`
	State      string     `json:"state"`
}

// regionName is a region's name ("" when unknown).
func regionName(t *geo.Tree, code string) string {
	if r := t.Get(code); r != nil {
		return r.Name
	}
	return ""
}
