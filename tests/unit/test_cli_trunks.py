"""Trunk commands against a real database (SQLite and PostgreSQL), no Asterisk: what is stored,
what is rendered, what is refused, and where the password goes."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from control.cli import main
from tests.unit.test_cli import cli, database_at, rows  # noqa: F401  (the CLI fixture, both stores)

PASSWORD = "pa;ss#wörd=1"


def etc(tmp_path: Path) -> Path:
    return tmp_path / "data" / "asterisk" / "etc"


def test_add_list_remove(cli, tmp_path: Path) -> None:
    out = cli("trunk", "add", "carrier", "--match", "203.0.113.0/24", "--match", "198.51.100.7",
              "--target", "sip.carrier.example:5080")
    assert out.exit_code == 0 and "Asterisk is not running" in out.output, out.output
    rendered = (etc(tmp_path) / "pjsip_trunks.conf").read_text()
    assert "match = 203.0.113.0/24\nmatch = 198.51.100.7\n" in rendered
    assert "contact = sip:sip.carrier.example:5080" in rendered
    assert "identify_by = ip" in rendered and "rtp_timeout = 60" in rendered and "timers = yes" in rendered
    assert "disallow = all\nallow = ulaw,alaw" in rendered and "type = registration" not in rendered
    assert json.loads(cli("trunk", "list", "--json").output) == [
        {"name": "carrier", "match": ["203.0.113.0/24", "198.51.100.7"], "target": "sip.carrier.example:5080",
         "username": None, "register": False}]
    assert "already exists" in cli("trunk", "add", "carrier", "--host", "127.0.0.2").output
    assert cli("trunk", "remove", "carrier").exit_code == 0
    assert "[carrier]" not in (etc(tmp_path) / "pjsip_trunks.conf").read_text()
    assert json.loads(cli("trunk", "list", "--json").output) == []


def test_host_shorthand_still_works(cli, tmp_path: Path) -> None:
    assert cli("trunk", "add", "old", "--host", "127.0.0.1:5070").exit_code == 0
    assert json.loads(cli("trunk", "list", "--json").output)[0] == {
        "name": "old", "match": ["127.0.0.1"], "target": "127.0.0.1:5070", "username": None, "register": False}
    out = cli("trunk", "add", "named", "--host", "sip.example.com")
    assert out.exit_code == 1 and "match: 'sip.example.com' is not an IP address" in out.output


def test_registering_trunk_with_password_from_stdin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOICECTL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VOICECTL_AMI_PORT", "1")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    out = CliRunner().invoke(main, ["trunk", "add", "prov", "--match", "192.0.2.10", "--target", "[2001:db8::5]:5070",
                                    "--username", "acct-1", "--password-stdin", "--register"],
                             input=PASSWORD + "\n", catch_exceptions=False)
    assert out.exit_code == 0, out.output
    conf = etc(tmp_path) / "pjsip_trunks.conf"
    rendered = conf.read_text()
    for line in ["outbound_auth = prov", "type = auth", "username = acct-1", "password = pa\\;ss#wörd=1",
                 "type = registration", "server_uri = sip:[2001:db8::5]:5070",
                 "client_uri = sip:acct-1@[2001:db8::5]:5070", "line = yes", "endpoint = prov"]:
        assert f"\n{line}\n" in rendered, line
    # The password is in two files, both for their owner's eyes only, and nowhere else.
    passwords = tmp_path / "data" / "trunk_passwords.json"
    assert json.loads(passwords.read_text()) == {"prov": PASSWORD}
    assert passwords.stat().st_mode & 0o777 == 0o600 and conf.stat().st_mode & 0o777 == 0o600
    assert PASSWORD.encode() not in (tmp_path / "data" / "voicectl.db").read_bytes()
    listed = CliRunner().invoke(main, ["trunk", "list"]).output
    assert "user acct-1" in listed and "registers" in listed and "wörd" not in listed
    assert CliRunner().invoke(main, ["trunk", "remove", "prov"]).exit_code == 0
    assert json.loads(passwords.read_text()) == {}


def test_password_from_the_environment(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOICECTL_TRUNK_PASSWORD", "from-env")
    assert cli("trunk", "add", "prov", "--match", "192.0.2.10", "--target", "192.0.2.10",
               "--username", "acct").exit_code == 0
    assert "\npassword = from-env\n" in (etc(tmp_path) / "pjsip_trunks.conf").read_text()
    # A trunk without a username takes no password, whatever the environment holds.
    assert cli("trunk", "add", "plain", "--match", "192.0.2.11", "--target", "192.0.2.11").exit_code == 0
    assert json.loads((tmp_path / "data" / "trunk_passwords.json").read_text()) == {"prov": "from-env"}


@pytest.mark.parametrize("args,problem", [
    (["evil\n", "--match", "127.0.0.1", "--target", "127.0.0.1"], "name: 'evil\\n' must be"),
    (["anonymous", "--match", "127.0.0.1", "--target", "127.0.0.1"], "name: 'anonymous' is reserved"),
    (["t", "--match", "0.0.0.0/0", "--target", "127.0.0.1"], "match: '0.0.0.0/0' would take calls from every"),
    (["t", "--match", "0.0.0.0", "--target", "127.0.0.1"], "match: '0.0.0.0' is not a unicast address"),
    (["t", "--match", "255.255.255.255", "--target", "127.0.0.1"], "is not a unicast address"),
    (["t", "--match", "224.0.0.5", "--target", "127.0.0.1"], "is not a unicast address"),
    (["t", "--match", "127.0.0.1", "--target", "bad_host.example"], "target: 'bad_host.example' is neither"),
    (["t", "--match", "127.0.0.1", "--target", "127.0.0.1:70000"], "target: port 70000 is out of range"),
    (["t", "--match", "127.0.0.1"], "target: the HOST[:PORT]"),
    (["t", "--target", "127.0.0.1"], "match: at least one"),
    (["t", "--match", "127.0.0.1", "--target", "127.0.0.1", "--username", "u\nx"], "username: 'u\\nx' must be"),
    (["t", "--match", "127.0.0.1", "--target", "127.0.0.1", "--username", "u;x"], "username: 'u;x' must be"),
    (["t", "--match", "127.0.0.1", "--target", "127.0.0.1", "--username", "u"], "a username needs a password"),
    (["t", "--match", "127.0.0.1", "--target", "127.0.0.1", "--register"], "register: needs a username"),
])
def test_refusals_are_one_clear_line_and_store_nothing(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      args: list[str], problem: str) -> None:
    if "needs a password" not in problem:  # so a bad username is the only problem
        monkeypatch.setenv("VOICECTL_TRUNK_PASSWORD", "pw")
    out = cli("trunk", "add", *args)
    assert out.exit_code == 1
    lines = out.output.splitlines()
    assert lines[0] == "Error: rejected, nothing was stored:" and len(lines) == 2, out.output
    assert problem in lines[1]
    assert json.loads(cli("trunk", "list", "--json").output) == []
    assert not (tmp_path / "data" / "trunk_passwords.json").exists()


def test_init_renders_ip_only_identification_and_a_security_log(cli, tmp_path: Path) -> None:
    assert cli("init").exit_code == 0
    pjsip = (etc(tmp_path) / "pjsip.conf").read_text()
    assert "\nendpoint_identifier_order = ip\n" in pjsip
    assert "\nsecurity.log => security\n" in (etc(tmp_path) / "logger.conf").read_text()
    assert "messages.log => warning,error" in (etc(tmp_path) / "logger.conf").read_text()


def test_demo_trunk_matches_loopback_only(cli, tmp_path: Path) -> None:
    assert cli("demo").exit_code == 0
    assert json.loads(cli("trunk", "list", "--json").output) == [
        {"name": "local", "match": ["127.0.0.1"], "target": "127.0.0.1:5060", "username": None, "register": False}]
    assert cli("demo").exit_code == 0  # twice: nothing to add


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_migration_0003_brings_old_trunks_over(request: pytest.FixtureRequest, tmp_path: Path, store: str) -> None:
    from alembic import command

    url, cfg = database_at("0002", store, request, tmp_path)
    rows(url, "INSERT INTO trunks (name, host, port, created_at) VALUES "
                     "('local', '127.0.0.1', 5060, CURRENT_TIMESTAMP), ('carrier', '203.0.113.5', 5070, "
                     "CURRENT_TIMESTAMP)", write=True)
    command.upgrade(cfg, "head")
    got = rows(url, "SELECT name, matches, target_host, target_port, username, register FROM trunks ORDER BY name")
    assert [(n, json.loads(m) if isinstance(m, str) else m, h, p, u, bool(r)) for n, m, h, p, u, r in got] == [
        ("carrier", ["203.0.113.5"], "203.0.113.5", 5070, None, False),
        ("local", ["127.0.0.1"], "127.0.0.1", 5060, None, False)]
    command.downgrade(cfg, "0002")
    assert rows(url, "SELECT name, host, port FROM trunks ORDER BY name") == [
        ("carrier", "203.0.113.5", 5070), ("local", "127.0.0.1", 5060)]
