"""The cost coordinator: what the records Flatpeak accepted cost, when it changed.

Every update (at most every 15 minutes, and at the location's midnight) fetches
only what is due: the day rows of the owners whose records Flatpeak accepted since
(`cost_reports.py`), the cost of finished EV sessions (then their event) and of
running ones whose records changed, and the statistics of the hours that changed
(`statistics.py`). Failures go through the one map (`helpers.py`): 429 and a pending
tariff wait as Flatpeak asks, anything else backs off (1 minute doubling to 30).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Final

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
from homeassistant.util import dt as dt_util

from . import issues
from .api import FlatpeakError, TariffDirection
from .const import (
    CONF_DEVICE_ID,
    CONF_LOCATION_ID,
    DOMAIN,
    EVENT_SESSION_COMPLETED,
    LOGGER,
    SUBENTRY_APPLIANCE,
    SUBENTRY_EV_CHARGER,
    SUBENTRY_SOLAR,
)
from .cost_reports import LOCATION_DIRECTIONS, CostReports, Owner
from .costs import (
    CostData,
    OwnerCosts,
    SessionCost,
    day_start,
    local_midnight,
    period_totals,
)
from .helpers import Retry, flatpeak_failure, update_failed
from .statistics import CostStatistics, floor_hour

if TYPE_CHECKING:
    from homeassistant.config_entries import ConfigEntry

    from .api import FlatpeakClient, Location
    from .metering_coordinator import FlatpeakMeteringCoordinator, MeteringStatus

COST_REFRESH: Final = timedelta(minutes=15)
COST_BACKOFF: Final = 60.0
# A finished session Flatpeak still cannot price after this long is given up.
SESSION_GIVE_UP: Final = timedelta(days=2)
DEVICE_DIRECTIONS: Final = {
    SUBENTRY_SOLAR: TariffDirection.LOCAL,
    SUBENTRY_EV_CHARGER: TariffDirection.IMPORT,
    SUBENTRY_APPLIANCE: TariffDirection.IMPORT,
}


class FlatpeakCostCoordinator(DataUpdateCoordinator[CostData]):
    """Fetches costs when accepted records changed them; the sensors read its data."""

    config_entry: ConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        *,
        client: FlatpeakClient,
        location: Location,
        timezone: tzinfo,
        metering: FlatpeakMeteringCoordinator,
    ) -> None:
        """Fetch the costs of the entry's location and devices."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} costs",
            update_interval=COST_REFRESH,
            always_update=False,
        )
        self.metering = metering
        self.currency: str = location.currency_code or hass.config.currency
        self.location_id: str = location.id
        self._zone = timezone
        self.statistics = CostStatistics(hass, client, location.id, entry.title)
        self.reports = CostReports(client, entry_owners(entry), timezone)
        self._last_sessions: dict[str, SessionCost] = {}
        self._current_sessions: dict[str, SessionCost] = {}
        self._running_due: set[str] = set(self._ev_chargers())
        self._statistics_hour: datetime | None = None
        self._statistics_day: date | None = None
        self._retry = Retry(COST_BACKOFF)

    def _ev_chargers(self) -> dict[str, str]:
        """Return the Flatpeak device id of each EV charger subentry."""
        return {
            key: subentry.data[CONF_DEVICE_ID]
            for key, subentry in self.config_entry.subentries.items()
            if subentry.subentry_type == SUBENTRY_EV_CHARGER
        }

    @callback
    def async_metering_updated(self) -> None:
        """Note which costs the records Flatpeak just accepted changed."""
        status: MeteringStatus | None = self.metering.data
        if status is None:
            return
        self.reports.mark(status.changed)
        devices = {owner for owner, _ in status.changed}
        self._running_due.update(
            key for key, device in self._ev_chargers().items() if device in devices
        )
        if self.data is None or not self.last_update_success:
            return
        outbox = self.metering.outbox
        unsent = outbox.pending_session_ids()
        if any(c.session.session_id not in unsent for c in outbox.completed_sessions):
            # A finished session's records are all at Flatpeak: report it now.
            self.config_entry.async_create_background_task(
                self.hass, self.async_request_refresh(), f"{DOMAIN} session report"
            )

    @callback
    def async_entry_changed(self) -> None:
        """Follow added or removed devices."""
        self.reports.set_owners(entry_owners(self.config_entry))
        self._running_due.update(self._ev_chargers())

    async def _async_update_data(self) -> CostData:
        """Fetch what is due; the rest of the last answer stands."""
        now = dt_util.utcnow()
        calls = self.reports.calls + self.statistics.calls
        try:
            if self.reports.due:
                await self.reports.async_fetch(now)
            await self._async_sessions()
            await self._async_statistics(now)
        except FlatpeakError as err:
            raise self._failed(err) from err
        self._retry.succeeded(
            self.hass,
            self.config_entry,
            answered=self.reports.calls + self.statistics.calls > calls,
        )
        issues.async_sync_missing_devices(
            self.hass, self.config_entry, self.reports.missing
        )
        midnight = local_midnight(
            now.astimezone(self._zone).date() + timedelta(days=1), self._zone
        )
        self.update_interval = min(COST_REFRESH, midnight - now)
        return self._build(now)

    def _failed(self, err: FlatpeakError) -> Exception:
        failure = flatpeak_failure(err)
        wait, _ = self._retry.failed(
            self.hass, self.config_entry, failure, dt_util.utcnow()
        )
        if wait is not None:
            self.update_interval = wait
        return update_failed(failure)

    async def _async_sessions(self) -> None:
        """Price finished sessions (each reported once) and the running ones."""
        outbox = self.metering.outbox
        unsent = outbox.pending_session_ids()
        for completed in outbox.completed_sessions:
            session = completed.session
            if session.session_id in unsent:
                continue  # Flatpeak has not all of its records yet
            cost = await self.reports.async_session_cost(session)
            device_id = self._ev_chargers().get(completed.stream_key)
            if cost is None or device_id is None:
                end = session.end or session.start
                if device_id is None or dt_util.utcnow() - end > SESSION_GIVE_UP:
                    LOGGER.warning(
                        "Flatpeak has no cost for session %s; not reporting it",
                        session.session_id,
                    )
                    await outbox.async_mark_session_reported(session.session_id)
                continue
            # Marked (and saved) before it fires: a crash in between never repeats it.
            await outbox.async_mark_session_reported(session.session_id)
            fire_session_completed(self.hass, self.config_entry, device_id, cost)
            previous = self._last_sessions.get(completed.stream_key)
            if previous is None or previous.start <= cost.start:
                self._last_sessions[completed.stream_key] = cost
        for key in list(self._running_due):
            self._running_due.discard(key)
            running = outbox.progress(key).session_state.open
            cost = (
                None
                if running is None
                else await self.reports.async_session_cost(running)
            )
            if cost is None:
                self._current_sessions.pop(key, None)
            else:
                self._current_sessions[key] = cost

    async def _async_statistics(self, now: datetime) -> None:
        """Rewrite the cost statistics of the complete hours accepted records changed.

        Once a day the whole last week (Flatpeak settles prices later); otherwise
        when records of a complete hour were accepted since the last rewrite (those
        of the running hour wait for it to end), back to the oldest of them.
        """
        outbox = self.metering.outbox
        since = outbox.statistics_from
        today = now.astimezone(self._zone).date()
        full = self._statistics_day != today
        hour = floor_hour(now)
        changed = since is not None and (self._statistics_hour != hour or since < hour)
        if not full and not changed:
            return
        await self.statistics.async_update(now, self.currency, full=full, since=since)
        self._statistics_hour = hour
        self._statistics_day = today
        if outbox.statistics_from == since:
            await outbox.async_statistics_written(None)

    def _build(self, now: datetime) -> CostData:
        rows = self.reports.rows
        devices: dict[str, OwnerCosts] = {}
        for key, subentry in self.config_entry.subentries.items():
            direction = DEVICE_DIRECTIONS.get(subentry.subentry_type)
            if direction is None:
                continue
            owner = (subentry.data[CONF_DEVICE_ID], direction)
            totals = {}
            if owner in rows:
                totals[direction] = period_totals(rows[owner], now, self._zone)
            devices[key] = OwnerCosts(
                totals=totals,
                last_session=self._last_sessions.get(key),
                current_session=self._current_sessions.get(key),
            )
        location = OwnerCosts(
            totals={
                direction: period_totals(rows[owner], now, self._zone)
                for direction in LOCATION_DIRECTIONS
                if (owner := (self.location_id, direction)) in rows
            }
        )
        return CostData(
            currency=self.currency,
            day_start=day_start(now, self._zone),
            location=location,
            devices=devices,
        )


def entry_owners(entry: ConfigEntry) -> frozenset[Owner]:
    """Return the owners of the entry's costs: location directions, each device."""
    location_id: str = entry.data[CONF_LOCATION_ID]
    owners = {(location_id, direction) for direction in LOCATION_DIRECTIONS}
    owners.update(
        (subentry.data[CONF_DEVICE_ID], direction)
        for subentry in entry.subentries.values()
        if (direction := DEVICE_DIRECTIONS.get(subentry.subentry_type)) is not None
    )
    return frozenset(owners)


def fire_session_completed(
    hass: HomeAssistant, entry: ConfigEntry, device_id: str, cost: SessionCost
) -> None:
    """Fire `flatpeak_session_completed` for a priced session."""
    hass.bus.async_fire(
        EVENT_SESSION_COMPLETED,
        {
            "config_entry_id": entry.entry_id,
            "device_id": device_id,
            "session_id": cost.session_id,
            "start": cost.start.isoformat(),
            "end": None if cost.end is None else cost.end.isoformat(),
            "energy_kwh": round(cost.energy_kwh, 3),
            "cost": cost.cost,
            "currency": cost.currency,
            "confidence": cost.confidence,
        },
    )
