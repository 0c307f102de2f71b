"""The per-call ARI requests (answer, play, stop, hang up) over one keep-alive aiohttp session.

aioari sends each request through aioswagger's operation objects and wraps every answer in a
model object; under load that cost more CPU per call than the rest of the control plane
together (bench/README.md). The event websocket and the rare requests stay on aioari.
"""
from __future__ import annotations

import base64
import json
from typing import Any, Iterable, Sequence
from urllib.parse import quote

import aiohttp

# Below Asterisk's own idle close (http.conf session_keep_alive, 15 s), so a pooled
# connection is never reused just as Asterisk drops it.
KEEPALIVE_S = 10
# Asterisk serves at most sessionlimit (100) HTTP connections, the websocket included.
MAX_CONNECTIONS = 40


class AriError(Exception):
    def __init__(self, status: int, method: str, path: str, text: str) -> None:
        super().__init__(f"ARI {method} {path}: {status} {text.strip()[:200]}")
        self.status = status


class AriHttp:
    """AriOps for CallSession."""

    def __init__(self, base_url: str, user: str, password: str) -> None:
        self._base = base_url.rstrip("/") + "/ari"
        self._session = aiohttp.ClientSession(
            headers={"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()},
            connector=aiohttp.TCPConnector(limit=MAX_CONNECTIONS, keepalive_timeout=KEEPALIVE_S),
            timeout=aiohttp.ClientTimeout(total=10))

    async def close(self) -> None:
        await self._session.close()

    async def answer(self, channel_id: str) -> None:
        await self._send("POST", f"/channels/{quote(channel_id)}/answer")

    async def play(self, channel_id: str, media: Sequence[str], playback_id: str) -> None:
        await self._send("POST", f"/channels/{quote(channel_id)}/play",
                         {"media": ",".join(media), "playbackId": playback_id})

    async def stop_playback(self, playback_id: str) -> None:
        """Stop a playback; one that has already ended (404) or is ending as we ask (500 "Could
        not stop playback", seen under load when a key and the prompt's end cross) is stopped."""
        try:
            await self._send("DELETE", f"/playbacks/{quote(playback_id)}")
        except AriError as exc:
            if exc.status not in (404, 500):
                raise

    async def playback_state(self, playback_id: str) -> str | None:
        """"queued", "playing"... as Asterisk has it; None once Asterisk no longer has it."""
        try:
            found = await self._send("GET", f"/playbacks/{quote(playback_id)}")
        except AriError as exc:
            if exc.status == 404:
                return None
            raise
        return str((found or {}).get("state", "playing"))

    async def channels(self) -> list[dict[str, Any]]:
        return await self._send("GET", "/channels")

    async def set_global(self, name: str, value: str) -> None:
        """A dialplan global variable (read by the inbound context before Stasis)."""
        await self._send("POST", "/asterisk/variable", {"variable": name, "value": value})

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        await self._send("DELETE", f"/channels/{quote(channel_id)}", {"reason": reason})

    async def allow_events(self, app: str, types: Iterable[str]) -> None:
        """Have Asterisk send the app only these event types (the filter lives until restart)."""
        await self._send("PUT", f"/applications/{quote(app)}/eventFilter",
                         body={"allowed": [{"type": t} for t in types]})

    async def _send(self, method: str, path: str, params: dict[str, str] | None = None,
                    body: Any = None) -> Any:
        async with self._session.request(method, self._base + path, params=params, json=body) as resp:
            # Read the body even when unused: an unread body keeps the connection out of the pool.
            text = await resp.text()
            if resp.status >= 300:
                raise AriError(resp.status, method, path, text)
            return json.loads(text) if method == "GET" and text else None
