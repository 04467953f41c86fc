"""Cheapest windows and charge plans (pure): hand-worked tariffs and brute force.

Prices come from the sandbox's tariffs (`Tariff.price_at`), so the cases below are
the ones the demo and the integration tests run on:
- time-of-use (`Tariff.demo_uk`): 0.07 from 00:30 to 04:30, 0.35 from 16:00 to
  19:00, 0.25 otherwise (Europe/London wall-clock);
- Agile-style (`Tariff.agile_uk(seed=0)`): a price per UTC half-hour;
- flat, and negative prices.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from custom_components.flatpeak.planner import (
    ChargeStep,
    Choice,
    PlanError,
    Price,
    average_price,
    charge_capacity,
    charge_now,
    choose_window,
    clip,
    cost_of,
    covered_until,
    covers,
    merge,
    normalize,
    plan_charge,
    runs_of,
)
from flatpeak_sandbox import Tariff

LONDON = ZoneInfo("Europe/London")
HALF = timedelta(minutes=30)


def local(day: str, hour: int, minute: int = 0) -> datetime:
    """Return a London wall-clock time (first fold) in UTC."""
    wall = datetime.combine(datetime.fromisoformat(day).date(), time(hour, minute))
    return wall.replace(tzinfo=LONDON).astimezone(UTC)


def tariff_prices(tariff: Tariff, start: datetime, end: datetime) -> list[Price]:
    """Return the tariff's import price per UTC half-hour of `[start, end)`."""
    prices = []
    cursor = start
    while cursor < end:
        prices.append(Price(cursor, cursor + HALF, tariff.price_at(cursor, "IMPORT")))
        cursor += HALF
    return prices


def flat(start: datetime, end: datetime, price: float) -> list[Price]:
    """Return one price for `[start, end)`, in half-hours."""
    return tariff_prices(Tariff(import_default=price), start, end)


def spans(choice: Choice) -> list[tuple[datetime, datetime]]:
    """Return the chosen spans."""
    return [(slot.start, slot.end) for slot in choice.slots]


# Brute force: every start (continuous) or every set of half-hours.


def cost(prices: list[Price], start: datetime, end: datetime) -> float:
    """Return the integral of price over `[start, end)` in price x hours."""
    return sum(p.price * p.hours for p in clip(prices, start, end))


def brute_continuous(
    prices: list[Price], start: datetime, end: datetime, hours: float
) -> tuple[float, datetime] | None:
    """Return the cheapest block's cost and start, trying every 5-minute start."""
    length = timedelta(hours=hours)
    best: tuple[float, datetime] | None = None
    cursor = start
    while cursor + length <= end:
        here = cost(prices, cursor, cursor + length)
        if best is None or here < best[0] - 1e-9:
            best = (here, cursor)
        cursor += timedelta(minutes=5)
    return best


def brute_cheapest(prices: list[Price], hours: float) -> float:
    """Return the lowest cost of `hours` of half-hours, trying every combination."""
    count = round(hours * 2)
    return min(
        sum(p.price for p in combo) / 2
        for combo in itertools.combinations(prices, count)
    )


def brute_charge(prices: list[Price], energy: float, power: float) -> float | None:
    """Return the lowest cost of `energy`: every set of full periods plus one part."""
    best: float | None = None
    for size in range(len(prices) + 1):
        for full in itertools.combinations(range(len(prices)), size):
            energy_full = sum(prices[i].hours * power for i in full)
            if energy_full > energy + 1e-9:
                continue
            base = sum(prices[i].hours * power * prices[i].price for i in full)
            rest = energy - energy_full
            if rest <= 1e-9:
                options = [base]
            else:
                options = [
                    base + rest * p.price
                    for i, p in enumerate(prices)
                    if i not in full and p.hours * power >= rest - 1e-9
                ]
            for option in options:
                if best is None or option < best - 1e-9:
                    best = option
    return best


# Hand-worked: time-of-use.

TOU = Tariff.demo_uk()
DAY = "2026-06-15"


def test_overnight_block_on_time_of_use() -> None:
    """2 h between 22:00 and 07:00: the first two hours at 0.07 (00:30-02:30)."""
    start, end = local(DAY, 22), local("2026-06-16", 7)
    prices = tariff_prices(TOU, start, end)
    choice = choose_window(prices, start, end, 2, continuous=True)
    assert spans(choice) == [(local("2026-06-16", 0, 30), local("2026-06-16", 2, 30))]
    assert choice.average_price == pytest.approx(0.07)
    assert choice.hours == 2


def test_block_that_ends_on_a_boundary() -> None:
    """22:00-01:00, 2 h: the block ending where 0.07 ends the window wins.

    23:00-01:00 costs 1.5 h x 0.25 + 0.5 h x 0.07 = 0.41 (average 0.205); any
    earlier block has more at 0.25. It starts at no price boundary: it is found
    from where it ends.
    """
    start, end = local(DAY, 22), local("2026-06-16", 1)
    choice = choose_window(
        tariff_prices(TOU, start, end), start, end, 2, continuous=True
    )
    assert spans(choice) == [
        (local(DAY, 23), local("2026-06-16", 0, 30)),
        (local("2026-06-16", 0, 30), local("2026-06-16", 1)),
    ]
    assert choice.average_price == pytest.approx(0.205)


def test_cheapest_periods_wherever_they_fall() -> None:
    """3 h anywhere in a whole day: the three cheapest hours, 00:30-03:30."""
    start, end = local(DAY, 0), local("2026-06-16", 0)
    choice = choose_window(
        tariff_prices(TOU, start, end), start, end, 3, continuous=False
    )
    assert spans(choice) == [(local(DAY, 0, 30), local(DAY, 3, 30))]
    assert choice.average_price == pytest.approx(0.07)


def test_flat_tariff_takes_the_earliest() -> None:
    """All prices equal: the block starts when the window opens."""
    start, end = local(DAY, 9), local(DAY, 17)
    prices = flat(start, end, 0.2)
    choice = choose_window(prices, start, end, 1.5, continuous=True)
    assert spans(choice) == [(local(DAY, 9), local(DAY, 10, 30))]
    cheapest = choose_window(prices, start, end, 1.5, continuous=False)
    assert spans(cheapest) == [(local(DAY, 9), local(DAY, 10, 30))]


# Hand-worked: Agile (seed 0, 16 June 2026, 00:00-06:00 BST).

AGILE = Tariff.agile_uk(seed=0)
AGILE_NIGHT = (
    0.1407, 0.1318, 0.1447, 0.1267, 0.1126, 0.0978,
    0.0903, 0.1033, 0.0873, 0.0944, 0.1280, 0.1111,
)  # fmt: skip


def test_agile_prices_are_the_hand_worked_ones() -> None:
    """The sandbox's half-hours of that night, as used below."""
    start = local("2026-06-16", 0)
    prices = tariff_prices(AGILE, start, local("2026-06-16", 6))
    assert tuple(p.price for p in prices) == AGILE_NIGHT


def test_agile_block_and_cheapest_half_hours() -> None:
    """2 h: the best block is 03:00-05:00 (0.3753 / 4); anywhere: 4 cheapest slots.

    Block sums of four half-hours from 00:00: 0.5439, 0.5158, 0.4818, 0.4274,
    0.4040, 0.3787, 0.3753 (03:00), 0.4130, 0.4208. Cheapest four: 0.0873 (04:00),
    0.0903 (03:00), 0.0944 (04:30), 0.0978 (02:30) = 0.3698.
    """
    start, end = local("2026-06-16", 0), local("2026-06-16", 6)
    prices = tariff_prices(AGILE, start, end)
    block = choose_window(prices, start, end, 2, continuous=True)
    assert spans(block)[0][0] == local("2026-06-16", 3)
    assert spans(block)[-1][1] == local("2026-06-16", 5)
    assert block.average_price == pytest.approx(0.3753 / 4)
    anywhere = choose_window(prices, start, end, 2, continuous=False)
    assert [s.start for s in anywhere.slots] == [
        local("2026-06-16", 2, 30),
        local("2026-06-16", 3),
        local("2026-06-16", 4),
        local("2026-06-16", 4, 30),
    ]
    assert anywhere.average_price == pytest.approx(0.3698 / 4)


# Negative prices and price limits.

NEGATIVE_NIGHT = "2026-01-06"  # seed 0: 03:00-05:00 GMT below zero


def test_negative_prices_are_chosen_first() -> None:
    """A negative run is the cheapest block; a maximum of 0 keeps only it."""
    start, end = local(NEGATIVE_NIGHT, 0), local(NEGATIVE_NIGHT, 7)
    prices = tariff_prices(AGILE, start, end)
    negative = [p for p in prices if p.price < 0]
    assert [p.price for p in negative] == [-0.0223, -0.0561, -0.0417, -0.0540, -0.0341]
    block = choose_window(prices, start, end, 2, continuous=True)
    assert block.average_price is not None
    assert block.average_price < 0
    # Hours wanted beyond what is within the maximum: only what is allowed.
    capped = choose_window(prices, start, end, 4, continuous=False, maximum_price=0)
    assert capped.hours == 2.5
    assert all(slot.price < 0 for slot in capped.slots)
    # A continuous block cannot be made of what is allowed: nothing is chosen.
    assert choose_window(prices, start, end, 4, continuous=True, maximum_price=0) == (
        Choice()
    )


def test_minimum_price_leaves_out_cheaper_periods() -> None:
    """With a minimum of 0, the negative half-hours are never chosen."""
    start, end = local(NEGATIVE_NIGHT, 0), local(NEGATIVE_NIGHT, 7)
    prices = tariff_prices(AGILE, start, end)
    choice = choose_window(prices, start, end, 2, continuous=True, minimum_price=0)
    assert choice.slots
    assert all(slot.price >= 0 for slot in choice.slots)
    best = min(
        (
            brute_continuous(run, run[0].start, run[-1].end, 2)
            for run in (
                [p for p in prices if p.end <= local(NEGATIVE_NIGHT, 3)],
                [p for p in prices if p.start >= local(NEGATIVE_NIGHT, 5, 30)],
            )
        ),
        key=lambda found: found[0] if found else 99,
    )
    assert best is not None
    assert choice.slots[0].start == best[1]


# Brute force over many days of both tariffs.


@pytest.mark.parametrize(
    "tariff", [TOU, AGILE, Tariff.agile_uk(seed=7)], ids=["tou", "agile", "agile7"]
)
@pytest.mark.parametrize("hours", [0.5, 1.5, 2, 3.5, 5.25])
@pytest.mark.parametrize(
    "day", ["2026-01-06", "2026-03-29", "2026-06-16", "2026-10-25"]
)
@pytest.mark.parametrize("merged", [False, True], ids=["half-hours", "periods"])
def test_continuous_equals_brute_force(
    tariff: Tariff, hours: float, day: str, merged: bool
) -> None:
    """The block's cost is the lowest of every 5-minute start (DST days included).

    As periods (touching half-hours of one price joined, as Flatpeak sends a
    time-of-use tariff), the best block often starts inside one.
    """
    start, end = local(day, 20), local(day, 20) + timedelta(hours=11)
    prices = tariff_prices(tariff, start, end)
    if merged:
        prices = list(merge(prices))
    choice = choose_window(prices, start, end, hours, continuous=True)
    best = brute_continuous(prices, start, end, hours)
    assert best is not None
    assert choice.slots[0].start == best[1]
    assert choice.average_price == pytest.approx(best[0] / hours)
    assert choice.hours == pytest.approx(hours)


@pytest.mark.parametrize("tariff", [TOU, AGILE], ids=["tou", "agile"])
@pytest.mark.parametrize("hours", [1, 2.5])
def test_cheapest_equals_brute_force(tariff: Tariff, hours: float) -> None:
    """The cheapest half-hours cost the least of every combination (6 hours)."""
    start, end = local("2026-06-16", 0), local("2026-06-16", 6)
    prices = tariff_prices(tariff, start, end)
    choice = choose_window(prices, start, end, hours, continuous=False)
    assert choice.average_price is not None
    assert choice.average_price * hours == pytest.approx(brute_cheapest(prices, hours))


# Charge plans.


def test_charge_on_time_of_use() -> None:
    """20 kWh at 7 kW from 20:00 to 07:00: all in the 0.07 night from 00:30.

    20 / 7 = 2 h 51 m 25.7 s from 00:30; 20 x 0.07 = 1.40. Straight away it would
    be 20:00-22:51 at 0.25 = 5.00.
    """
    start, end = local(DAY, 20), local("2026-06-16", 7)
    prices = tariff_prices(TOU, start, end)
    steps = plan_charge(prices, start, end, 20, 7)
    assert steps[0].start == local("2026-06-16", 0, 30)
    assert steps[-1].end == local("2026-06-16", 0, 30) + timedelta(hours=20 / 7)
    assert sum(step.energy_kwh for step in steps) == pytest.approx(20)
    assert cost_of(steps) == pytest.approx(1.40)
    ((run_start, run_end, run_energy),) = runs_of(steps)
    assert (run_start, run_end) == (steps[0].start, steps[-1].end)
    assert run_energy == pytest.approx(20)
    now = charge_now(prices, start, 20, 7)
    assert cost_of(now) == pytest.approx(5.00)
    assert now[-1].end == start + timedelta(hours=20 / 7)


@pytest.mark.parametrize(
    ("tariff", "day"),
    [(TOU, DAY), (AGILE, "2026-06-16"), (AGILE, NEGATIVE_NIGHT), (TOU, "2026-10-25")],
    ids=["tou", "agile", "negative", "dst"],
)
@pytest.mark.parametrize(("energy", "power"), [(3.0, 7.0), (10.0, 3.6), (5.5, 2.2)])
def test_charge_equals_brute_force(
    tariff: Tariff, day: str, energy: float, power: float
) -> None:
    """The plan costs the least of every set of periods (5 hours: 10 periods)."""
    start = local(day, 1)
    end = start + timedelta(hours=5)
    prices = tariff_prices(tariff, start, end)
    steps = plan_charge(prices, start, end, energy, power)
    assert sum(step.energy_kwh for step in steps) == pytest.approx(energy)
    assert all(
        step.energy_kwh <= (step.end - step.start).total_seconds() / 3600 * power + 1e-9
        for step in steps
    )
    assert cost_of(steps) == pytest.approx(brute_charge(prices, energy, power))


def test_charge_refuses_what_cannot_fit() -> None:
    """More energy than the window holds at that power, or nothing to charge."""
    start, end = local(DAY, 1), local(DAY, 3)
    prices = tariff_prices(TOU, start, end)
    assert charge_capacity(prices, start, end, 7) == 14
    with pytest.raises(PlanError):
        plan_charge(prices, start, end, 14.5, 7)
    with pytest.raises(PlanError):
        plan_charge(prices, start, end, 0, 7)
    # Only the priced part counts: a gap holds no charge.
    gappy = [p for p in prices if p.start != local(DAY, 2)]
    assert charge_capacity(gappy, start, end, 7) == 10.5


def test_steps_join_into_runs() -> None:
    """Touching steps are one run at full power; a break starts another."""
    t = local(DAY, 1)
    steps = [
        ChargeStep(t, t + HALF, 3.5, 0.1),
        ChargeStep(t + HALF, t + 2 * HALF, 3.5, 0.2),
        ChargeStep(t + 3 * HALF, t + 4 * HALF, 3.5, 0.1),
    ]
    assert runs_of(steps) == [(t, t + 2 * HALF, 7.0), (t + 3 * HALF, t + 4 * HALF, 3.5)]


# Periods as Flatpeak may send them.


def test_normalize_drops_repeats_and_resolves_overlaps() -> None:
    """A repeated period counts once; a later-starting one takes over from its start."""
    t = local(DAY, 0)
    a = Price(t, t + 4 * HALF, 0.2)
    b = Price(t + 4 * HALF, t + 6 * HALF, 0.3)
    assert normalize([b, a, a, b]) == [a, b]
    inside = Price(t + HALF, t + 2 * HALF, 0.1)
    assert normalize([a, inside]) == [
        Price(t, t + HALF, 0.2),
        inside,
        Price(t + 2 * HALF, t + 4 * HALF, 0.2),
    ]
    late = Price(t + 3 * HALF, t + 5 * HALF, 0.5)
    assert normalize([a, late, b]) == [
        Price(t, t + 3 * HALF, 0.2),
        Price(t + 3 * HALF, t + 4 * HALF, 0.5),
        Price(t + 4 * HALF, t + 6 * HALF, 0.3),
    ]
    assert normalize([Price(t, t, 1.0)]) == []
    # Repeats do not count twice: 1 h anywhere in a repeated hour is that hour.
    choice = choose_window([a, a], t, t + 4 * HALF, 1, continuous=False)
    assert choice.hours == 1


def test_coverage_and_merging() -> None:
    """How far prices reach without a gap; touching spans of one price merge."""
    t = local(DAY, 0)
    prices = [Price(t, t + HALF, 0.1), Price(t + HALF, t + 2 * HALF, 0.1)]
    assert covered_until(prices, t) == t + 2 * HALF
    assert covered_until(prices, t - HALF) == t - HALF
    assert covers(prices, t, t + 2 * HALF)
    assert not covers(prices, t, t + 3 * HALF)
    assert merge(prices) == (Price(t, t + 2 * HALF, 0.1),)
    assert average_price([]) is None
    choice = Choice(merge(prices), 0.1)
    assert choice.active_at(t + HALF) == Price(t, t + 2 * HALF, 0.1)
    assert choice.active_at(t + 2 * HALF) is None
    assert choice.next_start(t - HALF) == t
    assert choice.next_start(t) is None
    assert choice.next_end(t) == t + 2 * HALF
    assert choose_window(prices, t, t + HALF, 0, continuous=True) == Choice()
