"""Flatpeak cost reports and prices (anode release), decoded with mashumaro."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime  # noqa: TC003  # mashumaro reads the annotations
from typing import Self

from mashumaro import field_options

from ._decode import array_of, decodable, decoder, only, parse
from .errors import FlatpeakResponseError
from .models import TariffDirection


def _energy_factor(units: str) -> float:
    """Return the factor from an `energy_units` value to Wh."""
    return 1000.0 if units.upper() == "KWH" else 1.0


@decodable
@dataclass(slots=True, kw_only=True)
class _Amount:
    """An `energy`, `cost` or `price` object."""

    value: float
    confidence: float | None = None


@decodable
@dataclass(slots=True, kw_only=True)
class _CostRowJSON:
    """A row of an `energy_cost` object, or the `data` of an instant cost."""

    start_time: datetime
    end_time: datetime
    energy: _Amount
    cost: _Amount
    session_reference_id: str | None = None
    record_reference_id: str | None = None

    def build[R: CostRow](self, cls: type[R], energy_factor: float) -> R:
        return cls(
            self.start_time,
            self.end_time,
            self.energy.value * energy_factor,
            self.cost.value,
            self.cost.confidence,
            self.session_reference_id,
            self.record_reference_id,
        )


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
        row = parse(_CostRowJSON, data, "energy_cost_row")
        return row.build(cls, _energy_factor(energy_units))


@decodable
@dataclass(slots=True, kw_only=True)
class _EnergyCostJSON:
    """An `energy_cost` object as Flatpeak sends it."""

    energy_units: str | None = None
    data: tuple[_CostRowJSON, ...] = field(metadata=array_of(decoder(_CostRowJSON)))
    id: str | None = None
    object_id: str | None = None
    tariff_direction: TariffDirection | None = None
    location_timezone: str | None = None
    currency_code: str


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
        report = parse(_EnergyCostJSON, data, "energy_cost")
        units = report.energy_units or "WH"
        factor = _energy_factor(units)
        return cls(
            id=report.id,
            object_id=report.object_id,
            tariff_direction=report.tariff_direction or TariffDirection.IMPORT,
            location_timezone=report.location_timezone,
            currency_code=report.currency_code,
            energy_units=units,
            rows=tuple(row.build(CostRow, factor) for row in report.data),
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


@decodable
@dataclass(slots=True, kw_only=True)
class _InstantCostJSON:
    """The `meter_record` answer of `POST /costs/instant`."""

    energy_units: str | None = None
    data: _CostRowJSON
    currency_code: str


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
        answer = parse(_InstantCostJSON, data, "instant_cost")
        row = answer.data.build(CostRow, _energy_factor(answer.energy_units or "WH"))
        return cls(
            currency_code=answer.currency_code,
            energy_wh=row.energy_wh,
            cost=row.cost,
            confidence=row.confidence,
            start_time=row.start_time,
            end_time=row.end_time,
        )


@decodable
@dataclass(slots=True, kw_only=True)
class _PricePeriodJSON:
    """A `data` row of a `price` object."""

    valid_from: datetime
    valid_to: datetime
    price: _Amount

    def build[R: PricePeriod](self, cls: type[R]) -> R:
        return cls(
            self.valid_from, self.valid_to, self.price.value, self.price.confidence
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
        return parse(_PricePeriodJSON, data, "price_period").build(cls)


@decodable
@dataclass(slots=True, kw_only=True)
class _PriceRequestJSON:
    """The request Flatpeak echoes in a `price` object."""

    tariff_direction: TariffDirection | None = None


@decodable
@dataclass(slots=True, kw_only=True)
class _PriceJSON:
    """A `price` object as Flatpeak sends it."""

    # Only an echo: decoded when the answer has no top-level `tariff_direction`.
    request: dict[str, object] | None = field(
        default=None, metadata=field_options(deserialize=only(dict))
    )
    tariff_direction: TariffDirection | None = None
    location_id: str | None = None
    data: tuple[_PricePeriodJSON, ...] = field(
        metadata=array_of(decoder(_PricePeriodJSON))
    )
    currency_code: str
    location_timezone: str | None = None
    next_update: datetime | None = None


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
        prices = parse(_PriceJSON, data, "price")
        # The documented answer echoes the direction only inside `request`.
        direction = prices.tariff_direction
        if direction is None and prices.request is not None:
            request = parse(_PriceRequestJSON, prices.request, "price.request")
            direction = request.tariff_direction
        direction = direction or tariff_direction
        if direction is None:
            raise FlatpeakResponseError("price: 'tariff_direction' is missing")
        found_id = prices.location_id or location_id
        if found_id is None:
            raise FlatpeakResponseError("price: 'location_id' is missing")
        return cls(
            location_id=found_id,
            currency_code=prices.currency_code,
            location_timezone=prices.location_timezone,
            tariff_direction=direction,
            next_update=prices.next_update,
            periods=tuple(period.build(PricePeriod) for period in prices.data),
        )

    def price_at(self, when: datetime) -> PricePeriod | None:
        """Return the period that holds `when` (None outside the series)."""
        for period in self.periods:
            if period.valid_from <= when < period.valid_to:
                return period
        return None
