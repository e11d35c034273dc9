package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"zhili/errs"
	"zhili/event"
)

// DuckDB is the embedded history store.
//
// Layout: table events holds every contract field except the personal ones, plus the derived
// fields; table event_private holds reporter, address and summary keyed by id, and only for
// events that carry any of them; table meta holds schema_version and the checkpoint.
//
// Durability: DuckDB appends each commit to its write-ahead log and fsyncs the log before the
// commit returns, so a batch survives a process or OS crash once Write returns; no setting is
// needed. The log is merged into the database file by DuckDB's automatic checkpoints.
//
// Times are stored as UTC TIMESTAMP (microseconds) plus the sub-microsecond remainder and the
// original UTC offset, so At and Deadline come back as the same instant with the same offset.
// Received is kept to the microsecond and comes back in UTC.
type DuckDB struct {
	db     *sql.DB
	key    string // the database file's instance key ("" in memory)
	closed atomic.Bool

	wmu   sync.Mutex // serializes writes; guards wconn and sups
	wconn *sql.Conn  // the writer connection, which owns the staging table
	wrow  []driver.Value
	sups  map[string]struct{} // ids stored corrections name (for one stored after its correction)

	closeOnce sync.Once
	closeErr  error

	// The history's beginning (HistoryBegins), read once and then moved by the writes' reports.
	hmu    sync.Mutex
	hKnown bool
	hOK    bool
	hAt    time.Time

	cmu     sync.Mutex
	changes []caseChange // the case ids of the last writes, oldest first
	held    int          // ids in changes
	forgot  uint64       // versions up to this one have no changes kept (the open's, or let go)
}

// caseChange is the case ids of one write and the data version it made.
type caseChange struct {
	ver uint64
	ids []string
}

// keptChanges bounds the case ids a DuckDB keeps for CasesChangedSince.
const keptChanges = 2 * MaxChangedCases

var (
	_ Store            = (*DuckDB)(nil)
	_ CaseChanges      = (*DuckDB)(nil)
	_ SurveysVersioned = (*DuckDB)(nil)
	_ HistoryBeginning = (*DuckDB)(nil)
)

// duckDataVersion counts the opens and writes of every DuckDB store of the process, so that a
// file reopened (after another process wrote it) never gives a version seen before.
var duckDataVersion atomic.Uint64

// DataVersion implements DataVersioned.
func (d *DuckDB) DataVersion(context.Context) (uint64, error) { return duckDataVersion.Load(), nil }

// duckSurveysVersion counts the opens of every DuckDB store of the process and their writes
// holding a survey record.
var duckSurveysVersion atomic.Uint64

// SurveysVersion implements SurveysVersioned.
func (d *DuckDB) SurveysVersion(context.Context) (uint64, error) {
	return duckSurveysVersion.Load(), nil
}

// noteWrite makes a new data version for a write of recs (after it committed or failed) and
// keeps the ids of the cases it wrote.
func (d *DuckDB) noteWrite(recs []Record) {
	seen := map[string]struct{}{}
	ids := []string{}
	surveys := false
	for i := range recs {
		surveys = surveys || recs[i].Type == event.EvaluationSurvey
		if id := recs[i].CaseID; id != "" {
			if _, dup := seen[id]; !dup {
				seen[id] = struct{}{}
				ids = append(ids, id)
			}
		}
	}
	if surveys {
		duckSurveysVersion.Add(1)
	}
	d.cmu.Lock()
	defer d.cmu.Unlock()
	ver := duckDataVersion.Add(1)
	if len(ids) > 0 {
		d.changes = append(d.changes, caseChange{ver: ver, ids: ids})
		d.held += len(ids)
	}
	for d.held > keptChanges {
		d.forgot = d.changes[0].ver
		d.held -= len(d.changes[0].ids)
		d.changes[0] = caseChange{}
		d.changes = d.changes[1:]
	}
}

// CasesChangedSince implements CaseChanges.
func (d *DuckDB) CasesChangedSince(_ context.Context, v uint64) ([]string, bool, error) {
	d.cmu.Lock()
	defer d.cmu.Unlock()
	if v < d.forgot {
		return nil, false, nil
	}
	seen := map[string]struct{}{}
	ids := []string{}
	for i := len(d.changes) - 1; i >= 0 && d.changes[i].ver > v; i-- {
		for _, id := range d.changes[i].ids {
			if _, dup := seen[id]; !dup {
				seen[id] = struct{}{}
				ids = append(ids, id)
			}
		}
		if len(ids) > MaxChangedCases {
			return nil, false, nil
		}
	}
	return ids, true, nil
}

// duckDBSchemaVersion is the schema this code reads and writes.
const duckDBSchemaVersion = 6

// duckDBMigrations[i] brings the schema from version i to version i+1. Never edit a released
// entry: append a new one.
var duckDBMigrations = []string{
	`CREATE TABLE events (
		id            VARCHAR PRIMARY KEY,
		type          VARCHAR NOT NULL,
		case_id       VARCHAR NOT NULL,
		at_utc        TIMESTAMP NOT NULL, -- event time, UTC
		at_ns         SMALLINT NOT NULL,  -- nanoseconds below the microsecond
		at_tz         INTEGER NOT NULL,   -- original UTC offset, seconds
		source        VARCHAR,
		category      VARCHAR,
		priority      VARCHAR,
		lon           DOUBLE,             -- location as given; NULL when none
		lat           DOUBLE,
		crs           VARCHAR,
		region        VARCHAR,            -- region as given
		dept          VARCHAR,
		deadline_utc  TIMESTAMP,
		deadline_ns   SMALLINT,
		deadline_tz   INTEGER,
		whistle_id    VARCHAR,
		whistle_kind  VARCHAR,
		depts         VARCHAR[],
		stage         VARCHAR,
		score         BIGINT,
		satisfaction  VARCHAR,
		intake_offset UBIGINT NOT NULL,   -- position in the intake log
		received      TIMESTAMP,          -- arrival time, UTC
		region_path   VARCHAR[] NOT NULL, -- root to deepest; empty when unlocated
		wlon          DOUBLE,             -- point in WGS-84; NULL when none
		wlat          DOUBLE,
		has_point     BOOLEAN NOT NULL
	);
	CREATE TABLE event_private (
		id                 VARCHAR PRIMARY KEY,
		reporter_name      VARCHAR,
		reporter_phone     VARCHAR,
		reporter_id_number VARCHAR,
		address            VARCHAR,
		summary            VARCHAR
	);
	INSERT INTO meta VALUES ('checkpoint', 0);`,
	// 2: close_reason (case.closed) and category_text (case.reported); rows stored before read
	// back empty.
	`ALTER TABLE events ADD COLUMN close_reason VARCHAR DEFAULT '';
	ALTER TABLE events ADD COLUMN category_text VARCHAR DEFAULT '';`,
	// 3: supersedes (a correction names the event it replaces); rows stored before read back
	// with none.
	`ALTER TABLE events ADD COLUMN supersedes VARCHAR DEFAULT '';`,
	// 4: superseded_at, the intake offset of the first correction superseding the event (0:
	// none), kept by Write so that period queries leave superseded events out cheaply.
	`ALTER TABLE events ADD COLUMN superseded_at UBIGINT DEFAULT 0;
	UPDATE events SET superseded_at = s.off FROM (
		SELECT supersedes AS sid, type AS stype, case_id AS scase, min(intake_offset) AS off
		FROM events WHERE supersedes <> '' GROUP BY ALL) s
	WHERE events.id = s.sid AND events.type = s.stype AND events.case_id = s.scase;`,
	// 5: survey, the content of an evaluation.survey record as JSON ('' on other types).
	`ALTER TABLE events ADD COLUMN survey VARCHAR DEFAULT '';`,
	// 6: r0..r4, the region at depth 0..4 (region_path[1..5]; NULL below the deepest), kept by
	// Write: counting per region at a level groups a plain column (about 1.5× faster than
	// taking the element of the list in every row).
	`ALTER TABLE events ADD COLUMN r0 VARCHAR;
	ALTER TABLE events ADD COLUMN r1 VARCHAR;
	ALTER TABLE events ADD COLUMN r2 VARCHAR;
	ALTER TABLE events ADD COLUMN r3 VARCHAR;
	ALTER TABLE events ADD COLUMN r4 VARCHAR;
	UPDATE events SET r0 = region_path[1], r1 = region_path[2], r2 = region_path[3],
		r3 = region_path[4], r4 = region_path[5];`,
}

// duckLevels is how many levels have a column of their own (r0..r4).
const duckLevels = 5

// duckLevel is the region at depth k: its column, or the list element below duckLevels.
func duckLevel(k int) string {
	if k < duckLevels {
		return "r" + strconv.Itoa(k)
	}
	return "region_path[" + strconv.Itoa(k+1) + "]"
}

const (
	eventCols = `id, type, case_id, at_utc, at_ns, at_tz, source, category, priority, lon, lat, crs,
		region, dept, deadline_utc, deadline_ns, deadline_tz, whistle_id, whistle_kind, depts, stage,
		score, satisfaction, intake_offset, received, region_path, wlon, wlat, has_point,
		close_reason, category_text, supersedes, survey, r0, r1, r2, r3, r4`
	// The staging table's columns: events' in table order (the migrations' ADD COLUMNs last;
	// eventCols, superseded_at, survey and r0..r4).
	nStageCols = 39

	recordSelect = `SELECT e.id, e.type, e.case_id, e.at_utc, e.at_ns, e.at_tz, e.source, e.category,
		e.priority, e.lon, e.lat, e.crs, e.region, e.dept, e.deadline_utc, e.deadline_ns,
		e.deadline_tz, e.whistle_id, e.whistle_kind, e.depts, e.stage, e.score, e.satisfaction,
		e.intake_offset, e.received, e.region_path, e.wlon, e.wlat, e.has_point,
		e.close_reason, e.category_text, e.supersedes, e.survey, p.reporter_name, p.reporter_phone, p.reporter_id_number, p.address, p.summary
		FROM events e LEFT JOIN event_private p ON p.id = e.id`
)

// OpenDuckDB opens (creating if needed) the store at path; "" opens a private in-memory store.
// Options may follow the path as a query (path?memory_limit=2GB). A file already opened in this
// process shares its DuckDB instance (duckdb_instances.go).
func OpenDuckDB(path string) (*DuckDB, error) {
	ctx := context.Background()
	db, key, err := acquireDuckDB(ctx, path)
	if err != nil {
		return nil, unavailable(err, "duckdb: open "+path)
	}
	fail := func(err error) (*DuckDB, error) {
		dropDuckDB(key, db)
		return nil, err
	}
	if err := migrateDuckDB(ctx, db); err != nil {
		return fail(err)
	}
	wconn, err := db.Conn(ctx)
	if err != nil {
		return fail(unavailable(err, "duckdb: connect"))
	}
	// OR REPLACE: the connection may have served a store closed before on the same instance.
	_, err = wconn.ExecContext(ctx, `CREATE OR REPLACE TEMP TABLE stage AS
		SELECT * FROM events WITH NO DATA`)
	if err != nil {
		wconn.Close()
		return fail(unavailable(err, "duckdb: create staging table"))
	}
	sups := map[string]struct{}{}
	rows, err := db.QueryContext(ctx, `SELECT DISTINCT supersedes FROM events WHERE supersedes <> ''`)
	if err == nil {
		for rows.Next() {
			var id string
			if err = rows.Scan(&id); err != nil {
				break
			}
			sups[id] = struct{}{}
		}
		if err == nil {
			err = rows.Err()
		}
		rows.Close()
	}
	if err != nil {
		wconn.Close()
		return fail(unavailable(err, "duckdb: read corrections"))
	}
	duckSurveysVersion.Add(1)
	return &DuckDB{db: db, key: key, wconn: wconn, wrow: make([]driver.Value, nStageCols), sups: sups,
		forgot: duckDataVersion.Add(1)}, nil
}

func migrateDuckDB(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx,
		`CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value UBIGINT NOT NULL)`); err != nil {
		return unavailable(err, "duckdb: create meta table")
	}
	var v uint64
	err := db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'schema_version'`).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		v = 0
	case err != nil:
		return unavailable(err, "duckdb: read schema version")
	}
	if v > duckDBSchemaVersion {
		return errs.E(errs.Unavailable, "schema_version",
			"duckdb: schema version %d is newer than this server's %d", v, duckDBSchemaVersion)
	}
	for ; v < duckDBSchemaVersion; v++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return unavailable(err, "duckdb: migrate")
		}
		if _, err := tx.ExecContext(ctx, duckDBMigrations[v]); err != nil {
			tx.Rollback()
			return unavailable(err, fmt.Sprintf("duckdb: migrate to schema version %d", v+1))
		}
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)`, v+1); err != nil {
			tx.Rollback()
			return unavailable(err, "duckdb: migrate")
		}
		if err := tx.Commit(); err != nil {
			return unavailable(err, "duckdb: migrate")
		}
	}
	return nil
}

// ctxCause makes a query's error wrap its context's error once the context is done: DuckDB
// may answer an interrupted statement with its own "Interrupted" error.
func ctxCause(ctx context.Context, err *error) {
	if *err != nil && ctx.Err() != nil && !errors.Is(*err, ctx.Err()) {
		*err = fmt.Errorf("%w: %w", ctx.Err(), *err)
	}
}

func unavailable(err error, msg string) error {
	return errs.Wrap(errs.Unavailable, "duckdb", err, msg)
}

func (d *DuckDB) check() error {
	if d.closed.Load() {
		return errs.E(errs.Unavailable, "closed", "duckdb: store is closed")
	}
	return nil
}

// Write stores b in one transaction: records whose id is already stored (or repeated within b)
// are skipped, and the checkpoint is set to b.Checkpoint.
func (d *DuckDB) Write(ctx context.Context, b Batch) error {
	for i := range b.Records {
		if b.Records[i].ID == "" {
			return errs.E(errs.Invalid, "id", "store: record %d of the batch has no id", i)
		}
	}
	d.wmu.Lock()
	defer d.wmu.Unlock()
	if err := d.check(); err != nil {
		return err
	}
	// Any write attempt counts, also one that fails in its commit.
	defer d.noteWrite(b.Records)
	if err := d.write(ctx, b); err != nil {
		// Ends the transaction whatever state it is in; an error here only means there was none.
		d.wconn.ExecContext(context.Background(), "ROLLBACK")
		if ctxErr := ctx.Err(); ctxErr != nil {
			return errs.Wrap(errs.Unavailable, "canceled", ctxErr, "duckdb: write")
		}
		return err
	}
	d.noteReports(b.Records)
	return nil
}

// noteReports moves the history's beginning, once known, to the earliest report of a write
// (with d.wmu held).
func (d *DuckDB) noteReports(recs []Record) {
	d.hmu.Lock()
	defer d.hmu.Unlock()
	if !d.hKnown {
		return
	}
	for i := range recs {
		if r := &recs[i]; r.Type == event.CaseReported {
			if at := r.At.UTC().Truncate(time.Microsecond); !d.hOK || at.Before(d.hAt) {
				d.hAt, d.hOK = at, true
			}
		}
	}
}

func (d *DuckDB) write(ctx context.Context, b Batch) error {
	c := d.wconn
	if _, err := c.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return unavailable(err, "duckdb: begin")
	}
	if len(b.Records) > 0 {
		var pii map[string]int
		err := c.Raw(func(dc any) (err error) {
			pii, err = d.stage(ctx, dc.(driver.Conn), b.Records)
			return err
		})
		if err != nil {
			return unavailable(err, "duckdb: stage batch")
		}
		// The primary key's index decides which ids are new, one lookup per staged row: an
		// anti-join with events would read the id column of the whole history at every write.
		if err := d.insertNew(ctx, b.Records, pii); err != nil {
			return err
		}
		if err := d.supersede(ctx, b.Records); err != nil {
			return err
		}
		if _, err := c.ExecContext(ctx, `DELETE FROM temp.stage`); err != nil {
			return unavailable(err, "duckdb: clear staging table")
		}
	}
	if _, err := c.ExecContext(ctx, `UPDATE meta SET value = ? WHERE key = 'checkpoint'`, b.Checkpoint); err != nil {
		return unavailable(err, "duckdb: store checkpoint")
	}
	if _, err := c.ExecContext(ctx, "COMMIT"); err != nil {
		return unavailable(err, "duckdb: commit")
	}
	return nil
}

// insertNew inserts the staged events whose id is not stored, and the private fields of those
// of them that carry any (pii: the staged records with personal fields, as stage returns them):
// an event stored before keeps what it has, personal fields included.
func (d *DuckDB) insertNew(ctx context.Context, recs []Record, pii map[string]int) error {
	const insert = `INSERT INTO events (` + eventCols + `)
		SELECT ` + eventCols + ` FROM temp.stage ON CONFLICT DO NOTHING`
	if len(pii) == 0 {
		if _, err := d.wconn.ExecContext(ctx, insert); err != nil {
			return unavailable(err, "duckdb: insert events")
		}
		return nil
	}
	rows, err := d.wconn.QueryContext(ctx, insert+` RETURNING id`)
	if err != nil {
		return unavailable(err, "duckdb: insert events")
	}
	var fresh []int // indexes in recs
	for rows.Next() {
		var id string
		if err = rows.Scan(&id); err != nil {
			break
		}
		if i, ok := pii[id]; ok {
			fresh = append(fresh, i)
		}
	}
	rows.Close()
	if err = errors.Join(err, rows.Err()); err != nil {
		return unavailable(err, "duckdb: insert events")
	}
	if len(fresh) == 0 {
		return nil
	}
	// The private rows go straight in: an id new to events has none (they are only ever written
	// with their event).
	err = d.wconn.Raw(func(dc any) error {
		a, err := duckdb.NewAppender(dc.(driver.Conn), "", "main", "event_private")
		if err != nil {
			return err
		}
		row := make([]driver.Value, 6) // event_private's columns, in table order
		for _, i := range fresh {
			r := &recs[i]
			row[0] = r.ID
			if p := r.Reporter; p != nil {
				row[1], row[2], row[3] = p.Name, p.Phone, p.IDNumber
			} else {
				row[1], row[2], row[3] = nil, nil, nil
			}
			row[4], row[5] = r.Address, r.Summary
			if err := a.AppendRow(row...); err != nil {
				a.Close()
				return err
			}
		}
		return a.CloseWithCancel(ctx)
	})
	if err != nil {
		return unavailable(err, "duckdb: insert private fields")
	}
	return nil
}

// supersede marks the events the batch's corrections supersede, and the batch's events that
// stored corrections supersede (a correction stored first), with the intake offset of the first
// correction (superseded_at).
func (d *DuckDB) supersede(ctx context.Context, recs []Record) error {
	const mark = `UPDATE events SET superseded_at = s.off FROM (
			SELECT supersedes AS sid, type AS stype, case_id AS scase, min(intake_offset) AS off
			FROM %s WHERE supersedes <> '' AND %s GROUP BY ALL) s
		WHERE events.id = s.sid AND events.type = s.stype AND events.case_id = s.scase
			AND (events.superseded_at = 0 OR events.superseded_at > s.off)`
	var late []any
	corrections := false
	for i := range recs {
		if recs[i].Supersedes != "" {
			corrections = true
		}
		if _, ok := d.sups[recs[i].ID]; ok {
			late = append(late, recs[i].ID)
		}
	}
	if corrections {
		if _, err := d.wconn.ExecContext(ctx, fmt.Sprintf(mark, `temp.stage`, `true`)); err != nil {
			return unavailable(err, "duckdb: mark superseded events")
		}
	}
	if len(late) > 0 {
		q := fmt.Sprintf(mark, `events`, `supersedes IN (?`+strings.Repeat(`, ?`, len(late)-1)+`)`)
		if _, err := d.wconn.ExecContext(ctx, q, late...); err != nil {
			return unavailable(err, "duckdb: mark superseded events")
		}
	}
	for i := range recs {
		if id := recs[i].Supersedes; id != "" {
			d.sups[id] = struct{}{} // kept if the transaction fails: it only costs a lookup
		}
	}
	return nil
}

// stage appends the batch's records, first occurrence of each id only, to the staging table,
// and returns those of them that carry personal fields: id → index in recs (nil when none).
func (d *DuckDB) stage(ctx context.Context, dc driver.Conn, recs []Record) (map[string]int, error) {
	a, err := duckdb.NewAppender(dc, "temp", "main", "stage")
	if err != nil {
		return nil, err
	}
	seen := make(map[string]struct{}, len(recs))
	var pii map[string]int
	row := d.wrow
	for i := range recs {
		r := &recs[i]
		if _, dup := seen[r.ID]; dup {
			continue
		}
		seen[r.ID] = struct{}{}
		if r.HasPII() {
			if pii == nil {
				pii = map[string]int{}
			}
			pii[r.ID] = i
		}
		fillStageRow(row, r)
		if err := a.AppendRow(row...); err != nil {
			a.Close()
			return nil, fmt.Errorf("record %s: %w", r.ID, err)
		}
	}
	clear(row)
	return pii, a.CloseWithCancel(ctx)
}

func fillStageRow(row []driver.Value, r *Record) {
	e := &r.Event
	atUs, atNs, atTz := splitTime(e.At)
	row[0], row[1], row[2] = e.ID, string(e.Type), e.CaseID
	row[3], row[4], row[5] = atUs, atNs, atTz
	row[6], row[7], row[8] = e.Source, e.Category, e.Priority
	if l := e.Location; l != nil {
		row[9], row[10], row[11] = l.Lon, l.Lat, l.CRS
	} else {
		row[9], row[10], row[11] = nil, nil, nil
	}
	row[12], row[13] = e.Region, e.Dept
	if e.Deadline != nil {
		row[14], row[15], row[16] = splitTime(*e.Deadline)
	} else {
		row[14], row[15], row[16] = nil, nil, nil
	}
	row[17], row[18] = e.WhistleID, e.WhistleKind
	if e.Depts != nil {
		row[19] = e.Depts
	} else {
		row[19] = nil
	}
	row[20], row[21], row[22] = e.Stage, int64(e.Score), e.Satisfaction
	row[23] = r.Offset
	if r.Received.IsZero() {
		row[24] = nil
	} else {
		row[24] = r.Received
	}
	if r.RegionPath != nil {
		row[25] = r.RegionPath
	} else {
		row[25] = []string{}
	}
	if r.HasPoint {
		row[26], row[27] = r.Lon, r.Lat
	} else {
		row[26], row[27] = nil, nil
	}
	row[28] = r.HasPoint
	row[29], row[30], row[31] = e.CloseReason, e.CategoryText, e.Supersedes
	row[32] = uint64(0) // superseded_at: set by supersede
	row[33] = contentJSON(e)
	for k := range duckLevels {
		if k < len(r.RegionPath) {
			row[34+k] = r.RegionPath[k]
		} else {
			row[34+k] = nil
		}
	}
}

// splitTime returns t as a UTC timestamp to the microsecond, the nanoseconds below it and t's
// UTC offset in seconds.
func splitTime(t time.Time) (time.Time, int16, int32) {
	_, off := t.Zone()
	u := t.UTC()
	ns := u.Nanosecond() % 1000
	return u.Add(-time.Duration(ns)), int16(ns), int32(off)
}

// Checkpoint returns the intake offset stored with the last batch (0 when none).
func (d *DuckDB) Checkpoint(ctx context.Context) (uint64, error) {
	if err := d.check(); err != nil {
		return 0, err
	}
	var v uint64
	if err := d.db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'checkpoint'`).Scan(&v); err != nil {
		return 0, unavailable(err, "duckdb: read checkpoint")
	}
	return v, nil
}

// Count returns the number of stored events.
func (d *DuckDB) Count(ctx context.Context) (int64, error) {
	if err := d.check(); err != nil {
		return 0, err
	}
	var n int64
	if err := d.db.QueryRowContext(ctx, `SELECT count(*) FROM events`).Scan(&n); err != nil {
		return 0, unavailable(err, "duckdb: count")
	}
	return n, nil
}

// HistoryBegins implements HistoryBeginning: the earliest stored case report. It is read
// from the table once, between writes, and then kept up to date by the writes themselves.
func (d *DuckDB) HistoryBegins(ctx context.Context) (time.Time, bool, error) {
	if err := d.check(); err != nil {
		return time.Time{}, false, err
	}
	d.hmu.Lock()
	known, ok, at := d.hKnown, d.hOK, d.hAt
	d.hmu.Unlock()
	if known {
		return at, ok, nil
	}
	d.wmu.Lock() // no write between the read and keeping it
	defer d.wmu.Unlock()
	var min sql.NullTime
	if err := d.db.QueryRowContext(ctx, `SELECT min(at_utc) FROM events WHERE type = 'case.reported'`).Scan(&min); err != nil {
		return time.Time{}, false, unavailable(err, "duckdb: history's beginning")
	}
	d.hmu.Lock()
	defer d.hmu.Unlock()
	if min.Valid {
		t := min.Time
		d.hAt, d.hOK = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC), true
	}
	d.hKnown = true
	return d.hAt, d.hOK, nil
}

// EventIDs calls fn with every stored id, in no particular order. An error from fn stops it
// and is returned as is.
func (d *DuckDB) EventIDs(ctx context.Context, fn func(id string) error) error {
	if err := d.check(); err != nil {
		return err
	}
	rows, err := d.db.QueryContext(ctx, `SELECT id FROM events`)
	if err != nil {
		return unavailable(err, "duckdb: read ids")
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return unavailable(err, "duckdb: read ids")
		}
		if err := fn(id); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return unavailable(err, "duckdb: read ids")
	}
	return nil
}

// Replay calls fn with every stored record, personal fields included, ordered by (At, Offset).
// An error from fn stops it and is returned as is.
func (d *DuckDB) Replay(ctx context.Context, fn func(Record) error) error {
	if err := d.check(); err != nil {
		return err
	}
	return d.records(ctx, fn, recordSelect+` ORDER BY e.at_utc, e.at_ns, e.intake_offset, e.id`)
}

// CaseEvents returns the case's records, personal fields included, ordered by (At, Offset).
func (d *DuckDB) CaseEvents(ctx context.Context, caseID string) (_ []Record, qerr error) {
	defer ctxCause(ctx, &qerr)
	if err := d.check(); err != nil {
		return nil, err
	}
	out := []Record{}
	err := d.records(ctx, func(r Record) error {
		out = append(out, r)
		return nil
	}, recordSelect+` WHERE e.case_id = ? ORDER BY e.at_utc, e.at_ns, e.intake_offset, e.id`, caseID)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// records runs a recordSelect query and calls fn with each record; fn's error is returned as is.
func (d *DuckDB) records(ctx context.Context, fn func(Record) error, query string, args ...any) error {
	rows, err := d.db.QueryContext(ctx, query, args...)
	if err != nil {
		return unavailable(err, "duckdb: read records")
	}
	defer rows.Close()
	var (
		s   recordScan
		z   = zones{}
		dst = s.dest()
	)
	for n := 0; rows.Next(); n++ {
		if n%ctxCheckRows == 0 && ctx.Err() != nil {
			return unavailable(ctx.Err(), "duckdb: read records")
		}
		if err := rows.Scan(dst...); err != nil {
			return unavailable(err, "duckdb: read records")
		}
		if err := fn(s.record(z)); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return unavailable(err, "duckdb: read records")
	}
	return nil
}

// recordScan holds the scan targets of recordSelect.
type recordScan struct {
	id, typ, caseID                    string
	at                                 time.Time
	atNs                               int16
	atTz                               int32
	source, category, priority         string
	lon, lat                           sql.NullFloat64
	crs                                sql.NullString
	region, dept                       string
	deadline                           sql.NullTime
	deadlineNs                         sql.NullInt16
	deadlineTz                         sql.NullInt32
	whistleID, whistleKind             string
	depts                              any
	stage                              string
	score                              int64
	satisfaction                       string
	offset                             uint64
	received                           sql.NullTime
	path                               any
	wlon, wlat                         sql.NullFloat64
	hasPoint                           bool
	closeReason, categoryText          sql.NullString
	supersedes                         sql.NullString
	survey                             sql.NullString
	repName, repPhone, repID, addr, sm sql.NullString
}

func (s *recordScan) dest() []any {
	return []any{&s.id, &s.typ, &s.caseID, &s.at, &s.atNs, &s.atTz, &s.source, &s.category,
		&s.priority, &s.lon, &s.lat, &s.crs, &s.region, &s.dept, &s.deadline, &s.deadlineNs,
		&s.deadlineTz, &s.whistleID, &s.whistleKind, &s.depts, &s.stage, &s.score, &s.satisfaction,
		&s.offset, &s.received, &s.path, &s.wlon, &s.wlat, &s.hasPoint,
		&s.closeReason, &s.categoryText, &s.supersedes, &s.survey, &s.repName, &s.repPhone, &s.repID, &s.addr, &s.sm}
}

func (s *recordScan) record(z zones) Record {
	r := Record{Event: event.Event{
		ID: s.id, Type: event.Type(s.typ), CaseID: s.caseID, At: z.join(s.at, s.atNs, s.atTz),
		Source: s.source, Category: s.category, Priority: s.priority, Region: s.region,
		Dept: s.dept, WhistleID: s.whistleID, WhistleKind: s.whistleKind, Depts: stringList(s.depts),
		Stage: s.stage, Score: int(s.score), Satisfaction: s.satisfaction,
		CloseReason: s.closeReason.String, CategoryText: s.categoryText.String, Supersedes: s.supersedes.String,
		Address: s.addr.String, Summary: s.sm.String,
	}, Offset: s.offset, HasPoint: s.hasPoint}
	setContent(&r.Event, s.survey.String)
	if s.lon.Valid {
		r.Location = &event.Location{Lon: s.lon.Float64, Lat: s.lat.Float64, CRS: s.crs.String}
	}
	if s.deadline.Valid {
		t := z.join(s.deadline.Time, s.deadlineNs.Int16, s.deadlineTz.Int32)
		r.Deadline = &t
	}
	if s.repName.Valid || s.repPhone.Valid || s.repID.Valid {
		r.Reporter = &event.Reporter{Name: s.repName.String, Phone: s.repPhone.String, IDNumber: s.repID.String}
	}
	if s.received.Valid {
		r.Received = s.received.Time.UTC()
	}
	if p := stringList(s.path); len(p) > 0 {
		r.RegionPath = p
	}
	if s.hasPoint {
		r.Lon, r.Lat = s.wlon.Float64, s.wlat.Float64
	}
	return r
}

// stringList converts a scanned VARCHAR[]; NULL gives nil.
func stringList(v any) []string {
	l, ok := v.([]any)
	if !ok {
		return nil
	}
	out := make([]string, len(l))
	for i, x := range l {
		out[i], _ = x.(string)
	}
	return out
}

// duckLive is the condition that an event is not superseded: no event of the same case and type
// names it in supersedes (event.Superseded; superseded_at, kept by Write). upTo, when > 0,
// counts only the corrections with an intake offset up to it (a cut of the log).
func duckLive(upTo uint64) string {
	if upTo == 0 {
		return `superseded_at = 0`
	}
	return `(superseded_at = 0 OR superseded_at > ` + strconv.FormatUint(upTo, 10) + `)`
}

// filter builds the WHERE clause shared by the period queries (superseded events left out).
func filter(from, to time.Time, category string, types []event.Type) (string, []any) {
	var b strings.Builder
	args := []any{from.UTC(), to.UTC()}
	b.WriteString(`at_utc >= ? AND at_utc < ?`)
	if len(types) == 0 {
		types = []event.Type{event.CaseReported}
	}
	b.WriteString(` AND type IN (`)
	for i, t := range types {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("?")
		args = append(args, string(t))
	}
	b.WriteString(")")
	if category != "" {
		b.WriteString(` AND category = ?`)
		args = append(args, category)
	}
	return b.String(), args
}

// Series counts events per time bucket; see SeriesQuery and PlanSeries.
func (d *DuckDB) Series(ctx context.Context, q SeriesQuery) (_ []Point, qerr error) {
	defer ctxCause(ctx, &qerr)
	if err := d.check(); err != nil {
		return nil, err
	}
	plan, err := PlanSeries(q)
	if err != nil {
		return nil, err
	}
	where, args := filter(q.From, q.To, q.Category, q.Types)
	where += ` AND ` + duckLive(0)
	if q.Region != "" {
		where += ` AND list_contains(region_path, ?)`
		args = append(args, q.Region)
	}
	query := `SELECT (epoch_us(at_utc) - ?) // ? AS slot, count(*) FROM events WHERE ` + where + ` GROUP BY slot`
	args = append([]any{plan.Origin.UnixMicro(), plan.Slot.Microseconds()}, args...)
	rows, err := d.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, unavailable(err, "duckdb: series")
	}
	defer rows.Close()
	for rows.Next() {
		var slot, n int64
		if err := rows.Scan(&slot, &n); err != nil {
			return nil, unavailable(err, "duckdb: series")
		}
		plan.Add(slot, n)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable(err, "duckdb: series")
	}
	return plan.Points(), nil
}

// RegionCounts counts events per child region of q.Region (the RegionPath element at
// q.Depth+1), or per descendant at q.Level when it is deeper, ordered by region code. Regions
// without events are absent.
func (d *DuckDB) RegionCounts(ctx context.Context, q RegionQuery) (_ []RegionCount, qerr error) {
	defer ctxCause(ctx, &qerr)
	if err := d.check(); err != nil {
		return nil, err
	}
	if err := checkPeriod(q.From, q.To); err != nil {
		return nil, err
	}
	if q.Depth < 0 {
		return nil, errs.E(errs.Invalid, "depth", "store: depth must be 0 or more, got %d", q.Depth)
	}
	where, args, child := regionFilter(q)
	query := `SELECT ` + child + ` AS child, count(*) FROM events WHERE ` + where +
		` AND ` + child + ` IS NOT NULL GROUP BY child ORDER BY child`
	rows, err := d.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, unavailable(err, "duckdb: region counts")
	}
	defer rows.Close()
	out := []RegionCount{}
	for rows.Next() {
		var c RegionCount
		if err := rows.Scan(&c.Region, &c.Count); err != nil {
			return nil, unavailable(err, "duckdb: region counts")
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable(err, "duckdb: region counts")
	}
	return out, nil
}

// regionFilter returns the WHERE clause of a region query and the column (or list element) of
// the counted level.
func regionFilter(q RegionQuery) (string, []any, string) {
	where, args := filter(q.From, q.To, q.Category, q.Types)
	level := q.Level
	if level <= q.Depth {
		level = q.Depth + 1
	}
	if q.Region != "" {
		where += ` AND ` + duckLevel(q.Depth) + ` = ?`
		args = append(args, q.Region)
	}
	cut := q.UpTo
	if q.UpTo > 0 {
		where += ` AND intake_offset <= ?`
		args = append(args, q.UpTo)
	}
	if q.Cut != nil {
		// One partition here: partition 0.
		upTo, ok := q.Cut[0]
		if !ok {
			where += ` AND false`
		} else {
			where += ` AND intake_offset <= ?`
			args = append(args, upTo)
			if cut == 0 || upTo < cut {
				cut = upTo
			}
		}
	}
	// Corrections past the cut were not there yet: what they supersede still counts.
	where += ` AND ` + duckLive(cut)
	return where, args, duckLevel(level)
}

// Cube counts events per region at the query's level × time bucket.
func (d *DuckDB) Cube(ctx context.Context, q CubeQuery) (_ []CubeSeries, qerr error) {
	defer ctxCause(ctx, &qerr)
	if err := d.check(); err != nil {
		return nil, err
	}
	sq, probe, err := planCube(q)
	if err != nil {
		return nil, err
	}
	where, args, idx := regionFilter(q.RegionQuery)
	query := `SELECT ` + idx + ` AS r, (epoch_us(at_utc) - ?) // ? AS slot, count(*) FROM events WHERE ` + where +
		` AND ` + idx + ` IS NOT NULL GROUP BY r, slot ORDER BY r`
	args = append([]any{probe.Origin.UnixMicro(), probe.Slot.Microseconds()}, args...)
	rows, err := d.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, unavailable(err, "duckdb: cube")
	}
	defer rows.Close()
	var out []CubeSeries
	var plan *SeriesPlan
	last := ""
	flush := func() {
		if plan != nil {
			out = append(out, CubeSeries{Region: last, Points: plan.Points()})
		}
	}
	for rows.Next() {
		var r string
		var slot, n int64
		if err := rows.Scan(&r, &slot, &n); err != nil {
			return nil, unavailable(err, "duckdb: cube")
		}
		if r != last || plan == nil {
			flush()
			if plan, err = PlanSeries(sq); err != nil {
				return nil, err
			}
			last = r
		}
		plan.Add(slot, n)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable(err, "duckdb: cube")
	}
	flush()
	if out == nil {
		out = []CubeSeries{}
	}
	return out, nil
}

// Points calls fn with each located event of q.
func (d *DuckDB) Points(ctx context.Context, q PointQuery, fn func(LocatedEvent) error) (qerr error) {
	defer ctxCause(ctx, &qerr)
	if err := d.check(); err != nil {
		return err
	}
	if err := checkPeriod(q.From, q.To); err != nil {
		return err
	}
	if q.Depth < 0 {
		return errs.E(errs.Invalid, "depth", "store: depth must be 0 or more, got %d", q.Depth)
	}
	where, args, _ := regionFilter(q)
	rows, err := d.db.QueryContext(ctx, `SELECT epoch_us(at_utc), wlon, wlat FROM events WHERE `+where+` AND has_point`, args...)
	if err != nil {
		return unavailable(err, "duckdb: points")
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		if n++; n%ctxCheckRows == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		var us int64
		var e LocatedEvent
		if err := rows.Scan(&us, &e.Lon, &e.Lat); err != nil {
			return unavailable(err, "duckdb: points")
		}
		e.At = time.UnixMicro(us)
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return unavailable(err, "duckdb: points")
	}
	return nil
}

// Ping checks that the database answers.
func (d *DuckDB) Ping(ctx context.Context) error {
	if err := d.check(); err != nil {
		return err
	}
	var one int
	if err := d.db.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return unavailable(err, "duckdb: ping")
	}
	return nil
}

// closeDrain bounds how long Close waits for running queries to return their connections.
var closeDrain = 30 * time.Second

// drain waits up to max until no connection of the pool is in use; it returns how many are.
func (d *DuckDB) drain(max time.Duration) int {
	deadline := time.Now().Add(max)
	for {
		n := d.db.Stats().InUse
		if n == 0 || time.Now().After(deadline) {
			return n
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Close waits for a running write and for running queries (at most closeDrain), merges the
// write-ahead log into the database file and releases the store. A file-backed instance stays
// open for the process (duckdb_instances.go); an in-memory one is closed. It is idempotent.
func (d *DuckDB) Close() error {
	d.closeOnce.Do(func() {
		d.closed.Store(true)
		d.wmu.Lock()
		defer d.wmu.Unlock()
		ctx := context.Background()
		// The staging table belongs to the connection, which goes back to the instance's pool.
		_, werr := d.wconn.ExecContext(ctx, `DROP TABLE IF EXISTS temp.stage`)
		if err := d.wconn.Close(); werr == nil {
			werr = err
		}
		// Queries started before Close are let finish first: after Close the store runs none.
		busy := d.drain(closeDrain)
		if d.key != "" && busy == 0 {
			// Every commit is already in the fsynced log; this only folds it into the file. It
			// fails harmlessly when another store on the instance is mid-transaction.
			_, _ = d.db.ExecContext(ctx, `CHECKPOINT`)
		}
		if err := releaseDuckDB(d.key, d.db); err != nil {
			d.closeErr = unavailable(err, "duckdb: close")
		} else if werr != nil {
			d.closeErr = unavailable(werr, "duckdb: close")
		} else if busy > 0 {
			d.closeErr = errs.E(errs.Unavailable, "busy", "duckdb: %d connections still in use %s after close began", busy, closeDrain)
		}
	})
	return d.closeErr
}
