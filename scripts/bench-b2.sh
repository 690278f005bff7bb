#!/usr/bin/env bash
# bench-b2.sh — dhanbak backup/restore through the B2 native API (the bundled emulator) against
# the local-directory backend, and the cost of B2's transient faults.
#
#   scripts/bench-b2.sh [SCALE]   SCALE of the generated prod-dhanman-sales database (default 1.0,
#                                 about 1 GB of COPY text; 0.1 for a quick run)
#
#   DHANBAK_BUILD_DIR   build directory to use (default build/release; built if needed)
#   B2_CONNECTIONS      [b2] connections (default 4, dhanbak's default)
#
# Starts a throwaway PostgreSQL 15 cluster and a dhanbak-b2-emulator on free ports, generates the
# database, then times (wall clock and peak RSS from /usr/bin/time), each into a fresh repository:
#   local      file:// repository                     backup, then restore (verified)
#   b2         b2:// on the emulator                  backup, then restore (verified)
#   b2+faults  b2:// on the emulator with 10% of all requests answered 503, the token of every 50th
#              request expired, and every token expiring after 50 uses
#                                                     backup, then restore (verified)
# and reads the emulator's request counters (/_emulator/stats) for each step: requests, requests
# per GB of COPY text, and the 503 / 401 answers dhanbak had to retry. Prints a Markdown table.
# The emulator runs on the same machine (loopback, same disk), so the b2/local ratio measures
# the protocol's overhead (HTTP round trips, SHA-1, listing), not a network. Nothing here runs in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
scale=${1:-1.0}
build=${DHANBAK_BUILD_DIR:-$root/build/release}
connections=${B2_CONNECTIONS:-4}

scripts/install-deps.sh >/dev/null
command -v /usr/bin/time >/dev/null || { apt-get install -y -qq time >/dev/null; }
command -v jq >/dev/null || { apt-get install -y -qq jq >/dev/null; }
command -v curl >/dev/null || { apt-get install -y -qq curl >/dev/null; }
[[ -f $build/CMakeCache.txt ]] || cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target dhanbak dhanbak-b2-emulator >/dev/null
dhanbak_bin="$build/src/dhanbak"
emulator_bin="$build/src/emulator/dhanbak-b2-emulator"

pgbin=/usr/lib/postgresql/15/bin
work=$(mktemp -d /tmp/dhanbak-bench-b2-XXXXXX)
chmod 755 "$work"
pgdir="$work/pg"; mkdir -p "$pgdir"
run_pg=(); root_flag=()
if [[ $(id -u) -eq 0 ]]; then run_pg=(runuser -u postgres --); chown postgres "$pgdir"; root_flag=(--allow-root); fi
port=""
for _ in $(seq 1 50); do
  c=$((20000 + RANDOM % 30000))
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$c") 2>/dev/null; then port=$c; break; fi
done
[[ -n $port ]] || { echo "bench-b2: no free port found" >&2; exit 1; }
emulator_pid=""
cleanup() {
  if [[ -n $emulator_pid ]]; then kill -TERM "$emulator_pid" 2>/dev/null || true; wait "$emulator_pid" 2>/dev/null || true; fi
  "${run_pg[@]}" "$pgbin/pg_ctl" -D "$pgdir/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
"${run_pg[@]}" "$pgbin/initdb" -D "$pgdir/data" -A trust -U postgres --encoding=UTF8 --locale=C.UTF-8 >/dev/null
"${run_pg[@]}" "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/log" -w \
  -o "-p $port -c listen_addresses=127.0.0.1 -k $pgdir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_wal_size=4GB -c maintenance_work_mem=256MB" start >/dev/null
export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres PATH="$pgbin:$PATH"

echo "generating prod-dhanman-sales at scale $scale ..." >&2
createdb bench
psql -X -q -v ON_ERROR_STOP=1 -v db=sales -v scale="$scale" -d bench -f scripts/gen-sample-data.sql >/dev/null

# The emulator: one key, one bucket, data on the same disk as the local repository.
key_id="0051bench$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
key="K005$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
bucket=dhanman-bench
: >"$work/emulator.out"
"$emulator_bin" --listen 127.0.0.1:0 --data-dir "$work/emulator" --key "$key_id:$key" --bucket "$bucket" \
  >"$work/emulator.out" 2>"$work/emulator.log" &
emulator_pid=$!
api=""
for _ in $(seq 1 100); do
  api=$(sed -n 's/^listening on \(http:.*\)$/\1/p' "$work/emulator.out")
  [[ -n $api ]] && break
  kill -0 "$emulator_pid" 2>/dev/null || break
  sleep 0.1
done
[[ -n $api ]] || { echo "bench-b2: the emulator did not start:" >&2; cat "$work/emulator.log" >&2; exit 1; }
export B2_APPLICATION_KEY_ID=$key_id B2_APPLICATION_KEY=$key

umask 077; echo "bench passphrase" > "$work/pass"; umask 022
config() {  # name url -> path of a config with its own repository and catalog
  {
    printf '[repository]\nurl = "%s"\npassphrase = "file:%s/pass"\n' "$2" "$work"
    printf '[b2]\nkey_id = "env:B2_APPLICATION_KEY_ID"\napplication_key = "env:B2_APPLICATION_KEY"\n'
    printf 'api_url = "%s"\nconnections = %s\n' "$api" "$connections"
    printf '[postgres]\nconninfo = "host=127.0.0.1 port=%s user=postgres"\ndatabases = ["bench"]\njobs = 2\n' "$port"
    printf '[catalog]\npath = "%s/catalog-%s.sqlite"\n' "$work" "$1"
  } > "$work/$1.toml"
  echo "$work/$1.toml"
}
dhanbak() { local cfg=$1; shift; "$dhanbak_bin" -c "$cfg" "${root_flag[@]}" --no-progress -q "$@"; }
stats() { curl -sf "$api/_emulator/stats"; }
reset_stats() { curl -sf -X POST -d "" "$api/_emulator/stats/reset" >/dev/null; }
faults() { curl -sf -X POST -H 'Content-Type: application/json' --data-binary "$1" "$api/_emulator/faults" >/dev/null; }

secs=0 rss=0
timed() {  # label command... -> secs, rss (MiB); exits on failure
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; echo "$label failed" >&2; exit 1; }
  if grep -qF "$key" "$work/err"; then echo "bench-b2: $label printed the application key" >&2; exit 1; fi
  read -r secs k < "$work/time"
  rss=$((k / 1024))
  echo "$label: ${secs}s, ${rss} MiB" >&2
}

rows=()
logical=0
run() {  # mode url
  local mode=$1 url=$2 cfg
  cfg=$(config "$mode" "$url")
  [[ $mode == b2+faults ]] && faults '{"rules":[{"status":503,"percent":10,"seed":7},{"kind":"expire_token","every":50}],"token_expiry":{"requests":50}}'
  dhanbak "$cfg" init >/dev/null
  for step in backup restore; do
    reset_stats
    if [[ $step == backup ]]; then
      timed "$mode backup" "$dhanbak_bin" -c "$cfg" "${root_flag[@]}" --no-progress -q backup
      logical=$(dhanbak "$cfg" --json list bench | jq '.backups[0].logical_bytes')
    else
      timed "$mode restore" "$dhanbak_bin" -c "$cfg" "${root_flag[@]}" --no-progress -q restore bench --at latest --target-db "r_$RANDOM"
    fi
    local s req=- e503=- e401=-
    if [[ $mode != local ]]; then
      s=$(stats)
      req=$(jq '.requests' <<<"$s")
      e503=$(jq '.by_status["503"] // 0' <<<"$s")
      e401=$(jq '.by_status["401"] // 0' <<<"$s")
    fi
    rows+=("$mode|$step|$secs|$rss|$req|$e503|$e401")
  done
  [[ $mode == b2+faults ]] && faults '{"rules":[],"token_expiry":{"requests":0,"seconds":0}}'
  # The restored copies are not needed any more: keep disk use down for large scales.
  for d in $(psql -X -At -d postgres -c "SELECT datname FROM pg_database WHERE datname LIKE 'r\_%'"); do dropdb "$d"; done
  return 0
}

run local "file://$work/repo-local"
run b2 "b2://$bucket/clean"
run b2+faults "b2://$bucket/faults"

gb=$(awk "BEGIN { print $logical / 1e9 }")
seconds_of() {  # backend step -> seconds
  local row rm rst rs
  for row in "${rows[@]}"; do
    IFS='|' read -r rm rst rs _ <<<"$row"
    if [[ $rm == "$1" && $rst == "$2" ]]; then echo "$rs"; fi
  done
}
echo
echo "prod-dhanman-sales at scale $scale: $logical bytes of COPY text ($(awk "BEGIN { printf \"%.3f\", $gb }") GB);" \
     "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; [b2] connections = $connections, [postgres] jobs = 2"
echo
echo "| backend | step | seconds | MB/s (COPY text) | time vs local | peak RSS (MiB) | B2 requests | requests per GB | 503 retried | 401 re-auth | added by faults (s) |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for r in "${rows[@]}"; do
  IFS='|' read -r m st s mem req e503 e401 <<<"$r"
  local_s=$(seconds_of local "$st")
  mbs=$(awk "BEGIN { printf \"%.1f\", $logical / 1e6 / ($s > 0 ? $s : 0.01) }")
  ratio=$(awk "BEGIN { printf \"%.2f×\", $s / ($local_s > 0 ? $local_s : 0.01) }")
  per_gb=-
  [[ $req != - ]] && per_gb=$(awk "BEGIN { printf \"%.0f\", $req / ($gb > 0 ? $gb : 1e-9) }")
  added=-
  if [[ $m == b2+faults ]]; then
    clean_s=$(seconds_of b2 "$st")
    added=$(awk "BEGIN { printf \"%+.1f\", $s - $clean_s }")
  fi
  echo "| $m | $st | $s | $mbs | $ratio | $mem | $req | $per_gb | $e503 | $e401 | $added |"
done
