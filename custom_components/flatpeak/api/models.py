"""Flatpeak accounts, locations, devices and meter records (anode release)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Self

from mashumaro import field_options

from ._decode import array_of, decodable, decoder, only, or_default, parse, str_map


class EnergyFlowDirection(StrEnum):
    """Which way the energy flowed through the meter."""

    INBOUND = "INBOUND"
    OUTBOUND = "OUTBOUND"


class TariffDirection(StrEnum):
    """Which tariff prices the energy."""

    IMPORT = "IMPORT"
    EXPORT = "EXPORT"
    LOCAL = "LOCAL"


class Units(StrEnum):
    """Units of a meter record value (W/KW: constant power over the interval)."""

    W = "W"
    KW = "KW"
    WH = "WH"
    KWH = "KWH"


class Aggregation(StrEnum):
    """Bucket size of an interval cost report."""

    DAY = "DAY"
    MONTH = "MONTH"


def format_time(value: datetime) -> str:
    """Return an aware datetime as RFC 3339 in UTC with a `Z` suffix."""
    if value.tzinfo is None or value.utcoffset() is None:
        msg = f"Flatpeak needs timezone-aware datetimes, got {value!r}"
        raise ValueError(msg)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


@decodable
@dataclass(slots=True, kw_only=True)
class _Page:
    """One page of a Flatpeak list."""

    data: list[object] = field(metadata=field_options(deserialize=only(list)))
    has_more: bool | None = None


def parse_page(data: object, name: str) -> tuple[list[object], bool]:
    """Return the items and `has_more` of one page of a Flatpeak list."""
    page = parse(_Page, data, name)
    return page.data, bool(page.has_more)


@decodable
@dataclass(frozen=True, slots=True)
class LoginResult:
    """A bearer token from `GET /login`."""

    bearer_token: str = field(repr=False)
    expires_in: int
    live_mode: bool

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse the login answer."""
        return parse(cls, data, "login")


@decodable
@dataclass(frozen=True, slots=True)
class PostalAddress:
    """A postal address; Flatpeak derives timezone and currency from it."""

    address_line1: str
    city: str
    post_code: str
    country_code: str
    address_line2: str | None = None
    state: str | None = None

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse a `postal_address` object."""
        return parse(cls, data, "postal_address")

    def to_dict(self) -> dict[str, str]:
        """Return the JSON object Flatpeak wants (None fields omitted)."""
        fields = {
            "address_line1": self.address_line1,
            "address_line2": self.address_line2,
            "city": self.city,
            "state": self.state,
            "post_code": self.post_code,
            "country_code": self.country_code,
        }
        return {key: value for key, value in fields.items() if value is not None}


@decodable
@dataclass(frozen=True, slots=True)
class Location:
    """A Flatpeak location (a property with its tariff)."""

    id: str
    live_mode: bool
    timezone: str | None = None
    currency_code: str | None = None
    postal_address: PostalAddress | None = None
    tariff_status: dict[str, str] = field(
        default_factory=dict, metadata=field_options(deserialize=str_map)
    )
    reference_id: str | None = None
    customer_id: str | None = None
    account_id: str | None = None
    time_created: datetime | None = None

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse a `location` object."""
        return parse(cls, data, "location")


@decodable
@dataclass(frozen=True, slots=True)
class Device:
    """A Flatpeak device (a meter behind a location)."""

    id: str
    reference_id: str | None = None
    # Flatpeak's own create-device example omits these, so they are optional.
    live_mode: bool | None = None
    account_id: str | None = None
    time_created: datetime | None = None

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse a `device` object."""
        return parse(cls, data, "device")


@decodable
@dataclass(frozen=True, slots=True)
class MeterRecord:
    """One interval meter record as sent to `PUT /meters/interval`."""

    location_id: str
    start_time: datetime
    end_time: datetime
    value: float
    units: Units = field(default=Units.KWH, metadata=or_default(Units.KWH))
    energy_flow_direction: EnergyFlowDirection = field(
        default=EnergyFlowDirection.INBOUND,
        metadata=or_default(EnergyFlowDirection.INBOUND),
    )
    tariff_direction: TariffDirection = field(
        default=TariffDirection.IMPORT, metadata=or_default(TariffDirection.IMPORT)
    )
    device_id: str | None = None
    session_reference_id: str | None = None
    record_reference_id: str | None = None
    confidence: float | None = None

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse a record written by `to_dict` (e.g. from a persisted queue)."""
        return parse(cls, data, "meter_record")

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON object Flatpeak wants (UTC `Z` times, None omitted)."""
        fields: dict[str, Any] = {
            "location_id": self.location_id,
            "device_id": self.device_id,
            "session_reference_id": self.session_reference_id,
            "record_reference_id": self.record_reference_id,
            "energy_flow_direction": self.energy_flow_direction.value,
            "tariff_direction": self.tariff_direction.value,
            "units": self.units.value,
            "value": self.value,
            "start_time": format_time(self.start_time),
            "end_time": format_time(self.end_time),
            "confidence": self.confidence,
        }
        return {key: value for key, value in fields.items() if value is not None}


@decodable
@dataclass(slots=True, kw_only=True)
class _FailedRecordJSON:
    """A `failed_records` element (its optional field is not last in FailedRecord)."""

    record_num: int
    record_reference_id: str | None = None
    error: str

    def build[R: FailedRecord](self, cls: type[R]) -> R:
        return cls(self.record_num, self.record_reference_id, self.error)


@dataclass(frozen=True, slots=True)
class FailedRecord:
    """A record Flatpeak refused; `record_num` is its 0-based index in the call."""

    record_num: int
    record_reference_id: str | None
    error: str

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse one `failed_records` element."""
        return parse(_FailedRecordJSON, data, "failed_record").build(cls)


def _failed_record(data: object) -> FailedRecord:
    return decoder(_FailedRecordJSON)(data).build(FailedRecord)


@decodable
@dataclass(frozen=True, slots=True)
class MeterBatch:
    """Flatpeak's receipt for one submission of meter records."""

    id: str
    records_submitted: int
    records_accepted: int
    records_processed: int
    failed_records: tuple[FailedRecord, ...] = field(
        default=(), metadata=array_of(_failed_record, null_is_empty=True)
    )
    time_created: datetime | None = None

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse a `meter_batch` object."""
        return parse(cls, data, "meter_batch")


@dataclass(frozen=True, slots=True)
class SubmissionResult:
    """Outcome of `submit_interval_records`, mapped back to the records given."""

    batches: tuple[MeterBatch, ...] = ()
    accepted: tuple[MeterRecord, ...] = ()
    failed: tuple[tuple[MeterRecord, str], ...] = ()
