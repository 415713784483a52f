#!/usr/bin/env python3
"""Runs one scenario against the real LiveKit server and against the LiveKit emulator,
and compares what each answers and sends.

    scripts/netns.sh ~/.cache/meet-recorder/venv/bin/python \\
        crates/server/tests/conformance/compare_real_server.py \\
        --server-bin ~/.cache/meet-recorder/bin/livekit-server \\
        --emulator-bin target/debug/meet-recorder

The script starts both itself on free loopback ports: the real server (with its own Redis)
through ``scripts/livekit-server.sh``, the emulator as ``meet-recorder livekit-emulator``,
with the same key pair, and one webhook receiver for both. Run it inside the network
namespace of ``scripts/netns.sh``: the real-time participant needs a non-loopback address
for WebRTC.

What is compared, each time through LiveKit's Python SDK (protobuf) and as raw Twirp JSON:
RoomService (CreateRoom, ListRooms, UpdateRoomMetadata, ListParticipants, UpdateParticipant, SendData,
DeleteRoom), Egress (StartRoomCompositeEgress on a missing room, ListEgress, StopEgress and
UpdateLayout of unknown ids), bad tokens, missing grants, bad routes, methods and content
types; and every webhook (headers, signature, event order, bodies) while a participant joins
and leaves (a real-time SDK participant on the real server, a simulated one through the
emulator's admin API).

Values that legitimately vary (ids, timestamps, random TURN passwords, tokens echoed in
error texts) are normalised. Every other difference is reported DIFFERENT unless it is in
DOCUMENTED below, with its reason. The script exits 0 only when every difference is
documented; 1 when one is not; 2 when the setup failed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Optional

import aiohttp
from aiohttp import web
from google.protobuf.json_format import MessageToDict
from livekit import api

# Test secrets are short for PyJWT's taste; it warns on every token.
warnings.filterwarnings("ignore", message=r".*HMAC key.*")

API_KEY = "meetrec-compare-key"
API_SECRET = "meetrec-compare-secret-which-is-long-enough"
OVERALL_TIMEOUT_S = 150.0
WEBHOOK_WAIT_S = 30.0
MISSING = "<absent>"


# --- Documented differences -----------------------------------------------------------


@dataclass(frozen=True)
class Documented:
    """A difference we keep on purpose: `items` and `paths` are regular expressions
    matched (re.search) against the compared item's name and the differing JSON path."""

    id: str
    items: str
    paths: str
    reason: str


DOCUMENTED: list[Documented] = [
    Documented(
        "egress-worker",
        r"^egress\.start_existing_room\.",
        r".*",
        "The emulator is LiveKit *and* Egress: it records. The real server here has no egress "
        "worker, so after psrpc's retries (~20 s) it answers `unavailable` \"no response from "
        "servers\". Making the emulator do that would make it useless for recording tests.",
    ),
    Documented(
        "egress-webhooks",
        r"^webhooks\.egress_events\[",
        r".*",
        "Follows from egress-worker: only the emulator's egress runs, so only it sends "
        "egress_started / egress_updated / egress_ended.",
    ),
    Documented(
        "egress-recorder-in-room",
        r"^webhooks\.body\[R-egress/",
        r"\.room\.activeRecording$",
        "Follows from egress-worker: the emulator's recorder is in the room when it closes, "
        "so the room is `activeRecording`, as it would be on a server with Egress.",
    ),
    Documented(
        "client-sdk-fields",
        r"participant",
        r"(\.|^)(client_protocol|clientProtocol|capabilities)$",
        "Reported by the connecting client SDK (the Python real-time SDK here). The emulator's "
        "participants are simulated and have no client.",
    ),
    Documented(
        "lazy-room-counters",
        r"^webhooks\.body\[",
        r"\.room\.(numParticipants|numPublishers)$",
        "The real server refreshes a room's participant counters at most every 5 s "
        "(rtc/room.go roomUpdateInterval), so webhook rooms carry stale counts (usually 0, "
        "omitted); the emulator's are live, which tests can rely on.",
    ),
    Documented(
        "protojson-whitespace",
        r"^format\.",
        r".*",
        "Go's protojson inserts random spaces after separators on purpose (detrand) so nobody "
        "relies on bytes; the emulator writes compact JSON. Bodies are compared parsed; the "
        "webhook signature covers the exact bytes on both.",
    ),
    Documented(
        "token-without-exp",
        r"^auth\.bad_token\.no_exp\.",
        r".*",
        "Deliberately stricter: v1.13.5 accepts a token with no `exp` (protocol "
        "auth/verifier.go does not require it); the emulator refuses it with a plain-text 401, "
        "so a client that would send never-expiring tokens fails in development. The service "
        "always sends `exp`; emulator_protocol.rs pins the refusal.",
    ),
]


# --- Small helpers ----------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_jwt(claims: dict, secret: str, alg: str = "HS256") -> str:
    """A JWT signed by hand, so tokens the SDK refuses to make can be sent too."""
    digest = {"HS256": hashlib.sha256, "HS512": hashlib.sha512}[alg]
    head = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims).encode())
    mac = hmac.new(secret.encode(), f"{head}.{body}".encode(), digest).digest()
    return f"{head}.{body}.{b64url(mac)}"


def grant_token(key: str = API_KEY, secret: str = API_SECRET, **grants: Any) -> str:
    return api.AccessToken(key, secret).with_grants(api.VideoGrants(**grants)).to_jwt()


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# --- Normalisation and diff -------------------------------------------------------------

ID_RE = re.compile(r"^(RM|PA|EG|EV|TR|SR|AJ|IN)_[A-Za-z0-9]{4,}$")
TIME_KEYS = {
    "created_at", "createdAt", "creation_time", "creationTime", "creation_time_ms",
    "creationTimeMs", "joined_at", "joinedAt", "joined_at_ms", "joinedAtMs", "started_at",
    "startedAt", "ended_at", "endedAt", "updated_at", "updatedAt",
}
RANDOM_KEYS = {"turn_password", "turnPassword"}


def normalise(value: Any, key: str = "") -> Any:
    """Replaces what legitimately varies by placeholders that keep type and zero-ness:
    a zero timestamp stays "0" or 0, a non-zero one becomes "<time>" (a string) or
    "<time:int>" (a number), so int64-as-string and zero values are still compared."""
    if isinstance(value, dict):
        return {k: normalise(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v, key) for v in value]
    if key in TIME_KEYS and value not in (0, "0", None):
        return "<time>" if isinstance(value, str) else "<time:int>"
    if key in RANDOM_KEYS and isinstance(value, str) and value:
        return "<random>"
    if isinstance(value, str) and ID_RE.match(value):
        return f"<{value[:2]}_id>"
    return value


def diff(real: Any, emu: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    if isinstance(real, dict) and isinstance(emu, dict):
        out = []
        for key in list(real) + [k for k in emu if k not in real]:
            here = f"{path}.{key}"
            if key not in real:
                out.append((here, MISSING, emu[key]))
            elif key not in emu:
                out.append((here, real[key], MISSING))
            else:
                out.extend(diff(real[key], emu[key], here))
        return out
    if isinstance(real, list) and isinstance(emu, list) and len(real) == len(emu):
        out = []
        for index, (a, b) in enumerate(zip(real, emu)):
            out.extend(diff(a, b, f"{path}[{index}]"))
        return out
    if type(real) is not type(emu) or real != emu:
        return [(path or ".", real, emu)]
    return []


def documented_for(item: str, path: str) -> Optional[Documented]:
    for entry in DOCUMENTED:
        if re.search(entry.items, item) and re.search(entry.paths, path):
            return entry
    return None


# --- Webhook receiver -------------------------------------------------------------------


@dataclass
class Hook:
    body: bytes
    headers: dict[str, str]
    at: float

    def json(self) -> dict:
        return json.loads(self.body)

    @property
    def event(self) -> str:
        return self.json().get("event", "")

    @property
    def room(self) -> str:
        return (self.json().get("room") or {}).get("name", "")


class Receiver:
    """One aiohttp server; /hooks/<target> keeps each target's webhooks apart."""

    def __init__(self) -> None:
        self.hooks: dict[str, list[Hook]] = {"real": [], "emulator": []}
        self.runner: Optional[web.AppRunner] = None
        self.port = 0

    async def start(self) -> None:
        async def receive(request: web.Request) -> web.Response:
            target = request.match_info["target"]
            self.hooks.setdefault(target, []).append(
                Hook(await request.read(), dict(request.headers), time.monotonic())
            )
            return web.Response(status=200)

        app = web.Application()
        app.router.add_post("/hooks/{target}", receive)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self.runner, sock).start()

    def url(self, target: str) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/{target}"

    async def stop(self) -> None:
        if self.runner:
            await self.runner.cleanup()


# --- Targets ----------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    url: str
    ws_url: str
    receiver: Receiver
    lk: Optional[api.LiveKitAPI] = None
    http: Optional[aiohttp.ClientSession] = None
    obs: dict[str, Any] = field(default_factory=dict)
    took: dict[str, float] = field(default_factory=dict)
    rtc_rooms: dict[str, Any] = field(default_factory=dict)

    @property
    def hooks(self) -> list[Hook]:
        return self.receiver.hooks[self.name]

    async def open(self) -> None:
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        self.lk = api.LiveKitAPI(self.url, API_KEY, API_SECRET, failover=False)

    async def close(self) -> None:
        for room in self.rtc_rooms.values():
            try:
                await room.disconnect()
            except Exception:
                pass
        if self.lk:
            await self.lk.aclose()
        if self.http:
            await self.http.close()

    # A participant joins and leaves: a real-time SDK client on the real server, a
    # simulated participant (admin API) on the emulator.
    async def join(self, room: str, identity: str, name: str) -> None:
        if self.name == "real":
            from livekit import rtc

            token = (
                api.AccessToken(API_KEY, API_SECRET)
                .with_identity(identity)
                .with_name(name)
                .with_grants(api.VideoGrants(room_join=True, room=room))
                .to_jwt()
            )
            client = rtc.Room()
            await asyncio.wait_for(client.connect(self.ws_url, token), 20)
            self.rtc_rooms[identity] = client
        else:
            async with self.http.post(
                f"{self.url}/admin/rooms/{room}/participants",
                json={"identity": identity, "name": name},
            ) as resp:
                if resp.status != 201:
                    raise RuntimeError(f"admin join answered {resp.status}: {await resp.text()}")

    async def leave(self, room: str, identity: str) -> None:
        if self.name == "real":
            client = self.rtc_rooms.pop(identity)
            await client.disconnect()
        else:
            async with self.http.delete(
                f"{self.url}/admin/rooms/{room}/participants/{identity}"
            ) as resp:
                if resp.status != 204:
                    raise RuntimeError(f"admin leave answered {resp.status}: {await resp.text()}")

    # Recording what each call gives.
    async def sdk(self, item: str, call: Callable[[], Awaitable[Any]]) -> None:
        started = time.monotonic()
        try:
            result = await call()
        except api.TwirpError as error:
            value = {
                "error": {
                    "class": type(error).__name__,
                    "code": error.code,
                    "status": error.status,
                    "message": error.message,
                    "metadata": dict(error.metadata),
                }
            }
        except Exception as error:  # what the SDK raises besides Twirp errors
            value = {"exception": type(error).__name__, "text": str(error)}
        else:
            value = {"ok": MessageToDict(result, preserving_proto_field_name=True)}
        self.took[item] = time.monotonic() - started
        self.obs[item] = value

    async def raw(
        self,
        item: str,
        path: str,
        body: Any = None,
        *,
        token: Optional[str] = None,
        authorization: Optional[str] = None,
        content_type: Optional[str] = "application/json",
        method: str = "POST",
        query: str = "",
    ) -> None:
        headers = {}
        if content_type is not None:
            headers["Content-Type"] = content_type
        if authorization is not None:
            headers["Authorization"] = authorization
        elif token is not None:
            headers["Authorization"] = f"Bearer {token}"
        data = body if isinstance(body, bytes) else json.dumps(body if body is not None else {}).encode()
        skip = [] if content_type is not None else ["Content-Type"]
        started = time.monotonic()
        async with self.http.request(
            method,
            f"{self.url}/twirp/{path}{query}",
            data=data,
            headers=headers,
            skip_auto_headers=skip,
        ) as resp:
            text = await resp.text()
            value: dict[str, Any] = {
                "status": resp.status,
                "content_type": resp.headers.get("Content-Type", MISSING),
            }
        self.took[item] = time.monotonic() - started
        try:
            value["json"] = json.loads(text)
            kind = "responses" if value["status"] == 200 else "errors"
            self.obs.setdefault(f"format.twirp_json_{kind}", set()).add(json_layout(text))
        except ValueError:
            for secret in filter(None, [token, authorization and authorization[7:]]):
                text = text.replace(secret, "<token>")
            value["text"] = text
        self.obs[item] = value

    async def wait_hook(self, room: str, event: str, timeout: float = WEBHOOK_WAIT_S) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(h.room == room and h.event == event for h in self.hooks):
                return True
            await asyncio.sleep(0.05)
        return False


def json_layout(text: str) -> str:
    """Whether a JSON text is written compactly. Go's protojson adds a space after some
    commas, at random per binary (detrand); Go's encoding/json (Twirp errors) does not."""
    compact = json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False)
    return "compact" if text.strip() == compact else "not compact"


# --- The scenario ------------------------------------------------------------------------


@dataclass
class Names:
    room: str
    deleted: str
    egress: str
    missing: str
    empty: str = ""

    def label(self, room: str) -> str:
        return {
            self.room: "R",
            self.deleted: "R-deleted",
            self.egress: "R-egress",
            self.missing: "R-missing",
            self.empty: "R-empty-name",
        }.get(room, room)


async def scenario(t: Target, n: Names) -> None:
    lk = t.lk
    assert lk is not None
    admin = lambda room: grant_token(room_admin=True, room=room)  # noqa: E731
    record = grant_token(room_record=True)
    listing = grant_token(room_list=True)
    create = grant_token(room_create=True)

    # Egress listing first, while neither side has any egress; then the start on an
    # existing room runs in the background (the real server takes ~20 s to refuse it).
    await lk.room.create_room(api.CreateRoomRequest(name=n.egress, empty_timeout=120))
    await t.sdk("egress.list.all.sdk", lambda: lk.egress.list_egress(api.ListEgressRequest()))
    await t.raw("egress.list.all.raw", "livekit.Egress/ListEgress", {}, token=record)
    await t.sdk(
        "egress.list.by_room.sdk",
        lambda: lk.egress.list_egress(api.ListEgressRequest(room_name=n.egress)),
    )
    await t.raw(
        "egress.list.by_room.raw", "livekit.Egress/ListEgress", {"roomName": n.egress}, token=record
    )
    await t.sdk(
        "egress.list.active.sdk", lambda: lk.egress.list_egress(api.ListEgressRequest(active=True))
    )
    await t.raw(
        "egress.list.active.raw", "livekit.Egress/ListEgress", {"active": True}, token=record
    )
    egress_task = asyncio.create_task(
        t.sdk(
            "egress.start_existing_room.sdk",
            lambda: lk.egress.start_room_composite_egress(
                api.RoomCompositeEgressRequest(
                    room_name=n.egress,
                    audio_only=True,
                    file_outputs=[
                        api.EncodedFileOutput(
                            file_type=api.EncodedFileType.OGG, filepath="compare/{room_name}.ogg"
                        )
                    ],
                )
            ),
        )
    )

    # Rooms.
    await t.sdk(
        "rooms.create.sdk",
        lambda: lk.room.create_room(
            api.CreateRoomRequest(name=n.room, empty_timeout=60, departure_timeout=1)
        ),
    )
    await t.raw(
        "rooms.create_existing.raw",
        "livekit.RoomService/CreateRoom",
        {"name": n.room, "metadata": "ignored: the room exists", "emptyTimeout": 5},
        token=create,
    )
    await t.sdk(
        "rooms.list.by_name.sdk", lambda: lk.room.list_rooms(api.ListRoomsRequest(names=[n.room]))
    )
    await t.raw(
        "rooms.list.by_name.raw", "livekit.RoomService/ListRooms", {"names": [n.room]}, token=listing
    )
    await t.raw("rooms.list.all.raw", "livekit.RoomService/ListRooms", {}, token=listing)
    await t.raw(
        "rooms.create_empty_name.raw",
        "livekit.RoomService/CreateRoom",
        {"name": "", "empty_timeout": 1},
        token=create,
    )
    await t.sdk(
        "rooms.update_metadata.sdk",
        lambda: lk.room.update_room_metadata(
            api.UpdateRoomMetadataRequest(room=n.room, metadata='{"by":"sdk"}')
        ),
    )
    await t.raw(
        "rooms.update_metadata.raw",
        "livekit.RoomService/UpdateRoomMetadata",
        {"room": n.room, "metadata": '{"by":"raw"}'},
        token=admin(n.room),
    )
    await t.sdk(
        "rooms.list_participants.empty.sdk",
        lambda: lk.room.list_participants(api.ListParticipantsRequest(room=n.room)),
    )
    await t.raw(
        "rooms.list_participants.empty.raw",
        "livekit.RoomService/ListParticipants",
        {"room": n.room},
        token=admin(n.room),
    )
    await t.sdk(
        "rooms.send_data.sdk",
        lambda: lk.room.send_data(
            api.SendDataRequest(
                room=n.room, data=b'{"hello":1}', kind=api.DataPacket.Kind.RELIABLE, topic="t"
            )
        ),
    )
    await t.raw(
        "rooms.send_data.raw",
        "livekit.RoomService/SendData",
        {"room": n.room, "data": base64.b64encode(b"hi").decode(), "kind": "LOSSY"},
        token=admin(n.room),
    )
    await t.raw(
        "rooms.send_data.bad_nonce.raw",
        "livekit.RoomService/SendData",
        {"room": n.room, "data": "aGk=", "nonce": "aGk="},
        token=admin(n.room),
    )
    await t.sdk(
        "rooms.update_metadata.missing_room.sdk",
        lambda: lk.room.update_room_metadata(
            api.UpdateRoomMetadataRequest(room=n.missing, metadata="x")
        ),
    )
    await t.raw(
        "rooms.update_metadata.missing_room.raw",
        "livekit.RoomService/UpdateRoomMetadata",
        {"room": n.missing, "metadata": "x"},
        token=admin(n.missing),
    )
    await t.sdk(
        "rooms.list_participants.missing_room.sdk",
        lambda: lk.room.list_participants(api.ListParticipantsRequest(room=n.missing)),
    )
    await t.raw(
        "rooms.list_participants.missing_room.raw",
        "livekit.RoomService/ListParticipants",
        {"room": n.missing},
        token=admin(n.missing),
    )

    # Egress errors. The real server waits for psrpc (~3 s) on several of these, so the
    # slow ones run side by side.
    await t.sdk(
        "egress.start_missing_room.sdk",
        lambda: lk.egress.start_room_composite_egress(
            api.RoomCompositeEgressRequest(
                room_name=n.missing,
                file_outputs=[api.EncodedFileOutput(filepath="x.mp4")],
            )
        ),
    )
    await t.raw(
        "egress.start_missing_room.raw",
        "livekit.Egress/StartRoomCompositeEgress",
        {"room_name": n.missing, "file_outputs": [{"filepath": "x.mp4"}]},
        token=record,
    )
    await asyncio.gather(
        t.sdk(
            "rooms.send_data.missing_room.sdk",
            lambda: lk.room.send_data(api.SendDataRequest(room=n.missing, data=b"x")),
        ),
        t.raw(
            "rooms.send_data.missing_room.raw",
            "livekit.RoomService/SendData",
            {"room": n.missing, "data": "eA=="},
            token=admin(n.missing),
        ),
        t.sdk(
            "egress.stop_unknown.sdk",
            lambda: lk.egress.stop_egress(api.StopEgressRequest(egress_id="EG_unknown0000")),
        ),
        t.raw(
            "egress.stop_unknown.raw",
            "livekit.Egress/StopEgress",
            {"egress_id": "EG_unknown0001"},
            token=record,
        ),
        t.sdk(
            "egress.list_unknown_id.sdk",
            lambda: lk.egress.list_egress(api.ListEgressRequest(egress_id="EG_unknown0003")),
        ),
        t.raw(
            "egress.update_layout_unknown.raw",
            "livekit.Egress/UpdateLayout",
            {"egress_id": "EG_unknown0002", "layout": "grid"},
            token=record,
        ),
    )

    # Bad tokens: the auth middleware's plain-text 401s (and what is not one).
    now = int(time.time())
    room_list = {"roomList": True}
    bad_tokens = {
        "wrong_secret": f"Bearer {sign_jwt({'iss': API_KEY, 'nbf': now - 10, 'exp': now + 600, 'video': room_list}, 'not-the-secret')}",
        "expired": f"Bearer {sign_jwt({'iss': API_KEY, 'nbf': now - 600, 'exp': now - 120, 'video': room_list}, API_SECRET)}",
        "not_yet_valid": f"Bearer {sign_jwt({'iss': API_KEY, 'nbf': now + 600, 'exp': now + 1200, 'video': room_list}, API_SECRET)}",
        "hs512": f"Bearer {sign_jwt({'iss': API_KEY, 'nbf': now - 10, 'exp': now + 600, 'video': room_list}, API_SECRET, 'HS512')}",
        "unknown_key": f"Bearer {sign_jwt({'iss': 'nobody', 'nbf': now - 10, 'exp': now + 600, 'video': room_list}, API_SECRET)}",
        "no_issuer": f"Bearer {sign_jwt({'nbf': now - 10, 'exp': now + 600, 'video': room_list}, API_SECRET)}",
        "no_exp": f"Bearer {sign_jwt({'iss': API_KEY, 'nbf': now - 10, 'video': room_list}, API_SECRET)}",
        "not_bearer": "Basic abc",
        "garbage": "Bearer x.y.z",
        "empty_bearer": "Bearer ",
    }
    for name, authorization in bad_tokens.items():
        await t.raw(
            f"auth.bad_token.{name}.raw",
            "livekit.RoomService/ListRooms",
            {},
            authorization=authorization,
        )
    await t.raw(
        "auth.token_in_query.raw",
        "livekit.RoomService/ListRooms",
        {"names": [n.room]},
        query=f"?access_token={listing}",
    )
    wrong = api.LiveKitAPI(t.url, API_KEY, "not-the-secret", failover=False)
    try:
        await t.sdk("auth.bad_token.wrong_secret.sdk", lambda: wrong.room.list_rooms(api.ListRoomsRequest()))
    finally:
        await wrong.aclose()

    # Tokens without the grant the call needs.
    missing_grants = [
        ("list_rooms.no_token", "livekit.RoomService/ListRooms", {}, None),
        ("list_rooms.create_grant", "livekit.RoomService/ListRooms", {}, create),
        ("list_rooms.join_grant", "livekit.RoomService/ListRooms", {},
         api.AccessToken(API_KEY, API_SECRET).with_identity("bob")
         .with_grants(api.VideoGrants(room_join=True, room=n.room)).to_jwt()),
        ("create_room.list_grant", "livekit.RoomService/CreateRoom", {"name": n.room}, listing),
        ("delete_room.admin_grant", "livekit.RoomService/DeleteRoom", {"room": n.room}, admin(n.room)),
        ("update_metadata.other_room", "livekit.RoomService/UpdateRoomMetadata",
         {"room": n.room, "metadata": "x"}, admin("other")),
        ("list_participants.other_room", "livekit.RoomService/ListParticipants",
         {"room": n.room}, admin("other")),
        ("list_participants.admin_no_room", "livekit.RoomService/ListParticipants",
         {"room": n.room}, grant_token(room_admin=True)),
        ("send_data.other_room", "livekit.RoomService/SendData",
         {"room": n.room, "data": "eA=="}, admin("other")),
        ("start_egress.admin_grant", "livekit.Egress/StartRoomCompositeEgress",
         {"room_name": n.room, "file_outputs": [{"filepath": "x.mp4"}]}, admin(n.room)),
        ("list_egress.admin_grant", "livekit.Egress/ListEgress", {}, admin(n.room)),
        ("stop_egress.list_grant", "livekit.Egress/StopEgress", {"egress_id": "EG_x"}, listing),
    ]
    for name, path, body, token in missing_grants:
        await t.raw(f"auth.missing_grant.{name}.raw", path, body, token=token)

    # Routes, methods, content types, bodies.
    await t.raw("route.unknown_method.raw", "livekit.RoomService/Nope", {}, token=listing)
    await t.raw("route.unknown_egress_method.raw", "livekit.Egress/StartTeleport", {}, token=record)
    await t.raw("route.unknown_service.raw", "livekit.Nope/ListRooms", {}, token=listing)
    await t.raw("route.unimplemented_service_method.raw", "livekit.Ingress/Nope", {}, token=listing)
    await t.raw("route.get.raw", "livekit.RoomService/ListRooms", {}, token=listing, method="GET")
    await t.raw(
        "route.text_plain.raw", "livekit.RoomService/ListRooms", {}, token=listing,
        content_type="text/plain",
    )
    await t.raw(
        "route.no_content_type.raw", "livekit.RoomService/ListRooms", {}, token=listing,
        content_type=None,
    )
    await t.raw(
        "route.json_with_charset.raw", "livekit.RoomService/ListRooms", {"names": [n.missing]},
        token=listing, content_type="application/json; charset=utf-8",
    )
    await t.raw(
        "route.malformed_json.raw", "livekit.RoomService/ListRooms", b"{nope", token=listing
    )
    await t.raw(
        "route.malformed_protobuf.raw", "livekit.RoomService/ListRooms",
        b"\xff\xff\xff\x0f\x01", token=listing, content_type="application/protobuf",
    )
    await t.raw(
        "route.unknown_json_field.raw", "livekit.RoomService/ListRooms",
        {"names": [n.missing], "bogus": 1}, token=listing,
    )

    # A participant joins and leaves; the room closes after its departure timeout.
    await t.join(n.room, "alice", "Alice")
    await t.wait_hook(n.room, "participant_joined")
    await asyncio.sleep(0.5)
    await t.sdk(
        "participants.list.sdk",
        lambda: lk.room.list_participants(api.ListParticipantsRequest(room=n.room)),
    )
    await t.raw(
        "participants.list.raw",
        "livekit.RoomService/ListParticipants",
        {"room": n.room},
        token=admin(n.room),
    )
    await t.raw(
        "participants.update.missing_identity.raw",
        "livekit.RoomService/UpdateParticipant",
        {"room": n.room, "identity": "nobody", "permission": {"can_publish": False}},
        token=admin(n.room),
    )
    await t.raw(
        "participants.update.missing_room.raw",
        "livekit.RoomService/UpdateParticipant",
        {"room": n.missing, "identity": "alice", "permission": {"can_publish": False}},
        token=admin(n.missing),
    )
    await t.leave(n.room, "alice")
    await t.wait_hook(n.room, "room_finished")

    # DeleteRoom, and deleting what is not there.
    await t.sdk(
        "rooms.create_for_delete.sdk",
        lambda: lk.room.create_room(api.CreateRoomRequest(name=n.deleted)),
    )
    await t.sdk("rooms.delete.sdk", lambda: lk.room.delete_room(api.DeleteRoomRequest(room=n.deleted)))
    await t.raw(
        "rooms.delete_again.raw", "livekit.RoomService/DeleteRoom", {"room": n.deleted}, token=create
    )
    await t.sdk(
        "rooms.delete_missing.sdk", lambda: lk.room.delete_room(api.DeleteRoomRequest(room=n.missing))
    )

    # The egress start on an existing room, then that room goes away.
    await egress_task
    await t.sdk("rooms.delete_egress_room.sdk", lambda: lk.room.delete_room(api.DeleteRoomRequest(room=n.egress)))
    for room in (n.deleted, n.egress, n.empty):
        await t.wait_hook(room, "room_finished")
    if t.name == "emulator":
        deadline = time.monotonic() + WEBHOOK_WAIT_S
        while time.monotonic() < deadline and not any(h.event == "egress_ended" for h in t.hooks):
            await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)  # anything late still gets compared


# --- Webhook items ------------------------------------------------------------------------


def describe_authorization(header: str, body: bytes) -> dict:
    """What a webhook's Authorization header is, without its varying values."""
    scheme = "Bearer" if header.startswith("Bearer ") else "raw JWT"
    token = header[7:] if scheme == "Bearer" else header
    try:
        head_b64, claims_b64, mac_b64 = token.split(".")
        head = json.loads(b64url_decode(head_b64))
        claims = json.loads(b64url_decode(claims_b64))
    except ValueError:
        return {"scheme": "not a JWT"}
    digest = hashlib.sha256 if head.get("alg") == "HS256" else hashlib.sha512
    expected = hmac.new(API_SECRET.encode(), f"{head_b64}.{claims_b64}".encode(), digest).digest()
    try:
        api.WebhookReceiver(api.TokenVerifier(API_KEY, API_SECRET)).receive(body.decode(), header)
        sdk_accepts = True
    except Exception:
        sdk_accepts = False
    nbf, exp, iat = claims.get("nbf"), claims.get("exp"), claims.get("iat")
    return {
        "scheme": scheme,
        "header": {k: head[k] for k in sorted(head)},
        "claims": sorted(claims),
        "claims_non_empty": sorted(k for k, v in claims.items() if v not in ("", None, {}, [])),
        "iss_is_api_key": claims.get("iss") == API_KEY,
        "exp_minus_nbf_s": (exp - nbf) if isinstance(exp, int) and isinstance(nbf, int) else None,
        "iat_equals_nbf": iat == nbf if iat is not None else MISSING,
        "sha256_is_b64_of_body": claims.get("sha256")
        == base64.b64encode(hashlib.sha256(body).digest()).decode(),
        "signature_valid": hmac.compare_digest(b64url_decode(mac_b64), expected),
        "sdk_webhook_receiver_accepts": sdk_accepts,
    }


def webhook_items(target: Target, names: Names) -> dict[str, Any]:
    items: dict[str, Any] = {}
    headers = set()
    auth = set()
    seps = set()
    per_room: dict[str, list[Hook]] = {}
    for hook in target.hooks:
        lower = {k.lower(): v for k, v in hook.headers.items()}
        headers.add(
            json.dumps(
                {
                    "content_type": lower.get("content-type", MISSING),
                    "user_agent": lower.get("user-agent", MISSING),
                },
                sort_keys=True,
            )
        )
        auth.add(json.dumps(describe_authorization(lower.get("authorization", ""), hook.body), sort_keys=True))
        seps.add(json_layout(hook.body.decode()))
        per_room.setdefault(names.label(hook.room), []).append(hook)
    items["webhooks.headers"] = [json.loads(h) for h in sorted(headers)]
    items["webhooks.authorization"] = [json.loads(a) for a in sorted(auth)]
    items["format.webhook_json"] = sorted(seps)
    for label in ("R", "R-deleted", "R-empty-name", "R-egress"):
        hooks = per_room.pop(label, [])
        room_hooks = [h for h in hooks if not h.event.startswith("egress_")]
        egress_hooks = [h for h in hooks if h.event.startswith("egress_")]
        items[f"webhooks.events[{label}]"] = [h.event for h in room_hooks]
        items[f"webhooks.egress_events[{label}]"] = [
            f"{h.event}:{h.json().get('egressInfo', {}).get('status', 'EGRESS_STARTING (omitted)')}"
            for h in egress_hooks
        ]
        seen: dict[str, int] = {}
        for hook in room_hooks:
            body = hook.json()
            who = (body.get("participant") or {}).get("identity")
            key = f"{hook.event}/{who}" if who else hook.event
            seen[key] = seen.get(key, 0) + 1
            items[f"webhooks.body[{label}/{key}#{seen[key]}]"] = body
    for label, hooks in per_room.items():
        items[f"webhooks.events[unexpected room {label}]"] = [h.event for h in hooks]
    return items


# --- Report --------------------------------------------------------------------------------


def compare(real: dict[str, Any], emu: dict[str, Any]) -> tuple[list[str], set[str], int]:
    lines = []
    seen_docs: set[str] = set()
    counts = {"same": 0, "documented": 0, "DIFFERENT": 0}
    for item in list(real) + [k for k in emu if k not in real]:
        a = normalise(real.get(item, MISSING))
        b = normalise(emu.get(item, MISSING))
        if isinstance(a, set):
            a = sorted(a)
        if isinstance(b, set):
            b = sorted(b)
        if item.startswith("rooms.list.all"):
            for side in (a, b):
                rooms = ((side or {}).get("json") or {}).get("rooms") if isinstance(side, dict) else None
                if isinstance(rooms, list):
                    rooms.sort(key=lambda r: r.get("name", ""))
        diffs = diff(a, b)
        if not diffs:
            counts["same"] += 1
            lines.append(f"  same                 {item}")
            continue
        undocumented = []
        reasons = []
        for path, x, y in diffs:
            entry = documented_for(item, path)
            if entry is None:
                undocumented.append((path, x, y))
            elif entry.id not in reasons:
                reasons.append(entry.id)
        if undocumented:
            counts["DIFFERENT"] += 1
            lines.append(f"  DIFFERENT            {item}")
            for path, x, y in undocumented:
                lines.append(f"      {path}:\n        real     {short(x)}\n        emulator {short(y)}")
        else:
            counts["documented"] += 1
            seen_docs.update(reasons)
            lines.append(f"  documented           {item}  [{', '.join(reasons)}]")
            for path, x, y in diffs:
                lines.append(f"      {path}: real {short(x, 90)} | emulator {short(y, 90)}")
    lines.append(
        f"\n{len(real.keys() | emu.keys())} items: {counts['same']} same, "
        f"{counts['documented']} documented difference(s), {counts['DIFFERENT']} DIFFERENT"
    )
    return lines, seen_docs, counts["DIFFERENT"]


def short(value: Any, limit: int = 400) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- Processes --------------------------------------------------------------------------------


def start_real_server(args: argparse.Namespace, work: Path, webhook_url: str) -> dict[str, str]:
    env = dict(
        os.environ,
        MEETREC_TEST_LIVEKIT_SERVER=str(Path(args.server_bin).expanduser().resolve()),
        MEETREC_LIVEKIT_API_KEY=API_KEY,
        MEETREC_LIVEKIT_API_SECRET=API_SECRET,
        # LiveKit's own defaults, which the emulator also uses for rooms created without
        # timeouts (livekit-server.sh shortens them for other tests).
        MEETREC_LIVEKIT_EMPTY_TIMEOUT="300",
        MEETREC_LIVEKIT_DEPARTURE_TIMEOUT="20",
    )
    # The comparison is with a server that has no egress worker (see egress-worker above).
    env.pop("MEETREC_EGRESS_WORKER", None)
    script = Path(args.repo) / "scripts" / "livekit-server.sh"
    out = subprocess.run(
        [str(script), "start", str(work / "livekit"), webhook_url],
        env=env, capture_output=True, text=True, timeout=60,
    )
    if out.returncode != 0:
        raise RuntimeError(f"livekit-server.sh failed: {out.stderr.strip()}")
    values = {}
    for line in out.stdout.splitlines():
        match = re.match(r'export (\w+)="(.*)"$', line.strip())
        if match:
            values[match.group(1)] = match.group(2)
    if values.get("MEETREC_LIVEKIT_API_KEY") != API_KEY:
        raise RuntimeError(f"livekit-server.sh used another key pair: {values}")
    return values


def stop_real_server(args: argparse.Namespace, work: Path) -> None:
    """`livekit-server.sh stop`, then makes sure: the server and its Redis must not outlive
    the script (they would keep the network namespace alive too)."""
    pid_files = [work / "livekit" / name for name in ("livekit.pid", "redis.pid")]
    pids = []
    for pid_file in pid_files:
        try:
            pids.append(int(pid_file.read_text().strip()))
        except (OSError, ValueError):
            pass
    script = Path(args.repo) / "scripts" / "livekit-server.sh"
    out = subprocess.run(
        [str(script), "stop", str(work / "livekit")], capture_output=True, text=True, timeout=30
    )
    if out.returncode != 0:
        log(f"livekit-server.sh stop exited {out.returncode}; stopping its processes here")
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
    deadline = time.monotonic() + 10
    for pid in pids:
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            time.sleep(0.1)
        if Path(f"/proc/{pid}").exists():
            log(f"process {pid} ignored SIGTERM; killing it")
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


async def start_emulator(
    args: argparse.Namespace, work: Path, webhook_url: str
) -> tuple[asyncio.subprocess.Process, str]:
    log_file = open(work / "emulator.log", "wb")
    process = await asyncio.create_subprocess_exec(
        str(Path(args.emulator_bin).expanduser()),
        "livekit-emulator",
        "--bind", "127.0.0.1:0",
        "--keys", f"{API_KEY}:{API_SECRET}",
        "--webhook-url", webhook_url,
        "--storage-dir", str(work / "egress"),
        stdout=asyncio.subprocess.PIPE,
        stderr=log_file,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = await asyncio.wait_for(process.stdout.readline(), max(0.1, deadline - time.monotonic()))
        if not line:
            break
        log_file.write(line)
        match = re.search(rb"LiveKit emulator listening on (http://\S+)", line)
        if match:
            async def drain() -> None:
                while chunk := await process.stdout.readline():
                    log_file.write(chunk)
            asyncio.get_running_loop().create_task(drain())
            return process, match.group(1).decode()
    raise RuntimeError(f"the emulator did not start; see {work / 'emulator.log'}")


# --- Main ---------------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    if not os.environ.get("MEETREC_NETNS_IP"):
        log("warning: MEETREC_NETNS_IP is unset; run this under scripts/netns.sh for WebRTC")
    work = Path(tempfile.mkdtemp(prefix="compare-livekit-"))
    receiver = Receiver()
    await receiver.start()
    emulator = None
    targets: list[Target] = []
    try:
        env = await asyncio.to_thread(start_real_server, args, work, receiver.url("real"))
        emulator, emulator_url = await start_emulator(args, work, receiver.url("emulator"))
        log(f"real server {env['MEETREC_LIVEKIT_API_URL']}, emulator {emulator_url}, work dir {work}")
        real = Target("real", env["MEETREC_LIVEKIT_API_URL"], env["MEETREC_LIVEKIT_WS_URL"], receiver)
        emu = Target("emulator", emulator_url, emulator_url.replace("http", "ws", 1), receiver)
        targets = [real, emu]
        base = f"cmp-{uuid.uuid4().hex[:8]}"
        names = Names(
            room=base, deleted=f"{base}-deleted", egress=f"{base}-egress", missing=f"{base}-missing"
        )
        for target in targets:
            await target.open()
        results = await asyncio.gather(
            *(asyncio.wait_for(scenario(t, names), OVERALL_TIMEOUT_S) for t in targets),
            return_exceptions=True,
        )
        for target, result in zip(targets, results):
            if isinstance(result, BaseException):
                log(f"the scenario failed on {target.name}: {type(result).__name__}: {result}")
                target.obs["scenario.completed"] = f"failed: {type(result).__name__}"
            else:
                target.obs["scenario.completed"] = True
        real_items = {**real.obs, **webhook_items(real, names)}
        emu_items = {**emu.obs, **webhook_items(emu, names)}

        lines, seen_docs, different = compare(real_items, emu_items)
        print("LiveKit emulator vs the real LiveKit server: same scenario, compared item by item")
        print("(ids, timestamps, TURN passwords and echoed tokens normalised)\n")
        print("\n".join(lines))
        if seen_docs:
            print("\nDocumented differences seen:")
            for entry in DOCUMENTED:
                if entry.id in seen_docs:
                    print(f"  [{entry.id}] {entry.reason}")
        unused = [e.id for e in DOCUMENTED if e.id not in seen_docs]
        if unused:
            print(f"\nDocumented differences not seen this run: {', '.join(unused)}")
        slow = [
            (item, real.took[item], emu.took.get(item, 0.0))
            for item in real.took
            if abs(real.took[item] - emu.took.get(item, 0.0)) > 1.0
        ]
        if slow:
            print("\nTiming (not compared; the real server waits for psrpc where nothing answers):")
            for item, a, b in slow:
                print(f"  {item}: real {a:.1f} s, emulator {b:.1f} s")
        verdict = "OK: only documented differences" if different == 0 else f"FAILED: {different} undocumented difference(s)"
        print(f"\n{verdict} (wall time {time.monotonic() - started:.1f} s)")
        return 0 if different == 0 else 1
    finally:
        for target in targets:
            await target.close()
        if emulator is not None and emulator.returncode is None:
            emulator.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(emulator.wait(), 10)
            except asyncio.TimeoutError:
                emulator.kill()
        await asyncio.to_thread(stop_real_server, args, work)
        await receiver.stop()
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    here = Path(__file__).resolve()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server-bin", required=True, help="the LiveKit server binary (v1.13.5)")
    parser.add_argument("--emulator-bin", required=True, help="the meet-recorder binary")
    parser.add_argument("--repo", default=str(here.parents[4]), help="the repository root")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (logs)")
    args = parser.parse_args()
    try:
        return asyncio.run(run(args))
    except Exception as error:
        print(f"setup failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
