package importer

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// A corrected export imported again: without Replace the changed events are refused and said
// to be changed; with it they go in as revisions (idempotent on a third run); a report cannot
// be replaced and stays as first imported.
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
	// closing accepted, R3's report kept as it was (a warning).
	rep := run(v2, false)
	if rep.Accepted != 2 || rep.Rejected["id_conflict"] != 3 || rep.Warnings["report_changed"] != 1 || rep.Imported != 3 {
		t.Fatalf("v2 %+v", rep)
	}
	for _, e := range rep.Errors {
		if e.CaseID == "R1" && !strings.Contains(e.Error, "--replace") {
			t.Errorf("%+v", e)
		}
	}

	// With Replace: the revisions go in, once.
	rep = run(v2, true)
	if rep.Accepted != 3 || rep.Replaced != 3 || len(rep.Rejected) != 0 || rep.Warnings["replaced"] != 3 || rep.Warnings["report_changed"] != 1 {
		t.Fatalf("v2 --replace %+v", rep)
	}
	var ids []string
	for _, e := range rep.Errors {
		if e.Kind == "replaced" {
			ids = append(ids, e.EventID)
		}
	}
	slices.Sort(ids)
	if strings.Join(ids, " ") != "R1:closed.r2 R1:dispatched.r2 R1:resolved.r2" {
		t.Errorf("revisions %v", ids)
	}
	if rep = run(v2, true); rep.Accepted != 0 || rep.Duplicates != 8 || len(rep.Rejected) != 0 {
		t.Fatalf("v2 --replace again %+v", rep)
	}
	// A third version: the next revision.
	v3 := strings.Replace(v2, "county.eco-env", "county.housing", 1)
	if rep = run(v3, true); rep.Accepted != 1 || rep.Replaced != 3 {
		t.Fatalf("v3 %+v", rep)
	}

	// What the server holds: every version (the audit trail); the last dispatch is the
	// corrected department.
	all := caseEventList(t, base, "R1", 8)
	var depts []string
	for _, e := range all {
		if e.Type == "case.dispatched" {
			depts = append(depts, e.Dept+"@"+e.ID)
		}
	}
	if strings.Join(depts, " ") != "county.urban-mgmt@import/R1:dispatched county.eco-env@import/R1:dispatched.r2 county.housing@import/R1:dispatched.r3" {
		t.Errorf("dispatches %v", depts)
	}
	if r3 := caseEvents(t, base, "R3", 1); r3["case.reported"].Category != "safety" {
		t.Errorf("R3 %+v", r3)
	}
}
