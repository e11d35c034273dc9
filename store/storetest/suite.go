// Package storetest is the conformance suite every store.Store implementation must pass.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the suite's zones, whatever the system has

	"zhili/errs"
	"zhili/event"
	"zhili/store"
)

// Run runs the suite. open must return a new, empty store for each call, safe to call from
// parallel tests; the suite closes it.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	fresh := func(t *testing.T) store.Store {
		t.Helper()
		s := open(t)
		t.Cleanup(func() { s.Close() })
		return s
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Write/SameBatchTwice", testSameBatchTwice},
		{"Write/DuplicatesWithinBatch", testDuplicatesWithinBatch},
		{"Write/IDsAcrossBatches", testIDsAcrossBatches},
		{"Checkpoint/Values", testCheckpointValues},
		{"Checkpoint/AtomicWithData", testCheckpointAtomic},
		{"Replay/Order", testReplayOrder},
		{"Replay/CallbackError", testReplayCallbackError},
		{"Record/AtOffsetRoundTrip", testAtOffsetRoundTrip},
		{"Record/RoundTrip", testRecordRoundTrip},
		{"Record/CloseReasonAndCategoryText", testCloseReasonCategoryText},
		{"Private/RoundTrip", testPrivateRoundTrip},
		{"Private/SkippedWithDuplicate", testPrivateSkippedWithDuplicate},
		{"Series/TimeZoneShanghai", testSeriesShanghai},
		{"Series/TimeZoneHalfHourOffset", testSeriesKolkata},
		{"Series/TimeZoneDST", testSeriesDST},
		{"Series/TimeZoneHalfHourDST", testSeriesLordHowe},
		{"Series/Step15m", testSeriesStep15m},
		{"Series/Step1h", testSeriesStep1h},
		{"Series/Step1d", testSeriesStep1d},
		{"Series/InvalidQueries", testSeriesInvalid},
		{"Series/PointLimit", testSeriesPointLimit},
		{"Series/Region", testSeriesRegion},
		{"Series/CategoryAndTypes", testSeriesCategoryTypes},
		{"RegionCounts", testRegionCounts},
		{"RegionCounts/Level", testRegionCountsLevel},
		{"Cube", testCube},
		{"Points", testPoints},
		{"CaseEvents/Order", testCaseEventsOrder},
		{"CaseRegions", testCaseRegions},
		{"Cases", testCases},
		{"Cases/RegionAndCategory", testCasesRegionCategory},
		{"Cases/Errors", testCasesErrors},
		{"Cases/IDs", testCasesIDs},
		{"Supersedes", testSupersedes},
		{"Surveys", testSurveys},
		{"Queries/Cancelled", testQueriesCancelled},
		{"Basics", testBasics},
		{"DataVersion", testDataVersion},
		{"CaseChanges", testCaseChanges},
		{"SurveysVersion", testSurveysVersion},
		{"HistoryBegins", testHistoryBegins},
		{"HistoryBegins/Empty", testHistoryBeginsEmpty},
	}
	// Each case has a store of its own: they run side by side (opening a ClickHouse database
	// is mostly waiting on the server's DDL).
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, fresh(t))
		})
	}
}

// Region codes of the test tree: R → A → A1, A2; R → B → B1.
const (
	rR  = "411502"
	rA  = "411502001"
	rA1 = "411502001001"
	rA2 = "411502001002"
	rB  = "411502002"
	rB1 = "411502002001"
)

var (
	shanghai = mustLoad("Asia/Shanghai")
	kolkata  = mustLoad("Asia/Kolkata")
	berlin   = mustLoad("Europe/Berlin")
	lordHowe = mustLoad("Australia/Lord_Howe")
)

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// rec builds a record of type typ; case.reported records get a source and a category.
func rec(typ event.Type, id, caseID, at string, off uint64, path ...string) store.Record {
	r := store.Record{Event: event.Event{ID: id, Type: typ, CaseID: caseID, At: ts(at)},
		Offset: off, RegionPath: path}
	if typ == event.CaseReported {
		r.Source, r.Category = "grid", "environment"
	}
	return r
}

func reported(id, at string, off uint64, path ...string) store.Record {
	return rec(event.CaseReported, id, "C-"+id, at, off, path...)
}

func write(t *testing.T, s store.Store, cp uint64, recs ...store.Record) {
	t.Helper()
	if err := s.Write(t.Context(), store.Batch{Records: recs, Checkpoint: cp}); err != nil {
		t.Fatalf("Write (checkpoint %d): %v", cp, err)
	}
}

func count(t *testing.T, s store.Store) int64 {
	t.Helper()
	n, err := s.Count(t.Context())
	if err != nil {
		t.Fatalf("Count: %v", err)
	}
	return n
}

func checkpoint(t *testing.T, s store.Store) uint64 {
	t.Helper()
	cp, err := s.Checkpoint(t.Context())
	if err != nil {
		t.Fatalf("Checkpoint: %v", err)
	}
	return cp
}

func eventIDs(t *testing.T, s store.Store) []string {
	t.Helper()
	var ids []string
	if err := s.EventIDs(t.Context(), func(id string) error {
		ids = append(ids, id)
		return nil
	}); err != nil {
		t.Fatalf("EventIDs: %v", err)
	}
	slices.Sort(ids)
	return ids
}

func replayIDs(t *testing.T, s store.Store) []string {
	t.Helper()
	var ids []string
	if err := s.Replay(t.Context(), func(r store.Record) error {
		ids = append(ids, r.ID)
		return nil
	}); err != nil {
		t.Fatalf("Replay: %v", err)
	}
	return ids
}

func caseEvents(t *testing.T, s store.Store, caseID string) []store.Record {
	t.Helper()
	rs, err := s.CaseEvents(t.Context(), caseID)
	if err != nil {
		t.Fatalf("CaseEvents(%s): %v", caseID, err)
	}
	return rs
}

func recIDs(rs []store.Record) []string {
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.ID
	}
	return ids
}

func series(t *testing.T, s store.Store, q store.SeriesQuery) []store.Point {
	t.Helper()
	ps, err := s.Series(t.Context(), q)
	if err != nil {
		t.Fatalf("Series(%+v): %v", q, err)
	}
	return ps
}

func total(ps []store.Point) int64 {
	var n int64
	for _, p := range ps {
		n += p.Count
	}
	return n
}

// dayTotal counts q's events over the whole of 2026-11-27 in Shanghai.
func dayTotal(t *testing.T, s store.Store, q store.SeriesQuery) int64 {
	t.Helper()
	q.From, q.To = ts("2026-11-27T00:00:00+08:00"), ts("2026-11-28T00:00:00+08:00")
	q.Step, q.Loc = 24*time.Hour, shanghai
	return total(series(t, s, q))
}

// want is one expected point: its start as RFC 3339 (offset included) and its count.
type want struct {
	t string
	n int64
}

func checkPoints(t *testing.T, got []store.Point, want []want) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d points %s, want %d", len(got), fmtPoints(got), len(want))
	}
	for i, w := range want {
		if g := got[i].T.Format(time.RFC3339); g != w.t || got[i].Count != w.n {
			t.Errorf("point %d = {%s %d}, want {%s %d}", i, g, got[i].Count, w.t, w.n)
		}
	}
}

func fmtPoints(ps []store.Point) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "[%s %d]", p.T.Format(time.RFC3339), p.Count)
	}
	return b.String()
}

func testSameBatchTwice(t *testing.T, s store.Store) {
	b := []store.Record{
		reported("a", "2026-11-27T08:00:00+08:00", 1, rR, rA),
		reported("b", "2026-11-27T09:00:00+08:00", 2, rR, rB),
		reported("c", "2026-11-27T10:00:00+08:00", 3),
	}
	write(t, s, 3, b...)
	write(t, s, 3, b...)
	if n := count(t, s); n != 3 {
		t.Errorf("Count = %d, want 3", n)
	}
	if ids := eventIDs(t, s); !slices.Equal(ids, []string{"a", "b", "c"}) {
		t.Errorf("EventIDs = %v, want [a b c]", ids)
	}
	if ids := replayIDs(t, s); !slices.Equal(ids, []string{"a", "b", "c"}) {
		t.Errorf("Replay = %v, want [a b c]", ids)
	}
	if n := dayTotal(t, s, store.SeriesQuery{}); n != 3 {
		t.Errorf("Series total = %d, want 3", n)
	}
	if cp := checkpoint(t, s); cp != 3 {
		t.Errorf("Checkpoint = %d, want 3", cp)
	}
}

func testDuplicatesWithinBatch(t *testing.T, s store.Store) {
	a := reported("a", "2026-11-27T08:00:00+08:00", 1, rR, rA)
	a2 := a
	a2.Offset = 3
	b := reported("b", "2026-11-27T09:00:00+08:00", 2, rR, rB)
	write(t, s, 4, a, b, a2, a)
	if n := count(t, s); n != 2 {
		t.Errorf("Count = %d, want 2", n)
	}
	if rs := caseEvents(t, s, "C-a"); len(rs) != 1 {
		t.Errorf("CaseEvents(C-a) has %d records, want 1", len(rs))
	}
	if n := dayTotal(t, s, store.SeriesQuery{}); n != 2 {
		t.Errorf("Series total = %d, want 2", n)
	}
	rc, err := s.RegionCounts(t.Context(), store.RegionQuery{Region: rR, Depth: 0,
		From: ts("2026-11-27T00:00:00+08:00"), To: ts("2026-11-28T00:00:00+08:00")})
	if err != nil {
		t.Fatal(err)
	}
	if got := countsMap(rc); got[rA] != 1 || got[rB] != 1 {
		t.Errorf("RegionCounts = %v, want A:1 B:1", got)
	}
}

func testIDsAcrossBatches(t *testing.T, s store.Store) {
	a := reported("a", "2026-11-27T08:00:00+08:00", 1)
	b := reported("b", "2026-11-27T09:00:00+08:00", 2)
	c := reported("c", "2026-11-27T10:00:00+08:00", 3)
	d := reported("d", "2026-11-27T11:00:00+08:00", 4)
	// A second version of b: different content under the same id must be skipped.
	b2 := reported("b", "2026-11-26T09:00:00+08:00", 5)
	b2.Category = "dispute"
	write(t, s, 2, a, b)
	write(t, s, 3, b2, c)
	write(t, s, 4, a, c, d)
	if n := count(t, s); n != 4 {
		t.Errorf("Count = %d, want 4", n)
	}
	if ids := eventIDs(t, s); !slices.Equal(ids, []string{"a", "b", "c", "d"}) {
		t.Errorf("EventIDs = %v, want [a b c d]", ids)
	}
	if n := dayTotal(t, s, store.SeriesQuery{Category: "environment"}); n != 4 {
		t.Errorf("environment total = %d, want 4 (the first version of b is kept)", n)
	}
	if n := dayTotal(t, s, store.SeriesQuery{Category: "dispute"}); n != 0 {
		t.Errorf("dispute total = %d, want 0", n)
	}
	rs := caseEvents(t, s, "C-b")
	if len(rs) != 1 || !rs[0].At.Equal(b.At) || rs[0].Offset != 2 {
		t.Errorf("CaseEvents(C-b) = %+v, want the first version only", rs)
	}
}

func testCheckpointValues(t *testing.T, s store.Store) {
	if cp := checkpoint(t, s); cp != 0 {
		t.Fatalf("new store: Checkpoint = %d, want 0", cp)
	}
	a := reported("a", "2026-11-27T08:00:00+08:00", 6)
	write(t, s, 7, a)
	if cp := checkpoint(t, s); cp != 7 {
		t.Errorf("Checkpoint = %d, want 7", cp)
	}
	// A batch of duplicates only still moves the checkpoint.
	write(t, s, 9, a)
	if cp := checkpoint(t, s); cp != 9 {
		t.Errorf("after a batch of duplicates: Checkpoint = %d, want 9", cp)
	}
	// So does an empty batch.
	write(t, s, 12)
	if cp := checkpoint(t, s); cp != 12 {
		t.Errorf("after an empty batch: Checkpoint = %d, want 12", cp)
	}
	if n := count(t, s); n != 1 {
		t.Errorf("Count = %d, want 1", n)
	}
}

func testCheckpointAtomic(t *testing.T, s store.Store) {
	write(t, s, 10, reported("a", "2026-11-27T08:00:00+08:00", 9))

	// A record without an id fails the whole batch: no record and no checkpoint.
	bad := store.Batch{Checkpoint: 20, Records: []store.Record{
		reported("b", "2026-11-27T09:00:00+08:00", 11),
		reported("c", "2026-11-27T10:00:00+08:00", 12),
		reported("", "2026-11-27T11:00:00+08:00", 13),
	}}
	err := s.Write(t.Context(), bad)
	if err == nil {
		t.Fatal("Write of a batch with a record without id: no error")
	}
	if c := errs.CodeOf(err); c != errs.Invalid {
		t.Errorf("error code = %s, want %s (%v)", c, errs.Invalid, err)
	}
	if n, cp := count(t, s), checkpoint(t, s); n != 1 || cp != 10 {
		t.Errorf("after a failed batch: Count = %d, Checkpoint = %d; want 1, 10", n, cp)
	}
	if ids := eventIDs(t, s); !slices.Equal(ids, []string{"a"}) {
		t.Errorf("after a failed batch: EventIDs = %v, want [a]", ids)
	}

	// A canceled write either happens whole or not at all.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err = s.Write(ctx, store.Batch{Checkpoint: 30, Records: []store.Record{
		reported("d", "2026-11-27T09:00:00+08:00", 21),
		reported("e", "2026-11-27T10:00:00+08:00", 22),
	}})
	n, cp := count(t, s), checkpoint(t, s)
	switch {
	case err == nil && (n != 3 || cp != 30):
		t.Errorf("canceled Write returned nil but Count = %d, Checkpoint = %d; want 3, 30", n, cp)
	case err != nil && (n != 1 || cp != 10):
		t.Errorf("canceled Write failed (%v) but Count = %d, Checkpoint = %d; want 1, 10", err, n, cp)
	}

	// The store still works and the retried batch lands once.
	write(t, s, 30, reported("d", "2026-11-27T09:00:00+08:00", 21),
		reported("e", "2026-11-27T10:00:00+08:00", 22))
	if n, cp := count(t, s), checkpoint(t, s); n != 3 || cp != 30 {
		t.Errorf("after retry: Count = %d, Checkpoint = %d; want 3, 30", n, cp)
	}
}

func testReplayOrder(t *testing.T, s store.Store) {
	// Order is by instant, then intake offset: never by wall clock, nor by write order.
	r1 := reported("r1", "2026-11-27T10:00:00+08:00", 1) // 02:00Z
	r2 := reported("r2", "2026-11-27T08:00:00+08:00", 2) // 00:00Z
	r3 := reported("r3", "2026-11-27T01:00:00Z", 3)      // late
	r4 := reported("r4", "2026-11-27T00:00:00Z", 4)      // same instant as r2, later offset
	r5 := reported("r5", "2026-11-26T12:00:00+08:00", 5) // late, a day earlier
	r6 := reported("r6", "2026-11-27T02:00:00Z", 0)      // same instant as r1, earlier offset
	r7 := reported("r7", "2026-11-27T00:00:00.000001Z", 1)
	write(t, s, 2, r1, r2)
	write(t, s, 4, r3, r4)
	write(t, s, 6, r5, r6, r7)
	var got []string
	var offs []uint64
	if err := s.Replay(t.Context(), func(r store.Record) error {
		got = append(got, r.ID)
		offs = append(offs, r.Offset)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{"r5", "r2", "r4", "r7", "r3", "r6", "r1"}
	if !slices.Equal(got, want) {
		t.Errorf("Replay order = %v, want %v", got, want)
	}
	if wantOffs := []uint64{5, 2, 4, 1, 3, 0, 1}; !slices.Equal(offs, wantOffs) {
		t.Errorf("Replay offsets = %v, want %v", offs, wantOffs)
	}
}

func testReplayCallbackError(t *testing.T, s store.Store) {
	write(t, s, 3, reported("a", "2026-11-27T08:00:00+08:00", 1),
		reported("b", "2026-11-27T09:00:00+08:00", 2),
		reported("c", "2026-11-27T10:00:00+08:00", 3))
	stop := errors.New("stop")
	calls := 0
	err := s.Replay(t.Context(), func(store.Record) error {
		calls++
		if calls == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || calls != 2 {
		t.Errorf("Replay with a failing callback: err = %v after %d calls; want the callback's error after 2", err, calls)
	}
	calls = 0
	err = s.EventIDs(t.Context(), func(string) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("EventIDs with a failing callback: err = %v after %d calls; want the callback's error after 1", err, calls)
	}
}

func testAtOffsetRoundTrip(t *testing.T, s store.Store) {
	ats := []string{
		"2026-11-27T08:15:30.123456+08:00",
		"2026-11-27T08:15:30-03:30",
		"2026-11-27T08:15:30Z",
		"2026-11-27T08:15:30.5+05:45",
	}
	deadline := ts("2026-11-29T08:20:00.25+09:00")
	var recs []store.Record
	for i, at := range ats {
		r := rec(event.CaseDispatched, fmt.Sprintf("e%d", i), "C1", at, uint64(i))
		r.Dept = "county.urban-mgmt"
		r.Deadline = &deadline
		recs = append(recs, r)
	}
	write(t, s, 4, recs...)
	check := func(how string, r store.Record) {
		t.Helper()
		var i int
		fmt.Sscanf(r.ID, "e%d", &i)
		if got := r.At.Format(time.RFC3339Nano); got != ats[i] {
			t.Errorf("%s: %s At = %s, want %s", how, r.ID, got, ats[i])
		}
		if r.Deadline == nil {
			t.Errorf("%s: %s Deadline lost", how, r.ID)
		} else if got, want := r.Deadline.Format(time.RFC3339Nano), deadline.Format(time.RFC3339Nano); got != want {
			t.Errorf("%s: %s Deadline = %s, want %s", how, r.ID, got, want)
		}
	}
	rs := caseEvents(t, s, "C1")
	if len(rs) != len(ats) {
		t.Fatalf("CaseEvents: %d records, want %d", len(rs), len(ats))
	}
	for _, r := range rs {
		check("CaseEvents", r)
	}
	if err := s.Replay(t.Context(), func(r store.Record) error {
		check("Replay", r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func fullRecord() store.Record {
	deadline := ts("2026-11-29T08:20:00+08:00")
	return store.Record{
		Event: event.Event{
			ID: "full", Type: event.WhistleBlown, CaseID: "C9", At: ts("2026-11-27T09:00:00.5+08:00"),
			Source: "grid", Category: "environment", Priority: "urgent",
			Location: &event.Location{Lon: 114.0913, Lat: 32.1475, CRS: event.GCJ02},
			Region:   rA, Address: "浉河区某路12号", Dept: "county.urban-mgmt", Deadline: &deadline,
			WhistleID: "W1", WhistleKind: "advance", Depts: []string{"county.urban-mgmt", "county.eco-env"},
			Stage: "signed", Score: 4, Satisfaction: "basically",
			Reporter: &event.Reporter{Name: "张三", Phone: "13800000000", IDNumber: "41150219800101001X"},
			Summary:  "路面积水，影响通行",
		},
		Offset: 42, Received: ts("2026-11-27T01:00:01.123456Z"),
		RegionPath: []string{rR, rA, rA1}, Lon: 114.0856, Lat: 32.1502, HasPoint: true,
	}
}

func minimalRecord() store.Record {
	return store.Record{Event: event.Event{ID: "min", Type: event.CaseResolved, CaseID: "C9",
		At: ts("2026-11-27T10:00:00+08:00")}, Offset: 43}
}

func checkRecord(t *testing.T, how string, got, want store.Record) {
	t.Helper()
	gj, _ := json.Marshal(got.Event)
	wj, _ := json.Marshal(want.Event)
	if string(gj) != string(wj) {
		t.Errorf("%s: event\n got %s\nwant %s", how, gj, wj)
	}
	if (got.Location == nil) != (want.Location == nil) || (got.Reporter == nil) != (want.Reporter == nil) ||
		(got.Deadline == nil) != (want.Deadline == nil) {
		t.Errorf("%s: %s: nil-ness of location, reporter or deadline differs", how, got.ID)
	}
	if got.Offset != want.Offset || !got.Received.Equal(want.Received) || got.HasPoint != want.HasPoint ||
		got.Lon != want.Lon || got.Lat != want.Lat || !slices.Equal(got.RegionPath, want.RegionPath) {
		t.Errorf("%s: derived fields\n got offset=%d received=%s path=%v point=%v,%v,%v\nwant offset=%d received=%s path=%v point=%v,%v,%v",
			how, got.Offset, got.Received, got.RegionPath, got.Lon, got.Lat, got.HasPoint,
			want.Offset, want.Received, want.RegionPath, want.Lon, want.Lat, want.HasPoint)
	}
}

func testRecordRoundTrip(t *testing.T, s store.Store) {
	full, minimal := fullRecord(), minimalRecord()
	write(t, s, 44, full, minimal)
	rs := caseEvents(t, s, "C9")
	if len(rs) != 2 {
		t.Fatalf("CaseEvents: %d records, want 2", len(rs))
	}
	checkRecord(t, "CaseEvents", rs[0], full)
	checkRecord(t, "CaseEvents", rs[1], minimal)
	var replayed []store.Record
	if err := s.Replay(t.Context(), func(r store.Record) error {
		replayed = append(replayed, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(replayed) != 2 {
		t.Fatalf("Replay: %d records, want 2", len(replayed))
	}
	checkRecord(t, "Replay", replayed[0], full)
	checkRecord(t, "Replay", replayed[1], minimal)
}

// close_reason and category_text come back from every read path: CaseEvents, Replay, Cases.
func testCloseReasonCategoryText(t *testing.T, s store.Store) {
	rep := caseRec(event.CaseReported, "cr-r", "CR", "2026-11-27T08:00:00+08:00", 1)
	rep.Category, rep.CategoryText = event.CategoryUnmapped, "噪音扰民（夜间施工）"
	var want []store.Record
	want = append(want, rep)
	for i, reason := range append([]string{""}, event.CloseReasons...) {
		c := caseRec(event.CaseClosed, "cr-c"+strconv.Itoa(i), "CR", fmt.Sprintf("2026-11-27T%02d:00:00+08:00", 9+i), uint64(2+i))
		c.CloseReason = reason
		if i%2 == 0 {
			c.Satisfaction = "basically"
		}
		want = append(want, c)
	}
	write(t, s, uint64(len(want)), want...)
	check := func(how string, got []store.Record) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d records, want %d", how, len(got), len(want))
		}
		for i := range got {
			checkRecord(t, how, got[i], want[i])
			if got[i].CloseReason != want[i].CloseReason || got[i].CategoryText != want[i].CategoryText {
				t.Errorf("%s: %s: close_reason %q category_text %q, want %q %q", how, got[i].ID,
					got[i].CloseReason, got[i].CategoryText, want[i].CloseReason, want[i].CategoryText)
			}
		}
	}
	check("CaseEvents", caseEvents(t, s, "CR"))
	var replayed []store.Record
	if err := s.Replay(t.Context(), func(r store.Record) error {
		replayed = append(replayed, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	check("Replay", replayed)
	var listed []store.Record
	if err := s.Cases(t.Context(), store.CaseQuery{From: ts("2026-11-27T00:00:00+08:00"), To: ts("2026-11-28T00:00:00+08:00")},
		func(_ string, recs []store.Record) error {
			listed = append(listed, recs...)
			return nil
		}); err != nil {
		t.Fatal(err)
	}
	check("Cases", listed)
}

func testPrivateRoundTrip(t *testing.T, s store.Store) {
	withPII := reported("p1", "2026-11-27T08:00:00+08:00", 1, rR, rA)
	withPII.Reporter = &event.Reporter{Name: "李四", Phone: "13900000000"}
	withPII.Address = "某路1号"
	onlySummary := reported("p2", "2026-11-27T08:01:00+08:00", 2, rR, rA)
	onlySummary.CaseID = withPII.CaseID
	onlySummary.Summary = "无"
	none := reported("p3", "2026-11-27T08:02:00+08:00", 3, rR, rA)
	none.CaseID = withPII.CaseID
	write(t, s, 3, withPII, onlySummary, none)
	want := []store.Record{withPII, onlySummary, none}
	rs := caseEvents(t, s, withPII.CaseID)
	if len(rs) != 3 {
		t.Fatalf("CaseEvents: %d records, want 3", len(rs))
	}
	for i := range rs {
		checkRecord(t, "CaseEvents", rs[i], want[i])
	}
	i := 0
	if err := s.Replay(t.Context(), func(r store.Record) error {
		if i < len(want) {
			checkRecord(t, "Replay", r, want[i])
		}
		i++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func testPrivateSkippedWithDuplicate(t *testing.T, s store.Store) {
	// A skipped duplicate brings no personal fields, and removes none.
	plain := reported("q1", "2026-11-27T08:00:00+08:00", 1)
	plainDup := plain
	plainDup.Reporter = &event.Reporter{Phone: "13700000000"}
	plainDup.Summary = "later copy"
	private := reported("q2", "2026-11-27T08:00:00+08:00", 2)
	private.Address = "某路2号"
	privateDup := private
	privateDup.Address = ""
	write(t, s, 2, plain, private)
	write(t, s, 4, plainDup, privateDup)
	rs := caseEvents(t, s, "C-q1")
	if len(rs) != 1 || rs[0].Reporter != nil || rs[0].Summary != "" {
		t.Errorf("C-q1: %+v, want one record without personal fields", rs)
	}
	rs = caseEvents(t, s, "C-q2")
	if len(rs) != 1 || rs[0].Address != "某路2号" {
		t.Errorf("C-q2: %+v, want one record with its address", rs)
	}
	// Within one batch the first occurrence is the one kept, personal fields included.
	plain3 := reported("q3", "2026-11-27T08:00:00+08:00", 5)
	plain3Dup := plain3
	plain3Dup.Summary = "later copy"
	private4 := reported("q4", "2026-11-27T08:00:00+08:00", 6)
	private4.Reporter = &event.Reporter{Name: "李四"}
	private4Dup := private4
	private4Dup.Reporter = nil
	write(t, s, 8, plain3, private4, plain3Dup, private4Dup)
	rs = caseEvents(t, s, "C-q3")
	if len(rs) != 1 || rs[0].Summary != "" {
		t.Errorf("C-q3: %+v, want one record without personal fields", rs)
	}
	rs = caseEvents(t, s, "C-q4")
	if len(rs) != 1 || rs[0].Reporter == nil || rs[0].Reporter.Name != "李四" {
		t.Errorf("C-q4: %+v, want one record with its reporter", rs)
	}
}

func testSeriesShanghai(t *testing.T, s store.Store) {
	// 23:30 and 00:30 in Shanghai are 15:30Z and 16:30Z on the same UTC day.
	write(t, s, 2, reported("s1", "2026-11-26T23:30:00+08:00", 1),
		reported("s2", "2026-11-27T00:30:00+08:00", 2))
	q := store.SeriesQuery{From: ts("2026-11-26T00:00:00+08:00"), To: ts("2026-11-28T00:00:00+08:00"),
		Step: 24 * time.Hour, Loc: shanghai}
	checkPoints(t, series(t, s, q), []want{{"2026-11-26T00:00:00+08:00", 1}, {"2026-11-27T00:00:00+08:00", 1}})

	q = store.SeriesQuery{From: ts("2026-11-26T00:00:00Z"), To: ts("2026-11-28T00:00:00Z"),
		Step: 24 * time.Hour, Loc: time.UTC}
	checkPoints(t, series(t, s, q), []want{{"2026-11-26T00:00:00Z", 2}, {"2026-11-27T00:00:00Z", 0}})

	// 12h buckets start at local midnight and noon.
	q = store.SeriesQuery{From: ts("2026-11-26T12:00:00+08:00"), To: ts("2026-11-27T12:00:00+08:00"),
		Step: 12 * time.Hour, Loc: shanghai}
	checkPoints(t, series(t, s, q), []want{{"2026-11-26T12:00:00+08:00", 1}, {"2026-11-27T00:00:00+08:00", 1}})
}

func testSeriesKolkata(t *testing.T, s store.Store) {
	// 18:15Z and 18:45Z: the same UTC hour, two local days.
	write(t, s, 2, reported("k1", "2026-11-26T23:45:00+05:30", 1),
		reported("k2", "2026-11-27T00:15:00+05:30", 2))
	q := store.SeriesQuery{From: ts("2026-11-26T00:00:00+05:30"), To: ts("2026-11-28T00:00:00+05:30"),
		Step: 24 * time.Hour, Loc: kolkata}
	checkPoints(t, series(t, s, q), []want{{"2026-11-26T00:00:00+05:30", 1}, {"2026-11-27T00:00:00+05:30", 1}})
	q = store.SeriesQuery{From: ts("2026-11-26T22:00:00+05:30"), To: ts("2026-11-27T02:00:00+05:30"),
		Step: time.Hour, Loc: kolkata}
	checkPoints(t, series(t, s, q), []want{
		{"2026-11-26T22:00:00+05:30", 0}, {"2026-11-26T23:00:00+05:30", 1},
		{"2026-11-27T00:00:00+05:30", 1}, {"2026-11-27T01:00:00+05:30", 0}})
}

func testSeriesDST(t *testing.T, s store.Store) {
	// Berlin moves from +01:00 to +02:00 at 02:00 on 2026-03-29, a 23-hour day.
	write(t, s, 4,
		reported("b1", "2026-03-28T23:30:00+01:00", 1), // 22:30Z on the 28th
		reported("b2", "2026-03-29T00:30:00+01:00", 2), // 23:30Z on the 28th
		reported("b3", "2026-03-29T23:30:00+02:00", 3), // 21:30Z on the 29th
		reported("b4", "2026-03-30T00:30:00+02:00", 4)) // 22:30Z on the 29th
	q := store.SeriesQuery{From: ts("2026-03-28T00:00:00+01:00"), To: ts("2026-03-31T00:00:00+02:00"),
		Step: 24 * time.Hour, Loc: berlin}
	checkPoints(t, series(t, s, q), []want{
		{"2026-03-28T00:00:00+01:00", 1}, {"2026-03-29T00:00:00+01:00", 2}, {"2026-03-30T00:00:00+02:00", 1}})

	q = store.SeriesQuery{From: ts("2026-03-29T00:00:00+01:00"), To: ts("2026-03-30T00:00:00+02:00"),
		Step: time.Hour, Loc: berlin}
	ps := series(t, s, q)
	if len(ps) != 23 {
		t.Fatalf("hourly series over a 23-hour day: %d points %s", len(ps), fmtPoints(ps))
	}
	for i, p := range ps {
		var n int64
		switch i {
		case 0, 22: // 23:30Z on the 28th; 21:30Z on the 29th
			n = 1
		}
		wantT := ts("2026-03-28T23:00:00Z").Add(time.Duration(i) * time.Hour)
		if !p.T.Equal(wantT) || p.Count != n {
			t.Errorf("point %d = {%s %d}, want {%s %d}", i, p.T.Format(time.RFC3339), p.Count,
				wantT.In(berlin).Format(time.RFC3339), n)
		}
	}
	if got := ps[2].T.Format(time.RFC3339); got != "2026-03-29T03:00:00+02:00" {
		t.Errorf("third hour starts %s, want 2026-03-29T03:00:00+02:00", got)
	}
}

func testSeriesLordHowe(t *testing.T, s store.Store) {
	// Lord Howe Island moves from +10:30 to +11:00 at 02:00 on 2026-10-04, a 23.5-hour day:
	// 23:45 on the 4th and 00:15 on the 5th are 12:45Z and 13:15Z, in one UTC hour.
	write(t, s, 3,
		reported("l1", "2026-10-04T00:15:00+10:30", 1),
		reported("l2", "2026-10-04T23:45:00+11:00", 2),
		reported("l3", "2026-10-05T00:15:00+11:00", 3))
	q := store.SeriesQuery{From: ts("2026-10-04T00:00:00+10:30"), To: ts("2026-10-06T00:00:00+11:00"),
		Step: 24 * time.Hour, Loc: lordHowe}
	checkPoints(t, series(t, s, q), []want{{"2026-10-04T00:00:00+10:30", 2}, {"2026-10-05T00:00:00+11:00", 1}})
}

func testSeriesStep15m(t *testing.T, s store.Store) {
	write(t, s, 5,
		reported("m1", "2026-11-27T10:07:00+08:00", 1),
		reported("m2", "2026-11-27T10:14:59.999+08:00", 2),
		reported("m3", "2026-11-27T10:15:00+08:00", 3),
		reported("m4", "2026-11-27T10:59:59+08:00", 4),
		reported("m5", "2026-11-27T11:00:00+08:00", 5), // at To: excluded
		reported("m6", "2026-11-27T09:59:59+08:00", 6)) // before From: excluded
	q := store.SeriesQuery{From: ts("2026-11-27T10:00:00+08:00"), To: ts("2026-11-27T11:00:00+08:00"),
		Step: 15 * time.Minute, Loc: shanghai}
	checkPoints(t, series(t, s, q), []want{
		{"2026-11-27T10:00:00+08:00", 2}, {"2026-11-27T10:15:00+08:00", 1},
		{"2026-11-27T10:30:00+08:00", 0}, {"2026-11-27T10:45:00+08:00", 1}})

	// From and To inside buckets: the first bucket holds From, counts stay within [From, To).
	q.From, q.To = ts("2026-11-27T10:10:00+08:00"), ts("2026-11-27T10:20:00+08:00")
	checkPoints(t, series(t, s, q), []want{{"2026-11-27T10:00:00+08:00", 1}, {"2026-11-27T10:15:00+08:00", 1}})
}

func testSeriesStep1h(t *testing.T, s store.Store) {
	write(t, s, 6,
		reported("h1", "2026-11-27T00:00:00+08:00", 1),
		reported("h2", "2026-11-27T00:59:59+08:00", 2),
		reported("h3", "2026-11-27T13:30:00+08:00", 3),
		reported("h4", "2026-11-27T23:59:59+08:00", 4),
		reported("h5", "2026-11-28T00:00:00+08:00", 5),
		reported("h6", "2026-11-26T23:59:59+08:00", 6))
	q := store.SeriesQuery{From: ts("2026-11-27T00:00:00+08:00"), To: ts("2026-11-28T00:00:00+08:00"),
		Step: time.Hour, Loc: shanghai}
	ps := series(t, s, q)
	if len(ps) != 24 {
		t.Fatalf("got %d points, want 24: %s", len(ps), fmtPoints(ps))
	}
	for i, p := range ps {
		var n int64
		switch i {
		case 0:
			n = 2
		case 13, 23:
			n = 1
		}
		wantT := fmt.Sprintf("2026-11-27T%02d:00:00+08:00", i)
		if got := p.T.Format(time.RFC3339); got != wantT || p.Count != n {
			t.Errorf("point %d = {%s %d}, want {%s %d}", i, got, p.Count, wantT, n)
		}
	}
}

func testSeriesStep1d(t *testing.T, s store.Store) {
	write(t, s, 6,
		reported("d1", "2026-11-25T00:00:00+08:00", 1),
		reported("d2", "2026-11-26T11:00:00+08:00", 2),
		reported("d3", "2026-11-26T13:00:00+08:00", 3),
		reported("d4", "2026-11-27T11:00:00+08:00", 4),
		reported("d5", "2026-11-27T13:00:00+08:00", 5),
		reported("d6", "2026-11-28T00:00:00+08:00", 6))
	q := store.SeriesQuery{From: ts("2026-11-25T00:00:00+08:00"), To: ts("2026-11-28T00:00:00+08:00"),
		Step: 24 * time.Hour, Loc: shanghai}
	checkPoints(t, series(t, s, q), []want{
		{"2026-11-25T00:00:00+08:00", 1}, {"2026-11-26T00:00:00+08:00", 2}, {"2026-11-27T00:00:00+08:00", 2}})

	// A period starting at noon: the first bucket is that day's, holding only events from noon.
	q.From, q.To = ts("2026-11-26T12:00:00+08:00"), ts("2026-11-27T12:00:00+08:00")
	checkPoints(t, series(t, s, q), []want{{"2026-11-26T00:00:00+08:00", 1}, {"2026-11-27T00:00:00+08:00", 1}})

	// Two-day buckets.
	q.From, q.To, q.Step = ts("2026-11-25T00:00:00+08:00"), ts("2026-11-30T00:00:00+08:00"), 48*time.Hour
	checkPoints(t, series(t, s, q), []want{
		{"2026-11-25T00:00:00+08:00", 3}, {"2026-11-27T00:00:00+08:00", 3}, {"2026-11-29T00:00:00+08:00", 0}})
}

func testSeriesInvalid(t *testing.T, s store.Store) {
	from, to := ts("2026-11-27T00:00:00+08:00"), ts("2026-11-28T00:00:00+08:00")
	cases := []struct {
		name string
		q    store.SeriesQuery
	}{
		{"zero step", store.SeriesQuery{From: from, To: to, Loc: shanghai}},
		{"negative step", store.SeriesQuery{From: from, To: to, Step: -time.Hour, Loc: shanghai}},
		{"5h step", store.SeriesQuery{From: from, To: to, Step: 5 * time.Hour, Loc: shanghai}},
		{"7h step", store.SeriesQuery{From: from, To: to, Step: 7 * time.Hour, Loc: shanghai}},
		{"100m step", store.SeriesQuery{From: from, To: to, Step: 100 * time.Minute, Loc: shanghai}},
		{"36h step", store.SeriesQuery{From: from, To: to, Step: 36 * time.Hour, Loc: shanghai}},
		{"to before from", store.SeriesQuery{From: to, To: from, Step: time.Hour, Loc: shanghai}},
		{"empty period", store.SeriesQuery{From: from, To: from, Step: time.Hour, Loc: shanghai}},
	}
	for _, c := range cases {
		_, err := s.Series(t.Context(), c.q)
		if err == nil || errs.CodeOf(err) != errs.Invalid {
			t.Errorf("%s: err = %v (code %s), want code %s", c.name, err, errs.CodeOf(err), errs.Invalid)
		}
	}
}

func testSeriesPointLimit(t *testing.T, s store.Store) {
	from := ts("2026-11-27T00:00:00Z")
	q := store.SeriesQuery{From: from, To: from.Add(10000 * time.Minute), Step: time.Minute, Loc: time.UTC}
	if ps := series(t, s, q); len(ps) != 10000 {
		t.Errorf("10,000 one-minute buckets: got %d points", len(ps))
	}
	for _, q := range []store.SeriesQuery{
		{From: from, To: from.Add(10001 * time.Minute), Step: time.Minute, Loc: time.UTC},
		{From: from, To: from.Add(10001 * time.Hour), Step: time.Hour, Loc: shanghai},
		{From: from, To: from.AddDate(100, 0, 0), Step: 15 * time.Minute, Loc: shanghai},
	} {
		_, err := s.Series(t.Context(), q)
		if err == nil || errs.CodeOf(err) != errs.Invalid ||
			!(strings.Contains(err.Error(), "10000") || strings.Contains(err.Error(), "10,000")) {
			t.Errorf("step %s over %s: err = %v, want an %s error naming the 10000-point limit",
				q.Step, q.To.Sub(q.From), err, errs.Invalid)
		}
	}
}

func testSeriesRegion(t *testing.T, s store.Store) {
	write(t, s, 5,
		reported("g1", "2026-11-27T08:00:00+08:00", 1, rR, rA, rA1),
		reported("g2", "2026-11-27T09:00:00+08:00", 2, rR, rA),
		reported("g3", "2026-11-27T10:00:00+08:00", 3, rR, rB),
		reported("g4", "2026-11-27T11:00:00+08:00", 4), // unlocated
		reported("g5", "2026-11-27T12:00:00+08:00", 5, rR, rA, rA2))
	for _, c := range []struct {
		region string
		n      int64
	}{{"", 5}, {rR, 4}, {rA, 3}, {rA1, 1}, {rA2, 1}, {rB, 1}, {rB1, 0}, {"999", 0}} {
		if n := dayTotal(t, s, store.SeriesQuery{Region: c.region}); n != c.n {
			t.Errorf("region %q: total %d, want %d", c.region, n, c.n)
		}
	}
}

func testSeriesCategoryTypes(t *testing.T, s store.Store) {
	dispute := reported("t3", "2026-11-27T10:00:00+08:00", 3)
	dispute.Category = "dispute"
	write(t, s, 6,
		reported("t1", "2026-11-27T08:00:00+08:00", 1),
		reported("t2", "2026-11-27T09:00:00+08:00", 2),
		dispute,
		rec(event.CaseDispatched, "t4", "C-t1", "2026-11-27T10:30:00+08:00", 4),
		rec(event.CaseClosed, "t5", "C-t1", "2026-11-27T11:00:00+08:00", 5),
		rec(event.WhistleBlown, "t6", "C-t2", "2026-11-27T11:30:00+08:00", 6))
	for _, c := range []struct {
		category string
		types    []event.Type
		n        int64
	}{
		{"", nil, 3},
		{"", []event.Type{event.CaseReported}, 3},
		{"", []event.Type{event.CaseDispatched}, 1},
		{"", []event.Type{event.CaseReported, event.CaseClosed}, 4},
		{"", []event.Type{event.WhistleBlown, event.CaseClosed}, 2},
		{"environment", nil, 2},
		{"dispute", nil, 1},
		{"environment", []event.Type{event.CaseDispatched}, 0},
		{"petition", nil, 0},
	} {
		if n := dayTotal(t, s, store.SeriesQuery{Category: c.category, Types: c.types}); n != c.n {
			t.Errorf("category %q types %v: total %d, want %d", c.category, c.types, n, c.n)
		}
	}
}

func countsMap(rc []store.RegionCount) map[string]int64 {
	m := map[string]int64{}
	for _, c := range rc {
		if c.Count != 0 {
			m[c.Region] += c.Count
		}
	}
	return m
}

func testRegionCounts(t *testing.T, s store.Store) {
	dispute := reported("c6", "2026-11-27T09:00:00+08:00", 6, rR, rB, rB1)
	dispute.Category = "dispute"
	write(t, s, 9,
		reported("c1", "2026-11-27T08:00:00+08:00", 1, rR, rA, rA1),
		reported("c2", "2026-11-27T08:10:00+08:00", 2, rR, rA, rA1),
		reported("c3", "2026-11-27T08:20:00+08:00", 3, rR, rA, rA2),
		reported("c4", "2026-11-27T08:30:00+08:00", 4, rR, rA),
		reported("c5", "2026-11-27T08:40:00+08:00", 5, rR, rB),
		dispute,
		reported("c7", "2026-11-27T09:10:00+08:00", 7),
		rec(event.CaseDispatched, "c8", "C-c1", "2026-11-27T09:20:00+08:00", 8, rR, rA, rA1),
		reported("c9", "2026-11-28T09:00:00+08:00", 9, rR, rA, rA1)) // outside the period
	from, to := ts("2026-11-27T00:00:00+08:00"), ts("2026-11-28T00:00:00+08:00")
	for _, c := range []struct {
		q    store.RegionQuery
		want map[string]int64
	}{
		{store.RegionQuery{Region: rR, Depth: 0}, map[string]int64{rA: 4, rB: 2}},
		{store.RegionQuery{Region: "", Depth: 0}, map[string]int64{rA: 4, rB: 2}},
		{store.RegionQuery{Region: rA, Depth: 1}, map[string]int64{rA1: 2, rA2: 1}},
		{store.RegionQuery{Region: rB, Depth: 1}, map[string]int64{rB1: 1}},
		{store.RegionQuery{Region: rA1, Depth: 2}, map[string]int64{}},
		{store.RegionQuery{Region: rR, Depth: 0, Category: "dispute"}, map[string]int64{rB: 1}},
		{store.RegionQuery{Region: rR, Depth: 0, Types: []event.Type{event.CaseDispatched}}, map[string]int64{rA: 1}},
		{store.RegionQuery{Region: rR, Depth: 0, Types: []event.Type{event.CaseReported, event.CaseDispatched}},
			map[string]int64{rA: 5, rB: 2}},
	} {
		c.q.From, c.q.To = from, to
		rc, err := s.RegionCounts(t.Context(), c.q)
		if err != nil {
			t.Errorf("RegionCounts(%+v): %v", c.q, err)
			continue
		}
		seen := map[string]bool{}
		for _, x := range rc {
			if seen[x.Region] {
				t.Errorf("RegionCounts(%+v): region %s listed twice", c.q, x.Region)
			}
			seen[x.Region] = true
		}
		got := countsMap(rc)
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("RegionCounts(region %q depth %d category %q types %v) = %v, want %v",
				c.q.Region, c.q.Depth, c.q.Category, c.q.Types, got, c.want)
		}
	}
	for _, q := range []store.RegionQuery{
		{Region: rR, Depth: -1, From: from, To: to},
		{Region: rR, Depth: 0, From: to, To: from},
	} {
		if _, err := s.RegionCounts(t.Context(), q); errs.CodeOf(err) != errs.Invalid {
			t.Errorf("RegionCounts(%+v): err = %v, want code %s", q, err, errs.Invalid)
		}
	}
}

// Counts per descendant at a deeper level: grids under the root, grids under a township.
func testRegionCountsLevel(t *testing.T, s store.Store) {
	write(t, s, 5,
		reported("g1", "2026-11-27T08:00:00+08:00", 1, rR, rA, rA1),
		reported("g2", "2026-11-27T08:10:00+08:00", 2, rR, rA, rA2),
		reported("g3", "2026-11-27T08:20:00+08:00", 3, rR, rB, rB1),
		reported("g4", "2026-11-27T08:30:00+08:00", 4, rR, rB, rB1),
		reported("g5", "2026-11-27T08:40:00+08:00", 5, rR, rA)) // located to a township only
	from, to := ts("2026-11-27T00:00:00+08:00"), ts("2026-11-28T00:00:00+08:00")
	for _, c := range []struct {
		q    store.RegionQuery
		want map[string]int64
	}{
		{store.RegionQuery{Region: rR, Depth: 0, Level: 2}, map[string]int64{rA1: 1, rA2: 1, rB1: 2}},
		{store.RegionQuery{Region: rB, Depth: 1, Level: 2}, map[string]int64{rB1: 2}},
		{store.RegionQuery{Region: rR, Depth: 0, Level: 0}, map[string]int64{rA: 3, rB: 2}},                    // Level ≤ Depth: children
		{store.RegionQuery{Region: rR, Depth: 0, Level: 2, UpTo: 3}, map[string]int64{rA1: 1, rA2: 1, rB1: 1}}, // a cut of the log
		{store.RegionQuery{Region: rR, Depth: 0, Level: 2, Cut: map[int]uint64{0: 2}}, map[string]int64{rA1: 1, rA2: 1}},
		{store.RegionQuery{Region: rR, Depth: 0, Level: 2, Cut: map[int]uint64{7: 5}}, map[string]int64{}}, // other partitions only
	} {
		c.q.From, c.q.To = from, to
		rc, err := s.RegionCounts(t.Context(), c.q)
		if err != nil {
			t.Fatal(err)
		}
		if got := countsMap(rc); fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("RegionCounts(%s depth %d level %d) = %v, want %v", c.q.Region, c.q.Depth, c.q.Level, got, c.want)
		}
	}
}

// The space-time cube: a dense series per region at the level, local-midnight day buckets.
func testCube(t *testing.T, s store.Store) {
	write(t, s, 5,
		reported("q1", "2026-11-25T23:30:00+08:00", 1, rR, rA, rA1),
		reported("q2", "2026-11-26T00:30:00+08:00", 2, rR, rA, rA1),
		reported("q3", "2026-11-26T10:00:00+08:00", 3, rR, rA, rA1),
		reported("q4", "2026-11-27T10:00:00+08:00", 4, rR, rB, rB1),
		reported("q5", "2026-11-27T11:00:00+08:00", 5, rR, rB))
	cube, err := s.Cube(t.Context(), store.CubeQuery{
		RegionQuery: store.RegionQuery{Region: rR, Depth: 0, Level: 2,
			From: ts("2026-11-25T00:00:00+08:00"), To: ts("2026-11-28T00:00:00+08:00")},
		Step: 24 * time.Hour, Loc: shanghai})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range cube {
		var ns []string
		for _, p := range c.Points {
			ns = append(ns, fmt.Sprint(p.Count))
		}
		got[c.Region] = strings.Join(ns, ",")
		if len(c.Points) != 3 || !c.Points[0].T.Equal(ts("2026-11-25T00:00:00+08:00")) {
			t.Errorf("cube %s points %v", c.Region, c.Points)
		}
	}
	want := map[string]string{rA1: "1,2,0", rB1: "0,0,1"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("cube = %v, want %v", got, want)
	}
	if _, err := s.Cube(t.Context(), store.CubeQuery{RegionQuery: store.RegionQuery{Region: rR, From: ts("2026-11-25T00:00:00+08:00"),
		To: ts("2026-11-28T00:00:00+08:00")}, Step: 5 * time.Hour, Loc: shanghai}); errs.CodeOf(err) != errs.Invalid {
		t.Errorf("a 5h step: err %v, want invalid", err)
	}
}

func testPoints(t *testing.T, s store.Store) {
	at := func(r store.Record, lon, lat float64) store.Record {
		r.Lon, r.Lat, r.HasPoint = lon, lat, true
		return r
	}
	p1 := at(reported("p1", "2026-11-26T10:00:00.250+08:00", 1, rR, rA, rA1), 114.1, 32.1)
	p2 := at(reported("p2", "2026-11-26T11:00:00+08:00", 2, rR, rB, rB1), 114.2, 32.2)
	p3 := reported("p3", "2026-11-26T12:00:00+08:00", 3, rR, rA, rA2) // no point
	p4 := at(reported("p4", "2026-11-27T12:00:00+08:00", 4, rR, rA, rA1), 114.4, 32.4)
	p4.Category = "safety"
	p5 := at(rec(event.CaseDispatched, "p5", "C-p1", "2026-11-26T13:00:00+08:00", 5, rR, rA, rA1), 114.5, 32.5)
	p6 := at(reported("p6", "2026-11-29T12:00:00+08:00", 6, rR, rA, rA1), 114.6, 32.6) // after the period
	p2v2 := at(rec(event.CaseReported, "p2-v2", "C-p2", "2026-11-26T11:30:00+08:00", 7, rR, rB, rB1), 114.7, 32.7)
	p2v2.Source, p2v2.Category, p2v2.Supersedes = "grid", "environment", "p2"
	p7 := at(reported("p7", "2026-11-26T14:00:00+08:00", 8), 100, 20) // a point outside every region
	write(t, s, 8, p1, p2, p3, p4, p5, p6, p2v2, p7)
	period := store.PointQuery{From: ts("2026-11-26T00:00:00+08:00"), To: ts("2026-11-28T00:00:00+08:00")}
	points := func(q store.PointQuery) string {
		t.Helper()
		var got []string
		err := s.Points(t.Context(), q, func(e store.LocatedEvent) error {
			got = append(got, fmt.Sprintf("%s@%.1f,%.1f", e.At.In(shanghai).Format("02T15:04:05.000"), e.Lon, e.Lat))
			return nil
		})
		if err != nil {
			t.Fatalf("Points(%+v): %v", q, err)
		}
		slices.Sort(got)
		return strings.Join(got, " ")
	}
	check := func(what string, q store.PointQuery, want string) {
		t.Helper()
		if got := points(q); got != want {
			t.Errorf("%s: points %q, want %q", what, got, want)
		}
	}
	all := "26T10:00:00.250@114.1,32.1 26T11:30:00.000@114.7,32.7 26T14:00:00.000@100.0,20.0 27T12:00:00.000@114.4,32.4"
	check("reports in the period (the corrected one in force, none without a point)", period, all)
	q := period
	q.Category = "environment"
	check("one category", q, "26T10:00:00.250@114.1,32.1 26T11:30:00.000@114.7,32.7 26T14:00:00.000@100.0,20.0")
	q = period
	q.Region, q.Depth = rA, 1
	check("under a region", q, "26T10:00:00.250@114.1,32.1 27T12:00:00.000@114.4,32.4")
	q = period
	q.Types = []event.Type{event.CaseDispatched}
	check("another type", q, "26T13:00:00.000@114.5,32.5")
	q = period
	q.Cut = map[int]uint64{0: 4}
	check("a cut of the log before the correction", q, "26T10:00:00.250@114.1,32.1 26T11:00:00.000@114.2,32.2 27T12:00:00.000@114.4,32.4")
	q = period
	q.UpTo = 1
	check("up to offset 1", q, "26T10:00:00.250@114.1,32.1")
	stop := errors.New("stop")
	n := 0
	if err := s.Points(t.Context(), period, func(store.LocatedEvent) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Errorf("callback error: err %v after %d calls, want it returned after 1", err, n)
	}
	if err := s.Points(t.Context(), store.PointQuery{From: period.To, To: period.From}, func(store.LocatedEvent) error { return nil }); errs.CodeOf(err) != errs.Invalid {
		t.Errorf("an empty period: err %v, want invalid", err)
	}
}

func testCaseEventsOrder(t *testing.T, s store.Store) {
	at := func(typ event.Type, id, at string, off uint64) store.Record {
		return rec(typ, id, "C1", at, off, rR, rA)
	}
	whistle := at(event.WhistleBlown, "w", "2026-11-27T09:00:00+08:00", 12)
	dispatched := at(event.CaseDispatched, "d", "2026-11-27T08:20:00+08:00", 11)
	reportedEv := at(event.CaseReported, "r", "2026-11-27T08:00:00+08:00", 10)
	accepted := at(event.CaseAccepted, "a", "2026-11-27T00:10:00Z", 20) // 08:10 in Shanghai, arrived late
	signed := at(event.CaseSigned, "s", "2026-11-27T00:20:00Z", 15)     // same instant as d
	other := reported("o", "2026-11-27T08:05:00+08:00", 13, rR, rA)
	write(t, s, 12, whistle)
	write(t, s, 13, dispatched, other, reportedEv)
	write(t, s, 20, accepted, signed)
	got := recIDs(caseEvents(t, s, "C1"))
	if want := []string{"r", "a", "d", "s", "w"}; !slices.Equal(got, want) {
		t.Errorf("CaseEvents(C1) = %v, want %v", got, want)
	}
	if rs := caseEvents(t, s, "no-such-case"); len(rs) != 0 {
		t.Errorf("CaseEvents(no-such-case) = %v, want none", recIDs(rs))
	}
}

// CaseRegions: the leaf region of each reported case's first report by (At, Offset, id), ""
// when unlocated; cases without a report and unknown ids are left out; every partition counts.
func testCaseRegions(t *testing.T, s store.Store) {
	odd := `it's "odd" \ 案`
	write(t, s, 10,
		rec(event.CaseReported, "k1-late", "K1", "2026-11-27T09:00:00+08:00", 1, rR, rB, rB1),
		rec(event.CaseReported, "k1-first", "K1", "2026-11-27T08:00:00+08:00", 9, rR, rA, rA1),
		rec(event.CaseDispatched, "k1-d", "K1", "2026-11-27T07:00:00+08:00", 2, rR, rB, rB1),
		rec(event.CaseReported, "k2", "K2", "2026-11-27T08:00:00+08:00", 3),
		rec(event.CaseDispatched, "k3-d", "K3", "2026-11-27T08:00:00+08:00", 4, rR, rA),
		rec(event.CaseReported, "k4-b", "K4", "2026-11-27T08:00:00+08:00", 6, rR, rB, rB1),
		rec(event.CaseReported, "k4-a", "K4", "2026-11-27T00:00:00Z", 5, rR, rA),
		rec(event.CaseReported, "k5", odd, "2026-11-27T08:00:00+08:00", 7, rR, rA, rA2),
	)
	var many []string
	for i := range 1500 {
		many = append(many, fmt.Sprintf("none-%d", i))
	}
	ids := append([]string{"K1", "K2", "K3", "K4", odd, "K1"}, many...)
	got, err := s.CaseRegions(t.Context(), ids)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"K1": rA1, "K2": "", "K4": rA, odd: rA2}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("CaseRegions = %v, want %v", got, want)
	}
	if got, err := s.CaseRegions(t.Context(), nil); err != nil || len(got) != 0 {
		t.Fatalf("CaseRegions(none) = %v, %v", got, err)
	}
	if ps, ok := s.(store.Partitioned); ok {
		// A report of another partition's writer counts.
		p1 := ps.Partition(1)
		if err := p1.Write(t.Context(), store.Batch{Checkpoint: 1, Records: []store.Record{
			rec(event.CaseReported, "k6", "K6", "2026-11-27T08:00:00+08:00", 1, rR, rB, rB1),
			rec(event.CaseReported, "k1-p1", "K1", "2026-11-27T07:00:00+08:00", 1, rR, rB),
		}}); err != nil {
			t.Fatal(err)
		}
		got, err := s.CaseRegions(t.Context(), []string{"K6", "K1"})
		if err != nil || fmt.Sprint(got) != fmt.Sprint(map[string]string{"K6": rB1, "K1": rB}) {
			t.Fatalf("CaseRegions over partitions = %v, %v", got, err)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.CaseRegions(ctx, []string{"K1"}); err == nil {
		t.Fatal("CaseRegions with a cancelled context: want an error")
	}
}

// caseRec builds a record of case caseID in region R → A → A1.
func caseRec(typ event.Type, id, caseID, at string, off uint64) store.Record {
	return rec(typ, id, caseID, at, off, rR, rA, rA1)
}

// cases runs Cases and returns, per case in order, "case:id,id,…", and the records by id.
func cases(t *testing.T, s store.Store, q store.CaseQuery) ([]string, map[string]store.Record) {
	t.Helper()
	var got []string
	byID := map[string]store.Record{}
	if err := s.Cases(t.Context(), q, func(caseID string, recs []store.Record) error {
		for _, r := range recs {
			if r.CaseID != caseID {
				t.Errorf("Cases: record %s of case %s given with case %s", r.ID, r.CaseID, caseID)
			}
			byID[r.ID] = r
		}
		got = append(got, caseID+":"+strings.Join(recIDs(recs), ","))
		return nil
	}); err != nil {
		t.Fatalf("Cases(%+v): %v", q, err)
	}
	return got, byID
}

func testCases(t *testing.T, s store.Store) {
	from, to := ts("2026-11-27T00:00:00+08:00"), ts("2026-11-28T00:00:00+08:00")
	// K1: reported in the period with personal fields; events of other types, one after the
	// period, one arriving late, one at the same instant as another.
	k1r := caseRec(event.CaseReported, "k1r", "K1", "2026-11-27T10:00:00+08:00", 10)
	k1r.Reporter = &event.Reporter{Name: "王五", Phone: "13600000000", IDNumber: "411502199001010011"}
	k1r.Address, k1r.Summary = "某路3号", "垃圾堆放"
	k1d := caseRec(event.CaseDispatched, "k1d", "K1", "2026-11-27T11:00:00+08:00", 11)
	k1d.Dept = "county.urban-mgmt"
	k1a := caseRec(event.CaseAccepted, "k1a", "K1", "2026-11-27T02:30:00Z", 30) // 10:30 in Shanghai, arrived late
	k1s := caseRec(event.CaseSigned, "k1s", "K1", "2026-11-27T03:00:00Z", 12)   // same instant as k1d
	k1c := caseRec(event.CaseClosed, "k1c", "K1", "2026-11-29T09:00:00+08:00", 13)
	k1c.Satisfaction, k1c.Summary = "satisfied", "回访满意"
	// K0: reported before the period, with events inside it: not selected.
	k0r := caseRec(event.CaseReported, "k0r", "K0", "2026-11-26T23:00:00+08:00", 1)
	k0d := caseRec(event.CaseDispatched, "k0d", "K0", "2026-11-27T09:00:00+08:00", 14)
	// K2: reported twice, first inside the period: selected, placed by its first report.
	k2a := caseRec(event.CaseReported, "k2a", "K2", "2026-11-28T01:00:00+08:00", 15)
	k2b := caseRec(event.CaseReported, "k2b", "K2", "2026-11-27T08:00:00+08:00", 16)
	// K3: reported twice, first before the period: not selected.
	k3a := caseRec(event.CaseReported, "k3a", "K3", "2026-11-27T12:00:00+08:00", 17)
	k3b := caseRec(event.CaseReported, "k3b", "K3", "2026-11-26T23:59:59.999999999+08:00", 18)
	// K4 and K5 are reported at the same instant as K1: ordered by case id (K1, K4, K5).
	k5r := caseRec(event.CaseReported, "k5r", "K5", "2026-11-27T02:00:00Z", 19)
	k4r := caseRec(event.CaseReported, "k4r", "K4", "2026-11-27T10:00:00+08:00", 20)
	// K6 at the start of the period, K7 just before its end, K8 at its end.
	k6r := caseRec(event.CaseReported, "k6r", "K6", "2026-11-27T00:00:00+08:00", 21)
	k7r := caseRec(event.CaseReported, "k7r", "K7", "2026-11-27T23:59:59.9999995+08:00", 22)
	k8r := caseRec(event.CaseReported, "k8r", "K8", "2026-11-28T00:00:00+08:00", 23)
	// K9 has no report at all.
	k9d := caseRec(event.CaseDispatched, "k9d", "K9", "2026-11-27T09:00:00+08:00", 24)
	write(t, s, 20, k1c, k0r, k2a, k3b, k5r, k1r, k1d, k9d)
	write(t, s, 40, k0d, k2b, k3a, k4r, k6r, k7r, k8r, k1a, k1s)

	got, byID := cases(t, s, store.CaseQuery{From: from, To: to})
	want := []string{
		"K6:k6r",
		"K2:k2b,k2a",
		"K1:k1r,k1a,k1d,k1s,k1c",
		"K4:k4r",
		"K5:k5r",
		"K7:k7r",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Cases =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, w := range []store.Record{k1r, k1d, k1a, k1s, k1c} {
		if r, ok := byID[w.ID]; ok {
			checkRecord(t, "Cases", r, w)
		}
	}

	// The shape of the period matters, not the day: a period holding only K2's second report.
	got, _ = cases(t, s, store.CaseQuery{From: ts("2026-11-28T00:30:00+08:00"), To: ts("2026-11-28T02:00:00+08:00")})
	if len(got) != 0 {
		t.Errorf("Cases around a later report = %v, want none", got)
	}
	// A period holding K0's and K3's first reports.
	got, _ = cases(t, s, store.CaseQuery{From: ts("2026-11-26T00:00:00+08:00"), To: from})
	if want := []string{"K0:k0r,k0d", "K3:k3b,k3a"}; !slices.Equal(got, want) {
		t.Errorf("Cases on the day before = %v, want %v", got, want)
	}
	// An empty period of the history.
	got, _ = cases(t, s, store.CaseQuery{From: ts("2025-01-01T00:00:00Z"), To: ts("2025-01-02T00:00:00Z")})
	if len(got) != 0 {
		t.Errorf("Cases in 2025 = %v, want none", got)
	}
}

func testCasesRegionCategory(t *testing.T, s store.Store) {
	from, to := ts("2026-11-27T00:00:00+08:00"), ts("2026-11-28T00:00:00+08:00")
	at := func(typ event.Type, id, caseID, at string, off uint64, cat string, path ...string) store.Record {
		r := rec(typ, id, caseID, at, off, path...)
		if typ == event.CaseReported {
			r.Category = cat
		}
		return r
	}
	write(t, s, 10,
		at(event.CaseReported, "a1", "KA1", "2026-11-27T08:00:00+08:00", 1, "environment", rR, rA, rA1),
		// A later event of KA1 elsewhere does not move the case.
		at(event.CaseDispatched, "a1d", "KA1", "2026-11-27T09:00:00+08:00", 2, "", rR, rB, rB1),
		at(event.CaseReported, "a2", "KA2", "2026-11-27T09:00:00+08:00", 3, "traffic", rR, rA, rA2),
		at(event.CaseReported, "b1", "KB1", "2026-11-27T10:00:00+08:00", 4, "environment", rR, rB, rB1),
		at(event.CaseReported, "a", "KA", "2026-11-27T11:00:00+08:00", 5, "environment", rR, rA),
		at(event.CaseReported, "r", "KR", "2026-11-27T12:00:00+08:00", 6, "environment", rR),
		at(event.CaseReported, "u", "KU", "2026-11-27T13:00:00+08:00", 7, "environment"),
		// KM's first report is in B, its second in A: it counts under B.
		at(event.CaseReported, "m1", "KM", "2026-11-27T14:00:00+08:00", 8, "traffic", rR, rB),
		at(event.CaseReported, "m2", "KM", "2026-11-27T15:00:00+08:00", 9, "environment", rR, rA, rA1),
	)
	for _, c := range []struct {
		q    store.CaseQuery
		want []string
	}{
		{store.CaseQuery{}, []string{"KA1:a1,a1d", "KA2:a2", "KB1:b1", "KA:a", "KR:r", "KU:u", "KM:m1,m2"}},
		{store.CaseQuery{Region: rR}, []string{"KA1:a1,a1d", "KA2:a2", "KB1:b1", "KA:a", "KR:r", "KM:m1,m2"}},
		{store.CaseQuery{Region: rA, Depth: 1}, []string{"KA1:a1,a1d", "KA2:a2", "KA:a"}},
		{store.CaseQuery{Region: rB, Depth: 1}, []string{"KB1:b1", "KM:m1,m2"}},
		{store.CaseQuery{Region: rA1, Depth: 2}, []string{"KA1:a1,a1d"}},
		{store.CaseQuery{Region: rA, Depth: 2}, nil}, // wrong depth
		{store.CaseQuery{Category: "environment"}, []string{"KA1:a1,a1d", "KB1:b1", "KA:a", "KR:r", "KU:u"}},
		{store.CaseQuery{Category: "traffic"}, []string{"KA2:a2", "KM:m1,m2"}},
		{store.CaseQuery{Region: rA, Depth: 1, Category: "environment"}, []string{"KA1:a1,a1d", "KA:a"}},
		{store.CaseQuery{Category: "none"}, nil},
	} {
		q := c.q
		q.From, q.To = from, to
		if got, _ := cases(t, s, q); !slices.Equal(got, c.want) {
			t.Errorf("Cases(region %q depth %d category %q) = %v, want %v", q.Region, q.Depth, q.Category, got, c.want)
		}
	}
}

func testCasesErrors(t *testing.T, s store.Store) {
	write(t, s, 3, reported("a", "2026-11-27T08:00:00+08:00", 1),
		reported("b", "2026-11-27T09:00:00+08:00", 2),
		reported("c", "2026-11-27T10:00:00+08:00", 3))
	from, to := ts("2026-11-27T00:00:00+08:00"), ts("2026-11-28T00:00:00+08:00")
	stop := errors.New("stop")
	var seen []string
	err := s.Cases(t.Context(), store.CaseQuery{From: from, To: to}, func(caseID string, _ []store.Record) error {
		seen = append(seen, caseID)
		if len(seen) == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || !slices.Equal(seen, []string{"C-a", "C-b"}) {
		t.Errorf("Cases with a failing callback: err = %v after %v; want the callback's error after [C-a C-b]", err, seen)
	}
	for _, c := range []struct {
		name string
		q    store.CaseQuery
		key  string
	}{
		{"to before from", store.CaseQuery{From: to, To: from}, "period"},
		{"empty period", store.CaseQuery{From: from, To: from}, "period"},
		{"no period", store.CaseQuery{}, "period"},
		{"negative depth", store.CaseQuery{From: from, To: to, Region: rR, Depth: -1}, "depth"},
		{"too many ids", store.CaseQuery{From: from, To: to, IDs: make([]string, store.MaxCaseQueryIDs+1)}, "ids"},
	} {
		calls := 0
		code := errs.Invalid
		if c.key == "ids" {
			code = errs.TooLarge
		}
		err := s.Cases(t.Context(), c.q, func(string, []store.Record) error { calls++; return nil })
		if errs.CodeOf(err) != code || errs.ReasonOf(err) != c.key || calls != 0 {
			t.Errorf("%s: err = %v (code %s, reason %s) after %d calls, want code %s, reason %s",
				c.name, err, errs.CodeOf(err), errs.ReasonOf(err), calls, code, c.key)
		}
	}
}

// testCasesIDs: CaseQuery.IDs keeps the cases named among those the rest of the query selects,
// in the same order; an empty list selects none.
func testCasesIDs(t *testing.T, s store.Store) {
	at := func(typ event.Type, id, caseID, at string, off uint64, path ...string) store.Record {
		return rec(typ, id, caseID, at, off, path...)
	}
	write(t, s, 10,
		at(event.CaseReported, "a1", "KA1", "2026-11-27T08:00:00+08:00", 1, rR, rA, rA1),
		at(event.CaseDispatched, "a1d", "KA1", "2026-11-27T09:00:00+08:00", 2, rR, rA, rA1),
		at(event.CaseReported, "b1", "KB1", "2026-11-27T07:00:00+08:00", 3, rR, rB, rB1),
		at(event.CaseReported, "a2", "KA2", "2026-11-27T10:00:00+08:00", 4, rR, rA, rA2),
		// KM's first report is in B, its second (in the period) in A.
		at(event.CaseReported, "m1", "KM", "2026-11-26T14:00:00+08:00", 5, rR, rB),
		at(event.CaseReported, "m2", "KM", "2026-11-27T15:00:00+08:00", 6, rR, rA, rA1),
	)
	from, to := ts("2026-11-27T00:00:00+08:00"), ts("2026-11-28T00:00:00+08:00")
	for _, c := range []struct {
		q    store.CaseQuery
		want []string
	}{
		{store.CaseQuery{IDs: []string{"KA2", "KA1", "KB1"}}, []string{"KB1:b1", "KA1:a1,a1d", "KA2:a2"}},
		{store.CaseQuery{IDs: []string{"KA2", "KM", "nope"}}, []string{"KA2:a2"}}, // KM first reported the day before
		{store.CaseQuery{IDs: []string{"KA2", "KB1"}, Region: rA, Depth: 1}, []string{"KA2:a2"}},
		{store.CaseQuery{IDs: []string{}}, nil},
		{store.CaseQuery{}, []string{"KB1:b1", "KA1:a1,a1d", "KA2:a2"}},
	} {
		q := c.q
		q.From, q.To = from, to
		if got, _ := cases(t, s, q); !slices.Equal(got, c.want) {
			t.Errorf("Cases(ids %q region %q) = %v, want %v", q.IDs, q.Region, got, c.want)
		}
	}
}

func testBasics(t *testing.T, s store.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
	if n := count(t, s); n != 0 {
		t.Errorf("new store: Count = %d", n)
	}
	if ids := eventIDs(t, s); len(ids) != 0 {
		t.Errorf("new store: EventIDs = %v", ids)
	}
	if ids := replayIDs(t, s); len(ids) != 0 {
		t.Errorf("new store: Replay = %v", ids)
	}
	write(t, s, 2, reported("x", "2026-11-27T08:00:00+08:00", 1), reported("y", "2026-11-27T08:00:00+08:00", 2))
	if n := count(t, s); n != 2 {
		t.Errorf("Count = %d, want 2", n)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := s.Ping(t.Context()); err == nil {
		t.Error("Ping after Close: no error")
	}
	if err := s.Write(t.Context(), store.Batch{Checkpoint: 3}); err == nil {
		t.Error("Write after Close: no error")
	}
}

// testQueriesCancelled: a query whose context is done returns an error wrapping the context's
// error, and one cancelled while it calls back per record stops within a few hundred records.
func testQueriesCancelled(t *testing.T, s store.Store) {
	const cases = 3000
	recs := make([]store.Record, cases)
	for i := range recs {
		recs[i] = reported(fmt.Sprintf("q%05d", i), fmt.Sprintf("2026-11-27T%02d:%02d:%02d+08:00", 8+i/3600, i/60%60, i%60), uint64(i+1), rR, rA, rA1)
	}
	write(t, s, cases, recs...)
	from, to := ts("2026-11-27T00:00:00+08:00"), ts("2026-11-28T00:00:00+08:00")
	rq := store.RegionQuery{Region: rR, Depth: 0, From: from, To: to}

	done := map[string]context.Context{}
	c, cancel := context.WithCancel(t.Context())
	cancel()
	done["canceled"] = c
	d, stop := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer stop()
	done["deadline"] = d
	for name, ctx := range done {
		want := ctx.Err()
		queries := map[string]func() error{
			"Series": func() error {
				_, err := s.Series(ctx, store.SeriesQuery{From: from, To: to, Step: time.Hour, Loc: shanghai})
				return err
			},
			"RegionCounts": func() error { _, err := s.RegionCounts(ctx, rq); return err },
			"Cube": func() error {
				_, err := s.Cube(ctx, store.CubeQuery{RegionQuery: rq, Step: time.Hour, Loc: shanghai})
				return err
			},
			"CaseEvents": func() error { _, err := s.CaseEvents(ctx, "C-q00001"); return err },
			"Cases": func() error {
				return s.Cases(ctx, store.CaseQuery{From: from, To: to}, func(string, []store.Record) error { return nil })
			},
		}
		for q, run := range queries {
			if err := run(); !errors.Is(err, want) {
				t.Errorf("%s with a %s context: %v, want an error wrapping %v", q, name, err, want)
			}
		}
	}

	// Cancelled at the first case: the rest of the cases are not handed out.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	calls := 0
	err := s.Cases(ctx, store.CaseQuery{From: from, To: to}, func(string, []store.Record) error {
		calls++
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Cases cancelled by its first callback: %v, want an error wrapping context.Canceled", err)
	}
	if calls > 600 {
		t.Errorf("Cases cancelled by its first callback went on for %d of %d cases", calls, cases)
	}
}

// A correction names the event it supersedes: both stay stored and readable (CaseEvents,
// Replay, Cases, Versions), the superseded one counts nowhere (Series, RegionCounts, Cube, a
// case's first report for Cases and CaseRegions), also when the correction was stored first;
// a supersedes of another type or case, or of nothing, changes nothing; with a cut of the log
// a correction past the cut does not count yet.
func testSupersedes(t *testing.T, s store.Store) {
	// S1: reported at 08:00 in A1 (a wrong zone), corrected to 20:00 in B1, category safety;
	// its closing corrected twice.
	s1 := rec(event.CaseReported, "s1-r", "S1", "2026-11-27T08:00:00+08:00", 1, rR, rA, rA1)
	s1c := rec(event.CaseClosed, "s1-c", "S1", "2026-11-27T09:00:00+08:00", 2, rR, rA, rA1)
	// S2: a report and a closing naming S2's report (another type: no correction).
	s2 := rec(event.CaseReported, "s2-r", "S2", "2026-11-27T08:30:00+08:00", 3, rR, rA, rA2)
	s2x := rec(event.CaseClosed, "s2-x", "S2", "2026-11-27T09:30:00+08:00", 4, rR, rA, rA2)
	s2x.Supersedes = "s2-r"
	// S3: its correction stored before the report it corrects.
	s3v2 := rec(event.CaseReported, "s3-r2", "S3", "2026-11-27T11:00:00+08:00", 5, rR, rB, rB1)
	s3v2.Supersedes = "s3-r"
	// S4: a report naming another case's report.
	s4 := rec(event.CaseReported, "s4-r", "S4", "2026-11-27T12:00:00+08:00", 6, rR, rB, rB1)
	s4.Supersedes = "s2-r"
	write(t, s, 6, s1, s1c, s2, s2x, s3v2, s4)

	day := store.SeriesQuery{From: ts("2026-11-27T00:00:00+08:00"), To: ts("2026-11-28T00:00:00+08:00"), Step: time.Hour, Loc: shanghai}
	hours := func(q store.SeriesQuery) map[int]int64 {
		t.Helper()
		out := map[int]int64{}
		for _, p := range series(t, s, q) {
			if p.Count != 0 {
				out[p.T.In(shanghai).Hour()] += p.Count
			}
		}
		return out
	}
	regions := func(q store.RegionQuery) map[string]int64 {
		t.Helper()
		rc, err := s.RegionCounts(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		return countsMap(rc)
	}
	rq := store.RegionQuery{Region: rR, Depth: 0, From: day.From, To: day.To}
	if got := hours(day); fmt.Sprint(got) != "map[8:2 11:1 12:1]" {
		t.Errorf("reports per hour before the corrections = %v", got)
	}

	s3 := rec(event.CaseReported, "s3-r", "S3", "2026-11-27T07:00:00+08:00", 7, rR, rA, rA1)
	s1v2 := rec(event.CaseReported, "s1-r2", "S1", "2026-11-27T20:00:00+08:00", 8, rR, rB, rB1)
	s1v2.Supersedes, s1v2.Category = "s1-r", "safety"
	s1c2 := rec(event.CaseClosed, "s1-c2", "S1", "2026-11-27T21:00:00+08:00", 9, rR, rB, rB1)
	s1c2.Supersedes = "s1-c"
	s1c3 := rec(event.CaseClosed, "s1-c3", "S1", "2026-11-27T20:30:00+08:00", 10, rR, rB, rB1)
	s1c3.Supersedes = "s1-c2"
	write(t, s, 8, s3, s1v2)
	write(t, s, 10, s1c2, s1c3)

	// Stored and read back, supersedes included.
	all := caseEvents(t, s, "S1")
	if ids := strings.Join(recIDs(all), " "); ids != "s1-r s1-c s1-r2 s1-c3 s1-c2" {
		t.Fatalf("CaseEvents(S1) = %s", ids)
	}
	if all[2].Supersedes != "s1-r" || all[4].Supersedes != "s1-c" || all[3].Supersedes != "s1-c2" || all[0].Supersedes != "" {
		t.Errorf("supersedes read back: %q %q %q %q", all[0].Supersedes, all[2].Supersedes, all[3].Supersedes, all[4].Supersedes)
	}
	n := 0
	if err := s.Replay(t.Context(), func(r store.Record) error {
		if r.ID == "s1-r2" && r.Supersedes != "s1-r" {
			t.Errorf("Replay: %s supersedes %q", r.ID, r.Supersedes)
		}
		n++
		return nil
	}); err != nil || n != 10 {
		t.Fatalf("Replay: %d records, %v", n, err)
	}

	// Counts: S1's report at 20:00 in B (safety), S2's at 08:30 in A, S3's correction at 11:00
	// in B, S4's at 12:00 in B; closings: S1's last correction at 20:30, S2's own.
	if got := hours(day); fmt.Sprint(got) != "map[8:1 11:1 12:1 20:1]" {
		t.Errorf("reports per hour = %v, want 8:1 11:1 12:1 20:1", got)
	}
	closed := day
	closed.Types = []event.Type{event.CaseClosed}
	if got := hours(closed); fmt.Sprint(got) != "map[9:1 20:1]" {
		t.Errorf("closings per hour = %v, want 9:1 20:1", got)
	}
	minutes := day
	minutes.Step = 30 * time.Minute
	if got := total(series(t, s, minutes)); got != 4 {
		t.Errorf("reports in 30-minute steps = %d, want 4", got)
	}
	safety := day
	safety.Category = "safety"
	if got := hours(safety); fmt.Sprint(got) != "map[20:1]" {
		t.Errorf("safety reports per hour = %v", got)
	}
	if got := regions(rq); fmt.Sprint(got) != fmt.Sprint(map[string]int64{rA: 1, rB: 3}) {
		t.Errorf("RegionCounts = %v, want A 1, B 3", got)
	}
	week := rq
	week.From, week.To = ts("2026-11-23T00:00:00+08:00"), ts("2026-11-30T00:00:00+08:00")
	if got := regions(week); fmt.Sprint(got) != fmt.Sprint(map[string]int64{rA: 1, rB: 3}) {
		t.Errorf("RegionCounts over whole days = %v, want A 1, B 3", got)
	}
	cube, err := s.Cube(t.Context(), store.CubeQuery{RegionQuery: week, Step: 24 * time.Hour, Loc: shanghai})
	if err != nil {
		t.Fatal(err)
	}
	cubeTotals := map[string]int64{}
	for _, c := range cube {
		cubeTotals[c.Region] = total(c.Points)
	}
	if fmt.Sprint(cubeTotals) != fmt.Sprint(map[string]int64{rA: 1, rB: 3}) {
		t.Errorf("Cube = %v, want A 1, B 3", cubeTotals)
	}
	// A cut of the log before S1's correction and S3's report: S1 still in A, S3's correction
	// in B (stored before the cut, what it supersedes was not).
	cut := rq
	cut.UpTo = 6
	if got := regions(cut); fmt.Sprint(got) != fmt.Sprint(map[string]int64{rA: 2, rB: 2}) {
		t.Errorf("RegionCounts up to offset 6 = %v, want A 2, B 2", got)
	}

	// Cases: S1's first report is its correction (20:00, B1, safety).
	got, _ := cases(t, s, store.CaseQuery{From: ts("2026-11-27T19:00:00+08:00"), To: day.To})
	if strings.Join(got, " ") != "S1:s1-r,s1-c,s1-r2,s1-c3,s1-c2" {
		t.Errorf("Cases from 19:00 = %v", got)
	}
	got, _ = cases(t, s, store.CaseQuery{From: day.From, To: ts("2026-11-27T10:00:00+08:00")})
	if strings.Join(got, " ") != "S2:s2-r,s2-x" {
		t.Errorf("Cases before 10:00 = %v (S1's and S3's first reports are corrected to later)", got)
	}
	got, _ = cases(t, s, store.CaseQuery{From: day.From, To: day.To, Region: rB, Depth: 1, Category: "safety"})
	if strings.Join(got, " ") != "S1:s1-r,s1-c,s1-r2,s1-c3,s1-c2" {
		t.Errorf("Cases in B, safety = %v", got)
	}
	cr, err := s.CaseRegions(t.Context(), []string{"S1", "S2", "S3"})
	if err != nil || fmt.Sprint(cr) != fmt.Sprint(map[string]string{"S1": rB1, "S2": rA2, "S3": rB1}) {
		t.Errorf("CaseRegions = %v, %v", cr, err)
	}

	// Versions: each chain to the version in force.
	vs, err := s.Versions(t.Context(), []string{"s1-r", "s1-c", "s1-c2", "s2-r", "s3-r", "nope", "s1-c"})
	if err != nil {
		t.Fatal(err)
	}
	chains := map[string]string{}
	for id, rs := range vs {
		chains[id] = strings.Join(recIDs(rs), ">")
	}
	want := map[string]string{"s1-r": "s1-r>s1-r2", "s1-c": "s1-c>s1-c2>s1-c3", "s1-c2": "s1-c2>s1-c3", "s2-r": "s2-r", "s3-r": "s3-r>s3-r2"}
	if fmt.Sprint(chains) != fmt.Sprint(want) {
		t.Errorf("Versions = %v, want %v", chains, want)
	}
	if r := vs["s1-r"]; len(r) == 2 && (r[1].Category != "safety" || r[1].Supersedes != "s1-r" || !slices.Equal(r[1].RegionPath, []string{rR, rB, rB1})) {
		t.Errorf("Versions: the correction %+v", r[1])
	}
	if vs, err := s.Versions(t.Context(), nil); err != nil || len(vs) != 0 {
		t.Errorf("Versions(none) = %v, %v", vs, err)
	}
}

// A store that tells its data version (store.DataVersioned) gives another one after each write,
// also one that stores nothing new. (It may change without a write too: the embedded store's
// counts every store of the process, and the suite's cases run side by side.)
func testDataVersion(t *testing.T, s store.Store) {
	v, ok := s.(store.DataVersioned)
	if !ok {
		t.Skip("the store does not tell its data version")
	}
	version := mustVersion(t, v.DataVersion)
	v0 := version()
	r := reported("dv1", "2026-11-27T08:00:00+08:00", 1, rR, rA, rA1)
	write(t, s, 1, r)
	v1 := version()
	if v1 == v0 {
		t.Fatalf("version %d unchanged by a write", v1)
	}
	write(t, s, 2, r) // the same record again: skipped, still a write
	if version() == v1 {
		t.Fatalf("version %d unchanged by a second write", v1)
	}
}

// mustVersion turns a store's version method into one that fails the test on an error.
func mustVersion(t *testing.T, f func(context.Context) (uint64, error)) func() uint64 {
	return func() uint64 {
		t.Helper()
		n, err := f(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
}

// testCaseChanges: a store that tells which cases changed names those of every write after
// the version asked about, those of every partition (a partitioned store), and says when it
// cannot tell.
func testCaseChanges(t *testing.T, s store.Store) {
	c, ok := s.(store.CaseChanges)
	if !ok {
		t.Skip("the store does not tell which cases changed")
	}
	ctx := context.Background()
	version := mustVersion(t, c.DataVersion)
	since := func(v uint64) ([]string, bool) {
		t.Helper()
		ids, ok, err := c.CasesChangedSince(ctx, v)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(ids)
		return ids, ok
	}
	v0 := version()
	if ids, ok := since(v0); !ok || len(ids) != 0 {
		t.Fatalf("changes since now: %v, %v", ids, ok)
	}
	write(t, s, 1, reported("c1", "2026-11-27T08:00:00+08:00", 1, rR), reported("c2", "2026-11-27T09:00:00+08:00", 2, rR))
	v1 := version()
	ev := rec(event.CaseDispatched, "c1d", "C-c1", "2026-11-27T10:00:00+08:00", 3, rR)
	write(t, s, 3, ev)
	write(t, s, 4) // a checkpoint alone: no case
	if ids, ok := since(v0); !ok || !slices.Equal(ids, []string{"C-c1", "C-c2"}) {
		t.Errorf("changes since the start: %v, %v; want [C-c1 C-c2]", ids, ok)
	}
	if ids, ok := since(v1); !ok || !slices.Equal(ids, []string{"C-c1"}) {
		t.Errorf("changes since the first write: %v, %v; want [C-c1]", ids, ok)
	}
	if ids, ok := since(version()); !ok || len(ids) != 0 {
		t.Errorf("changes since now: %v, %v", ids, ok)
	}
	if p, ok := s.(store.Partitioned); ok {
		// Another partition's writer, then this one's again.
		v := version()
		// A survey record beside (no case): not a changed case.
		if err := p.Partition(3).Write(ctx, store.Batch{Records: []store.Record{
			reported("c3", "2026-11-27T12:00:00+08:00", 1, rR),
			surveyRec("cc-sv", "2026-11-27T12:00:00+08:00", 2, "P1", "R1", 80)}, Checkpoint: 2}); err != nil {
			t.Fatal(err)
		}
		mid := version()
		write(t, s, 5, rec(event.CaseSigned, "c2s", "C-c2", "2026-11-27T12:30:00+08:00", 5, rR))
		if ids, ok := since(v); !ok || !slices.Equal(ids, []string{"C-c2", "C-c3"}) {
			t.Errorf("changes since before partition 3's write: %v, %v; want [C-c2 C-c3]", ids, ok)
		}
		if ids, ok := since(mid); !ok || !slices.Equal(ids, []string{"C-c2"}) {
			t.Errorf("changes since partition 3's write: %v, %v; want [C-c2]", ids, ok)
		}
	}
	// More cases than a reader should re-read one by one: it cannot tell either.
	v2 := version()
	var recs []store.Record
	for i := range store.MaxChangedCases + 1 {
		recs = append(recs, reported(fmt.Sprintf("many%d", i), "2026-11-27T11:00:00+08:00", uint64(10+i), rR))
	}
	write(t, s, uint64(10+len(recs)), recs...)
	if ids, ok := since(v2); ok {
		t.Errorf("changes since before %d cases were written: %d ids, told", len(recs), len(ids))
	}
}

// historyBegins turns a store's HistoryBegins into one that fails the test on an error.
func historyBegins(t *testing.T, s store.Store) func() (time.Time, bool) {
	h, ok := s.(store.HistoryBeginning)
	if !ok {
		t.Skip("the store does not tell when its history begins")
	}
	return func() (time.Time, bool) {
		t.Helper()
		at, ok, err := h.HistoryBegins(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return at, ok
	}
}

// testHistoryBegins: the history begins with the earliest stored case report, asked after the
// first write and again after writes of earlier and later events; other events before it do
// not count.
func testHistoryBegins(t *testing.T, s store.Store) {
	begins := historyBegins(t, s)
	write(t, s, 1, reported("hb1", "2026-11-27T08:00:00.25+08:00", 1, rR, rA, rA1))
	if at, ok := begins(); !ok || !at.Equal(ts("2026-11-27T08:00:00.25+08:00")) {
		t.Fatalf("history begins at %v (%v), want the one report's time", at, ok)
	}
	write(t, s, 2, rec(event.CaseClosed, "hb0", "C-x", "2026-10-01T08:00:00+08:00", 2),
		reported("hb2", "2026-11-03T09:30:15+08:00", 3, rR, rB, rB1), reported("hb3", "2026-11-20T00:00:00+08:00", 4))
	if at, ok := begins(); !ok || !at.Equal(ts("2026-11-03T09:30:15+08:00")) {
		t.Fatalf("history begins at %v (%v), want the earliest report, 2026-11-03 09:30:15 +08:00", at, ok)
	}
	write(t, s, 3, reported("hb4", "2026-12-01T00:00:00+08:00", 5))
	if at, _ := begins(); !at.Equal(ts("2026-11-03T09:30:15+08:00")) {
		t.Fatalf("a later report moved the history's beginning to %v", at)
	}
}

// testHistoryBeginsEmpty: an empty store's history has no beginning until its first report.
func testHistoryBeginsEmpty(t *testing.T, s store.Store) {
	begins := historyBegins(t, s)
	if at, ok := begins(); ok {
		t.Fatalf("an empty store's history begins at %v", at)
	}
	write(t, s, 1, rec(event.CaseClosed, "he0", "C-x", "2026-10-01T08:00:00+08:00", 1))
	if at, ok := begins(); ok {
		t.Fatalf("a store with no report begins at %v", at)
	}
	write(t, s, 2, reported("he1", "2026-11-27T08:00:00+08:00", 2))
	if at, ok := begins(); !ok || !at.Equal(ts("2026-11-27T08:00:00+08:00")) {
		t.Fatalf("history begins at %v (%v) after the first report", at, ok)
	}
}
