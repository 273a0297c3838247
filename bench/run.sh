#!/usr/bin/env bash
# `make bench`: start the real stack (PostgreSQL 15 in a throwaway cluster,
# nginx with the module and a bench configuration), seed users, run the
# loads with wrk / pgbench / argon2_rate, and print a markdown table that is
# also written to bench/results/<date>.md.  See bench/README.md.
#
# Bounded: each load <= 15 s (BENCH_DURATION, default 10), the whole run
# <= BENCH_BUDGET seconds (default 290; the memory phase uses what is left).
# Everything started here is stopped on exit (by pid, never by name).  A
# missed target is reported, not an error: the exit status is non-zero only
# when the stack cannot be set up or a tool is missing.
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$TOP/bench"
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
NGINX=${NGINX:-/usr/sbin/nginx}
MODULE=${FLUENTAI_MODULE_SO:-$TOP/build/ngx_http_fluentai_module.so}
ARGON2_RATE=${ARGON2_RATE:-$TOP/build/bench/argon2_rate}
WRK=${WRK:-wrk}
PGBENCH=${PGBENCH:-$PG_BIN/pgbench}
RESULTS=${BENCH_RESULTS:-$BENCH/results}

NPROC=$(nproc)
WORKERS=${BENCH_WORKERS:-$NPROC}           # nginx worker_processes
# thread_pool bench threads=: hashing threads over all workers = cores, as
# README.md recommends (more only time-slice the cores: each hash streams
# m KiB through the caches)
POOL_THREADS=${BENCH_POOL_THREADS:-$(( NPROC > WORKERS ? NPROC / WORKERS : 1 ))}
HASH_THREADS=$((POOL_THREADS * WORKERS))   # the baselines' argon2_rate -T
# fluentai_database_pool size=: connections in all = 2 x the cores of the
# database (here the same machine), as README.md recommends
DB_POOL=${BENCH_DB_POOL:-$(( (2 * NPROC + WORKERS - 1) / WORKERS ))}
COALESCE=${BENCH_COALESCE:-}               # fluentai_database_coalesce args
CONNS=${BENCH_CONNS:-64}                   # profile/refresh concurrency
HASH_CONNS=${BENCH_HASH_CONNS:-16}         # login/register concurrency
WRK_THREADS=${BENCH_WRK_THREADS:-$NPROC}
DURATION=${BENCH_DURATION:-10}             # seconds per load
HASH_SECONDS=${BENCH_HASH_SECONDS:-4}      # argon2_rate run
LOGIN_ROUNDS=${BENCH_LOGIN_ROUNDS:-4}      # login: rounds of login, each
LOGIN_SECONDS=${BENCH_LOGIN_SECONDS:-3}    # between two argon2_rate runs
RAW_SECONDS=${BENCH_RAW_SECONDS:-2}        # of RAW_SECONDS
USERS=${BENCH_USERS:-10000}
CHAINS=${BENCH_CHAINS:-$((CONNS * 4))}     # refresh chains for wrk
MEM_REQUESTS=${BENCH_MEM_REQUESTS:-1000000}
BUDGET=${BENCH_BUDGET:-290}
FSYNC=${BENCH_FSYNC:-off}
PACE=${BENCH_PACE:-50}                     # paced load, % of saturation
PERF=${BENCH_PERF:-0}                      # 1: perf record the workers
PERF_OPTS=${BENCH_PERF_OPTS:--F 499 -g}    # its sampling and call graphs
PHASES=" ${BENCH_PHASES:-1 2 3 4 5 6 7 8 9} "   # a subset, for development
PORT_BASE=${BENCH_PORT_BASE:-}             # nginx, PostgreSQL, PgBouncer
                                           # on BASE, +1, +2 (else free)
METRICS=on                                 # fluentai_metrics (phase 8)
ARGON2_M=19456 ARGON2_T=2 ARGON2_P=1       # production parameters
PASSWORD=bench-password-1
ACCESS_TTL=3600
REFRESH_TTL=604800 SHORT_TTL=86400         # the module's defaults

[ "$DURATION" -le 15 ] || DURATION=15
[ "$DURATION" -ge 2 ] || DURATION=2

log() { echo "bench: $*" >&2; }
die() { log "$*"; exit 1; }

# ---------------------------------------------------------------------------
# tools

need() { command -v "$1" >/dev/null 2>&1 || die "$1 not found ($2)"; }
need "$WRK" "make deps installs wrk"
need "$PGBENCH" "PostgreSQL 15: make deps"
need "$PG_BIN/initdb" "PostgreSQL 15: make deps"
need "$PG_BIN/pg_ctl" "PostgreSQL 15: make deps"
need psql "make deps"
need perl "perl"
need "$NGINX" "make deps"
[ -f "$MODULE" ] || die "$MODULE not built (make build)"
[ -x "$ARGON2_RATE" ] || die "$ARGON2_RATE not built (make bench builds it)"

# initdb, start, stop: the same as t/run-suites and scripts/run.sh
. "$TOP/scripts/pg.sh"

free_port() {   # [OFFSET]: BENCH_PORT_BASE + OFFSET, or a free port
    if [ -n "$PORT_BASE" ]; then echo $((PORT_BASE + ${1:-0})); return; fi
    fluentai_free_port
}

# ---------------------------------------------------------------------------
# state, cleanup

D=
PG_STARTED=0
BG_PIDS=()
T0=$SECONDS
LOAD_START=$(cut -d" " -f1-3 /proc/loadavg)
STAMP=$(date -u +%Y-%m-%d-%H%M%S)
START_UTC=$(date -u '+%Y-%m-%d %H:%M:%S')
RUN_ID=$(date +%s)$$

cleanup() {
    local rc=$? pid i sig
    trap - EXIT INT TERM
    for pid in "${BG_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${BG_PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [ -n "$D" ] && [ -f "$D/nginx/nginx.pid" ]; then
        pid=$(cat "$D/nginx/nginx.pid" 2>/dev/null || true)
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            for sig in QUIT TERM; do
                kill -$sig "$pid" 2>/dev/null || true
                for i in $(seq 1 50); do
                    kill -0 "$pid" 2>/dev/null || break
                    sleep 0.1
                done
            done
            # never leave a master (or its workers) behind
            pkill -KILL -P "$pid" 2>/dev/null || true
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    if [ -n "$D" ] && [ -f "$D/bouncer/pgbouncer.pid" ]; then
        kill -TERM "$(cat "$D/bouncer/pgbouncer.pid")" 2>/dev/null || true
    fi
    if [ "$PG_STARTED" = 1 ]; then
        fluentai_pg_stop "$D/pg/data" fast
    fi
    if [ -n "$D" ] && [ -d "$D" ] && [ "${BENCH_KEEP:-0}" != 1 ]; then
        rm -rf "$D"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

D=$(mktemp -d /tmp/fluentai-bench.XXXXXX)
chmod 0755 "$D"
mkdir -p "$D/pg/data" "$D/pg/sock" "$D/nginx/logs" "$D/nginx/tmp" "$D/out"
[ "$(id -u)" = 0 ] && chown -R postgres:postgres "$D/pg"

COMMANDS="$D/commands.txt"
RAW="$D/raw.txt"
: > "$COMMANDS"
: > "$RAW"

# paths in the report: the temp dir as $BENCH_TMP, the repository relative
rel() { sed -e "s|$D|\$BENCH_TMP|g" -e "s|$TOP/||g"; }

# a command (or a "# comment") for the report's command list
record() { printf '%s\n' "$*" | rel >> "$COMMANDS"; }

elapsed() { echo $((SECONDS - T0)); }

# ---------------------------------------------------------------------------
# PostgreSQL

PGPORT_B=$(free_port 1)
log "PostgreSQL: initdb in $D/pg (fsync=$FSYNC)"
fluentai_pg_init "$D/pg/data" "$D/pg/initdb.log" || die "initdb failed"
PG_OPTS="-c listen_addresses= -c port=$PGPORT_B"
PG_OPTS+=" -c unix_socket_directories=$D/pg/sock -c fsync=$FSYNC"
PG_OPTS+=" -c max_connections=300"
record "# setup (as postgres): initdb, start, schema"
record "$PG_BIN/initdb -D $D/pg/data -A trust -U postgres --encoding UTF8 --locale C"
record "$PG_BIN/pg_ctl -D $D/pg/data -w -l $D/pg/pg.log -o '$PG_OPTS' start"
PG_STARTED=1
fluentai_pg_start "$D/pg/data" "$D/pg/pg.log" "$PG_OPTS" \
    || die "PostgreSQL failed to start"

DB=fluentai_bench
CONNINFO="host=$D/pg/sock port=$PGPORT_B dbname=$DB user=postgres"
export PGHOST="$D/pg/sock" PGPORT="$PGPORT_B" PGUSER=postgres PGDATABASE=$DB
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $DB"
bash "$TOP/sql/migrate.sh" "$CONNINFO" >/dev/null
record "psql -c 'CREATE DATABASE $DB'; sql/migrate.sh '$CONNINFO'"

q() { psql -X -q -A -t -v ON_ERROR_STOP=1 "$@"; }

# ---------------------------------------------------------------------------
# seed: USERS users with one precomputed argon2id hash (production
# parameters), one session each (profile), CHAINS sessions with a refresh
# token each (wrk refresh chains), CONNS sessions for pgbench's refresh
# chains.

log "seeding $USERS users, $CHAINS refresh chains"
record "# seed: one hash for all users, then the SQL of bench/run.sh (users, sessions, chains)"
record "printf %s $PASSWORD | $ARGON2_RATE -e -m $ARGON2_M -t $ARGON2_T -p $ARGON2_P"
HASH=$(printf '%s' "$PASSWORD" \
       | "$ARGON2_RATE" -e -m $ARGON2_M -t $ARGON2_T -p $ARGON2_P)

q -v hash="$HASH" -v n="$USERS" -v chains="$CHAINS" -v conns="$CONNS" \
  -v run="$RUN_ID" <<'EOF'
CREATE FUNCTION pg_temp.b64url(b bytea) RETURNS text LANGUAGE sql AS
$$ SELECT rtrim(translate(encode(b, 'base64'), E'+/\n', '-_'), '=') $$;

INSERT INTO users (email, name, hashed_password)
SELECT format('u%s@bench.test', lpad(i::text, 6, '0')),
       format('Bench User %s', lpad(i::text, 6, '0')), :'hash'
  FROM generate_series(1, :n) i;

-- profile: one session per user
CREATE TABLE bench_sessions (i int PRIMARY KEY, sid uuid, uid uuid);
WITH s AS (
    INSERT INTO sessions (user_id, expires_at, remember)
    SELECT id, now() + interval '1 day', true
      FROM users WHERE email LIKE 'u%@bench.test' ORDER BY email
    RETURNING id, user_id)
INSERT INTO bench_sessions SELECT row_number() OVER (), id, user_id FROM s;

-- wrk refresh chains: a session and an unused refresh token each; the
-- token is 32 bytes in base64url (43 characters), stored as its SHA-256,
-- exactly like the module's.  Twice as many as wrk uses at once: i <=
-- chains for phase 4 (direct), the others for phase 7 (PgBouncer).
CREATE TABLE bench_chains (i int PRIMARY KEY, sid uuid, token text);
WITH s AS (
    INSERT INTO sessions (user_id, expires_at, remember)
    SELECT uid, now() + interval '7 days', true
      FROM bench_sessions, generate_series(1, 2) WHERE i <= :chains
    RETURNING id)
INSERT INTO bench_chains (i, sid, token)
SELECT row_number() OVER (), id,
       pg_temp.b64url(sha256(convert_to(:'run' || ':wrk:' || id, 'UTF8')))
  FROM s;
INSERT INTO refresh_tokens (hash, session_id)
SELECT sha256(convert_to(token, 'UTF8')), sid FROM bench_chains;

-- pgbench refresh chains: client c starts with the token hash
-- sha256('pg:<c>:0') and rotates it to sha256('pg:<c>:1'), ...
CREATE TABLE bench_pg_chains (c int PRIMARY KEY, sid uuid);
WITH s AS (
    INSERT INTO sessions (user_id, expires_at, remember)
    SELECT uid, now() + interval '7 days', true
      FROM bench_sessions WHERE i <= :conns
    RETURNING id)
INSERT INTO bench_pg_chains SELECT row_number() OVER () - 1, id FROM s;
INSERT INTO refresh_tokens (hash, session_id)
SELECT sha256(convert_to('pg:' || c || ':0', 'UTF8')), sid
  FROM bench_pg_chains;
EOF
q -c 'VACUUM ANALYZE'

# ---------------------------------------------------------------------------
# tokens: access tokens for the profile sessions, signed with the bench
# secret like the module signs them; refresh tokens of the chains

SECRET="$D/nginx/jwt.key"
(umask 077 && head -c 48 /dev/urandom | base64 -w0 > "$SECRET")
TOKENS="$D/out/access.tokens"
REFRESH_TOKENS="$D/out/refresh.tokens"
q -F ' ' -c 'SELECT sid, uid FROM bench_sessions ORDER BY i' \
    | perl "$BENCH/mint.pl" "$SECRET" "$ACCESS_TTL" > "$TOKENS"
record "psql -At -F ' ' -c 'SELECT sid, uid FROM bench_sessions ORDER BY i' | $BENCH/mint.pl $SECRET $ACCESS_TTL > $TOKENS"
q -c "SELECT token FROM bench_chains WHERE i <= $CHAINS ORDER BY i" \
    > "$REFRESH_TOKENS"

# ---------------------------------------------------------------------------
# pgbench scripts: the module's own statements (bench/sql_of.pl reads them
# from src/), parameters as pgbench variables

SQL_FILE="$TOP/src/ngx_http_fluentai_sql.c"
PROFILE_SQL=$(perl "$BENCH/sql_of.pl" "$SQL_FILE" fluentai_profile)
REFRESH_SQL=$(perl "$BENCH/sql_of.pl" "$SQL_FILE" fluentai_refresh)

# profile: $1 session id, $2 user id, $3 max lifetime (the module's
# default, 30 days).  Each client picks a random seeded
# session on its first transaction and again on ~1 % of them (one extra
# primary-key SELECT), so the load spreads over many users like wrk's.
{
    echo '\set r random(1, 100)'
    echo '\if :picked = 0 or :r = 1'
    echo "\\set i random(1, $USERS)"
    echo 'SELECT sid, uid FROM bench_sessions WHERE i = :i \gset'
    echo '\set picked 1'
    echo '\endif'
    printf '%s;\n' "$(printf '%s' "$PROFILE_SQL" \
                      | sed -e 's/\$1/:sid/g' -e 's/\$2/:uid/g' \
                            -e 's/\$3/2592000/g')"
} > "$D/out/profile.pgbench"

# refresh: $1 old hash, $2 new hash, $3 ttl, $4 short ttl, $5 max lifetime
# (30 days), $6 reuse interval, $7/$8 the audit trail's address and user
# agent.  Client c walks
# its own chain sha256('pg:c:0') -> sha256('pg:c:1') -> ...; the hashes are
# computed by sha256() in the statement (the module sends them as bytea
# parameters; sha256 of a short string costs about a microsecond).
OLD="sha256(convert_to('pg:' || :client_id::text || ':' || :k::text, 'UTF8'))"
NEW="sha256(convert_to('pg:' || :client_id::text || ':' || :n::text, 'UTF8'))"
{
    echo '\set n :k + 1'
    printf '%s;\n' "$(printf '%s' "$REFRESH_SQL" \
                      | sed -e "s/\\\$1/$OLD/" -e "s/\\\$2/$NEW/" \
                            -e 's/\$3/:ttl/' -e 's/\$4/:short/' \
                            -e 's/\$5/2592000/' -e 's/\$6/:reuse/' \
                            -e "s/\\\$7/'127.0.0.1'/" -e "s/\\\$8/'pgbench'/")"
    echo '\set k :n'
} > "$D/out/refresh.pgbench"

# ---------------------------------------------------------------------------
# nginx

PORT=${BENCH_PORT:-$(free_port 0)}         # nginx; the rest is on sockets
URL="http://127.0.0.1:$PORT"
NGX_PID_FILE="$D/nginx/nginx.pid"

write_conf() {
    local body=$1
    mkdir -p "$D/www"
    printf '%s' "$body" > "$D/www/f"
    cat > "$D/nginx/nginx.conf.new" <<EOF
# written by bench/run.sh
load_module $MODULE;
worker_processes $WORKERS;
pid $NGX_PID_FILE;
error_log $D/nginx/logs/error.log warn;
thread_pool bench threads=$POOL_THREADS max_queue=65536;

events {
    worker_connections 4096;
}

http {
    access_log off;
    default_type application/json;
    server_tokens off;
    client_body_temp_path $D/nginx/tmp/client_body;
    proxy_temp_path $D/nginx/tmp/proxy;
    fastcgi_temp_path $D/nginx/tmp/fastcgi;
    uwsgi_temp_path $D/nginx/tmp/uwsgi;
    scgi_temp_path $D/nginx/tmp/scgi;

    fluentai_database "${NGX_CONNINFO:-$CONNINFO}";
    fluentai_database_prepare ${NGX_PREPARE:-on};
    fluentai_database_pool size=$DB_POOL;${COALESCE:+
    fluentai_database_coalesce $COALESCE;}
    fluentai_jwt_secret_file $SECRET;
    fluentai_password_hash m=$ARGON2_M t=$ARGON2_T p=$ARGON2_P;
    fluentai_thread_pool bench;
    fluentai_access_token_ttl 30m;
    fluentai_refresh_token_ttl $REFRESH_TTL;
    fluentai_refresh_token_short_ttl $SHORT_TTL;
    fluentai_metrics $METRICS;

    server {
        listen 127.0.0.1:$PORT reuseport backlog=4096;

        location = /auth/register { fluentai_endpoint register; }
        location = /auth/login    { fluentai_endpoint login; }
        location = /auth/refresh  { fluentai_endpoint refresh; }
        location = /auth/logout   { fluentai_endpoint logout; }
        location = /auth/profile  { fluentai_endpoint profile; }
        location = /health        { fluentai_endpoint health; }
        location = /metrics       { fluentai_endpoint metrics; }

        # baseline (a): a body of the profile's size, the same headers
        location = /bench/static {
            add_header Cache-Control no-store;
            add_header Vary Origin;
            return 200 '$body';
        }

        # 9. the gate: the same body as a static file (the access phase
        # runs before it, it never runs before \`return\`), behind no gate,
        # "fluentai_auth_jwt on" and "fluentai_auth_jwt session"
        location /bench/gate-none/    { alias $D/www/; }
        location /bench/gate-on/      { fluentai_auth_jwt on; alias $D/www/; }
        location /bench/gate-session/ {
            fluentai_auth_jwt session;
            alias $D/www/;
        }
    }
}
EOF
    mv "$D/nginx/nginx.conf.new" "$D/nginx/nginx.conf"
}

master_pid() { cat "$NGX_PID_FILE"; }

worker_pids() {
    ps -o pid=,args= --ppid "$(master_pid)" \
        | awk '/nginx: worker process/ && !/shutting down/ { print $1 }'
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

http_code() { curl -s -o "${2:-/dev/null}" -w '%{http_code}' "${@:3}" "$1"; }

write_conf '{}'
"$NGINX" -p "$D/nginx/" -c "$D/nginx/nginx.conf" -e "$D/nginx/logs/error.log" \
    -t -q || die "nginx -t failed"
record "# nginx (then reloaded once, with the profile body for /bench/static)"
record "$NGINX -p $D/nginx/ -c $D/nginx/nginx.conf"
"$NGINX" -p "$D/nginx/" -c "$D/nginx/nginx.conf" -e "$D/nginx/logs/error.log" \
    || die "nginx failed to start"

for i in $(seq 1 100); do
    [ "$(http_code "$URL/health")" = 200 ] && break
    sleep 0.1
done
[ "$(http_code "$URL/health")" = 200 ] || die "nginx: /health is not 200"

# the profile body of a seeded user, as baseline (a)'s static body
code=$(http_code "$URL/auth/profile" "$D/out/profile.body" \
       -H "Authorization: Bearer $(head -1 "$TOKENS")")
[ "$code" = 200 ] || { cat "$D/out/profile.body" >&2; \
                       die "profile with a minted token answered $code"; }
BODY=$(cat "$D/out/profile.body")
case $BODY in *"'"*|*'$'*|*'\'*) die "unexpected profile body: $BODY";; esac
write_conf "$BODY"
"$NGINX" -p "$D/nginx/" -c "$D/nginx/nginx.conf" -e "$D/nginx/logs/error.log" \
    -t -q || die "nginx -t failed"
kill -HUP "$(master_pid)"
for i in $(seq 1 100); do
    if [ "$(http_code "$URL/bench/static" "$D/out/static.body")" = 200 ] \
        && cmp -s "$D/out/static.body" "$D/out/profile.body" \
        && [ "$(worker_pids | wc -l)" = "$WORKERS" ]
    then
        break
    fi
    sleep 0.1
done
cmp -s "$D/out/static.body" "$D/out/profile.body" \
    || die "nginx reload: /bench/static does not serve the profile body"
BODY_LEN=${#BODY}

# a refresh chain and a login work before the loads
code=$(http_code "$URL/auth/login" "$D/out/login.body" \
       -H 'Content-Type: application/json' \
       -d "{\"email\":\"u000001@bench.test\",\"password\":\"$PASSWORD\"}")
[ "$code" = 200 ] || { cat "$D/out/login.body" >&2; die "login answered $code"; }

log "stack up in $(elapsed) s: nginx $URL ($WORKERS workers), PostgreSQL $PGHOST"

# ---------------------------------------------------------------------------
# load runners.  Results go to R[name.key].

declare -A R

raw() {
    { echo "### $1"; echo; echo '```'; rel < "$2"; echo '```'; echo; } >> "$RAW"
}

parse_bench() {
    local name=$1 file=$2 kv
    for kv in $(grep '^BENCH ' "$file" | tail -1 | cut -d' ' -f2-); do
        R[$name.${kv%%=*}]=${kv#*=}
    done
}

# CPU time (microseconds) used by the parts of the stack, from /proc: the
# nginx workers; PostgreSQL (the postmaster, its live children, and the
# children it has reaped, which covers pgbench's short-lived backends); the
# load generators (children this shell waited for).  The reading itself
# starts no program (a fork and exec of awk costs ~10 ms of CPU here, which
# the load generators' figure counted ~25 times per reading), and the load
# generators' counter is read last before a load and first after it, so the
# ps runs of the other readings stay out of it.
CLK_TCK=$(getconf CLK_TCK)
stat_ticks() {  # PID FIELDS...: sum of /proc/PID/stat fields (1-based, as in proc(5))
    local pid=$1 line i s=0
    local -a f
    shift
    read -r line 2>/dev/null < "/proc/$pid/stat" || { echo 0; return; }
    f=(${line##*) })                    # fields 3... (after "pid (comm) ")
    for i in "$@"; do s=$((s + f[i - 3])); done
    echo $s
}
cpu_us() {      # WHAT: nginx | pg | client
    local t=0 pid pm
    case $1 in
        nginx) for pid in $(worker_pids); do
                   t=$((t + $(stat_ticks "$pid" 14 15)))
               done ;;
        pg)    pm=$(head -1 "$D/pg/data/postmaster.pid")
               t=$(stat_ticks "$pm" 14 15 16 17)
               for pid in $(ps -o pid= --ppid "$pm"); do
                   t=$((t + $(stat_ticks "$pid" 14 15)))
               done ;;
        client) t=$(stat_ticks $$ 16 17) ;;
        bouncer) [ -f "$D/bouncer/pgbouncer.pid" ] \
                 && t=$(stat_ticks "$(cat "$D/bouncer/pgbouncer.pid")" 14 15) ;;
    esac
    echo $((t * 1000000 / CLK_TCK))
}
cpu_begin() {
    local w
    for w in nginx pg bouncer client; do R[$1.cpu0_$w]=$(cpu_us $w); done
}
cpu_end() {     # NAME REQUESTS: CPU per request of each part
    local w n=${2:-0}
    for w in client nginx pg bouncer; do
        local d=$(( $(cpu_us $w) - ${R[$1.cpu0_$w]} ))
        R[$1.cpud_$w]=$d
        ((n > 0)) && R[$1.cpu_$w]=$((d / n)) || :
    done
}

# wrk_start NAME SCRIPT CONNS SECONDS [VAR=value ...]
wrk_start() {
    local name=$1 script=$2 conns=$3 dur=$4 threads=$WRK_THREADS
    shift 4
    [ "$conns" -lt "$threads" ] && threads=$conns
    local args=(-t"$threads" -c"$conns" -d"${dur}s" --timeout 5s
                -s "$BENCH/lua/$script" "$URL")
    local envs="BENCH_LUA=$BENCH/lua BENCH_THREADS=$threads"
    [[ " $* " == *" BENCH_TOKENS="* ]] || envs+=" BENCH_TOKENS=$TOKENS"
    record "$envs${*:+ $*} $WRK ${args[*]}"
    env BENCH_LUA="$BENCH/lua" BENCH_TOKENS="$TOKENS" BENCH_THREADS="$threads" "$@" \
        timeout -k 5 $((dur + 20)) "$WRK" "${args[@]}" \
        > "$D/out/$name.wrk" 2>&1 &
    R[$name.pid]=$!
    BG_PIDS+=($!)
}

wrk_wait() {
    local name=$1 rc=0
    wait "${R[$name.pid]}" || rc=$?
    [ "$rc" = 0 ] || log "wrk $name exited with $rc"
    raw "$name" "$D/out/$name.wrk"
    parse_bench "$name" "$D/out/$name.wrk"
    if [ -z "${R[$name.requests]:-}" ]; then
        log "wrk $name: no result"; cat "$D/out/$name.wrk" >&2
    fi
}

run_wrk() {
    batch_snap "$1" 0
    cpu_begin "$1"
    wrk_start "$@"
    wrk_wait "$1"
    cpu_end "$1" "${R[$1.requests]:-0}"
    batch_snap "$1" 1
}

# the module's batch-size histogram (fluentai_db_batch_size: lookups per
# statement) before (0) and after (1) a load; nothing if it has none
batch_snap() {  # NAME 0|1
    curl -s "$URL/metrics" 2>/dev/null | grep '^fluentai_db_batch_size_' \
        > "$D/out/batch.$1.$2" || true
}

# what a load's statements looked like: "N statements for M lookups
# (mean X): 1: a %, 2: b %, 3-4: c %, ..." (shares of the statements)
batch_dist() {  # NAME STATEMENT
    local f0="$D/out/batch.$1.0" f1="$D/out/batch.$1.1"
    [ -s "$f1" ] || { echo "n/a (no fluentai_db_batch_size)"; return; }
    awk -v st="statement=\"$2\"" '
        index($0, st) == 0 { next }
        {
            k = $1
            if (k ~ /_bucket/) { sub(/.*le="/, "", k); sub(/".*/, "", k) }
            else if (k ~ /_sum/) k = "sum"; else k = "count"
            if (FNR == NR) a[k] = $2; else b[k] = $2
        }
        END {
            n = b["count"] - a["count"]; m = b["sum"] - a["sum"]
            if (n <= 0) { print "none"; exit }
            printf "%d statements for %d lookups (mean %.2f):", n, m, m / n
            split("1 2 4 8 16 32 64 128 256 512 1024 +Inf", le, " ")
            prev = 0; lo = 1
            for (i = 1; i <= 12; i++) {
                c = b[le[i]] - a[le[i]]; d = c - prev; prev = c
                name = (le[i] == "+Inf") ? ">1024" \
                       : (lo == le[i] ? le[i] : lo "-" le[i])
                if (d > 0) printf " %s: %.1f %%", name, 100 * d / n
                if (le[i] != "+Inf") lo = le[i] + 1
            }
            printf "\n"
        }' "$f0" "$f1"
}

# percentile P of the numbers in column COL of the files; none (a slow
# pgbench run may log no sampled transaction, leaving the glob unmatched):
# empty, not an error that ends the run
pct() {
    local p=$1 col=$2; shift 2
    { cat "$@" 2>/dev/null || true; } | awk -v c="$col" '{ print $c }' | sort -n \
        | awk -v p="$p" '{ v[NR] = $1 } END {
              if (NR == 0) { print ""; exit }
              i = int(NR * p / 100 + 0.5); if (i < 1) i = 1; if (i > NR) i = NR
              print v[i] }'
}

# run_pgbench NAME SCRIPT [pgbench args ...]
run_pgbench() {
    local name=$1 script=$2 rc=0
    shift 2
    local args=(-n -M prepared -c "$CONNS" -j "$WRK_THREADS" -T "$DURATION"
                -f "$script" -l --log-prefix="$D/out/$name.log"
                --sampling-rate=0.1 "$@")
    record "PGHOST=$PGHOST PGPORT=$PGPORT PGUSER=postgres PGDATABASE=$DB $PGBENCH ${args[*]}"
    cpu_begin "$name"
    timeout -k 5 $((DURATION + 30)) "$PGBENCH" "${args[@]}" \
        > "$D/out/$name.pgbench" 2>&1 || rc=$?
    [ "$rc" = 0 ] || log "pgbench $name exited with $rc"
    raw "$name" "$D/out/$name.pgbench"
    R[$name.tps]=$(sed -n 's/^tps = \([0-9.]*\) (without initial.*/\1/p' \
                   "$D/out/$name.pgbench")
    R[$name.tx]=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' \
                  "$D/out/$name.pgbench")
    R[$name.failed]=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' \
                      "$D/out/$name.pgbench")
    cpu_end "$name" "${R[$name.tx]:-0}"
    R[$name.p50_us]=$(pct 50 3 "$D/out/$name.log".*)
    R[$name.p99_us]=$(pct 99 3 "$D/out/$name.log".*)
    rm -f "$D/out/$name.log".*
}

run_hash() {
    local name=$1 rc=0
    shift
    record "$ARGON2_RATE $*"
    "$ARGON2_RATE" "$@" > "$D/out/$name.txt" 2>&1 || rc=$?
    [ "$rc" = 0 ] || log "argon2_rate $name exited with $rc"
    raw "$name" "$D/out/$name.txt"
    parse_bench "$name" "$D/out/$name.txt"
}

RSS_LOG="$D/out/rss.txt"
: > "$RSS_LOG"
rss_snapshot() {
    local pid line="$1:"
    for pid in $(worker_pids); do
        line+=" $pid=$(rss_kb "$pid")"
    done
    echo "$line" >> "$RSS_LOG"
}

perf_start() {
    [ "$PERF" = 1 ] && command -v perf >/dev/null || return 0
    local pids
    pids=$(worker_pids | paste -sd,)
    record "perf record $PERF_OPTS -p $pids -o $RESULTS/$STAMP-$1.perf.data -- sleep $2"
    mkdir -p "$RESULTS"
    # shellcheck disable=SC2086
    perf record $PERF_OPTS -p "$pids" -o "$RESULTS/$STAMP-$1.perf.data" \
        -- sleep "$2" > "$D/out/perf-$1.txt" 2>&1 &
    R[perf.pid]=$!
    BG_PIDS+=($!)
}

perf_stop() {
    [ -n "${R[perf.pid]:-}" ] || return 0
    wait "${R[perf.pid]}" || true
    R[perf.pid]=
    local data="$RESULTS/$STAMP-$1.perf.data"
    {
        echo "# perf record -g on the nginx workers during the $1 load"
        echo "# by shared object:"
        perf report --stdio --no-children -g none --sort dso -i "$data" \
            2>/dev/null | grep -v '^#' | grep -v '^$' | head -20
        echo "# by symbol (self time):"
        perf report --stdio --no-children -g none --sort dso,symbol \
            -i "$data" 2>/dev/null | grep -v '^#' | grep -v '^$' | head -60
        echo "# with children (inclusive time), module and nginx symbols:"
        perf report --stdio --children -g none --sort symbol \
            --dsos ngx_http_fluentai_module.so,nginx -i "$data" \
            2>/dev/null | grep -v '^#' | grep -v '^$' | head -40
    } > "$RESULTS/$STAMP-$1.perf.txt" || :   # an empty section is no error
}

# after a login load: wait (at most 2 s) until the hashing jobs its
# requests left have ended (a running one finishes, a queued one is
# skipped), so that the next argon2_rate run has the cores to itself
hashing_settle() {
    local i
    for ((i = 0; i < 40; i++)); do
        curl -s "$URL/metrics" 2>/dev/null \
            | grep -qx 'fluentai_hashing_jobs 0' && return 0
        sleep 0.05
    done
    log "hashing jobs still running 2 s after the login load"
}

# phase 2's rounds as one login load and one argon2_rate baseline: sums
# over the rounds (rates: all operations over all seconds), and each
# round's ratio to the mean of the argon2_rate runs before and after it
login_rounds_sum() {
    local k key w ops=0 us=0 cpu=0 ratios=
    for key in requests ok failures duration_us status_errors \
               connect_errors read_errors write_errors timeouts; do
        R[login.$key]=0
        for ((k = 1; k <= LOGIN_ROUNDS; k++)); do
            R[login.$key]=$(( R[login.$key] + ${R[login_$k.$key]:-0} ))
        done
    done
    for w in client nginx pg bouncer; do
        R[login.cpud_$w]=0
        for ((k = 1; k <= LOGIN_ROUNDS; k++)); do
            R[login.cpud_$w]=$(( R[login.cpud_$w] + ${R[login_$k.cpud_$w]:-0} ))
        done
        ((R[login.requests] > 0)) \
            && R[login.cpu_$w]=$(( R[login.cpud_$w] / R[login.requests] )) || :
    done
    for ((k = 0; k <= LOGIN_ROUNDS; k++)); do
        [ -n "${R[hash_pool_$k.ops]:-}" ] || continue
        ops=$(( ops + R[hash_pool_$k.ops] ))
        us=$(awk -v a="$us" -v s="${R[hash_pool_$k.seconds]}" \
             'BEGIN { printf "%.0f", a + s * 1e6 }')
        cpu=$(awk -v a="$cpu" -v c="${R[hash_pool_$k.cpu_us_per_op]}" \
              -v n="${R[hash_pool_$k.ops]}" 'BEGIN { printf "%.0f", a + c * n }')
        R[hash_pool.rates]+="${R[hash_pool_$k.rate]} "
    done
    R[hash_pool.ops]=$ops
    R[hash_pool.mode]=${R[hash_pool_0.mode]:-}
    R[hash_pool.threads]=${R[hash_pool_0.threads]:-}
    if ((ops > 0)); then
        R[hash_pool.rate]=$(awk -v n="$ops" -v us="$us" \
                            'BEGIN { printf "%.2f", n / (us / 1e6) }')
        R[hash_pool.cpu_us_per_op]=$((cpu / ops))
    fi
    for ((k = 1; k <= LOGIN_ROUNDS; k++)); do
        ratios+=$(awk -v n="${R[login_$k.ok]:-0}" \
                      -v us="${R[login_$k.duration_us]:-0}" \
                      -v a="${R[hash_pool_$((k - 1)).rate]:-0}" \
                      -v b="${R[hash_pool_$k.rate]:-0}" 'BEGIN {
                      if (us == 0 || a + b == 0) { print "n/a"; exit }
                      printf "%.2f", n / (us / 1e6) / ((a + b) / 2) }')" "
    done
    R[login.rounds]=${ratios% }
}

left() { echo $((BUDGET - $(elapsed))); }

phase() { [[ $PHASES == *" $1 "* ]]; }

DELAY_MS=
declare -A RSS0 RSS1
MEM_DONE=0 MEM_LOADS=0 MEM_US=0 MEM_STATUS_ERRORS=0

# ---------------------------------------------------------------------------
# 1. profile at saturation, (a) return 200, (b) pgbench on the same SELECT

if phase 1; then
record "# 1. profile; (a) return 200; (b) pgbench; paced profile"

rss_snapshot start

log "1. profile, $CONNS connections, ${DURATION}s"
perf_start profile $((DURATION - 2))
run_wrk profile profile.lua "$CONNS" "$DURATION"
perf_stop profile
rss_snapshot after-profile

log "1a. return 200, $CONNS connections"
run_wrk static static.lua "$CONNS" "$DURATION"

log "1b. pgbench, the profile SELECT, $CONNS clients"
run_pgbench pg_profile "$D/out/profile.pgbench" -D picked=0

# the same 64 connections, each pausing between requests so the offered
# rate is PACE % of the saturated one: latency without queueing
rps=${R[profile.rps]:-1000}
DELAY_MS=$(awk -v c="$CONNS" -v r="$rps" -v p="$PACE" \
           'BEGIN { d = int(c * 1000 / (r * p / 100) + 0.5); print (d < 1 ? 1 : d) }')
log "1c. profile paced (${DELAY_MS} ms between requests per connection)"
run_wrk paced profile.lua "$CONNS" "$DURATION" BENCH_DELAY_MS="$DELAY_MS"
rss_snapshot after-paced
fi

# ---------------------------------------------------------------------------
# 2. login at saturation versus the raw argon2id rate

if phase 2; then
record "# 2. login versus argon2_rate, interleaved: $LOGIN_ROUNDS rounds of argon2_rate then login, then argon2_rate once more"

log "2. argon2_rate, $((HASH_THREADS * 2)) threads (${HASH_SECONDS}s)"
run_hash hash_all -T $((HASH_THREADS * 2)) -m $ARGON2_M -t $ARGON2_T \
    -p $ARGON2_P -d "$HASH_SECONDS"

log "2. login, $HASH_CONNS connections: $LOGIN_ROUNDS rounds of ${LOGIN_SECONDS}s, each between two argon2_rate runs of ${RAW_SECONDS}s"
# not counted: the workers open their database connections, the backends
# and the hashing threads warm up (a 10 s load used to hide that); its
# users lie halfway between where the rounds start
run_wrk login_warmup login.lua "$HASH_CONNS" 1 \
    BENCH_USER_FIRST=$(( USERS / LOGIN_ROUNDS / 2 )) \
    BENCH_USERS="$USERS" BENCH_PASSWORD="$PASSWORD"
hashing_settle
for ((k = 0; k <= LOGIN_ROUNDS; k++)); do
    if ((k > 0)); then
        # each round logs in users the rounds before did not
        ((k == 1)) && perf_start login "$LOGIN_SECONDS"
        run_wrk "login_$k" login.lua "$HASH_CONNS" "$LOGIN_SECONDS" \
            BENCH_USERS="$USERS" BENCH_PASSWORD="$PASSWORD" \
            BENCH_USER_FIRST=$(( (k - 1) * USERS / LOGIN_ROUNDS ))
        ((k == 1)) && perf_stop login
        hashing_settle
    fi
    run_hash "hash_pool_$k" -T "$HASH_THREADS" -m $ARGON2_M -t $ARGON2_T \
        -p $ARGON2_P -d "$RAW_SECONDS"
done
login_rounds_sum
rss_snapshot after-login
# a login rehashes a hash with other parameters: the seeded one must not be
R[login.rehashed]=$(q -v hash="$HASH" <<'EOF'
SELECT count(*) FROM users
 WHERE email LIKE 'u%@bench.test' AND hashed_password <> :'hash';
EOF
)
fi

# ---------------------------------------------------------------------------
# 3. profile (paced, as in 1c) during a login storm

if phase 3; then
record "# 3. login storm: the two wrk runs overlap (profile starts 1 s after login)"

[ -n "$DELAY_MS" ] || DELAY_MS=$((CONNS * 1000 / 1000))
log "3. profile during a login storm"
wrk_start storm_login login.lua "$HASH_CONNS" "$DURATION" \
    BENCH_USERS="$USERS" BENCH_PASSWORD="$PASSWORD"
sleep 1
run_wrk storm profile.lua "$CONNS" $((DURATION - 2)) \
    BENCH_DELAY_MS="$DELAY_MS"
wrk_wait storm_login
rss_snapshot after-storm
fi

# ---------------------------------------------------------------------------
# 4. refresh: wrk chains versus pgbench chains on the same statement

if phase 4; then
record "# 4. refresh: wrk chains, then pgbench chains"

log "4. refresh, $CONNS connections, $CHAINS chains"
run_wrk refresh refresh.lua "$CONNS" "$DURATION" \
    BENCH_TOKENS="$REFRESH_TOKENS"
R[refresh.revoked]=$(q -c "SELECT count(*) FROM bench_chains c
    JOIN sessions s ON s.id = c.sid
    WHERE c.i <= $CHAINS AND s.revoked_at IS NOT NULL")

log "4b. pgbench, the refresh statement, $CONNS clients"
run_pgbench pg_refresh "$D/out/refresh.pgbench" \
    -D k=0 -D ttl="$REFRESH_TTL" -D short="$SHORT_TTL" -D reuse=10
R[pg_refresh.rotated]=$(q -c "SELECT count(*) FROM bench_pg_chains c
    JOIN refresh_tokens t ON t.session_id = c.sid WHERE t.used_at IS NOT NULL")
R[pg_refresh.revoked]=$(q -c "SELECT count(*) FROM bench_pg_chains c
    JOIN sessions s ON s.id = c.sid WHERE s.revoked_at IS NOT NULL")
rss_snapshot after-refresh
fi

# ---------------------------------------------------------------------------
# 6. register (hash-bound)

if phase 6; then
record "# 6. register versus argon2_rate -H"

log "6. argon2_rate -H, register"
run_hash hash_new -H -T "$HASH_THREADS" -m $ARGON2_M -t $ARGON2_T \
    -p $ARGON2_P -d "$HASH_SECONDS"
run_wrk register register.lua "$HASH_CONNS" "$DURATION" \
    BENCH_RUN="$RUN_ID" BENCH_PASSWORD="$PASSWORD"
rss_snapshot after-register
fi

# ---------------------------------------------------------------------------
# 7. profile and refresh through PgBouncer (transaction mode, statements
# not prepared: fluentai_database_prepare off), next to 1 and 4 (direct)

if phase 7; then
record "# 7. PgBouncer in transaction mode between nginx and PostgreSQL"
command -v pgbouncer >/dev/null || die "pgbouncer not found (scripts/deps.sh ha)"
BPORT=$(free_port 2)
mkdir -p "$D/bouncer"
printf '"postgres" ""\n' > "$D/bouncer/userlist.txt"
cat > "$D/bouncer/pgbouncer.ini" <<EOF
[databases]
$DB = host=$D/pg/sock port=$PGPORT_B dbname=$DB

[pgbouncer]
listen_addr =
listen_port = $BPORT
unix_socket_dir = $D/bouncer
auth_type = trust
auth_file = $D/bouncer/userlist.txt
pool_mode = transaction
max_client_conn = 1000
default_pool_size = $((DB_POOL * WORKERS))
server_login_retry = 1
logfile = $D/bouncer/pgbouncer.log
pidfile = $D/bouncer/pgbouncer.pid
EOF
[ "$(id -u)" = 0 ] && chown -R postgres:postgres "$D/bouncer"
record "pgbouncer -d $D/bouncer/pgbouncer.ini  # pool_mode = transaction, default_pool_size = $((DB_POOL * WORKERS)) (= the module's connections direct)"
fluentai_as_postgres pgbouncer -d -q "$D/bouncer/pgbouncer.ini" \
    || { cat "$D/bouncer/pgbouncer.log" >&2; die "pgbouncer failed to start"; }

# the other half of the seeded chains (phase 4 used the first)
REFRESH_TOKENS_B="$D/out/refresh-bouncer.tokens"
q -c "SELECT token FROM bench_chains WHERE i > $CHAINS ORDER BY i" \
    > "$REFRESH_TOKENS_B"

# write_conf with CONNINFO [PREPARE], reload, wait for the new workers
reconf() {
    local old now i
    old=$(worker_pids)
    NGX_CONNINFO=$1 NGX_PREPARE=${2:-on} write_conf "$BODY"
    "$NGINX" -p "$D/nginx/" -c "$D/nginx/nginx.conf" \
        -e "$D/nginx/logs/error.log" -t -q || die "nginx -t failed"
    kill -HUP "$(master_pid)"
    for i in $(seq 1 100); do
        now=$(worker_pids)
        [ "$(comm -12 <(echo "$old" | sort) <(echo "$now" | sort) | wc -l)" = 0 ] \
            && [ "$(echo "$now" | grep -c .)" = "$WORKERS" ] && break
        sleep 0.1
    done
}

record "# nginx reloaded with fluentai_database \"host=$D/bouncer port=$BPORT ...\" and fluentai_database_prepare off"
reconf "host=$D/bouncer port=$BPORT dbname=$DB user=postgres" off
code=$(http_code "$URL/auth/profile" /dev/null \
       -H "Authorization: Bearer $(head -1 "$TOKENS")")
[ "$code" = 200 ] || die "profile through PgBouncer answered $code"

log "7. profile through PgBouncer, $CONNS connections"
run_wrk bouncer_profile profile.lua "$CONNS" "$DURATION"
log "7. refresh through PgBouncer, $CONNS connections"
run_wrk bouncer_refresh refresh.lua "$CONNS" "$DURATION" \
    BENCH_TOKENS="$REFRESH_TOKENS_B"
R[bouncer_refresh.revoked]=$(q -c "SELECT count(*) FROM bench_chains c
    JOIN sessions s ON s.id = c.sid
    WHERE c.i > $CHAINS AND s.revoked_at IS NOT NULL")
rss_snapshot after-bouncer

# back to direct for what follows
reconf "$CONNINFO"
fi

# ---------------------------------------------------------------------------
# ---------------------------------------------------------------------------
# 8. the metrics' cost on the profile path: profile loads with
# fluentai_metrics off and on, alternating (off, on, off, on) so that a
# machine whose load drifts affects both alike; the baseline is "off"

# reload with METRICS; wait until /metrics answers accordingly
reload_metrics() {
    local want=404 i
    [ "$METRICS" = on ] && want=200
    write_conf "$BODY"
    "$NGINX" -p "$D/nginx/" -c "$D/nginx/nginx.conf" \
        -e "$D/nginx/logs/error.log" -t -q || die "nginx -t failed"
    kill -HUP "$(master_pid)"
    for i in $(seq 1 100); do
        sleep 0.1
        [ "$(http_code "$URL/metrics")" = "$want" ] \
            && [ "$(worker_pids | wc -l)" = "$WORKERS" ] && return 0
    done
    die "nginx reload: /metrics does not answer $want (metrics $METRICS)"
}

if phase 8; then
record "# 8. profile with fluentai_metrics off / on, alternating"
MDUR=$(( DURATION < 5 ? DURATION : 5 ))
for round in 1 2; do
    for METRICS in off on; do
        reload_metrics
        log "8. profile, metrics $METRICS (round $round), ${MDUR}s"
        run_wrk "metrics_${METRICS}_$round" profile.lua "$CONNS" "$MDUR"
    done
done
METRICS=on
for m in off on; do
    R[metrics_$m.rps]=$(awk -v a="${R[metrics_${m}_1.rps]:-0}" \
                            -v b="${R[metrics_${m}_2.rps]:-0}" \
                            'BEGIN { printf "%.0f", (a + b) / 2 }')
    R[metrics_$m.cpu]=$(( ( ${R[metrics_${m}_1.cpu_nginx]:-0}
                           + ${R[metrics_${m}_2.cpu_nginx]:-0} ) / 2 ))
done
fi

# ---------------------------------------------------------------------------
# 9. the gate: "fluentai_auth_jwt session" (a query per request) next to
#    "on" (stateless), the same static file without a gate, and return 200

if phase 9; then
record "# 9. gate: return 200; static file without a gate, \"on\", \"session\""
log "9. gate, $CONNS connections, ${DURATION}s each"
run_wrk gate_return static.lua "$CONNS" "$DURATION"
for g in none on session; do
    run_wrk "gate_$g" static.lua "$CONNS" "$DURATION" \
        BENCH_PATH="/bench/gate-$g/f"
done
fi

# ---------------------------------------------------------------------------
# 5. memory: worker RSS before and after MEM_REQUESTS profile requests, in
# loads of at most 15 s, as many as the budget leaves

if phase 5; then
record "# 5. memory: warm-up, then profile loads of <= 15 s"

log "5. memory: up to $MEM_REQUESTS profile requests ($(left) s left)"
# a short warm-up first (pool connections, buffers), not counted
run_wrk mem_warmup profile.lua "$CONNS" 2
for pid in $(worker_pids); do RSS0[$pid]=$(rss_kb "$pid"); done
rss_snapshot before-memory
rps=${R[profile.rps]:-1000}
while [ "$MEM_DONE" -lt "$MEM_REQUESTS" ]; do
    avail=$(( $(left) - 10 ))       # kept for the report and the teardown
    [ "$avail" -ge 3 ] || break
    d=15
    [ "$d" -le "$avail" ] || d=$avail
    need=$(awk -v n=$((MEM_REQUESTS - MEM_DONE)) -v r="$rps" \
           'BEGIN { d = int(n / (r * 0.95)) + 1; print (d < 2 ? 2 : d) }')
    [ "$need" -ge "$d" ] || d=$need
    run_wrk mem$MEM_LOADS profile.lua "$CONNS" "$d"
    MEM_DONE=$((MEM_DONE + ${R[mem$MEM_LOADS.requests]:-0}))
    MEM_US=$((MEM_US + ${R[mem$MEM_LOADS.duration_us]:-0}))
    MEM_LOADS=$((MEM_LOADS + 1))
    [ -n "${R[mem$((MEM_LOADS - 1)).requests]:-}" ] || break
done
for pid in $(worker_pids); do RSS1[$pid]=$(rss_kb "$pid"); done
rss_snapshot after-memory
for ((i = 0; i < MEM_LOADS; i++)); do
    MEM_STATUS_ERRORS=$((MEM_STATUS_ERRORS + ${R[mem$i.status_errors]:-0}
                         + ${R[mem$i.connect_errors]:-0} + ${R[mem$i.read_errors]:-0}
                         + ${R[mem$i.timeouts]:-0}))
done
fi

WALL=$(elapsed)
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
ERROR_LINES=$(grep -c -E '\[(alert|crit|emerg|error)\]' "$D/nginx/logs/error.log" || true)

# ---------------------------------------------------------------------------
# report

num() { [ -n "${1:-}" ] && awk -v x="$1" 'BEGIN { printf "%.0f", x }' || echo n/a; }
num1() { [ -n "${1:-}" ] && awk -v x="$1" 'BEGIN { printf "%.1f", x }' || echo n/a; }
ms() { [ -n "${1:-}" ] && awk -v x="$1" 'BEGIN { printf "%.2f", x / 1000 }' || echo n/a; }
mb() { [ -n "${1:-}" ] && awk -v x="$1" 'BEGIN { printf "%.2f", x / 1024 }' || echo n/a; }
ratio() {       # A B [FORMAT]
    if [ -n "${1:-}" ] && [ -n "${2:-}" ]; then
        awk -v a="$1" -v b="$2" -v f="${3:-%.2f}" \
            'BEGIN { if (b > 0) printf f, a / b; else print "n/a" }'
    else
        echo n/a
    fi
}
# for verdicts: 0.896 is no PASS of ">= 0.9", though printed 0.90
unrounded() { ratio "$1" "$2" %.4f; }
# verdict VALUE OP LIMIT
verdict() {
    if [ -z "${1:-}" ] || [ "$1" = n/a ]; then echo n/a; return; fi
    awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
        ok = (op == ">=") ? (v + 0 >= l + 0) : (v + 0 <= l + 0)
        print ok ? "**PASS**" : "**MISS**" }'
}
per_s() {   # ok-count / duration
    if [ -n "${1:-}" ] && [ -n "${2:-}" ]; then
        awk -v n="$1" -v us="$2" 'BEGIN { printf "%.2f", n / (us / 1e6) }'
    fi
}
errs() {    # non-2xx + socket errors of a wrk run
    local n=$1
    echo $(( ${R[$n.status_errors]:-0} + ${R[$n.connect_errors]:-0}
             + ${R[$n.read_errors]:-0} + ${R[$n.write_errors]:-0}
             + ${R[$n.timeouts]:-0} ))
}

# CPU per request: all parts (with the load generator), or the server side
cpu_all() {
    [ -n "${R[$1.cpu_nginx]:-}" ] || return 0
    echo $(( R[$1.cpu_client] + R[$1.cpu_nginx] + R[$1.cpu_pg]
             + ${R[$1.cpu_bouncer]:-0} ))
}
cpu_srv() {
    [ -n "${R[$1.cpu_nginx]:-}" ] || return 0
    echo $(( R[$1.cpu_nginx] + R[$1.cpu_pg] ))
}

LOGIN_RATE=$(per_s "${R[login.ok]:-}" "${R[login.duration_us]:-}")
STORM_LOGIN_RATE=$(per_s "${R[storm_login.ok]:-}" "${R[storm_login.duration_us]:-}")
REFRESH_RATE=$(per_s "${R[refresh.ok]:-}" "${R[refresh.duration_us]:-}")
REGISTER_RATE=$(per_s "${R[register.ok]:-}" "${R[register.duration_us]:-}")
BOUNCER_REFRESH_RATE=$(per_s "${R[bouncer_refresh.ok]:-}" "${R[bouncer_refresh.duration_us]:-}")
PAIRS=()
MAX_GROWTH=
for pid in "${!RSS0[@]}"; do
    if [ -n "${RSS1[$pid]:-}" ]; then
        g=$((RSS1[$pid] - RSS0[$pid]))
        PAIRS+=("$pid: $(mb "${RSS0[$pid]}") -> $(mb "${RSS1[$pid]}") MB ($(awk -v g=$g 'BEGIN { printf "%+.2f", g / 1024 }'))")
        if [ -z "$MAX_GROWTH" ] || [ "$g" -gt "$MAX_GROWTH" ]; then MAX_GROWTH=$g; fi
    else
        PAIRS+=("$pid: $(mb "${RSS0[$pid]}") MB -> gone (worker exited)")
        MAX_GROWTH=999999
    fi
done
MAX_GROWTH_MB=n/a
[ -n "$MAX_GROWTH" ] && [ "$MEM_DONE" -gt 0 ] && MAX_GROWTH_MB=$(mb "$MAX_GROWTH")
MEM_NOTE=
[ "$MEM_DONE" -ge "$MEM_REQUESTS" ] \
    || MEM_NOTE=" (the budget allowed $MEM_DONE of $MEM_REQUESTS)"

P99_LIMIT=5000
REPORT="$D/report.md"
{
echo "# make bench: $START_UTC UTC, $WALL s"
echo
echo "| # | measure | figure | baseline | ratio | ratio at equal CPU | target | result |"
echo "|---|---|---|---|---|---|---|---|"
echo "| 1 | GET /auth/profile, $CONNS connections, valid tokens of $USERS users: req/s | $(num "${R[profile.rps]:-}") | (a) \`return 200\`, same body size ($BODY_LEN B): $(num "${R[static.rps]:-}") req/s | $(ratio "${R[profile.rps]:-}" "${R[static.rps]:-}") | $(ratio "$(cpu_all static)" "$(cpu_all profile)") | - | info |"
echo "| 1 | profile req/s / (b) \`pgbench -M prepared\`, the same SELECT, $CONNS clients | $(num "${R[profile.rps]:-}") | $(num "${R[pg_profile.tps]:-}") tps | $(ratio "${R[profile.rps]:-}" "${R[pg_profile.tps]:-}") | $(ratio "$(cpu_all pg_profile)" "$(cpu_all profile)") | >= 1.0 | $(verdict "$(unrounded "${R[profile.rps]:-}" "${R[pg_profile.tps]:-}")" '>=' 1.0) |"
echo "| 1 | profile p50 / p99, $CONNS connections, saturated (closed loop) | $(ms "${R[profile.p50_us]:-}") / $(ms "${R[profile.p99_us]:-}") ms | (a) $(ms "${R[static.p50_us]:-}") / $(ms "${R[static.p99_us]:-}") ms; (b) $(ms "${R[pg_profile.p50_us]:-}") / $(ms "${R[pg_profile.p99_us]:-}") ms | - | - | p99 <= 5 ms | $(verdict "${R[profile.p99_us]:-}" '<=' $P99_LIMIT) |"
echo "| 1 | profile p50 / p99, $CONNS connections paced to ${PACE} % of saturation (${DELAY_MS} ms pause; $(num "${R[paced.rps]:-}") req/s) | $(ms "${R[paced.p50_us]:-}") / $(ms "${R[paced.p99_us]:-}") ms | - | - | - | p99 <= 5 ms | $(verdict "${R[paced.p99_us]:-}" '<=' $P99_LIMIT) |"
echo "| 2 | POST /auth/login at saturation ($HASH_CONNS connections): logins/s | $(num1 "$LOGIN_RATE") | raw argon2id verify, $HASH_THREADS threads (= the pools' threads in all): $(num1 "${R[hash_pool.rate]:-}")/s (runs before, between and after the $LOGIN_ROUNDS login rounds: ${R[hash_pool.rates]:-n/a}/s; each round's ratio to the runs around it: ${R[login.rounds]:-n/a}) | $(ratio "$LOGIN_RATE" "${R[hash_pool.rate]:-}") | $(ratio "${R[hash_pool.cpu_us_per_op]:-}" "$(cpu_srv login)") | >= 0.9 | $(verdict "$(unrounded "$LOGIN_RATE" "${R[hash_pool.rate]:-}")" '>=' 0.9) |"
echo "| 3 | profile p50 / p99 during a login storm (paced as above; $(num "${R[storm.rps]:-}") req/s, logins $(num1 "$STORM_LOGIN_RATE")/s) | $(ms "${R[storm.p50_us]:-}") / $(ms "${R[storm.p99_us]:-}") ms | profile alone, paced: $(ms "${R[paced.p50_us]:-}") / $(ms "${R[paced.p99_us]:-}") ms | p99 x$(ratio "${R[storm.p99_us]:-}" "${R[paced.p99_us]:-}") | - | p99 <= 5 ms | $(verdict "${R[storm.p99_us]:-}" '<=' $P99_LIMIT) |"
echo "| 4 | POST /auth/refresh, $CONNS connections, own chains: rotations/s | $(num "$REFRESH_RATE") | \`pgbench -M prepared\`, the same rotation statement, $CONNS clients: $(num "${R[pg_refresh.tps]:-}") tps | $(ratio "$REFRESH_RATE" "${R[pg_refresh.tps]:-}") | $(ratio "$(cpu_all pg_refresh)" "$(cpu_all refresh)") | >= 0.5 | $(verdict "$(unrounded "$REFRESH_RATE" "${R[pg_refresh.tps]:-}")" '>=' 0.5) |"
echo "| 5 | worker RSS growth over $MEM_DONE profile requests$MEM_NOTE (largest of $WORKERS workers) | $MAX_GROWTH_MB MB | before: $(for p in "${!RSS0[@]}"; do printf '%s ' "$(mb "${RSS0[$p]}")"; done)MB | - | - | <= 2 MB | $(verdict "$MAX_GROWTH_MB" '<=' 2) |"
echo "| 7 | GET /auth/profile through PgBouncer (transaction mode, \`fluentai_database_prepare off\`), $CONNS connections: req/s | $(num "${R[bouncer_profile.rps]:-}") | direct (1): $(num "${R[profile.rps]:-}") req/s | $(ratio "${R[bouncer_profile.rps]:-}" "${R[profile.rps]:-}") | $(ratio "$(cpu_all profile)" "$(cpu_all bouncer_profile)") | - | info |"
echo "| 7 | POST /auth/refresh through PgBouncer, $CONNS connections, own chains: rotations/s | $(num "$BOUNCER_REFRESH_RATE") | direct (4): $(num "$REFRESH_RATE")/s | $(ratio "$BOUNCER_REFRESH_RATE" "$REFRESH_RATE") | $(ratio "$(cpu_all refresh)" "$(cpu_all bouncer_refresh)") | - | info |"
echo "| 6 | POST /auth/register ($HASH_CONNS connections): registrations/s | $(num1 "$REGISTER_RATE") | raw argon2id hash, $HASH_THREADS threads: $(num1 "${R[hash_new.rate]:-}")/s | $(ratio "$REGISTER_RATE" "${R[hash_new.rate]:-}") | $(ratio "${R[hash_new.cpu_us_per_op]:-}" "$(cpu_srv register)") | - | info |"
echo "| 8 | profile with \`fluentai_metrics on\` (mean of 2 alternating ${MDUR:-0} s loads): req/s | $(num "${R[metrics_on.rps]:-}") | the same with \`fluentai_metrics off\`: $(num "${R[metrics_off.rps]:-}") req/s (nginx CPU/request: on ${R[metrics_on.cpu]:-n/a} us, off ${R[metrics_off.cpu]:-n/a} us) | $(ratio "${R[metrics_on.rps]:-}" "${R[metrics_off.rps]:-}") | $(ratio "${R[metrics_off.cpu]:-}" "${R[metrics_on.cpu]:-}") | >= 0.95 | $(verdict "$(unrounded "${R[metrics_on.rps]:-}" "${R[metrics_off.rps]:-}")" '>=' 0.95) |"
echo "| 9 | gate \`fluentai_auth_jwt session\` (a session query per request), $CONNS connections: req/s | $(num "${R[gate_session.rps]:-}") | \`on\` (stateless): $(num "${R[gate_on.rps]:-}"); no gate: $(num "${R[gate_none.rps]:-}"); \`return 200\`: $(num "${R[gate_return.rps]:-}") req/s | $(ratio "${R[gate_session.rps]:-}" "${R[gate_on.rps]:-}") of \`on\`, $(ratio "${R[gate_session.rps]:-}" "${R[gate_return.rps]:-}") of \`return 200\` | $(ratio "$(cpu_all gate_on)" "$(cpu_all gate_session)") | - | info |"
echo "| 9 | gate p50 / p99: \`session\` | $(ms "${R[gate_session.p50_us]:-}") / $(ms "${R[gate_session.p99_us]:-}") ms | \`on\` $(ms "${R[gate_on.p50_us]:-}") / $(ms "${R[gate_on.p99_us]:-}") ms; no gate $(ms "${R[gate_none.p50_us]:-}") / $(ms "${R[gate_none.p99_us]:-}") ms; \`return 200\` $(ms "${R[gate_return.p50_us]:-}") / $(ms "${R[gate_return.p99_us]:-}") ms | - | - | - | info |"
echo
echo "Errors (non-2xx answers + socket errors + timeouts): profile $(errs profile), static $(errs static), paced $(errs paced), login $(errs login) (failed logins ${R[login.failures]:-n/a}, seeded hashes rehashed by a login ${R[login.rehashed]:-n/a}), storm profile $(errs storm), storm login $(errs storm_login), refresh $(errs refresh) (broken chains ${R[refresh.failures]:-n/a}, starved ${R[refresh.starved]:-n/a}, sessions revoked ${R[refresh.revoked]:-n/a}), register $(errs register), memory loads $MEM_STATUS_ERRORS. pgbench failed transactions: profile ${R[pg_profile.failed]:-n/a}, refresh ${R[pg_refresh.failed]:-n/a} (rotated ${R[pg_refresh.rotated]:-n/a} of ${R[pg_refresh.tx]:-n/a} transactions, sessions revoked ${R[pg_refresh.revoked]:-n/a}). nginx error log lines at error level or above: $ERROR_LINES. Through PgBouncer: profile $(errs bouncer_profile), refresh $(errs bouncer_refresh) (broken chains ${R[bouncer_refresh.failures]:-n/a}, sessions revoked ${R[bouncer_refresh.revoked]:-n/a})."
echo
echo "Coalesced lookups (\`fluentai_db_batch_size\`, \`fluentai_database_coalesce ${COALESCE:-(default)}\`): lookups served per statement during each load, share of the statements by size:"
echo
for n in profile paced storm bouncer_profile mem_warmup; do
    [ -f "$D/out/batch.$n.1" ] || continue
    echo "- $n (profile): $(batch_dist "$n" fluentai_profile)"
done
[ -f "$D/out/batch.gate_session.1" ] \
    && echo "- gate_session (\`fluentai_auth_jwt session\`): $(batch_dist gate_session fluentai_gate)"
echo
echo "CPU time per request (µs) of each part of the stack during the load (from /proc; a machine shared with other work adds little here, unlike to the rates):"
echo
echo "| load | requests | load generator | nginx workers | PostgreSQL | PgBouncer | all |"
echo "|---|---|---|---|---|---|---|"
for n in profile static pg_profile login refresh pg_refresh register bouncer_profile bouncer_refresh; do
    req=${R[$n.requests]:-${R[$n.tx]:-}}
    [ -n "$req" ] && [ -n "${R[$n.cpu_nginx]:-}" ] || continue
    echo "| $n | $req | ${R[$n.cpu_client]} | ${R[$n.cpu_nginx]} | ${R[$n.cpu_pg]} | ${R[$n.cpu_bouncer]:-0} | $(cpu_all "$n") |"
done
for n in hash_pool hash_new; do
    [ -n "${R[$n.cpu_us_per_op]:-}" ] || continue
    echo "| argon2_rate ${R[$n.mode]:-}, ${R[$n.threads]:-} threads | ${R[$n.ops]:-} | - | - | - | - | ${R[$n.cpu_us_per_op]} |"
done
echo
echo "## Setup"
echo
echo "- machine: $NPROC CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), Linux $(uname -r); load average at start $LOAD_START, at end $LOAD_END (the machine is shared: other work running at the same time lowers every figure)"
echo "- software: $("$NGINX" -v 2>&1 | sed 's/^nginx version: //'), PostgreSQL $("$PG_BIN/postgres" --version | awk '{ print $3 }'), $("$WRK" -v 2>&1 | head -1 | awk '{ print "wrk " $2 }'), libargon2 $(dpkg-query -W -f='${Version}' libargon2-1 2>/dev/null || echo '?'); module built from $(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo '?')$( [ -z "$(git -C "$TOP" status --porcelain -- src ngx_http_fluentai_module.c sql 2>/dev/null)" ] || echo ' (modified)')"
echo "- nginx: worker_processes $WORKERS (= nproc), \`thread_pool bench threads=$POOL_THREADS max_queue=65536\` (per worker: $HASH_THREADS hashing threads in all; README.md recommends as many as cores, here $NPROC), \`fluentai_database_pool size=$DB_POOL\` (per worker: $((DB_POOL * WORKERS)) PostgreSQL connections in all), access_log off, error_log warn, \`listen ... reuseport\`, argon2id m=$ARGON2_M t=$ARGON2_T p=$ARGON2_P"
phase 7 && echo "- PgBouncer $(pgbouncer --version 2>/dev/null | head -1 | awk '{ print $2 }') (phase 7): unix socket, \`pool_mode = transaction\`, \`default_pool_size = $((DB_POOL * WORKERS))\` (the module's connections direct), auth trust; nginx reloaded onto it with \`fluentai_database_prepare off\` (every statement sent with its text: PQsendQueryParams), then back"
echo "- PostgreSQL 15: throwaway cluster (initdb in a temp dir, unix socket), fsync=$FSYNC, max_connections=300, other settings default; the same server for the module and for pgbench"
echo "- seed: $USERS users sharing one precomputed argon2id hash, one session each (access tokens signed by bench/mint.pl with the bench secret), $CHAINS refresh chains for wrk, $CONNS for pgbench"
echo "- loads: ${DURATION} s each (wrk $WRK_THREADS threads, pgbench -j $WRK_THREADS), argon2_rate ${HASH_SECONDS} s; memory: $MEM_LOADS loads of <= 15 s ($(awk -v u=$MEM_US 'BEGIN { printf "%.0f", u / 1e6 }') s); whole run $WALL s"
echo "- hash baselines: verify, $((HASH_THREADS * 2)) threads (twice the pools' threads: what \`threads=2\` per worker ran until 2026-12-01): $(num1 "${R[hash_all.rate]:-}")/s"
echo
echo "Worker RSS (pid=KiB) after each phase:"
echo
echo '```'
cat "$RSS_LOG"
echo "memory phase: ${PAIRS[*]}"
echo '```'
echo
echo "## Commands"
echo
echo "\`\$BENCH_TMP\` is the run's temp dir (removed at the end; BENCH_KEEP=1 keeps it)."
echo
echo '```'
rel < "$COMMANDS"
echo '```'
echo
echo "nginx.conf:"
echo
echo '```nginx'
rel < "$D/nginx/nginx.conf"
echo '```'
echo
echo "pgbench scripts:"
echo
echo '```'
echo "-- \$BENCH_TMP/out/profile.pgbench"
cat "$D/out/profile.pgbench"
echo "-- \$BENCH_TMP/out/refresh.pgbench"
cat "$D/out/refresh.pgbench"
echo '```'
echo
echo "## Raw output"
echo
cat "$RAW"
} > "$REPORT"

mkdir -p "$RESULTS"
cp "$REPORT" "$RESULTS/$STAMP.md"
cat "$REPORT"
log "written to ${RESULTS#$TOP/}/$STAMP.md ($WALL s)"
