"""SIPp as the phone carrier behind a tenant's outbound trunk: one UAS on one ip:port (a trunk
has one target) that takes any number of calls and SMS, mixed and in any order, and logs each
so a test can count exactly what reached the network.

What happens to a call is chosen by the last digit of the number dialled (the Request-URI's
user), so one carrier serves every case: 2 is busy (486), 3 rings until CANCELled (487),
anything else answers and talks until the caller hangs up or talk_ms passes, then hangs up
itself. A MESSAGE is answered 202 at once.

Each INVITE and MESSAGE the scenario takes writes one record through SIPp's <log> action.
Retransmissions never reach the action (SIPp answers them from the call, or drops them as
a dead call's), so each request is logged once however often it arrives. A record is
`@@carrier@@ METHOD|to|from|call-id|content-length|body` and a newline: the body is read by
its Content-Length, so spaces, `|`, line breaks and UTF-8 in it come back exactly.
"""
from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from tests.support.sipp import _FAR_BYE, _FAR_CONTACT, _KEEP, EXPECT_BYE, Uas, _response, _sdp

_MARK = b"@@carrier@@ "
# The user part of the Request-URI (what was dialled) and of From, as sent.
_TO = '<ereg regexp="^[A-Z]+ sips?:([^@;> ]*)@" search_in="msg" assign_to="to_uri,to"/>'
_FROM = '<ereg regexp="sips?:([^@;> ]*)@" search_in="hdr" header="From:" assign_to="from_uri,from"/>'
_LOG = '<log message="@@carrier@@ {method}|[$to]|[$from]|[call_id]|{length}|{body}"/>'
# How long a taken MESSAGE's call lingers, so that a retransmission (a 202 lost on the way)
# is answered again from the call instead of dropped: longer than SIP's 32 s transaction life.
_LINGER_MS = 33000


def behaviour(number: str) -> str:
    """What the carrier does with a call to number: "busy", "no answer" or "answer". Tests
    ask this rather than repeat the rule, so they cannot disagree with the scenario."""
    return {"2": "busy", "3": "no answer"}.get(number[-1:], "answer")


def _flag(name: str, digit: str) -> str:
    """An ereg that sets `name` only when the dialled user ends in digit (the rule of behaviour())."""
    return f'<ereg regexp="^INVITE sips?:[^@;> ]*{digit}@" search_in="msg" assign_to="{name}"/>'


def _jump(label: str) -> str:
    return f'  <pause milliseconds="0" next="{label}"/>\n'


def scenario(talk_ms: int, ring_ms: int = 200) -> str:
    """The carrier's UAS scenario. A new Call-ID starts it from the top, where optional recvs
    pick the branch by method; INVITEs then branch on the flags their eregs set."""
    invite_actions = [_TO, _FROM, _KEEP["from"], _KEEP["contact"], _KEEP["cseq"],
                      _flag("busy", "2"), _flag("no_answer", "3"), _LOG.format(method="INVITE", length=0, body="")]
    message_actions = [_TO, _FROM,
                       '<ereg regexp="[0-9]+" search_in="hdr" header="Content-Length:" assign_to="length"/>',
                       '<ereg regexp="^.*$" search_in="body" assign_to="body"/>',
                       _LOG.format(method="MESSAGE", length="[$length]", body="[$body]")]

    def recv(method: str, actions: list[str], next_: str = "", optional: bool = False) -> str:
        attrs = (' optional="true"' if optional else "") + (f' next="{next_}"' if next_ else "")
        return (f'  <recv request="{method}"{attrs}>\n    <action>\n'
                + "".join(f"      {a}\n" for a in actions) + "    </action>\n  </recv>\n")

    # The caller may hang up at any moment of the talk; only if it does not, the carrier does.
    caller_hangs_up = EXPECT_BYE.replace('<recv request="BYE"/>',
                                         f'<recv request="BYE" timeout="{talk_ms}" ontimeout="hangup"/>')
    return ('<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="carrier">\n'
            + recv("MESSAGE", message_actions, "message", optional=True)
            # A trunk that qualifies its target sends OPTIONS: answer, log nothing.
            + '  <recv request="OPTIONS" optional="true" next="options"/>\n'
            + recv("INVITE", invite_actions)
            + _response("180 Ringing", _FAR_CONTACT)
            + '  <nop hide="true" test="busy" next="busy"/>\n  <nop hide="true" test="no_answer" next="ring"/>\n'
            + f'  <pause milliseconds="{ring_ms}"/>\n'
            + _response("200 OK", _FAR_CONTACT, sdp=_sdp("carrier"), retrans=True)
            + '  <recv request="ACK" crlf="true"/>\n' + caller_hangs_up + _jump("end")
            + '  <label id="hangup"/>\n' + _FAR_BYE + _jump("end")
            + '  <label id="busy"/>\n' + _response("486 Busy Here") + '  <recv request="ACK"/>\n' + _jump("end")
            + '  <label id="ring"/>\n  <recv request="CANCEL"/>\n' + _response("200 OK")
            + _response("487 Request Terminated", cseq="CSeq: [$invite_cseq] INVITE")
            + '  <recv request="ACK"/>\n' + _jump("end")
            + '  <label id="message"/>\n' + _response("202 Accepted")
            + f'  <pause milliseconds="{_LINGER_MS}"/>\n' + _jump("end")
            + '  <label id="options"/>\n' + _response("200 OK", "Allow: INVITE, ACK, CANCEL, BYE, MESSAGE, OPTIONS")
            + '  <label id="end"/>\n</scenario>\n')


@dataclass
class Seen:
    """One request the carrier took (retransmissions not counted)."""

    method: str  # "INVITE" or "MESSAGE"
    to: str  # the user part of the Request-URI, as received (e.g. "+18455550121")
    from_user: str
    call_id: str
    body: str  # MESSAGE body ("" for INVITE)


def parse_log(data: bytes) -> list[Seen]:
    """The records in a carrier log. A record SIPp has not finished writing is left for the
    next read rather than returned cut short."""
    seen: list[Seen] = []
    at = data.find(_MARK)
    while at >= 0:
        start = at + len(_MARK)
        head = data[start:].split(b"|", 5)[:5]
        if len(head) < 5 or b"\n" in b"".join(head):
            break
        body_at = start + sum(len(field) + 1 for field in head)
        # Without a Content-Length (never from Asterisk) the body is taken to the line's end.
        end = body_at + int(head[4]) if head[4].isdigit() else data.find(b"\n", body_at)
        if end < 0 or len(data) <= end:
            break
        method, to, from_user, call_id = (field.decode("utf-8", errors="replace") for field in head[:4])
        seen.append(Seen(method, to, from_user, call_id, data[body_at:end].decode("utf-8", errors="replace")))
        at = data.find(_MARK, end)
    return seen


class Carrier:
    """The carrier, running in the background from start() to stop() (or as a context manager)."""

    def __init__(self, workdir: Path, ip: str, port: int, media_port: int, talk_ms: int = 20000) -> None:
        self.workdir, self.ip, self.port, self.media_port, self.talk_ms = workdir, ip, port, media_port, talk_ms
        self.log = workdir / "carrier.log"
        self._uas: Uas | None = None

    @property
    def target(self) -> str:
        """host:port, as a trunk names it."""
        return f"{self.ip}:{self.port}"

    def start(self, timeout: float = 10) -> None:
        """Run SIPp until stop(): no -m, no -timeout, since a test decides how long the carrier
        lives. Returns once its SIP socket is bound (datagrams sent from then on are queued)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        path = self.workdir / "carrier.xml"
        path.write_text(scenario(self.talk_ms))
        argv = ["sipp", "-sf", str(path), "-i", self.ip, "-p", str(self.port), "-nostdin",
                "-mi", self.ip, "-mp", str(self.media_port),
                # Echo RTP so Asterisk hears a live far end (an RTP timeout would hang up), and
                # answer in-dialog INFO/UPDATE/NOTIFY 200 instead of failing the call on them.
                "-rtp_echo", "-aa",
                "-trace_logs", "-log_file", str(self.log),
                "-trace_err", "-error_file", str(self.workdir / "errors.log"),
                "-trace_msg", "-message_file", str(self.workdir / "messages.log")]
        # Files, not pipes: a carrier living through a long test would fill a pipe and stall.
        with open(self.workdir / "sipp.out", "wb") as out:
            proc = subprocess.Popen(argv, cwd=self.workdir, stdout=out, stderr=subprocess.STDOUT)
        self._uas = Uas(proc, self.workdir)
        deadline = time.monotonic() + timeout
        while not self._bound():
            if proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"carrier SIPp did not start ({proc.returncode}):\n"
                                   f"{(self.workdir / 'sipp.out').read_text(errors='replace')[-3000:]}")
            time.sleep(0.02)

    def _bound(self) -> bool:
        # Read the kernel's socket table: probing with a bind of our own could steal the port.
        ip = "".join(f"{int(part):02X}" for part in reversed(self.ip.split(".")))
        with open("/proc/net/udp") as table:
            return any(line.split()[1] == f"{ip}:{self.port:04X}" for line in list(table)[1:])

    def seen(self) -> list[Seen]:
        """Every INVITE and MESSAGE taken so far, in order (re-reads the log; safe while running)."""
        return parse_log(self.log.read_bytes()) if self.log.exists() else []

    def invites(self) -> list[Seen]:
        return [s for s in self.seen() if s.method == "INVITE"]

    def messages(self) -> list[Seen]:
        return [s for s in self.seen() if s.method == "MESSAGE"]

    def errors(self) -> list[str]:
        """What went against the script in SIPp's error log: unexpected messages, failed dialogs
        (empty when all went as scripted). The talk time running out is logged there as a
        receive timeout, but is the carrier hanging up as meant, so it is left out."""
        path = self.workdir / "errors.log"
        lines = path.read_text(errors="replace").splitlines() if path.exists() else []
        return [line for line in lines if line.strip() and line != "The following events occurred:"
                and "jumping to label" not in line]

    def stop(self) -> None:
        if self._uas is not None:
            self._uas.stop()

    def __enter__(self) -> Carrier:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
