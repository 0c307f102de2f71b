"""The one shape of audio the control plane gives Asterisk, which plays it without transcoding
work of its own: 8 kHz, mono, 16-bit signed PCM in a WAV file; and the one way the programs
making it (sox, espeak-ng) are run."""
from __future__ import annotations

import asyncio

from control.priority import at_normal_priority

RATE = 8000
CHANNELS = 1
SAMPLE_BYTES = 2
BYTES_PER_SECOND = RATE * CHANNELS * SAMPLE_BYTES
WAV_HEADER = 44  # the canonical header: what sox and Asterisk write before the samples
# sox's output options for that shape.
SOX_SHAPE = ("-r", str(RATE), "-c", str(CHANNELS), "-b", str(8 * SAMPLE_BYTES), "-e", "signed-integer")


class ProgramFailed(RuntimeError):
    def __init__(self, program: str, status: int, err: str) -> None:
        super().__init__(f"{program} failed ({status}): {err}")
        self.status = status
        self.err = err  # what it wrote to stderr, stripped


async def run(*argv: str, timeout_s: float) -> None:
    """Run a program at the ordinary priority. ProgramFailed when it exits non-zero;
    TimeoutError, the program killed, when it runs longer than `timeout_s`. A caller cancelled
    kills it too: no program outlives the work it was started for."""
    proc = await asyncio.create_subprocess_exec(*at_normal_priority(argv), stdout=asyncio.subprocess.DEVNULL,
                                                stderr=asyncio.subprocess.PIPE)
    try:
        _, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    except BaseException as exc:
        if proc.returncode is None:
            proc.kill()
            if isinstance(exc, TimeoutError):  # not when cancelled: that must not wait on anything
                await proc.wait()
        raise
    if proc.returncode != 0:
        raise ProgramFailed(argv[0], proc.returncode or 0, err.decode(errors="replace").strip())
