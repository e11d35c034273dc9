package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"zhili/importer"
)

// A 12345 export whose report times carry no offset (local time) and whose closing times do
// (another subsystem's): imported first with the wrong zone (UTC), which moves every report 8
// hours late (some closings now come before their report, one report leaves the week), then
// with --replace and the right zone, and a district and a category the source corrected since.
// The audits (by department and by district, this week and the week before) and the period
// counts then equal a fresh import of the right file into another server.
func TestImportWrongZoneThenReplace(t *testing.T) {
	t.Parallel()
	const head = "case_id,reported_at,closed_at,resolved_at,dept,category,region,lon,lat,address,summary,deadline,source,satisfaction\n"
	rows := []string{
		"Z1,2025-03-03 09:00:00,2025-03-03T20:00:00+08:00,,county.urban-mgmt,environment,411502001,,,,,1个工作日,,满意",
		"Z2,2025-03-03 10:00:00,2025-03-04T09:00:00+08:00,,county.urban-mgmt,cityorder,411502001,,,,,,,不满意",
		"Z3,2025-03-04 08:00:00,2025-03-04T12:00:00+08:00,,county.eco-env,environment,411502002,,,,,2个工作日,,基本满意",
		"Z4,2025-03-09 20:00:00,2025-03-10T10:00:00+08:00,,county.eco-env,safety,411502002,,,,,,,",
		"Z5,2025-03-05 14:00:00,,,county.urban-mgmt,dispute,411502001,,,,,,,",
		"Z6,2025-03-06 09:00:00,2025-03-07T09:00:00+08:00,,county.housing,livelihood,411502001,,,,,3个工作日,,满意",
		"Z7,2025-02-28 22:00:00,2025-03-01T10:00:00+08:00,,county.housing,livelihood,411502002,,,,,,,满意",
	}
	wrongFile := head + strings.Join(rows, "\n") + "\n"
	// Since the first export the source moved Z6 to another township and recategorized Z2.
	rightFile := strings.Replace(strings.Replace(wrongFile, "county.housing,livelihood,411502001", "county.housing,livelihood,411502003", 1),
		"county.urban-mgmt,cityorder", "county.urban-mgmt,environment", 1)

	wrong, right := startApp(t, t.TempDir()), startApp(t, t.TempDir())
	shanghai := importer.Presets["zhili"]
	utc := shanghai
	utc.TZ = time.UTC
	imp := func(a *App, m importer.Mapping, file string, replace bool) importer.Report {
		t.Helper()
		rep, err := importer.Run(context.Background(), strings.NewReader(file), m, importer.Options{URL: "http://" + a.Addr, Key: testKey, Replace: replace})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	get := func(a *App, path string) string {
		t.Helper()
		resp, err := http.Get("http://" + a.Addr + path + "&token=" + testToken)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: HTTP %d, %v", path, resp.StatusCode, err)
		}
		// When the reply was made is no figure of the data.
		delete(v, "as_of")
		delete(v, "previous_as_of")
		if rc, ok := v["reconcile"].(map[string]any); ok {
			if rj, ok := rc["rejected"].(map[string]any); ok {
				delete(rj, "since")
			}
		}
		delete(v, "definitions")
		b, _ := json.Marshal(v)
		return string(b)
	}
	const week = "from=2025-03-03&to=2025-03-10"
	views := []string{
		"/api/v1/audit/rates?by=dept&" + week,
		"/api/v1/audit/rates?by=region&" + week,
		"/api/v1/audit/rates?by=dept&from=2025-02-24&to=2025-03-03",
		"/api/v1/series?step=1d&from=2025-02-24&to=2025-03-17",
		"/api/v1/series?step=1d&type=case.closed&from=2025-02-24&to=2025-03-17",
		"/api/v1/counts?from=2025-02-24&to=2025-03-17",
	}
	settled := func(a *App, cases int) {
		t.Helper()
		eventually(t, 15*time.Second, func() string {
			n := 0
			for _, id := range []string{"Z1", "Z2", "Z3", "Z4", "Z5", "Z6", "Z7"} {
				resp, err := http.Get("http://" + a.Addr + "/api/v1/cases/" + id + "?token=" + testToken)
				if err != nil {
					return err.Error()
				}
				var c struct{ Events []json.RawMessage }
				json.NewDecoder(resp.Body).Decode(&c)
				resp.Body.Close()
				n += len(c.Events)
			}
			if n != cases {
				return fmt.Sprintf("%d events stored, want %d", n, cases)
			}
			return ""
		})
	}

	rep := imp(right, shanghai, rightFile, false)
	n := rep.Accepted // 7 reports, 7 dispatches, 6 resolutions and closings
	if n != 26 || len(rep.Errors) != 0 {
		t.Fatalf("right file: %+v", rep)
	}
	rep = imp(wrong, utc, wrongFile, false)
	if rep.Accepted != n || rep.Warnings["time_order"] == 0 {
		t.Fatalf("wrong zone: %+v", rep)
	}
	settled(right, n)
	settled(wrong, n)
	differ := 0
	for _, v := range views {
		if get(wrong, v) != get(right, v) {
			differ++
		}
	}
	if differ < len(views)-1 {
		t.Fatalf("the wrong zone changes only %d of %d views: the test has no teeth", differ, len(views))
	}

	// The right zone, with --replace: every event of every row is a correction (the closings'
	// times did not change, but what the wrong import clamped to a late report did).
	rep = imp(wrong, shanghai, rightFile, true)
	if len(rep.Rejected) != 0 || rep.Replaced == 0 || rep.Accepted != rep.Replaced || rep.Accepted+rep.Duplicates != rep.Events {
		t.Fatalf("--replace: %+v", rep)
	}
	t.Logf("--replace: %d events, %d corrections, %d unchanged", rep.Events, rep.Replaced, rep.Duplicates)
	settled(wrong, n+rep.Replaced)
	for _, v := range views {
		eventually(t, 10*time.Second, func() string {
			if w, r := get(wrong, v), get(right, v); w != r {
				return fmt.Sprintf("%s after --replace:\n got %s\nwant %s", v, w, r)
			}
			return ""
		})
	}
	// The figures themselves, by department this week.
	var audit struct {
		Units []struct {
			Unit    string
			Current struct {
				Cases, Closed int64
				P50           *int64                   `json:"close_p50_s"`
				OnTime        struct{ Num, Den int64 } `json:"on_time"`
				Satisfaction  struct{ Num, Den int64 }
			}
		}
	}
	json.Unmarshal([]byte(get(wrong, views[0])), &audit)
	var got []string
	for _, u := range audit.Units {
		c := u.Current
		p50 := int64(-1)
		if c.P50 != nil {
			p50 = *c.P50
		}
		got = append(got, fmt.Sprintf("%s %d/%d p50=%d ontime=%d/%d sat=%d/%d", u.Unit, c.Closed, c.Cases, p50, c.OnTime.Num, c.OnTime.Den, c.Satisfaction.Num, c.Satisfaction.Den))
	}
	want := "[county.eco-env 2/2 p50=14400 ontime=1/1 sat=1/1 county.housing 1/1 p50=86400 ontime=1/1 sat=1/1 county.urban-mgmt 2/3 p50=39600 ontime=1/1 sat=1/2]"
	if fmt.Sprint(got) != want {
		t.Errorf("audit by department:\n got %v\nwant %s", got, want)
	}
	// Running the right file again changes nothing.
	if rep := imp(wrong, shanghai, rightFile, true); rep.Accepted != 0 || rep.Duplicates != rep.Events {
		t.Errorf("--replace again: %+v", rep)
	}
}
