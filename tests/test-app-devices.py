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
#   the call continues); choosing the first speaker again plays there, at
#   the right pitch from the first half second (the jitter buffers were
#   drained while no speaker played, so no backlog plays sped up).
# - A second camera (GStreamer's white ball on black, "testcam2") and a
#   second microphone (880 Hz, "testmic2") chosen in the preferences during
#   the call are sent at once: the CLI, which records what it receives
#   (--record), gets the ball from a key frame about half a second after
#   the choice and the 880 Hz tone soon after its choice, with no gap in
#   the pictures and the app still on its one session.
# - The second camera vanishes: the self-view says "The camera was
#   disconnected", the call goes on; the second microphone vanishes: a toast
#   says "The microphone was disconnected".
# Screenshots app-devices-call.png and app-devices-preferences.png go to
# $CONFAB_SCREENSHOT_DIR.

import datetime
import glob
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pyatspi  # noqa: E402

import confabapptest as t  # noqa: E402
from confabapptest import (cli_summary, key, APP, CLI, RELAY, app_accessible, extents, fail, find,  # noqa: E402
                           free_port, live_pixels, page, press, record_sink, screenshot,
                           set_default_device, spawn, tone_blocks, wait_display,
                           wait_for, wait_port)

ROOM = "devicetest"
APP_USER = "Ann_Devices"
CLI_USER = "cli_devices"
TILE_ROLES = (pyatspi.ROLE_PANEL, pyatspi.ROLE_GROUPING)
WINDOW_ROLES = (pyatspi.ROLE_FRAME, pyatspi.ROLE_DIALOG)
SECOND_SINK = "testsink2"
SECOND_SINK_NAME = "Second test speaker"
SECOND_CAMERA = "testcam2"
SECOND_CAMERA_NAME = "Second_camera"
SECOND_MIC = "testmic2"
SECOND_MIC_NAME = "Second test microphone"
FIRST_TONE, SECOND_TONE = 660, 880
STARTED = time.monotonic()
COMMA, ESCAPE, DOWN, UP, ENTER = t.KEY_COMMA, t.KEY_ESCAPE, t.KEY_DOWN, t.KEY_UP, t.KEY_ENTER


def log(message):
    t.log("%5.1f s  %s" % (time.monotonic() - STARTED, message))


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


def node_listed(name):
    out = subprocess.run(["pw-cli", "ls", "Node"], capture_output=True, text=True,
                         timeout=10).stdout
    return 'node.name = "%s"' % name in out


def add_second_camera():
    """A second camera plugged in: GStreamer's bouncing white ball on black,
    a picture (dark, grey) that the first camera's colour bars never give."""
    camera = spawn(["gst-launch-1.0", "-q", "videotestsrc", "is-live=true", "pattern=ball", "!",
                    "video/x-raw,format=I420,width=1280,height=720,framerate=30/1", "!",
                    "pipewiresink", "mode=provide",
                    "stream-properties=props,media.class=Video/Source,node.name=%s,"
                    "node.description=%s" % (SECOND_CAMERA, SECOND_CAMERA_NAME)],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for("the second camera", lambda: node_listed(SECOND_CAMERA), 10)
    return camera


def add_second_microphone():
    """A second microphone: as pipewire-env.sh's, a loopback whose source
    side is the microphone, fed an 880 Hz sine by GStreamer."""
    # In the test speaker's node.group, as pipewire-env.sh's microphone, so
    # testsink drives it (pw-loopback makes a group of its own otherwise).
    loop = spawn(["pw-loopback", "--name", "testmic2-loop", "--group", "testaudio",
                  "--capture-props", "node.name=testmic2-in media.class=Audio/Sink "
                  "audio.position=[ MONO ]",
                  "--playback-props", "node.name=%s node.description=\"%s\" "
                  "media.class=Audio/Source audio.position=[ MONO ]" %
                  (SECOND_MIC, SECOND_MIC_NAME)],
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for("the second microphone", lambda: node_listed("testmic2-in"), 10)
    feed = spawn(["gst-launch-1.0", "-q", "audiotestsrc", "is-live=true",
                  "freq=%d" % SECOND_TONE, "volume=0.5", "!",
                  "audio/x-raw,format=S16LE,rate=48000,channels=1", "!", "pipewiresink",
                  "stream-properties=props,node.name=testmic2-feed,target.object=testmic2-in,"
                  "node.dont-reconnect=true"],
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def linked():
        out = subprocess.run(["pw-link", "-l"], capture_output=True, text=True,
                             timeout=10).stdout
        return "testmic2-feed" in out

    wait_for("the second microphone's feed", linked, 10)
    return loop, feed


def recording(path):
    """(wall-clock time of pts 0, {track title: stream index}) of a
    confab-cli recording."""
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries",
                          "stream=index:stream_tags=title:format_tags=creation_time",
                          "-of", "json", path],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    info = json.loads(out)
    created = info["format"]["tags"]["creation_time"].replace("Z", "+00:00")
    tracks = {st.get("tags", {}).get("title", ""): st["index"] for st in info["streams"]}
    return datetime.datetime.fromisoformat(created).timestamp(), tracks


def recorded_pictures(path, index):
    """[(pts in s, key frame, mean luma)] of every picture of one track."""
    err = subprocess.run(["ffmpeg", "-v", "info", "-nostats", "-copyts", "-i", path,
                          "-map", "0:%d" % index, "-vsync", "passthrough",
                          "-vf", "scale=160:90,showinfo", "-f", "null", "-"],
                         capture_output=True, text=True, timeout=120).stderr
    pictures = []
    for line in err.splitlines():
        if "Parsed_showinfo" not in line or " pts_time:" not in line:
            continue
        fields = line.replace(":[", ":[ ").split()
        pts = float(next(f for f in fields if f.startswith("pts_time:")).split(":")[1])
        key_frame = "iskey:1" in line
        mean = float(line.split("mean:[")[1].split()[0])
        pictures.append((pts, key_frame, mean))
    return pictures


def recorded_tones(path, index):
    """tone_blocks() of one audio track, block i starting at pts i * 0.1 s."""
    import array

    raw = subprocess.run(["ffmpeg", "-v", "error", "-copyts", "-i", path,
                          "-map", "0:%d" % index, "-af", "aresample=async=1:first_pts=0",
                          "-ac", "1", "-ar", "48000", "-f", "s16le", "-"],
                         capture_output=True, timeout=120).stdout
    samples = array.array("h")
    samples.frombytes(raw[:len(raw) // 2 * 2])
    if sys.byteorder != "little":
        samples.byteswap()
    return tone_blocks(samples)


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


def choose(preferences, kind, name):
    """Chooses name in the kind picker (arrow keys, Enter); returns the
    wall-clock time of the choice."""
    row = picker(preferences, kind)
    open_list(row, ("Default", name))
    items = labels_below(row)[2:]
    steps = items.index(name) - items.index(shown_choice(row))
    for _ in range(abs(steps)):
        key(DOWN if steps > 0 else UP)
    key(ENTER)
    chosen_at = time.time()
    wait_for("the %s picker to show %s" % (kind, name), lambda: shown_choice(row) == name, 10)
    log("%s: chose %s" % (kind, name))
    return chosen_at


def check_recording(path, camera_at, microphone_at):
    """The second camera's ball from a key frame soon after camera_at, the
    colour bars before, no gap in the pictures; the 880 Hz tone soon after
    microphone_at, 660 Hz before."""
    files = sorted(glob.glob(path[:-4] + "*.mkv"))
    tracks = {}
    for f in files:
        start, found = recording(f)
        tracks.update({title: (f, start, index) for title, index in found.items()})
    log("recorded tracks: %s" % sorted(tracks))
    video = tracks.get(APP_USER + " video")
    audio = tracks.get(APP_USER + " audio")
    if video is None or audio is None:
        fail("the CLI recorded no video or audio of %s: %s" % (APP_USER, sorted(tracks)))

    f, start, index = video
    pictures = recorded_pictures(f, index)
    # The ball on black: mean luma near black; the colour bars far above.
    second = [i for i, (pts, key_frame, mean) in enumerate(pictures) if mean < 40]
    if not second:
        fail("no picture of the second camera reached the CLI (%d pictures, luma %s)" %
             (len(pictures), [round(p[2]) for p in pictures[-5:]]))
    first = second[0]
    before = [p for p in pictures[:first] if start + p[0] < camera_at - 0.2]
    after = pictures[first:]
    pts, key_frame, mean = pictures[first]
    latency = start + pts - camera_at
    gap = pts - pictures[first - 1][0] if first > 0 else 0.0
    dark_after = sum(1 for p in after if p[2] < 40)
    log("second camera: first picture %.2f s after the choice (key frame: %s, luma %.0f), "
        "%.0f ms after the last of the first camera; %d of %d pictures since from it; "
        "before: luma %.0f-%.0f" %
        (latency, key_frame, mean, 1000 * gap, dark_after, len(after),
         min(p[2] for p in before), max(p[2] for p in before)))
    if not before or any(p[2] < 40 for p in before):
        fail("the first camera's pictures were not sent before the change")
    if not key_frame:
        fail("the second camera's first picture is no key frame")
    if latency > 1.5:
        fail("the second camera reached the CLI %.2f s after the choice" % latency)
    if gap > 0.5:
        fail("the pictures stopped for %.2f s at the camera change" % gap)
    if dark_after < len(after) - 1:
        fail("pictures of the first camera came after the second camera's")

    f, start, index = audio
    blocks = recorded_tones(f, index)
    heard = [(start + 0.1 * i, rms, freq) for i, (rms, freq) in enumerate(blocks)]
    first_new = next((t for t, rms, freq in heard
                      if t > microphone_at - 0.2 and rms > 3000
                      and abs(freq - SECOND_TONE) < 8), None)
    old = [freq for t, rms, freq in heard if microphone_at - 3 < t < microphone_at - 0.2
           and rms > 3000]
    new = [freq for t, rms, freq in heard if microphone_at + 1.0 < t < microphone_at + 3.0]
    new_right = [f for f in new if abs(f - SECOND_TONE) < 8]
    log("microphone: 880 Hz from %s s after the choice; before it %d loud blocks, median %.0f Hz;"
        " 1-3 s after it %d of %d blocks at 880 Hz" %
        ("%.2f" % (first_new - microphone_at) if first_new else "never", len(old),
         sorted(old)[len(old) // 2] if old else 0, len(new_right), len(new)))
    if len(old) < 10 or abs(sorted(old)[len(old) // 2] - FIRST_TONE) > 8:
        fail("the first microphone's tone was not sent before the change")
    if first_new is None or first_new - microphone_at > 1.0:
        fail("the second microphone's tone did not reach the CLI within a second")
    if len(new) < 15 or len(new_right) < len(new) - 1:
        fail("the second microphone's tone did not go on")


def main():
    wait_display()
    set_default_device("Test microphone")
    set_default_device("Test speaker", "Sinks:")
    second_camera = add_second_camera()
    second_loop, _ = add_second_microphone()
    # The CLI records what it receives from the app (the second camera and
    # microphone are checked in that recording).
    tmp = os.environ.get("XDG_RUNTIME_DIR") or "/tmp"
    record_path = os.path.join(tmp, "app-devices-received.mkv")
    port = free_port()
    relay = spawn([RELAY, "--listen", "127.0.0.1", "--ws-port", str(port), "--wt-port", "0"],
                  stderr=subprocess.DEVNULL)
    wait_port(port)
    # It sends the test microphone's 660 Hz tone (unprocessed: noise
    # suppression would fade a steady tone out) and receives the app.
    cli = spawn([CLI, "join", "confab://127.0.0.1:%d/%s" % (port, ROOM), "--name", CLI_USER,
                 "--size", "320x180", "--fps", "15", "--duration", "170",
                 "--transport", "websocket", "--audio", "mic", "--no-echo-cancel",
                 "--record", record_path],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    link = "confab://127.0.0.1:%d/%s?name=%s" % (port, ROOM, APP_USER)
    t.wait_accessibility_bus()
    # GTK 4.8 now and then registers on the accessibility bus before its
    # cache answers; a second start registers afresh.
    # The app's microphone unprocessed, so its test tone keeps its level
    # (noise suppression fades a steady tone): a settings file read by
    # GSettings' keyfile backend.
    settings_dir = os.path.join(os.environ["XDG_CONFIG_HOME"], "glib-2.0", "settings")
    os.makedirs(settings_dir, exist_ok=True)
    with open(os.path.join(settings_dir, "keyfile"), "w") as f:
        f.write("[io/github/confab/Confab]\necho-cancellation=false\n")
    app_env = dict(os.environ, GSETTINGS_BACKEND="keyfile",
                   G_MESSAGES_DEBUG="confab-call-session confab-window")
    # GLib writes debug lines (the window's "toast: ...") to stdout.
    app_stdout_path = os.path.join(tmp, "app-devices-stdout.log")
    app_stdout = open(app_stdout_path, "w")
    for attempt in (1, 2):
        app = spawn([APP, link], stdout=app_stdout, stderr=subprocess.PIPE, text=True,
                    env=app_env)
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
    for kind, wanted in (("Camera", ("Default", "Test_camera", SECOND_CAMERA_NAME)),
                         ("Microphone", ("Default", "Test microphone", SECOND_MIC_NAME)),
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
    vanished_at = time.monotonic()
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
    # Six seconds without a speaker: without draining, the jitter buffers
    # would fill up (1.28 s each) and play that back dropping one frame in
    # four for seconds.
    time.sleep(max(0.0, 6.0 - (time.monotonic() - vanished_at)))
    key(ENTER)
    chosen_at = time.monotonic()
    # Recorded at once, asking the app nothing meanwhile: its playout is
    # filled on the main thread, which AT-SPI queries hold up.
    samples = record_sink("testsink", 2.5)
    recorded_from = time.monotonic() - 2.5 - chosen_at
    wait_for("the Speaker picker to show Test speaker",
             lambda: shown_choice(row) == "Test speaker", 10)
    skip = max(0, int((0.5 - recorded_from) * 48000))
    blocks = tone_blocks(samples[skip:])
    loud = sorted(f for rms, f in blocks if rms > 3000)
    right = [f for f in loud if abs(f - FIRST_TONE) <= 6]
    log("testsink chosen again: from %.2f s after the choice %d of %d blocks loud, "
        "%d within 6 Hz: %s Hz" %
        (max(0.5, recorded_from), len(loud), len(blocks), len(right),
         " ".join("%.0f" % f for rms, f in blocks if rms > 3000)))
    # A block with a frame dropped or concealed in it reads off pitch: a
    # backlog played off drops one frame in four for seconds.
    if (len(loud) < len(blocks) // 2 or abs(loud[len(loud) // 2] - FIRST_TONE) > 4
            or len(right) * 3 < len(loud) * 2):
        fail("the first speaker did not play the tone right once chosen again")
    close_preferences(root)

    # Another camera and microphone during the call: sent at once.
    preferences = open_preferences(root)
    camera_at = choose(preferences, "Camera", SECOND_CAMERA_NAME)
    microphone_at = choose(preferences, "Microphone", SECOND_MIC_NAME)
    close_preferences(root)
    me = wait_for("our own tile", lambda: find(root, APP_USER + " (You)", TILE_ROLES), 10)
    time.sleep(3.0)
    screenshot("app-devices-camera2.png")
    if app.poll() is not None:
        fail("the app exited after the device change (status %s)" % app.returncode)

    # The second camera vanishes: the self-view says so, the call goes on.
    second_camera.terminate()
    second_camera.wait(10)
    wait_for("the self-view to say the camera is gone",
             lambda: find(me, "The camera was disconnected", name_contains=True), 15)
    live_pixels("the tile of %s after our camera vanished" % CLI_USER, rect,
                failed_shot="app-devices-failed.png")
    if app.poll() is not None:
        fail("the app exited when the chosen camera vanished (status %s)" % app.returncode)
    # The second microphone vanishes: a toast says so (checked in the app's
    # log at the end), the call goes on.
    second_loop.terminate()
    second_loop.wait(10)
    time.sleep(1.0)
    if app.poll() is not None:
        fail("the app exited when the chosen microphone vanished (status %s)" % app.returncode)

    # What the CLI got from us: the camera's 1280x720 at the top tier.
    summary = cli_summary(cli)
    ours = [p for p in summary["peers"] if p["user_id"] == APP_USER]
    if not ours:
        fail("confab-cli never saw %s: %s" % (APP_USER, summary["peers"]))
    if len(ours) != 1 or not ours[0]["present"]:
        fail("the app's session did not last the whole call: %s" % ours)
    peer = ours[-1]
    log("cli decoded %d of our %d frames, %dx%d at %.1f fps, latency %s" %
        (peer["decoded_video_frames"], peer["video_frames"], peer["decoded_width"],
         peer["decoded_height"], peer["decoded_fps"], peer.get("latency_ms")))
    if (peer["decoded_width"], peer["decoded_height"]) != (1280, 720):
        fail("the app did not send 1280x720: %s" % peer)
    if peer["decoded_fps"] < 25 or peer["decoded_video_frames"] < 150:
        fail("the app's 720p video arrived too slowly: %s" % peer)

    # The recording: the app's pictures and sound as the CLI received them.
    check_recording(record_path, camera_at, microphone_at)

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
        if "confab-call-session" in line or "toast:" in line:
            log("app: " + line.strip())
    app_stdout.close()
    with open(app_stdout_path) as f:
        toasts = [line.strip() for line in f if "toast:" in line]
    log("app toasts: %s" % toasts)
    if not any("toast: The microphone was disconnected" in line for line in toasts):
        fail("no toast said the chosen microphone was disconnected")
    # Under ASan/UBSan (build-asan): the app's own report fails the test.
    if "ERROR: AddressSanitizer" in err or "runtime error:" in err:
        log(err)
        fail("the app reported a sanitizer error")
    relay.terminate()


if __name__ == "__main__":
    t.run(main)
