"""`voicectl up`: Asterisk, the Stasis app, the AMI link and the HTTP server in one process
tree, stopped cleanly by SIGTERM or SIGINT."""
from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any, Callable

from aiohttp import web

from control.api.app import build_app
from control.api.voitex.context import FaceConfig
from control.calls.recorder import CallRecorder
from control.media.library import RecordingLibrary
from control.media.tts import HttpMedia, TtsCache
from control.pbx import config
from control.pbx.check import health as trunk_health
from control.pbx.process import AsteriskSupervisor
from control.pbx.secrets import load_or_create
from control.pbx.sync import trunk_confs
from control.priority import raise_loop_priority
from control.recordings.index import RecordingIndex
from control.recordings.sink import AriRecordingSink
from control.recordings.service import recordings_dir
from control.settings import Settings
from control.store.db import make_engine, sessions
from control.telephony.admission import Admission, AdmissionLimits
from control.telephony.ami import AmiLink
from control.telephony.ari import AriLink
from control.telephony.messaging import AriSender, MessageListener
from control.telephony.outbound import NotificationCalls
from control.notify.dispatcher import Dispatcher, DispatchLimits
from control.notify.service import Attempts
from control.telephony.inbound import InboundCalls, InboundLimits
from control.telephony.refusals import record_refusal
from control.upkeep import bring_up_to_date
from control.webhooks.client import WebhookClient
from control.webhooks.policy import WebhookPolicy

log = logging.getLogger(__name__)


async def serve(settings: Settings) -> None:
    nice = raise_loop_priority(settings.loop_nice)
    engine = make_engine(settings.database_url)
    db = sessions(engine)
    secrets = load_or_create(settings.data_dir)
    tts = TtsCache(settings.media_dir / "tts", renders=settings.tts_renders, max_bytes=settings.tts_cache_mb * 2**20)
    recorder = CallRecorder(db, settings.data_dir / "journal", flush_s=settings.record_batch_s,
                            dead_letter_file=settings.data_dir / "dead-letters.jsonl")
    # What a killed predecessor decided but never wrote goes in before any new call.
    await recorder.replay()
    upkeep = await bring_up_to_date(settings, db)
    for note in upkeep.notes():
        log.info("%s", note)
    for warning in upkeep.warnings():
        log.error("%s", warning)
    # Admission counts the link's calls: `ari` is bound late, when admission first asks.
    admission = Admission(AdmissionLimits(settings.max_calls, settings.max_loop_lag_ms, settings.max_answer_ms),
                          lambda: ari.active_calls)
    index = RecordingIndex(db)
    library = RecordingLibrary(recordings_dir(settings.data_dir), index)
    hooks = WebhookClient(WebhookPolicy.from_settings(settings))
    inbound = InboundCalls(db, HttpMedia(tts, settings.media_url, library), recorder, settings.node,
                           InboundLimits(max_call_seconds=settings.max_call_seconds), admission, hooks,
                           lambda ops: AriRecordingSink(ops, db, settings.data_dir, index))
    supervisor = AsteriskSupervisor(settings) if settings.manage_asterisk else None
    if supervisor:
        config.render(settings, secrets, await trunk_confs(db))
    # Reconcile reaches Asterisk through the link's own ARI client (takes left by a crash).
    ari = AriLink(settings, secrets, inbound.handle, lambda live, owned: inbound.reconcile(live, owned, ari.http),
                  lambda: admission.why_not() is None)
    ami = AmiLink(settings, secrets, lambda event: record_refusal(recorder, settings.node, event, admission.why_not()))
    calls = NotificationCalls(ari, inbound, recorder, settings.node, settings.notify_ring_s)
    dispatcher = Dispatcher(db, AriSender(ari, calls), DispatchLimits(
        settings.node, settings.broadcast_max_calls or max(1, settings.max_calls // 2), settings.notify_retry_s,
        stale_after_s=settings.max_call_seconds + settings.notify_ring_s + 600),
        admitting=lambda: admission.why_not() is None)
    messages = MessageListener(settings, secrets, db, hooks)

    async def health() -> tuple[bool, dict[str, Any]]:
        body: dict[str, Any] = {"ari": ari.connected.is_set(), "ami": ami.connected, "node": settings.node,
                                "active_calls": ari.active_calls, "asterisk": None,
                                "admitting": admission.why_not() is None, "loop_lag_ms": round(admission.lag_ms, 1),
                                "answer_ms": round(admission.answer_ms, 1),
                                "records": {"dead_letters": recorder.dead_letters,
                                            "writing": recorder.failing_since is None}}
        ws = ari.http.ws if ari.http is not None else None
        body["ari_requests"] = {"on": "websocket" if ws is not None and ws.attached else "http",
                                "answered_on_websocket": ws.answered_count if ws is not None else 0}
        if ami.connected and body["ari"]:  # not ready without ARI: no need to ask Asterisk more
            try:
                body["asterisk"] = await ami.status()
            except Exception as exc:
                body["asterisk_error"] = str(exc) or type(exc).__name__
        if supervisor:
            body["asterisk_restarts"] = supervisor.restarts
        body["notify"] = {"calls": dispatcher.active_calls, "messages_link": messages.connected.is_set()}
        ready = body["ari"] and body["ami"] and body["asterisk"] is not None
        body["status"] = "ok" if ready else "starting" if not ari.reconnects else "degraded"
        if ready and (recorder.dead_letters or recorder.failing_since is not None):
            body["status"] = "degraded"  # calls still run: 200, but an operator must look
        if ready:  # a trunk Asterisk did not load (or still runs after removal): say which
            trunks_ok, body["trunks"] = await trunk_health(db, ami)
            if not trunks_ok:
                body["status"] = "degraded"
        return ready, body

    voitex = FaceConfig(db, settings.data_dir, settings.api_max_body_mb * 2**20, settings.api_requests_per_minute,
                        library.index, tts, wake=dispatcher.wake,
                        attempts=Attempts(settings.notify_attempts, settings.notify_retry_s))
    runner = web.AppRunner(build_app(health, tts, library, voitex), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.http_host, settings.http_port).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    tasks = [asyncio.ensure_future(ari.run()), asyncio.ensure_future(recorder.run()),
             asyncio.ensure_future(admission.run(ari.connected, ari.set_gate))]
    if supervisor:
        tasks.append(asyncio.ensure_future(supervisor.run()))
    # AMI comes up with Asterisk; connecting once ARI answers spares a burst of retries.
    tasks.append(asyncio.ensure_future(_when_set(ari.connected, ami.start)))
    # Sending starts once Asterisk answers: the first claims would only wait for it.
    tasks.append(asyncio.ensure_future(_when_set(ari.connected, lambda: _spawn(tasks, dispatcher.run()))))
    tasks.append(asyncio.ensure_future(messages.run()))
    tasks.append(asyncio.ensure_future(messages.resend_pending()))
    log.info("voicectl up: http %s:%d, sip %d, ari %d, ami %d, data %s, nice %d", settings.http_host,
             settings.http_port, settings.sip_port, settings.ari_port, settings.ami_port, settings.data_dir, nice)
    await stop.wait()
    dispatcher.halt()  # no new notification calls or messages; those under way drain with the rest
    await drain(ari, admission, settings.drain_seconds)
    await dispatcher.stop(5.0)
    await messages.stop()
    log.info("stopping")
    await ari.stop()
    await recorder.close()
    await hooks.close()
    ami.close()
    if supervisor:
        await supervisor.stop()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await runner.cleanup()
    await engine.dispose()


async def drain(ari: AriLink, admission: Admission, grace_s: float) -> None:
    """No new calls (the gate closes: SIP 503), running calls get `grace_s` to finish, then
    the platform hangs up the rest, each recorded as ended by the shutdown."""
    admission.draining = True
    if ari.connected.is_set():
        try:
            await ari.set_gate(False)
        except Exception as exc:
            log.warning("could not close the admission gate: %s", exc)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace_s
    if ari.active_calls:
        log.info("draining: %d calls in progress get up to %.0f s", ari.active_calls, grace_s)
    while ari.active_calls and loop.time() < deadline:
        await asyncio.sleep(0.1)
    left = ari.sessions
    if left:
        log.warning("hanging up %d calls still running after the %.0f s grace", len(left), grace_s)
        await asyncio.gather(*(s.end("platform shutdown") for s in left), return_exceptions=True)
        ends = loop.time() + 5
        while ari.active_calls and loop.time() < ends:
            await asyncio.sleep(0.05)


def _spawn(tasks: list[asyncio.Future[Any]], work: Any) -> None:
    tasks.append(asyncio.ensure_future(work))


async def _when_set(event: asyncio.Event, then: Callable[[], None]) -> None:
    await event.wait()
    then()
