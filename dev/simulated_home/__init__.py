"""A simulated home for the development instance (never shipped).

Energy meters (grid import/export, solar, EV charger) that grow over time in a
plausible daily pattern, power sensors, and the EV charger's session. Set up
from YAML::

    simulated_home:
      update_interval: 10  # seconds, optional

The meters persist in ``.storage/simulated_home`` and catch up (at most two
days) on the time Home Assistant was stopped, like a real meter would. On first
start they get today's statistics (``history.py``).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

import voluptuous as vol
from homeassistant.const import EVENT_HOMEASSISTANT_STOP, Platform
from homeassistant.core import CALLBACK_TYPE, Event, HomeAssistant, callback
from homeassistant.helpers.discovery import async_load_platform
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey

from .history import async_import_today
from .model import Meters, Power, advance, ev_plugged_in, power_at

if TYPE_CHECKING:
    from collections.abc import Callable

    from homeassistant.helpers.typing import ConfigType

DOMAIN: Final = "simulated_home"
DATA_HOME: HassKey[SimulatedHome] = HassKey(DOMAIN)
CONF_UPDATE_INTERVAL: Final = "update_interval"
STORAGE_VERSION: Final = 1
SAVE_DELAY: Final = 60

CONFIG_SCHEMA = vol.Schema(
    {
        DOMAIN: vol.Schema(
            {
                vol.Optional(CONF_UPDATE_INTERVAL, default=10): vol.All(
                    vol.Coerce(int), vol.Range(min=1, max=300)
                ),
            }
        )
    },
    extra=vol.ALLOW_EXTRA,
)


class SimulatedHome:
    """The home's meters, advanced on a timer; entities listen for changes."""

    def __init__(self, hass: HomeAssistant, store: Store[dict[str, Any]]) -> None:
        """Start from the stored meters (or fresh ones)."""
        self.hass = hass
        self._store = store
        self._listeners: list[CALLBACK_TYPE] = []
        self.meters = Meters()
        self.updated = dt_util.utcnow()
        self.power = self._power_now()
        self.plugged_in = ev_plugged_in(dt_util.as_local(self.updated))

    def _power_now(self) -> Power:
        return power_at(dt_util.as_local(self.updated))

    async def async_load(self) -> None:
        """Restore the meters and catch up on the time Home Assistant was off."""
        stored = await self._store.async_load()
        if stored is not None:
            self.meters = Meters(**stored["meters"])
            last = dt_util.parse_datetime(stored["updated"])
            if last is not None:
                self.updated = last
        else:
            # A new home: give its meters today's history, as a real home has.
            self.meters, self.updated = async_import_today(
                self.hass, self.meters, dt_util.utcnow()
            )
        self.async_update(dt_util.utcnow())

    def _data(self) -> dict[str, Any]:
        return {"meters": asdict(self.meters), "updated": self.updated.isoformat()}

    @callback
    def async_update(self, now: datetime) -> None:
        """Advance the meters to ``now`` and tell the entities."""
        now = dt_util.as_utc(now)
        self.meters = advance(
            self.meters, self.updated, now, dt_util.get_default_time_zone()
        )
        self.updated = now
        self.power = self._power_now()
        self.plugged_in = ev_plugged_in(dt_util.as_local(now))
        self._store.async_delay_save(self._data, SAVE_DELAY)
        for listener in self._listeners:
            listener()

    async def async_save(self) -> None:
        """Write the meters now."""
        await self._store.async_save(self._data())

    @callback
    def async_add_listener(self, listener: CALLBACK_TYPE) -> Callable[[], None]:
        """Call ``listener`` after every update; returns the unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Create the home, start its clock and load the entity platforms."""
    conf = config[DOMAIN]
    store: Store[dict[str, Any]] = Store(hass, STORAGE_VERSION, DOMAIN)
    home = SimulatedHome(hass, store)
    await home.async_load()
    hass.data[DATA_HOME] = home

    unsub_timer = async_track_time_interval(
        hass,
        home.async_update,
        timedelta(seconds=conf[CONF_UPDATE_INTERVAL]),
        name="simulated_home update",
        cancel_on_shutdown=True,
    )

    async def _async_stop(_: Event) -> None:
        unsub_timer()
        home.async_update(dt_util.utcnow())
        await home.async_save()

    hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, _async_stop)

    for platform in (Platform.SENSOR, Platform.BINARY_SENSOR):
        hass.async_create_task(
            async_load_platform(hass, platform, DOMAIN, {}, config),
            eager_start=True,
        )
    return True
