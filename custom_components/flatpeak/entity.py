"""Base entity and device descriptions of the Flatpeak integration."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

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
    SUBENTRY_EV_CHARGER,
    SUBENTRY_SOLAR,
)

if TYPE_CHECKING:
    from homeassistant.config_entries import ConfigEntry, ConfigSubentry
    from homeassistant.helpers.entity import EntityDescription

MANUFACTURER: Final = "Flatpeak"
SUBENTRY_MODELS: Final = {
    SUBENTRY_SOLAR: "Solar",
    SUBENTRY_EV_CHARGER: "EV charger",
    SUBENTRY_APPLIANCE: "Appliance",
}


def location_device_info(entry: ConfigEntry) -> DeviceInfo:
    """Describe the service device of the entry's Flatpeak location."""
    return DeviceInfo(
        identifiers={(DOMAIN, entry.data[CONF_LOCATION_ID])},
        name=f"Flatpeak {entry.title}",
        manufacturer=MANUFACTURER,
        model="Location",
        entry_type=DeviceEntryType.SERVICE,
    )


def subentry_device_info(entry: ConfigEntry, subentry: ConfigSubentry) -> DeviceInfo:
    """Describe the device of a solar / EV charger / appliance subentry."""
    return DeviceInfo(
        identifiers={(DOMAIN, subentry.data[CONF_DEVICE_ID])},
        name=subentry.title,
        manufacturer=MANUFACTURER,
        model=SUBENTRY_MODELS.get(subentry.subentry_type),
        entry_type=DeviceEntryType.SERVICE,
        via_device=(DOMAIN, entry.data[CONF_LOCATION_ID]),
    )


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
        if subentry is None:
            self._attr_device_info = location_device_info(entry)
            owner_id = entry.data[CONF_LOCATION_ID]
        else:
            self._attr_device_info = subentry_device_info(entry, subentry)
            owner_id = subentry.data[CONF_DEVICE_ID]
        self._attr_unique_id = f"{owner_id}_{description.key}"
