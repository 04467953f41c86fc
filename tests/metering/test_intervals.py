"""Interval maths: statistic rows → interval energies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from custom_components.flatpeak.metering import (
    IntervalEnergy,
    StatisticRow,
    SumAnchor,
    align_down,
    align_up,
    anchor_before,
    compute_intervals,
    iter_boundaries,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

T0 = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    """Return T0 + minutes."""
    return T0 + timedelta(minutes=minutes)


def five_minute_rows(
    start_minute: int, sums: Sequence[float | None]
) -> list[StatisticRow]:
    """Build 5-minute rows from `start_minute`; None = no row (unavailable)."""
    return [
        StatisticRow(at(start_minute + 5 * i), at(start_minute + 5 * i + 5), value)
        for i, value in enumerate(sums)
        if value is not None
    ]


def energies(intervals: tuple[IntervalEnergy, ...]) -> list[tuple[int, int, int]]:
    """(start minute, end minute, Wh) of each interval, relative to T0."""
    return [
        (
            int((i.start - T0).total_seconds()) // 60,
            int((i.end - T0).total_seconds()) // 60,
            i.energy_wh,
        )
        for i in intervals
    ]


@pytest.mark.parametrize(
    ("minutes", "when", "down", "up"),
    [
        (5, datetime(2025, 1, 1, 10, 7, 30, tzinfo=UTC), (10, 5), (10, 10)),
        (15, datetime(2025, 1, 1, 10, 29, 59, tzinfo=UTC), (10, 15), (10, 30)),
        (30, datetime(2025, 1, 1, 10, 30, tzinfo=UTC), (10, 30), (10, 30)),
        (60, datetime(2025, 1, 1, 10, 0, 1, tzinfo=UTC), (10, 0), (11, 0)),
    ],
)
def test_alignment(
    minutes: int, when: datetime, down: tuple[int, int], up: tuple[int, int]
) -> None:
    """Boundaries are multiples of the interval in UTC."""
    assert align_down(when, minutes) == datetime(2025, 1, 1, *down, tzinfo=UTC)
    assert align_up(when, minutes) == datetime(2025, 1, 1, *up, tzinfo=UTC)


def test_alignment_is_utc_for_offset_times() -> None:
    """An India (+05:30) time aligns to UTC hours, not local ones."""
    local = datetime(2025, 1, 1, 10, 45, tzinfo=UTC).astimezone(
        datetime.fromisoformat("2025-01-01T00:00:00+05:30").tzinfo
    )
    assert align_down(local, 60) == datetime(2025, 1, 1, 10, 0, tzinfo=UTC)


def test_alignment_refuses_odd_interval() -> None:
    """Only intervals dividing an hour are allowed."""
    with pytest.raises(ValueError, match="7 minutes"):
        align_down(T0, 7)


def test_iter_boundaries() -> None:
    """Both ends included when aligned."""
    assert list(iter_boundaries(at(3), at(45), 15)) == [at(15), at(30), at(45)]


def test_simple_thirty_minute_intervals() -> None:
    """Energy = sum at end - sum at start, rounded to Wh."""
    rows = five_minute_rows(0, [10.1, 10.2, 10.3, 10.4, 10.5, 10.6] * 1)
    rows += five_minute_rows(30, [10.7, 10.8, 10.9, 11.0, 11.1, 11.25])
    window = compute_intervals(
        rows,
        start=T0,
        complete_until=at(60),
        interval_minutes=30,
        anchor=SumAnchor(T0, 10.0),
    )
    assert energies(window.intervals) == [(0, 30, 600), (30, 60, 650)]
    assert window.high_water == at(60)
    assert window.anchor == SumAnchor(at(60), 11.25)


@pytest.mark.parametrize("minutes", [5, 15, 30, 60])
def test_alignment_for_each_interval(minutes: int) -> None:
    """Every choice gives contiguous aligned intervals with the same total."""
    # 1 kWh per 5 minutes for one hour.
    rows = five_minute_rows(0, [float(i + 1) for i in range(12)])
    window = compute_intervals(
        rows,
        start=T0,
        complete_until=at(60),
        interval_minutes=minutes,
        anchor=SumAnchor(T0, 0.0),
    )
    assert len(window.intervals) == 60 // minutes
    assert all(i.energy_wh == 1000 * minutes // 5 for i in window.intervals)
    assert [i.start for i in window.intervals] == [
        at(k * minutes) for k in range(60 // minutes)
    ]


def test_meter_reset_and_unit_change_need_nothing_special() -> None:
    """HA's sum keeps growing over a reset and is read in kWh whatever the unit."""
    # The meter reset to 0 at 12:10 and the sensor switched Wh→kWh at 12:20: HA's sum
    # just keeps growing; these are the sums the recorder returns in kWh.
    rows = five_minute_rows(0, [100.5, 100.9, 101.2, 101.2, 101.7, 102.0])
    window = compute_intervals(
        rows,
        start=T0,
        complete_until=at(30),
        interval_minutes=15,
        anchor=SumAnchor(T0, 100.0),
    )
    assert energies(window.intervals) == [(0, 15, 1200), (15, 30, 800)]


def test_unavailable_hour_is_carried_to_next_interval_with_data() -> None:
    """No rows for 13:00-14:00: no record, its energy lands in 14:00-14:30."""
    rows = five_minute_rows(0, [1.0] * 5 + [1.5])  # 12:00-12:30
    rows += five_minute_rows(30, [2.0] * 6)  # 12:30-13:00
    # 13:00-14:00 unavailable; when it came back HA added the whole growth.
    rows += five_minute_rows(120, [7.0, 7.1, 7.2, 7.3, 7.4, 7.5])
    window = compute_intervals(
        rows,
        start=T0,
        complete_until=at(150),
        interval_minutes=30,
        anchor=SumAnchor(T0, 0.5),
    )
    assert energies(window.intervals) == [
        (0, 30, 1000),
        (30, 60, 500),
        (120, 150, 5500),
    ]
    # Total sent equals HA's growth over the window (7.5 - 0.5 kWh).
    assert sum(i.energy_wh for i in window.intervals) == 7000
    assert window.high_water == at(150)


def test_trailing_gap_advances_high_water_and_keeps_anchor() -> None:
    """A gap at the end is skipped now and its energy goes into a later run."""
    rows = five_minute_rows(0, [1.0] * 6)
    first = compute_intervals(
        rows,
        start=T0,
        complete_until=at(90),
        interval_minutes=30,
        anchor=SumAnchor(T0, 0.0),
    )
    assert energies(first.intervals) == [(0, 30, 1000)]
    assert first.high_water == at(90)
    assert first.anchor == SumAnchor(at(30), 1.0)
    second = compute_intervals(
        five_minute_rows(90, [4.0] * 6),
        start=first.high_water,
        complete_until=at(120),
        interval_minutes=30,
        anchor=first.anchor,
    )
    assert energies(second.intervals) == [(90, 120, 3000)]


def test_incomplete_interval_waits() -> None:
    """Rows of an interval not fully compiled are left for the next run."""
    rows = five_minute_rows(0, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
    window = compute_intervals(
        rows,
        start=T0,
        complete_until=at(42),  # compiled up to 12:40: 12:30-13:00 is not complete
        interval_minutes=30,
        anchor=SumAnchor(T0, 0.0),
    )
    assert energies(window.intervals) == [(0, 30, 6000)]
    assert window.high_water == at(30)
    assert window.anchor == SumAnchor(at(30), 6.0)


def test_nothing_complete_yet() -> None:
    """complete_until before the first boundary: nothing, high water unchanged."""
    window = compute_intervals(
        five_minute_rows(0, [1.0]),
        start=T0,
        complete_until=at(5),
        interval_minutes=30,
        anchor=None,
    )
    assert window.intervals == ()
    assert window.high_water == T0
    assert window.anchor is None


def test_hourly_rows_give_hourly_records() -> None:
    """Where only hourly statistics remain, records are hourly even for 15 minutes."""
    hourly = [
        StatisticRow(at(0), at(60), 3.0),
        StatisticRow(at(60), at(120), 5.5),
    ]
    # Short-term statistics exist again from 14:00.
    short = five_minute_rows(120, [5.6, 5.7, 5.8])
    window = compute_intervals(
        hourly + short,
        start=T0,
        complete_until=at(135),
        interval_minutes=15,
        anchor=SumAnchor(T0, 1.0),
    )
    assert energies(window.intervals) == [
        (0, 60, 2000),
        (60, 120, 2500),
        (120, 135, 300),
    ]


def test_hourly_row_crossing_the_start() -> None:
    """A high-water mark inside a purged hour: the hour's rest goes to its end."""
    window = compute_intervals(
        [StatisticRow(at(0), at(60), 3.0), StatisticRow(at(60), at(120), 4.0)],
        start=at(30),
        complete_until=at(120),
        interval_minutes=30,
        anchor=SumAnchor(at(30), 2.4),
    )
    assert energies(window.intervals) == [(30, 60, 600), (60, 120, 1000)]


def test_no_anchor_first_data_only_sets_baseline() -> None:
    """Without a baseline the first interval with data is not guessed."""
    rows = five_minute_rows(0, [5000.0] * 6 + [5001.0] * 6)
    window = compute_intervals(
        rows,
        start=T0,
        complete_until=at(60),
        interval_minutes=30,
        anchor=None,
    )
    assert energies(window.intervals) == [(30, 60, 1000)]


def test_negative_delta_is_netted_not_sent() -> None:
    """A decreasing sum (total sensor) is carried against later growth."""
    rows = five_minute_rows(0, [10.0] * 5 + [9.0])
    rows += five_minute_rows(30, [10.5] * 6)
    window = compute_intervals(
        rows,
        start=T0,
        complete_until=at(60),
        interval_minutes=30,
        anchor=SumAnchor(T0, 10.0),
    )
    assert energies(window.intervals) == [(30, 60, 500)]


def test_zero_energy_with_data_is_a_real_zero() -> None:
    """A measured zero is sent (unlike missing data)."""
    window = compute_intervals(
        five_minute_rows(0, [3.0] * 6),
        start=T0,
        complete_until=at(30),
        interval_minutes=30,
        anchor=SumAnchor(T0, 3.0),
    )
    assert energies(window.intervals) == [(0, 30, 0)]


def test_wh_rounding_does_not_accumulate() -> None:
    """Sums are rounded at boundaries, so records add up to the rounded total."""
    sums = [0.0004 * (i + 1) for i in range(12)]  # 0.4 Wh per 5 minutes
    window = compute_intervals(
        five_minute_rows(0, sums),
        start=T0,
        complete_until=at(60),
        interval_minutes=5,
        anchor=SumAnchor(T0, 0.0),
    )
    assert sum(i.energy_wh for i in window.intervals) == 5  # round(4.8 Wh)
    assert [i.energy_wh for i in window.intervals][:4] == [0, 1, 0, 1]


def test_dst_change_day_in_london() -> None:
    """30 Mar 2025: 01:00 GMT → 02:00 BST; UTC intervals stay 30 minutes."""
    start = datetime(2025, 3, 30, 0, 0, tzinfo=UTC)  # 00:00 GMT
    rows = [
        StatisticRow(
            start + timedelta(minutes=5 * i),
            start + timedelta(minutes=5 * i + 5),
            0.1 * (i + 1),
        )
        for i in range(36)  # 00:00-03:00 UTC = 00:00 GMT - 04:00 BST
    ]
    window = compute_intervals(
        rows,
        start=start,
        complete_until=start + timedelta(hours=3),
        interval_minutes=30,
        anchor=SumAnchor(start, 0.0),
    )
    assert len(window.intervals) == 6
    assert all(i.minutes == 30 for i in window.intervals)
    assert all(i.energy_wh == 600 for i in window.intervals)
    # The local clock skipped an hour; the record of 01:00 UTC starts at 02:00 BST.
    assert window.intervals[2].start == datetime(2025, 3, 30, 1, 0, tzinfo=UTC)


def test_anchor_before() -> None:
    """The sum at an instant is the last row ending at or before it."""
    rows = five_minute_rows(0, [1.0, 2.0, 3.0])
    assert anchor_before(rows, at(12)) == SumAnchor(at(10), 2.0)
    assert anchor_before(rows, at(4)) is None


def test_row_open_at_the_last_boundary_holds_it_back() -> None:
    """A boundary inside a row cannot be observed: stop before the row."""
    rows = [StatisticRow(at(0), at(60), 3.0)]
    window = compute_intervals(
        rows,
        start=at(30),
        complete_until=at(45),
        interval_minutes=15,
        anchor=SumAnchor(at(30), 2.0),
    )
    assert window.intervals == ()
    assert window.high_water == at(30)
    inconsistent = compute_intervals(
        [*five_minute_rows(0, [1.0] * 6), StatisticRow(at(30), at(90), 2.0)],
        start=T0,
        complete_until=at(60),
        interval_minutes=30,
        anchor=SumAnchor(T0, 0.0),
    )
    assert energies(inconsistent.intervals) == [(0, 30, 1000)]
    assert inconsistent.high_water == at(30)
