#!/usr/bin/env bash
# gen-sample-data.sh — create and fill the six Dhanman sample databases.
#
# Usage:
#   scripts/gen-sample-data.sh [--replace] SCALE [PREFIX] [CONNINFO]
#
#   SCALE     row-count multiplier: 0.001 (a few hundred rows, seconds), 0.01 (default
#             quickstart size, ~20 MB), 1.0 (~2 GB of table data, about a minute per GB).
#   PREFIX    database name prefix, default "prod": creates PREFIX-dhanman-common, -community,
#             -inventory, -payroll, -purchase, -sales.
#   CONNINFO  libpq keyword/value string for the server, without dbname, e.g.
#             "host=127.0.0.1 port=5433 user=postgres". Empty or omitted: the usual PG*
#             environment variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, ...) and defaults.
#   --replace drop databases of the same names first (WITH (FORCE)); without it an existing
#             database is an error and nothing is touched.
#
#   PSQL      environment variable naming the psql binary (default: psql in PATH, else
#             /usr/lib/postgresql/15/bin/psql).
#
# Example (throwaway server on port 5433):
#   scripts/gen-sample-data.sh 0.01 prod "host=127.0.0.1 port=5433 user=postgres"
#
# The per-database generator is scripts/gen-sample-data.sql; see its header for the shape.
set -euo pipefail

replace=no
if [[ "${1:-}" == "--replace" ]]; then
  replace=yes
  shift
fi
if [[ $# -lt 1 || $# -gt 3 || "$1" == "-h" || "$1" == "--help" ]]; then
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
  exit 2
fi
scale="$1"
prefix="${2:-prod}"
conninfo="${3:-}"
if ! [[ "$scale" =~ ^[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?$ ]]; then
  echo "gen-sample-data.sh: SCALE must be a positive number, got '$scale'" >&2
  exit 2
fi

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
sql_file="$here/gen-sample-data.sql"
psql_bin="${PSQL:-}"
if [[ -z "$psql_bin" ]]; then
  if command -v psql >/dev/null 2>&1; then psql_bin=psql; else psql_bin=/usr/lib/postgresql/15/bin/psql; fi
fi

# conninfo for one database: later keywords override earlier ones in libpq, so appending
# dbname works whatever CONNINFO contains.
db_conninfo() { echo "${conninfo:+$conninfo }dbname='$1'"; }
run_psql() {
  local db="$1"
  shift
  "$psql_bin" -X -q -v ON_ERROR_STOP=1 -At -d "$(db_conninfo "$db")" "$@"
}

services=(common community inventory payroll purchase sales)

# Check everything before changing anything.
for svc in "${services[@]}"; do
  db="$prefix-dhanman-$svc"
  exists="$(run_psql postgres -c "SELECT count(*) FROM pg_database WHERE datname = '$db'")"
  if [[ "$exists" != 0 && "$replace" != yes ]]; then
    echo "gen-sample-data.sh: database \"$db\" already exists (use --replace to drop and regenerate it)" >&2
    exit 1
  fi
done

start_all=$SECONDS
for svc in "${services[@]}"; do
  db="$prefix-dhanman-$svc"
  start=$SECONDS
  if [[ "$replace" == yes ]]; then
    run_psql postgres -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)"
  fi
  run_psql postgres -c "CREATE DATABASE \"$db\""
  run_psql "$db" -v db="$svc" -v scale="$scale" -f "$sql_file"
  summary="$(run_psql "$db" -c "SELECT count(*) || ' tables, ' || pg_size_pretty(sum(pg_total_relation_size(c.oid))) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname = 'public'")"
  echo "$db: $summary ($((SECONDS - start)) s)"
done
echo "generated 6 databases with prefix '$prefix' at scale $scale in $((SECONDS - start_all)) s"
