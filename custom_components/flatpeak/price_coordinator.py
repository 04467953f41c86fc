"""The price coordinator: today's and tomorrow's prices, fetched at `next_update`.

Flatpeak publishes prices as periods of constant price and says when it will publish
more (`next_update`). The coordinator fetches import and export prices for the
location's today, tomorrow and the day after (so that a new "tomorrow" at midnight
is known when Flatpeak had published it), then only at `next_update`. Only when that
is further away than the fetched days reach, and Flatpeak had published all of them,
does it fetch again at the start of the last one. In between, its update runs at
each period boundary and at midnight without calling Flatpeak, so that the current
price and the day's figures step on time (as tibber's coordinator does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Final

from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
from homeassistant.util import dt as dt_util

from .api import FlatpeakError, TariffDirection
from .const import DOMAIN, LOGGER
from .costs import day_start
from .helpers import Retry, flatpeak_failure, update_failed
from .planner import Price, normalize
from .price_days import DayPrices, day_prices

if TYPE_CHECKING:
    from collections.abc import Mapping

    from homeassistant.config_entries import ConfigEntry
    from homeassistant.core import HomeAssistant

    from .api import FlatpeakClient, Location, PricePeriod, PriceSeries

# Today, tomorrow and the day after.
PRICE_DAYS: Final = 3
# When Flatpeak gives no usable next_update: ask again this often at most.
FALLBACK_REFRESH: Final = timedelta(hours=6)
MIN_REFRESH: Final = timedelta(minutes=15)
PRICE_BACKOFF: Final = 60.0
DIRECTIONS: Final = (TariffDirection.IMPORT, TariffDirection.EXPORT)


@dataclass(frozen=True, kw_only=True)
class PriceData:
    """The price periods Flatpeak published, and the ones in force now."""

    currency: str
    series: Mapping[TariffDirection, PriceSeries] = field(default_factory=dict)
    current: Mapping[TariffDirection, PricePeriod] = field(default_factory=dict)
    next_update: datetime | None = None
    periods: Mapping[TariffDirection, tuple[Price, ...]] = field(default_factory=dict)
    """Each direction's periods, oldest first, each instant priced once."""
    today: Mapping[TariffDirection, DayPrices] = field(default_factory=dict)
    tomorrow: Mapping[TariffDirection, DayPrices] = field(default_factory=dict)


def series_prices(series: PriceSeries) -> tuple[Price, ...]:
    """Return a series' periods as planner prices (repeats and overlaps resolved)."""
    return tuple(
        normalize(Price(p.valid_from, p.valid_to, p.price) for p in series.periods)
    )


def next_boundary(
    series: Mapping[TariffDirection, PriceSeries], now: datetime
) -> datetime | None:
    """Return the next time a price period of any direction ends."""
    ends = [
        period.valid_to
        for prices in series.values()
        for period in prices.periods
        if period.valid_to > now
    ]
    return min(ends, default=None)


class FlatpeakPriceCoordinator(DataUpdateCoordinator[PriceData]):
    """Holds the location's published prices; steps through them on time."""

    config_entry: ConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        *,
        client: FlatpeakClient,
        location: Location,
        timezone: tzinfo,
    ) -> None:
        """Fetch the prices of the entry's location."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} prices",
            update_interval=MIN_REFRESH,
        )
        self.client = client
        self.location_id = location.id
        self.currency: str = location.currency_code or hass.config.currency
        self.zone = timezone
        self._series: dict[TariffDirection, PriceSeries] = {}
        self._periods: dict[TariffDirection, tuple[Price, ...]] = {}
        self._fetch_at: datetime | None = None
        self._retry = Retry(PRICE_BACKOFF)
        self.calls = 0

    async def _async_update_data(self) -> PriceData:
        """Fetch when Flatpeak publishes more; else step to the current period."""
        now = dt_util.utcnow()
        if self._fetch_at is None or now >= self._fetch_at:
            try:
                await self._async_fetch(now)
            except FlatpeakError as err:
                raise self._failed(err) from err
            self._retry.succeeded(self.hass, self.config_entry, answered=True)
        current = {
            direction: period
            for direction, prices in self._series.items()
            if (period := prices.price_at(now)) is not None
        }
        today = day_start(now, self.zone)
        tomorrow = day_start(today + timedelta(hours=36), self.zone)
        day_after = day_start(tomorrow + timedelta(hours=36), self.zone)
        # Wake at the next period boundary, fetch, or midnight (a new "today").
        wake = [tomorrow]
        if self._fetch_at is not None:
            wake.append(self._fetch_at)
        if (boundary := next_boundary(self._series, now)) is not None:
            wake.append(boundary)
        self.update_interval = max(min(wake) - now, timedelta(seconds=1))
        return PriceData(
            currency=self.currency,
            series=dict(self._series),
            current=current,
            next_update=self._fetch_at,
            periods=dict(self._periods),
            today={
                direction: day_prices(periods, today, tomorrow)
                for direction, periods in self._periods.items()
            },
            tomorrow={
                direction: day_prices(periods, tomorrow, day_after)
                for direction, periods in self._periods.items()
            },
        )

    async def _async_fetch(self, now: datetime) -> None:
        start = day_start(now, self.zone)
        end = day_start(start + timedelta(days=PRICE_DAYS, hours=12), self.zone)
        series: dict[TariffDirection, PriceSeries] = {}
        for direction in DIRECTIONS:
            self.calls += 1
            series[direction] = await self.client.get_prices(
                self.location_id, start, end, tariff_direction=direction
            )
        self._series = series
        self._periods = {
            direction: series_prices(prices) for direction, prices in series.items()
        }
        self.currency = next(iter(series.values())).currency_code or self.currency
        next_updates = [s.next_update for s in series.values() if s.next_update]
        when = min(next_updates, default=None)
        if when is None or when <= now:
            ends = [p.valid_to for s in series.values() for p in s.periods]
            when = max(
                min(max(ends, default=now), now + FALLBACK_REFRESH), now + MIN_REFRESH
            )
        # Everything asked for was published, and no update is due before the last
        # day fetched begins: from then on "tomorrow" would be missing.
        if all(
            periods and periods[-1].end >= end for periods in self._periods.values()
        ):
            when = min(when, day_start(end - timedelta(hours=12), self.zone))
        self._fetch_at = when

    def _failed(self, err: FlatpeakError) -> Exception:
        failure = flatpeak_failure(err)
        wait, _ = self._retry.failed(
            self.hass, self.config_entry, failure, dt_util.utcnow()
        )
        if wait is not None:
            self.update_interval = wait
        return update_failed(failure)
