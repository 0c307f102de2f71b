"""File modes in the data directory: nothing in it is for other local users.

Files the platform writes are created under a umask of 027. What an older version left (a
world-readable database, secrets or journal) is tightened by `voicectl init` and `up`."""
from __future__ import annotations

import os
import stat
from pathlib import Path

UMASK = 0o027
# Readable by root (the control plane) only.
PRIVATE = ("secrets.json", "trunk_passwords.json", "voicectl.db", "voicectl.db-wal", "voicectl.db-shm", "dead-letters.jsonl")


def tighten(data_dir: Path) -> list[str]:
    """Take away what other users could read; returns the paths changed."""
    changed: list[str] = []

    def chmod(path: Path, mode: int) -> None:
        if path.exists() and stat.S_IMODE(path.stat().st_mode) != mode:
            os.chmod(path, mode)
            changed.append(str(path))

    # Others may pass through (a host Asterisk reaches its instance directory) but not list it.
    chmod(data_dir, 0o711)
    for name in PRIVATE:
        chmod(data_dir / name, 0o600)
    chmod(data_dir / "journal", 0o700)
    for entry in (data_dir / "journal").glob("*"):
        chmod(entry, 0o600)
    return changed
