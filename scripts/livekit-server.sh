#!/usr/bin/env bash
# Starts the real LiveKit server (pinned, built by scripts/ensure-test-deps.sh) with a Redis
# of its own, for tests, and prints the environment that points a test at it:
#   eval "$(scripts/livekit-server.sh start DIR [WEBHOOK_URL...])"  ...  scripts/livekit-server.sh stop DIR
# Every port is free and picked at start; the key pair is meet-recorder's test pair. Media
# (WebRTC) needs the non-loopback address of a network namespace (scripts/netns.sh exports
# MEETREC_NETNS_IP); outside one the server advertises 127.0.0.1 and only signalling, the
# Twirp API and webhooks work. STUN servers are empty, so the server never looks outside.
#
# With MEETREC_EGRESS_WORKER set to the binary of tools/egress-worker, it also starts that
# stand-in egress worker on the same Redis, so the server has an egress worker to give
# StartRoomCompositeEgress to; files without an S3 upload land in
# ${MEETREC_EGRESS_LOCAL_DIR:-DIR/egress}, and MEETREC_EGRESS_MAX_DURATION (default 30s)
# is its session limit. It then also prints MEETREC_EGRESS_WORKER_ADMIN (the worker's
# fault and kill API) and MEETREC_EGRESS_LOCAL_DIR.
set -euo pipefail

command="${1:?usage: livekit-server.sh start|stop DIR [WEBHOOK_URL...]}"
dir="${2:?usage: livekit-server.sh start|stop DIR [WEBHOOK_URL...]}"
shift 2
CACHE_DIR="${MEETREC_CACHE_DIR:-$HOME/.cache/meet-recorder}"
SERVER="${MEETREC_TEST_LIVEKIT_SERVER:-$CACHE_DIR/bin/livekit-server}"
API_KEY="${MEETREC_LIVEKIT_API_KEY:-meetrec-test-key}"
API_SECRET="${MEETREC_LIVEKIT_API_SECRET:-meetrec-test-secret-which-is-long-enough}"
NODE_IP="${MEETREC_NETNS_IP:-127.0.0.1}"

# Ends the process in a pid file: TERM, then KILL if it is still there after 5 s (a
# LiveKit server that lost its network namespace may not finish its graceful shutdown).
stop_pid() {
    [ -f "$1" ] || return 0
    local pid
    pid="$(cat "$1")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$1"
}

case "$command" in
stop)
    stop_pid "$dir/egress-worker.pid"
    stop_pid "$dir/livekit.pid"
    stop_pid "$dir/redis.pid"
    exit 0
    ;;
start) ;;
*) echo "usage: livekit-server.sh start|stop DIR [WEBHOOK_URL...]" >&2; exit 2 ;;
esac

[ -x "$SERVER" ] || { echo "no LiveKit server at $SERVER: run scripts/ensure-test-deps.sh" >&2; exit 1; }
mkdir -p "$dir"

# Free ports: TCP for HTTP, ICE/TCP and Redis; UDP for the one ICE port. A port picked
# here can be taken before the server binds it, so a start that fails is tried again on
# other ports.
pick_ports() {
    python3 - <<'PY'
import socket
tcp = [socket.socket() for _ in range(3)]
for s in tcp: s.bind(("127.0.0.1", 0))
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); udp.bind(("0.0.0.0", 0))
print(*[s.getsockname()[1] for s in tcp], udp.getsockname()[1])
PY
}

start_redis() {
    redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
        --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir" >/dev/null
    for _ in $(seq 1 50); do
        [ "$(redis-cli -p "$redis_port" ping 2>/dev/null)" = PONG ] && return 0
        sleep 0.1
    done
    return 1
}

write_config() {
    echo "port: $http_port"
    echo "bind_addresses: [\"127.0.0.1\"$([ "$NODE_IP" != 127.0.0.1 ] && echo ", \"$NODE_IP\"")]"
    echo "keys:"
    echo "  $API_KEY: $API_SECRET"
    echo "redis:"
    echo "  address: 127.0.0.1:$redis_port"
    echo "rtc:"
    echo "  node_ip: $NODE_IP"
    echo "  use_external_ip: false"
    echo "  stun_servers: []"
    echo "  udp_port: $udp_port"
    echo "  tcp_port: $tcp_port"
    [ "$NODE_IP" = 127.0.0.1 ] && echo "  enable_loopback_candidate: true"
    echo "room:"
    echo "  empty_timeout: ${MEETREC_LIVEKIT_EMPTY_TIMEOUT:-10}"
    echo "  departure_timeout: ${MEETREC_LIVEKIT_DEPARTURE_TIMEOUT:-1}"
    echo "logging:"
    echo "  level: ${MEETREC_LIVEKIT_LOG_LEVEL:-info}"
    if [ "$#" -gt 0 ]; then
        echo "webhook:"
        echo "  api_key: $API_KEY"
        echo "  urls:"
        for url in "$@"; do echo "    - $url"; done
    fi
}

# Starts Redis and the server on fresh ports; fails when either does not come up.
try_start() {
    read -r http_port tcp_port redis_port udp_port < <(pick_ports)
    start_redis || return 1
    write_config "$@" >"$dir/livekit.yaml"
    nohup "$SERVER" --config "$dir/livekit.yaml" >"$dir/livekit.log" 2>&1 &
    echo $! >"$dir/livekit.pid"
    for _ in $(seq 1 150); do
        curl -fsS "http://127.0.0.1:$http_port/" >/dev/null 2>&1 && return 0
        kill -0 "$(cat "$dir/livekit.pid")" 2>/dev/null || break
        sleep 0.1
    done
    return 1
}

started=0
for attempt in 1 2 3; do
    if try_start "$@"; then started=1; break; fi
    echo "LiveKit did not start (attempt $attempt); see $dir/livekit.log" >&2
    tail -5 "$dir/livekit.log" >&2 || true
    stop_pid "$dir/livekit.pid"
    stop_pid "$dir/redis.pid"
done
[ "$started" = 1 ] || exit 1

if [ -n "${MEETREC_EGRESS_WORKER:-}" ]; then
    egress_dir="${MEETREC_EGRESS_LOCAL_DIR:-$dir/egress}"
    mkdir -p "$egress_dir"
    nohup "$MEETREC_EGRESS_WORKER" --redis "127.0.0.1:$redis_port" --local-dir "$egress_dir" \
        --admin 127.0.0.1:0 --max-duration "${MEETREC_EGRESS_MAX_DURATION:-30s}" \
        >"$dir/egress-worker.out" 2>"$dir/egress-worker.log" &
    echo $! >"$dir/egress-worker.pid"
    for _ in $(seq 1 150); do
        grep -qx ready "$dir/egress-worker.out" 2>/dev/null && break
        kill -0 "$(cat "$dir/egress-worker.pid")" 2>/dev/null || break
        sleep 0.1
    done
    grep -qx ready "$dir/egress-worker.out" 2>/dev/null || {
        echo "the egress worker did not register; see $dir/egress-worker.log" >&2
        tail -20 "$dir/egress-worker.log" >&2
        exit 1
    }
    echo "export MEETREC_EGRESS_WORKER_ADMIN=\"$(sed -n 's/^admin=//p' "$dir/egress-worker.out")\""
    echo "export MEETREC_EGRESS_LOCAL_DIR=\"$egress_dir\""
fi

cat <<ENV
export MEETREC_LIVEKIT_API_URL="http://127.0.0.1:$http_port"
export MEETREC_LIVEKIT_WS_URL="ws://127.0.0.1:$http_port"
export MEETREC_LIVEKIT_API_KEY="$API_KEY"
export MEETREC_LIVEKIT_API_SECRET="$API_SECRET"
export MEETREC_LIVEKIT_REDIS="127.0.0.1:$redis_port"
export MEETREC_LIVEKIT_NODE_IP="$NODE_IP"
ENV
