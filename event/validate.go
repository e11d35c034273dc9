package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
	"unicode/utf8"

	gojson "github.com/goccy/go-json"
)

// Rules are the configurable parts of validation.
type Rules struct {
	Sources      map[string]bool // allowed source codes
	Categories   map[string]bool // taxonomy codes (一模块)
	WhistleKinds map[string]bool
	FutureSkew   time.Duration          // events further in the future are rejected (default 5m)
	KnownRegion  func(code string) bool // nil: any region code is accepted
	MaxLineBytes int                    // one line's size limit (default 64 KiB)
	// Earliest is the earliest time an event (or its deadline) may carry (default 2000-01-01).
	Earliest time.Time
	MaxDepts int // departments one whistle may summon (default 32)
	// KnownCategory, when set, decides instead of Categories (a catalogue that may be reloaded).
	KnownCategory func(code string) bool
	// KnownStaff, when set, tells the grid staff ids accepted on staff.duty (the roster's);
	// nil: any.
	KnownStaff func(id string) bool
	// KnownSubject, when set, tells the survey subjects accepted (the roster's cadre ids and
	// unit codes); nil: any.
	KnownSubject func(id string) bool
}

// MaxDeptLen is the longest department code or name, in characters.
const MaxDeptLen = 64

// DefaultSources, DefaultCategories and DefaultWhistleKinds are the contract's codes.
var (
	DefaultSources      = []string{"hotline12345", "grid", "app", "sensor", "police110", "center"}
	DefaultCategories   = []string{"dispute", "security", "safety", "environment", "cityorder", "livelihood", "petition"}
	DefaultWhistleKinds = []string{"advance", "tough", "emergency"}
)

// DefaultRules returns the contract's rules.
func DefaultRules() Rules {
	return Rules{
		Sources:      set(DefaultSources),
		Categories:   set(DefaultCategories),
		WhistleKinds: set(DefaultWhistleKinds),
		FutureSkew:   5 * time.Minute,
		MaxLineBytes: 64 << 10,
		Earliest:     time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
		MaxDepts:     32,
	}
}

func (r *Rules) knownCategory(code string) bool {
	if r.KnownCategory != nil {
		return r.KnownCategory(code)
	}
	return r.Categories[code]
}

func set(xs []string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}

// FieldError names the field and the reason of a rejection ("location.lat: out of range").
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

func ferr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// wire is the JSON shape before validation: times stay strings so their errors can be named.
type wire struct {
	ID           string          `json:"id"`
	Type         string          `json:"type"`
	CaseID       string          `json:"case_id"`
	At           string          `json:"at"`
	Source       string          `json:"source"`
	Category     string          `json:"category"`
	Priority     string          `json:"priority"`
	Location     *Location       `json:"location"`
	Region       string          `json:"region"`
	Address      string          `json:"address"`
	Dept         string          `json:"dept"`
	Deadline     string          `json:"deadline"`
	WhistleID    string          `json:"whistle_id"`
	WhistleKind  string          `json:"whistle_kind"`
	Depts        []string        `json:"depts"`
	Stage        string          `json:"stage"`
	Score        json.RawMessage `json:"score"`
	Satisfaction string          `json:"satisfaction"`
	Reporter     *Reporter       `json:"reporter"`
	Summary      string          `json:"summary"`
	CloseReason  string          `json:"close_reason"`
	CategoryText string          `json:"category_text"`
	Supersedes   string          `json:"supersedes"`
	Survey       *surveyWire     `json:"survey"`
	Duty         *Duty           `json:"duty"`
}

type surveyWire struct {
	EvaluatorType string   `json:"evaluator_type"`
	Dimension     string   `json:"dimension"`
	Score         *float64 `json:"score"`
	Scale         string   `json:"scale"`
	Period        string   `json:"period"`
	Subject       string   `json:"subject"`
	Rater         string   `json:"rater"`
}

// Decode parses one JSON event and validates it against r at time now. On failure it returns a
// *FieldError and, when it could be read, the event's id (for the per-line report).
func Decode(line []byte, r *Rules, now time.Time) (Event, string, error) {
	if r.MaxLineBytes > 0 && len(line) > r.MaxLineBytes {
		return Event{}, "", ferr("line", "too long (%d bytes, max %d)", len(line), r.MaxLineBytes)
	}
	if len(line) == 0 || line[0] != '{' {
		return Event{}, "", ferr("line", "must be a JSON object")
	}
	var w wire
	// go-json is a drop-in for encoding/json, about twice as fast on this hot path, but not
	// safe on malformed escapes: on a key ending in a dangling or unknown escape (`{"\`,
	// `{"\0`) it reads past the line into a pooled buffer left by an earlier decode, and can
	// panic or decode those bytes. So a line holding a backslash is checked with
	// encoding/json's scanner first (a third of the decode's cost, see BenchmarkDecode; lines
	// of raw UTF-8 text without escapes skip it), and a panic in go-json falls back to
	// encoding/json.
	if bytes.IndexByte(line, '\\') >= 0 && !json.Valid(line) {
		return Event{}, "", jsonErr(json.Unmarshal(line, &w))
	}
	if err := unmarshalFast(line, &w); err != nil {
		// Rare path: encoding/json names the field precisely ("location.lat").
		w = wire{}
		if err2 := json.Unmarshal(line, &w); err2 != nil {
			err = err2
		}
		return Event{}, w.ID, jsonErr(err)
	}
	ev, err := fromWire(&w, r, now)
	return ev, w.ID, err
}

// unmarshalFast decodes a well-formed line with go-json, or with encoding/json if go-json
// panics.
func unmarshalFast(line []byte, w *wire) (err error) {
	defer func() {
		if recover() != nil {
			*w = wire{}
			err = json.Unmarshal(line, w)
		}
	}()
	return gojson.Unmarshal(line, w)
}

// FromJSON validates an already-split JSON value (used for JSON array bodies).
func FromJSON(raw json.RawMessage, r *Rules, now time.Time) (Event, string, error) {
	return Decode(raw, r, now)
}

func jsonErr(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		f := te.Field
		if f == "" {
			f = "line"
		}
		return ferr(f, "expected %s, got %s", jsonKind(te.Type.String()), te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return ferr("line", "invalid JSON at byte %d: %v", se.Offset, se)
	}
	return ferr("line", "invalid JSON: %v", err)
}

// jsonKind names a Go type the way a JSON sender understands it.
func jsonKind(goType string) string {
	switch goType {
	case "string":
		return "string"
	case "float64", "int", "int64", "*float64":
		return "number"
	case "[]string":
		return "array of strings"
	}
	if len(goType) > 0 && goType[0] == '*' || goType == "event.Location" || goType == "event.Reporter" || goType == "event.Duty" {
		return "object"
	}
	return goType
}

func validID(s string) bool {
	if len(s) < 1 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

func parseTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, ferr(field, "required")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, ferr(field, "not an RFC 3339 time with offset")
	}
	return t, nil
}

func fromWire(w *wire, r *Rules, now time.Time) (Event, error) {
	var e Event
	switch {
	case w.ID == "":
		return e, ferr("id", "required")
	case len(w.ID) > 64:
		return e, ferr("id", "too long (max 64)")
	case !validID(w.ID):
		return e, ferr("id", "invalid characters (allowed: A-Z a-z 0-9 . _ : -)")
	}
	t := Type(w.Type)
	if w.Type == "" {
		return e, ferr("type", "required")
	}
	if !t.Known() {
		return e, ferr("type", "unknown type %q", w.Type)
	}
	switch {
	case w.CaseID == "" && t.Caseless(): // a survey or duty record belongs to no case
	case w.CaseID == "":
		return e, ferr("case_id", "required")
	case len(w.CaseID) > 64:
		return e, ferr("case_id", "too long (max 64)")
	case !utf8.ValidString(w.CaseID):
		return e, ferr("case_id", "not valid UTF-8")
	}
	at, err := parseTime("at", w.At)
	if err != nil {
		return e, err
	}
	if skew := r.FutureSkew; skew > 0 && at.After(now.Add(skew)) {
		return e, ferr("at", "more than %s in the future", skew)
	}
	if !r.Earliest.IsZero() && at.Before(r.Earliest) {
		return e, ferr("at", "before %s", r.Earliest.Format("2006-01-02"))
	}
	e = Event{ID: w.ID, Type: t, CaseID: w.CaseID, At: at, Source: w.Source, Category: w.Category,
		Priority: w.Priority, Location: w.Location, Region: w.Region, Address: w.Address, Dept: w.Dept,
		WhistleID: w.WhistleID, WhistleKind: w.WhistleKind, Depts: w.Depts, Stage: w.Stage,
		Satisfaction: w.Satisfaction, Reporter: w.Reporter, Summary: w.Summary,
		CloseReason: w.CloseReason, CategoryText: w.CategoryText, Supersedes: w.Supersedes}

	if e.Source != "" && !r.Sources[e.Source] {
		return e, ferr("source", "unknown source %q", e.Source)
	}
	if e.Category != "" && e.Category != CategoryUnmapped && !r.knownCategory(e.Category) {
		return e, ferr("category", "unknown category %q", e.Category)
	}
	switch e.Priority {
	case "":
		e.Priority = "normal"
	case "normal", "urgent", "critical":
	default:
		return e, ferr("priority", "must be normal, urgent or critical")
	}
	if l := e.Location; l != nil {
		if math.IsNaN(l.Lon) || l.Lon < -180 || l.Lon > 180 {
			return e, ferr("location.lon", "out of range")
		}
		if math.IsNaN(l.Lat) || l.Lat < -90 || l.Lat > 90 {
			return e, ferr("location.lat", "out of range")
		}
		switch l.CRS {
		case "":
			l.CRS = WGS84
		case WGS84, GCJ02, BD09:
		default:
			return e, ferr("location.crs", "must be wgs84, gcj02 or bd09")
		}
	}
	if e.Region != "" && r.KnownRegion != nil && !r.KnownRegion(e.Region) {
		return e, ferr("region", "unknown region code %q", e.Region)
	}
	if n := utf8.RuneCountInString(e.Address); n > 200 {
		return e, ferr("address", "too long (%d chars, max 200)", n)
	}
	if n := utf8.RuneCountInString(e.Summary); n > 2000 {
		return e, ferr("summary", "too long (%d chars, max 2000)", n)
	}
	if w.Deadline != "" {
		d, err := parseTime("deadline", w.Deadline)
		if err != nil {
			return e, err
		}
		if !r.Earliest.IsZero() && d.Before(r.Earliest) || d.After(now.AddDate(10, 0, 0)) {
			return e, ferr("deadline", "out of range (%s to ten years ahead)", r.Earliest.Format("2006-01-02"))
		}
		e.Deadline = &d
	}
	if n := utf8.RuneCountInString(e.Dept); n > MaxDeptLen {
		return e, ferr("dept", "too long (%d chars, max %d)", n, MaxDeptLen)
	}
	if r.MaxDepts > 0 && len(e.Depts) > r.MaxDepts {
		return e, ferr("depts", "%d departments, at most %d", len(e.Depts), r.MaxDepts)
	}
	if rp := e.Reporter; rp != nil {
		for _, f := range []struct {
			name, v string
			max     int
		}{{"reporter.name", rp.Name, 64}, {"reporter.phone", rp.Phone, 32}, {"reporter.id_number", rp.IDNumber, 32}} {
			if n := utf8.RuneCountInString(f.v); n > f.max {
				return e, ferr(f.name, "too long (%d chars, max %d)", n, f.max)
			}
		}
	}
	if len(w.Score) > 0 && string(w.Score) != "null" {
		var s float64
		if err := gojson.Unmarshal(w.Score, &s); err != nil || s != math.Trunc(s) {
			return e, ferr("score", "must be an integer 1-5")
		}
		if s < 1 || s > 5 {
			return e, ferr("score", "out of range (1-5)")
		}
		e.Score = int(s)
	}
	switch e.Satisfaction {
	case "", "satisfied", "basically", "unsatisfied":
	default:
		return e, ferr("satisfaction", "must be satisfied, basically or unsatisfied")
	}
	if e.CloseReason != "" {
		if t != CaseClosed {
			return e, ferr("close_reason", "only on case.closed")
		}
		if !slices.Contains(CloseReasons, e.CloseReason) {
			return e, ferr("close_reason", "must be not_fixed, duplicate, transferred or cancelled")
		}
	}
	if e.CategoryText != "" {
		if t != CaseReported {
			return e, ferr("category_text", "only on case.reported")
		}
		if n := utf8.RuneCountInString(e.CategoryText); n > MaxCategoryText {
			return e, ferr("category_text", "too long (%d chars, max %d)", n, MaxCategoryText)
		}
	}

	if e.Supersedes != "" {
		switch {
		case !t.Corrigible():
			return e, ferr("supersedes", "only on case events, evaluation.survey and staff.duty")
		case !validID(e.Supersedes):
			return e, ferr("supersedes", "not an event id (1-64 chars: A-Z a-z 0-9 . _ : -)")
		case e.Supersedes == e.ID:
			return e, ferr("supersedes", "an event cannot supersede itself")
		}
	}

	if w.Survey != nil && t != EvaluationSurvey {
		return e, ferr("survey", "only on evaluation.survey")
	}
	if t == EvaluationSurvey {
		sv, err := surveyOf(w.Survey, r)
		if err != nil {
			return e, err
		}
		e.Survey = sv
	}

	if w.Duty != nil && t != StaffDuty {
		return e, ferr("duty", "only on staff.duty")
	}
	if t == StaffDuty {
		du, err := dutyOf(w.Duty, r)
		if err != nil {
			return e, err
		}
		e.Duty = du
	}

	// Per-type requirements.
	switch t {
	case CaseReported:
		if e.Source == "" {
			return e, ferr("source", "required on case.reported")
		}
		if e.Category == "" {
			return e, ferr("category", "required on case.reported")
		}
		// Neither location nor region: an unlocated case (未定位), counted for its department
		// and at the root like a point outside every region.
	case CaseDispatched:
		if e.Dept == "" {
			return e, ferr("dept", "required on case.dispatched")
		}
		// Without a deadline the dispatch counts for its department everywhere, and the case is
		// left out of on-time rates and overdue clocks (no deadline to be late against).
	case CaseSigned, CaseReturned:
		if e.Dept == "" {
			return e, ferr("dept", "required on %s", t)
		}
	}
	if t == WhistleBlown || t == WhistleAnswered || t == WhistleResolved || t == WhistleEvaluated {
		if e.WhistleID == "" {
			return e, ferr("whistle_id", "required on %s", t)
		}
		if len(e.WhistleID) > 64 {
			return e, ferr("whistle_id", "too long (max 64)")
		}
	}
	switch t {
	case WhistleBlown:
		if e.WhistleKind == "" {
			return e, ferr("whistle_kind", "required on whistle.blown")
		}
		if !r.WhistleKinds[e.WhistleKind] {
			return e, ferr("whistle_kind", "unknown whistle kind %q", e.WhistleKind)
		}
		if len(e.Depts) == 0 {
			return e, ferr("depts", "required on whistle.blown (at least one department)")
		}
		seen := make(map[string]bool, len(e.Depts))
		for i, d := range e.Depts {
			if d == "" {
				return e, ferr(fmt.Sprintf("depts[%d]", i), "empty department code")
			}
			if n := utf8.RuneCountInString(d); n > MaxDeptLen {
				return e, ferr(fmt.Sprintf("depts[%d]", i), "too long (%d chars, max %d)", n, MaxDeptLen)
			}
			if seen[d] {
				return e, ferr(fmt.Sprintf("depts[%d]", i), "department %q given twice", d)
			}
			seen[d] = true
		}
	case WhistleAnswered:
		if e.Dept == "" {
			return e, ferr("dept", "required on whistle.answered")
		}
		switch e.Stage {
		case "signed", "contacted", "arrived":
		case "":
			return e, ferr("stage", "required on whistle.answered")
		default:
			return e, ferr("stage", "must be signed, contacted or arrived")
		}
	case WhistleEvaluated:
		if e.Dept == "" {
			return e, ferr("dept", "required on whistle.evaluated")
		}
		if e.Score == 0 {
			return e, ferr("score", "required on whistle.evaluated")
		}
	}
	return e, nil
}

// surveyOf validates the survey object of an evaluation.survey record.
func surveyOf(w *surveyWire, r *Rules) (*Survey, error) {
	if w == nil {
		return nil, ferr("survey", "required on evaluation.survey")
	}
	if w.EvaluatorType == "" {
		return nil, ferr("survey.evaluator_type", "required")
	}
	if !slices.Contains(EvaluatorTypes, w.EvaluatorType) {
		return nil, ferr("survey.evaluator_type", "must be superior, head, team, middle or served")
	}
	if w.Dimension == "" {
		return nil, ferr("survey.dimension", "required")
	}
	if !slices.Contains(Dimensions, w.Dimension) {
		return nil, ferr("survey.dimension", "must be performance, responsibility, teamwork, leadership or purpose")
	}
	if w.Scale == "" {
		return nil, ferr("survey.scale", "required (e.g. \"0-100\" or \"1-5\")")
	}
	lo, hi, ok := ParseScale(w.Scale)
	if !ok {
		return nil, ferr("survey.scale", "must be \"min-max\", integers with 0 ≤ min < max ≤ 1000")
	}
	if w.Score == nil {
		return nil, ferr("survey.score", "required")
	}
	sc := *w.Score
	if math.IsNaN(sc) || sc < float64(lo) || sc > float64(hi) {
		return nil, ferr("survey.score", "out of the scale %s", w.Scale)
	}
	if w.Period == "" {
		return nil, ferr("survey.period", "required")
	}
	if _, _, ok := ParsePeriod(w.Period); !ok {
		return nil, ferr("survey.period", "must be a quarter (2026-Q3) or a month (2026-11)")
	}
	switch {
	case w.Subject == "":
		return nil, ferr("survey.subject", "required")
	case len(w.Subject) > 64 || !utf8.ValidString(w.Subject):
		return nil, ferr("survey.subject", "too long (max 64) or not valid UTF-8")
	case r.KnownSubject != nil && !r.KnownSubject(w.Subject):
		return nil, ferr("survey.subject", "not a cadre id or unit code of the roster: %q", w.Subject)
	}
	switch {
	case w.Rater == "":
		return nil, ferr("survey.rater", "required")
	case !validID(w.Rater):
		return nil, ferr("survey.rater", "not a rater id (1-64 chars: A-Z a-z 0-9 . _ : -)")
	}
	return &Survey{EvaluatorType: w.EvaluatorType, Dimension: w.Dimension, Score: sc, Scale: w.Scale,
		Period: w.Period, Subject: w.Subject, Rater: w.Rater}, nil
}

// dutyOf validates the duty object of a staff.duty record.
func dutyOf(w *Duty, r *Rules) (*Duty, error) {
	switch {
	case w == nil:
		return nil, ferr("duty", "required on staff.duty")
	case w.Staff == "":
		return nil, ferr("duty.staff", "required")
	case !validID(w.Staff):
		return nil, ferr("duty.staff", "not a staff id (1-64 chars: A-Z a-z 0-9 . _ : -)")
	case r.KnownStaff != nil && !r.KnownStaff(w.Staff):
		return nil, ferr("duty.staff", "not a grid staff id of the roster: %q", w.Staff)
	case w.Grid == "":
		return nil, ferr("duty.grid", "required")
	case len(w.Grid) > 64 || !utf8.ValidString(w.Grid):
		return nil, ferr("duty.grid", "too long (max 64) or not valid UTF-8")
	case r.KnownRegion != nil && !r.KnownRegion(w.Grid):
		return nil, ferr("duty.grid", "unknown region code %q", w.Grid)
	}
	switch w.State {
	case DutyOn, DutyOff:
	case "":
		return nil, ferr("duty.state", "required")
	default:
		return nil, ferr("duty.state", "must be on or off")
	}
	d := *w
	return &d, nil
}
