#!/usr/bin/python3
# test-app-hidden.py: what nobody can see is not decoded at full rate, and a
# person is one participant however many sessions they go through.
#
# Three confab-cli peers send 320x180@30 over WebSocket; a fourth joins with
# --transport auto against a relay with WebTransport, so ~2 s after joining
# it moves WS -> WT (a new session of the same user). The app must show it
# once: one "joined" toast, one tile, no "left" toast (the app logs each
# toast it shows: G_MESSAGES_DEBUG=confab-window). At 360x640 in speaker
# view the strip holds two of the four peers: the app's own diagnostics
# (AT-SPI) must mark the others "hidden" and show them decoded at key frames
# only while still received at the full rate, and the shown ones decoded at
# ~30 fps; back in grid view every peer is decoded at the full rate again.
# With the chat panel slid over the whole grid (360 px) every peer is
# hidden. Then the auto peer leaves for real (a "left" toast) and comes back
# (a second "joined" toast, again only one). Screenshots app-hidden-*.png.

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pyatspi  # noqa: E402

import confabapptest as t  # noqa: E402
from confabapptest import (bfind, press_menu_button, APP, BUTTONS, CLI, RELAY, app_accessible, checked, fail, find,  # noqa: E402
                           free_port, log, page, press, resize_window, screenshot,
                           set_window_mapped, spawn, wait_display, wait_for, wait_port)

ROOM = "hiddentest"
APP_USER = "Ann_Hidden"
WS_USERS = ["cli_one", "cli_two", "cli_three"]
AUTO_USER = "cli_auto"
TILE_ROLES = (pyatspi.ROLE_PANEL, pyatspi.ROLE_GROUPING)
APP_PID = [0]
SAVE_LOG = [lambda: None]
LABEL = (pyatspi.ROLE_LABEL,)
PEER_LINE = re.compile(r"^(\S+): (\d+) fps, (\d+) kbit/s, ([\d.]+) % lost, (\d+) fps decoded"
                       r"( \(hidden\))?$")


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppLog:
    """What the app printed so far (stdout and stderr in one file)."""

    def __init__(self):
        self.file = tempfile.TemporaryFile(mode="w+")

    def text(self):
        self.file.seek(0)
        return self.file.read()

    def count(self, line):
        return self.text().count(line)

    def save(self):
        """Kept beside the screenshots, for when a step fails."""
        with open(os.path.join(t.SHOTS, "app-hidden.log"), "w") as out:
            out.write(self.text())


def cli(port, user, transport):
    return spawn([CLI, "join", "confab://127.0.0.1:%d/%s" % (port, ROOM), "--name", user,
                  "--size", "320x180", "--fps", "30", "--audio", "none", "--duration", "300",
                  "--transport", transport],
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def escape():
    key = 9  # Xvfb's keycode
    pyatspi.Registry.generateKeyboardEvent(key, None, pyatspi.KEY_PRESS)
    pyatspi.Registry.generateKeyboardEvent(key, None, pyatspi.KEY_RELEASE)


def peer_rates(button):
    """{name: (fps received, fps decoded, hidden)} from the diagnostics
    popover's participant lines, or None while any is still measuring."""
    label = find(button, "Video received", LABEL, name_contains=True)
    if label is None:
        return None
    rates = {}
    for line in label.name.splitlines()[1:]:
        match = PEER_LINE.match(line)
        if match is None:
            return None
        rates[match.group(1)] = (int(match.group(2)), int(match.group(5)),
                                 match.group(6) is not None)
    return rates


def cpu_seconds(pid):
    """The process's user + system CPU time so far."""
    with open("/proc/%d/stat" % pid) as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def settled_rates(root, what, check, timeout=30):
    """Opens the diagnostics and waits until check(rates) holds for three
    refreshes in a row (a second apart); returns the last rates and closes
    the popover. Logs the app's CPU meanwhile (informational: AT-SPI
    queries and the popover cost some too)."""
    started, cpu = time.monotonic(), cpu_seconds(APP_PID[0])
    button = press_menu_button(root, "Diagnostics")
    deadline = time.monotonic() + timeout
    good, last, seen = 0, None, None
    try:
        while time.monotonic() < deadline and good < 3:
            rates = peer_rates(button)
            if rates is not None and rates != last:
                seen = last = rates
                good = good + 1 if check(rates) else 0
                log("%s: %s" % (what, " ".join("%s=%d/%d%s" % (n, r[0], r[1], "H" if r[2] else "")
                                               for n, r in sorted(rates.items()))))
            time.sleep(0.3)
        if good < 3:
            screenshot("app-hidden-failed.png")
            fail("%s: never held; last diagnostics %r" % (what, seen))
        screenshot("app-hidden-%s.png" % what)
        log("%s: the app used %.0f %% of a core meanwhile" %
            (what, 100 * (cpu_seconds(APP_PID[0]) - cpu) / (time.monotonic() - started)))
        return last
    finally:
        escape()
        wait_for("the diagnostics to close",
                 lambda: find(button, "Video received", LABEL, name_contains=True) is None, 30)


def send_tier(root):
    """The diagnostics say what our camera is sent at: the sender's tier."""
    button = press_menu_button(root, "Diagnostics")
    try:
        label = wait_for("the send tier in the diagnostics",
                         lambda: find(button, "Send tier: ", LABEL, name_contains=True), 30)
        match = re.search(r"Send tier: (\d+)×(\d+), (\d+) fps, (\d+) kbit/s, (VP9|VP8|H\.264)",
                          label.name)
        if match is None or int(match.group(1)) < 160 or int(match.group(3)) < 5:
            fail("no send tier in the diagnostics: %r" % label.name)
        log("diagnostics: %s" % match.group(0))
    finally:
        escape()
        wait_for("the diagnostics to close",
                 lambda: find(button, "Send tier: ", LABEL, name_contains=True) is None, 30)


def demand_changes(app_log, since):
    """(wanted, not wanted) changes the session logged after offset since."""
    text = app_log.text()[since:]
    return (len(re.findall(r"video of \d+ wanted", text)),
            len(re.findall(r"video of \d+ not wanted", text)))


def peers_of(rates):
    return {n: r for n, r in rates.items() if n in WS_USERS + [AUTO_USER]}


def count_below(node, match):
    """How many accessibles below node match."""
    found = 0
    try:
        for i in range(node.childCount):
            child = node.getChildAtIndex(i)
            if child is None:
                continue
            found += 1 if match(child) else 0
            found += count_below(child, match)
    except Exception:
        pass
    return found


def one_participant(root, user):
    """One tile and one participants-panel row for user."""
    grid = bfind(root, "Speaker View", BUTTONS)
    tiles = count_below(grid.parent if grid is not None else root,
                        lambda n: n.name == user and n.getRole() in TILE_ROLES)
    if tiles != 1:
        fail("%d tiles named %s (want one)" % (tiles, user))
    participants = press(root, "Participants")
    wait_for("the Participants toggle pressed", lambda: checked(participants), 30)
    panel = wait_for("the participants panel",
                     lambda: bfind(root, "Participants", (pyatspi.ROLE_PANEL,)), 30)
    wait_for("%s in the participants panel" % user,
             lambda: find(panel, user + ",", name_contains=True), 30)
    rows = count_below(panel, lambda n: (n.name or "").startswith(user + ","))
    participants.queryAction().doAction(0)
    wait_for("the Participants toggle released", lambda: not checked(participants), 30)
    if rows != 1:
        fail("%d participants-panel rows for %s (want one)" % (rows, user))
    log("%s: one tile, one participants row" % user)


def main():
    wait_display()
    port, wt_port = free_port(), free_udp_port()
    spawn([RELAY, "--listen", "127.0.0.1", "--ws-port", str(port), "--wt-port", str(wt_port)],
          stderr=subprocess.DEVNULL)
    wait_port(port)
    for user in WS_USERS:
        cli(port, user, "websocket")
    t.wait_accessibility_bus()

    app_log = AppLog()
    link = "confab://127.0.0.1:%d/%s?name=%s" % (port, ROOM, APP_USER)
    app = spawn([APP, link], env=dict(os.environ,
                                      G_MESSAGES_DEBUG="confab-window confab-call-session confab-call"),
                stdout=app_log.file, stderr=subprocess.STDOUT)
    APP_PID[0] = app.pid
    SAVE_LOG[0] = app_log.save
    root = wait_for("the app on the accessibility bus", lambda: app_accessible(app.pid), 60)
    t.root_for_dump = root
    press(page(root, "Room “%s”" % ROOM), "Join")
    for user in WS_USERS:
        wait_for("a tile named " + user, lambda: find(root, user, TILE_ROLES), 30)

    # One person, two sessions (WebSocket first, WebTransport ~2 s later).
    auto = cli(port, AUTO_USER, "auto")
    wait_for("%s to move to its WebTransport session" % AUTO_USER,
             lambda: app_log.count("%s moved to session" % AUTO_USER) >= 1, 30)
    time.sleep(3.0)  # the old session ends 2 s after it fell silent
    joined, left = app_log.count("toast: %s joined" % AUTO_USER), app_log.count(
        "toast: %s left" % AUTO_USER)
    log("%s after the switch: %d joined, %d left toasts" % (AUTO_USER, joined, left))
    if joined != 1 or left != 0:
        fail("a transport switch must not read as a join or a leave: %d joined, %d left toasts"
             % (joined, left))
    one_participant(root, AUTO_USER)

    # Grid view: everyone shown and decoded at the full rate.
    full = settled_rates(root, "grid", lambda r: len(peers_of(r)) == 4 and all(
        not hidden and received >= 10 and decoded * 10 >= received * 7
        for received, decoded, hidden in peers_of(r).values()))

    send_tier(root)

    # A phone-sized window in speaker view: the strip holds two of the four.
    resize_window("Confab", 360, 640)
    view = press(root, "Speaker View")
    wait_for("speaker view", lambda: checked(view), 30)

    def some_hidden(r):
        peers = peers_of(r)
        hidden = [p for p in peers.values() if p[2]]
        shown = [p for p in peers.values() if not p[2]]
        return (len(peers) == 4 and hidden and shown and
                all(received >= 10 and decoded <= 2 for received, decoded, _ in hidden) and
                all(decoded >= 20 for _, decoded, _ in shown))

    rates = settled_rates(root, "speaker", some_hidden)
    hidden = sorted(n for n, r in peers_of(rates).items() if r[2])
    log("hidden in speaker view at 360 px: %s" % ", ".join(hidden))

    # Back to the grid: every peer at the full rate again.
    view.queryAction().doAction(0)
    wait_for("grid view", lambda: not checked(view), 30)
    started = time.monotonic()
    settled_rates(root, "unhidden", lambda r: len(peers_of(r)) == 4 and all(
        not h and decoded >= 20 for _, decoded, h in peers_of(r).values()))
    log("hidden peers back at the full rate after %.1f s" % (time.monotonic() - started))

    # The chat panel slid over the whole grid at 360 px: nobody is seen.
    chat = press(root, "Chat")
    wait_for("the chat panel", lambda: checked(chat), 30)
    time.sleep(1.0)
    screenshot("app-hidden-chat.png")
    settled_rates(root, "covered", lambda r: len(peers_of(r)) == 4 and all(
        h and decoded <= 2 for _, decoded, h in peers_of(r).values()))
    mark = len(app_log.text())
    if checked(chat):
        chat.queryAction().doAction(0)
    resize_window("Confab", 960, 640)
    wait_for("all four wanted again once the chat closed",
             lambda: demand_changes(app_log, mark)[0] >= 4, 15)

    # Minimized (unmapped, as a window manager would): nobody is seen; back
    # on screen everyone is wanted again at once.
    mark = len(app_log.text())
    set_window_mapped("Confab", False)
    wait_for("all four not wanted while the window is unmapped",
             lambda: demand_changes(app_log, mark)[1] >= 4, 15)
    mark = len(app_log.text())
    started = time.monotonic()
    set_window_mapped("Confab", True)
    wait_for("all four wanted once the window is mapped again",
             lambda: demand_changes(app_log, mark)[0] >= 4, 15)
    log("window unmapped: all hidden; mapped again: all wanted after %.2f s" %
        (time.monotonic() - started))
    settled_rates(root, "remapped", lambda r: len(peers_of(r)) == 4 and all(
        not h and decoded >= 20 for _, decoded, h in peers_of(r).values()))

    # A real leave and a rejoin still say so, once each.
    auto.send_signal(signal.SIGINT)
    auto.wait(timeout=30)
    wait_for("the 'left' toast", lambda: app_log.count("toast: %s left" % AUTO_USER) == 1, 30)
    auto = cli(port, AUTO_USER, "auto")
    wait_for("the second join to move to WebTransport",
             lambda: app_log.count("%s moved to session" % AUTO_USER) >= 2, 30)
    time.sleep(3.0)
    joined, left = app_log.count("toast: %s joined" % AUTO_USER), app_log.count(
        "toast: %s left" % AUTO_USER)
    log("%s after leaving and coming back: %d joined, %d left toasts" % (AUTO_USER, joined, left))
    if joined != 2 or left != 1:
        fail("leave + rejoin should toast once each: %d joined, %d left" % (joined, left))
    one_participant(root, AUTO_USER)
    t.root_for_dump = None
    app.terminate()
    app.wait(timeout=15)


def main_keeping_log():
    try:
        main()
    finally:
        SAVE_LOG[0]()


if __name__ == "__main__":
    t.run(main_keeping_log)
