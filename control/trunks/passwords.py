"""Trunk digest passwords, kept like the ARI/AMI secrets: one JSON file in the data directory,
mode 0600 from the moment it exists. The database holds everything else about a trunk, so a
database dump or a shared PostgreSQL never carries a provider's password."""
from __future__ import annotations

import json
import os
from pathlib import Path

FILE_NAME = "trunk_passwords.json"


class TrunkPasswords:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / FILE_NAME

    def load(self) -> dict[str, str]:
        if not self.path.exists():
            return {}
        return dict(json.loads(self.path.read_text()))

    def set(self, trunk: str, password: str | None) -> None:
        """Store the trunk's password; None forgets it."""
        stored = self.load()
        if password is None:
            if stored.pop(trunk, None) is None:
                return
        else:
            stored[trunk] = password
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)  # a leftover would keep its own mode
        # Created 0600: never readable by others, not even for a moment.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(stored, out)
        os.replace(tmp, self.path)
