"""A far end that sends no audio is hung up by the platform after VOICECTL_RTP_TIMEOUT
seconds (PJSIP rtp_timeout on the trunk), and the call is recorded. Its own instance, with a
3 s timeout, and an IVR that would otherwise wait half a minute for a key."""
from __future__ import annotations

import json
import random
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


def provision(instance: Instance) -> None:
    tenant = json.loads(instance.cli("number", "list", "--json").stdout)[0]["tenant"]
    instance.cli("number", "add", NUMBER, "--tenant", tenant)
    ivr = instance.data_dir / "patient.yaml"
    ivr.write_text(PATIENT_IVR)
    instance.cli("ivr", "import", str(ivr), "--number", NUMBER)


@pytest.fixture(scope="module")
def quick_timeout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    with demo_instance(tmp_path_factory.mktemp("rtp"), rtp=(45500, 45999), env={"VOICECTL_RTP_TIMEOUT": "3"},
                       provision=provision) as instance:
        yield instance


def test_a_call_without_audio_is_hung_up_after_rtp_timeout(quick_timeout: Instance, tmp_path: Path) -> None:
    assert "rtp_timeout = 3" in (quick_timeout.data_dir / "asterisk" / "etc" / "pjsip_trunks.conf").read_text()
    caller = f"1555{random.randrange(10**6, 10**7)}"
    started = time.monotonic()
    # SIPp answers the platform's BYE; it sends no RTP at all unless a scenario tells it to.
    result = sipp.run(sipp.scenario([("expect_bye",)], caller=caller), workdir=tmp_path,
                      target=quick_timeout.sip_target, service=NUMBER[2:],
                      media_port=random.randrange(36000, 38000, 2), timeout=30)
    took = time.monotonic() - started
    assert result.ok, f"SIPp failed ({result.returncode}):\n{result.errors[-3000:]}"
    assert took < 10, f"hung up after {took:.1f}s, the IVR alone would wait 30s"
    call = wait_call(quick_timeout, lambda c: c.caller_id == caller)
    assert call.answered_at is not None
    lasted = (call.ended_at - call.answered_at).total_seconds()
    assert 2.5 <= lasted < 8, f"answered for {lasted:.1f}s with a 3s rtp_timeout"
    assert call.branch_data == [], "no key, no timeout: the call ended inside the menu's wait"
    assert call.hangup_by == "asterisk", "Asterisk ended it (RTP timeout), not the caller"
