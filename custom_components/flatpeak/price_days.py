"""Today's and tomorrow's prices as the price sensors show them (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .planner import Price, average_price, clip, covers, merge

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime


def _cheap_first(period: Price) -> tuple[float, datetime]:
    return period.price, period.start


def _dear_first(period: Price) -> tuple[float, datetime]:
    return -period.price, period.start


@dataclass(frozen=True, slots=True)
class DayPrices:
    """One local day's price periods, as far as Flatpeak published them."""

    periods: tuple[Price, ...]
    complete: bool
    """Whether the periods cover the whole day."""

    @property
    def minimum(self) -> float | None:
        """The lowest price of the day."""
        return min((p.price for p in self.periods), default=None)

    @property
    def maximum(self) -> float | None:
        """The highest price of the day."""
        return max((p.price for p in self.periods), default=None)

    @property
    def average(self) -> float | None:
        """The time-weighted average price of the day."""
        return average_price(self.periods)

    @property
    def cheapest(self) -> Price | None:
        """The cheapest period (the earliest on a tie)."""
        return min(self.periods, key=_cheap_first) if self.periods else None

    @property
    def dearest(self) -> Price | None:
        """The dearest period (the earliest on a tie)."""
        return min(self.periods, key=_dear_first) if self.periods else None


def day_prices(prices: Sequence[Price], start: datetime, end: datetime) -> DayPrices:
    """Return the periods of `[start, end)`, touching ones of one price joined."""
    return DayPrices(merge(clip(prices, start, end)), covers(prices, start, end))


def next_change(prices: Sequence[Price], now: datetime) -> Price | None:
    """Return the next period (after the one at `now`) whose price differs."""
    current = next((p for p in prices if p.start <= now < p.end), None)
    for period in prices:
        if period.start <= now:
            continue
        if current is None or period.price != current.price:
            return period
    return None


def period_item(period: Price, ndigits: int = 6) -> dict[str, Any]:
    """Return a period as an attribute or action item."""
    return {
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "price": round(period.price, ndigits),
    }


def day_attributes(name: str, day: DayPrices) -> dict[str, Any]:
    """Return a day's summary attributes, prefixed `today_` / `tomorrow_`."""
    cheapest, dearest = day.cheapest, day.dearest
    return {
        f"{name}_min": day.minimum,
        f"{name}_average": None if day.average is None else round(day.average, 6),
        f"{name}_max": day.maximum,
        f"{name}_cheapest_start": cheapest and cheapest.start.isoformat(),
        f"{name}_cheapest_end": cheapest and cheapest.end.isoformat(),
        f"{name}_dearest_start": dearest and dearest.start.isoformat(),
        f"{name}_dearest_end": dearest and dearest.end.isoformat(),
    }
