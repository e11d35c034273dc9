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
	"github.com/prometheus/client_golang/prometheus"

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

// The intake record is the whole event: close_reason and category_text reach the aggregator as
// sent, through the file log and back.
func TestDoorRecordCarriesCloseReasonAndCategoryText(t *testing.T) {
	tree := geo.DemoTree()
	door, rec := openDoor(t, ingest.Config{Tree: tree})
	at := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	body := `{"id":"r1","type":"case.reported","case_id":"C9","at":"` + at + `","source":"hotline12345","category":"unmapped","category_text":"夜间施工噪音","region":"` + tree.Root.Children[0].Code + `"}
{"id":"c1","type":"case.closed","case_id":"C9","at":"` + at + `","close_reason":"transferred","satisfaction":"basically"}`
	rep, err := door.Ingest(context.Background(), ingest.ContentNDJSON, []byte(body), nil)
	if err != nil || rep.Accepted != 2 {
		t.Fatalf("ingest: %+v, %v", rep, err)
	}
	entries, err := rec.Intake.Read(context.Background(), 0, 10)
	if err != nil || len(entries) != 2 {
		t.Fatalf("read back: %d entries, %v", len(entries), err)
	}
	r, err := ingest.Decode(entries[0])
	if err != nil || r.Event.Category != event.CategoryUnmapped || r.Event.CategoryText != "夜间施工噪音" {
		t.Fatalf("report decoded %+v, %v", r.Event, err)
	}
	c, err := ingest.Decode(entries[1])
	if err != nil || c.Event.CloseReason != "transferred" || c.Event.Satisfaction != "basically" {
		t.Fatalf("closing decoded %+v, %v", c.Event, err)
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
		why[r.ID] = r.Field + " " + r.Code
	}
	if why["out-region"] != "location region_not_allowed" || why["acc"] != "type type_not_allowed" {
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

// Stored ids are namespaced by the key's name, escaped so that no two keys' ids collide, nor
// with the ids of a key without a name.
func TestStoredID(t *testing.T) {
	for _, c := range []struct{ name, id, want string }{
		{"", "e1", "e1"},
		{"town", "e1", "town/e1"},
		{"12345 热线", "e:1", "12345%20%E7%83%AD%E7%BA%BF/e:1"},
		{"a/b", "c", "a%2Fb/c"},
		{"a%2Fb", "c", "a%252Fb/c"},
		{"a:b", "c", "a:b/c"},
		{"a", "b:c", "a/b:c"},
	} {
		if got := ingest.StoredID(c.name, c.id); got != c.want {
			t.Errorf("StoredID(%q, %q) = %q, want %q", c.name, c.id, got, c.want)
		}
	}
}

// The same id from two keys is two events; the same id from one key is a duplicate when the
// event is the same (whatever its spacing and key order) and an id_conflict, counted and
// listed with its line, when it is another one. A conflict never sinks the other lines.
func TestDoorIDsBySource(t *testing.T) {
	tree := geo.DemoTree()
	reg := prometheus.NewRegistry()
	door, rec := openDoor(t, ingest.Config{Tree: tree, Registry: reg})
	at := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	region := tree.Root.Children[0].Code
	report := func(id, caseID string) string {
		return `{"id":"` + id + `","type":"case.reported","case_id":"` + caseID + `","at":"` + at + `","source":"grid","category":"environment","region":"` + region + `"}`
	}
	ingestOK := func(pol *ingest.Policy, lines ...string) ingest.Reply {
		t.Helper()
		rep, err := door.Ingest(context.Background(), ingest.ContentNDJSON, []byte(strings.Join(lines, "\n")), pol)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	a, b := &ingest.Policy{Name: "grid app"}, &ingest.Policy{Name: "hotline"}
	if rep := ingestOK(a, report("e1", "C1")); rep.Accepted != 1 {
		t.Fatalf("a: %+v", rep)
	}
	if rep := ingestOK(b, report("e1", "C2")); rep.Accepted != 1 {
		t.Fatalf("b's e1 is its own event: %+v", rep)
	}
	if rep := ingestOK(nil, report("e1", "C3")); rep.Accepted != 1 {
		t.Fatalf("a key without a name keeps its ids: %+v", rep)
	}
	var stored []string
	for _, r := range rec.got {
		stored = append(stored, r.ID)
	}
	if fmt.Sprint(stored) != "[grid%20app/e1 hotline/e1 e1]" {
		t.Fatalf("stored ids %v", stored)
	}
	// The same event again, spaced and ordered differently: a duplicate.
	same := `{ "case_id":"C1", "id":"e1","type":"case.reported","at":"` + at + `","category":"environment","source":"grid","region":"` + region + `" }`
	rep := ingestOK(a, report("e2", "C1"), same, report("e1", "C9"), report("e2", "C8"))
	if rep.Accepted != 1 || rep.Duplicates != 1 || len(rep.Rejected) != 2 {
		t.Fatalf("reply %+v; want e2 accepted, e1 a duplicate, two conflicts", rep)
	}
	for i, want := range []ingest.Rejection{{Line: 3, ID: "e1", Code: "id_conflict"}, {Line: 4, ID: "e2", Code: "id_conflict"}} {
		got := rep.Rejected[i]
		if got.Line != want.Line || got.ID != want.ID || got.Code != want.Code || got.Field != "id" || !strings.HasPrefix(got.Error, "id: ") {
			t.Fatalf("rejection %d: %+v, want %+v", i, got, want)
		}
	}
	if v := rejectedMetric(t, reg, "id", "id_conflict"); v != 2 {
		t.Fatalf("zhili_ingest_rejected_total{field=id,code=id_conflict} = %v, want 2", v)
	}
}

// rejectedMetric reads zhili_ingest_rejected_total{field, code} from reg (-1: absent).
func rejectedMetric(t *testing.T, reg *prometheus.Registry, field, code string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "zhili_ingest_rejected_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			if l["field"] == field && l["code"] == code {
				return m.GetCounter().GetValue()
			}
		}
	}
	return -1
}
