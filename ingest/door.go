// Package ingest is the front door (一端口): it reads an ingest request, enforces the request
// limits and each source key's policy, validates every line, and appends the good events to the
// durable intake log in the log's record format, acknowledging them only once they are durable.
// The aggregator reads that log; the server's ingest handler calls the door.
package ingest

import (
	"time"

	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"zhili/clock"
	"zhili/errs"
	"zhili/event"
	"zhili/geo"
	"zhili/intake"
)

// Config configures a Door.
type Config struct {
	Rules    event.Rules // validation rules (zero: event.DefaultRules, regions known to Tree)
	MaxLines int         // per request (default 10,000)
	MaxBytes int64       // per request (default 8 MiB)
	Tree     *geo.Tree
	Locator  geo.Locator // for region-limited keys (nil: a plain descent of Tree)
	Clock    clock.Clock // arrival times and "now" of validation (nil: the real clock)
	// Owners tells the region of cases the door has not seen reported (the history store;
	// nil: only those). Region-limited keys act only on cases of their regions.
	Owners Owners
	// RecentCases bounds the reports (case → region) the door remembers, for cases the
	// history store may not hold yet (default DefaultRecentCases).
	RecentCases int
	// SubjectRegion tells the region a survey's subject serves (the roster's; "" none): a
	// region-limited key may send surveys only of subjects in its regions (nil: no survey from
	// such a key).
	SubjectRegion func(subject string) string
	Registry      prometheus.Registerer // metrics (nil: not registered)
	Logger        *slog.Logger
}

// Door is the ingest front door of one process. It is safe for concurrent use.
type Door struct {
	cfg      Config
	in       intake.Intake
	place    Placer
	m        *metrics
	recent   *recentCases
	draining atomic.Bool
}

// New returns a door that appends to in.
func New(cfg Config, in intake.Intake) *Door {
	if cfg.MaxLines <= 0 {
		cfg.MaxLines = 10000
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 8 << 20
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Rules.Sources == nil {
		cfg.Rules = event.DefaultRules()
	}
	if cfg.RecentCases <= 0 {
		cfg.RecentCases = DefaultRecentCases
	}
	if cfg.Rules.KnownRegion == nil && cfg.Tree != nil {
		tree := cfg.Tree
		cfg.Rules.KnownRegion = func(code string) bool { return tree.Get(code) != nil }
	}
	return &Door{cfg: cfg, in: in, place: Placer{Tree: cfg.Tree, Locator: cfg.Locator}, m: newMetrics(cfg.Registry),
		recent: newRecentCases(cfg.RecentCases)}
}

// Drain makes the door refuse every later request with 503 shutting_down (the process is
// stopping: the source retries on another instance or later). Idempotent.
func (d *Door) Drain() { d.draining.Store(true) }

// MaxBytes is the request body limit.
func (d *Door) MaxBytes() int64 { return d.cfg.MaxBytes }

// Policy is what one source API key may send. The zero value allows everything.
type Policy struct {
	// Name is the key's configured name. It namespaces the ids of the key's events (StoredID):
	// keys with the same name (a key and its replacement) share ids; "" keeps ids as sent.
	Name    string
	Types   []event.Type // empty: all types
	Regions []string     // empty: anywhere; else the case's region must lie in one of these subtrees
}

// StoredID is the id under which an event sent with id by the key named name is stored and
// deduplicated: "<name>/<id>" with the name percent-encoded (every byte other than A-Z a-z 0-9
// . _ : - as %XX), or id itself when name is "". An event id never holds '/' or '%', so a
// stored id names its key and id unambiguously: two keys' ids never collide, nor do they with
// the ids of a key without a name.
func StoredID(name, id string) string {
	if name == "" {
		return id
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(name)+1+len(id))
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-' {
			b = append(b, c)
		} else {
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	b = append(b, '/')
	return string(append(b, id...))
}

func (p *Policy) allowsType(t event.Type) bool {
	return len(p.Types) == 0 || slices.Contains(p.Types, t)
}

// Rejection reports one rejected line: Code names why for programs, Error says it for people
// (naming the field).
type Rejection struct {
	Line  int    `json:"line"`
	ID    string `json:"id,omitempty"` // as sent
	Code  string `json:"code"`
	Error string `json:"error"`
	Field string `json:"-"`
}

// Rejection codes.
const (
	// CodeInvalid: the line is not a valid event (Error names the field and the reason).
	CodeInvalid = "invalid"
	// CodeTypeNotAllowed: the key may not send this event type.
	CodeTypeNotAllowed = "type_not_allowed"
	// CodeRegionNotAllowed: a report located outside the key's regions.
	CodeRegionNotAllowed = "region_not_allowed"
	// CodeIDConflict: the id was already accepted with another content; an event id is never
	// reused (the same content again is a duplicate).
	CodeIDConflict = "id_conflict"
)

// Reply is the per-request result of the ingest API.
type Reply struct {
	Accepted   int         `json:"accepted"`
	Duplicates int         `json:"duplicates"`
	Rejected   []Rejection `json:"rejected"`
}

// Content types of the ingest API.
const (
	ContentNDJSON = "application/x-ndjson"
	ContentJSON   = "application/json"
)

// Ingest validates a request body, logs the good events durably and reports every line.
// A bad line never sinks the good lines of the same request. An error is returned only when
// the body cannot be read at all (Invalid, TooLarge, Unsupported) or the intake log is
// unavailable (Unavailable): then nothing of this request was accepted.
func (d *Door) Ingest(ctx context.Context, contentType string, body []byte, pol *Policy) (Reply, error) {
	if pol == nil {
		pol = &Policy{}
	}
	good, rejected, now, err := d.validate(contentType, body, pol)
	if err != nil {
		return Reply{}, err
	}
	reply := Reply{Rejected: rejected}
	var claimed []string
	if len(pol.Regions) > 0 && len(good) > 0 {
		var err error
		if good, claimed, err = d.ownership(ctx, pol, good, &reply); err != nil {
			return Reply{}, err
		}
	}
	recs := make([]intake.Record, 0, len(good))
	kept := good[:0]
	for _, l := range good {
		ev := l.ev
		ev.ID = StoredID(pol.Name, ev.ID)
		if ev.Supersedes != "" {
			ev.Supersedes = StoredID(pol.Name, ev.Supersedes) // a key corrects its own events only
		}
		rec, err := Encode(ev, now)
		if err != nil {
			reply.Rejected = append(reply.Rejected, Rejection{Line: l.n, ID: l.id, Code: CodeInvalid, Error: "line: cannot encode: " + err.Error(), Field: "line"})
			continue
		}
		recs = append(recs, rec)
		kept = append(kept, l)
	}
	good = kept
	if len(recs) > 0 {
		out, err := d.in.Append(ctx, recs)
		if err != nil {
			d.recent.forget(claimed)
			if errs.CodeOf(err) == errs.Internal {
				err = errs.Wrap(errs.Unavailable, "intake", err, "intake log unavailable; nothing in this request was accepted")
			}
			return Reply{}, err
		}
		for i, o := range out {
			switch o {
			case intake.Appended:
				reply.Accepted++
			case intake.Duplicate:
				reply.Duplicates++
			default:
				reply.Rejected = append(reply.Rejected, Rejection{Line: good[i].n, ID: good[i].id, Code: CodeIDConflict, Field: "id",
					Error: "id: already accepted with another content (an event id is never reused; the same event again counts as a duplicate)"})
			}
		}
		d.settle(claimed, good, out)
	} else {
		d.recent.forget(claimed)
	}
	slices.SortStableFunc(reply.Rejected, func(a, b Rejection) int { return a.Line - b.Line })
	d.m.observe(&reply)
	return reply, nil
}

// validate reads a body and checks each line against the contract and the key's policy (ids,
// types, report regions): the good lines, and a rejection for each bad one. An error refuses
// the body as a whole (draining, too large, unreadable). Ingest and Versions share it.
func (d *Door) validate(contentType string, body []byte, pol *Policy) (good []pending, rejected []Rejection, now time.Time, err error) {
	if d.draining.Load() {
		return nil, nil, now, errs.E(errs.Unavailable, "shutting_down", "server is shutting down; retry on another instance or later")
	}
	if int64(len(body)) > d.cfg.MaxBytes {
		return nil, nil, now, errs.E(errs.TooLarge, "max_bytes", "request body is %d bytes, limit is %d", len(body), d.cfg.MaxBytes)
	}
	lines, err := splitBody(contentType, body, d.cfg.MaxLines)
	if err != nil {
		return nil, nil, now, err
	}
	now = d.cfg.Clock.Now()
	rejected = []Rejection{}
	good = make([]pending, 0, len(lines))
	for _, l := range lines {
		ev, id, err := event.Decode(l.b, &d.cfg.Rules, now)
		code, leaf := CodeInvalid, ""
		if err == nil {
			leaf, code, err = d.checkPolicy(&ev, pol)
		}
		if err != nil {
			rej := Rejection{Line: l.n, ID: id, Code: code, Error: err.Error()}
			var fe *event.FieldError
			if errors.As(err, &fe) {
				rej.Field = fe.Field
			}
			rejected = append(rejected, rej)
			continue
		}
		good = append(good, pending{n: l.n, id: id, ev: ev, leaf: leaf})
	}
	return good, rejected, now, nil
}

// settle keeps the owners of the reports the log took and drops the claims of cases none of
// whose reports it took (id conflicts).
func (d *Door) settle(claimed []string, good []pending, out []intake.Outcome) {
	if len(claimed) > 0 {
		took := map[string]bool{}
		for i, l := range good {
			if l.ev.Type == event.CaseReported && out[i] != intake.Conflict {
				took[l.ev.CaseID] = true
			}
		}
		var drop []string
		for _, id := range claimed {
			if !took[id] {
				drop = append(drop, id)
			}
		}
		d.recent.forget(drop)
	}
	d.remember(good, out)
}

// checkPolicy applies the key's policy. It returns a report's leaf region ("" when
// unlocated), or the rejection's code with its error.
func (d *Door) checkPolicy(ev *event.Event, p *Policy) (leaf, code string, err error) {
	if !p.allowsType(ev.Type) {
		return "", CodeTypeNotAllowed, &event.FieldError{Field: "type", Reason: "not allowed for this source key"}
	}
	if ev.Type == event.EvaluationSurvey && len(p.Regions) > 0 && ev.Survey != nil {
		reg := ""
		if d.cfg.SubjectRegion != nil {
			reg = d.cfg.SubjectRegion(ev.Survey.Subject)
		}
		if reg == "" || d.cfg.Tree == nil || !d.inRegions(p, reg) {
			return "", CodeRegionNotAllowed, &event.FieldError{Field: "survey.subject", Reason: "outside the regions this source key may report"}
		}
		return "", "", nil
	}
	if ev.Type == event.StaffDuty && len(p.Regions) > 0 && ev.Duty != nil {
		// A region-limited key reports duty only in grids of its regions.
		if d.cfg.Tree == nil || !d.inRegions(p, ev.Duty.Grid) {
			return "", CodeRegionNotAllowed, &event.FieldError{Field: "duty.grid", Reason: "outside the regions this source key may report"}
		}
		return "", "", nil
	}
	if ev.Type != event.CaseReported || d.cfg.Tree == nil {
		return "", "", nil
	}
	path := d.place.Path(ev)
	if len(path) > 0 {
		leaf = path[len(path)-1]
	}
	if len(p.Regions) > 0 {
		ok := false
		for _, r := range p.Regions {
			if slices.Contains(path, r) {
				ok = true
				break
			}
		}
		if !ok {
			return "", CodeRegionNotAllowed, &event.FieldError{Field: "location", Reason: "outside the regions this source key may report"}
		}
	}
	return leaf, "", nil
}

type line struct {
	n int // 1-based line (NDJSON) or element (JSON array) number
	b []byte
}

// splitBody splits an NDJSON or JSON-array body into lines, enforcing the line limit.
func splitBody(contentType string, body []byte, maxLines int) ([]line, error) {
	ct := strings.ToLower(strings.TrimSpace(strings.SplitN(contentType, ";", 2)[0]))
	switch ct {
	case ContentNDJSON, "application/jsonl", "application/jsonlines", "application/x-jsonlines":
		var out []line
		n := 0
		for len(body) > 0 {
			n++
			i := bytes.IndexByte(body, '\n')
			var l []byte
			if i < 0 {
				l, body = body, nil
			} else {
				l, body = body[:i], body[i+1:]
			}
			l = bytes.TrimSpace(l)
			if len(l) == 0 {
				continue
			}
			if len(out) == maxLines {
				return nil, errs.E(errs.TooLarge, "max_lines", "more than %d lines in one request", maxLines)
			}
			out = append(out, line{n: n, b: l})
		}
		if len(out) == 0 {
			return nil, errs.E(errs.Invalid, "empty_body", "request body holds no events")
		}
		return out, nil
	case ContentJSON:
		trimmed := bytes.TrimSpace(body)
		if len(trimmed) == 0 || trimmed[0] != '[' {
			return nil, errs.E(errs.Invalid, "not_array", "application/json body must be a JSON array of events (use application/x-ndjson for one event per line)")
		}
		var raws []json.RawMessage
		if err := json.Unmarshal(trimmed, &raws); err != nil {
			return nil, errs.Wrap(errs.Invalid, "bad_json", err, "request body is not a valid JSON array")
		}
		if len(raws) > maxLines {
			return nil, errs.E(errs.TooLarge, "max_lines", "more than %d events in one request", maxLines)
		}
		if len(raws) == 0 {
			return nil, errs.E(errs.Invalid, "empty_body", "request body holds no events")
		}
		out := make([]line, len(raws))
		for i, r := range raws {
			out[i] = line{n: i + 1, b: r}
		}
		return out, nil
	}
	return nil, errs.E(errs.Unsupported, "content_type", "content type %q not accepted: use application/x-ndjson or application/json", contentType)
}
