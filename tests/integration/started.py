"""An instance of its own for a test module: demo provisioned, started, stopped cleanly."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from tests.integration.conftest import require_asterisk
from tests.support.platform import Instance


@contextmanager
def demo_instance(data_dir: Path, rtp: tuple[int, int], env: dict[str, str] | None = None,
                  provision: Callable[[Instance], None] = lambda instance: None) -> Iterator[Instance]:
    require_asterisk()
    instance = Instance.create(data_dir, rtp=rtp)
    instance.env.update(env or {})
    instance.cli("init")
    instance.cli("demo")
    provision(instance)
    instance.start()
    try:
        yield instance
    finally:
        code = instance.stop()
    assert code == 0, f"voicectl up did not stop cleanly ({code}):\n{instance.log_tail()}"
