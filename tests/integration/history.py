"""Imported recorder statistics: a history of energy meters, built fast."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

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


def energy_metadata(statistic_id: str) -> StatisticMetaData:
    """Return the metadata of an energy sensor's statistics (kWh, with a sum)."""
    metadata: dict[str, Any] = {
        "has_sum": True,
        "mean_type": StatisticMeanType.NONE,
        "name": None,
        "source": "recorder",
        "statistic_id": statistic_id,
        "unit_of_measurement": "kWh",
    }
    # Newer releases require the unit class; 2025.4 does not know the key.
    if "unit_class" in StatisticMetaData.__annotations__:
        metadata["unit_class"] = "energy"
    return cast("StatisticMetaData", metadata)


def import_rows(
    hass: HomeAssistant,
    statistic_id: str,
    rows: list[StatisticData],
    *,
    short_term: bool = False,
) -> None:
    """Import statistics rows of an energy sensor (hourly, or 5-minute ones)."""
    metadata = energy_metadata(statistic_id)
    if short_term:
        get_instance(hass).async_import_statistics(metadata, rows, StatisticsShortTerm)
    else:
        async_import_statistics(hass, metadata, rows)


def import_history(
    hass: HomeAssistant,
    statistic_id: str,
    origin: datetime,
    end: datetime,
    short_from: datetime,
    rate: float,
) -> None:
    """Import hourly rows from `origin`, and 5-minute rows from `short_from`."""
    hourly: list[StatisticData] = []
    start = origin
    while start + HOUR <= end:
        value = energy_until(start + HOUR, origin, rate)
        hourly.append({"start": start, "sum": value, "state": value})
        start += HOUR
    import_rows(hass, statistic_id, hourly)
    short: list[StatisticData] = []
    start = short_from
    while start + FIVE <= end:
        value = energy_until(start + FIVE, origin, rate)
        short.append({"start": start, "sum": value, "state": value})
        start += FIVE
    import_rows(hass, statistic_id, short, short_term=True)
