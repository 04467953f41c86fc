"""Streams and record building."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from custom_components.flatpeak.api import (
    EnergyFlowDirection,
    MeterRecord,
    TariffDirection,
    Units,
)
from custom_components.flatpeak.metering import (
    IntervalEnergy,
    Stream,
    StreamKind,
    build_record,
    build_records,
    record_reference_id,
)

START = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)  # epoch 1736942400
INTERVAL = IntervalEnergy(START, START + timedelta(minutes=30), 1234)


@pytest.mark.parametrize(
    ("kind", "device_id", "flow", "tariff", "confidence"),
    [
        (StreamKind.GRID_IMPORT, None, "INBOUND", "IMPORT", None),
        (StreamKind.GRID_EXPORT, None, "OUTBOUND", "EXPORT", None),
        (StreamKind.SOLAR, "dev_1", "INBOUND", "LOCAL", 1.0),
        (StreamKind.EV_CHARGER, "dev_2", "INBOUND", "IMPORT", None),
        (StreamKind.APPLIANCE, "dev_3", "INBOUND", "IMPORT", None),
    ],
)
def test_stream_directions(
    kind: StreamKind,
    device_id: str | None,
    flow: str,
    tariff: str,
    confidence: float | None,
) -> None:
    """Each kind maps to the directions Flatpeak documents."""
    stream = Stream(
        key="k",
        kind=kind,
        entity_id="sensor.e",
        location_id="loc_1",
        device_id=device_id,
    )
    record = build_record(stream, INTERVAL)
    assert record.to_dict() == {
        key: value
        for key, value in {
            "location_id": "loc_1",
            "device_id": device_id,
            "record_reference_id": "fp-k-1736942400-30",
            "energy_flow_direction": flow,
            "tariff_direction": tariff,
            "units": "WH",
            "value": 1234.0,
            "start_time": "2025-01-15T12:00:00Z",
            "end_time": "2025-01-15T12:30:00Z",
            "confidence": confidence,
        }.items()
        if value is not None
    }
    assert stream.has_sessions is (kind is StreamKind.EV_CHARGER)


def test_device_stream_needs_device_id() -> None:
    """A device stream without its Flatpeak device is a bug."""
    with pytest.raises(ValueError, match="solar"):
        Stream(key="s", kind=StreamKind.SOLAR, entity_id="sensor.pv", location_id="l")


def test_record_reference_id_is_deterministic_and_short() -> None:
    """Same stream and interval → same id; long or odd keys are hashed."""
    assert (
        record_reference_id("grid_import", START, 30) == "fp-grid_import-1736942400-30"
    )
    ulid = "01JAB2C3D4E5F6G7H8J9K0M1N2"
    assert record_reference_id(ulid, START, 5) == f"fp-{ulid}-1736942400-5"
    long_key = "x" * 200
    ref = record_reference_id(long_key, START, 60)
    assert ref == record_reference_id(long_key, START, 60)
    assert len(ref) <= 64
    assert ref.startswith("fp-")
    assert ref.endswith("-1736942400-60")
    assert record_reference_id("a/b", START, 60) != record_reference_id(
        "a-b", START, 60
    )


def test_record_round_trips_identically() -> None:
    """A rebuilt/stored record equals the original (resend is identical)."""
    stream = Stream(
        key="sub1",
        kind=StreamKind.EV_CHARGER,
        entity_id="sensor.ev",
        location_id="loc_1",
        device_id="dev_9",
    )
    record = build_record(stream, INTERVAL, "dev_9-1736942400")
    assert build_record(stream, INTERVAL, "dev_9-1736942400") == record
    assert MeterRecord.from_dict(record.to_dict()) == record
    assert record.units is Units.WH
    assert record.energy_flow_direction is EnergyFlowDirection.INBOUND
    assert record.tariff_direction is TariffDirection.IMPORT
    assert record.session_reference_id == "dev_9-1736942400"


def test_build_records_with_and_without_sessions() -> None:
    """Session ids go with their intervals; the count must match."""
    stream = Stream(
        key="grid_import",
        kind=StreamKind.GRID_IMPORT,
        entity_id="sensor.grid",
        location_id="loc_1",
    )
    second = IntervalEnergy(INTERVAL.end, INTERVAL.end + timedelta(minutes=30), 5)
    plain = build_records(stream, [INTERVAL, second])
    assert [r.session_reference_id for r in plain] == [None, None]
    assert [r.value for r in plain] == [1234.0, 5.0]
    tagged = build_records(stream, [INTERVAL, second], ["s1", None])
    assert [r.session_reference_id for r in tagged] == ["s1", None]
    with pytest.raises(ValueError, match="one session id"):
        build_records(stream, [INTERVAL], [])
