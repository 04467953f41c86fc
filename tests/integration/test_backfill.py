"""The backfill action: history from recorder statistics, sent once."""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers.recorder import get_instance
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import async_fire_time_changed
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.flatpeak.const import DOMAIN
from custom_components.flatpeak.metering import align_down

from .conftest import GRID_EXPORT, GRID_IMPORT, SOLAR_ENERGY
from .history import energy_until, import_history
from .metering_common import meter_puts

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from flatpeak_sandbox import SandboxServer

LONDON = ZoneInfo("Europe/London")  # the demo location's time zone
RATES = {GRID_IMPORT: 0.8, GRID_EXPORT: 0.3, SOLAR_ENERGY: 0.5}
DAYS = 140


@pytest.fixture(autouse=True)
def quiet_sql() -> None:
    """Stop logging every SQL statement: importing thousands of rows is slow."""
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)


@pytest.fixture
def recorder_config() -> dict[str, object]:
    """Keep 5-minute statistics one day (fewer rows to import)."""
    return {"purge_keep_days": 1}


async def _import(hass: HomeAssistant, days: int) -> dict[str, object]:
    """Import `days` of hourly statistics, 5-minute ones within the retention."""
    now = dt_util.utcnow()
    end = align_down(now, 5) - timedelta(minutes=5)
    origin = align_down(now, 60) - timedelta(days=days + 1)
    keep_days = get_instance(hass).keep_days
    short_from = align_down(now, 60) - timedelta(days=keep_days)
    for entity_id, rate in RATES.items():
        import_history(hass, entity_id, origin, end, short_from, rate)
    await async_wait_recording_done(hass)
    return {"origin": origin, "end": end}


@pytest.fixture
async def history(hass: HomeAssistant, energy_sensors: None) -> dict[str, object]:
    """Import a few days of statistics."""
    return await _import(hass, 5)


async def _backfill(hass: HomeAssistant, entry_id: str, **data: object) -> int:
    response = await hass.services.async_call(
        DOMAIN,
        "backfill",
        {"config_entry_id": entry_id, **data},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    queued = response["records_queued"]
    assert isinstance(queued, int)
    return queued


async def test_backfill_sends_history_once(
    hass: HomeAssistant,
    energy_sensors: None,
    sandbox: SandboxServer,
    init_integration: MockConfigEntry,
) -> None:
    """Every interval before the entry started is sent once, in ≤10,000-record PUTs."""
    history = await _import(hass, DAYS)
    start = dt_util.utcnow() - timedelta(days=DAYS)
    puts = meter_puts(sandbox)
    queued = await _backfill(hass, init_integration.entry_id, start=start.isoformat())
    assert queued > 10_000
    stored = sandbox.sandbox.records()
    # Today's intervals were sent by the cycle after the backfill (the streams
    # start at the location's midnight), in the backfill's last request.
    zone = init_integration.runtime_data.timezone
    today = dt_util.now(zone).date()
    day_start = datetime.combine(today, time(), tzinfo=zone).astimezone(UTC)
    assert len([r for r in stored if r.end_time <= day_start]) == queued
    assert meter_puts(sandbox) - puts == math.ceil(len(stored) / 10_000)
    assert len({r.record_reference_id for r in stored}) == len(stored)

    # Per stream, the energy is what the statistics say between the backfill start
    # and where the stream started.
    metering = init_integration.runtime_data.metering
    origin = history["origin"]
    assert isinstance(origin, type(start))
    begin = align_down(start, 60)
    for stream in metering.streams:
        records = [
            r
            for r in stored
            if (r.record_reference_id or "").startswith(f"fp-{stream.key}-")
        ]
        until = max(r.end_time for r in records)
        expected = round(
            energy_until(until, origin, RATES[stream.entity_id]) * 1000
        ) - round(energy_until(begin, origin, RATES[stream.entity_id]) * 1000)
        assert sum(r.energy_wh for r in records) == expected
        # Hourly records beyond the short-term retention, 30-minute ones after.
        keep = timedelta(days=get_instance(hass).keep_days, hours=1)
        old = [r for r in records if r.end_time < dt_util.utcnow() - keep]
        assert {r.end_time - r.start_time for r in old} == {timedelta(hours=1)}
        assert timedelta(minutes=30) in {r.end_time - r.start_time for r in records}

    # Nothing is sent twice: a second backfill over the same span queues nothing.
    puts = meter_puts(sandbox)
    assert (
        await _backfill(hass, init_integration.entry_id, start=start.isoformat()) == 0
    )
    assert meter_puts(sandbox) == puts


async def test_backfill_with_an_end_then_the_rest(
    hass: HomeAssistant,
    history: dict[str, object],
    sandbox: SandboxServer,
    init_integration: MockConfigEntry,
) -> None:
    """A span with an end, then a wider one: only the gaps are sent."""
    now = dt_util.utcnow()
    entry_id = init_integration.entry_id
    # Setting the entry up sent today's closed intervals (a new stream starts
    # today): none in the first half hour of the location's day.
    today = len(sandbox.sandbox.records())
    midnight = datetime.combine(now.astimezone(LONDON).date(), time(), LONDON)
    closed = history["end"] - midnight  # type: ignore[operator]
    assert (today > 0) is (closed >= timedelta(minutes=30)), (today, closed)
    first = await _backfill(
        hass,
        entry_id,
        start=(now - timedelta(days=3)).isoformat(),  # hourly there
        end=(now - timedelta(days=2)).isoformat(),
    )
    assert first == 3 * 24
    second = await _backfill(
        hass, entry_id, start=(now - timedelta(days=4)).isoformat()
    )
    stored = sandbox.sandbox.records()
    assert len(stored) == today + first + second
    assert len({r.record_reference_id for r in stored}) == len(stored)


async def test_backfill_refuses_bad_input(
    hass: HomeAssistant, sandbox: SandboxServer, init_integration: MockConfigEntry
) -> None:
    """Translated validation errors: end before start, unknown or unloaded entry."""
    now = dt_util.utcnow()
    entry_id = init_integration.entry_id
    cases = [
        (
            {
                "config_entry_id": entry_id,
                "start": now - timedelta(days=1),
                "end": now - timedelta(days=2),
            },
            "end_before_start",
        ),
        (
            {"config_entry_id": entry_id, "start": now + timedelta(days=1)},
            "start_in_future",
        ),
        (
            {"config_entry_id": "nope", "start": now - timedelta(days=1)},
            "entry_not_found",
        ),
    ]
    for data, key in cases:
        with pytest.raises(ServiceValidationError) as err:
            await hass.services.async_call(DOMAIN, "backfill", data, blocking=True)
        assert err.value.translation_key == key
    assert await hass.config_entries.async_unload(entry_id)
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "backfill",
            {"config_entry_id": entry_id, "start": now - timedelta(days=1)},
            blocking=True,
        )
    assert err.value.translation_key == "entry_not_loaded"


async def test_backfill_failure_keeps_the_records(
    hass: HomeAssistant,
    history: dict[str, object],
    sandbox: SandboxServer,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Flatpeak failing: HomeAssistantError, records stay queued and go later."""
    today = len(sandbox.sandbox.records())
    sandbox.sandbox.faults.fail_next(path="/meters/interval")
    with pytest.raises(HomeAssistantError) as err:
        await _backfill(
            hass,
            init_integration.entry_id,
            start=(dt_util.utcnow() - timedelta(days=2)).isoformat(),
        )
    assert err.value.translation_key == "backfill_send_failed"
    metering = init_integration.runtime_data.metering
    pending = metering.outbox.pending_count
    assert pending > 0
    assert len(sandbox.sandbox.records()) == today

    # The back-off's next try sends them, once each.
    freezer.tick(timedelta(minutes=1))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert metering.outbox.pending_count == 0
    assert len(sandbox.sandbox.records()) == today + pending
