"""SIPp as a real phone: build a UAC scenario from a few steps and run it.

Steps: ("may_refuse", code) (the call may be refused with that code, which then ends it
as expected), ("pause", ms), ("dtmf", "1") (RFC 2833 from SIPp's own captures), ("bye",) (the caller
hangs up), ("expect_bye",) (the platform must hang up), ("expect", code) (a final response
other than 200, e.g. 404, that ends the call).
"""
from __future__ import annotations

import random
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence
from xml.sax.saxutils import quoteattr

DTMF_PCAP = "/usr/share/sip-tester/dtmf_2833_{digit}.pcap"
DIGIT_FILE = {"*": "star", "#": "pound"}

# The SDP both ends offer or answer: PCMU and RFC 4733 DTMF.
def _sdp(origin: str) -> str:
    return (f"      v=0\n      o={origin} 53655765 2353687637 IN IP[local_ip_type] [local_ip]\n"
            "      s=-\n      c=IN IP[media_ip_type] [media_ip]\n      t=0 0\n"
            "      m=audio [media_port] RTP/AVP 0 101\n      a=rtpmap:0 PCMU/8000\n"
            "      a=rtpmap:101 telephone-event/8000\n      a=fmtp:101 0-15\n      a=sendrecv\n")


INVITE = """
  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "[$caller_name]" <sip:[$caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: sip:[$caller]@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

""" + _sdp("user1") + """    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
"""



def _in_dialog(method: str, cseq: int, retrans: bool = False) -> str:
    """An ACK or BYE inside the call's dialog (SIPp fills in the bracketed keywords)."""
    return f"""
  <send{' retrans="500"' if retrans else ''}>
    <![CDATA[
      {method} sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "[$caller_name]" <sip:[$caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: {cseq} {method}
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
"""


ANSWERED = '\n  <recv response="200" rtd="true"/>' + _in_dialog("ACK", 1)
REFUSED = '\n  <recv response="{code}"/>' + _in_dialog("ACK", 1).replace("{", "{{").replace("}", "}}")
BYE = _in_dialog("BYE", 2, retrans=True) + '  <recv response="200" crlf="true"/>\n'

EXPECT_BYE = """
  <recv request="BYE"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]>
  </send>
"""


DEFAULT_URI = "sip:[service]@[remote_ip]:[remote_port]"


def scenario(steps: Sequence[tuple], caller: str = "15551230000", caller_name: str = "SIPp",
             request_uri: str = DEFAULT_URI) -> str:
    """A UAC scenario: INVITE, then the steps. The caller number may hold SIPp keywords
    such as [call_number] so each call of a load run is told apart. request_uri replaces the
    INVITE's (only the INVITE's: what a stranger probing odd URIs would send)."""
    body = [INVITE.replace(f"INVITE {DEFAULT_URI} SIP/2.0", f"INVITE {request_uri} SIP/2.0")]
    answered = not any(s[0] == "expect" for s in steps)
    refusal = next((int(s[1]) for s in steps if s[0] == "may_refuse"), None)
    if refusal is not None:
        # A refusal (e.g. 503 from admission control) is an expected end, not a failure.
        body.append(f'  <recv response="{refusal}" optional="true" next="refused"/>\n')
    if answered:
        body.append(ANSWERED)
    for step in steps:
        kind = step[0]
        if kind == "pause":
            body.append(f'  <pause milliseconds="{int(step[1])}"/>\n')
        elif kind == "dtmf":
            pcap = DTMF_PCAP.format(digit=DIGIT_FILE.get(step[1], step[1]))
            body.append(f'  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>\n'
                        '  <pause milliseconds="250"/>\n')
        elif kind == "bye":
            body.append(BYE)
        elif kind == "expect_bye":
            body.append(EXPECT_BYE)
        elif kind == "expect":
            body.append(REFUSED.format(code=int(step[1])))
        elif kind == "may_refuse":
            continue
        else:
            raise ValueError(f"unknown SIPp step {step!r}")
    if refusal is not None:
        body.append('  <pause milliseconds="0" next="done"/>\n  <label id="refused"/>\n'
                    + _in_dialog("ACK", 1) + '  <label id="done"/>\n')
    caller_vars = (f'  <nop><action><assignstr assign_to="caller" value="{caller}"/>'
                   f'<assignstr assign_to="caller_name" value="{caller_name}"/></action></nop>\n')
    return ('<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="voicectl">\n'
            + caller_vars + "".join(body)
            + '  <ResponseTimeRepartition value="50, 100, 200, 500, 1000"/>\n</scenario>\n')


@dataclass
class SippResult:
    returncode: int
    stdout: str
    stderr: str
    errors: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def run(scenario_xml: str, *, workdir: Path, target: str, service: str, calls: int = 1,
        rate: float = 1.0, limit: int | None = None, local_port: int = 0, media_port: int = 0,
        timeout: float = 120, extra: Sequence[str] = (), local_ip: str = "127.0.0.1") -> SippResult:
    """Run SIPp against target (host:port) until `calls` calls have ended. local_ip is the
    address SIPp sends from (any 127.x.y.z works on Linux: a stranger next to a trunk)."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "scenario.xml"
    path.write_text(scenario_xml)
    argv = ["sipp", target, "-sf", str(path), "-s", service, "-m", str(calls), "-r", str(rate),
            "-i", local_ip, "-mi", local_ip, "-nostdin", "-trace_err",
            "-timeout", f"{int(timeout)}s", "-timeout_error", "-recv_timeout", "30000",
            "-error_file", str(workdir / "errors.log")]
    if rate != int(rate):
        argv[argv.index("-r") + 1] = str(int(rate * 1000))
        argv += ["-rp", "1000000"]
    if limit:
        argv += ["-l", str(limit)]
    if local_port:
        argv += ["-p", str(local_port)]
    if media_port:
        argv += ["-mp", str(media_port)]
    argv += list(extra)
    proc = subprocess.run(argv, cwd=workdir, capture_output=True, text=True, timeout=timeout + 30)
    return _result(workdir, proc.returncode, proc.stdout, proc.stderr)


def sip_call(target: str, workdir: Path, service: str, steps: Sequence[tuple], *, caller: str,
             timeout: float = 60, local_ip: str = "127.0.0.1", media_port: int = 0, **scenario_kw: str
             ) -> SippResult:
    """One call from a phone at local_ip: scenario(steps, caller=caller, **scenario_kw), its
    media on media_port (by default a random one of its own)."""
    return run(scenario(steps, caller=caller, **scenario_kw), workdir=workdir, target=target, service=service,
               media_port=media_port or random.randrange(36000, 38000, 2), timeout=timeout, local_ip=local_ip)


def new_caller() -> str:
    """A caller number of its own, to find the call's record by."""
    return f"1555{random.randrange(10**6, 10**7)}"


def assert_ok(result: SippResult, who: str = "") -> None:
    assert result.ok, (f"{who + ': ' if who else ''}SIPp failed ({result.returncode}):\n{result.errors[-3000:]}\n"
                       f"{result.stderr[-2000:]}")


def _result(workdir: Path, returncode: int, stdout: str, stderr: str) -> SippResult:
    errors_file = workdir / "errors.log"
    return SippResult(returncode, stdout, stderr,
                      errors_file.read_text(errors="replace") if errors_file.exists() else "")


def _response(status: str, *headers: str, sdp: str | None = None, cseq: str = "[last_CSeq:]",
              retrans: bool = False) -> str:
    """A UAS's response to the request it last took, in that request's dialog (the To gets SIPp's
    tag): status ("200 OK"), headers, then the SDP body when given."""
    lines = [f"SIP/2.0 {status}", "[last_Via:]", "[last_From:]", "[last_To:];tag=[pid]SIPpTag01[call_number]",
             "[last_Call-ID:]", cseq, *headers,
             *(("Content-Type: application/sdp", "Content-Length: [len]") if sdp else ("Content-Length: 0",))]
    message = "".join(f"      {line}\n" for line in lines) + (f"\n{sdp}" if sdp else "")
    send = '<send retrans="500">' if retrans else "<send>"
    return f"  {send}\n    <![CDATA[\n{message}    ]]>\n  </send>\n"


# A provider's registrar: challenges the first REGISTER (401, digest), checks the answer with
# SIPp's verifyauth against the credentials it was given (the user name is part of the digest),
# and only then answers 200. A wrong user name or password gets 403, after which the scenario
# waits for nothing and fails.
def registrar(username: str, password: str, realm: str = "provider.example") -> str:
    return ('<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="registrar">\n'
            '  <recv request="REGISTER"/>\n'
            + _response("401 Unauthorized",
                        f'WWW-Authenticate: Digest realm="{realm}", nonce="[pid]n[call_number]", algorithm=MD5')
            + '  <recv request="REGISTER">\n    <action>\n'
            f'      <verifyauth assign_to="auth_ok" username="{username}" password={quoteattr(password)}/>\n'
            '    </action>\n  </recv>\n  <nop hide="true" test="auth_ok" next="good"/>\n'
            + _response("403 Forbidden")
            + '  <recv request="NEVER" timeout="500"/>\n  <label id="good"/>\n'
            + _response("200 OK", "[last_Contact:];expires=600", "Expires: 600")
            + "</scenario>\n")


# The far end of a transfer: SIPp as the phone the platform dials through a trunk. Every
# scenario starts by taking the INVITE (keeping what it sends later in the dialog needs of it:
# SIPp refuses a variable set and never used) and saying it rings.
_KEEP = {"from": '<ereg regexp=".*" search_in="hdr" header="From:" assign_to="remote_from"/>',
         "contact": '<ereg regexp="sip:[^>;]*" search_in="hdr" header="Contact:" assign_to="remote_contact"/>',
         "cseq": '<ereg regexp="[0-9]+" search_in="hdr" header="CSeq:" assign_to="invite_cseq"/>'}
_FAR_CONTACT = "Contact: <sip:[local_ip]:[local_port]>"
_FAR_BYE = """  <send retrans="500">
    <![CDATA[
      BYE [$remote_contact] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:far@[local_ip]:[local_port]>;tag=[pid]SIPpTag01[call_number]
      To: [$remote_from]
      Call-ID: [call_id]
      CSeq: 1 BYE
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="200" crlf="true"/>
"""


def far_end(kind: str, *, ring_ms: int = 500, talk_ms: int = 2000) -> str:
    """A UAS scenario for a transfer's far end: "answer" (rings ring_ms, answers, hangs up after
    talk_ms), "busy" (486 after ring_ms), "ring" (rings until CANCELled: CANCEL is answered 200,
    then the INVITE 487)."""
    ring = f'\n  <pause milliseconds="{ring_ms}"/>\n'
    body, keep = {
        "answer": (ring + _response("200 OK", _FAR_CONTACT, sdp=_sdp("far"), retrans=True)
                   + f'  <recv request="ACK" crlf="true"/>\n  <pause milliseconds="{talk_ms}"/>\n' + _FAR_BYE,
                   ("from", "contact")),
        "busy": (ring + _response("486 Busy Here") + '  <recv request="ACK"/>\n', ()),
        "ring": ('\n  <recv request="CANCEL"/>\n' + _response("200 OK")
                 + _response("487 Request Terminated", cseq="CSeq: [$invite_cseq] INVITE")
                 + '  <recv request="ACK"/>\n', ("cseq",)),
    }[kind]
    invite = ('\n  <recv request="INVITE">\n    <action>\n      ' + "\n      ".join(_KEEP[k] for k in keep)
              + "\n    </action>\n  </recv>") if keep else '\n  <recv request="INVITE"/>'
    return ('<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="far-end">' + invite + "\n"
            + _response("180 Ringing", _FAR_CONTACT) + body + "</scenario>\n")


@dataclass
class Uas:
    """SIPp waiting for requests (a provider's side), running in the background."""

    proc: subprocess.Popen
    workdir: Path

    def wait(self, timeout: float = 60) -> SippResult:
        stdout, stderr = self.proc.communicate(timeout=timeout)
        return _result(self.workdir, self.proc.returncode, stdout, stderr)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


def start_uas(scenario_xml: str, *, workdir: Path, local_ip: str, port: int, calls: int = 1,
              timeout: float = 60, media_port: int = 0) -> Uas:
    """Start SIPp as a server on local_ip:port; it exits after `calls` dialogs ended. A
    scenario that answers with SDP names media_port (give each SIPp on the machine its own)."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "scenario.xml"
    path.write_text(scenario_xml)
    argv = ["sipp", "-sf", str(path), "-i", local_ip, "-p", str(port), "-m", str(calls), "-nostdin",
            "-trace_err", "-trace_msg", "-timeout", f"{int(timeout)}s", "-timeout_error",
            "-error_file", str(workdir / "errors.log"), "-message_file", str(workdir / "messages.log")]
    if media_port:
        argv += ["-mi", local_ip, "-mp", str(media_port)]
    proc = subprocess.Popen(argv, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return Uas(proc, workdir)


def _parse_step(text: str) -> tuple:
    kind, _, arg = text.partition(":")
    return (kind, arg) if arg else (kind,)


if __name__ == "__main__":
    # python -m tests.support.sipp 127.0.0.1:5060 8005550100 pause:2000 dtmf:1 pause:3000 dtmf:2 expect_bye
    import sys
    import tempfile

    target, service, *step_args = sys.argv[1:]
    result = run(scenario([_parse_step(s) for s in step_args]), workdir=Path(tempfile.mkdtemp(prefix="sipp-")),
                 target=target, service=service, timeout=120)
    print("call completed as scripted" if result.ok else f"call failed ({result.returncode}):\n{result.errors[-2000:]}")
    sys.exit(result.returncode)
