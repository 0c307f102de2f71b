"""How long `voicectl contacts import` takes for a CSV of N contacts (default 10,000, two
phones and a label each), run as an operator runs it, on a fresh database of its own.

    make bench-contacts                       # SQLite, 10,000 rows, 3 runs
    make bench-contacts CONTACTS_ARGS="--rows 50000 --runs 1"
    DATABASE_URL=postgresql+asyncpg://... make bench-contacts   # an empty PostgreSQL database

Prints rows per second and the wall time of each run (the whole command: start-up, migration
check, the import, the report), and the median.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("phone,labels,first_name,last_name,email,field_a\n")
        for n in range(rows):
            out.write(f"+1212{n // 10000 + 200:03d}{n % 10000:04d}:M;+1646{n // 10000 + 200:03d}{n % 10000:04d},1,"
                      f"First{n},Last{n},p{n}@example.com,{n}\n")


def voicectl(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "control.cli", *args], env=env, text=True, capture_output=True,
                          check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    times = []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "VOICECTL_DATA_DIR": tmp, "VOICECTL_AMI_PORT": "1"}
            tenant = json.loads(voicectl(env, "tenant", "create", "Bench", "--json").stdout)["id"]
            voicectl(env, "label", "create", "1", "--tenant", tenant)
            csv_path = Path(tmp) / "contacts.csv"
            make_csv(csv_path, args.rows)
            started = time.perf_counter()
            done = voicectl(env, "contacts", "import", str(csv_path), "--tenant", tenant, "--json")
            took = time.perf_counter() - started
            report = json.loads(done.stdout)
            assert report["added"] == args.rows and not report["rejected"], report
            times.append(took)
            print(f"run {run + 1}: {args.rows} rows in {took:.2f} s ({args.rows / took:,.0f} rows/s)")
    median = statistics.median(times)
    print(f"median: {median:.2f} s for {args.rows} rows ({args.rows / median:,.0f} rows/s), "
          f"database {os.environ.get('DATABASE_URL', 'sqlite (the default)').split(':')[0]}")


if __name__ == "__main__":
    main()
