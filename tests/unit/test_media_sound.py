"""The one way media work runs a program: its failure and stderr, a timeout, and a cancelled
caller, each leaving no process behind."""
from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from control.media.sound import ProgramFailed, run


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"  # a zombie is no process


async def test_a_failing_program_says_its_status_and_what_it_wrote() -> None:
    with pytest.raises(ProgramFailed, match=r"sh failed \(3\): bad input") as caught:
        await run("sh", "-c", "echo bad input >&2; exit 3", timeout_s=10)
    assert (caught.value.status, caught.value.err) == (3, "bad input")
    await run("true", timeout_s=10)


async def test_a_program_running_too_long_is_killed(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    with pytest.raises(TimeoutError):
        await run("sh", "-c", f"echo $$ > {pid_file}; exec sleep 30", timeout_s=0.5)
    assert gone(int(pid_file.read_text()))


async def test_a_cancelled_caller_leaves_no_program_running(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    task = asyncio.ensure_future(run("sh", "-c", f"echo $$ > {pid_file}; exec sleep 30", timeout_s=60))
    for _ in range(100):
        if pid_file.exists() and pid_file.read_text().strip():
            break
        await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    pid = int(pid_file.read_text())
    for _ in range(100):  # killed at once; reaped by the loop's child watcher shortly after
        if gone(pid):
            break
        await asyncio.sleep(0.02)
    assert gone(pid)
