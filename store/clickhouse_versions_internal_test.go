package store

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"zhili/errs"
	"zhili/event"
)

// On a cluster (events a Distributed table; a Merge table stands in here) the store tells no
// data or surveys' version: a replica may show a checkpoint before the events it follows.
func TestClickHouseVersionsRefusedOffMergeTree(t *testing.T) {
	t.Parallel() // a database of its own on the shared server
	_, dsn, db, conn := chDatabaseAt(t, len(chMigrations))
	eventsOffMergeTree(t, conn, db)
	st, err := OpenClickHouse(t.Context(), dsn, ClickHouseOptions{SkipMigrations: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.DataVersion(t.Context()); errs.CodeOf(err) != errs.Unsupported {
		t.Errorf("data version off a MergeTree: %v, want unsupported", err)
	}
	if _, _, err := st.CasesChangedSince(t.Context(), 1); errs.CodeOf(err) != errs.Unsupported {
		t.Errorf("changed cases off a MergeTree: %v, want unsupported", err)
	}
	if _, err := st.SurveysVersion(t.Context()); errs.CodeOf(err) != errs.Unsupported {
		t.Errorf("surveys' version off a MergeTree: %v, want unsupported", err)
	}
}

// A partition's runs and checkpoint versions are one increasing sequence, also across a reopen
// and whatever the clock says: the events written after a checkpoint are those with a higher
// run, which CasesChangedSince relies on.
func TestClickHouseRunsFollowCheckpoints(t *testing.T) {
	t.Parallel() // a database of its own on the shared server
	ch, dsn, db, _ := chDatabaseAt(t, len(chMigrations))
	ctx := context.Background()
	at := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	rec := func(id string, off uint64) Record {
		return Record{Event: event.Event{ID: id, Type: event.CaseReported, CaseID: "C-" + id, Category: "environment", At: at}, Offset: off, RegionPath: []string{"R"}}
	}
	// A checkpoint version far ahead of the clock (as after the clock stepped back).
	ahead := uint64(time.Now().Add(time.Hour).UnixNano())
	st, err := OpenClickHouse(ctx, dsn, ClickHouseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Write(ctx, Batch{Records: []Record{rec("a", 1)}, Checkpoint: 1}); err != nil {
		t.Fatal(err)
	}
	if err := ch.Exec(`INSERT INTO ` + db + `.checkpoints (part, intake_offset, version, written_at) VALUES (0, 1, ` +
		strconv.FormatUint(ahead, 10) + `, now())`); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st, err = OpenClickHouse(ctx, dsn, ClickHouseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	v, err := st.DataVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Write(ctx, Batch{Records: []Record{rec("b", 2)}, Checkpoint: 2}); err != nil {
		t.Fatal(err)
	}
	ids, ok, err := st.CasesChangedSince(ctx, v)
	if err != nil || !ok || len(ids) != 1 || ids[0] != "C-b" {
		t.Fatalf("changes since the checkpoint ahead of the clock: %v, %v, %v; want [C-b]", ids, ok, err)
	}
	var run, cp uint64
	if err := st.s.conn.QueryRow(ctx, `SELECT max(run) FROM events`).Scan(&run); err != nil {
		t.Fatal(err)
	}
	if err := st.s.conn.QueryRow(ctx, `SELECT max(version) FROM checkpoints`).Scan(&cp); err != nil {
		t.Fatal(err)
	}
	if !(ahead < run && run < cp) {
		t.Errorf("checkpoint %d, then run %d, then checkpoint %d: not increasing", ahead, run, cp)
	}
}

// A data version stands for each partition's newer checkpoint of the two reads: one that
// answered late with older checkpoints does not take the number back.
func TestNewerCheckpoints(t *testing.T) {
	a := []chPartVer{{0, 5}, {2, 9}}
	b := []chPartVer{{0, 7}, {1, 3}, {2, 8}}
	want := []chPartVer{{0, 7}, {1, 3}, {2, 9}}
	if got := newerCheckpoints(a, b); !slices.Equal(got, want) {
		t.Errorf("newerCheckpoints(%v, %v) = %v, want %v", a, b, got, want)
	}
	if got := newerCheckpoints(b, a); !slices.Equal(got, want) {
		t.Errorf("newerCheckpoints(%v, %v) = %v, want %v", b, a, got, want)
	}
	if got := newerCheckpoints(nil, a); !slices.Equal(got, a) {
		t.Errorf("newerCheckpoints(nil, %v) = %v", a, got)
	}
}
