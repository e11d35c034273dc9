package ingest

import (
	"bytes"
	"errors"
	"testing"

	"zhili/errs"
)

// FuzzSplitBody: NDJSON and JSON-array framing never panics, keeps the line limit, names its
// refusals, and every line it returns is non-empty, trimmed and numbered in order.
func FuzzSplitBody(f *testing.F) {
	f.Add(ContentNDJSON, []byte("{\"id\":\"a\"}\n\n  {\"id\":\"b\"}  \r\n"), 3)
	f.Add(ContentJSON, []byte(`[{"id":"a"},{"id":"b"}]`), 1)
	f.Add(ContentJSON, []byte(`{"id":"a"}`), 10)
	f.Add("text/plain", []byte("x"), 1)
	f.Add(ContentNDJSON+"; charset=utf-8", []byte("\n\n\n"), 2)
	f.Fuzz(func(t *testing.T, ct string, body []byte, maxLines int) {
		if maxLines < 1 || maxLines > 1000 {
			return
		}
		lines, err := splitBody(ct, body, maxLines)
		if err != nil {
			var e *errs.Error
			if !errors.As(err, &e) || e.Reason == "" {
				t.Fatalf("refusal without a named reason: %v", err)
			}
			return
		}
		if len(lines) == 0 || len(lines) > maxLines {
			t.Fatalf("%d lines, limit %d", len(lines), maxLines)
		}
		prev := 0
		for _, l := range lines {
			if l.n <= prev || len(l.b) == 0 {
				t.Fatalf("line %d after %d, %d bytes", l.n, prev, len(l.b))
			}
			if !bytes.Equal(l.b, bytes.TrimSpace(l.b)) && ct != ContentJSON {
				t.Fatalf("line %d not trimmed: %q", l.n, l.b)
			}
			prev = l.n
		}
	})
}
