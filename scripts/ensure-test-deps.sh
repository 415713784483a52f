#!/usr/bin/env bash
# Installs what the test suite needs and a fresh Debian machine lacks, skipping whatever
# is already there, and starts the services the tests use when they are not running:
# PostgreSQL on 127.0.0.1:5432 (role `postgres`, no password from loopback) and Redis on
# 127.0.0.1:6379, both from Debian's packages; ffmpeg/ffprobe, a Python venv with
# LiveKit's official SDK (the protocol oracle) and aiosmtpd, the Garage S3 server, and
# Debian's Chromium for the browser tests (the app's npm packages come with
# scripts/build-web.sh).
# Prints nothing but progress on stderr; safe to run repeatedly.
set -euo pipefail

CACHE_DIR="${MEETREC_CACHE_DIR:-$HOME/.cache/meet-recorder}"
VENV="$CACHE_DIR/venv"
GARAGE_VERSION="2.5.0"
# The real LiveKit server, built from source with the Go toolchain. Before moving the pin,
# check that the tag's go.mod has no `replace` directives (`go install` refuses those).
LIVEKIT_SERVER_VERSION="v1.13.5"
LIVEKIT_SERVER_DIR="$CACHE_DIR/livekit-server-$LIVEKIT_SERVER_VERSION"
# MinIO and its client, for real bucket notifications. The Go module proxy serves MinIO's
# source only as commits (the community repository is archived): these are the last
# commits of each, and neither go.mod has `replace` directives.
MINIO_VERSION="v0.0.0-20260212201848-7aac2a2c5b7c"
MC_VERSION="v0.0.0-20250313080218-cf909e1063a9"
MINIO_DIR="$CACHE_DIR/minio-$MINIO_VERSION"
MC_DIR="$CACHE_DIR/mc-$MC_VERSION"

log() { echo "[deps] $*" >&2; }
export PATH="/usr/local/go/bin:$PATH"

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

# The services first: they take seconds, and everything else can wait for the builds below.
# PostgreSQL: the tests connect as `postgres` without a password, over TCP on loopback
# and, from inside the network namespace of the real-LiveKit tests (scripts/netns.sh),
# through the Unix socket.
PG_URL="${MEETREC_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
pg_answers() {
    psql "$PG_URL" -qtAc "select 1" >/dev/null 2>&1 &&
        psql "postgres://postgres@localhost/postgres?host=/var/run/postgresql" -qtAc "select 1" >/dev/null 2>&1
}
if ! pg_answers; then
    if ! command -v pg_lsclusters >/dev/null || [ -z "$(ls /usr/lib/postgresql 2>/dev/null)" ]; then
        apt_install postgresql
    fi
    pg_version="$(ls /usr/lib/postgresql | sort -V | tail -n1)"
    if [ ! -d "/etc/postgresql/$pg_version/main" ]; then
        log "creating PostgreSQL $pg_version cluster main"
        pg_createcluster "$pg_version" main >&2
    fi
    hba="/etc/postgresql/$pg_version/main/pg_hba.conf"
    # Password-less access for the test role only; first match wins, so these lines go on
    # top. A line written by an earlier version of this script is replaced.
    marker="# meet-recorder tests"
    wanted="local all postgres trust $marker
host all postgres 127.0.0.1/32 trust $marker
host all postgres ::1/128 trust $marker"
    if [ "$(grep -F "$marker" "$hba" || true)" != "$wanted" ]; then
        log "allowing the postgres role from loopback and the socket without a password ($hba)"
        { echo "$wanted"; grep -vF "$marker" "$hba"; } >"$hba.new"
        chown --reference="$hba" "$hba.new"
        chmod --reference="$hba" "$hba.new"
        mv "$hba.new" "$hba"
    fi
    if pg_lsclusters -h | awk -v v="$pg_version" '$1 == v && $2 == "main" { print $4 }' | grep -q online; then
        log "reloading PostgreSQL $pg_version"
        pg_ctlcluster "$pg_version" main reload >&2
    else
        log "starting PostgreSQL $pg_version"
        pg_ctlcluster "$pg_version" main start >&2
    fi
    for _ in $(seq 1 100); do pg_answers && break; sleep 0.2; done
    pg_answers || { log "PostgreSQL does not answer at $PG_URL and on its socket"; exit 1; }
fi

# Redis: LiveKit's server keeps its egress bookkeeping there.
redis_answers() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = PONG ]; }
if ! redis_answers; then
    if ! command -v redis-server >/dev/null; then
        apt_install redis-server
    fi
    log "starting Redis on 127.0.0.1:6379"
    # Its log goes to the cache, which a fresh machine has not created yet.
    mkdir -p "$CACHE_DIR"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
        --logfile "$CACHE_DIR/redis.log" >&2
    for _ in $(seq 1 50); do redis_answers && break; sleep 0.1; done
    redis_answers || { log "Redis does not answer on 127.0.0.1:6379"; exit 1; }
fi

if ! command -v ffmpeg >/dev/null || ! command -v ffprobe >/dev/null; then
    apt_install ffmpeg
fi
if [ ! -x /usr/bin/chromium ]; then
    apt_install chromium
fi
if [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; then
    apt_install fonts-dejavu-core
fi

# LiveKit's Python SDKs: the server API (the protocol oracle) and the real-time SDK (bots
# that join rooms as real participants; its wheel ships the native WebRTC library); and
# the Standard Webhooks reference library, which verifies our outbound webhooks.
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import livekit.api, livekit.rtc, numpy, aiosmtpd, standardwebhooks' 2>/dev/null; then
    log "creating Python venv in $VENV"
    mkdir -p "$CACHE_DIR"
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV" >&2 || { apt_install python3-venv; python3 -m venv "$VENV" >&2; }
    "$VENV/bin/pip" install --quiet --disable-pip-version-check \
        'livekit-api==1.2.2' 'livekit==1.2.0' 'numpy>=2,<3' 'aiosmtpd>=1.4,<2' \
        'standardwebhooks==1.3.0' >&2
fi
# Schemathesis fuzzes the live service against its OpenAPI document (tests/integration/
# openapi.rs). Checked on its own, so that an existing venv gains it without a rebuild.
SCHEMATHESIS_VERSION="4.32.5"
if ! "$VENV/bin/python" -c 'import importlib.metadata as m, sys; sys.exit(m.version("schemathesis") != sys.argv[1])' "$SCHEMATHESIS_VERSION" 2>/dev/null; then
    log "installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check \
        "schemathesis==$SCHEMATHESIS_VERSION" >&2
fi

if [ ! -x "$LIVEKIT_SERVER_DIR/server" ]; then
    command -v go >/dev/null || { log "the Go toolchain (1.26) is needed to build the LiveKit server"; exit 1; }
    log "go install livekit-server $LIVEKIT_SERVER_VERSION (a few minutes on 2 cores)"
    mkdir -p "$LIVEKIT_SERVER_DIR"
    GOBIN="$LIVEKIT_SERVER_DIR" GOFLAGS=-mod=mod \
        go install "github.com/livekit/livekit-server/cmd/server@$LIVEKIT_SERVER_VERSION" >&2
fi
if [ ! -x "$MINIO_DIR/minio" ]; then
    command -v go >/dev/null || { log "the Go toolchain (1.26) is needed to build MinIO"; exit 1; }
    log "go install minio $MINIO_VERSION (about 6 minutes on 2 cores)"
    mkdir -p "$MINIO_DIR"
    GOBIN="$MINIO_DIR" GOFLAGS=-mod=mod go install "github.com/minio/minio@$MINIO_VERSION" >&2
fi
if [ ! -x "$MC_DIR/mc" ]; then
    log "go install mc $MC_VERSION (1-3 minutes)"
    mkdir -p "$MC_DIR"
    GOBIN="$MC_DIR" GOFLAGS=-mod=mod go install "github.com/minio/mc@$MC_VERSION" >&2
fi
# One stable name for each pinned binary (scripts/livekit-server.sh and scripts/minio.sh
# use them).
mkdir -p "$CACHE_DIR/bin"
ln -sfn "$LIVEKIT_SERVER_DIR/server" "$CACHE_DIR/bin/livekit-server"
ln -sfn "$MINIO_DIR/minio" "$CACHE_DIR/bin/minio"
ln -sfn "$MC_DIR/mc" "$CACHE_DIR/bin/mc"
command -v unshare >/dev/null || apt_install util-linux
command -v ip >/dev/null || apt_install iproute2

if ! command -v garage >/dev/null && [ ! -x "$HOME/.cargo/bin/garage" ]; then
    log "cargo install garage $GARAGE_VERSION (about 10-15 minutes on 2 cores)"
    cargo install garage --version "$GARAGE_VERSION" --locked --quiet >&2
fi
