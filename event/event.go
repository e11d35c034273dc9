// Package event is the ingest contract (the "one port", 一端口): the event record every source
// system sends, its types, and the validation rules that name the field and reason of every
// rejection. It imports no storage or transport.
package event

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Type is what happened.
type Type string

// Event types, as in the contract.
const (
	CaseReported     Type = "case.reported"
	CaseAccepted     Type = "case.accepted"
	CaseDispatched   Type = "case.dispatched"
	CaseSigned       Type = "case.signed"
	CaseReturned     Type = "case.returned"
	CaseResolved     Type = "case.resolved"
	CaseClosed       Type = "case.closed"
	CaseReopened     Type = "case.reopened"
	CaseDuplicate    Type = "case.duplicate"
	WhistleBlown     Type = "whistle.blown"
	WhistleAnswered  Type = "whistle.answered"
	WhistleResolved  Type = "whistle.resolved"
	WhistleEvaluated Type = "whistle.evaluated"
	// EvaluationSurvey is one rater's score of a cadre or unit on one dimension (三评).
	EvaluationSurvey Type = "evaluation.survey"
	// StaffDuty is a grid staff member's check-in (on duty) or check-out (off duty) in a grid.
	StaffDuty Type = "staff.duty"
)

// Types lists every known type in contract order.
var Types = []Type{CaseReported, CaseAccepted, CaseDispatched, CaseSigned, CaseReturned,
	CaseResolved, CaseClosed, CaseReopened, CaseDuplicate, WhistleBlown, WhistleAnswered,
	WhistleResolved, WhistleEvaluated, EvaluationSurvey, StaffDuty}

// Known reports whether t is a contract type.
func (t Type) Known() bool {
	for _, k := range Types {
		if k == t {
			return true
		}
	}
	return false
}

// Flow is the H-shaped platform's direction of an event.
type Flow uint8

const (
	FlowNone       Flow = iota
	FlowUp              // 上行: reports rising to the center
	FlowDown            // 下行: dispatch and commands going down
	FlowHorizontal      // 横向: linkage with the 12345 hotline platform
)

func (f Flow) String() string {
	switch f {
	case FlowUp:
		return "up"
	case FlowDown:
		return "down"
	case FlowHorizontal:
		return "horizontal"
	}
	return ""
}

// CRS names a coordinate reference system.
const (
	WGS84 = "wgs84"
	GCJ02 = "gcj02"
	BD09  = "bd09"
)

// Location is a point with its coordinate system.
type Location struct {
	Lon float64 `json:"lon"`
	Lat float64 `json:"lat"`
	CRS string  `json:"crs,omitempty"`
}

// Reporter is personal information (PII). It is stored protected and never pushed to screens.
type Reporter struct {
	Name     string `json:"name,omitempty"`
	Phone    string `json:"phone,omitempty"`
	IDNumber string `json:"id_number,omitempty"`
}

// Event is one record of the contract. Time fields are parsed; the original offset is kept in At.
type Event struct {
	ID           string     `json:"id"`
	Type         Type       `json:"type"`
	CaseID       string     `json:"case_id"`
	At           time.Time  `json:"at"`
	Source       string     `json:"source,omitempty"`
	Category     string     `json:"category,omitempty"`
	Priority     string     `json:"priority,omitempty"`
	Location     *Location  `json:"location,omitempty"`
	Region       string     `json:"region,omitempty"`
	Address      string     `json:"address,omitempty"`
	Dept         string     `json:"dept,omitempty"`
	Deadline     *time.Time `json:"deadline,omitempty"`
	WhistleID    string     `json:"whistle_id,omitempty"`
	WhistleKind  string     `json:"whistle_kind,omitempty"`
	Depts        []string   `json:"depts,omitempty"`
	Stage        string     `json:"stage,omitempty"`
	Score        int        `json:"score,omitempty"`
	Satisfaction string     `json:"satisfaction,omitempty"`
	Reporter     *Reporter  `json:"reporter,omitempty"`
	Summary      string     `json:"summary,omitempty"`
	// CloseReason says how a case.closed ended it when not by a normal 办结 ("" = fixed):
	// not_fixed, duplicate, transferred or cancelled (CloseReasons).
	CloseReason string `json:"close_reason,omitempty"`
	// CategoryText is the source system's own wording of the category (case.reported), kept
	// when an import maps it to a code, and always when the code is CategoryUnmapped.
	CategoryText string `json:"category_text,omitempty"`
	// Supersedes names an earlier event of the same case and type that this one corrects (case
	// events only): the superseded event stays stored and in the timeline, and every count,
	// state and audit uses this one instead (Superseded).
	Supersedes string `json:"supersedes,omitempty"`
	// Survey is the content of an evaluation.survey record (that type only).
	Survey *Survey `json:"survey,omitempty"`
	// Duty is the content of a staff.duty record (that type only).
	Duty *Duty `json:"duty,omitempty"`
}

// Duty is one grid staff member's duty state from its time on: on duty (在岗) or off (离岗).
// Staff is the person's id in the roster's grid staff; it is never shown on a wall, where only
// counts per grid appear.
type Duty struct {
	Staff string `json:"staff"` // a grid staff id of the roster
	Grid  string `json:"grid"`  // the grid region code where the person is on or off duty
	State string `json:"state"` // DutyOn or DutyOff
}

// Duty states of a staff.duty record.
const (
	DutyOn  = "on"
	DutyOff = "off"
)

// Survey is one rater's score of one subject on one dimension for one period (三评两比一综合).
// Rater identifies the rater for deduplication only: it is never shown.
type Survey struct {
	EvaluatorType string  `json:"evaluator_type"` // EvaluatorTypes
	Dimension     string  `json:"dimension"`      // Dimensions
	Score         float64 `json:"score"`          // on Scale
	Scale         string  `json:"scale"`          // "min-max", integers, e.g. "0-100", "1-5"
	Period        string  `json:"period"`         // "2026-Q3" (quarter) or "2026-11" (month)
	Subject       string  `json:"subject"`        // a cadre id or a unit code of the roster
	Rater         string  `json:"rater"`
}

// Evaluator types of a survey (评价主体).
const (
	EvaluatorSuperior = "superior" // 上级业务主管领导
	EvaluatorHead     = "head"     // 单位一把手
	EvaluatorTeam     = "team"     // 班子成员
	EvaluatorMiddle   = "middle"   // 中层干部
	EvaluatorServed   = "served"   // 服务对象
)

// EvaluatorTypes lists the evaluator types in order.
var EvaluatorTypes = []string{EvaluatorSuperior, EvaluatorHead, EvaluatorTeam, EvaluatorMiddle, EvaluatorServed}

// Dimensions of a survey (评价维度).
const (
	DimPerformance    = "performance"    // 工作实绩
	DimResponsibility = "responsibility" // 责任担当
	DimTeamwork       = "teamwork"       // 团结协作
	DimLeadership     = "leadership"     // 领导能力
	DimPurpose        = "purpose"        // 宗旨意识
)

// Dimensions lists the survey dimensions in order.
var Dimensions = []string{DimPerformance, DimResponsibility, DimTeamwork, DimLeadership, DimPurpose}

// ParseScale reads a survey scale "min-max" (integers, 0 ≤ min < max ≤ 1000).
func ParseScale(s string) (lo, hi int, ok bool) {
	a, b, found := strings.Cut(s, "-")
	if !found {
		return 0, 0, false
	}
	lo, err1 := strconv.Atoi(a)
	hi, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil || lo < 0 || hi > 1000 || lo >= hi {
		return 0, 0, false
	}
	return lo, hi, true
}

// Normalized is the survey's score on 0-100: (score − min) / (max − min) × 100.
func (s *Survey) Normalized() float64 {
	lo, hi, ok := ParseScale(s.Scale)
	if !ok {
		return 0
	}
	return (s.Score - float64(lo)) / float64(hi-lo) * 100
}

// ParsePeriod reads a survey period: "2026-Q3" (quarter) or "2026-11" (month). kind is 'Q' or
// 'M'; index counts periods of that kind from year 0 (so consecutive periods differ by 1).
func ParsePeriod(s string) (kind byte, index int, ok bool) {
	if len(s) != 7 || s[4] != '-' {
		return 0, 0, false
	}
	y, err := strconv.Atoi(s[:4])
	if err != nil || y < 2000 || y > 2999 {
		return 0, 0, false
	}
	if s[5] == 'Q' {
		q := int(s[6] - '0')
		if q < 1 || q > 4 {
			return 0, 0, false
		}
		return 'Q', y*4 + q - 1, true
	}
	m, err := strconv.Atoi(s[5:])
	if err != nil || m < 1 || m > 12 || s[5] < '0' || s[5] > '1' {
		return 0, 0, false
	}
	return 'M', y*12 + m - 1, true
}

// PeriodName is the inverse of ParsePeriod.
func PeriodName(kind byte, index int) string {
	if kind == 'Q' {
		return fmt.Sprintf("%04d-Q%d", index/4, index%4+1)
	}
	return fmt.Sprintf("%04d-%02d", index/12, index%12+1)
}

// Close reasons of case.closed besides "" (fixed, the default).
const (
	CloseNotFixed    = "not_fixed"   // 未解决: closed without the problem solved
	CloseDuplicate   = "duplicate"   // 重复件: a duplicate of another case
	CloseTransferred = "transferred" // 已转办: handed over to another department or system
	CloseCancelled   = "cancelled"   // 已撤销: withdrawn
)

// CloseReasons are the values of case.closed's close_reason besides "" (fixed, the default).
var CloseReasons = []string{CloseNotFixed, CloseDuplicate, CloseTransferred, CloseCancelled}

// CategoryUnmapped is the category of a report whose source category has no code (an import's
// lenient mode): its category_text keeps the source's wording. Every deployment accepts it.
const CategoryUnmapped = "unmapped"

// MaxCategoryText is the longest category_text, in characters.
const MaxCategoryText = 200

// Corrigible tells the types a correction may supersede: case events, survey and duty records.
func (t Type) Corrigible() bool { return t.IsCase() || t == EvaluationSurvey || t == StaffDuty }

// Caseless tells the record types that belong to no case (case_id not required).
func (t Type) Caseless() bool { return t == EvaluationSurvey || t == StaffDuty }

// IsCase tells the case event types (case.*).
func (t Type) IsCase() bool {
	switch t {
	case CaseReported, CaseAccepted, CaseDispatched, CaseSigned, CaseReturned, CaseResolved,
		CaseClosed, CaseReopened, CaseDuplicate:
		return true
	}
	return false
}

// Superseded returns, for each event of evs (one case's events) that a correction supersedes,
// the id of the event superseding it. A supersedes is honoured only when it names another
// event of evs of the same type and case; when several name the same event, the last of evs
// is given. Chains hold: each version but the last is superseded.
func Superseded(evs []Event) map[string]string {
	var out map[string]string
	for i := range evs {
		y := &evs[i]
		if y.Supersedes == "" || y.Supersedes == y.ID {
			continue
		}
		for j := range evs {
			x := &evs[j]
			if x.ID == y.Supersedes && x.Type == y.Type && x.CaseID == y.CaseID {
				if out == nil {
					out = map[string]string{}
				}
				out[x.ID] = y.ID
				break
			}
		}
	}
	return out
}

// Live returns evs without the events a correction supersedes (Superseded), in order.
func Live(evs []Event) []Event {
	sup := Superseded(evs)
	if len(sup) == 0 {
		return evs
	}
	out := make([]Event, 0, len(evs)-len(sup))
	for _, e := range evs {
		if _, gone := sup[e.ID]; !gone {
			out = append(out, e)
		}
	}
	return out
}

// Flow returns the event's direction on the H-shaped platform.
func (e *Event) Flow() Flow {
	switch e.Type {
	case CaseReported:
		if e.Source == "hotline12345" {
			return FlowHorizontal
		}
		return FlowUp
	case WhistleBlown:
		return FlowUp
	case CaseDispatched, WhistleAnswered:
		return FlowDown
	}
	return FlowNone
}

// Private holds an event's personal fields, split off by the aggregator so that the live path
// never carries them.
type Private struct {
	Reporter *Reporter
	Address  string
	Summary  string
}

// SplitPII returns a copy of e without personal fields, and those fields.
func (e *Event) SplitPII() (Event, Private) {
	pub := *e
	p := Private{Reporter: e.Reporter, Address: e.Address, Summary: e.Summary}
	pub.Reporter, pub.Address, pub.Summary = nil, "", ""
	return pub, p
}

// HasPII reports whether any personal field is set.
func (p Private) HasPII() bool {
	return p.Reporter != nil || p.Address != "" || p.Summary != ""
}

// HasPII reports whether any of e's personal fields is set.
func (e *Event) HasPII() bool {
	return Private{Reporter: e.Reporter, Address: e.Address, Summary: e.Summary}.HasPII()
}
