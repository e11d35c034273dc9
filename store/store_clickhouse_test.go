package store_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"zhili/errs"
	"zhili/event"
	"zhili/internal/testsvc"
	"zhili/store"
	"zhili/store/storetest"
)

func openClickHouse(t testing.TB, dsn string, opt store.ClickHouseOptions) *store.ClickHouse {
	t.Helper()
	s, err := store.OpenClickHouse(t.Context(), dsn, opt)
	if err != nil {
		t.Fatalf("OpenClickHouse(%s): %v", dsn, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// chConn opens a raw driver connection for checks behind the store's back.
func chConn(t testing.TB, dsn string) driver.Conn {
	t.Helper()
	o, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := clickhouse.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func chUint(t testing.TB, conn driver.Conn, query string) uint64 {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(context.Background(), query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func TestClickHouseConformance(t *testing.T) {
	t.Parallel() // a database of its own on the shared server
	ch := testsvc.SharedClickHouse(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		return openClickHouse(t, ch.NewDatabase(t), store.ClickHouseOptions{})
	})
	t.Run("NoRollups", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) store.Store {
			return openClickHouse(t, ch.NewDatabase(t), store.ClickHouseOptions{NoRollups: true})
		})
	})
}

func chRec(id string, at string, off uint64, path ...string) store.Record {
	return store.Record{Event: event.Event{ID: id, Type: event.CaseReported, CaseID: "C-" + id,
		At: mustTime(at), Source: "grid", Category: "environment"}, Offset: off, RegionPath: path}
}

func TestClickHousePartitions(t *testing.T) {
	t.Parallel() // a database of its own on the shared server
	ch := testsvc.SharedClickHouse(t)
	dsn := ch.NewDatabase(t)
	s := openClickHouse(t, dsn, store.ClickHouseOptions{})
	ctx := t.Context()
	p0, p1 := s.Partition(0), s.Partition(1)
	if p0 != store.Store(s) || s.Partition(1) != p1 {
		t.Fatal("Partition must return the same view for the same partition")
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(p0.Write(ctx, store.Batch{Checkpoint: 5, Records: []store.Record{
		chRec("a", "2026-11-27T08:00:00+08:00", 4, "411502", "411502001")}}))
	must(p1.Write(ctx, store.Batch{Checkpoint: 9, Records: []store.Record{
		chRec("b", "2026-11-27T09:00:00+08:00", 8, "411502", "411502002"),
		chRec("c", "2026-11-27T07:00:00+08:00", 3, "411502", "411502002")}}))
	// The same id in another partition's view is that partition's business.
	must(p1.Write(ctx, store.Batch{Checkpoint: 10, Records: []store.Record{
		chRec("b", "2026-11-27T09:00:00+08:00", 9, "411502", "411502002")}}))
	for _, c := range []struct {
		v    store.Store
		cp   uint64
		ids  []string
		want int64
	}{{p0, 5, []string{"a"}, 1}, {p1, 10, []string{"c", "b"}, 2}} {
		cp, err := c.v.Checkpoint(ctx)
		must(err)
		var ids []string
		must(c.v.Replay(ctx, func(r store.Record) error { ids = append(ids, r.ID); return nil }))
		n, err := c.v.Count(ctx)
		must(err)
		if cp != c.cp || !slices.Equal(ids, c.ids) || n != c.want {
			t.Errorf("view: checkpoint %d replay %v count %d; want %d %v %d", cp, ids, n, c.cp, c.ids, c.want)
		}
	}
	// Queries cover every partition, from any view.
	from, to := mustTime("2026-11-27T00:00:00+08:00"), mustTime("2026-11-28T00:00:00+08:00")
	for _, v := range []store.Store{p0, p1} {
		rc, err := v.RegionCounts(ctx, store.RegionQuery{Region: "411502", From: from, To: to})
		must(err)
		if fmt.Sprint(rc) != "[{411502001 1} {411502002 2}]" {
			t.Errorf("RegionCounts = %v", rc)
		}
		rc, err = v.RegionCounts(ctx, store.RegionQuery{Region: "411502", From: from, To: to,
			Cut: map[int]uint64{0: 4, 1: 3}})
		must(err)
		if fmt.Sprint(rc) != "[{411502001 1} {411502002 1}]" {
			t.Errorf("RegionCounts with a cut = %v", rc)
		}
		rs, err := v.CaseEvents(ctx, "C-b")
		must(err)
		if len(rs) != 1 || rs[0].Offset != 8 {
			t.Errorf("CaseEvents(C-b) = %+v", rs)
		}
		var cases []string
		must(v.Cases(ctx, store.CaseQuery{From: from, To: to}, func(id string, recs []store.Record) error {
			cases = append(cases, fmt.Sprintf("%s:%d", id, len(recs)))
			return nil
		}))
		if fmt.Sprint(cases) != "[C-c:1 C-a:1 C-b:1]" {
			t.Errorf("Cases = %v", cases)
		}
	}
	// A new store on the same database: views reload their ids and checkpoints.
	s2 := openClickHouse(t, dsn, store.ClickHouseOptions{})
	must(s2.Partition(1).Write(ctx, store.Batch{Checkpoint: 11, Records: []store.Record{
		chRec("b", "2026-11-27T09:00:00+08:00", 9), chRec("d", "2026-11-27T09:30:00+08:00", 10)}}))
	n, err := s2.Partition(1).Count(ctx)
	must(err)
	cp, err := s2.Partition(1).Checkpoint(ctx)
	must(err)
	if n != 3 || cp != 11 {
		t.Errorf("after reopening: partition 1 count %d checkpoint %d; want 3, 11", n, cp)
	}
	// Closing a view leaves the others open.
	must(p1.Close())
	if err := p1.Ping(ctx); err == nil {
		t.Error("Ping on a closed view: no error")
	}
	must(p0.Ping(ctx))
}

func TestClickHouseMigrations(t *testing.T) {
	t.Parallel() // a database of its own on the shared server
	ch := testsvc.SharedClickHouse(t)
	dsn := ch.NewDatabase(t)
	ctx := t.Context()
	applied, version, err := store.MigrateClickHouse(ctx, dsn, store.ClickHouseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != 7 || !strings.HasSuffix(applied[0], "events") || !strings.HasSuffix(applied[5], "supersedes") ||
		!strings.HasSuffix(applied[6], "survey") {
		t.Errorf("first migrate applied %v, want the 7 migrations", applied)
	}
	again, version2, err := store.MigrateClickHouse(ctx, dsn, store.ClickHouseOptions{Loc: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 0 || version2 != version {
		t.Errorf("second migrate applied %v (version %s, then %s), want nothing", again, version, version2)
	}
	s := openClickHouse(t, dsn, store.ClickHouseOptions{})
	if s.ServerVersion() != version || !strings.Contains(version, ".") {
		t.Errorf("ServerVersion = %q, migrate said %q", s.ServerVersion(), version)
	}
	conn := chConn(t, dsn)
	if n := chUint(t, conn, `SELECT count() FROM schema_migrations`); n != 7 {
		t.Errorf("schema_migrations has %d rows, want 7", n)
	}
	var variant, sv string
	if err := conn.QueryRow(ctx, `SELECT variant, server_version FROM schema_migrations WHERE version = 4`).Scan(&variant, &sv); err != nil {
		t.Fatal(err)
	}
	// The zone of the first migration is kept: the second run asked for UTC but applied nothing.
	if !strings.Contains(variant, "zone=Asia/Shanghai") || sv != version {
		t.Errorf("rollup_day migration recorded variant %q server %q", variant, sv)
	}
	var dict string
	if err := conn.QueryRow(ctx, `SELECT type FROM system.columns WHERE database = currentDatabase()
		AND table = 'events' AND name = 'category'`).Scan(&dict); err != nil {
		t.Fatal(err)
	}
	var major, minor int
	fmt.Sscanf(version, "%d.%d.", &major, &minor)
	if wantLC := major > 20 || major == 20 && minor >= 3; wantLC != strings.Contains(dict, "LowCardinality") {
		t.Errorf("server %s: category column is %s", version, dict)
	}
	t.Logf("server %s: category column %s, rollup_day variant %q", version, dict, variant)
	if _, _, err := store.MigrateClickHouse(ctx, "clickhouse://127.0.0.1:1/x", store.ClickHouseOptions{DialTimeout: time.Second}); errs.CodeOf(err) != errs.Unavailable {
		t.Errorf("migrate with no server: err %v, want code %s", err, errs.Unavailable)
	}
}

// chTree is a small region tree: 1 root, 3 districts, 3 towns each, 4 grids each.
func chRandomPath(rng *rand.Rand) []string {
	if rng.IntN(10) == 0 {
		return nil
	}
	d := fmt.Sprintf("R%d", rng.IntN(3))
	tw := fmt.Sprintf("%sT%d", d, rng.IntN(3))
	g := fmt.Sprintf("%sG%d", tw, rng.IntN(4))
	return []string{"R", d, tw, g}[:1+rng.IntN(4)]
}

// The rollups give exactly the answers of raw events, over random data and random queries.
func TestClickHouseRollupsMatchRaw(t *testing.T) {
	t.Parallel() // a database of its own on the shared server
	ch := testsvc.SharedClickHouse(t)
	dsn := ch.NewDatabase(t)
	ctx := t.Context()
	rolled := openClickHouse(t, dsn, store.ClickHouseOptions{})
	raw := openClickHouse(t, dsn, store.ClickHouseOptions{NoRollups: true})
	rng := rand.New(rand.NewPCG(7, 7))
	start := mustTime("2026-10-20T00:00:00+08:00")
	types := []event.Type{event.CaseReported, event.CaseReported, event.CaseDispatched, event.CaseClosed}
	id := 0
	for p := range 3 {
		v := rolled.Partition(p)
		for b := range 4 {
			var recs []store.Record
			for range 1500 {
				id++
				r := chRec(strconv.Itoa(id), "2026-01-01T00:00:00Z", uint64(id))
				r.At = start.Add(time.Duration(rng.Int64N(int64(40 * 24 * time.Hour))))
				r.Type = types[rng.IntN(len(types))]
				r.Category = event.DefaultCategories[rng.IntN(3)]
				r.RegionPath = chRandomPath(rng)
				recs = append(recs, r)
			}
			if err := v.Write(ctx, store.Batch{Records: recs, Checkpoint: uint64(b)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	zones := []*time.Location{mustZone("Asia/Shanghai"), time.UTC, mustZone("Asia/Kolkata"), mustZone("Europe/Berlin")}
	steps := []time.Duration{15 * time.Minute, time.Hour, 2 * time.Hour, 24 * time.Hour, 48 * time.Hour}
	regions := []struct {
		code  string
		depth int
	}{{"", 0}, {"R", 0}, {"R1", 1}, {"R1T2", 2}, {"R2T0G3", 3}}
	period := func() (time.Time, time.Time, *time.Location) {
		loc := zones[rng.IntN(len(zones))]
		from := start.Add(time.Duration(rng.IntN(30*24)) * time.Hour)
		to := from.Add(time.Duration(1+rng.IntN(20*24)) * time.Hour)
		switch rng.IntN(3) {
		case 0: // local midnights
			f, e := from.In(loc), to.In(loc)
			from = time.Date(f.Year(), f.Month(), f.Day(), 0, 0, 0, 0, loc)
			to = time.Date(e.Year(), e.Month(), e.Day()+1, 0, 0, 0, 0, loc)
		case 1: // anywhere
			from = from.Add(time.Duration(rng.Int64N(int64(time.Hour))))
			to = to.Add(time.Duration(rng.Int64N(int64(time.Hour))))
		}
		return from, to, loc
	}
	var compared, nonzero int
	for range 60 {
		from, to, loc := period()
		reg := regions[rng.IntN(len(regions))]
		var typs []event.Type
		if rng.IntN(2) == 0 {
			typs = []event.Type{event.CaseReported, event.CaseClosed}
		}
		cat := ""
		if rng.IntN(3) == 0 {
			cat = event.DefaultCategories[rng.IntN(3)]
		}
		step := steps[rng.IntN(len(steps))]
		sq := store.SeriesQuery{Region: reg.code, From: from, To: to, Step: step, Category: cat, Types: typs, Loc: loc}
		a, errA := rolled.Series(ctx, sq)
		b, errB := raw.Series(ctx, sq)
		if !reflect.DeepEqual(a, b) || (errA == nil) != (errB == nil) {
			t.Fatalf("Series(%+v): rollups %v (%v), raw %v (%v)", sq, a, errA, b, errB)
		}
		if errA == nil {
			compared++
			for _, p := range a {
				if p.Count > 0 {
					nonzero++
					break
				}
			}
		}
		rq := store.RegionQuery{Region: reg.code, Depth: reg.depth, Level: reg.depth + rng.IntN(3), From: from, To: to,
			Category: cat, Types: typs}
		rcA, errA := rolled.RegionCounts(ctx, rq)
		rcB, errB := raw.RegionCounts(ctx, rq)
		if !reflect.DeepEqual(rcA, rcB) || errA != nil || errB != nil {
			t.Fatalf("RegionCounts(%+v): rollups %v (%v), raw %v (%v)", rq, rcA, errA, rcB, errB)
		}
		cq := store.CubeQuery{RegionQuery: rq, Step: step, Loc: loc}
		cA, errA := rolled.Cube(ctx, cq)
		cB, errB := raw.Cube(ctx, cq)
		if !reflect.DeepEqual(cA, cB) || (errA == nil) != (errB == nil) {
			t.Fatalf("Cube(%+v): rollups %v (%v), raw %v (%v)", cq, cA, errA, cB, errB)
		}
	}
	t.Logf("%d series, 60 region counts and cubes agree (%d series with events)", compared, nonzero)

	// The rollups are really read: a marker row in each changes the rolled-up answers only.
	db := dsn[strings.LastIndex(dsn, "/")+1:]
	for _, q := range []string{
		`INSERT INTO rollup_day (day, part, type, category, path, n) VALUES ('2026-11-05', 9, 'case.reported', 'x', [], 1000)`,
		`INSERT INTO rollup_hour (t, part, type, category, path, n) VALUES ('2026-11-05 10:00:00', 9, 'case.reported', 'x', [], 100)`,
	} {
		if err := ch.Exec(strings.Replace(q, "INSERT INTO ", "INSERT INTO "+db+".", 1)); err != nil {
			t.Fatal(err)
		}
	}
	sh := mustZone("Asia/Shanghai")
	for _, c := range []struct {
		q    store.SeriesQuery
		diff int64
	}{
		{store.SeriesQuery{From: mustTime("2026-11-01T00:00:00+08:00"), To: mustTime("2026-11-10T00:00:00+08:00"), Step: 24 * time.Hour, Loc: sh}, 1000},
		{store.SeriesQuery{From: mustTime("2026-11-05T00:00:00Z"), To: mustTime("2026-11-06T00:00:00Z"), Step: time.Hour, Loc: time.UTC}, 100},
		{store.SeriesQuery{From: mustTime("2026-11-05T00:00:00Z"), To: mustTime("2026-11-06T00:00:00Z"), Step: 15 * time.Minute, Loc: time.UTC}, 0},
	} {
		a, b := seriesTotal(t, rolled, c.q), seriesTotal(t, raw, c.q)
		if a-b != c.diff {
			t.Errorf("step %s in %s: rolled-up total %d, raw %d: difference %d, want %d", c.q.Step, c.q.Loc, a, b, a-b, c.diff)
		}
	}
}

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

func seriesTotal(t *testing.T, s store.Store, q store.SeriesQuery) int64 {
	t.Helper()
	ps, err := s.Series(t.Context(), q)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, p := range ps {
		n += p.Count
	}
	return n
}

// chRollupMismatches compares a rollup with counts from events, key by key.
func chRollupMismatches(t *testing.T, conn driver.Conn, table, texpr, tcol string) int {
	t.Helper()
	read := func(q string) map[string]int64 {
		rows, err := conn.Query(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		m := map[string]int64{}
		for rows.Next() {
			var k string
			var n int64
			if err := rows.Scan(&k, &n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				m[k] = n
			}
		}
		return m
	}
	key := `concat(toString(` + tcol + `), '|', toString(part), '|', type, '|', category, '|', arrayStringConcat(path, '/'))`
	ev := read(`SELECT k, toInt64(count()) FROM (SELECT ` + texpr + ` AS ` + tcol + `, part, type, category,
		region_path AS path FROM events) GROUP BY ` + key + ` AS k`)
	ro := read(`SELECT ` + key + ` AS k, sum(n) FROM ` + table + ` GROUP BY k`)
	bad := 0
	for k, n := range ev {
		if ro[k] != n {
			bad++
		}
	}
	for k := range ro {
		if _, ok := ev[k]; !ok {
			bad++
		}
	}
	t.Logf("%s: %d keys from events, %d from the rollup, %d mismatches", table, len(ev), len(ro), bad)
	return bad
}

// A writer retrying with backoff through a kill -9 and restart of the server: every id lands
// exactly once and the rollups equal counts from events.
func TestClickHouseServerCrash(t *testing.T) {
	t.Parallel() // a server of its own
	ch := testsvc.StartClickHouse(t)
	dsn := ch.NewDatabase(t)
	s := openClickHouse(t, dsn, store.ClickHouseOptions{DialTimeout: time.Second, WriteTimeout: 10 * time.Second})
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(3, 4))
	start := mustTime("2026-10-31T00:00:00Z") // batches straddle a month: two inserts each

	written := map[string]bool{}
	var (
		offset  uint64
		batches int
		retries int
		prev    []store.Record
	)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		time.Sleep(1500 * time.Millisecond)
		if err := ch.Kill9(); err != nil {
			t.Error(err)
		}
		time.Sleep(time.Second)
		if err := ch.Start(); err != nil {
			t.Error(err)
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		var recs []store.Record
		recs = append(recs, prev...) // ids of the previous batch again: duplicates across batches
		for range 2000 {
			offset++
			r := chRec(fmt.Sprintf("crash-%d", offset), "2026-01-01T00:00:00Z", offset)
			r.At = start.Add(time.Duration(rng.Int64N(int64(48 * time.Hour))))
			r.RegionPath = chRandomPath(rng)
			if rng.IntN(10) == 0 {
				r.Address = "某路" + strconv.FormatUint(offset, 10)
			}
			recs = append(recs, r)
		}
		prev = recs[len(recs)-50:]
		b := store.Batch{Records: recs, Checkpoint: offset}
		backoff := 20 * time.Millisecond
		for attempt := 0; ; attempt++ {
			err := s.Write(ctx, b)
			if err == nil {
				break
			}
			if errs.CodeOf(err) != errs.Unavailable {
				t.Fatalf("Write: %v (code %s)", err, errs.CodeOf(err))
			}
			if attempt > 100 {
				t.Fatalf("Write still failing after %d attempts: %v", attempt, err)
			}
			retries++
			time.Sleep(backoff)
			backoff = min(2*backoff, 400*time.Millisecond)
		}
		for _, r := range recs {
			written[r.ID] = true
		}
		batches++
	}
	wg.Wait()
	if retries == 0 {
		t.Error("no Write failed: the server was not killed during the writes")
	}
	conn := chConn(t, dsn)
	n := chUint(t, conn, `SELECT count() FROM events`)
	u := chUint(t, conn, `SELECT uniqExact(id) FROM events`)
	t.Logf("%d batches, %d retries; %d ids written, events has %d rows, %d distinct ids", batches, retries, len(written), n, u)
	if n != u || n != uint64(len(written)) {
		t.Errorf("events: count() = %d, uniqExact(id) = %d, want both %d", n, u, len(written))
	}
	if cp, err := s.Checkpoint(ctx); err != nil || cp != offset {
		t.Errorf("Checkpoint = %d (%v), want %d", cp, err, offset)
	}
	if bad := chRollupMismatches(t, conn, "rollup_hour", "toStartOfHour(at)", "t"); bad != 0 {
		t.Errorf("rollup_hour: %d keys differ from events", bad)
	}
	if bad := chRollupMismatches(t, conn, "rollup_day", "toDate(at, 'Asia/Shanghai')", "day"); bad != 0 {
		t.Errorf("rollup_day: %d keys differ from events", bad)
	}
	pn := chUint(t, conn, `SELECT uniqExact(id) FROM event_private`)
	t.Logf("event_private: %d distinct ids", pn)

	// A new process: it reloads the ids, so the last batch again is skipped whole.
	s2 := openClickHouse(t, dsn, store.ClickHouseOptions{})
	if err := s2.Write(ctx, store.Batch{Records: prev, Checkpoint: offset + 1}); err != nil {
		t.Fatal(err)
	}
	if n2 := chUint(t, conn, `SELECT count() FROM events`); n2 != n {
		t.Errorf("after rewriting stored ids from a new store: %d rows, want %d", n2, n)
	}
}

// A query whose context is cancelled stops on the server too, not only in the client: the
// driver sends Cancel and drops the connection, and the server (18.16 included) ends the query.
// The store's queries rely on it (their ctx is the request's).
func TestClickHouseCancelStopsServerQuery(t *testing.T) {
	t.Parallel() // a database of its own on the shared server
	ch := testsvc.SharedClickHouse(t)
	dsn := ch.NewDatabase(t)
	conn, watch := chConn(t, dsn), chConn(t, dsn)
	qid := fmt.Sprintf("zhili-cancel-test-%d", time.Now().UnixNano())
	running := func() uint64 {
		return chUint(t, watch, `SELECT count() FROM system.processes WHERE query_id = '`+qid+`'`)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		// Minutes of work on one core: it only ends early if it is cancelled.
		rows, err := conn.Query(clickhouse.Context(ctx, clickhouse.WithQueryID(qid)),
			`SELECT count() FROM numbers(100000000000) WHERE NOT ignore(sipHash64(number))`)
		if err == nil {
			for rows.Next() {
			}
			err = rows.Err()
			rows.Close()
		}
		errc <- err
	}()
	deadline := time.Now().Add(30 * time.Second)
	for running() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the query never showed in system.processes")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // well inside its execution
	cancel()
	start := time.Now()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled query returned %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the cancelled query did not return")
	}
	for running() != 0 {
		if time.Since(start) > 30*time.Second {
			t.Fatal("the server still runs the cancelled query")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("server query ended %s after the cancel (server %s)", time.Since(start).Round(time.Millisecond),
		chString(t, watch, `SELECT version()`))
}

func chString(t testing.TB, conn driver.Conn, query string) string {
	t.Helper()
	var s string
	if err := conn.QueryRow(context.Background(), query).Scan(&s); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return s
}
