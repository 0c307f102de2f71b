"""The Voitex face on a running `voicectl up`: real HTTP, the Auth-Key from `tenant create`,
`tenant key rotate` refusing the old key at once, uploads played in a real SIP call, and the
caller's contact reaching the IVR."""
from __future__ import annotations

import json
import random
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from tests.integration.conftest import wait_call
from tests.support import ami, sipp
from tests.support.platform import Instance
from tests.support.webhook import Reply, WebhookServer
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


def multipart(fields: dict[str, str], file: tuple[str, str, bytes]) -> tuple[bytes, str]:
    boundary = "voicectl-test-boundary"
    body = b"".join(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n".encode()
                    for k, v in fields.items())
    name, content_type, data = file
    body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"upload_file\"; filename=\"{name}\"\r\n"
             f"Content-Type: {content_type}\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def form(fields: dict[str, str]) -> bytes:
    return urllib.parse.urlencode(fields).encode()


def test_uploads_play_in_a_sip_call_and_the_callers_contact_reaches_the_ivr(platform: Instance,
                                                                           tmp_path: Any) -> None:
    created = json.loads(platform.cli("tenant", "create", "Calls Test", "--json").stdout)
    key = created["auth_key"]
    urlencoded = "application/x-www-form-urlencoded"
    # A wav and an mp3, made with sox as a customer would have them (44.1 kHz stereo, converted here).
    wav, mp3 = tmp_path / "hello.wav", tmp_path / "bye.mp3"
    subprocess.run(["sox", "-n", "-r", "44100", "-c", "2", str(wav), "synth", "0.8", "sine", "440"], check=True)
    subprocess.run(["sox", "-n", "-r", "44100", "-c", "2", str(mp3), "synth", "0.8", "sine", "660"], check=True)
    ids = []
    for file, kind in ((wav, "audio/wav"), (mp3, "audio/mpeg")):
        status, body = request(platform, "POST", "/recording/upload/", key,
                               *multipart({"album_number": "6"}, (file.name, kind, file.read_bytes())))
        assert status == 200, body
        ids.append(body["data"])
    # The caller is a contact (created over JSON; a label over a form), in a 10-digit style.
    caller = f"1212555{random.randrange(1000, 10000)}"
    assert request(platform, "POST", "/contacts/labels", key, form({"label": "3", "name": "VIP"}), urlencoded)[0] == 200
    assert request(platform, "POST", "/contacts/", key, json.dumps({
        "function": "create", "phone": caller[1:], "first_name": "Ann", "last_name": "Lee", "label": 3}).encode(),
        "application/json") == (200, {"status": "success", "data": "Contact created", "errors": []})
    hooks = WebhookServer().start()
    try:
        url = hooks.script("/ivr", Reply({"goto": "9"}))
        platform.add_ivr("+18005550181", {"branches": {
            "0": {"type": "contact_data", "next": "1", "not_found": "9"},
            "1": {"type": "content", "next": "2", "play": [
                {"type": "file", "album": 6, "sort": 1}, {"type": "file", "album": 6, "sort": 2},
                {"type": "tts", "text": "Hi ${first_name}"}]},
            "2": {"type": "trigger", "url": url, "no_route": "9"},
            "9": {"type": "hangup"}}}, tenant=created["id"])
        sipp.assert_ok(sipp.sip_call(platform.sip_target, tmp_path, "8005550181", [("expect_bye",)], caller=caller))
        call = wait_call(platform, lambda c: c.caller_id == caller)
        [asked] = hooks.requests("/ivr")
    finally:
        hooks.stop()
    assert [b["branch"] for b in call.branch_data] == ["0", "1", "2", "9"]
    assert call.variables["first_name"] == "Ann" and call.variables["labels"] == "3"
    assert asked.json["contact_info"] == {
        "contact": {**{f: "" for f in ("first_name", "last_name", "email", "notes", "exp", "address", "city",
                                       "state", "zip", *(f"field_{c}" for c in "abcdefghij"))},
                    "first_name": "Ann", "last_name": "Lee", "exp": None},
        "phones": [{"phone": caller[1:], "type": "H"}], "labels": [3]}
    # Asterisk fetched exactly the uploaded recordings' files (their content-hashed names).
    _, listed = request(platform, "GET", "/recording/albums/6", key)
    assert [r["id"] for r in listed["data"]] == ids
    cached = ami.cli(platform, "media cache show all")
    for recording_id in ids:
        assert f"/recordings/{recording_id}-" in cached, cached
