"""Metering end to end: energy sensors → recorder statistics → Flatpeak records."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from homeassistant.config_entries import ConfigEntryState

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
    # just after the cycle read them follows in the next one).
    assert meter_puts(sandbox) <= 2 * len(imports)
    status = mock_config_entry.runtime_data.metering.data
    assert status.pending_records == 0
    assert status.last_error is None
