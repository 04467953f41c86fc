"""Imported recorder statistics: a history of energy meters, built fast."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from homeassistant.components.recorder.db_schema import StatisticsShortTerm
from homeassistant.components.recorder.models import (
    StatisticData,
    StatisticMeanType,
    StatisticMetaData,
)
from homeassistant.components.recorder.statistics import async_import_statistics
from homeassistant.helpers.recorder import get_instance

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

FIVE = timedelta(minutes=5)
HOUR = timedelta(hours=1)


def energy_until(when: datetime, origin: datetime, rate_kwh_per_hour: float) -> float:
    """Return a meter's sum at `when`: a steady rate with a daily bump."""
    hours = (when - origin).total_seconds() / 3600
    return round(rate_kwh_per_hour * hours + 0.1 * int(hours // 24), 6)


def import_history(
    hass: HomeAssistant,
    statistic_id: str,
    origin: datetime,
    end: datetime,
    short_from: datetime,
    rate: float,
) -> None:
    """Import hourly rows from `origin`, and 5-minute rows from `short_from`."""
    metadata: StatisticMetaData = {
        "has_sum": True,
        "mean_type": StatisticMeanType.NONE,
        "name": None,
        "source": "recorder",
        "statistic_id": statistic_id,
        "unit_of_measurement": "kWh",
    }
    hourly: list[StatisticData] = []
    start = origin
    while start + HOUR <= end:
        value = energy_until(start + HOUR, origin, rate)
        hourly.append({"start": start, "sum": value, "state": value})
        start += HOUR
    async_import_statistics(hass, metadata, hourly)
    short: list[StatisticData] = []
    start = short_from
    while start + FIVE <= end:
        value = energy_until(start + FIVE, origin, rate)
        short.append({"start": start, "sum": value, "state": value})
        start += FIVE
    get_instance(hass).async_import_statistics(metadata, short, StatisticsShortTerm)
