#!/usr/bin/env python3
# run-media.py: drives the media benchmark (issue 4) on loopback, every part
# real: a confab-relay, a confab-cli sending 1280x720 VP9 at 30 fps with
# generated video and tone audio, and confab-bench-media as the receiving
# client (decodes video, pulls audio jitter buffers on a 20 ms playout clock)
# that measures capture -> decoded picture and capture -> playout. Then one
# receiver and 8 peers at 640x360 (replayed by confab-bench-media send), and
# in the same run the codec work alone (confab-bench-media codec), and the
# codec CPU that the clients' own codecs counted inside their calls. Prints a
# table, checks the targets, and compares with bench/baseline-media.json.
# Exits 1 only on a clear regression against the baseline, 2 when it cannot
# run. python3 standard library only.

import argparse
import datetime
import json
import os
import platform
import select
import signal
import socket
import subprocess
import sys
import time

from benchlib import cleanup, fmt, free_port, loadavg, log, machine_busy_s, spawn, stop, wait_port  # noqa: F401

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TICK = os.sysconf("SC_CLK_TCK")
# Other processes using more than this share of a core during a window make
# its numbers unreliable (they are still printed, flagged NOISY).
NOISY_OTHER_PCT = 25

def proc_cpu_s(pid):
    """utime + stime of every thread of pid, in seconds."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError, ValueError):
        return None


def last_json(text):
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    return None


class LineReader:
    """Lines of a child's stdout, read from the raw fd with select() so a
    wait is bounded in time and no line hides in a Python buffer."""

    def __init__(self, p):
        self.p, self.buf, self.lines = p, b"", []

    def until(self, want, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            while self.lines:
                line = self.lines.pop(0)
                if line.strip() == want:
                    return
            r, _, _ = select.select([self.p.stdout], [], [], 0.5)
            if r:
                chunk = os.read(self.p.stdout.fileno(), 65536)
                if not chunk:
                    break
                self.buf += chunk
                *done, self.buf = self.buf.split(b"\n")
                self.lines += [x.decode(errors="replace") for x in done]
                self.seen = done[-3:] if done else getattr(self, "seen", [])
            elif self.p.poll() is not None:
                break
        raise RuntimeError("no '%s' from the probe within %.0f s" % (want, timeout))

    def rest(self, timeout):
        """Everything after, once the child exits (bounded)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.p.stdout], [], [], 0.5)
            if r:
                chunk = os.read(self.p.stdout.fileno(), 65536)
                if not chunk:
                    break
                self.buf += chunk
        self.p.wait(max(0.1, deadline - time.monotonic()))
        return "\n".join(self.lines) + "\n" + self.buf.decode(errors="replace")


def scenario(args, name, senders_cmd, expect_peers, room):
    """One call: relay, probe, senders; CPU of each process over the probe's
    measured window, read from /proc at its window-start and window-end lines."""
    port = free_port()
    relay = spawn([args.relay, "--listen", "127.0.0.1", "--ws-port", str(port), "--wt-port", "0"],
                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        server = "ws://127.0.0.1:%d" % port
        probe = spawn([args.bench, "probe", "--server", server, "--room", room,
                       "--expect-peers", str(expect_peers), "--warmup", str(args.warmup),
                       "--window", str(args.window)],
                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        reader = LineReader(probe)
        senders = spawn(senders_cmd(server, room), stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, text=True)
        pids = {"probe": probe.pid, "sender": senders.pid, "relay": relay.pid}
        reader.until("window-start", 40 + args.warmup)
        cpu0 = {k: proc_cpu_s(v) for k, v in pids.items()}
        busy0, t0 = machine_busy_s(), time.monotonic()
        load0 = loadavg()
        reader.until("window-end", args.window + 15)
        cpu1 = {k: proc_cpu_s(v) for k, v in pids.items()}
        busy1, t1 = machine_busy_s(), time.monotonic()
        load1 = loadavg()
        out = reader.rest(15)
        result = last_json(out)
        if result is None or not result.get("ok"):
            raise RuntimeError("%s: the probe failed: %s" % (name, out[-500:]))
        stop(senders, signal.SIGINT, timeout=15)
        sout, serr = senders.communicate()
        wall = t1 - t0
        cpu = {k: 100.0 * (cpu1[k] - cpu0[k]) / wall
               for k in pids if cpu0[k] is not None and cpu1[k] is not None}
        ours = sum(cpu1[k] - cpu0[k] for k in pids if cpu0[k] is not None and cpu1[k] is not None)
        other = max(0.0, 100.0 * ((busy1 - busy0) - ours) / wall)
        return {"probe": result, "cpu_percent": cpu, "other_cpu_percent": other,
                "sender_summary": last_json(sout), "window_s": wall,
                "loadavg_start": load0, "loadavg_end": load1}
    finally:
        stop(relay)


def codec(args, size, frames, paced_peers=0):
    """The codec work alone: a tight loop, or with paced_peers > 0 paced at
    30 fps with that many decoders, as the call runs them."""
    extra = ["--paced", "--peers", str(paced_peers)] if paced_peers else []
    out = subprocess.run([args.bench, "codec", "--size", size, "--fps", "30",
                          "--frames", str(frames)] + extra, capture_output=True, text=True,
                         timeout=120)
    result = last_json(out.stdout)
    if out.returncode != 0 or result is None or not result.get("ok"):
        raise RuntimeError("codec %s failed: %s" % (size, out.stderr[-500:]))
    return result


def main():
    ap = argparse.ArgumentParser(description="Confab media benchmark (issue 4)")
    build = os.path.join(ROOT, "build")
    ap.add_argument("--bench", default=os.path.join(build, "bench", "confab-bench-media"))
    ap.add_argument("--relay", default=os.path.join(build, "server", "confab-relay"))
    ap.add_argument("--cli", default=os.path.join(build, "cli", "confab-cli"))
    ap.add_argument("--baseline", default=os.path.join(HERE, "baseline-media.json"))
    ap.add_argument("--window", type=float, default=15.0, help="measured seconds per call")
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--peers", type=int, default=8, help="senders in the fan-in call")
    ap.add_argument("--codec-frames", type=int, default=300)
    ap.add_argument("--paced-frames", type=int, default=150,
                    help="frames of the paced codec runs (5 s each way at 30 fps)")
    ap.add_argument("--json", help="write every number to this file")
    ap.add_argument("--update-baseline", action="store_true")
    args = ap.parse_args()
    for path in (args.bench, args.relay, args.cli):
        if not os.access(path, os.X_OK):
            log("run-media: %s is not built (ninja -C build)" % path)
            return 2

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(2))
    started = datetime.datetime.now(datetime.timezone.utc)
    report = {"date": started.strftime("%Y-%m-%d %H:%M UTC"), "machine": "%d CPUs, %s" %
              (os.cpu_count(), platform.platform()), "loadavg_before": loadavg()}
    sender_secs = args.warmup + args.window + 30
    # The benchmark is of 720p30: a sender that steps its quality tier down
    # when the receiver reports poor reception (a loaded machine) would
    # measure something else. --no-adapt keeps the first tier.
    help_text = subprocess.run([args.cli, "--help"], capture_output=True, text=True,
                               timeout=10).stdout
    no_adapt = ["--no-adapt"] if "--no-adapt" in help_text else []
    try:
        log("1:1 call, 1280x720 VP9 30 fps: confab-cli -> relay -> probe")
        report["one_to_one"] = scenario(
            args, "1:1",
            lambda server, room: [args.cli, "join", "%s/lobby/sender/%s" % (server, room),
                                  "--size", "1280x720", "--fps", "30", "--transport", "websocket",
                                  "--duration", str(sender_secs)] + no_adapt,
            1, "media-1to1")
        log("fan-in: %d peers at 640x360 VP9 30 fps -> relay -> probe" % args.peers)
        report["fan_in"] = scenario(
            args, "fan-in",
            lambda server, room: [args.bench, "send", "--server", server, "--room", room,
                                  "--peers", str(args.peers), "--size", "640x360", "--fps", "30",
                                  "--duration", str(sender_secs)],
            args.peers, "media-fanin")
        log("codec work alone")
        report["codec_720p"] = codec(args, "1280x720", args.codec_frames)
        report["codec_360p"] = codec(args, "640x360", args.codec_frames)
        # Paced as in the call: a frame every 33 ms (per decoder), where
        # libvpx's CPU per frame is 1.3-1.8x its tight-loop figure here.
        report["codec_720p_paced"] = codec(args, "1280x720", args.paced_frames, 1)
        report["codec_360p_paced"] = codec(args, "640x360", args.paced_frames, args.peers)
    except (RuntimeError, subprocess.TimeoutExpired, OSError) as e:
        log("run-media: cannot run: %s" % e)
        return 2
    finally:
        cleanup()
    report["loadavg_after"] = loadavg()

    one, fan, c720, c360 = (report["one_to_one"], report["fan_in"], report["codec_720p"],
                            report["codec_360p"])
    p720, p360 = report["codec_720p_paced"], report["codec_360p_paced"]
    # Codec work per process, in % of one core: CPU per frame, paced as in the
    # call, times the frames the call really carried (a starved sender skips
    # frames; 30 fps would then overstate its codec work). Audio: 50 per s.
    fps_1 = one["probe"]["fps_per_peer"]
    fps_fan = fan["probe"]["fps_per_peer"]

    def codec_work(c7, c3):
        return (c7["encode_cpu_ms"] * fps_1 / 10 + c720["opus_encode_percent"],
                c7["decode_cpu_ms"] * fps_1 / 10 + c720["opus_decode_percent"],
                args.peers * (c3["decode_cpu_ms"] * fps_fan / 10 + c360["opus_decode_percent"]))
    enc_720, dec_720, dec_fan = codec_work(p720, p360)
    tight = codec_work(c720, c360)
    sender_cpu = one["cpu_percent"].get("sender")
    receiver_cpu = one["cpu_percent"].get("probe")
    fan_cpu = fan["cpu_percent"].get("probe")
    ratios = {
        "sender_720p": sender_cpu / enc_720 if sender_cpu and enc_720 > 0 else None,
        "receiver_720p": receiver_cpu / dec_720 if receiver_cpu and dec_720 > 0 else None,
        "receiver_fan_in": fan_cpu / dec_fan if fan_cpu and dec_fan > 0 else None,
    }
    report["codec_percent"] = {"sender_720p": enc_720, "receiver_720p": dec_720,
                               "receiver_fan_in": dec_fan}
    report["client_percent"] = {"sender_720p": sender_cpu, "receiver_720p": receiver_cpu,
                                "receiver_fan_in": fan_cpu}
    report["ratios"] = ratios
    # The codec work as the codecs counted it in the same processes and run
    # (confab-codec-cpu.h: CPU inside every encode/decode call, workers
    # included): whole / that is issue 4's "everything else adds < 30 %" read
    # directly. Receivers: the probe's own CPU and codec count over its window.
    # Sender: confab-cli's summary, over its whole call (join to SIGINT).

    def probe_insitu(sc):
        p = sc["probe"]
        codec_pct = sum((p.get("codec_cpu_percent") or {}).values())
        whole = p.get("cpu_percent")
        return whole, codec_pct, (whole / codec_pct if whole and codec_pct > 0 else None)

    summary = one.get("sender_summary") or {}
    sender_codec_ms = sum((summary.get("codec_cpu_ms") or {}).values())
    sender_cpu_ms, sender_pct = summary.get("cpu_ms"), summary.get("cpu_percent")
    sender_insitu = (sender_pct, sender_pct * sender_codec_ms / sender_cpu_ms
                     if sender_pct and sender_cpu_ms else 0.0,
                     sender_cpu_ms / sender_codec_ms if sender_cpu_ms and sender_codec_ms > 0
                     else None)
    insitu = {"sender_720p": sender_insitu, "receiver_720p": probe_insitu(one),
              "receiver_fan_in": probe_insitu(fan)}
    report["insitu"] = {k: {"whole_percent": w, "codec_percent": c, "ratio": r}
                        for k, (w, c, r) in insitu.items()}
    report["ratios_insitu"] = {k: v[2] for k, v in insitu.items()}
    # Per frame, the codecs' own count against the same codec alone (paced /
    # tight): were the client's other work to evict the codec's data, its
    # count would exceed the paced codec's.
    frames_sent = (summary.get("sent") or {}).get("video_frames") or 0
    p1, pf = one["probe"], fan["probe"]
    report["insitu_ms_per_frame"] = {
        "encode_720p": ((summary.get("codec_cpu_ms") or {}).get("video_encode", 0) / frames_sent
                        if frames_sent else None),
        "decode_720p": (p1["codec_cpu_percent"]["video_decode"] * 10 / p1["fps_per_peer"]
                        if p1.get("codec_cpu_percent") and p1["fps_per_peer"] > 0 else None),
        "decode_360p": (pf["codec_cpu_percent"]["video_decode"] * 10 / pf["fps_per_peer"]
                        / args.peers if pf.get("codec_cpu_percent") and pf["fps_per_peer"] > 0
                        else None),
    }
    # The same against the tight loop's codec CPU (what issue 4 first compared with).
    report["codec_percent_tight"] = dict(zip(("sender_720p", "receiver_720p", "receiver_fan_in"), tight))
    report["ratios_tight"] = {k: (report["client_percent"][k] / report["codec_percent_tight"][k]
                                  if report["client_percent"][k] else None) for k in ratios}

    tiers = ((one.get("sender_summary") or {}).get("video") or {}).get("tiers") or []
    if any(t.get("change") != "start" for t in tiers):
        print("NOTE: the sender changed its quality tier during the call: %s" %
              ", ".join("%s %dx%d@%d at %.1f s" % (t["change"], t["width"], t["height"], t["fps"],
                                                  t["t_ms"] / 1000) for t in tiers))
    v, a = one["probe"]["video_latency_ms"], one["probe"]["audio_latency_ms"]
    fv, fa = fan["probe"]["video_latency_ms"], fan["probe"]["audio_latency_ms"]
    print()
    print("Latency (loopback, through confab-relay)      p50      p90      p99      max   count")
    for label, s in (("glass-to-glass 720p30 VP9 (ms)", v), ("mouth-to-ear, jitter buffer out (ms)", a),
                     ("glass-to-glass, %d x 360p (ms)" % args.peers, fv),
                     ("mouth-to-ear, %d peers (ms)" % args.peers, fa)):
        print("%-40s %8.1f %8.1f %8.1f %8.1f %7d" % (label, s["p50"], s["p90"], s["p99"], s["max"],
                                                    s["count"]))
    print("  audio target delay (avg): 1:1 %.1f ms, fan-in %.1f ms; fps per peer: 1:1 %.1f, fan-in %.1f"
          % (one["probe"]["audio_target_delay_ms_avg"], fan["probe"]["audio_target_delay_ms_avg"],
             one["probe"]["fps_per_peer"], fan["probe"]["fps_per_peer"]))
    print()
    print("CPU (% of one core)              whole   codec in-situ   ratio |  codec paced   ratio"
          " |  tight loop   ratio")
    for label, key in (("sender, 720p30 (confab-cli) *", "sender_720p"),
                       ("receiver, 720p30 (probe)", "receiver_720p"),
                       ("receiver of %d x 360p30 (probe)" % args.peers, "receiver_fan_in")):
        w, c, r = insitu[key]
        print("%-31s %6s %15s %7s | %12.1f %7s | %11.1f %7s" % (
            label, fmt(report["client_percent"][key]), "%s of %s" % (fmt(c), fmt(w)),
            fmt(r, "%.2fx"), report["codec_percent"][key], fmt(ratios[key], "%.2fx"),
            report["codec_percent_tight"][key], fmt(report["ratios_tight"][key], "%.2fx")))
    print("  whole: each process's CPU over the probe's window (/proc). codec in-situ: what the"
          " codecs counted inside their calls, of that process's own CPU over the same span"
          " (* the sender: over its whole call, from its summary); ratio = own CPU / codec."
          " paced / tight loop: the same codec work run alone at 30 fps / back to back.")
    noisy = [k for k, sc in (("1:1", one), ("fan-in", fan)) if sc["other_cpu_percent"] > NOISY_OTHER_PCT]
    report["noisy"] = noisy
    if noisy:
        print("  NOISY (%s): other work used more than %d %% of a core during the window; the"
              " latencies and ratios then say more about the machine than about Confab" %
              (", ".join(noisy), NOISY_OTHER_PCT))
    print("  relay: %s %% (1:1), %s %% (fan-in); other work on the machine: %.0f %% / %.0f %% of a core;"
          " load average %s -> %s" % (fmt(one["cpu_percent"].get("relay")),
                                      fmt(fan["cpu_percent"].get("relay")),
                                      one["other_cpu_percent"], fan["other_cpu_percent"],
                                      report["loadavg_before"], report["loadavg_after"]))
    print("  codec alone: VP9 encode %.2f ms/frame at 720p, %.2f at 360p; decode %.2f / %.2f ms;"
          " Opus encode %.3f, decode %.3f ms per 20 ms" %
          (c720["encode_cpu_ms"], c360["encode_cpu_ms"], c720["decode_cpu_ms"], c360["decode_cpu_ms"],
           c720["opus_encode_cpu_ms"], c720["opus_decode_cpu_ms"]))
    print("  codec paced at 30 fps: VP9 encode %.2f ms/frame at 720p; decode %.2f ms at 720p,"
          " %.2f ms at 360p with %d decoders" % (p720["encode_cpu_ms"], p720["decode_cpu_ms"],
                                                 p360["decode_cpu_ms"], args.peers))
    m = report["insitu_ms_per_frame"]
    print("  codec in-situ (counted in the call): VP9 encode %s ms/frame at 720p; decode %s ms at"
          " 720p, %s ms at 360p" % (fmt(m["encode_720p"], "%.2f"), fmt(m["decode_720p"], "%.2f"),
                                    fmt(m["decode_360p"], "%.2f")))

    try:
        with open(args.baseline) as f:
            baseline = json.load(f)
    except (OSError, ValueError):
        baseline = {}
    targets = baseline.get("targets", {"video_p50_ms": 60, "video_p99_ms": 120, "audio_p50_ms": 60,
                                       "max_client_codec_ratio": 1.3})
    checks = [("glass-to-glass p50", v["p50"], targets["video_p50_ms"], "ms"),
              ("glass-to-glass p99", v["p99"], targets["video_p99_ms"], "ms"),
              ("mouth-to-ear p50 (without device buffers)", a["p50"], targets["audio_p50_ms"], "ms")]
    for key, r in report["ratios_insitu"].items():
        checks.append(("client/codec in-situ " + key, r, targets["max_client_codec_ratio"], "x"))
    for key, r in ratios.items():
        checks.append(("client/codec paced " + key, r, targets["max_client_codec_ratio"], "x"))
    print()
    for label, value, target, unit in checks:
        verdict = "met" if value is not None and value <= target else "MISSED"
        print("target %-45s %8s <= %s %s: %s" % (label, fmt(value, "%.2f"), target, unit, verdict))
    report["targets_met"] = all(c[1] is not None and c[1] <= c[2] for c in checks)

    # A clear regression: much worse than the stored run on the same kind of machine.
    status = 0
    last = baseline.get("last")
    slack = baseline.get("regression", {"max_ratio": 2.0, "latency_slack_ms": 20})
    if noisy and not args.update_baseline:
        print("regression check skipped: the run was NOISY (numbers compare only on a quiet machine)")
    elif last and not args.update_baseline:
        now = {"video_p50_ms": v["p50"], "video_p99_ms": v["p99"], "audio_p50_ms": a["p50"]}
        now.update({"ratio_" + k: r for k, r in ratios.items()})
        now.update({"ratio_insitu_" + k: r for k, r in report["ratios_insitu"].items()})
        for key, value in now.items():
            old = last.get(key)
            if old is None or value is None:
                continue
            limit = old * slack["max_ratio"]
            if key.endswith("_ms"):
                limit = max(limit, old + slack["latency_slack_ms"])
            if value > limit:
                print("REGRESSION %s: %.2f against %.2f in the baseline (limit %.2f)" %
                      (key, value, old, limit))
                status = 1
        if status == 0:
            print("no regression against the baseline of %s" % last.get("date"))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    if args.update_baseline:
        baseline.setdefault("targets", targets)
        baseline.setdefault("regression", slack)
        baseline["last"] = {
            "date": report["date"], "machine": report["machine"],
            "loadavg": [report["loadavg_before"], report["loadavg_after"]],
            "video_p50_ms": v["p50"], "video_p99_ms": v["p99"], "audio_p50_ms": a["p50"],
            "audio_p99_ms": a["p99"], "fan_in_video_p50_ms": fv["p50"],
            "fan_in_video_p99_ms": fv["p99"],
            "client_percent": report["client_percent"], "codec_percent": report["codec_percent"],
        }
        baseline["last"].update({"ratio_" + k: r for k, r in ratios.items()})
        baseline["last"].update({"ratio_insitu_" + k: r
                                 for k, r in report["ratios_insitu"].items()})
        with open(args.baseline, "w") as f:
            json.dump(baseline, f, indent=2)
            f.write("\n")
        print("baseline written to %s" % args.baseline)
    return status


if __name__ == "__main__":
    sys.exit(main())
