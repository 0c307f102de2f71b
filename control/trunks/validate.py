"""What a trunk may hold. Every value here is written into pjsip_trunks.conf, where a newline
ends the line, `;` starts a comment and `]` closes a section header: one bad value there makes
Asterisk drop the rest of the file, so each is checked whole (re.fullmatch, never re.match
with `$`, which also accepts a trailing newline).

Each check returns the cleaned value or raises ValueError with a one-line reason that names
the field, so a caller can gather every problem before refusing.
"""
from __future__ import annotations

import ipaddress
import re

NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
# A digest user name also goes into the registration's client URI (sip:USER@HOST): only
# characters that need no escaping there and mean nothing to Asterisk's config parser.
USERNAME = re.compile(r"[A-Za-z0-9+._~-]{1,64}")
DNS_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
# "anonymous": PJSIP gives every unidentified request to an endpoint of that name, so a trunk
# called so would take calls from anywhere. The others are pjsip.conf's own sections.
RESERVED_NAMES = {"anonymous", "global", "system", "transport-udp"}
DEFAULT_SIP_PORT = 5060
MAX_PASSWORD = 128

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def name(text: str) -> str:
    if not NAME.fullmatch(text):
        raise ValueError(f"name: {text!r} must be 1-64 letters, digits, - or _, starting with a letter")
    if text.lower() in RESERVED_NAMES:
        raise ValueError(f"name: {text!r} is reserved (PJSIP uses it)")
    return text


def username(text: str) -> str:
    if not USERNAME.fullmatch(text):
        raise ValueError(f"username: {text!r} must be 1-64 letters, digits or + . _ ~ -")
    return text


def password(text: str) -> str:
    # Leading or trailing blanks would be trimmed by Asterisk's parser; control characters
    # (a newline above all) would end the line. `;` is allowed: the renderer escapes it.
    if not 0 < len(text) <= MAX_PASSWORD or not text.isprintable() or text != text.strip():
        raise ValueError(f"password: must be 1-{MAX_PASSWORD} printable characters, "
                         "without leading or trailing blanks")
    return text


def match(text: str) -> str:
    """One inbound match entry: a unicast address or a CIDR, normalised ('10.0.0.0/24')."""
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        net = None
    if net is None or "%" in text:  # no IPv6 zone ids: they name an interface, not a peer
        raise ValueError(f"match: {text!r} is not an IP address or a CIDR such as 203.0.113.0/24")
    if not _exact(text):
        raise ValueError(f"match: {text!r} has host bits set (the network is {net})")
    if net.prefixlen == 0:
        raise ValueError(f"match: {text!r} would take calls from every address")
    if _not_unicast(net.network_address) or net.is_multicast:
        raise ValueError(f"match: {text!r} is not a unicast address")
    return str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)


def target(text: str) -> tuple[str, int]:
    """HOST[:PORT] calls and registrations go to: an address ('[v6]:port' for IPv6) or a
    DNS name. Returns (host without brackets, port)."""
    host, port_text = _split_host_port(text)
    if port_text and not (port_text.isascii() and port_text.isdigit()):
        raise ValueError(f"target: {text!r} has a port that is not a number")
    port = int(port_text) if port_text else DEFAULT_SIP_PORT
    if not 0 < port < 65536:
        raise ValueError(f"target: port {port} is out of range")
    try:
        address = ipaddress.ip_address(host) if "%" not in host else None
    except ValueError:
        address = None
    if address is None:
        if not _dns_name(host):
            raise ValueError(f"target: {text!r} is neither an IP address nor a valid host name")
        return host.rstrip(".").lower(), port
    if _not_unicast(address):
        raise ValueError(f"target: {text!r} is not a unicast address")
    return str(address), port


def uri_host(host: str) -> str:
    """How a host appears in a SIP URI: IPv6 in brackets."""
    return f"[{host}]" if ":" in host else host


def _split_host_port(text: str) -> tuple[str, str]:
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"target: {text!r} must be [IPv6] or [IPv6]:PORT")
        return host, rest[1:]
    if text.count(":") > 1:  # a bare IPv6 address: no port can follow it unambiguously
        return text, ""
    host, _, port = text.partition(":")
    return host, port


def _exact(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=True)
    except ValueError:
        return False
    return True


def _dns_name(host: str) -> bool:
    labels = host.rstrip(".").split(".")
    # An all-digit last label is a mistyped address (1.2.3.999), not a name.
    return (0 < len(host) <= 253 and all(DNS_LABEL.fullmatch(label) for label in labels)
            and not labels[-1].isdigit())


def _not_unicast(address: Address) -> bool:
    # IPv6's ::/8 is "reserved" but holds the loopback address, which the demo uses.
    return (address.is_unspecified or address.is_multicast
            or (address.is_reserved and not address.is_loopback))
