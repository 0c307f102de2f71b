"""Asterisk dies mid-run: the platform notices, restarts it, reconnects, closes the call that
was lost, and answers the next call normally. Runs on a second instance beside the first."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Iterator

import pytest

from tests.integration.conftest import require_asterisk, wait_call
from tests.integration.test_local_calls import call_local
from tests.support.platform import Instance
from tests.support.wait import eventually


@pytest.fixture
def second(tmp_path: Path, platform: Instance) -> Iterator[Instance]:
    require_asterisk()
    instance = Instance.create(tmp_path / "second", rtp=(34000, 34999))
    instance.cli("demo")
    instance.start()
    yield instance
    assert instance.stop() == 0, instance.log_tail()


def wait_health(instance: Instance, want: int, ari: bool, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code, body = instance.health()
        if code == want and body.get("ari") is ari:
            return body
        time.sleep(0.05)
    raise AssertionError(f"/healthz never answered {want}: {instance.health()}\n{instance.log_tail()}")


def test_killed_asterisk_is_restarted_and_the_next_call_is_answered(second: Instance, platform: Instance) -> None:
    assert platform.health()[0] == 200, "the first instance runs side by side"
    lost = call_local(second, "8005550100", "w60")
    wait_call_up(second, lost)
    old_pid = second.asterisk_pid()

    os.kill(old_pid, signal.SIGKILL)
    wait_health(second, 503, ari=False)
    up = wait_health(second, 200, ari=True)
    assert up["asterisk_restarts"] == 1 and second.asterisk_pid() != old_pid

    record = wait_call(second, lambda c: c.id == lost)
    assert record.hangup_by == "lost"

    after = call_local(second, "8005550100", "w2,d2,w20")
    call = wait_call(second, lambda c: c.id == after)
    assert call.branch_data == [{"branch": "0", "input": "2"}, {"branch": "900", "input": ""}]
    assert platform.health()[0] == 200, "the first instance was not disturbed"


def wait_call_up(instance: Instance, call_id: str, timeout: float = 10) -> None:
    eventually(lambda: any(c["id"] == call_id and c["state"] == "Up" for c in instance.ari("GET", "channels")),
               timeout, f"call {call_id} never came up", interval=0.1)
