package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"zhili/geo"
	"zhili/ingest"
	"zhili/server"
)

// Two source keys limited to two towns, and a reading token of each town.
const (
	ownKeyA, ownKeyB = "key-town-a", "key-town-b"
	ownTokA, ownTokB = "tok-town-a", "tok-town-b"
)

// ownership is the access of the case-ownership tests: keys and tokens of the demo county's
// first two towns, and a leaf region of each.
type ownership struct {
	townA, townB, leafA, leafB string
	keys                       map[string]*ingest.Policy
	tokens                     map[string]server.Viewer
}

func newOwnership() ownership {
	tree := geo.DemoTree()
	leaf := func(r *geo.Region) string {
		for len(r.Children) > 0 {
			r = r.Children[0]
		}
		return r.Code
	}
	a, b := tree.Root.Children[0], tree.Root.Children[1]
	return ownership{townA: a.Code, townB: b.Code, leafA: leaf(a), leafB: leaf(b),
		keys: map[string]*ingest.Policy{
			ownKeyA: {Name: "town a", Regions: []string{a.Code}},
			ownKeyB: {Name: "town b", Regions: []string{b.Code}},
		},
		tokens: map[string]server.Viewer{ownTokA: {Name: "town a", Region: a.Code}, ownTokB: {Name: "town b", Region: b.Code}},
	}
}

// send posts NDJSON lines with key and returns the reply in short: accepted, duplicates and the
// code of each rejected line.
func send(t *testing.T, base, key string, lines ...string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/api/v1/events", strings.NewReader(strings.Join(lines, "\n")))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var rep ingest.Reply
	if resp.StatusCode != 200 || json.Unmarshal(b, &rep) != nil {
		t.Fatalf("POST: %d %s", resp.StatusCode, b)
	}
	out := fmt.Sprintf("accepted %d dup %d", rep.Accepted, rep.Duplicates)
	for _, r := range rep.Rejected {
		out += fmt.Sprintf(" %d:%s", r.Line, r.Code)
		if strings.Contains(r.Error, geo.DemoTree().Root.Code) { // every region code of the county starts with it
			t.Fatalf("rejection %+v names a region", r)
		}
	}
	return out
}

func ownLine(id, typ, caseID, extra string) string {
	at := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	return fmt.Sprintf(`{"id":%q,"type":%q,"case_id":%q,"at":%q%s}`, id, typ, caseID, at, extra)
}

func (o ownership) report(id, caseID, leaf string) string {
	return ownLine(id, "case.reported", caseID, `,"source":"grid","category":"environment","region":"`+leaf+`"`)
}

func dispatch(id, caseID string) string {
	return ownLine(id, "case.dispatched", caseID, `,"dept":"d1","deadline":"`+time.Now().Add(48*time.Hour).UTC().Format(time.RFC3339)+`"`)
}

func whistle(id, caseID string) string {
	return ownLine(id, "whistle.blown", caseID, `,"whistle_id":"W-`+id+`","whistle_kind":"advance","depts":["d1"]`)
}

func closed(id, caseID string) string { return ownLine(id, "case.closed", caseID, "") }

// intrude is town B's key acting on town A's case c: every event refused, its own line in the
// same request accepted.
func (o ownership) intrude(t *testing.T, base, c, round string) {
	t.Helper()
	want := "accepted 1 dup 0 1:case_out_of_scope 2:case_out_of_scope 3:case_out_of_scope 4:case_id_taken"
	if got := send(t, base, ownKeyB, dispatch("b-d"+round, c), closed("b-c"+round, c), whistle("b-w"+round, c),
		o.report("b-r"+round, c, o.leafB), o.report("b-own"+round, "B-"+round, o.leafB)); got != want {
		t.Fatalf("town B on town A's case: %s, want %s", got, want)
	}
}

// caseEvents reads a case's timeline with token: the status and the stored event ids.
func caseEvents(t *testing.T, base, token, c string) (int, []string) {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/cases/" + url.PathEscape(c) + "?token=" + token)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tl struct{ Events []struct{ ID string } }
	if err := json.NewDecoder(resp.Body).Decode(&tl); err != nil && resp.StatusCode == 200 {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range tl.Events {
		ids = append(ids, e.ID)
	}
	return resp.StatusCode, ids
}

// waitCase waits until the case's timeline, read with town A's token, holds want.
func waitCase(t *testing.T, base, c string, want ...string) {
	t.Helper()
	eventually(t, 20*time.Second, func() string {
		st, ids := caseEvents(t, base, ownTokA, c)
		if st != 200 || fmt.Sprint(ids) != fmt.Sprint(want) {
			return fmt.Sprintf("town A reads case %s: %d %v, want %v", c, st, ids, want)
		}
		return ""
	})
}

// Embedded engines: town B's key cannot dispatch, close, blow a whistle on or re-report town
// A's case, neither while the door remembers the report nor after a restart (the history store
// answers); town A's key still acts on it and town A's token still reads it, with only A's
// events in it.
func TestCaseOwnership(t *testing.T) {
	t.Parallel()
	o := newOwnership()
	dir := t.TempDir()
	cfg := Config{DataDir: dir, IngestKeys: o.keys, ViewTokens: o.tokens}
	a := startWith(t, cfg)
	base := "http://" + a.Addr
	if got := send(t, base, ownKeyA, o.report("r1", "CASE-A", o.leafA)); got != "accepted 1 dup 0" {
		t.Fatalf("town A reports: %s", got)
	}
	o.intrude(t, base, "CASE-A", "1") // at once: the door's own memory
	if got := send(t, base, ownKeyA, dispatch("d1", "CASE-A"), whistle("w1", "CASE-A")); got != "accepted 2 dup 0" {
		t.Fatalf("town A on its case: %s", got)
	}
	waitCase(t, base, "CASE-A", "town%20a/r1", "town%20a/d1", "town%20a/w1")
	if err := a.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	a = startWith(t, cfg) // a fresh door: only the store knows the case
	base = "http://" + a.Addr
	o.intrude(t, base, "CASE-A", "2")
	if got := send(t, base, ownKeyA, closed("c1", "CASE-A")); got != "accepted 1 dup 0" {
		t.Fatalf("town A closes its case after the restart: %s", got)
	}
	waitCase(t, base, "CASE-A", "town%20a/r1", "town%20a/d1", "town%20a/w1", "town%20a/c1")
	if st, _ := caseEvents(t, base, ownTokB, "CASE-A"); st != 403 {
		t.Fatalf("town B's token reads town A's case: %d", st)
	}
}

// Scaled out (Redis intake, ClickHouse store, two servers): a server that never saw the report
// asks ClickHouse, and refuses town B's key the same way.
func TestCaseOwnershipScaledOut(t *testing.T) {
	t.Parallel()
	r, _, dsn := services(t)
	o := newOwnership()
	start := func(role, name string) *App {
		a, err := New(Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Tick: 50 * time.Millisecond,
			IngestKeys: o.keys, ViewTokens: o.tokens, Redis: r.URL, ClickHouse: dsn, Role: role, Partitions: 2,
			Tenant: "owners", Name: name, LeaseTTL: 2 * time.Second, ShutdownTimeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Shutdown(context.Background()) })
		return a
	}
	start(RoleAggregator, "agg")
	s1, s2 := start(RoleServer, "srv-1"), start(RoleServer, "srv-2")
	waitReady(t, s1, 2)
	waitReady(t, s2, 2)
	b1, b2 := "http://"+s1.Addr, "http://"+s2.Addr
	if got := send(t, b1, ownKeyA, o.report("r1", "CASE-S", o.leafA)); got != "accepted 1 dup 0" {
		t.Fatalf("town A reports: %s", got)
	}
	waitCase(t, b2, "CASE-S", "town%20a/r1")
	o.intrude(t, b2, "CASE-S", "1")
	if got := send(t, b2, ownKeyA, dispatch("d1", "CASE-S"), closed("c1", "CASE-S")); got != "accepted 2 dup 0" {
		t.Fatalf("town A on its case: %s", got)
	}
	waitCase(t, b1, "CASE-S", "town%20a/r1", "town%20a/d1", "town%20a/c1")
}
