package importer

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/paulmach/orb"

	"zhili/geo"
	"zhili/internal/nycdata"
)

// The Open311 GeoReport v2 fixture (requests.json, 40 service requests in New York) into the
// real server on NYC's community districts.
func TestImportOpen311(t *testing.T) {
	t.Parallel()
	dir := nycdata.Dir(t)
	tree := nycdata.Tree(t, dir)
	path := filepath.Join("testdata", "open311-requests.json")
	var reqs []map[string]any
	if err := json.Unmarshal([]byte(mustRead(t, path)), &reqs); err != nil {
		t.Fatal(err)
	}
	base := startServerTree(t, tree, Presets["nyc311"].TZ)
	gz, err := FetchGazetteer(context.Background(), nil, base, testToken)
	if err != nil {
		t.Fatal(err)
	}
	cats, err := LoadCategoryMap(filepath.Join("testdata", "open311-categories.csv"))
	if err != nil {
		t.Fatal(err)
	}
	u, sent := recorder(t, base)
	f, _ := os.Open(path)
	defer f.Close()
	cityHall := Point{Lat: 40.7128, Lon: -74.006}
	rep, err := Run(context.Background(), f, Presets["open311"], Options{URL: u, Key: testKey, Format: FormatOpen311,
		Categories: cats, NullPoints: []Point{cityHall}, Regions: gz})
	if err != nil {
		t.Fatal(err)
	}
	var sum strings.Builder
	rep.WriteSummary(&sum)
	t.Logf("\n%s", sum.String())

	loc := geo.NewIndexedLocator(tree)
	last := lastSent(sent())
	num := func(v any) (float64, bool) {
		switch x := v.(type) {
		case float64:
			return x, true
		case string:
			f, err := strconv.ParseFloat(x, 64)
			return f, err == nil
		}
		return 0, false
	}
	// The fixture's closing notes and what they mean.
	reasonOf := func(notes string) string {
		switch {
		case strings.HasPrefix(notes, "Duplicate"):
			return "duplicate"
		case strings.HasPrefix(notes, "Referred"):
			return "transferred"
		case strings.HasPrefix(notes, "Request cancelled"):
			return "cancelled"
		case strings.HasPrefix(notes, "Inspected; no violation"), strings.HasPrefix(notes, "Crew was unable"):
			return "not_fixed"
		}
		return ""
	}
	unlocated := 0
	for _, r := range reqs {
		id := r["service_request_id"].(string)
		lat, ok1 := num(r["lat"])
		lon, ok2 := num(r["long"])
		if !ok1 || !ok2 || metres(Point{lat, lon}, cityHall) < 1 {
			// No place (no point, and Open311 records no district): an unlocated case.
			unlocated++
			if e := last[EventID(id, "reported")]; e.Type == "" || e.Location != nil || e.Region != "" {
				t.Errorf("%s not sent as unlocated: %+v", id, e)
			}
			if got := caseEvents(t, base, id, sentOf(last, id))["case.reported"]; len(got.RegionPath) != 0 {
				t.Errorf("%s: landed in %v", id, got.RegionPath)
			}
			continue
		}
		want := []string{"case.reported"}
		if r["agency_responsible"] != nil {
			want = append(want, "case.dispatched")
		}
		reason := ""
		if r["status"] == "closed" {
			reason = reasonOf(r["status_notes"].(string))
			if reason == "" || reason == "not_fixed" {
				want = append(want, "case.resolved")
			}
			want = append(want, "case.closed")
		}
		got := caseEvents(t, base, id, len(want))
		for _, w := range want {
			if got[w].Type == "" {
				t.Errorf("%s: no %s landed: %+v", id, w, got)
			}
		}
		if p := loc.Locate(orb.Point{lon, lat}); len(p) != 3 || got["case.reported"].RegionPath[2] != p[2] {
			t.Errorf("%s: landed in %v, the point is in %v", id, got["case.reported"].RegionPath, p)
		}
		if c, ok := last[EventID(id, "closed")]; ok && (c.CloseReason != reason || c.At != r["updated_datetime"]) {
			t.Errorf("%s: closed %+v, want reason %q at %v", id, c, reason, r["updated_datetime"])
		}
		code, _ := cats.Lookup(r["service_name"].(string))
		if s := last[EventID(id, "reported")]; s.Category != code || s.CategoryText != r["service_name"] || s.At != r["requested_datetime"] && !strings.HasSuffix(r["requested_datetime"].(string), "Z") {
			t.Errorf("%s: report %+v", id, s)
		}
		if d, ok := last[EventID(id, "dispatched")]; ok && d.Deadline != "" && d.Deadline != r["expected_datetime"] {
			t.Errorf("%s: deadline %q, expected_datetime %v", id, d.Deadline, r["expected_datetime"])
		}
	}
	if rep.Rows != 40 || rep.Cases != 40 || rep.Imported != rep.Cases || len(rep.Skipped) != 0 || rep.Unlocated != unlocated || unlocated == 0 ||
		len(rep.Rejected) != 0 || len(rep.Warnings) != 3 || rep.Warnings["status_unknown"] != 1 || rep.Warnings["due_unusable"] != 2 || rep.Warnings["unlocated"] != unlocated {
		t.Fatalf("report %+v (%d unlocated)", rep, unlocated)
	}
	// Element numbers; one line per problem (a placeholder point without a region is the row's
	// one warning: imported as unlocated).
	if e := rep.Errors[0]; e.Row != 9 || e.Line != 9 || e.Kind != "unlocated" || !e.Warning || !strings.Contains(e.Error, "placeholder") ||
		!strings.Contains(e.Error, "imported as unlocated") || rep.Errors[1].Row != 15 {
		t.Errorf("errors %+v", rep.Errors)
	}
}

// A requests.json wrapped in an object, values of any JSON type, a bad element.
func TestOpen311Source(t *testing.T) {
	t.Parallel()
	in := `{"meta":{"count":3},"service_requests":[
	  {"service_request_id":7,"requested_datetime":"2024-03-04T08:00:00-05:00","status":"open","lat":40.7,"long":"-73.9","extra":{"a":[1,2]}},
	  "not an object",
	  {"service_request_id":"8","requested_datetime":"2024-03-04T09:00:00-05:00","status":"closed","status_notes":null,
	   "updated_datetime":"2024-03-04T10:00:00-05:00","lat":40.7,"long":-73.9}]}`
	var got []wireEvent
	srv := fakeServer(t, &got)
	rep, err := Run(context.Background(), strings.NewReader(in), Presets["open311"], Options{URL: srv, Format: FormatOpen311})
	if err != nil {
		t.Fatal(err)
	}
	by := lastSent(got)
	if rep.Rows != 3 || rep.Cases != 2 || rep.Skipped["unreadable"] != 1 || by["7:reported"].Location == nil || by["8:closed"].At != "2024-03-04T10:00:00-05:00" {
		t.Fatalf("report %+v, sent %+v", rep, got)
	}
	if _, err := Run(context.Background(), strings.NewReader(`{"error":"nope"}`), Presets["open311"], Options{URL: srv, Format: FormatOpen311}); err == nil {
		t.Error("an object without requests was read")
	}
}
