"""The platform attacked as an unlucky operator would: `kill -9` of the control plane, an
Asterisk with no app, SIGTERM with calls up, more calls than allowed, a frozen Asterisk.
Each runs on an instance of its own beside the shared one."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

from control.assets import RUN_SCRIPT
from tests.integration.conftest import require_asterisk, wait_call
from tests.integration.test_local_calls import call_local
from tests.integration.test_restart import wait_call_up, wait_health
from tests.support import sipp
from tests.support.platform import Instance
from tests.support.wait import eventually

RTP = (47000, 47999)


def make(tmp_path: Path, **env: str) -> Instance:
    require_asterisk()
    instance = Instance.create(tmp_path / "inst", rtp=RTP)
    instance.env.update(env)
    instance.cli("demo")
    return instance


@pytest.fixture
def running(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Instance]:
    instance = make(tmp_path, **getattr(request, "param", {}))
    instance.start()
    yield instance
    instance.stop()


def gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def journaled(instance: Instance, call_id: str, op: str, timeout: float) -> bool:
    """The call's record change `op` ("start", "end") is in the control plane's journal."""
    return eventually(lambda: any(json.loads(line).get("op") == op and json.loads(line).get("id") == call_id
                                  for segment in (instance.settings.data_dir / "journal").glob("calls.*.jsonl")
                                  for line in segment.read_text().splitlines() if line.strip()),
                      timeout, interval=0.1)


def journaled_start(instance: Instance, call_id: str, timeout: float) -> bool:
    return journaled(instance, call_id, "start", timeout)


def sip(instance: Instance, tmp_path: Path, number: str, steps: list, caller: str = "") -> sipp.SippResult:
    caller = caller or sipp.new_caller()
    return sipp.sip_call(instance.sip_target, tmp_path / f"sipp-{caller}", number, steps, caller=caller, timeout=40)


def test_kill_9_loses_no_record_and_leaves_no_asterisk(tmp_path: Path) -> None:
    # Batches 30 s apart: whatever the calls decided is only in the journal when the kill comes.
    instance = make(tmp_path, VOICECTL_RECORD_BATCH_S="30")
    instance.start()
    try:
        done = call_local(instance, "8005550100", "w1,d2,w20")
        up = call_local(instance, "8005550100", "w60")
        wait_call_up(instance, up)
        # The channel gone from Asterisk is not yet the end decided: wait for it in the journal
        # (killing in between was a flake: the call then rightly came back `lost`).
        assert journaled(instance, done, "end", 15), "the finished call's end never reached the journal"
        asterisk = instance.asterisk_pid()
        assert instance.proc is not None
        instance.proc.send_signal(signal.SIGKILL)
        instance.proc.wait(5)
        assert gone(asterisk, 10), "Asterisk outlived its control plane"

        started = time.monotonic()
        instance.start()
        assert time.monotonic() - started < 15
        finished = wait_call(instance, lambda c: c.id == done)
        assert finished.branch_data == [{"branch": "0", "input": "2"}, {"branch": "900", "input": ""}]
        assert finished.hangup_by == "platform"
        assert wait_call(instance, lambda c: c.id == up).hangup_by == "lost"
        wait_call_up(instance, call_local(instance, "8005550100", "w1,d2,w20"))
    finally:
        instance.stop()


def test_a_stasis_that_fails_is_refused_with_503(tmp_path: Path) -> None:
    """Asterisk up, the app not registered (the control plane restarting): 503, not 603."""
    instance = make(tmp_path)
    instance.cli("init")
    settings = instance.settings
    asterisk = subprocess.Popen(["bash", str(RUN_SCRIPT), str(settings.asterisk_dir), str(settings.asterisk_rootfs)],
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                instance.ari("GET", "asterisk/info")
                break
            except OSError:
                time.sleep(0.2)
        # The gate open, as a control plane that just died would have left it: Stasis() itself fails.
        instance.ari("POST", "asterisk/variable", params={"variable": "VOICECTL_ADMIT", "value": "1"})
        result = sip(instance, tmp_path, "8005550100", [("expect", 503)])
        sipp.assert_ok(result)
        instance.ari("POST", "asterisk/variable", params={"variable": "VOICECTL_ADMIT", "value": "0"})
        result = sip(instance, tmp_path, "8005550100", [("expect", 503)])
        sipp.assert_ok(result)
    finally:
        assert asterisk.stdin is not None
        asterisk.stdin.close()  # run.sh's guard stops Asterisk
        assert asterisk.wait(15) == 0 or asterisk.returncode is not None


@pytest.mark.parametrize("running", [{"VOICECTL_DRAIN_SECONDS": "2"}], indirect=True)
def test_sigterm_drains_refuses_new_calls_and_records_the_rest(running: Instance, tmp_path: Path) -> None:
    up = call_local(running, "8005550100", "w60")
    wait_call_up(running, up)
    assert running.proc is not None
    running.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    refused = sip(running, tmp_path, "8005550100", [("expect", 503)])
    sipp.assert_ok(refused)
    assert running.proc.wait(30) == 0
    record = running.db(lambda db: __import__("control.calls.service", fromlist=["get_call"]).get_call(db, up))
    assert record.hangup_by == "platform" and record.reason == "platform shutdown" and record.ended_at


@pytest.mark.parametrize("running", [{"VOICECTL_MAX_CALLS": "1"}], indirect=True)
def test_beyond_max_calls_new_calls_get_503_and_admitted_ones_run(running: Instance, tmp_path: Path) -> None:
    up = call_local(running, "8005550100", "w4,d2,w20")
    wait_call_up(running, up)
    time.sleep(0.3)  # the gate follows within a tick
    assert running.health()[1]["admitting"] is False
    refused = sip(running, tmp_path, "8005550100", [("expect", 503)], caller="15559990001")
    sipp.assert_ok(refused)
    record = wait_call(running, lambda c: c.caller_id == "15559990001")
    assert record.reason == "refused: 1 calls in progress" and record.hangup_cause == 34
    assert record.answered_at is None and record.number == "8005550100"
    assert wait_call(running, lambda c: c.id == up).branch_data == [{"branch": "0", "input": "2"},
                                                                  {"branch": "900", "input": ""}]
    time.sleep(0.3)
    assert running.health()[1]["admitting"] is True


def test_a_frozen_asterisk_is_noticed_and_its_calls_resynced(running: Instance) -> None:
    call = call_local(running, "8005550100", "w6,d2,w20")
    wait_call_up(running, call)
    pid = running.asterisk_pid()
    os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        wait_health(running, 503, ari=False, timeout=10)
        noticed = time.monotonic() - started
    finally:
        os.kill(pid, signal.SIGCONT)
    assert noticed < 8, f"a dead ARI socket took {noticed:.1f}s to notice"
    wait_health(running, 200, ari=True)
    record = wait_call(running, lambda c: c.id == call)
    assert record.branch_data == [{"branch": "0", "input": "2"}, {"branch": "900", "input": ""}]
    assert record.hangup_by == "platform", running.log_tail()


def test_run_sh_killed_mid_call_leaves_one_asterisk_and_a_true_record(running: Instance) -> None:
    """run.sh (the script between the supervisor and Asterisk) killed -9: its guard stops the
    old Asterisk, the supervisor starts one new one, and the call Asterisk ended says so."""
    up = call_local(running, "8005550100", "w60")
    wait_call_up(running, up)
    old = running.asterisk_pid()
    run_sh = int(Path(f"/proc/{old}/stat").read_text().split()[3])
    os.kill(run_sh, signal.SIGKILL)
    assert gone(old, 15), "the old Asterisk outlived its run.sh"
    running.wait_healthy(30)
    mine = [p for p in subprocess.run(["pgrep", "-x", "asterisk"], capture_output=True, text=True).stdout.split()
            if str(running.data_dir).encode() in Path(f"/proc/{p}/mountinfo").read_bytes()
            + Path(f"/proc/{p}/cmdline").read_bytes()]
    assert len(mine) == 1, mine
    record = wait_call(running, lambda c: c.id == up)
    assert record.hangup_by == "asterisk", (record.hangup_by, record.hangup_cause, record.reason)
    after = call_local(running, "8005550100", "w1,d2,w20")
    assert wait_call(running, lambda c: c.id == after).hangup_by == "platform"
