-- Zhili history store on a ClickHouse cluster (>= 22.8): ReplicatedMergeTree tables *_local on
-- every shard, Distributed tables under the names Zhili uses, rollups computed on each shard.
-- Run with: clickhouse-client --multiquery < cluster.sql  (on any one node; ON CLUSTER does the rest)
-- Cluster name: zhili (remote_servers in config), macros {shard} and {replica} on each node.
-- See README.md.

CREATE DATABASE IF NOT EXISTS zhili ON CLUSTER zhili;

CREATE TABLE IF NOT EXISTS zhili.schema_migrations_local ON CLUSTER zhili (
	version        UInt32,
	name           String,
	variant        String,   -- server-dependent choices: column types, TTL, the rollup zone
	server_version String,
	applied_at     DateTime('UTC')
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/zhili/schema_migrations', '{replica}')
ORDER BY version;

CREATE TABLE IF NOT EXISTS zhili.schema_migrations ON CLUSTER zhili AS zhili.schema_migrations_local
ENGINE = Distributed(zhili, zhili, schema_migrations_local, rand());

CREATE TABLE IF NOT EXISTS zhili.events_local ON CLUSTER zhili (
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
	close_reason  LowCardinality(String),  -- case.closed: "" (fixed), not_fixed, duplicate, transferred, cancelled (migration 5)
	category_text String,                  -- case.reported: the source's wording of the category (migration 5)
	supersedes    String,                  -- case events: the id of the event this correction supersedes (migration 6)
	survey        String,                  -- evaluation.survey: its content as JSON (migration 7)
	INDEX case_idx case_id TYPE bloom_filter GRANULARITY 4
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/zhili/events', '{replica}')
PARTITION BY toYYYYMM(at)
ORDER BY (type, toStartOfDay(at), category, region_path[2], region_path[3], at);

CREATE TABLE IF NOT EXISTS zhili.events ON CLUSTER zhili AS zhili.events_local
ENGINE = Distributed(zhili, zhili, events_local, cityHash64(id));

CREATE TABLE IF NOT EXISTS zhili.event_private_local ON CLUSTER zhili (
	id                 String,
	part               UInt16,
	at                 DateTime('UTC'),
	has_reporter       UInt8,
	reporter_name      String,
	reporter_phone     String,
	reporter_id_number String,
	address            String,
	summary            String
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/zhili/event_private', '{replica}')
ORDER BY id;

CREATE TABLE IF NOT EXISTS zhili.event_private ON CLUSTER zhili AS zhili.event_private_local
ENGINE = Distributed(zhili, zhili, event_private_local, cityHash64(id));

CREATE TABLE IF NOT EXISTS zhili.checkpoints_local ON CLUSTER zhili (
	part          UInt16,
	intake_offset UInt64,
	version       UInt64,          -- increasing per partition; read with argMax
	written_at    DateTime('UTC')
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/zhili/checkpoints', '{replica}', version)
ORDER BY part;

CREATE TABLE IF NOT EXISTS zhili.checkpoints ON CLUSTER zhili AS zhili.checkpoints_local
ENGINE = Distributed(zhili, zhili, checkpoints_local, part);

CREATE TABLE IF NOT EXISTS zhili.rollup_hour_local ON CLUSTER zhili (
	t DateTime('UTC'),
	part     UInt16,
	type     LowCardinality(String),
	category LowCardinality(String),
	path     Array(String),  -- region_path of the counted events (root to leaf; empty: unlocated)
	n        Int64
) ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/zhili/rollup_hour', '{replica}', n)
PARTITION BY toYYYYMM(t)
ORDER BY (type, t, category, path, part);

CREATE TABLE IF NOT EXISTS zhili.rollup_hour ON CLUSTER zhili AS zhili.rollup_hour_local
ENGINE = Distributed(zhili, zhili, rollup_hour_local, rand());

-- On each shard: rows inserted into events_local (by the Distributed table) feed the local rollup.
CREATE MATERIALIZED VIEW IF NOT EXISTS zhili.rollup_hour_mv ON CLUSTER zhili TO zhili.rollup_hour_local AS
SELECT toStartOfHour(at) AS t, part, type, category, region_path AS path, toInt64(count()) AS n
FROM zhili.events_local
GROUP BY t, part, type, category, path;

CREATE TABLE IF NOT EXISTS zhili.rollup_day_local ON CLUSTER zhili (
	day Date,
	part     UInt16,
	type     LowCardinality(String),
	category LowCardinality(String),
	path     Array(String),  -- region_path of the counted events (root to leaf; empty: unlocated)
	n        Int64
) ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/zhili/rollup_day', '{replica}', n)
PARTITION BY toYYYYMM(day)
ORDER BY (type, day, category, path, part);

CREATE TABLE IF NOT EXISTS zhili.rollup_day ON CLUSTER zhili AS zhili.rollup_day_local
ENGINE = Distributed(zhili, zhili, rollup_day_local, rand());

-- On each shard: rows inserted into events_local (by the Distributed table) feed the local rollup.
CREATE MATERIALIZED VIEW IF NOT EXISTS zhili.rollup_day_mv ON CLUSTER zhili TO zhili.rollup_day_local AS
SELECT toDate(at, 'Asia/Shanghai') AS day, part, type, category, region_path AS path, toInt64(count()) AS n
FROM zhili.events_local
GROUP BY day, part, type, category, path;

-- Record the schema as applied, so that `zhili migrate` and OpenClickHouse apply nothing. The
-- variant of version 4 names the rollup_day zone: keep it equal to the one in rollup_day_mv.
INSERT INTO zhili.schema_migrations (version, name, variant, server_version, applied_at) VALUES
	(1, 'events', 'case_id bloom_filter;dict=LowCardinality(String);cluster', version(), now()),
	(2, 'checkpoints', 'cluster', version(), now()),
	(3, 'rollup_hour', 'cluster', version(), now()),
	(4, 'rollup_day', 'zone=Asia/Shanghai;cluster', version(), now()),
	(5, 'close_reason_category_text', 'dict=LowCardinality(String);cluster', version(), now()),
	(6, 'supersedes', 'cluster', version(), now()),
	(7, 'survey', 'cluster', version(), now());
