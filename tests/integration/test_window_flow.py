"""Adding, changing and removing a cheapest window through its subentry flow."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from homeassistant.config_entries import SOURCE_RECONFIGURE, SOURCE_USER
from homeassistant.const import STATE_OFF, Platform
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er

from custom_components.flatpeak.const import DOMAIN, SUBENTRY_CHEAPEST_WINDOW
from custom_components.flatpeak.entity import entry_device

from .registry import device_owners
from .test_prices import local, set_up, window_entry

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from flatpeak_sandbox import SandboxServer

pytestmark = pytest.mark.usefixtures("energy_sensors")

DISHWASHER: dict[str, Any] = {
    "name": " Dishwasher ",
    "hours": 2,
    "earliest_start": "22:00:00",
    "latest_end": "07:00:00",
    "continuous": True,
}


@pytest.fixture
async def home(
    hass: HomeAssistant, sandbox: SandboxServer, freezer: FrozenDateTimeFactory
) -> MockConfigEntry:
    """Set up the sandbox's location (demo tariff) at 12:00 BST."""
    freezer.move_to(local("2026-06-15", 12))
    entry = window_entry(sandbox)
    await set_up(hass, entry)
    return entry


async def _start(hass: HomeAssistant, entry: MockConfigEntry) -> Any:
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_CHEAPEST_WINDOW), context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    return result


async def test_add_a_window(hass: HomeAssistant, home: MockConfigEntry) -> None:
    """The form suggests a night; the window gets a device and a binary sensor."""
    result = await _start(hass, home)
    suggested = {
        str(key): key.description.get("suggested_value")
        for key in result["data_schema"].schema
        if key.description
    }
    assert suggested["earliest_start"] == "22:00:00"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {**DISHWASHER, "maximum_price": 0.2}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Dishwasher"
    (subentry,) = home.subentries.values()
    assert subentry.data["maximum_price"] == 0.2
    assert subentry.data["minimum_price"] is None

    registry = er.async_get(hass)
    entity_id = registry.async_get_entity_id(
        Platform.BINARY_SENSOR, DOMAIN, f"{subentry.subentry_id}_cheapest_window"
    )
    assert entity_id == "binary_sensor.dishwasher_cheapest_window"
    state = hass.states.get(entity_id)
    assert state is not None
    assert state.state == STATE_OFF
    assert state.attributes["next_start"] == local("2026-06-16", 0, 30).isoformat()
    assert state.attributes["next_end"] == local("2026-06-16", 2, 30).isoformat()
    assert state.attributes["average_price"] == 0.07
    assert state.attributes["window_end"] == local("2026-06-16", 7).isoformat()
    device = entry_device(hass, home, subentry.subentry_id)
    assert device is not None
    assert device.name == "Dishwasher"
    assert device.entry_type is dr.DeviceEntryType.SERVICE
    assert device_owners(device) == {home.entry_id: {subentry.subentry_id}}


@pytest.mark.parametrize(
    ("changes", "field", "error"),
    [
        ({"name": "  "}, "name", "name_empty"),
        ({"hours": 10}, "hours", "window_too_short"),
        (
            {"minimum_price": 0.3, "maximum_price": 0.1},
            "maximum_price",
            "price_limits_reversed",
        ),
    ],
)
async def test_refused_windows(
    hass: HomeAssistant,
    home: MockConfigEntry,
    changes: dict[str, Any],
    field: str,
    error: str,
) -> None:
    """A window shorter than its hours, reversed limits, no name: shown on the form."""
    result = await _start(hass, home)
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {**DISHWASHER, **changes}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {field: error}
    # Fixed, it goes through.
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], DISHWASHER
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_reconfigure_plans_anew_and_remove_leaves_nothing(
    hass: HomeAssistant, home: MockConfigEntry
) -> None:
    """Three hours instead of two: re-planned at once; removed: entity and device go."""
    result = await _start(hass, home)
    await hass.config_entries.subentries.async_configure(result["flow_id"], DISHWASHER)
    await hass.async_block_till_done()
    (subentry,) = home.subentries.values()
    entity_id = "binary_sensor.dishwasher_cheapest_window"

    result = await hass.config_entries.subentries.async_init(
        (home.entry_id, SUBENTRY_CHEAPEST_WINDOW),
        context={"source": SOURCE_RECONFIGURE, "subentry_id": subentry.subentry_id},
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {**DISHWASHER, "hours": 10}
    )
    assert result["errors"] == {"hours": "window_too_short"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {**DISHWASHER, "hours": 3}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    state = hass.states.get(entity_id)
    assert state is not None
    # 00:30-03:30 at 0.07.
    assert state.attributes["next_end"] == local("2026-06-16", 3, 30).isoformat()

    assert hass.config_entries.async_remove_subentry(home, subentry.subentry_id)
    await hass.async_block_till_done()
    assert hass.states.get(entity_id) is None
    assert er.async_get(hass).async_get(entity_id) is None
    assert entry_device(hass, home, subentry.subentry_id) is None
