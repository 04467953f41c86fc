"""Exactly once, for real: each (stream, interval) reaches Flatpeak once, whole.

The faults of a real installation: a connection dropped after Flatpeak stored a
PUT (on a reused keep-alive connection), Home Assistant killed in the middle of a
backfill, a source sensor swapped for another, history that has hourly statistics
only or sums that do not start at 0. The sandbox stores every record it is sent
(`dedup="duplicate"`), so anything sent twice shows.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
from collections import defaultdict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from homeassistant.components.recorder.statistics import statistics_during_period
from homeassistant.config_entries import SOURCE_RECONFIGURE
from homeassistant.helpers.recorder import get_instance
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import async_fire_time_changed
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.flatpeak.const import (
    CONF_ENERGY_ENTITY,
    CONF_IMPORT_ENTITY,
    CONF_INTERVAL_MINUTES,
    CONF_NAME,
    CONF_SESSION_ENTITY,
    DOMAIN,
    SUBENTRY_EV_CHARGER,
    SUBENTRY_SOLAR,
)
from custom_components.flatpeak.metering import align_down
from custom_components.flatpeak.statistics import floor_hour
from flatpeak_sandbox.costs import record_cost

from .conftest import EV_ENERGY, EV_PLUGGED, GRID_EXPORT, GRID_IMPORT, SOLAR_ENERGY
from .history import energy_until, import_history, import_rows
from .metering_common import (
    assert_stored_once,
    async_statistics_wh,
    meter_puts,
    sent,
    setup_metering,
)

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from flatpeak_sandbox import SandboxServer, StoredRecord

# Tokens outlive the test: a drop must hit a PUT that Flatpeak stores.
pytestmark = pytest.mark.sandbox(dedup="duplicate", token_lifetime=30 * 86400)

PUT_PATH = "/meters/interval"
HOUR = timedelta(hours=1)


@pytest.fixture
def enable_statistics() -> bool:
    """Let the recorder compile statistics every 5 minutes."""
    return True


async def test_a_dropped_answer_stores_each_interval_once(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, sandbox: SandboxServer
) -> None:
    """Flatpeak stored a PUT, then closed the connection without a byte of answer.

    The connection was a reused keep-alive one, where aiohttp sends a PUT again by
    itself. Only the integration may send again, after asking Flatpeak what it has.
    """
    entry, home = await setup_metering(hass, freezer, sandbox)
    await home.async_steps(freezer, 10)
    assert sandbox.sandbox.records()
    sandbox.sandbox.faults.drop_next(path=PUT_PATH)
    await home.async_steps(freezer, 12)

    drops = [r for r in sandbox.sandbox.requests if r.fault == "drop"]
    assert [(r.path, r.status) for r in drops] == [(PUT_PATH, 200)]
    assert entry.runtime_data.metering.data.pending_records == 0
    assert_stored_once(sandbox)
    start = min(r.start_time for r in sandbox.sandbox.records())
    end = max(r.end_time for r in sandbox.sandbox.records())
    for entity_id, direction in ((GRID_IMPORT, "IMPORT"), (GRID_EXPORT, "EXPORT")):
        stored = sent(sandbox, direction=direction)
        assert sum(r.energy_wh for r in stored) == await async_statistics_wh(
            hass, entity_id, start, end
        )


async def _pass(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    """Let one cycle's worth of time pass (the backlog goes every 10 s)."""
    freezer.tick(timedelta(seconds=11))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


@pytest.mark.parametrize("enable_statistics", [False])
async def test_a_killed_backfill_resumes_by_itself(
    hass: HomeAssistant,
    energy_sensors: None,
    sandbox: SandboxServer,
    init_integration: MockConfigEntry,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
) -> None:
    """Killed right after the first 10,000-record PUT was stored: no user action.

    What was on disk at that moment is all a restarted Home Assistant has: the
    records of that PUT in flight, the backfill's span saved. Every interval of
    the span reaches Flatpeak once.
    """
    entry = init_integration
    now = dt_util.utcnow()
    end = align_down(now, 5) - timedelta(minutes=5)
    origin = align_down(now, 60) - timedelta(days=141)
    rates = {GRID_IMPORT: 0.8, GRID_EXPORT: 0.3, SOLAR_ENERGY: 0.5}
    for entity_id, rate in rates.items():
        import_history(hass, entity_id, origin, end, now - timedelta(days=1), rate)
    await async_wait_recording_done(hass)

    key = f"{DOMAIN}.{entry.entry_id}"
    on_disk: dict[str, Any] = {}
    killed = asyncio.Event()
    store = sandbox.sandbox.store_records

    def store_then_kill(records: list[StoredRecord]) -> None:
        store(records)
        if len(records) == 10_000 and not on_disk:
            on_disk.update(copy.deepcopy(hass_storage[key]))
            killed.set()

    sandbox.sandbox.store_records = store_then_kill  # type: ignore[method-assign]
    start = now - timedelta(days=140)
    backfill = hass.async_create_task(
        hass.services.async_call(
            DOMAIN,
            "backfill",
            {"config_entry_id": entry.entry_id, "start": start.isoformat()},
            blocking=True,
            return_response=True,
        )
    )
    await killed.wait()
    backfill.cancel()
    with pytest.raises(asyncio.CancelledError):
        await backfill
    assert on_disk["data"]["in_flight"]
    assert on_disk["data"]["backfills"]

    # The restart: the entry comes back from what the file held at the kill.
    assert await hass.config_entries.async_unload(entry.entry_id)
    hass_storage[key] = on_disk
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    for _ in range(6):
        await _pass(hass, freezer)

    outbox = entry.runtime_data.outbox
    assert outbox.backfills == []
    assert outbox.pending_count == 0
    assert_stored_once(sandbox)
    begin = align_down(start, 60)
    for stream in entry.runtime_data.metering.streams:
        records = [
            r
            for r in sandbox.sandbox.records()
            if (r.record_reference_id or "").startswith(f"fp-{stream.key}-")
        ]
        assert min(r.start_time for r in records) == begin
        until = max(r.end_time for r in records)
        rate = rates[stream.entity_id]
        assert sum(r.energy_wh for r in records) == round(
            energy_until(until, origin, rate) * 1000
        ) - round(energy_until(begin, origin, rate) * 1000)


SWAPPED_GRID = "sensor.grid_import_new_meter"
SWAPPED_SOLAR = "sensor.solar_energy_new_meter"


def _in_force(
    record: StoredRecord, swaps: list[tuple[datetime, str]], first: str
) -> str:
    """Return the sensor in force for a record (swaps: from when, which sensor)."""
    entity_id = first
    for since, swapped in swaps:
        if record.start_time >= since:
            entity_id = swapped
        else:
            assert record.end_time <= since, "a record straddles a swap"
    return entity_id


async def _assert_in_force(
    hass: HomeAssistant,
    records: list[StoredRecord],
    swaps: list[tuple[datetime, str]],
    first: str,
) -> None:
    """Each record holds what the statistics of the sensor in force say (1 Wh)."""
    assert records
    for record in records:
        entity_id = _in_force(record, swaps, first)
        expected = await async_statistics_wh(
            hass, entity_id, record.start_time, record.end_time
        )
        assert abs(record.energy_wh - expected) <= 1, (record, entity_id, expected)
    # Nothing left out between the first record and the last.
    ordered = sorted(records, key=lambda r: r.start_time)
    for before, after in itertools.pairwise(ordered):
        assert before.end_time <= after.start_time


async def _swap_grid(hass: HomeAssistant, entry: MockConfigEntry, to: str) -> None:
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_INTERVAL_MINUTES: "30", CONF_IMPORT_ENTITY: to},
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert result["type"] == "create_entry"


async def test_grid_sensor_swapped_up_and_down(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, sandbox: SandboxServer
) -> None:
    """Options swap the grid sensor to one with a far higher sum, then back.

    Each side of a swap is computed from its own sensor's statistics, and the
    interval holding a swap is split in two records at it.
    """
    entry, home = await setup_metering(hass, freezer, sandbox)
    # The new meter has counted 55 kWh more in Home Assistant than the old one.
    home.extra[SWAPPED_GRID] = 0.0
    home.publish()
    await home.async_steps(freezer, 1)
    home.extra[SWAPPED_GRID] = 55.0
    await home.async_steps(freezer, 8)

    freezer.tick(timedelta(minutes=2))  # a swap in the middle of an interval
    await _swap_grid(hass, entry, SWAPPED_GRID)
    up = align_down(dt_util.utcnow(), 5)
    await home.async_steps(freezer, 9)
    await _swap_grid(hass, entry, GRID_IMPORT)
    down = align_down(dt_util.utcnow(), 5)
    await home.async_steps(freezer, 9)

    records = sent(sandbox)
    assert any(r.end_time - r.start_time < timedelta(minutes=30) for r in records)
    await _assert_in_force(
        hass, records, [(up, SWAPPED_GRID), (down, GRID_IMPORT)], GRID_IMPORT
    )
    assert_stored_once(sandbox)


async def test_device_sensor_swapped_by_reconfigure(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, sandbox: SandboxServer
) -> None:
    """A device's reconfigure swaps its sensor: the same, without a reload."""
    entry, home = await setup_metering(hass, freezer, sandbox)
    (subentry_id,) = entry.subentries
    device_id = entry.subentries[subentry_id].data["device_id"]
    home.extra[SWAPPED_SOLAR] = 0.0
    home.publish()
    await home.async_steps(freezer, 1)
    home.extra[SWAPPED_SOLAR] = 80.0
    await home.async_steps(freezer, 8)

    swaps: list[tuple[datetime, str]] = []
    for to in (SWAPPED_SOLAR, SOLAR_ENERGY):
        freezer.tick(timedelta(minutes=3))
        result = await hass.config_entries.subentries.async_init(
            (entry.entry_id, SUBENTRY_SOLAR),
            context={"source": SOURCE_RECONFIGURE, "subentry_id": subentry_id},
        )
        result = await hass.config_entries.subentries.async_configure(
            result["flow_id"], {CONF_NAME: "Roof", CONF_ENERGY_ENTITY: to}
        )
        assert result["reason"] == "reconfigure_successful"
        await hass.async_block_till_done(wait_background_tasks=True)
        swaps.append((align_down(dt_util.utcnow(), 5), to))
        await home.async_steps(freezer, 9)

    records = sent(sandbox, device_id=device_id, direction="LOCAL")
    await _assert_in_force(hass, records, swaps, SOLAR_ENERGY)
    assert_stored_once(sandbox)


def _hourly(start: datetime, sums: list[float]) -> list[Any]:
    return [
        {"start": start + k * HOUR, "sum": value, "state": value}
        for k, value in enumerate(sums)
    ]


@pytest.mark.parametrize("enable_statistics", [False])
async def test_hourly_history_and_offset_sums_are_sent_whole(
    hass: HomeAssistant,
    energy_sensors: None,
    sandbox: SandboxServer,
    mock_config_entry: MockConfigEntry,
) -> None:
    """Imported hourly history, today's hours included, with sums far from 0.

    Import sums start at a meter reading (1234.5 kWh), export sums run up from
    -3 kWh: every hour after the first (whose energy no statistic tells) is sent,
    at its energy, and a second backfill finds nothing left.
    """
    now = dt_util.utcnow()
    first = align_down(now, 60) - timedelta(days=2)
    hours = int((align_down(now, 60) - first) / HOUR)
    import_rows(hass, GRID_IMPORT, _hourly(first, [1234.5 + k for k in range(hours)]))
    import_rows(hass, GRID_EXPORT, _hourly(first, [k * 0.5 - 3 for k in range(hours)]))
    await async_wait_recording_done(hass)
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    response = await hass.services.async_call(
        DOMAIN,
        "backfill",
        {"config_entry_id": mock_config_entry.entry_id, "start": first.isoformat()},
        blocking=True,
        return_response=True,
    )
    assert response is not None

    last = first + hours * HOUR
    for direction, wh in (("IMPORT", 1000), ("EXPORT", 500)):
        records = sorted(sent(sandbox, direction=direction), key=lambda r: r.start_time)
        assert [r.start_time for r in records] == [
            first + k * HOUR for k in range(1, hours)
        ], direction
        assert {r.end_time - r.start_time for r in records} == {HOUR}
        assert {r.energy_wh for r in records} == {wh}, direction
        assert records[-1].end_time == last
    assert_stored_once(sandbox)
    again = await hass.services.async_call(
        DOMAIN,
        "backfill",
        {"config_entry_id": mock_config_entry.entry_id, "start": first.isoformat()},
        blocking=True,
        return_response=True,
    )
    assert again == {"records_queued": 0}


@pytest.mark.parametrize("enable_statistics", [False])
async def test_sessions_without_entity_history_are_told_by_the_gap(
    hass: HomeAssistant,
    energy_sensors: None,
    sandbox: SandboxServer,
    mock_config_entry: MockConfigEntry,
) -> None:
    """Backfilled charging whose session sensor has no recorded states then.

    The charger's binary sensor tells nothing of those days, so its sessions are
    told by the gap in energy instead, and their ids say so (`-gap-`).
    """
    now = dt_util.utcnow()
    day = align_down(now, 60) - timedelta(days=2)
    # Two charging runs (3 and 2 hours) with a 5-hour gap between them.
    energy = [0, 0, 3, 6, 9, 9, 9, 9, 9, 9, 11, 13, 13, 13]
    import_rows(hass, EV_ENERGY, _hourly(day, [float(e) for e in energy]))
    await async_wait_recording_done(hass)
    entry = mock_config_entry
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_EV_CHARGER), context={"source": "user"}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {
            CONF_NAME: "Car",
            CONF_ENERGY_ENTITY: EV_ENERGY,
            CONF_SESSION_ENTITY: EV_PLUGGED,
        },
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert result["type"] == "create_entry"
    device_id = next(
        sub.data["device_id"]
        for sub in entry.subentries.values()
        if sub.subentry_type == SUBENTRY_EV_CHARGER
    )
    await hass.services.async_call(
        DOMAIN,
        "backfill",
        {"config_entry_id": entry.entry_id, "start": day.isoformat()},
        blocking=True,
    )
    charged = [
        r
        for r in sent(sandbox, device_id=device_id)
        if r.energy_wh > 0 and r.start_time < day + len(energy) * HOUR
    ]
    sessions = defaultdict(list)
    for record in charged:
        sessions[record.session_reference_id].append(record.start_time)
    assert len(charged) == 5
    assert all(
        session is not None and session.startswith(f"{device_id}-gap-")
        for session in sessions
    ), sessions
    assert sorted(len(starts) for starts in sessions.values()) == [2, 3]


async def test_the_cost_statistics_follow_a_long_backfill(
    hass: HomeAssistant,
    energy_sensors: None,
    sandbox: SandboxServer,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """After weeks of backfill, the cost statistics hold every hour's cost.

    Each hour of the import cost statistic is the sum of Flatpeak's costs of the
    records of that hour, beyond the last week too.
    """
    now = dt_util.utcnow()
    origin = align_down(now, 60) - timedelta(days=40)
    end = align_down(now, 5) - timedelta(minutes=5)
    import_history(hass, GRID_IMPORT, origin, end, now - timedelta(days=1), 0.8)
    await async_wait_recording_done(hass)
    await hass.services.async_call(
        DOMAIN,
        "backfill",
        {
            "config_entry_id": init_integration.entry_id,
            "start": (origin + HOUR).isoformat(),
        },
        blocking=True,
    )
    # The next cost refresh (at most 15 minutes later) rewrites the statistics.
    freezer.tick(timedelta(minutes=16))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    await async_wait_recording_done(hass)

    expected: dict[datetime, float] = defaultdict(float)
    for record in sent(sandbox):
        row = record_cost(sandbox.sandbox, record, record.start_time, record.end_time)
        expected[floor_hour(record.start_time)] += row.cost
    statistics = init_integration.runtime_data.costs.statistics
    (stat_id, _) = statistics.statistic_ids()
    held = await hours_of(hass, stat_id, origin, floor_hour(now))
    assert min(held) <= origin + 2 * HOUR
    for hour, cost in expected.items():
        if hour < floor_hour(now):
            assert held[hour] == pytest.approx(cost, abs=1e-4), hour
    assert meter_puts(sandbox) >= 1


async def hours_of(
    hass: HomeAssistant, stat_id: str, start: datetime, end: datetime
) -> dict[datetime, float]:
    """Return {hour: cost} of an hourly statistic."""
    rows = await get_instance(hass).async_add_executor_job(
        statistics_during_period, hass, start, end, {stat_id}, "hour", None, {"state"}
    )
    return {
        dt_util.utc_from_timestamp(row["start"]): float(row["state"] or 0)
        for row in rows.get(stat_id, [])
    }
