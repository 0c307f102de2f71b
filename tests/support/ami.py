"""Ask a test instance's Asterisk what neither ARI nor the database shows: PJSIP endpoints and
registrations over AMI (the link the platform itself uses), counters over its CLI."""
from __future__ import annotations

import asyncio
import re
import socket
from typing import Any

from control.pbx.secrets import load_or_create
from control.telephony.ami import AmiLink
from tests.support.platform import Instance


def action(instance: Instance, request: dict[str, str]) -> list[dict[str, Any]]:
    """Every message of the answer (a list action answers with several)."""

    async def ask() -> list[dict[str, Any]]:
        ami = AmiLink(instance.settings, load_or_create(instance.data_dir))
        ami.start()
        try:
            if not await ami.wait_connected(5):
                raise AssertionError("AMI did not answer")
            reply = await ami.action(request, timeout=5)
            return [dict(m) for m in (reply if isinstance(reply, list) else [reply])]
        finally:
            ami.close()

    return asyncio.run(ask())


def cli(instance: Instance, text: str) -> str:
    """One Asterisk CLI command's output, over the instance's control socket (what
    `asterisk -rx` uses): the platform's AMI user may not run commands, and should not."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as ctl:
        ctl.connect(str(instance.data_dir / "asterisk" / "run" / "asterisk.ctl"))
        ctl.settimeout(0.5)
        ctl.recv(4096)  # the banner: system name, pid, version
        ctl.sendall(text.encode() + b"\0")
        output = b""
        try:
            while chunk := ctl.recv(4096):
                output += chunk
        except socket.timeout:  # the console stays open: the output is what came until now
            pass
    return output.decode(errors="replace")


def calls_processed(instance: Instance) -> int:
    """Channels that have run the dialplan since Asterisk started ('core show calls')."""
    output = cli(instance, "core show calls")
    found = re.search(r"(\d+) calls? processed", output)
    if found is None:
        raise AssertionError(f"core show calls: {output!r}")
    return int(found.group(1))


def endpoints(instance: Instance) -> set[str]:
    return {m["ObjectName"] for m in action(instance, {"Action": "PJSIPShowEndpoints"})
            if m.get("Event") == "EndpointList"}


def registration_status(instance: Instance, name: str) -> str | None:
    for m in action(instance, {"Action": "PJSIPShowRegistrationsOutbound"}):
        if m.get("Event") == "OutboundRegistrationDetail" and m.get("ObjectName") == name:
            return m.get("Status")
    return None
