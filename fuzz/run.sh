#!/usr/bin/env bash
# Runs built libFuzzer targets (called by fuzz/fuzz.mk).
#
#   fuzz/run.sh fuzz    SECONDS BINDIR TARGET...
#       fuzzes each target for SECONDS on a fresh copy of its committed
#       corpus fuzz/corpus/TARGET/ (BINDIR/corpus/TARGET; new inputs stay
#       there), crash inputs go to BINDIR/artifacts/TARGET/;
#   fuzz/run.sh regress BINDIR TARGET...
#       runs each target once over every file of fuzz/corpus/TARGET/.
#
# Prints one line per target; exits non-zero if any target failed (crash,
# leak, timeout, out of memory, invariant violation).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

mode=$1; shift
if [ "$mode" = fuzz ]; then
    seconds=$1; shift
fi
bindir=$1; shift

failed=()

for t in "$@"; do
    bin=$bindir/fuzz_$t
    log=$bindir/$t.$mode.log
    dict=()
    [ -f "fuzz/$t.dict" ] && dict=(-dict="fuzz/$t.dict")

    if [ "$mode" = fuzz ]; then
        work=$bindir/corpus/$t
        art=$bindir/artifacts/$t
        rm -rf "$work" && mkdir -p "$work" "$art"
        cp -a "fuzz/corpus/$t/." "$work/"

        "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
            -artifact_prefix="$art/" -print_final_stats=1 "${dict[@]}" \
            "$work" > "$log" 2>&1
        rc=$?
        done_line=$(grep -E '^Done [0-9]+ runs in' "$log" | tail -1)
        if [ -z "$done_line" ]; then
            done_line="stopped after: $(grep -E '^#[0-9]+' "$log" | tail -1)"
        fi
        printf 'fuzz %-13s %s\n' "$t:" "$done_line"
    else
        files=(fuzz/corpus/$t/*)
        "$bin" -timeout=10 -rss_limit_mb=2048 "${files[@]}" > "$log" 2>&1
        rc=$?
        printf 'fuzz-regress %-13s %d inputs\n' "$t:" "${#files[@]}"
    fi

    if [ $rc -ne 0 ]; then
        failed+=("$t")
        echo "FAILED: $t (exit $rc), log $log:" >&2
        grep -E 'ERROR|invariant|runtime error|SUMMARY|Test unit written|^(==|#)[0-9]+.*(in |at )' \
            "$log" | head -20 >&2
        [ "$mode" = fuzz ] && ls -1 "$bindir/artifacts/$t/" >&2
        echo "  (add the crash input to fuzz/corpus/$t/ once fixed)" >&2
    fi
done

if [ ${#failed[@]} -ne 0 ]; then
    echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]}" >&2
    exit 1
fi
