"""The per-call ARI requests against an HTTP server standing in for Asterisk's ARI."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web

from control.flow.channel import CallerHungUp
from control.telephony.ari_http import AriError, AriHttp
from control.telephony.call import CallSession

WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(200)


@pytest.fixture
async def ari(aiohttp_server: Any) -> Any:
    seen: list[tuple[str, str, dict[str, str], str]] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append((request.method, request.path, dict(request.query), request.headers.get("Authorization", "")))
        if "gone" in request.path:
            return web.json_response({"message": "Channel not found"}, status=404)
        if "ending" in request.path:
            return web.json_response({"message": "Could not stop playback"}, status=500)
        if request.path.endswith("/file"):
            return web.Response(body=WAV, content_type="audio/wav")
        if request.method == "GET" and "/recordings/live/" in request.path:
            return web.json_response({"name": "c1-x", "state": "recording", "target_uri": "channel:c1"})
        return web.Response(status=204)

    app = web.Application()
    app.router.add_route("*", "/ari/{tail:.*}", handle)
    server = await aiohttp_server(app)
    client = AriHttp(str(server.make_url("/")), "voicectl", "s3cret")
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
    assert {auth for *_, auth in seen} == {"Basic dm9pY2VjdGw6czNjcmV0"}  # voicectl:s3cret


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
