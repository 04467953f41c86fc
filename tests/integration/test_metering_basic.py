"""Metering end to end: energy sensors → recorder statistics → Flatpeak records."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_RECORDER_5MIN_STATISTICS_GENERATED

from custom_components.flatpeak import metering_coordinator
from custom_components.flatpeak.metering import align_down
from custom_components.flatpeak.recorder_reader import async_compiled_until

from .conftest import GRID_EXPORT, GRID_IMPORT, SOLAR_ENERGY
from .metering_common import (
    async_start,
    async_statistics_wh,
    async_step,
    meter_puts,
    next_hour,
    sent,
    set_energy,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from flatpeak_sandbox import SandboxServer


@pytest.fixture
def enable_statistics() -> bool:
    """Let the recorder compile statistics every 5 minutes."""
    return True


async def test_grid_and_solar_reach_flatpeak(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    sandbox: SandboxServer,
    mock_config_entry: MockConfigEntry,
) -> None:
    """Each closed 30-minute interval is sent once, with the right directions."""
    start = next_hour()
    await async_start(hass, freezer, start - timedelta(minutes=10))
    set_energy(hass, GRID_IMPORT, 100.0)
    set_energy(hass, GRID_EXPORT, 5.0, state_class="total")
    set_energy(hass, SOLAR_ENERGY, 20.0)
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    assert mock_config_entry.state is ConfigEntryState.LOADED

    grid, export, solar = 100.0, 5.0, 20.0
    for _ in range(2 + 12 * 2):
        grid += 0.1
        export += 0.02
        solar += 0.05
        set_energy(hass, GRID_IMPORT, round(grid, 3))
        set_energy(hass, GRID_EXPORT, round(export, 3), state_class="total")
        set_energy(hass, SOLAR_ENERGY, round(solar, 3))
        await async_step(hass, freezer)
    for _ in range(2):
        await async_step(hass, freezer)

    location = sandbox.sandbox.demo_location_id
    solar_device = next(iter(mock_config_entry.subentries.values())).data["device_id"]
    imports = sent(sandbox)
    exports = sent(sandbox, direction="EXPORT")
    local = sent(sandbox, device_id=solar_device, direction="LOCAL")
    assert imports
    assert all(r.location_id == location for r in imports + exports + local)
    assert {r.energy_flow_direction for r in exports} == {"OUTBOUND"}
    assert {r.confidence for r in local} == {1.0}
    # The sensors had no statistics before the entry was set up (20 minutes into
    # the interval before `start`): Home Assistant's sum starts at their first
    # state, so that interval is sent whole too.
    first = start - timedelta(minutes=30)
    end = start + timedelta(hours=2)
    assert [r.start_time for r in imports] == [
        first + timedelta(minutes=30 * i) for i in range(5)
    ]
    for records, entity in (
        (imports, GRID_IMPORT),
        (exports, GRID_EXPORT),
        (local, SOLAR_ENERGY),
    ):
        assert len({r.record_reference_id for r in records}) == len(records) == 5
        assert sum(r.energy_wh for r in records) == await async_statistics_wh(
            hass, entity, first, end
        )
    # All streams go in the same PUT (a stream whose statistics were compiled
    # just after a cycle read them may follow in the next one).
    assert meter_puts(sandbox) <= 2 * len(imports)
    status = mock_config_entry.runtime_data.metering.data
    assert status.pending_records == 0
    assert status.last_error is None


async def test_a_closed_interval_leaves_once_the_recorder_compiled_it(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    sandbox: SandboxServer,
    mock_config_entry: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The recorder's compile starts a cycle: nothing waits for the next timer."""
    # Without the recorder's event, a timer this long would hold records back.
    monkeypatch.setattr(metering_coordinator, "CYCLE_INTERVAL", timedelta(hours=6))
    start = next_hour()
    await async_start(hass, freezer, start - timedelta(minutes=10))
    grid = 100.0
    for entity_id in (GRID_IMPORT, GRID_EXPORT, SOLAR_ENERGY):
        set_energy(hass, entity_id, grid)
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)

    first = start - timedelta(minutes=30)
    for _ in range(14):
        grid += 0.1
        set_energy(hass, GRID_IMPORT, round(grid, 3))
        await async_step(hass, freezer)
        # The recorder commits just after announcing; the cycle looks 2 s later.
        await async_step(hass, freezer, timedelta(seconds=3))
        compiled = await async_compiled_until(hass, [GRID_IMPORT])
        assert compiled is not None
        # Every interval whose statistics exist has been sent, at once.
        last_closed = align_down(compiled, 30)
        ends = [r.end_time for r in sent(sandbox)]
        assert ends == [
            first + timedelta(minutes=30 * (k + 1))
            for k in range(max(0, (last_closed - first) // timedelta(minutes=30)))
        ], compiled
    assert len(sent(sandbox)) == 3  # up to an hour after `start`

    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)
    puts = meter_puts(sandbox)
    hass.bus.async_fire(EVENT_RECORDER_5MIN_STATISTICS_GENERATED)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert meter_puts(sandbox) == puts


async def test_a_late_commit_is_looked_for_again(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    sandbox: SandboxServer,
    mock_config_entry: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The recorder announces before it commits: a stale read is retried shortly."""
    monkeypatch.setattr(metering_coordinator, "CYCLE_INTERVAL", timedelta(hours=6))
    real = async_compiled_until
    stale = {"reads": 0}

    async def lagging(
        hass: HomeAssistant, statistic_ids: Iterable[str]
    ) -> datetime | None:
        compiled = await real(hass, statistic_ids)
        if stale["reads"] and compiled is not None:
            stale["reads"] -= 1
            return compiled - timedelta(minutes=5)
        return compiled

    monkeypatch.setattr(metering_coordinator, "async_compiled_until", lagging)
    start = next_hour()
    await async_start(hass, freezer, start - timedelta(minutes=10))
    for entity_id in (GRID_IMPORT, GRID_EXPORT, SOLAR_ENERGY):
        set_energy(hass, entity_id, 100.0)
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    # Up to the step whose compile closes the interval [start - 30 min, start).
    before = start - timedelta(hours=1)  # nothing compiled yet
    while (await real(hass, [GRID_IMPORT]) or before) < start - timedelta(minutes=5):
        await async_step(hass, freezer)
        await async_step(hass, freezer, timedelta(seconds=3))
    assert sent(sandbox) == []

    stale["reads"] = 1
    set_energy(hass, GRID_IMPORT, 100.5)
    await async_step(hass, freezer)
    await async_step(hass, freezer, timedelta(seconds=3))
    assert await real(hass, [GRID_IMPORT]) == start
    assert sent(sandbox) == []  # the first look read the statistics before
    await async_step(hass, freezer, timedelta(seconds=12))
    assert [r.end_time for r in sent(sandbox)] == [start]
