"""What the cost sensors show, computed from Flatpeak's answers (pure).

`CostData` is the cost coordinator's data: one `OwnerCosts` for the location and one
per device subentry, each reading computed once per update.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, tzinfo
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from .api import CostRow, EnergyCost, TariffDirection


@dataclass(frozen=True, slots=True, kw_only=True)
class Reading:
    """What one sensor shows: value, the start of its period, attributes."""

    value: float | int | datetime | None
    """None: known to be unknown (e.g. no submission yet), not unavailable."""
    last_reset: datetime | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)


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

    def reading(self) -> Reading:
        """Return the session as a sensor reading (a total since its start)."""
        return Reading(
            value=self.cost, last_reset=self.start, attributes=self.attributes()
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class PeriodTotals:
    """Today's and this month's cost (and today's energy) of one tariff direction."""

    today: Reading
    month: Reading
    energy_today: Reading


@dataclass(frozen=True, slots=True, kw_only=True)
class OwnerCosts:
    """What Flatpeak reported for the location or one of its devices."""

    totals: Mapping[TariffDirection, PeriodTotals] = field(default_factory=dict)
    last_session: SessionCost | None = None
    current_session: SessionCost | None = None

    def today(self, direction: TariffDirection) -> Reading | None:
        """Return today's cost of a direction (None: not known)."""
        totals = self.totals.get(direction)
        return None if totals is None else totals.today

    def month(self, direction: TariffDirection) -> Reading | None:
        """Return this month's cost of a direction (None: not known)."""
        totals = self.totals.get(direction)
        return None if totals is None else totals.month

    def energy_today(self, direction: TariffDirection) -> Reading | None:
        """Return today's energy of a direction (None: not known)."""
        totals = self.totals.get(direction)
        return None if totals is None else totals.energy_today


@dataclass(frozen=True, slots=True, kw_only=True)
class CostData:
    """Everything the cost sensors of an entry show."""

    currency: str
    day_start: datetime
    location: OwnerCosts
    devices: Mapping[str, OwnerCosts]
    """Per subentry id; absent while Flatpeak has no answer for the device."""

    def owner(self, subentry_id: str | None) -> OwnerCosts | None:
        """Return the location's costs (None) or a device subentry's."""
        if subentry_id is None:
            return self.location
        return self.devices.get(subentry_id)


def local_midnight(day: date, zone: tzinfo) -> datetime:
    """Return the start of a local calendar day as an aware UTC datetime."""
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def day_start(now: datetime, zone: tzinfo) -> datetime:
    """Return the start of `now`'s day in `zone` (UTC)."""
    return local_midnight(now.astimezone(zone).date(), zone)


def month_start(now: datetime, zone: tzinfo) -> datetime:
    """Return the start of `now`'s month in `zone` (UTC)."""
    return local_midnight(now.astimezone(zone).date().replace(day=1), zone)


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


def period_totals(rows: Sequence[CostRow], now: datetime, zone: tzinfo) -> PeriodTotals:
    """Return today's and this month's totals of the day rows of a month."""
    today = day_start(now, zone)
    return PeriodTotals(
        today=period_reading(rows, today),
        month=period_reading(rows, month_start(now, zone)),
        # Not a total: no period start for the energy dashboard to count from.
        energy_today=replace(period_reading(rows, today, energy=True), last_reset=None),
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
