#!/usr/bin/python3
# test-app.py: drives the `confab` desktop app as a person would, through
# AT-SPI (roles and accessible names, actions — no coordinate clicks), against
# the real confab-relay and a real confab-cli in the same room (harness:
# confabapptest.py). Screenshots of the start screen, pre-join and the call go
# to $CONFAB_SCREENSHOT_DIR.

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pyatspi  # noqa: E402

import confabapptest as t  # noqa: E402
from confabapptest import (APP, BUTTONS, CLI, RELAY, checked, ctrl_d, fail, find, free_port,  # noqa: E402,F401
                           log, page, press, screenshot, sensitive, spawn, wait_display, wait_for,
                           wait_port, app_accessible)

ROOM = "apptest"
CLI_USER = "cli_bob"
APP_USER = "Ann_Tester"


def main():
    wait_display()
    port = free_port()
    relay = spawn([RELAY, "--listen", "127.0.0.1", "--ws-port", str(port), "--wt-port", "0"],
                  stderr=subprocess.DEVNULL)
    wait_port(port)
    log("relay on %d" % port)

    # Start screen: the app opened without a link.
    app = spawn([APP])
    root = wait_for("the app on the accessibility bus", lambda: app_accessible(app.pid), 20)
    t.root_for_dump = root
    start = page(root, "Join a Meeting")
    time.sleep(0.5)  # let the first frame settle for the screenshot
    screenshot("app-start.png")

    # A broken link handed to a second invocation: the running instance shows
    # why, and neither process crashes.
    second = subprocess.run([APP, "confab://bad link/%%"], timeout=20)
    if second.returncode != 0:
        fail("second invocation with a broken link exited %d" % second.returncode)
    wait_for("the broken-link message",
             lambda: find(root, "This link cannot be used", name_contains=True))
    if app.poll() is not None:
        fail("the app died on a broken link")

    # A real invite link, again through a second invocation.
    link = "confab://127.0.0.1:%d/%s?name=%s" % (port, ROOM, APP_USER)
    second = subprocess.run([APP, link], timeout=20)
    if second.returncode != 0:
        fail("second invocation exited %d" % second.returncode)
    prejoin = page(root, "Room “%s”" % ROOM)
    time.sleep(0.5)
    screenshot("app-prejoin.png")

    # The other participant, sending test media for long enough to see us mute.
    cli = spawn([CLI, "join", "confab://127.0.0.1:%d/%s" % (port, ROOM), "--name", CLI_USER,
                 "--size", "320x180", "--fps", "15", "--duration", "12",
                 "--transport", "websocket"],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    press(prejoin, "Join")
    tile = wait_for("a tile named " + CLI_USER,
                    lambda: find(root, CLI_USER, (pyatspi.ROLE_PANEL, pyatspi.ROLE_GROUPING)), 15)
    log("tile %s (%s)" % (tile.name, tile.getRoleName()))

    microphone = wait_for("the Microphone toggle",
                          lambda: find(root, "Microphone", BUTTONS))
    camera = wait_for("the Camera toggle", lambda: find(root, "Camera", BUTTONS))
    if not checked(microphone) or not checked(camera):
        fail("microphone and camera toggles should start pressed (on)")
    find(root, "Leave", BUTTONS) or fail("no Leave button")
    time.sleep(1.0)  # toasts and layout settle
    screenshot("app-call.png")

    microphone.queryAction().doAction(0)
    wait_for("the Microphone toggle to show it is off", lambda: not checked(microphone), 5)

    # Ctrl+D toggles it too: on again, then off again.
    ctrl_d()
    wait_for("Ctrl+D to turn the microphone on", lambda: checked(microphone), 5)
    ctrl_d()
    wait_for("Ctrl+D to turn the microphone off", lambda: not checked(microphone), 5)

    try:
        out, _ = cli.communicate(timeout=40)
    except subprocess.TimeoutExpired:
        fail("confab-cli did not finish")
    summary = json.loads(out.strip().splitlines()[-1])
    ours = [p for p in summary["peers"] if p["user_id"] == APP_USER]
    if not ours:
        fail("confab-cli never saw %s: %s" % (APP_USER, summary["peers"]))
    peer = ours[-1]
    log("cli sees %s: audio_enabled=%s video_enabled=%s heartbeats=%d" %
        (APP_USER, peer["audio_enabled"], peer["video_enabled"], peer["heartbeats"]))
    if peer["audio_enabled"] is not False:
        fail("after Microphone was pressed the heartbeat still says audio_enabled")
    if peer["video_enabled"] is not True:
        fail("the camera was on, the heartbeat should say video_enabled")

    # Leave: back on the pre-join page of the same room.
    press(root, "Leave")
    wait_for("the call controls to go after leaving",
             lambda: find(root, "Leave", BUTTONS) is None, 10)
    wait_for("the tiles to go", lambda: find(root, CLI_USER, (pyatspi.ROLE_PANEL, pyatspi.ROLE_GROUPING)) is None, 10)
    wait_for("Join to be possible again", lambda: sensitive(find(prejoin, "Join", BUTTONS)), 10)
    if app.poll() is not None:
        fail("the app exited")

    # Join again, then close the window in the middle of the call: the app
    # leaves and exits cleanly.
    press(prejoin, "Join")
    wait_for("the call controls after joining again", lambda: find(root, "Leave", BUTTONS), 10)
    press(root, "Close")
    try:
        status = app.wait(timeout=10)
    except subprocess.TimeoutExpired:
        fail("closing the window during a call did not end the app")
    if status != 0:
        fail("closing the window during a call: exit status %d" % status)
    log("ok")



if __name__ == "__main__":
    t.run(main)
