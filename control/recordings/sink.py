"""Where the record branch's takes go: from Asterisk's stored recordings into the album library.

No disk is shared with Asterisk: the file comes over ARI (`GET /recordings/stored/{name}/file`),
is added like any other recording (converted, numbered with the album's next free sort, row and
file committed together), then deleted from Asterisk, so its spool never fills.

A take is named for its call, with a random part and a tag saying whose album it is for
(`<call>-<random>-<tenant>-a<album>`): a take a crash left in Asterisk (a `kill -9` mid-recording,
a database down when it was to be kept) is still kept by the next reconcile (`salvage`), and one
that cannot be kept for good (no audio, no such tenant) is deleted.
"""
from __future__ import annotations

import asyncio
import logging
import os
import re
import tempfile
import uuid
from pathlib import Path
from typing import Callable, Iterable, NamedTuple, Protocol

from sqlalchemy.ext.asyncio import async_sessionmaker

from control.errors import Invalid, NotFound
from control.flow.channel import Take
from control.flow.ports import KeptRecording
from control.media.sound import BYTES_PER_SECOND
from control.recordings.audio import MAX_SECONDS, wav_header
from control.recordings.index import RecordingIndex
from control.recordings.service import add_recording, recordings_dir

log = logging.getLogger(__name__)

# An hour of Asterisk's WAV (8 kHz, 16-bit, mono) and its header: more than an upload may be.
MAX_TAKE_BYTES = int(MAX_SECONDS * BYTES_PER_SECOND) + 4096
# A take shorter than this holds nothing said: a caller silent until silence_seconds ended the
# recording leaves 0.2 s (Asterisk trims the silence that ended it to that), a key pressed at
# once less. Asterisk's own count is no guide: whole seconds, and 1 for that silent 0.2 s.
MIN_TAKE_SECONDS = 0.5


NOT_IN_NAME = re.compile(r"[^A-Za-z0-9_-]")
TAKE_NAME = re.compile(r"(?P<call>[A-Za-z0-9_-]{1,64})-[0-9a-f]{16}-(?P<tenant>[A-Za-z0-9_]{1,40})-a(?P<album>[0-9]{1,9})")


class EmptyTake(Exception):
    """The take holds too little audio to be anything said."""


class TakeLabel(NamedTuple):
    call: str  # the call's id as take names write it (see call_part)
    tenant_id: str
    album: int


def call_part(call_id: str) -> str:
    """A call id as take names write it: nothing a path or URL could read otherwise."""
    return NOT_IN_NAME.sub("_", call_id)[:64]


def take_name(call_id: str, tag: str) -> str:
    """A stored recording name of the call's own, new for every take (Asterisk refuses a name
    taken): the call, a random part, and the tag (take_tag) saying where it is to be kept."""
    return f"{call_part(call_id)}-{uuid.uuid4().hex[:16]}" + (f"-{tag}" if tag else "")


def take_tag(tenant_id: str, album: int) -> str:
    return f"{NOT_IN_NAME.sub('_', tenant_id).replace('-', '_')[:40]}-a{album}"


def parse_take_name(name: str) -> TakeLabel | None:
    found = TAKE_NAME.fullmatch(name)
    if found is None:
        return None
    return TakeLabel(found["call"], found["tenant"], int(found["album"]))


# What keeping a take can never get past: the take is let go of. Anything else (the database
# down, Asterisk unreachable) leaves it in Asterisk for the next salvage.
FOR_GOOD = (EmptyTake, Invalid, NotFound)


class StoredRecordings(Protocol):
    """The ARI requests the sink makes (telephony/ari_http.py AriHttp has them)."""

    async def stored_recording_file(self, name: str) -> bytes: ...
    async def delete_stored_recording(self, name: str) -> None: ...


class AriRecordingSink:
    """RecordingSink for calls on one Asterisk (`ops` reaches it)."""

    def __init__(self, ops: StoredRecordings, db: async_sessionmaker, data_dir: Path, index: RecordingIndex) -> None:
        self._ops = ops
        self._db = db
        self._data_dir = data_dir
        self._index = index

    def tag(self, tenant_id: str, album: int) -> str:
        return take_tag(tenant_id, album)

    async def keep(self, take: Take, tenant_id: str, album: int) -> KeptRecording:
        """The take as the album's next recording, named after it (the call id and a random
        part). Raises what went wrong: the ARI error (404: Asterisk has no such recording),
        or the library's (Invalid: not audio; NotFound: no such tenant), or EmptyTake. What
        could be kept later (a database down) stays in Asterisk for `salvage`."""
        directory = recordings_dir(self._data_dir)
        tmp: Path | None = None
        done = False
        try:
            data = await self._ops.stored_recording_file(take.name)
            header = wav_header(data)  # None: no WAV this reads; the library judges it as any file
            if header is not None and header.seconds < MIN_TAKE_SECONDS:
                raise EmptyTake(f"the recording holds {header.seconds:.1f} s of audio; under {MIN_TAKE_SECONDS:g} s "
                                "counts as nothing said")
            tmp = await asyncio.to_thread(_write_temp, directory, data)
            # Asterisk's `wav` is already the library's shape: moved in as it is, sox spared.
            info = await add_recording(self._db, self._data_dir, tenant_id, album, tmp, name=take.name,
                                       label=f"recording {take.name}", max_bytes=MAX_TAKE_BYTES,
                                       native_seconds=header.seconds if header is not None and header.native else None)
            done = True
        except FOR_GOOD:
            done = True
            raise
        except Exception as exc:
            if getattr(exc, "status", None) == 404:
                done = True  # Asterisk has no such recording: nothing to let go of, or salvage
            raise
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
            if done:
                await self.discard(take)
        # Played back at once (an album branch with sort ${recording_sort}): not a remembered miss.
        self._index.forget(tenant_id, album, info.sort)
        return KeptRecording(info.id, info.sort, info.seconds)

    async def salvage(self, names: Iterable[str], busy: Callable[[str], bool]) -> int:
        """Keep the tagged takes a crash left in Asterisk (see the module's doc); `busy` says
        which calls (as call_part writes them) are still running and own their takes. Returns
        how many were kept."""
        kept = 0
        for name in names:
            label = parse_take_name(name)
            if label is None or busy(label.call):
                continue
            try:
                info = await self.keep(Take(name, None, "hangup"), label.tenant_id, label.album)
            except FOR_GOOD as exc:
                log.warning("take %s left by an earlier run: not kept (%s); deleted", name, exc)
                continue
            except Exception as exc:
                log.warning("take %s left by an earlier run: not kept yet (%s); tried again later", name, exc)
                continue
            kept += 1
            log.warning("take %s left by an earlier run kept as recording %s (album %d, sort %d)", name, info.id,
                        label.album, info.sort)
        return kept

    async def discard(self, take: Take) -> None:
        try:
            await self._ops.delete_stored_recording(take.name)
        except Exception as exc:
            log.warning("could not delete recording %s from Asterisk: %s", take.name, exc or type(exc).__name__)


def _write_temp(directory: Path, data: bytes) -> Path:
    # Beside the library (one filesystem, the data directory's), dot-named as add_recording's own.
    directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=directory, prefix=".take-", suffix=".wav")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)
