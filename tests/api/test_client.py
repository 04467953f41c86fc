"""Every client endpoint against the Flatpeak sandbox."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from custom_components.flatpeak.api import (
    API_VERSION,
    MAX_RECORDS_PER_REQUEST,
    Aggregation,
    EnergyFlowDirection,
    FlatpeakApiError,
    FlatpeakClient,
    FlatpeakNotFoundError,
    MeterRecord,
    PostalAddress,
    SubmissionResult,
    TariffDirection,
    Units,
)
from custom_components.flatpeak.api.transport import encode_records

if TYPE_CHECKING:
    from flatpeak_sandbox import SandboxServer

    from .conftest import ClientFactory

# 10:00 UTC in January is 10:00 in London: the demo tariff's 0.25 GBP/kWh.
T0 = datetime(2025, 1, 15, 10, 0, tzinfo=UTC)
HALF_HOUR = timedelta(minutes=30)
# 10,000 records per call take the sandbox a few seconds (more under coverage).
_BULK_TIMEOUT = 120.0


def _demo_location(sandbox: SandboxServer) -> str:
    location_id = sandbox.sandbox.demo_location_id
    assert location_id is not None
    return location_id


def _account_id(sandbox: SandboxServer) -> str:
    account = sandbox.sandbox.demo_account
    assert account is not None
    return account.account_id


def _records(location_id: str, count: int, **kwargs: object) -> list[MeterRecord]:
    return [
        MeterRecord(
            location_id,
            T0 + index * HALF_HOUR,
            T0 + (index + 1) * HALF_HOUR,
            1.0,
            record_reference_id=f"r{index}",
            **kwargs,  # type: ignore[arg-type]
        )
        for index in range(count)
    ]


async def test_login(client: FlatpeakClient, sandbox: SandboxServer) -> None:
    """Login returns a test-mode token and is sent with Basic auth."""
    result = await client.login()
    assert result.live_mode is False
    assert result.expires_in == 3600
    assert result.bearer_token
    assert [r.path for r in sandbox.sandbox.requests] == ["/login"]


async def test_version_header_on_every_request(
    client: FlatpeakClient, sandbox: SandboxServer
) -> None:
    """Every request, login included, pins the anode release."""
    location_id = _demo_location(sandbox)
    await client.list_locations()
    await client.get_location(location_id)
    await client.get_prices(location_id, T0, T0 + HALF_HOUR)
    await client.submit_interval_records(_records(location_id, 1))
    requests = sandbox.sandbox.requests
    assert len(requests) == 5
    assert {r.flatpeak_version for r in requests} == {API_VERSION}


async def test_locations(client: FlatpeakClient, sandbox: SandboxServer) -> None:
    """Read, list, filter and create locations."""
    location_id = _demo_location(sandbox)
    location = await client.get_location(location_id)
    assert location.id == location_id
    assert location.timezone == "Europe/London"
    assert location.currency_code == "GBP"
    assert location.postal_address is not None
    assert location.postal_address.country_code == "GB"
    assert location.account_id == _account_id(sandbox)
    assert location.time_created is not None

    created = await client.create_location(
        PostalAddress("Unter den Linden 1", "Berlin", "10117", "de"),
        reference_id="home-1",
    )
    assert created.timezone == "Europe/Berlin"
    assert created.currency_code == "EUR"
    assert created.reference_id == "home-1"
    body = sandbox.sandbox.requests[-1].body
    assert body == {
        "postal_address": {
            "address_line1": "Unter den Linden 1",
            "city": "Berlin",
            "post_code": "10117",
            "country_code": "de",
        },
        "reference_id": "home-1",
    }
    assert [loc.id for loc in await client.list_locations()] == [
        created.id,
        location_id,
    ]
    assert [loc.id for loc in await client.list_locations("home-1")] == [created.id]
    assert sandbox.sandbox.requests[-1].query == {
        "limit": "100",
        "reference_id": "home-1",
    }
    no_reference = await client.create_location(
        PostalAddress("1 Rue", "Paris", "75001", "FR")
    )
    assert no_reference.reference_id is None


async def test_create_location_errors(client: FlatpeakClient) -> None:
    """Flatpeak's error object gives status, code and message."""
    with pytest.raises(FlatpeakApiError) as err:
        await client.create_location(PostalAddress("x", "y", "z", "XX"))
    assert err.value.status == 422
    assert err.value.code == "timezone_not_found"
    assert "Could not resolve a timezone" in err.value.message
    await client.create_location(PostalAddress("x", "y", "z", "GB"), reference_id="a")
    with pytest.raises(FlatpeakApiError) as conflict:
        await client.create_location(
            PostalAddress("x", "y", "z", "GB"), reference_id="a"
        )
    assert conflict.value.status == 409
    assert conflict.value.code is None
    assert conflict.value.message == "Conflict"
    assert str(conflict.value) == "Flatpeak answered HTTP 409: Conflict"


async def test_not_found(client: FlatpeakClient) -> None:
    """Unknown ids raise FlatpeakNotFoundError (an ApiError)."""
    with pytest.raises(FlatpeakNotFoundError) as err:
        await client.get_location("loc_000000000000000000000000")
    assert err.value.status == 404
    assert err.value.message == "Not Found"
    with pytest.raises(FlatpeakNotFoundError):
        await client.session_cost("no-such-session")


async def test_pagination_over_many_locations(
    client: FlatpeakClient, sandbox: SandboxServer
) -> None:
    """Every page is followed with limit=100 and starting_after=<last id>."""
    account_id = _account_id(sandbox)
    added = [sandbox.sandbox.add_location(account_id) for _ in range(249)]
    locations = await client.list_locations()
    assert len(locations) == 250
    assert {loc.id for loc in locations} == {*added, _demo_location(sandbox)}
    pages = [r for r in sandbox.sandbox.requests if r.path == "/locations"]
    assert len(pages) == 3
    assert pages[0].query == {"limit": "100"}
    assert pages[1].query == {"limit": "100", "starting_after": locations[99].id}
    assert pages[2].query == {"limit": "100", "starting_after": locations[199].id}


async def test_devices(client: FlatpeakClient, sandbox: SandboxServer) -> None:
    """Create, read and list devices over several pages."""
    device = await client.create_device("ha-solar-1")
    assert device.id.startswith("dev_")
    assert device.reference_id == "ha-solar-1"
    assert device.live_mode is False
    assert device.account_id == _account_id(sandbox)
    assert await client.list_devices("ha-solar-1") == [device]
    for index in range(120):
        sandbox.sandbox.add_device(_account_id(sandbox), f"other-{index}")
    devices = await client.list_devices()
    assert len(devices) == 121
    assert len({d.id for d in devices}) == 121
    assert [d.id for d in await client.list_devices("ha-solar-1")] == [device.id]


async def test_submit_interval_records(
    client: FlatpeakClient, sandbox: SandboxServer
) -> None:
    """Records are stored as sent; failed ones are mapped back to the input."""
    location_id = _demo_location(sandbox)
    device = await client.create_device("ev")
    good = MeterRecord(
        location_id,
        T0,
        T0 + HALF_HOUR,
        7.5,
        units=Units.KW,
        device_id=device.id,
        session_reference_id="sess-1",
        record_reference_id="ev-1",
        confidence=1,
    )
    backwards = MeterRecord(location_id, T0, T0 - HALF_HOUR, 1.0)
    unknown = MeterRecord("loc_000000000000000000000000", T0, T0 + HALF_HOUR, 1.0)
    export = MeterRecord(
        location_id,
        T0,
        T0 + HALF_HOUR,
        500,
        units=Units.WH,
        energy_flow_direction=EnergyFlowDirection.OUTBOUND,
        tariff_direction=TariffDirection.EXPORT,
    )
    result = await client.submit_interval_records([good, backwards, unknown, export])
    assert result.accepted == (good, export)
    assert result.failed == (
        (backwards, "end_time must not be before start_time"),
        (unknown, "location_id loc_000000000000000000000000 not found"),
    )
    (batch,) = result.batches
    assert batch.records_submitted == 4
    assert batch.records_accepted == 2
    assert [f.record_num for f in batch.failed_records] == [1, 2]
    stored = sandbox.sandbox.records(location_id=location_id)
    assert len(stored) == 2
    assert stored[0].device_id == device.id
    assert stored[0].energy_wh == pytest.approx(3750)
    assert stored[0].session_reference_id == "sess-1"
    assert stored[1].tariff_direction == "EXPORT"
    assert sandbox.sandbox.requests[-1].body[0]["start_time"] == "2025-01-15T10:00:00Z"


async def test_submit_nothing(client: FlatpeakClient, sandbox: SandboxServer) -> None:
    """An empty submission makes no request."""
    assert await client.submit_interval_records([]) == SubmissionResult()
    assert sandbox.sandbox.requests == []


async def test_submit_a_full_call(
    sandbox: SandboxServer, make_client: ClientFactory
) -> None:
    """10,000 records go out in one call; record_num maps back to the input."""
    client = make_client(request_timeout=_BULK_TIMEOUT)
    location_id = _demo_location(sandbox)
    records = _records(location_id, MAX_RECORDS_PER_REQUEST)
    bad = MAX_RECORDS_PER_REQUEST - 1
    record = records[bad]
    records[bad] = MeterRecord(
        location_id, record.end_time, record.start_time, 1.0, record_reference_id="x"
    )
    result = await client.submit_interval_records(records)
    puts = [r for r in sandbox.sandbox.requests if r.path == "/meters/interval"]
    assert [len(r.body) for r in puts] == [MAX_RECORDS_PER_REQUEST]
    (batch,) = result.batches
    assert batch.records_accepted == MAX_RECORDS_PER_REQUEST - 1
    assert [f.record_num for f in batch.failed_records] == [bad]
    assert [record for record, _ in result.failed] == [records[bad]]
    assert result.accepted == tuple(records[:bad])
    stored = sandbox.sandbox.records(location_id=location_id)
    assert len(stored) == MAX_RECORDS_PER_REQUEST - 1


async def test_submit_refuses_more_than_one_call_holds(
    client: FlatpeakClient, sandbox: SandboxServer
) -> None:
    """More than 10,000 records are refused before anything is sent."""
    records = _records(_demo_location(sandbox), MAX_RECORDS_PER_REQUEST + 1)
    with pytest.raises(ValueError, match=f"at most {MAX_RECORDS_PER_REQUEST} records"):
        await client.submit_interval_records(records)
    assert sandbox.sandbox.requests == []
    assert sandbox.sandbox.records() == []


async def test_instant_cost(client: FlatpeakClient, sandbox: SandboxServer) -> None:
    """Instant cost prices a record; non_persistent keeps it out of storage."""
    location_id = _demo_location(sandbox)
    record = MeterRecord(location_id, T0, T0 + HALF_HOUR, 2.0)
    cost = await client.instant_cost(record)
    assert cost.currency_code == "GBP"
    assert cost.energy_wh == pytest.approx(2000)
    assert cost.cost == pytest.approx(0.5)
    assert cost.confidence == 1
    assert (cost.start_time, cost.end_time) == (T0, T0 + HALF_HOUR)
    assert sandbox.sandbox.requests[-1].query == {"non_persistent": "true"}
    assert sandbox.sandbox.records() == []
    await client.instant_cost(record, non_persistent=False)
    assert sandbox.sandbox.requests[-1].query == {}
    assert len(sandbox.sandbox.records()) == 1


async def test_interval_cost(client: FlatpeakClient, sandbox: SandboxServer) -> None:
    """Direction and aggregation go in the query, the window in the body."""
    location_id = _demo_location(sandbox)
    await client.submit_interval_records(_records(location_id, 4))
    cost = await client.interval_cost(location_id, T0, T0 + 4 * HALF_HOUR)
    assert len(cost.rows) == 4
    assert cost.total_energy_wh == pytest.approx(4000)
    assert cost.total_cost == pytest.approx(1.0)
    assert cost.currency_code == "GBP"
    assert cost.location_timezone == "Europe/London"
    assert cost.object_id == location_id
    assert cost.min_confidence == 1
    assert cost.rows[0].record_reference_id == "r0"
    request = sandbox.sandbox.requests[-1]
    assert request.query == {"tariff_direction": "IMPORT"}
    assert request.body == {
        "start_time": "2025-01-15T10:00:00Z",
        "end_time": "2025-01-15T12:00:00Z",
    }
    daily = await client.interval_cost(
        location_id,
        T0 - timedelta(days=1),
        T0 + timedelta(days=1),
        aggregation=Aggregation.DAY,
    )
    assert len(daily.rows) == 1
    assert daily.total_cost == pytest.approx(1.0)
    assert sandbox.sandbox.requests[-1].query == {
        "tariff_direction": "IMPORT",
        "aggregation": "DAY",
    }
    export = await client.interval_cost(
        location_id, T0, T0 + HALF_HOUR, tariff_direction=TariffDirection.EXPORT
    )
    assert export.tariff_direction is TariffDirection.EXPORT
    assert export.rows == ()


async def test_a_long_cost_report_is_read_whole(
    client: FlatpeakClient, sandbox: SandboxServer
) -> None:
    """A report of hundreds of rows (parsed off the event loop) keeps every row."""
    location_id = _demo_location(sandbox)
    await client.submit_interval_records(_records(location_id, 300))
    cost = await client.interval_cost(location_id, T0, T0 + 300 * HALF_HOUR)
    assert [row.record_reference_id for row in cost.rows] == [
        f"r{index}" for index in range(300)
    ]
    assert cost.total_energy_wh == pytest.approx(300_000)
    assert cost.currency_code == "GBP"


async def test_session_cost(client: FlatpeakClient, sandbox: SandboxServer) -> None:
    """A session's cost covers the records tagged with it."""
    location_id = _demo_location(sandbox)
    device = await client.create_device("ev")
    await client.submit_interval_records(
        _records(location_id, 3, device_id=device.id, session_reference_id="s 1/2")
    )
    cost = await client.session_cost("s 1/2")
    assert cost.object_id == device.id
    assert cost.total_energy_wh == pytest.approx(3000)
    assert cost.total_cost == pytest.approx(0.75)
    assert {row.session_reference_id for row in cost.rows} == {"s 1/2"}
    assert sandbox.sandbox.requests[-1].query == {"tariff_direction": "IMPORT"}


async def test_get_prices(client: FlatpeakClient, sandbox: SandboxServer) -> None:
    """Prices are one period per constant price; price_at finds the current one."""
    location_id = _demo_location(sandbox)
    start = datetime(2025, 1, 15, tzinfo=UTC)
    series = await client.get_prices(location_id, start, start + timedelta(days=1))
    assert series.location_id == location_id
    assert series.currency_code == "GBP"
    assert series.tariff_direction is TariffDirection.IMPORT
    assert series.next_update is not None
    assert [p.price for p in series.periods] == [0.25, 0.07, 0.25, 0.35, 0.25]
    at_peak = series.price_at(start + timedelta(hours=17))
    assert at_peak is not None
    assert at_peak.price == 0.35
    assert sandbox.sandbox.requests[-1].body == {
        "start_time": "2025-01-15T00:00:00Z",
        "end_time": "2025-01-16T00:00:00Z",
        "tariff_direction": "IMPORT",
    }
    export = await client.get_prices(
        location_id, start, start + HALF_HOUR, tariff_direction=TariffDirection.EXPORT
    )
    assert [p.price for p in export.periods] == [0.15]


@pytest.mark.parametrize("count", [0, 1, 500, 501, 1201])
def test_body_encoded_in_slices_is_one_json_array(count: int) -> None:
    """The sliced encoding of a PUT body is exactly `json.dumps` of all records."""
    records = _records("loc_1", count)
    body = encode_records(records)
    assert body == json.dumps([record.to_dict() for record in records]).encode()
