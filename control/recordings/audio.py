"""Turning an uploaded or recorded file into the one shape Asterisk plays without transcoding
work of its own (control/media/sound.py): 8 kHz, mono, 16-bit signed PCM in a WAV file."""
from __future__ import annotations

import asyncio
import functools
import hashlib
import io
import os
import re
import stat
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from control.errors import Invalid, ServiceError
from control.media.sound import CHANNELS, RATE, SAMPLE_BYTES, SOX_SHAPE, WAV_HEADER, ProgramFailed, run

MAX_BYTES = 20 * 1024 * 1024  # of the file as given; a WAV this size at CD quality is ~2 minutes
MAX_SECONDS = 3600.0
DIGEST_CHARS = 16  # of the hex SHA-256: names a version of a recording in its URL
# A well-formed 20 MiB file converts in a second or two; one that keeps sox busy longer is
# hostile or broken, and must not hold the caller (an HTTP request, a CLI) forever.
CONVERT_TIMEOUT_S = 120.0
MP3_PACKAGE = "libsox-fmt-mp3"
SOX_QUOTED = re.compile(r"`[^']*'")  # how sox quotes a file name in its messages


class MissingCodec(ServiceError):
    """The file is fine but this machine's sox cannot read its format: an operator's problem
    (a package to install), not the uploader's."""


@dataclass(frozen=True)
class Converted:
    seconds: float
    bytes: int
    digest: str  # the first DIGEST_CHARS hex digits of the converted file's SHA-256


def sniff(head: bytes) -> str | None:
    """'wav' or 'mp3' from a file's first bytes, else None. The content decides, not the name:
    an upload's temporary file has none, and sox cannot detect MP3 by content."""
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:3] == b"ID3":
        return "mp3"
    # An MPEG audio frame header: 11 sync bits, then a version and a layer that are not reserved.
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 \
            and head[1] & 0x18 != 0x08 and head[1] & 0x06 != 0:
        return "mp3"
    return None


def check_source(source: Path, label: str, max_bytes: int | None = None) -> tuple[list[str], str | None]:
    """What is wrong with the file before any work is spent on it, and its format (what
    `convert` is given). Only WAV and MP3 are taken: sox reads dozens of formats, each parser
    more surface for a hostile upload to reach."""
    try:
        st = source.stat()
    except FileNotFoundError:
        return [f"{label}: no such file"], None
    except OSError as exc:
        return [f"{label}: cannot be read ({exc.strerror})"], None
    if not stat.S_ISREG(st.st_mode):
        return [f"{label}: not a file"], None
    if st.st_size == 0:
        return [f"{label}: the file is empty"], None
    max_bytes = MAX_BYTES if max_bytes is None else max_bytes
    if st.st_size > max_bytes:
        limit = f"{max_bytes // 2**20} MiB" if max_bytes % 2**20 == 0 else f"{max_bytes} bytes"
        return [f"{label}: {st.st_size} bytes, more than the {limit} a recording may be"], None
    try:
        with source.open("rb") as f:
            head = f.read(12)
    except OSError as exc:
        return [f"{label}: cannot be read ({exc.strerror})"], None
    kind = sniff(head)
    if kind is None:
        return [f"{label}: not a WAV or MP3 file"], None
    return [], kind


class WavHeader(NamedTuple):
    seconds: float
    native: bool  # already the library's shape, header and all: nothing for sox to do


def wav_header(data: bytes) -> WavHeader | None:
    """What a WAV's header says, or None when it is no WAV this reads (`convert` then judges
    it as it judges any file). Native is the canonical 44-byte header over 8 kHz 16-bit mono
    PCM, every byte it counts present and none more: what Asterisk's `wav` format writes."""
    try:
        with wave.open(io.BytesIO(data), "rb") as w:
            frames, seconds = w.getnframes(), w.getnframes() / w.getframerate()
            shape = (w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getcomptype())
    except (wave.Error, EOFError, ZeroDivisionError):
        return None
    native = shape == (RATE, CHANNELS, SAMPLE_BYTES, "NONE") and len(data) == WAV_HEADER + frames * SAMPLE_BYTES
    return WavHeader(seconds, native)


@functools.cache
def sox_formats() -> frozenset[str]:
    """The file formats this machine's sox reads (`sox -h` lists them); asked once a process."""
    try:
        out = subprocess.run(["sox", "-h"], capture_output=True, text=True, check=False).stdout
    except OSError:  # no sox at all
        return frozenset()
    for line in out.splitlines():
        if line.startswith("AUDIO FILE FORMATS:"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


async def convert(source: Path, kind: str, target: Path, label: str) -> Converted:
    """Convert source, of the format check_source found (`kind`), into target. Invalid when the
    file is not audio Asterisk could play, MissingCodec when sox lacks its format; target is
    then left absent. `label` names the file in messages (an upload's temporary path means
    nothing to its sender)."""
    formats = await asyncio.to_thread(sox_formats)
    if not formats:
        raise MissingCodec("sox is not installed on this machine (voicectl install installs it)")
    if kind not in formats:
        package = MP3_PACKAGE if kind == "mp3" else "sox"
        raise MissingCodec(f"{label}: a{'n' if kind == 'mp3' else ''} {kind.upper()} file, and this machine's sox "
                           f"cannot read {kind.upper()}: install the Debian package {package} (voicectl install does)")
    try:
        # trim: a long file stops converting just past the limit instead of filling the disk.
        await _sox("-V1", "-t", kind, str(source), "-t", "wav", *SOX_SHAPE, str(target),
                   "trim", "0", str(MAX_SECONDS + 1), label=label)
        with wave.open(str(target), "rb") as w:
            seconds = w.getnframes() / w.getframerate()
        return await asyncio.to_thread(measure, target, seconds, label)
    except BaseException:
        target.unlink(missing_ok=True)
        raise


def measure(path: Path, seconds: float, label: str) -> Converted:
    """A file in the library's shape lasting `seconds`, as the library stores it: Invalid when
    it is too short or too long to be a recording. It is put on disk (the caller renames it
    into place, and the name must not reach the disk before the content)."""
    if seconds <= 0:
        raise Invalid([f"{label}: has no audio (0 seconds)"])
    if seconds > MAX_SECONDS:
        raise Invalid([f"{label}: longer than the {MAX_SECONDS / 60:.0f} minutes a recording may be"])
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
        os.fsync(f.fileno())
        size = os.fstat(f.fileno()).st_size
    return Converted(seconds, size, digest.hexdigest()[:DIGEST_CHARS])


async def _sox(*args: str, label: str) -> None:
    try:
        await run("sox", *args, timeout_s=CONVERT_TIMEOUT_S)
    except TimeoutError:
        raise Invalid([f"{label}: took longer than {CONVERT_TIMEOUT_S:.0f} s to convert"]) from None
    except ProgramFailed as exc:
        lines = exc.err.splitlines()
        why = lines[-1].removeprefix("sox FAIL ") if lines else f"exit status {exc.status}"
        why = SOX_QUOTED.sub("the file", why)  # its path: a temporary name means nothing to a sender
        raise Invalid([f"{label}: not audio sox can read ({why})"]) from None
