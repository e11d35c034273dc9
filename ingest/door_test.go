package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb/planar"

	"zhili/errs"
	"zhili/event"
	"zhili/geo"
	"zhili/ingest"
	"zhili/intake"
)

// recorder keeps what the door hands to the intake log, then appends it to a real file log.
type recorder struct {
	intake.Intake
	got []intake.Record
}

func (r *recorder) Append(ctx context.Context, recs []intake.Record) ([]intake.Outcome, error) {
	r.got = append(r.got, recs...)
	return r.Intake.Append(ctx, recs)
}

func openDoor(t *testing.T, cfg ingest.Config) (*ingest.Door, *recorder) {
	t.Helper()
	wal, err := intake.OpenWAL(filepath.Join(t.TempDir(), "intake"), intake.WALOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wal.Close() })
	rec := &recorder{Intake: wal}
	return ingest.New(cfg, rec), rec
}

// A point inside the first leaf of the demo tree, in GCJ-02 as a phone app sends it.
func leafPoint(t *testing.T, tree *geo.Tree) (*geo.Region, float64, float64) {
	t.Helper()
	leaf := tree.Root.Children[0]
	for len(leaf.Children) > 0 {
		leaf = leaf.Children[0]
	}
	c, _ := planar.CentroidArea(leaf.Geometry)
	x, y := geo.FromWGS84(event.GCJ02, c[0], c[1])
	return leaf, x, y
}

// Every accepted event reaches the log with its case id as partition key, and the logged record
// decodes to the event as accepted with its arrival time.
func TestDoorLogsRecordsWithTheirCase(t *testing.T) {
	tree := geo.DemoTree()
	door, rec := openDoor(t, ingest.Config{Tree: tree})
	at := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	body := `{"id":"e1","type":"case.reported","case_id":"C7","at":"` + at + `","source":"grid","category":"environment","region":"` + tree.Root.Children[0].Code + `"}
{"id":"e2","type":"case.accepted","case_id":"C7","at":"` + at + `"}
{"id":"e3","type":"case.accepted","case_id":"C8","at":"` + at + `"}`
	rep, err := door.Ingest(context.Background(), ingest.ContentNDJSON, []byte(body), nil)
	if err != nil || rep.Accepted != 3 {
		t.Fatalf("ingest: %+v, %v", rep, err)
	}
	keys := map[string]string{}
	for _, r := range rec.got {
		keys[r.ID] = r.Key
	}
	if keys["e1"] != "C7" || keys["e2"] != "C7" || keys["e3"] != "C8" {
		t.Fatalf("partition keys %v, want each event's case id", keys)
	}
	lg, err := ingest.Decode(intake.Entry{Offset: 1, ID: rec.got[0].ID, Data: rec.got[0].Data})
	if err != nil || lg.Event.ID != "e1" || lg.Event.CaseID != "C7" || time.Since(lg.ReceivedTime()) > time.Minute {
		t.Fatalf("decoded %+v, %v", lg, err)
	}
}

// A key limited to a region may report cases there (its GCJ-02 point is placed in WGS-84) and
// nowhere else; a key limited to types sends only those. One refused line never sinks the rest.
func TestDoorKeyPolicy(t *testing.T) {
	tree := geo.DemoTree()
	door, _ := openDoor(t, ingest.Config{Tree: tree})
	leaf, x, y := leafPoint(t, tree)
	town := tree.Path(leaf.Code)[1]
	var other string
	for _, c := range tree.Root.Children {
		if c.Code != town {
			other = c.Code
			break
		}
	}
	at := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	report := func(id, where string) string {
		return `{"id":"` + id + `","type":"case.reported","case_id":"` + id + `","at":"` + at + `","source":"app","category":"environment",` + where + `}`
	}
	pt := fmt.Sprintf(`"location":{"lon":%.6f,"lat":%.6f,"crs":"gcj02"}`, x, y)
	pol := &ingest.Policy{Name: "town", Regions: []string{town}, Types: []event.Type{event.CaseReported}}
	body := strings.Join([]string{
		report("in-point", pt),
		report("in-region", `"region":"`+leaf.Code+`"`),
		report("out-region", `"region":"`+other+`"`),
		`{"id":"acc","type":"case.accepted","case_id":"in-point","at":"` + at + `"}`,
	}, "\n")
	rep, err := door.Ingest(context.Background(), ingest.ContentNDJSON, []byte(body), pol)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Accepted != 2 || len(rep.Rejected) != 2 {
		t.Fatalf("reply %+v, want 2 accepted (inside %s), 2 refused", rep, town)
	}
	why := map[string]string{}
	for _, r := range rep.Rejected {
		why[r.ID] = r.Field
	}
	if why["out-region"] != "location" || why["acc"] != "type" {
		t.Fatalf("refused %v; want out-region by location, acc by type", why)
	}
}

// A draining door refuses with a named reason, so that a source retries elsewhere.
func TestDoorDrain(t *testing.T) {
	tree := geo.DemoTree()
	door, rec := openDoor(t, ingest.Config{Tree: tree})
	door.Drain()
	at := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	_, err := door.Ingest(context.Background(), ingest.ContentNDJSON,
		[]byte(`{"id":"e1","type":"case.accepted","case_id":"C1","at":"`+at+`"}`), nil)
	var e *errs.Error
	if !errors.As(err, &e) || e.Code != errs.Unavailable || e.Reason != "shutting_down" || len(rec.got) != 0 {
		t.Fatalf("draining door: %v (logged %d)", err, len(rec.got))
	}
}
