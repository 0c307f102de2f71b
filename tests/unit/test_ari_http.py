"""The per-call ARI requests against an HTTP server standing in for Asterisk's ARI."""
from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiohttp import web

from control.flow.channel import CallerHungUp
from control.settings import Settings
from control.telephony.ari_http import AriError, AriHttp
from control.telephony.ari_ws import Answer, SocketGone, WsRequests
from control.telephony.call import CallSession

WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(200)


def _asterisk(method: str, path: str) -> tuple[int, Any]:
    """What the stand-in Asterisk answers: a status and a JSON body (None for none)."""
    if "gone" in path:
        return 404, {"message": "Channel not found"}
    if "ending" in path:
        return 500, {"message": "Could not stop playback"}
    if method == "GET" and "/recordings/live/" in path:
        return 200, {"name": "c1-x", "state": "recording", "target_uri": "channel:c1"}
    return 204, None


class FakeSocket:
    """The event websocket as Asterisk 22 answers RESTRequest messages on it: from the read
    loop, a RESTResponse event a moment later, its body a string of JSON."""

    def __init__(self, requests: WsRequests, seen: list[tuple[str, str, dict[str, str], str]]) -> None:
        self.closed = False
        self.sent: list[dict[str, Any]] = []
        self._requests, self._seen = requests, seen

    async def send_str(self, data: str) -> None:
        message = json.loads(data)
        self.sent.append(message)
        path = "/ari/" + message["uri"]
        if message["uri"] != "asterisk/ping":
            self._seen.append((message["method"], path,
                               {q["name"]: q["value"] for q in message.get("query_strings", [])}, "websocket"))
        status, body = _asterisk(message["method"], path)
        asyncio.get_running_loop().call_soon(self._requests.answered, {
            "type": "RESTResponse", "request_id": message["request_id"], "status_code": status,
            "message_body": "" if body is None else json.dumps(body)})


@pytest.fixture(params=["http", "websocket"])
async def ari(request: Any, aiohttp_server: Any) -> Any:
    seen: list[tuple[str, str, dict[str, str], str]] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append((request.method, request.path, dict(request.query), request.headers.get("Authorization", "")))
        if request.path.endswith("/file") and "gone" not in request.path:
            return web.Response(body=WAV, content_type="audio/wav")
        status, body = _asterisk(request.method, request.path)
        return web.json_response(body, status=status) if body is not None else web.Response(status=status)

    app = web.Application()
    app.router.add_route("*", "/ari/{tail:.*}", handle)
    server = await aiohttp_server(app)
    client = AriHttp(str(server.make_url("/")), "voicectl", "s3cret")
    if request.param == "websocket":
        assert await client.ws.probe(FakeSocket(client.ws, seen))
    yield client, seen
    await client.close()


async def test_requests_carry_paths_parameters_and_credentials(ari: Any) -> None:
    client, seen = ari
    await client.answer("1700.1")
    await client.play("1700.1", ["sound:beep", "sound:http://h/x.wav"], "pb1")
    await client.stop_playback("pb1")
    await client.hangup("1700.1", "busy")
    assert [(m, p, q) for m, p, q, _ in seen] == [
        ("POST", "/ari/channels/1700.1/answer", {}),
        ("POST", "/ari/channels/1700.1/play", {"media": "sound:beep,sound:http://h/x.wav", "playbackId": "pb1"}),
        ("DELETE", "/ari/playbacks/pb1", {}),
        ("DELETE", "/ari/channels/1700.1", {"reason": "busy"}),
    ]
    # voicectl:s3cret, on each HTTP request; a websocket's is given once, as it connects
    assert {auth for *_, auth in seen} <= {"Basic dm9pY2VjdGw6czNjcmV0", "websocket"} and len({a for *_, a in seen}) == 1


async def test_a_gone_channel_is_a_404_and_the_call_treats_it_as_hung_up(ari: Any) -> None:
    client, _ = ari
    with pytest.raises(AriError) as raised:
        await client.answer("gone")
    assert raised.value.status == 404 and "Channel not found" in str(raised.value)
    session = CallSession(client, {"id": "gone"}, ["inbound"])
    await session.hangup()  # hanging up a channel that is already gone is fine
    session = CallSession(client, {"id": "gone"}, ["inbound"])
    with pytest.raises(CallerHungUp):
        await asyncio.wait_for(session.answer(), 5)
    assert session.hangup_info is not None and session.hangup_info.by == "caller"


async def test_stopping_a_playback_that_already_ended_is_not_an_error(ari: Any) -> None:
    client, _ = ari
    await client.stop_playback("gone")
    await client.stop_playback("ending")  # Asterisk's answer when the prompt ends as we ask
    with pytest.raises(AriError) as raised:
        await client.answer("ending")
    assert raised.value.status == 500


async def test_record_asks_for_a_wav_that_is_never_overwritten(ari: Any) -> None:
    client, seen = ari
    await client.record("1700.1", "c1-x", max_seconds=60, silence_seconds=None, terminate_on="#", beep=True)
    await client.record("1700.1", "c1-y", max_seconds=5, silence_seconds=3, terminate_on=None, beep=False)
    assert [s[:3] for s in seen] == [
        ("POST", "/ari/channels/1700.1/record", {"name": "c1-x", "format": "wav", "maxDurationSeconds": "60",
                                                  "maxSilenceSeconds": "0", "ifExists": "fail", "beep": "true",
                                                  "terminateOn": "#"}),
        ("POST", "/ari/channels/1700.1/record", {"name": "c1-y", "format": "wav", "maxDurationSeconds": "5",
                                                  "maxSilenceSeconds": "3", "ifExists": "fail", "beep": "false",
                                                  "terminateOn": "none"}),
    ]


async def test_live_and_stored_recordings_and_their_absence(ari: Any) -> None:
    client, seen = ari
    assert (await client.live_recording("c1-x"))["state"] == "recording"
    assert await client.live_recording("gone") is None
    assert await client.stored_recording("gone") is None
    assert await client.stored_recording_file("c1-x") == WAV
    with pytest.raises(AriError) as raised:
        await client.stored_recording_file("gone")
    assert raised.value.status == 404
    await client.delete_stored_recording("gone")  # already gone: deleted
    await client.stop_recording("gone")
    await client.cancel_recording("c1-x")
    assert [(m, p) for m, p, _, _ in seen][-4:] == [
        ("GET", "/ari/recordings/stored/gone/file"), ("DELETE", "/ari/recordings/stored/gone"),
        ("POST", "/ari/recordings/live/gone/stop"), ("DELETE", "/ari/recordings/live/c1-x")]


async def test_requests_on_the_websocket_carry_the_uri_query_and_a_json_body() -> None:
    client = AriHttp("http://127.0.0.1:9/", "voicectl", "s3cret")  # nothing listens: HTTP would fail
    try:
        socket = FakeSocket(client.ws, [])
        assert await client.ws.probe(socket)
        await client.allow_events("voicectl", ["StasisStart"])
        await client.hangup("1700.1", "busy")
        assert (await client.live_recording("c1-x"))["state"] == "recording"
    finally:
        await client.close()
    put, delete, get = socket.sent[-3:]
    assert put["uri"] == "applications/voicectl/eventFilter" and put["content_type"] == "application/json"
    assert json.loads(put["message_body"]) == {"allowed": [{"type": "StasisStart"}]}
    assert delete["uri"] == "channels/1700.1" and delete["method"] == "DELETE"
    assert delete["query_strings"] == [{"name": "reason", "value": "busy"}] and "message_body" not in delete
    assert get["uri"] == "recordings/live/c1-x" and "query_strings" not in get
    assert len({m["request_id"] for m in socket.sent}) == len(socket.sent)


class SilentSocket:
    """An Asterisk older than REST over websocket: the message is ignored."""

    closed = False

    async def send_str(self, data: str) -> None:
        return None


@pytest.fixture
async def http_ari(aiohttp_server: Any) -> Any:
    """An HTTP-only stand-in: the paths it was asked for, and a client for it."""
    seen: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(f"{request.method} {request.path}")
        return web.Response(status=204)

    app = web.Application()
    app.router.add_route("*", "/ari/{tail:.*}", handle)
    server = await aiohttp_server(app)
    client = AriHttp(str(server.make_url("/")), "voicectl", "s3cret")
    yield client, seen
    await client.close()


async def test_an_asterisk_that_does_not_answer_on_the_websocket_keeps_requests_on_http(http_ari: Any) -> None:
    client, seen = http_ari
    assert not await client.ws.probe(SilentSocket(), timeout=0.05)
    assert not client.ws.attached
    await client.answer("1700.9")
    assert seen == ["POST /ari/channels/1700.9/answer"]


async def test_a_socket_that_drops_fails_what_waits_and_harmless_requests_go_again_over_http(http_ari: Any) -> None:
    client, seen = http_ari
    client.ws._socket = SilentSocket()  # attached as a probe would, to a socket that then never answers

    async def when_waiting(request: Any) -> Any:
        task = asyncio.ensure_future(request)
        while not client.ws._waiting:
            await asyncio.sleep(0)
        return task

    answering = await when_waiting(client.answer("c1"))
    client.ws.detach()
    await answering  # Asterisk may or may not have answered it: answering again is harmless
    assert seen == ["POST /ari/channels/c1/answer"]
    client.ws._socket = SilentSocket()
    playing = await when_waiting(client.play("c1", ["sound:beep"], "pb1"))
    client.ws.detach()
    with pytest.raises(SocketGone) as raised:  # a second play could be heard twice: the call decides
        await playing
    assert getattr(raised.value, "status", None) is None  # the call's handler sees "unreachable"
    assert seen == ["POST /ari/channels/c1/answer"] and not client.ws.attached


async def test_an_answer_is_never_given_to_another_request() -> None:
    requests = WsRequests()
    requests._socket = SilentSocket()
    first = asyncio.ensure_future(requests.request("GET", "/channels/a", None, None))
    second = asyncio.ensure_future(requests.request("GET", "/channels/b", None, None))
    while len(requests._waiting) < 2:
        await asyncio.sleep(0)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert list(requests._waiting) == ["2"]
    # The first's answer, late, and one for an id never sent: dropped, the second still waits.
    requests.answered({"type": "RESTResponse", "request_id": "1", "status_code": 200, "message_body": "{}"})
    requests.answered({"type": "RESTResponse", "request_id": "99", "status_code": 200, "message_body": "{}"})
    await asyncio.sleep(0)
    assert not second.done()
    requests.answered({"type": "RESTResponse", "request_id": "2", "status_code": 200,
                       "message_body": '{"id": "b"}'})
    assert await second == Answer(200, '{"id": "b"}') and requests.answered_count == 1


async def test_a_closed_socket_sends_requests_back_to_http(http_ari: Any) -> None:
    client, seen = http_ari
    socket = FakeSocket(client.ws, [])
    assert await client.ws.probe(socket)
    await client.answer("1700.1")
    socket.closed = True  # aiohttp's flag, set as the socket drops, before AriLink detaches it
    await client.answer("1700.2")
    assert seen == ["POST /ari/channels/1700.2/answer"]


async def test_the_bulk_lists_of_a_reconcile_stay_on_http(http_ari: Any) -> None:
    client, seen = http_ari
    socket = FakeSocket(client.ws, [])
    assert await client.ws.probe(socket)
    await client.channels()
    await client.bridges()
    await client.stored_recordings()
    assert seen == ["GET /ari/channels", "GET /ari/bridges", "GET /ari/recordings/stored"]
    assert [m["uri"] for m in socket.sent] == ["asterisk/ping"]


async def test_no_answer_in_time_fails_like_http_and_sends_the_rest_over_http(monkeypatch: Any,
                                                                              http_ari: Any) -> None:
    client, seen = http_ari
    monkeypatch.setattr("control.telephony.ari_ws.ANSWER_TIMEOUT_S", 0.05)
    client.ws._socket = SilentSocket()  # a filter without RESTResponse: every answer dropped
    with pytest.raises(asyncio.TimeoutError) as raised:
        await client.play("c1", ["sound:beep"], "pb1")
    assert getattr(raised.value, "status", None) is None and not client.ws._waiting
    assert not client.ws.attached
    await client.play("c1", ["sound:beep"], "pb2")
    assert seen == ["POST /ari/channels/c1/play"]


async def test_errors_on_the_websocket_keep_their_status_whatever_the_body() -> None:
    client = AriHttp("http://127.0.0.1:9/", "voicectl", "s3cret")

    class Answering(SilentSocket):
        async def send_str(self, data: str) -> None:
            message = json.loads(data)
            status, body = (200, "") if message["uri"] == "asterisk/ping" else (404, "not json <html>")
            asyncio.get_running_loop().call_soon(client.ws.answered, {
                "type": "RESTResponse", "request_id": message["request_id"], "status_code": status,
                "message_body": body})

    try:
        assert await client.ws.probe(Answering())
        with pytest.raises(AriError) as raised:
            await client.answer("c1")
        assert raised.value.status == 404 and "not json <html>" in str(raised.value)
        assert await client.playback_state("pb1") is None
    finally:
        await client.close()


def test_the_websocket_can_be_turned_off() -> None:
    assert Settings.from_env({}).ari_ws_requests is True
    assert Settings.from_env({"VOICECTL_ARI_WS_REQUESTS": "0"}).ari_ws_requests is False
