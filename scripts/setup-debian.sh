#!/bin/sh
# Installs everything Confab needs to build and test on Debian 12 / Ubuntu 22.04+.
# Idempotent; runs apt-get as root (through sudo when not root).
set -eu
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then
    SUDO="sudo"
fi

PACKAGES="
    build-essential meson ninja-build pkg-config git clang-format
    libglib2.0-dev protobuf-c-compiler libprotobuf-c-dev
    libwebsockets-dev libwebsockets-evlib-glib libwebsockets-evlib-uv libuv1-dev
    libnats-dev nats-server
    libvpx-dev libopus-dev libx264-dev
    libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev ffmpeg
    libjson-glib-dev libgnutls28-dev libssl-dev
    clang libclang-rt-14-dev valgrind
    libngtcp2-dev libngtcp2-crypto-gnutls-dev libnghttp3-dev chromium
    libpipewire-0.3-dev pipewire pipewire-bin wireplumber pipewire-pulse
    gstreamer1.0-pipewire gstreamer1.0-tools gstreamer1.0-plugins-base
    libwebrtc-audio-processing-dev sox
    libgtk-4-dev libadwaita-1-dev xvfb xauth dbus dbus-x11 at-spi2-core python3-pyatspi
    python3-gi gir1.2-atspi-2.0 imagemagick gettext desktop-file-utils appstream-util
    python3
"

# Node.js drives Chromium in the interop tests; Debian's is fine where the
# machine has none of its own.
if ! command -v npm >/dev/null 2>&1; then
    PACKAGES="$PACKAGES nodejs npm"
fi

missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done

if [ -n "$missing" ]; then
    echo "setup-debian: installing:$missing"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q -o DPkg::Lock::Timeout=600 $missing
else
    echo "setup-debian: all packages present"
fi

# playwright-core (pinned in tests/wt-chromium/package-lock.json) drives
# Debian's /usr/bin/chromium; it downloads no browser of its own. It needs
# Node.js 20 or newer (Debian 12's own nodejs is 18): say so plainly.
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
    echo "setup-debian: Node.js >= 20 is needed for the Chromium interop tests (found ${node_major});" >&2
    echo "setup-debian: install a newer nodejs, or those tests fail under CONFAB_REQUIRE_INTEROP=1" >&2
fi
if [ ! -d tests/wt-chromium/node_modules/playwright-core ]; then
    (cd tests/wt-chromium && npm ci --no-audit --no-fund)
fi
