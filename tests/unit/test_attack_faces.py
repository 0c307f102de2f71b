"""The faces this change touched, attacked from outside (CLI through CliRunner, the webhook
client against a hostile local server), without Asterisk. Each test names the behaviour that
should hold; each failed when it was written, and passes since its fault was mended."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from click.testing import CliRunner, Result

from control.cli import main
from control.webhooks.client import WebhookClient
from control.settings import parse_webhook_allow as parse_allow
from control.webhooks.policy import WebhookPolicy
from tests.unit.test_cli import _record_call, cli, tenant  # noqa: F401
from tests.unit.test_recordings_service import make_wav

NUMBER = "+18459511000"
# What a terminal acts on: C0 controls but newline, DEL, C1 controls (ESC starts CSI and OSC).
TERMINAL_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")
HOSTILE_TEXT = "\x1b]0;pwned\x07\x1b[2J\x1b[31mRED\r\x08"
# 0x + 4000 hex digits: a YAML 1.2 integer of ~4800 decimal digits, more than Python will
# turn into decimal text (str() raises ValueError past 4,300 digits).
HUGE_HEX = "0x" + "f" * 4000


def clean_refusal(out: Result) -> None:
    """The CLI's error shape: exit 1, one short message, no traceback."""
    assert out.exit_code == 1, out.output[:500]
    assert "Traceback" not in out.output and len(out.output) < 400, out.output[:500]


@pytest.fixture
def sqlite_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The CLI on SQLite in a temporary data directory, with NUMBER provisioned for a tenant;
    an escaping exception fails the test (as a traceback would reach the operator)."""
    monkeypatch.setenv("VOICECTL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VOICECTL_AMI_PORT", "1")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(main, list(args), catch_exceptions=False)

    created = json.loads(run("tenant", "create", "Acme", "--json").output)["id"]
    assert run("number", "add", NUMBER, "--tenant", created).exit_code == 0
    run.tenant = created  # type: ignore[attr-defined]
    return run


# -- tenants ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["a\x00b", "a\x1b]0;x\x07b", "Acme\nten_0000  Evil  UTC", "x" * 201, "x" * 100_000])
def test_tenant_names_with_control_characters_or_too_long_are_refused(cli, name: str) -> None:  # noqa: F811
    clean_refusal(cli("tenant", "create", name))
    assert cli("tenant", "list").output.strip() == "no tenants"


def test_allow_countries_with_a_huge_calling_code_is_refused(sqlite_cli) -> None:
    out = sqlite_cli("tenant", "set", sqlite_cli.tenant, "--allow-countries", "1" * 5000)
    clean_refusal(out)
    assert "allow_countries" in out.output


@pytest.mark.parametrize("zone", ["localtime", "posixrules", "right/UTC", "posix/Europe/Paris"])
def test_timezones_that_are_not_iana_names_are_refused(sqlite_cli, zone: str) -> None:
    out = sqlite_cli("tenant", "create", "Beta", "--timezone", zone)
    clean_refusal(out)
    assert "is not an IANA time zone name" in out.output


# -- ids and numbers the database cannot hold ---------------------------------------------------
NUL_LOOKUPS = [
    ("tenant", "set", "ten_\x00", "--timezone", "UTC"),
    ("tenant", "secret", "rotate", "ten_\x00"),
    ("tenant", "key", "rotate", "ten_\x00"),
    ("tenant", "set", "TENANT", "--outbound-trunk", "trunk\x00"),
    ("recordings", "list", "--tenant", "ten_\x00"),
    ("recordings", "remove", "--tenant", "ten_\x00", "--album", "1", "--sort", "1"),
    ("recordings", "add", "WAV", "--album", "1", "--tenant", "ten_\x00"),
    ("calls", "show", "node\x00"),
    ("number", "add", "+18005550177", "--tenant", "ten_\x00"),
]


@pytest.mark.parametrize("cli", ["postgres"], indirect=True)
@pytest.mark.parametrize("args", NUL_LOOKUPS, ids=lambda a: " ".join(a[:2]) + ("/" + a[3] if len(a) > 3 else ""))
def test_an_id_holding_a_nul_is_simply_not_found(cli, tenant: str, tmp_path: Path,  # noqa: F811
                                                  args: tuple[str, ...]) -> None:
    wav = make_wav(tmp_path / "a.wav", 0.2)
    out = cli(*[str(wav) if a == "WAV" else tenant if a == "TENANT" else a for a in args])
    assert out.exit_code in (0, 1) and "Traceback" not in out.output and len(out.output) < 400, out.output[:500]


@pytest.mark.parametrize("args", [("recordings", "list", "--album", str(2**63)),
                                  ("recordings", "remove", "--tenant", "TENANT", "--album", str(2**63), "--sort", "1")],
                         ids=["list", "remove"])
def test_album_numbers_beyond_any_recording_find_nothing(cli, tenant: str, args: tuple[str, ...]) -> None:  # noqa: F811
    out = cli(*[tenant if a == "TENANT" else a for a in args])
    assert out.exit_code in (0, 1) and "Traceback" not in out.output, out.output[:500]


@pytest.mark.parametrize("cli", ["postgres"], indirect=True)
@pytest.mark.parametrize("args", [("recordings", "remove", "99999999999"),
                                  ("recordings", "list", "--album", str(2**31)),
                                  ("recordings", "remove", "--tenant", "TENANT", "--album", str(2**31), "--sort", "1")],
                         ids=["remove-id", "list-album", "remove-album"])
def test_recording_numbers_beyond_int32_find_nothing_on_postgresql(cli, tenant: str,  # noqa: F811
                                                                   args: tuple[str, ...]) -> None:
    out = cli(*[tenant if a == "TENANT" else a for a in args])
    assert out.exit_code in (0, 1) and "Traceback" not in out.output, out.output[:500]
    if args[1] == "remove":
        assert "does not exist" in out.output or "has no recording" in out.output


@pytest.mark.parametrize("name", ["evil\u202egnp.exe", "a\u2028b", "a\u2066b"])
def test_names_refuse_bidi_and_separator_characters(sqlite_cli, tmp_path: Path, name: str) -> None:
    wav = make_wav(tmp_path / "a.wav", 0.2)
    clean_refusal(sqlite_cli("recordings", "add", str(wav), "--album", "1", "--tenant", sqlite_cli.tenant,
                             "--name", name))
    clean_refusal(sqlite_cli("tenant", "create", name))
    assert sqlite_cli("recordings", "list").output.strip() == "no recordings"


# -- ivr import -------------------------------------------------------------------------------
HUGE_INT_DOCS = {
    "goto.branch": f'branches:\n  "0": {{type: goto, branch: {HUGE_HEX}}}\n',
    "goto.number": f'branches:\n  "0": {{type: goto, branch: "0", number: {HUGE_HEX}}}\n',
    "transfer.to": f'branches:\n  "0": {{type: transfer, to: {HUGE_HEX}}}\n',
    "menu.inputs": f'branches:\n  "0": {{type: menu, inputs: {{1: {HUGE_HEX}}}}}\n',
    "branch.type": f'branches:\n  "0": {{type: {HUGE_HEX}}}\n',
    "play.type": f'branches:\n  "0": {{type: hangup, play: [{{type: {HUGE_HEX}}}]}}\n',
}


@pytest.mark.parametrize("where", list(HUGE_INT_DOCS))
def test_a_huge_integer_anywhere_in_an_ivr_is_refused(sqlite_cli, tmp_path: Path, where: str) -> None:
    doc = tmp_path / "huge.yaml"
    doc.write_text(HUGE_INT_DOCS[where])
    clean_refusal(sqlite_cli("ivr", "import", str(doc), "--number", NUMBER))
    assert "has no IVR" in sqlite_cli("ivr", "export", NUMBER).output


def test_an_unquoted_long_number_in_to_is_refused_in_one_short_line(sqlite_cli, tmp_path: Path) -> None:
    doc = tmp_path / "to.yaml"
    doc.write_text('branches:\n  "0": {type: transfer, to: ' + "9" * 4000 + "}\n")
    clean_refusal(sqlite_cli("ivr", "import", str(doc), "--number", NUMBER))


# -- calls show -------------------------------------------------------------------------------
HOSTILE_CALLS = {
    # A tenant's server answering a JSON string: kept as the exchange's answer, printed as is.
    "answer": ([{"branch": "5", "url": "https://hooks.example.com/a", "status": 200, "ms": 1.0,
                 "answer": HOSTILE_TEXT, "reason": "the answer is text, not a JSON object"}], {}),
    # An answer's variables: their values are not checked for controls.
    "variable": ([{"branch": "5", "url": "https://hooks.example.com/a", "status": 200, "ms": 1.0,
                   "answer": {"goto": "7", "variables": {"x": HOSTILE_TEXT}}}], {"x": HOSTILE_TEXT}),
    # A url built from such a variable (${x}): refused by the client, but recorded as expanded.
    "url": ([{"branch": "5", "url": "https://hooks.example.com/" + HOSTILE_TEXT, "status": None, "ms": 0.1,
              "answer": None, "reason": "URL refused: contains spaces or control characters"}], {}),
}


@pytest.mark.parametrize("field", list(HOSTILE_CALLS))
def test_calls_show_writes_no_terminal_control_sequences(cli, field: str) -> None:  # noqa: F811
    assert cli("tenant", "list").exit_code == 0  # the store exists, migrated
    exchanges, variables = HOSTILE_CALLS[field]
    _record_call(exchanges, variables)
    # color=True: what a terminal gets (click strips only CSI sequences, and only off a tty).
    out = CliRunner().invoke(main, ["calls", "show", "node-1.7"], color=True, catch_exceptions=False)
    assert out.exit_code == 0, out.output
    assert "webhook exchanges: 1" in out.output
    found = TERMINAL_CONTROL.search(out.output)
    assert found is None, f"U+{ord(found.group()):04X} printed raw: {out.output!r}"


# -- the webhook client -----------------------------------------------------------------------
async def test_an_answer_with_an_infinite_number_is_not_json(aiohttp_server: Any) -> None:
    async def infinite(request: web.Request) -> web.Response:
        return web.Response(body=b'{"goto": "1", "variables": {"n": 1e999}}', content_type="application/json")

    app = web.Application()
    app.router.add_post("/hook", infinite)
    server = await aiohttp_server(app)
    client = WebhookClient(WebhookPolicy(parse_allow("any")))
    try:
        answer = await client.post(str(server.make_url("/hook")), {"a": 1}, secret="whsec_x", timeout=5)
    finally:
        await client.close()
    assert answer.status == 200
    assert (answer.body, answer.error) == (None, "not JSON")
