"""Recorder statistics → interval energies → Flatpeak meter records (pure).

Energy per interval is read from Home Assistant's own statistics of the source sensor:
the `sum` column (in kWh) already absorbs meter resets, unit changes and restarts, so
energy between two instants is the difference of the sums at those instants. The sum at
an instant is the sum of the last statistic row ending at or before it.

Rules (SPEC "Metering"):
- Intervals are aligned to `interval_minutes` boundaries in UTC (5, 15, 30 or 60).
- An interval without any statistic row (the source was unavailable/unknown, so Home
  Assistant compiled nothing) yields no record; its energy shows up in the sum of the
  next interval that has data, so the records of a stream always add up to what Home
  Assistant's statistics say.
- Only intervals ending at or before `complete_until` (the end of the last compiled
  5-minute period) are computed; later ones wait.
- Where only hourly rows exist (short-term statistics purged, imported history), a
  boundary inside an hourly row cannot be observed, so the records there are hourly.
- A stream whose source sensor was swapped is computed per source: the last window
  of the old sensor stops at the swap and the first of the new one starts there, so
  the interval holding the swap is split in two records.
- Energy is sent in whole Wh (`units: WH`): sums are rounded to Wh at each boundary
  and differenced, so records are exact integers, a record is the same whichever run
  computed it, and the rounding never accumulates over many intervals.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Self

from .api import EnergyFlowDirection, MeterRecord, TariffDirection, Units

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

GRID_IMPORT_KEY = "grid_import"
GRID_EXPORT_KEY = "grid_export"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SHORT_TERM = timedelta(minutes=5)
_MAX_KEY_LENGTH = 32


class StreamKind(StrEnum):
    """What a stream meters."""

    GRID_IMPORT = "grid_import"
    GRID_EXPORT = "grid_export"
    SOLAR = "solar"
    EV_CHARGER = "ev_charger"
    APPLIANCE = "appliance"


_DEVICE_KINDS = frozenset(
    {StreamKind.SOLAR, StreamKind.EV_CHARGER, StreamKind.APPLIANCE}
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Stream:
    """One metered source of an entry: the grid meters or a device subentry."""

    key: str
    """Stable id: `grid_import`, `grid_export` or the subentry id."""
    kind: StreamKind
    entity_id: str
    """The source sensor configured now (earlier ones: the outbox's `sources`)."""
    location_id: str
    device_id: str | None = None
    session_entity: str | None = None

    def __post_init__(self) -> None:
        """Refuse a device stream without its Flatpeak device."""
        if self.kind in _DEVICE_KINDS and not self.device_id:
            raise ValueError(f"a {self.kind} stream needs a Flatpeak device id")

    @property
    def energy_flow_direction(self) -> EnergyFlowDirection:
        """Only grid export flows out of the home."""
        if self.kind is StreamKind.GRID_EXPORT:
            return EnergyFlowDirection.OUTBOUND
        return EnergyFlowDirection.INBOUND

    @property
    def tariff_direction(self) -> TariffDirection:
        """The tariff that prices this energy."""
        if self.kind is StreamKind.GRID_EXPORT:
            return TariffDirection.EXPORT
        if self.kind is StreamKind.SOLAR:
            return TariffDirection.LOCAL
        return TariffDirection.IMPORT

    @property
    def confidence(self) -> float | None:
        """Solar generation is actual, measured (Flatpeak: set 1 for it)."""
        return 1.0 if self.kind is StreamKind.SOLAR else None

    @property
    def has_sessions(self) -> bool:
        """Whether records carry a `session_reference_id`."""
        return self.kind is StreamKind.EV_CHARGER


@dataclass(frozen=True, slots=True)
class StatisticRow:
    """One recorder statistic row of the source sensor (sum in kWh)."""

    start: datetime
    end: datetime
    sum_kwh: float


@dataclass(frozen=True, slots=True)
class SumAnchor:
    """HA's sum was `sum_kwh` at `time`; energy before it is accounted for."""

    time: datetime
    sum_kwh: float

    def to_dict(self) -> dict[str, Any]:
        """Serialise for storage."""
        return {"time": self.time.isoformat(), "sum_kwh": self.sum_kwh}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Parse what `to_dict` wrote."""
        return cls(datetime.fromisoformat(data["time"]), float(data["sum_kwh"]))


@dataclass(frozen=True, slots=True)
class IntervalEnergy:
    """Energy measured in [start, end)."""

    start: datetime
    end: datetime
    energy_wh: int

    @property
    def energy_kwh(self) -> float:
        """The energy in kWh."""
        return self.energy_wh / 1000

    @property
    def minutes(self) -> int:
        """Length of the interval in minutes."""
        return int((self.end - self.start).total_seconds()) // 60


@dataclass(frozen=True, slots=True)
class MeteringWindow:
    """Result of one computation: the intervals and where the next one starts."""

    intervals: tuple[IntervalEnergy, ...]
    high_water: datetime
    """End of the last complete interval processed (next computation starts here)."""
    anchor: SumAnchor | None
    """Sum at the end of the last interval with data (baseline of the next one)."""


def _check_minutes(minutes: int) -> None:
    if minutes <= 0 or 60 % minutes:
        raise ValueError(f"interval of {minutes} minutes does not divide an hour")


def align_down(when: datetime, minutes: int) -> datetime:
    """Return the UTC interval boundary at or before `when`."""
    _check_minutes(minutes)
    step = minutes * 60
    seconds = int((when.astimezone(UTC) - _EPOCH).total_seconds())
    return _EPOCH + timedelta(seconds=seconds - seconds % step)


def align_up(when: datetime, minutes: int) -> datetime:
    """Return the UTC interval boundary at or after `when`."""
    down = align_down(when, minutes)
    return down if down == when else down + timedelta(minutes=minutes)


def iter_boundaries(start: datetime, end: datetime, minutes: int) -> Iterator[datetime]:
    """Yield the interval boundaries in [start, end], both ends aligned outwards."""
    step = timedelta(minutes=minutes)
    boundary = align_up(start, minutes)
    while boundary <= end:
        yield boundary
        boundary += step


def _wh(sum_kwh: float) -> int:
    return round(sum_kwh * 1000)


def anchor_before(rows: Sequence[StatisticRow], when: datetime) -> SumAnchor | None:
    """Return the sum at `when`: that of the last row ending at or before it."""
    best: StatisticRow | None = None
    for row in rows:
        if row.end <= when and (best is None or row.end > best.end):
            best = row
    return None if best is None else SumAnchor(best.end, best.sum_kwh)


def merge_rows(
    short: Sequence[StatisticRow],
    hourly: Sequence[StatisticRow],
    start: datetime,
    end: datetime,
) -> list[StatisticRow]:
    """Return the rows ending in (start, end]: 5-minute ones, hourly where none.

    An hour with 5-minute rows is read at that resolution; an hour with only its
    hourly row (purged short-term statistics, imported history, compiles the
    recorder missed) at hourly resolution, so no hour with statistics is left out.
    """
    hours_with_short = {align_down(row.start, 60) for row in short}
    rows = [row for row in short if start < row.end <= end]
    rows.extend(
        row
        for row in hourly
        if start < row.end <= end and align_down(row.start, 60) not in hours_with_short
    )
    return sorted(rows, key=lambda row: row.end)


def life_anchor(rows: Sequence[StatisticRow]) -> SumAnchor | None:
    """Return where a sensor's sum starts, for a sensor without any earlier sum.

    Home Assistant compiles a sensor's 5-minute statistics from its states with a
    sum that starts at 0 at its first state, so a first row that is a 5-minute
    row holds real energy from 0. A first row that is hourly is imported history
    (often starting at the meter reading, or anywhere) or a purged beginning: its
    sum only sets the baseline, and None says so.
    """
    first = min(rows, key=lambda row: row.end, default=None)
    if first is None or first.end - first.start != _SHORT_TERM:
        return None
    return SumAnchor(first.start, 0.0)


def _observable_end(
    rows: Sequence[StatisticRow], start: datetime, end: datetime, minutes: int
) -> datetime:
    """Return the last boundary up to `end` not inside a row."""
    while True:
        lowered = min(
            (
                align_down(row.start, minutes)
                for row in rows
                if row.start < end < row.end
            ),
            default=end,
        )
        if max(start, lowered) >= end:
            return end
        end = max(start, lowered)


def _boundaries(
    rows: Sequence[StatisticRow], start: datetime, end: datetime, minutes: int
) -> list[datetime]:
    """Return start, every boundary before end not inside a (longer) row, and end."""
    step = timedelta(minutes=minutes)
    crossed: set[datetime] = set()
    for row in rows:
        boundary = align_down(row.start, minutes) + step
        while boundary < row.end:
            crossed.add(boundary)
            boundary += step
    inner = [
        b
        for b in iter_boundaries(start, end, minutes)
        if start < b < end and b not in crossed
    ]
    return [start, *inner, end] if end > start else [start]


def compute_intervals(
    rows: Sequence[StatisticRow],
    *,
    start: datetime,
    complete_until: datetime,
    interval_minutes: int,
    anchor: SumAnchor | None,
    stop: datetime | None = None,
) -> MeteringWindow:
    """Compute the energy of each complete interval from `start` on.

    `rows` are the statistic rows ending after `start` (5-minute and/or hourly, never
    both for the same period); `anchor` is the sum at `start` (the outbox keeps it from
    the previous computation, or `anchor_before` finds it). Without an anchor the first
    interval with data only sets the baseline: its energy cannot be known, and guessing
    it could send a whole meter reading as one interval.

    Intervals are aligned to `interval_minutes`, except the first one when `start`
    is not (it was a source swap) and the last one when `stop` is given and reached
    (the swap ends the window there).
    """
    end = max(start, align_down(complete_until, interval_minutes))
    if stop is not None and stop <= complete_until:
        end = stop
    else:
        end = min(end, stop) if stop is not None else end
    end = _observable_end(rows, start, end, interval_minutes)
    ordered = sorted(
        (row for row in rows if start < row.end <= end), key=lambda r: r.end
    )
    boundaries = _boundaries(ordered, start, end, interval_minutes)

    intervals: list[IntervalEnergy] = []
    index = 0
    for seg_start, seg_end in itertools.pairwise(boundaries):
        last: StatisticRow | None = None
        while index < len(ordered) and ordered[index].end <= seg_end:
            last = ordered[index]
            index += 1
        if last is None:
            continue  # no data: no record, the energy stays in the next sum
        if anchor is None:
            anchor = SumAnchor(last.end, last.sum_kwh)
            continue
        energy_wh = _wh(last.sum_kwh) - _wh(anchor.sum_kwh)
        if energy_wh < 0:
            # Only a decreasing `total` sensor or a sum adjustment does this: net it
            # against the next growth instead of sending negative consumption.
            continue
        intervals.append(IntervalEnergy(seg_start, seg_end, energy_wh))
        anchor = SumAnchor(last.end, last.sum_kwh)
    return MeteringWindow(tuple(intervals), end, anchor)


def record_reference_id(stream_key: str, start: datetime, minutes: int) -> str:
    """Return `fp-<stream key>-<start epoch>-<minutes>` (at most 64 characters)."""
    key = stream_key
    if len(key) > _MAX_KEY_LENGTH or not key.replace("_", "").isalnum():
        key = hashlib.sha256(stream_key.encode()).hexdigest()[:_MAX_KEY_LENGTH]
    return f"fp-{key}-{int(start.timestamp())}-{minutes}"


def build_record(
    stream: Stream, interval: IntervalEnergy, session_id: str | None = None
) -> MeterRecord:
    """Return the meter record of one interval of a stream."""
    return MeterRecord(
        location_id=stream.location_id,
        start_time=interval.start.astimezone(UTC),
        end_time=interval.end.astimezone(UTC),
        value=float(interval.energy_wh),
        units=Units.WH,
        energy_flow_direction=stream.energy_flow_direction,
        tariff_direction=stream.tariff_direction,
        device_id=stream.device_id,
        session_reference_id=session_id,
        record_reference_id=record_reference_id(
            stream.key, interval.start, interval.minutes
        ),
        confidence=stream.confidence,
    )


def build_records(
    stream: Stream,
    intervals: Sequence[IntervalEnergy],
    session_ids: Sequence[str | None] | None = None,
) -> list[MeterRecord]:
    """Return the records of `intervals`, with the session id of each if given."""
    ids = session_ids if session_ids is not None else [None] * len(intervals)
    if len(ids) != len(intervals):
        raise ValueError("one session id (or None) per interval is needed")
    return [
        build_record(stream, interval, session_id)
        for interval, session_id in zip(intervals, ids, strict=True)
    ]
