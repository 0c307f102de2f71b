"""What a tenant's server answered a trigger, checked whole before anything plays.

Voitex's response: `goto` (a branch), `play` (file and tts items), `inputs` (key or entry ->
branch, `%` any), `variables` (merged into the call's). A server being ported to us may send
fields of its own beside these: they are ignored, and named in the call's exchange so an
integrator sees they did nothing. Anything wrong in the four fields makes the whole answer
unusable (the call goes to the trigger's `no_route`), with every problem named.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from control.flow.branches.base import to_branch_id
from control.flow.context import as_text
from control.flow.entry import ANY, ENTRY, MAX_DIGITS
from control.flow.loader import shown
from control.flow.play import PlayItem, parse_play

FIELDS = ("goto", "play", "inputs", "variables")
MAX_INPUTS = 100
MAX_VARIABLES = 100
MAX_VARIABLE_NAME = 64
MAX_VARIABLE_VALUE = 1000


@dataclass(frozen=True)
class TriggerAnswer:
    goto: str | None = None
    play: list[PlayItem] = field(default_factory=list)
    inputs: dict[str, str] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)  # fields of the server's own


def read_answer(body: Any, branches: Mapping[str, Any]) -> tuple[TriggerAnswer | None, list[str]]:
    """The answer, or None and every problem with it. `branches`: the running IVR's, which
    `goto` and `inputs` must name."""
    if not isinstance(body, dict):
        return None, [f"the answer is {_kind(body)}, not a JSON object"]
    errors: list[str] = []
    goto = _branch(body.get("goto"), "goto", branches, errors)
    play = _play(body.get("play"), errors)
    inputs = _inputs(body.get("inputs"), branches, errors)
    variables = read_variables(body.get("variables"), errors)
    if errors:
        return None, errors
    ignored = sorted(str(k) for k in body if str(k).strip() not in FIELDS)
    return TriggerAnswer(goto, play, inputs, variables, ignored), []


def _branch(value: Any, where: str, branches: Mapping[str, Any], errors: list[str]) -> str | None:
    if value is None or value == "":  # servers send "goto": "" for "no goto"
        return None
    ref = to_branch_id(value.strip() if isinstance(value, str) else value)
    if ref is None:
        errors.append(f"{where}: {shown(value)} is not a branch number")
        return None
    if ref not in branches:
        errors.append(f'{where}: no branch "{ref}" in this IVR')
        return None
    return ref


def _play(value: Any, errors: list[str]) -> list[PlayItem]:
    if value is None or value == []:
        return []
    return parse_play(value, "play", errors)


def _inputs(value: Any, branches: Mapping[str, Any], errors: list[str]) -> dict[str, str]:
    if value is None or value == {} or value == []:  # PHP's json_encode writes an empty map as []
        return {}
    if not isinstance(value, dict):
        errors.append(f"inputs: must be an object mapping keys to branches, not {_kind(value)}")
        return {}
    if len(value) > MAX_INPUTS:
        errors.append(f"inputs: {len(value)} entries, more than {MAX_INPUTS}")
        return {}
    inputs: dict[str, str] = {}
    for raw_key, target in value.items():
        key = str(raw_key).strip()
        if key != ANY and not ENTRY.fullmatch(key):
            errors.append(f"inputs.{shown(raw_key)}: a key is 1-{MAX_DIGITS} of 0-9, * and #, or {ANY} (any key)")
            continue
        ref = _branch(target, f"inputs.{key}", branches, errors)
        if ref is not None:
            inputs[key] = ref
        elif target is None or target == "":
            errors.append(f"inputs.{key}: names no branch")
    return inputs


def read_variables(value: Any, errors: list[str]) -> dict[str, str]:
    if value is None or value == {} or value == []:
        return {}
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
        value = value[0]  # the request's own shape ([{...}]) sent back
    if not isinstance(value, dict):
        errors.append(f"variables: must be an object of names to values, not {_kind(value)}")
        return {}
    if len(value) > MAX_VARIABLES:
        errors.append(f"variables: {len(value)} entries, more than {MAX_VARIABLES}")
        return {}
    found: dict[str, str] = {}
    for raw_name, raw in value.items():
        name = str(raw_name).strip()  # Voitex's own sample sends "caller_pin "
        where = f"variables.{shown(raw_name)}"
        if not name or len(name) > MAX_VARIABLE_NAME or not name.isprintable():
            errors.append(f"{where}: a name is 1-{MAX_VARIABLE_NAME} printable characters")
        elif isinstance(raw, (dict, list)):
            errors.append(f"{where}: a value is text or a number, not {_kind(raw)}")
        else:
            text = as_text(raw)
            if len(text) > MAX_VARIABLE_VALUE:
                errors.append(f"{where}: {len(text)} characters, more than {MAX_VARIABLE_VALUE}")
            else:
                found[name] = text
    return found


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "text", bool: "true/false", type(None): "null"}.get(
        type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__)
