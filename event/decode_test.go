package event

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestDecodeMalformedSequence: malformed lines, dangling escapes among them, decoded one after
// the other never panic, and never leak into the next line's event (go-json keeps its buffers in
// a pool; a dangling escape made it read past the line into an earlier one).
func TestDecodeMalformedSequence(t *testing.T) {
	now := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	rules := DefaultRules()
	good := `{"id":"e1","type":"case.reported","case_id":"C1","at":"2026-06-01T07:00:00Z","source":"hotline12345","category":"environment","location":{"lon":114.05,"lat":32.12,"crs":"gcj02"}}`
	bad := []string{`{"location":{"\`, `{"\`, `{"\u`, `{"id":"x\`, `{"id":"e9","type":"case.reported","\q":1}`, `{"location":{"lon":1e999}}`}
	for round := 0; round < 50; round++ {
		for _, b := range bad {
			if _, _, err := Decode([]byte(b), &rules, now); err == nil {
				t.Fatalf("%q accepted", b)
			} else if _, ok := err.(*FieldError); !ok {
				t.Fatalf("%q: %T %v, want a FieldError", b, err, err)
			}
		}
		ev, id, err := Decode([]byte(good), &rules, now)
		if err != nil || id != "e1" || ev.CaseID != "C1" || ev.Location == nil || ev.Location.Lat != 32.12 {
			t.Fatalf("round %d: the good line after malformed ones: %+v %q %v", round, ev, id, err)
		}
	}
}

// TestDecodeRefusesInvalidEscape: a line that is not JSON (an unknown escape in a key, which
// go-json alone consumes silently) is refused as invalid JSON, not accepted.
func TestDecodeRefusesInvalidEscape(t *testing.T) {
	now := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	rules := DefaultRules()
	line := `{"id":"e1","type":"case.reported","case_id":"C1","at":"2026-06-01T07:00:00Z","source":"hotline12345","category":"environment","\q":1}`
	_, _, err := Decode([]byte(line), &rules, now)
	if fe, ok := err.(*FieldError); !ok || fe.Field != "line" {
		t.Fatalf("%s: %v, want a line error (invalid JSON)", line, err)
	}
}

// BenchmarkDecode: the decode of a typical report (raw UTF-8, no escapes), of the same with
// escapes (checked for well-formedness first), and that check alone (json.Valid).
func BenchmarkDecode(b *testing.B) {
	now := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	rules := DefaultRules()
	line := []byte(`{"id":"e1","type":"case.reported","case_id":"C1","at":"2026-06-01T07:00:00Z","source":"hotline12345","category":"environment","address":"浉河区 幸福路 8号","summary":"路灯不亮，夜间行人看不清路面","location":{"lon":114.05,"lat":32.12,"crs":"gcj02"}}`)
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(int64(len(line)))
		for b.Loop() {
			if _, _, err := Decode(line, &rules, now); err != nil {
				b.Fatal(err)
			}
		}
	})
	escaped := []byte(strings.Replace(string(line), "幸福路", `\u5e78\u798f\u8def`, 1))
	b.Run("decode-escaped", func(b *testing.B) {
		b.SetBytes(int64(len(escaped)))
		for b.Loop() {
			if _, _, err := Decode(escaped, &rules, now); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("valid", func(b *testing.B) {
		b.SetBytes(int64(len(line)))
		for b.Loop() {
			if !json.Valid(line) {
				b.Fatal("not valid")
			}
		}
	})
}
