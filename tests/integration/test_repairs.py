"""Repair issue when Flatpeak cannot price the location (tariff not connected yet)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from homeassistant.const import STATE_UNAVAILABLE
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.flatpeak.const import DOMAIN

from .cost_data import (
    ENTRY_ID,
    LOCATION_ID,
    NOW,
    cost_entry,
    cost_sandbox,
    request_count,
    setup_entry,
)

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers import issue_registry as ir
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from flatpeak_sandbox import SandboxServer

__all__ = ["cost_entry", "cost_sandbox"]

pytestmark = [
    pytest.mark.freeze_time(NOW),
    pytest.mark.usefixtures("energy_sensors"),
]

IMPORT_TODAY = "sensor.flatpeak_1_test_street_london_import_cost_today"


@pytest.mark.parametrize("code", ["pending_connect", "no_tariff_connected"])
async def test_tariff_issue_retried_every_15_minutes(
    hass: HomeAssistant,
    cost_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    cost_sandbox: SandboxServer,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
    code: str,
) -> None:
    """422: an issue, costs unavailable, one try per 15 minutes, cleared once priced."""
    cost_sandbox.sandbox.faults.set_pending_connect(LOCATION_ID, code=code)
    await setup_entry(hass, cost_entry, hass_storage)
    issue = issue_registry.async_get_issue(DOMAIN, f"tariff_pending_{ENTRY_ID}")
    assert issue is not None
    assert issue.translation_key == "tariff_pending"
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["code"] == code
    state = hass.states.get(IMPORT_TODAY)
    assert state is not None
    assert state.state == STATE_UNAVAILABLE

    calls = request_count(cost_sandbox, "/costs/interval")
    freezer.move_to("2025-06-11T20:19:00+00:00")
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert request_count(cost_sandbox, "/costs/interval") == calls

    cost_sandbox.sandbox.faults.set_pending_connect(LOCATION_ID, pending=False)
    freezer.move_to("2025-06-11T20:20:01+00:00")
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    state = hass.states.get(IMPORT_TODAY)
    assert state is not None
    assert float(state.state) == pytest.approx(1.47)
    assert issue_registry.async_get_issue(DOMAIN, f"tariff_pending_{ENTRY_ID}") is None
