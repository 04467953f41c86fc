"""Cost reports (``energy_cost``), instant costs and price series."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from .errors import ApiError, bad_request, not_found
from .tariff import DIRECTIONS, Tariff, energy_cost, price_segments
from .util import format_time, new_id

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .state import Location, Sandbox, StoredRecord, Token

MAX_PRICE_WINDOW = timedelta(days=90)
# Local hour at which prices are published (Agile: tomorrow's prices at 16:00).
PUBLISH_HOUR = 16
AGGREGATIONS = ("DAY", "MONTH")


@dataclass(slots=True)
class _Row:
    start: datetime
    end: datetime
    energy_wh: float
    cost: float
    confidence: float
    session_reference_id: str | None = None
    record_reference_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "start_time": format_time(self.start),
            "end_time": format_time(self.end),
        }
        if self.session_reference_id is not None:
            row["session_reference_id"] = self.session_reference_id
        if self.record_reference_id is not None:
            row["record_reference_id"] = self.record_reference_id
        row["energy"] = {"value": round(self.energy_wh, 3)}
        row["cost"] = {"value": round(self.cost, 5), "confidence": self.confidence}
        return row


def check_direction(value: object) -> str:
    """Validate a ``tariff_direction`` (default IMPORT)."""
    if value is None:
        return "IMPORT"
    if value not in DIRECTIONS:
        raise bad_request(
            "tariff_direction_invalid",
            "tariff_direction must be IMPORT, EXPORT or LOCAL",
        )
    return str(value)


def priced_location(sandbox: Sandbox, location_id: str) -> tuple[Location, Tariff]:
    """Return a location and its tariff, or raise the 422 the API would send."""
    location = sandbox.locations[location_id]
    code = sandbox.faults.pending_connect.get(location_id)
    if code is not None:
        raise ApiError(422, code, "Connect is processing link to tariff source.")
    if location.tariff is None:
        raise ApiError(422, "no_tariff_connected", "No tariff is connected to location")
    return location, location.tariff


def check_pending(sandbox: Sandbox, location_ids: Iterable[str]) -> None:
    """Raise 422 when any of the locations is switched to pending connect."""
    for location_id in location_ids:
        code = sandbox.faults.pending_connect.get(location_id)
        if code is not None:
            raise ApiError(422, code, "Connect is processing link to tariff source.")


def record_cost(
    sandbox: Sandbox, record: StoredRecord, start: datetime, end: datetime
) -> _Row:
    """Price the part ``[start, end)`` of a record (energy spread evenly)."""
    _, tariff = priced_location(sandbox, record.location_id)
    duration = (record.end_time - record.start_time).total_seconds()
    share = (end - start).total_seconds() / duration
    energy = record.energy_wh * share
    return _Row(
        start=start,
        end=end,
        energy_wh=energy,
        cost=energy_cost(tariff, record.tariff_direction, start, end, energy),
        confidence=tariff.confidence,
        session_reference_id=record.session_reference_id,
        record_reference_id=record.record_reference_id,
    )


def _bucket_start(when: datetime, zone: ZoneInfo, aggregation: str) -> date:
    local = when.astimezone(zone).date()
    return local.replace(day=1) if aggregation == "MONTH" else local


def _next_bucket(day: date, aggregation: str) -> date:
    if aggregation == "DAY":
        return day + timedelta(days=1)
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def _aggregate(
    sandbox: Sandbox,
    parts: list[tuple[StoredRecord, datetime, datetime]],
    zone: ZoneInfo,
    aggregation: str,
    window: tuple[datetime, datetime],
) -> list[_Row]:
    buckets: dict[date, _Row] = {}
    for record, start, end in parts:
        cursor = start
        while cursor < end:
            day = _bucket_start(cursor, zone, aggregation)
            bucket_start = _midnight(day, zone)
            bucket_end = _midnight(_next_bucket(day, aggregation), zone)
            piece_end = min(end, bucket_end)
            row = record_cost(sandbox, record, cursor, piece_end)
            current = buckets.get(day)
            if current is None:
                buckets[day] = _Row(
                    max(bucket_start, window[0]),
                    min(bucket_end, window[1]),
                    row.energy_wh,
                    row.cost,
                    row.confidence,
                )
            else:
                current.energy_wh += row.energy_wh
                current.cost += row.cost
                current.confidence = min(current.confidence, row.confidence)
            cursor = piece_end
    return [buckets[day] for day in sorted(buckets)]


def _response_location(
    sandbox: Sandbox, account_id: str, object_id: str
) -> Location | None:
    location = sandbox.locations.get(object_id)
    if location is not None:
        return location
    own = [r for r in sandbox.records() if r.device_id == object_id]
    if own:
        return sandbox.locations[own[-1].location_id]
    mine = [loc for loc in sandbox.locations.values() if loc.account_id == account_id]
    return max(mine, key=lambda loc: sandbox.order_of(loc.id)) if mine else None


def _energy_cost(
    token: Token,
    object_id: str,
    direction: str,
    location: Location | None,
    rows: list[_Row],
) -> dict[str, Any]:
    return {
        "id": new_id("ecs"),
        "object": "energy_cost",
        "object_id": object_id,
        "live_mode": token.live_mode,
        "tariff_direction": direction,
        "location_timezone": location.timezone if location else "UTC",
        "currency_code": location.currency_code if location else "EUR",
        "energy_units": "WH",
        "data": [row.to_json() for row in rows],
        "account_id": token.account_id,
    }


def interval_cost(
    sandbox: Sandbox,
    token: Token,
    object_id: str,
    start: datetime,
    end: datetime,
    direction: str,
    aggregation: str | None,
) -> dict[str, Any]:
    """Build the ``energy_cost`` answer of ``POST /costs/interval/{id}``."""
    location = sandbox.locations.get(object_id)
    device = sandbox.devices.get(object_id)
    owner = location or device
    if owner is None or owner.account_id != token.account_id:
        raise not_found()
    if end <= start:
        raise bad_request("time_range_invalid", "end_time must be after start_time")
    if aggregation is not None and aggregation not in AGGREGATIONS:
        raise bad_request("aggregation_invalid", "aggregation must be DAY or MONTH")
    if location is not None:
        check_pending(sandbox, [location.id])
        priced_location(sandbox, location.id)
        selected = [r for r in sandbox.records() if r.location_id == object_id]
        selected = [r for r in selected if r.device_id is None]
    else:
        selected = [r for r in sandbox.records() if r.device_id == object_id]
    selected = [
        r
        for r in selected
        if r.tariff_direction == direction and r.start_time < end and r.end_time > start
    ]
    check_pending(sandbox, {r.location_id for r in selected})
    parts = sorted(
        ((r, max(r.start_time, start), min(r.end_time, end)) for r in selected),
        key=lambda p: (p[1], p[2]),
    )
    response_location = _response_location(sandbox, token.account_id, object_id)
    if aggregation is None:
        rows = [record_cost(sandbox, r, s, e) for r, s, e in parts]
    else:
        zone = ZoneInfo(response_location.timezone if response_location else "UTC")
        rows = _aggregate(sandbox, parts, zone, aggregation, (start, end))
    return _energy_cost(token, object_id, direction, response_location, rows)


def session_cost(
    sandbox: Sandbox, token: Token, session_reference_id: str, direction: str
) -> dict[str, Any]:
    """Build the ``energy_cost`` answer of ``POST /costs/session/{id}``.

    One row per stored record of the session (any location or device of the
    account) with that tariff direction; 404 when there is none.
    """
    selected = [
        r
        for r in sandbox.records()
        if r.account_id == token.account_id
        and r.session_reference_id == session_reference_id
        and r.tariff_direction == direction
    ]
    if not selected:
        raise not_found()
    check_pending(sandbox, {r.location_id for r in selected})
    selected.sort(key=lambda r: (r.start_time, r.end_time))
    rows = [record_cost(sandbox, r, r.start_time, r.end_time) for r in selected]
    object_id = selected[-1].owner_id
    location = sandbox.locations[selected[-1].location_id]
    return _energy_cost(token, object_id, direction, location, rows)


def instant_cost(
    sandbox: Sandbox, token: Token, record: StoredRecord, request: dict[str, Any]
) -> dict[str, Any]:
    """Build the ``meter_record`` answer of ``POST /costs/instant``."""
    location, _ = priced_location(sandbox, record.location_id)
    row = record_cost(sandbox, record, record.start_time, record.end_time)
    return {
        "id": record.id,
        "object": "meter_record",
        "live_mode": token.live_mode,
        "energy_flow_direction": record.energy_flow_direction,
        "tariff_direction": record.tariff_direction,
        "currency_code": location.currency_code,
        "energy_units": "WH",
        "request": request,
        "data": row.to_json(),
        "time_created": format_time(record.time_created.replace(microsecond=0)),
        "account_id": token.account_id,
    }


def next_update(now: datetime, timezone: str) -> datetime:
    """Return the next 16:00 local time strictly after ``now`` (any tariff kind)."""
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    candidate = datetime.combine(local.date(), time(PUBLISH_HOUR), tzinfo=zone)
    if candidate <= local:
        candidate = datetime.combine(
            local.date() + timedelta(days=1), time(PUBLISH_HOUR), tzinfo=zone
        )
    return candidate


def published_until(tariff: Tariff, now: datetime, timezone: str) -> datetime | None:
    """Return the end of the prices published at ``now`` (None: no end).

    A time-of-use tariff is known in advance: every allowed window is published.
    Agile (like Octopus Agile): up to the end of today (local) before 16:00
    local, up to the end of tomorrow (local) from 16:00 local on.
    """
    if tariff.kind == "tou":
        return None
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    days = 1 if local.time() < time(PUBLISH_HOUR) else 2
    return _midnight(local.date() + timedelta(days=days), zone).astimezone(UTC)


def prices(
    sandbox: Sandbox,
    token: Token,
    location_id: str,
    start: datetime,
    end: datetime,
    direction: str,
) -> dict[str, Any]:
    """Build the ``price`` answer of ``POST /prices/{location_id}``.

    ``data`` holds the published part of ``[start, end)`` only: empty when the
    window lies entirely beyond what is published (:func:`published_until`).
    """
    location = sandbox.locations.get(location_id)
    if location is None or location.account_id != token.account_id:
        raise not_found()
    if end <= start:
        raise bad_request("time_range_invalid", "end_time must be after start_time")
    if end - start > MAX_PRICE_WINDOW:
        raise bad_request(
            "time_range_invalid", "end_time must be at most 90 days after start_time"
        )
    _, tariff = priced_location(sandbox, location_id)
    now = sandbox.now()
    horizon = published_until(tariff, now, location.timezone)
    published_end = end if horizon is None else min(end, horizon)
    return {
        "id": new_id("prs"),
        "object": "price",
        "live_mode": token.live_mode,
        "location_id": location_id,
        "location_timezone": location.timezone,
        "currency_code": location.currency_code,
        "tariff_direction": direction,
        "last_updated": format_time(now),
        "next_update": format_time(next_update(now, location.timezone)),
        "request": {
            "tariff_direction": direction,
            "start_time": format_time(start),
            "end_time": format_time(end),
        },
        "data": [
            {
                "valid_from": format_time(seg.start),
                "valid_to": format_time(seg.end),
                "price": {"value": seg.price, "confidence": tariff.confidence},
            }
            for seg in price_segments(tariff, direction, start, published_end)
        ],
        "time_created": format_time(now),
        "account_id": token.account_id,
    }
