"""The API Branch on live calls: a real Asterisk, Local-channel callers pressing real DTMF, and
a real web server in the test answering the trigger requests."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Iterator

import pytest

from control.flow.branches.trigger import APOLOGY
from control.webhooks.signing import verify
from tests.integration.conftest import wait_call
from tests.integration.test_hearing import HEARD, call_and_listen, played
from tests.integration.test_local_calls import call_local
from tests.support import audio
from tests.support.platform import Instance
from tests.support.webhook import Reply, WebhookServer

BEEP = [{"type": "sound", "name": "beep"}]


@pytest.fixture(scope="module")
def hooks() -> Iterator[WebhookServer]:
    server = WebhookServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def tenant(platform: Instance) -> dict[str, Any]:
    """A tenant of its own, so its signing secret is known (shown once, at creation)."""
    created = json.loads(platform.cli("tenant", "create", "trigger tests", "--timezone", "America/New_York",
                                      "--json").stdout)
    return created


class Numbers:
    next = 200

    @classmethod
    def ivr(cls, platform: Instance, tenant: dict[str, Any], branches: dict[str, Any]) -> str:
        """A new number of the tenant (E.164) running these branches."""
        cls.next += 1
        return platform.add_ivr(f"+1800555{cls.next:04d}", {"branches": branches}, tenant["id"])


def branches_of(call: Any) -> list[str]:
    return [f"{b['branch']}:{b['input']}" for b in call.branch_data]


def test_the_request_is_voitexs_and_signed_and_play_inputs_route_a_key(
        platform: Instance, hooks: WebhookServer, tenant: dict[str, Any]) -> None:
    url = hooks.script("/order", Reply({"play": [{"type": "tts", "text": "Your order is on the way. Press 2."}],
                                        "inputs": {"2": "10"}, "variables": {"order ": "1234"}}))
    number = Numbers.ivr(platform, tenant, {
        "0": {"type": "menu", "play": BEEP, "inputs": {"1": "5"}, "timeout": 5},
        "5": {"type": "trigger", "url": url, "no_route": "99"},
        "10": {"type": "content", "play": BEEP, "next": "900"},
        "99": {"type": "hangup"}, "900": {"type": "hangup"},
    })
    call_id = call_local(platform, number, "w1,d1,w2,d2,w20")
    call = wait_call(platform, lambda c: c.id == call_id)
    assert branches_of(call) == ["0:1", "5:2", "10:", "900:"]
    assert call.hangup_by == "platform" and call.variables == {"order": "1234"}

    request = hooks.requests("/order")[0]
    assert verify(tenant["signing_secret"], request.body, request.headers["X-Voicectl-Signature"])
    assert request.headers["Content-Type"].startswith("application/json")
    body = request.json
    assert list(body) == ["call_id", "cid", "cnam", "contact_info", "date_time", "did", "branch_data",
                          "payment_info", "variables"]
    assert body["call_id"] == call_id
    assert (body["cid"], body["cnam"]) == ("5550001111", "Local Tester")
    assert body["did"] == number[2:], "10-digit NANP, as the document's sample"
    assert body["contact_info"] is None and body["payment_info"] == [] and body["variables"] == [{}]
    assert body["branch_data"] == [{"branch": "0", "input": "1"}]
    sent = datetime.strptime(body["date_time"], "%Y-%m-%d %H:%M:%S")
    local_now = datetime.now(__import__("zoneinfo").ZoneInfo("America/New_York")).replace(tzinfo=None)
    assert abs((local_now - sent).total_seconds()) < 120, "the tenant's time zone"

    exchange = call.exchanges[0]
    assert exchange["url"] == url and exchange["status"] == 200 and "reason" not in exchange
    shown = platform.cli("calls", "show", call_id).stdout
    assert url in shown and "200" in shown


@pytest.mark.parametrize("reply, reason", [
    (Reply({"goto": "10"}, status=500), "HTTP 500"),
    (Reply(raw="<html>oops</html>"), "not JSON"),
    (Reply({"goto": "404"}), 'no branch "404"'),
    (Reply({"goto": "10"}, delay=3), "timeout"),
    (Reply(["goto", "10"]), "a list, not a JSON object"),
    (Reply({"play": [{"type": "tts", "text": "Press 1"}], "inputs": {"1": "405"}}), 'inputs.1: no branch "405"'),
    (Reply({"play": [{"type": "file", "album": "77", "sort": "1"}], "goto": "10"}), "no recording"),
])
def test_each_failure_goes_to_no_route_and_is_recorded(platform: Instance, hooks: WebhookServer,
                                                        tenant: dict[str, Any], reply: Reply, reason: str) -> None:
    path = f"/fail-{Numbers.next}"
    number = Numbers.ivr(platform, tenant, {
        "0": {"type": "trigger", "url": hooks.script(path, reply), "timeout": 1.5, "no_route": "99"},
        "10": {"type": "hangup"},
        "99": {"type": "content", "play": BEEP, "next": "900"}, "900": {"type": "hangup"},
    })
    call_id = call_local(platform, number, "w20")
    call = wait_call(platform, lambda c: c.id == call_id)
    assert branches_of(call) == ["0:", "99:", "900:"]
    assert reason in call.exchanges[0]["reason"]


def test_a_server_that_never_answers_gets_an_apology_in_time_and_no_channel_is_left(
        platform: Instance, hooks: WebhookServer, tenant: dict[str, Any]) -> None:
    number = Numbers.ivr(platform, tenant, {
        "0": {"type": "trigger", "url": hooks.script("/silent", Reply({"goto": "0"}, delay=60)), "timeout": 2},
    })
    # The caller records from the moment it is answered, when the trigger's request goes out.
    heard = call_and_listen(platform, number, "w40")
    apology = audio.match(heard, played(platform, APOLOGY.value))
    assert apology.score > HEARD, apology
    assert apology.lag_s < 2 + 1, f"the apology started {apology.lag_s:.2f} s in: more than timeout + 1 s"
    call = wait_call(platform, lambda c: c.number == number)
    assert call.hangup_by == "platform" and call.reason.startswith("trigger 0: timeout after 2")
    assert call.exchanges[0]["status"] is None
    assert not [c for c in platform.ari("GET", "channels") if c["id"] == call.id]


def test_multi_key_inputs_percent_variables_carried_and_clear_data(
        platform: Instance, hooks: WebhookServer, tenant: dict[str, Any]) -> None:
    first = hooks.script("/first", Reply({"play": [{"type": "tts", "text": "Enter your PIN."}],
                                          "inputs": {"17": "1", "%": "2"}, "variables": {"pin_tries": 1}}))
    second = hooks.script("/second", Reply({"goto": "900", "variables": {"seen": "yes"}}))
    number = Numbers.ivr(platform, tenant, {
        "0": {"type": "trigger", "url": first, "no_route": "900"},
        "1": {"type": "content", "clear_data": True, "next": "3"},
        "2": {"type": "content", "next": "3"},
        "3": {"type": "trigger", "url": second, "no_route": "900"},
        "900": {"type": "hangup"},
    })
    whole = call_local(platform, number, "w1,d1,w1,d7,w20")   # 1, 7 within the inter-digit wait: 17
    partial = call_local(platform, number, "w1,d1,w5,d7,w20")  # the wait runs out after 1: "1" to %
    whole_call = wait_call(platform, lambda c: c.id == whole)
    partial_call = wait_call(platform, lambda c: c.id == partial)
    assert branches_of(whole_call) == ["0:17", "1:", "3:", "900:"]
    assert branches_of(partial_call) == ["0:1", "2:", "3:", "900:"]
    by_call = {r.json["call_id"]: r.json for r in hooks.requests("/second", 2)}
    assert by_call[whole]["branch_data"] == [], "cleared by branch 1"
    assert by_call[partial]["branch_data"] == [{"branch": "0", "input": "1"}, {"branch": "2", "input": ""}]
    assert by_call[whole]["variables"] == [{"pin_tries": "1"}]
    assert whole_call.variables == {"pin_tries": "1", "seen": "yes"}


def test_hold_covers_a_slow_server_then_the_answer_is_followed(
        platform: Instance, hooks: WebhookServer, tenant: dict[str, Any]) -> None:
    hold = "Please hold while we look up your account."
    number = Numbers.ivr(platform, tenant, {
        "0": {"type": "trigger", "url": hooks.script("/slow", Reply({"goto": "10"}, delay=4)), "timeout": 6,
              "hold": [{"type": "tts", "text": hold}]},
        "10": {"type": "content", "play": [{"type": "tts", "text": "Your account is ready."}], "next": "900"},
        "900": {"type": "hangup"},
    })
    heard = call_and_listen(platform, number, "w20")
    call = wait_call(platform, lambda c: c.number == number)
    assert branches_of(call) == ["0:", "10:", "900:"]
    assert call.exchanges[0]["ms"] >= 4000
    held = audio.match(heard, played(platform, hold))
    assert held.score > HEARD and 1 <= held.lag_s < 1.8, held
    # Stopped when the answer came: what follows is the answer's branch, not the rest of the hold.
    ready = audio.match(heard, played(platform, "Your account is ready."))
    assert ready.score > HEARD and 4 <= ready.lag_s < 5, ready


def test_multi_digit_menu_with_terminator_and_pauses(platform: Instance, tenant: dict[str, Any]) -> None:
    number = Numbers.ivr(platform, tenant, {
        "0": {"type": "menu", "play": BEEP, "digits": 4, "inter_digit_timeout": 2, "timeout": 5, "retries": 0,
              "inputs": {"1234": "10", "%": "20"}, "on_timeout": "900"},
        "10": {"type": "hangup"}, "20": {"type": "hangup"}, "900": {"type": "hangup"},
    })
    scripts = {"w1,d1234,w20": ["0:1234", "10:"],          # all four keys: the entry is whole
               "w1,d12#,w20": ["0:12", "20:"],             # # ends it early
               "w1,d1,w1,d2,w4,d3,w20": ["0:12", "20:"],   # a pause longer than inter_digit_timeout ends it
               "w1,d1,w1,d2,w1,d3,w1,d4,w20": ["0:1234", "10:"]}  # pauses shorter: one entry
    ids = {call_local(platform, number, script): want for script, want in scripts.items()}
    for call_id, want in ids.items():
        assert branches_of(wait_call(platform, lambda c: c.id == call_id)) == want, call_id
