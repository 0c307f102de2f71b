"""ARI requests sent as `RESTRequest` messages on the event websocket (Asterisk 20.14, 21.9,
22.4 and later), answered by `RESTResponse` events on the same socket.

Each HTTP request costs both sides a request to build and parse and a pooled connection to
keep; a websocket message costs a JSON object (bench/README.md has what it saved a call). The
socket is the aioari one the events come on: AriLink attaches it once Asterisk has answered a
probe on it, and detaches it the moment its read loop ends. Asterisk handles a socket's
requests one at a time, in the order sent, on the thread that reads the socket: the bulk
requests of a reconcile stay on HTTP (ari_http.py) so no call waits behind them.

A request whose frame never left goes over HTTP instead; one sent on a socket that then dropped
fails with SocketGone (no status: "unreachable"), which AriHttp retries over HTTP when
repeating it is harmless. A request with no answer in time detaches the socket (a filter
without RESTResponse, set by another process, would drop every answer): HTTP until the next
connect probes again.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import logging
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)

# A request whose answer has not come by then (queued, sent, answered) fails like an HTTP
# request that timed out.
ANSWER_TIMEOUT_S = 10.0
# How long a probe waits before deciding this Asterisk does not take requests on the socket.
PROBE_TIMEOUT_S = 2.0


class Socket(Protocol):
    """What is used of aiohttp's ClientWebSocketResponse."""

    @property
    def closed(self) -> bool: ...

    async def send_str(self, data: str) -> None: ...


class SocketGone(ConnectionError):
    """The websocket dropped (or was detached) after the request was sent, before its answer."""


class NotSent(ConnectionError):
    """No socket to send on, or the frame could not be written: the request never left."""


@dataclass(frozen=True)
class Answer:
    status: int
    text: str  # the body as Asterisk sent it ("" for none), parsed only by whoever needs it


class WsRequests:
    def __init__(self) -> None:
        self._socket: Socket | None = None
        self._waiting: dict[str, asyncio.Future[Answer]] = {}
        self._ids = itertools.count(1)
        self.answered_count = 0  # for /healthz: proof the socket carries the calls' requests

    @property
    def attached(self) -> bool:
        return self._socket is not None and not self._socket.closed

    async def probe(self, socket: Socket, timeout: float = PROBE_TIMEOUT_S) -> bool:
        """Whether Asterisk answers a request on this socket; if it does, requests go on it
        from now on. An Asterisk before REST over websocket ignores the message."""
        try:
            answer = await self._request(socket, "GET", "asterisk/ping", None, None, timeout)
        except (asyncio.TimeoutError, ConnectionError) as exc:
            log.info("ARI requests stay on HTTP: Asterisk did not answer one on the websocket (%s)",
                     exc or type(exc).__name__)
            return False
        if answer.status >= 300:
            log.info("ARI requests stay on HTTP: Asterisk answered %d on the websocket", answer.status)
            return False
        self._socket = socket
        log.info("ARI requests go on the websocket")
        return True

    def detach(self) -> None:
        """The socket's read loop ended (or it stopped answering): requests go to HTTP, and
        those waiting fail."""
        self._socket = None
        waiting, self._waiting = self._waiting, {}
        for future in waiting.values():
            if not future.done():
                future.set_exception(SocketGone("the ARI websocket closed before the answer came"))

    def answered(self, event: dict[str, Any]) -> None:
        """A RESTResponse from the read loop (never awaits)."""
        future = self._waiting.pop(str(event.get("request_id")), None)
        if future is None or future.done():
            return  # its request timed out, or the socket it went on is gone
        self.answered_count += 1
        status, body = event.get("status_code"), event.get("message_body")
        future.set_result(Answer(status if isinstance(status, int) else 599,
                                 body if isinstance(body, str) else "" if body is None else json.dumps(body)))

    async def request(self, method: str, path: str, params: dict[str, str] | None, body: Any) -> Answer:
        """One request on the attached socket. NotSent when it could not leave; SocketGone when
        the socket went after it did; TimeoutError (the socket detached) when no answer came."""
        socket = self._socket
        if socket is None or socket.closed:
            raise NotSent("no ARI websocket")
        try:
            return await self._request(socket, method, path.lstrip("/"), params, body, ANSWER_TIMEOUT_S)
        except asyncio.TimeoutError:
            if self._socket is socket:
                log.error("no answer on the ARI websocket in %g s to %s %s; requests go over HTTP until the "
                          "next connect", ANSWER_TIMEOUT_S, method, path)
                self.detach()
            raise

    async def _request(self, socket: Socket, method: str, uri: str, params: dict[str, str] | None, body: Any,
                       timeout: float) -> Answer:
        request_id = str(next(self._ids))
        message: dict[str, Any] = {"type": "RESTRequest", "request_id": request_id, "method": method, "uri": uri}
        if params:
            message["query_strings"] = [{"name": k, "value": v} for k, v in params.items()]
        if body is not None:
            message["content_type"] = "application/json"
            message["message_body"] = json.dumps(body)
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        try:
            # One deadline for the write too: a socket Asterisk stops reading blocks it.
            async with asyncio.timeout(timeout):
                try:
                    await socket.send_str(json.dumps(message))
                except ConnectionError as exc:
                    raise NotSent(str(exc) or type(exc).__name__) from exc
                return await future
        finally:
            self._waiting.pop(request_id, None)
