"""Validation of submitted meter records (interval, cumulative, instant)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .state import Sandbox, StoredRecord
from .tariff import energy_wh
from .util import is_number, new_id, parse_time, utcnow

UNITS = ("W", "KW", "WH", "KWH")
CUMULATIVE_UNITS = ("WH", "KWH")
FLOWS = ("INBOUND", "OUTBOUND")
TARIFF_DIRECTIONS = ("IMPORT", "EXPORT", "LOCAL")
MAX_RECORDS = 10_000


class RecordError(ValueError):
    """A record failed validation; ``str()`` is the ``failed_records`` error text."""


@dataclass(frozen=True, slots=True)
class Owner:
    """The validated ids and directions shared by interval and cumulative records."""

    location_id: str
    device_id: str | None
    energy_flow_direction: str
    tariff_direction: str
    session_reference_id: str | None


def _optional_str(raw: dict[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is not None and not isinstance(value, str):
        raise RecordError(f"{key} must be a string")
    return value


def validate_owner(sandbox: Sandbox, account_id: str, raw: dict[str, Any]) -> Owner:
    """Validate ``location_id``, ``device_id`` and the directions of a record."""
    location_id = raw.get("location_id")
    if location_id is None or location_id == "":
        raise RecordError("location_id is required")
    location = (
        sandbox.locations.get(location_id) if isinstance(location_id, str) else None
    )
    if location is None or location.account_id != account_id:
        raise RecordError(f"location_id {location_id} not found")
    device_id = _optional_str(raw, "device_id")
    if device_id is not None:
        device = sandbox.devices.get(device_id)
        if device is None or device.account_id != account_id:
            raise RecordError(f"device_id {device_id} not found")
    flow = raw.get("energy_flow_direction", "INBOUND")
    if flow not in FLOWS:
        raise RecordError("energy_flow_direction must be INBOUND or OUTBOUND")
    direction = raw.get(
        "tariff_direction", "EXPORT" if flow == "OUTBOUND" else "IMPORT"
    )
    if direction not in TARIFF_DIRECTIONS:
        raise RecordError("tariff_direction must be IMPORT, EXPORT or LOCAL")
    return Owner(
        location_id=location_id,
        device_id=device_id,
        energy_flow_direction=flow,
        tariff_direction=direction,
        session_reference_id=_optional_str(raw, "session_reference_id"),
    )


def _confidence(raw: dict[str, Any]) -> float | None:
    confidence = raw.get("confidence")
    if confidence is None:
        return None
    if not is_number(confidence) or not 0 <= confidence <= 1:
        raise RecordError("confidence must be a number from 0 to 1")
    return float(confidence)


def _time(raw: dict[str, Any], key: str) -> datetime:
    try:
        return parse_time(raw.get(key))
    except ValueError:
        raise RecordError(f"{key} must be an RFC 3339 date-time") from None


def validate_interval_record(
    sandbox: Sandbox, account_id: str, raw: object, *, batch_id: str | None
) -> StoredRecord:
    """Validate one interval record and return it ready to store."""
    if not isinstance(raw, dict):
        raise RecordError("record must be an object")
    owner = validate_owner(sandbox, account_id, raw)
    units = raw.get("units")
    if units not in UNITS:
        raise RecordError("units must be one of W, KW, WH, KWH")
    value = raw.get("value")
    if not is_number(value):
        raise RecordError("value must be a number")
    start = _time(raw, "start_time")
    end = _time(raw, "end_time")
    if end <= start:
        raise RecordError("end_time must not be before start_time")
    return StoredRecord(
        id=new_id("mre"),
        account_id=account_id,
        location_id=owner.location_id,
        device_id=owner.device_id,
        energy_flow_direction=owner.energy_flow_direction,
        tariff_direction=owner.tariff_direction,
        units=units,
        value=float(value),  # type: ignore[arg-type]
        start_time=start,
        end_time=end,
        energy_wh=energy_wh(units, float(value), start, end),  # type: ignore[arg-type]
        session_reference_id=owner.session_reference_id,
        record_reference_id=_optional_str(raw, "record_reference_id"),
        confidence=_confidence(raw),
        batch_id=batch_id,
    )


def cumulative_records(
    sandbox: Sandbox, account_id: str, body: dict[str, Any], *, batch_id: str
) -> tuple[list[StoredRecord], list[dict[str, Any]]]:
    """Turn register readings into interval records.

    Readings are sorted by ``time``; each reading after the first yields one
    record from the previous reading's time to its own, with the difference of
    the two values. Envelope errors raise RecordError; a reading that is
    malformed, not later than the previous one or lower than it is reported in
    ``failed_records`` (``record_num`` = its index in ``data``) and skipped.
    """
    owner = validate_owner(sandbox, account_id, body)
    units = body.get("units")
    if units not in CUMULATIVE_UNITS:
        raise RecordError("units must be one of WH, KWH")
    data = body.get("data")
    if not isinstance(data, list):
        raise RecordError("data must be an array")
    failed: list[dict[str, Any]] = []
    readings: list[tuple[int, int, float, str | None]] = []
    for num, item in enumerate(data):
        ref = item.get("record_reference_id") if isinstance(item, dict) else None
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("time"), int)
            or isinstance(item.get("time"), bool)
            or not is_number(item.get("value"))
        ):
            failed.append(
                _failure(num, ref, "time must be an integer and value a number")
            )
            continue
        readings.append((item["time"], num, float(item["value"]), ref))
    readings.sort()
    records: list[StoredRecord] = []
    previous: tuple[int, int, float, str | None] | None = None
    for reading in readings:
        when, num, value, ref = reading
        if previous is not None:
            if when <= previous[0]:
                failed.append(_failure(num, ref, "time must increase"))
                continue
            if value < previous[2]:
                failed.append(_failure(num, ref, "value must not decrease"))
                previous = reading
                continue
            start = datetime.fromtimestamp(previous[0], UTC)
            end = datetime.fromtimestamp(when, UTC)
            records.append(
                StoredRecord(
                    id=new_id("mre"),
                    account_id=account_id,
                    location_id=owner.location_id,
                    device_id=owner.device_id,
                    energy_flow_direction=owner.energy_flow_direction,
                    tariff_direction=owner.tariff_direction,
                    units=units,
                    value=value - previous[2],
                    start_time=start,
                    end_time=end,
                    energy_wh=energy_wh(units, value - previous[2], start, end),
                    session_reference_id=owner.session_reference_id,
                    record_reference_id=ref,
                    batch_id=batch_id,
                )
            )
        previous = reading
    failed.sort(key=lambda f: f["record_num"])
    return records, failed


def _failure(num: int, ref: object, error: str) -> dict[str, Any]:
    return {
        "record_num": num,
        "record_reference_id": ref if isinstance(ref, str) else None,
        "error": error,
    }


def submit_interval(
    sandbox: Sandbox,
    account_id: str,
    live_mode: bool,  # noqa: FBT001
    body: list[Any],
) -> dict[str, Any]:
    """Validate and store an interval batch; return the ``meter_batch`` object."""
    batch_id = new_id("bat")
    records: list[StoredRecord] = []
    failed: list[dict[str, Any]] = []
    for num, raw in enumerate(body):
        try:
            records.append(
                validate_interval_record(sandbox, account_id, raw, batch_id=batch_id)
            )
        except RecordError as err:
            ref = raw.get("record_reference_id") if isinstance(raw, dict) else None
            failed.append(_failure(num, ref, str(err)))
    sandbox.store_records(records)
    return store_batch(sandbox, account_id, live_mode, batch_id, len(body), failed)


def store_batch(
    sandbox: Sandbox,
    account_id: str,
    live_mode: bool,  # noqa: FBT001
    batch_id: str,
    submitted: int,
    failed: list[dict[str, Any]],
) -> dict[str, Any]:
    """Record and return a ``meter_batch`` object (processing is synchronous)."""
    accepted = submitted - len(failed)
    batch = {
        "id": batch_id,
        "object": "meter_batch",
        "live_mode": live_mode,
        "records_submitted": submitted,
        "records_accepted": accepted,
        "records_processed": accepted,
        "failed_records": failed,
        "time_created": utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "account_id": account_id,
    }
    sandbox.batches[batch_id] = batch
    sandbox.changed()
    return batch
