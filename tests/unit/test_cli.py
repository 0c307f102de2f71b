"""The CLI against a real SQLite database in a temporary data directory (no Asterisk)."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from control.cli import main

BAD_IVR = """
branches:
  "1": {type: menu, play: [{type: tts, text: "Hi"}], inputs: {"1": "700"}}
  "2": {type: voicemail}
"""
GOOD_IVR = {"branches": {"0": {"type": "menu", "play": [{"type": "sound", "name": "beep"}],
                               "inputs": {"1": "9"}, "timeout": 3, "retries": 1},
                         "9": {"type": "hangup"}}}


@pytest.fixture(params=["sqlite", "postgres"])
def cli(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The CLI on the embedded SQLite default, and again on PostgreSQL via DATABASE_URL."""
    monkeypatch.setenv("VOICECTL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VOICECTL_AMI_PORT", "1")  # nothing listens: changes are written, not reloaded
    monkeypatch.delenv("DATABASE_URL", raising=False)
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        monkeypatch.setenv("DATABASE_URL", url)
        _reset_postgres(url)
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(main, list(args), catch_exceptions=False)

    return run


@pytest.fixture
def tenant(cli) -> str:
    out = cli("tenant", "create", "Acme", "--json")
    assert out.exit_code == 0, out.output
    created = json.loads(out.output)
    assert created["id"].startswith("ten_") and len(created["auth_key"]) >= 40
    assert cli("number", "add", "845-951-1000", "--tenant", created["id"]).exit_code == 0
    return created["id"]


def test_bad_ivr_is_rejected_whole_with_every_problem(cli, tenant: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_IVR)
    out = cli("ivr", "import", str(bad), "--number", "8459511000")
    assert out.exit_code == 1
    assert "rejected, nothing was stored:" in out.output
    for problem in ['branches.1.inputs.1: no branch "700"',
                    "branches.2.type: unknown branch type 'voicemail'",
                    'branches: there is no branch "0", where every call starts']:
        assert problem in out.output
    assert "has no IVR" in cli("ivr", "export", "8459511000").output


def test_bad_ivr_does_not_replace_a_good_one(cli, tenant: str, tmp_path: Path) -> None:
    good, bad = tmp_path / "good.json", tmp_path / "bad.yaml"
    good.write_text(json.dumps(GOOD_IVR))
    bad.write_text(BAD_IVR)
    assert cli("ivr", "import", str(good), "--number", "+18459511000").exit_code == 0
    assert cli("ivr", "import", str(bad), "--number", "+18459511000").exit_code == 1
    exported = json.loads(cli("ivr", "export", "8459511000", "--json").output)
    assert exported["branches"]["0"]["inputs"] == {"1": "9"}


def test_ivr_for_an_unprovisioned_number_is_refused(cli, tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(GOOD_IVR))
    out = cli("ivr", "import", str(good), "--number", "2125550143")
    assert out.exit_code == 1 and "is not provisioned" in out.output


def test_numbers_are_stored_e164_and_validated(cli, tenant: str) -> None:
    listed = json.loads(cli("number", "list", "--json").output)
    assert listed == [{"number": "+18459511000", "tenant": tenant}]
    assert "already provisioned" in cli("number", "add", "+1 845 951 1000", "--tenant", tenant).output
    assert "not a valid phone number" in cli("number", "add", "123", "--tenant", tenant).output
    assert "does not exist" in cli("number", "add", "2125550143", "--tenant", "ten_nope").output
    assert cli("number", "remove", "8459511000").exit_code == 0
    assert json.loads(cli("number", "list", "--json").output) == []


def test_tenant_key_is_only_stored_hashed(cli, tmp_path: Path) -> None:
    created = json.loads(cli("tenant", "create", "Beta", "--json").output)
    assert "Beta" in cli("tenant", "list").output
    sqlite_file = tmp_path / "data" / "voicectl.db"
    if sqlite_file.exists():
        assert created["auth_key"].encode() not in sqlite_file.read_bytes()
    assert cli("tenant", "list", "--json").output.count(created["auth_key"]) == 0


def _reset_postgres(url: str) -> None:
    """Each test starts from an empty schema, as it does with a fresh SQLite file."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    async def drop() -> None:
        engine = create_async_engine(url)
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await engine.dispose()

    asyncio.run(drop())


def test_demo_if_missing_never_undoes_an_operators_changes(cli, tmp_path: Path) -> None:
    assert cli("demo").exit_code == 0
    mine = tmp_path / "mine.json"
    mine.write_text(json.dumps(GOOD_IVR))
    assert cli("ivr", "import", str(mine), "--number", "8005550100").exit_code == 0
    out = cli("demo", "--if-missing")
    assert out.exit_code == 0 and "left it as it is" in out.output
    assert json.loads(cli("ivr", "export", "8005550100", "--json").output)["branches"]["9"]["type"] == "hangup"


def _record_call(exchanges: list | None = None, variables: dict | None = None, *, call_id: str = "node-1.7",
                 caller: str = "+12125550143", name: str = "Ann", key: str = "1") -> None:
    """A finished call written as the platform writes it (the recorder), into the CLI's store."""
    from datetime import datetime, timezone

    from control.calls.recorder import CallRecorder
    from control.calls.service import CallEnd, CallStart
    from control.settings import Settings
    from control.store.db import make_engine, migrate, sessions

    url = Settings.from_env().database_url
    migrate(url)

    async def write() -> None:
        engine = make_engine(url)
        recorder = CallRecorder(sessions(engine))
        at = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
        recorder.started(CallStart(call_id, "inbound", "+18459511000", caller, name, "ten_1", at, at))
        recorder.ended(call_id, CallEnd(16, "Normal Clearing", "caller", [{"branch": "0", "input": key}],
                                        exchanges=exchanges or [], variables=variables or {}))
        await recorder.close()
        await engine.dispose()

    asyncio.run(write())


EXCHANGES = [
    {"branch": "5", "url": "https://hooks.example.com/a", "at": "2026-11-23T08:00:01+00:00", "status": 200,
     "ms": 41.5, "answer": {"goto": "7", "variables": {"account": "991"}}},
    {"branch": "7", "url": "https://hooks.example.com/b", "at": "2026-11-23T08:00:03+00:00", "status": None,
     "ms": 5001.2, "answer": None, "reason": "timeout after 5 s"},
]


def test_calls_show_prints_the_record_then_every_exchange(cli) -> None:
    assert cli("tenant", "list").exit_code == 0  # the store exists, migrated
    _record_call(EXCHANGES, {"account": "991"})
    out = cli("calls", "show", "node-1.7")
    assert out.exit_code == 0, out.output
    text = out.output
    assert "call node-1.7  inbound  +12125550143 (Ann) -> +18459511000" in text
    assert "branches  0:1" in text and "variables account=991" in text and "by caller" in text
    assert "webhook exchanges: 2" in text
    first, second = text.index("1. branch 5  POST https://hooks.example.com/a  HTTP 200  41.5 ms"), \
        text.index("2. branch 7  POST https://hooks.example.com/b  no answer  5001.2 ms")
    assert first < second
    assert '"goto": "7"' in text[first:second] and "reason  -" in text[first:second]
    assert "reason  timeout after 5 s" in text[second:] and "answer  null" in text[second:]
    data = json.loads(cli("calls", "show", "node-1.7", "--json").output)
    assert data["exchanges"] == EXCHANGES and data["variables"] == {"account": "991"}
    assert data["id"] == "node-1.7" and data["branch_data"] == [{"branch": "0", "input": "1"}]
    listed = json.loads(cli("calls", "list", "--json").output)
    assert "exchanges" not in listed[0]  # the list is as it was
    missing = cli("calls", "show", "nope")
    assert missing.exit_code == 1 and "call nope does not exist" in missing.output


def test_calls_show_an_over_large_history_is_stored_bounded(cli) -> None:
    assert cli("tenant", "list").exit_code == 0
    many = [{"branch": "5", "url": f"https://hooks.example.com/{i}", "status": 200, "ms": 1.0,
             "answer": {"play": [{"type": "tts", "text": "x" * 10_000}]}} for i in range(120)]
    _record_call(many, {f"v{i}": "y" * 5000 for i in range(300)})
    data = json.loads(cli("calls", "show", "node-1.7", "--json").output)
    kept = data["exchanges"]
    assert len(kept) <= 50
    assert kept[0]["url"].endswith("/0") and kept[-1]["url"].endswith("/119")  # first and last kept
    assert any("exchanges not kept" in (e.get("reason") or "") for e in kept)
    assert all(len(json.dumps(e["answer"])) <= 4200 for e in kept if "answer" in e)
    assert kept[0]["answer"].endswith("~")
    assert len(data["variables"]) <= 201 and all(len(v) <= 1024 for v in data["variables"].values())
    assert "exchanges not kept" in cli("calls", "show", "node-1.7").output


def test_calls_list_and_show_escape_what_callers_sent(cli) -> None:
    """A caller's name and the digits a channel reported reach the record as they came: the
    text output writes their controls as escapes, the JSON output keeps them as they are."""
    assert cli("tenant", "list").exit_code == 0
    _record_call(call_id="node-1.9", caller="+1212\x1b[2J", name="Ann\u202e\r", key="1\x07")
    for args in (("calls", "list"), ("calls", "show", "node-1.9")):
        text = cli(*args).output
        assert "\x1b" not in text and "\r" not in text and "\x07" not in text and "\u202e" not in text, text
        assert "+1212\\x1b[2J" in text and "0:1\\x07" in text
    assert "(Ann\\u202e\\x0d)" in cli("calls", "show", "node-1.9").output
    assert json.loads(cli("calls", "show", "node-1.9", "--json").output)["caller_name"] == "Ann\u202e\r"


def database_at(revision: str, store: str, request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Any]:
    """An empty database (SQLite, or the test PostgreSQL reset) migrated up to `revision`, as
    a data directory from an older release has it: its URL and the alembic config to go on."""
    from alembic import command
    from alembic.config import Config

    from control.store.db import MIGRATIONS

    if store == "postgres":
        url = request.getfixturevalue("postgres_url")
        _reset_postgres(url)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["url"] = url
    command.upgrade(cfg, revision)
    return url, cfg


def rows(url: str, sql: str, *, write: bool = False) -> list:
    """Run one SQL statement on `url`; the rows as tuples (none when writing)."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    async def run() -> list:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                result = await conn.execute(text(sql))
                return [] if write else [tuple(r) for r in result]
        finally:
            await engine.dispose()

    return asyncio.run(run())
