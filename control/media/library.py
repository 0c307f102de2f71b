"""The album library as media: `{type: file, album, sort}` play items to file names Asterisk
fetches over HTTP, and those names back to files for the HTTP server."""
from __future__ import annotations

import re
from pathlib import Path

from control.flow.play import MediaMissing, PlayItem
from control.recordings.index import RecordingIndex

# What control.recordings.service.file_name makes: `<id>-<digest>.wav` (ids are int32: ten
# digits at most). The HTTP server serves nothing else, so no name can reach outside the directory.
FILE_NAME = re.compile(r"[1-9][0-9]{0,9}-[0-9a-f]{16}\.wav")
NUMBER = re.compile(r"[0-9]{1,9}")


class RecordingLibrary:
    def __init__(self, directory: Path, index: RecordingIndex) -> None:
        self.directory = directory
        self.index = index

    async def name(self, item: PlayItem, tenant_id: str) -> str:
        """The file name of the recording a file item names; MediaMissing when there is none
        (the flow decides what a caller hears instead)."""
        album, sort = _number(item.album), _number(item.sort)
        if album is None:
            raise MediaMissing(item, f"album {item.album!r} is not a number")
        if sort is None:
            raise MediaMissing(item, f"sort {item.sort!r} is not a number")
        if not tenant_id:
            raise MediaMissing(item, f"no tenant to find album {album} in")
        # Numbering starts at 1: a 0 (which a caller can key) is never in the database.
        entry = await self.index.get(tenant_id, album, sort) if album and sort else None
        if entry is None:
            raise MediaMissing(item, f"no recording {sort} in album {album}")
        return entry.name

    def seconds(self, name: str) -> float | None:
        return self.index.seconds(name)

    def path(self, name: str) -> Path | None:
        """The file for a name from a URL, or None when the name is not one of ours. Whether the
        recording is still there is the server's to find when it opens the file (a 404)."""
        return self.directory / name if FILE_NAME.fullmatch(name) else None


def _number(text: str) -> int | None:
    text = text.strip()
    return int(text) if NUMBER.fullmatch(text) else None
