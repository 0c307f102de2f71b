"""An append-only journal of call record changes, so a `kill -9` loses none of them.

The recorder writes to the database in batches; whatever it decided since the last batch
lived only in memory, and a killed control plane took it along (a finished call with no
record, completed calls closed as `lost`). Each change is now appended here the moment it is
made (one write(2): once it returns, the kernel holds it, whatever happens to the process),
and replayed at the next start.

The journal is split into numbered segments. Before a batch is written the recorder seals
the current segment and starts the next; once the batch has committed, the sealed segments
are deleted. A batch that fails leaves them in place, and a crash at any point leaves every
change since the last commit on disk.
"""
from __future__ import annotations

import json
import logging
import os
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

log = logging.getLogger(__name__)

SUFFIX = ".jsonl"
_TIME_FIELDS = ("started_at", "answered_at", "ended_at")
OPS = ("start", "end")


def _encode(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _parsed(line: str) -> tuple[dict[str, Any] | None, str]:
    """A record change, or None and why the line is none (cut short by a crash mid-write,
    damaged on disk, edited by hand)."""
    try:
        entry = json.loads(line)
    except ValueError:
        return None, "not JSON (a write cut short?)"
    if not isinstance(entry, dict) or entry.get("op") not in OPS or not isinstance(entry.get("id"), str):
        return None, "not a call record change"
    try:
        for key in _TIME_FIELDS:
            if isinstance(entry.get(key), str):
                entry[key] = datetime.fromisoformat(entry[key])
    except ValueError:
        return None, "a time that does not parse"
    return entry, ""


class CallJournal:
    def __init__(self, directory: Path) -> None:
        self._dir = directory
        # Lines pending() could not read, with why: the recorder keeps them as dead letters.
        self.unreadable: list[tuple[str, str]] = []
        self._dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        found = self._segments()
        self._current = (found[-1] + 1) if found else 1
        self._fd = self._open(self._current)

    def _path(self, number: int) -> Path:
        return self._dir / f"calls.{number:08d}{SUFFIX}"

    def _open(self, number: int) -> int:
        return os.open(self._path(number), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def _segments(self) -> list[int]:
        numbers = []
        for path in self._dir.glob(f"calls.*{SUFFIX}"):
            try:
                numbers.append(int(path.name.split(".")[1]))
            except (IndexError, ValueError):
                continue
        return sorted(numbers)

    def append(self, op: str, values: dict[str, Any]) -> None:
        line = json.dumps({"op": op, **{k: _encode(v) for k, v in values.items()}}, default=str)
        os.write(self._fd, line.encode() + b"\n")

    def seal(self) -> int:
        """Start a new segment; returns the number of the last sealed one."""
        sealed = self._current
        os.close(self._fd)
        self._current += 1
        self._fd = self._open(self._current)
        return sealed

    def committed(self, upto: int) -> None:
        """Everything in segments up to `upto` is in the database: drop them."""
        for number in self._segments():
            if number <= upto:
                self._path(number).unlink(missing_ok=True)

    def pending(self) -> Iterator[dict[str, Any]]:
        """Every change in the sealed and current segments, oldest first (for replay at start).
        A line that is none goes to `unreadable` instead: it must not stop a start."""
        self.unreadable = []
        for number in self._segments():
            with open(self._path(number), encoding="utf-8", errors="replace") as f:
                for raw in f:
                    line = raw.rstrip("\n")
                    entry, why = _parsed(line)
                    if entry is None:
                        log.warning("journal %s: a line that is %s", self._path(number).name, why)
                        self.unreadable.append((line, why))
                    else:
                        yield entry

    def close(self) -> None:
        os.close(self._fd)
