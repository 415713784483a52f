#!/usr/bin/env bash
# Starts a single-node MinIO on loopback whose bucket notifications (object created under
# recordings/) go to a webhook, configured as an operator would: the webhook target
# through MinIO's environment, the bucket's notification with `mc event add`. Prints the
# environment variables that point a test at it:
#   eval "$(scripts/minio.sh start DIR WEBHOOK_URL TOKEN)"   ...   scripts/minio.sh stop DIR
# Bind the webhook's endpoint before the start. This MinIO starts, and accepts
# `mc event add`, with the endpoint down, but it sends each event once and drops it when
# the endpoint cannot be reached or does not answer 2xx, unless MINIO_QUEUE_DIR=1 is set:
# the target then gets a queue directory (DIR/queue) and re-sends each event every 3 s,
# in order, until the endpoint answers 2xx.
# MEETREC_TEST_MINIO and MEETREC_TEST_MC override the binaries
# (default ~/.cache/meet-recorder/bin/{minio,mc}, installed by scripts/ensure-test-deps.sh).
set -euo pipefail

usage() { echo "usage: minio.sh start DIR WEBHOOK_URL TOKEN | stop DIR" >&2; exit 2; }
command="${1:-}"
dir="${2:-}"
[ -n "$command" ] && [ -n "$dir" ] || usage
CACHE_DIR="${MEETREC_CACHE_DIR:-$HOME/.cache/meet-recorder}"
MINIO="${MEETREC_TEST_MINIO:-$CACHE_DIR/bin/minio}"
MC="${MEETREC_TEST_MC:-$CACHE_DIR/bin/mc}"
BUCKET="meet-recorder-test"
REGION="us-east-1"
TARGET_ID="meet"   # the ARN is arn:minio:sqs::meet:webhook
PREFIX="recordings/"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

case "$command" in
stop)
    if [ -f "$dir/minio.pid" ]; then
        pid="$(cat "$dir/minio.pid")"
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
        rm -f "$dir/minio.pid"
    fi
    exit 0
    ;;
start) ;;
*) usage ;;
esac
webhook_url="${3:-}"
token="${4:-}"
[ -n "$webhook_url" ] && [ -n "$token" ] || usage
[ -x "$MINIO" ] || { echo "no MinIO at $MINIO: run scripts/ensure-test-deps.sh" >&2; exit 1; }
[ -x "$MC" ] || { echo "no mc at $MC: run scripts/ensure-test-deps.sh" >&2; exit 1; }

mkdir -p "$dir/data" "$dir/mc"
s3_port=$(free_port); console_port=$(free_port)
root_user="meetrec-admin"
root_password="$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
access_key="meetrec-$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
secret_key="$(head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n')"

queue=()
if [ "${MINIO_QUEUE_DIR:-0}" = 1 ]; then
    mkdir -p "$dir/queue"
    queue=("MINIO_NOTIFY_WEBHOOK_QUEUE_DIR_$TARGET_ID=$dir/queue")
fi
# Loopback only, no console, no update checks, no telemetry.
env MINIO_ROOT_USER="$root_user" MINIO_ROOT_PASSWORD="$root_password" \
    MINIO_BROWSER=off MINIO_UPDATE=off MINIO_CALLHOME_ENABLE=off \
    "MINIO_NOTIFY_WEBHOOK_ENABLE_$TARGET_ID=on" \
    "MINIO_NOTIFY_WEBHOOK_ENDPOINT_$TARGET_ID=$webhook_url" \
    "MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_$TARGET_ID=Bearer $token" \
    "${queue[@]}" \
    nohup "$MINIO" server "$dir/data" --quiet \
    --address "127.0.0.1:$s3_port" --console-address "127.0.0.1:$console_port" \
    >"$dir/minio.log" 2>&1 &
echo $! > "$dir/minio.pid"
# A start that fails past this point stops the server it started.
trap '[ $? = 0 ] || "$0" stop "$dir"' EXIT

endpoint="http://127.0.0.1:$s3_port"
ready() { python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$endpoint/minio/health/ready" 2>/dev/null; }
for _ in $(seq 1 300); do
    ready && break
    kill -0 "$(cat "$dir/minio.pid")" 2>/dev/null || { echo "minio exited; see $dir/minio.log" >&2; exit 1; }
    sleep 0.1
done
ready || { echo "minio did not start; see $dir/minio.log" >&2; exit 1; }

m() { "$MC" --config-dir "$dir/mc" --quiet --no-color "$@"; }
m alias set local "$endpoint" "$root_user" "$root_password" >/dev/null
m mb "local/$BUCKET" >/dev/null
# The service's own credentials: a user with the readwrite policy.
m admin user add local "$access_key" "$secret_key" >/dev/null
m admin policy attach local readwrite --user "$access_key" >/dev/null
m event add "local/$BUCKET" "arn:minio:sqs::$TARGET_ID:webhook" --event put --prefix "$PREFIX" >/dev/null
m event ls "local/$BUCKET" "arn:minio:sqs::$TARGET_ID:webhook" | grep -q "$TARGET_ID" ||
    { echo "the bucket notification was not set; see $dir/minio.log" >&2; exit 1; }

cat <<ENV
export MEETREC_TEST_MINIO_ENDPOINT="$endpoint"
export MEETREC_TEST_MINIO_REGION="$REGION"
export MEETREC_TEST_MINIO_BUCKET="$BUCKET"
export MEETREC_TEST_MINIO_ACCESS_KEY_ID="$access_key"
export MEETREC_TEST_MINIO_SECRET_ACCESS_KEY="$secret_key"
export MEETREC_TEST_MINIO_ROOT_USER="$root_user"
export MEETREC_TEST_MINIO_ROOT_PASSWORD="$root_password"
export MEETREC_TEST_MINIO_MC_CONFIG_DIR="$dir/mc"
ENV
