"""The flows the bench offers calls to, each on the platform and as native dialplan.

- `menu`: the demo IVR (`voicectl demo`): listen, key 1 (barge-in: the menu again), key 2, the
  goodbye prompt, the platform hangs up.
- `trigger`: Voitex's API Branch on a live call: a menu (key 1) leads to a trigger whose
  webhook (bench/webhook.py, a process of its own) answers at once with play + inputs; the
  caller presses 2 while it plays, which goes to a content branch, then hang-up.

The platform's path is checked in its call records' branch_data; native dialplan writes the
same `branch:key` steps from each call's hangup handler (bench/native.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from control.cli import DEMO_NUMBER

# The trigger flow's prompts: the platform renders them (TTS, cached after the warm-up call),
# native dialplan plays copies of the very same files.
TRIGGER_MENU = "Welcome to voicectl. Press 1 to hear about your order."
TRIGGER_OFFER = "Your order is on the way. Press 2 to hear when it arrives."
TRIGGER_CONTENT = "It arrives tomorrow morning. Goodbye."
TRIGGER_NUMBER = "+18005550110"  # the platform's: a number of the demo tenant
NATIVE_MENU_NUMBER = "8005550199"
NATIVE_TRIGGER_NUMBER = "8005550198"
# Where the webhook's answer sends a key: both sides route "2" to the content branch.
CONTENT_BRANCH = "20"
# The trigger flow's waits, the same on both sides: the menu's for a key (and its retries, as the
# demo menu's), the webhook's answer, a key during the answer's prompt.
TRIGGER_MENU_TIMEOUT_S = 5
TRIGGER_MENU_RETRIES = 2
TRIGGER_HOOK_TIMEOUT_S = 5
TRIGGER_KEY_TIMEOUT_S = 5
# The caller, in both flows: listen, key 1, listen, key 2, then wait for the far end's BYE.
CALLER_STEPS = [("pause", 1500), ("dtmf", "1"), ("pause", 1500), ("dtmf", "2"), ("expect_bye",)]


def branch_data(path: str) -> list[dict[str, str]]:
    """A path as native dialplan writes it, `branch:key` steps each ended by "/" ("0:1/0:2/900:"),
    as the platform's call records' branch_data."""
    return [{"branch": branch, "input": key} for branch, _, key in (s.partition(":") for s in path.split("/") if s)]


@dataclass(frozen=True)
class Flow:
    name: str
    steps: list[tuple]  # the SIPp caller (tests/support/sipp.py steps)
    expected: list[dict[str, str]]  # branch_data of a call that took the intended path
    platform_number: str  # 10-digit, as SIPp dials it
    native_number: str
    webhook: bool  # the flow needs bench/webhook.py running


MENU = Flow(
    "menu",
    # Listen to the menu, press 1 (barge-in: the menu starts again), listen, press 2, and wait
    # for the goodbye and the far end's BYE.
    CALLER_STEPS, branch_data("0:1/0:2/900:"),
    DEMO_NUMBER.removeprefix("+1"), NATIVE_MENU_NUMBER, webhook=False)

TRIGGER = Flow(
    "trigger",
    # Press 1 into the menu; the webhook's answer starts playing at once (inputs active while
    # it plays); press 2 during it; hear the content; the far end hangs up.
    CALLER_STEPS, branch_data(f"0:1/10:2/{CONTENT_BRANCH}:/900:"),
    TRIGGER_NUMBER.removeprefix("+1"), NATIVE_TRIGGER_NUMBER, webhook=True)

FLOWS = {f.name: f for f in (MENU, TRIGGER)}


def trigger_ivr(url: str) -> dict[str, Any]:
    """The platform's trigger flow: the same timeouts as the native dialplan's."""
    return {"branches": {
        "0": {"type": "menu", "play": [{"type": "tts", "text": TRIGGER_MENU}], "inputs": {"1": "10"},
              "timeout": TRIGGER_MENU_TIMEOUT_S, "retries": TRIGGER_MENU_RETRIES, "on_timeout": "900"},
        "10": {"type": "trigger", "url": url, "timeout": TRIGGER_HOOK_TIMEOUT_S, "input_timeout": TRIGGER_KEY_TIMEOUT_S,
               "no_route": "900"},
        CONTENT_BRANCH: {"type": "content", "play": [{"type": "tts", "text": TRIGGER_CONTENT}], "next": "900"},
        "900": {"type": "hangup"},
    }}
