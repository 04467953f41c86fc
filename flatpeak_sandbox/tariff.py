"""Tariffs and the pricing maths of the sandbox (pure functions, no I/O).

A tariff is a set of wall-clock time-of-use periods in the tariff's own timezone.
Energy of a meter record is spread evenly over the record and split exactly at
every price change; DST is handled by converting each local boundary with
:mod:`zoneinfo` (both folds of an ambiguous wall-clock time are boundaries, and
so is the instant the UTC offset changes).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DIRECTIONS = ("IMPORT", "EXPORT", "LOCAL")


@dataclass(frozen=True, slots=True)
class TouPeriod:
    """A time-of-use period in local wall-clock time (``end <= start`` wraps)."""

    start: time
    end: time
    price: float

    def covers(self, wall: time) -> bool:
        """Return True when the local wall-clock time falls in ``[start, end)``."""
        if self.start < self.end:
            return self.start <= wall < self.end
        return wall >= self.start or wall < self.end


@dataclass(frozen=True, slots=True)
class Tariff:
    """A location's tariff: import time-of-use prices, flat export and local prices.

    Prices are per kWh in major currency units. ``confidence`` (a sandbox
    addition, default 1) is reported with every price and cost.
    """

    currency_code: str = "GBP"
    timezone: str = "Europe/London"
    import_default: float = 0.25
    import_periods: tuple[TouPeriod, ...] = ()
    export_price: float = 0.15
    local_price: float = 0.0
    confidence: float = 1.0

    @classmethod
    def demo_uk(cls) -> Self:
        """Return the demo UK tariff: cheap night, peak 16:00-19:00."""
        return cls(
            currency_code="GBP",
            timezone="Europe/London",
            import_default=0.25,
            import_periods=(
                TouPeriod(time(0, 30), time(4, 30), 0.07),
                TouPeriod(time(16, 0), time(19, 0), 0.35),
            ),
            export_price=0.15,
            local_price=0.0,
        )

    def price_at(self, when: datetime, direction: str) -> float:
        """Return the per-kWh price in force at ``when`` for a tariff direction."""
        match direction.upper():
            case "EXPORT":
                return self.export_price
            case "LOCAL":
                return self.local_price
            case "IMPORT":
                wall = when.astimezone(ZoneInfo(self.timezone)).time()
                for period in self.import_periods:
                    if period.covers(wall):
                        return period.price
                return self.import_default
            case _:
                raise ValueError(f"unknown tariff direction {direction!r}")

    def to_dict(self) -> dict[str, Any]:
        """Serialise to the JSON used by the admin endpoints and the state file."""
        return {
            "currency_code": self.currency_code,
            "timezone": self.timezone,
            "import_default": self.import_default,
            "import_periods": [
                {
                    "start": p.start.strftime("%H:%M"),
                    "end": p.end.strftime("%H:%M"),
                    "price": p.price,
                }
                for p in self.import_periods
            ],
            "export_price": self.export_price,
            "local_price": self.local_price,
            "confidence": self.confidence,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Self:
        """Parse :meth:`to_dict` output; missing keys take the defaults.

        Raises ValueError (or TypeError) on malformed input.
        """
        if not isinstance(data, dict):
            raise TypeError("tariff must be an object")
        defaults = cls()
        periods = tuple(
            TouPeriod(
                time.fromisoformat(str(p["start"])),
                time.fromisoformat(str(p["end"])),
                float(p["price"]),
            )
            for p in data.get("import_periods", [])
        )
        tariff = cls(
            currency_code=str(data.get("currency_code", defaults.currency_code)),
            timezone=str(data.get("timezone", defaults.timezone)),
            import_default=float(data.get("import_default", defaults.import_default)),
            import_periods=periods,
            export_price=float(data.get("export_price", defaults.export_price)),
            local_price=float(data.get("local_price", defaults.local_price)),
            confidence=float(data.get("confidence", defaults.confidence)),
        )
        try:
            ZoneInfo(tariff.timezone)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError(f"unknown timezone {tariff.timezone!r}") from err
        return tariff


@dataclass(frozen=True, slots=True)
class PriceSegment:
    """A span of constant price, ``[start, end)`` in UTC."""

    start: datetime
    end: datetime
    price: float


def _local_boundaries(tariff: Tariff, day: date) -> list[datetime]:
    """Return every instant of ``day`` at which a time-of-use period starts or ends."""
    zone = ZoneInfo(tariff.timezone)
    walls = {time(0)}
    for period in tariff.import_periods:
        walls.add(period.start)
        walls.add(period.end)
    instants: list[datetime] = []
    for wall in walls:
        for fold in (0, 1):
            local = datetime.combine(day, wall, tzinfo=zone).replace(fold=fold)
            instants.append(local.astimezone(UTC))
    return instants


def _offset_change(zone: ZoneInfo, day: date) -> datetime | None:
    """Return the instant of ``day`` at which the UTC offset changes, if any."""
    low = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    high = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(
        UTC
    )
    before = low.astimezone(zone).utcoffset()
    if high.astimezone(zone).utcoffset() == before:
        return None
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).utcoffset() == before:
            low = middle
        else:
            high = middle
    return high.replace(microsecond=0)


@lru_cache(maxsize=4096)
def _day_cuts(tariff: Tariff, day: date) -> tuple[datetime, ...]:
    """Return every instant of a local day at which an import price may change."""
    instants = _local_boundaries(tariff, day)
    change = _offset_change(ZoneInfo(tariff.timezone), day)
    if change is not None:
        instants.append(change)
    return tuple(sorted(set(instants)))


def price_segments(
    tariff: Tariff, direction: str, start: datetime, end: datetime
) -> list[PriceSegment]:
    """Split ``[start, end)`` into spans of constant price (equal neighbours merged)."""
    start = start.astimezone(UTC)
    end = end.astimezone(UTC)
    if end <= start:
        return []
    cuts = {start, end}
    if direction.upper() == "IMPORT" and tariff.import_periods:
        zone = ZoneInfo(tariff.timezone)
        day = start.astimezone(zone).date()
        last = end.astimezone(zone).date()
        while day <= last:
            cuts.update(t for t in _day_cuts(tariff, day) if start < t < end)
            day += timedelta(days=1)
    ordered = sorted(cuts)
    segments: list[PriceSegment] = []
    for seg_start, seg_end in itertools.pairwise(ordered):
        price = tariff.price_at(seg_start + (seg_end - seg_start) / 2, direction)
        if segments and segments[-1].price == price:
            segments[-1] = PriceSegment(segments[-1].start, seg_end, price)
        else:
            segments.append(PriceSegment(seg_start, seg_end, price))
    return segments


def energy_cost(
    tariff: Tariff, direction: str, start: datetime, end: datetime, energy_wh: float
) -> float:
    """Return the unrounded cost of energy spread evenly over ``[start, end)``."""
    start = start.astimezone(UTC)
    end = end.astimezone(UTC)
    total = (end - start).total_seconds()
    if total <= 0:
        return 0.0
    cost = 0.0
    for segment in price_segments(tariff, direction, start, end):
        share = (segment.end - segment.start).total_seconds() / total
        cost += energy_wh / 1000.0 * share * segment.price
    return cost


def energy_wh(units: str, value: float, start: datetime, end: datetime) -> float:
    """Convert a meter value to Wh; W and KW are a constant power over the interval."""
    hours = (end.astimezone(UTC) - start.astimezone(UTC)).total_seconds() / 3600.0
    match units:
        case "W":
            return value * hours
        case "KW":
            return value * 1000.0 * hours
        case "WH":
            return value
        case "KWH":
            return value * 1000.0
        case _:
            raise ValueError(f"unknown units {units!r}")
