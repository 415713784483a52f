"""The service benchmark: the real `meet-recorder serve` process under an external load
generator (wrk), beside a fake LiveKit (`meet-recorder livekit-emulator`) that counts the
API calls it answers, on SQLite and on PostgreSQL. Run through scripts/bench.sh.

Workloads, each printed as a table row:
- stream-N: unique signed `egress_updated` (ACTIVE) webhooks for one active recording, N
  connections: req/s, latency percentiles, server CPU per request, LiveKit calls per request.
- forged: webhooks with a wrong signature (rejected with 401).
- login-flood: the stream at 16 connections and /healthz while 32 connections from one
  address sign in with valid credentials (each admitted sign-in costs a password check;
  the address's attempts per minute bound how many are admitted).
- lifecycle: many recordings started and stopped through the API; the emulator sends the
  egress webhooks, the service confirms each file and emails its owner; measures the time
  from each stop to its email and the recordings completed per second.
- reconcile: that many open recordings (one per room), then `meet-recorder reconcile`
  timed as a whole.
- pages: that many open room pages (event streams) on one room, the memory they take, and
  how long a change (a recording starting) takes to reach each of them.
Numbers are printed, never asserted.
"""

import argparse
import base64
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

import asyncio
import concurrent.futures

import aiohttp
import jwt

KEY = "bench-key"
SECRET = "bench-secret-long-enough-for-hs256"
WEBHOOK_PATH = "/api/v1.0/rooms/webhooks-livekit/"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, token=None, expect=(200, 201)):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, text = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read()
    if status not in expect:
        raise RuntimeError(f"{method} {url} answered {status}: {text[:300]!r}")
    return json.loads(text) if text else None


def answers_200(url):
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def latency_columns(latencies_s):
    """p50/p90/p99/max in milliseconds of a sorted list of seconds."""
    def pick(p):
        if not latencies_s:
            return 0
        return latencies_s[min(len(latencies_s) - 1, int(round(p / 100 * (len(latencies_s) - 1))))] * 1000
    return {"p50_ms": pick(50), "p90_ms": pick(90), "p99_ms": pick(99), "max_ms": pick(100)}


def wait_for(what, predicate, timeout=60.0, every=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise RuntimeError(f"timed out waiting for {what}")


def process_cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def process_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def sign(body):
    digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
    now = int(time.time())
    claims = {"iss": KEY, "nbf": now - 5, "exp": now + 3600, "sha256": digest}
    return jwt.encode(claims, SECRET, algorithm="HS256")


def egress_updated(room, egress_id, n):
    return json.dumps(
        {
            "event": "egress_updated",
            "id": f"EV_bench_{n}_{uuid.uuid4().hex}",
            "createdAt": str(int(time.time())),
            "room": {"name": room},
            "egressInfo": {"egressId": egress_id, "roomName": room, "status": "EGRESS_ACTIVE"},
        },
        separators=(",", ":"),
    )


def write_requests(path, room, egress_id, count, forged=False):
    with open(path, "w") as f:
        for n in range(count):
            body = egress_updated(room, egress_id, n)
            token = sign(body) if not forged else sign(body + " ")
            f.write(f"{token}\t{body}\n")


class Stack:
    """An emulator and a `serve` process on one database, with a user, an API token and a
    room where a participant is present."""

    def __init__(self, binary, database, postgres_admin, work, extra_env=None):
        self.binary = binary
        self.work = work
        self.database = database
        self.postgres_admin = postgres_admin
        self.pg_name = None
        self.processes = []
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        emulator_port = free_port()
        self.emulator_url = f"http://127.0.0.1:{emulator_port}"
        storage = os.path.join(work, "egress")
        self.mail_dir = os.path.join(work, "mail")
        if database == "sqlite":
            database_url = f"sqlite://{work}/bench.db"
        else:
            self.pg_name = f"meetrec_bench_{uuid.uuid4().hex[:12]}"
            subprocess.run(["psql", postgres_admin, "-qc", f"create database {self.pg_name}"], check=True)
            base = postgres_admin.rsplit("/", 1)[0]
            database_url = f"{base}/{self.pg_name}"
        self.env = dict(
            os.environ,
            DATABASE_URL=database_url,
            MEET_RECORDER_LISTEN=f"127.0.0.1:{port}",
            RECORDING_ENABLE="true",
            LIVEKIT_API_URL=self.emulator_url,
            LIVEKIT_API_KEY=KEY,
            LIVEKIT_API_SECRET=SECRET,
            MEET_RECORDER_STORAGE_DIR=storage,
            EMAIL_BACKEND="file",
            EMAIL_FILE_PATH=self.mail_dir,
            RUST_LOG="warn",
            MEET_RECORDER_MAX_CONNECTIONS="30000",
            MEET_RECORDER_EVENT_STREAMS_PER_CLIENT="30000",
            **(extra_env or {}),
        )
        self.spawn(
            [
                binary, "livekit-emulator", "--bind", f"127.0.0.1:{emulator_port}",
                "--keys", f"{KEY}:{SECRET}", "--webhook-url", f"{self.url}{WEBHOOK_PATH}",
                "--storage-dir", storage, "--start-delay-ms", "0",
            ],
            "emulator",
        )
        subprocess.run([binary, "migrate"], env=self.env, check=True, capture_output=True)
        out = subprocess.run(
            [binary, "users", "create", "bench@example.com", "--name", "Bench", "--password-stdin", "--api-token"],
            env=self.env, input="bench-password-123\n", check=True, capture_output=True, text=True,
        ).stdout
        self.token = next(word for word in out.split() if word.startswith("mr_") or word.startswith("mrt_"))
        spawned = time.monotonic()
        self.server = self.spawn([binary, "serve"], "serve")
        wait_for("the service", lambda: self.ready(), every=0.002)
        self.cold_start_ms = (time.monotonic() - spawned) * 1000
        wait_for("the emulator", lambda: self.emulator_ready())
        self.room = self.create_room("Benchmark room")

    def spawn(self, argv, name):
        log = open(os.path.join(self.work, f"{name}.log"), "w")
        process = subprocess.Popen(argv, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def ready(self):
        return answers_200(f"{self.url}/readyz")

    def emulator_ready(self):
        return answers_200(f"{self.emulator_url}/")

    def api(self, method, path, body=None, expect=(200, 201)):
        return http(method, f"{self.url}/api/v1.0{path}", body, self.token, expect)

    def create_room(self, name):
        room = self.api("POST", "/rooms/", {"name": name})
        http("POST", f"{self.emulator_url}/admin/rooms/{room['id']}/participants", {"identity": "bench-participant"})
        return room["id"]

    def calls(self):
        return http("GET", f"{self.emulator_url}/admin/calls")

    def start_recording(self, room):
        answer = self.api("POST", f"/rooms/{room}/start-recording/", {"mode": "screen_recording"})
        return answer["recording"]

    def recording(self, recording_id):
        return self.api("GET", f"/recordings/{recording_id}/")

    def stop(self):
        for process in reversed(self.processes):
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        if self.pg_name:
            subprocess.run(
                ["psql", self.postgres_admin, "-qc", f"drop database if exists {self.pg_name} with (force)"],
                check=False,
            )


def wrk(url, connections, seconds, requests_file=None, path=WEBHOOK_PATH, threads=2):
    env = dict(os.environ, BENCH_PATH=path, BENCH_THREADS=str(threads))
    if requests_file:
        env["BENCH_REQUESTS"] = requests_file
    script = os.path.join(os.path.dirname(__file__), "webhooks.lua")
    out = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s",
         "-s", script, url],
        env=env, capture_output=True, text=True, check=True,
    ).stdout
    line = next(l for l in out.splitlines() if l.startswith("BENCH "))
    return json.loads(line[len("BENCH "):])


def measure(stack, name, connections, seconds, requests_file, path=WEBHOOK_PATH):
    calls_before = sum(stack.calls().values())
    cpu_before = process_cpu_s(stack.server.pid)
    result = wrk(stack.url, connections, seconds, requests_file, path)
    cpu = process_cpu_s(stack.server.pid) - cpu_before
    calls = sum(stack.calls().values()) - calls_before
    n = max(result["requests"], 1)
    return {
        "workload": name,
        "req_s": result["requests"] / (result["duration_us"] / 1e6),
        "p50_ms": result["p50_us"] / 1000,
        "p90_ms": result["p90_us"] / 1000,
        "p99_ms": result["p99_us"] / 1000,
        "max_ms": result["max_us"] / 1000,
        "cpu_ms_per_req": cpu * 1000 / n,
        "livekit_calls_per_req": calls / n,
        "non_2xx": result["errors_status"],
        "socket_errors": result["errors_connect"] + result["errors_read"] + result["errors_write"] + result["errors_timeout"],
        "rss_mib": process_rss_mib(stack.server.pid),
        "file_wrapped": result["file_wrapped"],
    }


def measure_median(stack, name, connections, seconds, requests_file, path, runs=3):
    """`measure` `runs` times; the run with the median p99. A sub-millisecond p99 on two
    shared cores moves two- or threefold between runs of the same build."""
    results = sorted(
        (measure(stack, name, connections, seconds, requests_file, path) for _ in range(runs)),
        key=lambda row: row["p99_ms"],
    )
    row = results[len(results) // 2]
    row["non_2xx"] = f"{row['non_2xx']} (median p99 of {runs} runs: " + ", ".join(
        f"{r['p99_ms']:.2f}" for r in results) + ")"
    return row


def stream_workloads(stack, args, rows):
    recording = stack.start_recording(stack.room)
    wait_for("the recording to be active", lambda: stack.recording(recording["id"])["status"] == "active", 30)
    egress = stack.recording(recording["id"])["worker_id"]
    for connections in args.connections:
        count = int(args.rate_ceiling * args.seconds)
        path = os.path.join(stack.work, f"stream-{connections}.txt")
        write_requests(path, stack.room, egress, count)
        rows.append(measure(stack, f"stream-{connections}", connections, args.seconds, path))
    forged = os.path.join(stack.work, "forged.txt")
    write_requests(forged, stack.room, egress, 20000, forged=True)
    row = measure(stack, "forged", 16, min(args.seconds, 5), forged)
    row["non_2xx"] = f"{row['non_2xx']} (401 expected)"
    rows.append(row)
    return egress


def login_flood(stack, args, rows, egress):
    login_file = os.path.join(stack.work, "login.txt")
    body = json.dumps({"email": "bench@example.com", "password": "bench-password-123"})
    with open(login_file, "w") as f:
        f.write(f"\t{body}\n")
    healthz_seconds = min(args.seconds, 5)
    healthz_idle = measure_median(stack, "healthz-idle", 4, healthz_seconds, None, "/healthz")
    rows.append(healthz_idle)
    # The stream's webhooks are signed before the flood starts (signing takes seconds), so
    # the stream is measured in the flood's first seconds, while the burst of sign-ins one
    # address is allowed is being checked.
    path = os.path.join(stack.work, "stream-flood.txt")
    write_requests(path, stack.room, egress, int(args.rate_ceiling * args.seconds))
    env = dict(os.environ, BENCH_PATH="/api/v1.0/auth/login/", BENCH_REQUESTS=login_file, BENCH_THREADS="1")
    script = os.path.join(os.path.dirname(__file__), "webhooks.lua")
    flood = subprocess.Popen(
        ["wrk", "-t", "1", "-c", "32", "-d", f"{args.seconds + 3 * healthz_seconds + 5}s", "--timeout", "10s", "-s", script, stack.url],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    time.sleep(0.2)
    rows.append(measure(stack, "stream-16+login-flood", 16, args.seconds, path))
    rows.append(measure_median(stack, "healthz+login-flood", 4, healthz_seconds, None, "/healthz"))
    out, _ = flood.communicate()
    line = next((l for l in out.splitlines() if l.startswith("BENCH ")), None)
    if line:
        result = json.loads(line[len("BENCH "):])
        rows.append({
            "workload": "login-flood (32 conns)",
            "req_s": result["requests"] / (result["duration_us"] / 1e6),
            "p50_ms": result["p50_us"] / 1000, "p90_ms": result["p90_us"] / 1000,
            "p99_ms": result["p99_us"] / 1000, "max_ms": result["max_us"] / 1000,
            "non_2xx": result["errors_status"],
        })


def lifecycle(stack, args, rows):
    """Recordings in many rooms, started and stopped through the API; the emulator sends
    egress_started/updated/ended; the service confirms each file and emails the owner."""
    rooms = [stack.create_room(f"Lifecycle {n}") for n in range(args.recordings)]
    calls_before = sum(stack.calls().values())
    cpu_before = process_cpu_s(stack.server.pid)
    began = time.monotonic()
    recordings = [stack.start_recording(room)["id"] for room in rooms]
    for recording in recordings:
        wait_for("active", lambda: stack.recording(recording)["status"] == "active", 60)
    stopped_at = {}
    for room, recording in zip(rooms, recordings):
        stack.api("POST", f"/rooms/{room}/stop-recording/")
        stopped_at[recording] = time.monotonic()
    done_at = {}
    deadline = time.monotonic() + 120
    while len(done_at) < len(recordings) and time.monotonic() < deadline:
        for recording in recordings:
            if recording not in done_at:
                if stack.recording(recording)["status"] == "notification_succeeded":
                    done_at[recording] = time.monotonic()
        time.sleep(0.05)
    elapsed = time.monotonic() - began
    cpu = process_cpu_s(stack.server.pid) - cpu_before
    mails = len(os.listdir(stack.mail_dir)) if os.path.isdir(stack.mail_dir) else 0
    latencies = sorted(done_at[r] - stopped_at[r] for r in done_at)
    rows.append({
        "workload": f"lifecycle x{args.recordings}",
        "req_s": len(done_at) / elapsed,
        **latency_columns(latencies),
        "cpu_ms_per_req": cpu * 1000 / max(len(done_at), 1),
        "livekit_calls_per_req": (sum(stack.calls().values()) - calls_before) / max(len(done_at), 1),
        "non_2xx": f"{len(recordings) - len(done_at)} not emailed, {mails} emails",
        "rss_mib": process_rss_mib(stack.server.pid),
    })


def start_many(stack, count, prefix):
    """Opens `count` rooms and starts a recording in each, 16 at a time."""
    def one(n):
        room = stack.create_room(f"{prefix} {n}")
        return room, stack.start_recording(room)["id"]
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        return list(pool.map(one, range(count)))


def reconcile(stack, args, rows):
    began = time.monotonic()
    start_many(stack, args.open_recordings, "Reconcile")
    opened = time.monotonic() - began
    calls_before = stack.calls()
    began = time.monotonic()
    out = subprocess.run([stack.binary, "reconcile"], env=stack.env, capture_output=True, text=True)
    elapsed = time.monotonic() - began
    calls_after = stack.calls()
    calls = {k: v - calls_before.get(k, 0) for k, v in calls_after.items() if v != calls_before.get(k, 0)}
    rows.append({
        "workload": f"reconcile x{args.open_recordings}",
        "req_s": args.open_recordings / elapsed,
        "max_ms": elapsed * 1000,
        "livekit_calls_per_req": sum(calls.values()) / args.open_recordings,
        "non_2xx": f"exit {out.returncode}; whole run {elapsed:.2f} s; opening them took {opened:.1f} s; calls {calls}",
    })


class PageStream(asyncio.Protocol):
    """One open room page: a raw HTTP/1.1 connection to the event stream that only counts
    `data:` lines as they arrive. (aiohttp's line-by-line reading cost the client more
    than the service's whole fan-out: with 10,000 streams on the same two cores, the
    client's own parsing was most of the latency measured.)"""

    def __init__(self, request, ready, fired, fired_at, second):
        self.request, self.ready = request, ready
        self.fired, self.fired_at, self.second = fired, fired_at, second
        self.events = 0
        self.done = asyncio.get_running_loop().create_future()

    def connection_made(self, transport):
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data):
        # An event's `data:` line never spans two reads here: each is one small write.
        self.events += data.count(b"\ndata:")
        if self.events >= 1 and not self.ready.done():
            self.ready.set_result(None)
        if self.events >= 2 and self.fired.is_set() and not self.done.done():
            self.second.append(time.monotonic() - self.fired_at[0])
            self.done.set_result(None)
            self.transport.close()

    def connection_lost(self, exc):
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"stream closed: {exc}"))
        if not self.done.done():
            self.done.set_result(None)


async def follow_pages(stack, room, count, trigger):
    """Opens `count` event streams on `room`, waits for each first event, measures the
    memory they cost, then runs `trigger` and times the next event on every stream."""
    port = int(stack.url.rsplit(":", 1)[1])
    request = (
        f"GET /api/v1.0/rooms/{room}/recording-events/ HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\nAuthorization: Bearer {stack.token}\r\n"
        "Accept: text/event-stream\r\n\r\n"
    ).encode()
    loop = asyncio.get_running_loop()
    second = []
    fired = asyncio.Event()
    fired_at = [0.0]
    streams, readies = [], []
    rss_before = process_rss_mib(stack.server.pid)
    for n in range(count):
        ready = loop.create_future()
        readies.append(ready)
        _, stream = await loop.create_connection(
            lambda: PageStream(request, ready, fired, fired_at, second), "127.0.0.1", port
        )
        streams.append(stream)
        if n % 200 == 199:
            await asyncio.sleep(0.05)
    await asyncio.wait_for(asyncio.gather(*readies), 300)
    await asyncio.sleep(1)
    rss_open = process_rss_mib(stack.server.pid)
    fired_at[0] = time.monotonic()
    fired.set()
    await loop.run_in_executor(None, trigger)
    _, pending = await asyncio.wait([s.done for s in streams], timeout=60)
    for stream in streams:
        stream.transport.close()
    return rss_before, rss_open, sorted(second), len(pending)


def pages(stack, args, rows):
    room = stack.create_room("Pages")
    rss_before, rss_open, latencies, missed = asyncio.run(
        follow_pages(stack, room, args.pages, lambda: stack.start_recording(room))
    )
    rows.append({
        "workload": f"pages x{args.pages}",
        **latency_columns(latencies),
        "rss_mib": rss_open,
        "non_2xx": f"{missed} pages missed the change; the open pages took {rss_open - rss_before:.1f} MiB",
    })


COLUMNS = [
    ("workload", "workload", 24, "{:<24}"),
    ("req_s", "req/s", 9, "{:>9.0f}"),
    ("p50_ms", "p50 ms", 8, "{:>8.2f}"),
    ("p90_ms", "p90 ms", 8, "{:>8.2f}"),
    ("p99_ms", "p99 ms", 8, "{:>8.2f}"),
    ("max_ms", "max ms", 8, "{:>8.1f}"),
    ("cpu_ms_per_req", "CPU ms", 8, "{:>8.3f}"),
    ("livekit_calls_per_req", "LK/req", 7, "{:>7.3f}"),
    ("rss_mib", "RSS MiB", 8, "{:>8.1f}"),
    ("non_2xx", "non-2xx / notes", 0, "{}"),
]


def print_table(database, rows, idle_rss, cold_start_ms):
    print(f"\n== {database}: idle RSS {idle_rss:.1f} MiB, cold start to first 200 {cold_start_ms:.0f} ms")
    print(" ".join(title.ljust(width) if key == "workload" else title.rjust(width) for key, title, width, _ in COLUMNS))
    for row in rows:
        cells = []
        for key, _, width, fmt in COLUMNS:
            value = row.get(key)
            cells.append("-".rjust(width) if value is None else fmt.format(value))
        print(" ".join(cells))
    sys.stdout.flush()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", required=True)
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--postgres-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", default="16,64")
    parser.add_argument("--recordings", type=int, default=200)
    parser.add_argument("--open-recordings", type=int, default=10000)
    parser.add_argument("--pages", type=int, default=10000)
    parser.add_argument("--rate-ceiling", type=float, default=8000, help="signed webhooks prepared per second of run")
    parser.add_argument("--skip", default="", help="comma-separated workloads to skip: stream,login,lifecycle,reconcile,pages")
    args = parser.parse_args()
    args.connections = [int(c) for c in args.connections.split(",")]
    skip = set(filter(None, args.skip.split(",")))
    for database in args.databases.split(","):
        work = tempfile.mkdtemp(prefix=f"meetrec-bench-{database}-")
        stack = Stack(args.binary, database, args.postgres_url, work)
        cold_start_ms = stack.cold_start_ms
        try:
            time.sleep(1)
            idle_rss = process_rss_mib(stack.server.pid)
            rows = []
            egress = None
            if "stream" not in skip:
                egress = stream_workloads(stack, args, rows)
            if "login" not in skip and egress:
                login_flood(stack, args, rows, egress)
            if "lifecycle" not in skip:
                lifecycle(stack, args, rows)
            if "pages" not in skip:
                pages(stack, args, rows)
            if "reconcile" not in skip:
                reconcile(stack, args, rows)
            print_table(database, rows, idle_rss, cold_start_ms)
        finally:
            stack.stop()
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
