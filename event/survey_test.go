package event

import (
	"strings"
	"testing"
	"time"
)

func TestSurveyDecode(t *testing.T) {
	r := DefaultRules()
	r.KnownSubject = func(id string) bool { return id == "cadre.7" || id == "county.urban-mgmt" }
	now := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	const head = `{"id":"s1","type":"evaluation.survey","at":"2026-11-20T10:00:00+08:00",`
	good := head + `"survey":{"evaluator_type":"served","dimension":"purpose","score":4,"scale":"1-5","period":"2026-Q3","subject":"cadre.7","rater":"R-17"}}`
	ev, _, err := Decode([]byte(good), &r, now)
	if err != nil {
		t.Fatal(err)
	}
	sv := ev.Survey
	if ev.CaseID != "" || sv == nil || sv.Subject != "cadre.7" || sv.Scale != "1-5" || sv.Score != 4 {
		t.Fatalf("decoded %+v %+v", ev, sv)
	}
	// 4 on 1-5: (4−1)/(5−1)×100 = 75.
	if got := sv.Normalized(); got != 75 {
		t.Fatalf("normalized %v, want 75", got)
	}
	bad := []struct{ line, want string }{
		{head + `"survey":{"dimension":"purpose","score":4,"scale":"1-5","period":"2026-Q3","subject":"cadre.7","rater":"R"}}`, "survey.evaluator_type: required"},
		{head + `"survey":{"evaluator_type":"boss","dimension":"purpose","score":4,"scale":"1-5","period":"2026-Q3","subject":"cadre.7","rater":"R"}}`, "survey.evaluator_type: must be"},
		{head + `"survey":{"evaluator_type":"head","dimension":"charm","score":4,"scale":"1-5","period":"2026-Q3","subject":"cadre.7","rater":"R"}}`, "survey.dimension: must be"},
		{head + `"survey":{"evaluator_type":"head","dimension":"purpose","score":4,"period":"2026-Q3","subject":"cadre.7","rater":"R"}}`, "survey.scale: required"},
		{head + `"survey":{"evaluator_type":"head","dimension":"purpose","score":4,"scale":"5-1","period":"2026-Q3","subject":"cadre.7","rater":"R"}}`, "survey.scale: must be"},
		{head + `"survey":{"evaluator_type":"head","dimension":"purpose","score":6,"scale":"1-5","period":"2026-Q3","subject":"cadre.7","rater":"R"}}`, "survey.score: out of the scale 1-5"},
		{head + `"survey":{"evaluator_type":"head","dimension":"purpose","scale":"1-5","period":"2026-Q3","subject":"cadre.7","rater":"R"}}`, "survey.score: required"},
		{head + `"survey":{"evaluator_type":"head","dimension":"purpose","score":"4","scale":"1-5","period":"2026-Q3","subject":"cadre.7","rater":"R"}}`, "survey.score: expected number"},
		{head + `"survey":{"evaluator_type":"head","dimension":"purpose","score":4,"scale":"1-5","period":"2026-Q5","subject":"cadre.7","rater":"R"}}`, "survey.period: must be"},
		{head + `"survey":{"evaluator_type":"head","dimension":"purpose","score":4,"scale":"1-5","period":"2026-13","subject":"cadre.7","rater":"R"}}`, "survey.period: must be"},
		{head + `"survey":{"evaluator_type":"head","dimension":"purpose","score":4,"scale":"1-5","period":"2026-Q3","subject":"cadre.9","rater":"R"}}`, "survey.subject: not a cadre id or unit code"},
		{head + `"survey":{"evaluator_type":"head","dimension":"purpose","score":4,"scale":"1-5","period":"2026-Q3","subject":"cadre.7"}}`, "survey.rater: required"},
		{head + `"survey":{"evaluator_type":"head","dimension":"purpose","score":4,"scale":"1-5","period":"2026-Q3","subject":"cadre.7","rater":"张 三"}}`, "survey.rater: not a rater id"},
		{head + `"x":1}`, "survey: required on evaluation.survey"},
		{`{"id":"e1","type":"case.accepted","case_id":"C1","at":"2026-11-20T10:00:00+08:00","survey":{}}`, "survey: only on evaluation.survey"},
		{`{"id":"e1","type":"whistle.resolved","case_id":"C1","whistle_id":"W","at":"2026-11-20T10:00:00+08:00","supersedes":"e0"}`, "supersedes: only on case events, evaluation.survey and staff.duty"},
	}
	for _, c := range bad {
		_, _, err := Decode([]byte(c.line), &r, now)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s\n got %v, want %q", c.line, err, c.want)
		}
	}
	// A correction of a survey record supersedes it like a case event's.
	corr := strings.Replace(strings.Replace(good, `"s1"`, `"s2"`, 1), `"score":4`, `"score":5`, 1)
	corr = strings.Replace(corr, `"survey":`, `"supersedes":"s1","survey":`, 1)
	ev2, _, err := Decode([]byte(corr), &r, now)
	if err != nil {
		t.Fatal(err)
	}
	live := Live([]Event{ev, ev2})
	if len(live) != 1 || live[0].ID != "s2" || live[0].Survey.Score != 5 {
		t.Fatalf("live after correction: %+v", live)
	}
}

func TestSurveyPeriods(t *testing.T) {
	for _, c := range []struct {
		s    string
		kind byte
	}{{"2026-Q3", 'Q'}, {"2026-Q1", 'Q'}, {"2026-11", 'M'}, {"2026-01", 'M'}} {
		k, i, ok := ParsePeriod(c.s)
		if !ok || k != c.kind || PeriodName(k, i) != c.s {
			t.Errorf("%s: %c %d %v → %s", c.s, k, i, ok, PeriodName(k, i))
		}
	}
	_, q4, _ := ParsePeriod("2025-Q4")
	_, q1, _ := ParsePeriod("2026-Q1")
	if q1-q4 != 1 {
		t.Errorf("2025-Q4 → 2026-Q1 differ by %d", q1-q4)
	}
}
