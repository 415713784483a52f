#!/usr/bin/env bash
# Starts a single-node Garage S3 server on loopback for tests and prints the
# environment variables that point the test suite at it:
#   eval "$(scripts/garage.sh start DIR)"   ...   scripts/garage.sh stop DIR
set -euo pipefail

command="${1:?usage: garage.sh start|stop DIR}"
dir="${2:?usage: garage.sh start|stop DIR}"
GARAGE="$(command -v garage || echo "$HOME/.cargo/bin/garage")"
BUCKET="meet-recorder-test"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

case "$command" in
stop)
    if [ -f "$dir/garage.pid" ]; then
        kill "$(cat "$dir/garage.pid")" 2>/dev/null || true
        rm -f "$dir/garage.pid"
    fi
    exit 0
    ;;
start) ;;
*) echo "usage: garage.sh start|stop DIR" >&2; exit 2 ;;
esac

mkdir -p "$dir/meta" "$dir/data"
rpc_port=$(free_port); s3_port=$(free_port); admin_port=$(free_port)
cat > "$dir/garage.toml" <<TOML
metadata_dir = "$dir/meta"
data_dir = "$dir/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$rpc_port"
rpc_public_addr = "127.0.0.1:$rpc_port"
rpc_secret = "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$s3_port"
root_domain = ".s3.garage.localhost"
[admin]
api_bind_addr = "127.0.0.1:$admin_port"
admin_token = "$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
TOML

g() { "$GARAGE" -c "$dir/garage.toml" "$@"; }
nohup "$GARAGE" -c "$dir/garage.toml" server >"$dir/garage.log" 2>&1 &
echo $! > "$dir/garage.pid"

node_id=""
for _ in $(seq 1 100); do
    node_id=$(g node id -q 2>/dev/null | cut -d@ -f1) && [ -n "$node_id" ] && break
    sleep 0.2
done
[ -n "$node_id" ] || { echo "garage did not start; see $dir/garage.log" >&2; exit 1; }
# `node id` reads a local file; the commands below talk to the server over RPC, which a
# busy machine may not have opened yet.
for _ in $(seq 1 150); do
    g status >/dev/null 2>&1 && break
    sleep 0.2
done
g status >/dev/null || { echo "garage RPC did not answer; see $dir/garage.log" >&2; exit 1; }
g layout assign -z dc1 -c 1G "$node_id" >/dev/null
g layout apply --version 1 >/dev/null
g bucket create "$BUCKET" >/dev/null
g key create test-key >/dev/null
g bucket allow --read --write --owner "$BUCKET" --key test-key >/dev/null
info=$(g key info test-key --show-secret)
key_id=$(echo "$info" | awk -F': *' '/Key ID/ {print $2; exit}')
secret=$(echo "$info" | awk -F': *' '/Secret key/ {print $2; exit}')

# Wait until the S3 API answers.
for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$s3_port") 2>/dev/null && break
    sleep 0.1
done

cat <<ENV
export MEETREC_TEST_S3_ENDPOINT="http://127.0.0.1:$s3_port"
export MEETREC_TEST_S3_REGION="garage"
export MEETREC_TEST_S3_BUCKET="$BUCKET"
export MEETREC_TEST_S3_ACCESS_KEY_ID="$key_id"
export MEETREC_TEST_S3_SECRET_ACCESS_KEY="$secret"
ENV
