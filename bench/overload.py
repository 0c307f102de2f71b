"""`make bench-overload`: admission control under more calls than the node takes cleanly.

    python -m bench.overload [--rate 120] [--calls 3000] [--max-calls N] [--max-lag-ms N] [--nice N]

SIPp offers calls into the demo menu at --rate (default 120: 1.5 times the 80 calls/s the
platform takes with 0 failures in bench/README.md), each the same caller as `make bench`
(key 1, key 2, the platform's BYE), except that a call may be refused with 503, which ends
it as expected. Prints the calls offered, admitted and refused, failed calls (anything else:
no answer, a digit not answered, no BYE), admitted calls whose record is exactly right,
calls neither answered nor refused with a record (unaccounted), admitted calls/s, INVITE->200 latency of the admitted
calls, and CPU per admitted call. Exit status 1 on any failed call or wrong record; nothing
is asserted on timing.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from bench import measure
from bench.flows import MENU
from bench.run import RTP_PORTS, warm_up
from control.store.models import Call
from tests.support.platform import Instance


@dataclass(frozen=True)
class Outcome:
    offered: int
    admitted: int
    refused: int
    failed: int
    admitted_ok: int
    unaccounted: int  # neither answered nor refused with a record: lost somewhere
    calls_per_s: float
    latency_ms: dict[str, float]
    cpu_ms_per_admitted: float


def _records(instance: Instance) -> list[tuple]:
    async def read(db: async_sessionmaker) -> list[tuple]:
        async with db() as session:
            rows = await session.execute(select(Call.caller_id, Call.answered_at, Call.ended_at, Call.branch_data,
                                                Call.reason))
            return [tuple(r) for r in rows if r.caller_id.startswith("1999")]

    return instance.db(read)


def offer(instance: Instance, calls: int, rate: float, workdir: Path) -> Outcome:
    pids = {"asterisk": instance.asterisk_pid(), "control": instance.proc.pid}
    cpu0 = measure.cpu_of(pids)
    done = measure.sipp_load([("may_refuse", 503), *MENU.steps], workdir=workdir, target=instance.sip_target,
                             service=MENU.platform_number, calls=calls, rate=rate)
    stats, answers = done.stats, done.answers
    rows = measure.wait_settled(lambda: _records(instance), stats.attempted, ended=lambda r: r[2] is not None)
    cpu1 = measure.cpu_of(pids)
    admitted = [r for r in rows if r[1] is not None]
    refused = [r for r in rows if (r[4] or "").startswith("refused")]
    cpu = sum(cpu1.values()) - sum(cpu0.values())
    return Outcome(
        offered=stats.attempted, admitted=len(answers.latency_ms), refused=len(refused),
        failed=stats.failed, admitted_ok=sum(1 for r in admitted if r[3] == MENU.expected and r[2] is not None),
        unaccounted=stats.attempted - len(answers.latency_ms) - len(refused),
        calls_per_s=round(answers.sustained_rate(), 1),
        latency_ms=done.latency_ms,
        cpu_ms_per_admitted=round(1000 * cpu / max(len(admitted), 1), 1))


def _overload_warnings(data_dir: Path) -> int:
    """Asterisk's 'task processor queue reached N scheduled tasks' warnings: a queue (the Stasis
    app's event mailbox, PJSIP's) past its high-water mark, which makes PJSIP stop taking new
    requests until it drains: the way this box collapses when admission lets too much in."""
    log = data_dir / "asterisk" / "log" / "messages.log"
    if not log.exists():
        return 0
    return sum("taskprocessor" in line and "scheduled tasks" in line
               for line in log.read_text(errors="replace").splitlines())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=120, help="calls offered per second (default 120)")
    parser.add_argument("--calls", type=int, default=3000, help="calls offered (default 3000)")
    parser.add_argument("--max-calls", type=int, help="VOICECTL_MAX_CALLS for the run (default: the platform's)")
    parser.add_argument("--max-lag-ms", type=int, help="VOICECTL_MAX_LOOP_LAG_MS for the run")
    parser.add_argument("--nice", type=int, help="VOICECTL_NICE for the run (0: the loop at normal priority)")
    args = parser.parse_args(argv)
    if not shutil.which("sipp"):
        raise SystemExit("no sipp: run `make setup` first")
    data_dir = Path(tempfile.mkdtemp(prefix="voicectl-overload-"))
    instance = Instance.create(data_dir, rtp=RTP_PORTS)
    for name, value in (("VOICECTL_MAX_CALLS", args.max_calls), ("VOICECTL_MAX_LOOP_LAG_MS", args.max_lag_ms),
                        ("VOICECTL_NICE", args.nice)):
        if value is not None:
            instance.env[name] = str(value)
    instance.cli("init")
    instance.cli("demo")
    instance.start()
    try:
        warm_up(instance, MENU.platform_number, data_dir / "warm")
        print(f"offering {args.calls} calls at {args.rate:g}/s (max calls {args.max_calls or 'default'}, "
              f"max lag {args.max_lag_ms or 'default'} ms, nice {args.nice if args.nice is not None else 'default'})...",
              flush=True)
        out = offer(instance, args.calls, args.rate, data_dir / "sipp")
    finally:
        instance.stop()
        overloads = _overload_warnings(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)
    p = out.latency_ms
    print(f"offered {out.offered}  admitted {out.admitted}  refused (recorded) {out.refused}  failed {out.failed}  "
          f"admitted records ok {out.admitted_ok}  unaccounted {out.unaccounted}\n"
          f"admitted {out.calls_per_s} calls/s  INVITE->200 of admitted p50/p95/p99 "
          f"{p['p50']:.0f}/{p['p95']:.0f}/{p['p99']:.0f} ms  CPU {out.cpu_ms_per_admitted} ms per admitted call\n"
          f"Asterisk taskprocessor overload warnings: {overloads}")
    wrong = out.failed + (out.admitted - out.admitted_ok) + out.unaccounted
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
