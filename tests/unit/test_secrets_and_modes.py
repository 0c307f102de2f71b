"""Secrets and file modes: nothing in the data directory is for other local users, and a
data directory from an older version is brought up to date."""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from typing import Any

from control.pbx.modes import tighten
from control.pbx.secrets import load_or_create
from control.telephony.ari import _HeaderAuthHttp


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_secrets_are_created_private(tmp_path: Path) -> None:
    created = load_or_create(tmp_path)
    assert mode(tmp_path / "secrets.json") == 0o600
    assert len(created.ari_password) >= 24 and created.ari_password != created.ami_password
    assert load_or_create(tmp_path) == created, "a second start keeps every secret"


def test_an_older_secrets_file_keeps_its_passwords_and_loses_the_unused_node_key(tmp_path: Path) -> None:
    old = {"ari_user": "voicectl", "ari_password": "a" * 10, "ami_user": "voicectl", "ami_password": "b" * 10,
           "webhook_signing_key": "k" * 40}
    (tmp_path / "secrets.json").write_text(json.dumps(old))
    os.chmod(tmp_path / "secrets.json", 0o644)
    upgraded = load_or_create(tmp_path)
    assert (upgraded.ari_password, upgraded.ami_password) == ("a" * 10, "b" * 10)
    assert "webhook_signing_key" not in json.loads((tmp_path / "secrets.json").read_text())
    assert mode(tmp_path / "secrets.json") == 0o600


def test_tighten_takes_away_what_other_users_could_read(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "journal").mkdir(parents=True)
    for name in ("voicectl.db", "voicectl.db-wal", "secrets.json", "journal/calls.00000001.jsonl"):
        (data / name).write_text("x")
        os.chmod(data / name, 0o644)
    os.chmod(data, 0o755)
    changed = tighten(data)
    assert mode(data) == 0o711 and mode(data / "journal") == 0o700
    assert all(mode(data / n) == 0o600 for n in ("voicectl.db", "voicectl.db-wal", "secrets.json",
                                                   "journal/calls.00000001.jsonl"))
    assert len(changed) == 6 and tighten(data) == []


async def test_the_ari_websocket_carries_its_credentials_in_a_header_not_the_url() -> None:
    seen: dict[str, Any] = {}

    class Session:
        async def ws_connect(self, url: str, **kwargs: Any) -> object:
            seen.update(url=url, **kwargs)
            return object()

        async def close(self) -> None:
            return None

    client = _HeaderAuthHttp("127.0.0.1", "voicectl", "s3cret-pw")
    await client.session.close()
    client.session = Session()  # type: ignore[assignment]
    await client.ws_connect("ws://127.0.0.1:8088/ari/events", {"app": "voicectl"})
    assert "s3cret" not in seen["url"] and "api_key" not in seen["url"] and seen["url"].endswith("?app=voicectl")
    assert seen["headers"]["Authorization"].startswith("Basic ") and seen["heartbeat"] > 0


def test_re_owning_the_instance_never_follows_a_link_asterisk_planted(tmp_path: Path) -> None:
    from control.pbx.config import Layout, _chown_tree

    if os.getuid() != 0:
        pytest.skip("re-owning happens only as root")
    victim = tmp_path / "shadow"
    victim.write_text("root's")
    instance = tmp_path / "asterisk"
    (instance / "log").mkdir(parents=True)
    (instance / "log" / "x").symlink_to(victim)
    (instance / "log" / "d").symlink_to(tmp_path)
    _chown_tree(Layout(instance, str(instance), 12345, 12345))
    assert victim.stat().st_uid == 0 and tmp_path.stat().st_uid == 0
    assert (instance / "log").stat().st_uid == 12345 and os.lstat(instance / "log" / "x").st_uid == 12345


def test_a_leftover_readable_temporary_file_does_not_make_the_secrets_readable(tmp_path: Path) -> None:
    leftover = tmp_path / "secrets.json.tmp"
    leftover.write_text("{}")
    os.chmod(leftover, 0o644)
    load_or_create(tmp_path)
    assert mode(tmp_path / "secrets.json") == 0o600


def test_node_names_are_checked_whole_and_a_bad_setting_is_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    from control.settings import Settings

    base = {"VOICECTL_DATA_DIR": str(tmp_path)}
    assert Settings.from_env({**base, "VOICECTL_NODE": "edge-1"}).node == "edge-1"
    for bad in ("a.east", "x" * 33, "-a", "a b", ""):
        try:
            Settings.from_env({**base, "VOICECTL_NODE": bad})
        except ValueError:
            continue
        raise AssertionError(f"node {bad!r} accepted")
    assert Settings.from_env(base).node  # the host name, made to fit
    env = {**os.environ, **base, "VOICECTL_NODE": "a.east"}
    proc = subprocess.run([sys.executable, "-m", "control.cli", "tenant", "list"], env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and "VOICECTL_NODE" in proc.stderr


def test_a_production_dialplan_has_no_test_caller(tmp_path: Path) -> None:
    import subprocess
    import sys

    rendered = {}
    for flag in ("0", "1"):
        data = tmp_path / f"data{flag}"
        env = {**os.environ, "VOICECTL_DATA_DIR": str(data), "VOICECTL_TEST_CALLER": flag}
        env.pop("DATABASE_URL", None)
        subprocess.run([sys.executable, "-m", "control.cli", "init"], env=env, check=True, capture_output=True)
        rendered[flag] = (data / "asterisk" / "etc" / "extensions.conf").read_text()
    assert "voicectl-test-caller" not in rendered["0"] and "MixMonitor" not in rendered["0"]
    assert "[voicectl-test-caller]" in rendered["1"]


def test_ari_and_ami_listen_only_where_the_control_plane_reaches_them() -> None:
    from control.pbx.config import _control_listener

    assert _control_listener("127.0.0.1") == ("127.0.0.1", "127.0.0.1/32")
    assert _control_listener("localhost") == ("127.0.0.1", "127.0.0.1/255.255.255.255")
    assert _control_listener("::1") == ("::1", "::1/128")
    assert _control_listener("10.0.0.5")[0] == "10.0.0.5"


def test_an_old_rootfs_gets_asterisk_a_host_user_of_its_own(tmp_path: Path) -> None:
    import pwd
    import subprocess

    from control.assets import MAP_USER_SCRIPT

    if os.getuid() != 0:
        pytest.skip("creating users and re-owning files needs root")
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\nasterisk:x:101:101:Asterisk:/var/lib/asterisk:/usr/sbin/nologin\n")
    (root / "etc" / "group").write_text("root:x:0:\nasterisk:x:101:\n")
    spool = root / "var" / "spool" / "asterisk"
    spool.mkdir(parents=True)
    os.chown(spool, 101, 101)
    shared = root / "etc" / "asterisk.conf"  # root's, readable by the asterisk group
    shared.write_text("")
    os.chown(shared, 0, 101)
    for _ in range(2):  # the second run changes nothing
        subprocess.run(["bash", str(MAP_USER_SCRIPT), str(root)], check=True)
    host = pwd.getpwnam("voicectl-asterisk")
    assert f"asterisk:x:{host.pw_uid}:{host.pw_gid}:" in (root / "etc" / "passwd").read_text()
    assert f"asterisk:x:{host.pw_gid}:" in (root / "etc" / "group").read_text()
    assert (spool.stat().st_uid, spool.stat().st_gid) == (host.pw_uid, host.pw_gid)
    assert (shared.stat().st_uid, shared.stat().st_gid) == (0, host.pw_gid), "root's file stays root's"


def test_rendering_never_creates_a_file_through_a_link_in_etc(tmp_path: Path) -> None:
    from control.pbx.config import _create_once

    victim = tmp_path / "nologin"
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "extensions_local.conf").symlink_to(victim)
    _create_once(etc / "extensions_local.conf", "x")
    assert not victim.exists()
    _create_once(etc / "fresh.conf", "x")
    assert (etc / "fresh.conf").read_text() == "x"


def test_a_mangled_secrets_file_is_one_clear_line_not_a_traceback(tmp_path: Path) -> None:
    import subprocess
    import sys

    init, add = ["init"], ["trunk", "add", "t1", "--host", "127.0.0.1"]
    cases = [("secrets.json", "{bad", init), ("secrets.json", "[1, 2]", init),
             ("secrets.json", '{"ari_password": 7}', init), ("trunk_passwords.json", "[1, 2]", init),
             ("trunk_passwords.json", "{bad", add)]
    for i, (name, content, args) in enumerate(cases):
        data = tmp_path / f"data{i}"
        data.mkdir()
        (data / name).write_text(content)
        env = {**os.environ, "VOICECTL_DATA_DIR": str(data)}
        env.pop("DATABASE_URL", None)
        proc = subprocess.run([sys.executable, "-m", "control.cli", *args], env=env, capture_output=True, text=True)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, (name, content, args, proc.stderr)
        assert name in proc.stderr and "damaged" in proc.stderr, proc.stderr
        assert (data / name).read_text() == content, "an unreadable secret is never overwritten"
