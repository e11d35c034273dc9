package ingest

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"

	json "github.com/goccy/go-json"

	"zhili/event"
	"zhili/intake"
)

// Record is the intake log's record format: an event as accepted, with its arrival time. The
// door writes it; the aggregator reads it.
type Record struct {
	Received int64       `json:"r"` // unix milliseconds
	Event    event.Event `json:"e"`
}

// ReceivedTime is the arrival time.
func (r *Record) ReceivedTime() time.Time { return time.UnixMilli(r.Received) }

// Encode returns the intake record of ev, received at received: its id, its partition key,
// its encoded form and its digest (Digest).
func Encode(ev event.Event, received time.Time) (intake.Record, error) {
	b, err := json.Marshal(Record{Received: received.UnixMilli(), Event: ev})
	if err != nil {
		return intake.Record{}, err
	}
	dg, err := Digest(&ev)
	if err != nil {
		return intake.Record{}, err
	}
	return intake.Record{ID: ev.ID, Key: PartitionKey(&ev), Data: b, Digest: dg}, nil
}

// Digest identifies an event's content: the first 8 bytes of the SHA-256 of its canonical JSON
// (the event as validated, so that the same line sent again gets the same digest whatever its
// key order or spacing; never 0). The intake log tells a repeated event (a duplicate) from
// another event under a taken id (a conflict) by it.
func Digest(ev *event.Event) (uint64, error) {
	b, err := json.Marshal(ev)
	if err != nil {
		return 0, err
	}
	sum := sha256.Sum256(b)
	return max(binary.BigEndian.Uint64(sum[:8]), 1), nil
}

// Decode reads the record of an intake entry.
func Decode(e intake.Entry) (Record, error) {
	var r Record
	if err := json.Unmarshal(e.Data, &r); err != nil {
		return Record{}, fmt.Errorf("intake entry %d: %w", e.Offset, err)
	}
	return r, nil
}

// PartitionKey is the intake partition key of an event: its case id, so that one case's events
// stay in order in one partition (a survey record's subject, so that one subject's records do;
// a duty record's staff member, so that a correction meets the record it corrects; the event id
// when it has neither).
func PartitionKey(ev *event.Event) string {
	if ev.Type == event.EvaluationSurvey && ev.Survey != nil && ev.CaseID == "" {
		return "survey:" + ev.Survey.Subject
	}
	if ev.Type == event.StaffDuty && ev.Duty != nil && ev.CaseID == "" {
		return "staff:" + ev.Duty.Staff
	}
	if ev.CaseID != "" {
		return ev.CaseID
	}
	return ev.ID
}
