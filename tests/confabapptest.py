# confabapptest.py: the harness every app test shares: its own Xvfb and D-Bus
# session, the app found on the AT-SPI bus, widgets found by role and
# accessible name and pressed through actions (never coordinates), bounded
# waits, screenshots, and every spawned process killed at the end, pass or fail.
# A test script calls run(main) at its bottom.

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pyatspi

RELAY = os.environ["CONFAB_RELAY"]
CLI = os.environ["CONFAB_CLI"]
APP = os.environ["CONFAB_APP"]
SHOTS = os.environ.get("CONFAB_SCREENSHOT_DIR", ".")

processes = []


def log(message):
    print("# " + message, flush=True)


def fail(message):
    raise AssertionError(message)


def spawn(args, **kwargs):
    process = subprocess.Popen(args, **kwargs)
    processes.append(process)
    return process


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    fail("timed out waiting for " + what)


def wait_port(port):
    def accepts():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    wait_for("relay port %d" % port, accepts, 10)


def screenshot(name):
    path = os.path.join(SHOTS, name)
    subprocess.run(["import", "-window", "root", path], check=True, timeout=20)
    log("screenshot " + path)


class Screen:
    """One screenshot as RGB bytes (ImageMagick's import, read as PPM), for
    checking what is drawn inside a widget's rectangle."""

    def __init__(self, data):
        # P6\n<w> <h>\n<max>\n<rgb...>: header fields split on whitespace.
        fields = []
        pos = 0
        while len(fields) < 4:
            while data[pos:pos + 1].isspace():
                pos += 1
            end = pos
            while not data[end:end + 1].isspace():
                end += 1
            fields.append(data[pos:end])
            pos = end
        if fields[0] != b"P6" or fields[3] != b"255":
            fail("unexpected screenshot format %r" % fields)
        self.width, self.height = int(fields[1]), int(fields[2])
        self.pixels = data[pos + 1:]

    def pixel(self, x, y):
        i = 3 * (y * self.width + x)
        return tuple(self.pixels[i:i + 3])

    def samples(self, rect, step=4):
        """Pixels on a grid every `step` pixels inside rect (x, y, w, h)."""
        x0, y0, w, h = rect
        for y in range(max(y0, 0), min(y0 + h, self.height), step):
            for x in range(max(x0, 0), min(x0 + w, self.width), step):
                yield self.pixel(x, y)


def grab_screen():
    data = subprocess.run(["import", "-window", "root", "-depth", "8", "ppm:-"], check=True, timeout=20,
                          stdout=subprocess.PIPE).stdout
    return Screen(data)


def changed_fraction(a, b, rect, threshold=24, step=4):
    """Share of sampled pixels in rect that differ between two screenshots."""
    changed = total = 0
    for pa, pb in zip(a.samples(rect, step), b.samples(rect, step)):
        total += 1
        if max(abs(pa[0] - pb[0]), abs(pa[1] - pb[1]), abs(pa[2] - pb[2])) > threshold:
            changed += 1
    return changed / total if total else 0.0


def colourful_fraction(screen, rect, step=4):
    """Share of sampled pixels in rect that are clearly coloured (not grey):
    video of a test pattern, not an avatar on a dark tile."""
    coloured = total = 0
    for r, g, b in screen.samples(rect, step):
        total += 1
        if max(r, g, b) - min(r, g, b) > 60:
            coloured += 1
    return coloured / total if total else 0.0


def extents(node, inset=0.1):
    """A widget's rectangle on the screen (x, y, w, h), shrunk by `inset` of
    its size on each side. GTK 4.8 reports positions relative to the window
    (which sits at the screen's origin under a bare Xvfb) and off by the
    window's few pixels of client-side decoration: the inset keeps the
    rectangle inside the widget anyway."""
    box = node.queryComponent().getExtents(pyatspi.WINDOW_COORDS)
    dx, dy = int(box.width * inset), int(box.height * inset)
    return (box.x + dx, box.y + dy, box.width - 2 * dx, box.height - 2 * dy)


def wait_accessibility_bus():
    """Starts the accessibility bus and registry before the app: GTK gives up
    on accessibility for good when they take long to come up (a loaded
    machine), and the app then never appears on the bus."""
    wait_for("the accessibility registry",
             lambda: pyatspi.Registry.getDesktop(0) is not None, 30)


def app_accessible(pid):
    desktop = pyatspi.Registry.getDesktop(0)
    for i in range(desktop.childCount):
        app = desktop.getChildAtIndex(i)
        try:
            if app is not None and app.get_process_id() == pid:
                return app
        except Exception:
            pass
    return None


def showing(node):
    # GTK 4.8 sets no "showing" state below the window and keeps a GtkStack's
    # hidden pages in the tree: callers scope searches to a page and check
    # sensitivity instead.
    return node.getState().contains(pyatspi.STATE_VISIBLE)


def sensitive(node):
    return node.getState().contains(pyatspi.STATE_SENSITIVE)


def find(root, name, roles=None, name_contains=False, breadth_first=False):
    """The first showing accessible below root with this name (and role).
    Every node visited costs D-Bus round trips to the app: breadth_first
    reaches shallow widgets (call controls, header bar) without walking the
    deep pages first."""

    def match(node):
        try:
            node_name = node.name or ""
            if name_contains:
                if name not in node_name:
                    return False
            elif node_name != name:
                return False
            if roles is not None and node.getRole() not in roles:
                return False
            return showing(node)
        except Exception:
            return False

    if breadth_first:
        # pyatspi's own "breadth first" still recurses into the first child's
        # whole subtree before the second child: a queue, level by level.
        import collections

        queue = collections.deque([root])
        visited = 0
        while queue and visited < 5000:
            node = queue.popleft()
            try:
                children = [node.getChildAtIndex(i) for i in range(node.childCount)]
            except Exception:
                continue
            for child in children:
                visited += 1
                if child is None:
                    continue
                if match(child):
                    return child
                queue.append(child)
        return None
    try:
        return pyatspi.findDescendant(root, match)
    except Exception:
        return None


# GTK 4.8 exposes a GtkToggleButton as a push button with the "pressed" state.
BUTTONS = (pyatspi.ROLE_PUSH_BUTTON, pyatspi.ROLE_TOGGLE_BUTTON)


def press(root, name):
    button = wait_for("button " + name,
                      lambda: (lambda b: b if b is not None and sensitive(b) else None)(
                          find(root, name, BUTTONS)))
    button.queryAction().doAction(0)
    return button


def page(root, title):
    """A page of the window, found by its (status page) title."""
    return wait_for("the page " + title,
                    lambda: find(root, title, (pyatspi.ROLE_PANEL, pyatspi.ROLE_FILLER)))


def checked(node):
    states = node.getState()
    return states.contains(pyatspi.STATE_CHECKED) or states.contains(pyatspi.STATE_PRESSED)


# Xvfb's keycodes (XTest, through the registry)
KEY_CONTROL, KEY_D, KEY_COMMA, KEY_ESCAPE, KEY_DOWN, KEY_UP, KEY_ENTER = 37, 40, 59, 9, 116, 111, 36


def key(code, control=False):
    """One key typed into the focused window, with Control held if asked."""
    registry = pyatspi.Registry
    if control:
        registry.generateKeyboardEvent(KEY_CONTROL, None, pyatspi.KEY_PRESS)
    registry.generateKeyboardEvent(code, None, pyatspi.KEY_PRESS)
    registry.generateKeyboardEvent(code, None, pyatspi.KEY_RELEASE)
    if control:
        registry.generateKeyboardEvent(KEY_CONTROL, None, pyatspi.KEY_RELEASE)


def ctrl_d():
    key(KEY_D, control=True)


def bfind(root, name, roles=None, name_contains=False):
    """find(), breadth first: the controls, toasts, popovers and dialogs sit
    near the top of a tree whose hidden pages are deep."""
    return find(root, name, roles, name_contains, breadth_first=True)


def press_menu_button(root, name):
    """GTK 4.8 shows a GtkMenuButton as a button without actions holding the
    toggle button that has them."""
    outer = wait_for("the %s menu button" % name, lambda: bfind(root, name, BUTTONS), 30)
    for i in range(outer.childCount):
        inner = outer.getChildAtIndex(i)
        if inner is not None and inner.getRole() in BUTTONS:
            inner.queryAction().doAction(0)
            return outer
    outer.queryAction().doAction(0)
    return outer


def dump(node, depth=0, out=None):
    """The accessibility tree, printed when a step fails."""
    try:
        states = [pyatspi.stateToString(s) for s in node.getState().getStates()]
        print("# %s%s %r %s" % ("  " * depth, node.getRoleName(), node.name, states))
        for i in range(node.childCount):
            dump(node.getChildAtIndex(i), depth + 1)
    except Exception as error:
        print("# %s(gone: %s)" % ("  " * depth, error))


root_for_dump = None


def wait_display():
    """xvfb-run can hand over before the X socket accepts; GTK would then
    fail to open the display."""
    display = os.environ.get("DISPLAY", "")
    if not display.startswith(":"):
        fail("no X display (run under xvfb-run)")
    path = "/tmp/.X11-unix/X" + display[1:].split(".")[0]

    def accepts():
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(path)
                return True
        except OSError:
            return False

    wait_for("the X server at " + display, accepts, 10)


def start_xvfb():
    """An Xvfb on a random high display number that has neither a socket nor
    a lock file. Letting Xvfb pick (-displayfd alone) starts at :0 and trusts
    the lock files, which went missing on this shared machine. -displayfd
    still says when the server accepts clients."""
    import random

    for _ in range(20):
        n = random.randint(100, 30000)
        if os.path.exists("/tmp/.X11-unix/X%d" % n) or os.path.exists("/tmp/.X%d-lock" % n):
            continue
        read_fd, write_fd = os.pipe()
        # -noreset: by default the server resets when its last client goes
        # (wait_display's probe, pyatspi's connection), and a client that
        # connects during the reset gets "cannot open display".
        xvfb = subprocess.Popen(["Xvfb", ":%d" % n, "-displayfd", str(write_fd), "-screen", "0",
                                 "1280x720x24", "-nolisten", "tcp", "-noreset"], pass_fds=(write_fd,),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(write_fd)
        with os.fdopen(read_fd, "rb") as pipe:
            number = pipe.readline().strip()  # EOF (b"") if Xvfb fails to start
        if number:
            return xvfb, number
        xvfb.kill()
        xvfb.wait()
    return None, None


def run_in_session(script):
    """Re-runs the test script under its own X server and D-Bus session. Xvfb
    picks a free display itself (-displayfd) and reports it once it accepts
    connections, so concurrent test runs never race for a display number (as
    xvfb-run -a does) and no Xauthority file is involved."""
    xvfb, number = start_xvfb()
    if xvfb is None:
        print("FAIL: Xvfb did not start", flush=True)
        sys.exit(1)
    env = dict(os.environ, CONFAB_APP_TEST_INNER="1", DISPLAY=":" + number.decode())
    env["PYTHONPATH"] = os.path.dirname(os.path.abspath(__file__))
    env.pop("XAUTHORITY", None)
    env.pop("WAYLAND_DISPLAY", None)
    try:
        status = subprocess.run(["dbus-run-session", "--", sys.executable, os.path.abspath(script)],
                                env=env, timeout=380).returncode
    except subprocess.TimeoutExpired:
        print("FAIL: the app test ran past 380 s", flush=True)
        status = 1
    finally:
        xvfb.terminate()
        try:
            xvfb.wait(5)
        except subprocess.TimeoutExpired:
            xvfb.kill()
    sys.exit(status)


def run(main):
    """Runs main() inside a private Xvfb + D-Bus session, then cleans up."""
    if os.environ.get("CONFAB_APP_TEST_INNER") != "1":
        run_in_session(sys.argv[0])
    status = 0
    try:
        main()
    except Exception as error:  # report, then clean up
        print("FAIL: %s" % error, flush=True)
        if root_for_dump is not None:
            dump(root_for_dump)
        status = 1
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
    sys.exit(status)


# ---- typing and window size (helper H, test-app.py) ---------------------------

def type_text(text):
    """Types text into the focused widget (XTest, through the registry)."""
    pyatspi.Registry.generateKeyboardEvent(0, text, pyatspi.KEY_STRING)


def press_enter():
    key(KEY_ENTER)


def resize_window(title_part, width, height):
    """Resizes the top-level X window whose title contains title_part. A bare
    Xvfb has no window manager, so the size asked for is the size it gets,
    whatever the app's minimum: a layout that cannot shrink shows clipped."""
    import ctypes

    def resize(x11, display, window):
        x11.XResizeWindow.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_uint, ctypes.c_uint]
        x11.XResizeWindow(display, window, width, height)

    with_x_window(title_part, resize)


def set_window_mapped(title_part, mapped):
    """Unmaps the top-level X window whose title contains title_part, as a
    window manager does when it minimizes it (a bare Xvfb has none), or maps
    it again."""
    import ctypes

    def change(x11, display, window):
        function = x11.XMapWindow if mapped else x11.XUnmapWindow
        function.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
        function(display, window)

    with_x_window(title_part, change)


def with_x_window(title_part, action):
    """Calls action(libX11, display, window id) for the biggest top-level X
    window whose title contains title_part, then syncs."""
    import ctypes

    out = subprocess.run(["xwininfo", "-root", "-children"], capture_output=True, text=True,
                         timeout=10, check=True).stdout
    # Lines read: 0x1e00007 "title": ("confab" "Confab")  960x640+0+0  +0+0.
    # GTK also keeps small helper windows; the biggest one is the window.
    candidates = []
    for line in out.splitlines():
        parts = line.split('"')
        if len(parts) < 3 or title_part not in parts[1]:
            continue
        size = re.search(r"(\d+)x(\d+)[+-]", line)
        area = int(size.group(1)) * int(size.group(2)) if size else 0
        candidates.append((area, line.split()[0]))
    if not candidates:
        fail("no X window titled like %r:\n%s" % (title_part, out))
    window = int(max(candidates)[1], 16)
    x11 = ctypes.cdll.LoadLibrary("libX11.so.6")
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    display = x11.XOpenDisplay(None)
    if not display:
        fail("cannot open the X display")
    try:
        action(x11, display, window)
        x11.XSync(display, 0)
    finally:
        x11.XCloseDisplay(display)


# ---- PipeWire test devices (pipewire-env.sh; test-app-video.py, test-app-devices.py) ----

def set_default_device(description, section="Sources:"):
    """Makes the device with this description the default microphone
    (section "Sources:") or speaker ("Sinks:"): wireplumber leaves none
    chosen in pipewire-env.sh, a user's desktop would have one."""
    status = subprocess.run(["wpctl", "status"], capture_output=True, text=True,
                            timeout=10).stdout
    in_section = False
    for line in status.splitlines():
        if section in line:
            in_section = True
        elif in_section and description in line:
            node = line.replace("*", " ").split(".")[0].split()[-1]
            subprocess.run(["wpctl", "set-default", node], check=True, timeout=10)
            return
        elif in_section and line.strip(" │├└─") == "":
            break
    fail("no device %r in wpctl status:\n%s" % (description, status))


def record_sink(sink, seconds):
    """What the Audio/Sink node named sink plays, from its monitor, for
    seconds: 48 kHz mono S16 samples."""
    import array
    import signal
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "heard.wav")
        rec = spawn(["pw-record", "--target", sink, "-P", "{ stream.capture.sink=true }",
                     "--rate", "48000", "--channels", "1", "--format", "s16", path],
                    stderr=subprocess.DEVNULL)
        time.sleep(seconds)
        rec.send_signal(signal.SIGINT)
        try:
            rec.wait(5)
        except subprocess.TimeoutExpired:
            rec.kill()
            fail("pw-record did not stop")
        with open(path, "rb") as f:
            data = f.read()
    # The samples follow the "data" chunk's header (its size may be unset).
    start = data.find(b"data")
    if start < 0:
        fail("pw-record wrote no WAV data")
    samples = array.array("h")
    body = data[start + 8:]
    samples.frombytes(body[:len(body) // 2 * 2])
    if sys.byteorder != "little":
        samples.byteswap()
    return samples


def tone_of(block):
    """(RMS, frequency from the zero crossings, interpolated) of a block."""
    import math

    rms = math.sqrt(sum(x * x for x in block) / len(block))
    crossings = [i + block[i] / (block[i] - block[i + 1])
                 for i in range(len(block) - 1) if block[i] < 0 <= block[i + 1]]
    if len(crossings) < 2:
        return rms, 0.0
    return rms, 48000.0 * (len(crossings) - 1) / (crossings[-1] - crossings[0])


def tone_blocks(samples, block=4800):
    """tone_of() for each 100 ms of samples."""
    return [tone_of(samples[i:i + block]) for i in range(0, len(samples) - block + 1, block)]


def live_pixels(what, rect, min_changed=0.02, min_coloured=0.2, timeout=15,
                failed_shot="app-failed.png"):
    """Waits until rect shows coloured video that changes between two
    screenshots half a second apart; returns the fractions seen."""
    deadline = time.monotonic() + timeout
    seen = (0.0, 0.0)
    while time.monotonic() < deadline:
        first = grab_screen()
        time.sleep(0.5)
        second = grab_screen()
        seen = (changed_fraction(first, second, rect), colourful_fraction(second, rect))
        if seen[0] >= min_changed and seen[1] >= min_coloured:
            log("%s: %.0f %% of pixels changed in 0.5 s, %.0f %% coloured" %
                (what, 100 * seen[0], 100 * seen[1]))
            return seen
    screenshot(failed_shot)
    fail("%s shows no live video in %s: changed %.3f, coloured %.3f" % (what, rect, *seen))


def cli_summary(cli, timeout=15):
    """Ends a CLI (SIGINT: it leaves politely) and reads its JSON summary."""
    cli.send_signal(signal.SIGINT)
    try:
        out, _ = cli.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        fail("confab-cli did not finish")
    return json.loads(out.strip().splitlines()[-1])
