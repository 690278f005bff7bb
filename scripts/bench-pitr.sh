#!/usr/bin/env bash
# bench-pitr.sh — the RTO of one database brought back at a point in time from the WAL archive,
# against the nightly restore of the same database (issue 10).
#
#   scripts/bench-pitr.sh [SCALE]   SCALE of prod-dhanman-sales (default 1.0: the 1 GB database)
#
# A fresh PostgreSQL 15 cluster archives through `dhanbak wal-push` into a local repository. It
# holds prod-dhanman-sales at SCALE and prod-dhanman-common at SCALE / 4. Then:
#   1. `dhanbak backup prod-dhanman-sales` (the nightly backup) and `dhanbak base-backup`;
#   2. a day's work after them: 1% of the rows of every sales table updated, and a new database
#      loaded (prod-dhanman-purchase at SCALE / 4), so that the replay has WAL to apply; TIME is
#      recorded after it and the segment holding it is archived;
#   3. `restore prod-dhanman-sales --backup <nightly> --target-db ...` (the nightly restore), and
#      `restore prod-dhanman-sales --at TIME --source wal --target-db ...` (point in time).
# Prints one table: each restore's wall clock and the point-in-time restore's phases (base backup
# files with pg_verifybackup, WAL replay with promotion, copy-out, then the restore engine's own
# phases), the ratio to the nightly restore, and the target (2 x nightly + replay).
# Nothing here runs in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
scale=${1:-1.0}
build=${DHANBAK_BUILD_DIR:-$root/build/release}

scripts/install-deps.sh >/dev/null
[[ -f $build/CMakeCache.txt ]] || cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target dhanbak >/dev/null
pgbin=/usr/lib/postgresql/15/bin
export PATH="$pgbin:$PATH"

work=$(mktemp -d /tmp/dhanbak-bench-pitr-XXXXXX)
chmod 755 "$work"
dh="$work/dh"; mkdir -p "$dh"
cp "$build/src/dhanbak" "$dh/dhanbak"; chmod 755 "$dh/dhanbak"
run_pg=()
if [[ $(id -u) -eq 0 ]]; then run_pg=(runuser -u postgres --); fi
as_pg() { "${run_pg[@]}" "$@"; }
pgdata="$work/pg/data"
cleanup() {
  as_pg pg_ctl -D "$pgdata" -m immediate stop >/dev/null 2>&1 || true
  pkill -f "$dh/dhanbak" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
port=$((20000 + RANDOM % 30000))
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((20000 + RANDOM % 30000)); done

echo "bench-pitr passphrase" > "$dh/pass"; chmod 600 "$dh/pass"
cat > "$dh/dhanbak.toml" <<TOML
[repository]
url = "file://$dh/repo"
passphrase = "file:$dh/pass"
[catalog]
path = "$dh/catalog.sqlite"
[postgres]
conninfo = "host=127.0.0.1 port=$port user=postgres"
jobs = 2
[pitr]
spool_dir = "$dh/spool"
scratch_dir = "$dh/scratch"
TOML
chmod 600 "$dh/dhanbak.toml"
mkdir -p "$work/pg"
chown -R postgres: "$dh" "$work/pg" 2>/dev/null || true
as_pg initdb -D "$pgdata" -A trust -U postgres --encoding=UTF8 --locale=C.UTF-8 >/dev/null
cat >> "$pgdata/postgresql.conf" <<CONF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$work/pg'
fsync = off
synchronous_commit = off
max_wal_size = 4GB
maintenance_work_mem = 256MB
wal_level = replica
archive_mode = on
archive_command = '$dh/dhanbak -c $dh/dhanbak.toml wal-push %p'
archive_timeout = 60
CONF
dhanbak() { as_pg "$dh/dhanbak" -c "$dh/dhanbak.toml" --no-progress -q "$@"; }
dhanbak init >/dev/null
as_pg pg_ctl -D "$pgdata" -l "$work/pg/log" -w start >/dev/null
export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres

load() {  # database generator-name scale
  createdb "$1"
  psql -X -q -v ON_ERROR_STOP=1 -v db="$2" -v scale="$3" -d "$1" -f scripts/gen-sample-data.sql >/dev/null
}
quarter=$(awk "BEGIN { print $scale / 4 }")
load prod-dhanman-sales sales "$scale"
load prod-dhanman-common common "$quarter"
psql -X -q -d prod-dhanman-sales -c "VACUUM ANALYZE" >/dev/null
echo "bench-pitr: loaded $(psql -X -At -c "SELECT pg_size_pretty(pg_database_size('prod-dhanman-sales'))") of sales" >&2

nightly=$(dhanbak --json backup prod-dhanman-sales | sed -n 's/^ *"backup_id": "\(.*\)",\{0,1\}$/\1/p' | head -1)
[[ -n $nightly ]] || { echo "bench-pitr: the nightly backup failed" >&2; exit 1; }
dhanbak base-backup >/dev/null
echo "bench-pitr: nightly backup $nightly and a base backup taken" >&2

# A day's work: 1% of every sales table's rows updated, and a new database.
psql -X -q -d prod-dhanman-sales -v ON_ERROR_STOP=1 <<'SQL' >/dev/null
DO $$
DECLARE t record; c text;
BEGIN
  FOR t IN SELECT format('%I.%I', n.nspname, r.relname) AS name, r.oid FROM pg_class r
           JOIN pg_namespace n ON n.oid = r.relnamespace
           WHERE r.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') LOOP
    SELECT format('%I', attname) INTO c FROM pg_attribute
     WHERE attrelid = t.oid AND attnum > 0 AND NOT attisdropped ORDER BY attnum LIMIT 1;
    EXECUTE format('UPDATE %s SET %s = %s WHERE random() < 0.01', t.name, c, c);
  END LOOP;
END $$;
SQL
load prod-dhanman-purchase purchase "$quarter"
sleep 1.1
at=$(psql -X -At -c "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
sleep 1.1
psql -X -q -d prod-dhanman-common -c "CREATE TABLE after_the_point AS SELECT 1 AS x" >/dev/null
wal_mib=$(psql -X -At -c "SELECT round(sum(size) / 1048576.0) FROM pg_ls_waldir()")
last=$(psql -X -At -c "SELECT pg_walfile_name(pg_switch_wal())")
until [[ $(psql -X -At -c "SELECT last_archived_wal >= '$last' FROM pg_stat_archiver") == t ]]; do sleep 0.5; done
echo "bench-pitr: TIME $at, archived through $last" >&2

cluster_gib=$(psql -X -At -c "SELECT round(sum(pg_database_size(datname)) / 1073741824.0, 2) FROM pg_database")
t0=$(date +%s.%N)
nightly_json=$(dhanbak --json restore prod-dhanman-sales --backup "$nightly" --target-db sales_nightly)
t1=$(date +%s.%N)
pitr_json=$(dhanbak --json restore prod-dhanman-sales --at "$at" --source wal --target-db sales_pitr)
t2=$(date +%s.%N)
nightly_s=$(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }")
pitr_s=$(awk "BEGIN { printf \"%.1f\", $t2 - $t1 }")
replay=$(python3 -c 'import json,sys; print("%.1f" % sum(p["seconds"] for p in json.loads(sys.argv[1])["phases"] if p["phase"] == "replay"))' "$pitr_json")

echo
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; prod-dhanman-sales at scale $scale; cluster $cluster_gib GiB; WAL after the base backup ~${wal_mib} MiB"
echo
echo "| restore of prod-dhanman-sales | wall clock (s) | ratio to nightly |"
echo "|---|---:|---:|"
echo "| nightly backup (--backup) | $nightly_s | 1.00 |"
echo "| point in time (--at, WAL archive) | $pitr_s | $(awk "BEGIN { printf \"%.2f\", $pitr_s / $nightly_s }") |"
echo "| target: 2 x nightly + replay | $(awk "BEGIN { printf \"%.1f\", 2 * $nightly_s + $replay }") | $(awk "BEGIN { printf \"%.2f\", (2 * $nightly_s + $replay) / $nightly_s }") |"
python3 - "$nightly_json" "$pitr_json" "$pitr_s" <<'PY'
import json, sys
nightly, pitr, total = json.loads(sys.argv[1]), json.loads(sys.argv[2]), float(sys.argv[3])
n = {p["phase"]: p["seconds"] for p in nightly["phases"]}
print("\n| phase | point in time (s) | share | nightly (s) |\n|---|---:|---:|---:|")
for p in pitr["phases"]:
    print("| %s | %.1f | %.0f%% | %s |" % (p["phase"], p["seconds"], 100 * p["seconds"] / total,
                                        "%.1f" % n[p["phase"]] if p["phase"] in n else "-"))
print("\nlast transaction replayed: %s (asked for %s)" % (pitr.get("last_transaction"), pitr.get("target_time")))
PY
