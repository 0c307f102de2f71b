"""The Voitex face on a running `voicectl up`: real HTTP, the Auth-Key from `tenant create`,
and `tenant key rotate` refusing the old key at once."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from tests.support.platform import Instance
from tests.unit.test_recordings_service import make_wav


def request(platform: Instance, method: str, path: str, key: str | None, body: bytes | None = None,
            content_type: str | None = None) -> tuple[int, dict[str, Any]]:
    headers = {"Auth-Key": key} if key else {}
    if content_type:
        headers["Content-Type"] = content_type
    req = urllib.request.Request(f"http://127.0.0.1:{platform.ports['http']}{path}", method=method, data=body,
                                 headers=headers)
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


def test_a_wav_and_a_tts_text_uploaded_over_http_land_in_the_album(platform: Instance, tmp_path: Any) -> None:
    key = json.loads(platform.cli("tenant", "create", "Upload Test", "--json").stdout)["auth_key"]
    wav = make_wav(tmp_path / "hello.wav", 0.5)
    boundary = "voicectl-test-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"album_number \"\r\n\r\n 4\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"upload_file\"; filename=\"hello.wav\"\r\n"
            f"Content-Type: audio/wav\r\n\r\n").encode() + wav.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    status, uploaded = request(platform, "POST", "/recording/upload/", key, body,
                               f"multipart/form-data; boundary={boundary}")
    assert status == 200 and uploaded["data"].isdigit(), uploaded
    status, spoken = request(platform, "POST", "/recording/upload/", key,
                             json.dumps({"album_number": 4, "type": "tts", "text": "Hello from the API"}).encode(),
                             "application/json")
    assert status == 200, spoken  # rendered by the real espeak-ng
    status, listed = request(platform, "GET", "/recording/albums/4", key)
    assert [(r["id"], r["sort_number"]) for r in listed["data"]] == [(uploaded["data"], 1), (spoken["data"], 2)]
    assert all(r["seconds"] > 0.3 for r in listed["data"])
