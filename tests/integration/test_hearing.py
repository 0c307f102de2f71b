"""The caller hears the right prompt: a Local-channel caller records what reaches it, and the
recording is compared with the TTS render the platform played (tests/support/audio.py)."""
from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from control.media.tts import TtsCache, tts_key
from control.pbx.config import layout
from tests.integration.conftest import wait_call
from tests.integration.started import demo_instance
from tests.integration.test_local_calls import call_local
from tests.support import audio
from tests.support.platform import Instance

SALES = "You chose sales. Our team will call you back within one business day."
SUPPORT = "You chose support. Please describe the problem after the tone, then hang up."
MENU = "Press one for sales, two for support."
# Measured: the played prompt scores 0.999 (a Local channel carries it untouched); the other
# branch's prompt, a text of about the same length, 0.11; a prompt Asterisk cannot fetch 0.02.
HEARD = 0.9
NOT_HEARD = 0.3

CHOICE_NUMBER = "+18005550177"
CHOICE_IVR = f"""
branches:
  "0": {{type: menu, play: [{{type: tts, text: "{MENU}"}}], inputs: {{"1": "10", "2": "20"}},
        timeout: 5, retries: 0}}
  "10": {{type: hangup, play: [{{type: tts, text: "{SALES}"}}]}}
  "20": {{type: hangup, play: [{{type: tts, text: "{SUPPORT}"}}]}}
"""
BROKEN_NUMBER = "+18005550178"
# The beep after the prompt (one of Asterisk's own files, not fetched) shows the recording
# works: the caller hears something, just not the prompt.
BROKEN_IVR = f"""
branches:
  "0": {{type: content, play: [{{type: tts, text: "{SUPPORT}"}}], next: "900"}}
  "900": {{type: hangup, play: [{{type: sound, name: beep}}]}}
"""
AUDIBLE = 1000  # peak sample: far above the silence and comfort noise of an idle call


def call_and_listen(instance: Instance, number: str, script: str) -> np.ndarray:
    """Call `number` from a caller that records what it hears, then runs `script`; the
    recording once the call has ended."""
    name = f"heard-{uuid.uuid4().hex[:12]}"
    call_id = call_local(instance, number, f"r{name},{script}")
    wait_call(instance, lambda c: c.id == call_id)
    return audio.wait_recording(layout(instance.settings).host_dir / "spool" / "monitor" / f"{name}.wav")


def played(instance: Instance, text: str) -> np.ndarray:
    """The very file the platform rendered for `text` (and played, if Asterisk could fetch it)."""
    return audio.read_wav(instance.settings.media_dir / "tts" / f"{tts_key(text)}.wav")


def rendered(directory: Path, text: str) -> np.ndarray:
    """A render the platform never played: what a wrong prompt would have sounded like."""
    cache = TtsCache(directory)
    return audio.read_wav(cache.path(asyncio.run(cache.ensure(text))))


@pytest.fixture(scope="module")
def choice_ivr(platform: Instance) -> Instance:
    platform.add_ivr(CHOICE_NUMBER, CHOICE_IVR)
    return platform


@pytest.fixture(scope="module")
def broken_media(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    """An instance whose media URL points where the control plane serves nothing: every TTS
    prompt renders but Asterisk's fetch of it gets a 404."""
    def provision(instance: Instance) -> None:
        instance.env["VOICECTL_MEDIA_URL"] = f"http://127.0.0.1:{instance.ports['http']}/no-such-media"
        instance.add_ivr(BROKEN_NUMBER, BROKEN_IVR)

    with demo_instance(tmp_path_factory.mktemp("broken-media"), rtp=(46000, 46999), provision=provision) as instance:
        yield instance


def test_caller_hears_the_branch_it_chose(choice_ivr: Instance, tmp_path: Path) -> None:
    heard = call_and_listen(choice_ivr, CHOICE_NUMBER, "w1,d2,w20")
    right = audio.match(heard, played(choice_ivr, SUPPORT))
    wrong = audio.match(heard, rendered(tmp_path, SALES))
    print(f"support (chosen): {right}; sales (not chosen): {wrong}")
    assert right.score > HEARD, f"the chosen branch's prompt was not heard: {right}"
    # The menu played for about a second before the key, then the support prompt.
    assert 0.9 < right.lag_s < 3, right
    assert wrong.score < NOT_HEARD, f"the other branch's prompt matched too: {wrong}"


def test_prompt_that_cannot_be_fetched_is_not_heard(broken_media: Instance, tmp_path: Path) -> None:
    heard = call_and_listen(broken_media, BROKEN_NUMBER, "w10")
    # The control plane rendered it; Asterisk could not fetch it, so the caller heard silence.
    prompt = played(broken_media, SUPPORT)
    result = audio.match(heard, prompt)
    print(f"unfetchable support prompt: {result}, {len(heard) / audio.RATE:.1f} s recorded, "
          f"peak {np.abs(heard).max():.0f}")
    assert np.abs(heard).max() > AUDIBLE, "the beep after the prompt was not recorded either"
    assert result.score < NOT_HEARD, f"a prompt that cannot be fetched was heard: {result}"
