#!/bin/sh
# run-tsan.sh: the media sender's encoder thread (test-call, /call/sender/*
# among it) and confab-cli against real relays (test-cli) under
# ThreadSanitizer, in a build dir of its own (build-tsan: clang,
# -Db_sanitize=thread, no app). Not part of the meson suite: see
# docs/media.md ("Checking the encoder thread"). Prints each program's
# result and every TSan report; exit 1 when TSan reported anything.
#
#   tests/run-tsan.sh [GTEST-PATH-OF-TEST-CLI ...]   (none: all of test-cli)
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${CONFAB_TSAN_BUILD:-build-tsan}

if [ ! -f "$BUILD/build.ninja" ]; then
    # clang warns of g_autoptr holders that only keep an object alive.
    CC=clang CXX=clang++ meson setup "$BUILD" -Db_sanitize=thread -Db_lundef=false \
        -Dapp=disabled -Dc_args=-Wno-unused-variable >/dev/null || exit 1
fi
ninja -C "$BUILD" tests/test-call tests/test-cli cli/confab-cli server/confab-relay \
    tests/libtsan-glib-locks.so >/dev/null || exit 1

LOGS=$(mktemp -d /tmp/confab-tsan.XXXXXX)
# GLib is not instrumented: its own GMutex/GCond are invisible to TSan, the
# calls from Confab's code are annotated by the preloaded module, and checks
# of calls made inside GLib are skipped (tests/tsan.supp).
export TSAN_OPTIONS="halt_on_error=0 suppressions=$PWD/tests/tsan.supp log_path=$LOGS/tsan"
export LD_PRELOAD="$PWD/$BUILD/tests/libtsan-glib-locks.so"
export CONFAB_RELAY="$PWD/$BUILD/server/confab-relay"
export CONFAB_CLI="$PWD/$BUILD/cli/confab-cli"
export G_DEBUG=gc-friendly G_SLICE=always-malloc

timeout 300 "$BUILD/tests/test-call" >"$LOGS/test-call.log" 2>&1
echo "test-call: exit $? ($(grep -c '^ok' "$LOGS/test-call.log") passed)"
# Under TSan the CLIs encode several times slower than real time, so the
# delivery checks' frame counts ("sent_video >= 140") can fail on a loaded
# machine: that is no race, the reports below are what counts.
if [ $# -eq 0 ]; then
    timeout 600 "$BUILD/tests/test-cli" >"$LOGS/test-cli.log" 2>&1
    echo "test-cli: exit $? ($(grep -c '^ok' "$LOGS/test-cli.log") passed)"
fi
for path in "$@"; do
    timeout 300 "$BUILD/tests/test-cli" -p "$path" >>"$LOGS/test-cli.log" 2>&1
    echo "test-cli $path: exit $? ($(grep -c '^ok' "$LOGS/test-cli.log") passed so far)"
done

reports=$(cat "$LOGS"/tsan.* 2>/dev/null | grep -c 'WARNING: ThreadSanitizer')
echo "ThreadSanitizer reports: $reports (logs in $LOGS)"
if [ "$reports" -gt 0 ]; then
    grep -h -A8 'WARNING: ThreadSanitizer' "$LOGS"/tsan.* | sed 's/ (BuildId.*//'
    exit 1
fi
exit 0
