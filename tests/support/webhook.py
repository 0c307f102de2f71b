"""A tenant's web server for tests: a real aiohttp server on 127.0.0.1 in a thread of its own,
answering each path as the test scripted it and keeping every request it received."""
from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support.platform import free_port


@dataclass(frozen=True)
class Reply:
    body: Any = None  # JSON-encoded unless `raw` is given
    status: int = 200
    delay: float = 0.0
    raw: str | None = None


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() on arrival

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookServer:
    port: int = field(default_factory=free_port)
    replies: dict[str, list[Reply]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, path: str, *replies: Reply) -> str:
        """Answer `path` with these replies in order (the last one again once they run out)."""
        self.replies[path] = list(replies)
        return self.url(path)

    def requests(self, path: str, count: int = 1, timeout: float = 30) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [r for r in self.received if r.path == path]
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"{path}: {len([r for r in self.received if r.path == path])} requests, not {count}")

    def start(self) -> "WebhookServer":
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._serve, args=(ready,), daemon=True).start()
        if not ready.wait(10):
            raise AssertionError("the test webhook server did not start")
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)

    def _serve(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main(ready))

    async def _main(self, ready: threading.Event) -> None:
        self._stop = asyncio.Event()
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        ready.set()
        await self._stop.wait()
        await runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        self.received.append(Received(request.path, dict(request.headers), await request.read(), time.monotonic()))
        queue = self.replies.get(request.path) or [Reply(status=404, raw="not scripted")]
        reply = queue.pop(0) if len(queue) > 1 else queue[0]
        if reply.delay:
            await asyncio.sleep(reply.delay)
        text = reply.raw if reply.raw is not None else json.dumps(reply.body)
        return web.Response(status=reply.status, text=text, content_type="application/json")
