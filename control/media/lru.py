"""Files in one directory kept under a byte budget, the least recently used removed first."""
from __future__ import annotations

import logging
import os
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Container

log = logging.getLogger(__name__)

# The order of use lives in memory; the disk keeps a copy (file times) only for the next start.
# Writing it on every use would be a syscall per prompt per call, so it is written at most this
# often per file: after a restart the order is right to within this much.
TOUCH_EVERY_S = 60.0


@dataclass
class _Entry:
    size: int
    touched: float  # the file's last-use time as the disk has it


class LruFiles:
    """Files named `<key><suffix>`, oldest use first. The total is kept as files come and go,
    so staying under the budget never lists the directory after the first scan."""

    def __init__(self, directory: Path, suffix: str, key: re.Pattern[str], max_bytes: int,
                 clock: Callable[[], float] = time.time) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self._suffix = suffix
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self.total_bytes = 0
        for name, entry in sorted(_scan(directory, suffix, key), key=lambda item: item[1].touched):
            self._insert(name, entry)

    def path(self, key: str) -> Path:
        return self.directory / f"{key}{self._suffix}"

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def size(self, key: str) -> int | None:
        """The file's size as counted (no syscall), or None when it is not in the cache."""
        entry = self._entries.get(key)
        return entry.size if entry is not None else None

    def add(self, key: str) -> bool:
        """Count key's file as the most recently used; False when there is no such file."""
        try:
            st = self.path(key).stat()
        except FileNotFoundError:
            return False
        self._forget(key)  # a file adopted from disk while its render finished: count it once
        self._insert(key, _Entry(st.st_size, _last_use(st)))
        return True

    def use(self, key: str) -> None:
        entry = self._entries.get(key)
        if entry is None:
            return
        self._entries.move_to_end(key)
        now = self._clock()
        if now - entry.touched < TOUCH_EVERY_S:
            return
        try:
            os.utime(self.path(key), (now, now))
        except OSError as exc:  # only the order after a restart suffers
            log.debug("could not touch %s: %s", key, exc)
        entry.touched = now

    def evict(self, keep: Container[str]) -> list[str]:
        """Remove the least recently used files until the total is within the budget, never one
        in `keep`; returns the keys removed."""
        excess = self.total_bytes - self.max_bytes
        victims: list[str] = []
        for key, entry in self._entries.items():
            if excess <= 0:
                break
            if key not in keep:
                victims.append(key)
                excess -= entry.size
        for key in victims:
            self.path(key).unlink(missing_ok=True)
            self._forget(key)
        if victims:
            log.debug("evicted %d files from %s, %d bytes kept", len(victims), self.directory, self.total_bytes)
        return victims

    def _insert(self, key: str, entry: _Entry) -> None:
        self._entries[key] = entry
        self.total_bytes += entry.size

    def _forget(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self.total_bytes -= entry.size


def _scan(directory: Path, suffix: str, key: re.Pattern[str]) -> list[tuple[str, _Entry]]:
    """The cached files already on disk (temporary files of renders under way are not)."""
    try:
        listing = list(os.scandir(directory))
    except FileNotFoundError:
        return []
    found = []
    for item in listing:
        name = item.name.removesuffix(suffix)
        if name != item.name and key.fullmatch(name) and item.is_file():
            st = item.stat()
            found.append((name, _Entry(st.st_size, _last_use(st))))
    return found


def _last_use(st: os.stat_result) -> float:
    # Reads (the HTTP server sending a file) may move atime on; touches move both.
    return max(st.st_atime, st.st_mtime)
