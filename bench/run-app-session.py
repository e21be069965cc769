#!/usr/bin/python3
# run-app-session.py: the app half of the app benchmark (bench/run-app.py
# runs it once per peer count). Inside its own Xvfb and D-Bus session
# (tests/confabapptest.py) it opens `confab` with an invite link to a room
# where senders already send, presses Join through AT-SPI, waits until every
# sender has a tile, then reads the CPU and memory of the app's process tree
# (and of the X server that shows it) over a measured window from /proc.
# Mesa renders in software (LIBGL_ALWAYS_SOFTWARE=1). Parameters come in the
# environment (BENCH_PORT, BENCH_ROOM, BENCH_PEERS, BENCH_WARMUP,
# BENCH_WINDOW, BENCH_OUT); the result is one JSON object written to BENCH_OUT.

import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests"))
import pyatspi  # noqa: E402

import confabapptest as t  # noqa: E402


def _load_driver():
    """The /proc readings live once, in run-app.py (the driver)."""
    import importlib.util
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "run-app.py")
    spec = importlib.util.spec_from_file_location("run_app", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


benchproc = _load_driver()

APP_USER = "bench_app"


def xvfb_pid():
    """The Xvfb that confabapptest started: a child of this script's outer
    invocation (outer python -> dbus-run-session -> this python)."""
    outer = benchproc.ppid(os.getppid())
    for pid in benchproc.children(outer):
        if benchproc.comm(pid) == "Xvfb":
            return pid
    return None


def main():
    t.wait_display()
    port = int(os.environ["BENCH_PORT"])
    room = os.environ["BENCH_ROOM"]
    peers = int(os.environ["BENCH_PEERS"])
    warmup = float(os.environ["BENCH_WARMUP"])
    window = float(os.environ["BENCH_WINDOW"])
    out_path = os.environ["BENCH_OUT"]

    env = dict(os.environ, LIBGL_ALWAYS_SOFTWARE="1")
    link = "confab://127.0.0.1:%d/%s?name=%s" % (port, room, APP_USER)
    app = t.spawn([t.APP, link], env=env)
    root = t.wait_for("the app on the accessibility bus", lambda: t.app_accessible(app.pid), 30)
    t.root_for_dump = root
    prejoin = t.page(root, "Room “%s”" % room)
    t.press(prejoin, "Join")
    tiles = []
    for i in range(peers):
        name = "sender%d" % i
        tiles.append(t.wait_for("a tile named " + name,
                                lambda: t.find(root, name, (pyatspi.ROLE_PANEL,
                                                            pyatspi.ROLE_GROUPING)), 30))
    t.log("%d tiles; warming up %.0f s" % (peers, warmup))
    time.sleep(warmup)

    xvfb = xvfb_pid()
    before = benchproc.tree_cpu(app.pid)
    x_before = benchproc.cpu_s(xvfb) if xvfb else None
    t0 = time.monotonic()
    load0 = benchproc.loadavg()
    time.sleep(window)
    after = benchproc.tree_cpu(app.pid)
    x_after = benchproc.cpu_s(xvfb) if xvfb else None
    wall = time.monotonic() - t0
    mem = benchproc.tree_memory(app.pid)
    result = {
        "ok": app.poll() is None,
        "window_s": wall,
        "cpu_percent": benchproc.cpu_percent(before, after, wall),
        "processes": len(after),
        "rss_mb": mem["rss_mb"],
        "pss_mb": mem["pss_mb"],
        "xvfb_cpu_percent": (100.0 * (x_after - x_before) / wall
                             if x_before is not None and x_after is not None else None),
        "xvfb_rss_mb": benchproc.tree_memory(xvfb, with_children=False)["rss_mb"] if xvfb else None,
        "loadavg": [load0, benchproc.loadavg()],
        "grid_fps": None,
    }

    # Whether the tiles show moving pictures: screenshots after the window
    # (they cost CPU), where the shared harness can take them.
    if hasattr(t, "grab_screen") and hasattr(t, "changed_fraction") and hasattr(t, "extents"):
        try:
            a = t.grab_screen()
            time.sleep(0.5)
            b = t.grab_screen()
            result["tiles_changing"] = sum(
                1 for tile in tiles if t.changed_fraction(a, b, t.extents(tile)) > 0.01)
        except Exception as error:  # the measurement above stands without it
            t.log("screenshot check failed: %s" % error)
    if os.environ.get("BENCH_SCREENSHOT"):
        try:
            t.screenshot(os.environ["BENCH_SCREENSHOT"])
        except Exception as error:
            t.log("screenshot failed: %s" % error)

    with open(out_path, "w") as f:
        json.dump(result, f)
    t.press(root, "Leave")
    time.sleep(0.5)


if __name__ == "__main__":
    t.run(main)
