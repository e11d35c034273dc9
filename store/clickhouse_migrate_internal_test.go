package store

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"zhili/errs"
	"zhili/event"
	"zhili/internal/testsvc"
)

// chSchemaUpTo creates the schema of migrations 1..last as a store of that version did, and
// records them in schema_migrations.
// (INSERT … VALUES go through HTTP: the native driver's Exec waits for a data block.)
func chSchemaUpTo(t *testing.T, ch *testsvc.ClickHouse, dsn string, last int) driver.Conn {
	t.Helper()
	db := dsn[strings.LastIndex(dsn, "/")+1:]
	opt, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := clickhouse.Open(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	o := ClickHouseOptions{Loc: defaultZone()}
	f := chFeaturesOf(18, 16)
	if err := conn.Exec(t.Context(), chMigrationsTable); err != nil {
		t.Fatal(err)
	}
	for _, m := range chMigrations[:last] {
		stmts, variant := m.ddl(f, &o)
		for _, s := range stmts {
			if err := conn.Exec(t.Context(), s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
		if err := ch.Exec(`INSERT INTO ` + db + `.schema_migrations (version, name, variant, server_version, applied_at)
			VALUES (` + strconv.Itoa(m.version) + `, ` + chQuote(m.name) + `, ` + chQuote(variant) + `, version(), now())`); err != nil {
			t.Fatal(err)
		}
	}
	return conn
}

// A database migrated by a store of version 4 (before close_reason and category_text) gains
// both columns on open, also when an earlier run added only the first; its rows read back with
// both empty, new rows keep them.
func TestClickHouseMigrateFromVersion4(t *testing.T) {
	t.Parallel() // a database of its own on the shared server
	ch, dsn, db, conn := chDatabaseAt(t, 4)
	if err := ch.Exec(`INSERT INTO ` + db + `.events (id, type, case_id, at, source, category, satisfaction, part, intake_offset, run)
		VALUES ('old-r', 'case.reported', 'C1', '2026-11-27 00:00:00', 'grid', 'environment', '', 0, 1, 1),
		       ('old-c', 'case.closed', 'C1', '2026-11-27 01:00:00', '', '', 'satisfied', 0, 2, 1)`); err != nil {
		t.Fatal(err)
	}
	// A migration cut short after its first column: the next run adds the other one.
	if err := conn.Exec(t.Context(), chAddColumn("events", "close_reason", "String")); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	st, err := OpenClickHouse(ctx, dsn, ClickHouseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	closed := Record{Event: event.Event{ID: "new-c", Type: event.CaseClosed, CaseID: "C1",
		At: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), CloseReason: "transferred"}, Offset: 3}
	report := Record{Event: event.Event{ID: "new-r", Type: event.CaseReported, CaseID: "C2", Category: event.CategoryUnmapped,
		At: time.Date(2026, 11, 27, 11, 0, 0, 0, time.UTC), CategoryText: "井盖缺失"}, Offset: 4}
	if err := st.Write(ctx, Batch{Records: []Record{closed, report}, Checkpoint: 4}); err != nil {
		t.Fatal(err)
	}
	got := map[string]Record{}
	if err := st.Replay(ctx, func(r Record) error { got[r.ID] = r; return nil }); err != nil {
		t.Fatal(err)
	}
	if r := got["old-c"]; len(got) != 4 || r.Satisfaction != "satisfied" || r.CloseReason != "" || got["old-r"].CategoryText != "" {
		t.Fatalf("after migration: %+v", got)
	}
	if got["new-c"].CloseReason != "transferred" || got["new-r"].CategoryText != "井盖缺失" {
		t.Fatalf("new rows: %+v %+v", got["new-c"], got["new-r"])
	}
	out, err := ch.Query(`SELECT name FROM system.columns WHERE database = '` + db + `' AND table = 'events' AND name IN ('close_reason', 'category_text') ORDER BY name`)
	if err != nil || strings.Fields(out)[0] != "category_text" || len(strings.Fields(out)) != 2 {
		t.Fatalf("columns %q, %v", out, err)
	}
}

// chDatabaseAt is a database of its own on the shared test server with the schema of
// migrations 1..last (chSchemaUpTo), its DSN and name, and a connection to it.
func chDatabaseAt(t *testing.T, last int) (ch *testsvc.ClickHouse, dsn, db string, conn driver.Conn) {
	t.Helper()
	ch = testsvc.SharedClickHouse(t)
	dsn = ch.NewDatabase(t)
	db = dsn[strings.LastIndex(dsn, "/")+1:]
	return ch, dsn, db, chSchemaUpTo(t, ch, dsn, last)
}

// eventsOffMergeTree puts a Merge table in place of db's events (on a cluster it is a
// Distributed table; the test server has no cluster).
func eventsOffMergeTree(t *testing.T, conn driver.Conn, db string) {
	t.Helper()
	for _, q := range []string{
		`RENAME TABLE events TO events_local`,
		`CREATE TABLE events AS events_local ENGINE = Merge(` + db + `, '^events_local$')`,
	} {
		if err := conn.Exec(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// When events is not a MergeTree (on a cluster it is a Distributed table; here a Merge table
// stands in, the test server having no cluster) the column migration is refused with a pointer
// to the cluster's upgrade statements; nothing is altered. The migration the run applied before
// it (4, from a database of version 3) is recorded: the next run starts from the refused one.
func TestClickHouseColumnMigrationRefusedOffMergeTree(t *testing.T) {
	t.Parallel() // a database of its own on the shared server
	ch, dsn, db, conn := chDatabaseAt(t, 3)
	eventsOffMergeTree(t, conn, db)
	_, _, err := MigrateClickHouse(context.Background(), dsn, ClickHouseOptions{})
	if errs.CodeOf(err) != errs.Unavailable || !strings.Contains(err.Error(), "a Merge table") || !strings.Contains(err.Error(), "migration 5") {
		t.Fatalf("migrate on a cluster database: %v", err)
	}
	out, _ := ch.Query(`SELECT count() FROM system.columns WHERE database = '` + db + `' AND name = 'close_reason'`)
	if strings.TrimSpace(out) != "0" {
		t.Fatalf("close_reason columns after the refusal: %s", out)
	}
	out, err = ch.Query(`SELECT groupArray(version) FROM (SELECT version FROM ` + db + `.schema_migrations ORDER BY version)`)
	if err != nil || strings.TrimSpace(out) != "[1,2,3,4]" {
		t.Fatalf("migrations recorded after the refusal: %q (%v), want [1,2,3,4]", out, err)
	}
}

// A database migrated by a store of version 5 (before supersedes) gains the column on open; its
// rows read back with none, and a correction of one of them is honoured by the counts (the
// rollups the materialized views fed before the migration included).
func TestClickHouseMigrateFromVersion5(t *testing.T) {
	t.Parallel() // a database of its own on the shared server
	ch, dsn, db, _ := chDatabaseAt(t, 5)
	if err := ch.Exec(`INSERT INTO ` + db + `.events (id, type, case_id, at, source, category, part, intake_offset, run, region_path)
		VALUES ('old-r', 'case.reported', 'C1', '2026-11-27 00:00:00', 'grid', 'environment', 0, 1, 1, ['R', 'A'])`); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	st, err := OpenClickHouse(ctx, dsn, ClickHouseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fix := Record{Event: event.Event{ID: "new-r", Type: event.CaseReported, CaseID: "C1", Category: "environment",
		At: time.Date(2026, 11, 27, 13, 0, 0, 0, time.UTC), Supersedes: "old-r"}, Offset: 2, RegionPath: []string{"R", "B"}}
	if err := st.Write(ctx, Batch{Records: []Record{fix}, Checkpoint: 2}); err != nil {
		t.Fatal(err)
	}
	vs, err := st.Versions(ctx, []string{"old-r"})
	if err != nil || len(vs["old-r"]) != 2 || vs["old-r"][0].Supersedes != "" || vs["old-r"][1].Supersedes != "old-r" {
		t.Fatalf("Versions after migration: %+v, %v", vs, err)
	}
	rc, err := st.RegionCounts(ctx, RegionQuery{Region: "R", From: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)})
	if err != nil || len(rc) != 1 || rc[0] != (RegionCount{Region: "B", Count: 1}) {
		t.Fatalf("RegionCounts over the rollups: %+v, %v", rc, err)
	}
}

// A database migrated by a store of version 6 (before survey) gains the column on open: its
// rows read back without survey content, survey records written after keep theirs.
func TestClickHouseMigrateFromVersion6(t *testing.T) {
	t.Parallel() // a database of its own on the shared server
	ch, dsn, db, _ := chDatabaseAt(t, 6)
	if err := ch.Exec(`INSERT INTO ` + db + `.events (id, type, case_id, at, source, category, part, intake_offset, run, region_path)
		VALUES ('old-r', 'case.reported', 'C1', '2026-11-27 00:00:00', 'grid', 'environment', 0, 1, 1, ['R', 'A'])`); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	st, err := OpenClickHouse(ctx, dsn, ClickHouseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sv := &event.Survey{EvaluatorType: event.EvaluatorHead, Dimension: event.DimTeamwork, Score: 4, Scale: "1-5",
		Period: "2026-11", Subject: "P1", Rater: "R1"}
	rec := Record{Event: event.Event{ID: "sv", Type: event.EvaluationSurvey, At: time.Date(2026, 11, 27, 13, 0, 0, 0, time.UTC), Survey: sv}, Offset: 2}
	if err := st.Write(ctx, Batch{Records: []Record{rec}, Checkpoint: 2}); err != nil {
		t.Fatal(err)
	}
	old, err := st.CaseEvents(ctx, "C1")
	if err != nil || len(old) != 1 || old[0].Survey != nil {
		t.Fatalf("the old row after migration: %+v, %v", old, err)
	}
	var got []Record
	if err := st.Surveys(ctx, func(r Record) error { got = append(got, r); return nil }); err != nil || len(got) != 1 || *got[0].Survey != *sv {
		t.Fatalf("Surveys after migration: %+v, %v", got, err)
	}
}
