"""Which URLs a webhook may reach.

A tenant names the URL, and the platform makes the request from inside the operator's network,
so a URL is a way in: to Asterisk's ARI and AMI (full control of every call), to our own HTTP
API, to the cloud's metadata service (credentials). Those are refused whatever the setting;
`VOICECTL_WEBHOOK_ALLOW` narrows the rest:

    any      everything not refused above (the default; tests run webhook servers on 127.0.0.1)
    public   globally routable addresses only
    CIDRs    a comma-separated list, e.g. `10.20.0.0/16,203.0.113.7/32`

A URL is checked in two parts. `url_syntax_problem` reads the text alone, with no settings:
scheme, host, no user info, length; a trigger branch's url passes it when its IVR is parsed.
`WebhookPolicy.host_problem` judges where the URL's host leads when it is an address (when an
IVR is imported); `WebhookPolicy.url_problem` is both, before each request. Names are checked
where they resolve, at connect time, by `GuardedResolver`, on every address the name gives, so
a name that resolves to a public address for the check and to 169.254.169.254 for the request
(DNS rebinding) gets nowhere. The client follows no redirects, so a Location header is no way
around either.
"""
from __future__ import annotations

import ipaddress
import logging
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

from control.settings import Settings

log = logging.getLogger(__name__)

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

ALLOW_ANY = "any"
ALLOW_PUBLIC = "public"
MAX_URL = 2048
# Metadata services outside link-local: AWS's IPv6 one and Alibaba's (in shared address space).
METADATA = frozenset(ipaddress.ip_address(a) for a in ("fd00:ec2::254", "100.100.100.200"))
# 0.0.0.0/8 is "this network": Linux connects 0.0.0.0 to itself.
THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
BROADCAST = ipaddress.ip_address("255.255.255.255")
# Digits, dots and hex only, yet no address: 2130706433, 127.1, 0x7f.1 all reach 127.0.0.1.
NUMERIC_HOST = re.compile(r"(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+))*\.?")



class Refused(OSError):
    """A resolved address the policy refuses: an OSError so aiohttp reports it as a failed
    connection, which the client then names as a refusal."""


def _unmapped(ip: IPAddress) -> IPAddress:
    # ::ffff:169.254.169.254 connects to 169.254.169.254: judge it as that.
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


@dataclass(frozen=True)
class WebhookPolicy:
    allow: str | tuple[IPNetwork, ...] = ALLOW_ANY
    # Port -> what listens there ("ARI"), refused on loopback and on `own_addresses`.
    platform_ports: dict[int, str] = field(default_factory=dict)
    own_addresses: frozenset[IPAddress] = frozenset()

    @classmethod
    def from_settings(cls, settings: Settings) -> "WebhookPolicy":
        own = set(host_addresses())
        for host in (settings.asterisk_host, settings.http_host):
            own.update(_addresses_of(host))
        own = {ip for ip in own if not ip.is_unspecified}
        ports = {settings.http_port: "HTTP", settings.ami_port: "AMI", settings.ari_port: "ARI"}
        return cls(settings.webhook_allow, ports, frozenset(own))

    def address_problem(self, ip: IPAddress, port: int) -> str | None:
        """Why a request to ip:port is refused, or None."""
        ip = _unmapped(ip)
        if ip.is_unspecified or ip in THIS_NETWORK:
            return f"{ip} is an unspecified address"
        if ip.is_link_local:
            return f"{ip} is link-local (where cloud metadata lives)"
        if ip in METADATA:
            return f"{ip} is a cloud metadata service"
        if ip.is_multicast or ip == BROADCAST:
            return f"{ip} is a multicast or broadcast address"
        if port in self.platform_ports and (ip.is_loopback or ip in self.own_addresses):
            return f"{ip} port {port} is the platform's own {self.platform_ports[port]}"
        if self.allow == ALLOW_PUBLIC:
            if not ip.is_global:
                return f"{ip} is not a public address (VOICECTL_WEBHOOK_ALLOW=public)"
        elif self.allow != ALLOW_ANY and not any(ip in net for net in self.allow):
            return f"{ip} is outside VOICECTL_WEBHOOK_ALLOW"
        return None

    def url_problem(self, url: str) -> str | None:
        """Why `url` may not be a webhook (url_syntax_problem, then host_problem), or None."""
        problem, host, port = _split(url)
        return problem if problem is not None else self._host_problem(host, port)

    def host_problem(self, url: str) -> str | None:
        """Why the host of `url`, a URL url_syntax_problem passes, is refused, or None: an
        address is judged as it stands, a name later, on the addresses it resolves to."""
        parsed = URL(url)
        return self._host_problem(parsed.raw_host or "", parsed.port or 0)

    def _host_problem(self, host: str, port: int) -> str | None:
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            if host.rstrip(".") == "localhost" or host.rstrip(".").endswith(".localhost"):
                # Refused when neither loopback is allowed: the resolver drops the one that is not.
                v4 = self.address_problem(ipaddress.ip_address("127.0.0.1"), port)
                v6 = self.address_problem(ipaddress.ip_address("::1"), port)
                return v4 if v4 and v6 else None
            return None
        return self.address_problem(ip, port)


def url_syntax_problem(url: str) -> str | None:
    """Why `url` is no webhook URL, from its text alone (no settings, no lookups), or None:
    http or https, a host written as a name or in an address's usual form, no user info, at
    most MAX_URL characters with no spaces or control characters."""
    return _split(url)[0]


def _split(url: str) -> tuple[str | None, str, int]:
    """(why url is no webhook URL, or None; the host as aiohttp will connect to it; the port)."""
    if len(url) > MAX_URL:
        return f"longer than {MAX_URL} characters", "", 0
    if " " in url or not url.isprintable():
        return "contains spaces or control characters", "", 0
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"not a URL ({exc})", "", 0
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return f"must be an http:// or https:// URL (scheme {scheme or 'missing'}: only http and https)", "", 0
    if "@" in parts.netloc:
        return ("user info (user:password@) is not allowed: requests are signed instead, "
                "credentials do not go in the URL"), "", 0
    if port == 0:
        return "port 0 is no port", "", 0
    try:
        # The host as aiohttp will connect to it: yarl folds full-width digits and ideographic
        # dots ("１２７。０。０。１") into an address that urlsplit leaves looking like a name.
        host = URL(url).raw_host
    except (ValueError, UnicodeError) as exc:
        return f"not a URL ({exc})", "", 0
    if not host:
        return "no host", "", 0
    if NUMERIC_HOST.fullmatch(host) and not _is_address(host):
        return f"{host} is not an address written in the usual form", "", 0
    return None, host, port or (443 if scheme == "https" else 80)


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class GuardedResolver(AbstractResolver):
    """Resolves as aiohttp would, then keeps only the addresses the policy allows: the check
    applies to the very addresses the connection is made to. (aiohttp skips the resolver for
    an address in the URL; `url_problem` covers those.)"""

    def __init__(self, policy: WebhookPolicy, inner: AbstractResolver | None = None) -> None:
        self._policy = policy
        self._inner = inner or DefaultResolver()

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        kept: list[ResolveResult] = []
        why = None
        for found in await self._inner.resolve(host, port, family):
            problem = self._policy.address_problem(ipaddress.ip_address(found["host"]), port)
            if problem is None:
                kept.append(found)
            else:
                why = why or problem
        if not kept:
            raise Refused(f"{host.rstrip('.')} resolves to {why}" if why else f"{host} has no address")
        return kept

    async def close(self) -> None:
        await self._inner.close()


def host_addresses() -> set[IPAddress]:
    """This host's own addresses, where the platform's ports listen too (HTTP on 0.0.0.0).
    Read from the kernel's tables on Linux; elsewhere, what the host name resolves to."""
    found: set[IPAddress] = set()
    try:
        lines = Path("/proc/net/fib_trie").read_text().splitlines()
        for above, line in zip(lines, lines[1:]):
            if line.strip() == "/32 host LOCAL":
                found.add(ipaddress.ip_address(above.split()[-1]))
        for line in Path("/proc/net/if_inet6").read_text().splitlines():
            found.add(ipaddress.ip_address(int(line.split()[0], 16)))
    except (OSError, ValueError, IndexError):
        pass
    if not found:
        try:
            for *_, sockaddr in socket.getaddrinfo(socket.gethostname(), None):
                found.add(ipaddress.ip_address(str(sockaddr[0]).split("%")[0]))
        except (OSError, ValueError):
            log.warning("could not list this host's addresses; only loopback is guarded for platform ports")
    return found


def _addresses_of(host: str) -> set[IPAddress]:
    """host's addresses: itself when it is one, else what it resolves to now (an Asterisk
    on another machine named `asterisk` in compose). Read once, at start: a name that moves
    later is covered by the connect-time check only if it stays on these addresses."""
    try:
        return {_unmapped(ipaddress.ip_address(host))}
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        log.warning("webhook policy: %s does not resolve; its ports are guarded by address only", host)
        return set()
    return {_unmapped(ipaddress.ip_address(info[4][0].split("%", 1)[0])) for info in found}

