"""`kill -9` of the control plane while calls wait on a webhook (one of them a known contact's,
its contact looked up and sent), record the caller, and talk to a transfer's far end: every call
and far leg still gets its record, nothing stays in Asterisk, and what the caller had said so far
is still kept in the album. One instance of its own."""
from __future__ import annotations

import json
import random
import signal
import socket
import time
from pathlib import Path
from typing import Any

from control.calls.service import legs_of
from tests.integration.conftest import wait_call
from tests.integration.test_local_calls import call_local
from tests.integration.test_restart import wait_call_up
from tests.integration.test_survival import gone, journaled_start, make
from tests.support import sipp
from tests.support.platform import free_port
from tests.support.wait import eventually
from tests.support.webhook import Reply, WebhookServer

RTP = (50000, 50999)
FAR = "127.0.0.8"
TRIGGER, RECORD, TRANSFER, KNOWN = "+18005550511", "+18005550512", "+18005550513", "+18005550514"
CONTACT = "12125550123"  # a contact of the tenant's, calling KNOWN
ALBUM = 7


def ivrs(hook: str) -> dict[str, dict[str, Any]]:
    return {
        TRIGGER: {"0": {"type": "trigger", "url": hook, "timeout": 30}},
        RECORD: {"0": {"type": "record", "album": ALBUM, "max_seconds": 60, "next": "9"}, "9": {"type": "hangup"}},
        TRANSFER: {"0": {"type": "transfer", "to": "+18005550199", "timeout": 15, "next": "9"},
                   "9": {"type": "hangup"}},
        KNOWN: {"0": {"type": "contact_data", "next": "1"},
                "1": {"type": "trigger", "url": hook.replace("/slow", "/known"), "timeout": 30}},
    }


def test_kill_9_mid_trigger_record_and_transfer_loses_no_record_and_leaves_nothing(tmp_path: Path) -> None:
    hooks = WebhookServer().start()
    far_port = free_port(socket.SOCK_DGRAM)
    far = sipp.start_uas(sipp.far_end("answer", ring_ms=200, talk_ms=60_000), workdir=tmp_path / "far",
                         local_ip=FAR, port=far_port, timeout=90, media_port=random.randrange(39000, 39998, 2))
    # Batches 30 s apart: what the calls decided is only in the journal when the kill comes.
    instance = make(tmp_path, VOICECTL_RECORD_BATCH_S="30")
    try:
        tenant = instance.first_tenant()
        instance.cli("trunk", "add", "far", "--match", FAR, "--target", f"{FAR}:{far_port}")
        instance.cli("tenant", "set", tenant, "--outbound-trunk", "far")
        hooks.script("/known", Reply({"goto": "0"}, delay=60))
        for number, branches in ivrs(hooks.script("/slow", Reply({"goto": "0"}, delay=60))).items():
            instance.add_ivr(number, {"branches": branches}, tenant)
        instance.cli("label", "create", "4", "--tenant", tenant)
        contacts_csv = tmp_path / "contacts.csv"
        contacts_csv.write_text(f"phone,first_name,labels\n{CONTACT},Kim,4\n")
        instance.cli("contacts", "import", str(contacts_csv), "--tenant", tenant)
        instance.start()

        waiting = call_local(instance, TRIGGER, "w60")
        recording = call_local(instance, RECORD, "w1,ptt-monkeys,ptt-monkeys,w60")
        talking = call_local(instance, TRANSFER, "w60")
        known = call_local(instance, KNOWN, "w60", caller=CONTACT)
        for call_id in (waiting, recording, talking, known):
            wait_call_up(instance, call_id)
        hooks.requests("/slow")
        [asked] = hooks.requests("/known")
        assert asked.json["contact_info"]["contact"]["first_name"] == "Kim"
        assert asked.json["variables"] == [{**{k: v or "" for k, v in asked.json["contact_info"]["contact"].items()},
                                            "labels": "4"}]
        eventually(lambda: instance.ari("GET", "bridges"), 20, interval=0.2)
        assert instance.ari("GET", "bridges"), "the transfer never bridged"
        leg = next(c["id"] for c in instance.ari("GET", "channels")
                   if c["id"] not in (waiting, recording, talking, known) and not c["id"].startswith("caller-"))
        time.sleep(3)  # the caller has said something by now
        assert journaled_start(instance, leg, 5), "the far leg's record was not journaled when it was dialled"

        asterisk = instance.asterisk_pid()
        assert instance.proc is not None
        instance.proc.send_signal(signal.SIGKILL)
        instance.proc.wait(5)
        assert gone(asterisk, 10), "Asterisk outlived its control plane"
        instance.start()

        for call_id in (waiting, recording, talking, known):
            assert wait_call(instance, lambda c, i=call_id: c.id == i).hangup_by == "lost", call_id
        legs = instance.db(lambda db: legs_of(db, talking))
        assert [(c.id, c.ended_at is not None) for c in legs] == [(leg, True)], "the far leg lost its record"
        # What the caller had said is kept, and Asterisk keeps no copy nobody will ever read.
        kept = eventually(lambda: json.loads(instance.cli("recordings", "list", "--album", str(ALBUM),
                                                          "--json").stdout), 15, interval=0.5)
        assert len(kept) == 1 and kept[0]["seconds"] > 1, kept
        assert instance.ari("GET", "recordings/stored") == []
        assert instance.ari("GET", "channels") == [] and instance.ari("GET", "bridges") == []
    finally:
        instance.stop()
        far.stop()
        hooks.stop()
