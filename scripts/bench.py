# ruff: noqa: INP001 - a script, not a package
"""Benchmark of the backfill: N days x 4 streams of statistics sent to the sandbox.

``scripts/bench [DAYS ...]`` (default 1 30 365) runs ``scripts/bench_backfill.py``
under pytest once per N, in a fresh process each: Home Assistant with a real
recorder (in memory) and the Flatpeak sandbox as a separate process, so that only
Home Assistant's event loop is measured. Each run prints one ``BENCH`` line:
records/s, meter-submission requests per 1,000 records, the longest event-loop
block during the backfill (a ticker task records its own lateness), the longest
garbage collection, the number of full ones and the longest block outside one, and
the peak memory (max RSS) of the process. Environment variables for the case are
passed through (see `bench_backfill.py`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CASE = Path(__file__).with_name("bench_backfill.py")


def main(argv: list[str]) -> int:
    """Run the benchmark once per number of days given."""
    status = 0
    for days in argv or ["1", "30", "365"]:
        result = subprocess.run(  # noqa: S603
            [
                sys.executable,
                "-m",
                "pytest",
                str(CASE),
                "-q",
                "-s",
                "-p",
                "no:cacheprovider",
                "-p",
                "no:logging",
            ],
            cwd=REPO,
            env={**os.environ, "FLATPEAK_BENCH_DAYS": days},
            capture_output=True,
            text=True,
            check=False,
        )
        lines = [line for line in result.stdout.splitlines() if "BENCH" in line]
        print("\n".join(lines) or result.stdout[-3000:] + result.stderr[-3000:])  # noqa: T201
        status |= result.returncode
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
