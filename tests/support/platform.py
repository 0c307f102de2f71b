"""Start a whole platform instance (`voicectl up`) on ports of its own, for tests and bench.

Each instance gets its own data directory, database, SIP/ARI/AMI/HTTP ports and RTP range;
they share only the Asterisk rootfs, so several run side by side with `make run`'s.
"""
from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, TypeVar

from control.settings import Settings
from tests.support.wait import eventually

T = TypeVar("T")
VOICECTL = [sys.executable, "-m", "control.cli"]
DEFAULT_ROOTFS = "/var/lib/voicectl/rootfs"


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthz(http_port: int) -> tuple[int, dict[str, Any]]:
    """/healthz's status and body (0 and nothing while nothing answers)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/healthz", timeout=5) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)
    except OSError:
        return 0, {}


def free_ports() -> dict[str, int]:
    """TCP ports for HTTP/ARI/AMI and a UDP port for SIP, all currently unused."""
    ports: dict[str, int] = {}
    while len(set(ports.values())) < 4:
        ports = {"http": free_port(), "ari": free_port(), "ami": free_port(),
                 "sip": free_port(socket.SOCK_DGRAM)}
    return ports


@dataclass
class Instance:
    data_dir: Path
    ports: dict[str, int]
    rtp: tuple[int, int]
    log_path: Path
    proc: subprocess.Popen | None = None
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(cls, data_dir: Path, rtp: tuple[int, int], database_url: str | None = None) -> "Instance":
        ports = free_ports()
        env = dict(os.environ)
        env.update({
            "VOICECTL_DATA_DIR": str(data_dir),
            "VOICECTL_ASTERISK_ROOTFS": os.environ.get("VOICECTL_ASTERISK_ROOTFS", DEFAULT_ROOTFS),
            "VOICECTL_HTTP_PORT": str(ports["http"]),
            "VOICECTL_SIP_PORT": str(ports["sip"]),
            "VOICECTL_ARI_PORT": str(ports["ari"]),
            "VOICECTL_AMI_PORT": str(ports["ami"]),
            "VOICECTL_RTP_PORTS": f"{rtp[0]}-{rtp[1]}",
            "VOICECTL_SIP_BIND": "127.0.0.1",
            # Instances on one machine are separate nodes: their channel ids never collide.
            "VOICECTL_NODE": f"t{ports['sip']}",
            "VOICECTL_TEST_CALLER": "1",
        })
        env.pop("DATABASE_URL", None)
        if database_url:
            env["DATABASE_URL"] = database_url
        return cls(data_dir, ports, rtp, data_dir / "voicectl.log", env=env)

    @property
    def settings(self) -> Settings:
        return Settings.from_env(self.env)

    @property
    def sip_target(self) -> str:
        return f"127.0.0.1:{self.ports['sip']}"

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([*VOICECTL, *args], env=self.env, capture_output=True, text=True, timeout=60)
        if check and proc.returncode != 0:
            raise AssertionError(f"voicectl {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    def start(self, timeout: float = 60) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([*VOICECTL, "up"], env=self.env, stdout=log, stderr=log,
                                     start_new_session=True)
        self.wait_healthy(timeout)

    def health(self) -> tuple[int, dict[str, Any]]:
        return healthz(self.ports["http"])

    def wait_healthy(self, timeout: float = 60) -> dict[str, Any]:
        def healthy() -> dict[str, Any] | None:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"voicectl up exited with {self.proc.returncode}:\n{self.log_tail()}")
            code, body = self.health()
            return body if code == 200 else None

        return eventually(healthy, timeout, lambda: f"not healthy: {self.health()}\n{self.log_tail()}", interval=0.2)

    def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            return self.proc.wait(10)

    def first_tenant(self) -> str:
        """The tenant of the first number listed: the demo tenant, after `voicectl demo`."""
        return json.loads(self.cli("number", "list", "--json").stdout)[0]["tenant"]

    def add_ivr(self, number: str, document: str | dict[str, Any], tenant: str | None = None) -> str:
        """`number` added to `tenant` (by default first_tenant()), running `document` (YAML text,
        or a dict)."""
        self.cli("number", "add", number, "--tenant", tenant or self.first_tenant())
        path = self.data_dir / f"ivr-{number.lstrip('+')}.{'yaml' if isinstance(document, str) else 'json'}"
        path.write_text(document if isinstance(document, str) else json.dumps(document))
        self.cli("ivr", "import", str(path), "--number", number)
        return number

    def asterisk_pid(self) -> int:
        return int((self.data_dir / "asterisk" / "run" / "asterisk.pid").read_text().strip())

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def ari(self, method: str, path: str, params: dict[str, str] | None = None,
            body: dict[str, Any] | None = None) -> Any:
        secrets = json.loads((self.data_dir / "secrets.json").read_text())
        # Credentials in a header, never in the URL (where logs and proxies keep them).
        basic = base64.b64encode(f"{secrets['ari_user']}:{secrets['ari_password']}".encode()).decode()
        query = "?" + urllib.parse.urlencode(params) if params else ""
        req = urllib.request.Request(f"http://127.0.0.1:{self.ports['ari']}/ari/{path}{query}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json", "Authorization": f"Basic {basic}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            text = r.read()
        return json.loads(text) if text else None

    def db(self, work: Callable[[Any], Awaitable[T]]) -> T:
        """Run a service function against this instance's database."""
        from control.store.db import make_engine, sessions

        async def run() -> T:
            engine = make_engine(self.settings.database_url)
            try:
                return await work(sessions(engine))
            finally:
                await engine.dispose()

        return asyncio.run(run())

