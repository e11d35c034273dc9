package ingest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"zhili/event"
	"zhili/geo"
	"zhili/ingest"
)

// Survey records come through the door without a case: logged by their subject, their
// correction namespaced by the key like any other; a region-limited key rates only the
// subjects serving its regions, and a subject must be known when the rules say which are.
func TestDoorSurveys(t *testing.T) {
	tree := geo.DemoTree()
	town, other := tree.Root.Children[0].Code, tree.Root.Children[1].Code
	rules := event.DefaultRules()
	rules.KnownSubject = func(id string) bool { return id == "P1" || id == "P2" }
	door, rec := openDoor(t, ingest.Config{Tree: tree, Rules: rules, SubjectRegion: func(id string) string {
		return map[string]string{"P1": town, "P2": other}[id]
	}})
	at := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	line := func(id, subject, extra string) string {
		return fmt.Sprintf(`{"id":%q,"type":"evaluation.survey","at":%q%s,"survey":{"evaluator_type":"team","dimension":"teamwork","score":88,"scale":"0-100","period":"2026-11","subject":%q,"rater":"R1"}}`, id, at, extra, subject)
	}
	pol := &ingest.Policy{Name: "survey-sys", Regions: []string{town}}
	body := strings.Join([]string{line("s1", "P1", ""), line("s2", "P1", `,"supersedes":"s1"`), line("s3", "P2", ""), line("s4", "P9", "")}, "\n")
	rep, err := door.Ingest(context.Background(), ingest.ContentNDJSON, []byte(body), pol)
	if err != nil {
		t.Fatal(err)
	}
	why := map[string]string{}
	for _, r := range rep.Rejected {
		why[r.ID] = r.Field + " " + r.Code
	}
	if rep.Accepted != 2 || why["s3"] != "survey.subject region_not_allowed" || why["s4"] != "survey.subject invalid" {
		t.Fatalf("reply %+v (%v); want s1, s2 accepted, s3 outside the key's regions, s4 unknown", rep, why)
	}
	// One subject's records stay in order in one partition.
	if len(rec.got) != 2 || rec.got[0].Key != "survey:P1" || rec.got[1].Key != "survey:P1" {
		t.Fatalf("logged %+v; want two records keyed by their subject", rec.got)
	}
	entries, err := rec.Intake.Read(context.Background(), 0, 10)
	if err != nil || len(entries) != 2 {
		t.Fatalf("read back: %d, %v", len(entries), err)
	}
	r, err := ingest.Decode(entries[1])
	if err != nil || r.Event.Supersedes != "survey-sys/s1" || r.Event.Survey == nil || r.Event.Survey.Score != 88 || r.Event.CaseID != "" {
		t.Fatalf("correction decoded %+v, %v", r.Event, err)
	}
}

// Duty records: a region-limited key reports duty only in grids of its regions, and one staff
// member's records (a correction with the record it corrects) share a partition.
func TestDoorDuty(t *testing.T) {
	tree := geo.DemoTree()
	town, other := tree.Root.Children[0], tree.Root.Children[1]
	in, out := town.Code, other.Code
	if len(town.Children) > 0 {
		in = town.Children[0].Code
	}
	if len(other.Children) > 0 {
		out = other.Children[0].Code
	}
	door, rec := openDoor(t, ingest.Config{Tree: tree, Rules: event.DefaultRules()})
	at := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	line := func(id, staff, grid, extra string) string {
		return fmt.Sprintf(`{"id":%q,"type":"staff.duty","at":%q%s,"duty":{"staff":%q,"grid":%q,"state":"on"}}`, id, at, extra, staff, grid)
	}
	pol := &ingest.Policy{Name: "grid-app", Regions: []string{town.Code}}
	body := strings.Join([]string{line("d1", "S1", in, ""), line("d2", "S1", in, `,"supersedes":"d1"`), line("d3", "S2", out, "")}, "\n")
	rep, err := door.Ingest(context.Background(), ingest.ContentNDJSON, []byte(body), pol)
	if err != nil {
		t.Fatal(err)
	}
	why := map[string]string{}
	for _, r := range rep.Rejected {
		why[r.ID] = r.Field + " " + r.Code
	}
	if rep.Accepted != 2 || why["d3"] != "duty.grid region_not_allowed" {
		t.Fatalf("reply %+v (%v); want d1, d2 accepted, d3 outside the key's regions", rep, why)
	}
	if len(rec.got) != 2 || rec.got[0].Key != "staff:S1" || rec.got[1].Key != "staff:S1" {
		t.Fatalf("logged %+v; want two records keyed by their staff member", rec.got)
	}
}
