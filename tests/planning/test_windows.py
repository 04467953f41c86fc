"""The day's window of a cheapest-window subentry, and when its plan may change."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from custom_components.flatpeak.planner import Choice, Price
from custom_components.flatpeak.windows import WindowPlan, WindowSpec, plan_window
from flatpeak_sandbox import Tariff

from .test_planner import LONDON, local, tariff_prices

TOU = Tariff.demo_uk()
OVERNIGHT = WindowSpec(
    hours=2, earliest_start=time(22), latest_end=time(7), continuous=True
)


def test_from_subentry_data() -> None:
    """The time selector's strings and optional limits are read."""
    spec = WindowSpec.from_data(
        {
            "name": "Dishwasher",
            "hours": 2,
            "earliest_start": "22:00:00",
            "latest_end": "07:00",
            "continuous": True,
            "minimum_price": None,
            "maximum_price": 0.2,
        }
    )
    assert spec == WindowSpec(
        hours=2.0,
        earliest_start=time(22),
        latest_end=time(7),
        continuous=True,
        maximum_price=0.2,
    )
    assert WindowSpec.from_data(spec.as_dict()) == spec
    with pytest.raises(ValueError, match="hour must be in"):
        WindowSpec.from_data({"hours": 1, "earliest_start": "25:00", "latest_end": "1"})


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Inside last night's window: that one.
        (local("2026-06-15", 2), (local("2026-06-14", 22), local("2026-06-15", 7))),
        # After it: tonight's.
        (local("2026-06-15", 7), (local("2026-06-15", 22), local("2026-06-16", 7))),
        (local("2026-06-15", 23), (local("2026-06-15", 22), local("2026-06-16", 7))),
    ],
)
def test_window_across_midnight(now: datetime, expected: tuple[datetime, ...]) -> None:
    """22:00 to 07:00 is the night that starts on the day; it runs until it ends."""
    assert OVERNIGHT.window_at(now, LONDON) == expected
    assert OVERNIGHT.shortest_window() == timedelta(hours=9)


def test_window_of_a_day_and_a_whole_day() -> None:
    """10:00-16:00 is within the day; equal times make 24 hours."""
    day = WindowSpec(hours=1, earliest_start=time(10), latest_end=time(16))
    assert day.window_at(local("2026-06-15", 17), LONDON) == (
        local("2026-06-16", 10),
        local("2026-06-16", 16),
    )
    whole = WindowSpec(hours=3, earliest_start=time(0), latest_end=time(0))
    assert whole.window_at(local("2026-06-15", 12), LONDON) == (
        local("2026-06-15", 0),
        local("2026-06-16", 0),
    )
    assert whole.shortest_window() == timedelta(days=1)


@pytest.mark.parametrize(
    ("day", "hours"),
    [("2026-03-28", 9), ("2026-03-29", 8), ("2026-10-24", 9), ("2026-10-25", 10)],
)
def test_window_length_across_dst(day: str, hours: int) -> None:
    """Overnight windows lose an hour when clocks go forward, gain one going back.

    (22:00 Saturday to 07:00 Sunday: 2026-03-29 01:00 GMT -> 02:00 BST and
    2026-10-25 02:00 BST -> 01:00 GMT happen inside the window of the day before.)
    """
    opening = datetime.combine(
        datetime.fromisoformat(day).date() - timedelta(days=1), time(23)
    ).replace(tzinfo=LONDON)
    start, end = OVERNIGHT.window_at(opening.astimezone(UTC), LONDON)
    assert end - start == timedelta(hours=hours)


def test_plan_waits_for_prices_then_plans() -> None:
    """Before the prices cover the window there is no plan; then 00:30-02:30."""
    now = local("2026-06-15", 12)
    start, end = local("2026-06-15", 22), local("2026-06-16", 7)
    partial = tariff_prices(TOU, local("2026-06-15", 0), local("2026-06-16", 0))
    assert plan_window(OVERNIGHT, LONDON, partial, now, None) is None
    prices = tariff_prices(TOU, local("2026-06-15", 0), local("2026-06-17", 0))
    plan = plan_window(OVERNIGHT, LONDON, prices, now, None)
    assert plan is not None
    assert (plan.start, plan.end) == (start, end)
    assert plan.choice.slots[0].start == local("2026-06-16", 0, 30)
    assert plan.choice.slots[-1].end == local("2026-06-16", 2, 30)


def test_replanned_before_it_starts_kept_once_started() -> None:
    """New prices move a plan that has not started; a started one stands."""
    now = local("2026-06-15", 23)
    prices = tariff_prices(TOU, local("2026-06-15", 0), local("2026-06-17", 0))
    plan = plan_window(OVERNIGHT, LONDON, prices, now, None)
    assert plan is not None
    # New prices: 23:00-01:00 is free now.
    cheaper = [
        Price(p.start, p.end, 0.0)
        if local("2026-06-15", 23) <= p.start < local("2026-06-16", 1)
        else p
        for p in prices
    ]
    moved = plan_window(OVERNIGHT, LONDON, cheaper, now, plan)
    assert moved is not None
    assert moved.choice.slots[0].start == local("2026-06-15", 23)
    # Once 23:00 has come, the old prices (or any) do not move it again.
    later = local("2026-06-15", 23, 30)
    assert plan_window(OVERNIGHT, LONDON, prices, later, moved) is moved
    # Nor does a gap in the prices: the started plan stands.
    assert plan_window(OVERNIGHT, LONDON, [], later, moved) is moved
    # A plan not started is kept while the prices no longer cover the window.
    assert plan_window(OVERNIGHT, LONDON, [], now, plan) is plan


def test_planned_from_now_inside_a_running_window() -> None:
    """A window planned after it opened chooses from now on (to the minute)."""
    now = local("2026-06-16", 1, 10) + timedelta(seconds=42)
    prices = tariff_prices(TOU, local("2026-06-15", 0), local("2026-06-17", 0))
    plan = plan_window(OVERNIGHT, LONDON, prices, now, None)
    assert plan is not None
    assert plan.start == local("2026-06-15", 22)
    assert plan.choice.slots[0].start == local("2026-06-16", 1, 10)
    assert plan.choice.hours == 2


def test_next_window_after_one_ends() -> None:
    """When a window ends, the next day's is planned (or waits for its prices)."""
    prices = tariff_prices(TOU, local("2026-06-15", 0), local("2026-06-17", 0))
    old = plan_window(OVERNIGHT, LONDON, prices, local("2026-06-14", 23), None)
    assert old is None  # the prices do not reach back to that night
    last_night = WindowPlan(local("2026-06-14", 22), local("2026-06-15", 7), Choice())
    plan = plan_window(OVERNIGHT, LONDON, prices, local("2026-06-15", 7), last_night)
    assert plan is not None
    assert plan.start == local("2026-06-15", 22)


def test_plan_survives_a_round_trip() -> None:
    """What the binary sensor stores is read back; anything else is no plan."""
    prices = tariff_prices(TOU, local("2026-06-15", 0), local("2026-06-17", 0))
    plan = plan_window(OVERNIGHT, LONDON, prices, local("2026-06-15", 12), None)
    assert plan is not None
    assert WindowPlan.from_dict(plan.as_dict()) == plan
    assert WindowPlan.from_dict({"start": "x"}) is None
    naive = {**plan.as_dict(), "start": "2026-06-15T22:00:00"}
    assert WindowPlan.from_dict(naive) is None


def test_too_little_left_plans_the_next_window() -> None:
    """Added at 05:30 with 2 h wanted by 07:00 in one block: tonight's is planned.

    A window planned while it has the time stays this window (see above); one met
    with less than its hours left is let go, not run short.
    """
    prices = tariff_prices(TOU, local("2026-06-15", 0), local("2026-06-18", 0))
    plan = plan_window(OVERNIGHT, LONDON, prices, local("2026-06-16", 5, 30), None)
    assert plan is not None
    assert plan.start == local("2026-06-16", 22)
    assert plan.choice.slots[0].start == local("2026-06-17", 0, 30)
    # With the time, the running window is planned from now.
    plan = plan_window(OVERNIGHT, LONDON, prices, local("2026-06-16", 4, 30), None)
    assert plan is not None
    assert plan.start == local("2026-06-15", 22)
    assert plan.choice.slots[0].start == local("2026-06-16", 4, 30)
