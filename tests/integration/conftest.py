"""Fixtures for tests that run Home Assistant against the Flatpeak sandbox."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from unittest.mock import PropertyMock, patch

import pytest
from homeassistant.components.sensor import SensorDeviceClass, SensorStateClass
from homeassistant.const import ATTR_DEVICE_CLASS, UnitOfEnergy, UnitOfPower
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.flatpeak.const import (
    CONF_ACCOUNT_ID,
    CONF_API_KEY,
    CONF_API_URL,
    CONF_DEVICE_ID,
    CONF_ENERGY_ENTITY,
    CONF_EXPORT_ENTITY,
    CONF_IMPORT_ENTITY,
    CONF_LOCATION_ID,
    CONF_NAME,
    CONF_REFERENCE_ID,
    DOMAIN,
    SUBENTRY_SOLAR,
)

if TYPE_CHECKING:
    from collections.abc import Generator

    from homeassistant.components.recorder.core import Recorder
    from homeassistant.core import HomeAssistant

    from flatpeak_sandbox import SandboxServer

GRID_IMPORT = "sensor.grid_import"
GRID_EXPORT = "sensor.grid_export"
SOLAR_ENERGY = "sensor.solar_energy"
EV_ENERGY = "sensor.ev_energy"
HEAT_PUMP_ENERGY = "sensor.heat_pump_energy"
POWER_SENSOR = "sensor.house_power"
ENERGY_MEASUREMENT = "sensor.energy_measurement"
EV_PLUGGED = "binary_sensor.ev_plugged"
EV_SESSION_ID = "sensor.ev_session_id"
LOCATION_TITLE = "1 Test Street, London"


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(
    recorder_mock: Recorder, enable_custom_integrations: None
) -> None:
    """Let Home Assistant load custom_components/flatpeak in every test here.

    The integration depends on the recorder, which must start before custom
    integrations are enabled (pytest-homeassistant-custom-component issue 132).
    """


@pytest.fixture(autouse=True)
def allow_loopback_sockets(socket_enabled: None) -> None:
    """Let Home Assistant talk to the sandbox on loopback (the plugin blocks it)."""


@pytest.fixture
def entity_registry_enabled_by_default() -> Generator[None]:
    """Enable the entities that are off by default (as Home Assistant's tests do)."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        return_value=True,
        new_callable=PropertyMock,
    ):
        yield


@pytest.fixture
def energy_sensors(hass: HomeAssistant) -> None:
    """Give the home the sensors its energy dashboard would use, and a few others."""
    energy = {
        ATTR_DEVICE_CLASS: SensorDeviceClass.ENERGY,
        "state_class": SensorStateClass.TOTAL_INCREASING,
        "unit_of_measurement": UnitOfEnergy.KILO_WATT_HOUR,
    }
    for entity_id in (GRID_IMPORT, SOLAR_ENERGY, EV_ENERGY, HEAT_PUMP_ENERGY):
        hass.states.async_set(entity_id, "12.5", energy)
    hass.states.async_set(GRID_EXPORT, "3.25", {**energy, "state_class": "total"})
    hass.states.async_set(
        POWER_SENSOR,
        "1500",
        {
            ATTR_DEVICE_CLASS: SensorDeviceClass.POWER,
            "state_class": SensorStateClass.MEASUREMENT,
            "unit_of_measurement": UnitOfPower.WATT,
        },
    )
    hass.states.async_set(
        ENERGY_MEASUREMENT, "1", {**energy, "state_class": "measurement"}
    )
    hass.states.async_set(EV_PLUGGED, "off")
    hass.states.async_set(EV_SESSION_ID, "unknown")


def entry_data(sandbox: SandboxServer, **overrides: Any) -> dict[str, Any]:
    """Return the data of an entry for the sandbox's demo account and location."""
    account = sandbox.sandbox.demo_account
    assert account is not None
    return {
        CONF_ACCOUNT_ID: account.account_id,
        CONF_API_KEY: account.api_key,
        CONF_API_URL: sandbox.url,
        CONF_LOCATION_ID: sandbox.sandbox.demo_location_id,
        CONF_IMPORT_ENTITY: GRID_IMPORT,
        CONF_EXPORT_ENTITY: GRID_EXPORT,
        **overrides,
    }


def solar_subentry(sandbox: SandboxServer) -> dict[str, Any]:
    """Return the subentry data of a solar device known to the sandbox."""
    account = sandbox.sandbox.demo_account
    assert account is not None
    device_id = sandbox.sandbox.add_device(account.account_id, "ha_solar_fixture")
    return {
        "subentry_type": SUBENTRY_SOLAR,
        "title": "Roof",
        "unique_id": device_id,
        "data": {
            CONF_NAME: "Roof",
            CONF_ENERGY_ENTITY: SOLAR_ENERGY,
            CONF_DEVICE_ID: device_id,
            CONF_REFERENCE_ID: "ha_solar_fixture",
        },
    }


@pytest.fixture
def mock_config_entry(sandbox: SandboxServer) -> MockConfigEntry:
    """Return an entry of the demo location holding one solar device."""
    return MockConfigEntry(
        domain=DOMAIN,
        title=LOCATION_TITLE,
        unique_id=sandbox.sandbox.demo_location_id,
        data=entry_data(sandbox),
        subentries_data=[solar_subentry(sandbox)],
    )


@pytest.fixture
async def init_integration(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> MockConfigEntry:
    """Set the entry up against the sandbox."""
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    return mock_config_entry
