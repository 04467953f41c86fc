"""Today's and tomorrow's figures the price sensors show (pure)."""

from __future__ import annotations

import pytest

from custom_components.flatpeak.planner import Price
from custom_components.flatpeak.price_days import (
    day_attributes,
    day_prices,
    next_change,
    period_item,
)
from flatpeak_sandbox import Tariff

from .test_planner import local, tariff_prices

TOU = Tariff.demo_uk()


def test_a_day_of_time_of_use() -> None:
    """15 June 2026 (BST): 0.25, 0.07 (00:30-04:30), 0.25, 0.35 (16-19), 0.25.

    Average: (0.5 x 0.25 + 4 x 0.07 + 11.5 x 0.25 + 3 x 0.35 + 5 x 0.25) / 24
    = (0.125 + 0.28 + 2.875 + 1.05 + 1.25) / 24 = 5.58 / 24 = 0.2325.
    """
    prices = tariff_prices(TOU, local("2026-06-15", 0), local("2026-06-17", 0))
    today = day_prices(prices, local("2026-06-15", 0), local("2026-06-16", 0))
    assert today.complete
    assert [(p.start, p.price) for p in today.periods] == [
        (local("2026-06-15", 0), 0.25),
        (local("2026-06-15", 0, 30), 0.07),
        (local("2026-06-15", 4, 30), 0.25),
        (local("2026-06-15", 16), 0.35),
        (local("2026-06-15", 19), 0.25),
    ]
    assert (today.minimum, today.maximum) == (0.07, 0.35)
    assert today.average == pytest.approx(0.2325)
    assert today.cheapest == Price(
        local("2026-06-15", 0, 30), local("2026-06-15", 4, 30), 0.07
    )
    assert today.dearest == Price(
        local("2026-06-15", 16), local("2026-06-15", 19), 0.35
    )
    attributes = day_attributes("today", today)
    assert attributes["today_min"] == 0.07
    assert attributes["today_average"] == 0.2325
    assert attributes["today_cheapest_start"] == "2026-06-14T23:30:00+00:00"
    assert attributes["today_dearest_end"] == "2026-06-15T18:00:00+00:00"


def test_a_day_not_published_yet() -> None:
    """Tomorrow before it is published: nothing, and no figures."""
    prices = tariff_prices(TOU, local("2026-06-15", 0), local("2026-06-16", 0))
    tomorrow = day_prices(prices, local("2026-06-16", 0), local("2026-06-17", 0))
    assert not tomorrow.complete
    assert tomorrow.periods == ()
    assert tomorrow.cheapest is None
    assert set(day_attributes("tomorrow", tomorrow).values()) == {None}


def test_next_change_skips_periods_of_the_same_price() -> None:
    """At 20:00 (0.25 until midnight and on to 00:30) the next change is 00:30."""
    prices = tariff_prices(TOU, local("2026-06-15", 0), local("2026-06-17", 0))
    change = next_change(prices, local("2026-06-15", 20))
    assert change is not None
    assert (change.start, change.price) == (local("2026-06-16", 0, 30), 0.07)
    assert next_change(prices, local("2026-06-16", 23, 45)) is None
    # Before the first period: the first one is the change.
    assert next_change(prices, local("2026-06-14", 12)) == prices[0]


def test_period_item() -> None:
    """A period as an attribute item."""
    period = Price(local("2026-06-15", 0), local("2026-06-15", 0, 30), 0.1234567)
    assert period_item(period) == {
        "start": "2026-06-14T23:00:00+00:00",
        "end": "2026-06-14T23:30:00+00:00",
        "price": 0.123457,
    }
