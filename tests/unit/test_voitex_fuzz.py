"""Property-based fuzzing of the REST face from its own OpenAPI document (schemathesis):
requests that fit the schema and requests that break it (wrong types, missing fields, odd
strings), with a good key, against a real server on a real database. None may get a 5xx or an
answer outside the document's shape. Bounded: FUZZ_EXAMPLES per operation and mode (default
120; CI's whole run of it takes about a minute)."""
from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from aiohttp import web

from control.api.app import build_app
from control.api.voitex.context import FaceConfig
from control.contacts.service import create_contact, create_label
from control.media.library import RecordingLibrary
from control.media.tts import TtsCache
from control.recordings.index import RecordingIndex
from control.recordings.service import add_recording, recordings_dir
from control.store.db import make_engine, migrate, sessions
from control.tenants.service import create_tenant
from tests.unit.test_recordings_service import make_wav
from tests.unit.test_voitex_face import healthy, tone_renderer

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "120"))


class Server:
    """The face on a real port, in a thread with its own event loop (schemathesis calls it
    synchronously, as any HTTP client would)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.url = ""
        self.key = ""
        self.failure: BaseException | None = None

    def run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._start())
        except BaseException as exc:  # told to the test, not lost in the thread
            self.failure = exc
            self.ready.set()
            return
        self.ready.set()
        self.loop.run_forever()

    async def _start(self) -> None:
        url = f"sqlite+aiosqlite:///{self.data_dir / 'fuzz.db'}"
        await asyncio.to_thread(migrate, url)
        db = sessions(make_engine(url))
        tenant = await create_tenant(db, "Fuzz")
        self.key = tenant.auth_key
        await add_recording(db, self.data_dir, tenant.id, 1, make_wav(self.data_dir / "a.wav", 0.3))
        for number in (1, 2, 3):
            await create_label(db, tenant.id, number)
        await create_contact(db, tenant.id, "7325550184", label="1")
        index = RecordingIndex(db)
        tts = TtsCache(self.data_dir / "tts", render=tone_renderer)
        config = FaceConfig(db, self.data_dir, 256 * 1024, requests_per_minute=1_000_000, index=index, tts=tts)
        runner = web.AppRunner(build_app(healthy, tts, RecordingLibrary(recordings_dir(self.data_dir), index),
                                         config))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(tmp_path_factory.mktemp("fuzz"))
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    assert running.ready.wait(30) and running.failure is None, running.failure
    yield running
    running.loop.call_soon_threadsafe(running.loop.stop)
    thread.join(10)


def operations(server: Server) -> list[Any]:
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]


# Not schemathesis's pytest plugin (its fixture loader does not run on this pytest): each
# operation's hypothesis strategy, driven directly, positive and negative.
@pytest.mark.parametrize("mode", [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE])
def test_no_request_gets_a_5xx_or_leaves_the_documents_shape(server: Server, mode: Any) -> None:
    found = operations(server)
    assert len(found) == 6  # every endpoint is fuzzed; a new one changes this count on purpose
    for operation in found:
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(generation_mode=mode))
        def one(case: Any) -> None:
            response = case.call(base_url=server.url, headers={"Auth-Key": server.key})
            assert response.status_code < 500, (case.as_curl_command(), response.text[:500])
            body = response.json()
            assert set(body) == {"status", "data", "errors"}, body
            assert body["status"] == ("success" if response.status_code == 200 else "error"), body

        one()
