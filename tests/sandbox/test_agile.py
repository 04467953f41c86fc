"""The Agile-style tariff: deterministic half-hourly prices, shape, DST, costs."""

from __future__ import annotations

import hashlib
import itertools
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from flatpeak_sandbox import Tariff
from flatpeak_sandbox.tariff import (
    AGILE_BASE,
    HALF_HOUR,
    _agile_slot,
    agile_price,
    energy_cost,
    price_segments,
)

LONDON = ZoneInfo("Europe/London")
AGILE = Tariff.agile_uk()


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _local_day(day: date, zone: ZoneInfo = LONDON) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return start, end.astimezone(UTC)


def _half_hours(start: datetime, end: datetime) -> list[datetime]:
    count = int((end - start) / HALF_HOUR)
    return [start + i * HALF_HOUR for i in range(count)]


def _u(seed: int, *parts: object) -> float:
    """Return the documented uniform number: BLAKE2b-64 of ``seed:part:...``."""
    text = ":".join(str(part) for part in (seed, *parts))
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def test_prices_pinned() -> None:
    """Prices of seed 0 are fixed numbers: the same in every process and run."""
    _agile_slot.cache_clear()
    assert [
        agile_price(0, "Europe/London", _utc(t))
        for t in (
            "2026-06-16T08:00:00Z",  # 09:00 BST
            "2026-06-16T16:00:00Z",  # 17:00 BST, peak
            "2026-01-06T03:30:00Z",  # a negative night
            "2026-01-01T00:00:00Z",
        )
    ] == [0.2059, 0.3849, -0.0561, 0.1421]


def test_price_formula_by_hand() -> None:
    """One half-hour recomputed from the documented formula."""
    seed = 3
    start = _utc("2026-06-16T08:00:00Z")  # 09:00 BST: base of hour 9
    epoch = int(start.timestamp())
    assert _u(seed, "night", "2026-06-16") >= 0.25  # not a negative night
    level = 0.85 + 0.30 * _u(seed, "day", "2026-06-16")
    noise = 0.04 * (_u(seed, "slot", epoch) - 0.5)
    expected = round(AGILE_BASE[9] * level + noise, 4)
    assert AGILE_BASE[9] == 0.20
    assert agile_price(seed, "Europe/London", start) == expected
    assert Tariff.agile_uk(seed).price_at(start, "IMPORT") == expected


def test_deterministic_and_half_hourly() -> None:
    """One price per UTC half-hour, a function of seed and start only."""
    start = _utc("2026-02-10T00:00:00Z")
    slots = _half_hours(start, start + timedelta(days=7))
    first = [AGILE.price_at(t, "IMPORT") for t in slots]
    _agile_slot.cache_clear()
    again = [Tariff.agile_uk(0).price_at(t, "IMPORT") for t in slots]
    assert first == again
    # Anywhere inside a half-hour: the price of its start.
    for slot, price in zip(slots, first, strict=True):
        for offset in (timedelta(0), timedelta(minutes=17), timedelta(seconds=1799)):
            assert AGILE.price_at(slot + offset, "IMPORT") == price
    # Neighbours differ (nearly always); other seeds give other prices.
    assert len(set(first)) > 0.9 * len(first)
    other = [Tariff.agile_uk(1).price_at(t, "IMPORT") for t in slots]
    assert sum(a != b for a, b in zip(first, other, strict=True)) > 0.9 * len(slots)
    # Major units, at most 4 decimals.
    assert all(round(p, 4) == p for p in first + other)
    assert all(-0.1 < p < 0.5 for p in first + other)
    # Export and local stay flat.
    assert {AGILE.price_at(t, "EXPORT") for t in slots} == {0.15}
    assert {AGILE.price_at(t, "LOCAL") for t in slots} == {0.0}


@pytest.mark.parametrize("seed", [0, 1, 2024])
def test_shape_peak_night_and_negative_nights(seed: int) -> None:
    """Peak 16:00-19:00 local, cheapest overnight, negatives on ~1 night in 4."""
    tariff = Tariff.agile_uk(seed)
    negative: dict[date, list[datetime]] = defaultdict(list)
    day = date(2026, 1, 1)
    for _ in range(365):
        start, end = _local_day(day)
        prices = {t: tariff.price_at(t, "IMPORT") for t in _half_hours(start, end)}
        peak = {t for t in prices if 16 <= t.astimezone(LONDON).hour < 19}
        assert len(peak) == 6
        assert min(prices[t] for t in peak) > max(
            p for t, p in prices.items() if t not in peak
        )
        cheapest = min(prices, key=prices.__getitem__)
        assert cheapest.astimezone(LONDON).hour < 6
        negative[day] = [t for t, p in prices.items() if p < 0]
        day += timedelta(days=1)
    nights = {d: slots for d, slots in negative.items() if slots}
    assert 0.15 < len(nights) / 365 < 0.35
    for slots in nights.values():
        local = [t.astimezone(LONDON) for t in slots]
        assert 1 <= len(slots) <= 5
        assert all(time(1) <= t.time() < time(5, 30) for t in local)
        # One run of consecutive half-hours.
        assert slots == _half_hours(slots[0], slots[-1] + HALF_HOUR)
        assert all(-0.06 <= tariff.price_at(t, "IMPORT") <= -0.01 for t in slots)


def test_segments_split_every_half_hour_and_merge_equal_neighbours() -> None:
    """price_segments: a row per UTC half-hour, equal neighbours merged."""
    start, end = _local_day(date(2026, 1, 3))  # 03:30 and 04:00 are both 0.0972
    segments = price_segments(AGILE, "IMPORT", start, end)
    assert len(segments) == 47
    merged = [s for s in segments if s.end - s.start != HALF_HOUR]
    assert [(s.start, s.end, s.price) for s in merged] == [
        (_utc("2026-01-03T03:30:00Z"), _utc("2026-01-03T04:30:00Z"), 0.0972)
    ]
    for before, after in itertools.pairwise(segments):
        assert before.end == after.start
        assert before.price != after.price
    for segment in segments:
        assert segment.price == AGILE.price_at(segment.start, "IMPORT")
        assert segment.start.minute in (0, 30)
        assert segment.start.second == 0
    # Every equal-neighbour pair of a month is merged, nothing else is.
    month_start, month_end = _utc("2026-01-01T00:00:00Z"), _utc("2026-02-01T00:00:00Z")
    slots = _half_hours(month_start, month_end)
    prices = [AGILE.price_at(t, "IMPORT") for t in slots]
    equal = sum(a == b for a, b in itertools.pairwise(prices))
    assert equal >= 1
    month = price_segments(AGILE, "IMPORT", month_start, month_end)
    assert len(month) == len(slots) - equal
    # A window cut inside half-hours: partial first and last rows.
    cut = price_segments(
        AGILE, "IMPORT", _utc("2026-01-10T04:10:00Z"), _utc("2026-01-10T05:20:00Z")
    )
    assert [(s.start.strftime("%H:%M"), s.end.strftime("%H:%M")) for s in cut] == [
        ("04:10", "04:30"),
        ("04:30", "05:00"),
        ("05:00", "05:20"),
    ]
    # Export is flat: one row for a week.
    export = price_segments(AGILE, "EXPORT", month_start, month_start + timedelta(7))
    assert [(s.start, s.end, s.price) for s in export] == [
        (month_start, month_start + timedelta(7), 0.15)
    ]


@pytest.mark.parametrize(
    ("day", "half_hours", "peak_utc"),
    [
        (date(2026, 3, 29), 46, "15:00"),  # 23 hours; peak 16:00 BST = 15:00 UTC
        (date(2026, 10, 25), 50, "16:00"),  # 25 hours; peak 16:00 GMT
        (date(2026, 6, 16), 48, "15:00"),
        (date(2026, 1, 16), 48, "16:00"),
    ],
)
def test_dst_days(day: date, half_hours: int, peak_utc: str) -> None:
    """Half-hours stay UTC-aligned on DST days; the peak follows local time."""
    start, end = _local_day(day)
    slots = _half_hours(start, end)
    assert len(slots) == half_hours
    prices = {t: AGILE.price_at(t, "IMPORT") for t in slots}
    top = sorted(prices, key=prices.__getitem__, reverse=True)[:6]
    first_peak = datetime.combine(day, time.fromisoformat(peak_utc), tzinfo=UTC)
    assert sorted(top) == _half_hours(first_peak, first_peak + timedelta(hours=3))
    segments = price_segments(AGILE, "IMPORT", start, end)
    assert segments[0].start == start
    assert segments[-1].end == end
    assert sum((s.end - s.start for s in segments), timedelta()) == end - start
    # Energy spread over the whole day costs the mean of its half-hour prices.
    cost = energy_cost(AGILE, "IMPORT", start, end, half_hours * 1000.0)
    assert cost == pytest.approx(sum(prices.values()))


def test_repeated_local_hour_priced_per_utc_half_hour() -> None:
    """25 October 2026: 01:00-02:00 local happens twice, two prices each time."""
    first = _utc("2026-10-25T00:00:00Z")  # 01:00 BST
    second = _utc("2026-10-25T01:00:00Z")  # 01:00 GMT
    assert first.astimezone(LONDON).hour == second.astimezone(LONDON).hour == 1
    slots = _half_hours(first, second + timedelta(hours=1))
    segments = price_segments(AGILE, "IMPORT", slots[0], slots[-1] + HALF_HOUR)
    assert [s.start for s in segments] == slots
    assert [s.price for s in segments] == [0.1218, 0.14, 0.1303, 0.1218]


def test_energy_cost_by_hand() -> None:
    """1 kWh over 04:00-05:00 UTC = 0.5 kWh at each half-hour's price."""
    p1 = AGILE.price_at(_utc("2026-01-10T04:00:00Z"), "IMPORT")
    p2 = AGILE.price_at(_utc("2026-01-10T04:30:00Z"), "IMPORT")
    assert (p1, p2) == (0.0828, 0.0893)
    cost = energy_cost(
        AGILE,
        "IMPORT",
        _utc("2026-01-10T04:00:00Z"),
        _utc("2026-01-10T05:00:00Z"),
        1000,
    )
    assert cost == pytest.approx(0.5 * 0.0828 + 0.5 * 0.0893)
    # 04:15-04:45: a quarter hour in each.
    cost = energy_cost(
        AGILE, "IMPORT", _utc("2026-01-10T04:15:00Z"), _utc("2026-01-10T04:45:00Z"), 500
    )
    assert cost == pytest.approx(0.25 * 0.0828 + 0.25 * 0.0893)
