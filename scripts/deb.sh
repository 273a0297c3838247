#!/usr/bin/env bash
# Build the Debian package libnginx-mod-http-fluentai out of tree.
#
#   scripts/deb.sh            # -> build/deb/libnginx-mod-http-fluentai_*.deb
#
# Copies the source files git knows of (tracked, plus new files that are
# not ignored) to build/deb/src/ and runs dpkg-buildpackage there: debhelper
# and dh_nginx (from nginx-dev) build the module against Debian's nginx and
# write their files into that copy, never into the source tree.  Prints the
# path of the .deb on its last line.  Environment: DEB_OUT (output directory,
# default build/deb).
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${DEB_OUT:-$TOP/build/deb}
SRC=$OUT/src

cd "$TOP"
rm -rf "$OUT"
mkdir -p "$SRC"

# the source tree as git sees it, with uncommitted edits
git ls-files -z --cached --others --exclude-standard \
    | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
    | tar --null -T - -cf - | tar -xf - -C "$SRC"

cd "$SRC"
dpkg-buildpackage -us -uc > "$OUT/build.log" 2>&1 \
    || { tail -40 "$OUT/build.log" >&2; exit 1; }

deb=$(ls "$OUT"/libnginx-mod-http-fluentai_*.deb)
echo "deb: built $(basename "$deb") (log: ${OUT#$TOP/}/build.log)" >&2

# lintian's findings, for the record (not fatal)
if command -v lintian >/dev/null; then
    lintian --display-info --pedantic "$OUT"/*.changes \
        > "$OUT/lintian.txt" 2>&1 || true
    echo "deb: lintian: $(grep -c '^[EW]:' "$OUT/lintian.txt" || true)" \
         "errors/warnings, $(grep -c '^[IP]:' "$OUT/lintian.txt" || true)" \
         "info/pedantic (${OUT#$TOP/}/lintian.txt)" >&2
fi
echo "$deb"
