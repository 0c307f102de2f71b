"""One settings object, read from VOICECTL_* environment variables (each has a default).

Two instances with different settings run side by side on one machine: every port, the data
directory and the database are settings, and nothing else is shared but the Asterisk rootfs.
"""
from __future__ import annotations

import ipaddress
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Union


def _port_range(text: str) -> tuple[int, int]:
    low, _, high = text.partition("-")
    start, end = int(low), int(high or low)
    if not 0 < start <= end < 65536:
        raise ValueError(f"VOICECTL_RTP_PORTS: {text!r} is not a range like 30000-31000")
    return start, end


WebhookAllow = Union[str, tuple[Union[ipaddress.IPv4Network, ipaddress.IPv6Network], ...]]


def parse_webhook_allow(text: str) -> WebhookAllow:
    """VOICECTL_WEBHOOK_ALLOW: `any`, `public` or a tuple of networks; ValueError naming what
    does not parse (checked at start, so a typo stops `up` with one line, not the first webhook)."""
    text = text.strip().lower()
    if text in ("any", "public"):
        return text
    networks = []
    for item in (i.strip() for i in text.split(",")):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"VOICECTL_WEBHOOK_ALLOW: {item!r} is not a CIDR; give 'any', 'public' "
                             "or CIDRs separated by commas") from None
    return tuple(networks)


NODE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")


def _node_name(env: Mapping[str, str]) -> str:
    """A node name goes into Asterisk's config and every channel id. One that is set is checked
    whole (cutting `a.east` and `a.west` to `a` would make two nodes one); the host name,
    the default, is made to fit: its first label, other characters as `-`, 32 at most."""
    given = env.get("VOICECTL_NODE")
    if given is not None:
        if not NODE_NAME.fullmatch(given):
            raise ValueError(f"VOICECTL_NODE: {given!r} must be 1-32 letters, digits, - or _, "
                             "starting with a letter or digit")
        return given
    label = re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname().split(".")[0])[:32].strip("-_")
    return label if NODE_NAME.fullmatch(label) else "voicectl"


def _at_least_one(env: Mapping[str, str], name: str, default: int) -> int:
    """A whole-number setting that 0 or less would break (every request refused), refused at start."""
    value = int(env.get(name, default))
    if value < 1:
        raise ValueError(f"{name}: must be a whole number from 1, not {value}")
    return value


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    http_port: int = 8080
    sip_port: int = 5060
    ari_port: int = 8088
    ami_port: int = 5038
    rtp_ports: tuple[int, int] = (30000, 31000)
    database_url: str = ""
    # Where the Debian sid rootfs lives when the host has no Asterisk; tests point every
    # instance at one shared copy so it is built once.
    asterisk_rootfs: Path | None = None
    # Where Asterisk and the control plane reach each other. The defaults fit one host, and
    # docker-compose.yml too (both containers are on the host's network).
    asterisk_host: str = "127.0.0.1"
    http_host: str = "127.0.0.1"
    media_url: str = ""
    sip_bind: str = "0.0.0.0"
    manage_asterisk: bool = True
    app_name: str = "voicectl"
    # Per-call ARI requests go as messages on the event websocket when Asterisk takes them
    # there (control/telephony/ari_ws.py); off, or on an older Asterisk, over HTTP.
    ari_ws_requests: bool = True
    # Nice value for the control plane's event loop (control/priority.py); 0 leaves it alone.
    loop_nice: int = 0
    # This node's name: Asterisk's system name and every channel id carry it, so nodes sharing
    # one database never collide, and each reconciles only its own calls.
    node: str = "voicectl"
    # A call whose far end sends no RTP for this long is hung up (PJSIP rtp_timeout).
    rtp_timeout: int = 60
    # No call lasts longer than this, whatever its IVR does.
    max_call_seconds: int = 4 * 3600
    # Admission control: beyond this many calls in progress, or while the event loop lags
    # more than max_loop_lag_ms, new calls are refused with SIP 503. Asterisk's CPU is what
    # runs out first: 160 calls in progress per core failed no call in any overload run, quiet
    # or slow machine; 220 failed a hundred when the machine was slow (bench/README.md).
    max_calls: int = 160 * (os.cpu_count() or 1)
    max_loop_lag_ms: int = 500
    # ... and while calls take longer than this from INVITE to answer.
    max_answer_ms: int = 300
    # On SIGTERM, running calls get this long to finish before the platform hangs them up.
    drain_seconds: float = 30.0
    # Render the dialplan caller the tests and bench use (never on a production node).
    test_caller: bool = False
    # Call records are written to the database in batches this far apart (journaled at once).
    record_batch_s: float = 0.2
    # TTS: renders running at once, and the size the on-disk cache is kept under.
    tts_renders: int = 2
    tts_cache_mb: int = 512
    # Where webhooks (API-branch triggers) may go, beyond what is never allowed (the platform's
    # own ARI, AMI and HTTP ports, link-local and metadata addresses; control/webhooks/policy.py):
    # `any` (the default), `public` (globally routable addresses only) or a comma-separated
    # list of CIDRs, e.g. `10.20.0.0/16,203.0.113.7/32`, held parsed (the networks).
    webhook_allow: WebhookAllow = "any"
    # The REST faces: the largest request body (an upload), and requests a minute per tenant
    # (per process: N replicas allow N times as many).
    api_max_body_mb: int = 25
    api_requests_per_minute: int = 600
    # Notification calls: how long one rings, how many times a broadcast's busy or unanswered
    # recipient is tried and how far apart, and this node's cap on them at once (inside
    # max_calls, so inbound callers keep the rest).
    notify_ring_s: float = 30.0
    notify_attempts: int = 3
    notify_retry_s: float = 300.0
    broadcast_max_calls: int = 0  # 0: half of max_calls

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        # Each default is the field's own (above): one place, so the two cannot drift.
        env = os.environ if env is None else env
        data_dir = Path(env.get("VOICECTL_DATA_DIR", "/var/lib/voicectl")).resolve()
        http_port = int(env.get("VOICECTL_HTTP_PORT", "8080"))
        http_host = env.get("VOICECTL_HTTP_HOST", "127.0.0.1")
        rootfs = env.get("VOICECTL_ASTERISK_ROOTFS")
        return cls(
            data_dir=data_dir,
            http_port=http_port,
            sip_port=int(env.get("VOICECTL_SIP_PORT", "5060")),
            ari_port=int(env.get("VOICECTL_ARI_PORT", "8088")),
            ami_port=int(env.get("VOICECTL_AMI_PORT", "5038")),
            rtp_ports=_port_range(env.get("VOICECTL_RTP_PORTS", "30000-31000")),
            database_url=env.get("DATABASE_URL") or f"sqlite+aiosqlite:///{data_dir / 'voicectl.db'}",
            asterisk_rootfs=Path(rootfs).resolve() if rootfs else data_dir / "rootfs",
            asterisk_host=env.get("VOICECTL_ASTERISK_HOST", "127.0.0.1"),
            http_host=http_host,
            media_url=env.get("VOICECTL_MEDIA_URL", f"http://127.0.0.1:{http_port}"),
            sip_bind=env.get("VOICECTL_SIP_BIND", "0.0.0.0"),
            manage_asterisk=env.get("VOICECTL_MANAGE_ASTERISK", "1") not in ("0", "false", "no"),
            app_name=env.get("VOICECTL_APP", "voicectl"),
            ari_ws_requests=env.get("VOICECTL_ARI_WS_REQUESTS", "1") not in ("0", "false", "no"),
            loop_nice=int(env.get("VOICECTL_NICE", cls.loop_nice)),
            node=_node_name(env),
            rtp_timeout=int(env.get("VOICECTL_RTP_TIMEOUT", cls.rtp_timeout)),
            max_call_seconds=int(env.get("VOICECTL_MAX_CALL_SECONDS", cls.max_call_seconds)),
            max_calls=int(env.get("VOICECTL_MAX_CALLS", cls.max_calls)),
            max_loop_lag_ms=int(env.get("VOICECTL_MAX_LOOP_LAG_MS", cls.max_loop_lag_ms)),
            max_answer_ms=int(env.get("VOICECTL_MAX_ANSWER_MS", cls.max_answer_ms)),
            drain_seconds=float(env.get("VOICECTL_DRAIN_SECONDS", cls.drain_seconds)),
            test_caller=env.get("VOICECTL_TEST_CALLER", "0") in ("1", "true", "yes"),
            record_batch_s=float(env.get("VOICECTL_RECORD_BATCH_S", cls.record_batch_s)),
            tts_renders=int(env.get("VOICECTL_TTS_RENDERS", cls.tts_renders)),
            tts_cache_mb=int(env.get("VOICECTL_TTS_CACHE_MB", cls.tts_cache_mb)),
            webhook_allow=parse_webhook_allow(env.get("VOICECTL_WEBHOOK_ALLOW", "any")),
            notify_ring_s=float(env.get("VOICECTL_NOTIFY_RING_S", cls.notify_ring_s)),
            notify_attempts=_at_least_one(env, "VOICECTL_NOTIFY_ATTEMPTS", cls.notify_attempts),
            notify_retry_s=float(env.get("VOICECTL_NOTIFY_RETRY_S", cls.notify_retry_s)),
            broadcast_max_calls=int(env.get("VOICECTL_BROADCAST_MAX_CALLS", cls.broadcast_max_calls)),
            api_max_body_mb=_at_least_one(env, "VOICECTL_API_MAX_BODY_MB", cls.api_max_body_mb),
            api_requests_per_minute=_at_least_one(env, "VOICECTL_API_REQUESTS_PER_MINUTE",
                                                  cls.api_requests_per_minute),
        )

    @property
    def asterisk_dir(self) -> Path:
        """The Asterisk instance directory: rendered config, run, db, spool and log dirs."""
        return self.data_dir / "asterisk"

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    @property
    def ari_url(self) -> str:
        return f"http://{self.asterisk_host}:{self.ari_port}/"
