"""Meter submissions: validation, de-duplication, cumulative, batches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from flatpeak_sandbox import Sandbox, SandboxServer
from flatpeak_sandbox.util import format_time

from .helpers import Api, record


async def test_interval_validation(api: Api) -> None:
    """Each invalid record is reported; the valid ones are stored."""
    sandbox = api.server.sandbox
    loc = sandbox.demo_location_id
    assert loc is not None
    other = sandbox.add_account()
    foreign_loc = sandbox.add_location(other.account_id)
    body = [
        record(loc, record_reference_id="ok"),
        record(loc, location_id=None),
        record(loc, location_id="loc_nope", record_reference_id="r2"),
        record(loc, device_id="dev_nope"),
        record(loc, units="kWh"),
        record(loc, value="12"),
        record(loc, end_time="2024-01-10T03:00:00Z"),
        record(loc, start_time="2024-01-10 04:00"),
        record(loc, energy_flow_direction="IN"),
        record(loc, tariff_direction="import"),
        record(loc, confidence=2),
        "not an object",
        record(foreign_loc),
        record(loc, session_reference_id=7),
        record(loc, units="W", value=2000, record_reference_id="w"),
        record(loc, end_time="2024-01-10T04:00:00Z"),
        record(loc, value=True),
    ]
    status, batch = await api.call("PUT", "/meters/interval", json=body)
    assert status == 200
    assert batch["object"] == "meter_batch"
    assert batch["id"].startswith("bat_")
    assert batch["records_submitted"] == len(body)
    assert batch["records_accepted"] == 2
    assert batch["records_processed"] == 2
    errors = {f["record_num"]: f["error"] for f in batch["failed_records"]}
    assert errors == {
        1: "location_id is required",
        2: "location_id loc_nope not found",
        3: "device_id dev_nope not found",
        4: "units must be one of W, KW, WH, KWH",
        5: "value must be a number",
        6: "end_time must not be before start_time",
        7: "start_time must be an RFC 3339 date-time",
        8: "energy_flow_direction must be INBOUND or OUTBOUND",
        9: "tariff_direction must be IMPORT, EXPORT or LOCAL",
        10: "confidence must be a number from 0 to 1",
        11: "record must be an object",
        12: f"location_id {foreign_loc} not found",
        13: "session_reference_id must be a string",
        15: "end_time must not be before start_time",
        16: "value must be a number",
    }
    refs = {f["record_num"]: f["record_reference_id"] for f in batch["failed_records"]}
    assert refs[2] == "r2"
    assert refs[1] is None
    stored = sandbox.records()
    assert [r.record_reference_id for r in stored] == ["ok", "w"]
    assert stored[1].energy_wh == pytest.approx(2000)
    assert stored[0].batch_id == batch["id"]
    # The batch can be fetched again.
    status, again = await api.call("GET", f"/meters/batch?batch_id={batch['id']}")
    assert (status, again) == (200, batch)
    status, body_ = await api.call("GET", "/meters/batch")
    assert status == 400
    assert body_["code"] == "batch_id_required"
    status, _ = await api.call("GET", "/meters/batch?batch_id=bat_nope")
    assert status == 404


async def test_interval_defaults_and_offsets(api: Api) -> None:
    """Directions default from the flow; offsets are accepted and stored in UTC."""
    loc = api.server.sandbox.demo_location_id
    assert loc is not None
    rec = record(
        loc,
        start_time="2024-07-01T10:00:00+01:00",
        end_time="2024-07-01T10:30:00+01:00",
    )
    del rec["tariff_direction"]
    out = record(loc, energy_flow_direction="OUTBOUND")
    del out["tariff_direction"]
    del out["energy_flow_direction"]
    out["energy_flow_direction"] = "OUTBOUND"
    status, batch = await api.call("PUT", "/meters/interval", json=[rec, out])
    assert batch["failed_records"] == []
    first, second = api.server.sandbox.records()
    assert first.tariff_direction == "IMPORT"
    assert first.start_time.isoformat() == "2024-07-01T09:00:00+00:00"
    assert second.tariff_direction == "EXPORT"


async def test_interval_body_errors(api: Api) -> None:
    """Not an array, or more than 10,000 records: 400, nothing stored."""
    loc = api.server.sandbox.demo_location_id
    assert loc is not None
    status, body = await api.call("PUT", "/meters/interval", json={"a": 1})
    assert status == 400
    assert body["code"] == "body_invalid"
    status, body = await api.call(
        "PUT", "/meters/interval", json=[record(loc)] * 10_001
    )
    assert status == 400
    assert body["code"] == "too_many_records"
    assert api.server.sandbox.records() == []
    start = datetime(2024, 1, 1, tzinfo=UTC)
    many = [
        record(
            loc,
            record_reference_id=f"r{num}",
            start_time=format_time(start + timedelta(minutes=5 * num)),
            end_time=format_time(start + timedelta(minutes=5 * num + 5)),
        )
        for num in range(10_000)
    ]
    status, body = await api.call("PUT", "/meters/interval", json=many)
    assert status == 200
    assert body["records_accepted"] == 10_000
    # Again: replace mode keeps one copy of each.
    status, body = await api.call("PUT", "/meters/interval", json=many)
    assert len(api.server.sandbox.records()) == 10_000
    status, cost = await api.call(
        "POST",
        f"/costs/interval/{loc}?aggregation=MONTH",
        json={"start_time": "2024-01-01T00:00:00Z", "end_time": "2024-03-01T00:00:00Z"},
    )
    assert status == 200
    assert sum(row["energy"]["value"] for row in cost["data"]) == pytest.approx(
        10_000_000
    )


async def test_dedup_replace(api: Api) -> None:
    """Replace mode: same reference id, or same owner/directions/period, replaces."""
    sandbox = api.server.sandbox
    loc = sandbox.demo_location_id
    assert loc is not None
    dev = sandbox.add_device(sandbox.demo_account.account_id, "ev")  # type: ignore[union-attr]
    first = [
        record(loc, record_reference_id="a", value=1),
        record(loc, value=2),
        record(loc, device_id=dev, value=3),
    ]
    await api.call("PUT", "/meters/interval", json=first)
    second = [
        record(
            loc, record_reference_id="a", value=10, start_time="2024-01-10T03:00:00Z"
        ),
        record(loc, value=20),
        record(loc, tariff_direction="EXPORT", value=4),
    ]
    await api.call("PUT", "/meters/interval", json=second)
    values = [(r.record_reference_id, r.device_id, r.value) for r in sandbox.records()]
    assert values == [
        (None, dev, 3.0),
        ("a", None, 10.0),
        (None, None, 20.0),
        (None, None, 4.0),
    ]
    assert [r.value for r in sandbox.records(device_id=dev)] == [3.0]
    assert len(sandbox.records(location_id=loc)) == 4


async def test_dedup_duplicate(socket_enabled: None) -> None:
    """Duplicate mode stores everything again."""
    sandbox = Sandbox.with_demo_account(dedup="duplicate")
    loc = sandbox.demo_location_id
    assert loc is not None
    async with SandboxServer(sandbox) as server, aiohttp.ClientSession() as session:
        api = Api(session, server)
        await api.login()
        for _ in range(2):
            await api.call(
                "PUT", "/meters/interval", json=[record(loc, record_reference_id="a")]
            )
        assert len(sandbox.records()) == 2
        status, cost = await api.call(
            "POST",
            f"/costs/interval/{loc}?aggregation=DAY",
            json={
                "start_time": "2024-01-10T00:00:00Z",
                "end_time": "2024-01-11T00:00:00Z",
            },
        )
        assert cost["data"][0]["energy"]["value"] == 2000


async def test_cumulative(api: Api) -> None:
    """Readings become interval records; bad readings are failed records."""
    sandbox = api.server.sandbox
    loc = sandbox.demo_location_id
    assert loc is not None
    body = {
        "location_id": loc,
        "energy_flow_direction": "INBOUND",
        "tariff_direction": "IMPORT",
        "units": "KWH",
        "data": [
            {"time": 1704859200 + 1800, "value": 100.5, "record_reference_id": "m2"},
            {"time": 1704859200, "value": 100.0, "record_reference_id": "m1"},
            {"time": 1704859200 + 3600, "value": 101.5},
            {"time": 1704859200 + 3600, "value": 102},
            {"time": 1704859200 + 5400, "value": 99},
            {"time": 1704859200 + 7200, "value": 100},
            {"time": "x", "value": 1},
        ],
    }
    status, batch = await api.call("PUT", "/meters/cumulative/epoch", json=body)
    assert status == 200
    assert batch["records_submitted"] == 7
    assert batch["failed_records"] == [
        {"record_num": 3, "record_reference_id": None, "error": "time must increase"},
        {
            "record_num": 4,
            "record_reference_id": None,
            "error": "value must not decrease",
        },
        {
            "record_num": 6,
            "record_reference_id": None,
            "error": "time must be an integer and value a number",
        },
    ]
    stored = sandbox.records()
    assert [r.record_reference_id for r in stored] == ["m2", None, None]
    assert [r.energy_wh for r in stored] == pytest.approx([500, 1000, 1000])
    assert stored[0].start_time.isoformat() == "2024-01-10T04:00:00+00:00"
    for bad, message in (
        ({**body, "units": "W"}, "units must be one of WH, KWH"),
        ({**body, "data": {}}, "data must be an array"),
        ({**body, "location_id": None}, "location_id is required"),
    ):
        status, err = await api.call("PUT", "/meters/cumulative/epoch", json=bad)
        assert status == 400
        assert err["code"] == "record_invalid"
        assert err["message"] == message
