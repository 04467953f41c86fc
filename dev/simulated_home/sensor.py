"""Energy meters and power sensors of the simulated home."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import UnitOfEnergy, UnitOfPower
from homeassistant.core import HomeAssistant, callback

from . import DATA_HOME, SimulatedHome

if TYPE_CHECKING:
    from collections.abc import Callable

    from homeassistant.helpers.entity_platform import AddEntitiesCallback
    from homeassistant.helpers.typing import ConfigType, DiscoveryInfoType


@dataclass(frozen=True, kw_only=True)
class SimulatedSensorDescription(SensorEntityDescription):
    """A sensor of the home and how to read it."""

    value_fn: Callable[[SimulatedHome], float]


def _energy(
    key: str, name: str, value_fn: Callable[[SimulatedHome], float]
) -> SimulatedSensorDescription:
    return SimulatedSensorDescription(
        key=key,
        name=name,
        device_class=SensorDeviceClass.ENERGY,
        state_class=SensorStateClass.TOTAL_INCREASING,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=2,
        value_fn=value_fn,
    )


def _power(
    key: str, name: str, value_fn: Callable[[SimulatedHome], float]
) -> SimulatedSensorDescription:
    return SimulatedSensorDescription(
        key=key,
        name=name,
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfPower.WATT,
        suggested_display_precision=0,
        value_fn=value_fn,
    )


SENSORS: tuple[SimulatedSensorDescription, ...] = (
    _energy("grid_import", "Grid import", lambda home: home.meters.grid_import),
    _energy("grid_export", "Grid export", lambda home: home.meters.grid_export),
    _energy("solar_production", "Solar production", lambda home: home.meters.solar),
    _energy("ev_charger_energy", "EV charger energy", lambda home: home.meters.ev),
    _power("grid_power", "Grid power", lambda home: home.power.grid * 1000),
    _power("house_power", "House power", lambda home: home.power.house * 1000),
    _power("solar_power", "Solar power", lambda home: home.power.solar * 1000),
    _power("ev_charger_power", "EV charger power", lambda home: home.power.ev * 1000),
)


async def async_setup_platform(
    hass: HomeAssistant,
    _config: ConfigType,
    async_add_entities: AddEntitiesCallback,
    _discovery_info: DiscoveryInfoType | None = None,
) -> None:
    """Add the home's sensors."""
    home = hass.data[DATA_HOME]
    async_add_entities(SimulatedSensor(home, description) for description in SENSORS)


class SimulatedSensor(SensorEntity):
    """One meter or power reading of the home."""

    _attr_should_poll = False
    entity_description: SimulatedSensorDescription

    def __init__(
        self, home: SimulatedHome, description: SimulatedSensorDescription
    ) -> None:
        """Read ``description`` from ``home``."""
        self._home = home
        self.entity_description = description
        self._attr_unique_id = f"simulated_home_{description.key}"

    async def async_added_to_hass(self) -> None:
        """Follow the home's updates."""
        self.async_on_remove(self._home.async_add_listener(self._handle_update))

    @callback
    def _handle_update(self) -> None:
        self.async_write_ha_state()

    @property
    def native_value(self) -> float:
        """Return the reading, rounded like a meter display."""
        return round(self.entity_description.value_fn(self._home), 3)
