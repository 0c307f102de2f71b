"""The test carrier (tests/support/carrier.py) on its own, without the platform: SIPp UACs and
raw datagrams from 127.0.0.1 against it on 127.0.0.7, so that tests which count what the
platform put on the network can trust its counts."""
from __future__ import annotations

import itertools
import socket
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import pytest

from tests.support import sipp
from tests.support.carrier import Carrier, Seen, behaviour
from tests.support.platform import free_port

CARRIER_IP = "127.0.0.7"
TALK_MS = 3000
_media = itertools.count()

# The request's branch, fixed so that a resend is byte for byte a retransmission (SIPp's
# [branch] differs per message) and so that CANCEL and ACK name the INVITE's transaction.
BRANCH = "z9hG4bK-[pid]-[call_number]-t"


def _request(method: str, caller: str, cseq: int, *, to_tag: bool = False, body: str | None = None) -> str:
    head = [f"{method} sip:[service]@[remote_ip]:[remote_port] SIP/2.0",
            f"Via: SIP/2.0/[transport] [local_ip]:[local_port];branch={BRANCH}",
            f'From: "Test" <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]',
            "To: <sip:[service]@[remote_ip]:[remote_port]>" + ("[peer_tag_param]" if to_tag else ""),
            "Call-ID: [call_id]", f"CSeq: {cseq} {method}", "Max-Forwards: 70"]
    if body is None:
        head.append("Content-Length: 0")
        body = "    "
    else:
        head += ["Content-Type: text/plain;charset=UTF-8", "Content-Length: [len]", ""]
    # Closing CDATA right after the body keeps SIPp from adding a line break to it.
    return "  <send><![CDATA[\n" + "".join(f"      {h}\n" for h in head) + body + "]]></send>\n"


def message_uac(caller: str, body: str) -> str:
    """A MESSAGE, taken with 202. (It cannot be sent twice from SIPp: a UAC takes the second
    202 for a retransmission and resends its MESSAGE, and the two SIPps ping-pong for good.)"""
    return ('<?xml version="1.0" encoding="UTF-8" ?>\n<scenario name="message">\n'
            + _request("MESSAGE", caller, 1, body=body) + '  <recv response="202"/>\n</scenario>\n')


def cancel_uac(caller: str) -> str:
    """An INVITE that rings, is CANCELled: the CANCEL answered 200, the INVITE 487."""
    invite = sipp.INVITE.split("  <recv")[0].replace("branch=[branch]", f"branch={BRANCH}")
    invite = invite.replace("[$caller_name]", "Test").replace("[$caller]", caller)
    return ('<?xml version="1.0" encoding="UTF-8" ?>\n<scenario name="cancel">\n' + invite
            + '  <recv response="180"/>\n  <pause milliseconds="300"/>\n' + _request("CANCEL", caller, 1)
            + '  <recv response="200"/>\n  <recv response="487"/>\n' + _request("ACK", caller, 1, to_tag=True)
            + "</scenario>\n")


def uac(carrier: Carrier, workdir: Path, number: str, scenario_xml: str) -> sipp.SippResult:
    # Each UAC gets its own SIP and media ports: twenty run at once.
    return sipp.run(scenario_xml, workdir=workdir, target=carrier.target, service=number, timeout=30,
                    local_port=free_port(socket.SOCK_DGRAM), media_port=39000 + next(_media) % 200 * 4)


class RawPhone:
    """Datagrams from a socket of our own, to resend a request byte for byte."""

    def __init__(self, carrier: Carrier) -> None:
        self.carrier = carrier
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(3)
        self.port = self.sock.getsockname()[1]

    def request(self, method: str, number: str, call_id: str, body: str = "", to_tag: str = "") -> bytes:
        data, port, target = body.encode(), self.port, self.carrier.target
        return (f"{method} sip:{number}@{target} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-{call_id}\r\n"
                f"From: <sip:15550000009@127.0.0.1:{port}>;tag=raw\r\n"
                f"To: <sip:{number}@{target}>{to_tag}\r\nCall-ID: {call_id}\r\nCSeq: 1 {method}\r\n"
                f"Contact: <sip:15550000009@127.0.0.1:{port}>\r\nMax-Forwards: 70\r\n"
                + ("Content-Type: text/plain\r\n" if body else "")
                + f"Content-Length: {len(data)}\r\n\r\n").encode() + data

    def send(self, datagram: bytes) -> None:
        self.sock.sendto(datagram, (CARRIER_IP, self.carrier.port))

    def statuses(self, until: str) -> list[str]:
        """The status codes that come back, up to and including `until`."""
        got: list[str] = []
        while until not in got:
            got.append(self.sock.recv(65536).decode().split(" ", 2)[1])
        return got

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def carrier(tmp_path: Path) -> Iterator[Carrier]:
    with Carrier(tmp_path / "carrier", CARRIER_IP, free_port(socket.SOCK_DGRAM), media_port=39996,
                 talk_ms=TALK_MS) as running:
        yield running


def test_behaviour_rule() -> None:
    assert [behaviour(n) for n in ("+18455550121", "18455550122", "+18455550123", "+18455550120")] == [
        "answer", "busy", "no answer", "answer"]


def test_answered_call_and_either_side_hangs_up(carrier: Carrier, tmp_path: Path) -> None:
    sipp.assert_ok(uac(carrier, tmp_path / "a", "+18455550121",
                       sipp.scenario([("pause", 300), ("bye",)], caller="15550000001")), "caller hangs up")
    # Nobody hangs up: the carrier does, after talk_ms.
    sipp.assert_ok(uac(carrier, tmp_path / "b", "18455550131",
                       sipp.scenario([("expect_bye",)], caller="15550000002")), "carrier hangs up")
    invites = carrier.invites()
    assert [(s.to, s.from_user, s.body) for s in invites] == [
        ("+18455550121", "15550000001", ""), ("18455550131", "15550000002", "")]
    assert len({s.call_id for s in invites}) == 2
    assert carrier.errors() == []


def test_busy_and_no_answer(carrier: Carrier, tmp_path: Path) -> None:
    sipp.assert_ok(uac(carrier, tmp_path / "busy", "+18455550122",
                       sipp.scenario([("expect", 486)], caller="15550000003")), "busy")
    sipp.assert_ok(uac(carrier, tmp_path / "ring", "+18455550123", cancel_uac("15550000004")), "no answer")
    assert [(s.method, s.to, s.from_user) for s in carrier.seen()] == [
        ("INVITE", "+18455550122", "15550000003"), ("INVITE", "+18455550123", "15550000004")]
    assert carrier.errors() == []


def test_messages_logged_with_exact_bodies(carrier: Carrier, tmp_path: Path) -> None:
    sent = [("+12125550141", "Hello, world — ünïcode"),
            ("12125550142", "first line\nsecond | line, with commas\n\nlast"),
            ("+12125550143", "x" * 1500)]
    for i, (number, body) in enumerate(sent):
        sipp.assert_ok(uac(carrier, tmp_path / f"m{i}", number, message_uac(f"1555000010{i}", body)), number)
    # On the wire SIPp ends each body line with CRLF, as SIP does.
    messages = carrier.messages()
    assert [(s.to, s.from_user, s.body) for s in messages] == [
        (number, f"1555000010{i}", body.replace("\n", "\r\n")) for i, (number, body) in enumerate(sent)]
    assert len({s.call_id for s in messages}) == 3
    assert carrier.errors() == []


def test_parallel_mixed_requests_logged_once_each(carrier: Carrier, tmp_path: Path) -> None:
    """Twenty at once: four each of answered, busy, unanswered calls and MESSAGEs from SIPp,
    and four MESSAGEs sent three times over, as a sender whose 202s were lost would."""
    def one(i: int) -> str:
        caller, kind = f"15551{i:06d}", i % 5
        if kind == 4:
            phone = RawPhone(carrier)
            try:
                message = phone.request("MESSAGE", f"+1212555{i:04d}", f"resent-{i}", body=f"message {i}")
                for _ in range(3):
                    phone.send(message)
                assert phone.statuses("202")[0] == "202"
            finally:
                phone.close()
            return "15550000009"
        number = f"+1845555{i:03d}{[1, 2, 3, 5][kind]}"
        xml = [sipp.scenario([("pause", 300), ("bye",)], caller=caller),
               sipp.scenario([("expect", 486)], caller=caller),
               cancel_uac(caller), message_uac(caller, f"message {i}")][kind]
        sipp.assert_ok(uac(carrier, tmp_path / f"u{i}", number, xml), caller)
        return caller

    with ThreadPoolExecutor(20) as pool:
        callers = list(pool.map(one, range(20)))
    # Every sender has its answer, and the carrier logs a request before answering it.
    seen = carrier.seen()
    assert Counter(s.from_user for s in seen) == Counter(callers)
    assert len({s.call_id for s in seen}) == 20
    assert Counter(s.method for s in seen) == {"INVITE": 12, "MESSAGE": 8}
    for s in seen:
        i = int(s.call_id.removeprefix("resent-")) if s.call_id.startswith("resent-") else int(s.from_user[-6:])
        if s.method == "INVITE":
            assert (behaviour(s.to), s.body) == (["answer", "busy", "no answer"][i % 5], "")
        else:
            assert s.body == f"message {i}"
    assert carrier.errors() == []


def test_retransmissions_are_answered_but_logged_once(carrier: Carrier) -> None:
    """Byte-identical resends, as a UDP transaction makes when an answer is lost: each is
    answered again, yet the carrier logs one request."""
    phone = RawPhone(carrier)
    try:
        message = phone.request("MESSAGE", "+12125550149", "raw-message", body="once, twice")
        phone.send(message)
        assert phone.statuses("202") == ["202"]
        phone.send(message)
        assert phone.statuses("202") == ["202"]

        invite = phone.request("INVITE", "+18455550152", "raw-invite")
        phone.send(invite)
        phone.send(invite)
        answers = phone.statuses("486")
        assert answers[0] == "180" and set(answers) <= {"180", "486"}
        phone.send(phone.request("ACK", "+18455550152", "raw-invite", to_tag=";tag=x"))
    finally:
        phone.close()
    assert [(s.method, s.to, s.call_id, s.body) for s in carrier.seen()] == [
        ("MESSAGE", "+12125550149", "raw-message", "once, twice"), ("INVITE", "+18455550152", "raw-invite", "")]
    assert carrier.errors() == []
