"""What each recipient gets, checked before anything is written: an SMS body, or a call that
plays a library recording (`stream`) or enters one of the tenant's IVRs at a branch (`goto`,
with an optional greeting and variables). Problems are collected, each naming its field."""
from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from control.flow.branches.base import to_branch_id
from control.flow.play import dump_play, parse_play
from control.flow.trigger_answer import read_variables
from control.ivrs.service import route_for
from control.numbers.phone import to_e164
from control.store.models import Number, Recording

MAX_NOTIFY_BODY = 1000  # the Notify document's limit
MAX_SMS_BODY = 1600  # Send SMS states none: the common carrier limit (10 concatenated parts)
CALL_TYPES = ("stream", "goto")
MAX_JSON = 64 * 1024  # a greeting or variables document


def sms_body(text: str | None, limit: int, errors: list[str], where: str = "body") -> str:
    body = (text or "").strip()
    if not body:
        errors.append(f"{where} is required for SMS (the message text)")
    elif len(body) > limit:
        errors.append(f"{where} is {len(body)} characters; at most {limit}")
    elif (bad := next((c for c in body if _unsendable(c)), None)) is not None:
        errors.append(f"{where}: must not contain control characters (U+{ord(bad):04X}); new lines and tabs are fine")
    return body


def _unsendable(char: str) -> bool:
    # Emoji sequences need format characters (ZWJ), and messages have lines: only C0/C1
    # controls other than tab and new lines, and lone surrogates, cannot be sent.
    return (ord(char) < 32 and char not in "\t\n\r") or 0x7F <= ord(char) < 0xA0 or 0xD800 <= ord(char) < 0xE000


async def own_number(session: AsyncSession, tenant_id: str, text: str | None, where: str,
                     errors: list[str]) -> str:
    """A number of the tenant's (E.164), as `cid`/`from`/`route_number` must be."""
    if not (text or "").strip():
        errors.append(f"{where} is required (one of your numbers)")
        return ""
    try:
        number = to_e164(text.strip(), strict=False)  # type: ignore[union-attr]
    except ValueError:
        errors.append(f"{where}: {text.strip()[:40]!r} is not a phone number")  # type: ignore[union-attr]
        return ""
    owner = await session.scalar(select(Number.tenant_id).where(Number.e164 == number))
    if owner != tenant_id:
        errors.append(f"{where}: {text.strip()[:40]} is not one of your numbers")  # type: ignore[union-attr]
        return ""
    return number


async def call_content(session: AsyncSession, tenant_id: str, call_type: str | None, *, recording: str | None,
                       sfile_id: str | None, route_number: str | None, branch_number: str | None,
                       greeting: str | None, variables: str | None, errors: list[str]) -> dict[str, Any]:
    kind = (call_type or "").strip().lower()
    if kind not in CALL_TYPES:
        errors.append("call_type must be stream or goto" if kind or call_type is not None else
                      "call_type is required: stream or goto")
        return {}
    if kind == "stream":
        return await _stream(session, tenant_id, recording, sfile_id, errors)
    return await _goto(session, tenant_id, route_number, branch_number, greeting, variables, errors)


async def _stream(session: AsyncSession, tenant_id: str, name: str | None, sfile_id: str | None,
                  errors: list[str]) -> dict[str, Any]:
    name, file_id = (name or "").strip(), (sfile_id or "").strip()
    if not name and not file_id:
        errors.append("a stream call needs recording (its name in your library) or sfile_id (its id)")
        return {}
    query = select(Recording).where(Recording.tenant_id == tenant_id)
    if file_id:
        if not file_id.isdigit() or len(file_id) > 18:
            errors.append(f"sfile_id: {file_id[:40]!r} is not a recording id")
            return {}
        found = list(await session.scalars(query.where(Recording.id == int(file_id))))
        what = f"sfile_id: no recording {file_id} in your library"
    else:
        found = list(await session.scalars(query.where(Recording.name == name).limit(2)))
        what = f"recording: no recording named {name[:80]!r} in your library"
    if not found:
        errors.append(what)
        return {}
    if len(found) > 1:
        errors.append(f"recording: several recordings are named {name[:80]!r}; name one by sfile_id")
        return {}
    row = found[0]
    return {"call_type": "stream", "recording_id": row.id, "album": row.album, "sort": row.sort}


async def _goto(session: AsyncSession, tenant_id: str, route_number: str | None, branch_number: str | None,
                greeting: str | None, variables: str | None, errors: list[str]) -> dict[str, Any]:
    number = await own_number(session, tenant_id, route_number, "route_number", errors)
    branch = to_branch_id((branch_number or "").strip())
    if branch is None:
        errors.append("branch_number is required for a goto call (a branch of route_number's IVR)")
    elif number:
        # route_for opens its own session: the IVR is read as calls read it.
        route = await route_for(_Bound(session), number)
        if route is None or route.ivr is None:
            errors.append(f"route_number: {route_number.strip()} has no IVR")  # type: ignore[union-attr]
        elif branch not in route.ivr.branches:
            errors.append(f"branch_number: no branch {branch!r} in the IVR of {route_number.strip()}")  # type: ignore[union-attr]
    items = _json(greeting, "greeting", errors)
    play = dump_play(parse_play(items, "greeting", errors)) if items is not None else []
    values = read_variables(_json(variables, "variables", errors), errors)
    return {"call_type": "goto", "route_number": number, "branch_number": branch or "", "greeting": play,
            "variables": values}


def _json(text: str | None, where: str, errors: list[str]) -> Any:
    if text is None or not text.strip():
        return None
    if len(text) > MAX_JSON:
        errors.append(f"{where}: {len(text)} characters of JSON; at most {MAX_JSON}")
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:
        errors.append(f"{where}: not JSON ({exc.msg} at character {exc.pos})")
        return None
    if where == "greeting" and isinstance(value, dict):
        value = value.get("play", [value])  # a trigger answer's {"play": [...]}, or one item
    return value


class _Bound:
    """A session factory that hands out the session already open (route_for opens its own)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def __call__(self) -> "_Bound":
        return self

    async def __aenter__(self) -> AsyncSession:
        return self._session

    async def __aexit__(self, *exc: object) -> None:
        return None
