"""External cost statistics for the energy dashboard, hour by hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

import pytest
from homeassistant.components.recorder.statistics import (
    get_metadata,
    statistics_during_period,
)
from homeassistant.helpers.recorder import get_instance
from pytest_homeassistant_custom_component.common import async_fire_time_changed
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.flatpeak.api import CostRow
from custom_components.flatpeak.statistics import (
    cumulative_statistics,
    first_hour_to_write,
    hourly_costs,
    statistic_metadata,
)

from .cost_data import (
    NOW,
    bst,
    cost_entry,
    cost_sandbox,
    record,
    setup_entry,
)

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry
    from pytest_homeassistant_custom_component.typing import WebSocketGenerator

    from flatpeak_sandbox import SandboxServer

__all__ = ["cost_entry", "cost_sandbox"]

pytestmark = [
    pytest.mark.freeze_time(NOW),
    pytest.mark.usefixtures("energy_sensors"),
]

IMPORT_ID = "flatpeak:loc_00000000000000000000c0a1_import_cost"
EXPORT_ID = "flatpeak:loc_00000000000000000000c0a1_export_value"
UTC_HOUR = timedelta(hours=1)


def utc(day: int, hour: int) -> datetime:
    """Return an hour of June 2025 in UTC."""
    return datetime(2025, 6, day, hour, tzinfo=UTC)


async def hours(
    hass: HomeAssistant, stat_id: str
) -> dict[datetime, tuple[float, float]]:
    """Return {hour start: (state, sum)} of a statistic over the test's week."""
    await async_wait_recording_done(hass)
    result = await get_instance(hass).async_add_executor_job(
        statistics_during_period,
        hass,
        utc(1, 0),
        utc(13, 0),
        {stat_id},
        "hour",
        None,
        {"state", "sum"},
    )
    return {
        datetime.fromtimestamp(row["start"], UTC): (
            float(row["state"] or 0),
            float(row["sum"] or 0),
        )
        for row in result.get(stat_id, [])
    }


# Costs of the known week per UTC hour, by hand from the tariff (see cost_data.py).
IMPORT_HOURS = {
    utc(5, 17): 0.70,  # 06-05 18:00-18:30 BST, 2.0 kWh x 0.35
    utc(10, 22): 0.25,  # 06-10 23:30 BST, 1.0 kWh x 0.25
    utc(10, 23): 0.25,  # 06-11 00:00 BST, 1.0 kWh x 0.25
    utc(11, 0): 0.14,  # 01:00 BST, 2.0 kWh x 0.07
    utc(11, 3): 0.16,  # 04:00-05:00 BST, 0.5 x 0.07 + 0.5 x 0.25
    utc(11, 10): 0.25,  # 11:30-12:00 BST, half of 2.0 kWh x 0.25
    utc(11, 11): 0.25,  # 12:00-12:30 BST, the other half
    utc(11, 15): 0.42,  # 16:00-16:30 BST, 1.2 kWh x 0.35
}


async def test_hourly_statistics(
    hass: HomeAssistant, cost_entry: MockConfigEntry, hass_storage: dict[str, Any]
) -> None:
    """Every hour from the first cost on holds its own cost; the sum runs monotonic."""
    await setup_entry(hass, cost_entry, hass_storage)
    stats = await hours(hass, IMPORT_ID)
    # The window is the 7 days of complete hours before 20:00 UTC, written from
    # the first hour with a cost: no zero hours before anything was sent.
    assert min(stats) == utc(5, 17)
    assert max(stats) == utc(11, 19)
    assert len(stats) == (utc(11, 20) - utc(5, 17)) // UTC_HOUR
    total = 0.0
    previous_sum = 0.0
    for hour, (state, running) in sorted(stats.items()):
        expected = IMPORT_HOURS.get(hour, 0.0)
        assert state == pytest.approx(expected), hour
        total += expected
        assert running == pytest.approx(total), hour
        assert running >= previous_sum
        previous_sum = running
    # 0.70 + 0.25 + 1.47 (today); May 31 is outside the window.
    assert previous_sum == pytest.approx(2.42)

    export = await hours(hass, EXPORT_ID)
    assert export[utc(11, 12)] == pytest.approx((0.45, 0.45))  # 3.0 kWh x 0.15
    assert export[utc(11, 19)] == pytest.approx((0.0, 0.45))

    metadata = await get_instance(hass).async_add_executor_job(
        partial(get_metadata, hass, statistic_ids={IMPORT_ID, EXPORT_ID})
    )
    meta = metadata[IMPORT_ID][1]
    assert meta["source"] == "flatpeak"
    assert meta["unit_of_measurement"] == "GBP"
    assert meta["has_sum"] is True
    assert (
        meta["name"] == "Flatpeak import cost (energy dashboard), 1 Test Street, London"
    )
    assert (
        metadata[EXPORT_ID][1]["name"]
        == "Flatpeak export value (energy dashboard), 1 Test Street, London"
    )


async def test_listed_for_the_energy_dashboard(
    hass: HomeAssistant,
    cost_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    hass_ws_client: WebSocketGenerator,
) -> None:
    """The energy dashboard's picker (statistic_type sum) lists both statistics."""
    await setup_entry(hass, cost_entry, hass_storage)
    await async_wait_recording_done(hass)
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {"type": "recorder/list_statistic_ids", "statistic_type": "sum"}
    )
    response = await client.receive_json()
    assert response["success"]
    listed = {item["statistic_id"]: item for item in response["result"]}
    for stat_id in (IMPORT_ID, EXPORT_ID):
        assert listed[stat_id]["has_sum"] is True
        assert listed[stat_id]["source"] == "flatpeak"
        assert listed[stat_id]["statistics_unit_of_measurement"] == "GBP"


async def test_corrections_land_in_their_hour(
    hass: HomeAssistant,
    cost_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    cost_sandbox: SandboxServer,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A late record of two days ago lands in its hour at the daily rewrite.

    06-09 17:00-17:30 BST (16:00 UTC): 1.0 kWh x 0.35 = 0.35. The sum of every later
    hour moves up by 0.35; nothing lands in the hour the correction arrived.
    """
    await setup_entry(hass, cost_entry, hass_storage)
    before = await hours(hass, IMPORT_ID)
    cost_sandbox.sandbox.store_records([record(bst(6, 9, 17), bst(6, 9, 17, 30), 1.0)])
    # The next local midnight (23:00 UTC) starts the daily rewrite of the week.
    freezer.move_to("2025-06-11T23:00:30+00:00")
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    after = await hours(hass, IMPORT_ID)
    assert after[utc(9, 16)][0] == pytest.approx(0.35)
    # The week's rewrite adds no zero hours before the first one written.
    assert min(after) == min(before) == utc(5, 17)
    for hour, (state, running) in before.items():
        if hour < utc(9, 16):
            assert after[hour] == pytest.approx((state, running)), hour
        elif hour > utc(9, 16):
            assert after[hour][0] == pytest.approx(state), hour
            assert after[hour][1] == pytest.approx(running + 0.35), hour
    # Hours 20:00-22:00 UTC are new and continue the sum.
    assert after[utc(11, 22)] == pytest.approx((0.0, 2.42 + 0.35))


async def test_restart_continues_the_sum(
    hass: HomeAssistant,
    cost_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
) -> None:
    """A reload a few hours later rewrites the last day from the sum before it."""
    await setup_entry(hass, cost_entry, hass_storage)
    first = await hours(hass, IMPORT_ID)
    freezer.move_to("2025-06-11T22:10:00+00:00")
    assert await hass.config_entries.async_reload(cost_entry.entry_id)
    await hass.async_block_till_done()
    second = await hours(hass, IMPORT_ID)
    for hour, values in first.items():
        assert second[hour] == pytest.approx(values), hour
    assert second[utc(11, 21)] == pytest.approx((0.0, 2.42))


def test_hourly_costs_share_a_row_pro_rata() -> None:
    """A row over two hours is shared by time; one outside the window is left out."""
    rows = [
        CostRow(
            utc(1, 0) + timedelta(minutes=30),
            utc(1, 1) + timedelta(minutes=30),
            2000,
            0.5,
            1.0,
        ),
        CostRow(utc(1, 5), utc(1, 6), 1000, 0.25, 1.0),
        CostRow(utc(1, 2), utc(1, 2), 0, 0.01, 1.0),
    ]
    result = hourly_costs(rows, utc(1, 0), utc(1, 3))
    assert result == [(utc(1, 0), 0.25), (utc(1, 1), 0.25), (utc(1, 2), 0.01)]
    stats = cumulative_statistics(result, 1.0)
    assert [row["sum"] for row in stats] == [1.25, 1.5, 1.51]


def test_metadata_has_mean_type() -> None:
    """Metadata sets mean_type (never has_mean) and the currency as unit."""
    meta = statistic_metadata("flatpeak:x_import_cost", "X", "EUR")
    assert meta["mean_type"] == 0
    assert "has_mean" not in meta
    assert meta["unit_of_measurement"] == "EUR"


def test_writing_starts_where_something_is_known() -> None:
    """Not before the first cost or held hour; the last hour alone when nothing is."""
    start, end = utc(1, 0), utc(8, 0)
    row = CostRow(utc(3, 5) + timedelta(minutes=30), utc(3, 6), 500, 0.1, 1.0)
    assert first_hour_to_write(start, end, [], None) == utc(7, 23)
    assert first_hour_to_write(start, end, [row], None) == utc(3, 5)
    assert first_hour_to_write(start, end, [row], utc(2, 0)) == utc(2, 0)
    assert first_hour_to_write(start, end, [row], utc(4, 0)) == utc(3, 5)
    # A row that began before the window does not move the start back.
    early = CostRow(utc(1, 0) - timedelta(minutes=30), utc(1, 0), 500, 0.1, 1.0)
    assert first_hour_to_write(start, end, [early], None) == start
