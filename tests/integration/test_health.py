from tests.support.platform import Instance


def test_healthz_reports_asterisk_and_links(platform: Instance) -> None:
    code, body = platform.health()
    assert code == 200
    assert body["ari"] is True and body["ami"] is True and body["status"] == "ok"
    assert body["asterisk"]["version"].startswith("22.")
    assert isinstance(body["asterisk"]["active_channels"], int)


def test_status_command_reads_healthz(platform: Instance) -> None:
    out = platform.cli("status").stdout
    assert out.startswith("ok (HTTP 200): ARI up, AMI up, Asterisk 22.")
