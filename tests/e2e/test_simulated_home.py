"""The simulated home's model (dev/simulated_home): plausible and consistent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dev.simulated_home.model import (
    MAX_CATCH_UP,
    Meters,
    advance,
    ev_plugged_in,
    power_at,
)

LONDON = ZoneInfo("Europe/London")


@pytest.mark.parametrize("month", [1, 6, 10])
def test_a_day_balances(month: int) -> None:
    """Over a day, grid import minus export equals house + EV - solar."""
    start = datetime(2026, month, 10, tzinfo=LONDON)
    end = start + timedelta(days=1)
    before = Meters()
    after = advance(before, start, end, LONDON)
    imported = after.grid_import - before.grid_import
    exported = after.grid_export - before.grid_export
    solar = after.solar - before.solar
    ev = after.ev - before.ev
    house = (
        sum(
            power_at(
                (start + timedelta(minutes=m, seconds=30)).astimezone(LONDON)
            ).house
            for m in range(24 * 60)
        )
        / 60
    )
    assert imported - exported == pytest.approx(house + ev - solar, abs=1e-6)
    assert 5 < house < 30
    assert ev > 0  # a session every night


def test_daily_pattern() -> None:
    """No sun at night, sun at noon in summer; the car charges after 00:30."""
    day = datetime(2026, 6, 21, tzinfo=LONDON)
    assert power_at(day.replace(hour=2)).solar == 0
    assert power_at(day.replace(hour=13)).solar > 1
    assert power_at(day.replace(hour=1)).ev > 0
    assert power_at(day.replace(hour=12)).ev == 0
    assert (
        power_at(day.replace(hour=18, minute=30)).house
        > power_at(day.replace(hour=3)).house
    )
    assert ev_plugged_in(day.replace(hour=23))
    assert not ev_plugged_in(day.replace(hour=12))
    assert power_at(day.replace(hour=13)).grid < 0  # exporting at noon


def test_catch_up_is_capped() -> None:
    """After a long stop, at most MAX_CATCH_UP of energy is added."""
    end = datetime(2026, 3, 1, tzinfo=UTC)
    long_gap = advance(Meters(), end - timedelta(days=30), end, LONDON)
    capped = advance(Meters(), end - MAX_CATCH_UP, end, LONDON)
    assert long_gap == capped
    assert advance(Meters(), end, end, LONDON) == Meters()
