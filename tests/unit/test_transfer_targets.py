"""Where a tenant's transfers may dial: the policy (outbound trunk, allowed country codes, trunk
hosts for sip: URIs), read from the database and cached, and the commands that set it."""
from __future__ import annotations

import json

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from control.errors import Conflict, Invalid
from control.flow.channel import DialTarget
from control.flow.ports import TransferRefused
from control.numbers.service import add_number
from control.tenants.service import create_tenant, parse_countries, update_tenant
from control.transfers.service import DialPolicy, DialTargets, TrunkTarget, load_policy, plan
from control.trunks.passwords import TrunkPasswords
from control.trunks.service import add_trunk, parse_trunk, remove_trunk
from tests.unit.test_cli import _reset_postgres, cli  # noqa: F401  (the CLI fixture, both stores)

TRUNKS = (TrunkTarget("carrier", "sip.carrier.example", 5060), TrunkTarget("pbx", "10.0.0.7", 5070),
          TrunkTarget("pbx2", "10.0.0.7", 5080))
US = DialPolicy("carrier", frozenset({"US"}), False, TRUNKS[0])
PBX = DialPolicy("pbx", frozenset({"US"}), True, TRUNKS[1])


def refused(to: str, policy: DialPolicy = US) -> str:
    with pytest.raises(TransferRefused) as err:
        plan(to, policy)
    return str(err.value)


def test_numbers_go_through_the_outbound_trunk_as_e164() -> None:
    for to in ("+18005550199", "8005550199", "18005550199", "(800) 555-0199", "+1 800 555 0199"):
        assert plan(to, US) == DialTarget("PJSIP/+18005550199@carrier", "+18005550199", "carrier"), to


def test_only_allowed_countries_and_valid_numbers() -> None:
    assert "+442079460000 (GB, +44) is not allowed for this tenant (allowed: US, those of its numbers)" in \
        refused("+442079460000")
    assert "(GB, +44)" in refused("011442079460000"), "the international prefix is no way round it"
    both = DialPolicy("carrier", frozenset({"1", "44"}), True, TRUNKS[0])
    assert plan("011 44 20 7946 0000", both).endpoint == "PJSIP/+442079460000@carrier"
    assert "(allowed: none)" in refused("+18005550199", DialPolicy("carrier", frozenset(), True, TRUNKS[0]))
    for bad in ("+15551230000", "911", "+1911", "1-800-FLOWERS", "+18005550199 ext. 12", "+18005550199,1",
                "+18005550199@carrier", "PJSIP/+18005550199@carrier", "Local/1@ctx"):
        assert "phone number" in refused(bad), bad


def test_calling_code_1_is_not_one_country_and_premium_numbers_are_never_dialled() -> None:
    # Jamaica and the Dominican Republic share +1 with the US: a US tenant reaches them only
    # when told to (the classic callback fraud numbers), as a 10-digit number too.
    for to in ("+18762345678", "8762345678", "+18092345678"):
        assert "is not allowed for this tenant" in refused(to), to
    nanp = DialPolicy("carrier", frozenset({"1"}), True, TRUNKS[0])
    assert plan("+18762345678", nanp).endpoint == "PJSIP/+18762345678@carrier", "code 1 set: all of NANP"
    assert "premium-rate number: never dialled" in refused("+19002345678", nanp)
    assert "premium-rate" in refused("+449067000000", DialPolicy("carrier", frozenset({"GB"}), True, TRUNKS[0]))


def test_numbers_need_an_outbound_trunk_that_exists() -> None:
    assert "the tenant has no outbound trunk" in refused("+18005550199",
                                                         DialPolicy(None, frozenset({"US"}), False, None))
    assert "outbound trunk gone does not exist" in refused("+18005550199",
                                                          DialPolicy("gone", frozenset({"US"}), False, None))


def test_sip_uris_go_only_through_the_tenants_outbound_trunk() -> None:
    assert plan("sip:alice@10.0.0.7:5070", PBX) == DialTarget("PJSIP/alice@pbx", "sip:alice@10.0.0.7:5070", "pbx")
    assert plan("SIP:alice@10.0.0.7", PBX).endpoint == "PJSIP/alice@pbx"
    assert plan("sip:queue.7@SIP.Carrier.Example", US).endpoint == "PJSIP/queue.7@carrier"
    # Another trunk on the same host, or another tenant's trunk, is never used.
    assert "is not the tenant's outbound trunk (pbx)" in refused("sip:alice@10.0.0.7:5080", PBX)
    assert "is not the tenant's outbound trunk (carrier)" in refused("sip:alice@10.0.0.7", US)
    assert "has no outbound trunk" in refused("sip:alice@10.0.0.7", DialPolicy(None, frozenset(), True, None))


def test_a_sip_user_that_is_not_a_name_is_checked_and_dialled_as_a_phone_number() -> None:
    assert plan("sip:+18005550199@sip.carrier.example", US).endpoint == "PJSIP/+18005550199@carrier"
    assert plan("sip:8005550199@sip.carrier.example", US).endpoint == "PJSIP/+18005550199@carrier"
    why = refused("sip:+442079460000@sip.carrier.example")
    assert "is dialled as a phone number" in why and "+44" in why
    # What a carrier would strip to digits: each is a number, checked (and refused) as one.
    for user in (".442079460000", "_011442079460000", "~44207946000", "+-442079460000", "x011442079460000",
                 "011442079460000", "1001"):
        assert "is dialled as a phone number" in refused(f"sip:{user}@sip.carrier.example"), user
    # Dialled as the number checked, never as written.
    assert plan("sip:+1.800.555.0199@sip.carrier.example", US).endpoint == "PJSIP/+18005550199@carrier"
    assert plan("sip:sales-2@sip.carrier.example", US).endpoint == "PJSIP/sales-2@carrier"


def test_parse_countries() -> None:
    assert parse_countries("44, +1,1, us,CA") == ["1", "44", "CA", "US"]
    assert parse_countries("default") is None and parse_countries(" None ") == []
    assert parse_countries("800") == ["800"]
    with pytest.raises(Invalid) as err:
        parse_countries("1,999,xx,")
    rule = "is neither a region (like US) nor a calling code (like 44)"
    assert err.value.errors == [f"allow_countries: '999' {rule}", f"allow_countries: 'xx' {rule}",
                                f"allow_countries: '' {rule}"]


async def test_the_policy_is_read_from_the_tenant_its_numbers_and_the_trunks(db: async_sessionmaker,
                                                                             tmp_path) -> None:
    tenant = await create_tenant(db, "t")
    other = await create_tenant(db, "other")
    await add_number(db, "+18005550100", tenant.id)
    await add_number(db, "+442079460001", tenant.id)
    await add_number(db, "+33142685300", other.id)
    await add_trunk(db, TrunkPasswords(tmp_path), parse_trunk("carrier", ["192.0.2.1"], "sip.carrier.example"))
    policy = await load_policy(db, tenant.id)
    assert policy == DialPolicy(None, frozenset({"US", "GB"}), False, None)

    await update_tenant(db, tenant.id, outbound_trunk="carrier", allowed_countries=["1"])
    policy = await load_policy(db, tenant.id)
    assert (policy.outbound_trunk, policy.allowed, policy.countries_set) == ("carrier", frozenset({"1"}), True)
    assert policy.outbound == TrunkTarget("carrier", "sip.carrier.example", 5060), "only the outbound trunk is read"
    with pytest.raises(TransferRefused):
        await load_policy(db, "ten_nope")

    with pytest.raises(Invalid) as err:
        await update_tenant(db, tenant.id, timezone="Mars/Base", outbound_trunk="nope")
    assert len(err.value.errors) == 2 and "there is no trunk 'nope'" in err.value.errors[1]
    assert (await load_policy(db, tenant.id)).outbound_trunk == "carrier", "a refused change changes nothing"

    with pytest.raises(Conflict) as conflict:
        await remove_trunk(db, TrunkPasswords(tmp_path), "carrier")
    assert f"outbound trunk of tenant {tenant.id}" in str(conflict.value)
    await update_tenant(db, tenant.id, outbound_trunk=None, allowed_countries=None)
    await remove_trunk(db, TrunkPasswords(tmp_path), "carrier")
    assert await load_policy(db, tenant.id) == DialPolicy(None, frozenset({"US", "GB"}), False, None)


async def test_policies_are_cached_per_tenant_for_a_moment(db: async_sessionmaker) -> None:
    tenant = await create_tenant(db, "t")
    await add_number(db, "+18005550100", tenant.id)
    clock = [100.0]
    targets = DialTargets(db, ttl_s=2.0, clock=lambda: clock[0])
    with pytest.raises(TransferRefused, match="no outbound trunk"):
        await targets.target("+18005550199", tenant.id)
    await update_tenant(db, tenant.id, allowed_countries=["44"])
    with pytest.raises(TransferRefused, match="no outbound trunk"):  # still the cached policy: +1 allowed
        await targets.target("+18005550199", tenant.id)
    clock[0] += 2.5
    with pytest.raises(TransferRefused, match="\\(US, \\+1\\) is not allowed"):
        await targets.target("+18005550199", tenant.id)


def test_tenant_set_outbound_trunk_and_countries(cli) -> None:  # noqa: F811
    tenant = json.loads(cli("tenant", "create", "Acme", "--json").output)["id"]
    assert cli("number", "add", "+18005550100", "--tenant", tenant).exit_code == 0
    assert cli("trunk", "add", "carrier", "--match", "192.0.2.1", "--target", "192.0.2.1").exit_code == 0
    out = cli("tenant", "set", tenant, "--outbound-trunk", "carrier")
    assert out.exit_code == 0, out.output
    assert "outbound trunk carrier; transfers may call US (its numbers')" in out.output
    out = cli("tenant", "set", tenant, "--allow-countries", "US,ca,44")
    assert out.exit_code == 0 and "transfers may call +44,CA,US\n" in out.output, out.output
    [listed] = json.loads(cli("tenant", "list", "--json").output)
    assert (listed["outbound_trunk"], listed["allowed_countries"]) == ("carrier", ["44", "CA", "US"])
    assert "outbound carrier  countries +44,CA,US" in cli("tenant", "list").output

    bad = cli("tenant", "set", tenant, "--outbound-trunk", "nope", "--allow-countries", "1,999")
    assert bad.exit_code == 1 and "'999' is neither a region" in bad.output
    bad = cli("tenant", "set", tenant, "--outbound-trunk", "nope")
    assert bad.exit_code == 1 and "there is no trunk 'nope'" in bad.output
    removing = cli("trunk", "remove", "carrier")
    assert removing.exit_code == 1 and f"is the outbound trunk of tenant {tenant}" in removing.output

    out = cli("tenant", "set", tenant, "--outbound-trunk", "", "--allow-countries", "default")
    assert out.exit_code == 0 and "outbound trunk none; transfers may call US (its numbers')" in out.output
    assert cli("trunk", "remove", "carrier").exit_code == 0
    assert cli("tenant", "set", tenant).exit_code == 2  # nothing to set
    assert "Europe/Paris" in cli("tenant", "set", tenant, "--timezone", "Europe/Paris").output
