#!/usr/bin/env bash
# FluentAI schema migration runner.
#
#   sql/migrate.sh [psql connection args | conninfo string]
#   sql/migrate.sh "host=/tmp/pg port=5433 dbname=fluentai user=postgres"
#   sql/migrate.sh -h 127.0.0.1 -p 5432 -U fluentai fluentai
#
# Applies every sql/migrations/NNN_name.sql that is not yet recorded in
# fluentai_schema_migrations, in numeric order.  Each migration runs in its
# own transaction together with the INSERT of its version row, under a
# transaction-level advisory lock, and the version is re-checked after the
# lock is taken, so concurrent runners are safe and a failed migration
# leaves nothing behind.  Uses psql only.  Environment: PSQL (psql binary),
# MIGRATIONS_DIR (default: the migrations/ directory next to this script).

set -euo pipefail

PSQL=${PSQL:-psql}
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
dir=${MIGRATIONS_DIR:-$here/migrations}
# Any constant will do; shared by every runner of this schema.
LOCK_KEY=7310062024151

psql_run() {
    PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning" \
        "$PSQL" -X -v ON_ERROR_STOP=1 -q "$@"
}

die() { echo "migrate.sh: $*" >&2; exit 1; }

[ -d "$dir" ] || die "no migrations directory: $dir"

# Collect and validate migration files: NNN_name.sql, unique numbers.
declare -a files=()
while IFS= read -r f; do
    files+=("$f")
done < <(
    for f in "$dir"/*.sql; do
        [ -e "$f" ] || continue
        b=$(basename -- "$f")
        [[ $b =~ ^([0-9]+)_[A-Za-z0-9_.-]+\.sql$ ]] \
            || die "bad migration file name: $b (want NNN_name.sql)"
        printf '%d\t%s\n' "$((10#${BASH_REMATCH[1]}))" "$f"
    done | sort -n -k1,1 | cut -f2-
)
[ "${#files[@]}" -gt 0 ] || die "no migrations in $dir"
prev=""
for f in "${files[@]}"; do
    b=$(basename -- "$f")
    n=$((10#${b%%_*}))
    [ "$n" != "$prev" ] || die "duplicate migration number $n: $b"
    prev=$n
done

sql_lit() { printf "'%s'" "${1//\'/\'\'}"; }

# Bookkeeping table (under the same lock, so concurrent first runs don't
# race on CREATE TABLE IF NOT EXISTS).
psql_run "$@" <<EOF
BEGIN;
SELECT pg_advisory_xact_lock($LOCK_KEY) \gset fluentai_lock_
CREATE TABLE IF NOT EXISTS fluentai_schema_migrations (
    version    text PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
);
COMMIT;
EOF

applied_list=$(psql_run -At "$@" -c "SELECT version FROM fluentai_schema_migrations")

applied=0
for f in "${files[@]}"; do
    b=$(basename -- "$f")
    v=${b%.sql}
    if grep -qxF -- "$v" <<<"$applied_list"; then
        continue
    fi
    vl=$(sql_lit "$v")
    out=$(psql_run "$@" <<EOF
BEGIN;
SELECT pg_advisory_xact_lock($LOCK_KEY) \gset fluentai_lock_
SELECT EXISTS (SELECT 1 FROM fluentai_schema_migrations
               WHERE version = $vl) AS fluentai_already \gset
\if :fluentai_already
ROLLBACK;
\echo FLUENTAI_MIGRATION_SKIPPED
\else
\i $(sql_lit "$f")
INSERT INTO fluentai_schema_migrations (version) VALUES ($vl);
COMMIT;
\echo FLUENTAI_MIGRATION_APPLIED
\endif
EOF
    ) || { rc=$?; [ -n "$out" ] && printf '%s\n' "$out"; \
           echo "migrate.sh: migration $v FAILED (rolled back)" >&2; exit "$rc"; }
    case $out in
        *FLUENTAI_MIGRATION_APPLIED*)
            printf '%s\n' "$out" | grep -v '^FLUENTAI_MIGRATION_APPLIED$' || true
            echo "applied $v"
            applied=$((applied + 1)) ;;
        *FLUENTAI_MIGRATION_SKIPPED*)
            echo "skipped $v (applied concurrently by another runner)" ;;
        *)
            printf '%s\n' "$out"
            die "unexpected psql output for $v" ;;
    esac
done

if [ "$applied" -eq 0 ]; then
    echo "nothing to apply: schema is up to date (${#files[@]} migrations)"
else
    echo "applied $applied migration(s)"
fi
