"""Costs and prices of a location from Flatpeak, fetched only when they can change.

Calls (one location, its devices):
- `POST /costs/interval` with `aggregation=DAY` from the start of the month, per
  location direction (import, export) and per device (solar: local; others: import).
  The day rows give today's total and their sum the month's: one call, both sensors.
  Fetched at setup, after each submission cycle that got records accepted, and at the
  local midnight (a new day or month starts).
- `POST /costs/session` for each finished EV session (once, then reported) and for the
  running session of a charger after each accepted submission.
- `POST /prices` (import and export) at setup and at Flatpeak's `next_update`; the price
  sensors step through the periods they already hold without calling.
- Hourly statistics (see `statistics.py`): after the first accepted submission of each
  UTC hour (the last day) and once a day (the last week).
Failures: 403 → reauth; 429 → wait `Retry-After`; 422 `pending_connect` /
`no_tariff_connected` → repair issue, retried every 15 minutes; anything else → capped
exponential backoff with jitter. Entities go unavailable meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING, Any, Final

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers.event import async_call_later, async_track_point_in_utc_time
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .api import (
    Aggregation,
    FlatpeakApiError,
    FlatpeakAuthError,
    FlatpeakError,
    FlatpeakNotFoundError,
    FlatpeakRateLimitError,
    TariffDirection,
)
from .backoff import next_delay
from .const import (
    CONF_DEVICE_ID,
    CONF_LOCATION_ID,
    DOMAIN,
    EVENT_SESSION_COMPLETED,
    LOGGER,
    SUBENTRY_APPLIANCE,
    SUBENTRY_EV_CHARGER,
    SUBENTRY_SOLAR,
    TARIFF_PENDING_RETRY,
)
from .repairs import (
    async_clear_tariff_pending,
    async_raise_tariff_pending,
    tariff_pending_code,
)
from .statistics import CostStatistics, floor_hour

if TYPE_CHECKING:
    from collections.abc import Sequence

    from homeassistant.config_entries import ConfigEntry

    from .api import CostRow, EnergyCost, FlatpeakClient, Location, PriceSeries
    from .metering_coordinator import FlatpeakMeteringCoordinator
    from .sessions import Session

# Prices are asked for this far ahead; Flatpeak says when to ask again.
PRICE_HORIZON: Final = timedelta(days=2)
PRICE_FALLBACK_REFRESH: Final = timedelta(hours=6)
BACKOFF_MIN: Final = 60.0
BACKOFF_MAX: Final = 1800.0
# A finished session Flatpeak still cannot price after this long is given up.
SESSION_GIVE_UP: Final = timedelta(days=2)
_DEVICE_DIRECTIONS: Final = {
    SUBENTRY_SOLAR: TariffDirection.LOCAL,
    SUBENTRY_EV_CHARGER: TariffDirection.IMPORT,
    SUBENTRY_APPLIANCE: TariffDirection.IMPORT,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Reading:
    """What one sensor shows: value, the start of its period, attributes."""

    value: float
    last_reset: datetime | None = None
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionCost:
    """The cost of one EV session as Flatpeak priced it."""

    session_id: str
    start: datetime
    end: datetime | None
    energy_kwh: float
    cost: float
    currency: str
    confidence: float | None

    def attributes(self) -> dict[str, Any]:
        """Return the sensor attributes of the session."""
        return {
            "session_id": self.session_id,
            "start": self.start.isoformat(),
            "end": None if self.end is None else self.end.isoformat(),
            "energy_kwh": round(self.energy_kwh, 3),
            "confidence": self.confidence,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class CostData:
    """Everything Flatpeak answered, shared by all entities of the entry."""

    currency: str
    timezone: tzinfo
    month_start: datetime
    """Start of the month the day rows were fetched from."""
    location: dict[TariffDirection, tuple[CostRow, ...]]
    devices: dict[str, tuple[CostRow, ...]]
    """Day rows per subentry id."""
    prices: dict[TariffDirection, PriceSeries] = field(default_factory=dict)
    last_sessions: dict[str, SessionCost] = field(default_factory=dict)
    current_sessions: dict[str, SessionCost] = field(default_factory=dict)

    def day_start(self, now: datetime) -> datetime:
        """Return the start of `now`'s day in the location's timezone."""
        return local_midnight(now.astimezone(self.timezone).date(), self.timezone)

    def month_start_of(self, now: datetime) -> datetime:
        """Return the start of `now`'s month in the location's timezone."""
        return local_midnight(
            now.astimezone(self.timezone).date().replace(day=1), self.timezone
        )


def local_midnight(day: date, zone: tzinfo) -> datetime:
    """Return the start of a local calendar day as an aware UTC datetime."""
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def period_reading(
    rows: Sequence[CostRow], since: datetime, *, energy: bool = False
) -> Reading:
    """Sum the day rows from `since` on: cost (or kWh) and the lowest confidence."""
    picked = [row for row in rows if row.start_time >= since]
    confidences = [row.confidence for row in picked if row.confidence is not None]
    if energy:
        value = round(sum(row.energy_wh for row in picked) / 1000, 3)
    else:
        value = round(sum(row.cost for row in picked), 5)
    return Reading(
        value=value,
        last_reset=since,
        attributes={"confidence": min(confidences, default=None)},
    )


def session_cost_from(
    session_id: str,
    report: EnergyCost,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> SessionCost:
    """Return a session's cost from Flatpeak's report (times: the rows' if unknown)."""
    rows = report.rows
    return SessionCost(
        session_id=session_id,
        start=start or min(row.start_time for row in rows),
        end=end or (max(row.end_time for row in rows) if rows else None),
        energy_kwh=report.total_energy_wh / 1000,
        cost=round(report.total_cost, 5),
        currency=report.currency_code,
        confidence=report.min_confidence,
    )


class FlatpeakCostCoordinator(DataUpdateCoordinator[CostData]):
    """Fetches costs and prices of a location and its devices when they can change."""

    config_entry: ConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        *,
        client: FlatpeakClient,
        location: Location,
        metering: FlatpeakMeteringCoordinator | None,
    ) -> None:
        """Create the coordinator; call `async_start` after the first refresh."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} costs",
            update_interval=None,
        )
        self.client = client
        self.location_id: str = entry.data[CONF_LOCATION_ID]
        self.metering = metering
        self.statistics = CostStatistics(hass, client, self.location_id, entry.title)
        self._currency = location.currency_code or hass.config.currency
        self._timezone: tzinfo = (
            location.timezone and dt_util.get_time_zone(location.timezone)
        ) or dt_util.get_default_time_zone()
        # What is due at the next refresh.
        self._costs_due = True
        self._prices_due_at: datetime | None = None
        self._stats_full_day: date | None = None
        self._stats_hour: datetime | None = None
        self._stats_due = True
        self._last_submission: datetime | None = None
        self._failures = 0
        self._unsub_retry: CALLBACK_TYPE | None = None
        self._unsub_midnight: CALLBACK_TYPE | None = None
        self._unsub_prices: CALLBACK_TYPE | None = None
        self.calls = 0
        """Flatpeak calls made (diagnostics)."""

    @property
    def currency(self) -> str:
        """The location's currency (ISO 4217)."""
        return self.data.currency if self.data else self._currency

    @property
    def timezone(self) -> tzinfo:
        """The location's timezone."""
        return self._timezone

    # Scheduling

    @callback
    def async_start(self) -> None:
        """Listen for submissions and arm the period and price timers."""
        if self.metering is not None:
            self._last_submission = self._submission_marker()
            self.config_entry.async_on_unload(
                self.metering.async_add_listener(self._async_metering_updated)
            )
        self._arm_midnight()
        self.config_entry.async_on_unload(self._async_cancel_timers)

    @callback
    def _async_cancel_timers(self) -> None:
        for unsub in (self._unsub_retry, self._unsub_midnight, self._unsub_prices):
            if unsub is not None:
                unsub()
        self._unsub_retry = self._unsub_midnight = self._unsub_prices = None

    def _submission_marker(self) -> datetime | None:
        if self.metering is None or self.metering.data is None:
            return None
        return self.metering.data.last_submission

    @callback
    def _async_metering_updated(self) -> None:
        """Refresh when a submission cycle got records accepted or ended a session."""
        marker = self._submission_marker()
        submitted = marker is not None and marker != self._last_submission
        self._last_submission = marker
        sessions = self.metering is not None and bool(
            self.metering.completed_sessions()
        )
        if not submitted and not sessions:
            return
        if submitted:
            self._costs_due = True
            if self._stats_hour != floor_hour(dt_util.utcnow()):
                self._stats_due = True
        self._request_refresh()

    @callback
    def _request_refresh(self) -> None:
        self.config_entry.async_create_background_task(
            self.hass, self.async_request_refresh(), f"{DOMAIN} cost refresh"
        )

    @callback
    def _arm_midnight(self) -> None:
        now = dt_util.utcnow()
        tomorrow = now.astimezone(self._timezone).date() + timedelta(days=1)
        self._unsub_midnight = async_track_point_in_utc_time(
            self.hass, self._async_midnight, local_midnight(tomorrow, self._timezone)
        )

    @callback
    def _async_midnight(self, _now: datetime) -> None:
        """Show the new day's (maybe month's) empty totals, then fetch again."""
        self._arm_midnight()
        self._costs_due = True
        self._stats_due = True
        if self.data is not None:
            self.async_update_listeners()
        self._request_refresh()

    @callback
    def _arm_prices(self, when: datetime) -> None:
        if self._unsub_prices is not None:
            self._unsub_prices()
        self._prices_due_at = when
        self._unsub_prices = async_track_point_in_utc_time(
            self.hass, self._async_prices_due, when
        )

    @callback
    def _async_prices_due(self, _now: datetime) -> None:
        self._unsub_prices = None
        self._prices_due_at = None
        self._request_refresh()

    @callback
    def _schedule_retry(self, delay: float) -> None:
        if self._unsub_retry is not None:
            self._unsub_retry()
        self._unsub_retry = async_call_later(self.hass, delay, self._async_retry)

    @callback
    def _async_retry(self, _now: datetime) -> None:
        self._unsub_retry = None
        self._request_refresh()

    def _backoff(self) -> float:
        """Return a capped exponential backoff with jitter (homes spread out)."""
        return next_delay(self._failures, base=BACKOFF_MIN, cap=BACKOFF_MAX)

    # Fetching

    async def _async_update_data(self) -> CostData:
        """Fetch what is due; keep the rest of the previous answer."""
        try:
            data = await self._async_fetch(dt_util.utcnow())
        except FlatpeakAuthError as err:
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN, translation_key="auth_failed"
            ) from err
        except FlatpeakRateLimitError as err:
            self._failures += 1
            self._schedule_retry(
                err.retry_after if err.retry_after is not None else self._backoff()
            )
            raise UpdateFailed(
                translation_domain=DOMAIN, translation_key="costs_rate_limited"
            ) from err
        except FlatpeakApiError as err:
            if code := tariff_pending_code(err):
                async_raise_tariff_pending(self.hass, self.config_entry, code)
                self._schedule_retry(TARIFF_PENDING_RETRY.total_seconds())
                raise UpdateFailed(
                    translation_domain=DOMAIN,
                    translation_key="costs_tariff_pending",
                    translation_placeholders={"code": code},
                ) from err
            self._failures += 1
            self._schedule_retry(self._backoff())
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="costs_api_error",
                translation_placeholders={"error": str(err)},
            ) from err
        except FlatpeakError as err:
            self._failures += 1
            self._schedule_retry(self._backoff())
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="costs_failed",
                translation_placeholders={"error": str(err)},
            ) from err
        self._failures = 0
        if self._unsub_retry is not None:
            self._unsub_retry()
            self._unsub_retry = None
        async_clear_tariff_pending(self.hass, self.config_entry)
        return data

    async def _async_fetch(self, now: datetime) -> CostData:
        data = self.data
        costs_fetched = data is None or self._costs_due
        if data is None or self._costs_due:
            data = await self._async_fetch_costs(now, data)
            self._costs_due = False
        # Each step stores what it got, so a failure later does not refetch it.
        self.data = data
        if self._prices_due_at is None or self._prices_due_at <= now:
            data = replace(data, prices=await self._async_fetch_prices(now))
            self.data = data
        data = await self._async_fetch_sessions(data, running=costs_fetched)
        self.data = data
        if self._stats_due:
            full = self._stats_full_day != now.astimezone(self._timezone).date()
            await self.statistics.async_update(now, data.currency, full=full)
            self.calls += 2
            self._stats_due = False
            self._stats_hour = floor_hour(now)
            if full:
                self._stats_full_day = now.astimezone(self._timezone).date()
        return data

    async def _async_interval(
        self, object_id: str, start: datetime, end: datetime, direction: TariffDirection
    ) -> EnergyCost:
        self.calls += 1
        return await self.client.interval_cost(
            object_id,
            start,
            end,
            tariff_direction=direction,
            aggregation=Aggregation.DAY,
        )

    async def _async_fetch_costs(
        self, now: datetime, previous: CostData | None
    ) -> CostData:
        local_today = now.astimezone(self._timezone).date()
        month_start = local_midnight(local_today.replace(day=1), self._timezone)
        end = local_midnight(local_today + timedelta(days=1), self._timezone)
        currency = self._currency
        location: dict[TariffDirection, tuple[CostRow, ...]] = {}
        for direction in (TariffDirection.IMPORT, TariffDirection.EXPORT):
            report = await self._async_interval(
                self.location_id, month_start, end, direction
            )
            location[direction] = report.rows
            currency = report.currency_code or currency
        devices: dict[str, tuple[CostRow, ...]] = {}
        for subentry in self.config_entry.subentries.values():
            device_direction = _DEVICE_DIRECTIONS.get(subentry.subentry_type)
            if device_direction is None:
                continue
            report = await self._async_interval(
                subentry.data[CONF_DEVICE_ID], month_start, end, device_direction
            )
            devices[subentry.subentry_id] = report.rows
        self._currency = currency
        return CostData(
            currency=currency,
            timezone=self._timezone,
            month_start=month_start,
            location=location,
            devices=devices,
            prices=previous.prices if previous else {},
            last_sessions=previous.last_sessions if previous else {},
            current_sessions=previous.current_sessions if previous else {},
        )

    async def _async_fetch_prices(
        self, now: datetime
    ) -> dict[TariffDirection, PriceSeries]:
        prices: dict[TariffDirection, PriceSeries] = {}
        start = now.replace(second=0, microsecond=0)
        for direction in (TariffDirection.IMPORT, TariffDirection.EXPORT):
            self.calls += 1
            prices[direction] = await self.client.get_prices(
                self.location_id,
                start,
                start + PRICE_HORIZON,
                tariff_direction=direction,
            )
        next_updates = [s.next_update for s in prices.values() if s.next_update]
        when = min(next_updates, default=None)
        if when is None or when <= now:
            ends = [p.valid_to for s in prices.values() for p in s.periods]
            when = min(max(ends, default=now), now + PRICE_FALLBACK_REFRESH)
            when = max(when, now + timedelta(minutes=15))
        self._arm_prices(when)
        return prices

    async def _async_fetch_sessions(self, data: CostData, *, running: bool) -> CostData:
        """Price finished sessions (reported once) and, with new costs, running ones."""
        if self.metering is None:
            return data
        ev_chargers = {
            key: subentry
            for key, subentry in self.config_entry.subentries.items()
            if subentry.subentry_type == SUBENTRY_EV_CHARGER
        }
        last = dict(data.last_sessions)
        for completed in self.metering.completed_sessions():
            subentry = ev_chargers.get(completed.stream_key)
            cost = await self._async_report_completed(
                completed.session,
                None if subentry is None else subentry.data[CONF_DEVICE_ID],
            )
            previous = last.get(completed.stream_key)
            if cost is not None and (previous is None or previous.start <= cost.start):
                last[completed.stream_key] = cost
        current = data.current_sessions
        if running:
            # A running session's cost changes only when records were accepted.
            current = {}
            for key in ev_chargers:
                running_session = self._open_session(key)
                if running_session is None:
                    continue
                running_cost = await self._async_session_cost(running_session)
                if running_cost is not None:
                    current[key] = running_cost
        return replace(data, last_sessions=last, current_sessions=current)

    async def _async_report_completed(
        self, session: Session, device_id: str | None
    ) -> SessionCost | None:
        """Fire `flatpeak_session_completed` once Flatpeak priced a finished session."""
        assert self.metering is not None  # noqa: S101 - checked by the caller
        cost = None if device_id is None else await self._async_session_cost(session)
        if device_id is None or cost is None:
            if device_id is None or _given_up(session):
                LOGGER.warning(
                    "Flatpeak has no cost for session %s; not reporting it",
                    session.session_id,
                )
                await self.metering.async_mark_session_reported(session.session_id)
            return None
        self._fire_session_completed(device_id, cost)
        await self.metering.async_mark_session_reported(session.session_id)
        return cost

    def _open_session(self, stream_key: str) -> Session | None:
        if self.metering is None:
            return None
        return self.metering.outbox.session_state(stream_key).open

    async def _async_session_cost(self, session: Session) -> SessionCost | None:
        self.calls += 1
        try:
            report = await self.client.session_cost(session.session_id)
        except FlatpeakNotFoundError:
            return None
        if not report.rows:
            return None
        return session_cost_from(
            session.session_id, report, start=session.start, end=session.end
        )

    def _fire_session_completed(self, device_id: str, cost: SessionCost) -> None:
        self.hass.bus.async_fire(
            EVENT_SESSION_COMPLETED,
            {
                "config_entry_id": self.config_entry.entry_id,
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


def _given_up(session: Session) -> bool:
    end = session.end or session.start
    return dt_util.utcnow() - end > SESSION_GIVE_UP
