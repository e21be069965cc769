#!/usr/bin/python3
# test-app-video.py: the app's video as a person sees it, inside a private
# PipeWire (pipewire-env.sh: GStreamer test camera "testcam", 660 Hz test
# microphone). The app opens an invite link, shows its pre-join camera
# preview, joins a room where confab-cli sends test video and tone; the grid
# must show the CLI's tile with live, changing, coloured pixels (screenshots
# compared over time inside the tile), and the CLI must receive the app's
# camera and microphone. Then two more CLIs join for a 4-person grid.
# Screenshots (pre-join, call, 4-person grid) go to $CONFAB_SCREENSHOT_DIR.

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pyatspi  # noqa: E402

import confabapptest as t  # noqa: E402
from confabapptest import (cli_summary, APP, BUTTONS, CLI, RELAY, app_accessible, changed_fraction,  # noqa: E402
                           colourful_fraction, extents, fail, find, free_port, grab_screen,
                           page, press, record_sink, screenshot, set_default_device, spawn,
                           tone_blocks, wait_display, wait_for, wait_port)

ROOM = "videotest"
APP_USER = "Ann_Video"
CLI_USER = "cli_video"
MORE_CLIS = ("cli_two", "cli_three")
TILE_ROLES = (pyatspi.ROLE_PANEL, pyatspi.ROLE_GROUPING)


STARTED = time.monotonic()


def log(message):
    t.log("%5.1f s  %s" % (time.monotonic() - STARTED, message))


def spawn_cli(port, name, duration, extra=()):
    return spawn([CLI, "join", "confab://127.0.0.1:%d/%s" % (port, ROOM), "--name", name,
                  "--size", "320x180", "--fps", "15", "--duration", str(duration),
                  "--transport", "websocket"] + list(extra),
                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def live_pixels(what, rect, **kwargs):
    return t.live_pixels(what, rect, failed_shot="app-video-failed.png", **kwargs)


def main():
    started = time.monotonic()
    wait_display()
    set_default_device("Test microphone")
    set_default_device("Test speaker", "Sinks:")
    port = free_port()
    relay = spawn([RELAY, "--listen", "127.0.0.1", "--ws-port", str(port), "--wt-port", "0"],
                  stderr=subprocess.DEVNULL)
    wait_port(port)

    # The other participant first, so the room has video when we arrive.
    # It sends the test microphone's steady 660 Hz tone (unprocessed: noise
    # suppression would fade a steady tone out); the later ones a 440 Hz one.
    cli = spawn_cli(port, CLI_USER, 175, ["--audio", "mic", "--no-echo-cancel"])

    link = "confab://127.0.0.1:%d/%s?name=%s" % (port, ROOM, APP_USER)
    t.wait_accessibility_bus()
    # GTK 4.8 now and then registers on the accessibility bus before its
    # cache object answers; the registry then never lists the app. A second
    # start registers afresh.
    for attempt in (1, 2):
        app = spawn([APP, link])
        try:
            root = wait_for("the app on the accessibility bus",
                            lambda: app_accessible(app.pid), 30)
            break
        except AssertionError:
            desktop = pyatspi.Registry.getDesktop(0)
            log("attempt %d: app pid %d (exit status %s) not on the bus: %s" % (
                attempt, app.pid, app.poll(), [desktop.getChildAtIndex(i).name
                                               for i in range(desktop.childCount)]))
            app.terminate()
            app.wait(10)
            if attempt == 2:
                raise
    t.root_for_dump = root
    prejoin = page(root, "Room “%s”" % ROOM)
    log("pre-join page")

    # Pre-join: the camera preview is live and the microphone meter moves
    # (the test microphone plays a 660 Hz tone at half scale).
    preview = wait_for("the camera preview", lambda: find(prejoin, "Camera preview", TILE_ROLES))
    live_pixels("the camera preview", extents(preview))
    meter = wait_for("the microphone level meter",
                     lambda: find(prejoin, "Microphone level", (pyatspi.ROLE_LEVEL_BAR,)))
    def level_now():
        value = meter.queryValue()
        return value.currentValue / (value.maximumValue or 1.0)

    try:
        level = wait_for("the microphone level to rise", lambda: level_now() > 0.5 and level_now(), 10)
    except AssertionError:
        log("meter: %s" % meter.queryValue().currentValue)
        raise
    log("microphone level %.2f" % level)
    for kind in ("Camera", "Microphone", "Speaker"):
        if find(prejoin, kind, (pyatspi.ROLE_COMBO_BOX, pyatspi.ROLE_LIST_ITEM)) is None:
            fail("no %s picker on the pre-join page" % kind)
    screenshot("app-video-prejoin.png")

    press(prejoin, "Join")
    log("joining")
    tile = wait_for("a tile named " + CLI_USER, lambda: find(root, CLI_USER, TILE_ROLES), 15)
    rect = extents(tile)
    log("tile %s at %s" % (tile.name, rect))
    if rect[2] < 100 or rect[3] < 60:
        fail("the tile is too small to show video: %s" % (rect,))
    live_pixels("the tile of " + CLI_USER, rect)
    screenshot("app-video-call.png")

    # We hear them: the app plays the CLI's 660 Hz tone on the default
    # speaker. The monitor holds only what is played into the null sink; the
    # app's own microphone (the same test tone) is sent, never played back to
    # us, so only the CLI's audio can put a tone there.
    blocks = []
    for _ in range(2):
        blocks = tone_blocks(record_sink("testsink", 2.0))
        loud = sorted(f for rms, f in blocks if rms > 3000)
        if len(loud) >= max(5, len(blocks) // 2):
            break
    else:
        fail("the app played too little: block levels %s" % [round(rms) for rms, _ in blocks])
    frequency = loud[len(loud) // 2]
    log("speaker: %d of %d blocks loud, %.1f Hz; RMS per 100 ms: %s" %
        (len(loud), len(blocks), frequency, [round(rms) for rms, _ in blocks]))
    if abs(frequency - 660) > 4:
        fail("the app played %.1f Hz, not the CLI's 660 Hz tone: %s" % (frequency, loud))

    # Two more people: the 4-person grid (us and three CLIs). Under load a
    # peer may drop out for a moment; the check and the picture want all four.
    others = [spawn_cli(port, name, 175) for name in MORE_CLIS]
    names = (CLI_USER,) + MORE_CLIS
    # (Each search walks the whole accessibility tree, slowly in GTK 4.8:
    # one name at a time, and the tiles found are kept.)
    tiles = [tile] + [wait_for("a tile named " + name, lambda: find(root, name, TILE_ROLES), 30)
                      for name in MORE_CLIS]
    log("four tiles")
    rects = [extents(tile) for tile in tiles]
    first = grab_screen()
    time.sleep(0.5)
    second = grab_screen()
    for name, rect in zip(names, rects):
        changed, coloured = changed_fraction(first, second, rect), colourful_fraction(second, rect)
        log("4-person grid, %s: %.0f %% changed, %.0f %% coloured" %
            (name, 100 * changed, 100 * coloured))
        if changed < 0.02 or coloured < 0.2:
            screenshot("app-video-failed.png")
            fail("the tile of %s shows no live video in the 4-person grid" % name)
    screenshot("app-video-grid4.png")

    # Speaker view: one person large, the others in a strip; pinning another
    # one makes them the large one.
    def area(node):
        box = node.queryComponent().getExtents(pyatspi.WINDOW_COORDS)
        return box.width * box.height

    def largest(name):
        areas = {n: area(node) for n, node in zip(names, tiles)}
        return areas[name] > 2 * max(a for n, a in areas.items() if n != name) and areas

    press(root, "Speaker View")
    log("speaker view: %s" % wait_for("%s large in speaker view" % CLI_USER,
                                      lambda: largest(CLI_USER), 15))
    pin = wait_for("the Pin button of " + MORE_CLIS[1], lambda: find(tiles[2], "Pin", BUTTONS))
    pin.queryAction().doAction(0)
    log("pinned: %s" % wait_for(MORE_CLIS[1] + " large once pinned",
                                lambda: largest(MORE_CLIS[1]), 15))
    time.sleep(0.5)
    screenshot("app-video-speaker.png")

    # Leave (the app logs what it captured and sent), then ask the CLI.
    press(root, "Leave")
    summary = cli_summary(cli)
    ours = [p for p in summary["peers"] if p["user_id"] == APP_USER]
    if not ours:
        fail("confab-cli never saw %s: %s" % (APP_USER, summary["peers"]))
    peer = ours[-1]
    log("cli received from the app: %d video frames (%d decoded), %d audio packets" %
        (peer["video_frames"], peer["decoded_video_frames"], peer["audio_packets"]))
    if peer["decoded_video_frames"] < 30:
        fail("the CLI decoded too few of the app's camera frames: %s" % peer)
    if peer["audio_packets"] < 100:
        fail("the CLI received too little of the app's microphone: %s" % peer)
    for other in others:
        cli_summary(other)
    log("ok after %.0f s" % (time.monotonic() - started))


if __name__ == "__main__":
    t.run(main)
