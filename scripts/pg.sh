# PostgreSQL 15 for the module's tools: the one way to make and run a
# cluster, sourced by t/run-suites, scripts/run.sh and bench/run.sh.
#
#   . scripts/pg.sh
#   fluentai_pg_init DATADIR LOGFILE          # initdb: trust, postgres, C
#   fluentai_pg_start DATADIR LOGFILE OPTIONS # pg_ctl start -w, OPTIONS: -o
#   fluentai_pg_stop DATADIR [MODE]           # pg_ctl stop -m MODE (fast)
#   fluentai_pg_running DATADIR
#   fluentai_free_port                        # a free TCP port on 127.0.0.1
#
# As root the server runs as the postgres user (fluentai_as_postgres).

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

fluentai_as_postgres() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    elif [ "$(id -un)" = postgres ]; then
        "$@"
    else
        echo "pg.sh: must run as root or postgres" >&2
        return 1
    fi
}

fluentai_pg_init() {
    fluentai_as_postgres "$PG_BIN/initdb" -D "$1" -A trust -U postgres \
        --encoding UTF8 --locale C >"$2" 2>&1 \
        || { cat "$2" >&2; return 1; }
}

fluentai_pg_start() {
    fluentai_as_postgres "$PG_BIN/pg_ctl" -D "$1" -w -t 60 -l "$2" \
        -o "$3" start >/dev/null \
        || { tail -20 "$2" >&2; return 1; }
}

fluentai_pg_stop() {
    fluentai_as_postgres "$PG_BIN/pg_ctl" -D "$1" -m "${2:-fast}" -w stop \
        >/dev/null 2>&1 || true
}

fluentai_pg_running() {
    fluentai_as_postgres "$PG_BIN/pg_ctl" -D "$1" status >/dev/null 2>&1
}

fluentai_free_port() {
    perl -MIO::Socket::INET -e \
        'print IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1",
                                     LocalPort => 0)->sockport, "\n"'
}
