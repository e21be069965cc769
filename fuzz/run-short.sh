#!/bin/sh
# A short coverage-guided libFuzzer run of every fuzz target (ASan + UBSan), as
# scripts/test.sh runs it in CI: CONFAB_FUZZ_SECONDS each (default 20). The long
# run is documented in docs/relay.md#fuzzing. Exits non-zero on any finding; the
# crashing input is left in build-fuzz/fuzz/ (crash-*, leak-*, timeout-*).
set -eu
cd "$(dirname "$0")/.."

seconds=${CONFAB_FUZZ_SECONDS:-20}
if [ ! -d build-fuzz ]; then
    CC=clang meson setup build-fuzz -Dfuzzing=true -Db_sanitize=address,undefined \
        -Db_lundef=false -Dtests=false -Dapp=disabled >/dev/null
fi
ninja -C build-fuzz fuzz/confab-fuzz-classify fuzz/confab-fuzz-jwt fuzz/confab-fuzz-h3 >/dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
status=0
for target in classify jwt h3; do
    mkdir -p "$work/$target"
    cp fuzz/corpus/$target/* "$work/$target/" 2>/dev/null || true
    if (cd build-fuzz/fuzz && ./confab-fuzz-$target -max_total_time="$seconds" -max_len=65536 \
            -print_final_stats=1 "$work/$target" >"$work/$target.log" 2>&1); then
        runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$target.log" | grep -o '[0-9]*$')
        echo "fuzz: $target: ${runs:-?} inputs in ${seconds} s, no finding"
    else
        echo "fuzz: $target: FINDING (log below)"
        tail -40 "$work/$target.log"
        status=1
    fi
done
exit $status
