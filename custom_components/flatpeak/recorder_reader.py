"""Read what metering needs from Home Assistant's recorder.

Every query runs on the recorder executor (`get_instance(hass).async_add_executor_job`).

Completeness: the recorder compiles each 5-minute period shortly after it ends and, in
the same database transaction, adds a row to its `statistics_runs` table (and, at the
end of an hour, the hourly statistics). The newest run therefore says up to when every
statistic is compiled, whether or not a given sensor produced a row; a sensor without a
row in a compiled period was unavailable/unknown. That is the only way to tell "not yet
compiled" (wait) from "no data" (carry the energy on) for a sensor that is down.

Hourly fallback: the recorder purges 5-minute statistics (and states) older than
`keep_days` every night; hourly statistics are kept. For a window that starts before
`now - keep_days`, hourly rows are used up to the first hour that has 5-minute rows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from homeassistant.components.recorder import history, statistics
from homeassistant.components.recorder.db_schema import StatisticsRuns
from homeassistant.components.recorder.models import process_timestamp
from homeassistant.helpers.recorder import get_instance, session_scope
from homeassistant.util import dt as dt_util
from sqlalchemy import func

from .metering import StatisticRow, SumAnchor, align_down, align_up, anchor_before

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

SHORT_TERM_PERIOD = timedelta(minutes=5)
ENERGY_UNITS = {"energy": "kWh"}
# How far back a missing baseline is looked for in hourly statistics, and where the
# search for an older sum starts.
ANCHOR_LOOKBACK = timedelta(days=31)
SUM_HISTORY_START = datetime(2000, 1, 1, tzinfo=UTC)
# Session entity history is read from this much before its window (`_state_history`).
STATE_LOOKBEHIND = timedelta(milliseconds=1)


def _compiled_until(hass: HomeAssistant) -> datetime | None:
    with session_scope(hass=hass, read_only=True) as session:
        last_run: datetime | None = session.query(
            func.max(StatisticsRuns.start)
        ).scalar()
    if last_run is None:
        return None
    return process_timestamp(last_run) + SHORT_TERM_PERIOD


async def async_compiled_until(hass: HomeAssistant) -> datetime | None:
    """Return the end of the newest compiled 5-minute statistics period (UTC)."""
    return await get_instance(hass).async_add_executor_job(_compiled_until, hass)


def _read_rows(
    hass: HomeAssistant,
    statistic_id: str,
    start: datetime,
    end: datetime,
    period: Literal["5minute", "hour"],
) -> list[StatisticRow]:
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


async def _async_rows(
    hass: HomeAssistant,
    statistic_id: str,
    start: datetime,
    end: datetime,
    period: Literal["5minute", "hour"],
) -> list[StatisticRow]:
    if end <= start:
        return []
    return await get_instance(hass).async_add_executor_job(
        _read_rows, hass, statistic_id, start, end, period
    )


async def async_read_statistic_rows(
    hass: HomeAssistant, statistic_id: str, start: datetime, end: datetime
) -> list[StatisticRow]:
    """Return the sum rows (kWh) of `statistic_id` ending in (start, end].

    5-minute rows where the recorder still has them, hourly rows before that.
    `start` and `end` are 5-minute boundaries.
    """
    short = await _async_rows(hass, statistic_id, start, end, "5minute")
    purge_horizon = dt_util.utcnow() - timedelta(days=get_instance(hass).keep_days)
    if start >= purge_horizon:
        return short
    cut = align_up(short[0].start, 60) if short else end
    hourly = await _async_rows(
        hass, statistic_id, align_down(start, 60), min(cut, end), "hour"
    )
    return [row for row in hourly if start < row.end <= cut] + [
        row for row in short if row.start >= cut
    ]


def _sum_before(hass: HomeAssistant, statistic_id: str, hour: datetime) -> float | None:
    # The last hourly row starting before `hour` (longer periods would be widened
    # to whole months by the recorder). Only reached for a sensor without
    # statistics in the last month, so the scan is rare.
    result = statistics.statistics_during_period(
        hass, SUM_HISTORY_START, hour, {statistic_id}, "hour", ENERGY_UNITS, {"sum"}
    )
    rows = result.get(statistic_id, [])
    return rows[-1].get("sum") if rows else None


async def async_read_anchor(
    hass: HomeAssistant, statistic_id: str, at: datetime
) -> SumAnchor:
    """Return Home Assistant's sum (kWh) of `statistic_id` at `at`.

    The sum of the last row ending at or before `at` (5-minute rows, else hourly
    ones). When the sensor has no statistics before `at` at all, the sum there is
    0: Home Assistant's sum starts at the sensor's first state, so the first
    interval with data is sent whole rather than spent as a baseline.
    """
    short = await _async_rows(
        hass, statistic_id, at - timedelta(hours=1), at, "5minute"
    )
    if anchor := anchor_before(short, at):
        return anchor
    hour_end = align_down(at, 60)
    hourly = await _async_rows(
        hass, statistic_id, hour_end - ANCHOR_LOOKBACK, hour_end, "hour"
    )
    if anchor := anchor_before(hourly, at):
        return anchor
    # Nothing in the last month: an older sum carries over (the energy since then
    # lands in the first interval with data), or the sensor is new.
    older = await get_instance(hass).async_add_executor_job(
        _sum_before, hass, statistic_id, hour_end
    )
    return SumAnchor(at, older or 0.0)


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

    The first item is the state at `start`, dated `start`.
    """
    return await get_instance(hass).async_add_executor_job(
        _state_history, hass, entity_id, start, end
    )
