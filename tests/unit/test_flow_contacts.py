"""Contacts in calls with a scripted caller: `contact_info` in trigger requests, the
contact_data branch, and at most one lookup a call, none for a call that never asks. The adapter
on a real database is tested at the end; a real call is tests/integration/test_contacts_in_calls.py."""
from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker

from control.contacts import service
from control.contacts.lookup import CallerContacts
from control.flow.branches import CallContext
from control.flow.document import parse_ivr
from control.flow.engine import run_ivr
from control.flow.ports import HookAnswer, TenantView
from control.tenants.service import create_tenant
from tests.unit.fakes import EchoMedia, FakeChannel, FakeWebhooks

JOHN = {"contact": {"first_name": "John", "last_name": "Doe", "exp": None, "field_a": "1234"},
        "phones": [{"phone": "8459511000", "type": "H"}], "labels": [2, 7]}


class CountingContacts:
    def __init__(self, found: dict[str, Any] | None) -> None:
        self.found = found
        self.asked: list[tuple[str, str]] = []

    async def for_caller(self, tenant_id: str, caller: str) -> dict[str, Any] | None:
        self.asked.append((tenant_id, caller))
        return self.found


class BrokenContacts:
    async def for_caller(self, tenant_id: str, caller: str) -> dict[str, Any] | None:
        raise ConnectionError("database down")


async def run(branches: dict[str, Any], contacts: Any, answers: list[Any] = ()) -> tuple[FakeChannel, CallContext,
                                                                                       FakeWebhooks]:
    channel = FakeChannel([])
    hooks = FakeWebhooks([HookAnswer(200, a, 5.0) for a in answers])
    call = CallContext(channel, EchoMedia(), call_id="vm-1.1", caller="+18459511000", did="+18459511110",
                       tenant=TenantView("ten_1"), hooks=hooks, contacts=contacts)
    await run_ivr(parse_ivr({"branches": branches}), call)
    return channel, call, hooks


GREETING = {"0": {"type": "contact_data", "next": "1", "not_found": "2"},
            "1": {"type": "content", "play": [{"type": "tts", "text": "Hi ${first_name} ${last_name}"}],
                  "next": "5"},
            "2": {"type": "content", "play": [{"type": "tts", "text": "Hello stranger"}], "next": "5"},
            "5": {"type": "trigger", "url": "http://crm.example/ivr", "no_route": "9"},
            "9": {"type": "hangup"}}


async def test_contact_data_sets_variables_and_the_trigger_sends_contact_info_from_one_lookup() -> None:
    contacts = CountingContacts(JOHN)
    channel, call, hooks = await run(GREETING, contacts, answers=[{"goto": "9"}])
    assert channel.played[0] == ["tts:Hi John Doe"]
    assert call.variables == {"first_name": "John", "last_name": "Doe", "exp": "", "field_a": "1234",
                              "labels": "2,7"}
    assert hooks.posts[0]["body"]["contact_info"] == JOHN
    assert contacts.asked == [("ten_1", "+18459511000")]


async def test_an_unknown_caller_goes_to_not_found_with_no_variable_and_null_contact_info() -> None:
    contacts = CountingContacts(None)
    channel, call, hooks = await run(GREETING, contacts, answers=[{"goto": "9"}])
    assert channel.played[0] == ["tts:Hello stranger"]
    assert call.variables == {}
    assert hooks.posts[0]["body"]["contact_info"] is None
    assert len(contacts.asked) == 1


async def test_without_not_found_an_unknown_caller_goes_to_next() -> None:
    _, call, _ = await run({"0": {"type": "contact_data", "next": "1"}, "1": {"type": "hangup"}},
                           CountingContacts(None))
    assert [b["branch"] for b in call.branch_data] == ["0", "1"]


async def test_a_call_that_never_asks_makes_no_lookup() -> None:
    contacts = CountingContacts(JOHN)
    await run({"0": {"type": "content", "play": [{"type": "tts", "text": "Hi"}]}}, contacts)
    assert contacts.asked == []


async def test_a_failing_lookup_is_no_contact_and_the_call_goes_on() -> None:
    channel, call, hooks = await run(GREETING, BrokenContacts(), answers=[{"goto": "9"}])
    assert channel.played[0] == ["tts:Hello stranger"]
    assert hooks.posts[0]["body"]["contact_info"] is None
    assert [b["branch"] for b in call.branch_data] == ["0", "2", "5", "9"]


async def test_the_adapter_finds_the_tenants_contact_by_any_caller_id_form(db: async_sessionmaker) -> None:
    acme, beta = (await create_tenant(db, "Acme")).id, (await create_tenant(db, "Beta")).id
    await service.create_label(db, acme, 2)
    await service.create_contact(db, acme, "8459511000,7325550184", fields={"first_name": "John"}, label="2")
    lookup = CallerContacts(db)
    for caller in ("+18459511000", "18459511000", "8459511000", "7325550184"):
        found = await lookup.for_caller(acme, caller)
        assert found is not None and found["contact"]["first_name"] == "John", caller
        assert found["phones"] == [{"phone": "8459511000", "type": "H"}, {"phone": "7325550184", "type": "H"}]
        assert found["labels"] == [2]
    assert await lookup.for_caller(beta, "+18459511000") is None  # another tenant's contact
    for caller in ("anonymous", "", "2125550100", "sip:bob@example.com", "8459511000\x00", "8" * 5000):
        assert await lookup.for_caller(acme, caller) is None
