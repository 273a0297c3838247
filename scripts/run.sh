#!/usr/bin/env bash
# Local development server (`make run`) and migrations (`make migrate`).
#
#   scripts/run.sh run       # PostgreSQL in .run/pgdata + nginx in the
#                            # foreground on 127.0.0.1:${PORT:-8080}; Ctrl-C
#                            # stops both
#   scripts/run.sh migrate   # apply sql/ to the same database
#   scripts/run.sh conf      # write and print .run/nginx.conf
#
# FLUENTAI_DATABASE_URL (libpq conninfo or postgresql:// URI) selects an
# external database instead of the embedded one.  PGPORT_RUN picks the
# embedded cluster's port (default 5433, or a free one).
# FLUENTAI_RUN_DIR replaces .run/ (state, logs, nginx.conf).  Every value
# reaches nginx.conf as written (quoted for nginx), or is refused with a
# message: control characters anywhere, $ in the paths nginx expands.
# Mail goes to a local SMTP sink (scripts/smtp-sink.py on 127.0.0.1:
# ${SMTP_PORT_RUN:-2525}, or a free port): every message is stored under
# .run/mail/ and its links are printed on the console.
# FLUENTAI_WEB_ROOT is the frontend served at / (default .run/www, a
# placeholder page; point it at the React client's build output).  /docs
# and /openapi.json come from build/docs/www (`make docs`, which `make run`
# runs first).  FLUENTAI_CORS_ORIGINS replaces the example's
# fluentai_cors_origins (e.g. "http://localhost:5173" for a Vite dev server
# on its default port).  FLUENTAI_RUN_DIR keeps everything elsewhere than
# .run/ (make test-browser runs its own server so).
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUN=${FLUENTAI_RUN_DIR:-$TOP/.run}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PGDATA_RUN="$RUN/pgdata"
PGSOCK="$RUN/pgsock"
NGINX=${NGINX:-/usr/sbin/nginx}
MODULE=${FLUENTAI_MODULE_SO:-$TOP/build/ngx_http_fluentai_module.so}
PORT=${PORT:-8080}
WEB_ROOT=${FLUENTAI_WEB_ROOT:-$RUN/www}
DOCS_DIR=$TOP/build/docs/www

PG_STARTED_HERE=0
NGINX_PID=
SINK_PID=
SMTP_PORT=

log() { echo "run: $*" >&2; }
die() { log "$*"; exit 1; }

# initdb, start, stop: the same as t/run-suites and bench/run.sh
. "$TOP/scripts/pg.sh"

port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

pg_running() {
    fluentai_pg_running "$PGDATA_RUN"
}

pg_port() {
    # the port of the running embedded cluster (postmaster.pid line 4)
    sed -n 4p "$PGDATA_RUN/postmaster.pid"
}

conninfo() {
    if [ -n "${FLUENTAI_DATABASE_URL:-}" ]; then
        printf '%s' "$FLUENTAI_DATABASE_URL"
    else
        printf 'host=%s port=%s dbname=fluentai user=postgres' \
            "$PGSOCK" "$(pg_port)"
    fi
}

pg_start() {
    [ -n "${FLUENTAI_DATABASE_URL:-}" ] && return 0
    mkdir -p "$RUN"
    chmod 0755 "$RUN"
    if [ ! -f "$PGDATA_RUN/PG_VERSION" ]; then
        log "initializing PostgreSQL in $PGDATA_RUN (first run)"
        mkdir -p "$PGDATA_RUN"
        [ "$(id -u)" = 0 ] && chown postgres:postgres "$PGDATA_RUN"
        chmod 0700 "$PGDATA_RUN"
        fluentai_pg_init "$PGDATA_RUN" "$RUN/initdb.log" \
            || die "initdb failed"
    fi
    mkdir -p "$PGSOCK"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$PGSOCK"
    if pg_running; then
        log "PostgreSQL already running (port $(pg_port)); reusing it"
    else
        local port=${PGPORT_RUN:-5433}
        if ! port_free "$port"; then
            port=$(fluentai_free_port)
        fi
        touch "$RUN/postgres.log"
        [ "$(id -u)" = 0 ] && chown postgres:postgres "$RUN/postgres.log"
        PG_STARTED_HERE=1
        fluentai_pg_start "$PGDATA_RUN" "$RUN/postgres.log" \
            "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$PGSOCK" \
            || die "PostgreSQL failed to start"
        log "PostgreSQL on $PGSOCK and 127.0.0.1:$port"
    fi
    local base="host=$PGSOCK port=$(pg_port) user=postgres"
    if [ "$(psql -X -A -t -q -d "$base dbname=postgres" \
            -c "SELECT 1 FROM pg_database WHERE datname = 'fluentai'")" != 1 ]
    then
        log "creating database fluentai"
        psql -X -q -v ON_ERROR_STOP=1 -d "$base dbname=postgres" \
            -c 'CREATE DATABASE fluentai'
    fi
}

pg_stop() {
    if [ "$PG_STARTED_HERE" = 1 ]; then
        PG_STARTED_HERE=0
        log "stopping PostgreSQL"
        fluentai_pg_stop "$PGDATA_RUN" fast
    fi
}

sink_start() {
    SMTP_PORT=${SMTP_PORT_RUN:-2525}
    if ! port_free "$SMTP_PORT"; then
        SMTP_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    fi
    mkdir -p "$RUN/mail"
    /usr/bin/python3 "$TOP/scripts/smtp-sink.py" \
        --listen "127.0.0.1:$SMTP_PORT" --dir "$RUN/mail" &
    SINK_PID=$!
    for _ in $(seq 1 50); do
        port_free "$SMTP_PORT" || return 0
        kill -0 "$SINK_PID" 2>/dev/null || die "the SMTP sink did not start"
        sleep 0.1
    done
    die "the SMTP sink does not listen on $SMTP_PORT"
}

sink_stop() {
    if [ -n "$SINK_PID" ] && kill -0 "$SINK_PID" 2>/dev/null; then
        kill -TERM "$SINK_PID" 2>/dev/null || true
        wait "$SINK_PID" 2>/dev/null || true
    fi
    SINK_PID=
}

migrate() {
    [ -f "$TOP/sql/migrate.sh" ] || die "sql/migrate.sh not found"
    bash "$TOP/sql/migrate.sh" "$(conninfo)"
}

jwt_key() {
    mkdir -p "$RUN"
    if [ ! -s "$RUN/jwt.key" ]; then
        log "creating dev JWT secret $RUN/jwt.key"
        (umask 077 && head -c 48 /dev/urandom > "$RUN/jwt.key")
    fi
    chmod 0600 "$RUN/jwt.key"
}

# the frontend at /: FLUENTAI_WEB_ROOT, or a placeholder page in .run/www
web_root() {
    if [ -z "${FLUENTAI_WEB_ROOT:-}" ] && [ ! -f "$RUN/www/index.html" ]; then
        mkdir -p "$RUN/www"
        cat > "$RUN/www/index.html" <<'EOF'
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>FluentAI (make run)</title></head>
<body><h1>FluentAI API (make run)</h1>
<p>This placeholder stands for the React frontend: set FLUENTAI_WEB_ROOT to
its build output. API documentation: <a href="/docs">/docs</a>; the OpenAPI
document: <a href="/openapi.json">/openapi.json</a>.</p>
</body></html>
EOF
    fi
    [ -d "$WEB_ROOT" ] || die "FLUENTAI_WEB_ROOT: $WEB_ROOT is not a directory"
    [ -f "$DOCS_DIR/index.html" ] \
        || log "no $DOCS_DIR (make docs): /docs will answer 404"
}

# A value for nginx.conf as one double-quoted token: \\ and \" escaped, so
# any conninfo, URI or path reaches the configuration intact (nginx
# unescapes exactly these in quoted strings).  Control characters (a
# newline...) cannot be written safely: refused.  $ is refused where
# nginx would read it as a variable (root, alias, access_log: what="path").
check_value() {
    local name=$1 value=$2 what=${3:-}
    case "$value" in
        *[[:cntrl:]]*)
            die "$name must not contain a newline or other control characters" ;;
    esac
    if [ "$what" = path ]; then
        case "$value" in
            *'$'*) die "$name must not contain \$ (nginx reads it as a variable): $value" ;;
        esac
    fi
}

# .run/nginx.conf from nginx.conf.example: same endpoints and directives,
# local paths, foreground.  The values are substituted by perl from the
# environment (never through a sed replacement, where & and \ mean
# something).
write_conf() {
    local ci
    ci=$(conninfo)
    check_value FLUENTAI_DATABASE_URL "$ci"
    check_value FLUENTAI_MODULE_SO "$MODULE"
    check_value "the run directory" "$RUN" path
    check_value FLUENTAI_WEB_ROOT "$WEB_ROOT" path
    check_value "the docs directory" "$DOCS_DIR" path
    check_value FLUENTAI_CORS_ORIGINS "${FLUENTAI_CORS_ORIGINS:-}"
    case "$PORT" in
        ''|*[!0-9]*) die "PORT must be a port number, not: $PORT" ;;
    esac
    [ "$PORT" -ge 1 ] && [ "$PORT" -le 65535 ] \
        || die "PORT must be 1-65535, not: $PORT"
    mkdir -p "$RUN/tmp"
    web_root
    F_CI=$ci F_MODULE=$MODULE F_RUN=$RUN F_PORT=$PORT F_WEB_ROOT=$WEB_ROOT \
    F_DOCS=$DOCS_DIR F_CORS=${FLUENTAI_CORS_ORIGINS:-} \
    F_SMTP=${SMTP_PORT:-2525} perl -e '
        use strict; use warnings;
        sub nq { my $v = shift; $v =~ s/([\\"])/\\$1/g; return qq{"$v"} }
        my %e = map { $_ => $ENV{"F_$_"} } qw(CI MODULE RUN PORT WEB_ROOT DOCS CORS SMTP);
        my $run = $e{RUN};
        print "# generated by scripts/run.sh from nginx.conf.example; ",
              "do not edit\n",
              "daemon off;\nmaster_process on;\n",
              "pid ", nq("$run/nginx.pid"), ";\n",
              "error_log stderr notice;\n",
              "error_log ", nq("$run/error.log"), " info;\n";
        while (my $l = <STDIN>) {
            $l =~ s/^(\s*)load_module .*;/$1 . "load_module " . nq($e{MODULE}) . ";"/e;
            $l =~ s/^worker_processes .*;/worker_processes 2;/;
            $l =~ s/^(\s*)fluentai_database .*;/$1 . "fluentai_database " . nq($e{CI}) . ";"/e;
            $l =~ s/^(\s*)fluentai_jwt_secret_file .*;/$1 . "fluentai_jwt_secret_file " . nq("$run\/jwt.key") . ";"/e;
            $l =~ s/^(\s*)listen .*;/$1listen 127.0.0.1:$e{PORT};/;
            $l =~ s/^(\s*)fluentai_smtp_relay .*;/$1fluentai_smtp_relay 127.0.0.1:$e{SMTP};/;
            $l =~ s/^(\s*)fluentai_public_url .*;/$1fluentai_public_url http:\/\/127.0.0.1:$e{PORT};/;
            $l =~ s/^(\s*)root \/var\/www\/fluentai;/$1 . "root " . nq($e{WEB_ROOT}) . ";"/e;
            $l =~ s/\/usr\/share\/fluentai\/docs(\/?)\;/nq("$e{DOCS}$1") . ";"/e;
            $l =~ s/^(\s*)access_log \/[^ ;]*/$1 . "access_log " . nq("$run\/access.log")/e;
            if ($e{CORS} ne "") {
                $l =~ s/^(\s*)fluentai_cors_origins .*;/$1 . "fluentai_cors_origins " . join(" ", map { nq($_) } split " ", $e{CORS}) . ";"/e;
            }
            if ($l =~ /^http \{/) {
                $l .= join "", map { "    ${_}_temp_path " . nq("$run/tmp/$_") . ";\n" }
                               qw(client_body proxy fastcgi uwsgi scgi);
            }
            print $l;
        }' < "$TOP/nginx.conf.example" > "$RUN/nginx.conf.new"
    mv "$RUN/nginx.conf.new" "$RUN/nginx.conf"
}

on_exit() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$NGINX_PID" ] && kill -0 "$NGINX_PID" 2>/dev/null; then
        log "stopping nginx"
        kill -QUIT "$NGINX_PID" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$NGINX_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -TERM "$NGINX_PID" 2>/dev/null || true
        wait "$NGINX_PID" 2>/dev/null || true
    fi
    sink_stop
    pg_stop
    exit "$rc"
}

cmd_run() {
    [ -f "$MODULE" ] || die "$MODULE not built (make build)"
    trap on_exit EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    pg_start
    migrate
    jwt_key
    sink_start
    write_conf
    "$NGINX" -e "$RUN/error.log" -p "$RUN/" -c "$RUN/nginx.conf" -t -q \
        || die "nginx -t failed for $RUN/nginx.conf"
    log "nginx on http://127.0.0.1:$PORT (Ctrl-C to stop)"
    log "mail: SMTP sink on 127.0.0.1:$SMTP_PORT, messages in $RUN/mail/"
    "$NGINX" -e "$RUN/error.log" -p "$RUN/" -c "$RUN/nginx.conf" &
    NGINX_PID=$!
    local rc=0
    wait "$NGINX_PID" || rc=$?
    NGINX_PID=
    log "nginx exited ($rc)"
    exit "$rc"
}

cmd_migrate() {
    trap 'pg_stop' EXIT
    pg_start
    migrate
}

case "${1:-run}" in
    run)     cmd_run ;;
    migrate) cmd_migrate ;;
    conf)    pg_start; jwt_key; write_conf; pg_stop; cat "$RUN/nginx.conf" ;;
    *)       die "usage: $0 run|migrate|conf" ;;
esac
