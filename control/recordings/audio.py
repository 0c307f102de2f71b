"""Turning an uploaded or recorded file into the one shape Asterisk plays without transcoding
work of its own: 8 kHz, mono, 16-bit signed PCM in a WAV file."""
from __future__ import annotations

import asyncio
import functools
import hashlib
import os
import re
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

from control.errors import Invalid, ServiceError
from control.priority import at_normal_priority

MAX_BYTES = 20 * 1024 * 1024  # of the file as given; a WAV this size at CD quality is ~2 minutes
MAX_SECONDS = 3600.0
RATE = 8000
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
    """What is wrong with the file before any work is spent on it, and its format. Only WAV
    and MP3 are taken: sox reads dozens of formats, each parser more surface for a hostile
    upload to reach."""
    try:
        st = source.stat()
    except FileNotFoundError:
        return [f"{label}: no such file"], None
    except OSError as exc:
        return [f"{label}: cannot be read ({exc.strerror})"], None
    if not source.is_file():
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


async def convert(source: Path, target: Path, label: str, max_bytes: int | None = None) -> Converted:
    """Convert source into target (8 kHz mono 16-bit WAV). Invalid when the file is not audio
    Asterisk could play, MissingCodec when sox lacks its format; target is then left absent.
    `label` names the file in messages (an upload's temporary path means nothing to its sender);
    `max_bytes` is the most the file as given may be (None: MAX_BYTES)."""
    problems, kind = check_source(source, label, max_bytes)
    if problems:
        raise Invalid(problems)
    assert kind is not None
    formats = await asyncio.to_thread(sox_formats)
    if not formats:
        raise MissingCodec("sox is not installed on this machine (voicectl install installs it)")
    if kind not in formats:
        package = MP3_PACKAGE if kind == "mp3" else "sox"
        raise MissingCodec(f"{label}: a{'n' if kind == 'mp3' else ''} {kind.upper()} file, and this machine's sox "
                           f"cannot read {kind.upper()}: install the Debian package {package} (voicectl install does)")
    try:
        # trim: a long file stops converting just past the limit instead of filling the disk.
        await _sox("-V1", "-t", kind, str(source), "-t", "wav", "-r", str(RATE), "-c", "1", "-b", "16",
                   "-e", "signed-integer", str(target), "trim", "0", str(MAX_SECONDS + 1), label=label)
        converted = await asyncio.to_thread(_measure, target)
        if converted.seconds <= 0:
            raise Invalid([f"{label}: has no audio (0 seconds)"])
        if converted.seconds > MAX_SECONDS:
            raise Invalid([f"{label}: longer than the {MAX_SECONDS / 60:.0f} minutes a recording may be"])
        return converted
    except BaseException:
        target.unlink(missing_ok=True)
        raise


def _measure(path: Path) -> Converted:
    with wave.open(str(path), "rb") as w:
        seconds = w.getnframes() / w.getframerate()
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
        # The caller renames it into place: it must be on disk before the name is.
        os.fsync(f.fileno())
    return Converted(seconds, path.stat().st_size, digest.hexdigest()[:DIGEST_CHARS])


async def _sox(*args: str, label: str) -> None:
    proc = await asyncio.create_subprocess_exec(*at_normal_priority(["sox", *args]),
                                                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        _, err = await asyncio.wait_for(proc.communicate(), CONVERT_TIMEOUT_S)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise Invalid([f"{label}: took longer than {CONVERT_TIMEOUT_S:.0f} s to convert"]) from None
    except BaseException:  # the caller is gone (cancelled): sox must not outlive it
        if proc.returncode is None:
            proc.kill()
        raise
    if proc.returncode != 0:
        lines = err.decode(errors="replace").strip().splitlines()
        why = lines[-1].removeprefix("sox FAIL ") if lines else f"exit status {proc.returncode}"
        why = SOX_QUOTED.sub("the file", why)  # its path: a temporary name means nothing to a sender
        raise Invalid([f"{label}: not audio sox can read ({why})"])
