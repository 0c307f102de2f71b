"""The container stack (docker-compose.yml) from a clean build, as `make test-compose` runs it:
podman-compose builds the three images without its cache and starts them on ports of their
own, a SIP call from the host runs the demo IVR, the call's record is read inside the control
container, and the stack is torn down, volumes and images included. containers/setup.sh must
have run first (the make target runs it)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.support import sipp
from tests.support.platform import free_ports, healthz
from tests.support.wait import eventually

REPO = Path(__file__).resolve().parents[2]
PROJECT = "voicectl-compose-test"  # apart from a stack of the operator's own
RTP = (48000, 48499)
SIPP_MEDIA_PORT = 48600
CALLER = "15557650001"
ASTERISK_DIR = "/var/lib/voicectl/asterisk"


class Stack:
    def __init__(self) -> None:
        self.ports = free_ports()
        self.env = {**os.environ,
                    "VOICECTL_HTTP_PORT": str(self.ports["http"]), "VOICECTL_SIP_PORT": str(self.ports["sip"]),
                    "VOICECTL_ARI_PORT": str(self.ports["ari"]), "VOICECTL_AMI_PORT": str(self.ports["ami"]),
                    "VOICECTL_RTP_PORTS": f"{RTP[0]}-{RTP[1]}"}
        self.argv = [str(Path(sys.executable).parent / "podman-compose"), "-p", PROJECT,
                     "-f", str(REPO / "docker-compose.yml")]

    def compose(self, *args: str, timeout: float = 300) -> str:
        proc = subprocess.run([*self.argv, *args], env=self.env, cwd=REPO, capture_output=True, text=True,
                              timeout=timeout)
        assert proc.returncode == 0, (f"podman-compose {' '.join(args)} failed ({proc.returncode}):\n"
                                      f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        return proc.stdout

    @staticmethod
    def container(service: str) -> str:
        return f"{PROJECT}_{service}_1"

    def inspect(self, service: str, template: str) -> str:
        return podman("inspect", "-f", template, self.container(service)).strip()

    def wait_healthy(self, timeout: float = 120) -> None:
        eventually(lambda: healthz(self.ports["http"])[0] == 200, timeout, self._not_healthy, interval=1)

    def _not_healthy(self) -> str:
        return "the stack is not healthy:\n" + "\n".join(
            f"--- {s}\n" + subprocess.run(["podman", "logs", "--tail", "30", self.container(s)],
                                           capture_output=True, text=True).stderr
            for s in ("postgres", "control", "asterisk"))

    def asterisk_files(self) -> dict[str, tuple[str, ...]]:
        """Path -> (owner, mode, size, mtime) of everything in Asterisk's instance directory."""
        out = podman("exec", self.container("asterisk"), "find", ASTERISK_DIR, "-printf", r"%p\t%u:%g\t%m\t%s\t%T@\n")
        return {path: tuple(rest) for path, *rest in (line.split("\t") for line in out.splitlines())}


def podman(*args: str) -> str:
    proc = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"podman {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def listening(proc_net: str) -> list[tuple[str, int]]:
    """(hex address, port) of the listening sockets in a /proc/net/tcp or tcp6 table."""
    found = []
    for line in proc_net.splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        if state == "0A":
            address, port = local.rsplit(":", 1)
            found.append((address, int(port, 16)))
    return found


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    if not (REPO / ".env").exists():
        pytest.fail("no .env: run containers/setup.sh (`make test-compose` does)", pytrace=False)
    stack = Stack()
    stack.compose("down", "--volumes", "--rmi", "all")  # whatever an interrupted run left
    try:
        stack.compose("build", "--no-cache", timeout=1800)
        stack.compose("up", "-d")
        stack.wait_healthy()
        yield stack
    finally:
        stack.compose("down", "--volumes", "--rmi", "all")
    label = f"label=io.podman.compose.project={PROJECT}"
    assert not podman("ps", "-a", "-q", "--filter", label).strip(), "containers left behind"
    assert not podman("volume", "ls", "-q", "--filter", label).strip(), "volumes left behind"


def test_a_sip_call_runs_the_demo_ivr(stack: Stack, tmp_path: Path) -> None:
    """SIPp on the host presses 2 in the demo menu; the platform says goodbye and hangs up."""
    result = sipp.sip_call(f"127.0.0.1:{stack.ports['sip']}", tmp_path, "8005550100",
                           [("pause", 2000), ("dtmf", "2"), ("expect_bye",)], caller=CALLER,
                           media_port=SIPP_MEDIA_PORT)
    sipp.assert_ok(result)
    calls: list[dict[str, Any]] = []

    def ended() -> dict[str, Any] | None:
        calls[:] = json.loads(stack.compose("exec", "-T", "control", "voicectl", "calls", "list", "--json"))
        return next((c for c in calls if c["caller_id"] == CALLER and c["ended_at"]), None)

    call = eventually(ended, 10, interval=0.5)
    assert call is not None, f"no ended record of the call: {calls}"
    assert (call["number"], call["hangup_by"]) == ("+18005550100", "platform")
    assert call["branch_data"] == [{"branch": "0", "input": "2"}, {"branch": "900", "input": ""}]


def test_the_healthcheck_asks_healthz(stack: Stack) -> None:
    # Podman schedules healthchecks with systemd timers, which these machines lack: run it once.
    podman("healthcheck", "run", stack.container("control"))
    assert stack.inspect("control", "{{.State.Health.Status}}") == "healthy"


def test_postgres_has_no_network_and_one_client(stack: Stack) -> None:
    """No network, no TCP listener; the volume holding its socket is the control plane's alone,
    and the password is generated into .env, never written in the compose file."""
    assert stack.inspect("postgres", "{{.HostConfig.NetworkMode}}") == "none"
    tables = podman("exec", stack.container("postgres"), "cat", "/proc/net/tcp", "/proc/net/tcp6")
    assert listening(tables) == []
    with_socket = [s for s in ("asterisk", "control", "postgres")
                   if "/run/postgresql" in stack.inspect(s, "{{range .Mounts}}{{.Destination}} {{end}}").split()]
    assert with_socket == ["control", "postgres"]
    password = next(line.split("=", 1)[1] for line in (REPO / ".env").read_text().splitlines()
                    if line.startswith("VOICECTL_DB_PASSWORD="))
    assert len(password) >= 32 and password not in (REPO / "docker-compose.yml").read_text()
    assert (REPO / ".env").stat().st_mode & 0o077 == 0


def test_nothing_is_published_and_http_ari_ami_stay_on_loopback(stack: Stack) -> None:
    """Asterisk and the control plane are on the host's network, where SIP and RTP must face
    callers; the rest listens on the host's loopback, as under `make run`."""
    for service in ("asterisk", "control", "postgres"):
        assert podman("port", stack.container(service)).strip() == "", f"{service} publishes ports"
    host = listening(Path("/proc/net/tcp").read_text()) + listening(Path("/proc/net/tcp6").read_text())
    for name in ("http", "ari", "ami"):
        bound = {address for address, port in host if port == stack.ports[name]}
        assert bound == {"0100007F"}, f"{name} port {stack.ports[name]} listens on {bound}"


def test_a_control_restart_changes_nothing_asterisk_owns(stack: Stack) -> None:
    """The control container runs `voicectl init` and `demo` at each start: Asterisk's files keep
    their owner and mode (an init that made them root's left Asterisk unable to write its own
    database and logs), and its config is not rewritten."""
    before = stack.asterisk_files()
    stack.compose("restart", "control")
    stack.wait_healthy()
    after = stack.asterisk_files()
    assert {owner for owner, *_ in after.values()} == {"asterisk:asterisk"}
    assert {p: v[:2] for p, v in after.items() if p in before} == {p: v[:2] for p, v in before.items()}
    config = f"{ASTERISK_DIR}/etc/"
    assert {p: v for p, v in after.items() if p.startswith(config)} == \
        {p: v for p, v in before.items() if p.startswith(config)}
