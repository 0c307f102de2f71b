"""A throwaway PostgreSQL cluster in a temporary directory, on a free port, for tests."""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from tests.support.platform import free_port


def server_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


@contextmanager
def running_postgres() -> Iterator[str]:
    """Yields an asyncpg DATABASE_URL; the cluster is stopped and removed afterwards."""
    bindir = server_bin()
    if bindir is None:
        raise RuntimeError("PostgreSQL server binaries are missing: `make test` installs them")
    # initdb refuses to run as root, so the cluster belongs to the packaged postgres user, in
    # a directory of its own (pytest's temporary root is closed to other users).
    data = Path(tempfile.mkdtemp(prefix="voicectl-pg-"))
    shutil.chown(data, "postgres")
    as_pg = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    subprocess.run([*as_pg, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
                   check=True, capture_output=True)
    subprocess.run([*as_pg, str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l", str(data / "log"), "-o",
                    f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off", "start"],
                   check=True, capture_output=True)
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_pg, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
                       capture_output=True, env={**os.environ})
        shutil.rmtree(data, ignore_errors=True)
