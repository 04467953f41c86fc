"""When energy is cheapest: windows and charge plans over price periods (pure).

Prices come as periods of constant price, of any length (a time-of-use tariff's
hours, an Agile tariff's half-hours). Two questions are answered here:
- `choose_window`: where in a window of the day to run for `hours` at the lowest
  average price: one continuous block, or the cheapest periods wherever they fall;
- `plan_charge`: how to put `energy_kwh` into a battery at up to `max_power_kw` at
  the lowest cost before a deadline (fill the cheapest periods first, at full power).
Both are exact for piecewise-constant prices and run in O(n log n).
"""

from __future__ import annotations

import bisect
import heapq
import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

_EPSILON = 1e-9
_ZERO = timedelta(0)


@dataclass(frozen=True, slots=True)
class Price:
    """A period of constant price (per kWh), `[start, end)`."""

    start: datetime
    end: datetime
    price: float

    @property
    def hours(self) -> float:
        """Length of the period in hours."""
        return (self.end - self.start).total_seconds() / 3600


@dataclass(frozen=True, slots=True)
class Choice:
    """The chosen spans of a window, oldest first, and their average price."""

    slots: tuple[Price, ...] = ()
    average_price: float | None = None
    """Time-weighted average over the chosen spans (None: nothing chosen)."""

    @property
    def hours(self) -> float:
        """Total length of the chosen spans in hours."""
        return sum(slot.hours for slot in self.slots)

    def active_at(self, when: datetime) -> Price | None:
        """Return the chosen span that holds `when`, if any."""
        for slot in self.slots:
            if slot.start <= when < slot.end:
                return slot
        return None

    def runs(self) -> list[tuple[datetime, datetime]]:
        """Return the chosen time as runs without a break (touching spans joined)."""
        runs: list[tuple[datetime, datetime]] = []
        for slot in self.slots:
            if runs and runs[-1][1] == slot.start:
                runs[-1] = (runs[-1][0], slot.end)
            else:
                runs.append((slot.start, slot.end))
        return runs

    def next_start(self, when: datetime) -> datetime | None:
        """Return when the next run starts after `when` (off to on)."""
        return next((start for start, _ in self.runs() if start > when), None)

    def next_end(self, when: datetime) -> datetime | None:
        """Return when the run at `when` ends, else the next run (on to off)."""
        return next((end for _, end in self.runs() if end > when), None)


def normalize(periods: Iterable[Price]) -> list[Price]:
    """Return the periods oldest first, each instant priced once.

    A period Flatpeak repeats counts once; where periods overlap, the one that
    started last is in force (a correction published over an older period).
    """
    unique = sorted(
        {(p.start, p.end, p.price) for p in periods if p.end > p.start},
        key=lambda item: (item[0], item[1]),
    )
    if all(a[1] <= b[0] for a, b in itertools.pairwise(unique)):
        return [Price(*item) for item in unique]
    bounds = sorted({t for start, end, _ in unique for t in (start, end)})
    result: list[Price] = []
    active: list[tuple[float, int]] = []  # (-start timestamp, index): latest first
    following = 0
    for left, right in itertools.pairwise(bounds):
        while following < len(unique) and unique[following][0] <= left:
            heapq.heappush(active, (-unique[following][0].timestamp(), following))
            following += 1
        while active and unique[active[0][1]][1] <= left:
            heapq.heappop(active)
        if active:
            price = unique[active[0][1]][2]
            if result and result[-1].end == left and result[-1].price == price:
                result[-1] = Price(result[-1].start, right, price)
            else:
                result.append(Price(left, right, price))
    return result


def clip(prices: Iterable[Price], start: datetime, end: datetime) -> list[Price]:
    """Return the periods inside `[start, end)`, cut at its edges, oldest first."""
    clipped = [
        Price(max(p.start, start), min(p.end, end), p.price)
        for p in prices
        if p.end > start and p.start < end
    ]
    return sorted(clipped, key=lambda p: p.start)


def covered_until(prices: Iterable[Price], start: datetime) -> datetime:
    """Return how far from `start` the periods reach without a gap (`start`: none)."""
    cursor = start
    for period in sorted(prices, key=lambda p: p.start):
        if period.end <= cursor:
            continue
        if period.start > cursor:
            break
        cursor = period.end
    return cursor


def covers(prices: Iterable[Price], start: datetime, end: datetime) -> bool:
    """Tell whether the periods cover `[start, end)` without a gap."""
    return covered_until(prices, start) >= end


def merge(slots: Iterable[Price]) -> tuple[Price, ...]:
    """Merge touching spans of the same price; sort oldest first."""
    merged: list[Price] = []
    for slot in sorted(slots, key=lambda s: s.start):
        if merged and merged[-1].end == slot.start and merged[-1].price == slot.price:
            merged[-1] = Price(merged[-1].start, slot.end, slot.price)
        else:
            merged.append(slot)
    return tuple(merged)


def average_price(slots: Sequence[Price]) -> float | None:
    """Return the time-weighted average price of the spans (None: no time)."""
    seconds = sum((s.end - s.start).total_seconds() for s in slots)
    if seconds <= 0:
        return None
    weighted = sum((s.end - s.start).total_seconds() * s.price for s in slots)
    return weighted / seconds


def _within(price: float, minimum: float | None, maximum: float | None) -> bool:
    return (minimum is None or price >= minimum) and (
        maximum is None or price <= maximum
    )


class _Integral:
    """The integral of price over time from the first period (seconds x price)."""

    def __init__(self, periods: Sequence[Price]) -> None:
        self._periods = periods
        self._starts = [p.start for p in periods]
        self._before = [
            0.0,
            *itertools.accumulate(
                (p.end - p.start).total_seconds() * p.price for p in periods
            ),
        ]

    def at(self, when: datetime) -> float:
        index = bisect.bisect_right(self._starts, when) - 1
        if index < 0:
            return 0.0
        period = self._periods[index]
        inside = (min(when, period.end) - period.start).total_seconds()
        return self._before[index] + inside * period.price


def _best_block(
    run: Sequence[Price], length: timedelta
) -> tuple[float, tuple[Price, ...]] | None:
    """Return the cost and spans of the cheapest block of `length` in a gapless run.

    A block's cost is piecewise linear in its start, with breaks where its start or
    end meets a price boundary: the minimum is at one of those, so only they are
    tried (the earliest wins a tie).
    """
    first, last = run[0].start, run[-1].end
    if last - first < length:
        return None
    integral = _Integral(run)
    candidates = {first, last - length}
    for period in run:
        # In a gapless run every period's end is the next one's start.
        candidates.update((period.start, period.start - length))
    best: tuple[float, datetime] | None = None
    for start in sorted(candidates):
        if start < first or start + length > last:
            continue
        cost = integral.at(start + length) - integral.at(start)
        if best is None or cost < best[0] - _EPSILON:
            best = (cost, start)
    if best is None:  # pragma: no cover - `first` is always a candidate
        return None
    cost, start = best
    return cost, merge(clip(run, start, start + length))


def _runs(periods: Sequence[Price]) -> list[list[Price]]:
    """Split periods (oldest first) into runs without a gap between them."""
    runs: list[list[Price]] = []
    for period in periods:
        if runs and runs[-1][-1].end == period.start:
            runs[-1].append(period)
        else:
            runs.append([period])
    return runs


def _cheapest_periods(periods: Sequence[Price], length: timedelta) -> list[Price]:
    """Return the cheapest periods wherever they fall, the last one cut to fit."""
    chosen: list[Price] = []
    left = length
    for period in sorted(periods, key=lambda p: (p.price, p.start)):
        if left <= _ZERO:
            break
        take = min(period.end - period.start, left)
        chosen.append(Price(period.start, period.start + take, period.price))
        left -= take
    return chosen


def choose_window(
    prices: Sequence[Price],
    start: datetime,
    end: datetime,
    hours: float,
    *,
    continuous: bool,
    minimum_price: float | None = None,
    maximum_price: float | None = None,
) -> Choice:
    """Choose where in `[start, end)` to run for `hours` at the lowest average price.

    Periods outside the price limits are never chosen. A continuous block must fit
    whole between them (else nothing is chosen); the cheapest periods wherever they
    fall add up to `hours` at most (fewer when too few are within the limits).
    The caller checks that the prices cover the window.
    """
    length = timedelta(hours=hours)
    allowed = [
        p
        for p in clip(normalize(prices), start, end)
        if _within(p.price, minimum_price, maximum_price)
    ]
    if not allowed or length <= _ZERO:
        return Choice()
    if not continuous:
        slots = merge(_cheapest_periods(allowed, length))
        return Choice(slots, average_price(slots))
    best: tuple[float, tuple[Price, ...]] | None = None
    for run in _runs(allowed):
        block = _best_block(run, length)
        if block is not None and (best is None or block[0] < best[0] - _EPSILON):
            best = block
    if best is None:
        return Choice()
    return Choice(best[1], average_price(best[1]))


@dataclass(frozen=True, slots=True)
class ChargeStep:
    """Charge `energy_kwh` in `[start, end)` at full power, at `price` per kWh."""

    start: datetime
    end: datetime
    energy_kwh: float
    price: float


class PlanError(ValueError):
    """The energy cannot be charged in the window at that power."""


def charge_capacity(
    prices: Sequence[Price], start: datetime, end: datetime, max_power_kw: float
) -> float:
    """Return the most energy (kWh) that fits in `[start, end)` at `max_power_kw`."""
    return sum(p.hours for p in clip(normalize(prices), start, end)) * max_power_kw


def plan_charge(
    prices: Sequence[Price],
    start: datetime,
    end: datetime,
    energy_kwh: float,
    max_power_kw: float,
) -> tuple[ChargeStep, ...]:
    """Return the cheapest way to charge `energy_kwh` in `[start, end)`, oldest first.

    The cost is linear in the energy of each period, and each period takes at most
    `max_power_kw` times its length: filling the cheapest periods first at full power
    is optimal (the earliest on a tie, so the car is ready soonest). The last period
    used is charged from its start for as long as needed. Raises PlanError when the
    window cannot hold the energy at that power.
    """
    if max_power_kw <= 0 or energy_kwh <= 0:
        msg = "energy and power must be positive"
        raise PlanError(msg)
    periods = clip(normalize(prices), start, end)
    if sum(p.hours for p in periods) * max_power_kw + _EPSILON < energy_kwh:
        msg = "the window is too short for that energy at that power"
        raise PlanError(msg)
    steps: list[ChargeStep] = []
    left = energy_kwh
    for period in sorted(periods, key=lambda p: (p.price, p.start)):
        if left <= _EPSILON:
            break
        energy = min(period.hours * max_power_kw, left)
        duration = timedelta(hours=energy / max_power_kw)
        steps.append(
            ChargeStep(period.start, period.start + duration, energy, period.price)
        )
        left -= energy
    return tuple(sorted(steps, key=lambda step: step.start))


def charge_now(
    prices: Sequence[Price], start: datetime, energy_kwh: float, max_power_kw: float
) -> tuple[ChargeStep, ...]:
    """Return the steps of charging straight away at full power from `start`."""
    end = start + timedelta(hours=energy_kwh / max_power_kw)
    return tuple(
        ChargeStep(p.start, p.end, p.hours * max_power_kw, p.price)
        for p in clip(normalize(prices), start, end)
    )


def runs_of(steps: Sequence[ChargeStep]) -> list[tuple[datetime, datetime, float]]:
    """Join touching steps into runs at full power: (start, end, kWh) each."""
    runs: list[tuple[datetime, datetime, float]] = []
    for step in steps:
        if runs and runs[-1][1] == step.start:
            first, _, energy = runs[-1]
            runs[-1] = (first, step.end, energy + step.energy_kwh)
        else:
            runs.append((step.start, step.end, step.energy_kwh))
    return runs


def cost_of(steps: Iterable[ChargeStep]) -> float:
    """Return the cost of charge steps at their prices."""
    return sum(step.energy_kwh * step.price for step in steps)
