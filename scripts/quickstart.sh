#!/usr/bin/env bash
# quickstart.sh — a complete dhanbak backup → restore → verify cycle on a throwaway PostgreSQL 15
# cluster with sample Dhanman data and a local repository.
#
#   scripts/quickstart.sh [SCALE]      SCALE of the sample data, default 0.01 (~20 MB)
#
# Installs dependencies, builds dhanbak, starts PostgreSQL on a free port in a temporary
# directory (as the postgres OS user when run as root), fills the six prod-dhanman-* databases,
# then runs `dhanbak init`, `backup`, `list` and `restore ... --at latest --target-db <db>_restored`
# for each database, and compares row counts. The cluster is stopped and removed at the end; the
# repository, catalog and configuration stay in the work directory it prints.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
scale=${1:-0.01}

scripts/install-deps.sh
echo "=== building dhanbak"
cmake -S "$root" -B "$root/build/release" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$root/build/release" -j "$(nproc)" --target dhanbak
dhanbak_bin="$root/build/release/src/dhanbak"

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

cleanup() {
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

cat <<TXT

=== done
work directory:  $work
  configuration: $work/dhanbak.toml
  repository:    $work/repository   (encrypted; passphrase in $work/passphrase)
  catalog:       $work/catalog.sqlite
The throwaway PostgreSQL cluster has been stopped and removed. Remove the work directory with:
  rm -rf $work
TXT
exit $status
