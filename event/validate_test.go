package event

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestDecodeNamesFieldAndReason(t *testing.T) {
	r := DefaultRules()
	now := time.Date(2026, 11, 27, 8, 0, 0, 0, time.FixedZone("CST", 8*3600))
	good := `{"id":"e1","type":"case.reported","case_id":"C1","at":"2026-11-27T08:15:30+08:00","source":"hotline12345","category":"environment","location":{"lon":114.09,"lat":32.14,"crs":"gcj02"}}`
	ev, id, err := Decode([]byte(good), &r, now.Add(time.Hour))
	if err != nil || id != "e1" || ev.Location.CRS != "gcj02" || ev.Priority != "normal" {
		t.Fatalf("good line: %v %q %+v", err, id, ev)
	}
	if _, off := ev.At.Zone(); off != 8*3600 {
		t.Fatal("original offset lost")
	}
	cases := []struct{ line, want string }{
		{`{"id":"e1","type":"case.reported","case_id":"C1","at":"2026-11-27T08:15:30+08:00","source":"grid","category":"environment","location":{"lon":114,"lat":132}}`, "location.lat: out of range"},
		{`{"id":"e1","type":"case.reported","case_id":"C1","at":"2026-11-27T08:15:30+08:00","source":"grid","category":"environment","location":{"lon":114,"lat":"x"}}`, "location.lat: expected number"},
		{`{"id":"e1","type":"case.reported","case_id":"C1","at":"2026-11-27T08:15:30+08:00","source":"grid","category":"environment","location":{"lon":114,"lat":32,"crs":"utm"}}`, "location.crs: must be"},
		{`{"id":"e1","type":"case.reported","case_id":"C1","at":"2026-11-27T08:15:30+08:00","source":"grid","category":"environment","location":{"lon":-181,"lat":32}}`, "location.lon: out of range"},
		{`{"id":"e1","type":"case.reported","case_id":"C1","at":"2026-11-27T08:15:30+08:00","category":"environment"}`, "source: required on case.reported"},
		{`{"id":"e1","type":"case.reported","case_id":"C1","at":"2026-11-27T08:15:30","source":"grid","category":"x","region":"1"}`, "at: not an RFC 3339 time with offset"},
		{`{"id":"e1","type":"case.reported","case_id":"C1","at":"2026-11-27T08:15:30+08:00","source":"grid","category":"x","region":"1"}`, "category: unknown category"},
		{`{"id":"e 1","type":"case.accepted","case_id":"C1","at":"2026-11-27T08:15:30+08:00"}`, "id: invalid characters"},
		{`{"id":"` + strings.Repeat("a", 65) + `","type":"case.accepted","case_id":"C1","at":"2026-11-27T08:15:30+08:00"}`, "id: too long"},
		{`{"type":"case.accepted","case_id":"C1","at":"2026-11-27T08:15:30+08:00"}`, "id: required"},
		{`{"id":"e1","type":"case.accepted","at":"2026-11-27T08:15:30+08:00"}`, "case_id: required"},
		{`{"id":"e1","type":"case.accepted","case_id":"C1","at":"2026-11-27T08:26:00+08:00"}`, "at: more than 5m0s in the future"},
		{`{"id":"e1","type":"case.dispatched","case_id":"C1","at":"2026-11-27T08:15:30+08:00"}`, "dept: required on case.dispatched"},
		{`{"id":"e1","type":"case.closed","case_id":"C1","at":"2026-11-27T08:15:30+08:00","close_reason":"fixed"}`, "close_reason: must be"},
		{`{"id":"e1","type":"case.resolved","case_id":"C1","at":"2026-11-27T08:15:30+08:00","close_reason":"duplicate"}`, "close_reason: only on case.closed"},
		{`{"id":"e1","type":"case.closed","case_id":"C1","at":"2026-11-27T08:15:30+08:00","category_text":"Noise"}`, "category_text: only on case.reported"},
		{`{"id":"e1","type":"whistle.blown","case_id":"C1","at":"2026-11-27T08:15:30+08:00","whistle_id":"W","whistle_kind":"advance"}`, "depts: required"},
		{`{"id":"e1","type":"whistle.answered","case_id":"C1","at":"2026-11-27T08:15:30+08:00","whistle_id":"W","dept":"d","stage":"flew"}`, "stage: must be"},
		{`{"id":"e1","type":"whistle.evaluated","case_id":"C1","at":"2026-11-27T08:15:30+08:00","whistle_id":"W","dept":"d","score":6}`, "score: out of range"},
		{`{"id":"e1","type":"whistle.evaluated","case_id":"C1","at":"2026-11-27T08:15:30+08:00","whistle_id":"W","dept":"d","score":2.5}`, "score: must be an integer"},
		{`{"id":"e1","type":"case.closed","case_id":"C1","at":"2026-11-27T08:15:30+08:00","satisfaction":"meh"}`, "satisfaction: must be"},
		{`{"id":"e1","type":"case.accepted","case_id":"C1","at":"2026-11-27T08:15:30+08:00","address":"` + strings.Repeat("路", 201) + `"}`, "address: too long"},
		{`{"id":"e1","type":"case.accepted","case_id":"C1","at":"2026-11-27T08:15:30+08:00"} x`, "line: invalid JSON"},
		{`[1,2]`, "line: must be a JSON object"},
		{`{"id":"e1","type":"case.accepted","case_id":"C1","at":"0001-01-01T00:00:00Z"}`, "at: before 2000-01-01"},
		{`{"id":"e1","type":"case.dispatched","case_id":"C1","at":"2026-11-27T08:15:30+08:00","dept":"d","deadline":"9999-12-31T00:00:00Z"}`, "deadline: out of range"},
		{`{"id":"e1","type":"whistle.blown","case_id":"C1","at":"2026-11-27T08:15:30+08:00","whistle_id":"W","whistle_kind":"advance","depts":[` + manyDepts(33) + `]}`, "depts: 33 departments, at most 32"},
		{`{"id":"e1","type":"whistle.blown","case_id":"C1","at":"2026-11-27T08:15:30+08:00","whistle_id":"W","whistle_kind":"advance","depts":["a","b","a"]}`, "depts[2]: department \"a\" given twice"},
		{`{"id":"e1","type":"whistle.blown","case_id":"C1","at":"2026-11-27T08:15:30+08:00","whistle_id":"W","whistle_kind":"advance","depts":["` + strings.Repeat("局", 65) + `"]}`, "depts[0]: too long"},
		{`{"id":"e1","type":"case.signed","case_id":"C1","at":"2026-11-27T08:15:30+08:00","dept":"` + strings.Repeat("局", 65) + `"}`, "dept: too long"},
		{`{"id":"e1","type":"case.accepted","case_id":"C1","at":"2026-11-27T08:15:30+08:00","reporter":{"phone":"` + strings.Repeat("1", 33) + `"}}`, "reporter.phone: too long"},
		{`{"id":"e1",`, "line: invalid JSON"},
	}
	for _, c := range cases {
		_, _, err := Decode([]byte(c.line), &r, now.Add(20*time.Minute))
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s\n  got %v\n  want prefix %q", c.line, err, c.want)
		}
	}
}

func manyDepts(n int) string {
	var b []string
	for i := range n {
		b = append(b, fmt.Sprintf("%q", fmt.Sprintf("dept-%d", i)))
	}
	return strings.Join(b, ",")
}

func TestSplitPIIAndFlow(t *testing.T) {
	e := Event{Type: CaseReported, Source: "hotline12345", Address: "a", Summary: "s", Reporter: &Reporter{Name: "n"}}
	pub, priv := e.SplitPII()
	if pub.Reporter != nil || pub.Address != "" || pub.Summary != "" || !priv.HasPII() {
		t.Fatal("PII not split")
	}
	if e.Flow() != FlowHorizontal || (&Event{Type: CaseReported, Source: "grid"}).Flow() != FlowUp ||
		(&Event{Type: CaseDispatched}).Flow() != FlowDown || (&Event{Type: CaseSigned}).Flow() != FlowNone {
		t.Fatal("flows")
	}
}

// A dispatch without a deadline, a closing with its reason and an unmapped category with the
// source's wording are accepted and keep what they say.
func TestDecodeOptionalDeadlineCloseReasonCategoryText(t *testing.T) {
	r := DefaultRules()
	now := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	e, _, err := Decode([]byte(`{"id":"e2","type":"case.dispatched","case_id":"C1","at":"2026-11-27T08:20:00+08:00","dept":"county.housing"}`), &r, now)
	if err != nil || e.Deadline != nil || e.Dept != "county.housing" {
		t.Fatalf("dispatch without deadline: %+v, %v", e, err)
	}
	e, _, err = Decode([]byte(`{"id":"e3","type":"case.closed","case_id":"C1","at":"2026-11-27T09:00:00+08:00","close_reason":"duplicate"}`), &r, now)
	if err != nil || e.CloseReason != "duplicate" {
		t.Fatalf("closed as duplicate: %+v, %v", e, err)
	}
	e, _, err = Decode([]byte(`{"id":"e1","type":"case.reported","case_id":"C1","at":"2026-11-27T08:15:30+08:00","source":"grid","category":"unmapped","category_text":"Noise - Residential","region":"1"}`), &r, now)
	if err != nil || e.Category != CategoryUnmapped || e.CategoryText != "Noise - Residential" {
		t.Fatalf("unmapped category: %+v, %v", e, err)
	}
	long := strings.Repeat("字", MaxCategoryText+1)
	if _, _, err = Decode([]byte(`{"id":"e1","type":"case.reported","case_id":"C1","at":"2026-11-27T08:15:30+08:00","source":"grid","category":"unmapped","category_text":"`+long+`","region":"1"}`), &r, now); err == nil || !strings.HasPrefix(err.Error(), "category_text: too long") {
		t.Fatalf("long category_text: %v", err)
	}
}

// A report with neither a location nor a region is accepted: an unlocated case. Older senders'
// shapes are unchanged, and a region the deployment does not know is still refused.
func TestDecodePlacelessReport(t *testing.T) {
	r := DefaultRules()
	r.KnownRegion = func(code string) bool { return code == "411502" }
	now := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	e, id, err := Decode([]byte(`{"id":"e1","type":"case.reported","case_id":"C1","at":"2026-11-27T08:15:30+08:00","source":"hotline12345","category":"unmapped","category_text":"Noise"}`), &r, now)
	if err != nil || id != "e1" || e.Location != nil || e.Region != "" || e.Type != CaseReported || e.Priority != "normal" {
		t.Fatalf("report without a place: %+v, %v", e, err)
	}
	for line, want := range map[string]string{
		`{"id":"e1","type":"case.reported","case_id":"C1","at":"2026-11-27T08:15:30+08:00","source":"grid","category":"environment","region":"411502"}`:               "",
		`{"id":"e1","type":"case.reported","case_id":"C1","at":"2026-11-27T08:15:30+08:00","source":"grid","category":"environment","region":"9"}`:                    "region: unknown region code",
		`{"id":"e1","type":"case.reported","case_id":"C1","at":"2026-11-27T08:15:30+08:00","source":"grid","category":"environment","location":{"lon":114,"lat":91}}`: "location.lat: out of range",
	} {
		_, _, err := Decode([]byte(line), &r, now)
		if want == "" && err != nil || want != "" && (err == nil || !strings.HasPrefix(err.Error(), want)) {
			t.Errorf("%s: %v, want %q", line, err, want)
		}
	}
}

// supersedes names the event a correction replaces: a case event only, an event id, not the
// event itself. Superseded and Live honour it within a case and a type, along chains.
func TestSupersedes(t *testing.T) {
	r := DefaultRules()
	now := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	e, _, err := Decode([]byte(`{"id":"C1:closed.r2","type":"case.closed","case_id":"C1","at":"2026-11-27T09:00:00+08:00","supersedes":"C1:closed"}`), &r, now)
	if err != nil || e.Supersedes != "C1:closed" {
		t.Fatalf("correction: %+v, %v", e, err)
	}
	for line, want := range map[string]string{
		`{"id":"e2","type":"whistle.resolved","case_id":"C1","at":"2026-11-27T09:00:00+08:00","whistle_id":"W","supersedes":"e1"}`: "supersedes: only on case events",
		`{"id":"e2","type":"case.closed","case_id":"C1","at":"2026-11-27T09:00:00+08:00","supersedes":"e 1"}`:                      "supersedes: not an event id",
		`{"id":"e2","type":"case.closed","case_id":"C1","at":"2026-11-27T09:00:00+08:00","supersedes":"e2"}`:                       "supersedes: an event cannot supersede itself",
	} {
		if _, _, err := Decode([]byte(line), &r, now); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: %v, want %q", line, err, want)
		}
	}

	at := now.Add(-time.Hour)
	evs := []Event{
		{ID: "r", Type: CaseReported, CaseID: "C1", At: at},
		{ID: "c", Type: CaseClosed, CaseID: "C1", At: at},
		{ID: "c2", Type: CaseClosed, CaseID: "C1", At: at, Supersedes: "c"},
		{ID: "c3", Type: CaseClosed, CaseID: "C1", At: at, Supersedes: "c2"},
		{ID: "x", Type: CaseResolved, CaseID: "C1", At: at, Supersedes: "r"},  // another type: ignored
		{ID: "y", Type: CaseReported, CaseID: "C2", At: at, Supersedes: "r"},  // another case: ignored
		{ID: "z", Type: CaseReported, CaseID: "C1", At: at, Supersedes: "no"}, // nothing to supersede
	}
	sup := Superseded(evs)
	if len(sup) != 2 || sup["c"] != "c2" || sup["c2"] != "c3" {
		t.Errorf("Superseded = %v", sup)
	}
	var ids []string
	for _, e := range Live(evs) {
		ids = append(ids, e.ID)
	}
	if strings.Join(ids, " ") != "r c3 x y z" {
		t.Errorf("Live = %v", ids)
	}
}
