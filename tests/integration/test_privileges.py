"""What another local user can reach: no secrets, no database, no Asterisk config; and
Asterisk runs as a host account of its own, not as whoever holds its rootfs uid."""
from __future__ import annotations

import pwd
import shutil
import stat
from pathlib import Path

from tests.support.platform import Instance


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_secrets_database_and_asterisk_config_are_not_for_other_users(platform: Instance) -> None:
    data = platform.data_dir
    etc = data / "asterisk" / "etc"
    for private in (etc / "ari.conf", etc / "manager.conf", etc / "pjsip_trunks.conf",
                    data / "secrets.json", data / "voicectl.db"):
        assert mode(private) & 0o077 == 0, f"{private} is {oct(mode(private))}"
    assert mode(data) & 0o004 == 0, "other users must not list the data directory"
    for config in etc.iterdir():
        assert mode(config) & 0o007 == 0, f"{config} is readable by others"


def test_asterisk_runs_as_a_host_user_of_its_own(platform: Instance) -> None:
    if shutil.which("asterisk"):
        expected = "asterisk"  # a host package brings its own user
    else:
        expected = "voicectl-asterisk"
    uid = int(next(line.split()[1] for line in Path(f"/proc/{platform.asterisk_pid()}/status").read_text().splitlines()
                   if line.startswith("Uid:")))
    assert pwd.getpwuid(uid).pw_name == expected
    assert pwd.getpwuid((platform.data_dir / "asterisk" / "etc" / "ari.conf").stat().st_uid).pw_name == expected
