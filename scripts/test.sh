#!/usr/bin/env bash
# The full test suite, as CI runs it (.ci/run calls this script):
#   1. installs what a fresh Debian machine lacks (scripts/ensure-test-deps.sh),
#   2. checks formatting and lints (cargo fmt --check, cargo clippy -D warnings),
#   3. starts a Garage S3 server on loopback for the tests,
#   4. runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="$HOME/.cargo/bin:$PATH"
scripts/ensure-test-deps.sh
export MEETREC_TEST_PYTHON="${MEETREC_CACHE_DIR:-$HOME/.cache/meet-recorder}/venv/bin/python"

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

work="$(mktemp -d)"
cleanup() { scripts/garage.sh stop "$work/garage"; rm -rf "$work"; }
trap cleanup EXIT
eval "$(scripts/garage.sh start "$work/garage")"
echo "== Garage S3 at $MEETREC_TEST_S3_ENDPOINT"

echo "== cargo test"
cargo test --workspace --locked
