"""Keep one Asterisk running: start it with run.sh (control/assets/asterisk/), restart it
when it dies."""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from pathlib import Path

from control.assets import RUN_SCRIPT
from control.priority import at_normal_priority
from control.settings import Settings

log = logging.getLogger(__name__)


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
        await asyncio.to_thread(stop_leftover, self._settings.asterisk_dir)
        while not self._stopping.is_set():
            with open(log_path, "ab") as console:
                # stdin stays open and unused: run.sh stops Asterisk when it closes, which
                # is also what happens when this process dies, however it dies.
                self._proc = await asyncio.create_subprocess_exec(
                    *at_normal_priority(["bash", str(RUN_SCRIPT), str(self._settings.asterisk_dir),
                                         str(self._settings.asterisk_rootfs)]),
                    stdin=asyncio.subprocess.PIPE, stdout=console, stderr=console,
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
        if proc.stdin is not None:
            proc.stdin.close()  # run.sh's guard sends Asterisk SIGTERM
        try:
            await asyncio.wait_for(proc.wait(), grace)
        except asyncio.TimeoutError:
            log.warning("asterisk ignored SIGTERM for %.0fs; killing it", grace)
            os.killpg(proc.pid, signal.SIGKILL)  # run.sh, its guard and Asterisk share the group
            await proc.wait()


def stop_leftover(instance_dir: Path, grace: float = 10.0) -> None:
    """An Asterisk of this instance still running (its supervisor died in a way even run.sh's
    guard missed) holds the ports the new one needs: stop it before starting."""
    pid_file = instance_dir / "run" / "asterisk.pid"
    try:
        pid = int(pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        # A chrooted Asterisk names the instance only through its bind mount.
        mounts = Path(f"/proc/{pid}/mountinfo").read_bytes()
    except (OSError, ValueError):
        return
    if b"asterisk" not in cmdline or str(instance_dir).encode() not in cmdline + mounts:
        return  # a stale pid file whose pid now belongs to someone else
    log.warning("stopping a leftover Asterisk (pid %d) from an earlier run", pid)
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists():
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
