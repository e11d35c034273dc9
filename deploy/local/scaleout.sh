#!/usr/bin/env bash
# A scaled-out Zhili on one machine, from Debian's packages (redis-server, clickhouse-server):
# throw-away Redis and ClickHouse on loopback ports with their data in a temp dir, the schema
# migrated, two aggregator processes and two server processes. Ctrl-C stops everything.
#
#   deploy/local/scaleout.sh [path/to/zhili]      (default bin/zhili; `make build` first)
#
# Environment: PARTITIONS (4), KEY / TOKEN (ingest key / viewer token: k / t), BASE_PORT (18700),
# DEMO_RATE (0: no feed; e.g. 20 for the demo feed through server 1), REGIONS (builtin:xinyang).
set -euo pipefail
ZHILI=${1:-bin/zhili}
PARTITIONS=${PARTITIONS:-4}
KEY=${KEY:-k}
TOKEN=${TOKEN:-t}
BASE=${BASE_PORT:-18700}
REGIONS=${REGIONS:-builtin:xinyang}
DIR=$(mktemp -d /tmp/zhili-scaleout.XXXXXX)
REDIS_PORT=$((BASE + 79)) CH_TCP=$((BASE + 90)) CH_HTTP=$((BASE + 91)) CH_INTER=$((BASE + 92))
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; echo "data and logs kept in $DIR"; }
trap cleanup EXIT INT TERM

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$DIR" --appendonly yes --appendfsync always \
  --save '' --protected-mode no --logfile "$DIR/redis.log" &
pids+=($!)

mkdir -p "$DIR/ch/log"
cat > "$DIR/ch/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <profiles><default></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
    <profile>default</profile><quota>default</quota></default></users>
  <quotas><default></default></quotas>
</yandex>
XML
cat > "$DIR/ch/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>$DIR/ch/log/server.log</log><errorlog>$DIR/ch/log/error.log</errorlog><console>0</console></logger>
  <listen_host>127.0.0.1</listen_host>
  <tcp_port>$CH_TCP</tcp_port><http_port>$CH_HTTP</http_port><interserver_http_port>$CH_INTER</interserver_http_port>
  <path>$DIR/ch/data/</path><tmp_path>$DIR/ch/tmp/</tmp_path>
  <user_files_path>$DIR/ch/user_files/</user_files_path><format_schema_path>$DIR/ch/format_schemas/</format_schema_path>
  <mark_cache_size>268435456</mark_cache_size>
  <timezone>UTC</timezone>
  <default_profile>default</default_profile><default_database>default</default_database>
  <users_config>$DIR/ch/users.xml</users_config>
</yandex>
XML
(cd "$DIR/ch" && exec clickhouse-server --config-file="$DIR/ch/config.xml" >"$DIR/ch/stdout.log" 2>&1) &
pids+=($!)

for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$CH_TCP") 2>/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$REDIS_PORT") 2>/dev/null && break
  sleep 0.2
done
DSN="clickhouse://127.0.0.1:$CH_TCP/default"
"$ZHILI" migrate --clickhouse "$DSN"
common=(--redis "redis://127.0.0.1:$REDIS_PORT/0" --clickhouse "$DSN" --partitions "$PARTITIONS"
        --regions "$REGIONS" --ingest-key "$KEY" --view-token "$TOKEN" --data "$DIR/data")
for i in 1 2; do
  "$ZHILI" serve --role aggregator --name "aggregator-$i" --listen "127.0.0.1:$((BASE + 10 + i))" "${common[@]}" \
    2>"$DIR/aggregator-$i.log" &
  pids+=($!)
done
for i in 1 2; do
  feed=()
  if [ "$i" = 1 ] && [ "${DEMO_RATE:-0}" != 0 ]; then feed=(--demo --demo-rate "$DEMO_RATE"); fi
  "$ZHILI" serve --role server --name "server-$i" --listen "127.0.0.1:$((BASE + i))" "${common[@]}" "${feed[@]}" \
    2>"$DIR/server-$i.log" &
  pids+=($!)
done
for i in 1 2; do
  until curl -fs "http://127.0.0.1:$((BASE + i))/readyz" >/dev/null; do sleep 0.2; done
done
echo "servers:     http://127.0.0.1:$((BASE + 1)),http://127.0.0.1:$((BASE + 2))   (ingest key $KEY, viewer token $TOKEN)"
echo "screens:     http://127.0.0.1:$((BASE + 1))/?token=$TOKEN   http://127.0.0.1:$((BASE + 2))/?token=$TOKEN"
echo "aggregators: http://127.0.0.1:$((BASE + 11))/readyz   http://127.0.0.1:$((BASE + 12))/readyz"
echo "logs:        $DIR"
wait
