package aggregator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	gojson "github.com/goccy/go-json"

	"zhili/errs"
	"zhili/event"
)

// Policy is what one source API key may send. The zero value allows everything.
type Policy struct {
	Name    string
	Types   []event.Type // empty: all types
	Regions []string     // empty: anywhere; else the case's region must lie in one of these subtrees
}

func (p *Policy) allowsType(t event.Type) bool {
	return len(p.Types) == 0 || slices.Contains(p.Types, t)
}

// Rejection reports one rejected line.
type Rejection struct {
	Line  int    `json:"line"`
	ID    string `json:"id,omitempty"`
	Error string `json:"error"`
	Field string `json:"-"`
}

// IngestReply is the per-request result of the ingest API.
type IngestReply struct {
	Accepted   int         `json:"accepted"`
	Duplicates int         `json:"duplicates"`
	Rejected   []Rejection `json:"rejected"`
}

// logged is the intake log's record: the event as accepted, with its arrival time.
type logged struct {
	Received int64       `json:"r"` // unix milliseconds
	Event    event.Event `json:"e"`
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
func (a *Aggregator) Ingest(ctx context.Context, contentType string, body []byte, pol *Policy) (IngestReply, error) {
	if a.draining.Load() {
		return IngestReply{}, errs.E(errs.Unavailable, "shutting_down", "server is shutting down; retry on another instance or later")
	}
	if int64(len(body)) > a.cfg.MaxBytes {
		return IngestReply{}, errs.E(errs.TooLarge, "max_bytes", "request body is %d bytes, limit is %d", len(body), a.cfg.MaxBytes)
	}
	lines, err := splitBody(contentType, body, a.cfg.MaxLines)
	if err != nil {
		return IngestReply{}, err
	}
	if pol == nil {
		pol = &Policy{}
	}
	now := a.clk.Now()
	reply := IngestReply{Rejected: []Rejection{}}
	ids := make([]string, 0, len(lines))
	data := make([][]byte, 0, len(lines))
	lineOf := make([]int, 0, len(lines))
	for _, l := range lines {
		ev, id, err := event.Decode(l.b, &a.cfg.Rules, now)
		if err == nil {
			err = a.checkPolicy(&ev, pol)
		}
		if err != nil {
			rej := Rejection{Line: l.n, ID: id, Error: err.Error()}
			var fe *event.FieldError
			if errors.As(err, &fe) {
				rej.Field = fe.Field
			}
			reply.Rejected = append(reply.Rejected, rej)
			continue
		}
		b, err := gojson.Marshal(logged{Received: now.UnixMilli(), Event: ev})
		if err != nil {
			reply.Rejected = append(reply.Rejected, Rejection{Line: l.n, ID: id, Error: "line: cannot encode: " + err.Error(), Field: "line"})
			continue
		}
		ids = append(ids, ev.ID)
		data = append(data, b)
		lineOf = append(lineOf, l.n)
	}
	if len(ids) > 0 {
		dup, err := a.intake.Append(ctx, ids, data)
		if err != nil {
			if errs.CodeOf(err) == errs.Internal {
				err = errs.Wrap(errs.Unavailable, "intake", err, "intake log unavailable; nothing in this request was accepted")
			}
			return IngestReply{}, err
		}
		for _, d := range dup {
			if d {
				reply.Duplicates++
			} else {
				reply.Accepted++
			}
		}
	}
	a.m.observeIngest(&reply)
	return reply, nil
}

func (a *Aggregator) checkPolicy(ev *event.Event, p *Policy) error {
	if !p.allowsType(ev.Type) {
		return &event.FieldError{Field: "type", Reason: "not allowed for this source key"}
	}
	if len(p.Regions) > 0 && ev.Type == event.CaseReported {
		path := a.locate(ev)
		ok := false
		for _, r := range p.Regions {
			if slices.Contains(path, r) {
				ok = true
				break
			}
		}
		if !ok {
			return &event.FieldError{Field: "location", Reason: "outside the regions this source key may report"}
		}
	}
	return nil
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

// receivedTime converts the logged arrival time.
func receivedTime(ms int64) time.Time { return time.UnixMilli(ms) }

// PartitionKey is the intake partition key of a logged entry: its case id, so that one case's
// events stay in order in one partition (falls back to the event id).
func PartitionKey(id string, data []byte) string {
	var lg struct {
		E struct {
			CaseID string `json:"case_id"`
		} `json:"e"`
	}
	if err := gojson.Unmarshal(data, &lg); err != nil || lg.E.CaseID == "" {
		return id
	}
	return lg.E.CaseID
}
