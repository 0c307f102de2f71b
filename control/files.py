"""Writing a file whole, so a reader never sees half of it, with its mode set from the start."""
from __future__ import annotations

import os
from pathlib import Path

OWNER_ONLY = 0o600  # the owner's eyes only, not even for a moment to anyone else
ORDINARY = 0o666  # the umask decides, as for any file


def replace_whole(target: Path, text: str, mode: int = ORDINARY) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    # O_CREAT keeps a leftover temporary file's mode, maybe readable by all: start from none.
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(tmp, target)
