#!/usr/bin/env bash
# The benchmark: the release build of `meet-recorder serve` under wrk, beside the LiveKit
# emulator as a fake LiveKit that counts its API calls, on SQLite and PostgreSQL. Prints
# a table per database (req/s, p50/p90/p99/max, server CPU per request, LiveKit calls per
# request, memory). Arguments go to scripts/bench/bench.py (--help lists them), e.g.
#   scripts/bench.sh --databases sqlite --seconds 5 --skip lifecycle
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:/usr/local/go/bin:$PATH"

scripts/ensure-test-deps.sh >/dev/null
if ! command -v wrk >/dev/null; then
    echo "== installing wrk (Debian package)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null ||
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
fi
echo "== building the release binary"
cargo build --release --locked --bin meet-recorder
# 10,000 room pages: as many sockets on each side.
ulimit -n "$(ulimit -Hn)"
python="${MEETREC_CACHE_DIR:-$HOME/.cache/meet-recorder}/venv/bin/python"
exec "$python" scripts/bench/bench.py --binary "$PWD/target/release/meet-recorder" "$@"
