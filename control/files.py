"""Writing a file whole, so a reader never sees half of it, with its mode set from the start."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from control.errors import Unreadable

OWNER_ONLY = 0o600  # the owner's eyes only, not even for a moment to anyone else
ORDINARY = 0o666  # the umask decides, as for any file


def read_strings(path: Path, mend: str) -> dict[str, str]:
    """A JSON object of strings (a secrets file), {} when there is none; Unreadable, saying
    how to `mend` it, when it is damaged."""
    if not path.exists():
        return {}
    try:
        found = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise Unreadable(f"{path} is damaged (not JSON: {exc}); {mend}") from None
    if not isinstance(found, dict) or not all(isinstance(v, str) for v in found.values()):
        raise Unreadable(f"{path} is damaged (not an object of strings); {mend}")
    return found


def replace_whole(target: Path, text: str, mode: int = ORDINARY) -> None:
    """A temporary file of its own beside the target (two writers never share one), written,
    flushed to disk, then renamed over the target: a crash leaves the old file or the new."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")  # created 0600
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, mode & ~umask)
        with os.fdopen(fd, "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)


def fsync_dir(directory: Path) -> None:
    """Put a directory's entries on disk: a rename into it survives a crash once this returns."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
