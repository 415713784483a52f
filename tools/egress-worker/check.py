#!/usr/bin/env python3
"""End-to-end check of the stand-in egress worker against the real LiveKit server.

Starts a Redis and LiveKit server (scripts/livekit-server.sh) whose webhooks go to a
receiver here, the worker against that Redis, optionally a single-node Garage for S3,
then drives egresses with LiveKit's Python SDK and checks the server's answers, the
webhooks (verified like LiveKit's SDKs do), the files (ffprobe) and each fault.

    ~/.cache/meet-recorder/venv/bin/python tools/egress-worker/check.py [--worker BIN] [--keep]

Without --worker (or $EGRESS_WORKER_BIN) it builds the worker into a temporary
directory. Garage is used when `garage` is on PATH or in ~/.cargo/bin (--no-s3 skips).
Exits non-zero when a check fails. Everything listens on 127.0.0.1 only.
"""

import argparse
import asyncio
import datetime
import hashlib
import hmac
import json
import os
import queue
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    from livekit import api
except ImportError:
    sys.exit("needs LiveKit's Python SDK: run with ~/.cache/meet-recorder/venv/bin/python")

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
MAX_DURATION = 4.0  # --max-duration given to the worker, seconds
S = api.EgressStatus

results = []  # (ok, name, detail)
observations = []


def check(name, ok, detail=""):
    results.append((bool(ok), name, detail))
    print(f"{'PASS' if ok else 'FAIL'}  {name}{'  -- ' + str(detail) if detail and not ok else ''}", flush=True)
    return ok


def note(text):
    observations.append(text)
    print(f"NOTE  {text}", flush=True)


# ---------------------------------------------------------------- webhooks

class Hooks:
    """Receives and verifies the server's webhooks; keeps them in arrival order."""

    def __init__(self, key, secret):
        self.receiver = api.WebhookReceiver(api.TokenVerifier(key, secret))
        self.events, self.raw, self.errors = [], [], []
        self.lock = threading.Lock()
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                try:
                    ev = hooks.receiver.receive(body, self.headers.get("Authorization", ""))
                    with hooks.lock:
                        if all(e.id != ev.id for e in hooks.events):
                            hooks.events.append(ev)
                            hooks.raw.append(body)
                except Exception as exc:  # a bad signature is a failure, not a crash
                    hooks.errors.append(f"{exc}: {self.headers.get('Content-Type')}")
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def for_egress(self, egress_id):
        with self.lock:
            return [(e.event, e.egress_info.status, e.egress_info) for e in self.events
                    if e.event.startswith("egress_") and e.egress_info.egress_id == egress_id]

    async def wait(self, egress_id, event, status=None, timeout=15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for ev, st, info in self.for_egress(egress_id):
                if ev == event and (status is None or st == status):
                    return info
            await asyncio.sleep(0.05)
        return None


def seq(hooks, egress_id):
    return [(ev, S.Name(st)) for ev, st, _ in hooks.for_egress(egress_id)]


# ---------------------------------------------------------------- processes

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_livekit(tmp, hook_url):
    env = dict(os.environ)
    if "MEETREC_TEST_LIVEKIT_SERVER" not in env:
        for cand in ("~/.cache/meet-recorder/bin/livekit-server", "~/.cache/meet-recorder/livekit-v1.13.5/server"):
            if os.access(os.path.expanduser(cand), os.X_OK):
                env["MEETREC_TEST_LIVEKIT_SERVER"] = os.path.expanduser(cand)
                break
    out = subprocess.run([os.path.join(REPO, "scripts/livekit-server.sh"), "start", tmp, hook_url],
                         env=env, check=True, capture_output=True, text=True).stdout
    vals = {}
    for line in out.splitlines():
        if line.startswith("export "):
            k, v = line[len("export "):].split("=", 1)
            vals[k] = v.strip('"')
    return vals


class Worker:
    def __init__(self, binary, redis, local_dir, log_path):
        self.log = open(log_path, "a")
        self.proc = subprocess.Popen(
            [binary, "--redis", redis, "--local-dir", local_dir, "--admin", "127.0.0.1:0",
             "--max-duration", f"{MAX_DURATION}s"],
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.lines = queue.Queue()
        threading.Thread(target=lambda: [self.lines.put(l.strip()) for l in self.proc.stdout], daemon=True).start()
        self.admin, ready = None, False
        deadline = time.monotonic() + 20
        while not ready and time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            if line.startswith("admin="):
                self.admin = line[len("admin="):]
            ready = ready or line == "ready"
        if not (ready and self.admin):
            raise RuntimeError(f"worker did not get ready; see {log_path}")

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.admin + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as r:
            text = r.read()
            return json.loads(text) if text else None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)


class Garage:
    """A single-node Garage on loopback with one bucket and key."""

    def __init__(self, binary, tmp):
        self.dir, self.bin = tmp, binary
        rpc, self.s3_port, admin = free_port(), free_port(), free_port()
        self.conf = os.path.join(tmp, "garage.toml")
        with open(self.conf, "w") as f:
            f.write(f'''metadata_dir = "{tmp}/meta"
data_dir = "{tmp}/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:{rpc}"
rpc_public_addr = "127.0.0.1:{rpc}"
rpc_secret = "{secrets.token_hex(32)}"
[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:{self.s3_port}"
root_domain = ".s3.garage.localhost"
[admin]
api_bind_addr = "127.0.0.1:{admin}"
admin_token = "{secrets.token_hex(16)}"
''')
        self.log = open(os.path.join(tmp, "garage.log"), "w")
        self.proc = subprocess.Popen([binary, "-c", self.conf, "server"], stdout=self.log, stderr=self.log)

    def setup(self):
        binary, node = self.bin, None
        for _ in range(100):
            r = subprocess.run([binary, "-c", self.conf, "node", "id", "-q"], capture_output=True, text=True)
            if r.returncode == 0:
                node = r.stdout.strip().split("@")[0]
                break
            time.sleep(0.2)
        if not node:
            raise RuntimeError("garage did not start")
        for attempt in range(50):  # the node answers `node id` before it accepts layout changes
            try:
                self.g("layout", "assign", "-z", "dc1", "-c", "1G", node)
                break
            except subprocess.CalledProcessError:
                if attempt == 49:
                    raise
                time.sleep(0.2)
        self.g("layout", "apply", "--version", "1")
        self.bucket = "recordings"
        self.g("bucket", "create", self.bucket)
        self.g("key", "create", "egress")
        self.g("bucket", "allow", "--read", "--write", "--owner", self.bucket, "--key", "egress")
        info = self.g("key", "info", "egress", "--show-secret")
        fields = {l.split(":", 1)[0].strip(): l.split(":", 1)[1].strip() for l in info.splitlines() if ":" in l}
        self.key_id, self.secret = fields["Key ID"], fields["Secret key"]
        self.endpoint = f"http://127.0.0.1:{self.s3_port}"

    def g(self, *args):
        return subprocess.run([self.bin, "-c", self.conf, *args], check=True, capture_output=True, text=True).stdout

    def get(self, key):
        """GET an object with a hand-made SigV4 signature (no boto3 needed)."""
        now = datetime.datetime.now(datetime.timezone.utc)
        amz, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
        host = f"127.0.0.1:{self.s3_port}"
        uri = "/" + self.bucket + "/" + urllib.parse.quote(key, safe="/~")
        empty = hashlib.sha256(b"").hexdigest()
        headers = f"host:{host}\nx-amz-content-sha256:{empty}\nx-amz-date:{amz}\n"
        signed = "host;x-amz-content-sha256;x-amz-date"
        creq = f"GET\n{uri}\n\n{headers}\n{signed}\n{empty}"
        scope = f"{day}/garage/s3/aws4_request"
        sts = f"AWS4-HMAC-SHA256\n{amz}\n{scope}\n{hashlib.sha256(creq.encode()).hexdigest()}"
        k = ("AWS4" + self.secret).encode()
        for part in (day, "garage", "s3", "aws4_request"):
            k = hmac.new(k, part.encode(), hashlib.sha256).digest()
        sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
        req = urllib.request.Request(self.endpoint + uri, headers={
            "x-amz-date": amz, "x-amz-content-sha256": empty,
            "Authorization": f"AWS4-HMAC-SHA256 Credential={self.key_id}/{scope}, SignedHeaders={signed}, Signature={sig}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.read(), r.headers.get("Content-Type")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def ffprobe(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration:stream=codec_type,codec_name",
                          "-of", "json", path], capture_output=True, text=True, check=True).stdout
    j = json.loads(out)
    return float(j["format"]["duration"]), sorted((s["codec_type"], s["codec_name"]) for s in j["streams"])


# ---------------------------------------------------------------- scenarios

class Ctx:
    def __init__(self, lk, hooks, worker, run_id, out_dir, garage):
        self.lk, self.hooks, self.worker, self.run_id, self.out_dir, self.garage = lk, hooks, worker, run_id, out_dir, garage
        self.started = []

    async def start(self, name, filepath, audio_only=False, s3=None):
        room = f"{self.run_id}-{name}"
        await self.lk.room.create_room(api.CreateRoomRequest(name=room))
        out = api.EncodedFileOutput(filepath=filepath)
        if s3:
            out.s3.CopyFrom(s3)
        info = await self.lk.egress.start_room_composite_egress(
            api.RoomCompositeEgressRequest(room_name=room, audio_only=audio_only, file_outputs=[out]))
        self.started.append(info.egress_id)
        return room, info

    async def stop(self, egress_id):
        return await self.lk.egress.stop_egress(api.StopEgressRequest(egress_id=egress_id))

    async def get(self, egress_id):
        res = await self.lk.egress.list_egress(api.ListEgressRequest(egress_id=egress_id))
        return res.items[0]


async def twirp_error(coro):
    t0 = time.monotonic()
    try:
        await coro
        return None, time.monotonic() - t0
    except api.TwirpError as e:
        return e, time.monotonic() - t0


async def scenario_video(c):
    print("-- room composite MP4 to the local dir: start, list, stop, webhooks, file")
    room, info = await c.start("video", "check/{room_name}-main.mp4")
    eid = info.egress_id
    check("start answers EGRESS_STARTING with a server egress id and room id",
          info.status == S.EGRESS_STARTING and eid.startswith("EG_") and info.room_id.startswith("RM_"), info)
    check("egress_started webhook", await c.hooks.wait(eid, "egress_started"), seq(c.hooks, eid))
    check("egress_updated ACTIVE webhook", await c.hooks.wait(eid, "egress_updated", S.EGRESS_ACTIVE), seq(c.hooks, eid))
    by_room = await c.lk.egress.list_egress(api.ListEgressRequest(room_name=room))
    check("list_egress(room) shows it ACTIVE", [(i.egress_id, i.status) for i in by_room.items] == [(eid, S.EGRESS_ACTIVE)], by_room)
    active = await c.lk.egress.list_egress(api.ListEgressRequest(active=True))
    check("list_egress(active) includes it", eid in [i.egress_id for i in active.items])
    err, _ = await twirp_error(c.lk.egress.update_stream(api.UpdateStreamRequest(egress_id=eid, add_output_urls=["rtmp://127.0.0.1/x"])))
    check("update_stream on a file egress is refused (invalid_argument)", err and err.code == "invalid_argument", err)
    await asyncio.sleep(1.5)
    stopped = await c.stop(eid)
    check("stop_egress answers EGRESS_ENDING", stopped.status == S.EGRESS_ENDING, stopped)
    ended = await c.hooks.wait(eid, "egress_ended")
    check("egress_ended COMPLETE", ended and ended.status == S.EGRESS_COMPLETE, ended)
    check("webhook order started, updated ACTIVE, updated ENDING, ended COMPLETE", seq(c.hooks, eid) == [
        ("egress_started", "EGRESS_STARTING"), ("egress_updated", "EGRESS_ACTIVE"),
        ("egress_updated", "EGRESS_ENDING"), ("egress_ended", "EGRESS_COMPLETE")], seq(c.hooks, eid))
    if not ended:
        return
    f = ended.file_results[0] if ended.file_results else None
    expected = os.path.join(c.out_dir, "check", f"{room}-main.mp4")
    check("file_results[0]: filename, location, size", f and f.filename == f"check/{room}-main.mp4"
          and f.location == expected and os.path.getsize(expected) == f.size > 0, f)
    check("file_results[0]: started_at/ended_at in ns, duration = ended - started",
          f and f.started_at > 10**18 and f.ended_at - f.started_at == f.duration and 1.3e9 < f.duration < 3e9, f)
    check("legacy `file` result is filled too", ended.WhichOneof("result") == "file" and ended.file == f)
    check("details say the StopEgress API ended it", ended.details == "End reason: StopEgress API", ended.details)
    check("manifest stored next to the file",
          ended.manifest_location == os.path.join(c.out_dir, "check", f"{eid}.json") and os.path.exists(ended.manifest_location),
          ended.manifest_location)
    dur, streams = ffprobe(expected)
    check("ffprobe: H.264 + AAC, duration matches file_results", streams == [("audio", "aac"), ("video", "h264")]
          and abs(dur - f.duration / 1e9) < 0.25, (dur, streams))
    stored = await c.get(eid)
    check("list_egress(egress_id) has the final info", stored.status == S.EGRESS_COMPLETE and stored.file_results[0].location == expected)
    active = await c.lk.egress.list_egress(api.ListEgressRequest(active=True))
    check("list_egress(active) no longer includes it", eid not in [i.egress_id for i in active.items])
    err, took = await twirp_error(c.stop(eid))
    check("stop_egress after the end: failed_precondition", err and err.code == "failed_precondition", err)
    note(f"stop_egress on an ended egress took {took:.1f}s to answer {err.code if err else 'OK'} (no handler subscribed any more)")
    raw = next((r for r in c.hooks.raw if eid in r and "egress_ended" in r), "")
    check("webhook JSON is camelCase protojson (egressInfo, fileResults)", '"egressInfo"' in raw and '"fileResults"' in raw)


async def scenario_audio(c):
    print("-- audio-only room composite: OGG/Opus, DEFAULT file type, path without extension")
    room, info = await c.start("audio", "check/{room_name}-audio", audio_only=True)
    eid = info.egress_id
    await c.hooks.wait(eid, "egress_updated", S.EGRESS_ACTIVE)
    await asyncio.sleep(1.0)
    await c.stop(eid)
    ended = await c.hooks.wait(eid, "egress_ended")
    ok = check("audio-only ends COMPLETE with an .ogg", ended and ended.status == S.EGRESS_COMPLETE
               and ended.file_results[0].filename == f"check/{room}-audio.ogg", ended)
    check("audio-only uses the SDK source type", ended and ended.source_type == api.EgressSourceType.EGRESS_SOURCE_TYPE_SDK)
    if ok:
        dur, streams = ffprobe(ended.file_results[0].location)
        check("ffprobe: Opus only", streams == [("audio", "opus")] and abs(dur - ended.file_results[0].duration / 1e9) < 0.25, (dur, streams))


async def scenario_limit(c):
    print(f"-- session limit (--max-duration {MAX_DURATION}s)")
    room, info = await c.start("limit", "check/{room_name}.mp4")
    eid = info.egress_id
    ended = await c.hooks.wait(eid, "egress_ended", timeout=MAX_DURATION + 20)
    check("egress_ended LIMIT_REACHED, 413 'Session limit reached'", ended and ended.status == S.EGRESS_LIMIT_REACHED
          and ended.error_code == 413 and ended.error == "Session limit reached", ended)
    check("limit: webhooks started, updated ACTIVE, ended (no ENDING)", seq(c.hooks, eid) == [
        ("egress_started", "EGRESS_STARTING"), ("egress_updated", "EGRESS_ACTIVE"),
        ("egress_ended", "EGRESS_LIMIT_REACHED")], seq(c.hooks, eid))
    if ended and ended.file_results and ended.file_results[0].location:
        f = ended.file_results[0]
        dur, _ = ffprobe(f.location)
        check("limit: the file is still stored and lasts the limit", abs(f.duration / 1e9 - MAX_DURATION) < 0.3
              and abs(dur - MAX_DURATION) < 0.3 and os.path.getsize(f.location) == f.size, (dur, f))
    else:
        check("limit: the file is still stored", False, ended)


async def scenario_faults(c):
    print("-- faults through the admin API")
    c.worker.call("POST", "/faults", {"kind": "fail_midway", "delay_ms": 500})
    room, info = await c.start("failmidway", "check/{room_name}.mp4")
    eid = info.egress_id
    ended = await c.hooks.wait(eid, "egress_ended")
    check("fail_midway: ACTIVE then FAILED (500) with an error, no file", ended and ended.status == S.EGRESS_FAILED
          and ended.error_code == 500 and ended.error and not ended.file_results[0].location
          and seq(c.hooks, eid) == [("egress_started", "EGRESS_STARTING"), ("egress_updated", "EGRESS_ACTIVE"),
                                    ("egress_ended", "EGRESS_FAILED")], (seq(c.hooks, eid), ended))

    c.worker.call("POST", "/faults", {"kind": "abort", "delay_ms": 300})
    room, info = await c.start("abort", "check/{room_name}.mp4")
    eid = info.egress_id
    ended = await c.hooks.wait(eid, "egress_ended")
    check("abort: STARTING then ABORTED (412 'Start signal not received')", ended and ended.status == S.EGRESS_ABORTED
          and ended.error_code == 412 and ended.error == "Start signal not received"
          and seq(c.hooks, eid) == [("egress_started", "EGRESS_STARTING"), ("egress_ended", "EGRESS_ABORTED")],
          (seq(c.hooks, eid), ended))

    c.worker.call("POST", "/faults", {"kind": "upload_failure"})
    room, info = await c.start("uploadfail", "check/{room_name}.mp4")
    eid = info.egress_id
    await c.hooks.wait(eid, "egress_updated", S.EGRESS_ACTIVE)
    await asyncio.sleep(0.5)
    await c.stop(eid)
    ended = await c.hooks.wait(eid, "egress_ended")
    check("upload_failure: ENDING then FAILED (400 '... upload failed ...'), nothing stored",
          ended and ended.status == S.EGRESS_FAILED and ended.error_code == 400 and "upload failed" in ended.error
          and not os.path.exists(os.path.join(c.out_dir, "check", f"{room}.mp4")), (seq(c.hooks, eid), ended))

    # Stop while still STARTING (a long abort delay keeps it there).
    c.worker.call("POST", "/faults", {"kind": "abort", "delay_ms": 5000})
    room, info = await c.start("earlystop", "check/{room_name}.mp4")
    stopped = await c.stop(info.egress_id)
    ended = await c.hooks.wait(info.egress_id, "egress_ended")
    check("stop during STARTING: ABORTED 412 'Stop called before pipeline could start'",
          stopped.status == S.EGRESS_ABORTED and ended and ended.status == S.EGRESS_ABORTED
          and ended.error == "Stop called before pipeline could start", (stopped, ended))


async def scenario_s3(c):
    g = c.garage
    print(f"-- S3 upload to Garage at {g.endpoint} (path style)")
    s3 = api.S3Upload(access_key=g.key_id, secret=g.secret, region="garage", endpoint=g.endpoint,
                      bucket=g.bucket, force_path_style=True)
    room, info = await c.start("s3", "rec/{room_name}.mp4", s3=s3)
    eid = info.egress_id
    check("the stored request has redacted credentials",
          info.room_composite.file_outputs[0].s3.access_key == "{access_key}"
          and info.room_composite.file_outputs[0].s3.secret == "{secret}", info.room_composite)
    await c.hooks.wait(eid, "egress_updated", S.EGRESS_ACTIVE)
    await asyncio.sleep(1.0)
    await c.stop(eid)
    ended = await c.hooks.wait(eid, "egress_ended", timeout=30)
    key = f"rec/{room}.mp4"
    ok = check("S3: COMPLETE, location {endpoint}/{bucket}/{key}", ended and ended.status == S.EGRESS_COMPLETE
               and ended.file_results[0].location == f"{g.endpoint}/{g.bucket}/{key}", ended)
    if ok:
        data, ctype = g.get(key)
        path = os.path.join(c.out_dir, "from-s3.mp4")
        with open(path, "wb") as f:
            f.write(data)
        dur, streams = ffprobe(path)
        check("S3: object downloads, size and content type match, ffprobe H.264 + AAC",
              len(data) == ended.file_results[0].size and ctype == "video/mp4"
              and streams == [("audio", "aac"), ("video", "h264")], (len(data), ctype, streams))
        check("S3: manifest uploaded", ended.manifest_location == f"{g.endpoint}/{g.bucket}/rec/{eid}.json"
              and json.loads(g.get(f"rec/{eid}.json")[0])["egress_id"] == eid, ended.manifest_location)

    bad = api.S3Upload(access_key=g.key_id, secret=g.secret, region="garage", endpoint=g.endpoint,
                       bucket="no-such-bucket", force_path_style=True)
    room, info = await c.start("s3bad", "rec/{room_name}.mp4", s3=bad)
    await c.hooks.wait(info.egress_id, "egress_updated", S.EGRESS_ACTIVE)
    await c.stop(info.egress_id)
    ended = await c.hooks.wait(info.egress_id, "egress_ended", timeout=60)
    check("S3 to a missing bucket: FAILED 400 'S3 upload failed'", ended and ended.status == S.EGRESS_FAILED
          and ended.error_code == 400 and ended.error.startswith("S3 upload failed"), ended)


async def scenario_admin(c):
    listing = c.worker.call("GET", "/egresses")
    check("GET /egresses lists every egress this worker ran", [e["egress_id"] for e in listing] == c.started,
          [e["egress_id"] for e in listing])


async def scenario_kill(c):
    print("-- worker killed mid-egress (POST /kill)")
    room, info = await c.start("kill", "check/{room_name}.mp4")
    eid = info.egress_id
    await c.hooks.wait(eid, "egress_updated", S.EGRESS_ACTIVE)
    c.worker.call("POST", "/kill")
    c.worker.proc.wait(5)
    check("the worker exits", c.worker.proc.returncode is not None, c.worker.proc.returncode)
    stored = await c.get(eid)
    note(f"after the kill the server still lists the egress as {S.Name(stored.status)}")
    check("the server keeps the killed egress ACTIVE (nobody reports its end)", stored.status == S.EGRESS_ACTIVE)
    active = await c.lk.egress.list_egress(api.ListEgressRequest(active=True))
    check("... and lists it with active=true", eid in [i.egress_id for i in active.items])
    err, took = await twirp_error(c.stop(eid))
    note(f"stop_egress on the killed egress: {err.code + ' ' + repr(err.message) if err else 'OK'} after {took:.1f}s")
    check("stop_egress on the killed egress fails", err is not None)
    await asyncio.sleep(2)
    check("no egress_ended webhook for the killed egress", not any(ev == "egress_ended" for ev, _, _ in c.hooks.for_egress(eid)),
          seq(c.hooks, eid))
    stored = await c.get(eid)
    note(f"after that stop attempt the server lists it as {S.Name(stored.status)}")


async def run(args, env, hooks, worker, out_dir, garage):
    lk = api.LiveKitAPI(env["MEETREC_LIVEKIT_API_URL"], env["MEETREC_LIVEKIT_API_KEY"], env["MEETREC_LIVEKIT_API_SECRET"])
    c = Ctx(lk, hooks, worker, f"chk{secrets.token_hex(3)}", out_dir, garage)
    try:
        scenarios = [scenario_video, scenario_audio, scenario_limit, scenario_faults]
        if garage:
            scenarios.append(scenario_s3)
        scenarios += [scenario_admin, scenario_kill]
        for sc in scenarios:
            try:
                await sc(c)
            except Exception as exc:
                check(f"{sc.__name__} ran without an exception", False, repr(exc))
        check("every webhook verified (signature and sha256)", not hooks.errors, hooks.errors)
    finally:
        await lk.aclose()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker", default=os.environ.get("EGRESS_WORKER_BIN"), help="prebuilt egress-worker binary")
    ap.add_argument("--no-s3", action="store_true", help="skip the Garage S3 scenario")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="egress-worker-check-")
    print(f"work dir {tmp}")
    binary = args.worker
    if not binary:
        binary = os.path.join(tmp, "egress-worker")
        print("building the worker ...", flush=True)
        subprocess.run(["go", "build", "-o", binary, "."], cwd=HERE, check=True)

    hooks = Hooks(os.environ.get("MEETREC_LIVEKIT_API_KEY", "meetrec-test-key"),
                  os.environ.get("MEETREC_LIVEKIT_API_SECRET", "meetrec-test-secret-which-is-long-enough"))
    lkdir, out_dir = os.path.join(tmp, "livekit"), os.path.join(tmp, "out")
    worker = garage = None
    try:
        env = start_livekit(lkdir, hooks.url)
        hooks.receiver = api.WebhookReceiver(api.TokenVerifier(env["MEETREC_LIVEKIT_API_KEY"], env["MEETREC_LIVEKIT_API_SECRET"]))
        print(f"LiveKit {env['MEETREC_LIVEKIT_API_URL']}, redis {env['MEETREC_LIVEKIT_REDIS']}, webhooks {hooks.url}")
        worker = Worker(binary, env["MEETREC_LIVEKIT_REDIS"], out_dir, os.path.join(tmp, "worker.log"))
        print(f"worker admin {worker.admin}")
        gbin = shutil.which("garage") or os.path.expanduser("~/.cargo/bin/garage")
        if not args.no_s3 and os.access(gbin, os.X_OK):
            os.makedirs(os.path.join(tmp, "garage"))
            garage = Garage(gbin, os.path.join(tmp, "garage"))
            garage.setup()
        else:
            note("S3 scenario skipped (no garage binary or --no-s3)")
        asyncio.run(run(args, env, hooks, worker, out_dir, garage))
    except Exception as exc:
        check("set-up", False, repr(exc))
    finally:
        if worker:
            worker.stop()
        if garage:
            garage.stop()
        subprocess.run([os.path.join(REPO, "scripts/livekit-server.sh"), "stop", lkdir])
        hooks.server.shutdown()

    failed = [r for r in results if not r[0]]
    print(f"\n==== {len(results) - len(failed)}/{len(results)} checks passed ====")
    for _, name, detail in failed:
        print(f"FAILED: {name}\n        {detail}")
    for text in observations:
        print(f"note: {text}")
    if failed or args.keep:
        print(f"logs kept in {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
