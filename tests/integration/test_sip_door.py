"""SIP: only trunks get in. Strangers next door (127.0.0.2 beside the demo trunk's 127.0.0.1)
are refused before the dialplan, whatever they put in From or the request URI, and each attempt
lands in security.log with its source; a provider's trunk registers with digest credentials;
a trunk Asterisk did not load is reported by the CLI and /healthz. One instance of its own."""
from __future__ import annotations

import re
import socket
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from control.calls.service import list_calls
from control.clock import now
from control.store.models import Trunk
from control.trunks.passwords import TrunkPasswords
from control.trunks.service import remove_trunk
from tests.integration.conftest import wait_call
from tests.integration.started import demo_instance
from tests.support import ami, sipp
from tests.support.platform import VOICECTL, Instance, free_port
from tests.support.wait import eventually

STRANGER = "127.0.0.2"
PROVIDER = "127.0.0.3"
PASSWORD = "s3cr;t#pw"  # `;` and `#` mean something to Asterisk's config parser
GUESS_INVITE = """
  <send retrans="500"><![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:local@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: {cseq} INVITE
      Contact: sip:local@[local_ip]:[local_port]{auth}
      Max-Forwards: 70
      Content-Length: 0
    ]]></send>
"""
# INVITE, challenge, INVITE again with credentials guessed for the trunk's name: 401 again.
GUESS = ('<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="guess">'
         + GUESS_INVITE.format(cseq=1, auth="")
         + '  <recv response="401" auth="true"/>\n'
         + """  <send><![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:local@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0
    ]]></send>
"""
         + GUESS_INVITE.format(cseq=2, auth="\n      [authentication username=local password=local]")
         + '  <recv response="401"/>\n</scenario>\n')


@pytest.fixture(scope="module")
def door(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    with demo_instance(tmp_path_factory.mktemp("door"), rtp=(45000, 45499)) as instance:
        yield instance


def invite(instance: Instance, workdir: Path, steps: list, *, caller: str, local_ip: str,
           request_uri: str = sipp.DEFAULT_URI, service: str = "8005550100") -> sipp.SippResult:
    return sipp.sip_call(instance.sip_target, workdir, service, steps, caller=caller, local_ip=local_ip,
                         request_uri=request_uri, timeout=30)


def security_log(instance: Instance) -> str:
    path = instance.data_dir / "asterisk" / "log" / "security.log"
    return path.read_text(errors="replace") if path.exists() else ""


ODD_URIS = {
    "a provisioned number": sipp.DEFAULT_URI,
    "a user part with ;": "sip:8005550100;x=1@[remote_ip]:[remote_port]",
    "a very long user part": "sip:" + "8" * 2000 + "@[remote_ip]:[remote_port]",
    "sip:s@": "sip:s@[remote_ip]:[remote_port]",
    "no user part": "sip:[remote_ip]:[remote_port]",
}


def test_strangers_are_challenged_and_never_reach_the_dialplan(door: Instance, tmp_path: Path) -> None:
    code, body = door.health()  # just started: the demo trunk is loaded already
    assert code == 200 and body["status"] == "ok" and body["trunks"] == {"missing": [], "unexpected": []}, body
    processed = ami.calls_processed(door)
    attempts_before = security_log(door).count(f'RemoteAddress="IPV4/UDP/{STRANGER}/')
    for n, (what, uri) in enumerate(ODD_URIS.items()):
        result = invite(door, tmp_path / f"odd{n}", [("expect", 401)], caller="local", local_ip=STRANGER,
                        request_uri=uri)
        assert result.ok, f"{what}: not answered 401:\n{result.errors[-2000:]}"
    sipp.assert_ok(sipp.run(GUESS, workdir=tmp_path / "guess", target=door.sip_target, service="8005550100",
                            local_ip=STRANGER, timeout=30))

    # The same INVITE from the trunk's own address is a call: the refusals above are not
    # a platform that refuses everything.
    caller = sipp.new_caller()
    sipp.assert_ok(invite(door, tmp_path / "trunk", [("pause", 500), ("dtmf", "2"), ("expect_bye",)], caller=caller,
                          local_ip="127.0.0.1"))
    wait_call(door, lambda c: c.caller_id == caller)
    assert ami.calls_processed(door) == processed + 1, "only the trunk's call ran the dialplan"
    assert [c for c in door.db(lambda db: list_calls(db, 200)) if c.caller_id == "local"] == []

    log = security_log(door)
    attempts = re.findall(r'SecurityEvent="InvalidAccountID".*AccountID="local".*'
                          rf'RemoteAddress="IPV4/UDP/{re.escape(STRANGER)}/\d+"', log)
    assert len(attempts) >= len(ODD_URIS) + 1, log[-3000:]
    assert 'SecurityEvent="ChallengeResponseFailed"' in log  # the guessed password
    assert log.count(f'RemoteAddress="IPV4/UDP/{STRANGER}/') > attempts_before
    assert 'RemoteAddress="IPV4/UDP/127.0.0.1/' not in "".join(e for e in log.splitlines() if "PJSIP" in e), \
        "the trunk's own call is no security event"


def test_trunk_registers_with_its_provider_and_the_provider_calls_in_on_the_line(door: Instance,
                                                                                 tmp_path: Path) -> None:
    port = free_port(socket.SOCK_DGRAM)
    registrar = sipp.start_uas(sipp.registrar("acct-1", PASSWORD), workdir=tmp_path / "registrar",
                               local_ip=PROVIDER, port=port, timeout=40)
    try:
        # The provider's calls come from addresses not listed here: only the registration's line
        # ties them to the trunk.
        added = subprocess.run([*VOICECTL, "trunk", "add", "prov", "--match", "192.0.2.77", "--target",
                                f"{PROVIDER}:{port}", "--username", "acct-1", "--password-stdin", "--register"],
                               env=door.env, input=PASSWORD + "\n", capture_output=True, text=True, timeout=60)
        assert added.returncode == 0 and "reloaded" in added.stdout, added.stdout + added.stderr
        result = registrar.wait(50)
    finally:
        registrar.stop()
    assert result.ok, f"registrar: {result.errors[-3000:]}\n{result.stderr[-1000:]}"
    assert eventually(lambda: ami.registration_status(door, "prov") == "Registered", 10)
    line = re.search(r"^Contact: <[^>]*;line=(\w+)>", (tmp_path / "registrar" / "messages.log").read_text(), re.M)
    assert line, "REGISTER without a line parameter"

    caller = sipp.new_caller()
    on_line = f"sip:[service]@[remote_ip]:[remote_port];line={line.group(1)}"
    sipp.assert_ok(invite(door, tmp_path / "line", [("pause", 500), ("dtmf", "2"), ("expect_bye",)], caller=caller,
                          local_ip=PROVIDER, request_uri=on_line))
    assert wait_call(door, lambda c: c.caller_id == caller).number == "+18005550100"
    assert invite(door, tmp_path / "noline", [("expect", 401)], caller=caller, local_ip=PROVIDER).ok

    assert PASSWORD not in door.cli("trunk", "list", "--json").stdout
    assert door.cli("trunk", "remove", "prov").returncode == 0
    assert "prov" not in ami.endpoints(door)


def test_a_trunk_asterisk_has_not_loaded_fails_the_cli_and_degrades_healthz(door: Instance) -> None:
    # A row from before names were checked whole: the old check let "evil\n" through.
    async def insert(db) -> None:  # type: ignore[no-untyped-def]
        async with db.begin() as session:
            session.add(Trunk(name="evil\n", matches=["127.0.0.9"], target_host="127.0.0.9", target_port=5060,
                              created_at=now()))

    door.db(insert)
    added = door.cli("trunk", "add", "good", "--match", "127.0.0.4", "--target", "127.0.0.4", check=False)
    assert added.returncode == 1 and "trunk good added (reloaded)" in added.stdout
    assert "Asterisk has not loaded trunk 'evil\\n'" in added.stderr
    assert {"local", "good"} <= ami.endpoints(door), "the bad row broke no other trunk"
    code, body = door.health()
    assert code == 200 and body["status"] == "degraded" and body["trunks"]["missing"] == ["evil\n"], body

    door.db(lambda db: remove_trunk(db, TrunkPasswords(door.data_dir), "evil\n"))
    assert door.cli("trunk", "remove", "good").returncode == 0
    code, body = door.health()
    assert body["status"] == "ok" and body["trunks"] == {"missing": [], "unexpected": []}, body
