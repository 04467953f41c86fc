"""What a loaded Flatpeak entry holds: its client, outbox and coordinators."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from homeassistant.config_entries import ConfigEntry

if TYPE_CHECKING:
    from datetime import tzinfo

    from .api import FlatpeakClient, Location
    from .cost_coordinator import FlatpeakCostCoordinator
    from .metering_coordinator import FlatpeakMeteringCoordinator
    from .outbox import Outbox
    from .price_coordinator import FlatpeakPriceCoordinator


@dataclass(kw_only=True)
class FlatpeakRuntimeData:
    """What a loaded Flatpeak entry holds while it runs."""

    client: FlatpeakClient
    location: Location
    timezone: tzinfo
    """The location's time zone, resolved once at setup (off the event loop)."""
    interval_minutes: int
    outbox: Outbox
    metering: FlatpeakMeteringCoordinator
    costs: FlatpeakCostCoordinator
    prices: FlatpeakPriceCoordinator


type FlatpeakConfigEntry = ConfigEntry[FlatpeakRuntimeData]
