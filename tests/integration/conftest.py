"""Integration tests: a real Asterisk (the one the project installs) and real calls.

A missing Asterisk is a failure, not a skip: `make test` installs it, and CI must run these.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

from control.calls.service import list_calls
from control.store.models import Call
from tests.support.platform import DEFAULT_ROOTFS, Instance

TEST_NUMBER = "+18005550111"
# Short timeouts so the timeout paths take seconds, not half a minute.
TEST_IVR = """
branches:
  "0": {type: menu, play: [{type: sound, name: beep}], inputs: {"1": "0", "2": "900", "3": "10"},
        timeout: 1, retries: 1, on_timeout: "900"}
  "10": {type: content, play: [{type: sound, name: beep}], next: "900"}
  "900": {type: hangup, play: [{type: sound, name: beep}]}
"""


def require_asterisk() -> None:
    rootfs = Path(os.environ.get("VOICECTL_ASTERISK_ROOTFS", DEFAULT_ROOTFS))
    if not shutil.which("asterisk") and not (rootfs / "usr/sbin/asterisk").exists():
        pytest.fail(f"no Asterisk (host or {rootfs}): run `make test`, which installs it", pytrace=False)
    if not shutil.which("sipp"):
        pytest.fail("no sipp: run `make test`, which installs it", pytrace=False)


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    require_asterisk()
    instance = Instance.create(tmp_path_factory.mktemp("platform"), rtp=(33000, 33999))
    instance.cli("init")
    instance.cli("demo")
    instance.add_ivr(TEST_NUMBER, TEST_IVR)
    instance.start()
    yield instance
    code = instance.stop()
    assert code == 0, f"voicectl up did not stop cleanly on SIGTERM ({code}):\n{instance.log_tail()}"


def wait_call(instance: Instance, match: Callable[[Call], bool], timeout: float = 30) -> Call:
    """The ended call record that matches, once it exists."""
    deadline = time.monotonic() + timeout
    seen: list[Call] = []
    while time.monotonic() < deadline:
        seen = instance.db(lambda db: list_calls(db, 200))
        for call in seen:
            if match(call) and call.ended_at is not None:
                return call
        time.sleep(0.3)
    raise AssertionError(f"no ended call matched within {timeout}s; recent: "
                         f"{[(c.id, c.caller_id, c.number, c.ended_at, c.branch_data) for c in seen[:5]]}\n"
                         f"{instance.log_tail()}")
