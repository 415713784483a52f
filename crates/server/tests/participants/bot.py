"""A real LiveKit participant for tests, on LiveKit's Python real-time SDK.

    bot.py --url ws://HOST:PORT --token JWT [--publish camera,microphone]

Joins the room with a join token (the tests get it from meet-recorder's own token
endpoint), publishes synthetic tracks, and reports what a participant really sees as JSON
lines on stdout:

    {"event": "connected", "identity", "name", "sid", "permissions": {...}, "room": {...}}
    {"event": "room_metadata", "metadata": "<the room's new metadata>"}
    {"event": "data", "payload": "<utf-8>", "topic", "from"}
    {"event": "participant_connected" | "participant_disconnected", "identity"}
    {"event": "track_subscribed", "identity", "kind", "source"}
    {"event": "published" | "publish_failed", "source", "error"?}
    {"event": "permissions", "identity", "permissions": {...}} (the server changed them)
    {"event": "disconnected", "reason"}

Commands, one per line on stdin: `publish SOURCE` (camera, microphone, screen_share,
unknown: a source the token may not allow) and `leave`. It leaves when stdin closes.
"""

import argparse
import asyncio
import json
import math
import sys

from livekit import rtc

WIDTH, HEIGHT, FPS = 320, 240, 10
SAMPLE_RATE, CHANNELS, FRAME_SAMPLES = 48000, 1, 480

SOURCES = {
    "camera": rtc.TrackSource.SOURCE_CAMERA,
    "microphone": rtc.TrackSource.SOURCE_MICROPHONE,
    "screen_share": rtc.TrackSource.SOURCE_SCREENSHARE,
    "unknown": rtc.TrackSource.SOURCE_UNKNOWN,
}


def report(event: str, **fields) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


def permissions(participant: rtc.Participant) -> dict:
    p = participant.permissions
    return {
        "can_publish": p.can_publish,
        "can_subscribe": p.can_subscribe,
        "can_publish_data": p.can_publish_data,
        "can_publish_sources": [rtc.TrackSource.Name(s) for s in p.can_publish_sources],
        "can_update_metadata": p.can_update_metadata,
        "hidden": p.hidden,
        "recorder": getattr(p, "recorder", False),
    }


async def feed_video(source: rtc.VideoSource) -> None:
    """A moving grey ramp, so encoders see changing frames."""
    frame_index = 0
    while True:
        shade = (frame_index * 8) % 256
        data = bytes([shade, 255 - shade, 128, 255]) * (WIDTH * HEIGHT)
        source.capture_frame(rtc.VideoFrame(WIDTH, HEIGHT, rtc.VideoBufferType.RGBA, data))
        frame_index += 1
        await asyncio.sleep(1 / FPS)


async def feed_audio(source: rtc.AudioSource) -> None:
    """A 440 Hz tone."""
    phase = 0
    while True:
        frame = rtc.AudioFrame.create(SAMPLE_RATE, CHANNELS, FRAME_SAMPLES)
        samples = frame.data
        for i in range(FRAME_SAMPLES):
            samples[i] = int(8000 * math.sin(2 * math.pi * 440 * (phase + i) / SAMPLE_RATE))
        phase += FRAME_SAMPLES
        await source.capture_frame(frame)


async def publish(room: rtc.Room, name: str, feeders: list) -> None:
    source = SOURCES[name]
    options = rtc.TrackPublishOptions(source=source)
    try:
        if name == "microphone":
            audio = rtc.AudioSource(SAMPLE_RATE, CHANNELS)
            track = rtc.LocalAudioTrack.create_audio_track(name, audio)
            feeders.append(asyncio.create_task(feed_audio(audio)))
        else:
            video = rtc.VideoSource(WIDTH, HEIGHT)
            track = rtc.LocalVideoTrack.create_video_track(name, video)
            feeders.append(asyncio.create_task(feed_video(video)))
        await asyncio.wait_for(room.local_participant.publish_track(track, options), 15)
        report("published", source=name)
    except Exception as error:  # the SDK raises several types; the test reads the message
        report("publish_failed", source=name, error=str(error) or type(error).__name__)


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--publish", default="camera,microphone")
    args = parser.parse_args()

    room = rtc.Room()
    closed = asyncio.Event()

    room.on("room_metadata_changed", lambda old, new: report("room_metadata", metadata=new))
    room.on(
        "data_received",
        lambda packet: report(
            "data",
            payload=packet.data.decode("utf-8", "replace"),
            topic=packet.topic,
            **{"from": packet.participant.identity if packet.participant else None},
        ),
    )
    room.on("participant_connected", lambda p: report("participant_connected", identity=p.identity))
    room.on(
        "participant_permissions_changed",
        lambda participant, *_: report(
            "permissions", identity=participant.identity, permissions=permissions(participant)
        ),
    )
    room.on(
        "participant_disconnected", lambda p: report("participant_disconnected", identity=p.identity)
    )
    room.on(
        "track_subscribed",
        lambda track, publication, participant: report(
            "track_subscribed",
            identity=participant.identity,
            kind=rtc.TrackKind.Name(track.kind),
            source=rtc.TrackSource.Name(publication.source),
        ),
    )

    def on_disconnected(reason) -> None:
        report("disconnected", reason=str(reason))
        closed.set()

    room.on("disconnected", on_disconnected)

    try:
        await room.connect(args.url, args.token, rtc.RoomOptions(auto_subscribe=True))
    except Exception as error:
        report("connect_failed", error=str(error) or type(error).__name__)
        return 1
    local = room.local_participant
    report(
        "connected",
        identity=local.identity,
        name=local.name,
        sid=local.sid,
        permissions=permissions(local),
        room={"name": room.name, "metadata": room.metadata},
        remote=[p.identity for p in room.remote_participants.values()],
    )

    feeders: list = []
    for name in filter(None, args.publish.split(",")):
        await publish(room, name, feeders)

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while not closed.is_set():
        line_task = asyncio.create_task(reader.readline())
        closed_task = asyncio.create_task(closed.wait())
        done, _ = await asyncio.wait({line_task, closed_task}, return_when=asyncio.FIRST_COMPLETED)
        if closed_task in done:
            line_task.cancel()
            break
        closed_task.cancel()
        line = line_task.result().decode().strip()
        if not line or line == "leave":
            break
        command, _, argument = line.partition(" ")
        if command == "publish" and argument in SOURCES:
            await publish(room, argument, feeders)
        else:
            report("unknown_command", line=line)

    for task in feeders:
        task.cancel()
    await room.disconnect()
    report("left")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
