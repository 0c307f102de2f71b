"""The webhook client against a real HTTP server on loopback: what it sends, how it reads
every kind of answer, and that it never raises for the far side's faults."""
from __future__ import annotations

import asyncio
import json
import time
from typing import Any, AsyncIterator

import pytest
from aiohttp import web

from control.webhooks.client import WebhookClient
from control.settings import parse_webhook_allow as parse_allow
from control.webhooks.policy import WebhookPolicy
from control.webhooks.signing import HEADER, verify

SECRET = "whsec_client_test"
BODY = {"call_id": "node-1.2", "cid": "8459511000", "variables": [{"name": "Zoë"}]}


class Server:
    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes, str]] = []
        self.peers: set[Any] = set()
        self.url = ""


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    seen = Server()

    async def record(request: web.Request) -> None:
        seen.requests.append((dict(request.headers), await request.read(), request.path))
        seen.peers.add(request.transport.get_extra_info("peername") if request.transport else None)

    async def ok(request: web.Request) -> web.Response:
        await record(request)
        return web.json_response({"goto": "3"})

    async def status(request: web.Request) -> web.Response:
        await record(request)
        return web.json_response({"error": "nope"}, status=int(request.match_info["code"]))

    async def html(request: web.Request) -> web.Response:
        await record(request)
        return web.Response(text="<html>oops</html>", content_type="text/html")

    async def nan(request: web.Request) -> web.Response:
        return web.Response(text='{"x": NaN}', content_type="application/json")

    async def number(request: web.Request) -> web.Response:
        # a number json reads as a float: 1e308 is one, 1e999 and -1e999 would be infinities
        return web.Response(text=f'{{"n": {request.match_info["n"]}}}', content_type="application/json")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response({})

    async def slow_body(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(request)
        await resp.write(b'{"goto":')
        await asyncio.sleep(5)
        return resp

    async def huge(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()  # chunked: no Content-Length to go by
        await resp.prepare(request)
        for _ in range(40):
            await resp.write(b" " * 65536)
        await resp.write_eof()
        return resp

    async def huge_declared(request: web.Request) -> web.Response:
        return web.Response(body=b"[" + b"1," * 600_000 + b"1]", content_type="application/json")

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("http://169.254.169.254/latest/meta-data/")

    app = web.Application()
    app.router.add_post("/ok", ok)
    app.router.add_post("/status/{code}", status)
    app.router.add_post("/html", html)
    app.router.add_post("/nan", nan)
    app.router.add_post("/number/{n}", number)
    app.router.add_post("/slow", slow)
    app.router.add_post("/slow-body", slow_body)
    app.router.add_post("/huge", huge)
    app.router.add_post("/huge-declared", huge_declared)
    app.router.add_post("/redirect", redirect)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    seen.url = f"http://127.0.0.1:{port}"
    yield seen
    await runner.cleanup()


@pytest.fixture
async def client() -> AsyncIterator[WebhookClient]:
    made = WebhookClient(WebhookPolicy(parse_allow("any"), {8088: "ARI"}))
    yield made
    await made.close()


async def test_a_signed_compact_json_post(server: Server, client: WebhookClient) -> None:
    before = int(time.time())
    answer = await client.post(server.url + "/ok", BODY, secret=SECRET, timeout=5)
    assert (answer.status, answer.body, answer.error) == (200, {"goto": "3"}, None)
    assert 0 < answer.ms < 5000
    headers, raw, path = server.requests[0]
    assert path == "/ok" and json.loads(raw) == BODY
    assert raw == json.dumps(BODY, separators=(",", ":"), ensure_ascii=False).encode()
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == "voicectl"
    assert verify(SECRET, raw, headers[HEADER])
    assert not verify("whsec_other", raw, headers[HEADER])
    stamp = int(headers[HEADER].split(",")[0].removeprefix("t="))
    assert before <= stamp <= int(time.time())


async def test_connections_are_kept_alive(server: Server, client: WebhookClient) -> None:
    for _ in range(5):
        assert (await client.post(server.url + "/ok", BODY, secret=SECRET, timeout=5)).status == 200
    assert len(server.peers) == 1  # one connection, reused


async def test_a_non_2xx_status_is_kept_with_its_body(server: Server, client: WebhookClient) -> None:
    answer = await client.post(server.url + "/status/503", BODY, secret=SECRET, timeout=5)
    assert (answer.status, answer.body, answer.error) == (503, {"error": "nope"}, None)


async def test_a_body_that_is_not_json(server: Server, client: WebhookClient) -> None:
    for path in ("/html", "/nan"):
        answer = await client.post(server.url + path, BODY, secret=SECRET, timeout=5)
        assert (answer.status, answer.body, answer.error) == (200, None, "not JSON")


async def test_a_number_too_large_for_a_float_is_not_json(server: Server, client: WebhookClient) -> None:
    for n in ("1e999", "-1e999", "1" + "0" * 400 + ".0"):
        answer = await client.post(server.url + f"/number/{n}", BODY, secret=SECRET, timeout=5)
        assert (answer.status, answer.body, answer.error) == (200, None, "not JSON"), n
    answer = await client.post(server.url + "/number/1e308", BODY, secret=SECRET, timeout=5)
    assert (answer.body, answer.error) == ({"n": 1e308}, None)


async def test_a_slow_server_is_a_timeout(server: Server, client: WebhookClient) -> None:
    for path in ("/slow", "/slow-body"):
        started = time.monotonic()
        answer = await client.post(server.url + path, BODY, secret=SECRET, timeout=0.5)
        assert (answer.status, answer.body, answer.error) == (None, None, "timeout after 0.5 s")
        assert 400 < answer.ms < 1500 and time.monotonic() - started < 1.5


async def test_an_answer_too_big_is_refused_unread(server: Server) -> None:
    small = WebhookClient(WebhookPolicy(), max_answer_bytes=1024 * 1024)
    try:
        for path in ("/huge", "/huge-declared"):
            answer = await small.post(server.url + path, BODY, secret=SECRET, timeout=5)
            assert (answer.status, answer.body) == (200, None)
            assert answer.error == "answer larger than 1048576 bytes"
    finally:
        await small.close()


async def test_redirects_are_not_followed(server: Server, client: WebhookClient) -> None:
    answer = await client.post(server.url + "/redirect", BODY, secret=SECRET, timeout=5)
    assert answer.status == 302 and answer.error == "not JSON"


async def test_refusals_and_network_errors_never_raise(server: Server, client: WebhookClient) -> None:
    refused = await client.post("http://169.254.169.254/latest", BODY, secret=SECRET, timeout=5)
    assert refused.status is None and refused.error is not None and refused.error.startswith("URL refused: ")
    assert "link-local" in refused.error
    ari = await client.post("http://127.0.0.1:8088/ari/channels", BODY, secret=SECRET, timeout=5)
    assert ari.error == "URL refused: 127.0.0.1 port 8088 is the platform's own ARI"
    # A name resolving to a refused address: refused where it resolves (localhost -> loopback).
    named = await client.post("http://localhost:8088/ari", BODY, secret=SECRET, timeout=5)
    assert named.error is not None and named.error.startswith("URL refused: ")
    closed = await client.post("http://127.0.0.1:1/hook", BODY, secret=SECRET, timeout=5)
    assert (closed.status, closed.error) == (None, "connection refused")
    nowhere = await client.post("http://no-such-host.invalid/hook", BODY, secret=SECRET, timeout=5)
    assert nowhere.status is None and nowhere.error is not None and nowhere.error.startswith("connection failed")
    odd = await client.post(server.url + "/ok", {"x": object()}, secret=SECRET, timeout=5)
    assert odd.error is not None and odd.error.startswith("request body is not JSON")


async def test_names_are_checked_where_they_resolve(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """The static check passes a name; the addresses it resolves to are checked when the
    connection is made (a name that resolves to loopback now and to something else later
    gains nothing)."""
    import socket

    from aiohttp.abc import ResolveResult

    from control.webhooks import policy as policy_module

    class Rebinding:
        async def resolve(self, host: str, port: int = 0, family: int = 0) -> list[ResolveResult]:
            return [ResolveResult(hostname=host, host="127.0.0.1", port=port, family=socket.AF_INET,
                                  proto=0, flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV)]

        async def close(self) -> None:
            pass

    monkeypatch.setattr(policy_module, "DefaultResolver", Rebinding)
    port = int(server.url.rsplit(":", 1)[1])
    url = f"http://hooks.example.test:{port}/ok"
    public = WebhookClient(WebhookPolicy(parse_allow("public")))
    anywhere = WebhookClient(WebhookPolicy(parse_allow("any"), {port: "HTTP"}))
    allowed = WebhookClient(WebhookPolicy(parse_allow("any")))
    try:
        for client, why in ((public, "127.0.0.1 is not a public address (VOICECTL_WEBHOOK_ALLOW=public)"),
                            (anywhere, f"127.0.0.1 port {port} is the platform's own HTTP")):
            assert client._policy.url_problem(url) is None
            answer = await client.post(url, BODY, secret=SECRET, timeout=5)
            assert (answer.status, answer.error) == (None, f"URL refused: hooks.example.test resolves to {why}")
        assert server.requests == []
        assert (await allowed.post(url, BODY, secret=SECRET, timeout=5)).status == 200
        assert len(server.requests) == 1
    finally:
        for client in (public, anywhere, allowed):
            await client.close()
