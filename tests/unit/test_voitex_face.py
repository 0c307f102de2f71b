"""The Voitex face's common rules on a real database: the Auth-Key, tenant scoping, the answer
shape for every outcome (never a 500), per-tenant limits and their headers; and the bodies it
reads (multipart, urlencoded, JSON), trimmed."""
from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy.ext.asyncio import async_sessionmaker

from control.api.app import build_app
from control.api.voitex.context import FaceConfig
from control.api.voitex.fields import TooLarge, read_fields
from control.api.voitex.limits import RateLimiter
from control.clock import as_utc
from control.errors import Invalid
from control.media.library import RecordingLibrary
from control.media.tts import TtsCache
from control.recordings.index import RecordingIndex
from control.recordings.service import add_recording, recordings_dir
from control.tenants.service import create_tenant
from tests.unit.test_recordings_service import make_wav


async def healthy() -> tuple[bool, dict[str, Any]]:
    return True, {}


async def tone_renderer(text: str, target: Path) -> None:
    """Stands in for espeak-ng: a real WAV, a little longer for a longer text."""
    make_wav(target, 0.2 + len(text) / 200, rate=8000, channels=1)


async def make_face(aiohttp_client: Any, db: async_sessionmaker, tmp_path: Path, per_minute: int) -> dict[str, Any]:
    acme, beta = await create_tenant(db, "Acme"), await create_tenant(db, "Beta")
    ours = await add_recording(db, tmp_path, acme.id, 3, make_wav(tmp_path / "a.wav", 0.3), name="Welcome")
    theirs = await add_recording(db, tmp_path, beta.id, 3, make_wav(tmp_path / "b.wav", 0.3))
    index = RecordingIndex(db)
    library = RecordingLibrary(recordings_dir(tmp_path), index)
    tts = TtsCache(tmp_path / "tts", render=tone_renderer)
    config = FaceConfig(db, tmp_path, 2 * 2**20, requests_per_minute=per_minute, index=index, tts=tts)
    client = await aiohttp_client(build_app(healthy, tts, library, config))
    return {"client": client, "db": db, "acme": acme, "beta": beta, "ours": ours, "theirs": theirs, "dir": tmp_path,
            "index": index}


@pytest.fixture
async def face(aiohttp_client: Any, db: async_sessionmaker, tmp_path: Path) -> dict[str, Any]:
    return await make_face(aiohttp_client, db, tmp_path, per_minute=1000)


async def answer(resp: aiohttp.ClientResponse) -> tuple[int, dict[str, Any]]:
    body = await resp.json()
    assert set(body) == {"status", "data", "errors"}, body
    assert body["status"] == ("success" if resp.status == 200 else "error")
    return resp.status, body


async def test_no_key_or_a_wrong_one_is_401_in_the_documents_shape(face: dict[str, Any]) -> None:
    client = face["client"]
    assert await answer(await client.get("/recording/albums/3")) == \
        (401, {"status": "error", "data": None, "errors": ["missing Auth-Key header"]})
    for key in ("nope", "x" * 4000, face["acme"].auth_key + " x", "ключ"):
        assert (await answer(await client.get("/recording/albums/3", headers={"Auth-Key": key})))[0] == 401
    # The TTS sample sends `auth_key`; stray spaces around a key are trimmed as field values are.
    status, body = await answer(await client.get("/recording/albums/3",
                                                 headers={"auth_key": f" {face['acme'].auth_key} "}))
    assert status == 200 and [r["id"] for r in body["data"]] == [face["ours"].id]


async def test_an_album_lists_only_the_tenants_own_recordings(face: dict[str, Any]) -> None:
    client, key = face["client"], {"Auth-Key": face["beta"].auth_key}
    status, body = await answer(await client.get("/recording/albums/3", headers=key))
    assert status == 200 and body["data"] == [{
        "id": face["theirs"].id, "album_number": 3, "sort_number": 1, "display_name": face["theirs"].name,
        "seconds": face["theirs"].seconds, "created_at": as_utc(face["theirs"].created_at).isoformat()}]
    assert body["data"][0]["created_at"].endswith("+00:00")
    assert (await answer(await client.get("/recording/albums/9", headers=key)))[1]["data"] == []
    for bad in ("abc", "0", "-1", "99999999999", "%EF%BC%93"):  # the last: a full-width 3
        status, body = await answer(await client.get(f"/recording/albums/{bad}", headers=key))
        assert status == 400 and body["errors"] == ["album must be a whole number from 1 to 999999999"]


async def test_delete_is_scoped_to_the_tenant_and_stops_the_recording_being_offered(face: dict[str, Any]) -> None:
    client, ours = face["client"], face["ours"]
    beta, acme = {"Auth-Key": face["beta"].auth_key}, {"Auth-Key": face["acme"].auth_key}
    assert (await face["index"].get(face["acme"].id, 3, 1)) is not None  # remembered, as a play would
    status, body = await answer(await client.delete(f"/recording/{ours.id}", headers=beta))
    assert status == 404 and body["errors"] == [f"recording {ours.id} does not exist"], "never another's"
    assert (recordings_dir(face["dir"]) / ours.file).exists()
    assert await answer(await client.delete(f"/recording/{ours.id}", headers=acme)) == \
        (200, {"status": "success", "data": "Recording deleted", "errors": []})
    assert not (recordings_dir(face["dir"]) / ours.file).exists()
    assert await face["index"].get(face["acme"].id, 3, 1) is None, "forgotten at once on this node"
    assert (await answer(await client.delete(f"/recording/{ours.id}", headers=acme)))[0] == 404
    for bad in ("abc", "0", "1e3", "99999999999999999999"):
        assert (await answer(await client.delete(f"/recording/{bad}", headers=acme)))[0] == 404


async def test_unknown_paths_and_methods_answer_in_the_shape_too(face: dict[str, Any]) -> None:
    client, key = face["client"], {"Auth-Key": face["acme"].auth_key}
    assert (await answer(await client.get("/contacts/nothing-here", headers=key)))[0] == 404
    assert (await answer(await client.put("/recording/albums/3", headers=key)))[0] == 405
    assert (await client.get("/healthz")).status == 200, "outside the face: no key asked"


async def test_limits_per_tenant_with_voicorys_headers(aiohttp_client: Any, db: async_sessionmaker,
                                                        tmp_path: Path) -> None:
    face = await make_face(aiohttp_client, db, tmp_path, per_minute=5)
    client, acme, beta = face["client"], {"Auth-Key": face["acme"].auth_key}, {"Auth-Key": face["beta"].auth_key}
    remaining = []
    for _ in range(5):
        resp = await client.get("/recording/albums/3", headers=acme)
        assert resp.status == 200 and resp.headers["X-RateLimit-Limit"] == "5"
        remaining.append(int(resp.headers["X-RateLimit-Remaining"]))
    assert remaining == [4, 3, 2, 1, 0]
    refused = await client.get("/recording/albums/3", headers=acme)
    status, body = await answer(refused)
    assert status == 429 and body["errors"] == ["rate limit exceeded: at most 5 requests a minute"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert int(refused.headers["X-RateLimit-Reset"]) % 60 == 0
    assert (await client.get("/recording/albums/3", headers=beta)).status == 200, "another tenant's own count"


async def test_a_database_that_fails_is_a_503_in_the_shape_never_a_traceback(
        face: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("database is locked")

    monkeypatch.setattr("control.api.voitex.recordings.list_recordings", broken)
    status, body = await answer(await face["client"].get("/recording/albums/3",
                                                         headers={"Auth-Key": face["acme"].auth_key}))
    assert status == 503 and body["errors"] == ["the platform cannot answer now; try again"]
    assert "database is locked" not in str(body)
    monkeypatch.setattr("control.api.voitex.face.tenant_for_key", broken)
    status, _ = await answer(await face["client"].get("/recording/albums/3",
                                                      headers={"Auth-Key": face["acme"].auth_key}))
    assert status == 503


def test_windows_roll_over_and_forget_the_last_ones_counts() -> None:
    now = [120.0]
    limiter = RateLimiter(2, clock=lambda: now[0])
    assert [limiter.take("a").allowed for _ in range(3)] == [True, True, False]
    refused = limiter.take("a")
    assert (refused.remaining, refused.reset_at, refused.retry_after) == (0, 180, 60)
    now[0] = 179.5
    assert limiter.take("a").retry_after == 1
    now[0] = 180.0
    assert limiter.take("a").allowed and limiter.take("a").remaining == 0
    assert list(limiter._counts) == ["a"]


# -- bodies ---------------------------------------------------------------------------------------
@pytest.fixture
async def echo(aiohttp_client: Any, tmp_path: Path) -> Any:
    """An app that answers what read_fields made of the body (or its refusal)."""
    async def handle(request: web.Request) -> web.Response:
        try:
            fields = await read_fields(request, 2048, tmp_path / "uploads")
        except TooLarge:
            return web.json_response({"too_large": True})
        except Invalid as exc:
            return web.json_response({"invalid": exc.errors})
        files = {k: [u.filename, u.size, u.path.read_bytes().decode()] for k, u in fields.files.items()}
        fields.close()
        left = sorted(p.name for p in (tmp_path / "uploads").iterdir()) if (tmp_path / "uploads").exists() else []
        return web.json_response({"values": fields.values, "files": files, "left": left})

    app = web.Application()
    app.router.add_post("/", handle)
    return await aiohttp_client(app)


async def test_multipart_fields_and_files_with_stray_spaces(echo: Any) -> None:
    form = aiohttp.FormData()
    form.add_field("album_number ", " 1")
    form.add_field(" display_name", "Example Recording ")
    form.add_field("upload_file", b"RIFF....", filename="example.wav", content_type="audio/wav")
    got = await (await echo.post("/", data=form)).json()
    assert got == {"values": {"album_number": "1", "display_name": "Example Recording"},
                   "files": {"upload_file": ["example.wav", 8, "RIFF...."]}, "left": []}


async def test_urlencoded_repeats_become_lists_and_json_keeps_its_types(echo: Any) -> None:
    got = await (await echo.post("/", data="add_label=2&add_label=%203&from%20=%208451234567",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})).json()
    assert got["values"] == {"add_label": ["2", "3"], "from": "8451234567"}
    got = await (await echo.post("/", json={"album_number ": 1, "text": " hi ", "labels": [" 2", 3]})).json()
    assert got["values"] == {"album_number": 1, "text": "hi", "labels": ["2", 3]}


@pytest.mark.parametrize("body, content_type, expected", [
    (b"[1, 2]", "application/json", {"invalid": ["the body must be a JSON object"]}),
    (b"{not json", "application/json", {"invalid": ["the body is not JSON, a urlencoded form or multipart form-data"]}),
    (b"\xff\xfe", "text/plain", {"invalid": ["the body is not JSON, a urlencoded form or multipart form-data"]}),
    (b"a=%FF", "application/x-www-form-urlencoded", {"values": {"a": "\ufffd"}, "files": {}, "left": []}),
    (b"x" * 3000, "application/json", {"too_large": True}),
    (b"--b\r\nbroken", "multipart/form-data; boundary=b", None),
])
async def test_bodies_that_are_not_what_they_say_are_refused_cleanly(echo: Any, body: bytes, content_type: str,
                                                                    expected: dict[str, Any] | None) -> None:
    resp = await echo.post("/", data=body, headers={"Content-Type": content_type})
    assert resp.status == 200
    got = await resp.json()
    if expected is None:
        assert "invalid" in got or got.get("values") == {}, got
    else:
        assert got == expected


FILE_PART = (b'--b\r\nContent-Disposition: form-data; name="upload_file"; filename="big.wav"\r\n'
             b"Content-Type: audio/wav\r\n\r\n")
MULTIPART = {"Content-Type": "multipart/form-data; boundary=b"}


async def test_a_file_over_the_limit_leaves_nothing_behind(echo: Any, tmp_path: Path) -> None:
    async def slowly() -> Any:  # chunked, no Content-Length: the limit is met while the file streams in
        yield FILE_PART
        for _ in range(10):
            yield b"x" * 500
            await asyncio.sleep(0.02)
        yield b"\r\n--b--\r\n"

    assert await (await echo.post("/", data=slowly(), headers=MULTIPART)).json() == {"too_large": True}
    assert (tmp_path / "uploads").exists() and not any((tmp_path / "uploads").iterdir())


async def test_part_headers_and_empty_parts_count_against_the_limit(echo: Any, tmp_path: Path) -> None:
    empty = b'--b\r\nContent-Disposition: form-data; name="f"; filename="e"\r\n\r\n\r\n'
    assert await (await echo.post("/", data=empty * 40 + b"--b--\r\n", headers=MULTIPART,
                                  chunked=True)).json() == {"too_large": True}
    assert not (tmp_path / "uploads").exists() or not any((tmp_path / "uploads").iterdir())


async def test_a_file_field_given_twice_or_too_many_parts_is_refused_and_nothing_stays(
        aiohttp_client: Any, tmp_path: Path) -> None:
    async def handle(request: web.Request) -> web.Response:
        try:
            fields = await read_fields(request, 2**20, tmp_path / "uploads")
        except Invalid as exc:
            return web.json_response({"invalid": exc.errors})
        fields.close()
        return web.json_response({"values": fields.values})

    app = web.Application()
    app.router.add_post("/", handle)
    client = await aiohttp_client(app)
    twice = FILE_PART + b"a\r\n" + FILE_PART.replace(b"big", b"two") + b"b\r\n--b--\r\n"
    assert await (await client.post("/", data=twice, headers=MULTIPART)).json() == \
        {"invalid": ["upload_file is given twice: one file a field"]}
    many = b"".join(b'--b\r\nContent-Disposition: form-data; name="n%d"\r\n\r\nv\r\n' % n for n in range(101))
    assert await (await client.post("/", data=many + b"--b--\r\n", headers=MULTIPART)).json() == \
        {"invalid": ["a multipart body of more than 100 parts is not read"]}
    deep = b'{"a": ' + b"[" * 40 + b"]" * 40 + b"}"
    assert await (await client.post("/", data=deep, headers={"Content-Type": "application/json"})).json() == \
        {"invalid": ["the JSON body is nested more than 32 deep"]}
    deeper = b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert await (await client.post("/", data=deeper, headers={"Content-Type": "application/json"})).json() == \
        {"invalid": ["the JSON body is nested more than 32 deep"]}
    assert not any((tmp_path / "uploads").iterdir())


async def wait_until(check: Any, timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"not so after {timeout} s")


async def test_a_client_gone_mid_upload_leaves_nothing_behind(echo: Any, tmp_path: Path) -> None:
    reader, writer = await asyncio.open_connection(echo.server.host, echo.server.port)
    writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                 b"Content-Length: 2000\r\n\r\n" + FILE_PART + b"x" * 1000)  # under the limit: read
    await writer.drain()
    await wait_until(lambda: (tmp_path / "uploads").exists() and any((tmp_path / "uploads").iterdir()))
    writer.close()
    await wait_until(lambda: not any((tmp_path / "uploads").iterdir()))


async def test_a_key_of_bytes_that_are_not_utf8_is_a_wrong_key(db: async_sessionmaker) -> None:
    from control.tenants.service import tenant_for_key
    assert await tenant_for_key(db, b"\xff\xfe".decode("utf-8", "surrogateescape")) is None


async def test_openapi_describes_every_endpoint_from_the_models_that_validate_it(face: dict[str, Any]) -> None:
    from openapi_spec_validator import validate

    resp = await face["client"].get("/openapi.json")  # no key needed to read it
    assert resp.status == 200
    document = await resp.json()
    validate(document)  # a well-formed OpenAPI 3.1 document
    assert set(document["paths"]) == {"/recording/upload/", "/recording/albums/{album}", "/recording/{id}",
                                      "/contacts/", "/contacts/labels"}
    listing = document["paths"]["/recording/albums/{album}"]["get"]
    [album] = listing["parameters"]
    # The range the validator enforces is the range the document states.
    assert (album["name"], album["in"], album["schema"]["minimum"], album["schema"]["maximum"]) == \
        ("album", "path", 1, 999999999)
    assert {"200", "400", "401", "404", "429", "503"} <= set(listing["responses"])
    shown = listing["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["data"]["items"]
    assert set(shown["properties"]) == {"id", "album_number", "sort_number", "display_name", "seconds", "created_at"}
    assert document["components"]["securitySchemes"]["AuthKey"] == {"type": "apiKey", "in": "header",
                                                                    "name": "Auth-Key"}
    # What the document says an answer holds is what one holds.
    body = await (await face["client"].get("/recording/albums/3", headers={"Auth-Key": face["acme"].auth_key})).json()
    assert set(body["data"][0]) == set(shown["properties"])


async def test_a_body_is_validated_by_the_endpoints_model_and_its_files_cleared(
        aiohttp_client: Any, db: async_sessionmaker, tmp_path: Path) -> None:
    from pydantic import BaseModel

    from control.api.voitex import spec
    from control.api.voitex.answer import ok
    from openapi_spec_validator import validate

    from control.api.voitex.types import UploadFile, WholeNumber

    class Fields(BaseModel):
        album_number: WholeNumber
        display_name: str = ""
        upload_file: UploadFile

    seen: list[Any] = []

    async def handler(request: web.Request, fields: Fields) -> web.Response:
        seen.append((fields, fields.upload_file.path.read_bytes()))
        return ok(fields.album_number)

    acme = await create_tenant(db, "Acme")
    config = FaceConfig(db, tmp_path, 4096, requests_per_minute=100)
    app = build_app(healthy, TtsCache(tmp_path / "tts"), RecordingLibrary(tmp_path / "r", RecordingIndex(db)), config)
    trying = spec.Endpoint("POST", "/recording/try/", "a test", Fields, handler, {}, body=True)
    spec.install(app, config, [trying])
    document = spec.openapi([trying], "0")
    validate(document)
    form_schema = document["paths"]["/recording/try/"]["post"]["requestBody"]["content"]["multipart/form-data"]
    upload = form_schema["schema"]["properties"]["upload_file"]
    assert (upload["type"], upload["format"]) == ("string", "binary")
    assert sorted(form_schema["schema"]["required"]) == ["album_number", "upload_file"]
    client = await aiohttp_client(app)
    key = {"Auth-Key": acme.auth_key}

    form = aiohttp.FormData()
    form.add_field("album_number ", " 7")
    form.add_field("upload_file", b"RIFF", filename="a.wav")
    assert await answer(await client.post("/recording/try/", data=form, headers=key)) == \
        (200, {"status": "success", "data": 7, "errors": []})
    assert seen[0][1] == b"RIFF" and not seen[0][0].upload_file.path.exists(), "the upload is removed after"
    status, body = await answer(await client.post("/recording/try/", json={"album_number": "x"}, headers=key))
    assert status == 400 and body["errors"] == ["album_number must be a whole number from 1 to 2147483647",
                                                "upload_file: Field required"]
    status, body = await answer(await client.post("/recording/try/", json={"album_number": 2, "upload_file": "x"},
                                                  headers=key))
    assert status == 400 and body["errors"] == ["upload_file must be a file sent as multipart form-data"]
    assert not any((tmp_path / "uploads").iterdir())



# -- uploads ----------------------------------------------------------------------------------------
def sample_form(path: Path, filename: str, **fields: str) -> aiohttp.FormData:
    form = aiohttp.FormData()
    for name, value in fields.items():
        form.add_field(name, value)
    form.add_field("upload_file", path.read_bytes(), filename=filename)
    return form


async def album_of(face: dict[str, Any], album: int) -> list[dict[str, Any]]:
    body = await (await face["client"].get(f"/recording/albums/{album}",
                                           headers={"Auth-Key": face["acme"].auth_key})).json()
    return body["data"]


async def test_uploads_as_the_document_sends_them_wav_mp3_and_tts(face: dict[str, Any], tmp_path: Path) -> None:
    client, key = face["client"], {"Auth-Key": face["acme"].auth_key}
    wav = make_wav(tmp_path / "example.wav", 0.5)
    # The sample's form, stray space and all: album 5, sort 5, a display name.
    form = sample_form(wav, "example.wav", **{"album_number ": "5", "sort_number": "5",
                                              "display_name": "Example Recording"})
    status, body = await answer(await client.post("/recording/upload/", data=form, headers=key))
    assert status == 200 and body["data"].isdigit()
    mp3 = tmp_path / "example.mp3"
    subprocess.run(["sox", str(wav), str(mp3)], check=True, capture_output=True)
    status, mp3_body = await answer(await client.post("/recording/upload/", data=sample_form(mp3, "example.mp3",
                                                      album_number="5"), headers=key))
    assert status == 200
    # Create TTS, as its sample: form fields, no file, `auth_key`.
    status, tts_body = await answer(await client.post("/recording/upload/", data={
        "album_number ": "5", "sort_number": "15", "type": "tts",
        "text": "This is a test recording created by the TTS API."}, headers={"auth_key": face["acme"].auth_key}))
    assert status == 200
    listed = {r["sort_number"]: r for r in await album_of(face, 5)}
    assert set(listed) == {1, 5, 15}, "the mp3 took the lowest free sort"
    assert listed[5]["id"] == body["data"] and listed[5]["display_name"] == "Example Recording"
    assert listed[1]["id"] == mp3_body["data"] and listed[15]["id"] == tts_body["data"]
    # A TTS recording is named by its text, whole (not cut at "." or "/" as a file's name is).
    assert listed[15]["display_name"] == "This is a test recording created by the TTS API."
    assert all(r["seconds"] > 0 for r in listed.values())
    assert not any((tmp_path / "uploads").iterdir()), "no upload left behind"


async def test_concurrent_uploads_to_one_album_all_land_on_distinct_sorts(face: dict[str, Any]) -> None:
    client, key = face["client"], {"Auth-Key": face["acme"].auth_key}

    async def upload(n: int) -> tuple[int, dict[str, Any]]:
        return await answer(await client.post("/recording/upload/", data={
            "album_number": "7", "type": "tts", "text": f"Press {n}/2 now. Thanks"}, headers=key))

    answers = await asyncio.gather(*(upload(n) for n in range(10)))
    assert [status for status, _ in answers] == [200] * 10, answers
    listed = await album_of(face, 7)
    assert [r["sort_number"] for r in listed] == list(range(1, 11))
    assert {r["display_name"] for r in listed} == {f"Press {n}/2 now. Thanks" for n in range(10)}


async def test_a_taken_sort_needs_override_and_bad_files_store_nothing(face: dict[str, Any], tmp_path: Path) -> None:
    client, key = face["client"], {"Auth-Key": face["acme"].auth_key}
    wav = make_wav(tmp_path / "x.wav", 0.3)
    taken = await client.post("/recording/upload/", data=sample_form(wav, "x.wav", album_number="3", sort_number="1"),
                              headers=key)
    status, body = await answer(taken)
    assert status == 409 and "sort 1" in body["errors"][0]
    before = await album_of(face, 3)
    for content, name, word in ((b"not audio at all", "bad.wav", "bad.wav"), (b"", "empty.wav", "empty.wav")):
        bad = tmp_path / name
        bad.write_bytes(content)
        status, body = await answer(await client.post("/recording/upload/", data=sample_form(
            bad, name, album_number="3", sort_number="1", override="yes"), headers=key))
        assert status == 400 and word in body["errors"][0], body
    assert await album_of(face, 3) == before, "a refused upload replaces nothing"
    status, body = await answer(await client.post("/recording/upload/", data=sample_form(
        wav, "x.wav", album_number="3", sort_number="1", override="yes"), headers=key))
    assert status == 200, body
    assert [r["id"] for r in await album_of(face, 3)] == [body["data"]]
    for fields, error in (({"album_number": "3"}, "upload_file is required (a wav or mp3 file), or type=tts with text"),
                          ({"album_number": "3", "type": "tts", "text": "\x00"}, "text: character 1 is U+0000"),
                          ({"album_number": "3", "type": "fax"}, "type must be tts, or left out for a file upload"),
                          ({"type": "tts", "text": "hi"}, "album_number: Field required")):
        status, body = await answer(await client.post("/recording/upload/", data=fields, headers=key))
        assert status == 400 and any(e.startswith(error) for e in body["errors"]), (fields, body)
    big = tmp_path / "big.wav"
    big.write_bytes(b"RIFF" + bytes(3 * 2**20))
    status, body = await answer(await client.post("/recording/upload/", data=sample_form(big, "big.wav",
                                                  album_number="3"), headers=key))
    assert status == 413 and not any((tmp_path / "uploads").iterdir())


async def test_a_form_or_json_body_has_a_limit_of_its_own_far_below_an_uploads(
        aiohttp_client: Any, db: async_sessionmaker, tmp_path: Path) -> None:
    # 25 MB of urlencoded fields took 2 s of the event loop to parse: every call on the node
    # would stall. Only a file needs a large body; text bodies stop at 1 MiB.
    face = await make_face(aiohttp_client, db, tmp_path, per_minute=1000)
    client, key = face["client"], {"Auth-Key": face["acme"].auth_key}
    form = "&".join(f"a{i}=b" for i in range(200_000)) + "&function=select&phone=7325550184"
    assert len(form) > 2**20
    for body, kind in ((form, "application/x-www-form-urlencoded"),
                       (json.dumps({f"k{i}": "v" for i in range(200_000)}), "application/json")):
        status, answered = await answer(await client.post("/contacts/", data=body.encode(),
                                                          headers={**key, "Content-Type": kind}))
        assert (status, answered["errors"]) == (413, ["a form or JSON body may be at most 1048576 bytes"])
    # An upload may still be as large as the face's limit.
    wav = make_wav(tmp_path / "long.wav", 80.0, rate=8000, channels=1)  # 16 kB a second: 1.3 MB
    assert wav.stat().st_size > 2**20
    status, _ = await answer(await client.post("/recording/upload/", data=sample_form(wav, "long.wav",
                                                                                     album_number="4"), headers=key))
    assert status == 200
