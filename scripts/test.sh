#!/usr/bin/env bash
# The full test suite, as CI runs it (.ci/run calls this script):
#   1. installs what a fresh Debian machine lacks (scripts/ensure-test-deps.sh),
#   2. checks formatting and lints (cargo fmt --check, cargo clippy -D warnings, also
#      for a build without the dev-tools feature),
#      and type-checks and builds the browser app (scripts/build-web.sh),
#   3. starts a Garage S3 server on loopback for the tests,
#   4. runs every test on SQLite, then again on PostgreSQL (127.0.0.1:5432): the Rust
#      tests, then the browser tests (web/e2e, Playwright driving Debian's Chromium
#      against the real `meet-recorder dev`), whose screenshots land in
#      target/e2e-artifacts/; then the tests against the real LiveKit server (the Rust
#      `real_livekit` tests), inside a private network namespace (scripts/netns.sh)
#      because WebRTC needs a non-loopback interface.
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="$HOME/.cargo/bin:/usr/local/go/bin:$PATH"
scripts/ensure-test-deps.sh
export MEETREC_TEST_PYTHON="${MEETREC_CACHE_DIR:-$HOME/.cache/meet-recorder}/venv/bin/python"
PG_ADMIN="${MEETREC_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
export MEETREC_TEST_POSTGRES_URL="$PG_ADMIN"

echo "== web app: type-check and build"
scripts/build-web.sh
(cd web && npm run --silent typecheck)
echo "== web app: the generated API types match the service's views"
cargo test --locked -p meet-recorder --lib export_bindings
git diff --exit-code -- web/src/generated
untracked="$(git ls-files --others --exclude-standard -- web/src/generated)"
[ -z "$untracked" ] || { echo "generated but not checked in: $untracked" >&2; exit 1; }
export MEETREC_TEST_REQUIRE_WEB=1

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== egress worker (Go): gofmt, go vet, build"
(
    cd tools/egress-worker
    unformatted="$(gofmt -l .)"
    [ -z "$unformatted" ] || { echo "gofmt: $unformatted" >&2; exit 1; }
    go vet ./...
    go build -o ../../target/egress-worker .
)
export MEETREC_TEST_EGRESS_WORKER="$PWD/target/egress-worker"
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
# A production build without the dev tooling (dev mode, the emulator, bench) compiles.
cargo clippy -p meet-recorder --locked --no-default-features -- -D warnings

# PostgreSQL: each test creates its own meetrec_test_* database and drops it when
# it ends; drop those a killed run left behind.
psql "$PG_ADMIN" -qtAc "select 1" >/dev/null || {
    echo "PostgreSQL does not answer at $PG_ADMIN" >&2
    exit 1
}
psql "$PG_ADMIN" -qtAc "select datname from pg_database where datname like 'meetrec_test_%'" |
    while read -r db; do [ -n "$db" ] && psql "$PG_ADMIN" -qc "drop database if exists $db with (force)"; done

work="$(mktemp -d)"
cleanup() { scripts/garage.sh stop "$work/garage"; rm -rf "$work"; }
trap cleanup EXIT
garage_env="$(scripts/garage.sh start "$work/garage")" || { echo "Garage did not start" >&2; exit 1; }
eval "$garage_env"
echo "== Garage S3 at $MEETREC_TEST_S3_ENDPOINT"

log="$work/cargo-test.log"
echo "== the emulator compared with the real LiveKit server (network namespace)"
cargo build --locked --bin meet-recorder
scripts/netns.sh "$MEETREC_TEST_PYTHON" crates/server/tests/conformance/compare_real_server.py \
    --server-bin "${MEETREC_CACHE_DIR:-$HOME/.cache/meet-recorder}/bin/livekit-server" \
    --emulator-bin "$PWD/target/debug/meet-recorder" || status_checks=1
echo "== the egress worker against the real LiveKit server (and Garage)"
"$MEETREC_TEST_PYTHON" tools/egress-worker/check.py --worker "$MEETREC_TEST_EGRESS_WORKER" || status_checks=1
export MEETREC_E2E_ARTIFACTS="$PWD/target/e2e-artifacts"
status=${status_checks:-0}
for database in sqlite postgres; do
    echo "== cargo test on $database"
    MEETREC_TEST_DATABASE="$database" cargo test --workspace --locked -- --skip real_livekit:: 2>&1 | tee -a "$log" || status=1
    echo "== tests against the real LiveKit server on $database (network namespace)"
    scripts/netns.sh env MEETREC_TEST_DATABASE="$database" \
        cargo test -p meet-recorder --test integration --locked real_livekit:: 2>&1 | tee -a "$log" || status=1
    echo "== browser tests on $database"
    MEETREC_TEST_DATABASE="$database" MEETREC_BIN="$PWD/target/debug/meet-recorder" \
        node --test \
        --test-reporter=spec --test-reporter-destination=stdout \
        --test-reporter=tap --test-reporter-destination="$work/e2e-$database.tap" \
        web/e2e/recording.test.mjs || status=1
    cat "$work/e2e-$database.tap" >>"$log"
    echo "== browser tests against the real LiveKit server on $database (network namespace)"
    scripts/netns.sh env MEETREC_TEST_DATABASE="$database" MEETREC_BIN="$PWD/target/debug/meet-recorder" \
        node --test \
        --test-reporter=spec --test-reporter-destination=stdout \
        --test-reporter=tap --test-reporter-destination="$work/e2e-real-$database.tap" \
        web/e2e/real-livekit.test.mjs || status=1
    cat "$work/e2e-real-$database.tap" >>"$log"
done

# One closing line over both runs: Rust tests ("test result:") and browser tests (TAP).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     /^# pass / { p += $3 } /^# fail / { f += $3 }
     END { printf "total: %d passed, %d failed\n", p, f }' "$log"
echo "browser screenshots: $MEETREC_E2E_ARTIFACTS"
exit "$status"
