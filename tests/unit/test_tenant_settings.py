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


def _tenant_for(key: str) -> str | None:
    """Whose key it is, as a REST request would find out (the CLI's store)."""
    import asyncio

    from control.settings import Settings
    from control.store.db import make_engine, sessions
    from control.tenants.service import tenant_for_key

    async def find() -> str | None:
        engine = make_engine(Settings.from_env().database_url)
        try:
            found = await tenant_for_key(sessions(engine), key)
            return found.id if found is not None else None
        finally:
            await engine.dispose()

    return asyncio.run(find())


def test_key_rotate_issues_a_new_key_and_the_old_one_stops_at_once(cli) -> None:
    created = json.loads(cli("tenant", "create", "Acme", "--json").output)
    other = json.loads(cli("tenant", "create", "Beta", "--json").output)
    assert _tenant_for(created["auth_key"]) == created["id"]
    out = cli("tenant", "key", "rotate", created["id"], "--json")
    assert out.exit_code == 0, out.output
    rotated = json.loads(out.output)
    assert rotated["id"] == created["id"] and rotated["auth_key"] != created["auth_key"]
    assert _tenant_for(created["auth_key"]) is None and _tenant_for(rotated["auth_key"]) == created["id"]
    assert _tenant_for(other["auth_key"]) == other["id"], "another tenant's key is untouched"
    text = cli("tenant", "key", "rotate", created["id"])
    assert "Auth-Key: " in text.output and rotated["auth_key"] not in text.output
    assert _tenant_for(rotated["auth_key"]) is None
    missing = cli("tenant", "key", "rotate", "ten_nope")
    assert missing.exit_code == 1 and "tenant ten_nope does not exist" in missing.output


def test_only_iana_names_from_the_tzdata_package_are_time_zones() -> None:
    from control.errors import Invalid
    from control.tenants.service import check_timezone, iana_timezones

    assert {"UTC", "America/New_York", "Europe/Paris", "Asia/Kolkata"} <= iana_timezones()
    assert check_timezone(" Europe/Paris ") == "Europe/Paris"
    for bad in ("localtime", "posixrules", "Factory", "posix/Europe/Paris", "right/UTC", "Europe/Paris\x00",
                "x" * 100_000):
        with pytest.raises(Invalid) as caught:
            check_timezone(bad)
        assert "is not an IANA time zone name" in str(caught.value) and len(str(caught.value)) < 200


def test_tenant_ids_of_another_shape_are_not_found_before_any_query() -> None:
    from control.errors import NotFound
    from control.tenants.service import is_tenant_id, tenant_id_or_not_found

    assert is_tenant_id("ten_0123456789abcdef") and tenant_id_or_not_found("ten_0123456789abcdef")
    for bad in ("ten_nope", "ten_0123456789ABCDEF", "ten_0123456789abcdef0", "ten_0123456789abcde\x00", "",
                "ten_0123456789abcdef\n"):
        assert not is_tenant_id(bad)
        with pytest.raises(NotFound):
            tenant_id_or_not_found(bad)
    with pytest.raises(NotFound) as caught:
        tenant_id_or_not_found("ten_\x00" + "x" * 10_000)
    assert str(caught.value) == "tenant 'ten_\\x00" + "x" * 35 + "'... does not exist"


def test_bad_ids_and_trunk_names_are_refused_on_both_stores(cli) -> None:  # noqa: F811
    tenant_id = json.loads(cli("tenant", "create", "Acme", "--json").output)["id"]
    for args in (("tenant", "set", "ten_\x00", "--timezone", "UTC"), ("tenant", "secret", "rotate", "ten_\x00"),
                 ("calls", "show", "node\x00"), ("calls", "show", "x" * 65)):
        out = cli(*args)
        assert out.exit_code == 1 and "does not exist" in out.output and "\x00" not in out.output, (args, out.output)
    out = cli("tenant", "set", tenant_id, "--outbound-trunk", "trunk\x00")
    assert out.exit_code == 1 and "outbound_trunk: there is no trunk 'trunk\\x00'" in out.output


def test_names_that_would_not_print_as_themselves_are_refused(cli) -> None:  # noqa: F811
    for name in ("a\x00b", "Acme\nten_0000  Evil  UTC", "evil\u202egnp", "a\u2028b", "x" * 201):
        out = cli("tenant", "create", name)
        assert out.exit_code == 1 and "rejected, nothing was stored:" in out.output, (name, out.output)
        assert "  name: must" in out.output and len(out.output) < 200
    assert cli("tenant", "create", "  Zoë & Söhne  ").exit_code == 0
    assert "Zoë & Söhne" in cli("tenant", "list").output


def test_allow_countries_refuses_codes_longer_than_three_digits_in_a_short_message() -> None:
    from control.errors import Invalid
    from control.tenants.service import parse_countries

    assert parse_countries("+1, 44 ,880,us") == ["1", "44", "880", "US"]
    for bad in ("1" * 5000, "0044", "9999"):
        with pytest.raises(Invalid) as caught:
            parse_countries(bad)
        assert "is neither a region" in str(caught.value) and len(str(caught.value)) < 120
    with pytest.raises(Invalid) as caught:
        parse_countries(",".join(["zz"] * 5000))
    assert len(caught.value.errors) == 11
    assert caught.value.errors[-1] == "allow_countries: and 4990 more entries like these"
