"""The Webhooks port over HTTP: signed JSON POSTs to tenants' servers.

One session for the process, so connections to a tenant's server are kept alive between calls
(a TLS handshake per trigger would be most of the exchange). Whatever the far side does (no
answer, a slow one, a reset, HTML, a gigabyte) comes back as a HookAnswer with `error` set:
a call in progress decides what to do about it, and nothing here raises for it.
"""
from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from typing import Any

import aiohttp

from control.flow.ports import HookAnswer
from control.webhooks.policy import GuardedResolver, Refused, WebhookPolicy
from control.webhooks.signing import HEADER, signature_header

log = logging.getLogger(__name__)

USER_AGENT = "voicectl"
# An answer is a few hundred bytes of JSON; more than this is a mistake (or hostile), and
# reading it would hold memory and the call's time.
MAX_ANSWER_BYTES = 1024 * 1024
# Connections in the pool: enough for a burst of calls on one tenant's server, bounded so a
# slow server cannot take every socket the process has.
POOL_LIMIT = 256
POOL_LIMIT_PER_HOST = 64
KEEPALIVE_S = 30.0


def _strict_constant(name: str) -> Any:
    # NaN and Infinity are not JSON, and the database refuses them in a JSON column.
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    # json reads 1e999 as float("inf") (parse_constant sees only the literals NaN and
    # Infinity): a number too large for a double is refused the same way.
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:40]} is too large for a number")
    return value


def _connect_error(exc: aiohttp.ClientConnectorError) -> str:
    cause = exc.os_error
    if isinstance(cause, Refused):
        return f"URL refused: {cause}"
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused"
    return f"connection failed: {getattr(cause, 'strerror', None) or cause or exc}"


class WebhookClient:
    def __init__(self, policy: WebhookPolicy, *, max_answer_bytes: int = MAX_ANSWER_BYTES,
                 limit: int = POOL_LIMIT, limit_per_host: int = POOL_LIMIT_PER_HOST) -> None:
        self._policy = policy
        self._max_answer_bytes = max_answer_bytes
        self._limit, self._limit_per_host = limit, limit_per_host
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        # Made on first use: a session belongs to the running loop.
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._limit, limit_per_host=self._limit_per_host,
                                             keepalive_timeout=KEEPALIVE_S,
                                             resolver=GuardedResolver(self._policy))
            # No total timeout of the session's own: each post sets its deadline. trust_env
            # stays off, so a proxy from the environment cannot carry webhooks past the policy.
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=aiohttp.ClientTimeout(total=None),
                # Uncompressed: answers are small, and the size cap then bounds what is read
                # off the wire and what is inflated alike.
                headers={"User-Agent": USER_AGENT}, skip_auto_headers=("Accept-Encoding",))
        return self._session

    async def post(self, url: str, body: dict[str, Any], *, secret: str, timeout: float) -> HookAnswer:
        started = time.monotonic()

        def answer(status: int | None, parsed: Any, error: str | None) -> HookAnswer:
            return HookAnswer(status, parsed, (time.monotonic() - started) * 1000, error)

        problem = self._policy.url_problem(url)
        if problem is not None:
            return answer(None, None, f"URL refused: {problem}")
        try:
            # Serialized once: the bytes signed are the bytes sent.
            data = json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
        except (TypeError, ValueError) as exc:
            log.error("webhook body for %s is not JSON: %s", url, exc)
            return answer(None, None, f"request body is not JSON: {exc}")
        headers = {"Content-Type": "application/json", HEADER: signature_header(secret, data, int(time.time()))}
        status: int | None = None
        try:
            async with asyncio.timeout(timeout):
                async with self._open().post(url, data=data, headers=headers, allow_redirects=False) as resp:
                    status = resp.status
                    raw = await self._read(resp)
        except TimeoutError:
            # Headers without the body in time are no answer either.
            return answer(None, None, f"timeout after {timeout:g} s")
        except aiohttp.ClientConnectorError as exc:
            return answer(None, None, _connect_error(exc))
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            # ValueError: what aiohttp raises for a URL it cannot use (yarl, InvalidURL).
            return answer(status, None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        if raw is None:
            return answer(status, None, f"answer larger than {self._max_answer_bytes} bytes")
        try:
            parsed = json.loads(raw, parse_constant=_strict_constant, parse_float=_finite_float)
        except (ValueError, RecursionError):
            return answer(status, None, "not JSON")
        return answer(status, parsed, None)

    async def _read(self, resp: aiohttp.ClientResponse) -> bytes | None:
        """The body, or None when it is longer than allowed (read no further than that)."""
        if (resp.content_length or 0) > self._max_answer_bytes:
            return None
        data = bytearray()
        async for chunk in resp.content.iter_chunked(64 * 1024):
            data += chunk
            if len(data) > self._max_answer_bytes:
                return None
        return bytes(data)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
