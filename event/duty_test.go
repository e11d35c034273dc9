package event

import (
	"strings"
	"testing"
	"time"
)

func TestDutyDecode(t *testing.T) {
	r := DefaultRules()
	r.KnownStaff = func(id string) bool { return id == "gs.7" }
	r.KnownRegion = func(code string) bool { return code == "411502001001" }
	now := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	const head = `{"id":"d1","type":"staff.duty","at":"2026-11-27T08:00:00+08:00",`
	ev, _, err := Decode([]byte(head+`"duty":{"staff":"gs.7","grid":"411502001001","state":"on"}}`), &r, now)
	if err != nil {
		t.Fatal(err)
	}
	if ev.CaseID != "" || ev.Duty == nil || *ev.Duty != (Duty{Staff: "gs.7", Grid: "411502001001", State: DutyOn}) {
		t.Fatalf("decoded %+v %+v", ev, ev.Duty)
	}
	// A correction of a duty record.
	if _, _, err := Decode([]byte(head+`"supersedes":"d0","duty":{"staff":"gs.7","grid":"411502001001","state":"off"}}`), &r, now); err != nil {
		t.Fatal(err)
	}
	bad := []struct{ line, want string }{
		{head + `"x":1}`, "duty: required on staff.duty"},
		{head + `"duty":{"grid":"411502001001","state":"on"}}`, "duty.staff: required"},
		{head + `"duty":{"staff":"张 三","grid":"411502001001","state":"on"}}`, "duty.staff: not a staff id"},
		{head + `"duty":{"staff":"gs.8","grid":"411502001001","state":"on"}}`, "duty.staff: not a grid staff id of the roster"},
		{head + `"duty":{"staff":"gs.7","state":"on"}}`, "duty.grid: required"},
		{head + `"duty":{"staff":"gs.7","grid":"999","state":"on"}}`, "duty.grid: unknown region code"},
		{head + `"duty":{"staff":"gs.7","grid":"411502001001"}}`, "duty.state: required"},
		{head + `"duty":{"staff":"gs.7","grid":"411502001001","state":"lunch"}}`, "duty.state: must be on or off"},
		{head + `"duty":"on"}`, "duty: expected object"},
		{`{"id":"e1","type":"case.accepted","case_id":"C1","at":"2026-11-20T10:00:00+08:00","duty":{}}`, "duty: only on staff.duty"},
	}
	for _, c := range bad {
		_, _, err := Decode([]byte(c.line), &r, now)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s\n got %v, want %q", c.line, err, c.want)
		}
	}
}
