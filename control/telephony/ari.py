"""The Stasis app's link to ARI: the event websocket over aioari (the only module that
imports it), the per-call requests over AriHttp (on that websocket when Asterisk takes them).

aioari's gaps, covered here (see shared notes): `run()` returns quietly when Asterisk closes
the websocket, so any return is a disconnect and we reconnect with backoff, then reconcile
our calls with GET /channels; it awaits handlers one at a time, so our handler only routes
events to the owning call's queue and never awaits.
"""
from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import Any, AsyncIterator, Awaitable, Callable
from urllib.parse import urlencode

import aioari
from aioswagger11.http_client import AsynchronousHttpClient, BasicAuthenticator

from control.pbx.secrets import PbxSecrets
from control.settings import Settings
from control.telephony.admission import GATE
from control.telephony.ari_http import AriHttp
from control.telephony.call import CALL_EVENTS, DERIVED_ID, AriOps, CallSession, hang_up_channel

log = logging.getLogger(__name__)

CallHandler = Callable[[CallSession], Awaitable[None]]
ReconcileHook = Callable[[set[str], set[str]], Awaitable[None]]
# The websocket is pinged this often; a socket whose pong does not come within the same time
# again is dead (a frozen or unplugged Asterisk sends no close), and the link reconnects.
HEARTBEAT_S = 2.0
# A channel in our app that no session owns is an orphan only once it is this old: younger
# ones are the burst of new calls whose StasisStart is still on its way to us.
ORPHAN_AGE_S = 5.0
# A channel whose call ended without Asterisk confirming its hang-up is hung up again this
# many times (backing off to 30 s apart), until Asterisk answers 404.
HANGUP_RETRIES = 40
# How many more looks unowned channels get before the next reconnect.
LOOKS_AGAIN = 5


class NotConnected(Exception):
    """No link to Asterisk now: nothing was asked of it."""


class _HeaderAuthHttp(AsynchronousHttpClient):
    """aioswagger's client with the credentials in a header on the websocket too (it puts
    them in the URL, where proxies and logs keep them) and a heartbeat on it."""

    def __init__(self, host: str, user: str, password: str) -> None:
        self._basic = BasicAuthenticator(host, user, password)
        super().__init__(auth=self._basic)

    async def ws_connect(self, url: str, params: dict[str, str] | None = None) -> Any:
        headers: dict[str, str] = {}
        self._basic.apply(headers, {})
        ws = await self.session.ws_connect(url + ("?" + urlencode(params) if params else ""), headers=headers,
                                           heartbeat=HEARTBEAT_S)
        self.websockets.add(ws)
        return ws


class AriLink:
    def __init__(self, settings: Settings, secrets: PbxSecrets, on_call: CallHandler,
                 on_reconcile: ReconcileHook, gate_open: Callable[[], bool] = lambda: True) -> None:
        self._settings = settings
        self._secrets = secrets
        self._on_call = on_call
        self._on_reconcile = on_reconcile
        self._gate_open = gate_open
        self._reconciling: asyncio.Task[None] | None = None
        self._live_for_records: set[str] = set()
        self._calls: dict[str, CallSession] = {}
        # ARI objects calls made besides their own channels (transfers' far legs, bridges), by
        # id: claimed before they are asked for, so their events are routed to the call.
        self._owned: dict[str, CallSession] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._client: Any = None
        self._http: AriHttp | None = None
        self._stopping = asyncio.Event()
        self.connected = asyncio.Event()
        self.reconnects = 0

    @property
    def app(self) -> str:
        """The Stasis app: the calls' own, and the one their far legs enter (Claims)."""
        return self._settings.app_name

    @property
    def http(self) -> AriHttp | None:
        """The per-call ARI client, once the link has run."""
        return self._http

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
            # The moment the read loop ends no answer can come: requests go over HTTP at once.
            run.add_done_callback(lambda _: ops.ws.detach())
            try:
                # Reconcile only once the websocket is up, so no StasisStart can slip
                # between the channel list and the subscription.
                while not client.websockets and not run.done():
                    await asyncio.sleep(0.01)
                if not run.done():
                    await self._filter_events(ops)
                    sockets = list(client.websockets)
                    if self._settings.ari_ws_requests and sockets and not run.done():
                        await ops.ws.probe(sockets[0])
                    await self._reconcile(ops)
                    # Ready means calls are taken: the gate is open before anyone is told so.
                    await self.set_gate(self._gate_open())
                    self.connected.set()
                    log.info("ARI connected (app %s)", self._settings.app_name)
                await run
            except Exception as exc:
                log.warning("ARI connection failed: %s", exc)
            finally:
                self.connected.clear()
                ops.ws.detach()
                run.cancel()
                await self._close(client)
            if not self._stopping.is_set():
                self.reconnects += 1
                log.warning("ARI connection lost; reconnecting")
                await self._sleep(backoff)

    async def _connect(self) -> Any:
        # aioari.connect() leaks its HTTP session when Asterisk is not up yet; build it here
        # so a failed attempt closes what it opened.
        http = _HeaderAuthHttp(self._settings.asterisk_host, self._secrets.ari_user, self._secrets.ari_password)
        client = aioari.Client(self._settings.ari_url, http)
        try:
            await client.init()
        except BaseException:
            await http.close()
            raise
        return client

    async def set_gate(self, admit: bool) -> None:
        """Asterisk's copy of the admission decision (read by the inbound dialplan)."""
        if self._http is not None:
            await self._http.set_global(GATE, "1" if admit else "0")

    @property
    def sessions(self) -> list[CallSession]:
        return list(self._calls.values())

    async def stop(self) -> None:
        self._stopping.set()
        if self._reconciling is not None:
            self._reconciling.cancel()
        if self._client is not None:
            await self._close(self._client)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.close()

    @asynccontextmanager
    async def outbound(self, channel_id: str, number: str) -> AsyncIterator[CallSession]:
        """A session for a call this node places (its channel id chosen by the caller, before
        the originate), counted and routed like inbound calls while the block runs; a channel
        whose end Asterisk did not confirm is kept hung up after it."""
        ops = self._http
        if ops is None or not self.connected.is_set():
            raise NotConnected("not connected to Asterisk")
        session = CallSession(ops, {"id": channel_id, "caller": {"number": number, "name": ""}}, ["notify"],
                              None, self)
        self._calls[channel_id] = session
        try:
            yield session
        finally:
            self._calls.pop(channel_id, None)
            if not session.left and not self._stopping.is_set():
                self._later(self._keep_hanging_up(ops, channel_id))

    # -- Claims, for the calls: what else each call owns ----------------------------------------
    def claim(self, object_id: str, session: CallSession) -> None:
        self._owned[object_id] = session

    def release(self, object_id: str) -> None:
        self._owned.pop(object_id, None)

    def hang_up_later(self, channel_id: str) -> None:
        if not self._stopping.is_set() and self._http is not None:
            self._later(self._keep_hanging_up(self._http, channel_id))

    # -- the read loop's handler: route, never await ------------------------------------------
    def _dispatch(self, ops: AriHttp, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "RESTResponse":
            ops.ws.answered(event)
            return
        if kind == "StasisStart":
            channel = event["channel"]
            known = self._calls.get(channel["id"])
            if known is not None:  # a notification call answering (else a repeat: harmless)
                known.feed(event)
                return
            owner = self._owned.get(channel["id"])
            if owner is not None:  # a transfer's far leg answering
                owner.feed(event)
                return
            args = list(event.get("args", []))
            if args[:1] in (["leg"], ["notify"]):
                # A far leg whose call no longer waits for it (it answered as its call ended),
                # or a notification call answering after the process that placed it died:
                # never an inbound call; nobody would drive it.
                log.warning("hanging up %s %s (%s): nobody waits for it", args[0], channel["id"], args[1:2])
                self._later(self._keep_hanging_up(ops, channel["id"], first_wait=0))
                return
            session = CallSession(ops, channel, args, event.get("timestamp"), self)
            self._calls[session.id] = session
            self._later(self._run_call(session))
            return
        session = self._owner_of(event)
        if session is not None:
            session.feed(event)

    def _owner_of(self, event: dict[str, Any]) -> CallSession | None:
        """The call that owns an object the event names, looked for in the order most likely
        owned: its channel (a Dial's peer: the channel dialled), the channel a playback or
        recording plays to (its target_uri, "channel:<id>"), a bridge."""
        for key in ("channel", "peer", "caller"):
            named = event.get(key)
            if isinstance(named, dict) and (session := self._of(named.get("id"))) is not None:
                return session
        media = event.get("playback") or event.get("recording")
        if media:
            target = media.get("target_uri", "")
            if target.startswith("channel:") and (session := self._of(target[len("channel:"):])) is not None:
                return session
        bridge = event.get("bridge")
        return self._of(bridge.get("id")) if isinstance(bridge, dict) else None

    def _of(self, object_id: str | None) -> CallSession | None:
        return (self._calls.get(object_id) or self._owned.get(object_id)) if object_id else None

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
            if not session.left and not self._stopping.is_set():
                # Its own hang-ups were not confirmed: keep at it, or Asterisk keeps the
                # channel in Stasis with no one to drive it.
                self._later(self._keep_hanging_up(session.ops, session.id))

    async def _keep_hanging_up(self, ops: AriOps, channel_id: str, first_wait: float = 1.0) -> None:
        """Hang a channel up until Asterisk says it is gone (404), backing off from first_wait."""
        wait = first_wait
        for _ in range(HANGUP_RETRIES):
            await self._sleep(wait)
            if self._stopping.is_set() or await hang_up_channel(ops, channel_id):
                return
            wait = min(max(wait * 2, 1.0), 30.0)
        log.error("channel %s: gave up hanging it up; the next reconnect's reconcile will", channel_id)

    async def _filter_events(self, ops: AriHttp) -> None:
        """Everything a call does not react to (ChannelVarset, PlaybackStarted, state changes:
        half of a call's events) is filtered out in Asterisk, so it is neither sent nor parsed."""
        try:
            # RESTResponse carries the answers to requests sent on the websocket: filtered out,
            # every answer would be dropped silently.
            await ops.allow_events(self._settings.app_name, (*CALL_EVENTS, "RESTResponse"))
        except Exception as exc:  # an Asterisk without filters just sends more: slower, not wrong
            log.warning("could not filter ARI events: %s", exc)

    async def _reconcile(self, ops: AriHttp) -> None:
        """After (re)connecting: each live call is resynced (events missed while the socket
        was down are made up), calls Asterisk no longer has are ended, and channels in our app
        that no session owns (this process restarted under them) are hung up and their
        records closed. Unowned channels too young to judge are looked at again later."""
        # Only sessions that existed before the GET are judged by it: one whose StasisStart
        # arrives while it is under way is newer than the list.
        known = dict(self._calls)
        live = {c["id"]: c for c in await ops.channels()}
        for call_id, session in known.items():
            playback = session.waiting_on_playback
            ended = playback and call_id in live and await ops.playback_state(playback) is None
            session.resync(call_id in live, playback if ended else None)
            session.resync_leg(live)
        hung, young = await self._hang_up_orphans(ops, live.values())
        await self._destroy_orphan_bridges(ops)
        if young:
            self._later(self._look_again(ops))
        self._close_records(set(live) - hung)

    async def _hang_up_orphans(self, ops: AriHttp, channels: Any) -> tuple[set[str], bool]:
        """Hang up channels in our app that no session owns and that are old enough to judge;
        returns those Asterisk confirmed gone, and whether any were too young or refused."""
        now = datetime.now(timezone.utc)
        hung: set[str] = set()
        again = False
        for channel in channels:
            if channel["id"] in self._calls or channel["id"] in self._owned or not self._in_app(channel):
                continue
            if not self._older_than(channel, now, ORPHAN_AGE_S):
                again = True
                continue
            log.warning("hanging up orphaned channel %s", channel["id"])
            if await hang_up_channel(ops, channel["id"]) is None:
                again = True  # not confirmed gone: looked at again
                continue
            hung.add(channel["id"])
        return hung, again

    async def _destroy_orphan_bridges(self, ops: AriHttp) -> None:
        """Transfer bridges of this node's that no call owns (this process restarted under
        them): their channels are orphans too, hung up above; the bridges would stay for ever."""
        try:
            bridges = await ops.bridges()
        except Exception as exc:
            log.warning("could not list bridges to look for orphans: %s", exc)
            return
        for bridge in bridges:
            bridge_id = str(bridge.get("id", ""))
            derived = DERIVED_ID.fullmatch(bridge_id)
            if derived and derived["kind"] == "b" and derived["node"] == self._settings.node \
                    and bridge_id not in self._owned:
                log.warning("destroying orphaned bridge %s", bridge_id)
                try:
                    await ops.destroy_bridge(bridge_id)
                except Exception as exc:
                    log.warning("destroying orphaned bridge %s failed: %s", bridge_id, exc)

    async def _look_again(self, ops: AriHttp) -> None:
        """Young or stubborn unowned channels: by now their StasisStart came (they have a
        session) or never will (lost with the old socket) and they are old enough to hang up.
        Only the channel list is read: live calls were resynced already."""
        for _ in range(LOOKS_AGAIN):
            await self._sleep(ORPHAN_AGE_S + 0.5)
            if not self.connected.is_set() or self._stopping.is_set():
                return
            try:
                live = {c["id"]: c for c in await ops.channels()}
                hung, again = await self._hang_up_orphans(ops, live.values())
            except Exception as exc:
                log.warning("second look at unowned channels failed: %s", exc)
                continue
            self._close_records(set(live) - hung)
            if not again:
                return

    def _close_records(self, live_ids: set[str]) -> None:
        """The database part runs on its own: an unreachable database must not make ARI flap.
        The newest view of what is live is the one a retry uses."""
        self._live_for_records = live_ids
        if self._reconciling is None or self._reconciling.done():
            self._reconciling = asyncio.ensure_future(self._reconcile_records())

    def _later(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _in_app(self, channel: dict[str, Any]) -> bool:
        dialplan = channel.get("dialplan", {})
        return dialplan.get("app_name") == "Stasis" and \
            str(dialplan.get("app_data", "")).split(",")[0] == self._settings.app_name

    @staticmethod
    def _older_than(channel: dict[str, Any], now: datetime, seconds: float) -> bool:
        try:
            created = datetime.fromisoformat(channel.get("creationtime", ""))
        except ValueError:
            return True
        return (now - created).total_seconds() > seconds

    async def _reconcile_records(self) -> None:
        backoff = 1.0
        while not self._stopping.is_set():
            try:
                await self._on_reconcile(self._live_for_records, set(self._calls) | set(self._owned))
                return
            except Exception as exc:
                log.error("closing the records of lost calls failed (%s); retrying in %.0fs", exc, backoff)
                await self._sleep(backoff)
                backoff = min(backoff * 2, 30.0)

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

