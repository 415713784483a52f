#!/usr/bin/env bash
# The full test suite, as CI runs it (.ci/run calls this script):
#   1. installs what a fresh Debian machine lacks (scripts/ensure-test-deps.sh),
#   2. checks formatting and lints (cargo fmt --check, cargo clippy -D warnings),
#   3. starts a Garage S3 server on loopback for the tests,
#   4. runs every test on SQLite, then again on PostgreSQL (127.0.0.1:5432).
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="$HOME/.cargo/bin:$PATH"
scripts/ensure-test-deps.sh
export MEETREC_TEST_PYTHON="${MEETREC_CACHE_DIR:-$HOME/.cache/meet-recorder}/venv/bin/python"
PG_ADMIN="${MEETREC_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
export MEETREC_TEST_POSTGRES_URL="$PG_ADMIN"

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

# PostgreSQL: each test creates its own meetrec_test_* database; drop those of
# earlier runs.
psql "$PG_ADMIN" -qtAc "select 1" >/dev/null || {
    echo "PostgreSQL does not answer at $PG_ADMIN" >&2
    exit 1
}
psql "$PG_ADMIN" -qtAc "select datname from pg_database where datname like 'meetrec_test_%'" |
    while read -r db; do [ -n "$db" ] && psql "$PG_ADMIN" -qc "drop database if exists $db with (force)"; done

work="$(mktemp -d)"
cleanup() { scripts/garage.sh stop "$work/garage"; rm -rf "$work"; }
trap cleanup EXIT
eval "$(scripts/garage.sh start "$work/garage")"
echo "== Garage S3 at $MEETREC_TEST_S3_ENDPOINT"

log="$work/cargo-test.log"
for database in sqlite postgres; do
    echo "== cargo test on $database"
    MEETREC_TEST_DATABASE="$database" cargo test --workspace --locked 2>&1 | tee -a "$log"
done

# One closing line over both runs.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "total: %d passed, %d failed\n", p, f }' "$log"
