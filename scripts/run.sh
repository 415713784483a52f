#!/usr/bin/env bash
# Starts meet-recorder on its embedded defaults on a fresh Debian machine:
# the service on http://127.0.0.1:8000 with the LiveKit emulator in-process on
# 127.0.0.1:7880, the browser app (built here, embedded in the binary), SQLite in ./data,
# recordings in ./data/egress, and a demo account printed at start. Settings from the
# environment still apply.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
if ! command -v ffmpeg >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg
fi
scripts/build-web.sh
exec cargo run --release --locked -- dev "$@"
