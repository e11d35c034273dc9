// Package importer backfills case history from a CSV file through the ingest API of a running
// server (`zhili import cases`). Every CSV row is one case; it becomes up to four contract
// events whose ids are derived from the case id, so importing the same file again is reported
// as duplicates and never counted twice.
//
// Event ids: "<case id>:reported", ":dispatched", ":resolved", ":closed". A case id that is not
// a valid event id prefix (characters outside [A-Za-z0-9._:-], or longer than 52 bytes) is
// replaced in the event ids by "h" + 16 hex digits of its SHA-256 (still deterministic); the
// case_id field keeps the original value.
//
// Categories: the contract's category is a taxonomy code that the server checks against its
// configured set (event.DefaultCategories unless configured otherwise) — free text is rejected.
// Values are therefore normalized: lowercased, every run of characters outside [a-z0-9._-]
// replaced by "-", leading/trailing "-" trimmed ("Environment" → "environment"). A code the
// server does not know is still rejected by the server and reported for that row (field
// "category"). Mapping.CategoryOf replaces this normalization (the nyc311 preset maps NYC
// complaint types onto the contract's codes).
package importer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // the presets' time zones without the system's tzdata
	"unicode/utf8"

	"github.com/schollz/progressbar/v3"
)

// Mapping names the CSV columns of each case field ("" = the column is absent).
type Mapping struct {
	ID, Created, Closed, Resolved, Dept, Category, Region, Lon, Lat, Address, Summary, Due, Source string

	// TZ is the time zone of timestamps written without an offset (nil: time.Local).
	TZ *time.Location
	// SourceValue is the event's source when there is no Source column or it is empty
	// (default "hotline12345").
	SourceValue string
	// RegionOf transforms the region column's value (nil: used as is; "" result: no region).
	RegionOf func(string) string
	// CategoryOf transforms the category column's value into a taxonomy code (nil:
	// NormalizeCategory).
	CategoryOf func(string) string
	// DueAfter, when positive, invents the deadline created + DueAfter for a dispatch without a
	// usable due time. Zero (the default): such a dispatch is sent without a deadline.
	DueAfter time.Duration
}

// Fields lists the mapping's column keys as accepted by Set (and by the CLI's --map).
var Fields = []string{"id", "created", "closed", "resolved", "dept", "category", "region", "lon", "lat",
	"address", "summary", "due", "source"}

func (m *Mapping) col(field string) *string {
	switch field {
	case "id":
		return &m.ID
	case "created":
		return &m.Created
	case "closed":
		return &m.Closed
	case "resolved":
		return &m.Resolved
	case "dept":
		return &m.Dept
	case "category":
		return &m.Category
	case "region":
		return &m.Region
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
	}
	return nil
}

// Set maps field (one of Fields) to a CSV column; column "" makes the field absent.
func (m *Mapping) Set(field, column string) error {
	p := m.col(field)
	if p == nil {
		return fmt.Errorf("unknown field %q (known: %s)", field, strings.Join(Fields, ", "))
	}
	*p = column
	return nil
}

// Presets are the known CSV layouts.
var Presets = map[string]Mapping{
	"zhili": {ID: "case_id", Created: "reported_at", Closed: "closed_at", Resolved: "resolved_at", Dept: "dept",
		Category: "category", Region: "region", Lon: "lon", Lat: "lat", Address: "address", Summary: "summary",
		Due: "deadline", Source: "source", TZ: mustLoad("Asia/Shanghai")},
	"nyc311": {ID: "unique_key", Created: "created_date", Closed: "closed_date", Dept: "agency",
		Category: "complaint_type", Region: "community_board", Lon: "longitude", Lat: "latitude",
		Address: "incident_address", Due: "due_date", TZ: mustLoad("America/New_York"),
		RegionOf: NYCCommunityBoard, CategoryOf: NYCCategory},
}

func mustLoad(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

var boroughs = map[string]string{"MANHATTAN": "1", "BRONX": "2", "BROOKLYN": "3", "QUEENS": "4", "STATEN ISLAND": "5"}

// NYCCommunityBoard turns NYC 311's community_board ("12 MANHATTAN") into the borough-prefixed
// community district code ("112"); "Unspecified …" or anything unknown gives "".
func NYCCommunityBoard(s string) string {
	num, boro, ok := strings.Cut(strings.TrimSpace(s), " ")
	if !ok {
		return ""
	}
	b := boroughs[strings.ToUpper(strings.TrimSpace(boro))]
	n, err := strconv.Atoi(num)
	if b == "" || err != nil || n < 1 || n > 99 {
		return ""
	}
	return fmt.Sprintf("%s%02d", b, n)
}

// NYCCategory maps an NYC 311 complaint type onto the contract's category codes (noise, pests
// and pollution → environment; streets, vehicles, graffiti, sanitation → cityorder; disputes
// between neighbours → dispute; safety hazards → safety; crime → security; everything else,
// notably housing conditions, → livelihood).
func NYCCategory(s string) string {
	c := strings.ToLower(s)
	has := func(words ...string) bool {
		for _, w := range words {
			if strings.Contains(c, w) {
				return true
			}
		}
		return false
	}
	switch {
	case has("noise", "rodent", "air quality", "water quality", "asbestos", "lead", "mold", "smoking", "odor", "pest", "dead animal", "sewer"):
		return "environment"
	case has("drug", "criminal", "assault", "illegal fireworks", "panhandling", "homeless encampment"):
		return "security"
	case has("building", "elevator", "gas", "fire", "scaffold", "construction", "hazard", "unsafe"):
		return "safety"
	case has("neighbor", "dispute", "harass"):
		return "dispute"
	case has("vehicle", "parking", "driveway", "street", "sidewalk", "traffic", "graffiti", "sanitation",
		"dirty", "litter", "snow", "tree", "sign", "highway", "curb", "vendor", "taxi", "bike", "bus"):
		return "cityorder"
	}
	return "livelihood"
}

// NormalizeCategory lowercases s and replaces every run of characters outside [a-z0-9._-]
// with "-".
func NormalizeCategory(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(strings.TrimSpace(s)) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-' {
			b.WriteRune(r)
			dash = false
		} else if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.Trim(b.String(), "-")
}

// Options say where and how to send.
type Options struct {
	URL, Key string        // server base URL (…/api/v1/events is appended) and ingest key
	Batch    int           // lines per request (default 2000); a request is also cut at 4 MiB
	Progress io.Writer     // progress bar output (e.g. stderr); nil = none
	Client   *http.Client  // default: a client with a 2-minute timeout
	RetryFor time.Duration // how long 503s and network errors are retried before giving up (default 1 min)
}

// RowError is one problem of one row. Row is the 1-based data row (the header excluded: the
// first row after the header is 1); Line is the line of the file where that row starts (the
// header is line 1). Errors found locally have EventID "" when the whole row was skipped and
// name the CSV column in Field; errors from the server name the event field.
type RowError struct {
	Row     int
	Line    int
	CaseID  string
	EventID string
	Field   string
	Error   string
}

// Report is the outcome of an import. Rows are data rows read; Cases rows that had a valid id
// and created time; Events lines sent (Accepted + Duplicates + server rejections).
type Report struct {
	Rows, Cases, Events, Accepted, Duplicates int
	Errors                                    []RowError
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
}

// wireEvent is the contract's JSON shape of the events the importer sends.
type wireEvent struct {
	ID       string    `json:"id"`
	Type     string    `json:"type"`
	CaseID   string    `json:"case_id"`
	At       string    `json:"at"`
	Source   string    `json:"source,omitempty"`
	Category string    `json:"category,omitempty"`
	Location *location `json:"location,omitempty"`
	Region   string    `json:"region,omitempty"`
	Address  string    `json:"address,omitempty"`
	Dept     string    `json:"dept,omitempty"`
	Deadline string    `json:"deadline,omitempty"`
	Summary  string    `json:"summary,omitempty"`
}

// layouts are the accepted timestamp forms without an offset (read in Mapping.TZ).
var layouts = []string{
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04",
	"2006-01-02 15:04",
	"2006/01/02 15:04:05",
	"2006/01/02 15:04",
	"01/02/2006 03:04:05 PM",
	"2006-01-02",
}

// ParseTime reads an RFC 3339 time with offset, or one of the layouts without offset in loc.
func ParseTime(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02 15:04:05.999999999Z07:00", s); err == nil {
		return t, nil
	}
	if loc == nil {
		loc = time.Local
	}
	for _, l := range layouts {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("unreadable time %q", s)
}

func fmtTime(t time.Time) string { return t.Format(time.RFC3339Nano) }

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

// EventID returns the id of the event of kind ("reported", "dispatched", …) of a case.
func EventID(caseID, kind string) string {
	if !validIDPrefix(caseID) {
		h := sha256.Sum256([]byte(caseID))
		caseID = "h" + hex.EncodeToString(h[:8])
	}
	return caseID + ":" + kind
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n])
}

// ref ties a sent line to the row that produced it.
type ref struct {
	row, line     int
	caseID, evtID string
}

type builder struct {
	m   Mapping
	idx map[string]int // column key → index in the record
}

func (b *builder) get(rec []string, field string) string {
	i, ok := b.idx[field]
	if !ok || i >= len(rec) {
		return ""
	}
	return strings.TrimSpace(rec[i])
}

// build turns one record into events; problems found locally are returned as row errors.
func (b *builder) build(rec []string, row, line int) (evs []wireEvent, errs []RowError) {
	m := b.m
	caseID := b.get(rec, "id")
	rerr := func(evtID, field, format string, args ...any) {
		errs = append(errs, RowError{Row: row, Line: line, CaseID: caseID, EventID: evtID, Field: field, Error: fmt.Sprintf(format, args...)})
	}
	if caseID == "" {
		rerr("", m.ID, "case id missing: row skipped")
		return nil, errs
	}
	if len(caseID) > 64 || !utf8.ValidString(caseID) {
		rerr("", m.ID, "case id longer than 64 bytes or not UTF-8: row skipped")
		return nil, errs
	}
	createdS := b.get(rec, "created")
	if createdS == "" {
		rerr("", m.Created, "created time missing: row skipped")
		return nil, errs
	}
	created, err := ParseTime(createdS, m.TZ)
	if err != nil {
		rerr("", m.Created, "%v (want RFC 3339 or 2006-01-02 15:04:05 in the import's time zone): row skipped", err)
		return nil, errs
	}
	source := b.get(rec, "source")
	if source == "" {
		source = m.SourceValue
	}
	category := b.get(rec, "category")
	if m.CategoryOf != nil {
		category = m.CategoryOf(category)
	} else {
		category = NormalizeCategory(category)
	}
	region := b.get(rec, "region")
	if m.RegionOf != nil && region != "" {
		region = m.RegionOf(region)
	}
	rep := wireEvent{ID: EventID(caseID, "reported"), Type: typeReported, CaseID: caseID, At: fmtTime(created),
		Source: source, Category: category, Region: region,
		Address: truncate(b.get(rec, "address"), 200), Summary: truncate(b.get(rec, "summary"), 2000)}
	lon, e1 := strconv.ParseFloat(b.get(rec, "lon"), 64)
	lat, e2 := strconv.ParseFloat(b.get(rec, "lat"), 64)
	if e1 == nil && e2 == nil && !(lon == 0 && lat == 0) {
		rep.Location = &location{Lon: lon, Lat: lat}
	}
	evs = append(evs, rep)

	if dept := b.get(rec, "dept"); dept != "" {
		// The dispatch is sent whenever the row names a department; its deadline only when the
		// row has a usable due time (or DueAfter invents one).
		id := EventID(caseID, "dispatched")
		dis := wireEvent{ID: id, Type: typeDispatched, CaseID: caseID, At: fmtTime(created), Dept: dept}
		var deadline time.Time
		if s := b.get(rec, "due"); s != "" {
			d, err := ParseTime(s, m.TZ)
			switch {
			case err != nil:
				rerr(id, m.Due, "%v: case.dispatched sent without a deadline", err)
			case !d.After(created):
				rerr(id, m.Due, "due time %s is not after the created time %s: case.dispatched sent without a deadline", fmtTime(d), fmtTime(created))
			default:
				deadline = d
			}
		}
		if deadline.IsZero() && m.DueAfter > 0 {
			deadline = created.Add(m.DueAfter)
		}
		if !deadline.IsZero() {
			dis.Deadline = fmtTime(deadline)
		}
		evs = append(evs, dis)
	}
	end := func(kind, typ, col string) {
		s := b.get(rec, col)
		if s == "" {
			return
		}
		id := EventID(caseID, kind)
		t, err := ParseTime(s, m.TZ)
		if err != nil {
			rerr(id, m.colName(col), "%v: %s not sent", err, typ)
			return
		}
		if t.Before(created) {
			rerr(id, m.colName(col), "%s is before the created time %s: %s not sent", fmtTime(t), fmtTime(created), typ)
			return
		}
		evs = append(evs, wireEvent{ID: id, Type: typ, CaseID: caseID, At: fmtTime(t)})
	}
	if m.Resolved != "" {
		end("resolved", typeResolved, "resolved")
	} else {
		end("resolved", typeResolved, "closed")
	}
	end("closed", typeClosed, "closed")
	return evs, errs
}

func (m *Mapping) colName(field string) string {
	if p := m.col(field); p != nil {
		return *p
	}
	return field
}

// ingestReply is the server's per-request answer.
type ingestReply struct {
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
	Rejected   []struct {
		Line  int    `json:"line"`
		ID    string `json:"id"`
		Field string `json:"field"`
		Error string `json:"error"`
	} `json:"rejected"`
}

// Run reads the CSV from r, sends its cases to the server as events and reports every row's
// problems. It returns an error (with the report so far) when the import itself fails: an
// unreadable CSV or header, a mapped column missing from the header, a request the server
// refuses as a whole, or a server unavailable for longer than Options.RetryFor.
// Errors are in row order.
func Run(ctx context.Context, r io.Reader, m Mapping, opt Options) (Report, error) {
	rep, err := run(ctx, r, m, opt)
	sort.SliceStable(rep.Errors, func(i, j int) bool { return rep.Errors[i].Row < rep.Errors[j].Row })
	return rep, err
}

func run(ctx context.Context, r io.Reader, m Mapping, opt Options) (Report, error) {
	var rep Report
	if opt.Batch <= 0 {
		opt.Batch = 2000
	}
	if opt.Client == nil {
		opt.Client = &http.Client{Timeout: 2 * time.Minute}
	}
	if opt.RetryFor <= 0 {
		opt.RetryFor = time.Minute
	}
	if m.SourceValue == "" {
		m.SourceValue = "hotline12345"
	}
	endpoint := strings.TrimRight(opt.URL, "/") + "/api/v1/events"

	var bar *progressbar.ProgressBar
	if opt.Progress != nil {
		size := int64(-1)
		if st, ok := r.(interface{ Stat() (os.FileInfo, error) }); ok {
			if fi, err := st.Stat(); err == nil && fi.Mode().IsRegular() {
				size = fi.Size()
			}
		}
		bar = progressbar.NewOptions64(size, progressbar.OptionSetWriter(opt.Progress),
			progressbar.OptionSetDescription("importing"), progressbar.OptionShowBytes(true),
			progressbar.OptionSetWidth(30), progressbar.OptionThrottle(100*time.Millisecond))
		pr := progressbar.NewReader(r, bar)
		r = &pr
		defer func() {
			_ = bar.Finish()
			fmt.Fprintln(opt.Progress)
		}()
	}

	cr := csv.NewReader(r)
	cr.LazyQuotes = true
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		if err == io.EOF {
			return rep, errors.New("empty CSV: no header row")
		}
		return rep, fmt.Errorf("CSV header: %w", err)
	}
	cols := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if _, dup := cols[h]; !dup {
			cols[h] = i
		}
	}
	b := &builder{m: m, idx: map[string]int{}}
	var missing []string
	for _, f := range Fields {
		c := *m.col(f)
		if c == "" {
			continue
		}
		i, ok := cols[c]
		if !ok {
			missing = append(missing, fmt.Sprintf("%q (%s)", c, f))
			continue
		}
		b.idx[f] = i
	}
	if len(missing) > 0 {
		return rep, fmt.Errorf("column(s) %s not in the CSV header (have: %s); map them with --map FIELD=COLUMN or FIELD= to leave out", strings.Join(missing, ", "), strings.Join(header, ", "))
	}
	if m.ID == "" || m.Created == "" {
		return rep, errors.New("the id and created columns must be mapped")
	}

	var buf bytes.Buffer
	var refs []ref
	flush := func() error {
		if len(refs) == 0 {
			return nil
		}
		reply, err := post(ctx, opt, endpoint, buf.Bytes())
		if err != nil {
			return err
		}
		rep.Events += len(refs)
		rep.Accepted += reply.Accepted
		rep.Duplicates += reply.Duplicates
		for _, rj := range reply.Rejected {
			re := RowError{EventID: rj.ID, Field: rj.Field, Error: rj.Error}
			if rj.Line >= 1 && rj.Line <= len(refs) {
				f := refs[rj.Line-1]
				re.Row, re.Line, re.CaseID, re.EventID = f.row, f.line, f.caseID, f.evtID
			}
			if re.Field == "" {
				if f, _, ok := strings.Cut(rj.Error, ": "); ok && !strings.Contains(f, " ") {
					re.Field = f
				}
			}
			rep.Errors = append(rep.Errors, re)
		}
		buf.Reset()
		refs = refs[:0]
		return nil
	}
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		rep.Rows++
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) && pe.Err != csv.ErrFieldCount {
				rep.Errors = append(rep.Errors, RowError{Row: rep.Rows, Line: pe.StartLine, Error: "unreadable CSV: " + pe.Err.Error()})
				continue
			}
			if !errors.As(err, &pe) {
				return rep, fmt.Errorf("reading CSV: %w", err)
			}
		}
		line, _ := cr.FieldPos(0)
		evs, errs := b.build(rec, rep.Rows, line)
		rep.Errors = append(rep.Errors, errs...)
		if len(evs) == 0 {
			continue
		}
		rep.Cases++
		for _, ev := range evs {
			if err := enc.Encode(ev); err != nil {
				return rep, err
			}
			refs = append(refs, ref{row: rep.Rows, line: line, caseID: ev.CaseID, evtID: ev.ID})
		}
		if len(refs) >= opt.Batch || buf.Len() >= 4<<20 {
			if err := flush(); err != nil {
				return rep, err
			}
		}
	}
	return rep, flush()
}

// post sends one NDJSON body, retrying 503 (and 429, 502, 504) and network errors with a
// bounded backoff that honours Retry-After, for at most opt.RetryFor.
func post(ctx context.Context, opt Options, url string, body []byte) (ingestReply, error) {
	var reply ingestReply
	giveUp := time.Now().Add(opt.RetryFor)
	backoff := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return reply, err
		}
		req.Header.Set("Content-Type", "application/x-ndjson")
		if opt.Key != "" {
			req.Header.Set("Authorization", "Bearer "+opt.Key)
		}
		resp, err := opt.Client.Do(req)
		var out []byte
		var wait time.Duration
		var lastErr error
		if err == nil {
			out, err = io.ReadAll(io.LimitReader(resp.Body, 64<<20))
			resp.Body.Close()
		}
		switch {
		case ctx.Err() != nil:
			return reply, ctx.Err()
		case err != nil:
			lastErr = fmt.Errorf("POST %s: %w", url, err)
		case resp.StatusCode == http.StatusOK:
			if err := json.Unmarshal(out, &reply); err != nil {
				return reply, fmt.Errorf("POST %s: unreadable reply: %.200s", url, out)
			}
			return reply, nil
		case resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusTooManyRequests ||
			resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusGatewayTimeout:
			lastErr = fmt.Errorf("POST %s: %s: %.200s", url, resp.Status, bytes.TrimSpace(out))
			if s, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); err == nil && s >= 0 {
				wait = time.Duration(s) * time.Second
			}
		default:
			hint := ""
			if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
				hint = " (check --key)"
			}
			return reply, fmt.Errorf("POST %s: %s: %.300s%s", url, resp.Status, bytes.TrimSpace(out), hint)
		}
		if wait == 0 {
			wait = backoff
			backoff = min(backoff*2, 10*time.Second)
		}
		wait = min(wait, 30*time.Second)
		if time.Now().Add(wait).After(giveUp) {
			return reply, fmt.Errorf("server unavailable for %s (%d attempts), giving up: %w", opt.RetryFor, attempt, lastErr)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return reply, ctx.Err()
		case <-t.C:
		}
	}
}
