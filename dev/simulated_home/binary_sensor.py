"""The EV charger's session of the simulated home."""

from __future__ import annotations

from typing import TYPE_CHECKING

# BinarySensorDeviceClass moved to binary_sensor.const in 2026.10, where the package
# imports it without re-exporting it (2026.11 does again); mypy flags the statement.
from homeassistant.components.binary_sensor import (  # type: ignore[attr-defined,unused-ignore]
    BinarySensorDeviceClass,
    BinarySensorEntity,
)
from homeassistant.core import HomeAssistant, callback

from . import DATA_HOME, SimulatedHome

if TYPE_CHECKING:
    from homeassistant.helpers.entity_platform import AddEntitiesCallback
    from homeassistant.helpers.typing import ConfigType, DiscoveryInfoType


async def async_setup_platform(
    hass: HomeAssistant,
    _config: ConfigType,
    async_add_entities: AddEntitiesCallback,
    _discovery_info: DiscoveryInfoType | None = None,
) -> None:
    """Add the EV session sensor."""
    async_add_entities([EvSessionSensor(hass.data[DATA_HOME])])


class EvSessionSensor(BinarySensorEntity):
    """On while the car is plugged in: one charging session."""

    _attr_should_poll = False
    _attr_device_class = BinarySensorDeviceClass.PLUG
    _attr_name = "EV charger session"
    _attr_unique_id = "simulated_home_ev_charger_session"

    def __init__(self, home: SimulatedHome) -> None:
        """Follow ``home``."""
        self._home = home

    async def async_added_to_hass(self) -> None:
        """Follow the home's updates."""
        self.async_on_remove(self._home.async_add_listener(self._handle_update))

    @callback
    def _handle_update(self) -> None:
        self.async_write_ha_state()

    @property
    def is_on(self) -> bool:
        """Return True while the car is plugged in."""
        return self._home.plugged_in
