"""Sensors of the Flatpeak integration: costs, export value, prices, metering status.

Every description reads its value with a `value_fn` over its coordinator's data (the
part of it that belongs to the entity's device); the entity computes it once per
coordinator update.
"""

from __future__ import annotations

from dataclasses import dataclass
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
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
from homeassistant.util import dt as dt_util

from .api import TariffDirection
from .const import (
    SUBENTRY_APPLIANCE,
    SUBENTRY_EV_CHARGER,
    SUBENTRY_SOLAR,
    signal_subentries_changed,
)
from .costs import Reading
from .entity import FlatpeakEntity
from .price_days import day_attributes, next_change, period_item

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from homeassistant.config_entries import ConfigSubentry
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

    from .costs import CostData, OwnerCosts
    from .metering_coordinator import MeteringStatus
    from .price_coordinator import PriceData
    from .runtime import FlatpeakConfigEntry

# Coordinators fetch; entities only read.
PARALLEL_UPDATES = 0


class UnitKind:
    """What a sensor's unit is made of."""

    CURRENCY: Final = "currency"
    PRICE: Final = "price"
    ENERGY: Final = "energy"
    NONE: Final = "none"


@dataclass(frozen=True, kw_only=True)
class FlatpeakSensorDescription[T](SensorEntityDescription):
    """A sensor whose reading `value_fn` takes from its coordinator's data.

    None means Flatpeak has not answered for it (the sensor is unavailable).
    """

    value_fn: Callable[[T], Reading | None]
    unit_kind: str = UnitKind.CURRENCY


type CostDescription = FlatpeakSensorDescription[OwnerCosts]


def _monetary(
    key: str, value_fn: Callable[[OwnerCosts], Reading | None]
) -> CostDescription:
    return FlatpeakSensorDescription(
        key=key,
        translation_key=key,
        device_class=SensorDeviceClass.MONETARY,
        state_class=SensorStateClass.TOTAL,
        suggested_display_precision=2,
        value_fn=value_fn,
    )


IMPORT, EXPORT, LOCAL = (
    TariffDirection.IMPORT,
    TariffDirection.EXPORT,
    TariffDirection.LOCAL,
)

LOCATION_SENSORS: Final[tuple[CostDescription, ...]] = (
    _monetary("import_cost_today", lambda owner: owner.today(IMPORT)),
    _monetary("import_cost_month", lambda owner: owner.month(IMPORT)),
    _monetary("export_value_today", lambda owner: owner.today(EXPORT)),
    _monetary("export_value_month", lambda owner: owner.month(EXPORT)),
)


def _session(owner: OwnerCosts, *, current: bool) -> Reading | None:
    session = owner.current_session if current else owner.last_session
    return None if session is None else session.reading()


DEVICE_SENSORS: Final[dict[str, tuple[CostDescription, ...]]] = {
    SUBENTRY_SOLAR: (
        _monetary("local_value_today", lambda owner: owner.today(LOCAL)),
        # No state class: today's energy Flatpeak got is not a meter, so the
        # energy dashboard does not offer it as one.
        FlatpeakSensorDescription(
            key="energy_sent_today",
            translation_key="energy_sent_today",
            device_class=SensorDeviceClass.ENERGY,
            suggested_display_precision=2,
            unit_kind=UnitKind.ENERGY,
            value_fn=lambda owner: owner.energy_today(LOCAL),
        ),
    ),
    SUBENTRY_EV_CHARGER: (
        _monetary("session_cost", lambda owner: _session(owner, current=False)),
        _monetary("current_session_cost", lambda owner: _session(owner, current=True)),
        _monetary("cost_today", lambda owner: owner.today(IMPORT)),
    ),
    SUBENTRY_APPLIANCE: (
        _monetary("cost_today", lambda owner: owner.today(IMPORT)),
        _monetary("cost_month", lambda owner: owner.month(IMPORT)),
    ),
}


def _price(direction: TariffDirection) -> Callable[[PriceData], Reading | None]:
    def reading(data: PriceData) -> Reading | None:
        period = data.current.get(direction)
        if period is None:
            return None
        periods = data.periods.get(direction, ())
        change = next_change(periods, period.valid_from)
        attributes: dict[str, Any] = {
            "valid_to": period.valid_to.isoformat(),
            "confidence": period.confidence,
            "next_change": change and change.start.isoformat(),
            "next_price": change and change.price,
        }
        for name, days in (("today", data.today), ("tomorrow", data.tomorrow)):
            day = days.get(direction)
            if day is not None:
                attributes |= day_attributes(name, day)
                attributes[name] = [period_item(p) for p in day.periods]
        return Reading(value=period.price, attributes=attributes)

    return reading


PRICE_SENSORS: Final[tuple[FlatpeakSensorDescription[PriceData], ...]] = tuple(
    FlatpeakSensorDescription(
        key=key,
        translation_key=key,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=4,
        unit_kind=UnitKind.PRICE,
        value_fn=_price(direction),
    )
    for key, direction in (("import_price", IMPORT), ("export_price", EXPORT))
)


def _status_value(value: Any) -> Reading:
    return Reading(value=value)


METERING_SENSORS: Final[tuple[FlatpeakSensorDescription[MeteringStatus], ...]] = (
    # A new value at every submission: off by default, out of the logbook's way.
    FlatpeakSensorDescription(
        key="last_submission",
        translation_key="last_submission",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        unit_kind=UnitKind.NONE,
        value_fn=lambda status: _status_value(status.last_submission),
    ),
    FlatpeakSensorDescription(
        key="pending_records",
        translation_key="pending_records",
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        unit_kind=UnitKind.NONE,
        value_fn=lambda status: _status_value(status.pending_records),
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: FlatpeakConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the location's sensors, then each device's, now and when one is added."""
    runtime = entry.runtime_data
    location: list[SensorEntity] = [
        FlatpeakCostSensor(runtime.costs, entry, description)
        for description in LOCATION_SENSORS
    ]
    location.extend(
        FlatpeakPriceSensor(runtime.prices, entry, description)
        for description in PRICE_SENSORS
    )
    location.extend(
        FlatpeakSensor(runtime.metering, entry, description)
        for description in METERING_SENSORS
    )
    async_add_entities(location)
    added: set[str] = set()

    @callback
    def _async_add_subentries() -> None:
        for subentry in entry.subentries.values():
            descriptions = DEVICE_SENSORS.get(subentry.subentry_type)
            if descriptions is None or subentry.subentry_id in added:
                continue
            added.add(subentry.subentry_id)
            async_add_entities(
                [
                    (
                        FlatpeakSessionCostSensor
                        if description.key == "session_cost"
                        else FlatpeakCostSensor
                    )(runtime.costs, entry, description, subentry)
                    for description in descriptions
                ],
                config_subentry_id=subentry.subentry_id,
            )
        added.intersection_update(entry.subentries)

    _async_add_subentries()
    entry.async_on_unload(
        async_dispatcher_connect(
            hass, signal_subentries_changed(entry.entry_id), _async_add_subentries
        )
    )


class FlatpeakSensor[T](FlatpeakEntity[DataUpdateCoordinator[Any]], SensorEntity):
    """A value read from a coordinator's data, once per update."""

    entity_description: FlatpeakSensorDescription[T]
    _reading: Reading | None = None

    def _value_source(self) -> T | None:
        """Return what `value_fn` reads (None before the first answer)."""
        data: T | None = self.coordinator.data
        return data

    def _update_reading(self) -> None:
        source = self._value_source()
        self._reading = (
            None if source is None else self.entity_description.value_fn(source)
        )

    async def async_added_to_hass(self) -> None:
        """Read the coordinator's data as it is now."""
        await super().async_added_to_hass()
        self._update_reading()

    @callback
    def _handle_coordinator_update(self) -> None:
        self._update_reading()
        super()._handle_coordinator_update()

    @property
    def available(self) -> bool:
        """Unavailable until Flatpeak answered for this sensor (never a made-up 0)."""
        return super().available and self._reading is not None

    @property
    def native_value(self) -> float | datetime | None:
        """The cost, value, energy, price or status."""
        return None if self._reading is None else self._reading.value

    @property
    def last_reset(self) -> datetime | None:
        """The start of the period the total counts from."""
        return None if self._reading is None else self._reading.last_reset

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Confidence, and what the sensor's period or session is."""
        if self._reading is None or not self._reading.attributes:
            return None
        return dict(self._reading.attributes)

    @property
    def native_unit_of_measurement(self) -> str | None:
        """The location's currency (per kWh for prices), kWh, or none."""
        kind = self.entity_description.unit_kind
        if kind == UnitKind.ENERGY:
            return UnitOfEnergy.KILO_WATT_HOUR
        if kind == UnitKind.NONE:
            return None
        currency: str = getattr(self.coordinator, "currency", "")
        return f"{currency}/kWh" if kind == UnitKind.PRICE else currency


class FlatpeakPriceSensor(FlatpeakSensor["PriceData"]):
    """The price in force; today's and tomorrow's periods as attributes."""

    # The day's periods (up to a hundred items each) stay out of the recorder.
    _unrecorded_attributes = frozenset({"today", "tomorrow"})


class FlatpeakCostSensor(FlatpeakSensor["OwnerCosts"]):
    """A cost, value or energy Flatpeak reported for the location or a device."""

    def __init__(
        self,
        coordinator: DataUpdateCoordinator[Any],
        entry: FlatpeakConfigEntry,
        description: FlatpeakSensorDescription[OwnerCosts],
        subentry: ConfigSubentry | None = None,
    ) -> None:
        """Describe the sensor of the location, or of a subentry's device."""
        super().__init__(coordinator, entry, description, subentry)
        self._subentry_id = None if subentry is None else subentry.subentry_id

    def _value_source(self) -> OwnerCosts | None:
        data: CostData | None = self.coordinator.data
        return None if data is None else data.owner(self._subentry_id)


class FlatpeakSessionCostSensor(FlatpeakCostSensor, RestoreSensor):
    """The last finished EV session: survives a restart until the next one."""

    _restored: Reading | None = None

    async def async_added_to_hass(self) -> None:
        """Restore the last session shown before the restart."""
        state = await self.async_get_last_state()
        sensor_data = await self.async_get_last_sensor_data()
        if state is not None and sensor_data is not None:
            value = sensor_data.native_value
            start = dt_util.parse_datetime(str(state.attributes.get("start", "")))
            if isinstance(value, (int, float)) and start is not None:
                self._restored = Reading(
                    value=float(value),
                    last_reset=start,
                    attributes={
                        key: state.attributes.get(key)
                        for key in (
                            "session_id",
                            "start",
                            "end",
                            "energy_kwh",
                            "confidence",
                        )
                    },
                )
        await super().async_added_to_hass()

    def _update_reading(self) -> None:
        super()._update_reading()
        if self._reading is None and self.coordinator.data is not None:
            self._reading = self._restored
