#!/usr/bin/env bash
# Runs a command inside a private network namespace, for the tests that need real WebRTC
# media (the real LiveKit server, its participants, Chromium):
#   scripts/netns.sh COMMAND [ARGS...]
# The namespace has its own loopback and a veth pair whose end `meetrec0` holds
# 10.203.0.1/24 and the default route, so WebRTC stacks find a non-loopback interface with
# a route, while every packet stays inside the namespace (the veth's other end, also inside,
# leads nowhere). Nothing in the machine's own network is changed, and it all goes away with
# the command.
#
# Inside, the command finds:
#   MEETREC_NETNS_IP            the namespace's address (LiveKit's rtc.node_ip)
#   MEETREC_TEST_POSTGRES_URL   PostgreSQL through its Unix socket (sockets are files, so
#                               they cross network namespaces; the loopback TCP port does not)
# Services on the machine's loopback (Garage, Redis) are not reachable from inside: the
# tests start what they need there.
set -euo pipefail

NETNS_IP="10.203.0.1"

if [ "${MEETREC_IN_NETNS:-}" != 1 ]; then
    [ "$#" -gt 0 ] || { echo "usage: scripts/netns.sh COMMAND [ARGS...]" >&2; exit 2; }
    command -v unshare >/dev/null && command -v ip >/dev/null || {
        echo "netns.sh needs unshare (util-linux) and ip (iproute2)" >&2
        exit 1
    }
    MEETREC_IN_NETNS=1 exec unshare --net -- "$0" "$@"
fi

ip link set lo up
ip link add meetrec0 type veth peer name meetrec1
ip addr add "$NETNS_IP/24" dev meetrec0
ip link set meetrec0 up
ip link set meetrec1 up
ip route add default dev meetrec0

export MEETREC_NETNS_IP="$NETNS_IP"
socket_dir="${MEETREC_TEST_POSTGRES_SOCKET_DIR:-/var/run/postgresql}"
export MEETREC_TEST_POSTGRES_URL="postgres://postgres@localhost/postgres?host=$socket_dir"
exec "$@"
