"""Cheapest windows: which periods of the location's day to run in (pure).

A `cheapest_window` subentry asks for `hours` between `earliest_start` and
`latest_end` in the location's day (a window whose end is not after its start runs
past midnight; equal times make a whole day). Each day's window is planned once
the location's import prices cover it, re-planned while it has not started when
new prices arrive, and never changed once its first chosen period has begun.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING, Any, Final

from .planner import Choice, Price, choose_window, covers

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

CONF_HOURS: Final = "hours"
CONF_EARLIEST_START: Final = "earliest_start"
CONF_LATEST_END: Final = "latest_end"
CONF_CONTINUOUS: Final = "continuous"
CONF_MINIMUM_PRICE: Final = "minimum_price"
CONF_MAXIMUM_PRICE: Final = "maximum_price"

_DAY = timedelta(days=1)


def parse_time(value: str | time) -> time:
    """Return a time of day from the time selector's `HH:MM[:SS]`."""
    return value if isinstance(value, time) else time.fromisoformat(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowSpec:
    """What a cheapest-window subentry asks for."""

    hours: float
    earliest_start: time
    latest_end: time
    continuous: bool = True
    minimum_price: float | None = None
    maximum_price: float | None = None

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> WindowSpec:
        """Read the subentry's data."""
        minimum = data.get(CONF_MINIMUM_PRICE)
        maximum = data.get(CONF_MAXIMUM_PRICE)
        return cls(
            hours=float(data[CONF_HOURS]),
            earliest_start=parse_time(data[CONF_EARLIEST_START]),
            latest_end=parse_time(data[CONF_LATEST_END]),
            continuous=bool(data.get(CONF_CONTINUOUS, True)),
            minimum_price=None if minimum is None else float(minimum),
            maximum_price=None if maximum is None else float(maximum),
        )

    def as_dict(self) -> dict[str, Any]:
        """Return the settings as JSON (what a stored plan was made for)."""
        return {
            CONF_HOURS: self.hours,
            CONF_EARLIEST_START: self.earliest_start.isoformat(),
            CONF_LATEST_END: self.latest_end.isoformat(),
            CONF_CONTINUOUS: self.continuous,
            CONF_MINIMUM_PRICE: self.minimum_price,
            CONF_MAXIMUM_PRICE: self.maximum_price,
        }

    def window_on(self, day: date, zone: tzinfo) -> tuple[datetime, datetime]:
        """Return the window that opens on the local `day`, in UTC."""
        start = datetime.combine(day, self.earliest_start, tzinfo=zone)
        end_day = day if self.latest_end > self.earliest_start else day + _DAY
        end = datetime.combine(end_day, self.latest_end, tzinfo=zone)
        return start.astimezone(UTC), end.astimezone(UTC)

    def window_at(self, now: datetime, zone: tzinfo) -> tuple[datetime, datetime]:
        """Return the window running at `now`, else the next one to open."""
        today = now.astimezone(zone).date()
        for day in (today - _DAY, today, today + _DAY):
            start, end = self.window_on(day, zone)
            if end > now:
                return start, end
        return self.window_on(today + _DAY * 2, zone)  # pragma: no cover

    def shortest_window(self) -> timedelta:
        """Return the window's length on an ordinary day (DST aside)."""
        start = datetime.combine(date(2000, 1, 3), self.earliest_start)
        end = datetime.combine(date(2000, 1, 3), self.latest_end)
        return end - start if end > start else end + _DAY - start


@dataclass(frozen=True, slots=True)
class WindowPlan:
    """The chosen periods of one day's window."""

    start: datetime
    end: datetime
    choice: Choice

    def started(self, now: datetime) -> bool:
        """Tell whether the first chosen period has begun."""
        return bool(self.choice.slots) and now >= self.choice.slots[0].start

    def as_dict(self) -> dict[str, Any]:
        """Return the plan as JSON (restored after a restart)."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "average_price": self.choice.average_price,
            "slots": [
                {
                    "start": s.start.isoformat(),
                    "end": s.end.isoformat(),
                    "price": s.price,
                }
                for s in self.choice.slots
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WindowPlan | None:
        """Read a plan stored by `as_dict` (None when it is not one)."""
        try:
            slots = tuple(
                Price(
                    _aware(datetime.fromisoformat(slot["start"])),
                    _aware(datetime.fromisoformat(slot["end"])),
                    float(slot["price"]),
                )
                for slot in data["slots"]
            )
            average = data.get("average_price")
            return cls(
                _aware(datetime.fromisoformat(data["start"])),
                _aware(datetime.fromisoformat(data["end"])),
                Choice(slots, None if average is None else float(average)),
            )
        except (KeyError, TypeError, ValueError):
            return None


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError(value)
    return value.astimezone(UTC)


def plan_window(
    spec: WindowSpec,
    zone: tzinfo,
    prices: Sequence[Price],
    now: datetime,
    previous: WindowPlan | None,
) -> WindowPlan | None:
    """Return the plan of the window running at `now` (or the next one).

    A started plan of that window stands whatever the prices say; otherwise the
    window is planned from now on, when the prices cover the rest of it (until
    then an earlier plan of the same window stands, or there is none). A window
    first planned when too little of it is left for the hours is let go: the
    next one is planned instead.
    """
    start, end = spec.window_at(now, zone)
    plan_from = max(start, now.replace(second=0, microsecond=0))
    if not (
        previous and (previous.start, previous.end) == (start, end)
    ) and end - plan_from < timedelta(hours=spec.hours):
        start, end = spec.window_at(end, zone)
        plan_from = start
    same = (
        previous
        if previous and (previous.start, previous.end) == (start, end)
        else None
    )
    if same is not None and same.started(now):
        return same
    if not covers(prices, plan_from, end):
        return same
    choice = choose_window(
        prices,
        plan_from,
        end,
        spec.hours,
        continuous=spec.continuous,
        minimum_price=spec.minimum_price,
        maximum_price=spec.maximum_price,
    )
    return WindowPlan(start, end, choice)
