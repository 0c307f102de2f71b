"""`voicectl recordings` against a real database in a temporary data directory (no Asterisk)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

# The CLI on SQLite and on PostgreSQL, and a tenant, as the rest of the CLI is tested.
from tests.unit.test_cli import cli, tenant  # noqa: F401
from tests.unit.test_recordings_service import make_wav


def test_add_list_remove(cli, tenant: str, tmp_path: Path) -> None:
    wav = make_wav(tmp_path / "Main Menu.wav", seconds=0.5)
    out = cli("recordings", "add", str(wav), "--album", "2", "--tenant", tenant, "--json")
    assert out.exit_code == 0, out.output
    first = json.loads(out.output)
    assert (first["album"], first["sort"], first["name"]) == (2, 1, "Main Menu")
    assert first["seconds"] == pytest.approx(0.5, abs=0.01)
    assert (tmp_path / "data" / "recordings" / first["file"]).is_file()

    out = cli("recordings", "add", str(wav), "--album", "2", "--sort", "9", "--name", "Goodbye", "--tenant", tenant)
    assert out.exit_code == 0 and "album 2 sort 9 'Goodbye' (0.5 s)" in out.output, out.output

    listed = json.loads(cli("recordings", "list", "--tenant", tenant, "--json").output)
    assert [(r["sort"], r["name"]) for r in listed] == [(1, "Main Menu"), (9, "Goodbye")]
    text = cli("recordings", "list", "--album", "2").output
    assert "sort 9  0.5 s  Goodbye" in text
    assert cli("recordings", "list", "--album", "3").output.strip() == "no recordings"

    out = cli("recordings", "remove", first["id"])
    assert out.exit_code == 0 and f"recording {first['id']} removed" in out.output
    out = cli("recordings", "remove", "--tenant", tenant, "--album", "2", "--sort", "9")
    assert out.exit_code == 0, out.output
    assert cli("recordings", "list").output.strip() == "no recordings"
    assert list((tmp_path / "data" / "recordings").iterdir()) == []


def test_errors_are_one_clean_message(cli, tenant: str, tmp_path: Path) -> None:
    wav = make_wav(tmp_path / "a.wav", seconds=0.2)
    assert cli("recordings", "add", str(wav), "--album", "1", "--sort", "1", "--tenant", tenant).exit_code == 0
    out = cli("recordings", "add", str(wav), "--album", "1", "--sort", "1", "--tenant", tenant)
    assert out.exit_code == 1 and "already has a recording at sort 1" in out.output and "--replace" in out.output
    out = cli("recordings", "add", str(wav), "--album", "1", "--sort", "1", "--tenant", tenant, "--replace")
    assert out.exit_code == 0 and "it replaces recording" in out.output

    text = tmp_path / "notes.wav"
    text.write_text("not audio")
    out = cli("recordings", "add", str(text), "--album", "0", "--tenant", tenant)
    assert out.exit_code == 1 and "rejected, nothing was stored:" in out.output
    assert "album: must be a whole number" in out.output and "notes.wav: not a WAV or MP3 file" in out.output
    assert "Traceback" not in out.output

    out = cli("recordings", "remove", "12345")
    assert out.exit_code == 1 and "recording 12345 does not exist" in out.output
    out = cli("recordings", "remove", "--tenant", tenant, "--album", "1", "--sort", "4")
    assert out.exit_code == 1 and "has no recording at sort 4" in out.output
    out = cli("recordings", "remove", "--album", "1")
    assert out.exit_code == 2 and "give a recording ID" in out.output
