"""Hearing a call: read what a test caller recorded and say how well a prompt matches it.

The platform plays 8 kHz 16-bit mono WAV (control/media/tts.py) and a Local channel carries it
as signed linear, untouched by any codec, so the prompt arrives with its waveform intact (the
recording came out 6 dB down, which a normalized measure ignores); only the moment it starts
is unknown. The match is therefore the normalized cross-correlation of the prompt against
every same-length stretch of the recording, at its best lag.
"""
from __future__ import annotations

import time
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RATE = 8000
WAV_HEADER = 44  # Asterisk writes the plain 44-byte header and fills in the sizes on close


@dataclass(frozen=True)
class Match:
    score: float  # 1.0: the prompt is in the recording exactly; about 0: nothing like it
    lag_s: float  # where in the recording it starts


def read_wav(path: Path) -> np.ndarray:
    """Samples of an 8 kHz 16-bit mono WAV, as float64."""
    with wave.open(str(path), "rb") as w:
        shape = (w.getframerate(), w.getsampwidth(), w.getnchannels())
        if shape != (RATE, 2, 1):
            raise ValueError(f"{path}: {shape[0]} Hz, {8 * shape[1]}-bit, {shape[2]} channels; "
                             f"expected {RATE} Hz 16-bit mono")
        frames = w.readframes(w.getnframes())
    return np.frombuffer(frames, dtype="<i2").astype(np.float64)


def wait_recording(path: Path, timeout: float = 15) -> np.ndarray:
    """The recording's samples once Asterisk has closed the file: MixMonitor stops when the
    caller's channel goes, a moment after the call record ends, and writes the header last."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and _header_complete(path):
            return read_wav(path)
        time.sleep(0.2)
    raise AssertionError(f"no complete recording at {path} within {timeout}s "
                         f"({path.stat().st_size if path.exists() else 'missing'} bytes)")


def _header_complete(path: Path) -> bool:
    try:
        with wave.open(str(path), "rb") as w:
            return WAV_HEADER + w.getnframes() * w.getsampwidth() == path.stat().st_size
    except (EOFError, wave.Error):
        return False


def match(recording: np.ndarray, prompt: np.ndarray) -> Match:
    """The best normalized cross-correlation of `prompt` against `recording`, over every lag.

    The recording is followed by silence as long as the prompt: a call that ends during the
    prompt's trailing silence still matches whole, and a prompt cut short scores no more than
    the norm of the part heard over the whole prompt's."""
    if not prompt.any():
        raise ValueError("the prompt is silent: nothing to match")
    n = len(prompt)
    recording = np.concatenate([recording, np.zeros(n)])
    dots = _sliding_dots(recording, prompt)
    energy = np.cumsum(np.concatenate([[0.0], recording ** 2]))
    window_norm = np.sqrt(energy[n:] - energy[:-n])
    # Silent stretches have no direction to compare: they score 0, not a division by zero.
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = np.where(window_norm > 1e-6, dots / (window_norm * np.linalg.norm(prompt)), 0.0)
    best = int(np.argmax(scores))
    return Match(score=float(scores[best]), lag_s=best / RATE)


def _sliding_dots(recording: np.ndarray, prompt: np.ndarray) -> np.ndarray:
    """dot(recording[k:k+len(prompt)], prompt) for every k, by FFT: seconds of audio make a
    direct correlation take seconds too."""
    size = 1 << (len(recording) + len(prompt)).bit_length()
    spectrum = np.fft.rfft(recording, size) * np.conj(np.fft.rfft(prompt, size))
    return np.fft.irfft(spectrum, size)[: len(recording) - len(prompt) + 1]
