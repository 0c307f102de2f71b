"""Where a webhook may go: the static check of a URL, the connect-time check of every address
a name resolves to, and VOICECTL_WEBHOOK_ALLOW."""
from __future__ import annotations

import ipaddress
import socket
from pathlib import Path
from typing import Any

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from control.settings import Settings
from control.settings import parse_webhook_allow as parse_allow
from control.webhooks.policy import GuardedResolver, Refused, WebhookPolicy, url_syntax_problem

OWN = ipaddress.ip_address("192.0.2.10")


def policy(allow: str = "any") -> WebhookPolicy:
    return WebhookPolicy(parse_allow(allow), {8080: "HTTP", 8088: "ARI", 5038: "AMI"}, frozenset({OWN}))


ALWAYS_REFUSED = [
    ("ftp://example.com/x", "only http and https"),
    ("file:///etc/passwd", "only http and https"),
    ("example.com/hook", "scheme missing"),
    ("http://user:pw@example.com/", "user info"),
    ("http://user@example.com/", "user info"),
    ("http:///path", "no host"),
    ("http://exa mple.com/", "spaces"),
    ("http://example.com:99999/", "not a URL"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://169.254.1.1:8000/", "link-local"),
    ("http://[fe80::1]/", "link-local"),
    ("http://[::ffff:169.254.169.254]/", "link-local"),
    ("http://[fd00:ec2::254]/", "metadata"),
    ("http://0.0.0.0:9000/", "unspecified"),
    ("http://[::]:9000/", "unspecified"),
    ("http://224.0.0.1/", "multicast"),
    ("http://255.255.255.255/", "broadcast"),
    ("http://127.0.0.1:8088/ari/channels", "own ARI"),
    ("http://127.0.0.1:5038/", "own AMI"),
    ("http://127.0.0.1:8080/notify/", "own HTTP"),
    ("http://127.9.9.9:8080/", "own HTTP"),
    ("http://[::1]:8088/", "own ARI"),
    ("http://localhost:8088/", "own ARI"),
    ("http://192.0.2.10:8088/", "own ARI"),
    ("http://2130706433:9000/", "usual form"),
    # Full-width digits and ideographic dots: aiohttp connects to 127.0.0.1 / 169.254.169.254.
    ("http://\uff11\uff12\uff17.\uff10.\uff10.\uff11:8088/", "ARI"),
    ("http://169\u3002254\u3002169\u3002254/", "link-local"),
    ("http://127.1:9000/", "usual form"),
    ("http://0x7f.0.0.1:9000/", "usual form"),
    ("http://example.com/" + "x" * 3000, "longer than"),
]


@pytest.mark.parametrize("allow", ["any", "public", "127.0.0.0/8,10.0.0.0/8"])
@pytest.mark.parametrize("url,why", ALWAYS_REFUSED)
def test_refused_whatever_the_setting(url: str, why: str, allow: str) -> None:
    problem = policy(allow).url_problem(url)
    assert problem is not None and why in problem, problem


@pytest.mark.parametrize("url,any_,public,cidrs", [
    ("http://127.0.0.1:9000/hook", True, False, True),  # loopback, another port: the tests' servers
    ("http://localhost:9000/hook", True, False, True),
    ("https://hooks.example.com/voitex", True, True, True),  # names are judged where they resolve
    ("http://10.1.2.3/hook", True, False, True),
    ("http://192.168.1.5/hook", True, False, False),
    ("http://192.0.2.10:9000/", True, False, False),  # our own address, not one of our ports
    ("https://8.8.8.8/hook", True, True, False),
    ("http://[2001:4860:4860::8888]/", True, True, False),
    ("HTTPS://Example.COM:8443/x?y=1", True, True, True),
])
def test_the_setting_narrows_the_rest(url: str, any_: bool, public: bool, cidrs: bool) -> None:
    for allow, allowed in (("any", any_), ("public", public), ("127.0.0.0/8, 10.0.0.0/8", cidrs)):
        problem = policy(allow).url_problem(url)
        assert (problem is None) == allowed, (allow, url, problem)


def test_a_bad_setting_is_one_clear_line() -> None:
    with pytest.raises(ValueError, match="'10.0.0.0/33' is not a CIDR"):
        parse_allow("10.0.0.0/8,10.0.0.0/33")
    with pytest.raises(ValueError, match="VOICECTL_WEBHOOK_ALLOW: 'anything'"):
        Settings.from_env({"VOICECTL_WEBHOOK_ALLOW": "anything"})
    assert Settings.from_env({"VOICECTL_WEBHOOK_ALLOW": " Public "}).webhook_allow == "public"
    assert Settings.from_env({}).webhook_allow == "any"


def test_the_process_policy_follows_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    def url_problem(url: str) -> str | None:
        return WebhookPolicy.from_settings(Settings.from_env()).url_problem(url)

    monkeypatch.setenv("VOICECTL_ARI_PORT", "18088")
    monkeypatch.setenv("VOICECTL_WEBHOOK_ALLOW", "any")
    assert "own ARI" in (url_problem("http://127.0.0.1:18088/") or "")
    assert url_problem("http://127.0.0.1:9000/") is None
    monkeypatch.setenv("VOICECTL_WEBHOOK_ALLOW", "public")
    assert "not a public address" in (url_problem("http://127.0.0.1:9000/") or "")
    # Parsed once, when the settings are read: a policy takes the networks as they are.
    cidrs = Settings.from_env({"VOICECTL_WEBHOOK_ALLOW": "10.0.0.0/8, 203.0.113.7"}).webhook_allow
    assert cidrs == (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("203.0.113.7/32"))


@pytest.mark.parametrize("url,why", [(url, why) for url, why in ALWAYS_REFUSED
                                     if why in ("only http and https", "scheme missing", "user info", "no host",
                                                "spaces", "not a URL", "usual form", "longer than")])
def test_the_syntax_alone_needs_no_policy(url: str, why: str) -> None:
    problem = url_syntax_problem(url)
    assert problem is not None and why in problem, problem
    assert url_syntax_problem("http://127.0.0.1:8088/ari") is None, "where it leads is the policy's to say"
    assert url_syntax_problem("https://${region}.crm.example/ivr") is None, "variables are expanded later"


def test_from_settings_guards_this_hosts_addresses_and_asterisk_host(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, asterisk_host="198.51.100.7", http_host="0.0.0.0")
    made = WebhookPolicy.from_settings(settings)
    assert made.platform_ports == {8080: "HTTP", 8088: "ARI", 5038: "AMI"}
    assert ipaddress.ip_address("198.51.100.7") in made.own_addresses
    assert "own ARI" in (made.url_problem("http://198.51.100.7:8088/") or "")
    assert not any(ip.is_unspecified for ip in made.own_addresses)


def test_an_asterisk_host_given_as_a_name_is_guarded_by_its_addresses(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.getaddrinfo

    def lookup(host: str, *args: Any, **kwargs: Any) -> Any:
        if host == "asterisk":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.89.0.5", 0))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    made = WebhookPolicy.from_settings(Settings(data_dir=tmp_path, asterisk_host="asterisk"))
    assert "own ARI" in (made.url_problem("http://10.89.0.5:8088/") or "")


class FakeResolver(AbstractResolver):
    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers

    async def resolve(self, host: str, port: int = 0, family: Any = socket.AF_INET) -> list[ResolveResult]:
        return [ResolveResult(hostname=host, host=a, port=port, family=socket.AF_INET6 if ":" in a else socket.AF_INET,
                              proto=0, flags=0) for a in self.answers[host]]

    async def close(self) -> None:
        pass


async def test_every_resolved_address_is_checked_at_connect_time() -> None:
    fake = FakeResolver({"rebind.example": ["169.254.169.254"], "mixed.example": ["203.0.113.9", "127.0.0.1"],
                         "ari.example": ["127.0.0.1"], "ok.example": ["203.0.113.9"],
                         "mapped.example": ["::ffff:169.254.169.254"]})
    guarded = GuardedResolver(policy(), fake)
    with pytest.raises(Refused, match="rebind.example resolves to 169.254.169.254 is link-local"):
        await guarded.resolve("rebind.example", 443)
    with pytest.raises(Refused, match="link-local"):
        await guarded.resolve("mapped.example", 80)
    with pytest.raises(Refused, match="own ARI"):
        await guarded.resolve("ari.example", 8088)
    assert [r["host"] for r in await guarded.resolve("ari.example", 9000)] == ["127.0.0.1"]
    assert [r["host"] for r in await guarded.resolve("ok.example", 443)] == ["203.0.113.9"]
    # Only the allowed addresses are handed on: the connection can reach no other.
    public = GuardedResolver(policy("public"), fake)
    with pytest.raises(Refused, match="not a public address"):
        await public.resolve("ari.example", 9000)
    assert [r["host"] for r in await guarded.resolve("mixed.example", 8088)] == ["203.0.113.9"]


def test_an_ivr_naming_a_refused_webhook_is_refused_at_import(monkeypatch: pytest.MonkeyPatch) -> None:
    from control.flow.document import parse_ivr
    from control.ivrs.service import webhook_problems

    monkeypatch.setenv("VOICECTL_WEBHOOK_ALLOW", "any")
    monkeypatch.delenv("VOICECTL_ARI_PORT", raising=False)
    ivr = parse_ivr({"branches": {"0": {"type": "trigger", "url": "http://127.0.0.1:9000/ok"},
                                  "1": {"type": "trigger", "url": "http://169.254.169.254/"},
                                  "2": {"type": "trigger", "url": "http://127.0.0.1:8088/ari"},
                                  "3": {"type": "hangup"}}})
    made = WebhookPolicy.from_settings(Settings.from_env())
    assert webhook_problems(ivr, made) == ["branches.1.url: refused: 169.254.169.254 is link-local (where cloud "
                                           "metadata lives)",
                                           "branches.2.url: refused: 127.0.0.1 port 8088 is the platform's own ARI"]
