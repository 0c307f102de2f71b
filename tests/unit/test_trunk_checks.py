"""What a trunk may hold before it reaches pjsip_trunks.conf, checked without a database."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from control.errors import Invalid
from control.pbx import config
from control.pbx.check import compare, loaded_endpoints
from control.settings import Settings
from control.trunks import validate
from control.trunks.passwords import TrunkPasswords
from control.trunks.service import TrunkSpec, parse_trunk


@pytest.mark.parametrize("bad", ["evil\n", "9bad", "", "a b", "a;b", "a]", "[a", "a=b", "x" * 65, "anonymous",
                                 "Anonymous", "transport-udp", "ünï"])
def test_names_are_checked_whole(bad: str) -> None:
    with pytest.raises(ValueError, match="^name: "):
        validate.name(bad)


@pytest.mark.parametrize("bad", ["u\n", "u;x", "u x", "u=x", "[u]", "u@example.com", "", "u\t", "x" * 65])
def test_usernames_are_checked_whole(bad: str) -> None:
    with pytest.raises(ValueError, match="^username: "):
        validate.username(bad)


@pytest.mark.parametrize("bad", ["p\nx", " p", "p ", "", "p\x00", "x" * 129])
def test_passwords_cannot_break_a_config_line(bad: str) -> None:
    with pytest.raises(ValueError, match="^password: "):
        validate.password(bad)


@pytest.mark.parametrize("bad,why", [
    ("0.0.0.0", "not a unicast"), ("::", "not a unicast"), ("255.255.255.255", "not a unicast"),
    ("224.0.0.1", "not a unicast"), ("ff02::1", "not a unicast"), ("0.0.0.0/0", "every address"),
    ("::/0", "every address"), ("10.0.0.1/24", "host bits set"), ("example.com", "not an IP address"),
    ("127.0.0.1\n", "not an IP address"), ("127.0.0.1:5060", "not an IP address"),
    ("fe80::1%eth0", "not an IP address"), ("", "not an IP address"),
])
def test_match_entries_are_unicast_addresses_or_cidrs(bad: str, why: str) -> None:
    with pytest.raises(ValueError, match=f"^match: .*{why}"):
        validate.match(bad)


@pytest.mark.parametrize("good,normalised", [
    ("127.0.0.1", "127.0.0.1"), ("203.0.113.5/32", "203.0.113.5"), ("203.0.113.0/24", "203.0.113.0/24"),
    ("::1", "::1"), ("2001:DB8::/32", "2001:db8::/32"),
])
def test_match_entries_are_normalised(good: str, normalised: str) -> None:
    assert validate.match(good) == normalised


@pytest.mark.parametrize("bad", ["0.0.0.0", "224.0.0.1:5060", "bad_host.example", "-x.example.com",
                                 "1.2.3.999", "sip.example.com:99999", "sip.example.com:50a", "[::1",
                                 "[::1]x", "evil\n.example.com", "a..b", "", ":5060", "x.com: 5060"])
def test_targets_are_unicast_addresses_or_dns_names(bad: str) -> None:
    with pytest.raises(ValueError, match="^target: "):
        validate.target(bad)


@pytest.mark.parametrize("good,parsed", [
    ("203.0.113.5", ("203.0.113.5", 5060)), ("sip.Example.com:5080", ("sip.example.com", 5080)),
    ("[::1]:5070", ("::1", 5070)), ("[2001:db8::1]", ("2001:db8::1", 5060)), ("::1", ("::1", 5060)),
    ("localhost", ("localhost", 5060)),
])
def test_targets_parse(good: str, parsed: tuple[str, int]) -> None:
    assert validate.target(good) == parsed


def test_ipv6_is_bracketed_in_uris() -> None:
    assert validate.uri_host("::1") == "[::1]" and validate.uri_host("sip.example.com") == "sip.example.com"


def test_parse_trunk_names_every_problem_at_once() -> None:
    with pytest.raises(Invalid) as caught:
        parse_trunk("evil\n", ["0.0.0.0/0", "10.0.0.1/8"], "bad_host", username="u;x", register=True)
    assert [e.split(":")[0] for e in caught.value.errors] == ["name", "match", "match", "target", "username",
                                                               "password"]


def test_credentials_come_together() -> None:
    for kwargs, problem in [({"username": "u"}, "a username needs a password"),
                            ({"password": "p"}, "given without a username"),
                            ({"register": True}, "register: needs a username")]:
        with pytest.raises(Invalid, match=problem):
            parse_trunk("t", ["127.0.0.1"], "127.0.0.1", **kwargs)


def test_a_bad_row_is_left_out_of_the_file_and_the_rest_stays(tmp_path: Path) -> None:
    # A row written before these checks existed: rendered, it would break every trunk after it.
    settings = Settings.from_env({"VOICECTL_DATA_DIR": str(tmp_path), "VOICECTL_MANAGE_ASTERISK": "0",
                                  "VOICECTL_NODE": "n1"})
    TrunkPasswords(tmp_path).set("prov", "s3cret;x")
    confs = [TrunkSpec("evil\n", ("127.0.0.1",), "127.0.0.1", 5060),
             TrunkSpec("local", ("127.0.0.1",), "127.0.0.1", 5060),
             TrunkSpec("nopass", ("10.0.0.1",), "10.0.0.1", 5060, "u"),
             TrunkSpec("prov", ("10.0.0.0/24", "::1"), "::1", 5070, "acct", register=True)]
    assert [t.name for t in config.renderable(settings, confs)] == ["local", "prov"]
    config.render_trunks(settings, confs)
    text = (tmp_path / "asterisk" / "etc" / "pjsip_trunks.conf").read_text()
    assert "evil" not in text and "[nopass]" not in text and "[local]" in text
    assert "match = 10.0.0.0/24\nmatch = ::1\n" in text and "contact = sip:[::1]:5070" in text
    assert "password = s3cret\\;x\n" in text  # `;` would start a comment
    assert (tmp_path / "asterisk" / "etc" / "pjsip_trunks.conf").stat().st_mode & 0o777 == 0o600


def test_compare_names_missing_and_unexpected_trunks() -> None:
    found = compare(["local", "prov", "evil\n"], ["local", "gone"])
    assert found.missing == ["evil\n", "prov"] and found.unexpected == ["gone"] and not found.ok
    assert compare(["a"], ["a"]).ok


class FakeAmi:
    def __init__(self, reply: object) -> None:
        self.reply = reply

    async def action(self, request: dict[str, str], timeout: float) -> object:
        assert request == {"Action": "PJSIPShowEndpoints"}
        return self.reply


def test_loaded_endpoints_reads_the_list_and_the_empty_answer() -> None:
    listing = [{"Response": "Success", "EventList": "start"},
               {"Event": "EndpointList", "ObjectName": "local"}, {"Event": "EndpointList", "ObjectName": "prov"},
               {"Event": "EndpointListComplete", "EventList": "Complete"}]
    assert asyncio.run(loaded_endpoints(FakeAmi(listing))) == {"local", "prov"}  # type: ignore[arg-type]
    empty = {"Response": "Error", "Message": "No endpoints found"}
    assert asyncio.run(loaded_endpoints(FakeAmi(empty))) == set()  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="Permission denied"):
        asyncio.run(loaded_endpoints(FakeAmi({"Response": "Error", "Message": "Permission denied"})))  # type: ignore[arg-type]
