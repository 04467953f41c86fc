"""Sensors of the Flatpeak integration: classes, units and hand-computed values."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from homeassistant.components.sensor import (
    ATTR_LAST_RESET,
    ATTR_STATE_CLASS,
    SensorDeviceClass,
    SensorStateClass,
)
from homeassistant.const import (
    ATTR_DEVICE_CLASS,
    ATTR_UNIT_OF_MEASUREMENT,
    STATE_UNAVAILABLE,
    EntityCategory,
    Platform,
)
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension

from .cost_data import (
    EV_ID,
    FINISHED_SESSION,
    LOCATION_ID,
    MONTH_START,
    NOW,
    RUNNING_SESSION,
    TODAY_START,
    bst,
    cost_entry,
    cost_sandbox,
    setup_entry,
)
from .registry import entity_snapshots

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry
    from syrupy.assertion import SnapshotAssertion

__all__ = ["cost_entry", "cost_sandbox"]

pytestmark = [
    pytest.mark.freeze_time(NOW),
    pytest.mark.usefixtures("energy_sensors"),
]


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Serialise into `snapshots/` (the plugin's extension)."""
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


def entity_id(registry: er.EntityRegistry, owner: str, key: str) -> str:
    """Return the entity id of a sensor from its unique id."""
    found = registry.async_get_entity_id(Platform.SENSOR, "flatpeak", f"{owner}_{key}")
    assert found is not None, f"{owner}_{key}"
    return found


def value(
    hass: HomeAssistant, registry: er.EntityRegistry, owner: str, key: str
) -> Any:
    """Return the state object of a sensor."""
    state = hass.states.get(entity_id(registry, owner, key))
    assert state is not None
    return state


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_snapshot(
    hass: HomeAssistant,
    cost_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    """Every entity of a home with solar, an EV charger and an appliance."""
    await setup_entry(hass, cost_entry, hass_storage)
    assert entity_snapshots(hass, entity_registry, cost_entry.entry_id) == snapshot


async def test_location_costs(
    hass: HomeAssistant,
    cost_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    entity_registry: er.EntityRegistry,
) -> None:
    """Today's and the month's import cost and export value, by hand from the tariff.

    Import today (London day from 2025-06-10 23:00 UTC): 1.0 kWh x 0.25 (00:00-00:30)
    + 2.0 x 0.07 (01:00) + (0.5 x 0.07 + 0.5 x 0.25) (04:00-05:00) + 2.0 x 0.25
    (11:30-12:30) + 1.2 x 0.35 (16:00-16:30) = 0.25 + 0.14 + 0.16 + 0.50 + 0.42 = 1.47.
    Month: + 2.0 x 0.35 (06-05 18:00) + 1.0 x 0.25 (06-10 23:30) = 2.42; the record
    of 05-31 23:30 BST belongs to May. Export: 3.0 x 0.15 = 0.45 today; month + 0.30.
    """
    await setup_entry(hass, cost_entry, hass_storage)
    expected = {
        "import_cost_today": (1.47, TODAY_START),
        "import_cost_month": (2.42, MONTH_START),
        "export_value_today": (0.45, TODAY_START),
        "export_value_month": (0.75, MONTH_START),
    }
    for key, (amount, last_reset) in expected.items():
        state = value(hass, entity_registry, LOCATION_ID, key)
        assert float(state.state) == pytest.approx(amount), key
        assert state.attributes[ATTR_DEVICE_CLASS] == SensorDeviceClass.MONETARY
        assert state.attributes[ATTR_STATE_CLASS] == SensorStateClass.TOTAL
        assert state.attributes[ATTR_UNIT_OF_MEASUREMENT] == "GBP"
        assert state.attributes[ATTR_LAST_RESET] == last_reset.isoformat()
        assert state.attributes["confidence"] == 1.0


async def test_prices(
    hass: HomeAssistant,
    cost_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    entity_registry: er.EntityRegistry,
) -> None:
    """21:05 BST: import 0.25 until the night rate at 00:30 BST; export flat 0.15."""
    await setup_entry(hass, cost_entry, hass_storage)
    state = value(hass, entity_registry, LOCATION_ID, "import_price")
    assert float(state.state) == 0.25
    assert state.attributes[ATTR_UNIT_OF_MEASUREMENT] == "GBP/kWh"
    assert state.attributes[ATTR_STATE_CLASS] == SensorStateClass.MEASUREMENT
    assert ATTR_DEVICE_CLASS not in state.attributes
    assert state.attributes["valid_to"] == bst(6, 12, 0, 30).isoformat()
    assert state.attributes["confidence"] == 1.0
    state = value(hass, entity_registry, LOCATION_ID, "export_price")
    assert float(state.state) == 0.15
    assert state.attributes[ATTR_UNIT_OF_MEASUREMENT] == "GBP/kWh"


async def test_device_costs(
    hass: HomeAssistant,
    cost_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    entity_registry: er.EntityRegistry,
) -> None:
    """Per-device sensors, by hand from the tariff.

    Solar: 5.0 kWh local at 0 → value 0.00 (Flatpeak answered: 0, not unavailable).
    Heat pump: 2.0 kWh x 0.07 (02:00-03:00) = 0.14 today; + 1.0 x 0.35 (06-02
    17:00-18:00) = 0.49 this month. EV: 6.0 x 0.07 + 4.0 x 0.07 = 0.70 (finished
    session) + 3.0 x 0.25 (19:00-20:00, running) = 1.45 today.
    """
    await setup_entry(hass, cost_entry, hass_storage)
    solar = value(
        hass, entity_registry, "dev_0000000000000000000501a4", "local_value_today"
    )
    assert float(solar.state) == 0.0
    assert solar.attributes[ATTR_UNIT_OF_MEASUREMENT] == "GBP"
    energy = value(
        hass, entity_registry, "dev_0000000000000000000501a4", "energy_sent_today"
    )
    assert float(energy.state) == 5.0
    assert energy.attributes[ATTR_UNIT_OF_MEASUREMENT] == "kWh"
    assert energy.attributes[ATTR_DEVICE_CLASS] == SensorDeviceClass.ENERGY
    # Not a meter: no state class, so the energy dashboard does not offer it.
    assert ATTR_STATE_CLASS not in energy.attributes
    assert ATTR_LAST_RESET not in energy.attributes

    heat_pump = "dev_00000000000000000000a991"
    assert float(value(hass, entity_registry, heat_pump, "cost_today").state) == 0.14
    month = value(hass, entity_registry, heat_pump, "cost_month")
    assert float(month.state) == pytest.approx(0.49)
    assert month.attributes[ATTR_LAST_RESET] == MONTH_START.isoformat()

    assert float(value(hass, entity_registry, EV_ID, "cost_today").state) == 1.45


async def test_session_sensors(
    hass: HomeAssistant,
    cost_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    entity_registry: er.EntityRegistry,
) -> None:
    """Last session: 6.0 x 0.07 + 4.0 x 0.07 = 0.70; running: 3.0 x 0.25 = 0.75."""
    await setup_entry(hass, cost_entry, hass_storage)
    last = value(hass, entity_registry, EV_ID, "session_cost")
    assert float(last.state) == pytest.approx(0.70)
    assert last.attributes[ATTR_DEVICE_CLASS] == SensorDeviceClass.MONETARY
    assert last.attributes[ATTR_STATE_CLASS] == SensorStateClass.TOTAL
    assert last.attributes[ATTR_LAST_RESET] == bst(6, 11, 0, 30).isoformat()
    assert last.attributes["session_id"] == FINISHED_SESSION
    assert last.attributes["start"] == bst(6, 11, 0, 30).isoformat()
    assert last.attributes["end"] == bst(6, 11, 4, 30).isoformat()
    assert last.attributes["energy_kwh"] == 10.0
    assert last.attributes["confidence"] == 1.0

    running = value(hass, entity_registry, EV_ID, "current_session_cost")
    assert float(running.state) == 0.75
    assert running.attributes["session_id"] == RUNNING_SESSION
    assert running.attributes[ATTR_LAST_RESET] == bst(6, 11, 19).isoformat()


async def test_unavailable_without_session(
    hass: HomeAssistant,
    cost_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    entity_registry: er.EntityRegistry,
) -> None:
    """Without a running or a finished session both sensors are unavailable, not 0."""
    await setup_entry(hass, cost_entry, hass_storage, sessions=False)
    for key in ("session_cost", "current_session_cost"):
        assert value(hass, entity_registry, EV_ID, key).state == STATE_UNAVAILABLE


async def test_metering_sensors(
    hass: HomeAssistant,
    cost_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    entity_registry: er.EntityRegistry,
) -> None:
    """The diagnostic sensors show the metering status."""
    await setup_entry(hass, cost_entry, hass_storage)
    pending = value(hass, entity_registry, LOCATION_ID, "pending_records")
    assert pending.state == "0"
    entry = entity_registry.async_get(
        entity_id(entity_registry, LOCATION_ID, "last_submission")
    )
    assert entry is not None
    assert entry.entity_category is EntityCategory.DIAGNOSTIC
    # It changes at every submission: off by default, out of the logbook's way.
    assert entry.disabled_by is er.RegistryEntryDisabler.INTEGRATION
    entity_registry.async_update_entity(entry.entity_id, disabled_by=None)
    assert await hass.config_entries.async_reload(cost_entry.entry_id)
    await hass.async_block_till_done()
    state = value(hass, entity_registry, LOCATION_ID, "last_submission")
    assert state.attributes[ATTR_DEVICE_CLASS] == SensorDeviceClass.TIMESTAMP
