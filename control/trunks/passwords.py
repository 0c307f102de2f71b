"""Trunk digest passwords, kept like the ARI/AMI secrets: one JSON file in the data directory,
mode 0600 from the moment it exists. The database holds everything else about a trunk, so a
database dump or a shared PostgreSQL never carries a provider's password."""
from __future__ import annotations

import json
from pathlib import Path

from control.files import OWNER_ONLY, read_strings, replace_whole

FILE_NAME = "trunk_passwords.json"


class TrunkPasswords:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / FILE_NAME

    def load(self) -> dict[str, str]:
        return read_strings(self.path, "restore it, or move it aside and add the trunks that have "
                                       "a password again")

    def set(self, trunk: str, password: str | None) -> None:
        """Store the trunk's password; None forgets it."""
        stored = self.load()
        if password is None:
            if stored.pop(trunk, None) is None:
                return
        else:
            stored[trunk] = password
        replace_whole(self.path, json.dumps(stored), OWNER_ONLY)
