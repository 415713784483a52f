#!/usr/bin/env bash
# Starts meet-recorder on its embedded defaults on a fresh Debian machine.
# For now: the LiveKit emulator alone (the service itself comes next), on
# 127.0.0.1:7880 with the key pair devkey:secret and files in ./data/egress.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
if ! command -v ffmpeg >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg
fi
exec cargo run --release --locked -- livekit-emulator "$@"
