package importer

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseTimeDaylightSaving(t *testing.T) {
	t.Parallel()
	ny := Presets["nyc311"].TZ
	lh, err := time.LoadLocation("Australia/Lord_Howe") // a 30-minute change
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		in       string
		loc      *time.Location
		want     string
		kind     string
		mentions string
	}{
		{"2024-03-10 02:30:00", ny, "2024-03-10T03:30:00-04:00", "time_gap", "read as 2024-03-10T03:30:00-04:00"},
		{"2024-03-10T02:00:00.000", ny, "2024-03-10T03:00:00-04:00", "time_gap", "does not exist"},
		{"2024-11-03 01:30:00", ny, "2024-11-03T01:30:00-04:00", "time_ambiguous", "the other reading is 2024-11-03T01:30:00-05:00"},
		{"11/03/2024 01:59:59 AM", ny, "2024-11-03T01:59:59-04:00", "time_ambiguous", "occurs twice"},
		{"2024-11-03 02:00:00", ny, "2024-11-03T02:00:00-05:00", "", ""},
		{"2024-03-10 03:00:00", ny, "2024-03-10T03:00:00-04:00", "", ""},
		{"2024-11-03T01:30:00-05:00", ny, "2024-11-03T01:30:00-05:00", "", ""},
		{"2024-10-06 02:15", lh, "2024-10-06T02:45:00+11:00", "time_gap", "does not exist"},
		{"2024-04-07 01:45", lh, "2024-04-07T01:45:00+11:00", "time_ambiguous", "+10:30"},
		{"2025-03-01 08:00:00", Presets["hotline12345"].TZ, "2025-03-01T08:00:00+08:00", "", ""},
		{"2025年3月1日 8:05", Presets["hotline12345"].TZ, "2025-03-01T08:05:00+08:00", "", ""},
		{"2025/3/1 8:05:09", Presets["hotline12345"].TZ, "2025-03-01T08:05:09+08:00", "", ""},
	} {
		got, note, err := parseTime(c.in, c.loc)
		if err != nil || fmtTime(got) != c.want {
			t.Errorf("%s in %s: %s %v, want %s", c.in, c.loc, fmtTime(got), err, c.want)
			continue
		}
		switch {
		case c.kind == "" && note != nil:
			t.Errorf("%s: unexpected note %+v", c.in, note)
		case c.kind != "" && (note == nil || note.kind != c.kind || !strings.Contains(note.detail, c.mentions)):
			t.Errorf("%s: note %+v, want %s mentioning %q", c.in, note, c.kind, c.mentions)
		}
	}
}

// DST choices are reported as warnings of the row, which is imported with the reading named.
func TestImportDaylightSavingWarnings(t *testing.T) {
	t.Parallel()
	csvText := "unique_key,created_date,closed_date,agency,complaint_type,latitude,longitude,status\n" +
		"1,2024-03-10T02:30:00.000,2024-03-10T05:00:00.000,NYPD,Noise - Street/Sidewalk,40.7,-73.9,Closed\n" +
		"2,2024-11-03T00:50:00.000,2024-11-03T01:20:00.000,NYPD,Noise - Street/Sidewalk,40.7,-73.9,Closed\n" +
		"3,2024-11-03T01:40:00.000,2024-11-03T01:10:00.000,NYPD,Noise - Street/Sidewalk,40.7,-73.9,Closed\n"
	var got []wireEvent
	srv := fakeServer(t, &got)
	rep, err := Run(context.Background(), strings.NewReader(csvText), Presets["nyc311"], Options{URL: srv})
	if err != nil {
		t.Fatal(err)
	}
	by := lastSent(got)
	if by["1:reported"].At != "2024-03-10T03:30:00-04:00" || by["2:closed"].At != "2024-11-03T01:20:00-04:00" {
		t.Errorf("readings: %+v %+v", by["1:reported"], by["2:closed"])
	}
	// Row 3: both ambiguous, read as their first occurrences, the closing then 30 minutes
	// before the report (its second reading would be after it): clamped, flagged.
	if by["3:closed"].At != "2024-11-03T01:40:00-04:00" || rep.Warnings["time_order"] != 1 {
		t.Errorf("row 3: %+v, warnings %v", by["3:closed"], rep.Warnings)
	}
	if rep.Warnings["time_gap"] != 1 || rep.Warnings["time_ambiguous"] != 3 || rep.Cases != 3 {
		t.Fatalf("report %+v", rep)
	}
	for _, e := range rep.Errors {
		if !e.Warning || e.Row < 1 {
			t.Errorf("%+v", e)
		}
		if e.Kind == "time_gap" && (e.Field != "created_date" || e.EventID != "" || !strings.Contains(e.Error, "read as 2024-03-10T03:30:00-04:00")) {
			t.Errorf("gap warning %+v", e)
		}
	}
}

func TestDueSpan(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"3个工作日": "3wd", "5工作日": "5wd", "2wd": "2wd", "5天": "5d", "7 日": "7d",
		"10自然日": "10d", "48小时": "48h", "24h": "24h", "2025年3月1日": "", "3": "", "三个工作日": "", "0天": ""} {
		n, unit, ok := dueSpan(in)
		got := ""
		if ok {
			got = strconv.Itoa(n) + unit
		}
		if got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

func TestProgressLines(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	cr := &countingReader{r: strings.NewReader("")}
	cr.n.Store(50)
	p := newProgress(&b, time.Nanosecond, 200, cr)
	p.start = p.start.Add(-10 * time.Second)
	p.tick(12345, 40000, false)
	line := b.String()
	for _, want := range []string{"12,345 行 rows", "40,000 事件 events", "25%", "ETA 30s", "/s"} {
		if !strings.Contains(line, want) {
			t.Errorf("progress %q lacks %q", line, want)
		}
	}
	if strings.Contains(line, "\r") {
		t.Errorf("a plain line redrawn in place: %q", line)
	}
	// A terminal gets the line redrawn in place.
	if f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0); err == nil {
		defer f.Close()
		if !newProgress(f, 0, 0, cr).tty {
			t.Error("a character device is not taken for a terminal")
		}
	}
}
