#!/usr/bin/env bash
# Makes sure clang can build libFuzzer targets (-fsanitize=fuzzer,address,
# undefined).  Fast no-op when it can; otherwise installs Debian's clang
# and its compiler-rt (libFuzzer, ASan, UBSan runtimes) like
# scripts/deps.sh does: apt-get only when something is missing, a clear
# failure when not root.
set -euo pipefail

CC=${FUZZ_CC:-clang}
PKGS=(clang libclang-rt-dev)

probe() {
    local dir rc
    dir=$(mktemp -d)
    printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
        'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)' \
        '{ (void) d; (void) n; return 0; }' > "$dir/probe.c"
    rc=0
    "$CC" -fsanitize=fuzzer,address,undefined "$dir/probe.c" \
        -o "$dir/probe" >/dev/null 2>&1 || rc=1
    rm -rf "$dir"
    return $rc
}

probe && exit 0

missing=()
for p in "${PKGS[@]}"; do
    st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$st" = installed ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "fuzz: $CC cannot link -fsanitize=fuzzer,address,undefined" \
         "although ${PKGS[*]} are installed" >&2
    exit 1
fi

echo "fuzz: missing packages: ${missing[*]}" >&2
if [ "$(id -u)" != 0 ]; then
    echo "fuzz: not root; install them with:" >&2
    echo "    sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"

probe || { echo "fuzz: $CC still cannot build fuzz targets" >&2; exit 1; }
