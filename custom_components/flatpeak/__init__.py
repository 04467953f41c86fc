"""The Flatpeak integration: what the home's measured energy really cost."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.const import Platform
from homeassistant.exceptions import (
    ConfigEntryAuthFailed,
    ConfigEntryError,
    ConfigEntryNotReady,
)
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from .api import (
    FlatpeakApiError,
    FlatpeakAuthError,
    FlatpeakClient,
    FlatpeakConnectionError,
    FlatpeakNotFoundError,
    FlatpeakRateLimitError,
    FlatpeakResponseError,
)
from .const import (
    CONF_ACCOUNT_ID,
    CONF_API_KEY,
    CONF_API_URL,
    CONF_LOCATION_ID,
    DOMAIN,
)
from .coordinator import (
    FlatpeakConfigEntry,
    FlatpeakRuntimeData,
    entry_grid_entities,
    entry_interval_minutes,
)
from .cost_coordinator import FlatpeakCostCoordinator
from .entity import location_device_info, subentry_device_info
from .metering_coordinator import FlatpeakMeteringCoordinator
from .services import async_setup_services

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.typing import ConfigType

PLATFORMS: list[Platform] = [Platform.SENSOR]
CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:  # noqa: ARG001
    """Register the integration's actions."""
    async_setup_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: FlatpeakConfigEntry) -> bool:
    """Check that Flatpeak answers for the location, then set the entry up."""
    client = FlatpeakClient(
        async_get_clientsession(hass),
        entry.data[CONF_ACCOUNT_ID],
        entry.data[CONF_API_KEY],
        base_url=entry.data[CONF_API_URL],
    )
    location_id: str = entry.data[CONF_LOCATION_ID]
    placeholders = {"location_id": location_id}
    try:
        location = await client.get_location(location_id)
    except FlatpeakAuthError as err:
        raise ConfigEntryAuthFailed(
            translation_domain=DOMAIN, translation_key="auth_failed"
        ) from err
    except FlatpeakNotFoundError as err:
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="location_not_found",
            translation_placeholders=placeholders,
        ) from err
    except (
        FlatpeakConnectionError,
        FlatpeakRateLimitError,
        FlatpeakResponseError,
    ) as err:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="cannot_connect",
            translation_placeholders={"error": str(err)},
        ) from err
    except FlatpeakApiError as err:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="api_error",
            translation_placeholders={"error": str(err)},
        ) from err

    import_entity, export_entity = entry_grid_entities(entry)
    metering = FlatpeakMeteringCoordinator(hass, entry, client, location)
    costs = FlatpeakCostCoordinator(
        hass, entry, client=client, location=location, metering=metering
    )
    entry.runtime_data = FlatpeakRuntimeData(
        client=client,
        location=location,
        interval_minutes=entry_interval_minutes(entry),
        import_entity=import_entity,
        export_entity=export_entity,
        metering=metering,
        costs=costs,
    )
    _async_register_devices(hass, entry)
    await metering.async_config_entry_first_refresh()
    # Metering runs on its own schedule whether or not an entity listens to it.
    entry.async_on_unload(metering.async_add_listener(lambda: None))
    entry.async_on_unload(metering.async_follow_recorder())
    # Not a first refresh: metering must run even while Flatpeak cannot price yet
    # (tariff pending); the cost entities stay unavailable and retry meanwhile.
    await costs.async_refresh()
    costs.async_start()

    # Options, subentries added, changed or removed, and new credentials all
    # update the entry; each of them is applied by reloading it.
    entry.async_on_unload(entry.add_update_listener(_async_reload_entry))

    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: FlatpeakConfigEntry) -> bool:
    """Unload the entry's platforms."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def _async_reload_entry(hass: HomeAssistant, entry: FlatpeakConfigEntry) -> None:
    """Apply a change of the entry by reloading it."""
    hass.config_entries.async_schedule_reload(entry.entry_id)


def _async_register_devices(hass: HomeAssistant, entry: FlatpeakConfigEntry) -> None:
    """Register the location device, then one device per subentry under it."""
    device_registry = dr.async_get(hass)
    # The parent first, so that via_device of the subentry devices resolves.
    kept = {
        device_registry.async_get_or_create(
            config_entry_id=entry.entry_id, **location_device_info(entry)
        ).id
    }
    for subentry in entry.subentries.values():
        kept.add(
            device_registry.async_get_or_create(
                config_entry_id=entry.entry_id,
                config_subentry_id=subentry.subentry_id,
                **subentry_device_info(entry, subentry),
            ).id
        )
    # Release devices that no subentry owns any more (stale-devices rule).
    for device in dr.async_entries_for_config_entry(device_registry, entry.entry_id):
        if device.id not in kept:
            device_registry.async_update_device(
                device.id, remove_config_entry_id=entry.entry_id
            )
