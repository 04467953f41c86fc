"""Read what metering needs from Home Assistant's recorder, through its public API.

Every query runs on the recorder executor (`get_instance(hass).async_add_executor_job`)
and uses only `recorder.statistics` and `recorder.history` functions that
integrations call (as opower does).

Completeness: the recorder compiles the 5-minute statistics of every sensor of a
period in one transaction, shortly after the period ends. So the newest 5-minute row
of any of an entry's source sensors says up to when all of them are compiled; a
sensor without a row in a compiled period was unavailable or unknown. That tells
"not yet compiled" (wait) from "no data" (carry the energy on).

Resolution: 5-minute rows where the recorder has them; hourly rows for every hour
that has none (purged after `keep_days`, imported history, compiles the recorder
missed), so no hour with statistics is left out.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from homeassistant.components.recorder import history, statistics
from homeassistant.helpers.recorder import get_instance
from homeassistant.util import dt as dt_util

from .metering import StatisticRow, SumAnchor, align_down, anchor_before, merge_rows

if TYPE_CHECKING:
    from collections.abc import Iterable

    from homeassistant.core import HomeAssistant

ENERGY_UNITS = {"energy": "kWh"}
HOUR = timedelta(hours=1)
# How far back a missing baseline is looked for in hourly statistics, and where the
# search for an older sum starts.
ANCHOR_LOOKBACK = timedelta(days=31)
SUM_HISTORY_START = datetime(2000, 1, 1, tzinfo=UTC)
# Session entity history is read from this much before its window (`_state_history`).
STATE_LOOKBEHIND = timedelta(milliseconds=1)


def _last_end(hass: HomeAssistant, statistic_id: str) -> datetime | None:
    for reader in (
        statistics.get_last_short_term_statistics,
        statistics.get_last_statistics,
    ):
        rows = reader(hass, 1, statistic_id, False, {"sum"})  # noqa: FBT003
        if found := rows.get(statistic_id):
            return dt_util.utc_from_timestamp(found[0]["end"])
    return None


def _compiled_until(hass: HomeAssistant, statistic_ids: list[str]) -> datetime | None:
    ends = [end for sid in statistic_ids if (end := _last_end(hass, sid)) is not None]
    return max(ends, default=None)


async def async_compiled_until(
    hass: HomeAssistant, statistic_ids: Iterable[str]
) -> datetime | None:
    """Return the end of the newest statistics period of any of the sensors (UTC)."""
    return await get_instance(hass).async_add_executor_job(
        _compiled_until, hass, sorted(set(statistic_ids))
    )


def _read_rows(
    hass: HomeAssistant,
    statistic_id: str,
    start: datetime,
    end: datetime,
    period: Literal["5minute", "hour"],
) -> list[StatisticRow]:
    if end <= start:
        return []
    result = statistics.statistics_during_period(
        hass, start, end, {statistic_id}, period, ENERGY_UNITS, {"sum"}
    )
    return [
        StatisticRow(
            dt_util.utc_from_timestamp(row["start"]),
            dt_util.utc_from_timestamp(row["end"]),
            row_sum,
        )
        for row in result.get(statistic_id, [])
        if (row_sum := row.get("sum")) is not None
    ]


def _statistic_rows(
    hass: HomeAssistant, statistic_id: str, start: datetime, end: datetime
) -> list[StatisticRow]:
    short = _read_rows(hass, statistic_id, start, end, "5minute")
    hourly = _read_rows(hass, statistic_id, align_down(start, 60), end, "hour")
    return merge_rows(short, hourly, start, end)


async def async_read_statistic_rows(
    hass: HomeAssistant, statistic_id: str, start: datetime, end: datetime
) -> list[StatisticRow]:
    """Return the sum rows (kWh) of `statistic_id` ending in (start, end].

    5-minute rows, and hourly rows for the hours without any (see `merge_rows`).
    """
    return await get_instance(hass).async_add_executor_job(
        _statistic_rows, hass, statistic_id, start, end
    )


def _anchor(hass: HomeAssistant, statistic_id: str, at: datetime) -> SumAnchor | None:
    short = _read_rows(hass, statistic_id, at - HOUR, at, "5minute")
    if anchor := anchor_before(short, at):
        return anchor
    hour_end = align_down(at, 60)
    hourly = _read_rows(
        hass, statistic_id, hour_end - ANCHOR_LOOKBACK, hour_end, "hour"
    )
    if anchor := anchor_before(hourly, at):
        return anchor
    # Nothing in the last month: an older sum carries over (the energy since then
    # lands in the first interval with data). The last hourly row starting before
    # the hour (a longer period would be widened to whole months by the recorder).
    older = _read_rows(hass, statistic_id, SUM_HISTORY_START, hour_end, "hour")
    return SumAnchor(at, older[-1].sum_kwh) if older else None


async def async_read_anchor(
    hass: HomeAssistant, statistic_id: str, at: datetime
) -> SumAnchor | None:
    """Return Home Assistant's sum (kWh) of `statistic_id` at `at`.

    The sum of the last row ending at or before `at` (5-minute rows, else hourly
    ones). None when the sensor has no statistics before `at` at all: where its
    statistics begin is decided with the rows that follow (`metering.life_anchor`).
    """
    return await get_instance(hass).async_add_executor_job(
        _anchor, hass, statistic_id, at
    )


def _state_history(
    hass: HomeAssistant, entity_id: str, start: datetime, end: datetime
) -> list[tuple[datetime, str]]:
    # The recorder returns the changes strictly after its start and the state from
    # strictly before it: a change exactly at `start` (a session entity switched
    # on an interval boundary) would be in neither. Ask from just before `start`;
    # what was before it is dated `start`.
    states = history.state_changes_during_period(
        hass,
        start - STATE_LOOKBEHIND,
        end,
        entity_id,
        no_attributes=True,
        include_start_time_state=True,
    )
    return [
        (max(state.last_changed, start), state.state)
        for state in states.get(entity_id, [])
    ]


async def async_read_state_history(
    hass: HomeAssistant, entity_id: str, start: datetime, end: datetime
) -> list[tuple[datetime, str]]:
    """Return `(last_changed, state)` of `entity_id` in [start, end), oldest first.

    The first item is the state at `start`, dated `start`, when the recorder knows
    it; history that begins later (purged, or a new entity) begins later.
    """
    return await get_instance(hass).async_add_executor_job(
        _state_history, hass, entity_id, start, end
    )
