#!/bin/sh
# The main job on one machine: a local confab-relay and a participant joined to
# the demo room, sending a moving test picture (VP9) and a tone (Opus).
# Until the desktop app lands (issue 5) the participant is confab-cli; join the
# same room with a second `confab-cli join ...` (printed below) or a browser.
set -eu
cd "$(dirname "$0")/.."

PORT=${CONFAB_DEMO_PORT:-8080}
ROOM=${CONFAB_DEMO_ROOM:-demo}
DURATION=${CONFAB_DEMO_SECONDS:-60}

./build/server/confab-relay --listen 127.0.0.1 --ws-port "$PORT" &
relay=$!
trap 'kill $relay 2>/dev/null; wait $relay 2>/dev/null' EXIT INT TERM

# Wait (bounded) for the relay to accept.
i=0
until python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $PORT), 0.2)" 2>/dev/null; do
    i=$((i + 1))
    [ $i -lt 50 ] || { echo "demo: relay did not start" >&2; exit 1; }
    sleep 0.1
done

echo "demo: relay on ws://127.0.0.1:$PORT, invite: http://127.0.0.1:$PORT/meeting/$ROOM"
echo "demo: join from another terminal with:"
echo "    ./build/cli/confab-cli join confab://127.0.0.1:$PORT/$ROOM --name guest --duration 20"
./build/cli/confab-cli join "http://127.0.0.1:$PORT/meeting/$ROOM" --name host \
    --video test --audio test --size 640x360 --fps 30 --duration "$DURATION"
