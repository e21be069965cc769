#!/usr/bin/python3
# test-app-devices.py: the app's devices as a person changes them, inside a
# private PipeWire (pipewire-env.sh: test camera, 660 Hz test microphone,
# null sink "testsink"; this test adds a second null sink "testsink2").
# - 720p send: the app sends its 1280x720 test camera at the top tier (the
#   encoder runs on its own thread); a confab-cli in the room must decode
#   1280x720 pictures at >= 25 fps, while the app's grid shows that CLI's
#   live pixels.
# - Preferences (Ctrl+,) list the test devices by name in Camera, Microphone
#   and Speaker pickers ("Default" first); choosing the second speaker during
#   the call is stored (the window opened again shows it) and moves playout
#   at once: the CLI's tone is heard on testsink2's monitor, no longer on
#   testsink's.
# - The chosen speaker vanishes mid-call: the app goes on (still answers,
#   the call continues); choosing the first speaker again plays there.
# Screenshots app-devices-call.png and app-devices-preferences.png go to
# $CONFAB_SCREENSHOT_DIR.

import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pyatspi  # noqa: E402

import confabapptest as t  # noqa: E402
from confabapptest import (APP, CLI, RELAY, app_accessible, extents, fail, find,  # noqa: E402
                           free_port, live_pixels, page, press, record_sink, screenshot,
                           set_default_device, spawn, tone_blocks, wait_display, wait_for,
                           wait_port)

ROOM = "devicetest"
APP_USER = "Ann_Devices"
CLI_USER = "cli_devices"
TILE_ROLES = (pyatspi.ROLE_PANEL, pyatspi.ROLE_GROUPING)
WINDOW_ROLES = (pyatspi.ROLE_FRAME, pyatspi.ROLE_DIALOG)
SECOND_SINK = "testsink2"
SECOND_SINK_NAME = "Second test speaker"
STARTED = time.monotonic()
CONTROL, COMMA, ESCAPE, DOWN, UP, ENTER = 37, 59, 9, 116, 111, 36  # Xvfb's keycodes


def log(message):
    t.log("%5.1f s  %s" % (time.monotonic() - STARTED, message))


def key(code, control=False):
    registry = pyatspi.Registry
    if control:
        registry.generateKeyboardEvent(CONTROL, None, pyatspi.KEY_PRESS)
    registry.generateKeyboardEvent(code, None, pyatspi.KEY_PRESS)
    registry.generateKeyboardEvent(code, None, pyatspi.KEY_RELEASE)
    if control:
        registry.generateKeyboardEvent(CONTROL, None, pyatspi.KEY_RELEASE)


def add_second_sink():
    """A second speaker, as one plugged in: a null sink that outlives pw-cli."""
    subprocess.run(["pw-cli", "create-node", "adapter",
                    "{ factory.name=support.null-audio-sink node.name=%s "
                    "node.description=\"%s\" media.class=Audio/Sink audio.rate=48000 "
                    "audio.position=[ MONO ] monitor.channel-volumes=true "
                    "object.linger=true }" % (SECOND_SINK, SECOND_SINK_NAME)],
                   check=True, timeout=10, capture_output=True)

    def listed():
        out = subprocess.run(["pw-cli", "ls", "Node"], capture_output=True, text=True,
                             timeout=10).stdout
        return 'node.name = "%s"' % SECOND_SINK in out

    wait_for("the second speaker", listed, 10)


def remove_second_sink():
    out = subprocess.run(["pw-cli", "ls", "Node"], capture_output=True, text=True,
                         timeout=10).stdout
    node = None
    for block in out.split("\tid "):
        if 'node.name = "%s"' % SECOND_SINK in block:
            node = block.split(",")[0].strip()
    if node is None:
        fail("no %s to remove:\n%s" % (SECOND_SINK, out))
    subprocess.run(["pw-cli", "destroy", node], check=True, timeout=10, capture_output=True)


def tone_heard(sink, seconds=2.0):
    """(loud blocks, blocks, median pitch of the loud ones) on sink's monitor."""
    blocks = tone_blocks(record_sink(sink, seconds))
    loud = sorted(f for rms, f in blocks if rms > 3000)
    return len(loud), len(blocks), loud[len(loud) // 2] if loud else 0.0


def cli_summary(cli, timeout=15):
    cli.send_signal(signal.SIGINT)
    try:
        out, _ = cli.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        fail("confab-cli did not finish")
    return json.loads(out.strip().splitlines()[-1])


def open_preferences(root):
    key(COMMA, control=True)
    return wait_for("the preferences window",
                    lambda: find(root, "Preferences", WINDOW_ROLES, breadth_first=True), 30)


def close_preferences(root):
    key(ESCAPE)
    wait_for("the preferences to close",
             lambda: find(root, "Preferences", WINDOW_ROLES, breadth_first=True) is None, 30)


def click(node):
    """A click in the middle of node, as a person would: GTK 4.8's combo
    rows offer no accessible action. (Window coordinates: the windows sit
    at the screen's origin under a bare Xvfb.)"""
    box = node.queryComponent().getExtents(pyatspi.WINDOW_COORDS)
    pyatspi.Registry.generateMouseEvent(box.x + box.width // 2, box.y + box.height // 2, "b1c")


def labels_below(node):
    out = []

    def walk(n, depth):
        if depth > 12:
            return
        try:
            if n.getRole() == pyatspi.ROLE_LABEL and n.name:
                out.append(n.name)
            for i in range(n.childCount):
                walk(n.getChildAtIndex(i), depth + 1)
        except Exception:
            pass

    walk(node, 0)
    return out


def picker(preferences, kind):
    return wait_for("the %s picker" % kind,
                    lambda: find(preferences, kind, (pyatspi.ROLE_COMBO_BOX,)), 15)


def shown_choice(row):
    """What the closed combo row shows: the label after its title."""
    labels = labels_below(row)
    return labels[1] if len(labels) > 1 else None


def open_list(row, wanted):
    """Opens row's list (a popover below the row) and waits until it offers
    every name in wanted; returns the list's labels (its nodes by name)."""
    click(row)

    def offered():
        nodes = {}

        def walk(n, depth):
            if depth > 14:
                return
            try:
                if n.getRole() == pyatspi.ROLE_LABEL and n.name:
                    nodes.setdefault(n.name, n)
                for i in range(n.childCount):
                    walk(n.getChildAtIndex(i), depth + 1)
            except Exception:
                pass

        walk(row, 0)
        return all(name in nodes for name in wanted) and nodes

    return wait_for("%s to offer %s" % (row.name, wanted), offered, 15)


def main():
    wait_display()
    set_default_device("Test microphone")
    set_default_device("Test speaker", "Sinks:")
    port = free_port()
    relay = spawn([RELAY, "--listen", "127.0.0.1", "--ws-port", str(port), "--wt-port", "0"],
                  stderr=subprocess.DEVNULL)
    wait_port(port)
    # It sends the test microphone's 660 Hz tone (unprocessed: noise
    # suppression would fade a steady tone out) and receives the app.
    cli = spawn([CLI, "join", "confab://127.0.0.1:%d/%s" % (port, ROOM), "--name", CLI_USER,
                 "--size", "320x180", "--fps", "15", "--duration", "170",
                 "--transport", "websocket", "--audio", "mic", "--no-echo-cancel"],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    link = "confab://127.0.0.1:%d/%s?name=%s" % (port, ROOM, APP_USER)
    t.wait_accessibility_bus()
    # GTK 4.8 now and then registers on the accessibility bus before its
    # cache answers; a second start registers afresh.
    for attempt in (1, 2):
        app = spawn([APP, link], stderr=subprocess.PIPE, text=True)
        try:
            root = wait_for("the app on the accessibility bus",
                            lambda: app_accessible(app.pid), 30)
            break
        except AssertionError:
            app.terminate()
            app.wait(10)
            if attempt == 2:
                raise
    t.root_for_dump = root
    prejoin = page(root, "Room “%s”" % ROOM)
    press(prejoin, "Join")
    log("joining")
    tile = wait_for("a tile named " + CLI_USER, lambda: find(root, CLI_USER, TILE_ROLES), 20)
    rect = extents(tile)
    live_pixels("the tile of " + CLI_USER, rect, failed_shot="app-devices-failed.png")

    # The app plays the CLI's tone on the default speaker.
    loud, blocks, pitch = tone_heard("testsink")
    log("testsink before the change: %d of %d blocks loud, %.1f Hz" % (loud, blocks, pitch))
    if loud < blocks // 2 or abs(pitch - 660) > 4:
        fail("the default speaker does not play the CLI's tone")

    # Preferences: real pickers listing the test devices by name.
    preferences = open_preferences(root)
    for kind, wanted in (("Camera", ("Default", "Test_camera")),
                         ("Microphone", ("Default", "Test microphone")),
                         ("Speaker", ("Default", "Test speaker"))):
        row = picker(preferences, kind)
        offered = open_list(row, wanted)
        log("%s picker offers %s" % (kind, sorted(offered)))
        key(ESCAPE)  # closes the list, not the window
        wait_for("the %s list to close" % kind,
                 lambda: "Test speaker" not in labels_below(row) or kind != "Speaker", 10)
        time.sleep(0.3)

    # A second speaker is plugged in while the window is open: the list
    # follows; choosing it is stored and moves playout during the call.
    add_second_sink()
    row = picker(preferences, "Speaker")
    open_list(row, ("Default", "Test speaker", SECOND_SINK_NAME))
    # The open list has the chosen entry focused; its items follow the
    # row's title and the choice it shows. (A click would need the
    # popover's own position, which GTK 4.8 does not tell.)
    items = labels_below(row)[2:]
    log("Speaker list: %s" % items)
    for _ in range(items.index(SECOND_SINK_NAME) - items.index(shown_choice(row))):
        key(DOWN)
    key(ENTER)
    wait_for("the Speaker picker to show " + SECOND_SINK_NAME,
             lambda: shown_choice(row) == SECOND_SINK_NAME, 10)
    changed_at = time.monotonic()
    close_preferences(root)
    preferences = open_preferences(root)
    row = picker(preferences, "Speaker")
    stored = wait_for("the stored speaker", lambda: shown_choice(row), 10)
    log("preferences opened again show speaker %r" % stored)
    if stored != SECOND_SINK_NAME:
        app.terminate()
        log(app.communicate(timeout=10)[1])
        fail("the speaker choice was not stored: %r" % stored)
    screenshot("app-devices-preferences.png")
    close_preferences(root)

    # Within a second or two of the choice the tone plays on the new sink,
    # and no longer on the old one.
    time.sleep(max(0.0, 1.0 - (time.monotonic() - changed_at)))
    loud2, blocks2, pitch2 = tone_heard(SECOND_SINK)
    loud1, blocks1, _ = tone_heard("testsink", 1.0)
    log("%s after the change: %d of %d blocks loud, %.1f Hz; testsink: %d of %d loud" %
        (SECOND_SINK, loud2, blocks2, pitch2, loud1, blocks1))
    if loud2 < blocks2 // 2 or abs(pitch2 - 660) > 4:
        fail("the new speaker does not play the CLI's tone")
    if loud1 > 2:
        fail("the old speaker still plays the call")

    # The chosen speaker vanishes: the call goes on (silent), the app lives.
    remove_second_sink()
    time.sleep(1.5)
    if app.poll() is not None:
        fail("the app exited when its speaker vanished (status %s)" % app.returncode)
    live_pixels("the tile of %s after the speaker vanished" % CLI_USER, rect,
                failed_shot="app-devices-failed.png")
    screenshot("app-devices-call.png")

    # Choosing the first speaker again brings the sound back there.
    preferences = open_preferences(root)
    row = picker(preferences, "Speaker")
    open_list(row, ("Default", "Test speaker"))
    items = labels_below(row)[2:]
    shown = shown_choice(row)
    log("Speaker list after the vanish: %s, showing %r" % (items, shown))
    steps = items.index("Test speaker") - items.index(shown)
    for _ in range(abs(steps)):
        key(DOWN if steps > 0 else UP)
    key(ENTER)
    wait_for("the Speaker picker to show Test speaker",
             lambda: shown_choice(row) == "Test speaker", 10)
    close_preferences(root)
    # Nothing pulled the jitter buffers while no speaker played: they drain
    # what piled up (time-compressed) for the first seconds.
    time.sleep(3.0)
    loud, blocks, pitch = tone_heard("testsink")
    log("testsink chosen again: %d of %d blocks loud, %.1f Hz" % (loud, blocks, pitch))
    if loud < blocks // 2 or abs(pitch - 660) > 4:
        fail("the first speaker did not play again once chosen")

    # What the CLI got from us: the camera's 1280x720 at the top tier.
    summary = cli_summary(cli)
    ours = [p for p in summary["peers"] if p["user_id"] == APP_USER]
    if not ours:
        fail("confab-cli never saw %s: %s" % (APP_USER, summary["peers"]))
    peer = ours[-1]
    log("cli decoded %d of our %d frames, %dx%d at %.1f fps, latency %s" %
        (peer["decoded_video_frames"], peer["video_frames"], peer["decoded_width"],
         peer["decoded_height"], peer["decoded_fps"], peer.get("latency_ms")))
    if (peer["decoded_width"], peer["decoded_height"]) != (1280, 720):
        fail("the app did not send 1280x720: %s" % peer)
    if peer["decoded_fps"] < 25 or peer["decoded_video_frames"] < 150:
        fail("the app's 720p video arrived too slowly: %s" % peer)

    # Leave; the app logs what it sent (encode time on the encoder thread,
    # time per frame on the main thread) as the call ends.
    press(root, "Leave")
    time.sleep(2)
    app.terminate()
    try:
        _, err = app.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        fail("the app did not exit")
    for line in err.splitlines():
        if "confab-call-session" in line:
            log("app: " + line.strip())
    # Under ASan/UBSan (build-asan): the app's own report fails the test.
    if "ERROR: AddressSanitizer" in err or "runtime error:" in err:
        log(err)
        fail("the app reported a sanitizer error")
    relay.terminate()


if __name__ == "__main__":
    t.run(main)
