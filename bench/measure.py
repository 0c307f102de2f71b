"""What a load run reads off the machine: process CPU from /proc, SIPp's statistics files."""
from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU of a process, all its threads included."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name may hold spaces and parentheses: fields are counted after the last ')'.
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


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
