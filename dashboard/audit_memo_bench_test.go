package dashboard

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"zhili/calendar"
	"zhili/event"
	"zhili/geo"
	"zhili/governance"
	"zhili/internal/testsvc"
	"zhili/store"
)

// versionOnly is a store that tells its data version but not which cases changed: a FactCache
// drops its memo at every write, as it did before stores named their changes.
type versionOnly struct {
	store.Store
	v store.DataVersioned
}

func (s versionOnly) DataVersion(ctx context.Context) (uint64, error) { return s.v.DataVersion(ctx) }

// unversioned is a store that tells no data version: a FactCache gives no memo, and every
// request reads its periods, as a ClickHouse store did before it told one.
type unversioned struct{ store.Store }

// BenchmarkAuditAfterWrite is the audit page on a live feed: after each write of one event (a
// follow-up of a case of the period), the rates by department and the whistle audit of the
// last 30 days through the server's FactCache. "patched": the store names the case written and
// the cached period is patched; "reread": on the embedded store, a store that tells its
// version only, so every write sends the next request back to the store for the whole period;
// on ClickHouse, a store that tells no version, so every request reads its periods. 7,000
// cases in the 30 days, about a county's month (ZHILI_BENCH_CASES to change).
//
//	go test -run '^$' -bench BenchmarkAuditAfterWrite ./dashboard/
func BenchmarkAuditAfterWrite(b *testing.B) {
	b.Run("store=duckdb", func(b *testing.B) {
		db, err := store.OpenDuckDB("")
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		benchAuditAfterWrite(b, db, versionOnly{Store: db, v: db})
	})
	b.Run("store=clickhouse", func(b *testing.B) {
		ch := testsvc.StartClickHouse(b)
		st, err := store.OpenClickHouse(context.Background(), ch.NewDatabase(b), store.ClickHouseOptions{})
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		benchAuditAfterWrite(b, st, unversioned{Store: st})
	})
}

func benchAuditAfterWrite(b *testing.B, db store.Store, reread store.Store) {
	n := 7000
	if v, err := strconv.Atoi(os.Getenv("ZHILI_BENCH_CASES")); err == nil && v > 0 {
		n = v
	}
	ctx := context.Background()
	tree := geo.DemoTree()
	var grids []*geo.Region
	tree.Walk(func(r *geo.Region) {
		if len(r.Children) == 0 {
			grids = append(grids, r)
		}
	})
	end := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	from := end.AddDate(0, 0, -30)
	rng := rand.New(rand.NewPCG(1, 2))
	var off uint64
	rec := func(typ event.Type, id, caseID string, at time.Time, path []string, e event.Event) store.Record {
		off++
		e.ID, e.Type, e.CaseID, e.At = id, typ, caseID, at
		return store.Record{Event: e, Offset: off, RegionPath: path}
	}
	depts := []string{"A", "B", "C", "D", "E", "F", "G", "H"}
	var batch []store.Record
	for i := range n {
		id := fmt.Sprintf("k%05d", i)
		path := tree.Path(grids[rng.IntN(len(grids))].Code)
		at := from.Add(time.Duration(rng.Int64N(int64(30 * 24 * time.Hour))))
		dept := depts[rng.IntN(len(depts))]
		deadline := at.Add(72 * time.Hour)
		batch = append(batch,
			rec(event.CaseReported, id+"r", id, at, path, event.Event{Category: "environment", Source: "hotline", Address: "某路" + strconv.Itoa(i%500) + "号"}),
			rec(event.CaseDispatched, id+"d", id, at.Add(time.Hour), path, event.Event{Dept: dept, Deadline: &deadline}))
		if rng.IntN(10) < 7 {
			batch = append(batch, rec(event.CaseSigned, id+"s", id, at.Add(90*time.Minute), path, event.Event{Dept: dept}))
		}
		if rng.IntN(10) < 8 {
			batch = append(batch, rec(event.CaseResolved, id+"v", id, at.Add(24*time.Hour), path, event.Event{Dept: dept}),
				rec(event.CaseClosed, id+"c", id, at.Add(48*time.Hour), path, event.Event{Satisfaction: "satisfied"}))
		}
		if rng.IntN(20) == 0 {
			batch = append(batch, rec(event.WhistleBlown, id+"w", id, at.Add(2*time.Hour), path,
				event.Event{WhistleID: "W" + id, WhistleKind: "advance", Depts: []string{dept}}))
		}
		if len(batch) >= 5000 {
			if err := db.Write(ctx, store.Batch{Records: batch, Checkpoint: off}); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if err := db.Write(ctx, store.Batch{Records: batch, Checkpoint: off}); err != nil {
		b.Fatal(err)
	}
	now := end.Add(-time.Hour)
	q := AuditQuery{Region: tree.Root.Code, From: from, To: end, Now: now, Config: governance.AuditConfig{MinSample: 10}}
	for _, mode := range []string{"reread", "patched"} {
		b.Run(mode, func(b *testing.B) {
			var st store.Store = db
			if mode == "reread" {
				st = reread
			}
			var cache FactCache
			i := 0
			for b.Loop() {
				i++
				id := fmt.Sprintf("k%05d", rng.IntN(n))
				if err := db.Write(ctx, store.Batch{Records: []store.Record{
					rec(event.WhistleAnswered, fmt.Sprintf("%s-%s-%d", id, mode, i), id, now, nil, event.Event{WhistleID: "W" + id, Dept: "A"}),
				}, Checkpoint: off}); err != nil {
					b.Fatal(err)
				}
				q := q
				q.Memo = cache.Memo(ctx, st, tree)
				if _, err := Rates(ctx, st, tree, q); err != nil {
					b.Fatal(err)
				}
				if _, err := Whistles(ctx, st, tree, q, governance.DefaultClocks(), calendar.Default(), now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
