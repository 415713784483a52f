#!/usr/bin/env python3
"""Conformance checks of the LiveKit emulator against LiveKit's official Python SDK.

Run by a Rust integration test, with this handshake on stdin/stdout:

1. This script starts a webhook receiver on 127.0.0.1 (any free port) and prints
   ``WEBHOOK_URL http://127.0.0.1:PORT/webhook``.
2. The test starts an emulator that sends its webhooks there, then writes
   ``EMULATOR <url> <api_key> <api_secret>`` on stdin.
3. The script runs its checks, printing ``ok <name>`` or ``FAIL <name>: <reason>`` for
   each, then ``N passed, M failed``; it exits 0 only when nothing failed.

Every check goes through the SDK (``livekit-api``) where the SDK can express it, so a
pass means the real client library accepts what the emulator sends. The raw-HTTP checks
cover what the SDK hides: webhook JSON casing, Twirp JSON responses, plain-text 401s.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import sys
import threading
import time
import uuid
import warnings
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Optional

import aiohttp
from aiohttp import web
from livekit import api

# Test keys are short; PyJWT warns about every token signed with them.
warnings.filterwarnings("ignore", message=r".*HMAC key.*")

HANDSHAKE_TIMEOUT_S = 60.0
DEFAULT_CHECK_TIMEOUT_S = 15.0
EGRESS_END_TIMEOUT_S = 30.0
# A safety net over all checks; each check also has its own deadline.
OVERALL_TIMEOUT_S = 120.0

WEBHOOK_CONTENT_TYPE = "application/webhook+json"
DATA_PAYLOAD = b'{"type":"screenRecordingLimitReached"}'


class CheckFailed(Exception):
    """A check's expectation did not hold; the message is the reason printed."""


def expect(condition: bool, reason: str) -> None:
    if not condition:
        raise CheckFailed(reason)


@dataclass
class Webhook:
    """One webhook request exactly as it arrived."""

    body: bytes
    authorization: str
    content_type: str
    received_at: float
    # Filled in by `Context.verify`: the SDK's parsed event, or why it refused the webhook.
    event: Optional[api.WebhookEvent] = None
    error: Optional[str] = None
    verified: bool = False

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Context:
    """What the checks share: connection details and what earlier checks produced."""

    url: str = ""
    api_key: str = ""
    api_secret: str = ""
    lk: Optional[api.LiveKitAPI] = None
    http: Optional[aiohttp.ClientSession] = None
    webhooks: list[Webhook] = field(default_factory=list)
    room: str = field(default_factory=lambda: f"py-sdk-{uuid.uuid4().hex[:10]}")
    identity: str = "py-alice"
    egress_id: Optional[str] = None

    @property
    def expected_filename(self) -> str:
        return f"recordings/py-{self.room}.mp4"

    def receiver(self) -> api.WebhookReceiver:
        return api.WebhookReceiver(api.TokenVerifier(self.api_key, self.api_secret))

    def verify(self, hook: Webhook) -> Optional[api.WebhookEvent]:
        """Verifies a webhook with the SDK once, remembering the outcome."""
        if not hook.verified:
            hook.verified = True
            try:
                hook.event = self.receiver().receive(hook.text, hook.authorization)
            except Exception as error:  # the SDK raises plain Exceptions and jwt errors
                hook.error = f"{type(error).__name__}: {error}"
        return hook.event

    def require_egress(self) -> str:
        if not self.egress_id:
            raise CheckFailed("no egress to inspect (start_egress failed)")
        return self.egress_id

    def egress_hooks(self) -> list[Webhook]:
        """This run's egress webhooks, in arrival order."""
        egress_id = self.require_egress()
        hooks = []
        for hook in self.webhooks:
            try:
                info = hook.json().get("egressInfo") or {}
            except ValueError:
                continue
            if info.get("egressId") == egress_id:
                hooks.append(hook)
        return hooks

    def find_egress_hook(self, event: str) -> Optional[Webhook]:
        for hook in self.egress_hooks():
            if hook.json().get("event") == event:
                return hook
        return None

    def admin_url(self, path: str) -> str:
        return f"{self.url}/admin/{path}"

    async def admin_room(self) -> dict:
        assert self.http is not None
        async with self.http.get(self.admin_url(f"rooms/{self.room}")) as resp:
            expect(resp.status == 200, f"admin room view answered HTTP {resp.status}")
            return await resp.json()


class Report:
    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def ok(self, name: str) -> None:
        self.passed += 1
        emit(f"ok {name}")

    def fail(self, name: str, reason: str) -> None:
        self.failed += 1
        # One line per check, whatever the reason contains.
        reason = " ".join(str(reason).split()) or "(no reason given)"
        emit(f"FAIL {name}: {reason}")

    def summary(self) -> None:
        emit(f"{self.passed} passed, {self.failed} failed")


def emit(line: str) -> None:
    print(line, flush=True)


async def expect_twirp_error(call: Awaitable[Any], code: str) -> api.TwirpError:
    try:
        result = await call
    except api.TwirpError as error:
        expect(error.code == code, f"expected Twirp code {code}, got {error}")
        return error
    raise CheckFailed(f"expected Twirp error {code}, the call succeeded with {result!r}")


# --- Webhook receiver ---------------------------------------------------------------


async def start_webhook_server(ctx: Context) -> tuple[web.AppRunner, str]:
    async def receive(request: web.Request) -> web.Response:
        # Keep the exact bytes: the signature covers them, and re-serialising would not.
        ctx.webhooks.append(
            Webhook(
                body=await request.read(),
                authorization=request.headers.get("Authorization", ""),
                content_type=request.headers.get("Content-Type", ""),
                received_at=time.monotonic(),
            )
        )
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/webhook", receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    # Bind the socket ourselves so the chosen port is known without private attributes.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    site = web.SockSite(runner, sock)
    await site.start()
    port = sock.getsockname()[1]
    return runner, f"http://127.0.0.1:{port}/webhook"


async def read_stdin_line(timeout: float) -> str:
    """Reads one line from stdin without blocking the event loop.

    A daemon thread does the blocking read so that a test harness that never answers
    cannot keep the interpreter alive after the timeout (an executor thread would).
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[str] = loop.create_future()

    def deliver(line: str) -> None:
        if not future.done():
            future.set_result(line)

    def reader() -> None:
        try:
            line = sys.stdin.readline()
        except Exception:
            line = ""
        try:
            loop.call_soon_threadsafe(deliver, line)
        except RuntimeError:
            pass  # the loop is gone: we already gave up waiting

    threading.Thread(target=reader, name="stdin-reader", daemon=True).start()
    return await asyncio.wait_for(future, timeout)


# --- Checks ---------------------------------------------------------------------------


async def check_create_room(ctx: Context) -> None:
    room = await ctx.lk.room.create_room(api.CreateRoomRequest(name=ctx.room))
    expect(room.name == ctx.room, f"room name is {room.name!r}, expected {ctx.room!r}")
    expect(room.sid.startswith("RM_"), f"room sid {room.sid!r} does not start with RM_")


async def check_join_and_list_participants(ctx: Context) -> None:
    async with ctx.http.post(
        ctx.admin_url(f"rooms/{ctx.room}/participants"), json={"identity": ctx.identity}
    ) as resp:
        expect(resp.status == 201, f"admin join answered HTTP {resp.status}: {await resp.text()}")
    listed = await ctx.lk.room.list_participants(api.ListParticipantsRequest(room=ctx.room))
    identities = [p.identity for p in listed.participants]
    expect(ctx.identity in identities, f"{ctx.identity!r} not in participants {identities}")


async def check_update_room_metadata(ctx: Context) -> None:
    metadata = json.dumps({"recording": {"state": "active", "by": "py-sdk"}})
    room = await ctx.lk.room.update_room_metadata(
        api.UpdateRoomMetadataRequest(room=ctx.room, metadata=metadata)
    )
    expect(room.metadata == metadata, f"response metadata is {room.metadata!r}")
    view = await ctx.admin_room()
    expect(view.get("metadata") == metadata, f"admin view metadata is {view.get('metadata')!r}")


async def check_send_data(ctx: Context) -> None:
    await ctx.lk.room.send_data(
        api.SendDataRequest(room=ctx.room, data=DATA_PAYLOAD, kind=api.DataPacket.Kind.RELIABLE)
    )
    messages = (await ctx.admin_room()).get("data_messages") or []
    expect(bool(messages), "the room received no data message")
    last = messages[-1]
    expect(
        last.get("text") == DATA_PAYLOAD.decode(),
        f"last data message text is {last.get('text')!r}",
    )
    expect(last.get("kind") == "RELIABLE", f"last data message kind is {last.get('kind')!r}")


async def check_start_egress(ctx: Context) -> None:
    info = await ctx.lk.egress.start_room_composite_egress(
        api.RoomCompositeEgressRequest(
            room_name=ctx.room,
            layout="speaker-light",
            file_outputs=[
                api.EncodedFileOutput(
                    file_type=api.EncodedFileType.MP4,
                    # A template: the emulator, like Egress, expands {room_name}.
                    filepath="recordings/py-{room_name}.mp4",
                )
            ],
        )
    )
    expect(info.egress_id.startswith("EG_"), f"egress id {info.egress_id!r} lacks EG_")
    ctx.egress_id = info.egress_id
    expect(
        info.status == api.EgressStatus.EGRESS_STARTING,
        f"status is {api.EgressStatus.Name(info.status)}, expected EGRESS_STARTING",
    )
    expect(info.room_id.startswith("RM_"), f"room id {info.room_id!r} lacks RM_")
    expect(info.room_name == ctx.room, f"room name is {info.room_name!r}")


async def check_list_active_egress(ctx: Context) -> None:
    egress_id = ctx.require_egress()
    await asyncio.sleep(1.5)
    # Poll briefly past the first look, in case a loaded machine starts the egress late.
    deadline = time.monotonic() + 5.0
    while True:
        listed = await ctx.lk.egress.list_egress(
            api.ListEgressRequest(room_name=ctx.room, active=True)
        )
        mine = [item for item in listed.items if item.egress_id == egress_id]
        if mine and mine[0].status == api.EgressStatus.EGRESS_ACTIVE:
            break
        if time.monotonic() >= deadline:
            seen = [(i.egress_id, api.EgressStatus.Name(i.status)) for i in listed.items]
            raise CheckFailed(f"egress not listed as ACTIVE; active list is {seen}")
        await asyncio.sleep(0.2)
    # Unix nanoseconds: anything after 2001 is above 1e18.
    expect(mine[0].started_at > 10**18, f"started_at {mine[0].started_at} is not in ns")


async def check_stop_egress(ctx: Context) -> None:
    info = await ctx.lk.egress.stop_egress(api.StopEgressRequest(egress_id=ctx.require_egress()))
    expect(
        info.status == api.EgressStatus.EGRESS_ENDING,
        f"status is {api.EgressStatus.Name(info.status)}, expected EGRESS_ENDING",
    )


async def check_egress_complete(ctx: Context) -> None:
    egress_id = ctx.require_egress()
    deadline = time.monotonic() + EGRESS_END_TIMEOUT_S
    hook = ctx.find_egress_hook("egress_ended")
    while hook is None and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        hook = ctx.find_egress_hook("egress_ended")
    expect(hook is not None, f"no egress_ended webhook within {EGRESS_END_TIMEOUT_S:.0f} s")

    event = ctx.verify(hook)
    expect(event is not None, f"the SDK refused the egress_ended webhook: {hook.error}")
    info = event.egress_info
    expect(
        info.status == api.EgressStatus.EGRESS_COMPLETE,
        f"egress_ended status is {api.EgressStatus.Name(info.status)} ({info.error!r})",
    )
    expect(len(info.file_results) == 1, f"{len(info.file_results)} file results, expected 1")
    file = info.file_results[0]
    expect(
        file.filename == ctx.expected_filename,
        f"filename is {file.filename!r}, expected {ctx.expected_filename!r}",
    )
    expect(file.size > 0, f"size is {file.size}")
    expect(file.duration > 0, f"duration is {file.duration}")
    expect(os.path.isfile(file.location), f"location {file.location!r} is not a file")
    on_disk = os.path.getsize(file.location)
    expect(on_disk == file.size, f"file on disk has {on_disk} bytes, size says {file.size}")

    listed = await ctx.lk.egress.list_egress(api.ListEgressRequest(egress_id=egress_id))
    statuses = [(i.egress_id, api.EgressStatus.Name(i.status)) for i in listed.items]
    expect(
        len(listed.items) == 1
        and listed.items[0].egress_id == egress_id
        and listed.items[0].status == api.EgressStatus.EGRESS_COMPLETE,
        f"ListEgress by id gives {statuses}",
    )


async def check_webhooks_verify_with_sdk(ctx: Context) -> None:
    expect(bool(ctx.webhooks), "no webhook was received")
    problems = []
    for hook in ctx.webhooks:
        if ctx.verify(hook) is None:
            problems.append(f"SDK refused a webhook: {hook.error}")
        if hook.authorization.startswith("Bearer"):
            problems.append("Authorization starts with Bearer")
        if hook.content_type != WEBHOOK_CONTENT_TYPE:
            problems.append(f"Content-Type is {hook.content_type!r}")
    expect(not problems, "; ".join(sorted(set(problems))))
    # Room events are signed the same way; make sure some were among those verified.
    room_events = {
        hook.event.event for hook in ctx.webhooks if hook.event and hook.event.room.name == ctx.room
    }
    missing = {"room_started", "participant_joined"} - room_events
    expect(not missing, f"no verified {sorted(missing)} webhook for the room")


def keys_with_underscore(value: Any, path: str = "") -> list[str]:
    """Every JSON object key (at any depth) containing `_`, as a dotted path."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else key
            if "_" in key:
                found.append(here)
            found.extend(keys_with_underscore(item, here))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(keys_with_underscore(item, f"{path}[{index}]"))
    return found


def camel_case_keys(value: Any, path: str = "") -> list[str]:
    """Every JSON object key (at any depth) with an upper-case letter, as a dotted path."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else key
            if re.search(r"[A-Z]", key):
                found.append(here)
            found.extend(camel_case_keys(item, here))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(camel_case_keys(item, f"{path}[{index}]"))
    return found


async def check_webhook_json_casing(ctx: Context) -> None:
    hooks = ctx.egress_hooks()
    expect(bool(hooks), "no egress webhook was received")
    for hook in hooks:
        body = hook.json()
        name = body.get("event", "?")
        for key in ("egressInfo", "id", "createdAt"):
            expect(key in body, f"{name}: top-level key {key!r} missing (keys {sorted(body)})")
        expect(str(body["id"]).startswith("EV_"), f"{name}: id {body['id']!r} lacks EV_")
        created = body["createdAt"]
        expect(
            isinstance(created, str) and created.isdigit(),
            f"{name}: createdAt is {created!r}, expected a string of digits",
        )
        info = body["egressInfo"]
        for key in ("egressId", "roomName"):
            expect(key in info, f"{name}: egressInfo lacks {key!r} (keys {sorted(info)})")
        snake = keys_with_underscore(body)
        expect(not snake, f"{name}: snake_case keys {snake[:5]}")

    started = ctx.find_egress_hook("egress_started")
    expect(started is not None, "no egress_started webhook")
    started_info = started.json()["egressInfo"]
    expect(
        "status" not in started_info,
        f"egress_started has status {started_info.get('status')!r}; STARTING (0) must be omitted",
    )

    ended = ctx.find_egress_hook("egress_ended")
    expect(ended is not None, "no egress_ended webhook")
    ended_info = ended.json()["egressInfo"]
    expect(
        ended_info.get("status") == "EGRESS_COMPLETE",
        f"egress_ended status is {ended_info.get('status')!r}",
    )
    results = ended_info.get("fileResults") or []
    expect(bool(results), "egress_ended has no fileResults")
    expect(
        isinstance(results[0].get("size"), str),
        f"fileResults[0].size is {results[0].get('size')!r}, expected an int64 string",
    )


async def check_webhook_order(ctx: Context) -> None:
    sequence = []
    for hook in ctx.egress_hooks():
        body = hook.json()
        # protojson omits the zero enum value, so a missing status is STARTING.
        sequence.append((body.get("event"), body["egressInfo"].get("status", "EGRESS_STARTING")))
    expected = [
        ("egress_started", "EGRESS_STARTING"),
        ("egress_updated", "EGRESS_ACTIVE"),
        ("egress_updated", "EGRESS_ENDING"),
        ("egress_ended", "EGRESS_COMPLETE"),
    ]
    expect(sequence == expected, f"got {sequence}")


async def check_tampered_webhook_rejected_by_sdk(ctx: Context) -> None:
    hook = ctx.find_egress_hook("egress_ended") or (ctx.webhooks[0] if ctx.webhooks else None)
    expect(hook is not None, "no webhook to tamper with")
    receiver = ctx.receiver()
    # The untouched webhook must pass, or a rejection below would prove nothing.
    receiver.receive(hook.text, hook.authorization)

    body = bytearray(hook.body)
    # Change one ASCII letter or digit near the middle, keeping the body valid UTF-8.
    middle = len(body) // 2
    index = next(
        (i for i in range(middle, len(body)) if chr(body[i]).isalnum() and body[i] < 0x80), None
    )
    expect(index is not None, "no ASCII character to change in the body")
    body[index] = ord("1") if body[index] != ord("1") else ord("2")
    tampered = body.decode("utf-8")
    try:
        receiver.receive(tampered, hook.authorization)
    except Exception:
        return
    raise CheckFailed("the SDK accepted a webhook whose body was changed")


async def check_stop_ended_egress_fails_precondition(ctx: Context) -> None:
    egress_id = ctx.require_egress()
    await expect_twirp_error(
        ctx.lk.egress.stop_egress(api.StopEgressRequest(egress_id=egress_id)),
        api.TwirpErrorCode.FAILED_PRECONDITION,
    )


def file_request(room: str) -> api.RoomCompositeEgressRequest:
    return api.RoomCompositeEgressRequest(
        room_name=room,
        layout="speaker-light",
        file_outputs=[
            api.EncodedFileOutput(
                file_type=api.EncodedFileType.MP4, filepath="recordings/py-{room_name}.mp4"
            )
        ],
    )


async def check_start_in_missing_room_not_found(ctx: Context) -> None:
    missing = f"{ctx.room}-missing"
    await expect_twirp_error(
        ctx.lk.egress.start_room_composite_egress(file_request(missing)),
        api.TwirpErrorCode.NOT_FOUND,
    )


async def check_injected_start_failure(ctx: Context) -> None:
    async with ctx.http.post(
        ctx.admin_url("faults"), json={"fault": "start_error", "code": "unavailable"}
    ) as resp:
        expect(resp.status in (200, 201), f"admin fault answered HTTP {resp.status}")
    # The SDK retries 5xx only against LiveKit Cloud hosts, so this is a single attempt.
    error = await expect_twirp_error(
        ctx.lk.egress.start_room_composite_egress(file_request(ctx.room)),
        api.TwirpErrorCode.UNAVAILABLE,
    )
    expect(error.status == 503, f"HTTP status is {error.status}, expected 503")


async def check_wrong_secret_is_plain_text_401(ctx: Context) -> None:
    wrong = api.LiveKitAPI(ctx.url, ctx.api_key, "wrong-secret")
    try:
        try:
            result = await wrong.room.list_rooms(api.ListRoomsRequest())
        except api.TwirpError as error:
            # The body is not Twirp JSON, so the SDK has no code to report, only the status.
            expect(error.status == 401, f"SDK error has HTTP status {error.status}: {error}")
        else:
            raise CheckFailed(f"a token signed with the wrong secret was accepted: {result}")
    finally:
        await wrong.aclose()

    token = (
        api.AccessToken(ctx.api_key, "wrong-secret")
        .with_grants(api.VideoGrants(room_list=True))
        .to_jwt()
    )
    async with ctx.http.post(
        f"{ctx.url}/twirp/livekit.RoomService/ListRooms",
        data=b"{}",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    ) as resp:
        text = await resp.text()
        expect(resp.status == 401, f"HTTP {resp.status}, expected 401")
    try:
        json.loads(text)
    except ValueError:
        return
    raise CheckFailed(f"the 401 body is JSON ({text.strip()!r}); LiveKit sends plain text")


async def check_twirp_json_response_casing(ctx: Context) -> None:
    egress_id = ctx.require_egress()
    token = (
        api.AccessToken(ctx.api_key, ctx.api_secret)
        .with_grants(api.VideoGrants(room_record=True))
        .to_jwt()
    )

    async def list_egress(body: dict) -> dict:
        async with ctx.http.post(
            f"{ctx.url}/twirp/livekit.Egress/ListEgress",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        ) as resp:
            text = await resp.text()
            expect(resp.status == 200, f"HTTP {resp.status} for {body}: {text.strip()}")
        response = json.loads(text)
        items = response.get("items") or []
        expect(len(items) == 1, f"{len(items)} items for {body}, expected 1")
        return items[0]

    item = await list_egress({"egress_id": egress_id})
    expect(item.get("egress_id") == egress_id, f"egress_id is {item.get('egress_id')!r}")
    started_at = item.get("started_at")
    expect(
        isinstance(started_at, str) and started_at.isdigit() and int(started_at) > 0,
        f"started_at is {started_at!r}, expected a non-zero int64 string",
    )
    # EmitUnpopulated: zero values are present, not omitted as in webhooks.
    expect("error_code" in item, "error_code is missing (zero values must be emitted)")
    expect(item["error_code"] == 0, f"error_code is {item['error_code']!r}")
    expect(item.get("status") == "EGRESS_COMPLETE", f"status is {item.get('status')!r}")
    camel = camel_case_keys(item)
    expect(not camel, f"camelCase keys in the response: {camel[:5]}")

    # protojson requests accept lowerCamel names too.
    same = await list_egress({"egressId": egress_id})
    expect(same.get("egress_id") == egress_id, f"camelCase request gave {same.get('egress_id')!r}")


CHECKS: list[tuple[str, Callable[[Context], Awaitable[None]], float]] = [
    ("create_room", check_create_room, DEFAULT_CHECK_TIMEOUT_S),
    ("join_and_list_participants", check_join_and_list_participants, DEFAULT_CHECK_TIMEOUT_S),
    ("update_room_metadata", check_update_room_metadata, DEFAULT_CHECK_TIMEOUT_S),
    ("send_data", check_send_data, DEFAULT_CHECK_TIMEOUT_S),
    ("start_egress", check_start_egress, DEFAULT_CHECK_TIMEOUT_S),
    ("list_active_egress", check_list_active_egress, DEFAULT_CHECK_TIMEOUT_S),
    ("stop_egress", check_stop_egress, DEFAULT_CHECK_TIMEOUT_S),
    ("egress_complete", check_egress_complete, EGRESS_END_TIMEOUT_S + 10),
    ("webhooks_verify_with_sdk", check_webhooks_verify_with_sdk, DEFAULT_CHECK_TIMEOUT_S),
    ("webhook_json_casing", check_webhook_json_casing, DEFAULT_CHECK_TIMEOUT_S),
    ("webhook_order", check_webhook_order, DEFAULT_CHECK_TIMEOUT_S),
    (
        "tampered_webhook_rejected_by_sdk",
        check_tampered_webhook_rejected_by_sdk,
        DEFAULT_CHECK_TIMEOUT_S,
    ),
    (
        "stop_ended_egress_fails_precondition",
        check_stop_ended_egress_fails_precondition,
        DEFAULT_CHECK_TIMEOUT_S,
    ),
    (
        "start_in_missing_room_not_found",
        check_start_in_missing_room_not_found,
        DEFAULT_CHECK_TIMEOUT_S,
    ),
    ("injected_start_failure", check_injected_start_failure, DEFAULT_CHECK_TIMEOUT_S),
    ("wrong_secret_is_plain_text_401", check_wrong_secret_is_plain_text_401, DEFAULT_CHECK_TIMEOUT_S),
    ("twirp_json_response_casing", check_twirp_json_response_casing, DEFAULT_CHECK_TIMEOUT_S),
]


async def run_check(
    report: Report,
    ctx: Context,
    name: str,
    check: Callable[[Context], Awaitable[None]],
    timeout: float,
) -> None:
    try:
        await asyncio.wait_for(check(ctx), timeout)
    except CheckFailed as failure:
        report.fail(name, str(failure))
    except asyncio.TimeoutError:
        report.fail(name, f"timed out after {timeout:.0f} s")
    except Exception as error:
        report.fail(name, f"{type(error).__name__}: {error}")
    else:
        report.ok(name)


# --- Driver ---------------------------------------------------------------------------


async def run(report: Report) -> None:
    ctx = Context()
    runner, webhook_url = await start_webhook_server(ctx)
    try:
        emit(f"WEBHOOK_URL {webhook_url}")
        try:
            line = await read_stdin_line(HANDSHAKE_TIMEOUT_S)
        except asyncio.TimeoutError:
            report.fail("handshake", f"no EMULATOR line within {HANDSHAKE_TIMEOUT_S:.0f} s")
            return
        parts = line.split()
        if len(parts) != 4 or parts[0] != "EMULATOR":
            report.fail("handshake", f"expected 'EMULATOR <url> <key> <secret>', got {line!r}")
            return
        _, ctx.url, ctx.api_key, ctx.api_secret = parts
        ctx.url = ctx.url.rstrip("/")

        ctx.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        ctx.lk = api.LiveKitAPI(ctx.url, ctx.api_key, ctx.api_secret)
        try:
            for name, check, timeout in CHECKS:
                await run_check(report, ctx, name, check, timeout)
        finally:
            await ctx.lk.aclose()
            await ctx.http.close()
    finally:
        await runner.cleanup()


def main() -> int:
    report = Report()
    try:
        asyncio.run(asyncio.wait_for(run(report), OVERALL_TIMEOUT_S))
    except asyncio.TimeoutError:
        report.fail("script", f"did not finish within {OVERALL_TIMEOUT_S:.0f} s")
    except BaseException as error:  # a crash must still end with a FAIL line and a count
        report.fail("script", f"crashed: {type(error).__name__}: {error}")
    report.summary()
    return 0 if report.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
