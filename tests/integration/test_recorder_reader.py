"""The recorder reader against a real recorder with real statistics."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from homeassistant.components.recorder.db_schema import StatisticsShortTerm
from homeassistant.components.recorder.statistics import async_import_statistics
from homeassistant.helpers.recorder import get_instance
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
    do_adhoc_statistics,
)

from custom_components.flatpeak.metering import (
    StatisticRow,
    SumAnchor,
    align_down,
    compute_intervals,
    life_anchor,
)
from custom_components.flatpeak.recorder_reader import (
    async_compiled_until,
    async_read_anchor,
    async_read_state_history,
    async_read_statistic_rows,
)

from .history import energy_metadata

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.components.recorder.core import Recorder
    from homeassistant.components.recorder.models import (
        StatisticData,
        StatisticMetaData,
    )
    from homeassistant.core import HomeAssistant

ENERGY_ATTRS = {
    "device_class": "energy",
    "state_class": "total_increasing",
    "unit_of_measurement": "kWh",
}


def _future_hour() -> datetime:
    """Return an hour after the recorder's first statistics run (now, frozen or not)."""
    return align_down(dt_util.utcnow(), 60) + timedelta(hours=2)


async def test_reads_compiled_five_minute_statistics(
    recorder_mock: Recorder, hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Rows compiled by the recorder are read back as kWh sums; runs say how far."""
    assert await async_setup_component(hass, "sensor", {})
    base = _future_hour()
    freezer.move_to(base)
    hass.states.async_set("sensor.grid", "100.0", ENERGY_ATTRS)
    await async_wait_recording_done(hass)
    freezer.move_to(base + timedelta(minutes=2))
    hass.states.async_set("sensor.grid", "100.4", ENERGY_ATTRS)
    await async_wait_recording_done(hass)
    # The sensor reports in Wh from now on; HA converts to the statistic's kWh.
    freezer.move_to(base + timedelta(minutes=7))
    hass.states.async_set(
        "sensor.grid", "100900", {**ENERGY_ATTRS, "unit_of_measurement": "Wh"}
    )
    await async_wait_recording_done(hass)
    freezer.move_to(base + timedelta(minutes=12))
    hass.states.async_set("sensor.grid", "unavailable", ENERGY_ATTRS)
    await async_wait_recording_done(hass)

    freezer.move_to(base + timedelta(minutes=20, seconds=10))
    for minutes in (0, 5, 10):
        do_adhoc_statistics(hass, start=base + timedelta(minutes=minutes))
    await async_wait_recording_done(hass)

    assert await async_compiled_until(hass, ["sensor.grid"]) == base + timedelta(
        minutes=15
    )
    rows = await async_read_statistic_rows(
        hass, "sensor.grid", base, base + timedelta(minutes=15)
    )
    # 12:10-12:15 starts unavailable but holds 100.9 kWh until 12:12, so it has a row.
    assert [(r.start - base, round(r.sum_kwh, 6)) for r in rows] == [
        (timedelta(0), 0.4),
        (timedelta(minutes=5), 0.9),
        (timedelta(minutes=10), 0.9),
    ]
    assert all(r.end - r.start == timedelta(minutes=5) for r in rows)
    assert await async_read_anchor(
        hass, "sensor.grid", base + timedelta(minutes=10)
    ) == (SumAnchor(base + timedelta(minutes=10), rows[1].sum_kwh))
    # No statistics before: where the sum starts is told by the first row, a
    # 5-minute one compiled from states, whose sum starts at 0 at the first state.
    assert await async_read_anchor(hass, "sensor.grid", base) is None
    assert life_anchor(rows) == SumAnchor(base, 0.0)

    window = compute_intervals(
        rows,
        start=base,
        complete_until=base + timedelta(minutes=15),
        interval_minutes=5,
        anchor=SumAnchor(base, 0.0),
    )
    assert [(i.start - base, i.energy_wh) for i in window.intervals] == [
        (timedelta(0), 400),
        (timedelta(minutes=5), 500),
        (timedelta(minutes=10), 0),
    ]


async def test_nothing_compiled_on_an_empty_database(
    recorder_mock: Recorder, hass: HomeAssistant
) -> None:
    """Nothing compiled for sensors without statistics; no rows for unknown ids."""
    assert await async_compiled_until(hass, ["sensor.nothing"]) is None
    now = dt_util.utcnow()
    assert (
        await async_read_statistic_rows(
            hass, "sensor.nothing", now - timedelta(hours=1), now
        )
        == []
    )


def _metadata(statistic_id: str) -> StatisticMetaData:
    return energy_metadata(statistic_id)


async def test_hourly_fallback_beyond_short_term_retention(
    recorder_mock: Recorder, hass: HomeAssistant
) -> None:
    """Hour by hour: 5-minute rows where the hour has any, else the hourly row."""
    keep_days = get_instance(hass).keep_days
    old = align_down(dt_util.utcnow() - timedelta(days=keep_days + 5), 60)
    hourly: list[StatisticData] = [
        {"start": old, "sum": 1.0, "state": 1.0},
        {"start": old + timedelta(hours=1), "sum": 2.0, "state": 2.0},
        {"start": old + timedelta(hours=2), "sum": 3.5, "state": 3.5},
        {"start": old + timedelta(hours=3), "sum": 4.0, "state": 4.0},
    ]
    async_import_statistics(hass, _metadata("sensor.old_meter"), hourly)
    # 5-minute rows survive only from old+2:30 on (the rest was purged).
    short: list[StatisticData] = [
        {"start": old + timedelta(minutes=150 + 5 * i), "sum": 3.0 + 0.1 * i}
        for i in range(9)
    ]
    get_instance(hass).async_import_statistics(
        _metadata("sensor.old_meter"), short, StatisticsShortTerm
    )
    await async_wait_recording_done(hass)

    start = old + timedelta(minutes=30)
    rows = await async_read_statistic_rows(
        hass, "sensor.old_meter", start, old + timedelta(minutes=195)
    )
    # Hourly rows ending after `start` for the hours without 5-minute rows, then
    # the 5-minute rows (the third hour has some from old+2:30 on).
    assert [(r.start - old, r.end - old, round(r.sum_kwh, 6)) for r in rows] == [
        (timedelta(hours=0), timedelta(hours=1), 1.0),
        (timedelta(hours=1), timedelta(hours=2), 2.0),
        *(
            (timedelta(minutes=m), timedelta(minutes=m + 5), round(3.0 + i / 10, 6))
            for i, m in enumerate(range(150, 195, 5))
        ),
    ]

    window = compute_intervals(
        rows,
        start=start,
        complete_until=old + timedelta(minutes=195),
        interval_minutes=15,
        anchor=SumAnchor(start, 0.5),
    )
    # The purged first half of the third hour has no rows: its energy is in the
    # next interval with data (nothing is lost, the total is the sums' difference).
    assert [(i.start - old, i.minutes, i.energy_wh) for i in window.intervals] == [
        (timedelta(minutes=30), 30, 500),  # rest of the first hour
        (timedelta(hours=1), 60, 1000),
        (timedelta(minutes=150), 15, 1200),
        (timedelta(minutes=165), 15, 300),
        (timedelta(hours=3), 15, 300),
    ]

    # Anchors: from 5-minute rows where they exist, else from the hourly ones.
    assert await async_read_anchor(
        hass, "sensor.old_meter", old + timedelta(hours=3)
    ) == SumAnchor(old + timedelta(hours=3), 3.5)
    assert await async_read_anchor(
        hass, "sensor.old_meter", old + timedelta(minutes=90)
    ) == SumAnchor(old + timedelta(hours=1), 1.0)


async def test_anchor_before_the_first_statistic_and_after_a_long_gap(
    recorder_mock: Recorder, hass: HomeAssistant
) -> None:
    """Before a sensor's first statistic no sum is known; after a gap it carries."""
    now = align_down(dt_util.utcnow(), 60)
    first = now - timedelta(hours=3)
    # A new meter: the first hour holds 2 kWh (its first 5-minute row 0.167 kWh).
    async_import_statistics(
        hass, _metadata("sensor.new_meter"), [{"start": first, "sum": 2.0}]
    )
    get_instance(hass).async_import_statistics(
        _metadata("sensor.new_meter"),
        [{"start": first, "sum": 0.167}],
        StatisticsShortTerm,
    )
    # An old meter: 7.5 kWh counted 40 days ago, nothing since.
    async_import_statistics(
        hass,
        _metadata("sensor.quiet_meter"),
        [{"start": now - timedelta(days=40), "sum": 7.5}],
    )
    await async_wait_recording_done(hass)

    # Not the sum at the end of the first hour (2.0): nothing was counted before,
    # and its first 5-minute row says the sum started at 0 there.
    assert await async_read_anchor(hass, "sensor.new_meter", first) is None
    rows = await async_read_statistic_rows(
        hass, "sensor.new_meter", first, first + timedelta(hours=1)
    )
    assert life_anchor(rows) == SumAnchor(first, 0.0)
    assert await async_read_anchor(hass, "sensor.quiet_meter", now) == SumAnchor(
        now, 7.5
    )


async def test_recent_window_uses_only_five_minute_rows(
    recorder_mock: Recorder, hass: HomeAssistant
) -> None:
    """An hour with 5-minute rows is read from them, not from its hourly row."""
    recent = align_down(dt_util.utcnow() - timedelta(days=1), 60)
    async_import_statistics(
        hass, _metadata("sensor.meter"), [{"start": recent, "sum": 9.0, "state": 9.0}]
    )
    get_instance(hass).async_import_statistics(
        _metadata("sensor.meter"),
        [{"start": recent + timedelta(minutes=30), "sum": 8.5}],
        StatisticsShortTerm,
    )
    await async_wait_recording_done(hass)
    rows = await async_read_statistic_rows(
        hass, "sensor.meter", recent, recent + timedelta(hours=1)
    )
    assert rows == [
        StatisticRow(
            recent + timedelta(minutes=30), recent + timedelta(minutes=35), 8.5
        )
    ]


async def test_reads_session_entity_history(
    recorder_mock: Recorder, hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """State history with the state at the start first."""
    base = _future_hour()
    freezer.move_to(base - timedelta(minutes=10))
    hass.states.async_set("binary_sensor.ev_plugged", "off")
    await async_wait_recording_done(hass)
    freezer.move_to(base + timedelta(minutes=5))
    hass.states.async_set("binary_sensor.ev_plugged", "on")
    await async_wait_recording_done(hass)
    freezer.move_to(base + timedelta(minutes=40))
    hass.states.async_set("binary_sensor.ev_plugged", "off")
    await async_wait_recording_done(hass)

    history = await async_read_state_history(
        hass, "binary_sensor.ev_plugged", base, base + timedelta(minutes=30)
    )
    assert [state for _, state in history] == ["off", "on"]
    assert history[1][0] == base + timedelta(minutes=5)
    assert history[0][0] <= base
