"""Power and energy of a simulated home: pure functions of the local time.

Deterministic (no randomness) so that a restart continues the same day: solar
panels with a seasonal bell curve and day-to-day cloud, a house load with a
morning and an evening peak, and an EV that is plugged in every evening and
charges after 00:30 (the cheap window of the demo tariff).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo

SOLAR_PEAK_KW = 4.2
HOUSE_BASE_KW = 0.3
EV_CHARGE_KW = 7.2
EV_PLUG_IN_HOUR = 18.5
EV_UNPLUG_HOUR = 7.5
EV_CHARGE_START_HOUR = 0.5
MAX_CATCH_UP = timedelta(days=2)
STEP = timedelta(minutes=1)


def _hours(local: datetime) -> float:
    """Return the wall-clock time of day in hours."""
    return local.hour + local.minute / 60 + local.second / 3600


def _bump(hours: float, centre: float, width: float) -> float:
    """Return a Gaussian bump of height 1."""
    return math.exp(-(((hours - centre) / width) ** 2) / 2)


def _day_factor(local: datetime, salt: int) -> float:
    """Return a repeatable number in [0, 1) for the local date."""
    ordinal = local.date().toordinal()
    return (math.sin(ordinal * 12.9898 + salt * 78.233) * 43758.5453) % 1.0


def daylight_hours(local: datetime) -> float:
    """Return the day length (London: about 7.8 h in December, 16.5 h in June)."""
    day = local.timetuple().tm_yday
    return 12.15 + 4.35 * math.sin(2 * math.pi * (day - 80) / 365)


def solar_kw(local: datetime) -> float:
    """Return the solar production: a bell curve around solar noon, some clouds."""
    length = daylight_hours(local)
    dst = local.dst()
    noon = 12.0 + (dst.total_seconds() / 3600 if dst else 0.0)
    sunrise = noon - length / 2
    position = (_hours(local) - sunrise) / length
    if not 0.0 < position < 1.0:
        return 0.0
    season = (length - 7.8) / (16.5 - 7.8)
    peak = SOLAR_PEAK_KW * (0.35 + 0.65 * season)
    clear_sky = math.pow(math.sin(math.pi * position), 1.5)
    # Cloudy days and passing clouds, repeatable for a given date and time.
    day_cloud = 0.45 + 0.55 * _day_factor(local, 1)
    passing = 0.85 + 0.15 * math.sin(_hours(local) * 7.3 + 10 * _day_factor(local, 2))
    return max(0.0, peak * clear_sky * day_cloud * passing)


def house_kw(local: datetime) -> float:
    """Return the house load without the EV: base load, morning and evening peaks."""
    hours = _hours(local)
    fridge = 0.08 if local.minute % 30 < 12 else 0.0  # noqa: PLR2004
    morning = 0.9 * _bump(hours, 7.5, 0.7)
    lunch = 0.4 * _bump(hours, 12.75, 0.5)
    evening = 1.7 * _bump(hours, 18.5, 1.3)
    return HOUSE_BASE_KW + fridge + morning + lunch + evening


def ev_plugged_in(local: datetime) -> bool:
    """Return True while the car is plugged in (evening to morning)."""
    hours = _hours(local)
    return hours >= EV_PLUG_IN_HOUR or hours < EV_UNPLUG_HOUR


def ev_charge_hours(local: datetime) -> float:
    """Return how long the car charges in the night that ends on this date."""
    return 1.5 + 3.0 * _day_factor(local, 3)


def ev_kw(local: datetime) -> float:
    """Return the EV charger's power: from 00:30 until the car is full."""
    hours = _hours(local)
    start = EV_CHARGE_START_HOUR
    if ev_plugged_in(local) and start <= hours < start + ev_charge_hours(local):
        return EV_CHARGE_KW
    return 0.0


@dataclass(frozen=True, slots=True)
class Power:
    """Power flows of the home at one moment, in kW."""

    solar: float
    house: float
    ev: float

    @property
    def grid(self) -> float:
        """Return the grid power: positive imports, negative exports."""
        return self.house + self.ev - self.solar


def power_at(local: datetime) -> Power:
    """Return the home's power flows at a local time."""
    return Power(solar=solar_kw(local), house=house_kw(local), ev=ev_kw(local))


@dataclass(frozen=True, slots=True)
class Meters:
    """Cumulative energy meters of the home, in kWh."""

    grid_import: float = 4210.0
    grid_export: float = 812.0
    solar: float = 2630.0
    ev: float = 1544.0


def advance(meters: Meters, start: datetime, end: datetime, tz: tzinfo) -> Meters:
    """Add the energy of ``[start, end)`` (aware times) to the meters.

    Integrates in one-minute steps of absolute time, each at its midpoint in the
    home's time zone ``tz``. A gap longer than MAX_CATCH_UP (the home was off for
    long) is only counted up to that much.
    """
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        return meters
    start = max(start, end - MAX_CATCH_UP)
    grid_import = grid_export = solar = ev = 0.0
    moment = start
    while moment < end:
        step_end = min(moment + STEP, end)
        hours = (step_end - moment).total_seconds() / 3600
        power = power_at((moment + (step_end - moment) / 2).astimezone(tz))
        solar += power.solar * hours
        ev += power.ev * hours
        if power.grid >= 0:
            grid_import += power.grid * hours
        else:
            grid_export -= power.grid * hours
        moment = step_end
    return replace(
        meters,
        grid_import=meters.grid_import + grid_import,
        grid_export=meters.grid_export + grid_export,
        solar=meters.solar + solar,
        ev=meters.ev + ev,
    )
