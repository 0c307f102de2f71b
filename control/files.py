"""Writing a file whole, so a reader never sees half of it, with its mode set from the start."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

OWNER_ONLY = 0o600  # the owner's eyes only, not even for a moment to anyone else
ORDINARY = 0o666  # the umask decides, as for any file


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
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
