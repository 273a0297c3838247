#!/usr/bin/env bash
# Package test (root; in .ci/run through `make test-package`):
#
#   t/package.sh build/deb/libnginx-mod-http-fluentai_*.deb
#
# Installs the .deb with apt-get, checks where its files went and that the
# module is enabled through /etc/nginx/modules-enabled/, migrates a
# throwaway PostgreSQL cluster with the installed fluentai-migrate, runs
# `nginx -t` on the installed nginx.conf.example (and on the system's own
# nginx.conf, which now loads the module), serves requests through the
# system nginx binary on its own paths and loopback port (never the system
# service), then purges the package and checks that nothing is left.
# Port: PKG_TEST_PORT, default TEST_NGINX_PORT + 1 (1985).
set -euo pipefail

PKG=libnginx-mod-http-fluentai
DEB=${1:?usage: t/package.sh PATH.deb}
DEB=$(readlink -f "$DEB")
PORT=${PKG_TEST_PORT:-$(( ${TEST_NGINX_PORT:-1984} + 1 ))}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
NGINX=/usr/sbin/nginx
APT=(apt-get -o DPkg::Lock::Timeout=600 -y -q)
export DEBIAN_FRONTEND=noninteractive

n=0
failed=0
ok()   { n=$((n + 1)); echo "ok $n - $*"; }
nok()  { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else nok "$what"; fi; }
die()  { echo "Bail out! $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (apt-get install/purge)"
[ -f "$DEB" ] || die "no such file: $DEB"

TMP=$(mktemp -d /tmp/fluentai-pkg.XXXXXX)
chmod 0755 "$TMP"
PG_STARTED=0
NGINX_PID=

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$NGINX_PID" ] && kill -0 "$NGINX_PID" 2>/dev/null; then
        kill -QUIT "$NGINX_PID" 2>/dev/null || true
        sleep 1
    fi
    if [ "$PG_STARTED" = 1 ]; then
        runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$TMP/pg/data" \
            -m immediate -w stop >/dev/null 2>&1 || true
    fi
    # never leave the package on the machine
    if dpkg-query -W -f='${db:Status-Status}' "$PKG" 2>/dev/null \
            | grep -qv not-installed; then
        "${APT[@]}" purge "$PKG" >/dev/null 2>&1 || true
    fi
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$PKG" 2>/dev/null)" \
        = installed ]
}

# Everything the package may touch, before and after.
snapshot() {
    { find /etc/nginx /usr/lib/nginx /usr/share/nginx /usr/share/fluentai \
           /usr/share/doc/$PKG /usr/bin/fluentai-migrate \
           /usr/share/man/man1/fluentai-migrate.1.gz \
           -path /usr/share/nginx/src -prune -o -print 2>/dev/null || true
      ls /var/lib/dpkg/info | grep -F "$PKG" || true; } | sort
}

# --- install -----------------------------------------------------------

if installed; then
    echo "# $PKG is installed already: purging it first"
    "${APT[@]}" purge "$PKG" >/dev/null
fi
snapshot > "$TMP/before"

"${APT[@]}" install "$DEB" > "$TMP/apt-install.log" 2>&1 \
    || { cat "$TMP/apt-install.log"; die "apt-get install $DEB failed"; }
check "apt-get install ./$(basename "$DEB")" installed

so=/usr/lib/nginx/modules/ngx_http_fluentai_module.so
check "module in /usr/lib/nginx/modules/" test -f "$so"
snippet=/usr/share/nginx/modules-available/mod-http-fluentai.conf
check "load_module snippet in modules-available" \
    grep -qx 'load_module modules/ngx_http_fluentai_module.so;' "$snippet"
check "snippet enabled in /etc/nginx/modules-enabled/" \
    test "$(readlink /etc/nginx/modules-enabled/50-mod-http-fluentai.conf)" \
         = "$snippet"
abi=$(sed -n 's/^nginx:abi=//p' /usr/share/nginx/src/debian/libnginx-mod.abisubstvars)
check "depends on the nginx ABI it was built for ($abi)" \
    grep -q "\\b$abi\\b" <(dpkg-query -W -f='${Depends}' "$PKG")
check "nginx provides that ABI" \
    grep -q "\\b$abi\\b" <(dpkg-query -W -f='${Provides}' nginx)
check "migrations in /usr/share/fluentai/sql/migrations/" \
    test -f /usr/share/fluentai/sql/migrations/001_users.sql
check "fluentai-migrate on PATH" test "$(command -v fluentai-migrate)" = /usr/bin/fluentai-migrate
example=/usr/share/doc/$PKG/examples/nginx.conf.example
check "nginx.conf.example in /usr/share/doc/$PKG/examples/" test -f "$example"
# the example's password blocklist is another package's file: the .deb
# must pull that package in, or `nginx -t` on the example fails on a
# machine without it
blocklist=$(sed -n 's/^[[:space:]]*fluentai_password_blocklist[[:space:]]*'\
'\([^;[:space:]]*\);.*/\1/p' "$example")
blpkg=$(dpkg-query -S "${blocklist:-/none}" 2>/dev/null | cut -d: -f1)
what="the example's blocklist ${blocklist:-(none)} comes with a package"
what+=" the .deb depends on or recommends (${blpkg:-none})"
check "$what" \
    grep -qw -- "${blpkg:-none}" <(dpkg-deb -f "$DEB" Depends Recommends)
check "openapi.json in /usr/share/fluentai/docs/" \
    test -f /usr/share/fluentai/docs/openapi.json
check "man page for fluentai-migrate" \
    test -f /usr/share/man/man1/fluentai-migrate.1.gz

# the stock server, which includes modules-enabled/*.conf, still passes
check "nginx -t on the system's nginx.conf with the module enabled" \
    "$NGINX" -t -q

# --- database: a throwaway cluster, migrated by the installed command --

mkdir -p "$TMP/pg/data" "$TMP/pg/sock"
chown -R postgres:postgres "$TMP/pg"
PGPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
runuser -u postgres -- "$PG_BIN/initdb" -D "$TMP/pg/data" -A trust \
    -U postgres --encoding UTF8 --locale C > "$TMP/initdb.log" 2>&1 \
    || { cat "$TMP/initdb.log"; die "initdb failed"; }
PG_STARTED=1
runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$TMP/pg/data" -w -t 60 \
    -l "$TMP/pg/pg.log" -o "-c listen_addresses='' -c port=$PGPORT -c unix_socket_directories=$TMP/pg/sock -c fsync=off" \
    start > /dev/null || { cat "$TMP/pg/pg.log"; die "PostgreSQL did not start"; }
CONNINFO="host=$TMP/pg/sock port=$PGPORT dbname=fluentai user=postgres"
psql -X -q -d "host=$TMP/pg/sock port=$PGPORT dbname=postgres user=postgres" \
    -c 'CREATE DATABASE fluentai'

out=$(fluentai-migrate "$CONNINFO" 2>&1) || { echo "$out"; die "fluentai-migrate failed"; }
check "fluentai-migrate applies the shipped migrations" \
    grep -q '^applied 001_users$' <<<"$out"
out=$(fluentai-migrate "$CONNINFO" 2>&1)
check "fluentai-migrate again: nothing to apply" \
    grep -q '^nothing to apply' <<<"$out"

# --- nginx: the installed example on our own paths and port -------------

head -c 48 /dev/urandom > "$TMP/jwt.key"
chmod 0600 "$TMP/jwt.key"
mkdir -p "$TMP/www" "$TMP/tmp" "$TMP/logs"
echo '<!doctype html><title>FluentAI</title>' > "$TMP/www/index.html"
{
    echo "pid $TMP/nginx.pid;"
    echo "error_log $TMP/logs/error.log info;"
    # the example's load_module line is kept: it names the installed path
    sed -E \
        -e "s|^worker_processes .*;|worker_processes 2;|" \
        -e "s|^([[:space:]]*)fluentai_database .*;|\\1fluentai_database \"$CONNINFO\";|" \
        -e "s|^([[:space:]]*)fluentai_jwt_secret_file .*;|\\1fluentai_jwt_secret_file $TMP/jwt.key;|" \
        -e "s|^([[:space:]]*)listen .*;|\\1listen 127.0.0.1:$PORT;|" \
        -e "s|^([[:space:]]*)root /var/www/fluentai;|\\1root $TMP/www;|" \
        -e "s|^([[:space:]]*)access_log /[^ ;]*|\\1access_log $TMP/logs/access.log|" \
        -e "s|^http \\{|http {\\n    client_body_temp_path $TMP/tmp/client_body;\\n    proxy_temp_path $TMP/tmp/proxy;\\n    fastcgi_temp_path $TMP/tmp/fastcgi;\\n    uwsgi_temp_path $TMP/tmp/uwsgi;\\n    scgi_temp_path $TMP/tmp/scgi;|" \
        "$example"
} > "$TMP/nginx.conf"

check "the example still loads the installed module" \
    grep -q "^load_module $so;" "$TMP/nginx.conf"
check "nginx -t on the installed nginx.conf.example" \
    "$NGINX" -t -q -e "$TMP/logs/error.log" -c "$TMP/nginx.conf"

"$NGINX" -e "$TMP/logs/error.log" -c "$TMP/nginx.conf" \
    || die "system nginx did not start: $(tail -5 "$TMP/logs/error.log")"
for _ in $(seq 1 50); do [ -s "$TMP/nginx.pid" ] && break; sleep 0.1; done
NGINX_PID=$(cat "$TMP/nginx.pid")

email="pkg-$RANDOM@example.com"
body=$(curl -sS -o "$TMP/register.json" -w '%{http_code}' \
    -H 'Content-Type: application/json' \
    --data "{\"email\":\"$email\",\"password\":\"Correct-Horse-9\",\"name\":\"Pkg\"}" \
    "http://127.0.0.1:$PORT/auth/register") || body=curl-failed
check "POST /auth/register through the system nginx: 200" \
    test "$body" = 200
check "the response carries an access token" \
    grep -q '"access_token"' "$TMP/register.json"
rows=$(psql -X -At -d "$CONNINFO" -c "SELECT count(*) FROM users WHERE email = '$email'")
check "the user row is in the database" test "$rows" = 1
code=$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/health") || code=curl-failed
check "GET /health: 200" test "$code" = 200
rows=$(psql -X -At -d "$CONNINFO" -c "SELECT count(*) FROM audit_log a JOIN users u ON u.id = a.user_id WHERE u.email = '$email' AND a.event = 'signup' AND a.ip = '127.0.0.1'")
check "the signup is in the audit trail" test "$rows" = 1
curl -sS -o "$TMP/metrics.txt" "http://127.0.0.1:$PORT/metrics" || true
check "GET /metrics (loopback, as the example allows): the registration" \
    grep -qx 'fluentai_registrations_total{outcome="created"} 1' "$TMP/metrics.txt"
check "no [alert]/[crit]/[emerg] in the error log" \
    bash -c "! grep -E '\\[(alert|crit|emerg)\\]' '$TMP/logs/error.log'"

kill -QUIT "$NGINX_PID"
for _ in $(seq 1 100); do kill -0 "$NGINX_PID" 2>/dev/null || break; sleep 0.1; done
check "nginx stopped" bash -c "! kill -0 $NGINX_PID 2>/dev/null"
NGINX_PID=

# --- purge: nothing left behind ----------------------------------------

dpkg-query -L "$PKG" > "$TMP/files"
"${APT[@]}" purge "$PKG" > "$TMP/apt-purge.log" 2>&1 \
    || { cat "$TMP/apt-purge.log"; die "apt-get purge failed"; }
check "apt-get purge $PKG" bash -c "! dpkg-query -W -f='\${db:Status-Status}' $PKG 2>/dev/null | grep -qx installed"
left=$(grep -E '^/(usr/lib/nginx/modules|usr/share/fluentai|usr/share/nginx/modules-available|usr/bin|usr/share/doc/'"$PKG"')/.' "$TMP/files" \
    | while read -r f; do [ -e "$f" ] || [ -L "$f" ] && echo "$f"; done || true)
check "none of the package's files remain" test -z "$left"
check "no modules-enabled link (or .removed) remains" \
    bash -c "! ls /etc/nginx/modules-enabled/ | grep -q fluentai"
snapshot > "$TMP/after"
check "the file system is as before the install" \
    diff -u "$TMP/before" "$TMP/after"

echo "1..$n"
[ "$failed" = 0 ] || { echo "# $failed of $n failed"; exit 1; }
