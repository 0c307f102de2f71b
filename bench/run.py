"""`make bench`: SIPp calls over real SIP into the demo menu (key 1, then 2), through the
platform and through the same menu as native dialplan in the same Asterisk, and what each cost.

    python -m bench.run [--rate 80] [--calls 2000] [--runs 3] [--only platform|native] [--json FILE]

The sides take turns, native then platform, --runs times, so a change in the machine's state
lands on both. Prints a row per side and run: calls attempted and failed, calls whose path was
the intended one (the platform's call records; the native dialplan's own line per call),
calls/s sustained, CPU seconds per call (Asterisk plus the control plane), INVITE->200
latency percentiles, and the ratio to the native run of the same round; then each side's
medians over the runs. The figures go in bench/README.md; nothing here asserts on them, but
a failed call or a wrong path makes the exit status 1.
"""
from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

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
SETTLE_S = 3  # before each load, so the previous one's last media and channels have wound down
LATENCIES = ("p50", "p95", "p99")
COUNTS = ("attempted", "failed", "records_ok")  # a side's summary row adds these up

Records = dict[str, tuple[list, bool]]  # call id: (branch_data, ended)
Figures = dict[str, float | None]  # one row's numbers by column; x_native None with no native run


@dataclass(frozen=True)
class Side:
    name: str
    number: str
    records: Callable[[], Records]  # every call this side has taken so far


@dataclass
class Result:
    name: str
    run: int
    attempted: int
    succeeded: int
    failed: int
    records_ok: int
    wall_s: float
    calls_per_s: float
    asterisk_cpu_s: float
    control_cpu_s: float
    sipp_cpu_s: float
    latency_ms: dict[str, float]

    @property
    def cpu_per_call_ms(self) -> float:
        return 1000 * (self.asterisk_cpu_s + self.control_cpu_s) / max(self.succeeded, 1)

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.records_ok == self.attempted


def _call_records(instance: Instance) -> Records:
    async def read(db: async_sessionmaker) -> Records:
        async with db() as session:
            rows = await session.execute(select(Call.id, Call.branch_data, Call.ended_at))
            return {r.id: (r.branch_data, r.ended_at is not None) for r in rows}

    return instance.db(read)


def _wait_records(side: Side, before: set[str], expected: int, timeout: float = 60) -> Records:
    """The records the run added, once all of them have ended (or the timeout passed)."""
    deadline = time.monotonic() + timeout
    while True:
        new = {k: v for k, v in side.records().items() if k not in before}
        if (len(new) >= expected and all(ended for _, ended in new.values())) or time.monotonic() > deadline:
            return new
        time.sleep(1)


def _count_right(side: Side, run: int, records: Records) -> int:
    """How many records show the intended path, ended; a few of the others go to stderr."""
    wrong = [(k, data) for k, (data, ended) in records.items() if not ended or data != EXPECTED_BRANCHES]
    for call_id, data in wrong[:3]:
        print(f"{side.name} run {run}: call {call_id} took {data}", file=sys.stderr)
    return len(records) - len(wrong)


def load(instance: Instance, side: Side, run: int, calls: int, rate: float, workdir: Path) -> Result:
    workdir.mkdir(parents=True, exist_ok=True)
    before = set(side.records())
    pids = {"asterisk": instance.asterisk_pid(), "control": instance.proc.pid}
    cpu0 = {k: measure.cpu_seconds(p) for k, p in pids.items()}
    started = time.monotonic()
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    sipp_run = sipp.run(sipp.scenario(STEPS, caller="1999[call_number]", caller_name="bench"),
                        workdir=workdir, target=instance.sip_target, service=side.number, calls=calls,
                        rate=rate, limit=int(rate * 30), timeout=calls / rate + 120,
                        extra=["-trace_stat", "-stf", str(workdir / "stat.csv"), "-fd", "1",
                               "-trace_rtt", "-rtt_freq", "1"])
    wall = time.monotonic() - started
    # SIPp shares the machine's cores: its CPU tells how much was left for the system under test.
    children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    sipp_cpu = (children1.ru_utime + children1.ru_stime) - (children0.ru_utime + children0.ru_stime)
    stats = measure.read_stat_csv(workdir / "stat.csv")
    records_ok = _count_right(side, run, _wait_records(side, before, stats.attempted))
    # Read CPU after the records are written: the run's cost includes finishing its calls.
    cpu1 = {k: measure.cpu_seconds(p) for k, p in pids.items()}
    rtt = next(workdir.glob("*_rtt.csv"), None)
    answers = measure.read_rtt_csv(rtt) if rtt else measure.Answers([], [])
    if not sipp_run.ok and stats.failed == 0:
        print(f"sipp exited {sipp_run.returncode}: {sipp_run.stderr[-500:]}", file=sys.stderr)
    return Result(
        name=side.name, run=run, attempted=stats.attempted, succeeded=stats.succeeded, failed=stats.failed,
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


def interleaved(instance: Instance, sides: Sequence[Side], runs: int, calls: int, rate: float,
                workdir: Path) -> list[Result]:
    """Each side in turn, `runs` rounds: a slow spell of the machine hits both sides alike
    instead of whichever happened to run during it."""
    results = []
    for run in range(1, runs + 1):
        for side in sides:
            time.sleep(SETTLE_S)
            print(f"run {run}/{runs}, {side.name}: {calls} calls at {rate:g}/s to {side.number}...", flush=True)
            results.append(load(instance, side, run, calls, rate, workdir / f"sipp-{side.name}-{run}"))
    return results


def figures(result: Result, floor: Result | None) -> Figures:
    """x_native is against `floor`, the native run of the same round."""
    ratio = result.cpu_per_call_ms / floor.cpu_per_call_ms if floor and floor.cpu_per_call_ms else None
    return {"attempted": result.attempted, "failed": result.failed, "records_ok": result.records_ok,
            "calls_per_s": result.calls_per_s, "asterisk_cpu_s": result.asterisk_cpu_s,
            "control_cpu_s": result.control_cpu_s, "cpu_per_call_ms": result.cpu_per_call_ms,
            "x_native": ratio, **{p: result.latency_ms[p] for p in LATENCIES},
            "sipp_cpu_s": result.sipp_cpu_s, "wall_s": result.wall_s}


def summary(rows: Sequence[Figures]) -> Figures:
    """A side over its runs: counts added up (a failure in one run must not vanish into a
    median), every other column the median of the runs' values, x native included."""
    def column(key: str) -> float | None:
        values = [r[key] for r in rows if r[key] is not None]
        if not values:
            return None
        return sum(values) if key in COUNTS else statistics.median(values)

    return {key: column(key) for key in rows[0]}


def by_row(results: Sequence[Result]) -> list[tuple[str, Figures]]:
    """Each run's row, labelled "side N", then "side median" for a side run more than once."""
    floors = {r.run: r for r in results if r.name == "native"}
    rows = [(f"{r.name} {r.run}", figures(r, floors.get(r.run))) for r in results]
    for name in dict.fromkeys(r.name for r in results):
        mine = [f for r, (_, f) in zip(results, rows) if r.name == name]
        if len(mine) > 1:
            rows.append((f"{name} median", summary(mine)))
    return rows


def report(rows: Sequence[tuple[str, Figures]]) -> str:
    head = ("run", "attempted", "failed", "records ok", "calls/s", "CPU s (ast+ctl)", "CPU ms/call",
            "x native", "p50 ms", "p95 ms", "p99 ms", "SIPp CPU s", "wall s")
    lines = [head]
    for label, f in rows:
        ratio = "-" if f["x_native"] is None else f"{f['x_native']:.2f}"
        lines.append((label, *(f"{f[k]:g}" for k in COUNTS), f"{f['calls_per_s']:.1f}",
                      f"{f['asterisk_cpu_s']:.1f}+{f['control_cpu_s']:.1f}", f"{f['cpu_per_call_ms']:.1f}",
                      ratio, *(f"{f[p]:.1f}" for p in LATENCIES), f"{f['sipp_cpu_s']:.1f}",
                      f"{f['wall_s']:.1f}"))
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    return "\n".join("  ".join(cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in enumerate(zip(line, widths)))
                     for line in lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=80, help="new calls per second (default 80)")
    parser.add_argument("--calls", type=int, default=2000, help="calls per side per run (default 2000)")
    parser.add_argument("--runs", type=int, default=3, help="rounds of native then platform (default 3)")
    parser.add_argument("--only", choices=("platform", "native"), help="run one side only")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the instance's data directory")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if not shutil.which("sipp"):
        raise SystemExit("no sipp: run `make setup` first")

    data_dir = Path(tempfile.mkdtemp(prefix="voicectl-bench-"))
    instance = Instance.create(data_dir, rtp=RTP_PORTS)
    # This bench measures what the IVR path costs, not admission control (bench/overload.py
    # does): no cap on calls in progress, so a long run's calls are never refused.
    instance.env["VOICECTL_MAX_CALLS"] = "100000"
    instance.cli("init")
    instance.cli("demo")
    menu = native.install(instance.settings)
    sides = [Side("native", menu.number, lambda: native.read_paths(menu.paths)),
             Side("platform", DEMO_NUMBER.removeprefix("+1"), lambda: _call_records(instance))]
    sides = [s for s in sides if args.only in (None, s.name)]
    instance.start()
    try:
        for side in sides:
            warm_up(instance, side.number, data_dir / f"warm-{side.name}")
        results = interleaved(instance, sides, args.runs, args.calls, args.rate, data_dir)
    finally:
        instance.stop()
    rows = by_row(results)
    print(report(rows))
    if args.json:
        args.json.write_text(json.dumps({"runs": [{**asdict(r), "cpu_per_call_ms": r.cpu_per_call_ms}
                                                  for r in results],
                                         "rows": [{"run": label, **f} for label, f in rows]}, indent=2))
    if args.keep:
        print(f"data directory kept: {data_dir}")
    else:
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
