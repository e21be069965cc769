#!/usr/bin/python3
# test-app-render.py: both ways the grid draws video. Under Xvfb GL is Mesa's
# software rasteriser, so by default the app must choose GTK's cairo renderer
# itself (ui/confab-renderer.c) and the grid converts pictures on the CPU;
# with GSK_RENDERER=gl (what a machine with a GPU gets) the grid's GtkGLArea
# draws them. Each way the CLI's tile must show live, changing, coloured
# pixels, also after speaker view made the tile larger. Screenshots
# app-render-cairo.png, app-render-gl.png in $CONFAB_SCREENSHOT_DIR.

import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pyatspi  # noqa: E402

import confabapptest as t  # noqa: E402
from confabapptest import (APP, CLI, RELAY, app_accessible, extents,  # noqa: E402
                           fail, find, free_port,
                           page, press, screenshot, spawn, wait_display, wait_for, wait_port)

ROOM = "rendertest"
APP_USER = "Ann_Render"
CLI_USER = "cli_render"
TILE_ROLES = (pyatspi.ROLE_PANEL, pyatspi.ROLE_GROUPING)
CHOSE_CAIRO = "windows are drawn with cairo"


def live_video(what, rect, timeout=20):
    t.live_pixels(what, rect, timeout=timeout, failed_shot="app-render-failed.png")


def call(port, mode, env):
    """One app run: join, live video in the CLI's tile, then in speaker view.
    Returns what the app logged."""
    link = "confab://127.0.0.1:%d/%s?name=%s" % (port, ROOM, APP_USER)
    with tempfile.TemporaryFile(mode="w+") as log_file:
        app = spawn([APP, link], env=dict(os.environ, G_MESSAGES_DEBUG="confab-renderer confab-video-grid", **env),
                    stdout=log_file, stderr=subprocess.STDOUT)  # GLib: debug to stdout
        root = wait_for("the app on the accessibility bus", lambda: app_accessible(app.pid), 60)
        t.root_for_dump = root
        press(page(root, "Room “%s”" % ROOM), "Join")
        tile = wait_for("a tile named " + CLI_USER, lambda: find(root, CLI_USER, TILE_ROLES), 30)
        small = extents(tile)
        live_video("%s: the tile of %s" % (mode, CLI_USER), small)
        press(root, "Speaker View")
        large = wait_for("a larger tile in speaker view",
                         lambda: (lambda r: r[2] > small[2] * 1.3 and r)(extents(tile)), 15)
        live_video("%s: the tile of %s in speaker view" % (mode, CLI_USER), large)
        screenshot("app-render-%s.png" % mode)
        t.root_for_dump = None
        app.terminate()
        app.wait(timeout=15)
        log_file.seek(0)
        return log_file.read()


def main():
    wait_display()
    port = free_port()
    spawn([RELAY, "--listen", "127.0.0.1", "--ws-port", str(port), "--wt-port", "0"],
          stderr=subprocess.DEVNULL)
    wait_port(port)
    spawn([CLI, "join", "confab://127.0.0.1:%d/%s" % (port, ROOM), "--name", CLI_USER,
           "--size", "320x180", "--fps", "15", "--duration", "300", "--transport", "websocket"],
          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t.wait_accessibility_bus()

    # Xvfb's GL is llvmpipe: the app must pick cairo by itself.
    env = {key: value for key, value in os.environ.items() if key != "GSK_RENDERER"}
    os.environ.clear()
    os.environ.update(env)
    logged = call(port, "cairo", {})
    if CHOSE_CAIRO not in logged or "pictures converted on the CPU" not in logged:
        fail("with software GL the app did not choose cairo and CPU-converted pictures; it "
             "logged:\n" + logged[-2000:])

    # The GL path, as on a machine with a GPU: GTK's GL renderer, the GtkGLArea.
    logged = call(port, "gl", {"GSK_RENDERER": "gl"})
    if CHOSE_CAIRO in logged or "pictures drawn with GL" not in logged:
        fail("with GSK_RENDERER=gl the grid did not draw with GL; it logged:\n" + logged[-2000:])


if __name__ == "__main__":
    t.run(main)
