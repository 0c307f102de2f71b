"""Render Asterisk's configuration from the packaged templates into the instance directory.

Nothing in the package is written: templates live in control/assets/asterisk/templates and
control/assets/dialplan, the result in DATA_DIR/asterisk/etc. Rendering is idempotent and cheap, so every start and every
trunk change re-renders.
"""
from __future__ import annotations

import ipaddress
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import jinja2

from control.files import ORDINARY, OWNER_ONLY, replace_whole
from control.assets import MAP_USER_SCRIPT, TEMPLATE_DIRS
from control.errors import Invalid
from control.pbx.secrets import PbxSecrets
from control.settings import Settings
from control.trunks import validate
from control.trunks.passwords import TrunkPasswords
from control.trunks.service import TrunkSpec, parse_trunk

log = logging.getLogger(__name__)

# spool/recording: where ARI's channel recordings go (the record branch); Asterisk does not
# create it, and refuses to record without it.
INSTANCE_SUBDIRS = ("etc", "run", "db", "spool", "spool/recording", "log", "keys", "media")
ROOTFS_MOUNT = "/srv/voicectl"
RENDERED_MARKER = ".rendered"
# Rendered files that hold secrets (ARI and AMI passwords, trunk credentials): readable by
# Asterisk's user only.
PRIVATE = {"pjsip_trunks.conf", "ari.conf", "manager.conf"}


@dataclass(frozen=True)
class Layout:
    """Where the instance lives on the host, and the same place as Asterisk sees it."""

    host_dir: Path
    seen_as: str
    uid: int
    gid: int


def host_asterisk() -> str | None:
    return shutil.which("asterisk")


def layout(settings: Settings) -> Layout:
    host_dir = settings.asterisk_dir
    if not settings.manage_asterisk or host_asterisk():
        # A host Asterisk reads the instance in place. One in another container mounts the
        # same volume at the same path, as the user the control image names `asterisk` too,
        # with the same uid (Dockerfile): what the control plane writes there is that user's.
        import pwd

        try:
            user = pwd.getpwnam("asterisk")
            return Layout(host_dir, str(host_dir), user.pw_uid, user.pw_gid)
        except KeyError:
            return Layout(host_dir, str(host_dir), os.getuid(), os.getgid())
    uid, gid = _rootfs_user(settings.asterisk_rootfs)
    return Layout(host_dir, ROOTFS_MOUNT, uid, gid)


def module_dir(settings: Settings) -> str:
    """Asterisk's module directory as Asterisk sees it (multiarch path differs per machine)."""
    root = Path("/") if host_asterisk() or not settings.manage_asterisk else settings.asterisk_rootfs or Path("/")
    for found in sorted(root.glob("usr/lib/*/asterisk/modules")) + sorted(root.glob("usr/lib/asterisk/modules")):
        return "/" + str(found.relative_to(root))
    return "/usr/lib/x86_64-linux-gnu/asterisk/modules"


def map_asterisk_user(settings: Settings) -> None:
    """A rootfs built by an older version runs Asterisk under another host account's uid:
    give it the host user of its own (assets/asterisk/map-user.sh; a no-op once done)."""
    rootfs = settings.asterisk_rootfs
    if not settings.manage_asterisk or host_asterisk() or os.getuid() != 0 or rootfs is None:
        return
    if (rootfs / "etc" / "passwd").exists():
        subprocess.run(["bash", str(MAP_USER_SCRIPT), str(rootfs)], check=True)


def _rootfs_user(rootfs: Path | None) -> tuple[int, int]:
    passwd = (rootfs or Path("/nonexistent")) / "etc" / "passwd"
    if passwd.exists():
        for line in passwd.read_text().splitlines():
            fields = line.split(":")
            if fields[0] == "asterisk":
                return int(fields[2]), int(fields[3])
    return os.getuid(), os.getgid()


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(d) for d in TEMPLATE_DIRS]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["uri_host"] = validate.uri_host
    # Asterisk's parser reads an unescaped `;` as the start of a comment.
    env.filters["conf_value"] = lambda text: text.replace(";", "\\;")
    return env


def renderable(settings: Settings, trunks: Iterable[TrunkSpec]) -> list[TrunkSpec]:
    """The trunks as the database holds them, checked again as they are about to be written,
    with their passwords (which the database never holds).

    A row that fails (written before these checks existed, or its password file lost) is left
    out and logged: written, it would break the file and every trunk after it. Leaving it out
    shows it as missing in control.pbx.check, so the operator still hears of it."""
    passwords = TrunkPasswords(settings.data_dir).load()
    specs = []
    for t in trunks:
        target = f"{validate.uri_host(t.target_host)}:{t.target_port}"
        try:
            specs.append(parse_trunk(t.name, t.matches, target, username=t.username,
                                     password=passwords.get(t.name) if t.username is not None else None,
                                     register=t.register))
        except Invalid as exc:
            log.error("trunk %r left out of pjsip_trunks.conf: %s", t.name, "; ".join(exc.errors))
    return specs


def _trunk_values(settings: Settings, trunks: Iterable[TrunkSpec]) -> dict[str, object]:
    return {"trunks": renderable(settings, trunks), "rtp_timeout": settings.rtp_timeout}


def _control_listener(asterisk_host: str) -> tuple[str, str]:
    """Where ARI and AMI listen and whom AMI lets in: the address the control plane reaches
    Asterisk at (loopback by default, where only that address gets in). Off loopback AMI
    admits any source (the control plane's own address is not known here), and a host name (a
    compose service, say) leaves them on every address: firewall both cases."""
    if asterisk_host == "localhost":
        return "127.0.0.1", "127.0.0.1/255.255.255.255"
    try:
        address = ipaddress.ip_address(asterisk_host.strip("[]"))
    except ValueError:
        return "0.0.0.0", "0.0.0.0/0.0.0.0"
    # On loopback only the control plane's own address gets in; elsewhere it may come from
    # any address of its network, which the operator's firewall narrows.
    return str(address), f"{address}/{address.max_prefixlen}" if address.is_loopback else "0.0.0.0/0.0.0.0"


def render(settings: Settings, secrets: PbxSecrets, trunks: Iterable[TrunkSpec]) -> Layout:
    """Write every config file; return the layout so the runner knows where it is."""
    where = layout(settings)
    for sub in INSTANCE_SUBDIRS:
        (where.host_dir / sub).mkdir(parents=True, exist_ok=True)
    # ARI and AMI listen on loopback unless the control plane reaches Asterisk elsewhere.
    ari_bind, ami_permit = _control_listener(settings.asterisk_host)
    values = {
        "inst": where.seen_as,
        "moddir": module_dir(settings),
        "etc": where.host_dir / "etc",
        "systemname": settings.node,
        "ari_bind": ari_bind,
        "ari_port": settings.ari_port,
        "ami_port": settings.ami_port,
        "ami_permit": ami_permit,
        "sip_bind": settings.sip_bind,
        "sip_port": settings.sip_port,
        "rtp_start": settings.rtp_ports[0],
        "rtp_end": settings.rtp_ports[1],
        "app": settings.app_name,
        "test_caller": settings.test_caller,
        **_trunk_values(settings, trunks),
        **{k: v for k, v in secrets.__dict__.items()},
    }
    env = _environment()
    etc = where.host_dir / "etc"
    for name in env.list_templates(extensions=["j2"]):
        target = etc / name[: -len(".j2")]
        _write_if_changed(target, env.get_template(name).render(values), private=target.name in PRIVATE)
    _create_once(etc / "extensions_local.conf", "; Your own dialplan contexts; voicectl never overwrites this file.\n")
    _chown_tree(where)
    # Last: an Asterisk started elsewhere (containers/asterisk) waits for this, not for a
    # config half written.
    _write_if_changed(etc / RENDERED_MARKER, "rendered by voicectl\n")
    return where


def _create_once(path: Path, text: str) -> None:
    """Create the file unless it exists; never through a link (Asterisk's user owns etc/ and
    could plant one pointing at a file root would then create)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o640)
    except FileExistsError:
        return
    with os.fdopen(fd, "w") as out:
        out.write(text)


def render_trunks(settings: Settings, trunks: Iterable[TrunkSpec]) -> bool:
    """Re-render only the trunk file; True when it changed (so PJSIP needs a reload)."""
    where = layout(settings)
    text = _environment().get_template("pjsip_trunks.conf.j2").render(_trunk_values(settings, trunks))
    changed = _write_if_changed(where.host_dir / "etc" / "pjsip_trunks.conf", text, private=True)
    _chown_tree(where)
    return changed


def _write_if_changed(target: Path, text: str, private: bool = False) -> bool:
    """private: for the owner's eyes only (0600) from the moment the file exists; otherwise
    the umask decides, as for any file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and target.read_text() == text:
        if private:
            os.chmod(target, 0o600)  # one an older version wrote was readable by everyone
        return False
    replace_whole(target, text, OWNER_ONLY if private else ORDINARY)
    return True


def _chown_tree(where: Layout) -> None:
    """Hand the instance directory to Asterisk's user. Asterisk's user owns log/, spool/ and
    run/ and may plant links there, or swap a directory for one mid-walk: the walk goes by
    directory descriptors and never follows a link, or this root-run walk would hand the
    link's target (say /etc) to that user."""
    if os.getuid() != 0:
        return
    os.chown(where.host_dir, where.uid, where.gid, follow_symlinks=False)
    for _root, dirs, files, dir_fd in os.fwalk(where.host_dir, follow_symlinks=False):
        for name in dirs + files:
            os.chown(name, where.uid, where.gid, dir_fd=dir_fd, follow_symlinks=False)
