# benchlib.py: what every benchmark driver in bench/ needs around the programs
# it measures: free loopback ports, waiting for a relay to accept, child
# processes that are always stopped, and the machine's own load (so a run can
# say when other work made its numbers noisy).

import os
import signal
import socket
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")

# Every process spawn() started, stopped by cleanup() in reverse order.
children = []


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("relay did not accept on port %d" % port)


def spawn(args, **kwargs):
    p = subprocess.Popen(args, **kwargs)
    children.append(p)
    return p


def stop(p, sig=signal.SIGTERM, timeout=10.0):
    if p.poll() is None:
        p.send_signal(sig)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def cleanup():
    for p in reversed(children):
        stop(p, timeout=3)


def machine_busy_s():
    """Busy CPU seconds of the whole machine (all cores) since boot:
    user nice system irq softirq steal, not idle or iowait."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return (sum(v) - v[3] - v[4]) / TICK


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def fmt(v, spec="%.1f"):
    return "-" if v is None else spec % v
