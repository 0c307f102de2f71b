"""What a load run reads off the machine: process CPU from /proc, SIPp's statistics files; the
load itself (SIPp's calls, traced) and the wait for its records."""
from __future__ import annotations

import csv
import os
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Collection, Mapping, Sequence, TypeVar

from tests.support import sipp

C = TypeVar("C", bound=Collection)

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU of a process, all its threads included."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name may hold spaces and parentheses: fields are counted after the last ')'.
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def cpu_of(pids: dict[str, int]) -> dict[str, float]:
    """cpu_seconds() of each named process."""
    return {name: cpu_seconds(pid) for name, pid in pids.items()}


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class SippStats:
    attempted: int
    succeeded: int
    failed: int


def read_stat_csv(path: Path) -> SippStats:
    """The cumulative counters on the last line SIPp wrote with -trace_stat."""
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f, delimiter=";"))
    if not rows:
        raise ValueError(f"{path} holds no statistics")
    last = rows[-1]
    return SippStats(attempted=int(last["OutgoingCall(C)"]), succeeded=int(last["SuccessfulCall(C)"]),
                     failed=int(last["FailedCall(C)"]))


@dataclass(frozen=True)
class Answers:
    """When each call was answered (ms since the epoch) and how long its INVITE took to get 200."""

    at_ms: list[float]
    latency_ms: list[float]

    def sustained_rate(self) -> float:
        """Calls answered per second between the first answer and the last."""
        if len(self.at_ms) < 2:
            return 0.0
        span = (max(self.at_ms) - min(self.at_ms)) / 1000
        return (len(self.at_ms) - 1) / span if span > 0 else 0.0


def read_rtt_csv(path: Path) -> Answers:
    """SIPp's -trace_rtt file: one line per call for the response marked rtd (the INVITE's 200)."""
    at: list[float] = []
    latency: list[float] = []
    with path.open(newline="") as f:
        for row in csv.DictReader(f, delimiter=";"):
            at.append(float(row["Date_ms"]))
            latency.append(float(row["response_time_ms"]))
    return Answers(at, latency)


def machine_busy_seconds() -> float:
    """CPU seconds the machine's processes spent (all cores: user, nice and system). Interrupt
    time is left out: the load's own packets are most of it, and no process is charged for it."""
    user, nice, system = (int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:4])
    return (user + nice + system) / TICKS


def own_cpu_seconds() -> float:
    """This process's CPU (the bench's own: SIPp's is its children's)."""
    return cpu_seconds(os.getpid())


@dataclass(frozen=True)
class Load:
    """A load as SIPp placed it."""

    sipp: sipp.SippResult
    stats: SippStats
    answers: Answers
    wall_s: float
    sipp_cpu_s: float  # SIPp shares the machine's cores: its CPU tells how much was left for the rest

    @property
    def latency_ms(self) -> dict[str, float]:
        """INVITE->200 of the answered calls: p50, p95, p99."""
        return {f"p{q}": round(percentile(self.answers.latency_ms, q), 1) for q in (50, 95, 99)}


def sipp_load(steps: Sequence[tuple], *, workdir: Path, target: str, service: str, calls: int,
              rate: float) -> Load:
    """`calls` calls at `rate` a second from SIPp (callers 1999<n>, "bench"), at most 30 s of
    them up at once, with its statistics (-trace_stat) and each answer's time (-trace_rtt)."""
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    run = sipp.run(sipp.scenario(steps, caller="1999[call_number]", caller_name="bench"),
                   workdir=workdir, target=target, service=service, calls=calls, rate=rate,
                   limit=int(rate * 30), timeout=calls / rate + 120,
                   extra=["-trace_stat", "-stf", str(workdir / "stat.csv"), "-fd", "1", "-trace_rtt", "-rtt_freq", "1"])
    wall = time.monotonic() - started
    children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    sipp_cpu = (children1.ru_utime + children1.ru_stime) - (children0.ru_utime + children0.ru_stime)
    stats = read_stat_csv(workdir / "stat.csv")
    rtt = next(workdir.glob("*_rtt.csv"), None)
    if not run.ok and stats.failed == 0:
        print(f"sipp exited {run.returncode}: {run.stderr[-500:]}", file=sys.stderr)
    return Load(run, stats, read_rtt_csv(rtt) if rtt else Answers([], []), wall, sipp_cpu)


def wait_settled(read: Callable[[], C], expected: int, ended: Callable[[Any], bool], timeout: float = 60) -> C:
    """read()'s records (a mapping's values are the records) once there are `expected` and all
    have `ended`, or what there is when `timeout` s have passed."""
    deadline = time.monotonic() + timeout
    while True:
        rows = read()
        done = all(ended(r) for r in (rows.values() if isinstance(rows, Mapping) else rows))
        if (len(rows) >= expected and done) or time.monotonic() > deadline:
            return rows
        time.sleep(1)
