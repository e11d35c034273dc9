package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"zhili/event"
)

// Options in the DSN (as the server passes --store-memory) reach DuckDB.
func TestDuckDBDSNOptions(t *testing.T) {
	t.Parallel() // files of its own
	st, err := OpenDuckDB(filepath.Join(t.TempDir(), "h.duckdb") + "?memory_limit=256MB")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var v string
	if err := st.db.QueryRow(`SELECT current_setting('memory_limit')`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v, "244") && !strings.HasPrefix(v, "256") {
		t.Fatalf("memory_limit = %q, want 256 MB", v)
	}
}

// A database of schema version 1 (before close_reason, category_text and supersedes) is
// migrated on open: its rows read back with them empty, new rows keep them.
func TestDuckDBMigrateFromVersion1(t *testing.T) {
	t.Parallel() // files of its own
	path := filepath.Join(t.TempDir(), "v1.duckdb")
	db, err := sql.Open("duckdb", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE meta (key VARCHAR PRIMARY KEY, value UBIGINT NOT NULL)`,
		duckDBMigrations[0],
		`INSERT INTO meta VALUES ('schema_version', 1)`,
		// As version 1 wrote them: every string column set, "" when absent.
		`INSERT INTO events VALUES ('old', 'case.reported', 'C1', TIMESTAMP '2026-11-27 00:00:00', 0, 28800,
			'grid', 'environment', 'normal', NULL, NULL, NULL, '', '', NULL, NULL, NULL, '', '', NULL, '', 0, '',
			1, NULL, [], NULL, NULL, false)`,
		`INSERT INTO events VALUES ('old-c', 'case.closed', 'C1', TIMESTAMP '2026-11-27 01:00:00', 0, 28800,
			'', '', '', NULL, NULL, NULL, '', '', NULL, NULL, NULL, '', '', NULL, '', 0, 'satisfied',
			2, NULL, [], NULL, NULL, false)`,
		`UPDATE meta SET value = 2 WHERE key = 'checkpoint'`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	st, err := OpenDuckDB(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var v int
	if err := st.db.QueryRow(`SELECT value FROM meta WHERE key = 'schema_version'`).Scan(&v); err != nil || v != duckDBSchemaVersion {
		t.Fatalf("schema_version = %d (%v), want %d", v, err, duckDBSchemaVersion)
	}
	ctx := t.Context()
	closed := Record{Event: event.Event{ID: "new-c", Type: event.CaseClosed, CaseID: "C1",
		At: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), CloseReason: "duplicate", Supersedes: "old-c"}, Offset: 3}
	report := Record{Event: event.Event{ID: "new-r", Type: event.CaseReported, CaseID: "C2", Category: event.CategoryUnmapped,
		At: time.Date(2026, 11, 27, 11, 0, 0, 0, time.UTC), CategoryText: "路灯不亮"}, Offset: 4}
	if err := st.Write(ctx, Batch{Records: []Record{closed, report}, Checkpoint: 4}); err != nil {
		t.Fatal(err)
	}
	got := map[string]Record{}
	if err := st.Replay(ctx, func(r Record) error { got[r.ID] = r; return nil }); err != nil {
		t.Fatal(err)
	}
	if r := got["old-c"]; len(got) != 4 || r.Satisfaction != "satisfied" || r.CloseReason != "" || got["old"].CategoryText != "" || r.Supersedes != "" {
		t.Fatalf("after migration: %+v", got)
	}
	if got["new-c"].CloseReason != "duplicate" || got["new-r"].CategoryText != "路灯不亮" || got["new-c"].Supersedes != "old-c" {
		t.Fatalf("new rows: %+v %+v", got["new-c"], got["new-r"])
	}
}

// A database of schema version 3 holding a correction is migrated on open: the event it
// supersedes is marked, and counted no more.
func TestDuckDBMigrateFromVersion3(t *testing.T) {
	t.Parallel() // files of its own
	path := filepath.Join(t.TempDir(), "v3.duckdb")
	db, err := sql.Open("duckdb", path)
	if err != nil {
		t.Fatal(err)
	}
	stmts := []string{`CREATE TABLE meta (key VARCHAR PRIMARY KEY, value UBIGINT NOT NULL)`}
	stmts = append(stmts, duckDBMigrations[:3]...)
	stmts = append(stmts, `INSERT OR REPLACE INTO meta VALUES ('schema_version', 3)`,
		`INSERT INTO events (id, type, case_id, at_utc, at_ns, at_tz, intake_offset, region_path, has_point, supersedes)
			VALUES ('r1', 'case.reported', 'C1', TIMESTAMP '2026-11-27 00:00:00', 0, 28800, 1, ['R', 'A'], false, ''),
			       ('r2', 'case.reported', 'C1', TIMESTAMP '2026-11-27 05:00:00', 0, 28800, 2, ['R', 'B'], false, 'r1')`,
		`UPDATE meta SET value = 2 WHERE key = 'checkpoint'`)
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	st, err := OpenDuckDB(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rc, err := st.RegionCounts(t.Context(), RegionQuery{Region: "R", From: time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)})
	if err != nil || len(rc) != 1 || rc[0] != (RegionCount{Region: "B", Count: 1}) {
		t.Fatalf("RegionCounts after migration: %+v, %v", rc, err)
	}
	// A correction written after the migration: marked at once.
	r3 := Record{Event: event.Event{ID: "r3", Type: event.CaseReported, CaseID: "C1", At: time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC), Supersedes: "r2"},
		Offset: 3, RegionPath: []string{"R", "A"}}
	if err := st.Write(t.Context(), Batch{Records: []Record{r3}, Checkpoint: 3}); err != nil {
		t.Fatal(err)
	}
	rc, err = st.RegionCounts(t.Context(), RegionQuery{Region: "R", From: time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)})
	if err != nil || len(rc) != 1 || rc[0] != (RegionCount{Region: "A", Count: 1}) {
		t.Fatalf("RegionCounts after a correction: %+v, %v", rc, err)
	}
}

// A closed store whose DuckDB instance is still held (here a connection the store does not
// know of; in the field anything keeping a client context) does not stop the file from being
// opened again in the same process, and both see one database. DuckDB's own instance cache
// spins without end on such a reopen (duckdb#25965). Not parallel: it shortens closeDrain for
// the package (the sequential tests end before the parallel ones start).
func TestDuckDBReopenWhileInstanceHeld(t *testing.T) {
	defer func(d time.Duration) { closeDrain = d }(closeDrain)
	closeDrain = 100 * time.Millisecond
	path := filepath.Join(t.TempDir(), "held.duckdb")
	at := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	rec := func(i int) Record {
		return Record{Event: event.Event{ID: "h" + string(rune('0'+i)), Type: event.CaseReported,
			CaseID: "H" + string(rune('0'+i)), At: at}, Offset: uint64(i), RegionPath: []string{"R"}}
	}
	s, err := OpenDuckDB(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(t.Context(), Batch{Records: []Record{rec(1)}, Checkpoint: 1}); err != nil {
		t.Fatal(err)
	}
	held, err := s.db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if err := s.Close(); err == nil || !strings.Contains(err.Error(), "still in use") {
		t.Fatalf("Close with a connection held: %v, want the busy error", err)
	}
	reopened := make(chan error, 1)
	var s2 *DuckDB
	go func() {
		var err error
		if s2, err = OpenDuckDB(path); err == nil {
			err = s2.Write(context.Background(), Batch{Records: []Record{rec(2)}, Checkpoint: 2})
		}
		reopened <- err
	}()
	select {
	case err := <-reopened:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("opening the file again hung while its closed store's instance was held")
	}
	var n int
	if err := held.QueryRowContext(t.Context(), `SELECT count(*) FROM events`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("the held connection counts %d events (%v), want 2: one database, not two", n, err)
	}
	held.Close()
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
}
