"""Pricing maths, hand-checked."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from flatpeak_sandbox import Tariff, TouPeriod
from flatpeak_sandbox.costs import next_update
from flatpeak_sandbox.tariff import energy_cost, energy_wh, price_segments

LONDON = ZoneInfo("Europe/London")
DEMO = Tariff.demo_uk()


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_demo_tariff_prices() -> None:
    """Winter: local = UTC; summer: local = UTC+1."""
    assert DEMO.price_at(_utc(2024, 1, 10, 0, 29), "IMPORT") == 0.25
    assert DEMO.price_at(_utc(2024, 1, 10, 0, 30), "IMPORT") == 0.07
    assert DEMO.price_at(_utc(2024, 1, 10, 4, 29), "IMPORT") == 0.07
    assert DEMO.price_at(_utc(2024, 1, 10, 4, 30), "IMPORT") == 0.25
    assert DEMO.price_at(_utc(2024, 1, 10, 16, 0), "IMPORT") == 0.35
    assert DEMO.price_at(_utc(2024, 1, 10, 19, 0), "IMPORT") == 0.25
    # 15:30 UTC in July is 16:30 BST: peak.
    assert DEMO.price_at(_utc(2024, 7, 10, 15, 30), "IMPORT") == 0.35
    assert DEMO.price_at(_utc(2024, 7, 10, 15, 30), "EXPORT") == 0.15
    assert DEMO.price_at(_utc(2024, 7, 10, 15, 30), "local") == 0.0
    with pytest.raises(ValueError, match="direction"):
        DEMO.price_at(_utc(2024, 7, 10), "SIDEWAYS")


def test_period_wrapping_midnight() -> None:
    """A period whose end is before its start spans midnight."""
    tariff = Tariff(import_periods=(TouPeriod(time(23), time(7), 0.1),))
    assert tariff.price_at(_utc(2024, 1, 1, 23, 30), "IMPORT") == 0.1
    assert tariff.price_at(_utc(2024, 1, 1, 6, 59), "IMPORT") == 0.1
    assert tariff.price_at(_utc(2024, 1, 1, 7), "IMPORT") == 0.25


def test_one_kwh_from_four_to_five_local() -> None:
    """1 kWh 04:00-05:00 local costs 0.5 x 0.07 + 0.5 x 0.25."""
    start = datetime(2024, 1, 10, 4, tzinfo=LONDON)
    cost = energy_cost(DEMO, "IMPORT", start, start + timedelta(hours=1), 1000)
    assert cost == pytest.approx(0.5 * 0.07 + 0.5 * 0.25)
    # Same wall-clock hour in summer (03:00-04:00 UTC).
    start = datetime(2024, 7, 10, 4, tzinfo=LONDON)
    cost = energy_cost(DEMO, "IMPORT", start, start + timedelta(hours=1), 1000)
    assert cost == pytest.approx(0.16)


def test_spring_forward_day() -> None:
    """31 March 2024 has 23 hours; the cheap period still starts at 00:30 local."""
    start = datetime(2024, 3, 31, tzinfo=LONDON)
    end = datetime(2024, 4, 1, tzinfo=LONDON)
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=23)
    segments = price_segments(DEMO, "IMPORT", start, end)
    assert [(s.start, s.price) for s in segments] == [
        (_utc(2024, 3, 31, 0, 0), 0.25),
        (_utc(2024, 3, 31, 0, 30), 0.07),
        (_utc(2024, 3, 31, 3, 30), 0.25),  # 04:30 BST
        (_utc(2024, 3, 31, 15, 0), 0.35),
        (_utc(2024, 3, 31, 18, 0), 0.25),
    ]
    # 23 kWh over the 23-hour day: 1 kWh per hour.
    # Cheap: 00:30 GMT..03:30 UTC = 3 h; peak 3 h; standard 17 h.
    cost = energy_cost(DEMO, "IMPORT", start, end, 23_000)
    assert cost == pytest.approx(3 * 0.07 + 3 * 0.35 + 17 * 0.25)


def test_record_across_autumn_change() -> None:
    """A record spanning 00:00-03:00 local on 27 Oct 2024 (25-hour day) is 4 hours."""
    start = datetime(2024, 10, 27, tzinfo=LONDON)
    end = datetime(2024, 10, 27, 3, tzinfo=LONDON)
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=4)
    # 00:00-00:30 BST standard (0.5 h), 00:30 BST .. 03:00 GMT cheap (3.5 h).
    cost = energy_cost(DEMO, "IMPORT", start, end, 4000)
    assert cost == pytest.approx(0.5 * 0.25 + 3.5 * 0.07)


def test_ambiguous_boundary_both_folds() -> None:
    """A period starting at 01:30 local starts at both 01:30 of the repeated hour."""
    tariff = Tariff(import_periods=(TouPeriod(time(1, 30), time(2), 0.1),))
    start = _utc(2024, 10, 27, 0, 0)  # 01:00 BST
    end = _utc(2024, 10, 27, 2, 0)  # 02:00 GMT
    segments = price_segments(tariff, "IMPORT", start, end)
    assert [(s.start, s.end, s.price) for s in segments] == [
        (_utc(2024, 10, 27, 0, 0), _utc(2024, 10, 27, 0, 30), 0.25),
        (_utc(2024, 10, 27, 0, 30), _utc(2024, 10, 27, 1, 0), 0.1),
        (_utc(2024, 10, 27, 1, 0), _utc(2024, 10, 27, 1, 30), 0.25),
        (_utc(2024, 10, 27, 1, 30), _utc(2024, 10, 27, 2, 0), 0.1),
    ]


def test_flat_directions_and_empty() -> None:
    """Export and local are flat; an empty interval has no segments or cost."""
    start = _utc(2024, 1, 1)
    segments = price_segments(DEMO, "EXPORT", start, start + timedelta(days=2))
    assert len(segments) == 1
    assert segments[0].price == 0.15
    assert price_segments(DEMO, "IMPORT", start, start) == []
    assert energy_cost(DEMO, "IMPORT", start, start, 100) == 0.0


def test_unit_conversion() -> None:
    """W and KW are constant power over the interval."""
    start = _utc(2022, 2, 1, 10, 30)
    end = _utc(2022, 2, 1, 11)
    assert energy_wh("W", 20567, start, end) == pytest.approx(10283.5)
    assert energy_wh("KW", 2, start, end) == pytest.approx(1000)
    assert energy_wh("WH", 5, start, end) == 5
    assert energy_wh("KWH", 1.5, start, end) == 1500
    with pytest.raises(ValueError, match="units"):
        energy_wh("kWh", 1, start, end)


def test_tariff_dict_round_trip() -> None:
    """to_dict/from_dict round-trip with kind and seed; bad input raises."""
    assert Tariff.from_dict(DEMO.to_dict()) == DEMO
    assert DEMO.to_dict()["kind"] == "tou"
    assert DEMO.to_dict()["seed"] == 0
    agile = Tariff.agile_uk(seed=42)
    assert agile.to_dict()["kind"] == "agile"
    assert agile.to_dict()["seed"] == 42
    assert Tariff.from_dict(agile.to_dict()) == agile
    assert Tariff.from_dict({}) == Tariff()
    # A dict written before tariff kinds existed is a time-of-use tariff.
    old = {k: v for k, v in DEMO.to_dict().items() if k not in ("kind", "seed")}
    assert Tariff.from_dict(old) == DEMO
    assert Tariff.from_dict(old).kind == "tou"
    with pytest.raises(TypeError):
        Tariff.from_dict([])
    with pytest.raises(ValueError, match="unknown timezone"):
        Tariff.from_dict({"timezone": "Mars/Olympus"})
    with pytest.raises(ValueError, match="kind must be one of tou, agile"):
        Tariff.from_dict({"kind": "spot"})
    with pytest.raises(ValueError, match="kind must be one of"):
        Tariff(kind="spot")  # type: ignore[arg-type]
    for seed in ("7", 1.5, True, None):
        with pytest.raises(TypeError, match="seed must be an integer"):
            Tariff.from_dict({"kind": "agile", "seed": seed})


def test_next_update_is_next_local_1600() -> None:
    """next_update: the next 16:00 local strictly after now (BST and GMT)."""
    london = "Europe/London"
    assert next_update(_utc(2024, 7, 1, 12), london) == _utc(2024, 7, 1, 15)
    assert next_update(_utc(2024, 7, 1, 14, 59), london) == _utc(2024, 7, 1, 15)
    assert next_update(_utc(2024, 7, 1, 15), london) == _utc(2024, 7, 2, 15)
    assert next_update(_utc(2024, 7, 1, 22), london) == _utc(2024, 7, 2, 15)
    assert next_update(_utc(2024, 1, 1, 15, 59), london) == _utc(2024, 1, 1, 16)
    assert next_update(_utc(2024, 1, 1, 16), london) == _utc(2024, 1, 2, 16)
    assert next_update(_utc(2024, 1, 1, 23, 5), london) == _utc(2024, 1, 2, 16)
    # Across the changes: 16:00 GMT before, 16:00 BST after (and back).
    assert next_update(_utc(2026, 3, 28, 16, 30), london) == _utc(2026, 3, 29, 15)
    assert next_update(_utc(2026, 10, 24, 15, 30), london) == _utc(2026, 10, 25, 16)
    assert next_update(_utc(2024, 7, 1, 12), "Europe/Paris") == _utc(2024, 7, 1, 14)
