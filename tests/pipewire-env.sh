#!/bin/sh
# pipewire-env.sh: runs one command inside a private, headless PipeWire:
# pipewire + wireplumber on a fresh XDG_RUNTIME_DIR, a microphone "testmic"
# (a loopback Audio/Source fed a 660 Hz sine at half scale by GStreamer's
# audiotestsrc through its sink side "testmic-in"), a null
# sink "testsink" and a GStreamer test camera "testcam" (I420 1280x720@30).
# Everything it starts is stopped when the command ends, fails or is killed;
# each wait is bounded. Exit status: the command's, or 77 (skip) when
# PipeWire, wireplumber or GStreamer's pipewiresink is missing.
#
#   tests/pipewire-env.sh COMMAND [ARG...]
set -u

for tool in pipewire wireplumber pw-cli gst-launch-1.0; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "pipewire-env: $tool not installed, skipping" >&2
        exit 77
    fi
done
if ! gst-inspect-1.0 pipewiresink >/dev/null 2>&1; then
    echo "pipewire-env: GStreamer pipewiresink not installed, skipping" >&2
    exit 77
fi

# wireplumber and PipeWire's modules want a session bus: a private one.
if [ -z "${CONFAB_PW_DBUS:-}" ] && command -v dbus-run-session >/dev/null 2>&1; then
    CONFAB_PW_DBUS=1 exec dbus-run-session -- "$0" "$@"
fi

ROOT=$(mktemp -d /tmp/confab-pw.XXXXXX)
PIDS=""

# Everything started below (the command's own children too, such as a relay
# a failed test left behind) carries this marker and is found by it.
export CONFAB_PW_ENV="$ROOT"
started_here() {
    grep -lzx "CONFAB_PW_ENV=$ROOT" /proc/[0-9]*/environ 2>/dev/null |
        sed -n 's|^/proc/\([0-9]*\)/environ$|\1|p' | grep -vx "$$"
}

teardown() {
    trap - EXIT INT TERM HUP
    PIDS="$PIDS $(started_here)"
    for pid in $PIDS; do
        kill -TERM "$pid" 2>/dev/null
    done
    # Bounded: 2 s for a polite exit, then SIGKILL.
    i=0
    while [ $i -lt 20 ]; do
        alive=""
        for pid in $PIDS; do
            kill -0 "$pid" 2>/dev/null && alive="$alive $pid"
        done
        [ -z "$alive" ] && break
        sleep 0.1
        i=$((i + 1))
    done
    for pid in $PIDS; do
        kill -KILL "$pid" 2>/dev/null
    done
    rm -rf "$ROOT"
}
trap 'teardown; exit 1' INT TERM HUP
trap teardown EXIT

export XDG_RUNTIME_DIR="$ROOT/run"
export XDG_CONFIG_HOME="$ROOT/config"
export XDG_STATE_HOME="$ROOT/state"
export XDG_DATA_HOME="$ROOT/data"
export HOME="$ROOT/home"
export PIPEWIRE_RUNTIME_DIR="$XDG_RUNTIME_DIR"
export DISPLAY=
mkdir -p "$XDG_RUNTIME_DIR" "$XDG_CONFIG_HOME/pipewire/pipewire.conf.d" \
    "$XDG_CONFIG_HOME/wireplumber/main.lua.d" "$XDG_STATE_HOME" "$XDG_DATA_HOME" "$HOME"
chmod 700 "$XDG_RUNTIME_DIR"

# The microphone's loopback and the null sink share a node.group, so the
# null sink drives the audio: otherwise PipeWire hands audio nodes that no
# driver links to the first running driver, which is the test camera, and
# the microphone then runs at the camera's 30 Hz and starves (measured: 8
# of 50 chunks a second with --video camera --audio mic in one call).
cat >"$XDG_CONFIG_HOME/pipewire/pipewire.conf.d/50-test.conf" <<EOF
context.modules = [
    { name = libpipewire-module-loopback
        args = {
            node.description = "Test microphone"
            node.group = testaudio
            capture.props = {
                node.name = testmic-in
                media.class = Audio/Sink
                audio.position = [ MONO ]
                priority.session = 100
            }
            playback.props = {
                node.name = testmic
                node.description = "Test microphone"
                media.class = Audio/Source
                audio.position = [ MONO ]
            }
        }
    }
]
context.objects = [
    { factory = adapter
        args = {
            factory.name = support.null-audio-sink
            node.name = testsink
            node.description = "Test speaker"
            media.class = Audio/Sink
            audio.rate = 48000
            audio.position = [ MONO ]
            monitor.channel-volumes = true
            node.group = testaudio
            priority.session = 2000
        }
    }
]
EOF
# No ALSA, V4L2 or BlueZ monitors: only the devices above exist.
cat >"$XDG_CONFIG_HOME/wireplumber/main.lua.d/90-test.lua" <<'EOF'
alsa_monitor.enabled = false
v4l2_monitor.enabled = false
libcamera_monitor.enabled = false
EOF

LOG=${CONFAB_PW_LOG:-$ROOT/pw.log}
pipewire >>"$LOG" 2>&1 &
PIDS="$PIDS $!"

# Bounded waits: at most 10 s each.
wait_for() {
    i=0
    while [ $i -lt 100 ]; do
        if eval "$1" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
        i=$((i + 1))
    done
    echo "pipewire-env: timed out waiting for: $1" >&2
    cat "$LOG" >&2
    return 1
}

wait_for "pw-cli info 0" || exit 1
wireplumber >>"$LOG" 2>&1 &
PIDS="$PIDS $!"
gst-launch-1.0 -q videotestsrc is-live=true \
    ! video/x-raw,format=I420,width=1280,height=720,framerate=30/1 \
    ! pipewiresink mode=provide \
    stream-properties="props,media.class=Video/Source,node.name=testcam,node.description=Test_camera" \
    >>"$LOG" 2>&1 &
PIDS="$PIDS $!"

nodes_ready() {
    out=$(pw-cli ls Node 2>/dev/null)
    for n in testmic testsink testcam; do
        echo "$out" | grep -q "node.name = \"$n\"" || return 1
    done
    # wireplumber is up once it has registered as a client with its metadata.
    pw-cli ls Metadata 2>/dev/null | grep -q '"default"'
}
wait_for nodes_ready || exit 1
# PipeWire's own audiotestsrc node stalls now and then when other links
# regroup its graph; a GStreamer sine through a loopback does not.
gst-launch-1.0 -q audiotestsrc is-live=true freq=660 volume=0.5 \
    ! audio/x-raw,format=S16LE,rate=48000,channels=1 \
    ! pipewiresink \
    stream-properties="props,node.name=testmic-feed,target.object=testmic-in,node.dont-reconnect=true" \
    >>"$LOG" 2>&1 &
PIDS="$PIDS $!"
wait_for "pw-link -l 2>/dev/null | grep -q 'testmic-in'" || exit 1

"$@"
status=$?
exit $status
