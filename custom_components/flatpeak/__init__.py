"""The Flatpeak integration: what the home's measured energy really cost."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.const import Platform
from homeassistant.exceptions import ConfigEntryError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.util import dt as dt_util

from . import issues
from .api import FlatpeakClient, FlatpeakError
from .const import (
    CONF_ACCOUNT_ID,
    CONF_API_KEY,
    CONF_API_URL,
    CONF_LOCATION_ID,
    DOMAIN,
    signal_subentries_changed,
)
from .cost_coordinator import FlatpeakCostCoordinator
from .entity import location_device_info, subentry_device_info
from .helpers import setup_error
from .metering_coordinator import FlatpeakMeteringCoordinator
from .outbox import Outbox
from .outbox_store import OutboxVersionError
from .price_coordinator import FlatpeakPriceCoordinator
from .price_services import async_setup_price_services
from .runtime import FlatpeakConfigEntry, FlatpeakRuntimeData
from .services import async_setup_services
from .streams import entry_interval_minutes, entry_streams

if TYPE_CHECKING:
    from datetime import tzinfo

    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.typing import ConfigType

PLATFORMS: list[Platform] = [Platform.BINARY_SENSOR, Platform.SENSOR]
CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:  # noqa: ARG001
    """Register the integration's actions."""
    async_setup_services(hass)
    async_setup_price_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: FlatpeakConfigEntry) -> bool:
    """Check that Flatpeak answers for the location, then set the entry up.

    Only an unreachable Flatpeak (or a refused key) here defers setup. Once set up,
    a failing metering or cost side leaves its entities unavailable and retries
    on its own schedule (a pending tariff: every 15 minutes, with a repair issue).
    """
    client = FlatpeakClient(
        async_get_clientsession(hass),
        entry.data[CONF_ACCOUNT_ID],
        entry.data[CONF_API_KEY],
        base_url=entry.data[CONF_API_URL],
    )
    location_id: str = entry.data[CONF_LOCATION_ID]
    try:
        location = await client.get_location(location_id)
    except FlatpeakError as err:
        raise setup_error(err, location_id) from err
    timezone: tzinfo = (
        location.timezone and await dt_util.async_get_time_zone(location.timezone)
    ) or dt_util.get_default_time_zone()

    outbox = Outbox(hass, entry.entry_id)
    try:
        await outbox.async_load()
    except OutboxVersionError as err:
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="storage_newer",
            translation_placeholders={"file": f".storage/{outbox.key}"},
        ) from err
    await _async_forget_removed_streams(hass, entry, outbox)
    issues.async_sync_unreadable(hass, entry, outbox)
    issues.async_raise_rejected(hass, entry, outbox)

    interval = entry_interval_minutes(entry)
    metering = FlatpeakMeteringCoordinator(
        hass,
        entry,
        client=client,
        outbox=outbox,
        timezone=timezone,
        interval_minutes=interval,
    )
    costs = FlatpeakCostCoordinator(
        hass,
        entry,
        client=client,
        location=location,
        timezone=timezone,
        metering=metering,
    )
    prices = FlatpeakPriceCoordinator(
        hass, entry, client=client, location=location, timezone=timezone
    )
    entry.runtime_data = FlatpeakRuntimeData(
        client=client,
        location=location,
        timezone=timezone,
        interval_minutes=interval,
        outbox=outbox,
        metering=metering,
        costs=costs,
        prices=prices,
    )
    _async_register_devices(hass, entry)
    # Not first refreshes: a failure here leaves the entry loaded, its entities
    # unavailable, and each coordinator retrying (a refused key starts reauth).
    await metering.async_refresh()
    entry.async_on_unload(metering.async_add_listener(costs.async_metering_updated))
    entry.async_on_unload(metering.async_follow_recorder())
    await costs.async_refresh()
    # Finished EV sessions fire their event whether or not an entity listens.
    entry.async_on_unload(costs.async_add_listener(lambda: None))
    await prices.async_refresh()

    signature = _reload_signature(entry)

    async def _async_entry_updated(
        hass: HomeAssistant, entry: FlatpeakConfigEntry
    ) -> None:
        """Reload for new options or credentials; follow devices in place."""
        if _reload_signature(entry) != signature:
            hass.config_entries.async_schedule_reload(entry.entry_id)
            return
        await _async_subentries_changed(hass, entry)

    entry.async_on_unload(entry.add_update_listener(_async_entry_updated))
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: FlatpeakConfigEntry) -> bool:
    """Unload the entry's platforms."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(hass: HomeAssistant, entry: FlatpeakConfigEntry) -> None:
    """Delete what the entry kept: its outbox file and its repair issues."""
    await Outbox(hass, entry.entry_id).async_remove()
    issues.async_clear_entry(hass, entry)


def _reload_signature(entry: FlatpeakConfigEntry) -> tuple[Any, ...]:
    """Return what only a reload applies: the credentials and the options."""
    return (dict(entry.data), dict(entry.options))


async def _async_forget_removed_streams(
    hass: HomeAssistant, entry: FlatpeakConfigEntry, outbox: Outbox
) -> None:
    """Drop the state (and pending records) of device subentries that are gone."""
    kept = {stream.key for stream in entry_streams(entry)}
    for key in outbox.stream_keys() - kept:
        if key in entry.subentries or key.startswith("grid_"):
            continue
        await outbox.async_remove_stream(key)
        issues.async_clear_subentry(hass, entry, key)


async def _async_subentries_changed(
    hass: HomeAssistant, entry: FlatpeakConfigEntry
) -> None:
    """Apply added, changed or removed devices without reloading the entry."""
    runtime = entry.runtime_data
    await _async_forget_removed_streams(hass, entry, runtime.outbox)
    await runtime.metering.async_set_streams(entry_streams(entry))
    runtime.costs.async_entry_changed()
    _async_register_devices(hass, entry)
    async_dispatcher_send(hass, signal_subentries_changed(entry.entry_id))
    await runtime.costs.async_request_refresh()


def _async_register_devices(hass: HomeAssistant, entry: FlatpeakConfigEntry) -> None:
    """Register the location device, then one device per subentry under it."""
    device_registry = dr.async_get(hass)
    location = device_registry.async_get_or_create(
        config_entry_id=entry.entry_id, **location_device_info(entry)
    )
    kept = {location.id}
    for subentry in entry.subentries.values():
        info = subentry_device_info(subentry)
        if info is None:
            continue
        device = device_registry.async_get_or_create(
            config_entry_id=entry.entry_id,
            config_subentry_id=subentry.subentry_id,
            **info,
        )
        if device.via_device_id != location.id:
            device_registry.async_update_device(device.id, via_device_id=location.id)
        kept.add(device.id)
    # Remove devices that no subentry owns any more (stale-devices rule).
    for device in dr.async_entries_for_config_entry(device_registry, entry.entry_id):
        if device.id not in kept:
            device_registry.async_remove_device(device.id)
