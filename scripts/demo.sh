#!/bin/sh
# The main job on one machine: a local confab-relay, a confab-cli participant
# sending a moving test picture (VP9) and a tone (Opus) to the demo room, and
# the Confab app opened on the room's invite link (press Join). Without a
# display, a second confab-cli joins instead and prints what it received.
set -eu
cd "$(dirname "$0")/.."

PORT=${CONFAB_DEMO_PORT:-8080}
ROOM=${CONFAB_DEMO_ROOM:-demo}
DURATION=${CONFAB_DEMO_SECONDS:-300}

./build/server/confab-relay --listen 127.0.0.1 --ws-port "$PORT" &
relay=$!
sender=""
trap 'kill $sender $relay 2>/dev/null; wait 2>/dev/null' EXIT INT TERM

# Wait (bounded) for the relay to accept.
i=0
until python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 0.2)" 2>/dev/null; do
    i=$((i + 1))
    [ $i -lt 50 ] || { echo "demo: relay did not start" >&2; exit 1; }
    sleep 0.1
done

echo "demo: relay on 127.0.0.1:$PORT; invite: http://127.0.0.1:$PORT/meeting/$ROOM"
./build/cli/confab-cli join "http://127.0.0.1:$PORT/meeting/$ROOM" --name test_sender \
    --video test --audio test --size 640x360 --fps 30 --duration "$DURATION" >/dev/null &
sender=$!

if [ -x build/app/confab ] && [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
    echo "demo: opening Confab on confab://127.0.0.1:$PORT/$ROOM (press Join)"
    ./build/app/confab "confab://127.0.0.1:$PORT/$ROOM"
else
    echo "demo: no display (or no app build): joining with a second confab-cli for 10 s"
    ./build/cli/confab-cli join "confab://127.0.0.1:$PORT/$ROOM" --name guest \
        --duration 10 --expect-peers 1
fi
