"""A far end that sends no audio is hung up by the platform after VOICECTL_RTP_TIMEOUT
seconds (PJSIP rtp_timeout on the trunk), and the call is recorded. Its own instance, with a
3 s timeout, and an IVR that would otherwise wait half a minute for a key."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator

import pytest

from tests.integration.conftest import wait_call
from tests.integration.started import demo_instance
from tests.support import sipp
from tests.support.platform import Instance

NUMBER = "+18005550122"
PATIENT_IVR = """
branches:
  "0": {type: menu, play: [{type: sound, name: beep}], inputs: {"1": "900"}, timeout: 30, retries: 0,
        on_timeout: "900"}
  "900": {type: hangup}
"""


@pytest.fixture(scope="module")
def quick_timeout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    with demo_instance(tmp_path_factory.mktemp("rtp"), rtp=(45500, 45999), env={"VOICECTL_RTP_TIMEOUT": "3"},
                       provision=lambda instance: instance.add_ivr(NUMBER, PATIENT_IVR)) as instance:
        yield instance


def test_a_call_without_audio_is_hung_up_after_rtp_timeout(quick_timeout: Instance, tmp_path: Path) -> None:
    assert "rtp_timeout = 3" in (quick_timeout.data_dir / "asterisk" / "etc" / "pjsip_trunks.conf").read_text()
    caller = sipp.new_caller()
    started = time.monotonic()
    # SIPp answers the platform's BYE; it sends no RTP at all unless a scenario tells it to.
    result = sipp.sip_call(quick_timeout.sip_target, tmp_path, NUMBER[2:], [("expect_bye",)], caller=caller,
                           timeout=30)
    took = time.monotonic() - started
    sipp.assert_ok(result)
    assert took < 10, f"hung up after {took:.1f}s, the IVR alone would wait 30s"
    call = wait_call(quick_timeout, lambda c: c.caller_id == caller)
    assert call.answered_at is not None
    lasted = (call.ended_at - call.answered_at).total_seconds()
    assert 2.5 <= lasted < 8, f"answered for {lasted:.1f}s with a 3s rtp_timeout"
    assert call.branch_data == [], "no key, no timeout: the call ended inside the menu's wait"
    assert call.hangup_by == "asterisk", "Asterisk ended it (RTP timeout), not the caller"
