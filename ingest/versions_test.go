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
	"zhili/intake"
)

// A correction is sent only when the data changed: the versions of a key's events, from the
// history store, with the version in force and whether the body's content is that version's.
// A supersedes is namespaced like the id; ingest namespaces it too.
func TestDoorVersions(t *testing.T) {
	tree := geo.DemoTree()
	door, rec := openDoor(t, ingest.Config{Tree: tree})
	at := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	region := tree.Root.Children[0].Code
	closing := func(id, when, sat, sup string) string {
		l := `{"id":"` + id + `","type":"case.closed","case_id":"C1","at":"` + when + `","satisfaction":"` + sat + `"`
		if sup != "" {
			l += `,"supersedes":"` + sup + `"`
		}
		return l + "}"
	}
	t1, t2 := at.Format(time.RFC3339), at.Add(time.Minute).Format(time.RFC3339)
	parse := func(line string) event.Event {
		r := event.DefaultRules()
		r.KnownRegion = func(string) bool { return true }
		e, _, err := event.Decode([]byte(line), &r, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	// The store: imp/c1 (satisfied at t1), corrected by imp/c1.r2 (unsatisfied at t2); imp/c2;
	// another key's c3.
	stored := map[string][]event.Event{}
	add := func(chain ...event.Event) {
		for i := range chain {
			chain[i].ID = ingest.StoredID("imp", chain[i].ID)
			if chain[i].Supersedes != "" {
				chain[i].Supersedes = ingest.StoredID("imp", chain[i].Supersedes)
			}
		}
		stored[chain[0].ID] = chain
	}
	add(parse(closing("c1", t1, "satisfied", "")), parse(closing("c1.r2", t2, "unsatisfied", "c1")))
	add(parse(closing("c2", t1, "satisfied", "")))
	stored["other/c3"] = []event.Event{parse(closing("c3", t1, "satisfied", ""))}
	var asked []string
	lookup := func(_ context.Context, ids []string) (map[string][]event.Event, error) {
		asked = append(asked, ids...)
		out := map[string][]event.Event{}
		for _, id := range ids {
			if c, ok := stored[id]; ok {
				out[id] = c
			}
		}
		return out, nil
	}
	body := strings.Join([]string{
		closing("c1", t2, "unsatisfied", ""), // the version in force's content
		closing("c1", t1, "satisfied", ""),   // the first version's: not the one in force
		closing("c2", t1, "satisfied", "x"),  // same content (supersedes is no content)
		closing("c2", t2, "satisfied", ""),   // changed
		closing("c3", t1, "satisfied", ""),   // another key's id: not this key's
		`{"id":"bad","type":"case.closed"}`,
		`{"id":"r1","type":"case.reported","case_id":"C2","at":"` + t1 + `","source":"grid","category":"environment","region":"` + region + `"}`,
	}, "\n")
	rep, err := door.Versions(context.Background(), ingest.ContentNDJSON, []byte(body), &ingest.Policy{Name: "imp"}, lookup)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range rep.Versions {
		got = append(got, fmt.Sprintf("%d:%s:%v:%s:%d:%v", v.Line, v.ID, v.Stored, v.Latest, v.Revisions, v.Same))
	}
	want := "[1:c1:true:c1.r2:2:true 2:c1:true:c1.r2:2:false 3:c2:true:c2:1:true 4:c2:true:c2:1:false 5:c3:false::0:false 7:r1:false::0:false]"
	if fmt.Sprint(got) != want {
		t.Errorf("versions %v\nwant     %s", got, want)
	}
	if len(rep.Rejected) != 1 || rep.Rejected[0].Line != 6 || rep.Rejected[0].Code != "invalid" {
		t.Errorf("rejected %+v", rep.Rejected)
	}
	if !strings.Contains(strings.Join(asked, " "), "imp/c3") || strings.Contains(strings.Join(asked, " "), "other/") {
		t.Errorf("asked the store for %v", asked)
	}
	if len(rec.got) != 0 {
		t.Errorf("versions stored %d records", len(rec.got))
	}

	// Ingest namespaces supersedes like the id.
	if r, err := door.Ingest(context.Background(), ingest.ContentNDJSON, []byte(closing("c9.r2", t1, "", "c9")), &ingest.Policy{Name: "imp"}); err != nil || r.Accepted != 1 {
		t.Fatalf("ingest a correction: %+v %v", r, err)
	}
	last := rec.got[len(rec.got)-1]
	if l, err := ingest.Decode(intake.Entry{Offset: 1, ID: last.ID, Data: last.Data}); err != nil || l.Event.ID != "imp/c9.r2" || l.Event.Supersedes != "imp/c9" {
		t.Fatalf("logged %+v %v", l.Event, err)
	}
}
