"""Voitex's Contacts API: `POST /contacts/` with `function` create, update, delete or select,
and the tenant's labels (`GET` and `POST /contacts/labels`), which the document leaves to its
portal."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import BaseModel, BeforeValidator, ConfigDict, create_model

from control.api.voitex.answer import ok
from control.api.voitex.context import FaceConfig, tenant_of
from control.api.voitex.types import Text, TextList, WholeNumber
from control.api.voitex.spec import Endpoint
from control.contacts import service
from control.contacts.service import FIELDS, ContactChanges, LabelInfo

FUNCTIONS = ("create", "update", "delete", "select")


def _function(value: object) -> str:
    function = value.strip().lower() if isinstance(value, str) else None
    if function not in FUNCTIONS:
        raise ValueError(f"must be {', '.join(FUNCTIONS[:-1])} or {FUNCTIONS[-1]}")
    return function


# The Literal puts the four words in /openapi.json; the validator reads " Select " as select.
Function = Annotated[Literal["create", "update", "delete", "select"], BeforeValidator(_function)]


# Every field of every function in one model, as the document has one endpoint: which ones a
# function reads is its own business; the others are ignored, as unknown fields are.
ContactFields: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "ContactFields",
    __config__=ConfigDict(extra="ignore"),
    function=(Function, ...),
    phone=(TextList, None),  # create: one phone or several, comma-separated; else the locator
    phone_type=(Text, None),
    label=(TextList, None),  # create: label numbers
    add_phone=(Text, None), add_phone_type=(Text, None), remove_phone=(Text, None),
    add_label=(TextList, None), remove_label=(TextList, None),
    **{name: (Text, None) for name in FIELDS},
)


class NoFields(BaseModel):
    model_config = ConfigDict(extra="ignore")


class LabelFields(BaseModel):
    model_config = ConfigDict(extra="ignore")
    label: WholeNumber
    name: Text = None


class LabelShown(BaseModel):
    label: int
    name: str
    contacts: int  # how many of the tenant's contacts carry it


def endpoints(config: FaceConfig) -> list[Endpoint[Any]]:
    async def contacts(request: web.Request, fields: Any) -> web.Response:
        tenant = tenant_of(request)
        sent = {name: getattr(fields, name) for name in FIELDS if name in fields.model_fields_set}
        if fields.function == "create":
            await service.create_contact(config.db, tenant, fields.phone, type_=fields.phone_type, fields=sent,
                                         label=fields.label)
            return ok("Contact created")
        if fields.function == "update":
            await service.update_contact(config.db, tenant, fields.phone, ContactChanges(
                sent, fields.phone_type, fields.add_phone, fields.add_phone_type, fields.remove_phone,
                fields.add_label, fields.remove_label))
            return ok("Contact updated")
        if fields.function == "delete":
            await service.delete_contact(config.db, tenant, fields.phone)
            return ok("Contact deleted successfully")
        return ok((await service.select_contact(config.db, tenant, fields.phone)).as_voitex())

    async def labels(request: web.Request, _fields: NoFields) -> web.Response:
        return ok([_shown(label) for label in await service.list_labels(config.db, tenant_of(request))])

    async def create_label(request: web.Request, fields: LabelFields) -> web.Response:
        return ok(_shown(await service.create_label(config.db, tenant_of(request), fields.label, fields.name or "")))

    return [
        Endpoint("POST", "/contacts/", "Create, update, delete or select a contact (by `function`); select's "
                 "data: {contact, phones, labels}, the others' a sentence", ContactFields, contacts,
                 {"oneOf": [{"type": "string"}, _SELECTED]}, body=True),
        Endpoint("GET", "/contacts/labels", "The tenant's labels, by number", NoFields, labels,
                 {"type": "array", "items": LabelShown.model_json_schema()}),
        Endpoint("POST", "/contacts/labels", "Create a label (a number, and a name if you like)", LabelFields,
                 create_label, LabelShown.model_json_schema(), body=True),
    ]


def _shown(label: LabelInfo) -> dict[str, Any]:
    return LabelShown(label=label.number, name=label.name, contacts=label.contacts).model_dump()


_SELECTED = {"type": "object", "required": ["contact", "phones", "labels"], "properties": {
    "contact": {"type": "object", "properties": {
        name: {"type": ["string", "null"]} if name == "exp" else {"type": "string"} for name in FIELDS}},
    "phones": {"type": "array", "items": {"type": "object", "properties": {
        "phone": {"type": "string"}, "type": {"enum": ["H", "M"]}}}},
    "labels": {"type": "array", "items": {"type": "integer"}}}}
