// Survey records (evaluation.survey): their content is stored as JSON in the events table's
// survey column, and read back by Surveys for the evaluation read side. The same column holds
// the content of staff.duty records (the duty object), read back by Replay: it is the content
// column of the records that belong to no case, told apart by the record's type.

package store

import (
	"context"

	json "github.com/goccy/go-json"

	"zhili/event"
)

// surveyJSON is the stored form of a survey ("" when none).
func surveyJSON(s *event.Survey) string {
	if s == nil {
		return ""
	}
	b, err := json.Marshal(s)
	if err != nil {
		return ""
	}
	return string(b)
}

// contentJSON is the stored form of the content object of e (a survey or a duty record; ""
// when none).
func contentJSON(e *event.Event) string {
	if e.Type == event.StaffDuty {
		if e.Duty == nil {
			return ""
		}
		b, err := json.Marshal(e.Duty)
		if err != nil {
			return ""
		}
		return string(b)
	}
	return surveyJSON(e.Survey)
}

// setContent reads the stored content column s back into e, by e's type.
func setContent(e *event.Event, s string) {
	if e.Type == event.StaffDuty {
		if s == "" {
			return
		}
		var d event.Duty
		if json.Unmarshal([]byte(s), &d) == nil {
			e.Duty = &d
		}
		return
	}
	e.Survey = surveyOf(s)
}

// surveyOf reads the stored form back (nil when none or unreadable).
func surveyOf(s string) *event.Survey {
	if s == "" {
		return nil
	}
	var sv event.Survey
	if json.Unmarshal([]byte(s), &sv) != nil {
		return nil
	}
	return &sv
}

// Surveys implements Store.
func (d *DuckDB) Surveys(ctx context.Context, fn func(Record) error) (qerr error) {
	defer ctxCause(ctx, &qerr)
	if err := d.check(); err != nil {
		return err
	}
	return d.records(ctx, fn, recordSelect+` WHERE e.type = ? ORDER BY e.at_utc, e.at_ns, e.intake_offset, e.id`,
		string(event.EvaluationSurvey))
}

// Surveys implements Store: the whole history, whichever partition the view is.
func (v *chView) Surveys(ctx context.Context, fn func(Record) error) error {
	if err := v.check(); err != nil {
		return err
	}
	w := `type = ` + chQuote(string(event.EvaluationSurvey))
	return v.s.records(ctx, fn, chRecordQuery(w, `id IN (SELECT id FROM events WHERE `+w+`)`))
}
