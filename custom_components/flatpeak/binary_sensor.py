"""Cheapest windows: a binary sensor per `cheapest_window` subentry.

On during the periods chosen for the day's window (windows.py), from the location's
import prices. The plan survives a restart (restore data), is re-planned when new
prices arrive before it starts, and never changes once it has started. The state
steps at the chosen periods' edges by timers, not by polling.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from homeassistant.components.binary_sensor import BinarySensorEntity
from homeassistant.core import CALLBACK_TYPE, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.helpers.restore_state import ExtraStoredData, RestoreEntity
from homeassistant.helpers.update_coordinator import CoordinatorEntity
from homeassistant.util import dt as dt_util

from .api import TariffDirection
from .const import SUBENTRY_CHEAPEST_WINDOW, signal_subentries_changed
from .entity import subentry_device_info
from .planner import Choice
from .price_days import period_item
from .windows import WindowPlan, WindowSpec, plan_window

if TYPE_CHECKING:
    from datetime import datetime

    from homeassistant.config_entries import ConfigSubentry
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

    from .planner import Price
    from .price_coordinator import FlatpeakPriceCoordinator, PriceData
    from .runtime import FlatpeakConfigEntry

# The price coordinator fetches; the sensors only read.
PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: FlatpeakConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a binary sensor per cheapest window, now and when one is added."""
    prices = entry.runtime_data.prices
    added: set[str] = set()

    @callback
    def _async_add_windows() -> None:
        for subentry in entry.subentries.values():
            if (
                subentry.subentry_type != SUBENTRY_CHEAPEST_WINDOW
                or subentry.subentry_id in added
            ):
                continue
            added.add(subentry.subentry_id)
            async_add_entities(
                [CheapestWindowSensor(prices, entry, subentry)],
                config_subentry_id=subentry.subentry_id,
            )
        added.intersection_update(entry.subentries)

    _async_add_windows()
    entry.async_on_unload(
        async_dispatcher_connect(
            hass, signal_subentries_changed(entry.entry_id), _async_add_windows
        )
    )


@dataclass
class _StoredPlan(ExtraStoredData):
    """The plan kept across a restart, with the window settings it was made for."""

    spec: dict[str, Any]
    plan: dict[str, Any] | None

    def as_dict(self) -> dict[str, Any]:
        return {"spec": self.spec, "plan": self.plan}


class CheapestWindowSensor(
    CoordinatorEntity["FlatpeakPriceCoordinator"], BinarySensorEntity, RestoreEntity
):
    """On during the cheapest periods chosen for the day's window."""

    _attr_has_entity_name = True
    _attr_translation_key = "cheapest_window"
    # The chosen periods can be many (an Agile tariff's half-hours).
    _unrecorded_attributes = frozenset({"periods"})

    def __init__(
        self,
        coordinator: FlatpeakPriceCoordinator,
        entry: FlatpeakConfigEntry,
        subentry: ConfigSubentry,
    ) -> None:
        """Describe the window of the subentry."""
        super().__init__(coordinator)
        self._entry = entry
        self._subentry_id = subentry.subentry_id
        self._spec = WindowSpec.from_data(subentry.data)
        self._attr_unique_id = f"{subentry.subentry_id}_cheapest_window"
        self._attr_device_info = subentry_device_info(subentry)
        self._plan: WindowPlan | None = None
        self._unsub_timer: CALLBACK_TYPE | None = None

    @property
    def extra_restore_state_data(self) -> _StoredPlan:
        """Keep the plan, so that a started window goes on after a restart."""
        plan = None if self._plan is None else self._plan.as_dict()
        return _StoredPlan(self._spec.as_dict(), plan)

    async def async_added_to_hass(self) -> None:
        """Restore the plan, follow settings changes, and plan."""
        await super().async_added_to_hass()
        stored = await self.async_get_last_extra_data()
        if stored is not None:
            data = stored.as_dict()
            if data.get("spec") == self._spec.as_dict() and data.get("plan"):
                self._plan = WindowPlan.from_dict(data["plan"])
        self.async_on_remove(
            async_dispatcher_connect(
                self.hass,
                signal_subentries_changed(self._entry.entry_id),
                self._async_settings_changed,
            )
        )
        self.async_on_remove(self._cancel_timer)
        self._replan()

    @callback
    def _async_settings_changed(self) -> None:
        """Start over with a reconfigured window (a removed one goes away)."""
        subentry = self._entry.subentries.get(self._subentry_id)
        if subentry is None:
            return
        spec = WindowSpec.from_data(subentry.data)
        if spec == self._spec:
            return
        self._spec = spec
        self._plan = None
        self._replan()
        self.async_write_ha_state()

    @callback
    def _handle_coordinator_update(self) -> None:
        self._replan()
        super()._handle_coordinator_update()

    def _prices(self) -> tuple[Price, ...]:
        # None until the first answer (DataUpdateCoordinator types it as set).
        data: PriceData | None = self.coordinator.data
        if data is None:
            return ()
        return data.periods.get(TariffDirection.IMPORT, ())

    def _replan(self) -> None:
        """Plan the window running now (or the next), then wake at its next edge."""
        now = dt_util.utcnow()
        self._plan = plan_window(
            self._spec, self.coordinator.zone, self._prices(), now, self._plan
        )
        self._schedule(now)

    def _schedule(self, now: datetime) -> None:
        self._cancel_timer()
        edges = [] if self._plan is None else [self._plan.end]
        if self._plan is not None:
            edges.extend(
                edge
                for edge in (
                    self._plan.choice.next_start(now),
                    self._plan.choice.next_end(now),
                )
                if edge is not None
            )
        if not edges:
            return
        self._unsub_timer = async_track_point_in_utc_time(
            self.hass, self._async_edge, min(edges)
        )

    @callback
    def _async_edge(self, _now: datetime) -> None:
        self._unsub_timer = None
        self._replan()
        self.async_write_ha_state()

    @callback
    def _cancel_timer(self) -> None:
        if self._unsub_timer is not None:
            self._unsub_timer()
            self._unsub_timer = None

    @property
    def available(self) -> bool:
        """Available with a plan, or once the prices were fetched."""
        return self._plan is not None or (
            super().available and self.coordinator.data is not None
        )

    @property
    def is_on(self) -> bool:
        """On during a chosen period."""
        if self._plan is None:
            return False
        return self._plan.choice.active_at(dt_util.utcnow()) is not None

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """The window, the next start and end, and the average price chosen.

        Before the prices cover the window, only the window is known.
        """
        now = dt_util.utcnow()
        plan = self._plan
        if plan is None:
            start, end = self._spec.window_at(now, self.coordinator.zone)
            choice = Choice()
        else:
            start, end, choice = plan.start, plan.end, plan.choice
        next_start = choice.next_start(now)
        next_end = choice.next_end(now)
        average = choice.average_price
        return {
            "window_start": start.isoformat(),
            "window_end": end.isoformat(),
            "planned": plan is not None,
            "next_start": next_start and next_start.isoformat(),
            "next_end": next_end and next_end.isoformat(),
            "average_price": None if average is None else round(average, 6),
            "planned_hours": round(choice.hours, 4),
            "periods": [period_item(slot) for slot in choice.slots],
        }
