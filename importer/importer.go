// Package importer backfills case history from a source system's export through the ingest API
// of a running server (`zhili import cases`). Every row (a CSV row, or an element of an Open311
// requests.json) is one case; it becomes up to four contract events whose ids are derived from
// the case id, so importing the same file again is reported as duplicates and never counted
// twice. docs/IMPORT.md describes the presets, the mapping tables and every rule below.
//
// Event ids: "<case id>:reported", ":dispatched", ":resolved", ":closed"; a correction sent
// with Options.Replace adds ".v2", ".v3"… and names the version it supersedes (the case id
// stays the source's). A case id that is not a valid event id prefix
// (characters outside [A-Za-z0-9._:-], or longer than 52 bytes) is replaced in the event ids
// by "h" + 16 hex digits of its SHA-256 (still deterministic); case_id keeps the original.
//
// Categories: a row's category is looked up in Options.Categories, else given to the preset's
// CategoryOf, else (no CategoryOf) normalized by NormalizeCategory (a code as written,
// "Environment" → "environment"). A value that gives no code is sent as "unmapped" with the
// source's wording in category_text (Options.Strict: the row is refused instead), and so is a
// code the server refuses. category_text carries the wording whenever it differs from the code.
package importer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"zhili/calendar"
)

// Mapping names the columns of each case field ("" = the column is absent) and how to read
// their values.
type Mapping struct {
	ID, Created, Dispatched, Resolved, Closed, Updated, Dept, Category, Region, District string
	Lon, Lat, Address, Summary, Due, Source, Status, Resolution, Satisfaction            string

	// Alt lists other header spellings per field (key as in Fields), tried in order when the
	// column is not in the header.
	Alt map[string][]string
	// Optional fields may be missing from the header (listed in the report); any other mapped
	// column must be there. The id and created columns are always required.
	Optional []string

	// TZ is the time zone of timestamps written without an offset (nil: time.Local).
	TZ *time.Location
	// CRS of the coordinates: wgs84 (""), gcj02 or bd09.
	CRS string
	// SourceValue is the event's source when there is no Source column or it is empty
	// (default "hotline12345").
	SourceValue string
	// RegionOf transforms the region column's value into a region code (nil: used as is; ""
	// result: no region).
	RegionOf func(string) string
	// RegionNames says the region and district columns hold names, turned into codes with
	// Options.Regions.
	RegionNames bool
	// CategoryOf transforms the category column's value into a taxonomy code ("": none; nil:
	// NormalizeCategory).
	CategoryOf func(string) string
	// StatusOf reads the status (and resolution) columns into an outcome; ok false for a
	// status it does not know. Nil, or no status column: the outcome follows the times.
	StatusOf func(status, resolution string) (Outcome, bool)
	// DueAfter, when positive, invents the deadline created + DueAfter for a dispatch without a
	// usable due time. Zero (the default): such a dispatch is sent without a deadline.
	DueAfter time.Duration
}

// Fields lists the mapping's column keys as accepted by Set (and by the CLI's --map).
var Fields = []string{"id", "created", "dispatched", "resolved", "closed", "updated", "dept", "category",
	"region", "district", "lon", "lat", "address", "summary", "due", "source", "status", "resolution", "satisfaction"}

func (m *Mapping) col(field string) *string {
	switch field {
	case "id":
		return &m.ID
	case "created":
		return &m.Created
	case "dispatched":
		return &m.Dispatched
	case "resolved":
		return &m.Resolved
	case "closed":
		return &m.Closed
	case "updated":
		return &m.Updated
	case "dept":
		return &m.Dept
	case "category":
		return &m.Category
	case "region":
		return &m.Region
	case "district":
		return &m.District
	case "lon":
		return &m.Lon
	case "lat":
		return &m.Lat
	case "address":
		return &m.Address
	case "summary":
		return &m.Summary
	case "due":
		return &m.Due
	case "source":
		return &m.Source
	case "status":
		return &m.Status
	case "resolution":
		return &m.Resolution
	case "satisfaction":
		return &m.Satisfaction
	}
	return nil
}

// Set maps field (one of Fields) to a column; column "" makes the field absent. A column named
// this way is required, and replaces the preset's other spellings.
func (m *Mapping) Set(field, column string) error {
	p := m.col(field)
	if p == nil {
		return fmt.Errorf("unknown field %q (known: %s)", field, strings.Join(Fields, ", "))
	}
	*p = column
	if _, ok := m.Alt[field]; ok {
		alt := make(map[string][]string, len(m.Alt))
		for k, v := range m.Alt {
			if k != field {
				alt[k] = v
			}
		}
		m.Alt = alt
	}
	m.Optional = slices.DeleteFunc(slices.Clone(m.Optional), func(f string) bool { return f == field })
	return nil
}

func (m *Mapping) colName(field string) string {
	if p := m.col(field); p != nil && *p != "" {
		return *p
	}
	return field
}

// Options say where and how to send.
type Options struct {
	URL, Key string        // server base URL (…/api/v1/events is appended) and ingest key
	Batch    int           // lines per request (default 2000); a request is also cut at 4 MiB
	Client   *http.Client  // default: a client with a 2-minute timeout
	RetryFor time.Duration // how long 503s and network errors are retried before giving up (default 1 min)

	// Progress receives rows and events with their rates and the estimated time left: one line
	// redrawn in place on a terminal, a plain line every ProgressEvery (default 10 s)
	// otherwise. Nil: none.
	Progress      io.Writer
	ProgressEvery time.Duration

	// Format of the input: FormatCSV (default) or FormatOpen311 (a GeoReport v2 requests.json).
	Format string
	// Categories maps source category values to the deployment's codes.
	Categories *CategoryMap
	// Statuses maps status values to outcomes before the preset's StatusOf.
	Statuses StatusMap
	// Strict refuses a row whose category maps to no code (row error naming the value)
	// instead of sending it as unmapped.
	Strict bool
	// Replace compares every event with the server's history (POST /api/v1/events/versions)
	// and sends a changed one as a correction superseding the version in force, under the next
	// revision id (docs/IMPORT.md); an unchanged one is not sent (counted as a duplicate).
	Replace bool
	// NullPoints are a source's placeholder points for "unknown" (within 1 m); (0,0) always is.
	// Such a point is sent as no location.
	NullPoints []Point
	// Bounds of plausible points (the file's coordinates); a point outside is sent as no
	// location. Nil: Regions' box (widened by 0.02°) when Regions is set, else no bound.
	Bounds *Bounds
	// Regions turns recorded region names into codes (presets with RegionNames).
	Regions *Gazetteer
}

// RowError is one problem of one row. Row is the 1-based data row (the header excluded: the
// first row after the header is 1); Line is the line of the file where that row starts (the
// header is line 1; for JSON input, the array element). Problems found locally have EventID ""
// when they concern the whole row and name the column in Field; rejections by the server name
// the event field. A warning leaves the row imported, as its text says.
type RowError struct {
	Row     int
	Line    int
	CaseID  string
	EventID string
	Field   string
	Error   string
	Warning bool
	Kind    string // what for counting: e.g. "time_gap", "null_point", "invalid:category"
}

// Report is the outcome of an import. Rows are data rows read; Cases rows sent (a valid id and
// created time; a row without a place goes as an unlocated case); Imported those whose report the server holds (accepted now or
// before); Events distinct events sent, each ending accepted, duplicate or rejected (a refusal
// the importer could correct, such as an unknown category, is sent again and counted once).
type Report struct {
	Rows, Cases, Events, Accepted, Duplicates int
	Errors                                    []RowError

	Imported int
	// Unlocated counts the imported rows sent with neither a point nor a region: unlocated
	// cases (未定位), counted for their department (each has an "unlocated" warning).
	Unlocated int
	Skipped   map[string]int // rows not sent, by kind
	Rejected  map[string]int // events the server refused, by code and field
	Warnings  map[string]int // by kind
	Sent      map[string]int // events sent, by type
	Replaced  int            // corrections the server took, each superseding an event it held with other content
	Unmapped  map[string]int // category values sent as unmapped (or refused, Strict), by value

	Columns        map[string]string // field → the header used
	MissingColumns []string          // optional fields whose column is not in the file
	Elapsed        time.Duration
}

// Event types.
const (
	typeReported   = "case.reported"
	typeDispatched = "case.dispatched"
	typeResolved   = "case.resolved"
	typeClosed     = "case.closed"
)

type location struct {
	Lon float64 `json:"lon"`
	Lat float64 `json:"lat"`
	CRS string  `json:"crs,omitempty"`
}

// wireEvent is the contract's JSON shape of the events the importer sends.
type wireEvent struct {
	ID           string    `json:"id"`
	Type         string    `json:"type"`
	CaseID       string    `json:"case_id"`
	At           string    `json:"at"`
	Source       string    `json:"source,omitempty"`
	Category     string    `json:"category,omitempty"`
	CategoryText string    `json:"category_text,omitempty"`
	Location     *location `json:"location,omitempty"`
	Region       string    `json:"region,omitempty"`
	Address      string    `json:"address,omitempty"`
	Dept         string    `json:"dept,omitempty"`
	Deadline     string    `json:"deadline,omitempty"`
	Satisfaction string    `json:"satisfaction,omitempty"`
	CloseReason  string    `json:"close_reason,omitempty"`
	Summary      string    `json:"summary,omitempty"`
	Supersedes   string    `json:"supersedes,omitempty"`
}

func validIDPrefix(s string) bool {
	if len(s) == 0 || len(s) > 52 {
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

func hashPrefix(caseID string) string {
	h := sha256.Sum256([]byte(caseID))
	return "h" + hex.EncodeToString(h[:8])
}

// EventID returns the id of the event of kind ("reported", "dispatched", …) of a case.
func EventID(caseID, kind string) string {
	if !validIDPrefix(caseID) {
		caseID = hashPrefix(caseID)
	}
	return caseID + ":" + kind
}

// RevisionID is the id of revision rev (2, 3, …) of a case's event of kind: EventID + ".v<rev>",
// on the hashed prefix when that would pass the contract's 64 characters. Revision 1 is EventID.
// (Importers before corrections were superseding sent ".r<rev>" ids, which supersede nothing.)
func RevisionID(caseID, kind string, rev int) string {
	id := EventID(caseID, kind)
	if rev <= 1 {
		return id
	}
	suffix := ".v" + strconv.Itoa(rev)
	if len(id)+len(suffix) > 64 {
		id = hashPrefix(caseID) + ":" + kind
	}
	return id + suffix
}

// maxRevision bounds the revisions tried for one event.
const maxRevision = 50

// normHeader is the lenient form of a header: lowercased, without spaces, "_", "-" and
// brackets.
func normHeader(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(s)) {
		switch r {
		case ' ', '_', '-', '(', ')', '（', '）', '\u3000', '\t':
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// resolveColumns finds each mapped field's column in header.
func resolveColumns(header []string, m Mapping) (idx map[string]int, used map[string]string, missing []string, err error) {
	exact := map[string]int{}
	norm := map[string]int{}
	for i, h := range header {
		if _, dup := exact[h]; !dup {
			exact[h] = i
		}
		if n := normHeader(h); n != "" {
			if _, dup := norm[n]; !dup {
				norm[n] = i
			}
		}
	}
	idx, used = map[string]int{}, map[string]string{}
	var absent []string
	for _, f := range Fields {
		c := *m.col(f)
		if c == "" {
			continue
		}
		cands := append([]string{c}, m.Alt[f]...)
		found := -1
		for _, x := range cands {
			if i, ok := exact[x]; ok {
				found = i
				break
			}
		}
		if found < 0 {
			for _, x := range cands {
				if i, ok := norm[normHeader(x)]; ok {
					found = i
					break
				}
			}
		}
		if found >= 0 {
			idx[f], used[f] = found, header[found]
			continue
		}
		if f != "id" && f != "created" && slices.Contains(m.Optional, f) {
			missing = append(missing, f)
			continue
		}
		absent = append(absent, fmt.Sprintf("%q (%s)", c, f))
	}
	if len(absent) > 0 {
		return nil, nil, nil, fmt.Errorf("column(s) %s not in the header (have: %s); map them with --map FIELD=COLUMN or FIELD= to leave out",
			strings.Join(absent, ", "), strings.Join(header, ", "))
	}
	return idx, used, missing, nil
}

// builder turns records into events.
type builder struct {
	m      Mapping
	opt    *Options
	idx    map[string]int
	bounds *Bounds
	rep    *Report
	cal    func() *calendar.Calendar
}

func (b *builder) get(rec []string, field string) string {
	i, ok := b.idx[field]
	if !ok || i >= len(rec) {
		return ""
	}
	return strings.TrimSpace(rec[i])
}

// category returns the code of a source value, and whether it has one.
func (b *builder) category(raw string) (string, bool) {
	if raw == "" {
		return CategoryUnmapped, false
	}
	if c, ok := b.opt.Categories.Lookup(raw); ok {
		return c, c != CategoryUnmapped
	}
	if b.m.CategoryOf != nil {
		if c := b.m.CategoryOf(raw); c != "" {
			return c, true
		}
		return CategoryUnmapped, false
	}
	c := NormalizeCategory(raw)
	if c == "" || b.opt.Categories != nil && !b.opt.Categories.codes[c] {
		return CategoryUnmapped, false
	}
	return c, true
}

// outcome reads the status columns (Options.Statuses first, then the preset).
func (b *builder) outcome(status, resolution string) (Outcome, bool) {
	if o, ok := b.opt.Statuses[foldKey(status)]; ok {
		return o, true
	}
	if b.m.StatusOf == nil {
		return "", false
	}
	return b.m.StatusOf(status, resolution)
}

// item is one event to send, with the row it comes from.
type item struct {
	ev        wireEvent
	row, line int
	kind      string // reported, dispatched, resolved, closed
	rev       int    // revision (1: the plain id)
	raw       string // the category's source value (reports)
	unlocated bool   // a report sent with neither a point nor a region
	// Replace: checked once compared with the server's history (revise); recheck when the
	// server held it without having stored it yet; supersedes the version this corrects.
	checked, recheck bool
	supersedes       string
}

// build turns one record into events; problems found locally are returned as row errors
// (skip: the row is not sent).
func (b *builder) build(rec []string, row, line int) (items []item, errs []RowError, skip bool) {
	m := b.m
	caseID := b.get(rec, "id")
	issue := func(warn bool, kind, evtID, field, format string, args ...any) {
		errs = append(errs, RowError{Row: row, Line: line, CaseID: caseID, EventID: evtID, Field: field,
			Error: fmt.Sprintf(format, args...), Warning: warn, Kind: kind})
	}
	refuse := func(kind, field, format string, args ...any) ([]item, []RowError, bool) {
		errs = errs[:0] // a skipped row gets its one error, not the warnings of an import
		issue(false, kind, "", field, format, args...)
		return nil, errs, true
	}
	if caseID == "" {
		return refuse("id_missing", m.ID, "case id missing: row skipped")
	}
	if len(caseID) > 64 || !utf8.ValidString(caseID) {
		return refuse("id_invalid", m.ID, "case id longer than 64 bytes or not UTF-8: row skipped")
	}
	// readTime reads a time column, noting a daylight-saving choice.
	readTime := func(field, evtID string) (time.Time, bool, error) {
		s := b.get(rec, field)
		if s == "" {
			return time.Time{}, false, nil
		}
		t, note, err := parseTime(s, m.TZ)
		if err != nil {
			return t, false, err
		}
		if note != nil {
			issue(true, note.kind, evtID, m.colName(field), "%s", note.detail)
		}
		return t, true, nil
	}
	created, ok, err := readTime("created", "")
	switch {
	case err != nil:
		return refuse("created_unreadable", m.Created, "%v (want RFC 3339 or 2006-01-02 15:04:05 in the import's time zone): row skipped", err)
	case !ok:
		return refuse("created_missing", m.Created, "created time missing: row skipped")
	}

	// Place: a plausible point, else the recorded region.
	repID := EventID(caseID, "reported")
	var loc *location
	var pointKind, pointWhy string // why a given point is not used
	lonS, latS := b.get(rec, "lon"), b.get(rec, "lat")
	if lonS != "" || latS != "" {
		lon, e1 := strconv.ParseFloat(lonS, 64)
		lat, e2 := strconv.ParseFloat(latS, 64)
		p := Point{Lat: lat, Lon: lon}
		null := lon == 0 && lat == 0
		for _, n := range b.opt.NullPoints {
			null = null || metres(p, n) <= nullPointTolerance
		}
		switch {
		case e1 != nil || e2 != nil || math.IsNaN(lat) || math.IsNaN(lon):
			pointKind, pointWhy = "coordinates_unreadable", fmt.Sprintf("coordinates %q,%q unreadable", latS, lonS)
		case math.Abs(lat) > 90 || math.Abs(lon) > 180:
			pointKind, pointWhy = "coordinates_out_of_range", fmt.Sprintf("coordinates %s,%s out of range (latitude and longitude swapped?)", latS, lonS)
		case null:
			pointKind, pointWhy = "null_point", fmt.Sprintf("point %s,%s is a placeholder for an unknown place", latS, lonS)
		case b.bounds != nil && !b.bounds.Contains(p):
			pointKind, pointWhy = "out_of_bounds", fmt.Sprintf("point %s,%s outside the plausible bounds %s", latS, lonS, b.bounds)
		default:
			loc = &location{Lon: lon, Lat: lat}
			if m.CRS != "" && m.CRS != "wgs84" {
				loc.CRS = m.CRS
			}
		}
	}
	region, why := b.region(rec)
	unlocated := loc == nil && region == ""
	if unlocated {
		// Sent without a place: an unlocated case (未定位), counted for its department. One
		// warning says all: the point not used, the region not known.
		var parts []string
		for _, x := range []string{pointWhy, why} {
			if x != "" {
				parts = append(parts, x)
			}
		}
		if len(parts) == 0 {
			parts = append(parts, "no point and no region")
		}
		issue(true, "unlocated", repID, m.colName("lat"), "%s: imported as unlocated (未定位: counted for its department, in the unlocated row of region audits)", strings.Join(parts, "; "))
	} else if pointWhy != "" {
		where := "sent without a location"
		if region != "" {
			where += ", placed in its recorded region " + region
		}
		issue(true, pointKind, repID, m.colName("lat"), "%s: %s", pointWhy, where)
	}
	if loc == nil && why != "" && !unlocated {
		issue(true, "region_unresolved", repID, m.colName("region"), "%s: placed in %s (the district)", why, region)
	}

	// Category.
	raw := b.get(rec, "category")
	code, mapped := b.category(raw)
	if !mapped {
		if b.opt.Strict {
			b.rep.Unmapped[raw]++
			if raw == "" {
				return refuse("category_unmapped", m.colName("category"), "no category (--strict): row skipped")
			}
			return refuse("category_unmapped", m.colName("category"), "category %q maps to no code (--strict; add it to --category-map): row skipped", raw)
		}
		b.rep.Unmapped[raw]++
		if raw == "" {
			issue(true, "category_unmapped", EventID(caseID, "reported"), m.colName("category"), "no category: sent as %s", CategoryUnmapped)
		} else {
			issue(true, "category_unmapped", EventID(caseID, "reported"), m.colName("category"), "category %q maps to no code: sent as %s with category_text", raw, CategoryUnmapped)
		}
	}
	text := truncate(raw, maxCategoryText)
	if text == code {
		text = ""
	}

	source := b.get(rec, "source")
	if source == "" {
		source = m.SourceValue
	}
	rep := wireEvent{ID: repID, Type: typeReported, CaseID: caseID, At: fmtTime(created),
		Source: source, Category: code, CategoryText: text, Location: loc, Region: region,
		Address: truncate(b.get(rec, "address"), 200), Summary: truncate(b.get(rec, "summary"), 2000)}
	items = append(items, item{ev: rep, kind: "reported", raw: raw, unlocated: unlocated})

	// Times of the later steps, each no earlier than the one before it (clamped and flagged).
	dept := b.get(rec, "dept")
	disID, resID, cloID := EventID(caseID, "dispatched"), EventID(caseID, "resolved"), EventID(caseID, "closed")
	dispatched := created
	if dept != "" && m.Dispatched != "" {
		t, ok, err := readTime("dispatched", disID)
		switch {
		case err != nil:
			issue(true, "time_unreadable", disID, m.colName("dispatched"), "%v: dispatched at the created time", err)
		case ok:
			dispatched = t
		}
	}
	var resolvedT, closedT, updatedT time.Time
	var hasResolved, hasClosed, hasUpdated bool
	for _, c := range []struct {
		field, id string
		t         *time.Time
		ok        *bool
	}{{"resolved", resID, &resolvedT, &hasResolved}, {"closed", cloID, &closedT, &hasClosed}, {"updated", cloID, &updatedT, &hasUpdated}} {
		t, ok, err := readTime(c.field, c.id)
		if err != nil {
			issue(true, "time_unreadable", c.id, m.colName(c.field), "%v: ignored", err)
			continue
		}
		*c.t, *c.ok = t, ok
	}

	// The outcome: the status when there is one the mapping knows, else the times.
	status := b.get(rec, "status")
	out, known := Outcome(""), false
	if status != "" {
		out, known = b.outcome(status, b.get(rec, "resolution"))
		if !known {
			issue(true, "status_unknown", "", m.colName("status"), "status %q unknown (add it to --status-map): the times decide", status)
		}
	}
	if !known {
		switch {
		case hasClosed:
			out = Fixed
		case hasResolved:
			out = Resolved
		default:
			out = Open
		}
	}
	if out == Open && (hasClosed || hasResolved) {
		issue(true, "status_open_with_end_time", "", m.colName("status"), "status %q says the case is open: its resolved/closed time is not sent", status)
	}
	if out == Resolved && hasClosed {
		issue(true, "status_open_with_end_time", cloID, m.colName("status"), "status %q says the case awaits its callback: case.closed not sent", status)
	}
	// The end: the closed time, else the last update (when the status ends the case), else the
	// resolved time.
	end, endFrom := closedT, "closed"
	hasEnd := hasClosed
	if !hasEnd && out.ends() && hasUpdated {
		end, endFrom, hasEnd = updatedT, "updated", true
	}
	if !hasEnd && hasResolved {
		end, endFrom, hasEnd = resolvedT, "resolved", true
	}
	resolvedFrom := "resolved"
	if !hasResolved {
		resolvedT, resolvedFrom = end, endFrom
	}
	if (out.ends() || out == Resolved) && !hasEnd {
		issue(true, "end_without_time", "", m.colName("status"), "status %q ends the case but the row has no closing time: the case stays open", status)
		out = Open
	}
	// Each step no earlier than the one before it: a later time is clamped and flagged once.
	clamp := func(t *time.Time, not time.Time, id, field, what string) {
		if t.Before(not) {
			issue(true, "time_order", id, m.colName(field), "%s time %s is before %s: clamped to %s", field, fmtTime(*t), what, fmtTime(not))
			*t = not
		}
	}
	if dept != "" {
		clamp(&dispatched, created, disID, "dispatched", "the created time")
	}
	if out != Open {
		base, what := created, "the created time"
		if dept != "" {
			base, what = dispatched, "the dispatch"
		}
		if out == Resolved || out == Fixed || out == NotFixed {
			clamp(&resolvedT, base, resID, resolvedFrom, what)
			if !hasResolved && end.Before(resolvedT) {
				end = resolvedT // the same column: flagged once
			}
			base, what = resolvedT, "the resolution"
		}
		if out.ends() {
			clamp(&end, base, cloID, endFrom, what)
		}
	}

	if dept != "" {
		// The dispatch is sent whenever the row names a department; its deadline only when the
		// row has a usable due time (or DueAfter invents one).
		dis := wireEvent{ID: disID, Type: typeDispatched, CaseID: caseID, At: fmtTime(dispatched), Dept: dept}
		var deadline time.Time
		if s := b.get(rec, "due"); s != "" {
			d, note, err := deadlineOf(s, dispatched, m.TZ, b.cal)
			switch {
			case err != nil:
				issue(true, "due_unusable", disID, m.colName("due"), "%v: case.dispatched sent without a deadline", err)
			case !d.After(dispatched):
				issue(true, "due_unusable", disID, m.colName("due"), "due time %s is not after the dispatch %s: case.dispatched sent without a deadline", fmtTime(d), fmtTime(dispatched))
			default:
				deadline = d
				if note != nil {
					issue(true, note.kind, disID, m.colName("due"), "%s", note.detail)
				}
			}
		}
		if deadline.IsZero() && m.DueAfter > 0 {
			deadline = dispatched.Add(m.DueAfter)
		}
		if !deadline.IsZero() {
			dis.Deadline = fmtTime(deadline)
		}
		items = append(items, item{ev: dis, kind: "dispatched"})
	}
	switch out {
	case Resolved, Fixed, NotFixed:
		items = append(items, item{ev: wireEvent{ID: resID, Type: typeResolved, CaseID: caseID, At: fmtTime(resolvedT)}, kind: "resolved"})
	}
	if out.ends() {
		clo := wireEvent{ID: cloID, Type: typeClosed, CaseID: caseID, At: fmtTime(end), CloseReason: out.closeReason()}
		if s := b.get(rec, "satisfaction"); s != "" {
			if v, ok := satisfactionOf(s); ok {
				clo.Satisfaction = v
			} else {
				issue(true, "satisfaction_unknown", cloID, m.colName("satisfaction"), "callback result %q unknown: case.closed sent without satisfaction", s)
			}
		}
		items = append(items, item{ev: clo, kind: "closed"})
	}
	for i := range items {
		items[i].row, items[i].line, items[i].rev = row, line, 1
	}
	return items, errs, false
}

// region returns the row's region code: the region column (through RegionOf, or by name with
// Options.Regions), else the district column; why says what could not be resolved.
func (b *builder) region(rec []string) (code, why string) {
	m := b.m
	district := b.get(rec, "district")
	var whys, names []string
	for _, f := range []string{"region", "district"} {
		v := b.get(rec, f)
		if v == "" || code != "" {
			continue
		}
		switch {
		case m.RegionOf != nil:
			if code = m.RegionOf(v); code == "" {
				whys = append(whys, fmt.Sprintf("%q is not a region code", v))
			}
		case !m.RegionNames:
			code = v
		case b.opt.Regions != nil:
			within := ""
			if f == "region" {
				within = district
			}
			c, w, ok := b.opt.Regions.Resolve(v, within)
			if ok {
				code = c
			} else {
				whys = append(whys, w)
			}
		case isDigits(v):
			code = v
		default:
			names = append(names, strconv.Quote(v))
		}
	}
	if len(names) > 0 {
		whys = append(whys, strings.Join(names, ", ")+" not looked up: no region tree was given (--regions or --token)")
	}
	return code, strings.Join(whys, "; ")
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// Run reads the input from r, sends its cases to the server as events and reports every row's
// problems. It returns an error (with the report so far) when the import itself fails: an
// unreadable input or header, a mapped column missing from the header, a request the server
// refuses as a whole, or a server unavailable for longer than Options.RetryFor.
// Errors are in row order.
func Run(ctx context.Context, r io.Reader, m Mapping, opt Options) (Report, error) {
	start := time.Now()
	rep := Report{Skipped: map[string]int{}, Rejected: map[string]int{}, Warnings: map[string]int{},
		Sent: map[string]int{}, Unmapped: map[string]int{}}
	err := run(ctx, r, m, opt, &rep)
	sort.SliceStable(rep.Errors, func(i, j int) bool { return rep.Errors[i].Row < rep.Errors[j].Row })
	for _, e := range rep.Errors {
		if e.Warning {
			rep.Warnings[e.Kind]++
		}
	}
	rep.Elapsed = time.Since(start)
	return rep, err
}

// session is one import's sending state.
type session struct {
	ctx       context.Context
	opt       Options
	endpoint  string
	versions  string // POST /api/v1/events/versions (Replace)
	rep       *Report
	prog      *progress
	pending   []item
	bytes     int
	reported  map[int]bool // rows whose report was finally refused
	unlocated map[int]bool // rows whose report went without a place
}

func run(ctx context.Context, r io.Reader, m Mapping, opt Options, rep *Report) error {
	if opt.Batch <= 0 {
		opt.Batch = 2000
	}
	if opt.Client == nil {
		opt.Client = &http.Client{Timeout: defaultTimeout}
	}
	if opt.RetryFor <= 0 {
		opt.RetryFor = time.Minute
	}
	if m.SourceValue == "" {
		m.SourceValue = "hotline12345"
	}
	s := &session{ctx: ctx, opt: opt, endpoint: strings.TrimRight(opt.URL, "/") + "/api/v1/events",
		versions: strings.TrimRight(opt.URL, "/") + "/api/v1/events/versions", rep: rep,
		reported: map[int]bool{}, unlocated: map[int]bool{}}
	defer func() {
		rep.Imported = rep.Cases - len(s.reported)
		rep.Unlocated = 0
		for row := range s.unlocated {
			if !s.reported[row] {
				rep.Unlocated++
			}
		}
	}()

	cr := &countingReader{r: r}
	if opt.Progress != nil {
		var size int64
		if st, ok := r.(interface{ Stat() (os.FileInfo, error) }); ok {
			if fi, err := st.Stat(); err == nil && fi.Mode().IsRegular() {
				size = fi.Size()
			}
		}
		s.prog = newProgress(opt.Progress, opt.ProgressEvery, size, cr)
		defer func() { s.prog.tick(rep.Rows, rep.Events, true) }()
	}
	var src source
	var err error
	switch opt.Format {
	case "", FormatCSV:
		src, err = newCSVSource(cr)
	case FormatOpen311:
		src, err = newOpen311Source(cr)
	default:
		return fmt.Errorf("unknown format %q (csv or open311)", opt.Format)
	}
	if err != nil {
		return err
	}
	idx, used, missing, err := resolveColumns(src.header(), m)
	if err != nil {
		return err
	}
	if m.ID == "" || m.Created == "" {
		return errNoColumns
	}
	rep.Columns, rep.MissingColumns = used, missing
	b := &builder{m: m, opt: &s.opt, idx: idx, rep: rep, bounds: opt.Bounds,
		cal: sync.OnceValue(calendar.Default)}
	if b.bounds == nil && opt.Regions != nil {
		g := opt.Regions.Bounds
		b.bounds = &Bounds{MinLat: g.MinLat - regionPad, MinLon: g.MinLon - regionPad, MaxLat: g.MaxLat + regionPad, MaxLon: g.MaxLon + regionPad}
	}

	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, line, err := src.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if re, ok := err.(*rowErr); ok {
				rep.Rows++
				rep.Skipped["unreadable"]++
				rep.Errors = append(rep.Errors, RowError{Row: rep.Rows, Line: re.line, Error: re.msg, Kind: "unreadable"})
				continue
			}
			return err
		}
		rep.Rows++
		items, errs, skip := b.build(rec, rep.Rows, line)
		rep.Errors = append(rep.Errors, errs...)
		if skip {
			for _, e := range errs {
				if !e.Warning {
					rep.Skipped[e.Kind]++
					break
				}
			}
			s.prog.tick(rep.Rows, rep.Events, false)
			continue
		}
		rep.Cases++
		for _, it := range items {
			if it.unlocated {
				s.unlocated[it.row] = true
			}
			rep.Events++
			rep.Sent[it.ev.Type]++
			s.pending = append(s.pending, it)
			s.bytes += 256 + len(it.ev.Summary) + len(it.ev.Address)
		}
		if len(s.pending) >= opt.Batch || s.bytes >= 4<<20 {
			if err := s.flush(); err != nil {
				return err
			}
		}
		s.prog.tick(rep.Rows, rep.Events, false)
	}
	return s.flush()
}

// flush sends the pending events; lines the server refuses for a reason the importer can
// correct are sent again, corrected, until none is left. With Replace, the events are first
// compared with what the server holds (revise).
func (s *session) flush() error {
	batch := s.pending
	s.pending, s.bytes = nil, 0
	waited := time.Duration(0)
	for round := 0; len(batch) > 0; round++ {
		if s.opt.Replace {
			// An event the server held with other content but had not stored yet when asked is
			// asked about again once its history store has caught up.
			if slices.ContainsFunc(batch, func(it item) bool { return it.recheck }) {
				if waited >= s.opt.RetryFor {
					var rest []item
					for _, it := range batch {
						if it.recheck {
							s.reject(&it, "id_conflict", "id", it.ev.ID, "id: already accepted with another content, and not in the server's history store after "+waited.String())
						} else {
							rest = append(rest, it)
						}
					}
					batch = rest
				} else if err := sleep(s.ctx, recheckWait); err != nil {
					return err
				} else {
					waited += recheckWait
				}
			}
			var err error
			if batch, err = s.revise(batch); err != nil {
				return err
			}
			if len(batch) == 0 {
				break
			}
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		for i := range batch {
			if err := enc.Encode(batch[i].ev); err != nil {
				return err
			}
		}
		reply, err := post(s.ctx, s.opt, s.endpoint, buf.Bytes())
		if err != nil {
			return err
		}
		s.rep.Accepted += reply.Accepted
		s.rep.Duplicates += reply.Duplicates
		refused := map[int]bool{}
		var again []item
		for _, rj := range reply.Rejected {
			field := rj.Field
			if field == "" {
				if f, _, ok := strings.Cut(rj.Error, ": "); ok && !strings.Contains(f, " ") {
					field = f
				}
			}
			if rj.Line < 1 || rj.Line > len(batch) {
				s.reject(nil, rj.Code, field, rj.ID, rj.Error)
				continue
			}
			refused[rj.Line-1] = true
			it := batch[rj.Line-1]
			if fixed, ok := s.fix(it, rj.Code, field, rj.Error); ok {
				again = append(again, fixed)
				continue
			}
			s.reject(&it, rj.Code, field, rj.ID, rj.Error)
		}
		// Corrections the server took.
		for i, it := range batch {
			if !refused[i] && it.supersedes != "" {
				s.rep.Replaced++
				s.rep.Errors = append(s.rep.Errors, RowError{Row: it.row, Line: it.line, CaseID: it.ev.CaseID, EventID: it.ev.ID,
					Error: fmt.Sprintf("the server held %s with other content (an earlier import of a changed row): the correction was sent as %s, superseding it",
						it.supersedes, it.ev.ID), Warning: true, Kind: "replaced"})
			}
		}
		batch = again
	}
	return nil
}

// recheckWait is how long an import waits before asking again about events the server holds
// but has not stored in its history yet (Replace).
const recheckWait = 500 * time.Millisecond

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// revise asks the server which events of batch it holds (POST /api/v1/events/versions) and
// returns what to send: an event it does not hold as it is; one whose version in force has the
// same content nothing (a duplicate); one whose version in force differs as a correction under
// the next revision id, superseding that version. Events already compared are kept as they are.
func (s *session) revise(batch []item) ([]item, error) {
	var ask []int
	for i := range batch {
		if !batch[i].checked {
			ask = append(ask, i)
		}
	}
	if len(ask) == 0 {
		return batch, nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for _, i := range ask {
		ev := batch[i].ev
		ev.ID, ev.Supersedes = EventID(ev.CaseID, batch[i].kind), "" // the event as first sent
		if err := enc.Encode(ev); err != nil {
			return nil, err
		}
	}
	var reply versionsReply
	if err := postJSON(s.ctx, s.opt, s.versions, buf.Bytes(), &reply); err != nil {
		return nil, fmt.Errorf("--replace compares each event with the server's history: %w", err)
	}
	answered := map[int]int{}
	for k, v := range reply.Versions {
		if v.Line >= 1 && v.Line <= len(ask) {
			answered[ask[v.Line-1]] = k
		}
	}
	out := make([]item, 0, len(batch))
	for i, it := range batch {
		if it.checked {
			out = append(out, it)
			continue
		}
		it.checked, it.recheck = true, false
		k, ok := answered[i]
		if !ok { // refused by the check: the ingest says why
			out = append(out, it)
			continue
		}
		v := reply.Versions[k]
		switch {
		case !v.Stored:
			it.ev.ID, it.ev.Supersedes, it.rev, it.supersedes = EventID(it.ev.CaseID, it.kind), "", 1, ""
		case v.Same:
			s.rep.Duplicates++ // held as sent: nothing to correct
			continue
		default:
			it.rev = max(v.Revisions+1, 2)
			it.ev.ID, it.ev.Supersedes, it.supersedes = RevisionID(it.ev.CaseID, it.kind, it.rev), v.Latest, v.Latest
		}
		out = append(out, it)
	}
	return out, nil
}

// fix corrects a refused line when it can: a category the server does not know is sent as
// unmapped (not Strict); a region it does not know is left out (a report without a point then
// goes as unlocated); with Replace, another content under a held id is compared again with
// what the server holds, and a revision id taken goes to the next one.
func (s *session) fix(it item, code, field, msg string) (item, bool) {
	ev := &it.ev
	switch {
	case code == "id_conflict" && s.opt.Replace && it.rev > 1 && it.rev < maxRevision:
		it.rev++ // a revision id taken (by an older import): the next one, superseding the same
		ev.ID = RevisionID(ev.CaseID, it.kind, it.rev)
		return it, true
	case code == "id_conflict" && s.opt.Replace && it.rev == 1:
		it.checked, it.recheck = false, true // held but not stored yet when asked: ask again
		return it, true
	case code == "invalid" && field == "category" && it.kind == "reported" && !s.opt.Strict && ev.Category != CategoryUnmapped:
		s.rep.Errors = append(s.rep.Errors, RowError{Row: it.row, Line: it.line, CaseID: ev.CaseID, EventID: ev.ID, Field: "category",
			Error:   fmt.Sprintf("the server refused category %q (%s): sent as %s with category_text", ev.Category, msg, CategoryUnmapped),
			Warning: true, Kind: "category_refused"})
		s.rep.Unmapped[it.raw]++
		if ev.CategoryText == "" {
			ev.CategoryText = truncate(it.raw, maxCategoryText)
		}
		ev.Category = CategoryUnmapped
		it.checked = false // other content: compared again
		return it, true
	case code == "invalid" && field == "region" && it.kind == "reported" && ev.Region != "":
		what := "sent with its point only"
		if ev.Location == nil {
			what = "imported as unlocated (未定位: counted for its department, in the unlocated row of region audits)"
			it.unlocated, s.unlocated[it.row] = true, true
		}
		s.rep.Errors = append(s.rep.Errors, RowError{Row: it.row, Line: it.line, CaseID: ev.CaseID, EventID: ev.ID, Field: "region",
			Error: fmt.Sprintf("the server refused region %q (%s): %s", ev.Region, msg, what), Warning: true, Kind: "region_refused"})
		ev.Region = ""
		it.checked = false
		return it, true
	}
	return it, false
}

// reject records a line the server refused for good.
func (s *session) reject(it *item, code, field, id, msg string) {
	kind := code
	if code == "invalid" || code == "" {
		kind = "invalid:" + field
	}
	e := RowError{EventID: id, Field: field, Error: msg, Kind: kind}
	if it != nil {
		e.Row, e.Line, e.CaseID, e.EventID = it.row, it.line, it.ev.CaseID, it.ev.ID
		if code == "id_conflict" {
			if it.kind == "reported" {
				// The case is there: its earlier report stands.
				e.Warning, e.Kind = true, "report_changed"
				e.Error = "the server holds this case's report with other content (an earlier import of a changed row): the earlier report stands; --replace sends the correction"
				s.rep.Errors = append(s.rep.Errors, e)
				return
			}
			if !s.opt.Replace {
				e.Error += " (the row changed since an earlier import: --replace sends the correction)"
			}
		}
		if it.kind == "reported" {
			s.reported[it.row] = true
		}
	}
	s.rep.Rejected[kind]++
	s.rep.Errors = append(s.rep.Errors, e)
}
