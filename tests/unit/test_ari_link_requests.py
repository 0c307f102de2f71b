"""AriLink's side of REST over the websocket: the probe at connect, RESTResponse events routed to
the waiting request, and HTTP again the moment the read loop ends."""
from __future__ import annotations

import asyncio
import json
from typing import Any, Callable

import pytest

from control.pbx.secrets import PbxSecrets
from control.settings import Settings
from control.telephony.ari import AriLink
from control.telephony.ari_ws import SocketGone


class Client:
    """aioari's client as AriLink uses it: a websocket, listeners, a read loop that ends on demand."""

    def __init__(self) -> None:
        self.socket = Socket(self)
        self.websockets = {self.socket}
        self.listeners: list[Callable[..., Any]] = []
        self.ended = asyncio.Event()

    def on_event(self, kind: str, listener: Callable[..., Any]) -> None:
        self.listeners.append(listener)

    async def run(self, apps: str) -> None:
        await self.ended.wait()

    async def close(self) -> None:
        self.ended.set()

    def deliver(self, event: dict[str, Any]) -> None:
        for listener in self.listeners:
            listener(event)


class Socket:
    """Answers each RESTRequest with a RESTResponse event through the client's read loop."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.sent: list[dict[str, Any]] = []
        self.closed = False  # aiohttp's flag may lag the read loop's end: AriLink must not wait for it
        self.mute = False

    async def send_str(self, data: str) -> None:
        message = json.loads(data)
        self.sent.append(message)
        if self.mute:
            return
        asyncio.get_running_loop().call_soon(self.client.deliver, {
            "type": "RESTResponse", "request_id": message["request_id"], "status_code": 200,
            "message_body": '{"ping": "pong"}' if message["uri"] == "asterisk/ping" else ""})


async def running(ws_requests: bool) -> tuple[AriLink, Client, asyncio.Task[None]]:
    env = {"VOICECTL_DATA_DIR": "/tmp/unused", "VOICECTL_ARI_PORT": "9"}  # HTTP would go nowhere
    if not ws_requests:
        env["VOICECTL_ARI_WS_REQUESTS"] = "0"
    link = AriLink(Settings.from_env(env), PbxSecrets("u", "p", "u", "p"), lambda session: asyncio.sleep(0),
                   lambda live, owned: asyncio.sleep(0))
    client = Client()

    async def connect() -> Client:
        return client

    async def nothing(*_: Any) -> None:
        return None

    link._connect = connect  # type: ignore[method-assign]
    link._filter_events = nothing  # type: ignore[method-assign]
    link._reconcile = nothing  # type: ignore[method-assign]
    if not ws_requests:
        link.set_gate = nothing  # type: ignore[method-assign]  # HTTP: nowhere to go here
    task = asyncio.ensure_future(link.run())
    await asyncio.wait_for(link.connected.wait(), 2)
    return link, client, task


async def test_requests_go_on_the_socket_once_probed_and_to_http_when_its_read_loop_ends() -> None:
    link, client, task = await running(ws_requests=True)
    try:
        ws = link.http.ws  # type: ignore[union-attr]
        assert ws.attached
        # The probe, then the admission gate (set as the link comes up), both answered on it.
        assert [m["uri"] for m in client.socket.sent] == ["asterisk/ping", "asterisk/variable"]
        await link.http.answer("c1")  # type: ignore[union-attr]
        assert client.socket.sent[-1]["uri"] == "channels/c1/answer" and ws.answered_count == 3
        client.socket.mute = True
        playing = asyncio.ensure_future(link.http.play("c1", ["sound:beep"], "pb1"))  # type: ignore[union-attr]
        while not client.socket.sent[-1]["uri"].endswith("/play"):
            await asyncio.sleep(0)
        client.ended.set()  # the websocket closed: aioari's run() returns
        # The play in flight fails at once as "unreachable" (not after the 10 s answer timeout).
        with pytest.raises(SocketGone):
            await asyncio.wait_for(playing, 1)
        assert not ws.attached
    finally:
        await link.stop()
        task.cancel()


async def test_turned_off_nothing_is_sent_on_the_socket() -> None:
    link, client, task = await running(ws_requests=False)
    try:
        assert client.socket.sent == [] and not link.http.ws.attached  # type: ignore[union-attr]
    finally:
        await link.stop()
        task.cancel()
