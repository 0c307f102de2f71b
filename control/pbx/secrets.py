"""Secrets generated on first run and kept in the data directory (mode 0600): the ARI and AMI
credentials. A data directory from an older version gets whatever it lacks added, its existing
values kept (and a node-wide webhook key an earlier version made, unused since webhooks are
signed with each tenant's own secret, dropped)."""
from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from control.files import OWNER_ONLY, read_strings, replace_whole


@dataclass(frozen=True)
class PbxSecrets:
    ari_user: str
    ari_password: str
    ami_user: str
    ami_password: str


def _generated() -> PbxSecrets:
    return PbxSecrets("voicectl", secrets.token_urlsafe(24), "voicectl", secrets.token_urlsafe(24))


def load_or_create(data_dir: Path) -> PbxSecrets:
    path = data_dir / "secrets.json"
    fresh = asdict(_generated())
    stored = read_strings(path, "restore it, or move it aside to have new ARI and AMI passwords generated "
                                "(Asterisk's config is rendered again with them at the next start)")
    merged = {f.name: stored.get(f.name) or fresh[f.name] for f in fields(PbxSecrets)}
    if merged != stored:
        replace_whole(path, json.dumps(merged), OWNER_ONLY)
    return PbxSecrets(**merged)
