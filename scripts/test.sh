#!/bin/sh
# The whole test suite, as CI runs it (.ci/run): install dependencies, build
# warning-free, run every meson test suite against real services (the tests
# start confab-relay, nats-server, PipeWire, Xvfb and Chromium themselves), run
# it again under AddressSanitizer + UBSan, the GLib-level units and the relay
# under valgrind, then a short coverage-guided libFuzzer run.
set -eu
cd "$(dirname "$0")/.."

./scripts/setup-debian.sh

setup() {
    dir=$1
    shift
    if [ -d "$dir" ]; then
        meson setup --reconfigure "$dir" "$@" >/dev/null
    else
        meson setup "$dir" "$@" >/dev/null
    fi
    ninja -C "$dir"
}

# Interop tests fail rather than skip when Chromium or playwright-core is missing.
export CONFAB_REQUIRE_INTEROP=1

status=0
setup build
meson test -C build --print-errorlogs --num-processes 2 || status=1

setup build-asan -Db_sanitize=address,undefined
meson test -C build-asan --print-errorlogs --num-processes 2 || status=1

meson test -C build --setup=valgrind --print-errorlogs --num-processes 2 \
    proto invite wt-h3 relay relay-nats jitter-buffer media call quality lip-sync chat \
    rooms grid-layout picture-scaler aec record || status=1

./fuzz/run-short.sh || status=1

# The closing line CI reads, over every run above.
python3 - build/meson-logs/testlog.json build-asan/meson-logs/testlog.json \
    build/meson-logs/testlog-valgrind.json <<'PY'
import json, sys
passed = failed = skipped = 0
for path in sys.argv[1:]:
    for line in open(path):
        r = json.loads(line)["result"]
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
