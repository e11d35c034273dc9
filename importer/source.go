package importer

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Formats of the input.
const (
	FormatCSV     = "csv"
	FormatOpen311 = "open311"
)

// source yields the input's records aligned to its header.
type source interface {
	header() []string
	// next returns the next record and the file line (CSV) or array element (JSON) where it
	// starts; io.EOF at the end. A *rowErr is a bad record that the import skips.
	next() ([]string, int, error)
}

// rowErr is a record the source could not read, to be reported and skipped.
type rowErr struct {
	line int
	msg  string
}

func (e *rowErr) Error() string { return e.msg }

type csvSource struct {
	r    *csv.Reader
	cols []string
}

func newCSVSource(r io.Reader) (*csvSource, error) {
	cr := csv.NewReader(r)
	cr.LazyQuotes = true
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	h, err := cr.Read()
	if err != nil {
		if err == io.EOF {
			return nil, errors.New("empty CSV: no header row")
		}
		return nil, fmt.Errorf("CSV header: %w", err)
	}
	cols := make([]string, len(h))
	for i, c := range h {
		cols[i] = strings.TrimSpace(strings.TrimPrefix(c, "\ufeff"))
	}
	return &csvSource{r: cr, cols: cols}, nil
}

func (s *csvSource) header() []string { return s.cols }

func (s *csvSource) next() ([]string, int, error) {
	rec, err := s.r.Read()
	if err == io.EOF {
		return nil, 0, io.EOF
	}
	if err != nil {
		var pe *csv.ParseError
		if !errors.As(err, &pe) {
			return nil, 0, fmt.Errorf("reading CSV: %w", err)
		}
		if pe.Err != csv.ErrFieldCount {
			return nil, pe.StartLine, &rowErr{line: pe.StartLine, msg: "unreadable CSV: " + pe.Err.Error()}
		}
	}
	line, _ := s.r.FieldPos(0)
	return rec, line, nil
}

// open311Fields are GeoReport v2's service request fields, the header of a requests.json.
var open311Fields = []string{"service_request_id", "status", "status_notes", "service_name", "service_code",
	"description", "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
	"expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url", "token"}

// jsonSource reads a GeoReport v2 requests.json: an array of service requests, or an object
// holding one (e.g. {"service_requests": [...]}), read element by element.
type jsonSource struct {
	dec  *json.Decoder
	cols []string
	idx  map[string]int
	n    int
}

func newOpen311Source(r io.Reader) (*jsonSource, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("Open311 JSON: %w", err)
	}
	switch tok {
	case json.Delim('['):
	case json.Delim('{'):
		found := false
		for dec.More() {
			if _, err := dec.Token(); err != nil { // the key
				return nil, fmt.Errorf("Open311 JSON: %w", err)
			}
			// Peek: an array value is the requests; anything else is skipped.
			if t, err := dec.Token(); err != nil {
				return nil, fmt.Errorf("Open311 JSON: %w", err)
			} else if t == json.Delim('[') {
				found = true
				break
			} else if d, ok := t.(json.Delim); ok && d == '{' {
				if err := skipObject(dec); err != nil {
					return nil, err
				}
			}
		}
		if !found {
			return nil, errors.New("Open311 JSON: no array of service requests")
		}
	default:
		return nil, errors.New("Open311 JSON: want an array of service requests")
	}
	s := &jsonSource{dec: dec, cols: append([]string(nil), open311Fields...), idx: map[string]int{}}
	for i, c := range s.cols {
		s.idx[c] = i
	}
	return s, nil
}

// skipObject consumes the rest of an object whose '{' was read.
func skipObject(dec *json.Decoder) error {
	for depth := 1; depth > 0; {
		t, err := dec.Token()
		if err != nil {
			return fmt.Errorf("Open311 JSON: %w", err)
		}
		if d, ok := t.(json.Delim); ok {
			switch d {
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
		}
	}
	return nil
}

func (s *jsonSource) header() []string { return s.cols }

func (s *jsonSource) next() ([]string, int, error) {
	if !s.dec.More() {
		return nil, 0, io.EOF
	}
	s.n++
	var obj map[string]json.RawMessage
	if err := s.dec.Decode(&obj); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) || err == io.ErrUnexpectedEOF {
			return nil, 0, fmt.Errorf("Open311 JSON: element %d: %w", s.n, err)
		}
		return nil, s.n, &rowErr{line: s.n, msg: "not a service request object: " + err.Error()}
	}
	rec := make([]string, len(s.cols))
	for k, v := range obj {
		i, ok := s.idx[k]
		if !ok {
			continue
		}
		rec[i] = jsonText(v)
	}
	return rec, s.n, nil
}

// jsonText is a JSON value as a cell: a string's content, a number as written, "" for null.
func jsonText(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || string(v) == "null" {
		return ""
	}
	if v[0] == '"' {
		var s string
		if json.Unmarshal(v, &s) == nil {
			return s
		}
	}
	return string(v)
}
