#!/usr/bin/env bash
# bench-wal.sh — does WAL archiving keep up? `dhanbak wal-push` as the archive_command of a real
# PostgreSQL 15 server, into a local repository and into the bundled B2 emulator.
#
#   scripts/bench-wal.sh [SCALE] [OLTP_SECONDS]   SCALE of the bulk load (default 1.0: the 1 GB
#                                                  prod-dhanman-sales generator), pgbench duration
#                                                  (default 60)
#
# For each repository (file://, then b2:// on the emulator with [b2] connections = 4) a fresh
# cluster archives with dhanbak while it takes
#   bulk  the generator's load (INSERT ... SELECT of about 1 GB per 1.0 of scale, WAL-bound)
#   oltp  pgbench -c 4 -j 2 for OLTP_SECONDS on a scale-20 pgbench database
# Every second the script counts the `.ready` files in pg_wal/archive_status (segments waiting
# for the archiver) and reads pg_stat_archiver. It prints, per run: WAL written, segments
# archived, the largest backlog, how long after the load ended the archive caught up, and the
# archiving rate; then wal-push's own throughput (archiving paused while about 0.5 GB of WAL
# piles up, then the time the backlog takes to drain); then the time to fetch every archived
# segment back with `wal-fetch` (as a recovery would, one call per segment, with read-ahead);
# then a base backup of the whole cluster, a second one of the unchanged cluster (what it stores is
# what deduplication leaves), and `restore-cluster --at latest` from it, per step and per GiB.
# Nothing here runs in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
scale=${1:-1.0}
oltp_seconds=${2:-60}
build=${DHANBAK_BUILD_DIR:-$root/build/release}

scripts/install-deps.sh >/dev/null
[[ -f $build/CMakeCache.txt ]] || cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target dhanbak dhanbak-b2-emulator >/dev/null
pgbin=/usr/lib/postgresql/15/bin
export PATH="$pgbin:$PATH"

work=$(mktemp -d /tmp/dhanbak-bench-wal-XXXXXX)
chmod 755 "$work"
# archive_command runs as the server's OS user: everything it touches lives in a directory it owns.
dh="$work/dh"; mkdir -p "$dh"
cp "$build/src/dhanbak" "$dh/dhanbak"; chmod 755 "$dh/dhanbak"
run_pg=()
if [[ $(id -u) -eq 0 ]]; then run_pg=(runuser -u postgres --); fi
free_port() {
  local c
  for _ in $(seq 1 50); do
    c=$((20000 + RANDOM % 30000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$c") 2>/dev/null; then echo "$c"; return; fi
  done
  echo "bench-wal: no free port" >&2; exit 1
}
emulator_pid=""
pgdata=""
cleanup() {
  [[ -n $pgdata ]] && "${run_pg[@]}" pg_ctl -D "$pgdata" -m immediate stop >/dev/null 2>&1 || true
  if [[ -n $emulator_pid ]]; then kill -TERM "$emulator_pid" 2>/dev/null || true; wait "$emulator_pid" 2>/dev/null || true; fi
  pkill -f "$dh/dhanbak" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

key_id="0051wal$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
key="K005$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
"$build/src/emulator/dhanbak-b2-emulator" --listen 127.0.0.1:0 --data-dir "$work/emulator" --key "$key_id:$key" \
  --bucket dhanman-wal >"$work/emulator.out" 2>"$work/emulator.log" &
emulator_pid=$!
api=""
for _ in $(seq 1 100); do
  api=$(sed -n 's/^listening on \(http:.*\)$/\1/p' "$work/emulator.out")
  [[ -n $api ]] && break
  sleep 0.1
done
[[ -n $api ]] || { echo "bench-wal: the emulator did not start" >&2; cat "$work/emulator.log" >&2; exit 1; }
printf '%s' "$key_id" > "$dh/key_id"; printf '%s' "$key" > "$dh/key"
echo "bench-wal passphrase" > "$dh/pass"
chmod 600 "$dh/pass" "$dh/key_id" "$dh/key"

config() {  # name url
  {
    printf '[repository]\nurl = "%s"\npassphrase = "file:%s/pass"\n' "$2" "$dh"
    printf '[b2]\nkey_id = "file:%s/key_id"\napplication_key = "file:%s/key"\napi_url = "%s"\nconnections = 4\n' "$dh" "$dh" "$api"
    printf '[catalog]\npath = "%s/catalog-%s.sqlite"\n[pitr]\nspool_dir = "%s/spool-%s"\n' "$dh" "$1" "$dh" "$1"
  } > "$dh/$1.toml"
}
config local "file://$dh/repo-local"
config b2 "b2://dhanman-wal/wal-bench"
chown -R postgres: "$dh" 2>/dev/null || true
as_pg() { "${run_pg[@]}" "$@"; }

rows=()
base_rows=()
fetch_rows=()
drain_rows=()
sample() {  # label pgdata -> samples every second until $work/stop exists
  local max=0 n
  : > "$work/samples-$1"
  while [[ ! -e $work/stop ]]; do
    n=$(find "$2/pg_wal/archive_status" -name '*.ready' 2>/dev/null | wc -l)
    (( n > max )) && max=$n
    echo "$(date +%s) $n" >> "$work/samples-$1"
    sleep 1
  done
  echo "$max" > "$work/max-$1"
}
wait_archived() {  # pgdata -> seconds until no .ready file is left
  local t0=$SECONDS
  while (( $(find "$1/pg_wal/archive_status" -name '*.ready' | wc -l) > 0 )); do
    sleep 0.2
    (( SECONDS - t0 > 1800 )) && { echo "bench-wal: archiving did not catch up in 30 minutes" >&2; exit 1; }
  done
  echo $(( SECONDS - t0 ))
}

for target in local b2; do
  pgdata="$work/pg-$target/data"
  mkdir -p "$work/pg-$target"; chown postgres: "$work/pg-$target" 2>/dev/null || true
  as_pg initdb -D "$pgdata" -A trust -U postgres --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  port=$(free_port)
  cat >> "$pgdata/postgresql.conf" <<CONF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$work/pg-$target'
fsync = off
synchronous_commit = off
max_wal_size = 4GB
wal_level = replica
archive_mode = on
archive_command = '$dh/dhanbak -c $dh/$target.toml wal-push %p'
archive_timeout = 60
CONF
  as_pg "$dh/dhanbak" -c "$dh/$target.toml" --no-progress -q init >/dev/null
  as_pg pg_ctl -D "$pgdata" -l "$work/pg-$target/log" -w start >/dev/null
  export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres
  for load in bulk oltp; do
    label="$target $load"
    lsn0=$(psql -X -At -c "SELECT pg_current_wal_lsn()")
    archived0=$(psql -X -At -c "SELECT archived_count FROM pg_stat_archiver")
    rm -f "$work/stop"
    sample "$target-$load" "$pgdata" &
    sampler=$!
    t0=$SECONDS
    if [[ $load == bulk ]]; then
      createdb bench
      psql -X -q -v ON_ERROR_STOP=1 -v db=sales -v scale="$scale" -d bench -f scripts/gen-sample-data.sql >/dev/null
    else
      createdb pgb
      pgbench -q -i -s 20 pgb >/dev/null 2>&1
      pgbench -c 4 -j 2 -T "$oltp_seconds" pgb >/dev/null 2>&1
    fi
    load_secs=$(( SECONDS - t0 ))
    psql -X -At -c "SELECT pg_switch_wal()" >/dev/null
    catchup=$(wait_archived "$pgdata")
    touch "$work/stop"; wait "$sampler"
    wal_mib=$(psql -X -At -c "SELECT (pg_current_wal_lsn() - '$lsn0') / 1048576")
    archived=$(( $(psql -X -At -c "SELECT archived_count FROM pg_stat_archiver") - archived0 ))
    failed=$(psql -X -At -c "SELECT failed_count FROM pg_stat_archiver")
    rate=$(awk "BEGIN { printf \"%.1f\", $archived / ($load_secs + $catchup) }")
    rows+=("$label|$load_secs|${wal_mib%.*}|$archived|$(cat "$work/max-$target-$load")|$catchup|$rate|$failed")
    echo "$label: ${load_secs}s load, $archived segments, backlog max $(cat "$work/max-$target-$load"), caught up ${catchup}s after" >&2
  done
  # Throughput: archiving paused (archive_command = false) while 0.5 GB of WAL piles up, then
  # turned back on; the rate at which the backlog drains is wal-push's own segments per second.
  sed -i "s|^archive_command = .*|archive_command = '/bin/false'|" "$pgdata/postgresql.conf"
  psql -X -q -c "SELECT pg_reload_conf()" >/dev/null
  createdb drain
  psql -X -q -v ON_ERROR_STOP=1 -v db=sales -v scale=0.35 -d drain -f scripts/gen-sample-data.sql >/dev/null
  psql -X -At -c "SELECT pg_switch_wal()" >/dev/null
  backlog=$(find "$pgdata/pg_wal/archive_status" -name '*.ready' | wc -l)
  sed -i "s|^archive_command = .*|archive_command = '$dh/dhanbak -c $dh/$target.toml wal-push %p'|" "$pgdata/postgresql.conf"
  t0=$(date +%s.%N)
  psql -X -q -c "SELECT pg_reload_conf()" >/dev/null
  wait_archived "$pgdata" >/dev/null
  t1=$(date +%s.%N)
  drain_rows+=("$target|$backlog|$(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }")|$(awk "BEGIN { printf \"%.1f\", $backlog / ($t1 - $t0) }")|$(awk "BEGIN { printf \"%.0f\", 16 * $backlog / ($t1 - $t0) }")")
  echo "$target drain: $backlog segments" >&2

  # Read every archived segment back, one wal-fetch per segment as a recovery does.
  mkdir -p "$work/fetch-$target"; chown postgres: "$work/fetch-$target" 2>/dev/null || true
  last=$(psql -X -At -c "SELECT last_archived_wal FROM pg_stat_archiver")
  last_n=$(( 16#${last:8:8} * 256 + 16#${last:16:8} ))
  t0=$(date +%s.%N); n=0
  for (( i = 1; i <= last_n; i++ )); do
    as_pg "$dh/dhanbak" -c "$dh/$target.toml" --no-progress -q wal-fetch "$(printf '00000001%08X%08X' $((i / 256)) $((i % 256)))" \
      "$work/fetch-$target/RECOVERYXLOG"
    n=$((n + 1))
  done
  t1=$(date +%s.%N)
  fetch_rows+=("$target|$n|$(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }")|$(awk "BEGIN { printf \"%.1f\", $n / ($t1 - $t0) }")")

  # A base backup of the whole cluster, a second one of the unchanged cluster (what it adds is
  # the deduplication), and the whole cluster restored from it to the latest archived point.
  printf '[postgres]\nconninfo = "host=127.0.0.1 port=%s user=postgres"\n' "$port" >> "$dh/$target.toml"
  first=$(as_pg "$dh/dhanbak" -c "$dh/$target.toml" --no-progress -q --json base-backup)
  second=$(as_pg "$dh/dhanbak" -c "$dh/$target.toml" --no-progress -q --json base-backup)
  psql -X -At -c "SELECT pg_switch_wal()" >/dev/null
  wait_archived "$pgdata" >/dev/null
  mkdir -p "$work/restored-$target"; chown postgres: "$work/restored-$target" 2>/dev/null || true
  restored=$(as_pg "$dh/dhanbak" -c "$dh/$target.toml" --no-progress -q --json restore-cluster --at latest \
    --pgdata "$work/restored-$target")
  field() { sed -n "s/^ *\"$2\": \([0-9.]*\),\{0,1\}$/\1/p" <<<"$1" | head -1; }
  bytes=$(field "$first" bytes)
  base_rows+=("$target|$(awk "BEGIN { printf \"%.2f\", $bytes / 1073741824 }")|$(field "$first" seconds)|$(awk "BEGIN { printf \"%.0f\", $bytes / 1048576 / $(field "$first" seconds) }")|$(awk "BEGIN { printf \"%.1f\", $(field "$first" stored_bytes) / 1048576 }")|$(awk "BEGIN { printf \"%.1f\", $(field "$second" stored_bytes) / 1048576 }")|$(field "$restored" files)|$(field "$restored" replay)|$(field "$restored" promote)|$(awk "BEGIN { printf \"%.1f\", ($(field "$restored" plan) + $(field "$restored" files) + $(field "$restored" verify) + $(field "$restored" replay) + $(field "$restored" promote)) / ($bytes / 1073741824) }")")
  echo "$target base backup and restore-cluster done" >&2
  rm -rf "$work/restored-$target"
  as_pg pg_ctl -D "$pgdata" -m fast stop >/dev/null
  pgdata=""
done

echo
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; bulk load at scale $scale, pgbench for ${oltp_seconds}s"
echo
echo "| repository, load | load (s) | WAL (MiB) | segments archived | largest backlog (segments) | caught up after the load (s) | archived segments/s | archiver failures |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for r in "${rows[@]}"; do IFS='|' read -r a b c d e f g h <<<"$r"; echo "| $a | $b | $c | $d | $e | $f | $g | $h |"; done
echo
echo "| repository | backlog of ready segments | drained in (s) | wal-push segments/s | MiB/s |"
echo "|---|---:|---:|---:|---:|"
for r in "${drain_rows[@]}"; do IFS='|' read -r a b c d e <<<"$r"; echo "| $a | $b | $c | $d | $e |"; done
echo
echo "| repository | segments fetched back (one wal-fetch each) | seconds | segments/s |"
echo "|---|---:|---:|---:|"
for r in "${fetch_rows[@]}"; do IFS='|' read -r a b c d <<<"$r"; echo "| $a | $b | $c | $d |"; done
echo
echo "| repository | cluster (GiB) | base-backup (s) | MiB/s | stored (MiB) | second base-backup stored (MiB) | restore-cluster files (s) | replay (s) | promote+shutdown (s) | restore-cluster s per GiB |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for r in "${base_rows[@]}"; do IFS='|' read -r a b c d e f g h i j <<<"$r"; echo "| $a | $b | $c | $d | $e | $f | $g | $h | $i | $j |"; done
