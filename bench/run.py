"""`make bench`: SIPp calls over real SIP into an IVR flow, through the platform and through the
same flow as native dialplan in the same Asterisk, and what each cost.

    python -m bench.run [--flow menu|trigger] [--rate 80] [--calls 2000] [--runs 3]
                        [--only platform|native] [--json FILE]
    python -m bench.run --flow trigger --ramp [--ramp-from 40] [--ramp-step 10] [--ramp-to 200]
    python -m bench.run --flow trigger --measure [--runs 1]

Flows (bench/flows.py): `menu`, the demo IVR (key 1, then 2); `trigger`, a menu (key 1) into
Voitex's API Branch answered at once by a local webhook (bench/webhook.py, a process of its
own) with play + inputs, key 2, a content branch, hang-up; natively, CURL() to the same webhook.

The sides take turns, native then platform, --runs times, so a change in the machine's state
lands on both. Prints a row per side and run: calls attempted and failed, calls whose path was
the intended one (the platform's call records; the native dialplan's own line per call),
calls/s sustained, CPU seconds per call (Asterisk plus the control plane; the webhook's own
CPU is shown apart and counted in neither), INVITE->200 latency percentiles, and the ratio to
the native run of the same round; then each side's medians over the runs. The figures go in
bench/README.md; nothing here asserts on them, but a failed call or a wrong path makes the
exit status 1.

--ramp steps the rate up, both sides at each step in turn, until a side's step has a failure,
a wrong path, answer p95 >= 200 ms or falls short of the offered rate; prints each side's
highest clean rate and the platform's as a share of native's.

--measure adds the bench's own ARI app (bench/events.py) and the webhook's answer log, and
prints key -> audio started and webhook answer -> audio started per side (p50/p99); that app
costs Asterisk CPU, so a measuring run's CPU figures are not the bench's.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from bench import events, measure, native, webhook
from bench.flows import FLOWS, MENU, TRIGGER, Flow, trigger_ivr
from bench.webhook import Webhook
from control.store.models import Call
from tests.support import sipp
from tests.support.platform import Instance, free_port

# RTP ports of its own, so a bench can run beside `make run` and the tests.
RTP_PORTS = (40000, 44999)
SETTLE_S = 3  # before each load, so the previous one's last media and channels have wound down
LATENCIES = ("p50", "p95", "p99")
COUNTS = ("attempted", "failed", "records_ok")  # a side's summary row adds these up
# A ramp step is clean with no failed call, every path right, answer p95 under this, and the
# offered rate sustained (SIPp's own CPU can fall short on this shared box: not a clean step).
RAMP_P95_MS = 200
RAMP_RATE_SHARE = 0.95
# Other processes' CPU during a load, as a share of one core, past which the load is flagged
# (quiet, loads here showed -0.08 to 0.17: accounting between ticks; a unit-test run about 1).
OTHER_CPU_WARN = 0.25
REDO = 2

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
    rate: float = 0.0  # offered
    hook_cpu_s: float | None = None  # the webhook process's, counted in neither side
    timing_ms: dict[str, list[float]] = field(default_factory=dict)  # --measure: events.KINDS
    # The machine's busy CPU over the load that none of the above nor the bench itself spent:
    # something else ran beside it (a test run, a build), and its figures are suspect.
    other_cpu_s: float = 0.0
    # Each load of this run's that was done again (steady_load): the other processes' CPU in it.
    redone_other_cpu_s: list[float] = field(default_factory=list)

    @property
    def cpu_per_call_ms(self) -> float:
        return 1000 * (self.asterisk_cpu_s + self.control_cpu_s) / max(self.succeeded, 1)

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.records_ok == self.attempted

    @property
    def clean(self) -> bool:
        """A ramp step the side took: ok, answer p95 under RAMP_P95_MS, the rate sustained."""
        return (self.ok and self.latency_ms["p95"] < RAMP_P95_MS
                and self.calls_per_s >= RAMP_RATE_SHARE * self.rate)


def _call_records(instance: Instance) -> Records:
    async def read(db: async_sessionmaker) -> Records:
        async with db() as session:
            rows = await session.execute(select(Call.id, Call.branch_data, Call.ended_at))
            return {r.id: (r.branch_data, r.ended_at is not None) for r in rows}

    return instance.db(read)


def _count_right(side: Side, run: int, records: Records, expected: list) -> int:
    """How many records show the intended path, ended; a few of the others go to stderr."""
    wrong = [(k, data) for k, (data, ended) in records.items() if not ended or data != expected]
    for call_id, data in wrong[:3]:
        print(f"{side.name} run {run}: call {call_id} took {data}", file=sys.stderr)
    return len(records) - len(wrong)


@dataclass
class Bench:
    """What every load of a bench shares."""

    instance: Instance
    flow: Flow
    workdir: Path
    hook: Webhook | None = None
    tap: events.EventTap | None = None
    hook_log_at: int = 0  # how far the webhook's answer log has been read


def load(bench: Bench, side: Side, run: int, calls: int, rate: float, workdir: Path) -> Result:
    instance, flow = bench.instance, bench.flow
    before = set(side.records())
    pids = {"asterisk": instance.asterisk_pid(), "control": instance.proc.pid}
    cpu0 = measure.cpu_of(pids)
    hook0 = bench.hook.cpu_seconds() if bench.hook else None
    if bench.tap:  # what came before this load (the warm-up, the last load's tail) is not its
        bench.tap.take()
        if bench.hook:
            _, bench.hook_log_at = bench.hook.answers(bench.hook_log_at)
    busy0, own0 = measure.machine_busy_seconds(), measure.own_cpu_seconds()
    done = measure.sipp_load(flow.steps, workdir=workdir, target=instance.sip_target, service=side.number,
                             calls=calls, rate=rate)
    added = measure.wait_settled(lambda: {k: v for k, v in side.records().items() if k not in before},
                                 done.stats.attempted, ended=lambda record: record[1])
    records_ok = _count_right(side, run, added, flow.expected)
    # Read CPU after the records are written: the run's cost includes finishing its calls.
    cpu1 = measure.cpu_of(pids)
    hook1 = bench.hook.cpu_seconds() if bench.hook else None
    other = (measure.machine_busy_seconds() - busy0 - (measure.own_cpu_seconds() - own0) - done.sipp_cpu_s
             - sum(cpu1.values()) + sum(cpu0.values()) - ((hook1 or 0) - (hook0 or 0)))
    if other > OTHER_CPU_WARN * done.wall_s:
        print(f"{side.name} run {run}: {other:.1f} CPU-s went to other processes during the load "
              f"(a test run or a build beside the bench?): its figures are suspect", file=sys.stderr)
    timing: dict[str, list[float]] = {}
    if bench.tap:
        answers: dict[str, float] = {}
        if bench.hook:
            answers, bench.hook_log_at = bench.hook.answers(bench.hook_log_at)
        timing = events.latencies(bench.tap.take(), answers)
    stats = done.stats
    return Result(
        name=side.name, run=run, attempted=stats.attempted, succeeded=stats.succeeded, failed=stats.failed,
        records_ok=records_ok, wall_s=round(done.wall_s, 1), calls_per_s=round(done.answers.sustained_rate(), 1),
        asterisk_cpu_s=round(cpu1["asterisk"] - cpu0["asterisk"], 2),
        control_cpu_s=round(cpu1["control"] - cpu0["control"], 2), sipp_cpu_s=round(done.sipp_cpu_s, 1),
        latency_ms=done.latency_ms, rate=rate, hook_cpu_s=None if hook0 is None else round(hook1 - hook0, 2),
        timing_ms=timing, other_cpu_s=round(other, 1))


def wait_quiet(limit_s: float = 900) -> None:
    """Until the machine's processes spend under OTHER_CPU_WARN of a core over 5 s (the idle
    instance spends a few hundredths), or `limit_s` has passed."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        busy0 = measure.machine_busy_seconds()
        time.sleep(5)
        if measure.machine_busy_seconds() - busy0 < OTHER_CPU_WARN * 5:
            return
        print("waiting for the machine to be quiet...", file=sys.stderr, flush=True)
        time.sleep(10)


def steady_load(bench: Bench, side: Side, run: int, calls: int, rate: float, workdir: Path) -> Result:
    """A load, done again (at most REDO times, once the machine is quiet) when other processes
    took more than OTHER_CPU_WARN of a core during it: a test run or a build beside the bench
    would otherwise decide the figures."""
    redone: list[float] = []
    for attempt in range(REDO + 1):
        where = workdir.with_name(f"{workdir.name}-redo{attempt}") if attempt else workdir
        result = load(bench, side, run, calls, rate, where)
        result.redone_other_cpu_s = list(redone)
        if result.other_cpu_s <= OTHER_CPU_WARN * result.wall_s or attempt == REDO:
            return result
        redone.append(result.other_cpu_s)
        wait_quiet()
        print(f"run {run}, {side.name}: again, the machine being quiet now", flush=True)
        time.sleep(SETTLE_S)
    return result


def warm_up(instance: Instance, number: str, workdir: Path, steps: Sequence[tuple] = MENU.steps) -> None:
    """One call first, so TTS renders and Asterisk's HTTP media cache are not in the figures."""
    run = sipp.run(sipp.scenario(steps, caller="15550000000"), workdir=workdir, target=instance.sip_target,
                   service=number, timeout=60)
    if not run.ok:
        raise SystemExit(f"warm-up call to {number} failed:\n{run.errors[-2000:]}\n{instance.log_tail()}")


def interleaved(bench: Bench, sides: Sequence[Side], runs: int, calls: int, rate: float) -> list[Result]:
    """Each side in turn, `runs` rounds: a slow spell of the machine hits both sides alike
    instead of whichever happened to run during it."""
    results = []
    for run in range(1, runs + 1):
        for side in sides:
            time.sleep(SETTLE_S)
            print(f"run {run}/{runs}, {side.name}: {calls} calls at {rate:g}/s to {side.number}...", flush=True)
            results.append(steady_load(bench, side, run, calls, rate, bench.workdir / f"sipp-{side.name}-{run}"))
    return results


def ramp(bench: Bench, sides: Sequence[Side], start: float, step: float, top: float, seconds: float) -> list[Result]:
    """Both sides at each rate in turn, from `start` up by `step`, each until it has a step
    that is not clean (or `top` is passed): `seconds` of calls a step."""
    results: list[Result] = []
    live = list(sides)
    rate, step_no = start, 0
    while live and rate <= top:
        step_no += 1
        calls = int(rate * seconds)
        for side in list(live):
            time.sleep(SETTLE_S)
            print(f"ramp {rate:g}/s, {side.name}: {calls} calls to {side.number}...", flush=True)
            result = steady_load(bench, side, step_no, calls, rate, bench.workdir / f"ramp-{side.name}-{rate:g}")
            results.append(result)
            if not result.clean:
                print(f"  {side.name} not clean at {rate:g}/s: failed {result.failed}, records ok "
                      f"{result.records_ok}/{result.attempted}, p95 {result.latency_ms['p95']:g} ms, "
                      f"{result.calls_per_s:g} calls/s", flush=True)
                live.remove(side)
        rate += step
    return results


def highest_clean(results: Sequence[Result], name: str) -> tuple[float | None, bool]:
    """A side's highest clean rate below its first unclean step; True when it never had one
    (its capacity is above what the ramp offered)."""
    best = None
    for r in sorted((r for r in results if r.name == name), key=lambda r: r.rate):
        if not r.clean:
            return best, False
        best = r.rate
    return best, True


def figures(result: Result, floor: Result | None) -> Figures:
    """x_native is against `floor`, the native run of the same round."""
    ratio = result.cpu_per_call_ms / floor.cpu_per_call_ms if floor and floor.cpu_per_call_ms else None
    return {"attempted": result.attempted, "failed": result.failed, "records_ok": result.records_ok,
            "calls_per_s": result.calls_per_s, "asterisk_cpu_s": result.asterisk_cpu_s,
            "control_cpu_s": result.control_cpu_s, "cpu_per_call_ms": result.cpu_per_call_ms,
            "x_native": ratio, **{p: result.latency_ms[p] for p in LATENCIES},
            "sipp_cpu_s": result.sipp_cpu_s, "wall_s": result.wall_s, "hook_cpu_s": result.hook_cpu_s}


def summary(rows: Sequence[Figures]) -> Figures:
    """A side over its runs: counts added up (a failure in one run must not vanish into a
    median), every other column the median of the runs' values, x native included."""
    def column(key: str) -> float | None:
        values = [r[key] for r in rows if r[key] is not None]
        if not values:
            return None
        return sum(values) if key in COUNTS else statistics.median(values)

    return {key: column(key) for key in rows[0]}


def by_row(results: Sequence[Result], medians: bool = True, label: Callable[[Result], str] | None = None
           ) -> list[tuple[str, Figures]]:
    """Each run's row, labelled "side N", then "side median" for a side run more than once."""
    floors = {r.run: r for r in results if r.name == "native"}
    label = label or (lambda r: f"{r.name} {r.run}")
    rows = [(label(r), figures(r, floors.get(r.run))) for r in results]
    for name in dict.fromkeys(r.name for r in results) if medians else ():
        mine = [f for r, (_, f) in zip(results, rows) if r.name == name]
        if len(mine) > 1:
            rows.append((f"{name} median", summary(mine)))
    return rows


def report(rows: Sequence[tuple[str, Figures]]) -> str:
    hook = any(f.get("hook_cpu_s") is not None for _, f in rows)  # a column only where a webhook ran
    head = ("run", "attempted", "failed", "records ok", "calls/s", "CPU s (ast+ctl)", "CPU ms/call",
            "x native", "p50 ms", "p95 ms", "p99 ms", "SIPp CPU s", *(("hook CPU s",) if hook else ()), "wall s")
    lines = [head]
    for label, f in rows:
        ratio = "-" if f["x_native"] is None else f"{f['x_native']:.2f}"
        hook_cell = ("-" if f.get("hook_cpu_s") is None else f"{f['hook_cpu_s']:.1f}",) if hook else ()
        lines.append((label, *(f"{f[k]:g}" for k in COUNTS), f"{f['calls_per_s']:.1f}",
                      f"{f['asterisk_cpu_s']:.1f}+{f['control_cpu_s']:.1f}", f"{f['cpu_per_call_ms']:.1f}",
                      ratio, *(f"{f[p]:.1f}" for p in LATENCIES), f"{f['sipp_cpu_s']:.1f}", *hook_cell,
                      f"{f['wall_s']:.1f}"))
    return _table(lines)


def _table(lines: Sequence[Sequence[str]]) -> str:
    """The head and rows, in columns: the first left-aligned, the rest right-aligned."""
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    return "\n".join("  ".join(cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in enumerate(zip(line, widths)))
                     for line in lines)


def conditions(results: Sequence[Result], label: Callable[[Result], str]) -> str:
    """One line under the table: how its figures were taken."""
    redone = [f"{label(r)} ({', '.join(f'{c:.1f}' for c in r.redone_other_cpu_s)} CPU-s)"
              for r in results if r.redone_other_cpu_s]
    other = max((r.other_cpu_s for r in results), default=0.0)
    return (f"taken with admission control off (no call cap, answer-time and loop-lag gates lifted); "
            f"loads done again for other processes' CPU: {', '.join(redone) if redone else 'none'}; "
            f"other processes' CPU in a load kept: at most {other:.1f} s")


TIMING_HEAD = {"key_audio": "key->audio", "key_hook_audio": "key->webhook->audio",
               "hook_audio": "webhook answer->audio"}


def timing_report(results: Sequence[Result]) -> str:
    """--measure: per side and run, then per side over all its runs, n and p50/p99 in ms."""
    kinds = [k for k in events.KINDS if any(r.timing_ms.get(k) for r in results)]
    head = ("run", *(f"{TIMING_HEAD[k]} n p50/p99 ms" for k in kinds))
    groups: list[tuple[str, list[Result]]] = [(f"{r.name} {r.run}", [r]) for r in results]
    names = list(dict.fromkeys(r.name for r in results))
    if len(results) > len(names):
        groups += [(f"{n} all", [r for r in results if r.name == n]) for n in names]
    lines = [head]
    for label, rs in groups:
        cells = []
        for k in kinds:
            values = [v for r in rs for v in r.timing_ms.get(k, [])]
            cells.append(f"{len(values)}  {measure.percentile(values, 50):.0f} / {measure.percentile(values, 99):.0f}"
                         if values else "-")
        lines.append((label, *cells))
    return _table(lines)


def _provision_trigger(instance: Instance, url: str) -> None:
    """The trigger flow's number on the demo tenant, running bench/flows.py's IVR."""
    tenants = json.loads(instance.cli("tenant", "list", "--json").stdout)
    demo = next(t for t in tenants if t["name"] == "demo")
    instance.add_ivr(TRIGGER.platform_number, trigger_ivr(url), demo["id"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flow", choices=sorted(FLOWS), default="menu", help="what the calls do (default menu)")
    parser.add_argument("--rate", type=float, default=80, help="new calls per second (default 80)")
    parser.add_argument("--calls", type=int, default=2000, help="calls per side per run (default 2000)")
    parser.add_argument("--runs", type=int, default=3, help="rounds of native then platform (default 3)")
    parser.add_argument("--only", choices=("platform", "native"), help="run one side only")
    parser.add_argument("--ramp", action="store_true",
                        help="step the rate up until each side's first unclean step, instead of --runs rounds")
    parser.add_argument("--ramp-from", type=float, default=40, help="the ramp's first rate (default 40)")
    parser.add_argument("--ramp-step", type=float, default=10, help="the ramp's step (default 10)")
    parser.add_argument("--ramp-to", type=float, default=200, help="the ramp's highest rate (default 200)")
    parser.add_argument("--ramp-seconds", type=float, default=20, help="seconds of calls a ramp step (default 20)")
    parser.add_argument("--measure", action="store_true",
                        help="time key->audio and webhook answer->audio from ARI events (costs Asterisk CPU)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the instance's data directory")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.ramp and args.measure:
        parser.error("--measure times a steady load: not with --ramp")
    if not shutil.which("sipp"):
        raise SystemExit("no sipp: run `make setup` first")
    flow = FLOWS[args.flow]

    data_dir = Path(tempfile.mkdtemp(prefix="voicectl-bench-"))
    instance = Instance.create(data_dir, rtp=RTP_PORTS)
    # This bench measures what the IVR path costs, not admission control (bench/overload.py
    # does): no cap on calls in progress, and no refusing calls (503) when answers or the
    # event loop slow down, so a loaded run's calls are never refused: a call the path cannot
    # carry fails, or shows in the latencies, as on the native side.
    instance.env["VOICECTL_MAX_CALLS"] = "100000"
    instance.env["VOICECTL_MAX_ANSWER_MS"] = "1000000"
    instance.env["VOICECTL_MAX_LOOP_LAG_MS"] = "1000000"
    instance.cli("init")
    instance.cli("demo")
    hook_port = free_port() if flow.webhook else None
    natives = native.install(instance.settings, hook_url=webhook.url(hook_port, "/native") if hook_port else None)
    if hook_port:
        _provision_trigger(instance, webhook.url(hook_port, "/platform"))
    native_number = natives.trigger_number if flow is TRIGGER else natives.number
    sides = [Side("native", native_number, lambda: native.read_paths(natives.paths)),
             Side("platform", flow.platform_number, lambda: _call_records(instance))]
    sides = [s for s in sides if args.only in (None, s.name)]
    hook = tap = None
    instance.start()
    try:
        if hook_port:
            answer_log = data_dir / "webhook-answers.log" if args.measure else None
            hook = Webhook.start(hook_port, natives.offer or "", answer_log, data_dir / "webhook.out")
        if args.measure:
            secrets = json.loads((data_dir / "secrets.json").read_text())
            tap = events.EventTap(instance.ports["ari"], secrets["ari_user"], secrets["ari_password"]).start()
        for side in sides:
            warm_up(instance, side.number, data_dir / f"warm-{side.name}", flow.steps)
        bench = Bench(instance, flow, data_dir, hook, tap)
        if args.ramp:
            results = ramp(bench, sides, args.ramp_from, args.ramp_step, args.ramp_to, args.ramp_seconds)
        else:
            results = interleaved(bench, sides, args.runs, args.calls, args.rate)
    finally:
        if tap:
            tap.stop()
        if hook:
            hook.stop()
        instance.stop()
    if flow is not MENU:  # the menu's output stays as it was
        print(f"flow: {flow.name}")
    label = (lambda r: f"{r.name} {r.rate:g}/s") if args.ramp else (lambda r: f"{r.name} {r.run}")
    if args.ramp:
        rows = by_row(results, medians=False, label=label)
        print(report(rows))
        print(conditions(results, label))
        best = {s.name: highest_clean(results, s.name) for s in sides}
        for name, (rate, above) in best.items():
            shown = "none" if rate is None else f"{rate:g}/s" + (" (never unclean: the ramp's top)" if above else "")
            print(f"{name}: highest clean rate {shown}")
        if len(best) == 2 and best["native"][0] and best["platform"][0] is not None:
            bound = " (native's capacity lies above the ramp: the ratio is an upper bound)" if best["native"][1] else ""
            print(f"platform/native: {best['platform'][0] / best['native'][0]:.2f}{bound}")
    else:
        rows = by_row(results, label=label)
        print(report(rows))
        print(conditions(results, label))
    if args.measure:
        print("\nfrom ARI event timestamps (a measuring run: the CPU figures above are not the bench's)")
        print(timing_report(results))
    if args.json:
        args.json.write_text(json.dumps({"flow": flow.name, "admission": "off",
                                         "reruns": [{"run": label(r), "other_cpu_s": c}
                                                    for r in results for c in r.redone_other_cpu_s],
                                         "runs": [{**asdict(r), "cpu_per_call_ms": r.cpu_per_call_ms}
                                                  for r in results],
                                         "rows": [{"run": name, **f} for name, f in rows]}, indent=2))
    if args.keep:
        print(f"data directory kept: {data_dir}")
    else:
        shutil.rmtree(data_dir, ignore_errors=True)
    if args.ramp:  # a ramp ends on unclean steps by design: only a completed call down a wrong path fails it
        return 0 if all(r.records_ok + r.failed >= r.attempted for r in results) else 1
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
