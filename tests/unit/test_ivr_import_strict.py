"""`voicectl ivr import` on hostile and careless files: exit 1, a short answer, nothing stored."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from control.cli import main
from control.flow.loader import MAX_DOCUMENT_BYTES
from tests.unit.test_ivr_loader import ALIAS_BOMB

NUMBER = "+18459511000"


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The CLI on SQLite in a temporary data directory, with NUMBER provisioned and no IVR."""
    monkeypatch.setenv("VOICECTL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VOICECTL_AMI_PORT", "1")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(main, list(args), catch_exceptions=False)  # an escaping exception fails the test

    tenant = json.loads(run("tenant", "create", "Acme", "--json").output)["id"]
    assert run("number", "add", NUMBER, "--tenant", tenant).exit_code == 0
    return run


def refused(cli, path: Path) -> str:
    started = time.monotonic()
    out = cli("ivr", "import", str(path), "--number", NUMBER)
    assert time.monotonic() - started < 5
    assert out.exit_code == 1, out.output
    assert "Traceback" not in out.output and len(out.output) < 400, out.output[:2000]
    assert "has no IVR" in cli("ivr", "export", NUMBER).output, "a refused import stored something"
    return out.output


def test_an_alias_bomb_is_refused(cli, tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(ALIAS_BOMB)
    assert refused(cli, bomb) == f"Error: {bomb}:1:4: anchors and aliases (&name, *name) are not accepted: " \
                                 "write the value out\n"


@pytest.mark.parametrize(("body", "column"), [("[" * 50_000 + "]" * 50_000, 33),
                                             ('{"branches": ' * 10_000, len('{"branches": ') * 32 + 1)])
def test_deep_nesting_is_refused(cli, tmp_path: Path, body: str, column: int) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text(body)
    assert refused(cli, deep) == f"Error: {deep}:1:{column}: nested deeper than 32 levels\n"


def test_an_oversized_file_is_refused(cli, tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text('branches:\n  "0": {type: hangup}\n' + "#" * MAX_DOCUMENT_BYTES)
    assert refused(cli, big) == f"Error: {big}: larger than 1 MiB, the most an IVR document may be\n"


def test_every_problem_is_printed_one_per_line(cli, tmp_path: Path) -> None:
    doc = tmp_path / "typos.yaml"
    doc.write_text('branches:\n  0: {type: menu, inputs: {1: 9}, timout: 3, retries: 2.5}\n  "0": {type: hangup}\n'
                   '  9: {type: hangup, play: [{type: tts, text: "\\0"}]}\n')
    assert refused(cli, doc).splitlines() == [
        "Error: rejected, nothing was stored:",
        "  branches.0: branch \"0\" is given twice (as 0 and '0')",
        "  branches.0.timout: unknown field (did you mean 'timeout'?)",
        "  branches.0.retries: must be a whole number from 0 to 20",
        "  branches.9.play.0.text: character 1 is U+0000, a control character "
        "(tab, newline and carriage return are the only ones allowed)",
    ]


def test_a_valid_document_with_integer_ids_imports(cli, tmp_path: Path) -> None:
    doc = tmp_path / "ok.yaml"
    doc.write_text("branches:\n  0: {type: menu, inputs: {1: 010}, retries: 1, on_timeout: 10}\n"
                   "  10: {type: hangup, play: [{type: tts, text: yes}]}\n")
    out = cli("ivr", "import", str(doc), "--number", NUMBER)
    assert out.exit_code == 0, out.output
    exported = json.loads(cli("ivr", "export", NUMBER, "--json").output)
    assert exported["branches"]["0"]["inputs"] == {"1": "10"}
    assert exported["branches"]["10"]["play"] == [{"type": "tts", "text": "yes"}]


def test_a_goto_into_another_tenants_number_is_refused(cli, tmp_path: Path) -> None:
    other = json.loads(cli("tenant", "create", "Other", "--json").output)["id"]
    assert cli("number", "add", "+18459512000", "--tenant", other).exit_code == 0
    own = json.loads(cli("number", "list", "--json").output)[0]["tenant"]
    assert cli("number", "add", "+18459513000", "--tenant", own).exit_code == 0
    path = tmp_path / "goto.json"
    path.write_text(json.dumps({"branches": {"0": {"type": "goto", "number": "8459512000", "branch": "0"}}}))
    assert "8459512000 is not a number of this tenant" in refused(cli, path)
    path.write_text(json.dumps({"branches": {"0": {"type": "goto", "number": "8459519999", "branch": "0"}}}))
    assert "8459519999 is not a number of this tenant" in refused(cli, path)
    path.write_text(json.dumps({"branches": {"0": {"type": "goto", "number": "+18459513000", "branch": "0"}}}))
    assert cli("ivr", "import", str(path), "--number", NUMBER).exit_code == 0


def test_a_goto_number_no_plan_knows_is_refused_as_a_document_error(cli, tmp_path: Path) -> None:
    # +999 is no country calling code: once refused with a traceback (the number parsed as a
    # document but not as a phone number when the import looked it up).
    path = tmp_path / "goto.json"
    path.write_text(json.dumps({"branches": {"0": {"type": "goto", "number": "+9991234567", "branch": "0"}}}))
    assert "branches.0.number: must be a phone number" in refused(cli, path)
