#!/usr/bin/env bash
# Install the Debian packages the build, the tests and `make run` need.
# Fast no-op when everything is installed; apt-get update only when
# something is missing; a clear failure when not root.
set -euo pipefail

PKGS=(
    nginx nginx-dev
    libjansson-dev libpq-dev libssl-dev libargon2-dev libcrypt-dev
    postgresql
    libtest-base-perl libtext-diff-perl libipc-run-perl
    liblist-moreutils-perl libwww-perl liburi-perl
    valgrind wrk clang libclang-rt-dev
    john-data
)

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
