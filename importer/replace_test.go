package importer

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// timeline is the part of GET /api/v1/cases/{id} the correction tests read.
type timeline struct {
	Events []struct {
		ID, Type, Supersedes string
	}
	Timeline struct {
		Status string
		Steps  []struct {
			ID, Type, Dept, To string
			At                 time.Time
			Supersedes         string `json:"supersedes"`
			SupersededBy       string `json:"superseded_by"`
		}
		Flags []string
	}
}

func caseTimeline(t *testing.T, base, id string) timeline {
	t.Helper()
	var tl timeline
	resp, err := http.Get(base + "/api/v1/cases/" + id + "?token=" + testToken)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&tl); err != nil {
		t.Fatal(err)
	}
	return tl
}

// inForce returns the steps of a timeline not superseded, as "type@time dept".
func (tl timeline) inForce() []string {
	var out []string
	for _, s := range tl.Timeline.Steps {
		if s.SupersededBy == "" {
			out = append(out, strings.TrimPrefix(s.Type, "case.")+"@"+s.At.Format("01-02 15:04")+" "+s.Dept)
		}
	}
	return out
}

// A corrected export imported again: without Replace the changed events are refused and said to
// be changed; with it every event is compared with the server's history and the changed ones go
// in as corrections superseding what is held (a report too; an earlier closing wins), once; a
// version brought back is a correction too. Every version stays in the case's timeline.
func TestImportReplace(t *testing.T) {
	t.Parallel()
	const head = "case_id,reported_at,closed_at,resolved_at,dept,category,region,lon,lat,address,summary,deadline,source\n"
	v1 := head +
		"R1,2025-03-01 08:00:00,2025-03-02 09:00:00,,county.urban-mgmt,environment,411502001,114.07,32.12,,,2025-03-04 08:00:00,\n" +
		"R2,2025-03-01 09:00:00,,,county.urban-mgmt,cityorder,411502001,114.07,32.12,,,,\n" +
		"R3,2025-03-01 10:00:00,,,,safety,411502001,114.07,32.12,,,,\n"
	// The source corrected R1's department and closing, closed R2, recategorized R3.
	v2 := head +
		"R1,2025-03-01 08:00:00,2025-03-02 18:00:00,,county.eco-env,environment,411502001,114.07,32.12,,,2025-03-04 08:00:00,\n" +
		"R2,2025-03-01 09:00:00,2025-03-03 09:00:00,,county.urban-mgmt,cityorder,411502001,114.07,32.12,,,,\n" +
		"R3,2025-03-01 10:00:00,,,,cityorder,411502001,114.07,32.12,,,,\n"
	base := startServer(t)
	ctx := context.Background()
	run := func(in string, replace bool) Report {
		t.Helper()
		rep, err := Run(ctx, strings.NewReader(in), Presets["zhili"], Options{URL: base, Key: testKey, Replace: replace})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	if rep := run(v1, false); rep.Accepted != 7 || len(rep.Errors) != 0 {
		t.Fatalf("v1 %+v", rep)
	}

	// Without Replace: R1's three changed events refused (id_conflict, naming --replace), R2's
	// closing accepted, R3's report kept as it was (a warning naming --replace).
	rep := run(v2, false)
	if rep.Accepted != 2 || rep.Rejected["id_conflict"] != 3 || rep.Warnings["report_changed"] != 1 || rep.Imported != 3 {
		t.Fatalf("v2 %+v", rep)
	}
	for _, e := range rep.Errors {
		if (e.CaseID == "R1" || e.CaseID == "R3") && !strings.Contains(e.Error, "--replace") {
			t.Errorf("%+v", e)
		}
	}

	// With Replace: R1's three events and R3's report go in as corrections, the rest is held
	// as sent (duplicates); again, nothing changes.
	caseEventList(t, base, "R2", 4) // stored: compared from the history store
	rep = run(v2, true)
	if rep.Accepted != 4 || rep.Replaced != 4 || rep.Duplicates != 5 || len(rep.Rejected) != 0 || rep.Warnings["replaced"] != 4 || rep.Warnings["report_changed"] != 0 {
		t.Fatalf("v2 --replace %+v", rep)
	}
	var ids []string
	for _, e := range rep.Errors {
		if e.Kind == "replaced" {
			ids = append(ids, e.EventID)
		}
	}
	slices.Sort(ids)
	if strings.Join(ids, " ") != "R1:closed.v2 R1:dispatched.v2 R1:resolved.v2 R3:reported.v2" {
		t.Errorf("corrections %v", ids)
	}
	caseEventList(t, base, "R1", 7)
	if rep = run(v2, true); rep.Accepted != 0 || rep.Duplicates != 9 || rep.Replaced != 0 || len(rep.Rejected) != 0 {
		t.Fatalf("v2 --replace again %+v", rep)
	}

	// A third version: another department, and a closing earlier than either before.
	v3 := strings.Replace(strings.Replace(v2, "county.eco-env", "county.housing", 1), "2025-03-02 18:00:00", "2025-03-01 20:00:00", 1)
	if rep = run(v3, true); rep.Accepted != 3 || rep.Replaced != 3 {
		t.Fatalf("v3 %+v", rep)
	}
	tl := caseTimeline(t, base, "R1")
	for len(tl.Events) < 10 {
		time.Sleep(50 * time.Millisecond)
		tl = caseTimeline(t, base, "R1")
	}
	want := "[reported@03-01 08:00  dispatched@03-01 08:00 county.housing resolved@03-01 20:00  closed@03-01 20:00 ]"
	if got := tl.inForce(); tl.Timeline.Status != "closed" || slices.Contains(tl.Timeline.Flags, "illegal_transition") || !slices.Contains(tl.Timeline.Flags, "corrected") || strings.Join(got, " ") != strings.Trim(want, "[]") {
		t.Errorf("R1 in force %v, status %s, flags %v\nwant %s", got, tl.Timeline.Status, tl.Timeline.Flags, want)
	}
	var chain []string
	for _, s := range tl.Timeline.Steps {
		if s.Type == "case.dispatched" {
			chain = append(chain, s.ID+">"+s.SupersededBy)
		}
	}
	slices.Sort(chain)
	if strings.Join(chain, " ") != "import/R1:dispatched.v2>import/R1:dispatched.v3 import/R1:dispatched.v3> import/R1:dispatched>import/R1:dispatched.v2" {
		t.Errorf("R1's dispatches %v", chain)
	}
	if r3 := caseTimeline(t, base, "R3"); len(r3.Events) != 2 || r3.Events[1].Supersedes != "import/R3:reported" {
		t.Errorf("R3 %+v", r3.Events)
	}

	// Back to the first version: corrections again, superseding the third (R2's closing, absent
	// from v1, stays: a correction replaces, it does not withdraw).
	if rep = run(v1, true); rep.Accepted != 4 || rep.Replaced != 4 || rep.Duplicates != 3 {
		t.Fatalf("v1 again %+v", rep)
	}
	for tl = caseTimeline(t, base, "R1"); len(tl.Events) < 13; tl = caseTimeline(t, base, "R1") {
		time.Sleep(50 * time.Millisecond)
	}
	if got := strings.Join(tl.inForce(), " "); got != "reported@03-01 08:00  dispatched@03-01 08:00 county.urban-mgmt resolved@03-02 09:00  closed@03-02 09:00 " {
		t.Errorf("R1 back to v1: %s", got)
	}
}
