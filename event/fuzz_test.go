package event

import (
	"testing"
	"time"
)

// FuzzDecode: any line is either an event that passes validation or a named field error; the
// decoder never panics, and an accepted event has an id and a known type.
func FuzzDecode(f *testing.F) {
	now := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	for _, s := range []string{
		`{"id":"e1","type":"case.reported","case_id":"C1","at":"2026-06-01T07:00:00Z","source":"hotline12345","category":"environment","location":{"lon":114.05,"lat":32.12,"crs":"gcj02"}}`,
		`{"id":"e2","type":"case.dispatched","case_id":"C1","at":"2026-06-01T07:01:00Z","dept":"城管局","deadline":"2026-06-02T07:00:00Z"}`,
		`{"id":"e3","type":"whistle.blown","case_id":"C1","at":"2026-06-01T07:02:00Z","whistle_id":"W1","depts":["公安","城管"]}`,
		`{"id":"e4","type":"case.evaluated","case_id":"C1","at":"2026-06-01T07:03:00Z","score":5}`,
		`{"id":"","type":"nope"}`, `[]`, `{`, `{"at":"0001-01-01T00:00:00Z"}`,
	} {
		f.Add([]byte(s))
	}
	rules := DefaultRules()
	f.Fuzz(func(t *testing.T, line []byte) {
		ev, _, err := Decode(line, &rules, now)
		if err != nil {
			if _, ok := err.(*FieldError); !ok {
				t.Fatalf("error %T %v is not a FieldError", err, err)
			}
			return
		}
		if ev.ID == "" || !ev.Type.Known() {
			t.Fatalf("accepted an event without id or known type: %+v", ev)
		}
	})
}
