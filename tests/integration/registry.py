"""Registry reads that work on every supported Home Assistant release."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from homeassistant.helpers import entity_registry as er

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers import device_registry as dr


def device_owners(device: dr.DeviceEntry) -> dict[str, set[str | None]]:
    """Return the config entries of a device and their subentries.

    Since 2026.10 a device belongs to one entry (`config_entry_id`,
    `config_subentry_id`) and reading the older mapping is reported.
    """
    entry_id = getattr(device, "config_entry_id", None)
    if entry_id is not None:
        return {entry_id: {getattr(device, "config_subentry_id", None)}}
    return dict(device.config_entries_subentries)


def entity_snapshots(
    hass: HomeAssistant, registry: er.EntityRegistry, entry_id: str
) -> dict[str, dict[str, Any]]:
    """Return what a user sees of each entity of an entry, by entity id.

    The registry fields this integration sets, the state and its attributes: not
    the whole registry entry, whose serialised form changes between releases.
    """
    snapshots: dict[str, dict[str, Any]] = {}
    for entity in sorted(
        er.async_entries_for_config_entry(registry, entry_id),
        key=lambda entity: entity.entity_id,
    ):
        state = hass.states.get(entity.entity_id)
        snapshots[entity.entity_id] = {
            "unique_id": entity.unique_id,
            "translation_key": entity.translation_key,
            "original_name": entity.original_name,
            "device_class": entity.original_device_class,
            "entity_category": entity.entity_category,
            "disabled_by": entity.disabled_by,
            "unit_of_measurement": entity.unit_of_measurement,
            "capabilities": entity.capabilities,
            "config_subentry_id": entity.config_subentry_id,
            "state": None if state is None else state.state,
            "attributes": None if state is None else dict(state.attributes),
        }
    # Plain JSON values: releases serialise their own types (enums, read-only
    # mappings) differently in snapshots.
    plain: dict[str, dict[str, Any]] = json.loads(json.dumps(snapshots, default=str))
    return plain
