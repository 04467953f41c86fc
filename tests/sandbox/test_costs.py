"""Cost reports, instant costs and prices over HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from flatpeak_sandbox import Tariff

from .helpers import Api, record

WINDOW = {"start_time": "2024-01-01T00:00:00Z", "end_time": "2024-12-31T00:00:00Z"}


def _ids(api: Api) -> tuple[str, str]:
    sandbox = api.server.sandbox
    assert sandbox.demo_account is not None
    assert sandbox.demo_location_id is not None
    return sandbox.demo_account.account_id, sandbox.demo_location_id


async def _costs(api: Api, object_id: str, query: str = "", **body: Any) -> Any:
    status, answer = await api.call(
        "POST", f"/costs/interval/{object_id}{query}", json={**WINDOW, **body}
    )
    assert status == 200, answer
    return answer


async def test_interval_per_record(api: Api) -> None:
    """No aggregation: one row per record; the 04:00-05:00 kWh costs 0.16."""
    account_id, loc = _ids(api)
    dev = api.server.sandbox.add_device(account_id, "ev")
    await api.call(
        "PUT",
        "/meters/interval",
        json=[
            record(loc, record_reference_id="r1", session_reference_id="s1"),
            record(loc, device_id=dev, value=2),
            record(
                loc,
                tariff_direction="EXPORT",
                energy_flow_direction="OUTBOUND",
                value=2,
            ),
            record(
                loc,
                units="W",
                value=1000,
                start_time="2024-01-10T16:30:00Z",
                end_time="2024-01-10T17:30:00Z",
            ),
        ],
    )
    answer = await _costs(api, loc)
    assert answer["object"] == "energy_cost"
    assert answer["id"].startswith("ecs_")
    assert answer["object_id"] == loc
    assert answer["currency_code"] == "GBP"
    assert answer["location_timezone"] == "Europe/London"
    assert answer["energy_units"] == "WH"
    assert answer["tariff_direction"] == "IMPORT"
    assert answer["account_id"] == account_id
    assert answer["data"] == [
        {
            "start_time": "2024-01-10T04:00:00Z",
            "end_time": "2024-01-10T05:00:00Z",
            "session_reference_id": "s1",
            "record_reference_id": "r1",
            "energy": {"value": 1000.0},
            "cost": {"value": 0.16, "confidence": 1.0},
        },
        {
            "start_time": "2024-01-10T16:30:00Z",
            "end_time": "2024-01-10T17:30:00Z",
            "energy": {"value": 1000.0},
            "cost": {"value": 0.35, "confidence": 1.0},
        },
    ]
    device = await _costs(api, dev)
    assert device["object_id"] == dev
    assert [row["cost"]["value"] for row in device["data"]] == [0.32]
    export = await _costs(api, loc, "?tariff_direction=EXPORT")
    assert [row["cost"]["value"] for row in export["data"]] == [0.3]
    # tariff_direction in the body (seed 001) works too.
    export = await _costs(api, loc, tariff_direction="EXPORT")
    assert export["tariff_direction"] == "EXPORT"
    # A window cutting a record counts its part only.
    clipped = await _costs(
        api,
        loc,
        start_time="2024-01-10T04:30:00Z",
        end_time="2024-01-10T17:00:00Z",
    )
    assert [
        (r["start_time"], r["energy"]["value"], r["cost"]["value"])
        for r in clipped["data"]
    ] == [
        ("2024-01-10T04:30:00Z", 500.0, 0.125),
        ("2024-01-10T16:30:00Z", 500.0, 0.175),
    ]


async def test_month_and_day_boundaries_london(api: Api) -> None:
    """MONTH/DAY buckets follow Europe/London (BST from 31 March 2024)."""
    _, loc = _ids(api)
    await api.call(
        "PUT",
        "/meters/interval",
        json=[
            # 22:30-23:30 UTC on 31 March = 23:30-00:30 BST: half in March.
            record(
                loc,
                start_time="2024-03-31T22:30:00Z",
                end_time="2024-03-31T23:30:00Z",
            ),
            # 22:30-23:30 UTC on 1 July = 23:30-00:30 BST: half on 2 July.
            record(
                loc,
                start_time="2024-07-01T22:30:00Z",
                end_time="2024-07-01T23:30:00Z",
            ),
        ],
    )
    months = await _costs(api, loc, "?aggregation=MONTH")
    assert [
        (r["start_time"], r["end_time"], r["energy"]["value"], r["cost"]["value"])
        for r in months["data"]
    ] == [
        ("2024-03-01T00:00:00Z", "2024-03-31T23:00:00Z", 500.0, 0.125),
        ("2024-03-31T23:00:00Z", "2024-04-30T23:00:00Z", 500.0, 0.125),
        ("2024-06-30T23:00:00Z", "2024-07-31T23:00:00Z", 1000.0, 0.25),
    ]
    days = await _costs(
        api,
        loc,
        "?aggregation=DAY",
        start_time="2024-07-01T00:00:00Z",
        end_time="2024-07-02T12:00:00Z",
    )
    assert [
        (r["start_time"], r["end_time"], r["energy"]["value"]) for r in days["data"]
    ] == [
        ("2024-07-01T00:00:00Z", "2024-07-01T23:00:00Z", 500.0),
        ("2024-07-01T23:00:00Z", "2024-07-02T12:00:00Z", 500.0),
    ]
    assert set(days["data"][0]) == {"start_time", "end_time", "energy", "cost"}


async def test_month_wraps_year_and_confidence(api: Api) -> None:
    """December buckets end on 1 January; rows carry the tariff confidence."""
    sandbox = api.server.sandbox
    _, loc = _ids(api)
    sandbox.set_tariff(loc, Tariff(import_default=0.2, confidence=0.8))
    await api.call(
        "PUT",
        "/meters/interval",
        json=[
            record(
                loc, start_time="2024-12-31T23:00:00Z", end_time="2025-01-01T01:00:00Z"
            )
        ],
    )
    answer = await _costs(
        api,
        loc,
        "?aggregation=MONTH",
        start_time="2024-12-01T00:00:00Z",
        end_time="2025-02-01T00:00:00Z",
    )
    assert [(r["start_time"], r["end_time"], r["cost"]) for r in answer["data"]] == [
        (
            "2024-12-01T00:00:00Z",
            "2025-01-01T00:00:00Z",
            {"value": 0.1, "confidence": 0.8},
        ),
        (
            "2025-01-01T00:00:00Z",
            "2025-02-01T00:00:00Z",
            {"value": 0.1, "confidence": 0.8},
        ),
    ]


async def test_interval_errors(api: Api) -> None:
    """Unknown ids, bad times, bad aggregation/direction, no tariff."""
    account_id, loc = _ids(api)
    sandbox = api.server.sandbox
    cases: list[tuple[str, dict[str, Any], int, str | None]] = [
        ("/costs/interval/loc_nope", WINDOW, 404, None),
        (
            f"/costs/interval/{loc}",
            {"start_time": "x", "end_time": "y"},
            400,
            "time_invalid",
        ),
        (
            f"/costs/interval/{loc}",
            {"start_time": WINDOW["end_time"], "end_time": WINDOW["start_time"]},
            400,
            "time_range_invalid",
        ),
        (f"/costs/interval/{loc}?aggregation=WEEK", WINDOW, 400, "aggregation_invalid"),
        (
            f"/costs/interval/{loc}?tariff_direction=UP",
            WINDOW,
            400,
            "tariff_direction_invalid",
        ),
    ]
    for path, body, status, code in cases:
        got_status, answer = await api.call("POST", path, json=body)
        assert got_status == status, path
        if code:
            assert answer["code"] == code
    bare = sandbox.add_location(account_id)
    status, answer = await api.call("POST", f"/costs/interval/{bare}", json=WINDOW)
    assert status == 422
    assert answer["code"] == "no_tariff_connected"
    assert answer["type"] == "api_error"


async def test_device_without_records_uses_account_location(api: Api) -> None:
    """A device with no records reports the account's newest location's zone."""
    account_id, _ = _ids(api)
    dev = api.server.sandbox.add_device(account_id, "x")
    api.server.sandbox.add_location(account_id, country_code="DE")
    answer = await _costs(api, dev, "?aggregation=DAY")
    assert answer["location_timezone"] == "Europe/Berlin"
    assert answer["data"] == []


async def test_session_cost(api: Api) -> None:
    """All records of the session, one row each; 404 when none."""
    account_id, loc = _ids(api)
    dev = api.server.sandbox.add_device(account_id, "ev")
    await api.call(
        "PUT",
        "/meters/interval",
        json=[
            record(
                loc,
                device_id=dev,
                session_reference_id="S1",
                start_time="2024-01-10T05:00:00Z",
                end_time="2024-01-10T06:00:00Z",
            ),
            record(loc, device_id=dev, session_reference_id="S1"),
            record(
                loc,
                device_id=dev,
                session_reference_id="S2",
                start_time="2024-01-11T04:00:00Z",
                end_time="2024-01-11T05:00:00Z",
            ),
        ],
    )
    status, answer = await api.call("POST", "/costs/session/S1")
    assert status == 200
    assert answer["object_id"] == dev
    assert [r["cost"]["value"] for r in answer["data"]] == [0.16, 0.25]
    assert all(r["session_reference_id"] == "S1" for r in answer["data"])
    status, _ = await api.call("POST", "/costs/session/S1?tariff_direction=EXPORT")
    assert status == 404
    status, _ = await api.call("POST", "/costs/session/nope")
    assert status == 404


async def test_instant_cost(api: Api) -> None:
    """Instant cost: stored unless non_persistent; validation errors are 400."""
    account_id, loc = _ids(api)
    sandbox = api.server.sandbox
    body = record(loc, units="W", value=20567, record_reference_id="MET1")
    status, answer = await api.call(
        "POST", "/costs/instant?non_persistent=true", json=body
    )
    assert status == 200
    assert answer["object"] == "meter_record"
    assert answer["currency_code"] == "GBP"
    assert answer["data"]["energy"] == {"value": pytest.approx(20567)}
    assert answer["data"]["cost"]["value"] == pytest.approx(
        0.5 * 20.567 * 0.07 + 0.5 * 20.567 * 0.25, abs=1e-5
    )
    assert answer["request"]["non_persistent"] is True
    assert answer["account_id"] == account_id
    assert sandbox.records() == []
    status, answer = await api.call("POST", "/costs/instant", json=body)
    assert status == 200
    assert [r.id for r in sandbox.records()] == [answer["id"]]
    status, answer = await api.call(
        "POST", "/costs/instant", json=record(loc, units="X")
    )
    assert status == 400
    assert answer["code"] == "record_invalid"
    bare = sandbox.add_location(account_id)
    status, answer = await api.call("POST", "/costs/instant", json=record(bare))
    assert status == 422
    assert answer["code"] == "no_tariff_connected"
    assert len(sandbox.records()) == 1


async def test_prices(api: Api) -> None:
    """One row per constant-price span; window limits; no tariff; directions."""
    account_id, loc = _ids(api)
    status, answer = await api.call(
        "POST",
        f"/prices/{loc}",
        json={
            "start_time": "2024-01-10T00:00:00Z",
            "end_time": "2024-01-10T06:00:00Z",
            "tariff_direction": "IMPORT",
        },
    )
    assert status == 200
    assert answer["object"] == "price"
    assert answer["id"].startswith("prs_")
    assert answer["location_timezone"] == "Europe/London"
    assert answer["next_update"].endswith(":00:00Z")
    assert [
        (r["valid_from"], r["valid_to"], r["price"]["value"]) for r in answer["data"]
    ] == [
        ("2024-01-10T00:00:00Z", "2024-01-10T00:30:00Z", 0.25),
        ("2024-01-10T00:30:00Z", "2024-01-10T04:30:00Z", 0.07),
        ("2024-01-10T04:30:00Z", "2024-01-10T06:00:00Z", 0.25),
    ]
    status, answer = await api.call(
        "POST",
        f"/prices/{loc}",
        json={"end_time": "2099-01-01T00:00:00Z", "tariff_direction": "EXPORT"},
    )
    assert status == 400
    assert answer["code"] == "time_range_invalid"
    status, answer = await api.call(
        "POST",
        f"/prices/{loc}",
        json={
            "start_time": "2024-01-10T00:00:00Z",
            "end_time": "2024-01-11T00:00:00Z",
            "tariff_direction": "LOCAL",
        },
    )
    assert [r["price"]["value"] for r in answer["data"]] == [0.0]
    for body, code in (
        ({"start_time": "2024-01-10T00:00:00Z"}, "time_invalid"),
        (
            {"start_time": "2024-01-10T00:00:00Z", "end_time": "2024-01-09T00:00:00Z"},
            "time_range_invalid",
        ),
    ):
        status, answer = await api.call("POST", f"/prices/{loc}", json=body)
        assert status == 400
        assert answer["code"] == code
    status, _ = await api.call("POST", "/prices/loc_nope", json=WINDOW)
    assert status == 404
    bare = api.server.sandbox.add_location(account_id)
    status, answer = await api.call(
        "POST",
        f"/prices/{bare}",
        json={"start_time": "2024-01-10T00:00:00Z", "end_time": "2024-01-11T00:00:00Z"},
    )
    assert status == 422
