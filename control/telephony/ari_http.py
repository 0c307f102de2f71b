"""The per-call ARI requests (answer, play, stop, record, hang up): as messages on the event
websocket once AriLink has attached it (ari_ws.py), else over one keep-alive aiohttp session.

aioari sends each request through aioswagger's operation objects and wraps every answer in a
model object; under load that cost more CPU per call than the rest of the control plane
together (bench/README.md). Only the websocket's connection stays with aioari.
"""
from __future__ import annotations

import base64
import json
from typing import Any, Collection, Iterable, Sequence
from urllib.parse import quote

import aiohttp

from control.telephony.ari_ws import Answer, NotSent, SocketGone, WsRequests

# Below Asterisk's own idle close (http.conf session_keep_alive, 15 s), so a pooled
# connection is never reused just as Asterisk drops it.
KEEPALIVE_S = 10
# Asterisk serves at most sessionlimit (100) HTTP connections, the websocket included.
MAX_CONNECTIONS = 40
# Fetching a stored recording's file (up to an hour of audio) gets longer than other requests.
FILE_TIMEOUT_S = 120
RAISE = object()  # _send's `missing` by default: a 404 raises AriError like any other failure


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
        self.ws = WsRequests()

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
        await self._send("DELETE", f"/playbacks/{quote(playback_id)}", missing=None, gone=(404, 500))

    async def playback_state(self, playback_id: str) -> str | None:
        """"queued", "playing"... as Asterisk has it; None once Asterisk no longer has it."""
        found = await self._send("GET", f"/playbacks/{quote(playback_id)}", missing=None)
        return None if found is None else str(found.get("state", "playing"))

    async def record(self, channel_id: str, name: str, *, max_seconds: int, silence_seconds: int | None,
                     terminate_on: str | None, beep: bool) -> None:
        """Start recording what the channel hears from its caller into the stored recording
        `name` (WAV: 8 kHz 16-bit mono). A name already taken is refused (409), never overwritten."""
        await self._send("POST", f"/channels/{quote(channel_id)}/record", {
            "name": name, "format": "wav", "maxDurationSeconds": str(max_seconds),
            "maxSilenceSeconds": str(silence_seconds or 0), "ifExists": "fail",
            "beep": "true" if beep else "false", "terminateOn": terminate_on or "none"})

    async def live_recording(self, name: str) -> dict[str, Any] | None:
        """A recording under way (or just ended: state "done", "failed"...) as Asterisk has it;
        None once Asterisk no longer has it live."""
        return await self._send("GET", f"/recordings/live/{quote(name)}", missing=None)

    async def stop_recording(self, name: str) -> None:
        """End a live recording and store what it has; one already over (404) is stopped."""
        await self._send("POST", f"/recordings/live/{quote(name)}/stop", missing=None)

    async def cancel_recording(self, name: str) -> None:
        """End a live recording and throw it away; one already over (404) is left as it is."""
        await self._send("DELETE", f"/recordings/live/{quote(name)}", missing=None)

    async def stored_recordings(self) -> list[str]:
        """The names of every recording Asterisk has stored (a take in progress among them)."""
        return [str(r.get("name", "")) for r in await self._send("GET", "/recordings/stored", over_http=True) or []]

    async def stored_recording(self, name: str) -> dict[str, Any] | None:
        """A finished recording's details ({"name", "format"}), or None when Asterisk has none."""
        return await self._send("GET", f"/recordings/stored/{quote(name)}", missing=None)

    async def stored_recording_file(self, name: str) -> bytes:
        """A finished recording's file, as Asterisk stored it (no disk is shared with it). An
        hour of 8 kHz WAV is 58 MB: the request may take longer than the others."""
        return await self._send("GET", f"/recordings/stored/{quote(name)}/file", timeout=FILE_TIMEOUT_S, raw=True)

    async def delete_stored_recording(self, name: str) -> None:
        """Delete a finished recording from Asterisk; one already gone (404) is deleted."""
        await self._send("DELETE", f"/recordings/stored/{quote(name)}", missing=None)

    async def originate(self, endpoint: str, channel_id: str, *, app: str, app_args: str, caller_id: str,
                        timeout: int, originator: str) -> None:
        """Dial `endpoint` as a new channel with the id we chose; answered, it enters Stasis
        app `app` with `app_args`. The app is subscribed to it from the start (its Dial and
        hang-up events come while it rings); Asterisk gives up after `timeout` seconds."""
        params = {"endpoint": endpoint, "channelId": channel_id, "app": app, "appArgs": app_args,
                  "timeout": str(timeout)}
        if originator:  # a transfer's far leg names its call; a notification call has none
            params["originator"] = originator
        if caller_id:
            params["callerId"] = caller_id
        await self._send("POST", "/channels", params)

    async def send_message(self, to: str, sender: str, body: str) -> None:
        """An out-of-call message (PJSIP: a SIP MESSAGE). Asterisk answers 202 once it has queued
        it; neither ARI nor AMI reports the far end's answer to the MESSAGE."""
        await self._send("PUT", "/endpoints/sendMessage", {"to": to, "from": sender, "body": body})

    async def subscribe(self, app: str, source: str) -> None:
        """Subscribe an app to an event source (endpoint:PJSIP/<name>: its text messages)."""
        await self._send("POST", f"/applications/{quote(app)}/subscription", {"eventSource": source})

    async def ring(self, channel_id: str) -> None:
        """Ringback to the channel (an answered one hears it played in-band)."""
        await self._send("POST", f"/channels/{quote(channel_id)}/ring")

    async def stop_ringing(self, channel_id: str) -> None:
        await self._send("DELETE", f"/channels/{quote(channel_id)}/ring")

    async def create_bridge(self, bridge_id: str) -> None:
        await self._send("POST", "/bridges", {"type": "mixing", "bridgeId": bridge_id})

    async def add_to_bridge(self, bridge_id: str, channel_ids: Sequence[str]) -> None:
        await self._send("POST", f"/bridges/{quote(bridge_id)}/addChannel", {"channel": ",".join(channel_ids)})

    async def destroy_bridge(self, bridge_id: str) -> None:
        """Destroy a bridge (channels still in it stay in Stasis); one already gone (404) is destroyed."""
        await self._send("DELETE", f"/bridges/{quote(bridge_id)}", missing=None)

    async def bridges(self) -> list[dict[str, Any]]:
        return await self._send("GET", "/bridges", over_http=True)

    async def channels(self) -> list[dict[str, Any]]:
        return await self._send("GET", "/channels", over_http=True)

    async def set_global(self, name: str, value: str) -> None:
        """A dialplan global variable (read by the inbound context before Stasis)."""
        await self._send("POST", "/asterisk/variable", {"variable": name, "value": value})

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        await self._send("DELETE", f"/channels/{quote(channel_id)}", {"reason": reason})

    async def allow_events(self, app: str, types: Iterable[str]) -> None:
        """Have Asterisk send the app only these event types (the filter lives until restart)."""
        await self._send("PUT", f"/applications/{quote(app)}/eventFilter",
                         body={"allowed": [{"type": t} for t in types]})

    async def _send(self, method: str, path: str, params: dict[str, str] | None = None, body: Any = None, *,
                    missing: Any = RAISE, gone: Collection[int] = (404,), timeout: float | None = None,
                    raw: bool = False, over_http: bool = False) -> Any:
        """One request: a GET's JSON (raw: the body's bytes), else None. An answer with a
        status in `gone` (Asterisk has no such thing) returns `missing`, when given; any other
        failure raises AriError. It goes on the websocket when one is attached, except a raw
        one, one with a timeout of its own, or one asked `over_http` (the bulk lists of a
        reconcile: Asterisk answers a socket's requests one at a time)."""
        answer: Answer | None = None
        if self.ws.attached and not (raw or timeout or over_http):
            try:
                answer = await self.ws.request(method, path, params, body)
            except NotSent:
                pass
            except SocketGone:
                if not _harmless_again(method, path):
                    raise
        if answer is not None:
            if answer.status < 300:
                return json.loads(answer.text) if method == "GET" and answer.text else None
            status, text = answer.status, answer.text
        else:
            async with self._session.request(
                    method, self._base + path, params=params, json=body,
                    timeout=aiohttp.ClientTimeout(total=timeout) if timeout else self._session.timeout) as resp:
                # Read the body even when unused: an unread body keeps the connection out of the pool.
                data = await resp.read()
            if resp.status < 300:
                if raw:
                    return data
                return json.loads(data) if method == "GET" and data else None
            status, text = resp.status, data.decode(errors="replace")
        if missing is not RAISE and status in gone:
            return missing
        raise AriError(status, method, path, text)


def _harmless_again(method: str, path: str) -> bool:
    """A request Asterisk may or may not have carried out that can be sent again (over HTTP)
    without doing it twice: reads, deletes, answering, stopping a recording."""
    return method in ("GET", "DELETE") or path.endswith(("/answer", "/stop"))
