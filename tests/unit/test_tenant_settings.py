"""Tenants' time zone and webhook signing secret: the upgrade that adds them to existing
tenants, and the commands that set, rotate and show them (SQLite and PostgreSQL)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.unit.test_cli import cli, database_at, rows  # noqa: F401  (the CLI fixture, both stores)


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_migration_0004_gives_each_existing_tenant_its_own_secret(request: pytest.FixtureRequest,
                                                                   tmp_path: Path, store: str) -> None:
    from alembic import command

    url, cfg = database_at("0003", store, request, tmp_path)
    rows(url, "INSERT INTO tenants (id, name, key_hash, created_at) VALUES "
               "('ten_a', 'A', 'ha', CURRENT_TIMESTAMP), ('ten_b', 'B', 'hb', CURRENT_TIMESTAMP), "
               "('ten_c', 'C', 'hc', CURRENT_TIMESTAMP)", write=True)
    rows(url, "INSERT INTO calls (id, direction, number, caller_id, caller_name, started_at, branch_data, node) "
               "VALUES ('old-call', 'inbound', '+18005550100', '1', '', CURRENT_TIMESTAMP, '[]', 'n')", write=True)
    command.upgrade(cfg, "0004")

    tenants = rows(url, "SELECT id, timezone, signing_secret FROM tenants ORDER BY id")
    assert [(t[0], t[1]) for t in tenants] == [("ten_a", "UTC"), ("ten_b", "UTC"), ("ten_c", "UTC")]
    secrets = [t[2] for t in tenants]
    assert all(s.startswith("whsec_") and len(s) >= 40 for s in secrets) and len(set(secrets)) == 3
    call = rows(url, "SELECT exchanges, variables FROM calls")[0]
    assert [json.loads(v) if isinstance(v, str) else v for v in call] == [[], {}]

    command.downgrade(cfg, "0003")
    assert rows(url, "SELECT id, name FROM tenants ORDER BY id") == [("ten_a", "A"), ("ten_b", "B"), ("ten_c", "C")]
    command.upgrade(cfg, "head")


def test_create_shows_key_and_secret_once_and_list_shows_neither(cli) -> None:
    out = cli("tenant", "create", "Acme", "--timezone", "America/New_York", "--json")
    assert out.exit_code == 0, out.output
    created = json.loads(out.output)
    assert created["timezone"] == "America/New_York"
    assert created["signing_secret"].startswith("whsec_") and len(created["signing_secret"]) > 40
    text = cli("tenant", "create", "Beta")
    assert text.exit_code == 0 and "Signing secret: whsec_" in text.output and "time zone UTC" in text.output
    listed = cli("tenant", "list", "--json").output
    assert [(t["name"], t["timezone"]) for t in json.loads(listed)] == [("Acme", "America/New_York"), ("Beta", "UTC")]
    for shown in (listed, cli("tenant", "list").output):
        assert created["signing_secret"] not in shown and created["auth_key"] not in shown
        assert "whsec_" not in shown
    assert "America/New_York" in cli("tenant", "list").output


def test_a_time_zone_that_does_not_exist_is_refused(cli) -> None:
    for bad in ("Mars/Olympus", "utc", "../../etc/passwd", "", "America"):
        out = cli("tenant", "create", "X", "--timezone", bad)
        assert out.exit_code == 1 and "is not an IANA time zone name" in out.output, (bad, out.output)
    assert json.loads(cli("tenant", "list", "--json").output) == []
    both = cli("tenant", "create", " ", "--timezone", "Nowhere/Else")
    assert "name: must not be empty" in both.output and "Nowhere/Else" in both.output


def test_set_changes_the_time_zone(cli) -> None:
    tenant_id = json.loads(cli("tenant", "create", "Acme", "--json").output)["id"]
    out = cli("tenant", "set", tenant_id, "--timezone", "Europe/Paris")
    assert out.exit_code == 0 and "Europe/Paris" in out.output
    assert json.loads(cli("tenant", "list", "--json").output)[0]["timezone"] == "Europe/Paris"
    bad = cli("tenant", "set", tenant_id, "--timezone", "Europe/Atlantis")
    assert bad.exit_code == 1 and "Europe/Atlantis" in bad.output
    assert json.loads(cli("tenant", "list", "--json").output)[0]["timezone"] == "Europe/Paris"
    missing = cli("tenant", "set", "ten_nope", "--timezone", "UTC")
    assert missing.exit_code == 1 and "tenant ten_nope does not exist" in missing.output


def test_rotate_replaces_the_secret(cli) -> None:
    created = json.loads(cli("tenant", "create", "Acme", "--json").output)
    out = cli("tenant", "secret", "rotate", created["id"], "--json")
    assert out.exit_code == 0, out.output
    rotated = json.loads(out.output)
    assert rotated["id"] == created["id"]
    assert rotated["signing_secret"].startswith("whsec_") and rotated["signing_secret"] != created["signing_secret"]
    text = cli("tenant", "secret", "rotate", created["id"])
    assert "Signing secret: whsec_" in text.output and rotated["signing_secret"] not in text.output
    missing = cli("tenant", "secret", "rotate", "ten_nope")
    assert missing.exit_code == 1 and "tenant ten_nope does not exist" in missing.output
