"""The Voitex face on a running `voicectl up`: real HTTP, the Auth-Key from `tenant create`,
and `tenant key rotate` refusing the old key at once."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from tests.support.platform import Instance


def request(platform: Instance, method: str, path: str, key: str | None) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(f"http://127.0.0.1:{platform.ports['http']}{path}", method=method,
                                 headers={"Auth-Key": key} if key else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_tenants_key_opens_the_face_and_a_rotated_one_is_refused_at_once(platform: Instance) -> None:
    created = json.loads(platform.cli("tenant", "create", "Face Test", "--json").stdout)
    assert request(platform, "GET", "/recording/albums/1", None) == \
        (401, {"status": "error", "data": None, "errors": ["missing Auth-Key header"]})
    assert request(platform, "GET", "/recording/albums/1", created["auth_key"]) == \
        (200, {"status": "success", "data": [], "errors": []})
    rotated = json.loads(platform.cli("tenant", "key", "rotate", created["id"], "--json").stdout)
    assert request(platform, "GET", "/recording/albums/1", created["auth_key"])[0] == 401
    assert request(platform, "GET", "/recording/albums/1", rotated["auth_key"])[0] == 200
    assert request(platform, "DELETE", "/recording/1", rotated["auth_key"]) == \
        (404, {"status": "error", "data": None, "errors": ["recording 1 does not exist"]})
