#!/usr/bin/env bash
# Installs what the test suite needs and a fresh Debian machine lacks, skipping whatever
# is already there: ffmpeg/ffprobe, a Python venv with LiveKit's official SDK (the
# protocol oracle) and aiosmtpd, the Garage S3 server, and Debian's Chromium for the
# browser tests (the app's npm packages come with scripts/build-web.sh).
# Prints nothing but progress on stderr; safe to run repeatedly.
set -euo pipefail

CACHE_DIR="${MEETREC_CACHE_DIR:-$HOME/.cache/meet-recorder}"
VENV="$CACHE_DIR/venv"
GARAGE_VERSION="2.5.0"

log() { echo "[deps] $*" >&2; }

apt_updated=0
apt_install() {
    if [ "$apt_updated" = 0 ]; then
        log "apt-get update"
        apt-get update -qq >&2
        apt_updated=1
    fi
    log "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

if ! command -v ffmpeg >/dev/null || ! command -v ffprobe >/dev/null; then
    apt_install ffmpeg
fi
if [ ! -x /usr/bin/chromium ]; then
    apt_install chromium
fi
if [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; then
    apt_install fonts-dejavu-core
fi

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import livekit.api, aiosmtpd' 2>/dev/null; then
    log "creating Python venv in $VENV"
    mkdir -p "$CACHE_DIR"
    python3 -m venv "$VENV" >&2 || { apt_install python3-venv; python3 -m venv "$VENV" >&2; }
    "$VENV/bin/pip" install --quiet --disable-pip-version-check 'livekit-api>=1.0,<2' 'aiosmtpd>=1.4,<2' >&2
fi

if ! command -v garage >/dev/null && [ ! -x "$HOME/.cargo/bin/garage" ]; then
    log "cargo install garage $GARAGE_VERSION (about 10-15 minutes on 2 cores)"
    cargo install garage --version "$GARAGE_VERSION" --locked --quiet >&2
fi
