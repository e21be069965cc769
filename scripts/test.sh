#!/bin/sh
# The whole test suite, as CI runs it (.ci/run): install dependencies, build
# warning-free, run every meson test suite against real services (the tests
# start confab-relay and nats-server themselves), then a short libFuzzer run.
set -eu
cd "$(dirname "$0")/.."

./scripts/setup-debian.sh

if [ -d build ]; then
    meson setup --reconfigure build
else
    meson setup build
fi
ninja -C build

# Interop tests fail rather than skip when Chromium or playwright-core is missing.
export CONFAB_REQUIRE_INTEROP=1

status=0
meson test -C build --print-errorlogs --num-processes 2 || status=$?

# A short coverage-guided fuzz of the relay's packet classifier (the long run is
# in docs/relay.md). Its own build dir, since libFuzzer needs clang.
if [ -f fuzz/run-short.sh ]; then
    ./fuzz/run-short.sh || status=1
fi

# The closing line CI reads.
python3 - build/meson-logs/testlog.json <<'PY'
import json, sys
passed = failed = skipped = 0
for line in open(sys.argv[1]):
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
