"""The CLI against a real SQLite database in a temporary data directory (no Asterisk)."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from control.cli import main

BAD_IVR = """
branches:
  "1": {type: menu, play: [{type: tts, text: "Hi"}], inputs: {"1": "700"}}
  "2": {type: record}
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
                    "branches.2.type: unknown branch type 'record'",
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
