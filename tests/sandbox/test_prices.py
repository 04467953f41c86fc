"""POST /prices: what is published when, next_update, and costs at those prices.

No test reads the wall clock: each sets the sandbox's ``clock``.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from flatpeak_sandbox import Tariff
from flatpeak_sandbox.costs import published_until

from .helpers import Api, record

HALF_HOUR = timedelta(minutes=30)
AGILE = Tariff.agile_uk()


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _z(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _set_clock(api: Api, now: str) -> None:
    when = _utc(now)
    api.server.sandbox.clock = lambda: when


def _loc(api: Api) -> str:
    loc = api.server.sandbox.demo_location_id
    assert loc is not None
    return loc


async def _prices(
    api: Api, start: str | None, end: str, direction: str = "IMPORT"
) -> dict[str, Any]:
    body = {"end_time": end, "tariff_direction": direction}
    if start is not None:
        body["start_time"] = start
    status, answer = await api.call("POST", f"/prices/{_loc(api)}", json=body)
    assert status == 200, answer
    return dict(answer)


def _rows(answer: dict[str, Any]) -> list[tuple[datetime, datetime, float]]:
    return [
        (_utc(r["valid_from"]), _utc(r["valid_to"]), r["price"]["value"])
        for r in answer["data"]
    ]


# (now, published until, next_update), Europe/London.
HORIZONS = [
    # Summer (BST): before / at / after 16:00 local.
    ("2026-06-15T14:59:59Z", "2026-06-15T23:00:00Z", "2026-06-15T15:00:00Z"),
    ("2026-06-15T15:00:00Z", "2026-06-16T23:00:00Z", "2026-06-16T15:00:00Z"),
    ("2026-06-15T23:30:00Z", "2026-06-16T23:00:00Z", "2026-06-16T15:00:00Z"),
    # Winter (GMT).
    ("2026-01-10T15:59:00Z", "2026-01-11T00:00:00Z", "2026-01-10T16:00:00Z"),
    ("2026-01-10T16:00:00Z", "2026-01-12T00:00:00Z", "2026-01-11T16:00:00Z"),
    # 29 March 2026, clocks go forward at 01:00 UTC (a 23-hour day).
    ("2026-03-28T16:30:00Z", "2026-03-29T23:00:00Z", "2026-03-29T15:00:00Z"),
    ("2026-03-29T00:30:00Z", "2026-03-29T23:00:00Z", "2026-03-29T15:00:00Z"),
    ("2026-03-29T10:00:00Z", "2026-03-29T23:00:00Z", "2026-03-29T15:00:00Z"),
    ("2026-03-29T15:30:00Z", "2026-03-30T23:00:00Z", "2026-03-30T15:00:00Z"),
    # 25 October 2026, clocks go back at 01:00 UTC (a 25-hour day).
    ("2026-10-24T14:59:00Z", "2026-10-24T23:00:00Z", "2026-10-24T15:00:00Z"),
    ("2026-10-24T15:30:00Z", "2026-10-26T00:00:00Z", "2026-10-25T16:00:00Z"),
    ("2026-10-25T00:30:00Z", "2026-10-26T00:00:00Z", "2026-10-25T16:00:00Z"),
    ("2026-10-25T15:59:59Z", "2026-10-26T00:00:00Z", "2026-10-25T16:00:00Z"),
    ("2026-10-25T16:00:00Z", "2026-10-27T00:00:00Z", "2026-10-26T16:00:00Z"),
]


@pytest.mark.parametrize(("now", "until", "update"), HORIZONS)
def test_published_until(now: str, until: str, update: str) -> None:
    """Agile: today before 16:00 local, tomorrow from 16:00; tou: no end."""
    assert published_until(AGILE, _utc(now), "Europe/London") == _utc(until)
    assert published_until(Tariff.demo_uk(), _utc(now), "Europe/London") is None


@pytest.mark.sandbox(tariff=AGILE)
@pytest.mark.parametrize(("now", "until", "update"), HORIZONS)
async def test_agile_publishing_horizon(
    api: Api, now: str, until: str, update: str
) -> None:
    """Data stops at the horizon; rows are half-hours at the tariff's prices."""
    _set_clock(api, now)
    start = _utc(now).replace(minute=0, second=0) - timedelta(days=2)
    answer = await _prices(api, _z(start), _z(start + timedelta(days=5)))
    assert answer["next_update"] == update
    assert answer["last_updated"] == now
    assert answer["location_timezone"] == "Europe/London"
    assert answer["request"]["end_time"] == _z(start + timedelta(days=5))
    rows = _rows(answer)
    assert rows[0][0] == start
    assert rows[-1][1] == _utc(until)
    covered = timedelta()
    for valid_from, valid_to, price in rows:
        assert valid_from.minute in (0, 30)
        assert valid_to.minute in (0, 30)
        assert price == AGILE.price_at(valid_from, "IMPORT")
        covered += valid_to - valid_from
    assert covered == _utc(until) - start
    for before, after in itertools.pairwise(rows):
        assert before[1] == after[0]
        assert before[2] != after[2]
    assert {r["price"]["confidence"] for r in answer["data"]} == {1.0}


@pytest.mark.sandbox(tariff=AGILE)
async def test_agile_window_beyond_horizon_is_empty(api: Api) -> None:
    """A window past what is published: 200 with empty data, until 16:00."""
    _set_clock(api, "2026-06-15T10:00:00Z")  # 11:00 BST
    tomorrow = ("2026-06-15T23:00:00Z", "2026-06-16T23:00:00Z")
    answer = await _prices(api, *tomorrow)
    assert answer["data"] == []
    assert answer["request"] == {
        "tariff_direction": "IMPORT",
        "start_time": tomorrow[0],
        "end_time": tomorrow[1],
    }
    assert answer["next_update"] == "2026-06-15T15:00:00Z"
    # Export (flat) is published to the same horizon.
    assert (await _prices(api, *tomorrow, direction="EXPORT"))["data"] == []
    today = await _prices(api, "2026-06-15T12:00:00Z", "2026-06-16T12:00:00Z", "EXPORT")
    assert _rows(today) == [
        (_utc("2026-06-15T12:00:00Z"), _utc("2026-06-15T23:00:00Z"), 0.15)
    ]
    # At 16:00 BST tomorrow is published: 48 half-hours (fewer if equal ones merge).
    _set_clock(api, "2026-06-15T15:00:00Z")
    rows = _rows(await _prices(api, *tomorrow))
    assert (rows[0][0], rows[-1][1]) == (_utc(tomorrow[0]), _utc(tomorrow[1]))
    assert 40 < len(rows) <= 48
    # The day after tomorrow is not.
    answer = await _prices(api, "2026-06-17T00:00:00Z", "2026-06-18T00:00:00Z")
    assert answer["data"] == []
    # A window in the past is published whole.
    rows = _rows(await _prices(api, "2026-06-01T00:00:00Z", "2026-06-01T02:00:00Z"))
    assert [r[0] for r in rows] == [
        _utc("2026-06-01T00:00:00Z") + i * HALF_HOUR for i in range(4)
    ]
    # More than 90 days is still an error, published or not.
    status, answer = await api.call(
        "POST",
        f"/prices/{_loc(api)}",
        json={"start_time": "2026-06-01T00:00:00Z", "end_time": "2026-09-01T00:00:00Z"},
    )
    assert status == 400
    assert answer["code"] == "time_range_invalid"


@pytest.mark.sandbox(tariff=AGILE)
async def test_agile_default_start_is_now(api: Api) -> None:
    """Without start_time the series starts at the sandbox's now."""
    _set_clock(api, "2026-01-10T09:10:00Z")
    answer = await _prices(api, None, "2026-01-12T00:00:00Z")
    rows = _rows(answer)
    assert answer["request"]["start_time"] == "2026-01-10T09:10:00Z"
    assert rows[0][:2] == (_utc("2026-01-10T09:10:00Z"), _utc("2026-01-10T09:30:00Z"))
    assert rows[-1][1] == _utc("2026-01-11T00:00:00Z")


async def test_tou_published_whole_window(api: Api) -> None:
    """Time-of-use: the whole allowed window is published; next_update 16:00."""
    _set_clock(api, "2026-06-15T10:05:00Z")
    answer = await _prices(api, "2026-06-15T00:00:00Z", "2026-09-12T00:00:00Z")
    rows = _rows(answer)
    assert answer["next_update"] == "2026-06-15T15:00:00Z"
    assert (rows[0][0], rows[-1][1]) == (
        _utc("2026-06-15T00:00:00Z"),
        _utc("2026-09-12T00:00:00Z"),
    )
    # Unchanged time-of-use rows: 00:30-04:30 and 16:00-19:00 BST.
    day = _rows(await _prices(api, "2026-09-01T23:00:00Z", "2026-09-02T23:00:00Z"))
    assert [(_z(a), p) for a, _, p in day] == [
        ("2026-09-01T23:00:00Z", 0.25),
        ("2026-09-01T23:30:00Z", 0.07),
        ("2026-09-02T03:30:00Z", 0.25),
        ("2026-09-02T15:00:00Z", 0.35),
        ("2026-09-02T18:00:00Z", 0.25),
    ]
    _set_clock(api, "2026-06-15T15:00:00Z")
    answer = await _prices(api, "2026-06-15T00:00:00Z", "2026-06-16T00:00:00Z")
    assert answer["next_update"] == "2026-06-16T15:00:00Z"


async def test_clock_defaults_to_util_utcnow(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a clock the sandbox asks flatpeak_sandbox.util.utcnow at each call."""
    assert api.server.sandbox.clock is None
    monkeypatch.setattr(
        "flatpeak_sandbox.util.utcnow", lambda: _utc("2026-01-10T16:00:00.250000Z")
    )
    assert api.server.sandbox.now() == _utc("2026-01-10T16:00:00Z")
    answer = await _prices(api, None, "2026-01-11T00:00:00Z")
    assert answer["last_updated"] == "2026-01-10T16:00:00Z"
    assert answer["next_update"] == "2026-01-11T16:00:00Z"


async def test_admin_route_switches_kind(api: Api) -> None:
    """PUT /_sandbox/locations/{id}/tariff switches tou <-> agile."""
    _set_clock(api, "2026-01-11T12:00:00Z")
    loc = _loc(api)
    window = ("2026-01-10T00:00:00Z", "2026-01-11T00:00:00Z")
    assert len((await _prices(api, *window))["data"]) == 5
    status, _ = await api.admin(
        "PUT", f"/locations/{loc}/tariff", {"kind": "agile", "seed": 7}
    )
    assert status == 200
    assert api.server.sandbox.locations[loc].tariff == Tariff.agile_uk(7)
    rows = _rows(await _prices(api, *window))
    assert len(rows) > 40
    assert [p for *_, p in rows] == [
        Tariff.agile_uk(7).price_at(start, "IMPORT") for start, *_ in rows
    ]
    for body in ({"kind": "spot"}, {"kind": "agile", "seed": "7"}):
        status, answer = await api.admin("PUT", f"/locations/{loc}/tariff", body)
        assert status == 400
        assert "invalid tariff" in answer["message"]
    status, _ = await api.admin(
        "PUT", f"/locations/{loc}/tariff", Tariff.demo_uk().to_dict()
    )
    assert status == 200
    assert len((await _prices(api, *window))["data"]) == 5


@pytest.mark.sandbox(tariff=AGILE)
async def test_costs_at_published_agile_prices(api: Api) -> None:
    """Interval, instant and session costs = energy x the published price."""
    _set_clock(api, "2026-01-11T12:00:00Z")
    loc = _loc(api)
    published = {
        start: price
        for start, _, price in _rows(
            await _prices(api, "2026-01-10T00:00:00Z", "2026-01-11T00:00:00Z")
        )
    }
    p1 = published[_utc("2026-01-10T04:00:00Z")]
    p2 = published[_utc("2026-01-10T04:30:00Z")]
    assert (p1, p2) == (0.0828, 0.0893)
    status, _ = await api.call(
        "PUT",
        "/meters/interval",
        json=[
            # 1 kWh over 04:00-05:00 UTC: 0.5 kWh at each half-hour's price.
            record(
                loc,
                session_reference_id="S",
                start_time="2026-01-10T04:00:00Z",
                end_time="2026-01-10T05:00:00Z",
            ),
            # 2 kWh in one negative half-hour (a negative night).
            record(
                loc,
                value=2,
                start_time="2026-01-06T03:30:00Z",
                end_time="2026-01-06T04:00:00Z",
            ),
        ],
    )
    assert status == 200
    status, answer = await api.call(
        "POST",
        f"/costs/interval/{loc}",
        json={"start_time": "2026-01-01T00:00:00Z", "end_time": "2026-01-11T00:00:00Z"},
    )
    assert status == 200
    negative = AGILE.price_at(_utc("2026-01-06T03:30:00Z"), "IMPORT")
    assert negative == -0.0561
    assert [r["cost"]["value"] for r in answer["data"]] == [
        round(2 * negative, 5),
        round(0.5 * 0.0828 + 0.5 * 0.0893, 5),
    ]
    status, answer = await api.call("POST", "/costs/session/S")
    assert [r["cost"]["value"] for r in answer["data"]] == [0.08605]
    # Instant: 0.5 kWh over 04:15-04:45 UTC = 0.25 kWh at p1 + 0.25 kWh at p2.
    status, answer = await api.call(
        "POST",
        "/costs/instant?non_persistent=true",
        json=record(
            loc,
            value=0.5,
            start_time="2026-01-10T04:15:00Z",
            end_time="2026-01-10T04:45:00Z",
        ),
    )
    assert status == 200
    assert answer["data"]["cost"]["value"] == round(0.25 * p1 + 0.25 * p2, 5)


@pytest.mark.sandbox(tariff=AGILE)
async def test_day_of_half_hour_records_costs_sum_of_prices(api: Api) -> None:
    """1 kWh in each half-hour of 29 March 2026 (23 h) costs the sum of its prices."""
    _set_clock(api, "2026-03-30T12:00:00Z")
    loc = _loc(api)
    start, end = _utc("2026-03-29T00:00:00Z"), _utc("2026-03-29T23:00:00Z")
    starts = [start + i * HALF_HOUR for i in range(46)]
    status, _ = await api.call(
        "PUT",
        "/meters/interval",
        json=[
            record(loc, start_time=_z(t), end_time=_z(t + HALF_HOUR)) for t in starts
        ],
    )
    assert status == 200
    rows = _rows(await _prices(api, _z(start), _z(end)))
    published = sum(p * (b - a) / HALF_HOUR for a, b, p in rows)
    status, answer = await api.call(
        "POST",
        f"/costs/interval/{loc}?aggregation=DAY",
        json={"start_time": _z(start), "end_time": _z(end)},
    )
    assert status == 200
    [day] = answer["data"]
    assert day["energy"]["value"] == 46_000
    assert day["cost"]["value"] == pytest.approx(published, abs=1e-5)
    status, answer = await api.call(
        "POST",
        f"/costs/interval/{loc}",
        json={"start_time": _z(start), "end_time": _z(end)},
    )
    assert [r["cost"]["value"] for r in answer["data"]] == [
        AGILE.price_at(t, "IMPORT") for t in starts
    ]
