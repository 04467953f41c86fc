# ruff: noqa: INP001, T201 - a script that prints its figures
"""Benchmark of the planner on a 90-day half-hourly horizon (Flatpeak's longest answer).

``scripts/bench planner`` prints one ``BENCH planner`` line per case: the median and
the slowest of several runs, in milliseconds. The prices are the sandbox's Agile-style
tariff (4,320 half-hours); the cases are what the integration runs: normalising an
answer, a cheapest window (one block / the cheapest periods) over the whole horizon and
over one night, and a charge plan to a deadline 90 days ahead.
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from custom_components.flatpeak.planner import (
    Price,
    choose_window,
    normalize,
    plan_charge,
)
from flatpeak_sandbox import Tariff

if TYPE_CHECKING:
    from collections.abc import Callable

RUNS = 7
START = datetime(2026, 6, 15, tzinfo=UTC)
HALF = timedelta(minutes=30)


def horizon(days: int = 90) -> list[Price]:
    """Return the Agile tariff's half-hours over `days`."""
    tariff = Tariff.agile_uk(seed=0)
    return [
        Price(
            START + k * HALF,
            START + (k + 1) * HALF,
            tariff.price_at(START + k * HALF, "IMPORT"),
        )
        for k in range(days * 48)
    ]


def measure(name: str, case: Callable[[], object]) -> None:
    """Print the median and slowest of RUNS runs of `case`."""
    times = []
    for _ in range(RUNS):
        began = time.perf_counter()
        case()
        times.append((time.perf_counter() - began) * 1000)
    print(
        f"BENCH planner {name}: median {statistics.median(times):.2f} ms, "
        f"max {max(times):.2f} ms ({RUNS} runs)"
    )


def main() -> int:
    """Run every case."""
    prices = horizon()
    end = prices[-1].end
    night = (START + timedelta(hours=21), START + timedelta(hours=30))
    print(
        f"BENCH planner horizon: {len(prices)} half-hours, {START:%Y-%m-%d} + 90 days"
    )
    measure("normalize (a 90-day answer)", lambda: normalize(prices))
    measure(
        "window, one 3 h block, 90 days",
        lambda: choose_window(prices, START, end, 3, continuous=True),
    )
    measure(
        "window, cheapest 3 h, 90 days",
        lambda: choose_window(prices, START, end, 3, continuous=False),
    )
    measure(
        "window, one 2 h block, one night (3 days of prices)",
        lambda: choose_window(prices[: 3 * 48], *night, 2, continuous=True),
    )
    measure(
        "charge plan, 60 kWh at 7.4 kW, 90 days",
        lambda: plan_charge(prices, START, end, 60, 7.4),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
