"""Tariffs and the pricing maths of the sandbox (pure functions, no I/O).

A tariff has one of two kinds (``Tariff.kind``):

``tou``
    A set of wall-clock time-of-use periods in the tariff's own timezone.
``agile``
    An Agile-style dynamic import price: a different price for every UTC
    half-hour, a pure function of ``Tariff.seed``, the half-hour's start and the
    tariff's timezone (see :func:`agile_price`).

Export and local prices are flat for both kinds. Energy of a meter record is
spread evenly over the record and split exactly at every price change; DST is
handled by converting each local boundary with :mod:`zoneinfo` (both folds of an
ambiguous wall-clock time are boundaries, and so is the instant the UTC offset
changes). Agile half-hours are UTC-aligned, so DST never moves them.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DIRECTIONS = ("IMPORT", "EXPORT", "LOCAL")
type TariffKind = Literal["tou", "agile"]
TARIFF_KINDS: tuple[TariffKind, ...] = ("tou", "agile")
HALF_HOUR = timedelta(minutes=30)
_HALF_HOUR_SECONDS = 1800

# Agile: base import price (major currency units per kWh) of each local
# wall-clock hour 0..23: cheap overnight, a morning bump, a midday dip, the
# 16:00-19:00 peak.
AGILE_BASE: tuple[float, ...] = (
    0.14, 0.12, 0.11, 0.10, 0.10, 0.11, 0.15, 0.20, 0.22, 0.20, 0.18, 0.16,
    0.15, 0.15, 0.16, 0.19, 0.32, 0.36, 0.33, 0.24, 0.21, 0.19, 0.17, 0.15,
)  # fmt: skip
AGILE_DAY_LEVEL = (0.85, 0.30)  # day multiplier: 0.85 + 0.30 x u (0.85..1.15)
AGILE_NOISE = 0.04  # per half-hour: + 0.04 x (u - 0.5) (-0.02..+0.02)
AGILE_NEGATIVE_NIGHTS = 0.25  # share of local nights with negative prices
# A negative run starts at local half-hour 2..6 (01:00..03:00) and lasts 2..5
# half-hours; each of its prices is -(0.01 + 0.05 x u) (-0.06..-0.01).
AGILE_NEGATIVE_FIRST = (2, 5)
AGILE_NEGATIVE_LENGTH = (2, 4)
AGILE_NEGATIVE_PRICE = (0.01, 0.05)


def _unit(seed: int, *parts: object) -> float:
    """Return a number in ``[0, 1)``: BLAKE2b of ``seed:part:part...`` (stable)."""
    text = ":".join(str(part) for part in (seed, *parts))
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def half_hour_start(when: datetime) -> datetime:
    """Return the start of the UTC half-hour holding ``when``."""
    epoch = int(when.timestamp()) // _HALF_HOUR_SECONDS * _HALF_HOUR_SECONDS
    return datetime.fromtimestamp(epoch, UTC)


@lru_cache(maxsize=65536)
def _agile_slot(seed: int, timezone: str, epoch: int) -> float:
    local = datetime.fromtimestamp(epoch, UTC).astimezone(ZoneInfo(timezone))
    day = local.date().isoformat()
    half = local.hour * 2 + local.minute // 30
    if _unit(seed, "night", day) < AGILE_NEGATIVE_NIGHTS:
        first = AGILE_NEGATIVE_FIRST[0] + int(
            AGILE_NEGATIVE_FIRST[1] * _unit(seed, "night-first", day)
        )
        length = AGILE_NEGATIVE_LENGTH[0] + int(
            AGILE_NEGATIVE_LENGTH[1] * _unit(seed, "night-length", day)
        )
        if first <= half < first + length:
            low, span = AGILE_NEGATIVE_PRICE
            return round(-(low + span * _unit(seed, "negative", epoch)), 4)
    level = AGILE_DAY_LEVEL[0] + AGILE_DAY_LEVEL[1] * _unit(seed, "day", day)
    noise = AGILE_NOISE * (_unit(seed, "slot", epoch) - 0.5)
    return round(AGILE_BASE[local.hour] * level + noise, 4) + 0.0


def agile_price(seed: int, timezone: str, when: datetime) -> float:
    """Return the Agile import price of the UTC half-hour holding ``when``.

    With ``u(...)`` a stable uniform number in ``[0, 1)`` (:func:`_unit`), the
    half-hour's start ``t`` (UTC epoch seconds), its local date ``D`` and local
    wall-clock hour ``h`` / half-hour index ``k`` (0..47) in ``timezone``::

        price = AGILE_BASE[h] x (0.85 + 0.30 u(seed, "day", D))
                + 0.04 x (u(seed, "slot", t) - 0.5)

    rounded to 4 decimals, except on a negative night (``u(seed, "night", D) <
    0.25``): there the half-hours ``first <= k < first + length``, with
    ``first = 2 + floor(5 u(seed, "night-first", D))`` and ``length = 2 +
    floor(4 u(seed, "night-length", D))``, cost ``-(0.01 + 0.05 u(seed,
    "negative", t))``. Within one local day every 16:00-19:00 price is above
    every other price of the day, and the day's cheapest price is at night.
    """
    epoch = int(when.timestamp()) // _HALF_HOUR_SECONDS * _HALF_HOUR_SECONDS
    return _agile_slot(seed, timezone, epoch)


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
    """A location's tariff: import prices of its kind, flat export and local prices.

    Prices are per kWh in major currency units. ``confidence`` (a sandbox
    addition, default 1) is reported with every price and cost. ``kind`` "tou"
    prices import with ``import_periods`` / ``import_default``; "agile" ignores
    them and prices import half-hourly with :func:`agile_price` of ``seed``.
    """

    currency_code: str = "GBP"
    timezone: str = "Europe/London"
    import_default: float = 0.25
    import_periods: tuple[TouPeriod, ...] = ()
    export_price: float = 0.15
    local_price: float = 0.0
    confidence: float = 1.0
    kind: TariffKind = "tou"
    seed: int = 0

    def __post_init__(self) -> None:
        """Reject an unknown kind."""
        if self.kind not in TARIFF_KINDS:
            raise ValueError(f"kind must be one of {', '.join(TARIFF_KINDS)}")

    @classmethod
    def agile_uk(cls, seed: int = 0) -> Self:
        """Return an Agile-style UK tariff: half-hourly import, flat 0.15 export."""
        return cls(
            currency_code="GBP",
            timezone="Europe/London",
            export_price=0.15,
            local_price=0.0,
            kind="agile",
            seed=seed,
        )

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
            case "IMPORT" if self.kind == "agile":
                return agile_price(self.seed, self.timezone, when)
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
            "kind": self.kind,
            "seed": self.seed,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Self:
        """Parse :meth:`to_dict` output; missing keys take the defaults.

        A dict without ``kind`` (written before kinds existed) is "tou". Raises
        ValueError (or TypeError) on malformed input.
        """
        if not isinstance(data, dict):
            raise TypeError("tariff must be an object")
        defaults = cls()
        kind = data.get("kind", defaults.kind)
        if kind not in TARIFF_KINDS:
            raise ValueError(f"kind must be one of {', '.join(TARIFF_KINDS)}")
        seed = data.get("seed", defaults.seed)
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise TypeError("seed must be an integer")
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
            kind=kind,
            seed=seed,
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
    if direction.upper() == "IMPORT" and tariff.kind == "agile":
        cut = half_hour_start(start) + HALF_HOUR
        while cut < end:
            cuts.add(cut)
            cut += HALF_HOUR
    elif direction.upper() == "IMPORT" and tariff.import_periods:
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
