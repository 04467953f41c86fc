"""Parsing and validation of Flatpeak objects, without a server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from custom_components.flatpeak.api import (
    CostRow,
    Device,
    EnergyCost,
    EnergyFlowDirection,
    FailedRecord,
    FlatpeakResponseError,
    InstantCost,
    Location,
    LoginResult,
    MeterBatch,
    MeterRecord,
    PostalAddress,
    PricePeriod,
    PriceSeries,
    TariffDirection,
    Units,
)

T0 = datetime(2025, 1, 1, 10, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=30)


def _batch(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "bat_1",
        "object": "meter_batch",
        "records_submitted": 2,
        "records_accepted": 1,
        "records_processed": 1,
        "failed_records": [
            {"record_num": 1, "record_reference_id": "r1", "error": "bad"}
        ],
        "time_created": "2025-01-01T10:31:00Z",
    }
    data.update(changes)
    return data


def _cost(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "ecs_1",
        "object": "energy_cost",
        "object_id": "loc_1",
        "tariff_direction": "EXPORT",
        "location_timezone": "Europe/London",
        "currency_code": "GBP",
        "energy_units": "WH",
        "data": [
            {
                "start_time": "2025-01-01T10:00:00Z",
                "end_time": "2025-01-01T10:30:00+00:00",
                "session_reference_id": "s1",
                "energy": {"value": 500},
                "cost": {"value": 0.1, "confidence": 1},
            },
            {
                "start_time": "2025-01-01T11:30:00+01:00",
                "end_time": "2025-01-01T11:00:00Z",
                "energy": {"value": 250.5},
                "cost": {"value": 0.05, "confidence": 0.5},
            },
        ],
    }
    data.update(changes)
    return data


def test_login_result_hides_token_in_repr() -> None:
    """The bearer token never shows up in a repr (logs, tracebacks)."""
    result = LoginResult.from_dict(
        {"bearer_token": "secret-token", "expires_in": 3600, "live_mode": False}
    )
    assert result.bearer_token == "secret-token"  # noqa: S105
    assert result.expires_in == 3600
    assert "secret-token" not in repr(result)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            _batch(records_accepted="1"),
            "meter_batch: 'records_accepted' must be an integer",
        ),
        (_batch(records_accepted=True), "'records_accepted' must be an integer"),
        (_batch(records_accepted=1.5), "'records_accepted' must be an integer"),
        (
            {k: v for k, v in _batch().items() if k != "id"},
            "meter_batch: 'id' is missing",
        ),
        (_batch(id=None), "meter_batch: 'id' must be a string"),
        (_batch(failed_records={}), "meter_batch: 'failed_records' must be an array"),
        (
            _batch(failed_records=[{"record_num": "x", "error": "e"}]),
            "meter_batch.failed_records[0]: 'record_num' must be an integer",
        ),
        (
            _batch(failed_records=[3]),
            "meter_batch.failed_records[0]: expected an object, got a number",
        ),
        (
            _batch(time_created="yesterday"),
            "meter_batch: 'time_created' must be an RFC 3339 timestamp",
        ),
        (
            _batch(time_created="2025-01-01T10:00:00"),
            "meter_batch: 'time_created' must be an RFC 3339 timestamp",
        ),
        (_batch(time_created=5), "'time_created' must be an RFC 3339 timestamp"),
        ([], "meter_batch: expected an object, got an array"),
        (None, "meter_batch: expected an object, got null"),
        ("x", "meter_batch: expected an object, got a string"),
        (True, "meter_batch: expected an object, got a boolean"),
    ],
)
def test_meter_batch_validation(data: object, message: str) -> None:
    """A missing or mistyped field names the field and the object."""
    with pytest.raises(FlatpeakResponseError, match=message.replace("[", r"\[")):
        MeterBatch.from_dict(data)


def test_meter_batch_parses() -> None:
    """A full batch parses, integral floats count as integers."""
    batch = MeterBatch.from_dict(_batch(records_processed=1.0))
    assert batch.records_processed == 1
    assert batch.failed_records == (FailedRecord(1, "r1", "bad"),)
    assert batch.time_created == datetime(2025, 1, 1, 10, 31, tzinfo=UTC)
    bare = MeterBatch.from_dict(_batch(failed_records=None, time_created=None))
    assert bare.failed_records == ()
    assert bare.time_created is None
    assert FailedRecord.from_dict({"record_num": 0, "error": "x"}).error == "x"


def test_kind_of_unexpected_python_value() -> None:
    """Values JSON cannot hold are named by their Python type."""
    with pytest.raises(FlatpeakResponseError, match="got object"):
        MeterBatch.from_dict(object())


def test_location_parses_and_validates() -> None:
    """Locations parse with and without optional fields."""
    full = Location.from_dict(
        {
            "id": "loc_1",
            "object": "location",
            "live_mode": False,
            "timezone": "Europe/London",
            "currency_code": "GBP",
            "postal_address": {
                "address_line1": "1 Street",
                "address_line2": None,
                "city": "London",
                "post_code": "N1 1AA",
                "country_code": "GB",
            },
            "tariff_status": {"commodity_import": "CONNECTED"},
            "reference_id": "ref",
            "customer_id": "cus_1",
            "account_id": "acc_1",
            "time_created": "2025-01-01T00:00:00+02:00",
        }
    )
    assert full.postal_address == PostalAddress("1 Street", "London", "N1 1AA", "GB")
    assert full.tariff_status == {"commodity_import": "CONNECTED"}
    assert full.time_created == datetime(2024, 12, 31, 22, tzinfo=UTC)
    bare = Location.from_dict({"id": "loc_2", "live_mode": True})
    assert bare.postal_address is None
    assert bare.tariff_status == {}
    null = Location.from_dict({"id": "l", "live_mode": True, "tariff_status": None})
    assert null.tariff_status == {}
    with pytest.raises(
        FlatpeakResponseError,
        match="location: 'tariff_status' must be an object of strings",
    ):
        Location.from_dict({"id": "l", "live_mode": True, "tariff_status": {"a": 1}})
    with pytest.raises(FlatpeakResponseError, match="'tariff_status' must be an obj"):
        Location.from_dict({"id": "l", "live_mode": True, "tariff_status": []})
    with pytest.raises(
        FlatpeakResponseError, match="location.postal_address: 'city' is missing"
    ):
        Location.from_dict(
            {"id": "l", "live_mode": True, "postal_address": {"address_line1": "x"}}
        )
    with pytest.raises(FlatpeakResponseError, match="'live_mode' must be a boolean"):
        Location.from_dict({"id": "l", "live_mode": "false"})


def test_postal_address_round_trip() -> None:
    """to_dict omits None fields and from_dict reads it back."""
    address = PostalAddress("1 Street", "Berlin", "10115", "DE", state="BE")
    data = address.to_dict()
    assert data == {
        "address_line1": "1 Street",
        "city": "Berlin",
        "state": "BE",
        "post_code": "10115",
        "country_code": "DE",
    }
    assert PostalAddress.from_dict(data) == address


def test_device_parses() -> None:
    """The documented minimal device answer parses."""
    device = Device.from_dict({"id": "dev_1", "object": "device", "reference_id": "r"})
    assert device == Device("dev_1", "r", None, None, None)
    with pytest.raises(FlatpeakResponseError, match="device: 'live_mode' must be a"):
        Device.from_dict({"id": "dev_1", "live_mode": 1})


def test_meter_record_to_dict_and_back() -> None:
    """Times are sent in UTC with Z, None fields are omitted, enums as strings."""
    record = MeterRecord(
        "loc_1",
        datetime(2025, 1, 1, 11, 0, tzinfo=timezone(timedelta(hours=1))),
        T1,
        1.5,
    )
    data = record.to_dict()
    assert data == {
        "location_id": "loc_1",
        "energy_flow_direction": "INBOUND",
        "tariff_direction": "IMPORT",
        "units": "KWH",
        "value": 1.5,
        "start_time": "2025-01-01T10:00:00Z",
        "end_time": "2025-01-01T10:30:00Z",
    }
    assert MeterRecord.from_dict(data) == record
    full = MeterRecord(
        "loc_1",
        T0,
        T1,
        300,
        units=Units.WH,
        energy_flow_direction=EnergyFlowDirection.OUTBOUND,
        tariff_direction=TariffDirection.LOCAL,
        device_id="dev_1",
        session_reference_id="s",
        record_reference_id="r",
        confidence=1,
    )
    assert MeterRecord.from_dict(full.to_dict()) == full
    with pytest.raises(FlatpeakResponseError, match="'units' must be one of W, KW"):
        MeterRecord.from_dict({**data, "units": "kWh"})
    with pytest.raises(FlatpeakResponseError, match="'units' must be one of"):
        MeterRecord.from_dict({**data, "units": 3})


def test_naive_datetimes_are_refused() -> None:
    """A naive datetime is a programming error, not something to guess."""
    with pytest.raises(ValueError, match="timezone-aware"):
        MeterRecord("loc_1", T0.replace(tzinfo=None), T1, 1).to_dict()


def test_energy_cost_totals() -> None:
    """Rows parse, totals add up and the lowest confidence wins."""
    cost = EnergyCost.from_dict(_cost())
    assert cost.tariff_direction is TariffDirection.EXPORT
    assert cost.rows[0].session_reference_id == "s1"
    assert cost.rows[1].start_time == T0 + timedelta(minutes=30)
    assert cost.total_cost == pytest.approx(0.15)
    assert cost.total_energy_wh == pytest.approx(750.5)
    assert cost.min_confidence == 0.5
    empty = EnergyCost.from_dict(_cost(data=[], tariff_direction=None))
    assert empty.total_cost == 0
    assert empty.min_confidence is None
    assert empty.tariff_direction is TariffDirection.IMPORT


def test_energy_cost_in_kwh_is_converted() -> None:
    """Rows are always in Wh whatever unit Flatpeak reports."""
    cost = EnergyCost.from_dict(_cost(energy_units="KWH"))
    assert cost.total_energy_wh == pytest.approx(750500)
    row = CostRow.from_dict(_cost()["data"][0])
    assert row.energy_wh == 500


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_cost(currency_code=None), "energy_cost: 'currency_code' must be a string"),
        (_cost(data=None), "energy_cost: 'data' must be an array"),
        (
            _cost(data=[{"start_time": "2025-01-01T10:00:00Z"}]),
            r"energy_cost.data\[0\]: 'end_time' is missing",
        ),
        (
            _cost(
                data=[
                    {
                        "start_time": "2025-01-01T10:00:00Z",
                        "end_time": "2025-01-01T10:30:00Z",
                        "energy": {"value": 1},
                        "cost": {"value": "0.1"},
                    }
                ]
            ),
            r"energy_cost.data\[0\].cost: 'value' must be a number",
        ),
        (
            _cost(tariff_direction="SIDEWAYS"),
            "energy_cost: 'tariff_direction' must be one of IMPORT, EXPORT, LOCAL",
        ),
    ],
)
def test_energy_cost_validation(data: object, message: str) -> None:
    """Broken cost reports name the broken field."""
    with pytest.raises(FlatpeakResponseError, match=message):
        EnergyCost.from_dict(data)


def test_instant_cost() -> None:
    """The anode instant cost answer parses."""
    cost = InstantCost.from_dict(
        {
            "object": "meter_record",
            "currency_code": "GBP",
            "energy_units": "WH",
            "data": {
                "start_time": "2025-01-01T10:00:00Z",
                "end_time": "2025-01-01T10:30:00Z",
                "energy": {"value": 1000},
                "cost": {"value": 0.25, "confidence": 0.9},
            },
        }
    )
    assert cost == InstantCost("GBP", 1000, 0.25, 0.9, T0, T1)
    with pytest.raises(FlatpeakResponseError, match="instant_cost: 'data' is missing"):
        InstantCost.from_dict({"currency_code": "GBP"})


def _prices(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "object": "price",
        "currency_code": "GBP",
        "location_timezone": "Europe/London",
        "next_update": "2025-01-01T23:00:00Z",
        "request": {"tariff_direction": "EXPORT"},
        "data": [
            {
                "valid_from": "2025-01-01T10:00:00Z",
                "valid_to": "2025-01-01T10:30:00Z",
                "price": {"value": 0.2, "confidence": 1},
            },
            {
                "valid_from": "2025-01-01T10:30:00Z",
                "valid_to": "2025-01-01T12:00:00Z",
                "price": {"value": 0.3},
            },
        ],
    }
    data.update(changes)
    return data


def test_price_series() -> None:
    """Prices parse, the direction may come from the request echo or the caller."""
    series = PriceSeries.from_dict(_prices(), location_id="loc_1")
    assert series.location_id == "loc_1"
    assert series.tariff_direction is TariffDirection.EXPORT
    assert series.next_update == datetime(2025, 1, 1, 23, tzinfo=UTC)
    assert series.price_at(T0) == PricePeriod(T0, T1, 0.2, 1)
    assert series.price_at(T1) is not None
    assert series.price_at(T1).price == 0.3  # type: ignore[union-attr]
    assert series.price_at(T0 - timedelta(seconds=1)) is None
    assert series.price_at(T0 + timedelta(hours=2)) is None
    top = PriceSeries.from_dict(
        _prices(request=None, tariff_direction="LOCAL", location_id="loc_9")
    )
    assert top.tariff_direction is TariffDirection.LOCAL
    assert top.location_id == "loc_9"
    fallback = PriceSeries.from_dict(
        _prices(request=None), location_id="l", tariff_direction=TariffDirection.IMPORT
    )
    assert fallback.tariff_direction is TariffDirection.IMPORT
    with pytest.raises(FlatpeakResponseError, match="price: 'tariff_direction' is"):
        PriceSeries.from_dict(_prices(request=None), location_id="l")
    with pytest.raises(FlatpeakResponseError, match="price: 'location_id' is missing"):
        PriceSeries.from_dict(_prices())
    with pytest.raises(FlatpeakResponseError, match="price: 'request' must be an obj"):
        PriceSeries.from_dict(_prices(request=5), location_id="l")
    with pytest.raises(
        FlatpeakResponseError, match=r"price.data\[1\]: 'valid_to' must be an RFC"
    ):
        PriceSeries.from_dict(
            _prices(
                data=[
                    _prices()["data"][0],
                    {"valid_from": "2025-01-01T10:00:00Z", "valid_to": "x"},
                ]
            ),
            location_id="l",
        )
    assert PricePeriod.from_dict(_prices()["data"][1]).confidence is None
