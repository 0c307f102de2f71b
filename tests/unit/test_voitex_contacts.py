"""Voitex's Contacts API over real HTTP on a real database: every function, rule and message of
the document, the three body encodings, tenant isolation, and that a refused request changes
nothing."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import async_sessionmaker

from control.contacts import service
from control.store.db import make_engine, migrate, sessions
from control.store.models import Contact, ContactLabel, ContactPhone, Label
from tests.unit.test_voitex_face import answer, make_face

EMPTY = {name: "" for name in service.FIELDS} | {"exp": None}


@pytest.fixture(params=["sqlite", "postgres"])
async def any_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[async_sessionmaker]:
    """Every contacts rule on the embedded SQLite and on a real PostgreSQL (its own locking,
    types and refusals), each test from an empty schema."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'contacts.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
        engine = make_engine(url)
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await engine.dispose()
    await asyncio.to_thread(migrate, url)
    engine = make_engine(url)
    yield sessions(engine)
    await engine.dispose()


@pytest.fixture
async def face(aiohttp_client: Any, any_db: async_sessionmaker, tmp_path: Path) -> dict[str, Any]:
    db = any_db
    made = await make_face(aiohttp_client, db, tmp_path, per_minute=10_000)
    for tenant in (made["acme"], made["beta"]):
        for number in (2, 3, 5, 7):
            await service.create_label(db, tenant.id, number, f"label {number}")
    return made


async def post(face: dict[str, Any], fields: dict[str, Any], *, tenant: str = "acme",
               encoding: str = "form") -> tuple[int, dict[str, Any]]:
    headers = {"Auth-Key": face[tenant].auth_key}
    client = face["client"]
    if encoding == "json":
        return await answer(await client.post("/contacts/", json=fields, headers=headers))
    if encoding == "multipart":
        form = aiohttp.FormData()
        for name, value in fields.items():
            form.add_field(name, str(value))
        form._is_multipart = True
        return await answer(await client.post("/contacts/", data=form, headers=headers))
    return await answer(await client.post("/contacts/", data=fields, headers=headers))


async def select_(face: dict[str, Any], phone: str, tenant: str = "acme") -> tuple[int, dict[str, Any]]:
    return await post(face, {"function": "select", "phone": phone}, tenant=tenant)


async def counts(db: async_sessionmaker) -> tuple[int, ...]:
    async with db() as session:
        return tuple([await session.scalar(select(func.count()).select_from(table))
                      for table in (Contact, ContactPhone, ContactLabel, Label)])


@pytest.mark.parametrize("encoding", ["form", "multipart", "json"])
async def test_create_then_select_answers_the_documents_sample(face: dict[str, Any], encoding: str) -> None:
    # The document's own example, with its stray spaces in names and values.
    assert await post(face, {"function ": "create", "phone": " 7325550184,6465557729 ", "phone_type": "H",
                             "first_name": " John ", "last_name": "Doe", "label": "2"}, encoding=encoding) == \
        (200, {"status": "success", "data": "Contact created", "errors": []})
    status, body = await select_(face, "6465557729")
    assert status == 200
    assert body["data"] == {"contact": EMPTY | {"first_name": "John", "last_name": "Doe"},
                            "phones": [{"phone": "7325550184", "type": "H"}, {"phone": "6465557729", "type": "H"}],
                            "labels": [2]}
    assert list(body["data"]["contact"]) == list(service.FIELDS)  # the sample's order


async def test_json_numbers_and_arrays_are_read_as_the_form_would_send_them(face: dict[str, Any]) -> None:
    assert (await post(face, {"function": "create", "phone": [7325550184, "6465557729"], "label": [2, 3]},
                       encoding="json"))[0] == 200
    assert (await select_(face, "+17325550184"))[1]["data"]["labels"] == [2, 3]
    status, body = await post(face, {"function": "update", "phone": "7325550184", "first_name": ["a", "b"]},
                              encoding="json")
    assert status == 400 and body["errors"] == ["first_name must be given once"]


async def test_the_documents_sample_numbers_are_accepted(face: dict[str, Any]) -> None:
    # 8451234567 fails libphonenumber's full check (exchange 123); Voitex uses it as a sample.
    for phone in ("8451234567", "8459511000", "+1 (212) 555-0100", "18005550100", "+442071838750"):
        assert (await post(face, {"function": "create", "phone": phone}))[0] == 200, phone
    assert (await select_(face, "+18451234567"))[1]["data"]["phones"] == [{"phone": "8451234567", "type": "H"}]
    assert (await select_(face, "+442071838750"))[1]["data"]["phones"] == [{"phone": "+442071838750", "type": "H"}]


@pytest.mark.parametrize("phone", ["", "   ", "5551234567", "123", "abc", "+1555", "7325550184x", "٧٣٢٥٥٥٠١٨٤",
                                   "7" * 5000])
async def test_a_phone_that_does_not_parse_gets_the_documents_message(face: dict[str, Any], phone: str) -> None:
    for function in ("select", "update", "delete"):
        assert await post(face, {"function": function, "phone": phone}) == \
            (400, {"status": "error", "data": None, "errors": ["No valid phone number provided"]})
    status, body = await post(face, {"function": "create", "phone": phone})
    assert status == 400 and body["errors"][0].startswith("No valid phone number provided")
    assert await counts(face["db"]) == (0, 0, 0, 8)


async def test_create_fails_whole_when_any_phone_already_exists(face: dict[str, Any]) -> None:
    assert (await post(face, {"function": "create", "phone": "7325550184"}))[0] == 200
    before = await counts(face["db"])
    assert await post(face, {"function": "create", "phone": "6465557729,+17325550184"}) == \
        (409, {"status": "error", "data": None, "errors": ["contact already exists with phone(s): 7325550184"]})
    assert await counts(face["db"]) == before
    assert (await select_(face, "6465557729"))[0] == 404


async def test_create_with_an_unknown_label_or_bad_field_changes_nothing(face: dict[str, Any]) -> None:
    for fields, error in [
        ({"label": "9"}, "label: no such label: 9"),
        ({"label": "2,x"}, "label: label numbers are whole numbers from 1, comma-separated; not 'x'"),
        ({"email": "nope"}, "email must look like name@example.com, not 'nope'"),
        ({"exp": "2026-02-30"}, "exp must be a date as YYYY-MM-DD, not '2026-02-30'"),
        ({"first_name": "a\x1b[2Jb"}, "first_name must not contain control or formatting characters (U+001B)"),
        ({"city": "x" * 256}, "city must be at most 255 characters (this one has 256)"),
    ]:
        status, body = await post(face, {"function": "create", "phone": "7325550184", **fields})
        assert status == 400 and body["errors"][0].startswith(error), (fields, body)
    assert await counts(face["db"]) == (0, 0, 0, 8)


async def test_phone_types_default_to_home_and_invalid_ones_are_ignored(face: dict[str, Any]) -> None:
    await post(face, {"function": "create", "phone": "7325550184", "phone_type": "X"})
    await post(face, {"function": "create", "phone": "6465557729", "phone_type": "m"})
    assert (await select_(face, "7325550184"))[1]["data"]["phones"] == [{"phone": "7325550184", "type": "H"}]
    assert (await select_(face, "6465557729"))[1]["data"]["phones"] == [{"phone": "6465557729", "type": "M"}]
    # B: only the locator's type changes; an invalid one is ignored, not an error.
    await post(face, {"function": "update", "phone": "6465557729", "phone_type": "Q"})
    assert (await select_(face, "6465557729"))[1]["data"]["phones"][0]["type"] == "M"
    assert await post(face, {"function": "update", "phone": "6465557729", "phone_type": "H"}) == \
        (200, {"status": "success", "data": "Contact updated", "errors": []})
    assert (await select_(face, "6465557729"))[1]["data"]["phones"][0]["type"] == "H"


async def test_update_fields_and_an_empty_value_clears(face: dict[str, Any]) -> None:
    await post(face, {"function": "create", "phone": "7325550184", "first_name": "John", "last_name": "Doe"})
    # The document's example 1, then a clear of last_name; fields not sent stay.
    assert (await post(face, {"function": "update", "phone": "7325550184", "first_name": "Jon",
                              "email": "john.doe@example.com", "field_a": "1234", "exp": "2026-02-01",
                              "notes": "line one\nline two", "address": "1 Main St", "city": "Newark",
                              "state": "NJ", "zip": "07102", "field_j": "j"}))[0] == 200
    await post(face, {"function": "update", "phone": "7325550184", "last_name": ""})
    contact = (await select_(face, "7325550184"))[1]["data"]["contact"]
    assert contact == EMPTY | {"first_name": "Jon", "email": "john.doe@example.com", "field_a": "1234",
                               "exp": "2026-02-01", "notes": "line one\nline two", "address": "1 Main St",
                               "city": "Newark", "state": "NJ", "zip": "07102", "field_j": "j"}
    await post(face, {"function": "update", "phone": "7325550184", "exp": ""})
    assert (await select_(face, "7325550184"))[1]["data"]["contact"]["exp"] is None


async def test_add_phone_rules(face: dict[str, Any]) -> None:
    await post(face, {"function": "create", "phone": "7325550184"})
    await post(face, {"function": "create", "phone": "2125550100"})
    # C: the type defaults to H when missing or invalid.
    await post(face, {"function": "update", "phone": "7325550184", "add_phone": "6465557729", "add_phone_type": "Z"})
    # Already on this contact: not duplicated, its type updated.
    await post(face, {"function": "update", "phone": "7325550184", "add_phone": "6465557729", "add_phone_type": "M"})
    assert (await select_(face, "7325550184"))[1]["data"]["phones"] == [
        {"phone": "7325550184", "type": "H"}, {"phone": "6465557729", "type": "M"}]
    before = await counts(face["db"])
    # On another contact: the whole request fails, its other parts too.
    assert await post(face, {"function": "update", "phone": "7325550184", "add_phone": "2125550100",
                             "first_name": "Changed", "add_label": "2"}) == \
        (409, {"status": "error", "data": None, "errors": ["add_phone 2125550100 belongs to another contact"]})
    assert await counts(face["db"]) == before
    assert (await select_(face, "7325550184"))[1]["data"]["contact"]["first_name"] == ""
    status, body = await post(face, {"function": "update", "phone": "7325550184", "add_phone": "5551234567"})
    assert status == 400 and body["errors"] == ["add_phone: '5551234567' is not a phone number (unallocated_nanp)"]


async def test_remove_phone_never_the_last(face: dict[str, Any]) -> None:
    await post(face, {"function": "create", "phone": "7325550184,6465557729"})
    assert (await post(face, {"function": "update", "phone": "7325550184", "remove_phone": "6465557729"}))[0] == 200
    assert await post(face, {"function": "update", "phone": "7325550184", "remove_phone": "7325550184"}) == \
        (400, {"status": "error", "data": None, "errors": [
            "remove_phone 7325550184 is the contact's last phone: it is kept (delete the contact to remove it)"]})
    assert (await select_(face, "7325550184"))[1]["data"]["phones"] == [{"phone": "7325550184", "type": "H"}]
    status, body = await post(face, {"function": "update", "phone": "7325550184", "remove_phone": "2125550100"})
    assert status == 400 and body["errors"] == ["remove_phone 2125550100 is not a phone of this contact"]
    # One add and one remove in a request, the locator itself removed once another is there.
    assert (await post(face, {"function": "update", "phone": "7325550184", "add_phone": "2125550100",
                              "remove_phone": "7325550184"}))[0] == 200
    assert (await select_(face, "2125550100"))[1]["data"]["phones"] == [{"phone": "2125550100", "type": "H"}]
    assert (await select_(face, "7325550184"))[0] == 404


async def test_labels_are_added_and_removed_as_lists_and_unknown_ones_fail_the_request(
        face: dict[str, Any]) -> None:
    await post(face, {"function": "create", "phone": "7325550184", "label": "5"})
    # The document's example 6.
    assert (await post(face, {"function": "update", "phone": "7325550184", "add_label": "2,3,7",
                              "remove_label": "5"}))[0] == 200
    assert (await select_(face, "7325550184"))[1]["data"]["labels"] == [2, 3, 7]
    await post(face, {"function": "update", "phone": "7325550184", "add_label": "3, 2"})  # no duplicates
    assert (await select_(face, "7325550184"))[1]["data"]["labels"] == [2, 3, 7]
    before = await counts(face["db"])
    status, body = await post(face, {"function": "update", "phone": "7325550184", "add_label": "2,9,11",
                                     "first_name": "X"})
    assert status == 400 and body["errors"][0].startswith("add_label: no such label: 9, 11")
    status, body = await post(face, {"function": "update", "phone": "7325550184", "remove_label": "8"})
    assert status == 400 and body["errors"][0].startswith("remove_label: no such label: 8")
    assert await counts(face["db"]) == before
    assert (await select_(face, "7325550184"))[1]["data"]["contact"]["first_name"] == ""


async def test_delete_removes_phones_and_memberships_but_not_labels(face: dict[str, Any]) -> None:
    await post(face, {"function": "create", "phone": "7325550184,6465557729", "label": "2"})
    assert await post(face, {"function": "delete", "phone": "6465557729"}) == \
        (200, {"status": "success", "data": "Contact deleted successfully", "errors": []})
    assert await counts(face["db"]) == (0, 0, 0, 8)
    assert await post(face, {"function": "delete", "phone": "7325550184"}) == \
        (404, {"status": "error", "data": None, "errors": ["No contact found for phone: 7325550184"]})
    # The phones are free again.
    assert (await post(face, {"function": "create", "phone": "7325550184"}))[0] == 200


async def test_not_found_names_the_phone_as_the_document_writes_it(face: dict[str, Any]) -> None:
    for function in ("select", "update", "delete"):
        assert await post(face, {"function": function, "phone": "+1 732 555 0184"}) == \
            (404, {"status": "error", "data": None, "errors": ["No contact found for phone: 7325550184"]})


async def test_function_is_required_and_checked(face: dict[str, Any]) -> None:
    assert (await post(face, {"phone": "7325550184"}))[1]["errors"] == ["function: Field required"]
    assert (await post(face, {"function": "upsert", "phone": "7325550184"}))[1]["errors"] == \
        ["function must be create, update, delete or select"]
    assert (await post(face, {"function": " SELECT ", "phone": "7325550184"}))[0] == 404


async def test_another_tenants_contact_is_not_found_and_its_phones_are_free(face: dict[str, Any]) -> None:
    await post(face, {"function": "create", "phone": "7325550184", "first_name": "Acme's"}, tenant="acme")
    for function in ("select", "update", "delete"):
        assert (await post(face, {"function": function, "phone": "7325550184"}, tenant="beta"))[0] == 404
    # A phone is unique per tenant: Beta may have its own contact with it.
    assert (await post(face, {"function": "create", "phone": "7325550184"}, tenant="beta"))[0] == 200
    assert (await select_(face, "7325550184", tenant="acme"))[1]["data"]["contact"]["first_name"] == "Acme's"
    assert (await select_(face, "7325550184", tenant="beta"))[1]["data"]["contact"]["first_name"] == ""


async def test_labels_endpoints(face: dict[str, Any]) -> None:
    client, key = face["client"], {"Auth-Key": face["acme"].auth_key}
    await post(face, {"function": "create", "phone": "7325550184", "label": "2,3"})
    status, body = await answer(await client.post("/contacts/labels", data={"label": "11", "name": " VIP "},
                                                  headers=key))
    assert (status, body["data"]) == (200, {"label": 11, "name": "VIP", "contacts": 0})
    assert (await answer(await client.post("/contacts/labels", json={"label": 11}, headers=key)))[:2] == \
        (409, {"status": "error", "data": None, "errors": ["label 11 already exists"]})
    status, body = await answer(await client.post("/contacts/labels", data={"label": "0"}, headers=key))
    assert status == 400 and body["errors"] == ["label must be a whole number from 1 to 2147483647"]
    status, body = await answer(await client.get("/contacts/labels", headers=key))
    assert body["data"] == [{"label": 2, "name": "label 2", "contacts": 1}, {"label": 3, "name": "label 3",
                            "contacts": 1}, {"label": 5, "name": "label 5", "contacts": 0},
                            {"label": 7, "name": "label 7", "contacts": 0}, {"label": 11, "name": "VIP",
                                                                               "contacts": 0}]
    # Beta sees its own labels only, and its label 11 is free.
    status, body = await answer(await client.get("/contacts/labels", headers={"Auth-Key": face["beta"].auth_key}))
    assert [label["label"] for label in body["data"]] == [2, 3, 5, 7]
    assert all(label["contacts"] == 0 for label in body["data"])


async def test_two_creates_of_one_phone_at_once_leave_one_contact(face: dict[str, Any]) -> None:
    results = await asyncio.gather(*(post(face, {"function": "create", "phone": "7325550184",
                                                 "first_name": str(n)}) for n in range(6)))
    assert sorted(status for status, _ in results) == [200] + [409] * 5
    assert (await counts(face["db"]))[:2] == (1, 1)


async def test_the_openapi_document_describes_the_contacts_endpoints(face: dict[str, Any]) -> None:
    document = await (await face["client"].get("/openapi.json")).json()
    body = document["paths"]["/contacts/"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["function"]
    assert {"phone", "add_phone", "remove_label", *service.FIELDS} <= set(body["properties"])
    assert set(document["paths"]["/contacts/labels"]) == {"get", "post"}
    json.dumps(document)


async def test_two_updates_removing_each_of_two_phones_at_once_keep_one(face: dict[str, Any]) -> None:
    for _ in range(3):
        await post(face, {"function": "create", "phone": "7325550184,6465557729"})
        results = await asyncio.gather(
            post(face, {"function": "update", "phone": "7325550184", "remove_phone": "6465557729"}),
            post(face, {"function": "update", "phone": "6465557729", "remove_phone": "7325550184"}))
        statuses = sorted(status for status, _ in results)
        # The second sees the first's outcome: its locator gone (404), or its phone the last (400).
        assert statuses[0] == 200 and statuses[1] in (400, 404), results
        assert (await counts(face["db"]))[:2] == (1, 1)
        await post(face, {"function": "delete", "phone": "7325550184"})
        await post(face, {"function": "delete", "phone": "6465557729"})


async def test_a_delete_racing_an_update_is_never_a_5xx(face: dict[str, Any]) -> None:
    for _ in range(5):
        await post(face, {"function": "create", "phone": "7325550184"})
        results = await asyncio.gather(post(face, {"function": "delete", "phone": "7325550184"}),
                                       post(face, {"function": "update", "phone": "7325550184", "first_name": "x"}))
        assert all(status in (200, 404) for status, _ in results), results
        assert results[0][0] == 200 and await counts(face["db"]) == (0, 0, 0, 8)


async def test_a_contact_has_at_most_50_phones_and_label_lists_are_bounded_first(face: dict[str, Any]) -> None:
    phones = [f"212555{n:04d}" for n in range(50)]
    assert (await post(face, {"function": "create", "phone": ",".join(phones)}))[0] == 200
    assert await post(face, {"function": "update", "phone": phones[0], "add_phone": "6465557729"}) == \
        (400, {"status": "error", "data": None, "errors": ["add_phone: a contact has at most 50 phones"]})
    status, body = await post(face, {"function": "update", "phone": phones[0],
                                     "add_label": ",".join(str(n) for n in range(1, 100_000))})
    assert status == 400 and body["errors"] == ["add_label: at most 50 labels per request"]
