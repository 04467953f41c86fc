"""Base entity and device descriptions of the Flatpeak integration."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.update_coordinator import (
    CoordinatorEntity,
    DataUpdateCoordinator,
)

from .const import (
    CONF_DEVICE_ID,
    CONF_LOCATION_ID,
    DOMAIN,
    SUBENTRY_APPLIANCE,
    SUBENTRY_CHEAPEST_WINDOW,
    SUBENTRY_EV_CHARGER,
    SUBENTRY_SOLAR,
)

if TYPE_CHECKING:
    from homeassistant.config_entries import ConfigEntry, ConfigSubentry
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.entity import EntityDescription

MANUFACTURER: Final = "Flatpeak"
SUBENTRY_MODELS: Final = {
    SUBENTRY_SOLAR: "Solar panels",
    SUBENTRY_EV_CHARGER: "EV charger",
    SUBENTRY_APPLIANCE: "Appliance",
    SUBENTRY_CHEAPEST_WINDOW: "Cheapest window",
}
# The device page links to the energy settings, where the cost statistics are picked.
ENERGY_SETTINGS_URL: Final = "homeassistant://config/energy"


def location_device_info(entry: ConfigEntry) -> DeviceInfo:
    """Describe the service device of the entry's Flatpeak location."""
    return DeviceInfo(
        identifiers={(DOMAIN, entry.data[CONF_LOCATION_ID])},
        name=f"Flatpeak {entry.title}",
        manufacturer=MANUFACTURER,
        model="Location",
        entry_type=DeviceEntryType.SERVICE,
        configuration_url=ENERGY_SETTINGS_URL,
    )


def subentry_device_info(subentry: ConfigSubentry) -> DeviceInfo | None:
    """Describe the device of a subentry.

    A solar / EV charger / appliance subentry's device is its Flatpeak device; a
    cheapest window is a service of the location, known by its subentry id.
    """
    if subentry.subentry_type == SUBENTRY_CHEAPEST_WINDOW:
        return DeviceInfo(
            identifiers={(DOMAIN, subentry.subentry_id)},
            name=subentry.title,
            manufacturer=MANUFACTURER,
            model=SUBENTRY_MODELS[SUBENTRY_CHEAPEST_WINDOW],
            entry_type=DeviceEntryType.SERVICE,
        )
    device_id = subentry.data.get(CONF_DEVICE_ID)
    if device_id is None:
        return None
    return DeviceInfo(
        identifiers={(DOMAIN, device_id)},
        name=subentry.title,
        manufacturer=MANUFACTURER,
        model=SUBENTRY_MODELS.get(subentry.subentry_type),
    )


def entry_device(
    hass: HomeAssistant, entry: ConfigEntry, identifier: str
) -> dr.DeviceEntry | None:
    """Return the entry's device with the Flatpeak id `identifier`."""
    for device in dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id):
        if (DOMAIN, identifier) in device.identifiers:
            return device
    return None


class FlatpeakEntity[_CoordinatorT: DataUpdateCoordinator[Any]](
    CoordinatorEntity[_CoordinatorT]
):
    """An entity of the location device, or of a subentry's device."""

    _attr_has_entity_name = True

    def __init__(
        self,
        coordinator: _CoordinatorT,
        entry: ConfigEntry,
        description: EntityDescription,
        subentry: ConfigSubentry | None = None,
    ) -> None:
        """Tie the entity to its device; the unique id is the Flatpeak id + key."""
        super().__init__(coordinator)
        self.entity_description = description
        device_info = None if subentry is None else subentry_device_info(subentry)
        if subentry is None or device_info is None:
            self._attr_device_info = location_device_info(entry)
            owner_id = entry.data[CONF_LOCATION_ID]
        else:
            self._attr_device_info = device_info
            owner_id = subentry.data[CONF_DEVICE_ID]
        self._attr_unique_id = f"{owner_id}_{description.key}"
