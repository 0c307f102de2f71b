"""ARI requests as RESTRequest messages on the event websocket, against the real Asterisk: the
wire form ari_ws.py sends and reads is the one Asterisk speaks, errors included, and the
platform's own calls go that way."""
from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import aiohttp
import pytest

from control.telephony.ari_http import AriError, AriHttp
from control.telephony.call import hang_up_channel
from tests.integration.conftest import wait_call
from tests.integration.test_local_calls import call_local
from tests.support.platform import Instance

APP = "wsprobe"  # an app of the test's own: the platform's events never come to this socket


async def _with_socket(platform: Instance, work: Any) -> Any:
    secrets = json.loads((platform.data_dir / "secrets.json").read_text())
    base = f"http://127.0.0.1:{platform.ports['ari']}/"
    auth = base64.b64encode(f"{secrets['ari_user']}:{secrets['ari_password']}".encode()).decode()
    client = AriHttp(base, secrets["ari_user"], secrets["ari_password"])
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(f"{base}ari/events?app={APP}", headers={"Authorization": f"Basic {auth}"})

        async def read() -> None:
            async for message in ws:
                event = json.loads(message.data)
                if event.get("type") == "RESTResponse":
                    client.ws.answered(event)

        reader = asyncio.ensure_future(read())
        try:
            assert await client.ws.probe(ws), "Asterisk did not answer a RESTRequest on the websocket"
            return await work(client)
        finally:
            reader.cancel()
            await ws.close()
            await client.close()


def test_requests_on_the_websocket_get_asterisks_answers(platform: Instance) -> None:
    async def work(client: AriHttp) -> dict[str, Any]:
        await client.set_global("VC_WS_PROBE", "yes it works")
        found = await client._send("GET", "/asterisk/variable", {"variable": "VC_WS_PROBE"})
        channels = await client.channels()
        with pytest.raises(AriError) as raised:
            await client.answer("no-such-channel")
        gone = await hang_up_channel(client, "no-such-channel")
        assert client.ws.attached  # none of it fell back to HTTP
        return {"found": found, "channels": channels, "status": raised.value.status, "gone": gone}

    result = asyncio.run(_with_socket(platform, work))
    assert result["found"] == {"value": "yes it works"}
    assert isinstance(result["channels"], list)
    assert result["status"] == 404 and result["gone"] is True
    # Set over the websocket, read back over HTTP: the same Asterisk state.
    assert platform.ari("GET", "asterisk/variable", {"variable": "VC_WS_PROBE"}) == {"value": "yes it works"}


def test_the_platform_sends_a_calls_requests_on_the_websocket(platform: Instance) -> None:
    def answered() -> int:
        _, body = platform.health()
        assert body["ari_requests"]["on"] == "websocket", body
        return int(body["ari_requests"]["answered_on_websocket"])

    before = answered()
    call_id = call_local(platform, "8005550100", "w2,d1,w2,d2,w30")
    call = wait_call(platform, lambda c: c.id == call_id)
    assert call.branch_data == [{"branch": "0", "input": "1"}, {"branch": "0", "input": "2"},
                                {"branch": "900", "input": ""}]
    # answer, three plays, two stops at the keys, the hang-up: each answered on the socket
    # (other tests' calls may share the instance, hence at least)
    assert answered() - before >= 7
