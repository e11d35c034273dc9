package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"zhili/errs"
)

// chFeatures are the server-dependent parts of the schema, decided from the server version at
// migration time. Every query the store runs works on all versions; only DDL differs.
type chFeatures struct {
	Major, Minor int
	LowCard      bool // LowCardinality(String) for the small dictionaries (≥ 20.3)
	TTL          bool // TTL retention clauses (≥ 20.3; applied only when Retention > 0)
	SkipIndex    bool // bloom_filter data-skipping index on case_id (≥ 20.3)
}

func chFeaturesOf(major, minor int) chFeatures {
	modern := major > 20 || (major == 20 && minor >= 3)
	return chFeatures{Major: major, Minor: minor, LowCard: modern, TTL: modern, SkipIndex: modern}
}

// chMigration is one schema step. ddl returns the statements for the server's features, and a
// variant string recorded in schema_migrations (what was chosen: zone, column types, TTL).
type chMigration struct {
	version int
	name    string
	ddl     func(f chFeatures, o *ClickHouseOptions) (stmts []string, variant string)
}

// Rollup rows, shared by the materialized views and the reconciliation: counts per time ×
// partition × type × category × full region path (the leaf). Queries filter and group by path
// exactly as they do region_path on raw events; one row per leaf keeps inserts cheap.
const (
	chRollCols = `part, type, category, region_path AS path`
	chRollKey  = `part, type, category, path`
)

func chDayExpr(zone string) string { return `toDate(at, ` + chQuote(zone) + `)` }

// chMigrations lists the schema steps in order. Never edit a released entry: append one.
var chMigrations = []chMigration{
	{1, "events", func(f chFeatures, o *ClickHouseOptions) ([]string, string) {
		dict := "String"
		if f.LowCard {
			dict = "LowCardinality(String)"
		}
		var idx, ttl, pttl string
		var notes []string
		if f.SkipIndex {
			idx = ",\n\tINDEX case_idx case_id TYPE bloom_filter GRANULARITY 4"
			notes = append(notes, "case_id bloom_filter")
		}
		if f.TTL && o.Retention > 0 {
			days := strconv.Itoa(int(o.Retention / (24 * time.Hour)))
			ttl = "\nTTL at + INTERVAL " + days + " DAY"
			pttl = ttl
			notes = append(notes, "ttl="+days+"d")
		}
		notes = append(notes, "dict="+dict)
		return []string{`CREATE TABLE IF NOT EXISTS events (
	id            String,
	type          ` + dict + `,
	case_id       String,
	at            DateTime('UTC'),  -- event time, whole seconds
	at_ns         UInt32,           -- nanoseconds within the second
	at_tz         Int32,            -- original UTC offset, seconds
	source        ` + dict + `,
	category      ` + dict + `,
	priority      ` + dict + `,
	has_location  UInt8,
	lon           Float64,
	lat           Float64,
	crs           ` + dict + `,
	region        String,           -- region as given
	dept          ` + dict + `,
	has_deadline  UInt8,
	deadline      DateTime('UTC'),
	deadline_ns   UInt32,
	deadline_tz   Int32,
	whistle_id    String,
	whistle_kind  ` + dict + `,
	depts         Array(String),
	stage         ` + dict + `,
	score         Int64,
	satisfaction  ` + dict + `,
	part          UInt16,           -- intake partition
	intake_offset UInt64,           -- position in the partition's intake log
	run           UInt64,           -- insert sequence number (increasing per partition)
	received      Int64,            -- arrival time, Unix nanoseconds; 0 = unknown
	region_path   Array(String),    -- root to deepest; empty when unlocated
	has_point     UInt8,
	wlon          Float64,
	wlat          Float64` + idx + `
) ENGINE = MergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (type, toStartOfDay(at), category, region_path[2], region_path[3], at)` + ttl,
			`CREATE TABLE IF NOT EXISTS event_private (
	id                 String,
	part               UInt16,
	at                 DateTime('UTC'),
	has_reporter       UInt8,
	reporter_name      String,
	reporter_phone     String,
	reporter_id_number String,
	address            String,
	summary            String
) ENGINE = ReplacingMergeTree
ORDER BY id` + pttl,
		}, strings.Join(notes, ";")
	}},
	{2, "checkpoints", func(f chFeatures, o *ClickHouseOptions) ([]string, string) {
		return []string{`CREATE TABLE IF NOT EXISTS checkpoints (
	part          UInt16,
	intake_offset UInt64,
	version       UInt64,          -- increasing per partition; read with argMax
	written_at    DateTime('UTC')
) ENGINE = ReplacingMergeTree(version)
ORDER BY part`}, ""
	}},
	{3, "rollup_hour", func(f chFeatures, o *ClickHouseOptions) ([]string, string) {
		ttl, note := rollupTTL(f, o, "t")
		return []string{chRollupTable("rollup_hour", "t DateTime('UTC')", "toYYYYMM(t)", "t", f) + ttl,
			`CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_hour_mv TO rollup_hour AS
SELECT toStartOfHour(at) AS t, ` + chRollCols + `, toInt64(count()) AS n
FROM events
GROUP BY t, ` + chRollKey}, note
	}},
	{4, "rollup_day", func(f chFeatures, o *ClickHouseOptions) ([]string, string) {
		zone := o.Loc.String()
		ttl, note := rollupTTL(f, o, "day")
		return []string{chRollupTable("rollup_day", "day Date", "toYYYYMM(day)", "day", f) + ttl,
			`CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_day_mv TO rollup_day AS
SELECT ` + chDayExpr(zone) + ` AS day, ` + chRollCols + `, toInt64(count()) AS n
FROM events
GROUP BY day, ` + chRollKey}, strings.TrimPrefix(note+";zone="+zone, ";")
	}},
	{5, "close_reason_category_text", func(f chFeatures, o *ClickHouseOptions) ([]string, string) {
		dict := "String"
		if f.LowCard {
			dict = "LowCardinality(String)"
		}
		// close_reason of case.closed ("" = fixed), category_text of case.reported. Rows stored
		// before read back with both empty (the columns' defaults).
		return []string{chAddColumn("events", "close_reason", dict), chAddColumn("events", "category_text", "String")}, "dict=" + dict
	}},
	{6, "supersedes", func(f chFeatures, o *ClickHouseOptions) ([]string, string) {
		// The id of the event a correction supersedes ("" = none). Rows stored before read
		// back with none.
		return []string{chAddColumn("events", "supersedes", "String")}, ""
	}},
	{7, "survey", func(f chFeatures, o *ClickHouseOptions) ([]string, string) {
		// The content of an evaluation.survey record as JSON ("" on other types). Rows stored
		// before read back with none.
		return []string{chAddColumn("events", "survey", "String")}, ""
	}},
}

// chAddColumn is a migration statement adding a column. chMigrate runs it only when the column
// is missing (18.16 has no ADD COLUMN IF NOT EXISTS), so a migration cut short between two such
// statements is completed by the next run; and only on a MergeTree table (chCheckAlterable).
func chAddColumn(table, col, typ string) string {
	return "ALTER TABLE " + table + " ADD COLUMN " + col + " " + typ
}

// chAddedColumn returns the table and column of a chAddColumn statement.
func chAddedColumn(stmt string) (table, col string, ok bool) {
	f := strings.Fields(stmt)
	if len(f) >= 6 && f[0] == "ALTER" && f[1] == "TABLE" && f[3] == "ADD" && f[4] == "COLUMN" {
		return f[2], f[5], true
	}
	return "", "", false
}

func rollupTTL(f chFeatures, o *ClickHouseOptions, col string) (string, string) {
	if !f.TTL || o.Retention <= 0 {
		return "", ""
	}
	days := strconv.Itoa(int(o.Retention / (24 * time.Hour)))
	if col == "t" {
		return "\nTTL t + INTERVAL " + days + " DAY", "ttl=" + days + "d"
	}
	return "\nTTL day + INTERVAL " + days + " DAY", "ttl=" + days + "d"
}

// chRollupTable is a SummingMergeTree of counts keyed by type × time × category × path ×
// partition. The key leads with what every query filters on.
func chRollupTable(name, timeCol, partBy, tcol string, f chFeatures) string {
	dict := "String"
	if f.LowCard {
		dict = "LowCardinality(String)"
	}
	return `CREATE TABLE IF NOT EXISTS ` + name + ` (
	` + timeCol + `,
	part     UInt16,
	type     ` + dict + `,
	category ` + dict + `,
	path     Array(String),  -- region_path of the counted events (root to leaf; empty: unlocated)
	n        Int64
) ENGINE = SummingMergeTree(n)
PARTITION BY ` + partBy + `
ORDER BY (type, ` + tcol + `, category, path, part)`
}

const chMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version        UInt32,
	name           String,
	variant        String,   -- server-dependent choices: column types, TTL, the rollup zone
	server_version String,
	applied_at     DateTime('UTC')
) ENGINE = MergeTree
ORDER BY version`

// chApplied reads schema_migrations: version → variant.
func chApplied(ctx context.Context, conn driver.Conn) (map[int]string, error) {
	rows, err := conn.Query(ctx, `SELECT version, any(variant) FROM schema_migrations GROUP BY version`)
	if err != nil {
		return nil, chUnavailable(err, "clickhouse: read schema_migrations")
	}
	defer rows.Close()
	out := map[int]string{}
	for rows.Next() {
		var v uint32
		var variant string
		if err := rows.Scan(&v, &variant); err != nil {
			return nil, chUnavailable(err, "clickhouse: read schema_migrations")
		}
		out[int(v)] = variant
	}
	if err := rows.Err(); err != nil {
		return nil, chUnavailable(err, "clickhouse: read schema_migrations")
	}
	return out, nil
}

// chMigrate applies the missing migrations; it returns the names applied and the variants of
// every applied migration.
func chMigrate(ctx context.Context, conn driver.Conn, f chFeatures, version string, o *ClickHouseOptions) ([]string, map[int]string, error) {
	if err := conn.Exec(ctx, chMigrationsTable); err != nil {
		return nil, nil, chUnavailable(err, "clickhouse: create schema_migrations")
	}
	done, err := chApplied(ctx, conn)
	if err != nil {
		return nil, nil, err
	}
	for v := range done {
		if v > len(chMigrations) {
			return nil, nil, errs.E(errs.Unavailable, "schema_version",
				"clickhouse: schema version %d is newer than this server's %d", v, len(chMigrations))
		}
	}
	// The migrations applied are recorded together, in one insert (a MergeTree insert writes
	// a part of its own: a new database took seven), also when a later one fails. A migration
	// applied but not recorded (a crash between) is applied again on the next start: each is
	// written to be run again (IF NOT EXISTS, a column added only when missing).
	var applied []string
	type record struct {
		m       chMigration
		variant string
	}
	var pending []record
	recordPending := func() error {
		if len(pending) == 0 {
			return nil
		}
		b, err := conn.PrepareBatch(ctx, `INSERT INTO schema_migrations (version, name, variant, server_version, applied_at)`)
		if err != nil {
			return chUnavailable(err, "clickhouse: record migrations")
		}
		at := time.Now().UTC()
		for _, r := range pending {
			if err := b.Append(uint32(r.m.version), r.m.name, r.variant, version, at); err != nil {
				b.Abort()
				return chUnavailable(err, "clickhouse: record migrations")
			}
		}
		if err := b.Send(); err != nil {
			return chUnavailable(err, "clickhouse: record migrations")
		}
		for _, r := range pending {
			done[r.m.version] = r.variant
			applied = append(applied, fmt.Sprintf("%04d_%s", r.m.version, r.m.name))
		}
		pending = nil
		return nil
	}
	fail := func(err error) ([]string, map[int]string, error) {
		if rerr := recordPending(); rerr != nil {
			return applied, done, errors.Join(err, rerr)
		}
		return applied, done, err
	}
	for _, m := range chMigrations {
		if _, ok := done[m.version]; ok {
			continue
		}
		stmts, variant := m.ddl(f, o)
		for _, s := range stmts {
			if table, col, ok := chAddedColumn(s); ok {
				has, err := chHasColumn(ctx, conn, m, table, col)
				if err != nil {
					return fail(err)
				}
				if has {
					continue
				}
			}
			if err := conn.Exec(ctx, s); err != nil {
				return fail(chUnavailable(err, fmt.Sprintf("clickhouse: migration %d (%s)", m.version, m.name)))
			}
		}
		pending = append(pending, record{m, variant})
	}
	if err := recordPending(); err != nil {
		return applied, done, err
	}
	return applied, done, nil
}

// chHasColumn tells whether table has col, for migration m. A table that is not a MergeTree
// (events is a Distributed table on a cluster: deploy/clickhouse/cluster) is refused: altering
// it would change that table only, and inserts would then fail on the shards.
func chHasColumn(ctx context.Context, conn driver.Conn, m chMigration, table, col string) (bool, error) {
	fail := func(err error) (bool, error) {
		return false, chUnavailable(err, fmt.Sprintf("clickhouse: migration %d (%s): read the columns of %s", m.version, m.name, table))
	}
	var engine string
	var has uint64
	rows, err := conn.Query(ctx, `SELECT engine, (SELECT count() FROM system.columns
		WHERE database = currentDatabase() AND table = `+chQuote(table)+` AND name = `+chQuote(col)+`)
		FROM system.tables WHERE database = currentDatabase() AND name = `+chQuote(table))
	if err != nil {
		return fail(err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := rows.Scan(&engine, &has); err != nil {
			return fail(err)
		}
	}
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	if !strings.HasSuffix(engine, "MergeTree") {
		return false, errs.E(errs.Unavailable, "schema_engine",
			"clickhouse: migration %d (%s) adds columns to %s, a %s table here, not a MergeTree: on a cluster apply it with deploy/clickhouse/cluster/README.md (Upgrades) first",
			m.version, m.name, table, engine)
	}
	return has > 0, nil
}

// chVariantValue returns key's value in a variant string "k=v;k2=v2".
func chVariantValue(variant, key string) string {
	for _, kv := range strings.Split(variant, ";") {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// ClickHouseSchema returns the DDL the migrations run for a server version (major, minor), in
// order, for reference and for deploy/clickhouse.
func ClickHouseSchema(major, minor int, opt ClickHouseOptions) []string {
	if opt.Loc == nil {
		opt.Loc = defaultZone()
	}
	f := chFeaturesOf(major, minor)
	out := []string{chMigrationsTable}
	for _, m := range chMigrations {
		s, _ := m.ddl(f, &opt)
		out = append(out, s...)
	}
	return out
}
