"""Sensors of the Flatpeak integration: costs, export value, prices, metering status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from homeassistant.components.sensor import (
    RestoreSensor,
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import EntityCategory, UnitOfEnergy
from homeassistant.core import callback
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.util import dt as dt_util

from .api import TariffDirection
from .const import SUBENTRY_APPLIANCE, SUBENTRY_EV_CHARGER, SUBENTRY_SOLAR
from .cost_coordinator import (
    CostData,
    FlatpeakCostCoordinator,
    Reading,
    period_reading,
)
from .entity import FlatpeakEntity
from .metering_coordinator import FlatpeakMeteringCoordinator

if TYPE_CHECKING:
    from collections.abc import Callable

    from homeassistant.config_entries import ConfigSubentry
    from homeassistant.core import CALLBACK_TYPE, HomeAssistant
    from homeassistant.helpers.entity_platform import (
        AddConfigEntryEntitiesCallback,
    )
    from homeassistant.helpers.typing import StateType

    from .coordinator import FlatpeakConfigEntry
    from .metering_coordinator import MeteringStatus

# Coordinators fetch; entities only read.
PARALLEL_UPDATES = 0

type ReadingFn = Callable[[CostData, str | None, datetime], Reading | None]


class UnitKind:
    """What a sensor's unit is made of."""

    CURRENCY: Final = "currency"
    PRICE: Final = "price"
    ENERGY: Final = "energy"


@dataclass(frozen=True, kw_only=True)
class FlatpeakCostSensorDescription(SensorEntityDescription):
    """A sensor read from the cost coordinator.

    `reading_fn` gets the shared data, the subentry id (None for the location) and
    the time; None means Flatpeak has not answered for it (unavailable).
    """

    reading_fn: ReadingFn
    unit_kind: str = UnitKind.CURRENCY


@dataclass(frozen=True, kw_only=True)
class FlatpeakMeteringSensorDescription(SensorEntityDescription):
    """A diagnostic sensor read from the metering coordinator's status."""

    value_fn: Callable[[MeteringStatus], StateType | datetime]


def _location_today(direction: TariffDirection) -> ReadingFn:
    def reading(data: CostData, _key: str | None, now: datetime) -> Reading | None:
        rows = data.location.get(direction)
        return None if rows is None else period_reading(rows, data.day_start(now))

    return reading


def _location_month(direction: TariffDirection) -> ReadingFn:
    def reading(data: CostData, _key: str | None, now: datetime) -> Reading | None:
        rows = data.location.get(direction)
        return None if rows is None else period_reading(rows, data.month_start_of(now))

    return reading


def _device_today(
    data: CostData, key: str | None, now: datetime, *, energy: bool = False
) -> Reading | None:
    rows = None if key is None else data.devices.get(key)
    if rows is None:
        return None
    return period_reading(rows, data.day_start(now), energy=energy)


def _device_energy_today(
    data: CostData, key: str | None, now: datetime
) -> Reading | None:
    return _device_today(data, key, now, energy=True)


def _device_month(data: CostData, key: str | None, now: datetime) -> Reading | None:
    rows = None if key is None else data.devices.get(key)
    return None if rows is None else period_reading(rows, data.month_start_of(now))


def _price(direction: TariffDirection) -> ReadingFn:
    def reading(data: CostData, _key: str | None, now: datetime) -> Reading | None:
        series = data.prices.get(direction)
        period = None if series is None else series.price_at(now)
        if period is None:
            return None
        return Reading(
            value=period.price,
            attributes={
                "valid_to": period.valid_to.isoformat(),
                "confidence": period.confidence,
            },
        )

    return reading


def _session(current: bool) -> ReadingFn:  # noqa: FBT001
    def reading(data: CostData, key: str | None, _now: datetime) -> Reading | None:
        sessions = data.current_sessions if current else data.last_sessions
        session = None if key is None else sessions.get(key)
        if session is None:
            return None
        return Reading(
            value=session.cost,
            last_reset=session.start,
            attributes=session.attributes(),
        )

    return reading


def _monetary(key: str, reading_fn: ReadingFn) -> FlatpeakCostSensorDescription:
    return FlatpeakCostSensorDescription(
        key=key,
        translation_key=key,
        device_class=SensorDeviceClass.MONETARY,
        state_class=SensorStateClass.TOTAL,
        suggested_display_precision=2,
        reading_fn=reading_fn,
    )


LOCATION_SENSORS: Final[tuple[FlatpeakCostSensorDescription, ...]] = (
    _monetary("import_cost_today", _location_today(TariffDirection.IMPORT)),
    _monetary("import_cost_month", _location_month(TariffDirection.IMPORT)),
    _monetary("export_value_today", _location_today(TariffDirection.EXPORT)),
    _monetary("export_value_month", _location_month(TariffDirection.EXPORT)),
)

PRICE_SENSORS: Final[tuple[FlatpeakCostSensorDescription, ...]] = tuple(
    FlatpeakCostSensorDescription(
        key=key,
        translation_key=key,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=4,
        unit_kind=UnitKind.PRICE,
        reading_fn=_price(direction),
    )
    for key, direction in (
        ("import_price", TariffDirection.IMPORT),
        ("export_price", TariffDirection.EXPORT),
    )
)

DEVICE_SENSORS: Final[dict[str, tuple[FlatpeakCostSensorDescription, ...]]] = {
    SUBENTRY_SOLAR: (
        _monetary("local_value_today", _device_today),
        FlatpeakCostSensorDescription(
            key="energy_sent_today",
            translation_key="energy_sent_today",
            device_class=SensorDeviceClass.ENERGY,
            state_class=SensorStateClass.TOTAL,
            suggested_display_precision=2,
            unit_kind=UnitKind.ENERGY,
            reading_fn=_device_energy_today,
        ),
    ),
    SUBENTRY_EV_CHARGER: (
        _monetary("session_cost", _session(current=False)),
        _monetary("current_session_cost", _session(current=True)),
        _monetary("cost_today", _device_today),
    ),
    SUBENTRY_APPLIANCE: (
        _monetary("cost_today", _device_today),
        _monetary("cost_month", _device_month),
    ),
}

METERING_SENSORS: Final[tuple[FlatpeakMeteringSensorDescription, ...]] = (
    FlatpeakMeteringSensorDescription(
        key="last_submission",
        translation_key="last_submission",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda status: status.last_submission,
    ),
    FlatpeakMeteringSensorDescription(
        key="pending_records",
        translation_key="pending_records",
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda status: status.pending_records,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,  # noqa: ARG001
    entry: FlatpeakConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the location's sensors, then each subentry's with its subentry."""
    costs = entry.runtime_data.costs
    location: list[SensorEntity] = [
        FlatpeakCostSensor(costs, entry, description)
        for description in LOCATION_SENSORS
    ]
    location.extend(
        FlatpeakPriceSensor(costs, entry, description) for description in PRICE_SENSORS
    )
    location.extend(
        FlatpeakMeteringSensor(entry.runtime_data.metering, entry, description)
        for description in METERING_SENSORS
    )
    async_add_entities(location)
    for subentry in entry.subentries.values():
        descriptions = DEVICE_SENSORS.get(subentry.subentry_type, ())
        async_add_entities(
            [
                (
                    FlatpeakSessionCostSensor
                    if description.key == "session_cost"
                    else FlatpeakCostSensor
                )(costs, entry, description, subentry)
                for description in descriptions
            ],
            config_subentry_id=subentry.subentry_id,
        )


class FlatpeakCostSensor(FlatpeakEntity[FlatpeakCostCoordinator], SensorEntity):
    """A cost, value, energy or price Flatpeak reported."""

    entity_description: FlatpeakCostSensorDescription

    def __init__(
        self,
        coordinator: FlatpeakCostCoordinator,
        entry: FlatpeakConfigEntry,
        description: FlatpeakCostSensorDescription,
        subentry: ConfigSubentry | None = None,
    ) -> None:
        """Describe the sensor of the location, or of a subentry's device."""
        super().__init__(coordinator, entry, description, subentry)
        self._subentry_id = None if subentry is None else subentry.subentry_id

    def _reading(self) -> Reading | None:
        # None before the coordinator's first successful answer.
        data: CostData | None = self.coordinator.data
        if data is None:
            return None
        return self.entity_description.reading_fn(
            data, self._subentry_id, dt_util.utcnow()
        )

    @property
    def available(self) -> bool:
        """Unavailable until Flatpeak answered for this sensor (never a made-up 0)."""
        return super().available and self._reading() is not None

    @property
    def native_value(self) -> float | None:
        """The cost, value, energy or price."""
        reading = self._reading()
        return None if reading is None else reading.value

    @property
    def last_reset(self) -> datetime | None:
        """The start of the period the total counts from."""
        reading = self._reading()
        return None if reading is None else reading.last_reset

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Confidence, and what the sensor's period or session is."""
        reading = self._reading()
        return None if reading is None else reading.attributes

    @property
    def native_unit_of_measurement(self) -> str | None:
        """The location's currency (per kWh for prices), or kWh."""
        kind = self.entity_description.unit_kind
        if kind == UnitKind.ENERGY:
            return UnitOfEnergy.KILO_WATT_HOUR
        currency = self.coordinator.currency
        return f"{currency}/kWh" if kind == UnitKind.PRICE else currency


class FlatpeakPriceSensor(FlatpeakCostSensor):
    """The current price: steps to the next period of the series at `valid_to`."""

    _unsub_step: CALLBACK_TYPE | None = None

    async def async_added_to_hass(self) -> None:
        """Arm the step to the next period."""
        await super().async_added_to_hass()
        self.async_on_remove(self._cancel_step)
        self._arm_step()

    @callback
    def _cancel_step(self) -> None:
        if self._unsub_step is not None:
            self._unsub_step()
            self._unsub_step = None

    @callback
    def _arm_step(self) -> None:
        self._cancel_step()
        reading = self._reading()
        if reading is None:
            return
        valid_to = dt_util.parse_datetime(reading.attributes["valid_to"])
        if valid_to is not None:
            self._unsub_step = async_track_point_in_utc_time(
                self.hass, self._async_step, valid_to
            )

    @callback
    def _async_step(self, _now: datetime) -> None:
        self._unsub_step = None
        self.async_write_ha_state()
        self._arm_step()

    @callback
    def _handle_coordinator_update(self) -> None:
        self._arm_step()
        super()._handle_coordinator_update()


class FlatpeakSessionCostSensor(FlatpeakCostSensor, RestoreSensor):
    """The last finished EV session: survives a restart until the next one."""

    _restored: Reading | None = None

    async def async_added_to_hass(self) -> None:
        """Restore the last session shown before the restart."""
        await super().async_added_to_hass()
        state = await self.async_get_last_state()
        sensor_data = await self.async_get_last_sensor_data()
        if state is None or sensor_data is None:
            return
        value = sensor_data.native_value
        start = dt_util.parse_datetime(str(state.attributes.get("start", "")))
        if not isinstance(value, (int, float)) or start is None:
            return
        attributes = {
            key: state.attributes.get(key)
            for key in ("session_id", "start", "end", "energy_kwh", "confidence")
        }
        self._restored = Reading(
            value=float(value), last_reset=start, attributes=attributes
        )

    def _reading(self) -> Reading | None:
        reading = super()._reading()
        if reading is None and self.coordinator.data is not None:
            return self._restored
        return reading


class FlatpeakMeteringSensor(FlatpeakEntity[FlatpeakMeteringCoordinator], SensorEntity):
    """When Flatpeak last accepted records, and how many wait to be sent."""

    entity_description: FlatpeakMeteringSensorDescription

    @property
    def native_value(self) -> StateType | datetime:
        """The status value."""
        status: MeteringStatus | None = self.coordinator.data
        return None if status is None else self.entity_description.value_fn(status)
