"""Runtime data of a Flatpeak config entry (coordinators join it later)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from homeassistant.config_entries import ConfigEntry

from .const import (
    CONF_EXPORT_ENTITY,
    CONF_IMPORT_ENTITY,
    CONF_INTERVAL_MINUTES,
    DEFAULT_INTERVAL_MINUTES,
)

if TYPE_CHECKING:
    from .api import FlatpeakClient, Location
    from .cost_coordinator import FlatpeakCostCoordinator
    from .metering_coordinator import FlatpeakMeteringCoordinator


@dataclass(kw_only=True)
class FlatpeakRuntimeData:
    """What a loaded Flatpeak entry holds while it runs."""

    client: FlatpeakClient
    location: Location
    interval_minutes: int
    import_entity: str
    export_entity: str | None
    metering: FlatpeakMeteringCoordinator
    costs: FlatpeakCostCoordinator


type FlatpeakConfigEntry = ConfigEntry[FlatpeakRuntimeData]


def entry_interval_minutes(entry: ConfigEntry) -> int:
    """Return the metering interval the user chose (options), else the default."""
    return int(entry.options.get(CONF_INTERVAL_MINUTES, DEFAULT_INTERVAL_MINUTES))


def entry_grid_entities(entry: ConfigEntry) -> tuple[str, str | None]:
    """Return the grid import and export sensors: options win over setup data."""
    source = entry.options if CONF_IMPORT_ENTITY in entry.options else entry.data
    return source[CONF_IMPORT_ENTITY], source.get(CONF_EXPORT_ENTITY)
