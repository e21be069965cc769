#!/usr/bin/env python3
# run-app.py: the app benchmark (issue 5). For 1, 4 and 9 peers it starts a
# confab-relay and the senders (640x360 VP9 at 30 fps, generated test video
# and tone: confab-bench-media send, or confab-cli with --senders cli), then
# measures in turn, against the same streams:
#   - the `confab` app in the call, under Xvfb with Mesa software GL
#     (bench/run-app-session.py, through tests/confabapptest.py);
#   - headless Chromium running bench/app-chromium/page.html, which receives
#     the same streams from the relay over WebSocket and decodes them with
#     WebCodecs into canvases (bench/app-chromium/run.js).
# CPU (% of one core) and memory (RSS and PSS, MB) of each process tree over
# the same window length; the ratio Confab/Chromium against the target 1/3.
# Exits 1 only on a clear regression against bench/baseline-app.json, 2 when
# it cannot run, 77 (skipped) without Xvfb, dbus-run-session or node.
# python3 standard library only.

import argparse
import datetime
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from benchlib import cleanup, fmt, free_port, loadavg, log, machine_busy_s, spawn, stop, wait_port  # noqa: F401

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TICK = os.sysconf("SC_CLK_TCK")
# Other processes using more than this share of a core during a window make
# its numbers unreliable (printed anyway, flagged NOISY).
NOISY_OTHER_PCT = 25
# "The grid holds the senders' frame rate" (30 fps), within what a 30 Hz
# screen grab can tell apart.
MIN_FPS = 27.0
SENDER_FPS = 30
MEMORY_SAMPLE_S = 2.0
# What meson (and automake) read as "skipped": a machine without the tools.
SKIP = 77

# ---- /proc (also used by run-app-session.py) ----------------------------------


def _stat(pid):
    with open("/proc/%d/stat" % pid) as f:
        head, tail = f.read().rsplit(")", 1)
    return head.split("(", 1)[1], tail.split()


def comm(pid):
    try:
        return _stat(pid)[0]
    except (OSError, IndexError):
        return None


def ppid(pid):
    try:
        return int(_stat(pid)[1][1])
    except (OSError, IndexError, ValueError):
        return None


def cpu_s(pid):
    """utime + stime of all threads of pid, in seconds; None once it is gone."""
    try:
        fields = _stat(pid)[1]
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError, ValueError):
        return None


def children(pid):
    """Direct children of pid."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and ppid(int(entry)) == pid:
            out.append(int(entry))
    return out


def tree(pid):
    """pid and all its descendants."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            p = ppid(int(entry))
            if p is not None:
                parents.setdefault(p, []).append(int(entry))
    out, todo = [], [pid]
    while todo and len(out) < 1000:
        p = todo.pop()
        out.append(p)
        todo += parents.get(p, [])
    return out


def tree_cpu(pid, exclude_root=False):
    """{pid: cpu seconds} over the tree (processes that exited are missing)."""
    pids = tree(pid)
    if exclude_root:
        pids = pids[1:]
    readings = {p: cpu_s(p) for p in pids}
    return {p: v for p, v in readings.items() if v is not None}


def cpu_percent(before, after, wall):
    """% of one core used by the tree between two tree_cpu() readings; a
    process born in between counts from 0 (its whole life was inside)."""
    used = sum(v - before.get(p, 0.0) for p, v in after.items())
    return 100.0 * used / wall


def process_type(pid):
    """Chromium's --type= (renderer, gpu-process, utility:network ...; the
    browser has none). Chromium rewrites its command line as one string."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            args = f.read().replace(b"\0", b" ").decode(errors="replace").split()
    except OSError:
        return "gone"
    kind = next((a[7:] for a in args if a.startswith("--type=")), "browser")
    sub = next((a.split(".")[-1] for a in args if a.startswith("--utility-sub-type=")), None)
    return kind + (":" + sub if sub else "")


def threads_cpu(pids):
    """{thread name: cpu seconds} summed over the threads of pids (Chromium
    names its threads: CrRendererMain, VizCompositorThread, Media, ...)."""
    out = {}
    for pid in pids:
        try:
            tids = os.listdir("/proc/%d/task" % pid)
        except OSError:
            continue
        for tid in tids:
            try:
                with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                    head, tail = f.read().rsplit(")", 1)
                fields = tail.split()
                name = head.split("(", 1)[1]
                out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / TICK
            except (OSError, IndexError, ValueError):
                pass
    return out


def threads_percent(before, after, wall, top=8):
    """The busiest thread names between two threads_cpu() readings, % of a core."""
    used = {k: 100.0 * (v - before.get(k, 0.0)) / wall for k, v in after.items()}
    return dict(sorted(used.items(), key=lambda kv: -kv[1])[:top])


def tree_memory(pid, with_children=True, exclude_root=False):
    """RSS and PSS (MB) summed over the tree. PSS shares pages between the
    processes that map them, so a multi-process browser is not counted twice."""
    pids = tree(pid) if with_children else [pid]
    if exclude_root:
        pids = pids[1:]
    rss = pss = 0
    for p in pids:
        try:
            with open("/proc/%d/smaps_rollup" % p) as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            pass
    return {"rss_mb": rss / 1024.0, "pss_mb": pss / 1024.0}


class MemorySampler:
    """tree_memory() every MEMORY_SAMPLE_S during a window, in a thread (the
    driver blocks on the page's console meanwhile): the memory figures are
    the mean of these samples and the reading at the window's end, so one
    moment of a garbage-collected heap does not decide them. max is printed."""

    def __init__(self, pid, exclude_root=False):
        import threading

        self.pid, self.exclude_root, self.samples = pid, exclude_root, []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.done.wait(MEMORY_SAMPLE_S):
            self.samples.append(tree_memory(self.pid, exclude_root=self.exclude_root))

    def finish(self):
        self.done.set()
        self.thread.join(10)
        self.samples.append(tree_memory(self.pid, exclude_root=self.exclude_root))
        n = len(self.samples)
        return {"rss_mb": sum(m["rss_mb"] for m in self.samples) / n,
                "pss_mb": sum(m["pss_mb"] for m in self.samples) / n,
                "pss_mb_max": max(m["pss_mb"] for m in self.samples),
                "pss_mb_end": self.samples[-1]["pss_mb"], "memory_samples": n}


# ---- driver --------------------------------------------------------------------


def read_until(p, want, timeout, lines):
    """Reads p's stdout (raw fd, select: bounded) until a line equals want."""
    deadline = time.monotonic() + timeout
    buf = b""
    while time.monotonic() < deadline:
        r, _, _ = select.select([p.stdout], [], [], 0.5)
        if r:
            chunk = os.read(p.stdout.fileno(), 65536)
            if not chunk:
                break
            buf += chunk
            *done, buf = buf.split(b"\n")
            for line in done:
                lines.append(line.decode(errors="replace"))
                if lines[-1].strip() == want:
                    if buf:
                        lines.append(buf.decode(errors="replace"))
                    return
        elif p.poll() is not None:
            break
    raise RuntimeError("no '%s' within %.0f s (last: %r)" % (want, timeout, lines[-3:]))


def measure_chromium(args, server, room, peers):
    env = dict(os.environ)
    if args.screenshots:
        env["BENCH_CHROMIUM_SCREENSHOT"] = os.path.join(os.path.abspath(args.screenshots),
                                                        "chromium-bench-%d.png" % peers)
    node = spawn(["node", os.path.join(HERE, "app-chromium", "run.js"), server, room, str(peers),
                  str(args.warmup), str(args.window)],
                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    lines = []
    try:
        read_until(node, "window-start", 90 + args.warmup, lines)
        # The browser is everything node started; node (the driver) is not.
        before = tree_cpu(node.pid, exclude_root=True)
        threads0 = threads_cpu(list(before))
        busy0, t0 = machine_busy_s(), time.monotonic()
        sampler = MemorySampler(node.pid, exclude_root=True)
        read_until(node, "window-end", args.window + 20, lines)
        after = tree_cpu(node.pid, exclude_root=True)
        threads1 = threads_cpu(list(after))
        busy1, wall = machine_busy_s(), time.monotonic() - t0
        mem = sampler.finish()
        by_type = {}
        for pid in after:
            by_type.setdefault(process_type(pid), []).append(pid)
        pss_by_type = {k: round(sum(tree_memory(p, with_children=False)["pss_mb"] for p in v), 1)
                       for k, v in by_type.items()}
        out, _ = node.communicate(timeout=30)
        text = "\n".join(lines) + "\n" + out.decode(errors="replace")
        report = None
        for line in reversed(text.strip().splitlines()):
            if line.startswith("{"):
                report = json.loads(line)
                break
        if report is None or not report.get("ok"):
            raise RuntimeError("chromium: %s" % (report or text[-300:]))
        fps = report.get("fps_per_peer") or []
        decoded = report.get("decoded_fps_per_peer") or []
        cpu = cpu_percent(before, after, wall)
        return {"cpu_percent": cpu, "processes": len(after),
                "other_cpu_percent": max(0.0, 100.0 * (busy1 - busy0) / wall - cpu),
                "loadavg": loadavg(),
                "window_s": wall,
                "fps_per_peer_min": min(fps) if fps else None,
                "fps_per_peer_avg": sum(fps) / len(fps) if fps else None,
                "decoded_fps_per_peer_min": min(decoded) if decoded else None,
                "decode_errors": report.get("decode_errors"),
                "threads_cpu_percent": threads_percent(threads0, threads1, wall),
                "pss_mb_by_process": pss_by_type, **mem}
    finally:
        stop(node, timeout=15)


def measure_app(args, port, room, peers, tmp):
    out_path = os.path.join(tmp, "app-%d.json" % peers)
    env = dict(os.environ, CONFAB_APP=args.app, CONFAB_RELAY=args.relay, CONFAB_CLI=args.cli,
               BENCH_PORT=str(port), BENCH_ROOM=room, BENCH_PEERS=str(peers),
               BENCH_WARMUP=str(args.warmup), BENCH_WINDOW=str(args.window), BENCH_OUT=out_path,
               GSETTINGS_BACKEND="memory", CONFAB_SCREENSHOT_DIR=tmp)
    if args.schema_dir:
        env["GSETTINGS_SCHEMA_DIR"] = args.schema_dir
    for item in args.app_env:
        key, _, value = item.partition("=")
        env[key] = value
    if args.perf:
        env["BENCH_PERF"] = os.path.join(os.path.abspath(args.perf), "app-%d.perf" % peers)
    if args.screenshots:
        env["BENCH_SCREENSHOT"] = os.path.join(os.path.abspath(args.screenshots),
                                               "app-bench-%d.png" % peers)
    # The system Python: pyatspi (python3-pyatspi) is a Debian package. A
    # session that fails before measuring (on this shared machine GTK once
    # could not open the fresh Xvfb display) is tried again (three tries).
    for attempt in range(3):
        run = subprocess.run([args.python, os.path.join(HERE, "run-app-session.py")], env=env,
                             capture_output=True, text=True, timeout=300)
        if os.path.exists(out_path):
            break
        log("  app session failed (exit %d)%s: %s" % (run.returncode,
                                                     ", trying again" if attempt < 2 else "",
                                                     (run.stdout + run.stderr)[-1500:]))
    else:
        raise RuntimeError("app session failed three times")
    with open(out_path) as f:
        result = json.load(f)
    if not result.get("ok"):
        raise RuntimeError("the app died during the window")
    return result


def point(args, peers, tmp):
    port = free_port()
    room = "appbench%d" % peers
    server = "ws://127.0.0.1:%d" % port
    relay = spawn([args.relay, "--listen", "127.0.0.1", "--ws-port", str(port), "--wt-port", "0"],
                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    senders = []
    try:
        wait_port(port)
        budget = str(300)  # seconds; stopped below as soon as both sides are measured
        if args.senders == "cli":
            for i in range(peers):
                senders.append(spawn([args.cli, "join", "%s/lobby/sender%d/%s" % (server, i, room),
                                      "--size", "640x360", "--fps", str(SENDER_FPS),
                                      "--codec", "vp9",
                                      "--transport", "websocket", "--duration", budget],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        else:
            senders.append(spawn([args.bench, "send", "--server", server, "--room", room,
                                  "--peers", str(peers), "--size", "640x360",
                                  "--fps", str(SENDER_FPS),
                                  "--duration", budget],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(2)
        result = {"peers": peers}
        if "app" in args.sides:
            log("  %d peers: confab app" % peers)
            result["app"] = measure_app(args, port, room, peers, tmp)
        if "chromium" in args.sides:
            log("  %d peers: chromium" % peers)
            result["chromium"] = measure_chromium(args, server, room, peers)
        return result
    finally:
        for s in senders:
            stop(s, signal.SIGINT)
        stop(relay)


def ms_per_picture(side, peers):
    """CPU milliseconds per picture shown: the app's from the tiles' frame rate
    on screen (average over tiles), Chromium's from the pictures drawn into its
    canvases (average over peers)."""
    fps = side.get("grid_fps_avg", side.get("fps_per_peer_avg"))
    if not fps:
        return None
    return 10.0 * side["cpu_percent"] / (fps * peers)


def verdict_line(pt, r, target):
    """One line per peer count: the issue's target, part by part, and whether
    the two sides did equal work (both at the senders' rate)."""
    a, c, n = pt.get("app"), pt.get("chromium"), pt["peers"]

    def at_most(value):
        return "met" if value is not None and value <= target else "MISSED"

    parts = []
    app_fps = (a or {}).get("grid_fps")
    chromium_fps = (c or {}).get("fps_per_peer_min")
    if r is not None:
        parts.append("CPU %s %s" % (fmt(r["cpu"], "%.2f"), at_most(r["cpu"])))
        parts.append("PSS %s %s" % (fmt(r["pss"], "%.2f"), at_most(r["pss"])))
    if a:
        parts.append("grid %s fps vs senders %d %s" %
                     (fmt(app_fps), SENDER_FPS, "met" if (app_fps or 0) >= MIN_FPS else "MISSED"))
    if c:
        below = (chromium_fps or 0) < MIN_FPS
        parts.append("chromium %s fps%s" % (fmt(chromium_fps),
                                            " (below the senders' rate)" if below else ""))
    if r is None:
        return "verdict %d peers: %s -> one side only" % (n, "; ".join(parts))
    parts.append("CPU per picture shown: confab %s ms, chromium %s ms, ratio %s" %
                 (fmt(a.get("cpu_ms_per_picture"), "%.2f"),
                  fmt(c.get("cpu_ms_per_picture"), "%.2f"), fmt(r.get("cpu_per_picture"), "%.2f")))
    equal = (chromium_fps or 0) >= MIN_FPS
    cpu = r["cpu"] if equal else r.get("cpu_per_picture")
    met = at_most(cpu) == "met" and at_most(r["pss"]) == "met" and (app_fps or 0) >= MIN_FPS
    overall = "TARGET %s" % ("MET" if met else "MISSED")
    if not equal:
        overall += " (Chromium below the senders' rate: CPU judged per picture)"
    if any(side and side.get("noisy") for side in (a, c)):
        overall += " [NOISY: other work during a window]"
    return "verdict %d peers: %s -> %s" % (n, "; ".join(parts), overall)


def listing(d, spec):
    """'name value, ...' for a {name: number} dict from a report."""
    return ", ".join(spec % kv for kv in (d or {}).items())


def noisy_note(side):
    if side.get("other_cpu_percent") is None:
        return ""
    return "  other %.0f %%%s" % (side["other_cpu_percent"], " NOISY" if side.get("noisy") else "")


def main():
    build = os.path.join(ROOT, "build")
    ap = argparse.ArgumentParser(description="Confab app against Chromium (issue 5)")
    ap.add_argument("--app", default=os.path.join(build, "app", "confab"))
    ap.add_argument("--relay", default=os.path.join(build, "server", "confab-relay"))
    ap.add_argument("--cli", default=os.path.join(build, "cli", "confab-cli"))
    ap.add_argument("--bench", default=os.path.join(build, "bench", "confab-bench-media"))
    ap.add_argument("--schema-dir", default=os.path.join(build, "data"))
    ap.add_argument("--baseline", default=os.path.join(HERE, "baseline-app.json"))
    ap.add_argument("--python", default="/usr/bin/python3",
                    help="a Python with pyatspi, for the app session")
    ap.add_argument("--peers", default="1,4,9")
    ap.add_argument("--sides", default="app,chromium")
    ap.add_argument("--senders", choices=("replay", "cli"), default="replay",
                    help="replay: one confab-bench-media send process (pre-encoded loop); "
                         "cli: one live-encoding confab-cli per peer")
    ap.add_argument("--window", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--screenshots",
                    help="save a screenshot of the app's grid and of the page per point here")
    ap.add_argument("--app-env", action="append", default=[], metavar="KEY=VALUE",
                    help="extra environment for the app (e.g. GSK_RENDERER=cairo), repeatable")
    ap.add_argument("--perf", help="profile the app (perf record, 5 s after the window) into DIR")
    ap.add_argument("--json")
    ap.add_argument("--update-baseline", action="store_true")
    args = ap.parse_args()
    need = [args.relay, args.bench] + ([args.cli] if args.senders == "cli" else [])
    if "app" in args.sides:
        need.append(args.app)
    for path in need:
        if not os.access(path, os.X_OK):
            log("run-app: %s is not built" % path)
            return 2
    if "chromium" in args.sides and (shutil.which("node") is None or not os.path.exists(
            os.path.join(ROOT, "tests", "wt-chromium", "node_modules", "playwright-core"))):
        log("run-app: needs node and tests/wt-chromium/node_modules (playwright-core): skipped")
        return SKIP
    if "app" in args.sides and (shutil.which("Xvfb") is None or
                                shutil.which("dbus-run-session") is None):
        log("run-app: needs Xvfb and dbus-run-session: skipped")
        return SKIP

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(2))
    report = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "loadavg_before": loadavg(), "senders": args.senders, "points": []}
    tmp = tempfile.mkdtemp(prefix="confab-app-bench-")
    try:
        for n in [int(x) for x in args.peers.split(",")]:
            report["points"].append(point(args, n, tmp))
    except (RuntimeError, subprocess.TimeoutExpired, OSError) as e:
        log("run-app: cannot run: %s" % e)
        return 2
    finally:
        cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    report["loadavg_after"] = loadavg()

    print()
    print("peers  side       CPU %core   RSS MB   PSS MB  procs  fps/peer  (X server: CPU %, RSS MB)")
    ratios = {}
    for pt in report["points"]:
        a, c = pt.get("app"), pt.get("chromium")
        for side in (a, c):
            if side and side.get("other_cpu_percent") is not None:
                side["noisy"] = side["other_cpu_percent"] > NOISY_OTHER_PCT
        if a:
            print("%5d  confab    %9.1f %8.1f %8.1f %6d  %8s  (%s, %s)%s" %
                  (pt["peers"], a["cpu_percent"], a["rss_mb"], a["pss_mb"], a["processes"],
                   fmt(a.get("grid_fps")), fmt(a.get("xvfb_cpu_percent")),
                   fmt(a.get("xvfb_rss_mb")),
                   "" if a.get("grab_hz") is None
                   else "  grid fps min/avg %.1f/%.1f (screen grabbed at %.0f Hz)" %
                   (a["grid_fps"], a["grid_fps_avg"], a["grab_hz"])) +
                  noisy_note(a))
            print("       confab busiest threads: %s; PSS max %s MB over %s samples" %
                  (listing(a.get("threads_cpu_percent"), "%s %.0f %%"),
                   fmt(a.get("pss_mb_max"), "%.0f"), a.get("memory_samples")))
        if c:
            # Chromium: frames its decoders handed to the canvases, per peer (minimum).
            print("%5d  chromium %9.1f %8.1f %8.1f %6d  %8s" %
                  (pt["peers"], c["cpu_percent"], c["rss_mb"], c["pss_mb"], c["processes"],
                   fmt(c["fps_per_peer_min"])) + noisy_note(c))
            print("       chromium decoded %s fps/peer (min); busiest threads: %s" %
                  (fmt(c.get("decoded_fps_per_peer_min")),
                   listing(c.get("threads_cpu_percent"), "%s %.0f %%")))
            print("       chromium PSS by process at the end: %s; PSS max %s MB over %s samples" %
                  (listing(c.get("pss_mb_by_process"), "%s %.0f MB"),
                   fmt(c.get("pss_mb_max"), "%.0f"), c.get("memory_samples")))
        if a and c:
            # Like for like: both showed the senders' frame rate on a quiet machine.
            pt["comparable"] = bool((a.get("grid_fps") or 0) >= MIN_FPS and
                                    (c.get("fps_per_peer_min") or 0) >= MIN_FPS and
                                    not a.get("noisy") and not c.get("noisy"))
            r = {"cpu": a["cpu_percent"] / c["cpu_percent"] if c["cpu_percent"] > 0 else None,
                 "pss": a["pss_mb"] / c["pss_mb"] if c["pss_mb"] > 0 else None,
                 "rss": a["rss_mb"] / c["rss_mb"] if c["rss_mb"] > 0 else None}
            app_ms, chromium_ms = ms_per_picture(a, pt["peers"]), ms_per_picture(c, pt["peers"])
            r["cpu_per_picture"] = app_ms / chromium_ms if app_ms and chromium_ms else None
            a["cpu_ms_per_picture"], c["cpu_ms_per_picture"] = app_ms, chromium_ms
            ratios[str(pt["peers"])] = r
            print("       confab/chromium: CPU %s, PSS %s, RSS %s" %
                  (fmt(r["cpu"], "%.2f"), fmt(r["pss"], "%.2f"), fmt(r["rss"], "%.2f")))
    report["ratios"] = ratios
    print("load average %s -> %s; senders: %s" % (report["loadavg_before"], report["loadavg_after"],
                                                 args.senders))

    try:
        with open(args.baseline) as f:
            baseline = json.load(f)
    except (OSError, ValueError):
        baseline = {}
    target = baseline.get("targets", {}).get("max_ratio", 1 / 3)
    for pt in report["points"]:
        print(verdict_line(pt, ratios.get(str(pt["peers"])), target))

    status = 0
    last = baseline.get("last", {}).get("ratios")
    worse = baseline.get("regression", {}).get("max_ratio", 2.0)
    comparable = {str(pt["peers"]) for pt in report["points"] if pt.get("comparable")}
    if last and not args.update_baseline:
        for n, r in ratios.items():
            if n not in comparable:
                print("regression check skipped for %s peers: a side missed the frame rate or"
                      " the window was NOISY" % n)
                continue
            for key in ("cpu", "pss"):
                old = last.get(n, {}).get(key)
                if old and r[key] is not None and r[key] > old * worse:
                    print("REGRESSION %s peers %s ratio %.2f against %.2f in the baseline" %
                          (n, key, r[key], old))
                    status = 1
        if status == 0:
            print("no regression against the baseline of %s" % baseline["last"].get("date"))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    if args.update_baseline:
        baseline.setdefault("targets", {"max_ratio": round(1 / 3, 4)})
        baseline.setdefault("regression", {"max_ratio": worse})
        baseline["last"] = {"date": report["date"], "loadavg": [report["loadavg_before"],
                                                              report["loadavg_after"]],
                            "senders": args.senders,
                            "ratios": {n: r for n, r in ratios.items() if n in comparable},
                            "all_ratios": ratios,
                            "points": report["points"]}
        with open(args.baseline, "w") as f:
            json.dump(baseline, f, indent=2)
            f.write("\n")
        print("baseline written to %s" % args.baseline)
    return status


if __name__ == "__main__":
    sys.exit(main())
