"""Text messages over ARI: out as SIP MESSAGEs through the tenant's trunk, in from the trunks.

Inbound messages come to an ARI app of their own (`<app>-messages`) subscribed to the PJSIP
endpoints: subscribing the call app would have Asterisk send every channel event of calls on
those endpoints twice (see shared notes). Its websocket takes TextMessageReceived only, from a
trunk's endpoint only (trunks are told apart by source address, so a message from anywhere
else never reaches an endpoint at all).
"""
from __future__ import annotations

import asyncio
import base64
import logging
from typing import Any, Callable

import aiohttp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from control.clock import now
from control.flow.ports import Webhooks
from control.notify import inbound_sms, states
from control.notify.dispatcher import Job, Outcome
from control.pbx.secrets import PbxSecrets
from control.settings import Settings
from control.store.models import Trunk
from control.telephony.ari import AriLink
from control.telephony.ari_http import AriError, AriHttp
from control.telephony.ari_ws import NotSent, SocketGone
from control.telephony.outbound import NotificationCalls

log = logging.getLogger(__name__)

EVENTS = ("TextMessageReceived",)


def message_app(settings: Settings) -> str:
    return f"{settings.app_name}-messages"


class AriSender:
    """The dispatcher's Sender: messages here, calls in telephony/outbound.py."""

    def __init__(self, link: AriLink, calls: NotificationCalls) -> None:
        self._link = link
        self._calls = calls

    async def call(self, job: Job) -> Outcome:
        return await self._calls.call(job)

    async def send_message(self, job: Job) -> Outcome:
        trunk = job.tenant.trunk
        if trunk is None:
            return Outcome(states.FAILED, {"error": "the tenant has no outbound trunk (voicectl tenant set)"})
        ops = self._link.http
        if ops is None or not self._link.connected.is_set():
            return Outcome(states.QUEUED, {"error": "not connected to Asterisk"}, not_sent=True)
        port = f":{trunk.port}" if trunk.port else ""
        try:
            await ops.send_message(f"pjsip:{trunk.name}/sip:{job.to}@{trunk.host}{port}",
                                   f"sip:{job.sender}@{trunk.host}", job.content["body"])
        except AriError as exc:
            return Outcome(states.FAILED, {"error": str(exc)[:200]})
        except (aiohttp.ClientConnectorError, NotSent) as exc:  # it never reached Asterisk
            return Outcome(states.QUEUED, {"error": f"asterisk unreachable: {type(exc).__name__}"}, not_sent=True)
        except (asyncio.TimeoutError, aiohttp.ClientError, SocketGone) as exc:
            # Asterisk may have taken it: at most once, so it is not sent again.
            return Outcome(states.INTERRUPTED, {"error": f"no answer from Asterisk: {type(exc).__name__}"})
        return Outcome(states.SENT, {"accepted_by": "asterisk"})


class MessageListener:
    """The `<app>-messages` websocket: each TextMessageReceived from a trunk is kept, then
    its webhook POSTed (control/notify/inbound_sms.py). Reconnects with backoff."""

    def __init__(self, settings: Settings, secrets: PbxSecrets, db: async_sessionmaker, hooks: Webhooks,
                 on_received: Callable[[inbound_sms.Received], None] = lambda r: None) -> None:
        self._settings = settings
        self._secrets = secrets
        self._db = db
        self._hooks = hooks
        self._on_received = on_received
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self.connected = asyncio.Event()
        self.received = 0

    async def run(self) -> None:
        app = message_app(self._settings)
        auth = base64.b64encode(f"{self._secrets.ari_user}:{self._secrets.ari_password}".encode()).decode()
        url = self._settings.ari_url.replace("http", "ws", 1).rstrip("/") + "/ari/events"
        ops = AriHttp(self._settings.ari_url, self._secrets.ari_user, self._secrets.ari_password)
        backoff = 0.5
        try:
            async with aiohttp.ClientSession(headers={"Authorization": "Basic " + auth}) as http:
                while not self._stopping.is_set():
                    try:
                        async with http.ws_connect(url, params={"app": app, "subscribeAll": "false"},
                                                   heartbeat=5.0) as ws:
                            await ops.allow_events(app, EVENTS)
                            await ops.subscribe(app, "endpoint:PJSIP")
                            self.connected.set()
                            backoff = 0.5
                            log.info("ARI messages connected (app %s)", app)
                            async for frame in ws:
                                if frame.type == aiohttp.WSMsgType.TEXT:
                                    self._event(frame.json())
                    except Exception as exc:
                        log.debug("ARI messages link: %s", exc)
                    self.connected.clear()
                    if not self._stopping.is_set():
                        await self._sleep(backoff)
                        backoff = min(backoff * 2, 5.0)
        finally:
            await ops.close()

    async def resend_pending(self) -> None:
        """Webhooks a restart cut short (kept, never POSTed): tried again once at start."""
        for reference in await inbound_sms.pending(self._db, now()):
            self._later(self._deliver(reference))

    def _event(self, event: dict[str, Any]) -> None:
        if event.get("type") != "TextMessageReceived":
            return
        self._later(self._take(event))

    async def _take(self, event: dict[str, Any]) -> None:
        message = event.get("message") or {}
        endpoint = (event.get("endpoint") or {}).get("resource", "")
        async with self._db() as session:
            trunk = await session.scalar(select(Trunk.name).where(Trunk.name == endpoint)) if endpoint else None
        if trunk is None:
            log.warning("text message from endpoint %r, which is no trunk: dropped", str(endpoint)[:64])
            return
        try:
            received = await inbound_sms.receive(self._db, str(message.get("from", "")), str(message.get("to", "")),
                                                 str(message.get("body", "")))
        except Exception:
            log.exception("keeping a text message failed")
            return
        if received is None:
            return
        self.received += 1
        self._on_received(received)
        await self._deliver(received.reference_id)

    async def _deliver(self, reference: str) -> None:
        try:
            await inbound_sms.deliver(self._db, self._hooks, reference)
        except Exception:
            log.exception("text message %s: its webhook failed", reference)

    def _later(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        self._stopping.set()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except asyncio.TimeoutError:
            pass
