"""Flatpeak API objects (anode release), parsed and validated from JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Self

from .errors import FlatpeakResponseError

if TYPE_CHECKING:
    from collections.abc import Callable


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


_KINDS: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (type(None), "null"),
    (bool, "a boolean"),  # before int: bool is an int subclass
    ((int, float), "a number"),
    (str, "a string"),
    (list, "an array"),
    (dict, "an object"),
)


def _kind(value: object) -> str:
    """Name a JSON value's type for an error message."""
    for types, name in _KINDS:
        if isinstance(value, types):
            return name
    return type(value).__name__


class _Reader:
    """Validated access to one JSON object, naming it in every error."""

    __slots__ = ("_data", "name")

    def __init__(self, data: object, name: str) -> None:
        if not isinstance(data, dict):
            msg = f"{name}: expected an object, got {_kind(data)}"
            raise FlatpeakResponseError(msg)
        self._data: dict[str, Any] = data
        self.name = name

    def _error(self, key: str, problem: str) -> FlatpeakResponseError:
        return FlatpeakResponseError(f"{self.name}: {key!r} {problem}")

    def _required(self, key: str) -> object:
        if key not in self._data:
            raise self._error(key, "is missing")
        return self._data[key]

    def _convert[T](
        self, key: str, value: object, check: Callable[[object], T | None], what: str
    ) -> T:
        result = check(value)
        if result is None:
            raise self._error(key, f"must be {what}")
        return result

    def _optional[T](
        self, key: str, check: Callable[[object], T | None], what: str
    ) -> T | None:
        value = self._data.get(key)
        return None if value is None else self._convert(key, value, check, what)

    def require_str(self, key: str) -> str:
        return self._convert(key, self._required(key), _as_str, "a string")

    def optional_str(self, key: str) -> str | None:
        return self._optional(key, _as_str, "a string")

    def require_int(self, key: str) -> int:
        return self._convert(key, self._required(key), _as_int, "an integer")

    def require_float(self, key: str) -> float:
        return self._convert(key, self._required(key), _as_float, "a number")

    def optional_float(self, key: str) -> float | None:
        return self._optional(key, _as_float, "a number")

    def require_bool(self, key: str) -> bool:
        return self._convert(key, self._required(key), _as_bool, "a boolean")

    def optional_bool(self, key: str) -> bool | None:
        return self._optional(key, _as_bool, "a boolean")

    def require_time(self, key: str) -> datetime:
        return self._convert(key, self._required(key), _as_time, _TIME)

    def optional_time(self, key: str) -> datetime | None:
        return self._optional(key, _as_time, _TIME)

    def optional_enum[E: StrEnum](self, key: str, enum: type[E]) -> E | None:
        what = "one of " + ", ".join(enum)
        return self._optional(key, _as_enum(enum), what)

    def require_object(self, key: str) -> _Reader:
        return _Reader(self._required(key), f"{self.name}.{key}")

    def optional_object(self, key: str) -> _Reader | None:
        value = self._data.get(key)
        return None if value is None else _Reader(value, f"{self.name}.{key}")

    def require_list(self, key: str) -> list[object]:
        return self._convert(key, self._required(key), _as_list, "an array")

    def optional_list(self, key: str) -> list[object]:
        """Return the array at `key`; a missing or null array is empty."""
        return self._optional(key, _as_list, "an array") or []

    def optional_str_map(self, key: str) -> dict[str, str]:
        """Return an object of strings; a missing or null object is empty."""
        return self._optional(key, _as_str_map, "an object of strings") or {}

    def objects[T](self, key: str, parse: Callable[[_Reader], T]) -> tuple[T, ...]:
        """Parse each element of the (optional) array at `key`."""
        return tuple(
            parse(_Reader(item, f"{self.name}.{key}[{index}]"))
            for index, item in enumerate(self.optional_list(key))
        )


_TIME = "an RFC 3339 timestamp with an offset"


def _as_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _as_int(value: object) -> int | None:
    # bool is an int subclass, but true is not a count.
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _as_float(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _as_bool(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def _as_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    # A timestamp without an offset would be ambiguous; RFC 3339 requires one.
    return parsed if parsed.tzinfo is not None else None


def _as_enum[E: StrEnum](enum: type[E]) -> Callable[[object], E | None]:
    def check(value: object) -> E | None:
        if not isinstance(value, str):
            return None
        try:
            return enum(value)
        except ValueError:
            return None

    return check


def _as_list(value: object) -> list[object] | None:
    return value if isinstance(value, list) else None


def _as_str_map(value: object) -> dict[str, str] | None:
    if not isinstance(value, dict):
        return None
    if not all(isinstance(item, str) for item in value.values()):
        return None
    return dict(value)


def parse_page(data: object, name: str) -> tuple[list[object], bool]:
    """Return the items and `has_more` of one page of a Flatpeak list."""
    page = _Reader(data, name)
    return page.require_list("data"), bool(page.optional_bool("has_more"))


@dataclass(frozen=True, slots=True)
class LoginResult:
    """A bearer token from `GET /login`."""

    bearer_token: str = field(repr=False)
    expires_in: int
    live_mode: bool

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse the login answer."""
        obj = _Reader(data, "login")
        return cls(
            bearer_token=obj.require_str("bearer_token"),
            expires_in=obj.require_int("expires_in"),
            live_mode=obj.require_bool("live_mode"),
        )


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
        return cls._parse(_Reader(data, "postal_address"))

    @classmethod
    def _parse(cls, obj: _Reader) -> Self:
        return cls(
            address_line1=obj.require_str("address_line1"),
            city=obj.require_str("city"),
            post_code=obj.require_str("post_code"),
            country_code=obj.require_str("country_code"),
            address_line2=obj.optional_str("address_line2"),
            state=obj.optional_str("state"),
        )

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


@dataclass(frozen=True, slots=True)
class Location:
    """A Flatpeak location (a property with its tariff)."""

    id: str
    live_mode: bool
    timezone: str | None
    currency_code: str | None
    postal_address: PostalAddress | None
    tariff_status: dict[str, str]
    reference_id: str | None
    customer_id: str | None
    account_id: str | None
    time_created: datetime | None

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse a `location` object."""
        obj = _Reader(data, "location")
        address = obj.optional_object("postal_address")
        return cls(
            id=obj.require_str("id"),
            live_mode=obj.require_bool("live_mode"),
            timezone=obj.optional_str("timezone"),
            currency_code=obj.optional_str("currency_code"),
            postal_address=None if address is None else PostalAddress._parse(address),  # noqa: SLF001
            tariff_status=obj.optional_str_map("tariff_status"),
            reference_id=obj.optional_str("reference_id"),
            customer_id=obj.optional_str("customer_id"),
            account_id=obj.optional_str("account_id"),
            time_created=obj.optional_time("time_created"),
        )


@dataclass(frozen=True, slots=True)
class Device:
    """A Flatpeak device (a meter behind a location)."""

    id: str
    reference_id: str | None
    # Flatpeak's own create-device example omits these, so they are optional.
    live_mode: bool | None
    account_id: str | None
    time_created: datetime | None

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse a `device` object."""
        obj = _Reader(data, "device")
        return cls(
            id=obj.require_str("id"),
            reference_id=obj.optional_str("reference_id"),
            live_mode=obj.optional_bool("live_mode"),
            account_id=obj.optional_str("account_id"),
            time_created=obj.optional_time("time_created"),
        )


@dataclass(frozen=True, slots=True)
class MeterRecord:
    """One interval meter record as sent to `PUT /meters/interval`."""

    location_id: str
    start_time: datetime
    end_time: datetime
    value: float
    units: Units = Units.KWH
    energy_flow_direction: EnergyFlowDirection = EnergyFlowDirection.INBOUND
    tariff_direction: TariffDirection = TariffDirection.IMPORT
    device_id: str | None = None
    session_reference_id: str | None = None
    record_reference_id: str | None = None
    confidence: float | None = None

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse a record written by `to_dict` (e.g. from a persisted queue)."""
        obj = _Reader(data, "meter_record")
        return cls(
            location_id=obj.require_str("location_id"),
            start_time=obj.require_time("start_time"),
            end_time=obj.require_time("end_time"),
            value=obj.require_float("value"),
            units=obj.optional_enum("units", Units) or Units.KWH,
            energy_flow_direction=obj.optional_enum(
                "energy_flow_direction", EnergyFlowDirection
            )
            or EnergyFlowDirection.INBOUND,
            tariff_direction=obj.optional_enum("tariff_direction", TariffDirection)
            or TariffDirection.IMPORT,
            device_id=obj.optional_str("device_id"),
            session_reference_id=obj.optional_str("session_reference_id"),
            record_reference_id=obj.optional_str("record_reference_id"),
            confidence=obj.optional_float("confidence"),
        )

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


@dataclass(frozen=True, slots=True)
class CumulativeReading:
    """One register reading for `PUT /meters/cumulative/epoch`."""

    time: datetime
    value: float
    record_reference_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON object Flatpeak wants (time in unix seconds)."""
        if self.time.tzinfo is None:
            msg = f"Flatpeak needs timezone-aware datetimes, got {self.time!r}"
            raise ValueError(msg)
        data: dict[str, Any] = {"time": int(self.time.timestamp()), "value": self.value}
        if self.record_reference_id is not None:
            data["record_reference_id"] = self.record_reference_id
        return data


@dataclass(frozen=True, slots=True)
class FailedRecord:
    """A record Flatpeak refused; `record_num` is its 0-based index in the call."""

    record_num: int
    record_reference_id: str | None
    error: str

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse one `failed_records` element."""
        return cls._parse(_Reader(data, "failed_record"))

    @classmethod
    def _parse(cls, obj: _Reader) -> Self:
        return cls(
            record_num=obj.require_int("record_num"),
            record_reference_id=obj.optional_str("record_reference_id"),
            error=obj.require_str("error"),
        )


@dataclass(frozen=True, slots=True)
class MeterBatch:
    """Flatpeak's receipt for one submission of meter records."""

    id: str
    records_submitted: int
    records_accepted: int
    records_processed: int
    failed_records: tuple[FailedRecord, ...]
    time_created: datetime | None

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse a `meter_batch` object."""
        obj = _Reader(data, "meter_batch")
        return cls(
            id=obj.require_str("id"),
            records_submitted=obj.require_int("records_submitted"),
            records_accepted=obj.require_int("records_accepted"),
            records_processed=obj.require_int("records_processed"),
            failed_records=obj.objects("failed_records", FailedRecord._parse),  # noqa: SLF001
            time_created=obj.optional_time("time_created"),
        )


@dataclass(frozen=True, slots=True)
class SubmissionResult:
    """Outcome of `submit_interval_records`, mapped back to the records given."""

    batches: tuple[MeterBatch, ...] = ()
    accepted: tuple[MeterRecord, ...] = ()
    failed: tuple[tuple[MeterRecord, str], ...] = ()


def _energy_factor(units: str) -> float:
    """Return the factor from an `energy_units` value to Wh."""
    return 1000.0 if units.upper() == "KWH" else 1.0


@dataclass(frozen=True, slots=True)
class CostRow:
    """One row of an energy cost report (energy always in Wh)."""

    start_time: datetime
    end_time: datetime
    energy_wh: float
    cost: float
    confidence: float | None
    session_reference_id: str | None = None
    record_reference_id: str | None = None

    @classmethod
    def from_dict(cls, data: object, *, energy_units: str = "WH") -> Self:
        """Parse one `data` row of an `energy_cost` object."""
        return cls._parse(_Reader(data, "energy_cost_row"), energy_units)

    @classmethod
    def _parse(cls, obj: _Reader, energy_units: str) -> Self:
        start_time = obj.require_time("start_time")
        end_time = obj.require_time("end_time")
        energy = obj.require_object("energy").require_float("value")
        cost = obj.require_object("cost")
        return cls(
            start_time=start_time,
            end_time=end_time,
            energy_wh=energy * _energy_factor(energy_units),
            cost=cost.require_float("value"),
            confidence=cost.optional_float("confidence"),
            session_reference_id=obj.optional_str("session_reference_id"),
            record_reference_id=obj.optional_str("record_reference_id"),
        )


@dataclass(frozen=True, slots=True)
class EnergyCost:
    """An `energy_cost` report (by interval or by session)."""

    id: str | None
    object_id: str | None
    tariff_direction: TariffDirection
    location_timezone: str | None
    currency_code: str
    energy_units: str
    rows: tuple[CostRow, ...]

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse an `energy_cost` object."""
        obj = _Reader(data, "energy_cost")
        units = obj.optional_str("energy_units") or "WH"
        obj.require_list("data")
        return cls(
            id=obj.optional_str("id"),
            object_id=obj.optional_str("object_id"),
            tariff_direction=obj.optional_enum("tariff_direction", TariffDirection)
            or TariffDirection.IMPORT,
            location_timezone=obj.optional_str("location_timezone"),
            currency_code=obj.require_str("currency_code"),
            energy_units=units,
            rows=obj.objects("data", lambda row: CostRow._parse(row, units)),  # noqa: SLF001
        )

    @property
    def total_cost(self) -> float:
        """Sum of the rows' cost, in major currency units."""
        return sum(row.cost for row in self.rows)

    @property
    def total_energy_wh(self) -> float:
        """Sum of the rows' energy in Wh."""
        return sum(row.energy_wh for row in self.rows)

    @property
    def min_confidence(self) -> float | None:
        """Lowest confidence of the rows (None when no row states one)."""
        values = [row.confidence for row in self.rows if row.confidence is not None]
        return min(values, default=None)


@dataclass(frozen=True, slots=True)
class InstantCost:
    """Cost of one record from `POST /costs/instant`."""

    currency_code: str
    energy_wh: float
    cost: float
    confidence: float | None
    start_time: datetime
    end_time: datetime

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse the `meter_record` answer of `POST /costs/instant`."""
        obj = _Reader(data, "instant_cost")
        units = obj.optional_str("energy_units") or "WH"
        row = CostRow._parse(obj.require_object("data"), units)  # noqa: SLF001
        return cls(
            currency_code=obj.require_str("currency_code"),
            energy_wh=row.energy_wh,
            cost=row.cost,
            confidence=row.confidence,
            start_time=row.start_time,
            end_time=row.end_time,
        )


@dataclass(frozen=True, slots=True)
class PricePeriod:
    """A period of constant price (per kWh, major currency units)."""

    valid_from: datetime
    valid_to: datetime
    price: float
    confidence: float | None

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse one `data` row of a `price` object."""
        return cls._parse(_Reader(data, "price_period"))

    @classmethod
    def _parse(cls, obj: _Reader) -> Self:
        valid_from = obj.require_time("valid_from")
        valid_to = obj.require_time("valid_to")
        price = obj.require_object("price")
        return cls(
            valid_from=valid_from,
            valid_to=valid_to,
            price=price.require_float("value"),
            confidence=price.optional_float("confidence"),
        )


@dataclass(frozen=True, slots=True)
class PriceSeries:
    """Prices of one location from `POST /prices/{location_id}`."""

    location_id: str
    currency_code: str
    location_timezone: str | None
    tariff_direction: TariffDirection
    next_update: datetime | None
    periods: tuple[PricePeriod, ...] = ()

    @classmethod
    def from_dict(
        cls,
        data: object,
        *,
        location_id: str | None = None,
        tariff_direction: TariffDirection | None = None,
    ) -> Self:
        """Parse a `price` object; the keywords fill fields the answer omits."""
        obj = _Reader(data, "price")
        # The documented answer echoes the direction only inside `request`.
        request = obj.optional_object("request")
        direction = obj.optional_enum("tariff_direction", TariffDirection)
        if direction is None and request is not None:
            direction = request.optional_enum("tariff_direction", TariffDirection)
        direction = direction or tariff_direction
        if direction is None:
            raise FlatpeakResponseError("price: 'tariff_direction' is missing")
        found_id = obj.optional_str("location_id") or location_id
        if found_id is None:
            raise FlatpeakResponseError("price: 'location_id' is missing")
        obj.require_list("data")
        return cls(
            location_id=found_id,
            currency_code=obj.require_str("currency_code"),
            location_timezone=obj.optional_str("location_timezone"),
            tariff_direction=direction,
            next_update=obj.optional_time("next_update"),
            periods=obj.objects("data", PricePeriod._parse),  # noqa: SLF001
        )

    def price_at(self, when: datetime) -> PricePeriod | None:
        """Return the period that holds `when` (None outside the series)."""
        for period in self.periods:
            if period.valid_from <= when < period.valid_to:
                return period
        return None
