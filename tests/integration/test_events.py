"""The `flatpeak_session_completed` event: once per session, once Flatpeak priced it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from pytest_homeassistant_custom_component.common import async_capture_events

from custom_components.flatpeak.const import EVENT_SESSION_COMPLETED
from flatpeak_sandbox import SandboxServer

from .cost_data import (
    ENTRY_ID,
    EV_ID,
    FINISHED_SESSION,
    NOW,
    bst,
    cost_entry,
    known_week,
    make_sandbox,
    record,
    setup_entry,
)

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry


__all__ = ["cost_entry"]


@pytest.fixture
def without_session() -> str | None:
    """Return a session whose records the sandbox does not hold (None: all held)."""
    return None


@pytest.fixture
async def cost_sandbox(
    socket_enabled: None, without_session: str | None
) -> AsyncGenerator[SandboxServer]:
    """Run the sandbox of the home, maybe without one session's records."""
    sandbox = make_sandbox()
    sandbox.store_records(
        [r for r in known_week() if r.session_reference_id != without_session]
    )
    async with SandboxServer(sandbox) as server:
        yield server


pytestmark = [
    pytest.mark.freeze_time(NOW),
    pytest.mark.usefixtures("energy_sensors"),
]


async def test_fired_once_with_the_session_cost(
    hass: HomeAssistant, cost_entry: MockConfigEntry, hass_storage: dict[str, Any]
) -> None:
    """6.0 kWh x 0.07 (00:30-02:30 BST) + 4.0 kWh x 0.07 (02:30-04:30) = 0.70 GBP."""
    events = async_capture_events(hass, EVENT_SESSION_COMPLETED)
    await setup_entry(hass, cost_entry, hass_storage)
    assert len(events) == 1
    assert events[0].data == {
        "config_entry_id": ENTRY_ID,
        "device_id": EV_ID,
        "session_id": FINISHED_SESSION,
        "start": bst(6, 11, 0, 30).isoformat(),
        "end": bst(6, 11, 4, 30).isoformat(),
        "energy_kwh": 10.0,
        "cost": pytest.approx(0.70),
        "currency": "GBP",
        "confidence": 1.0,
    }
    # Reported: a restart does not fire it again.
    assert await hass.config_entries.async_reload(cost_entry.entry_id)
    await hass.async_block_till_done()
    assert len(events) == 1


@pytest.mark.parametrize("without_session", [FINISHED_SESSION])
async def test_waits_until_flatpeak_priced_it(
    hass: HomeAssistant,
    cost_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    cost_sandbox: SandboxServer,
) -> None:
    """A session Flatpeak has no records of yet: no event until it has them."""
    sandbox = cost_sandbox.sandbox
    events = async_capture_events(hass, EVENT_SESSION_COMPLETED)
    await setup_entry(hass, cost_entry, hass_storage)
    assert events == []

    sandbox.store_records(
        [
            record(
                bst(6, 11, 0, 30),
                bst(6, 11, 4, 30),
                10.0,
                device_id=EV_ID,
                session=FINISHED_SESSION,
            )
        ]
    )
    metering = cost_entry.runtime_data.metering
    metering.async_update_listeners()
    await hass.async_block_till_done()
    assert len(events) == 1
    # 10 kWh x 0.07 inside the night rate.
    assert events[0].data["cost"] == pytest.approx(0.70)
