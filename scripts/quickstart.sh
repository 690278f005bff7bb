#!/usr/bin/env bash
# quickstart.sh — a complete dhanbak backup → restore → verify cycle on a throwaway PostgreSQL 15
# cluster with sample Dhanman data and a local repository.
#
#   scripts/quickstart.sh [SCALE] [--b2]   SCALE of the sample data, default 0.01 (~20 MB)
#
# Installs dependencies, builds dhanbak, starts PostgreSQL on a free port in a temporary
# directory (as the postgres OS user when run as root), fills the six prod-dhanman-* databases,
# then runs `dhanbak init`, `backup`, `list` and `restore ... --at latest --target-db <db>_restored`
# for each database, and compares row counts. The cluster is stopped and removed at the end; the
# repository, catalog and configuration stay in the work directory it prints.
#
# With --b2 it also builds the bundled B2 emulator (dhanbak-b2-emulator), starts it on a free
# port with its data in the work directory, and runs init, backup, list and restore of two
# databases against a b2:// repository on it, the credentials passed as env: references
# (B2_APPLICATION_KEY_ID, B2_APPLICATION_KEY), exactly as production does against Backblaze.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
scale=0.01
b2=no
for arg in "$@"; do
  case $arg in
    --b2) b2=yes ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "quickstart: unknown option $arg (usage: scripts/quickstart.sh [SCALE] [--b2])" >&2; exit 2 ;;
    *) scale=$arg ;;
  esac
done

scripts/install-deps.sh
echo "=== building dhanbak"
cmake -S "$root" -B "$root/build/release" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
targets=(dhanbak)
[[ $b2 == yes ]] && targets+=(dhanbak-b2-emulator)
cmake --build "$root/build/release" -j "$(nproc)" --target "${targets[@]}"
dhanbak_bin="$root/build/release/src/dhanbak"
emulator_bin="$root/build/release/src/emulator/dhanbak-b2-emulator"

pgbin=/usr/lib/postgresql/15/bin
work=$(mktemp -d /tmp/dhanbak-quickstart-XXXXXX)
chmod 755 "$work"
# Everything the server writes lives in $work/pg, owned by the server's user.
pgdir="$work/pg"
pgdata="$pgdir/data"
mkdir -p "$pgdir"
run_pg=()
if [[ $(id -u) -eq 0 ]]; then
  run_pg=(runuser -u postgres --)
  chown postgres "$pgdir"
fi
root_flag=()
[[ $(id -u) -eq 0 ]] && root_flag=(--allow-root)

port=""
for _ in $(seq 1 50); do
  candidate=$((20000 + RANDOM % 30000))
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then port=$candidate; break; fi
done
[[ -n $port ]] || { echo "quickstart: no free port found" >&2; exit 1; }

emulator_pid=""
cleanup() {
  if [[ -n $emulator_pid ]]; then kill -TERM "$emulator_pid" 2>/dev/null || true; wait "$emulator_pid" 2>/dev/null || true; fi
  "${run_pg[@]}" "$pgbin/pg_ctl" -D "$pgdata" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$pgdir"
}
trap cleanup EXIT

echo "=== starting a throwaway PostgreSQL 15 on 127.0.0.1:$port ($pgdata)"
"${run_pg[@]}" "$pgbin/initdb" -D "$pgdata" -A trust -U postgres --encoding=UTF8 --locale=C.UTF-8 >/dev/null
"${run_pg[@]}" "$pgbin/pg_ctl" -D "$pgdata" -l "$pgdir/postgresql.log" -w \
  -o "-p $port -c listen_addresses=127.0.0.1 -k $pgdir -c fsync=off -c max_connections=50" start >/dev/null
conninfo="host=127.0.0.1 port=$port user=postgres"
export PATH="$pgbin:$PATH"

echo "=== generating sample Dhanman data (scale $scale)"
scripts/gen-sample-data.sh "$scale" prod "$conninfo"

umask 077
head -c 32 /dev/urandom | base64 > "$work/passphrase"
cat > "$work/dhanbak.toml" <<TOML
[repository]
url = "file://$work/repository"
passphrase = "file:$work/passphrase"

[postgres]
conninfo = "$conninfo"
databases = ["prod-dhanman-common", "prod-dhanman-community", "prod-dhanman-inventory",
             "prod-dhanman-payroll", "prod-dhanman-purchase", "prod-dhanman-sales"]
jobs = 2

[catalog]
path = "$work/catalog.sqlite"
TOML
umask 022
dhanbak() { "$dhanbak_bin" -c "$work/dhanbak.toml" "${root_flag[@]}" --no-progress "$@"; }

echo "=== dhanbak init";    dhanbak init
echo "=== dhanbak backup";  dhanbak backup
echo "=== dhanbak list";    dhanbak list

count_rows() {  # database → "table rows" lines, sorted
  psql -X -At -d "$conninfo dbname=$1" -c "
    SELECT format('%s.%s %s', table_schema, table_name,
           (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', table_schema, table_name), false, true, '')))[1]::text)
    FROM information_schema.tables WHERE table_type = 'BASE TABLE'
      AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
}

status=0
for db in prod-dhanman-common prod-dhanman-community prod-dhanman-inventory prod-dhanman-payroll \
          prod-dhanman-purchase prod-dhanman-sales; do
  echo "=== dhanbak restore $db --at latest --target-db ${db}_restored"
  dhanbak restore "$db" --at latest --target-db "${db}_restored"
  if diff <(count_rows "$db") <(count_rows "${db}_restored") >/dev/null; then
    echo "row counts match the original:"
    count_rows "${db}_restored" | sed 's/^/    /'
  else
    echo "ROW COUNTS DIFFER for $db:"; diff <(count_rows "$db") <(count_rows "${db}_restored") || true
    status=1
  fi
done

if [[ $b2 == yes ]]; then
  # A B2 account of our own: one application key, one bucket, on a free port.
  b2_bucket=dhanman-backups-quickstart
  b2_key_id="0051quickstart$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  b2_key="K005$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
  echo "=== starting the B2 emulator (data in $work/b2-emulator)"
  : >"$work/b2-emulator.out"
  "$emulator_bin" --listen 127.0.0.1:0 --data-dir "$work/b2-emulator" \
    --key "$b2_key_id:$b2_key" --bucket "$b2_bucket" >"$work/b2-emulator.out" 2>"$work/b2-emulator.log" &
  emulator_pid=$!
  b2_url=""
  for _ in $(seq 1 100); do
    b2_url=$(sed -n 's/^listening on \(http:.*\)$/\1/p' "$work/b2-emulator.out")
    [[ -n $b2_url ]] && break
    kill -0 "$emulator_pid" 2>/dev/null || break
    sleep 0.1
  done
  [[ -n $b2_url ]] || { echo "quickstart: the B2 emulator did not start:"; cat "$work/b2-emulator.log"; exit 1; } >&2
  echo "B2 emulator listening on $b2_url"
  umask 077
  cat > "$work/dhanbak-b2.toml" <<TOML
[repository]
url = "b2://$b2_bucket/postgresql"
passphrase = "file:$work/passphrase"

[b2]
key_id = "env:B2_APPLICATION_KEY_ID"
application_key = "env:B2_APPLICATION_KEY"
api_url = "$b2_url"

[postgres]
conninfo = "$conninfo"
databases = ["prod-dhanman-payroll", "prod-dhanman-sales"]
jobs = 2

[catalog]
path = "$work/catalog-b2.sqlite"
TOML
  umask 022
  dhanbak_b2() {
    B2_APPLICATION_KEY_ID=$b2_key_id B2_APPLICATION_KEY=$b2_key \
      "$dhanbak_bin" -c "$work/dhanbak-b2.toml" "${root_flag[@]}" --no-progress "$@"
  }
  echo "=== [b2] dhanbak init";    dhanbak_b2 init
  echo "=== [b2] dhanbak backup";  dhanbak_b2 backup
  echo "=== [b2] dhanbak list";    dhanbak_b2 list
  for db in prod-dhanman-payroll prod-dhanman-sales; do
    echo "=== [b2] dhanbak restore $db --at latest --target-db ${db}_b2_restored"
    dhanbak_b2 restore "$db" --at latest --target-db "${db}_b2_restored"
    if diff <(count_rows "$db") <(count_rows "${db}_b2_restored") >/dev/null; then
      echo "row counts match the original ($(count_rows "$db" | wc -l) tables)"
    else
      echo "ROW COUNTS DIFFER for $db restored from B2:"; diff <(count_rows "$db") <(count_rows "${db}_b2_restored") || true
      status=1
    fi
  done
  b2_requests=$(python3 -c 'import json, sys, urllib.request
print(json.load(urllib.request.urlopen(sys.argv[1] + "/_emulator/stats"))["requests"])' "$b2_url" 2>/dev/null || echo "?")
  echo "the B2 emulator served $b2_requests B2 API requests"
fi

cat <<TXT

=== done
work directory:  $work
  configuration: $work/dhanbak.toml
  repository:    $work/repository   (encrypted; passphrase in $work/passphrase)
  catalog:       $work/catalog.sqlite
TXT
if [[ $b2 == yes ]]; then
  cat <<TXT
  B2 leg:        $work/dhanbak-b2.toml, catalog $work/catalog-b2.sqlite,
                 bucket $b2_bucket in $work/b2-emulator (the emulator has been stopped)
TXT
fi
cat <<TXT
The throwaway PostgreSQL cluster has been stopped and removed. Remove the work directory with:
  rm -rf $work
TXT
exit $status
