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


def nice_of(pid: int) -> int:
    stat = open(f"/proc/{pid}/stat").read()
    return int(stat[stat.rindex(")") + 2:].split()[16])


def test_the_event_loop_and_asterisk_run_at_the_priority_set(platform: Instance) -> None:
    # /proc/PID/stat describes the process's main thread: the one running the event loop.
    # Default 0: with admission control, a raised loop only took CPU from Asterisk (bench/README.md).
    assert platform.proc is not None
    assert nice_of(platform.proc.pid) == platform.settings.loop_nice == 0
    assert nice_of(platform.asterisk_pid()) == 0
