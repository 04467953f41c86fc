"""Statistics of the simulated meters since local midnight, for a fresh dev instance.

A real home's energy sensors have history; a fresh dev instance's have none, so
whatever uses "today" (Flatpeak's cost sensors, the energy dashboard) would stay
empty until the first intervals close. On first start the home therefore imports
what its meters did since local midnight, as the recorder itself would have
compiled it: 5-minute rows and hourly rows with the meter reading (`state`) and
the growth since midnight (`sum`), so the recorder's own compiling continues
seamlessly from the last row.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from homeassistant.components.recorder.db_schema import Statistics, StatisticsShortTerm
from homeassistant.components.recorder.models import (
    StatisticData,
    StatisticMeanType,
    StatisticMetaData,
)
from homeassistant.helpers.recorder import get_instance
from homeassistant.util import dt as dt_util

from .model import Meters, advance

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

# The meters' entity ids (names in sensor.py) and how to read them.
METER_ENTITIES: dict[str, str] = {
    "sensor.grid_import": "grid_import",
    "sensor.grid_export": "grid_export",
    "sensor.solar_production": "solar",
    "sensor.ev_charger_energy": "ev",
}
FIVE_MINUTES = timedelta(minutes=5)


def readings_since_midnight(
    start_meters: Meters, now: datetime
) -> list[tuple[datetime, Meters]]:
    """Return the meters at the end of each 5 minutes since local midnight."""
    zone = dt_util.get_default_time_zone()
    midnight = dt_util.start_of_local_day(dt_util.as_local(now))
    end = now - timedelta(minutes=now.minute % 5, seconds=now.second)
    end = end.replace(microsecond=0)
    readings: list[tuple[datetime, Meters]] = []
    meters, cursor = start_meters, dt_util.as_utc(midnight)
    while cursor + FIVE_MINUTES <= end:
        meters = advance(meters, cursor, cursor + FIVE_MINUTES, zone)
        cursor += FIVE_MINUTES
        readings.append((cursor, meters))
    return readings


def async_import_today(
    hass: HomeAssistant, start_meters: Meters, now: datetime
) -> tuple[Meters, datetime]:
    """Import today's statistics of the meters; return the meters and their time."""
    readings = readings_since_midnight(start_meters, now)
    recorder = get_instance(hass)
    for entity_id, field in METER_ENTITIES.items():
        base = getattr(start_meters, field)
        short: list[StatisticData] = []
        hourly: list[StatisticData] = []
        for end, meters in readings:
            value = getattr(meters, field)
            row: StatisticData = {
                "start": end - FIVE_MINUTES,
                "state": value,
                "sum": value - base,
            }
            short.append(row)
            if end.minute == 0:
                hourly.append({**row, "start": end - timedelta(hours=1)})
        fields: dict[str, Any] = {
            "has_sum": True,
            "mean_type": StatisticMeanType.NONE,
            "name": None,
            "source": "recorder",
            "statistic_id": entity_id,
            "unit_of_measurement": "kWh",
        }
        # Newer releases require the unit class (the recorder fails to read the
        # statistics without it); 2025.4 does not know the key.
        if "unit_class" in StatisticMetaData.__annotations__:
            fields["unit_class"] = "energy"
        metadata = cast("StatisticMetaData", fields)
        recorder.async_import_statistics(metadata, short, StatisticsShortTerm)
        recorder.async_import_statistics(metadata, hourly, Statistics)
    if not readings:
        return start_meters, now
    end, meters = readings[-1]
    return meters, end
