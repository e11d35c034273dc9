-- Zhili history store, single node: what the migrations (store/clickhouse_migrate.go) create.
-- Reference only: `zhili migrate` (or OpenClickHouse) applies it and records schema_migrations.
-- Generated: ZHILI_UPDATE_SCHEMA=1 go test ./store -run TestSchemaFile (a test keeps it current).
-- Two variants: servers >= 20.3 (LowCardinality, bloom-filter index on case_id; TTL when a
-- retention is configured) and older servers such as 18.16 (plain String). The rollup_day zone
-- is the deployment zone at migration time (default Asia/Shanghai). Columns added by later
-- migrations come as ALTER TABLE … ADD COLUMN, which the store runs only when the column is missing.

-- ===== servers >= 20.3 (shown for 23.8) =====
CREATE TABLE IF NOT EXISTS schema_migrations (
	version        UInt32,
	name           String,
	variant        String,   -- server-dependent choices: column types, TTL, the rollup zone
	server_version String,
	applied_at     DateTime('UTC')
) ENGINE = MergeTree
ORDER BY version;

CREATE TABLE IF NOT EXISTS events (
	id            String,
	type          LowCardinality(String),
	case_id       String,
	at            DateTime('UTC'),  -- event time, whole seconds
	at_ns         UInt32,           -- nanoseconds within the second
	at_tz         Int32,            -- original UTC offset, seconds
	source        LowCardinality(String),
	category      LowCardinality(String),
	priority      LowCardinality(String),
	has_location  UInt8,
	lon           Float64,
	lat           Float64,
	crs           LowCardinality(String),
	region        String,           -- region as given
	dept          LowCardinality(String),
	has_deadline  UInt8,
	deadline      DateTime('UTC'),
	deadline_ns   UInt32,
	deadline_tz   Int32,
	whistle_id    String,
	whistle_kind  LowCardinality(String),
	depts         Array(String),
	stage         LowCardinality(String),
	score         Int64,
	satisfaction  LowCardinality(String),
	part          UInt16,           -- intake partition
	intake_offset UInt64,           -- position in the partition's intake log
	run           UInt64,           -- insert sequence number (increasing per partition)
	received      Int64,            -- arrival time, Unix nanoseconds; 0 = unknown
	region_path   Array(String),    -- root to deepest; empty when unlocated
	has_point     UInt8,
	wlon          Float64,
	wlat          Float64,
	INDEX case_idx case_id TYPE bloom_filter GRANULARITY 4
) ENGINE = MergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (type, toStartOfDay(at), category, region_path[2], region_path[3], at);

CREATE TABLE IF NOT EXISTS event_private (
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
ORDER BY id;

CREATE TABLE IF NOT EXISTS checkpoints (
	part          UInt16,
	intake_offset UInt64,
	version       UInt64,          -- increasing per partition; read with argMax
	written_at    DateTime('UTC')
) ENGINE = ReplacingMergeTree(version)
ORDER BY part;

CREATE TABLE IF NOT EXISTS rollup_hour (
	t DateTime('UTC'),
	part     UInt16,
	type     LowCardinality(String),
	category LowCardinality(String),
	path     Array(String),  -- region_path of the counted events (root to leaf; empty: unlocated)
	n        Int64
) ENGINE = SummingMergeTree(n)
PARTITION BY toYYYYMM(t)
ORDER BY (type, t, category, path, part);

CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_hour_mv TO rollup_hour AS
SELECT toStartOfHour(at) AS t, part, type, category, region_path AS path, toInt64(count()) AS n
FROM events
GROUP BY t, part, type, category, path;

CREATE TABLE IF NOT EXISTS rollup_day (
	day Date,
	part     UInt16,
	type     LowCardinality(String),
	category LowCardinality(String),
	path     Array(String),  -- region_path of the counted events (root to leaf; empty: unlocated)
	n        Int64
) ENGINE = SummingMergeTree(n)
PARTITION BY toYYYYMM(day)
ORDER BY (type, day, category, path, part);

CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_day_mv TO rollup_day AS
SELECT toDate(at, 'Asia/Shanghai') AS day, part, type, category, region_path AS path, toInt64(count()) AS n
FROM events
GROUP BY day, part, type, category, path;

ALTER TABLE events ADD COLUMN close_reason LowCardinality(String);

ALTER TABLE events ADD COLUMN category_text String;

ALTER TABLE events ADD COLUMN supersedes String;

ALTER TABLE events ADD COLUMN survey String;


-- ===== servers < 20.3 (18.16, what the tests run) =====
CREATE TABLE IF NOT EXISTS schema_migrations (
	version        UInt32,
	name           String,
	variant        String,   -- server-dependent choices: column types, TTL, the rollup zone
	server_version String,
	applied_at     DateTime('UTC')
) ENGINE = MergeTree
ORDER BY version;

CREATE TABLE IF NOT EXISTS events (
	id            String,
	type          String,
	case_id       String,
	at            DateTime('UTC'),  -- event time, whole seconds
	at_ns         UInt32,           -- nanoseconds within the second
	at_tz         Int32,            -- original UTC offset, seconds
	source        String,
	category      String,
	priority      String,
	has_location  UInt8,
	lon           Float64,
	lat           Float64,
	crs           String,
	region        String,           -- region as given
	dept          String,
	has_deadline  UInt8,
	deadline      DateTime('UTC'),
	deadline_ns   UInt32,
	deadline_tz   Int32,
	whistle_id    String,
	whistle_kind  String,
	depts         Array(String),
	stage         String,
	score         Int64,
	satisfaction  String,
	part          UInt16,           -- intake partition
	intake_offset UInt64,           -- position in the partition's intake log
	run           UInt64,           -- insert sequence number (increasing per partition)
	received      Int64,            -- arrival time, Unix nanoseconds; 0 = unknown
	region_path   Array(String),    -- root to deepest; empty when unlocated
	has_point     UInt8,
	wlon          Float64,
	wlat          Float64
) ENGINE = MergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (type, toStartOfDay(at), category, region_path[2], region_path[3], at);

CREATE TABLE IF NOT EXISTS event_private (
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
ORDER BY id;

CREATE TABLE IF NOT EXISTS checkpoints (
	part          UInt16,
	intake_offset UInt64,
	version       UInt64,          -- increasing per partition; read with argMax
	written_at    DateTime('UTC')
) ENGINE = ReplacingMergeTree(version)
ORDER BY part;

CREATE TABLE IF NOT EXISTS rollup_hour (
	t DateTime('UTC'),
	part     UInt16,
	type     String,
	category String,
	path     Array(String),  -- region_path of the counted events (root to leaf; empty: unlocated)
	n        Int64
) ENGINE = SummingMergeTree(n)
PARTITION BY toYYYYMM(t)
ORDER BY (type, t, category, path, part);

CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_hour_mv TO rollup_hour AS
SELECT toStartOfHour(at) AS t, part, type, category, region_path AS path, toInt64(count()) AS n
FROM events
GROUP BY t, part, type, category, path;

CREATE TABLE IF NOT EXISTS rollup_day (
	day Date,
	part     UInt16,
	type     String,
	category String,
	path     Array(String),  -- region_path of the counted events (root to leaf; empty: unlocated)
	n        Int64
) ENGINE = SummingMergeTree(n)
PARTITION BY toYYYYMM(day)
ORDER BY (type, day, category, path, part);

CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_day_mv TO rollup_day AS
SELECT toDate(at, 'Asia/Shanghai') AS day, part, type, category, region_path AS path, toInt64(count()) AS n
FROM events
GROUP BY day, part, type, category, path;

ALTER TABLE events ADD COLUMN close_reason String;

ALTER TABLE events ADD COLUMN category_text String;

ALTER TABLE events ADD COLUMN supersedes String;

ALTER TABLE events ADD COLUMN survey String;
