"""The control plane's scheduling priority.

One event-loop thread serves every call, while Asterisk runs a thread per channel. At equal
priority the kernel gives the loop one share among hundreds of runnable threads under load,
and every call waits on it: at 80 calls/s INVITE->200 p95 swung from 0.1 s to 6 s between
identical runs (bench/README.md). Raising the loop's priority (VOICECTL_NICE below 0) tamed
that before admission control existed; with admission control it only took CPU from
Asterisk's media threads (p95 0.2 s at normal priority, 0.8-1.3 s at -10, with 1.5x the clean
rate offered), so the default is 0. When it is raised, the programs `voicectl up` starts
(Asterisk, espeak-ng, sox) still run at the ordinary priority.
"""
from __future__ import annotations

import logging
import os
from typing import Sequence

log = logging.getLogger(__name__)


def raise_loop_priority(nice: int) -> int:
    """Give the calling thread (on Linux PRIO_PROCESS 0 is the thread) this nice value;
    returns the value in force, unchanged when not permitted (not root, no CAP_SYS_NICE)."""
    if nice >= 0:
        return os.getpriority(os.PRIO_PROCESS, 0)
    try:
        os.setpriority(os.PRIO_PROCESS, 0, nice)
    except PermissionError:
        log.info("running at normal priority: raising it to nice %d needs root or CAP_SYS_NICE", nice)
    return os.getpriority(os.PRIO_PROCESS, 0)


def at_normal_priority(argv: Sequence[str]) -> list[str]:
    """argv for a child that must not inherit the loop's raised priority (children inherit it)."""
    current = os.getpriority(os.PRIO_PROCESS, 0)
    return ["nice", "-n", str(-current), *argv] if current < 0 else list(argv)
