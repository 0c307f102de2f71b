"""`make bench`: SIPp calls over real SIP into the demo menu (key 1, then 2), through the
platform and through the same menu as native dialplan in the same Asterisk, and what each cost.

    python -m bench.run [--rate 80] [--calls 2000] [--only platform|native] [--json FILE]

Prints, for each: calls attempted and failed, calls/s sustained, CPU seconds per call
(Asterisk plus the control plane), INVITE->200 latency percentiles, and the ratio to native.
The figures go in bench/README.md; nothing here asserts on them.
"""
from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from bench import measure, native
from control.cli import DEMO_NUMBER
from control.store.models import Call
from tests.support import sipp
from tests.support.platform import Instance

# RTP ports of its own, so a bench can run beside `make run` and the tests.
RTP_PORTS = (40000, 44999)
EXPECTED_BRANCHES = [{"branch": "0", "input": "1"}, {"branch": "0", "input": "2"}, {"branch": "900", "input": ""}]
# The caller listens to the menu, presses 1 (barge-in: the menu starts again), listens, presses 2,
# and waits for the goodbye and the platform's BYE.
STEPS = [("pause", 1500), ("dtmf", "1"), ("pause", 1500), ("dtmf", "2"), ("expect_bye",)]


@dataclass
class Result:
    name: str
    attempted: int
    succeeded: int
    failed: int
    records_ok: int | None
    wall_s: float
    calls_per_s: float
    asterisk_cpu_s: float
    control_cpu_s: float
    sipp_cpu_s: float
    latency_ms: dict[str, float]

    @property
    def cpu_per_call_ms(self) -> float:
        return 1000 * (self.asterisk_cpu_s + self.control_cpu_s) / max(self.succeeded, 1)


def _call_records(instance: Instance) -> dict[str, tuple[list, bool]]:
    async def read(db: async_sessionmaker) -> dict[str, tuple[list, bool]]:
        async with db() as session:
            rows = await session.execute(select(Call.id, Call.branch_data, Call.ended_at))
            return {r.id: (r.branch_data, r.ended_at is not None) for r in rows}

    return instance.db(read)


def _wait_records(instance: Instance, before: set[str], expected: int, timeout: float = 60) -> dict:
    """The call records the run added, once all of them have ended (or the timeout passed)."""
    deadline = time.monotonic() + timeout
    while True:
        new = {k: v for k, v in _call_records(instance).items() if k not in before}
        if (len(new) >= expected and all(ended for _, ended in new.values())) or time.monotonic() > deadline:
            return new
        time.sleep(1)


def load(instance: Instance, name: str, number: str, calls: int, rate: float, workdir: Path) -> Result:
    workdir.mkdir(parents=True, exist_ok=True)
    before = set(_call_records(instance)) if name == "platform" else set()
    pids = {"asterisk": instance.asterisk_pid(), "control": instance.proc.pid}
    cpu0 = {k: measure.cpu_seconds(p) for k, p in pids.items()}
    started = time.monotonic()
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    run = sipp.run(sipp.scenario(STEPS, caller="1999[call_number]", caller_name="bench"),
                   workdir=workdir, target=instance.sip_target, service=number, calls=calls, rate=rate,
                   limit=int(rate * 30), timeout=calls / rate + 120,
                   extra=["-trace_stat", "-stf", str(workdir / "stat.csv"), "-fd", "1",
                          "-trace_rtt", "-rtt_freq", "1"])
    wall = time.monotonic() - started
    # SIPp shares the machine's cores: its CPU tells how much was left for the system under test.
    children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    sipp_cpu = (children1.ru_utime + children1.ru_stime) - (children0.ru_utime + children0.ru_stime)
    stats = measure.read_stat_csv(workdir / "stat.csv")
    records_ok = None
    if name == "platform":
        records = _wait_records(instance, before, stats.attempted)
        records_ok = sum(1 for data, ended in records.values() if ended and data == EXPECTED_BRANCHES)
    # Read CPU after the records are written: the run's cost includes finishing its calls.
    cpu1 = {k: measure.cpu_seconds(p) for k, p in pids.items()}
    rtt = next(workdir.glob("*_rtt.csv"), None)
    answers = measure.read_rtt_csv(rtt) if rtt else measure.Answers([], [])
    if not run.ok and stats.failed == 0:
        print(f"sipp exited {run.returncode}: {run.stderr[-500:]}", file=sys.stderr)
    return Result(
        name=name, attempted=stats.attempted, succeeded=stats.succeeded, failed=stats.failed,
        records_ok=records_ok, wall_s=round(wall, 1), calls_per_s=round(answers.sustained_rate(), 1),
        asterisk_cpu_s=round(cpu1["asterisk"] - cpu0["asterisk"], 2),
        control_cpu_s=round(cpu1["control"] - cpu0["control"], 2), sipp_cpu_s=round(sipp_cpu, 1),
        latency_ms={f"p{q}": round(measure.percentile(answers.latency_ms, q), 1) for q in (50, 95, 99)})


def warm_up(instance: Instance, number: str, workdir: Path) -> None:
    """One call first, so TTS renders and Asterisk's HTTP media cache are not in the figures."""
    run = sipp.run(sipp.scenario(STEPS, caller="15550000000"), workdir=workdir, target=instance.sip_target,
                   service=number, timeout=60)
    if not run.ok:
        raise SystemExit(f"warm-up call to {number} failed:\n{run.errors[-2000:]}\n{instance.log_tail()}")


def report(results: list[Result]) -> str:
    floor = next((r for r in results if r.name == "native"), None)
    head = ("run", "attempted", "failed", "records ok", "calls/s", "CPU s (ast+ctl)", "CPU ms/call",
            "x native", "p50 ms", "p95 ms", "p99 ms", "SIPp CPU s", "wall s")
    rows = [head]
    for r in results:
        ratio = f"{r.cpu_per_call_ms / floor.cpu_per_call_ms:.2f}" if floor and floor.cpu_per_call_ms else "-"
        rows.append((r.name, str(r.attempted), str(r.failed), "-" if r.records_ok is None else str(r.records_ok),
                     f"{r.calls_per_s:.1f}", f"{r.asterisk_cpu_s:.1f}+{r.control_cpu_s:.1f}",
                     f"{r.cpu_per_call_ms:.1f}", ratio,
                     *(f"{r.latency_ms[p]:.1f}" for p in ("p50", "p95", "p99")),
                     f"{r.sipp_cpu_s:.1f}", f"{r.wall_s:.1f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    return "\n".join("  ".join(cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths)))
                     for row in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=80, help="new calls per second (default 80)")
    parser.add_argument("--calls", type=int, default=2000, help="calls per run (default 2000)")
    parser.add_argument("--only", choices=("platform", "native"), help="run one side only")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the instance's data directory")
    args = parser.parse_args(argv)
    if not shutil.which("sipp"):
        raise SystemExit("no sipp: run `make setup` first")

    data_dir = Path(tempfile.mkdtemp(prefix="voicectl-bench-"))
    instance = Instance.create(data_dir, rtp=RTP_PORTS)
    instance.cli("init")
    instance.cli("demo")
    native_number = native.install(instance.settings)
    targets = [("native", native_number), ("platform", DEMO_NUMBER.removeprefix("+1"))]
    targets = [t for t in targets if args.only in (None, t[0])]
    results: list[Result] = []
    instance.start()
    try:
        for name, number in targets:
            warm_up(instance, number, data_dir / f"warm-{name}")
            print(f"{name}: {args.calls} calls at {args.rate:g}/s to {number}...", flush=True)
            results.append(load(instance, name, number, args.calls, args.rate, data_dir / f"sipp-{name}"))
            time.sleep(3)  # let the last calls' media and channels wind down before the next run
    finally:
        instance.stop()
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps([{**asdict(r), "cpu_per_call_ms": r.cpu_per_call_ms} for r in results],
                                        indent=2))
    if args.keep:
        print(f"data directory kept: {data_dir}")
    else:
        shutil.rmtree(data_dir, ignore_errors=True)
    failed = sum(r.failed for r in results) + sum(r.attempted - r.records_ok for r in results if r.records_ok is not None)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
