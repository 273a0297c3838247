#!/usr/bin/env bash
# Install the Debian packages the build, the tests and `make run` need.
# Fast no-op when everything is installed; apt-get update only when
# something is missing; a clear failure when not root.
#
#   scripts/deps.sh         # build, make test, make run, make bench
#   scripts/deps.sh ha      # also Patroni, etcd and PgBouncer (make test-ha,
#                           # make test TEST_PGBOUNCER=1, make bench)
#   scripts/deps.sh browser # also chromium (make test-browser)
set -euo pipefail

PKGS=(
    nginx nginx-dev
    libjansson-dev libpq-dev libssl-dev libargon2-dev libcrypt-dev
    postgresql
    libtest-base-perl libtext-diff-perl libipc-run-perl
    liblist-moreutils-perl libwww-perl liburi-perl
    valgrind wrk clang libclang-rt-dev
    curl debhelper dpkg-dev lintian prometheus
    python3-aiosmtpd openssl john-data
)

# beyond one machine: the failover suite's cluster, the pooler
HA_PKGS=(patroni etcd-server etcd-client pgbouncer)

for group in "$@"; do
    case "$group" in
        ha) PKGS+=("${HA_PKGS[@]}") ;;
        browser)
            # Debian's chromium, and npm unless one is on PATH already
            PKGS+=(chromium fonts-liberation)
            command -v npm >/dev/null 2>&1 || PKGS+=(npm) ;;
        *)  echo "deps: unknown group: $group (known: ha, browser)" >&2
            exit 2 ;;
    esac
done

missing=()
for p in "${PKGS[@]}"; do
    st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$st" = installed ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

echo "deps: missing packages: ${missing[*]}" >&2
if [ "$(id -u)" != 0 ]; then
    echo "deps: not root; install them with:" >&2
    echo "    sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
