"""The matcher the hearing tests rely on, on synthetic audio: where it finds a prompt, and
that silence, other audio and a cut-off prompt do not pass for it."""
from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from tests.support import audio

RNG = np.random.default_rng(7)


def noise(seconds: float) -> np.ndarray:
    return RNG.normal(0, 3000, int(seconds * audio.RATE))


def test_finds_the_prompt_at_its_offset_whatever_its_level() -> None:
    prompt = noise(1)
    recording = np.concatenate([np.zeros(4000), 0.5 * prompt, noise(0.5) * 0.01])
    found = audio.match(recording, prompt)
    assert found.score > 0.99 and found.lag_s == 0.5


def test_other_audio_and_silence_do_not_match() -> None:
    prompt = noise(1)
    assert audio.match(noise(3), prompt).score < 0.1
    assert audio.match(np.zeros(24000), prompt).score == 0
    assert audio.match(np.zeros(0), prompt).score == 0


def test_a_prompt_cut_short_scores_by_what_was_heard() -> None:
    prompt = noise(2)
    found = audio.match(prompt[:4000], prompt)  # a quarter of it
    assert found.score == pytest.approx(0.5, abs=0.05)


def test_silent_prompt_is_refused() -> None:
    with pytest.raises(ValueError):
        audio.match(noise(1), np.zeros(100))


def test_reads_only_8khz_16bit_mono(tmp_path: Path) -> None:
    path = tmp_path / "x.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\0\0" * 10)
    with pytest.raises(ValueError, match="16000 Hz"):
        audio.read_wav(path)
