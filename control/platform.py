"""`voicectl up`: Asterisk, the Stasis app, the AMI link and the HTTP server in one process
tree, stopped cleanly by SIGTERM or SIGINT."""
from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any, Callable

from aiohttp import web

from control.api.app import build_app
from control.calls.recorder import CallRecorder
from control.media.tts import HttpMedia, TtsCache
from control.pbx import config
from control.pbx.process import AsteriskSupervisor
from control.pbx.secrets import load_or_create
from control.pbx.sync import trunk_confs
from control.priority import raise_loop_priority
from control.settings import Settings
from control.store.db import make_engine, sessions
from control.telephony.ami import AmiLink
from control.telephony.ari import AriLink
from control.telephony.inbound import InboundCalls

log = logging.getLogger(__name__)


async def serve(settings: Settings) -> None:
    nice = raise_loop_priority(settings.loop_nice)
    engine = make_engine(settings.database_url)
    db = sessions(engine)
    secrets = load_or_create(settings.data_dir)
    tts = TtsCache(settings.media_dir / "tts")
    recorder = CallRecorder(db)
    inbound = InboundCalls(db, HttpMedia(tts, settings.media_url), recorder)
    supervisor = AsteriskSupervisor(settings) if settings.manage_asterisk else None
    if supervisor:
        config.render(settings, secrets, await trunk_confs(db))
    ari = AriLink(settings, secrets, inbound.handle, inbound.reconcile)
    ami = AmiLink(settings, secrets)

    async def health() -> tuple[bool, dict[str, Any]]:
        body: dict[str, Any] = {"ari": ari.connected.is_set(), "ami": ami.connected,
                                "active_calls": ari.active_calls, "asterisk": None}
        if ami.connected and body["ari"]:  # not ready without ARI: no need to ask Asterisk more
            try:
                body["asterisk"] = await ami.status()
            except Exception as exc:
                body["asterisk_error"] = str(exc) or type(exc).__name__
        if supervisor:
            body["asterisk_restarts"] = supervisor.restarts
        ready = body["ari"] and body["ami"] and body["asterisk"] is not None
        body["status"] = "ok" if ready else "starting" if not ari.reconnects else "degraded"
        return ready, body

    runner = web.AppRunner(build_app(health, tts), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.http_host, settings.http_port).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    tasks = [asyncio.ensure_future(ari.run()), asyncio.ensure_future(recorder.run())]
    if supervisor:
        tasks.append(asyncio.ensure_future(supervisor.run()))
    # AMI comes up with Asterisk; connecting once ARI answers spares a burst of retries.
    tasks.append(asyncio.ensure_future(_when_set(ari.connected, ami.start)))
    log.info("voicectl up: http %s:%d, sip %d, ari %d, ami %d, data %s, nice %d", settings.http_host,
             settings.http_port, settings.sip_port, settings.ari_port, settings.ami_port, settings.data_dir, nice)
    await stop.wait()
    log.info("stopping")
    await ari.stop()
    await recorder.close()
    ami.close()
    if supervisor:
        await supervisor.stop()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await runner.cleanup()
    await engine.dispose()


async def _when_set(event: asyncio.Event, then: Callable[[], None]) -> None:
    await event.wait()
    then()
