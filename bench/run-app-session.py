#!/usr/bin/python3
# run-app-session.py: the app half of the app benchmark (bench/run-app.py
# runs it once per peer count). Inside its own Xvfb and D-Bus session
# (tests/confabapptest.py) it opens `confab` with an invite link to a room
# where senders already send, presses Join through AT-SPI, waits until every
# sender has a tile, then reads the CPU and memory of the app's process tree
# (and of the X server that shows it) over a measured window from /proc.
# Mesa renders in software (LIBGL_ALWAYS_SOFTWARE=1); the app gets no PipeWire
# (no camera, microphone or speaker: it sends nothing and decodes no audio,
# like the benchmark's browser page). Parameters come in the
# environment (BENCH_PORT, BENCH_ROOM, BENCH_PEERS, BENCH_WARMUP,
# BENCH_WINDOW, BENCH_OUT); the result is one JSON object written to BENCH_OUT.

import json
import os
import subprocess
import sys
import tempfile
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


SCREEN_W, SCREEN_H = 1280, 720  # confabapptest's Xvfb screen
GRAB_S = 3.0


GRAB_HZ = 60


def grid_fps(rects, hz=GRAB_HZ):
    """The frame rate each tile really shows: the tiles' bounding box grabbed
    at `hz` for GRAB_S seconds (ffmpeg x11grab, grey, every grab kept as it
    came: -vsync passthrough), and for every tile the grabs whose pixels
    differ from the previous grab counted. The test pattern moves every
    frame, so each new picture a tile shows is one change. At 60 Hz every
    render of the grid (at most 30 a second) lands in a grab of its own; at
    30 Hz grabs and renders beat against each other and two renders between
    two grabs count once, so a grid showing every picture read 26-30. The
    grabs actually taken per second are reported with it (grab_hz)."""
    x0 = max(0, min(r[0] for r in rects))
    y0 = max(0, min(r[1] for r in rects))
    x1 = min(SCREEN_W, max(r[0] + r[2] for r in rects))
    y1 = min(SCREEN_H, max(r[1] + r[3] for r in rects))
    width, height = (x1 - x0) & ~1, (y1 - y0) & ~1
    grab = subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "x11grab",
                           "-draw_mouse", "0", "-framerate", str(hz),
                           "-video_size", "%dx%d" % (width, height),
                           "-i", "%s+%d,%d" % (os.environ["DISPLAY"], x0, y0),
                           "-t", str(GRAB_S), "-vsync", "passthrough", "-f", "rawvideo",
                           "-pix_fmt", "gray", "-"], capture_output=True, timeout=60)
    size = width * height
    frames = len(grab.stdout) // size if size > 0 else 0
    if frames < 2:
        raise RuntimeError("x11grab gave %d frames: %s" % (frames, grab.stderr[-300:]))

    def sample(i, rect):
        x, y, w, h = rect
        x, y = max(0, x - x0), max(0, y - y0)
        w, h = min(w, width - x), min(h, height - y)
        base = i * size
        return b"".join(grab.stdout[base + row * width + x: base + row * width + x + w: 3]
                        for row in range(y, y + h, 3))

    fps = []
    for rect in rects:
        prev, changes = sample(0, rect), 0
        for i in range(1, frames):
            cur = sample(i, rect)
            changes += cur != prev
            prev = cur
        fps.append(changes / GRAB_S)
    return {"grid_fps": min(fps), "grid_fps_avg": sum(fps) / len(fps),
            "grid_fps_per_tile": fps, "grab_hz": frames / GRAB_S}


def main():
    t.wait_display()
    port = int(os.environ["BENCH_PORT"])
    room = os.environ["BENCH_ROOM"]
    peers = int(os.environ["BENCH_PEERS"])
    warmup = float(os.environ["BENCH_WARMUP"])
    window = float(os.environ["BENCH_WINDOW"])
    out_path = os.environ["BENCH_OUT"]

    # No PipeWire, even on a desktop that runs one: no camera or microphone,
    # so the app sends nothing (as the page), and no speaker, so its playout
    # does not start and no audio is decoded (the page decodes none either;
    # the app only queues the audio packets in its bounded jitter buffers).
    no_pipewire = tempfile.mkdtemp(prefix="confab-bench-no-pw-")
    env = dict(os.environ, LIBGL_ALWAYS_SOFTWARE="1", PIPEWIRE_RUNTIME_DIR=no_pipewire,
               PIPEWIRE_REMOTE="confab-bench-no-pipewire")
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
    threads0 = benchproc.threads_cpu(list(before))
    x_before = benchproc.cpu_s(xvfb) if xvfb else None
    busy0, t0 = benchproc.machine_busy_s(), time.monotonic()
    load0 = benchproc.loadavg()
    sampler = benchproc.MemorySampler(app.pid)
    time.sleep(window)
    after = benchproc.tree_cpu(app.pid)
    threads1 = benchproc.threads_cpu(list(after))
    x_after = benchproc.cpu_s(xvfb) if xvfb else None
    busy1, wall = benchproc.machine_busy_s(), time.monotonic() - t0
    mem = sampler.finish()
    cpu = benchproc.cpu_percent(before, after, wall)
    x_cpu = (100.0 * (x_after - x_before) / wall
             if x_before is not None and x_after is not None else None)
    result = {
        "ok": app.poll() is None,
        "window_s": wall,
        "cpu_percent": cpu,
        "other_cpu_percent": max(0.0, 100.0 * (busy1 - busy0) / wall - cpu - (x_cpu or 0)),
        "processes": len(after),
        **mem,
        "xvfb_cpu_percent": x_cpu,
        "xvfb_rss_mb": benchproc.tree_memory(xvfb, with_children=False)["rss_mb"] if xvfb else None,
        "loadavg": [load0, benchproc.loadavg()],
        "grid_fps": None,
        "threads_cpu_percent": benchproc.threads_percent(threads0, threads1, wall),
    }

    # What the grid shows, after the window (capturing costs CPU).
    try:
        rects = [t.extents(tile) for tile in tiles]
        result.update(grid_fps(rects))
        if os.environ.get("BENCH_GRAB_COMPARE"):
            at30 = grid_fps(rects, 30)
            result["grid_fps_30hz"] = at30["grid_fps"]
            result["grid_fps_avg_30hz"] = at30["grid_fps_avg"]
    except Exception as error:  # the measurement above stands without it
        t.log("grid frame rate not measured: %s" % error)
    # Where the app's CPU goes (--perf DIR): sampled after the window.
    if os.environ.get("BENCH_PERF"):
        data = os.environ["BENCH_PERF"] + ".data"
        try:
            subprocess.run(["perf", "record", "-q", "-F", "499", "-g", "-p", str(app.pid),
                            "-o", data, "--", "sleep", "5"], capture_output=True, timeout=60)
            # By library (llvmpipe's shaders show as [JIT]) and by thread.
            with open(os.environ["BENCH_PERF"] + ".txt", "w") as f:
                for sort in ("dso", "comm", "dso,sym"):
                    f.flush()
                    subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children",
                                    "--sort", sort, "--percent-limit", "0.5", "-g", "none"],
                                   stdout=f, stderr=subprocess.DEVNULL, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as error:
            t.log("perf failed: %s" % error)
    if os.environ.get("BENCH_SCREENSHOT"):
        try:
            t.screenshot(os.environ["BENCH_SCREENSHOT"])
        except Exception as error:
            t.log("screenshot failed: %s" % error)

    with open(out_path, "w") as f:
        json.dump(result, f)
    t.press(root, "Leave")
    time.sleep(0.5)
    os.rmdir(no_pipewire)


if __name__ == "__main__":
    t.run(main)
