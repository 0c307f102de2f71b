"""trigger: Voitex's API Branch. POST the call's state to the tenant's server; do what it says.

The request is Voitex's, field for field (`request_body`), signed with the tenant's secret by
the Webhooks port. The answer (`trigger_answer.py`) is checked whole before anything plays;
what the document leaves open is decided here and in docs/ivr.md:

- `goto` alone routes at once. Neither `goto` nor play/inputs: `no_route`.
- `play` starts at once, with `inputs` active while it plays (the first key stops it).
- play/inputs and no key: once play ends the caller has `input_timeout` seconds for a key,
  then goes to `goto`, or with no `goto` to `no_route`. Play with neither `goto` nor
  `inputs` goes to `no_route` when it ends.
- Entries longer than one key are collected up to the longest key in `inputs`, ending early
  once the entry is a key no longer key extends, at `#` (when no key uses it), or when
  `inter_digit_timeout` passes. An entry matching no key (and no `%`) is ignored and the wait
  goes on.
- A server slower than `timeout`, a non-2xx status, a body that is not a JSON object, or an
  answer naming a missing branch or recording goes to `no_route`, the reason kept. With no
  `no_route` the caller hears a short apology and the platform hangs up.

Every exchange (url, status, ms, reason, answer) is kept on the call for `voicectl calls show`.
"""
from __future__ import annotations

import asyncio
import logging
from collections import ChainMap
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable
from zoneinfo import ZoneInfo

from control.clock import now
from control.fit import fit_json
from control.flow.branches.base import Branch, CallContext, number, optional_branch_ref, refs
from control.flow.channel import CallerHungUp
from control.flow.entry import ANY, collect, ends_on_match, terminator_for
from control.flow.play import PlayItem, dump_play, parse_play
from control.flow.ports import HookAnswer
from control.flow.trigger_answer import TriggerAnswer, read_answer
from control.numbers.phone import voitex_style
from control.webhooks.policy import url_syntax_problem

log = logging.getLogger(__name__)

# Hold items start once the server has been silent this long: a reply within it is heard as
# no pause at all, a slower one never as dead air.
HOLD_AFTER_S = 1.0
APOLOGY = PlayItem("tts", "We are sorry, we cannot take your call right now. Goodbye.")
# The answer kept on the call record is cut here (as JSON text): a record is not a log of megabytes.
KEPT_ANSWER_CHARS = 4096


@dataclass
class TriggerBranch(Branch):
    type = "trigger"
    fields = MappingProxyType({"type": "trigger", "url": None, "timeout": 5, "input_timeout": 5,
                               "inter_digit_timeout": 3, "no_route": None, "hold": None})
    id: str
    url: str
    timeout: float
    input_timeout: float
    inter_digit_timeout: float
    no_route: str | None
    hold: list[PlayItem]

    @classmethod
    def parse(cls, branch_id: str, raw: dict[str, Any], errors: list[str]) -> "TriggerBranch":
        where = f"branches.{branch_id}"
        return cls(
            branch_id,
            _parse_url(raw.get("url"), f"{where}.url", errors),
            number(raw, "timeout", cls.fields["timeout"], where, errors, low=0.5, high=30),
            number(raw, "input_timeout", cls.fields["input_timeout"], where, errors, low=0.5, high=120),
            number(raw, "inter_digit_timeout", cls.fields["inter_digit_timeout"], where, errors, low=0.5, high=30),
            optional_branch_ref(raw, "no_route", where, errors),
            parse_play(raw.get("hold"), f"{where}.hold", errors),
        )

    def targets(self) -> dict[str, str]:
        return refs(no_route=self.no_route)

    def dump(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "url": self.url, "timeout": self.timeout,
                               "input_timeout": self.input_timeout, "inter_digit_timeout": self.inter_digit_timeout,
                               **refs(no_route=self.no_route)}
        if self.hold:
            out["hold"] = dump_play(self.hold)
        return out

    async def run(self, call: CallContext) -> str | None:
        if call.hooks is None:
            raise RuntimeError("a trigger branch needs the webhooks port")
        # Built before this branch is recorded: branch_data holds the branches completed
        # before the trigger, not the trigger making the request.
        body = request_body(call, await call.contact())
        url = call.expand(self.url)  # where the request goes is checked by the client, on its address
        answer = await self._ask(call, url, body)
        exchange: dict[str, Any] = {"branch": self.id, "url": url, "at": now().isoformat(),
                                    "status": answer.status, "ms": round(answer.ms, 1),
                                    "answer": fit_json(answer.body, KEPT_ANSWER_CHARS)}
        call.exchanges.append(exchange)
        decided, why = self._decide(call, answer)
        if decided is None:
            return await self._no_route(call, exchange, why)
        if decided.ignored:
            exchange["ignored"] = decided.ignored
        # The answer's variables may name what it plays (`${album}`), but a wrong answer
        # changes nothing: they become the call's only once what it plays resolves.
        media, missing = (await call.resolve_strict(decided.play, ChainMap(decided.variables, call.variables))
                          if decided.play else ([], ""))
        if missing:
            return await self._no_route(call, exchange, missing)
        call.set_variables(decided.variables)
        entry, target = await self._follow(call, decided, media)
        call.record(self.id, entry)
        if target is None:
            why = "no key pressed and no goto" if decided.inputs else \
                "nothing to go to after play (no goto, no inputs)" if media else "the answer has no goto and nothing to play"
            return await self._no_route(call, exchange, why, recorded=True)
        return target

    async def _ask(self, call: CallContext, url: str, body: dict[str, Any]) -> HookAnswer:
        """The exchange, with the hold items playing over a server slower than HOLD_AFTER_S.
        The caller's events are followed all along (by the hold's playback, or by a watch), so
        a caller who hangs up ends the wait at once, not after the server's timeout."""
        assert call.hooks is not None
        post = asyncio.ensure_future(call.hooks.post(url, body, secret=call.tenant.signing_secret,
                                                     timeout=self.timeout))
        # Rendered while the server thinks: a first render must not add silence after HOLD_AFTER_S.
        ready = asyncio.ensure_future(call.resolve_items(self.hold)) if self.hold else None
        watch: asyncio.Future[None] = asyncio.ensure_future(call.channel.until_gone())
        holding: asyncio.Future[None] | None = None
        try:
            await asyncio.wait({post, watch}, timeout=HOLD_AFTER_S if ready is not None else None,
                               return_when=asyncio.FIRST_COMPLETED)
            if not post.done() and not watch.done() and ready is not None:
                media = await self._hold_media(call, ready)
                if media and not post.done() and not watch.done():
                    await _stopped(watch)  # the hold's playback follows the events from here
                    holding = asyncio.ensure_future(self._hold(call, media))
                    await asyncio.wait({post, holding}, return_when=asyncio.FIRST_COMPLETED)
                    if holding.done() and not post.done():
                        self._hold_ended(call, holding)  # raises CallerHungUp when the caller left
                        watch = asyncio.ensure_future(call.channel.until_gone())
            if not post.done():
                await asyncio.wait({post, watch}, return_when=asyncio.FIRST_COMPLETED)
            if watch.done() and not watch.cancelled() and not post.done():
                watch.result()  # the caller hung up: raises CallerHungUp
            return await post
        finally:
            for task in (watch, holding, ready):
                if task is not None:
                    await _stopped(task)  # a hold playing is stopped by its channel
            if not post.done():
                post.cancel()

    async def _hold_media(self, call: CallContext, ready: asyncio.Future[list[str]]) -> list[str]:
        try:
            return await ready
        except Exception as exc:  # no hold is no reason to fail the call: it waits in silence
            log.warning("call %s: trigger %s: hold items not ready (%s); waiting without them",
                        call.log_id, self.id, exc)
            return []

    async def _hold(self, call: CallContext, media: list[str]) -> None:
        while True:  # until the answer comes: it cancels this
            await call.play(media, barge_in=False)

    def _hold_ended(self, call: CallContext, holding: asyncio.Future[None]) -> None:
        error = holding.exception()
        if isinstance(error, CallerHungUp):
            raise error
        log.warning("call %s: trigger %s: hold failed (%s); waiting without it", call.log_id, self.id, error)

    def _decide(self, call: CallContext, answer: HookAnswer) -> tuple[TriggerAnswer | None, str]:
        if answer.status is not None and not 200 <= answer.status < 300:
            return None, f"the server answered HTTP {answer.status}"
        if answer.error is not None or answer.status is None:
            return None, answer.error or "no answer"
        branches = call.ivr.branches if call.ivr is not None else {}
        try:
            decided, problems = read_answer(answer.body, branches)
        except RecursionError:
            return None, "the answer is nested too deeply"
        if decided is None:
            return None, "; ".join(problems)
        return decided, ""

    async def _follow(self, call: CallContext, decided: TriggerAnswer, media: list[str]) -> tuple[str, str | None]:
        """Play and take keys; returns the entry pressed and where the call goes."""
        call.channel.flush_digits()
        if not decided.inputs:
            if media:
                await call.play(media, barge_in=False)
            return "", decided.goto
        # A key that can start no entry is ignored, and must not cut the answer's audio short.
        first = await call.play(media, barge_in=True, stops_on=_starts_entry(decided.inputs)) if media else None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.input_timeout
        longest = max(len(k) for k in decided.inputs)
        terminator = terminator_for(decided.inputs, "#", longest)
        while True:
            if first is None:
                first = await call.channel.wait_digit(max(deadline - loop.time(), 0))
                if first is None:
                    return "", decided.goto
            entry = await collect(call.channel, first, max_digits=longest, terminator=terminator,
                                  first_timeout=0, inter_digit_timeout=self.inter_digit_timeout,
                                  complete=ends_on_match(decided.inputs))
            first = None
            target = decided.inputs.get(entry) or decided.inputs.get(ANY)
            if target is not None:
                return entry, target
            log.info("call %s: trigger %s ignored entry %r (no input matches)", call.log_id, self.id, entry)
            if loop.time() >= deadline:
                return "", decided.goto

    async def _no_route(self, call: CallContext, exchange: dict[str, Any], why: str,
                        recorded: bool = False) -> str | None:
        exchange["reason"] = why
        log.warning("call %s: trigger %s -> no_route: %s", call.log_id, self.id, why)
        if not recorded:
            call.record(self.id, "")
        if self.no_route is not None:
            return self.no_route
        call.reason = f"trigger {self.id}: {why}"
        await call.play_items([APOLOGY], barge_in=False)
        return None


def _starts_entry(inputs: dict[str, str]) -> Callable[[str], bool] | None:
    """Which keys may stop the answer's audio: any, with `%`; else those some input starts with."""
    if ANY in inputs:
        return None
    return lambda key: any(entry.startswith(key) for entry in inputs)


async def _stopped(task: asyncio.Future[Any]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def request_body(call: CallContext, contact: dict[str, Any] | None) -> dict[str, Any]:
    """Voitex's trigger request, field for field; `contact_info` is the caller's contact as the
    Contacts API's select answers it, or null (the document's sample sends the string "null")."""
    return {
        "call_id": call.call_id,
        "cid": voitex_style(call.caller),
        "cnam": call.caller_name,
        "contact_info": contact,
        "date_time": now().astimezone(ZoneInfo(call.tenant.timezone)).strftime("%Y-%m-%d %H:%M:%S"),
        "did": voitex_style(call.did),
        "branch_data": call.webhook_branch_data(),
        "payment_info": [],
        "variables": [dict(call.variables)],
    }


def _parse_url(value: Any, where: str, errors: list[str]) -> str:
    """An http(s) URL with a host and no credentials in it (url_syntax_problem). Where it may
    lead (not the platform's own ports, not link-local) is the policy's to say: at import on
    the address, when it is called on every address its name resolves to."""
    if not isinstance(value, str) or not value.strip():
        errors.append(f"{where}: a trigger needs the url of the tenant's server")
        return ""
    url = value.strip()
    if problem := url_syntax_problem(url):
        errors.append(f"{where}: {problem}")
    return url
