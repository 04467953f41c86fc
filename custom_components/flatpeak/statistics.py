"""External cost statistics for the energy dashboard.

`flatpeak:<location id>_import_cost` and `flatpeak:<location id>_export_value` hold one
row per UTC hour (DST cannot fold or skip an hour) with the hour's cost as `state` and
the running total as `sum`. They are built from Flatpeak's per-record costs, bucketed
into the hours the energy was used, so that costs Flatpeak computes later land in the
hour they belong to and not in the hour they arrived.

Each update rewrites a trailing window of complete hours `[start, end)`: once a day the
last 7 days (Flatpeak's corrections of settled prices), in between the last day. The
sum continues from the sum of the hour before the window, read back from the recorder,
so a rewrite is idempotent and the sum never jumps. Nothing is written before the first
hour that has a cost or is already held (`first_hour_to_write`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, cast

from homeassistant.components.recorder.models import (
    StatisticData,
    StatisticMeanType,
    StatisticMetaData,
)
from homeassistant.components.recorder.statistics import (
    async_add_external_statistics,
    get_last_statistics,
    statistics_during_period,
)
from homeassistant.helpers.recorder import get_instance

from .api import TariffDirection
from .const import DOMAIN, LOGGER

if TYPE_CHECKING:
    from collections.abc import Sequence

    from homeassistant.core import HomeAssistant

    from .api import CostRow, FlatpeakClient

HOUR: Final = timedelta(hours=1)
# Flatpeak recomputes costs when settled prices arrive; a week covers that.
FULL_WINDOW: Final = timedelta(days=7)
# Between the daily rewrites: late records of the last day.
INCREMENTAL_WINDOW: Final = timedelta(days=1)
# After a longer outage the gap is filled from the last hour written, up to this far.
MAX_WINDOW: Final = timedelta(days=31)
# One Flatpeak call and one recorder import per this much of a long rewrite.
CHUNK: Final = timedelta(days=7)
_ROUND: Final = 5

STATISTIC_SUFFIXES: Final = {
    TariffDirection.IMPORT: ("import_cost", "import cost"),
    TariffDirection.EXPORT: ("export_value", "export value"),
}

# Newer releases want `unit_class` (None for money); 2025.4 does not know the key.
_HAS_UNIT_CLASS: Final = "unit_class" in StatisticMetaData.__annotations__


def statistic_id(location_id: str, direction: TariffDirection) -> str:
    """Return the external statistic id of a location's import cost / export value."""
    return f"{DOMAIN}:{location_id.lower()}_{STATISTIC_SUFFIXES[direction][0]}"


def statistic_name(title: str, direction: TariffDirection) -> str:
    """Return the name the energy dashboard's pickers show for a cost statistic.

    It says what it is for, first (the picker cuts long names off): beside it, the
    picker offers the "… today" and "… this month" sensors, whose sums restart
    every day or month.
    """
    return f"Flatpeak {STATISTIC_SUFFIXES[direction][1]} (energy dashboard), {title}"


def floor_hour(when: datetime) -> datetime:
    """Return the start of the UTC hour holding `when`."""
    return when.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def hourly_costs(
    rows: Sequence[CostRow], start: datetime, end: datetime
) -> list[tuple[datetime, float]]:
    """Return the cost of every UTC hour in [start, end), zero where nothing was used.

    A row spanning several hours is shared pro rata by time, as Flatpeak spreads a
    record's energy evenly over it.
    """
    hours: dict[datetime, float] = {}
    hour = start
    while hour < end:
        hours[hour] = 0.0
        hour += HOUR
    for row in rows:
        duration = (row.end_time - row.start_time).total_seconds()
        if duration <= 0:
            # An instant has no hours to share; it belongs to the one it falls in.
            bucket = floor_hour(row.start_time)
            if bucket in hours:
                hours[bucket] += row.cost
            continue
        bucket = floor_hour(row.start_time)
        while bucket < row.end_time:
            overlap = (
                min(bucket + HOUR, row.end_time) - max(bucket, row.start_time)
            ).total_seconds()
            if bucket in hours and overlap > 0:
                hours[bucket] += row.cost * overlap / duration
            bucket += HOUR
    return [(hour, round(cost, _ROUND)) for hour, cost in sorted(hours.items())]


def first_hour_to_write(
    start: datetime,
    end: datetime,
    rows: Sequence[CostRow],
    first_held: datetime | None,
) -> datetime:
    """Return the first hour of `[start, end)` to write.

    Not before the first hour that has a cost or is already held: a week of zero
    hours before the integration sent anything would read as energy that cost
    nothing. With neither, the last hour alone, so that the statistic exists (and
    can be picked in the energy dashboard) from the start.
    """
    known = [floor_hour(row.start_time) for row in rows]
    if first_held is not None:
        known.append(first_held)
    if not known:
        return max(start, end - HOUR)
    return min(max(start, min(known)), end)


def cumulative_statistics(
    hours: Sequence[tuple[datetime, float]], base_sum: float
) -> list[StatisticData]:
    """Return the statistics rows of the hours: each hour's cost and the running sum."""
    total = base_sum
    result: list[StatisticData] = []
    for hour, cost in hours:
        total = round(total + cost, _ROUND)
        result.append(StatisticData(start=hour, state=cost, sum=total))
    return result


def statistic_metadata(stat_id: str, name: str, currency: str) -> StatisticMetaData:
    """Return the metadata of one cost statistic."""
    metadata: dict[str, Any] = {
        "mean_type": StatisticMeanType.NONE,
        "has_sum": True,
        "name": name,
        "source": DOMAIN,
        "statistic_id": stat_id,
        "unit_of_measurement": currency,
    }
    if _HAS_UNIT_CLASS:
        metadata["unit_class"] = None
    return cast("StatisticMetaData", metadata)


@dataclass(frozen=True, slots=True)
class StatisticsWindow:
    """The hours to rewrite and the sum the first of them continues from."""

    start: datetime
    end: datetime
    base_sum: float
    first_held: datetime | None
    """The first hour of the window the statistic holds (the start when it holds
    hours before it; None when it holds nothing yet)."""


def chunks(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """Cut [start, end) into rewrites of at most `CHUNK` each."""
    cuts: list[tuple[datetime, datetime]] = []
    while start < end:
        cuts.append((start, min(start + CHUNK, end)))
        start += CHUNK
    return cuts


class CostStatistics:
    """Writes the hourly cost statistics of one location."""

    def __init__(
        self,
        hass: HomeAssistant,
        client: FlatpeakClient,
        location_id: str,
        title: str,
    ) -> None:
        """Prepare the statistics of a location (nothing is read or written yet)."""
        self._hass = hass
        self._client = client
        self._location_id = location_id
        self._title = title
        self.last_update: datetime | None = None
        self.calls = 0
        """Flatpeak calls made (diagnostics)."""
        self.last_window: dict[str, tuple[datetime, datetime]] = {}

    def statistic_ids(self) -> list[str]:
        """Return the ids of the location's statistics."""
        return [statistic_id(self._location_id, d) for d in STATISTIC_SUFFIXES]

    async def async_update(
        self,
        now: datetime,
        currency: str,
        *,
        full: bool,
        since: datetime | None = None,
    ) -> None:
        """Rewrite both statistics up to the last full hour.

        The trailing window (a week when `full`, else a day), and back to `since`
        (the oldest record Flatpeak accepted since the last rewrite, e.g. a
        backfill's), one `CHUNK` per Flatpeak call, the sum carried from chunk to
        chunk: a year's rewrite never holds the event loop for long.
        """
        end = floor_hour(now)
        length = FULL_WINDOW if full else INCREMENTAL_WINDOW
        for direction in STATISTIC_SUFFIXES:
            stat_id = statistic_id(self._location_id, direction)
            window = await self._async_window(stat_id, end, length, since)
            metadata = statistic_metadata(
                stat_id, statistic_name(self._title, direction), currency
            )
            total = window.base_sum
            first_held = window.first_held
            written = 0
            for chunk_start, chunk_end in chunks(window.start, window.end):
                self.calls += 1
                report = await self._client.interval_cost(
                    self._location_id,
                    chunk_start,
                    chunk_end,
                    tariff_direction=direction,
                )
                start = chunk_start
                if not written:
                    start = first_hour_to_write(
                        chunk_start, chunk_end, report.rows, first_held
                    )
                    if not report.rows and first_held is None and chunk_end < end:
                        continue  # nothing known here yet: no hours of zero cost
                rows = cumulative_statistics(
                    hourly_costs(report.rows, start, chunk_end), total
                )
                if not rows:
                    continue
                total = rows[-1]["sum"] or 0.0
                metadata["unit_of_measurement"] = report.currency_code or currency
                async_add_external_statistics(self._hass, metadata, rows)
                written += len(rows)
            if window.start < window.end:
                self.last_window[stat_id] = (window.start, window.end)
            LOGGER.debug("Wrote %s hours of %s from %s", written, stat_id, window.start)
        self.last_update = now

    async def _async_sums(
        self, stat_id: str, start: datetime, end: datetime
    ) -> list[Any]:
        """Return the statistic's hourly rows (their sums) in [start, end)."""
        held = await get_instance(self._hass).async_add_executor_job(
            statistics_during_period,
            self._hass,
            start,
            end,
            {stat_id},
            "hour",
            None,
            {"sum"},
        )
        return list(held.get(stat_id, []))

    async def _async_window(
        self, stat_id: str, end: datetime, length: timedelta, since: datetime | None
    ) -> StatisticsWindow:
        """Return the window to rewrite.

        `length` back, or back to the last hour held, or to `since`.
        """
        recorder = get_instance(self._hass)
        last = await recorder.async_add_executor_job(
            get_last_statistics,
            self._hass,
            1,
            stat_id,
            True,  # noqa: FBT003 - convert_units, positional for the executor
            {"sum"},
        )
        touched = None if since is None else floor_hour(since)
        if not last.get(stat_id):
            # Nothing written yet: a week of history, or back to what was sent.
            start = end - FULL_WINDOW
            return StatisticsWindow(
                start if touched is None else min(start, touched), end, 0.0, None
            )
        start = end - length
        last_start = _as_datetime(last[stat_id][0]["start"])
        # Fill a gap after an outage longer than the window (bounded).
        start = max(min(start, last_start + HOUR), end - MAX_WINDOW)
        if touched is not None:
            start = min(start, touched)
        # Normally the hour just before the window exists (hours are written without
        # holes); look further back only when it does not.
        for lookback in (HOUR, MAX_WINDOW):
            if rows := await self._async_sums(stat_id, start - lookback, start):
                base = rows[-1].get("sum")
                return StatisticsWindow(start, end, float(base or 0.0), start)
        # Nothing held before the window: its first hours may be unwritten yet.
        held = await self._async_sums(stat_id, start, end)
        first_held = _as_datetime(held[0]["start"]) if held else None
        return StatisticsWindow(start, end, 0.0, first_held)


def _as_datetime(value: float | datetime) -> datetime:
    """Return a recorder row's `start` (a timestamp; older releases: a datetime)."""
    if isinstance(value, datetime):
        return value
    return datetime.fromtimestamp(value, UTC)
