"""`--measure`: when audio starts after a key or a webhook answer, from Asterisk's own event
timestamps, read by the bench over an ARI websocket of its own.

The platform's app filters its events (control/telephony/call.py CALL_EVENTS: no
PlaybackStarted). Rather than widen that filter, the bench registers a second Stasis app,
`bench-measure`, with `subscribeAll=true`: Asterisk then forwards it the events of every
channel, the platform's and native dialplan's alike, and its own eventFilter keeps only
what is timed here. The platform itself is untouched, but Asterisk does build each
channel event's JSON once more for this app: so this is on only in a measuring run, whose
CPU figures are not the bench's.

What is timed, per call (Asterisk stamps each event when it publishes it, in ms; the webhook
logs its answers in unix ms, on the same machine clock):
- audio started: the platform's `PlaybackStarted`; native dialplan's `ChannelDialplan` entering
  `Read` or `Playback` (dialplan has no playback events: this is the step that starts the
  prompt, a little before the file is open).
- key -> audio: a `ChannelDtmfReceived` to the next audio started on the channel, where no
  webhook answer came in between.
- key -> audio via the webhook: the same where the key led to a webhook first (the trigger
  flow's key 1): request, answer and the play.
- webhook answer -> audio: the webhook's log line for the call to the next audio started.
"""
from __future__ import annotations

import asyncio
import bisect
import json
import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

import aiohttp

APP = "bench-measure"
TYPES = ("ChannelDtmfReceived", "PlaybackStarted", "ChannelDialplan")
AUDIO_APPS = {"Read", "Playback"}
KINDS = ("key_audio", "key_hook_audio", "hook_audio")


@dataclass(frozen=True)
class Event:
    kind: str  # "key" or "audio"
    channel: str
    at_ms: float


def _ms(stamp: str) -> float:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp() * 1000


def parse(message: dict) -> Event | None:
    kind = message.get("type")
    if kind == "ChannelDtmfReceived":
        return Event("key", message["channel"]["id"], _ms(message["timestamp"]))
    if kind == "PlaybackStarted":
        target = message["playback"].get("target_uri", "")
        if target.startswith("channel:"):
            return Event("audio", target.removeprefix("channel:"), _ms(message["timestamp"]))
    if kind == "ChannelDialplan" and message.get("dialplan_app") in AUDIO_APPS:
        return Event("audio", message["channel"]["id"], _ms(message["timestamp"]))
    return None


class EventTap:
    """The bench's own ARI app, subscribed to every channel, in a thread of its own."""

    def __init__(self, port: int, user: str, password: str) -> None:
        self._base = f"127.0.0.1:{port}/ari"
        self._auth = aiohttp.BasicAuth(user, password)
        self._events: list[Event] = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> "EventTap":
        self._thread.start()
        if not self._ready.wait(20) or self._error is not None:
            raise SystemExit(f"the measuring ARI websocket did not open: {self._error}")
        return self

    def take(self) -> list[Event]:
        """Every event since the last take."""
        with self._lock:
            events, self._events = self._events, []
        return events

    def stop(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._main())
        except BaseException as exc:  # reported by start(), or lost events show in the counts
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        async with aiohttp.ClientSession(auth=self._auth) as session:
            async with session.ws_connect(f"ws://{self._base}/events", params={"app": APP, "subscribeAll": "true"},
                                          heartbeat=30, max_msg_size=0) as ws:
                async with session.put(f"http://{self._base}/applications/{APP}/eventFilter",
                                       json={"allowed": [{"type": t} for t in TYPES]}) as r:
                    r.raise_for_status()
                self._ready.set()
                reader = asyncio.ensure_future(self._read(ws))
                await self._stop.wait()
                reader.cancel()

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            event = parse(json.loads(message.data))
            if event is not None:
                with self._lock:
                    self._events.append(event)


def latencies(events: Iterable[Event], answers: dict[str, float]) -> dict[str, list[float]]:
    """The three delays of KINDS, in ms, over the calls in `events`; `answers` holds each
    call's webhook answer (unix ms) by call id (a call's id is its channel's)."""
    keys: dict[str, list[float]] = defaultdict(list)
    audio: dict[str, list[float]] = defaultdict(list)
    for e in events:
        (keys if e.kind == "key" else audio)[e.channel].append(e.at_ms)
    out: dict[str, list[float]] = {k: [] for k in KINDS}

    def next_audio(channel: str, after_ms: float) -> float | None:
        starts = audio.get(channel, [])
        i = bisect.bisect_left(starts, after_ms)
        return starts[i] if i < len(starts) else None

    for channel in audio:
        audio[channel].sort()
    for channel, pressed in keys.items():
        hook = answers.get(channel)
        for at in pressed:
            started = next_audio(channel, at)
            if started is None:
                continue
            via_hook = hook is not None and at <= hook <= started + 1
            out["key_hook_audio" if via_hook else "key_audio"].append(started - at)
    for channel, at in answers.items():
        if channel not in audio and channel not in keys:
            continue  # a call of another run
        # Asterisk's stamps are whole ms (cut, not rounded): an audio start in the answer's own
        # millisecond is at or after it.
        started = next_audio(channel, float(int(at)))
        if started is not None:
            out["hook_audio"].append(max(started - at, 0.0))
    return out
