"""AriHttp's recording requests against an HTTP server standing in for Asterisk's ARI."""
from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web

from control.telephony.ari_http import AriError, AriHttp

WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(200)


@pytest.fixture
async def ari(aiohttp_server: Any) -> Any:
    seen: list[tuple[str, str, dict[str, str]]] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append((request.method, request.path, dict(request.query)))
        if "gone" in request.path:
            return web.json_response({"message": "Recording not found"}, status=404)
        if request.path.endswith("/file"):
            return web.Response(body=WAV, content_type="audio/wav")
        if request.method == "GET":
            return web.json_response({"name": "c1-x", "state": "recording", "target_uri": "channel:c1"})
        return web.Response(status=204)

    app = web.Application()
    app.router.add_route("*", "/ari/{tail:.*}", handle)
    server = await aiohttp_server(app)
    client = AriHttp(str(server.make_url("/")), "voicectl", "s3cret")
    yield client, seen
    await client.close()


async def test_record_asks_for_a_wav_that_is_never_overwritten(ari: Any) -> None:
    client, seen = ari
    await client.record("1700.1", "c1-x", max_seconds=60, silence_seconds=None, terminate_on="#", beep=True)
    await client.record("1700.1", "c1-y", max_seconds=5, silence_seconds=3, terminate_on=None, beep=False)
    assert seen == [
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
    assert [(m, p) for m, p, _ in seen][-4:] == [
        ("GET", "/ari/recordings/stored/gone/file"), ("DELETE", "/ari/recordings/stored/gone"),
        ("POST", "/ari/recordings/live/gone/stop"), ("DELETE", "/ari/recordings/live/c1-x")]
