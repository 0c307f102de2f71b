"""ARI and AMI credentials, generated on first run and kept in the data directory."""
from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class PbxSecrets:
    ari_user: str
    ari_password: str
    ami_user: str
    ami_password: str


def load_or_create(data_dir: Path) -> PbxSecrets:
    path = data_dir / "secrets.json"
    if path.exists():
        return PbxSecrets(**json.loads(path.read_text()))
    data_dir.mkdir(parents=True, exist_ok=True)
    created = PbxSecrets("voicectl", secrets.token_urlsafe(24), "voicectl", secrets.token_urlsafe(24))
    # Written with 0600 from the start: the file never exists readable by others.
    fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(asdict(created), out)
    os.replace(path.with_suffix(".tmp"), path)
    return created
