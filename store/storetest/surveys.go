package storetest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"zhili/event"
	"zhili/store"
)

var errStop = errors.New("stop")

func surveyRec(id, at string, off uint64, subject, rater string, score float64) store.Record {
	r := rec(event.EvaluationSurvey, id, "", at, off)
	r.Survey = &event.Survey{EvaluatorType: event.EvaluatorServed, Dimension: event.DimPurpose,
		Score: score, Scale: "0-100", Period: "2026-Q3", Subject: subject, Rater: rater}
	return r
}

// testSurveys: survey records are stored with their content, read back by Surveys in
// (At, Offset) order with their corrections, and counted by no case query.
func testSurveys(t *testing.T, s store.Store) {
	a := surveyRec("sv-1", "2026-10-02T09:00:00+08:00", 1, "cadre.1", "R1", 87.5)
	b := surveyRec("sv-2", "2026-10-01T09:00:00+08:00", 2, "cadre.2", "R1", 60)
	fix := surveyRec("sv-1b", "2026-10-03T09:00:00+08:00", 4, "cadre.1", "R1", 90)
	fix.Supersedes = "sv-1"
	c := reported("c-1", "2026-10-01T10:00:00+08:00", 3, rR, rA, rA1)
	write(t, s, 3, a, b, c)
	write(t, s, 4, fix, a) // a again: stored once

	var got []store.Record
	if err := s.Surveys(t.Context(), func(r store.Record) error {
		got = append(got, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if ids := strings.Join(recIDs(got), " "); ids != "sv-2 sv-1 sv-1b" {
		t.Fatalf("Surveys = %s, want sv-2 sv-1 sv-1b", ids)
	}
	sv := got[1].Survey
	if sv == nil || *sv != *a.Survey || got[1].Type != event.EvaluationSurvey || got[1].CaseID != "" {
		t.Fatalf("sv-1 read back as %+v %+v", got[1].Event, sv)
	}
	if got[2].Supersedes != "sv-1" || got[2].Survey.Score != 90 {
		t.Errorf("correction read back as %+v", got[2].Event)
	}
	live := event.Live([]event.Event{got[0].Event, got[1].Event, got[2].Event})
	if len(live) != 2 || live[1].ID != "sv-1b" {
		t.Errorf("in force: %v", live)
	}
	// A case event reads back without survey content; surveys count as no report.
	if ev := caseEvents(t, s, "C-c-1"); len(ev) != 1 || ev[0].Survey != nil {
		t.Errorf("case event read back as %+v", ev)
	}
	if n := count(t, s); n != 4 {
		t.Errorf("Count = %d, want 4", n)
	}
	stop := 0
	err := s.Surveys(t.Context(), func(store.Record) error {
		stop++
		return errStop
	})
	if err != errStop || stop != 1 {
		t.Errorf("Surveys stops at fn's error: %v after %d", err, stop)
	}
}

// testSurveysVersion: a store that tells its surveys' version changes it with a write holding a
// survey record, and not with one without.
func testSurveysVersion(t *testing.T, s store.Store) {
	sv, ok := s.(store.SurveysVersioned)
	if !ok {
		t.Skip("the store does not tell its surveys' version")
	}
	version := mustVersion(t, sv.SurveysVersion)
	v0 := version()
	write(t, s, 1, surveyRec("sv1", "2026-11-27T08:00:00+08:00", 1, "P1", "R1", 80))
	v1 := version()
	if v1 == v0 {
		t.Fatalf("surveys' version %d unchanged by a survey record", v1)
	}
	// A write of a case leaves it. Other stores of the process may write survey records
	// meanwhile (the suite runs in parallel) and move the shared counter: a case write that
	// left it unchanged once, of three tries, shows it.
	moved := 0
	for i := range 3 {
		a := version()
		write(t, s, uint64(2+i), reported(fmt.Sprintf("sv-case%d", i), "2026-11-27T09:00:00+08:00", uint64(2+i), rR))
		if version() == a {
			break
		}
		moved++
	}
	if moved == 3 {
		t.Errorf("surveys' version moved by every one of three case writes")
	}
}
