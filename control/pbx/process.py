"""Keep one Asterisk running: start it with asterisk/run.sh, restart it when it dies."""
from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

from control.priority import at_normal_priority
from control.settings import REPO_ROOT, Settings

log = logging.getLogger(__name__)
RUNNER = REPO_ROOT / "asterisk" / "run.sh"


class AsteriskSupervisor:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._proc: asyncio.subprocess.Process | None = None
        self._stopping = asyncio.Event()
        self.restarts = 0

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc and self._proc.returncode is None else None

    async def run(self) -> None:
        """Run until stop(); a death is logged and followed by a restart with backoff."""
        backoff = 0.5
        log_path: Path = self._settings.asterisk_dir / "log" / "console.log"
        while not self._stopping.is_set():
            with open(log_path, "ab") as console:
                self._proc = await asyncio.create_subprocess_exec(
                    *at_normal_priority([str(RUNNER), str(self._settings.asterisk_dir),
                                         str(self._settings.asterisk_rootfs)]),
                    stdin=asyncio.subprocess.DEVNULL, stdout=console, stderr=console,
                    start_new_session=True,
                )
            log.info("asterisk started, pid %s", self._proc.pid)
            started = asyncio.get_running_loop().time()
            code = await self._proc.wait()
            if self._stopping.is_set():
                break
            lived = asyncio.get_running_loop().time() - started
            backoff = 0.5 if lived > 30 else min(backoff * 2, 10)
            self.restarts += 1
            log.error("asterisk exited with %s after %.1fs; restarting in %.1fs", code, lived, backoff)
            try:
                await asyncio.wait_for(self._stopping.wait(), backoff)
            except asyncio.TimeoutError:
                pass

    async def stop(self, grace: float = 10.0) -> None:
        self._stopping.set()
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), grace)
        except asyncio.TimeoutError:
            log.warning("asterisk ignored SIGTERM for %.0fs; killing it", grace)
            proc.kill()
            await proc.wait()
