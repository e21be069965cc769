#!/usr/bin/python3
# test-app.py: drives the `confab` desktop app as a person would, through
# AT-SPI (roles and accessible names, actions — no coordinate clicks), against
# the real confab-relay and real confab-cli peers in the same room (harness:
# confabapptest.py): joining, the participants panel, chat both ways with the
# unread badge, mute heard in the CLI's heartbeats, a 360 px wide window, the
# Retry dialog when the relay is unreachable, leaving. Screenshots go to
# $CONFAB_SCREENSHOT_DIR (app-chat.png is also the metainfo's chat screenshot).

import json
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pyatspi  # noqa: E402

import confabapptest as t  # noqa: E402
from confabapptest import (bfind, press_menu_button, APP, BUTTONS, CLI, RELAY, checked, ctrl_d, fail, find, free_port,  # noqa: E402,F401
                           log, page, press, screenshot, sensitive, spawn, wait_display, wait_for,
                           wait_port, app_accessible, type_text, press_enter, resize_window)

ROOM = "apptest"
CLI_USER = "cli_bob"
CHAT_USER = "cli_carol"
APP_USER = "Ann_Tester"
CHAT_FROM_CLI = "Grüße aus der Kommandozeile ✓"
CHAT_FROM_APP = "Hello from the app, 42"
T0 = [0.0]
CONTROLS = ["Microphone", "Camera", "Share Screen", "Participants", "Chat", "Leave"]
PANEL = (pyatspi.ROLE_PANEL,)
LABEL = (pyatspi.ROLE_LABEL,)


def call_controls(root):
    """The flow box of call controls: searching inside it is cheap."""
    return wait_for("the call controls", lambda: bfind(root, "Call Controls"), 30)


def description(node):
    try:
        return node.description or ""
    except Exception:
        return ""


def chat_and_participants(root, port):
    """The participants panel lists the CLI; a CLI's chat message raises the
    unread badge and shows in the chat panel; ours goes out on Enter."""
    controls = call_controls(root)
    participants = press(controls, "Participants")
    wait_for("the Participants toggle to show it is pressed", lambda: checked(participants), 30)
    panel = wait_for("the participants panel", lambda: bfind(root, "Participants", PANEL))
    row = wait_for("%s in the participants panel" % CLI_USER,
                   lambda: find(panel, CLI_USER + ",", name_contains=True), 30)
    log("participants panel: %r (%.1f s)" % (row.name, time.monotonic() - T0[0]))
    if "Microphone on" not in row.name or "Camera on" not in row.name:
        fail("the CLI sends audio and video, its row says %r" % row.name)
    find(panel, APP_USER + " (You)", name_contains=True) or fail("we are not in the participants panel")
    time.sleep(0.5)
    screenshot("app-participants.png")
    participants.queryAction().doAction(0)
    wait_for("the Participants toggle to be released", lambda: not checked(participants), 30)

    # A second CLI says something while the chat panel is closed.
    carol = spawn([CLI, "join", "confab://127.0.0.1:%d/%s" % (port, ROOM), "--name", CHAT_USER,
                   "--video", "none", "--audio", "none", "--duration", "3",
                   "--transport", "websocket", "--chat", CHAT_FROM_CLI],
                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    badge = wait_for("the unread badge", lambda: find(controls, "1 unread message", LABEL), 30)
    log("badge %r (%.1f s)" % (badge.name, time.monotonic() - T0[0]))
    chat = wait_for("the Chat toggle", lambda: find(controls, "Chat", BUTTONS))
    if "1 unread message" not in description(chat):
        fail("the Chat toggle does not tell a screen reader about the unread message: %r" %
             description(chat))
    if checked(chat):
        fail("the Chat toggle is pressed before anyone opened the chat")
    chat.queryAction().doAction(0)
    wait_for("the Chat toggle to show it is pressed", lambda: checked(chat), 30)
    chat_panel = wait_for("the chat panel", lambda: bfind(root, "Chat", PANEL))
    wait_for("the CLI's message in the chat panel",
             lambda: find(chat_panel, CHAT_FROM_CLI, LABEL), 30)
    wait_for("the badge to go once the chat is open",
             lambda: find(controls, "unread message", LABEL, name_contains=True) is None, 30)
    log("chat panel shows it (%.1f s)" % (time.monotonic() - T0[0]))
    if carol.wait(timeout=60) != 0:
        fail("the chatting confab-cli failed")
    log("carol done (%.1f s)" % (time.monotonic() - T0[0]))

    # Ours: the entry has the focus once the panel opened; Enter sends.
    type_text(CHAT_FROM_APP)
    press_enter()
    wait_for("our message in the chat panel", lambda: find(chat_panel, CHAT_FROM_APP, LABEL), 30)
    time.sleep(0.5)
    screenshot("app-chat.png")
    return chat


def diagnostics(root):
    """The diagnostics popover names the transport and measures the CLI's
    video (it sends 15 fps)."""
    # The popover is a child of its menu button: search there only.
    button = press_menu_button(root, "Diagnostics")
    info = wait_for("the diagnostics popover",
                    lambda: find(button, "Transport: WebSocket", LABEL, name_contains=True), 30)
    log("diagnostics: %r" % info.name)

    seen = [None]

    def peer_fps():
        label = find(button, CLI_USER + ": ", LABEL, name_contains=True)
        if label is None:
            return None
        seen[0] = label.name
        match = re.search(re.escape(CLI_USER) + r": (\d+) fps, (\d+) kbit/s, [\d.]+ % lost",
                          label.name)
        return match if match and int(match.group(1)) > 0 and int(match.group(2)) > 0 else None

    try:
        match = wait_for("the CLI's frame rate and bitrate in the diagnostics", peer_fps, 30)
    except AssertionError:
        fail("the diagnostics never showed the CLI's video arriving; last seen: %r" % seen[0])
    log("diagnostics for %s: %s fps, %s kbit/s" % (CLI_USER, match.group(1), match.group(2)))
    screenshot("app-diagnostics.png")
    escape = 9  # Xvfb's keycode: closes the popover
    pyatspi.Registry.generateKeyboardEvent(escape, None, pyatspi.KEY_PRESS)
    pyatspi.Registry.generateKeyboardEvent(escape, None, pyatspi.KEY_RELEASE)
    wait_for("the popover to close",
             lambda: find(button, "Transport: WebSocket", LABEL, name_contains=True) is None, 30)


def narrow_window(root, chat):
    """At 360 px wide (a phone) every control is still there, inside the
    window, and the open chat slides over the grid."""
    resize_window("Confab", 360, 640)
    time.sleep(1.0)
    screenshot("app-narrow-chat.png")
    chat.queryAction().doAction(0)
    wait_for("the chat to close", lambda: not checked(chat), 30)
    time.sleep(0.5)
    screenshot("app-narrow.png")
    for name in CONTROLS:
        button = bfind(root, name, BUTTONS)
        if button is None:
            fail("no %s button at 360 px" % name)
        box = button.queryComponent().getExtents(pyatspi.WINDOW_COORDS)
        x, y, w, h = box.x, box.y, box.width, box.height
        log("%s at %d,%d %dx%d" % (name, x, y, w, h))
        if w <= 0 or h <= 0 or x < 0 or x + w > 370 or y + h > 650:
            fail("%s is outside a 360x640 window: %d,%d %dx%d" % (name, x, y, w, h))
    resize_window("Confab", 960, 640)
    time.sleep(0.5)


def preferences_show_settings(root):
    """Ctrl+, opens the preferences; its Display Name row is bound to the
    setting the pre-join page saved; Escape closes the window."""
    control, comma, escape = 37, 59, 9  # Xvfb's keycodes
    registry = pyatspi.Registry
    registry.generateKeyboardEvent(control, None, pyatspi.KEY_PRESS)
    registry.generateKeyboardEvent(comma, None, pyatspi.KEY_PRESS)
    registry.generateKeyboardEvent(comma, None, pyatspi.KEY_RELEASE)
    registry.generateKeyboardEvent(control, None, pyatspi.KEY_RELEASE)
    preferences = wait_for("the preferences window",
                           lambda: bfind(root, "Preferences", (pyatspi.ROLE_FRAME, pyatspi.ROLE_DIALOG)), 30)
    for name in ("Display Name", "Default Server", "Start Muted", "Echo Cancellation", "Video Codec"):
        wait_for("the %s row" % name, lambda: find(preferences, name, name_contains=True), 30)
    row = find(preferences, "Display Name", (pyatspi.ROLE_TEXT, pyatspi.ROLE_ENTRY))

    def text_of(node):
        try:
            text = node.queryText()
            return text.getText(0, text.characterCount)  # GTK 4.8 answers "" to -1
        except Exception:
            return None

    time.sleep(0.5)
    screenshot("app-preferences.png")
    # The row, or the GtkText inside it, has the text.
    shown = text_of(row)
    if not shown:
        inner = pyatspi.findDescendant(row, lambda n: bool(text_of(n)))
        shown = text_of(inner) if inner is not None else shown
    log("preferences: Display Name %r" % shown)
    if shown != APP_USER:
        fail("the preferences show the display name %r, not %r" % (shown, APP_USER))
    registry.generateKeyboardEvent(escape, None, pyatspi.KEY_PRESS)
    registry.generateKeyboardEvent(escape, None, pyatspi.KEY_RELEASE)
    wait_for("the preferences to close",
             lambda: bfind(root, "Preferences", (pyatspi.ROLE_FRAME, pyatspi.ROLE_DIALOG)) is None, 30)


def retry_when_unreachable(root):
    """A link to a relay that is not running: joining fails with a dialog
    that offers Retry; once the relay is up, Retry joins."""
    port = free_port()
    room = "retryroom"
    second = subprocess.run([APP, "confab://127.0.0.1:%d/%s?name=%s" % (port, room, APP_USER)],
                            timeout=20)
    if second.returncode != 0:
        fail("second invocation exited %d" % second.returncode)
    prejoin = page(root, "Room “%s”" % room)
    press(prejoin, "Join")
    wait_for("the cannot-reach dialog",
             lambda: bfind(root, "Cannot Reach the Server", name_contains=True), 30)
    # GTK 4.8 names an AdwMessageDialog response button "_Retry Retry".
    retry = wait_for("the Retry button",
                     lambda: bfind(root, "Retry", BUTTONS, name_contains=True), 30)
    time.sleep(0.5)
    screenshot("app-retry.png")
    relay = spawn([RELAY, "--listen", "127.0.0.1", "--ws-port", str(port), "--wt-port", "0"],
                  stderr=subprocess.DEVNULL)
    wait_port(port)
    retry.queryAction().doAction(0)
    wait_for("Retry to join the room", lambda: bfind(root, "Joined", LABEL), 30)
    wait_for("the dialog to go",
             lambda: bfind(root, "Retry", BUTTONS, name_contains=True) is None, 30)
    log("joined %s after Retry" % room)

    # The relay dies mid-call (SIGKILL: no goodbye, as in a crash) and comes
    # back on the same port: a toast says we are reconnecting, another that
    # we are back.
    relay.kill()
    relay.wait(timeout=10)
    wait_for("the reconnecting toast",
             lambda: bfind(root, "Connection lost, reconnecting…", LABEL), 30)
    spawn([RELAY, "--listen", "127.0.0.1", "--ws-port", str(port), "--wt-port", "0"],
          stderr=subprocess.DEVNULL)
    wait_port(port)
    wait_for("the reconnected toast", lambda: bfind(root, "Reconnected", LABEL), 30)
    log("reconnected to %s" % room)


def main():
    wait_display()
    port = free_port()
    relay = spawn([RELAY, "--listen", "127.0.0.1", "--ws-port", str(port), "--wt-port", "0"],
                  stderr=subprocess.DEVNULL)
    wait_port(port)
    log("relay on %d" % port)

    # Start screen: the app opened without a link (the accessibility bus up
    # first, or GTK may give up on it under load).
    t.wait_accessibility_bus()
    # GTK draws with cairo here: its GL renderer on llvmpipe kept the main
    # thread busy enough on the loaded 2-core machine that AT-SPI calls timed
    # out (25 s). The app now picks cairo itself on software GL, and the grid
    # then converts pictures on the CPU; both grid paths are
    # test-app-render.py's business.
    app = spawn([APP], env=dict(os.environ, GSK_RENDERER="cairo"))
    root = wait_for("the app on the accessibility bus", lambda: app_accessible(app.pid), 60)
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
             lambda: bfind(root, "This link cannot be used", name_contains=True))
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
                 "--size", "320x180", "--fps", "15", "--duration", "150",
                 "--transport", "websocket"],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    press(prejoin, "Join")
    t0 = T0[0] = time.monotonic()
    tile = wait_for("a tile named " + CLI_USER,
                    lambda: find(root, CLI_USER, (pyatspi.ROLE_PANEL, pyatspi.ROLE_GROUPING)), 30)
    log("tile %s (%s)" % (tile.name, tile.getRoleName()))

    microphone = wait_for("the Microphone toggle",
                          lambda: find(call_controls(root), "Microphone", BUTTONS))
    camera = wait_for("the Camera toggle", lambda: find(call_controls(root), "Camera", BUTTONS))
    if not checked(microphone) or not checked(camera):
        fail("microphone and camera toggles should start pressed (on)")
    bfind(root, "Leave", BUTTONS) or fail("no Leave button")
    time.sleep(1.0)  # toasts and layout settle
    screenshot("app-call.png")


    microphone.queryAction().doAction(0)
    wait_for("the Microphone toggle to show it is off", lambda: not checked(microphone), 30)

    # Ctrl+D toggles it too: on again, then off again.
    ctrl_d()
    wait_for("Ctrl+D to turn the microphone on", lambda: checked(microphone), 30)
    ctrl_d()
    wait_for("Ctrl+D to turn the microphone off", lambda: not checked(microphone), 30)
    log("muted at %.1f s" % (time.monotonic() - t0))
    diagnostics(root)

    chat = chat_and_participants(root, port)
    log("chat done at %.1f s" % (time.monotonic() - t0))
    narrow_window(root, chat)
    log("narrow done at %.1f s" % (time.monotonic() - t0))

    # Done with it: SIGINT makes the CLI leave and print its summary (a fixed
    # --duration would be too short on a loaded machine, or too long).
    cli.send_signal(signal.SIGINT)
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
    for key in ("screen_enabled", "is_speaking"):
        if peer.get(key) is not False:
            fail("the heartbeat's %s should be false: %r" % (key, peer.get(key)))
    ours = [m for m in summary["chat"]["received"] if m["text"] == CHAT_FROM_APP]
    if not ours:
        fail("confab-cli did not receive our chat message: %r" % summary["chat"])
    if ours[0]["user_id"] != APP_USER or ours[0]["display_name"] != APP_USER:
        fail("our chat message came from %r / %r" % (ours[0]["user_id"], ours[0]["display_name"]))
    log("cli got our chat: %r" % ours[0]["text"])

    # Leave: back on the pre-join page of the same room.
    press(root, "Leave")
    wait_for("the call controls to go after leaving",
             lambda: bfind(root, "Leave", BUTTONS) is None, 30)
    wait_for("the tiles to go", lambda: find(root, CLI_USER, (pyatspi.ROLE_PANEL, pyatspi.ROLE_GROUPING)) is None, 10)
    wait_for("Join to be possible again", lambda: sensitive(find(prejoin, "Join", BUTTONS)), 30)
    if app.poll() is not None:
        fail("the app exited")

    # The start page now offers the room we were in.
    press(prejoin, "Back")
    start = page(root, "Join a Meeting")
    recent = wait_for("the recent rooms list", lambda: find(start, "Recent Rooms", (pyatspi.ROLE_LIST,)), 5)
    wait_for("%s among the recent rooms" % ROOM, lambda: find(recent, ROOM), 30)

    # Another room whose relay is not up yet: the Retry dialog, then joined.
    retry_when_unreachable(root)

    # Preferences (Ctrl+,) show the settings: the name we joined with.
    preferences_show_settings(root)

    # Close the window in the middle of that call: the app leaves and exits
    # cleanly.
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
