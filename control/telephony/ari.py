"""The Stasis app's link to ARI: the event websocket over aioari (the only module that
imports it), the per-call requests over AriHttp.

aioari's gaps, covered here (see shared notes): `run()` returns quietly when Asterisk closes
the websocket, so any return is a disconnect and we reconnect with backoff, then reconcile
our calls with GET /channels; it awaits handlers one at a time, so our handler only routes
events to the owning call's queue and never awaits.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

import aioari
from aioswagger11.http_client import ApiKeyAuthenticator, AsynchronousHttpClient

from control.pbx.secrets import PbxSecrets
from control.settings import Settings
from control.telephony.ari_http import AriHttp
from control.telephony.call import CALL_EVENTS, CallSession

log = logging.getLogger(__name__)

CallHandler = Callable[[CallSession], Awaitable[None]]
ReconcileHook = Callable[[set[str], set[str]], Awaitable[None]]


class AriLink:
    def __init__(self, settings: Settings, secrets: PbxSecrets, on_call: CallHandler,
                 on_reconcile: ReconcileHook) -> None:
        self._settings = settings
        self._secrets = secrets
        self._on_call = on_call
        self._on_reconcile = on_reconcile
        self._calls: dict[str, CallSession] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._client: Any = None
        self._http: AriHttp | None = None
        self._stopping = asyncio.Event()
        self.connected = asyncio.Event()
        self.reconnects = 0

    @property
    def active_calls(self) -> int:
        return len(self._calls)

    async def run(self) -> None:
        ops = self._http = AriHttp(self._settings.ari_url, self._secrets.ari_user, self._secrets.ari_password)
        backoff = 0.2
        while not self._stopping.is_set():
            try:
                client = await self._connect()
            except Exception as exc:
                log.debug("ARI not reachable yet: %s", exc)
                await self._sleep(backoff)
                backoff = min(backoff * 2, 3.0)
                continue
            backoff = 0.2
            self._client = client
            client.on_event("*", lambda event, *_: self._dispatch(ops, event))
            run = asyncio.ensure_future(client.run(apps=self._settings.app_name))
            try:
                # Reconcile only once the websocket is up, so no StasisStart can slip
                # between the channel list and the subscription.
                while not client.websockets and not run.done():
                    await asyncio.sleep(0.01)
                if not run.done():
                    await self._filter_events(ops)
                    await self._reconcile(client, ops)
                    self.connected.set()
                    log.info("ARI connected (app %s)", self._settings.app_name)
                await run
            except Exception as exc:
                log.warning("ARI connection failed: %s", exc)
            finally:
                self.connected.clear()
                run.cancel()
                await self._close(client)
            if not self._stopping.is_set():
                self.reconnects += 1
                log.warning("ARI connection lost; reconnecting")
                await self._sleep(backoff)

    async def _connect(self) -> Any:
        # aioari.connect() leaks its HTTP session when Asterisk is not up yet; build it here
        # so a failed attempt closes what it opened.
        http = AsynchronousHttpClient(auth=ApiKeyAuthenticator(
            self._settings.asterisk_host, f"{self._secrets.ari_user}:{self._secrets.ari_password}"))
        client = aioari.Client(self._settings.ari_url, http)
        try:
            await client.init()
        except BaseException:
            await http.close()
            raise
        return client

    async def stop(self) -> None:
        self._stopping.set()
        if self._client is not None:
            await self._close(self._client)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.close()

    # -- the read loop's handler: route, never await ------------------------------------------
    def _dispatch(self, ops: AriHttp, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "StasisStart":
            channel = event["channel"]
            if channel["id"] in self._calls:
                return
            session = CallSession(ops, channel, list(event.get("args", [])))
            self._calls[session.id] = session
            task = asyncio.ensure_future(self._run_call(session))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return
        channel_id = _channel_of(event)
        session = self._calls.get(channel_id) if channel_id else None
        if session is not None:
            session.feed(event)

    async def _run_call(self, session: CallSession) -> None:
        try:
            await self._on_call(session)
        except Exception:
            log.exception("call %s failed", session.id)
            try:
                await session.hangup()
            except Exception:
                pass
        finally:
            self._calls.pop(session.id, None)

    async def _filter_events(self, ops: AriHttp) -> None:
        """Everything a call does not react to (ChannelVarset, PlaybackStarted, state changes:
        half of a call's events) is filtered out in Asterisk, so it is neither sent nor parsed."""
        try:
            await ops.allow_events(self._settings.app_name, CALL_EVENTS)
        except Exception as exc:  # an Asterisk without filters just sends more: slower, not wrong
            log.warning("could not filter ARI events: %s", exc)

    async def _reconcile(self, client: Any, ops: AriHttp) -> None:
        """After (re)connecting: calls Asterisk no longer has are ended; channels in our app
        that no session owns (this process restarted under them) are hung up."""
        resp = await client.swagger.channels.list()
        live = await resp.json()
        live_ids = {c["id"] for c in live}
        for call_id, session in list(self._calls.items()):
            if call_id not in live_ids:
                session.lost()
        ours = [c for c in live if c.get("dialplan", {}).get("app_name") == "Stasis"
                and str(c.get("dialplan", {}).get("app_data", "")).split(",")[0] == self._settings.app_name]
        for channel in ours:
            if channel["id"] not in self._calls:
                log.warning("hanging up orphaned channel %s", channel["id"])
                try:
                    await ops.hangup(channel["id"])
                except Exception:
                    pass
        await self._on_reconcile(live_ids, set(self._calls))

    async def _close(self, client: Any) -> None:
        try:
            await client.close()
        except Exception:
            pass

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except asyncio.TimeoutError:
            pass


def _channel_of(event: dict[str, Any]) -> str | None:
    channel = event.get("channel")
    if channel:
        return channel.get("id")
    playback = event.get("playback")
    if playback:
        target = playback.get("target_uri", "")
        if target.startswith("channel:"):
            return target[len("channel:"):]
    return None
