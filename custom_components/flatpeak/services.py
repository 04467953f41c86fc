"""Actions of the Flatpeak integration (registered once, in `async_setup`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import device_registry as dr
from homeassistant.util import dt as dt_util

from .api import (
    Aggregation,
    EnergyFlowDirection,
    FlatpeakNotFoundError,
    MeterRecord,
    TariffDirection,
    Units,
)
from .compat import vol
from .const import CONF_DEVICE_ID, CONF_LOCATION_ID, DOMAIN
from .helpers import flatpeak_action

if TYPE_CHECKING:
    from datetime import datetime

    from .api import EnergyCost
    from .runtime import FlatpeakConfigEntry

ATTR_CONFIG_ENTRY_ID = "config_entry_id"
ATTR_START = "start"
ATTR_END = "end"

SERVICE_BACKFILL = "backfill"

BACKFILL_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string,
        vol.Required(ATTR_START): cv.datetime,
        vol.Optional(ATTR_END): cv.datetime,
    }
)


def loaded_entry(hass: HomeAssistant, entry_id: str) -> FlatpeakConfigEntry:
    """Return a loaded Flatpeak entry, or raise a translated validation error."""
    entry = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.domain != DOMAIN:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_found",
            translation_placeholders={"config_entry_id": entry_id},
        )
    if entry.state is not ConfigEntryState.LOADED:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_loaded",
            translation_placeholders={"title": entry.title},
        )
    flatpeak_entry: FlatpeakConfigEntry = entry
    return flatpeak_entry


def _utc(value: datetime) -> datetime:
    """Return `value` in UTC; a time without zone is Home Assistant's local time."""
    return dt_util.as_utc(value)


async def _async_backfill(call: ServiceCall) -> ServiceResponse:
    """Rebuild intervals from recorder statistics and send those never sent."""
    entry = loaded_entry(call.hass, call.data[ATTR_CONFIG_ENTRY_ID])
    start = _utc(call.data[ATTR_START])
    end = _utc(call.data[ATTR_END]) if ATTR_END in call.data else None
    if end is not None and end <= start:
        raise ServiceValidationError(
            translation_domain=DOMAIN, translation_key="end_before_start"
        )
    if start >= dt_util.utcnow():
        raise ServiceValidationError(
            translation_domain=DOMAIN, translation_key="start_in_future"
        )
    queued = await entry.runtime_data.metering.async_backfill(start, end)
    return {"records_queued": queued}


# Cost actions (get_costs, get_session_cost, estimate_cost): Flatpeak's answers as
# they are, for scripts and dashboards.

ATTR_DIRECTION = "direction"
ATTR_DEVICE_ID = "device_id"
ATTR_AGGREGATION = "aggregation"
ATTR_SESSION_ID = "session_id"
ATTR_ENERGY_KWH = "energy_kwh"

SERVICE_GET_COSTS = "get_costs"
SERVICE_GET_SESSION_COST = "get_session_cost"
SERVICE_ESTIMATE_COST = "estimate_cost"

DIRECTIONS: Final = {
    "import": TariffDirection.IMPORT,
    "export": TariffDirection.EXPORT,
    "local": TariffDirection.LOCAL,
}
AGGREGATIONS: Final = {"day": Aggregation.DAY, "month": Aggregation.MONTH}

GET_COSTS_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string,
        vol.Required(ATTR_START): cv.datetime,
        vol.Required(ATTR_END): cv.datetime,
        vol.Optional(ATTR_DIRECTION, default="import"): vol.In(DIRECTIONS),
        vol.Optional(ATTR_DEVICE_ID): cv.string,
        vol.Optional(ATTR_AGGREGATION): vol.In(AGGREGATIONS),
    }
)
GET_SESSION_COST_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string,
        vol.Required(ATTR_SESSION_ID): cv.string,
    }
)
ESTIMATE_COST_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string,
        vol.Required(ATTR_ENERGY_KWH): vol.Coerce(float),
        vol.Required(ATTR_START): cv.datetime,
        vol.Required(ATTR_END): cv.datetime,
        vol.Optional(ATTR_DIRECTION, default="import"): vol.In(DIRECTIONS),
    }
)


def call_window(call: ServiceCall) -> tuple[datetime, datetime]:
    """Return the call's [start, end) in UTC, refusing an empty or reversed one."""
    start = _utc(call.data[ATTR_START])
    end = _utc(call.data[ATTR_END])
    if end <= start:
        raise ServiceValidationError(
            translation_domain=DOMAIN, translation_key="end_before_start"
        )
    return start, end


def flatpeak_object_id(
    hass: HomeAssistant, entry: FlatpeakConfigEntry, value: str
) -> str:
    """Return the Flatpeak id of a device of the entry: a `dev_` id or an HA device."""
    owned = {
        subentry.data[CONF_DEVICE_ID]
        for subentry in entry.subentries.values()
        if subentry.data.get(CONF_DEVICE_ID)
    }
    location_id: str = entry.data[CONF_LOCATION_ID]
    if value in owned:
        return value
    registry = dr.async_get(hass)
    # The entry's devices (not DeviceEntry.config_entries: deprecated in 2026.10).
    device = next(
        (
            device
            for device in dr.async_entries_for_config_entry(registry, entry.entry_id)
            if device.id == value
        ),
        None,
    )
    if device is not None:
        for domain, identifier in device.identifiers:
            if domain == DOMAIN and (identifier in owned or identifier == location_id):
                return identifier
    raise ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="device_not_found",
        translation_placeholders={"device_id": value, "title": entry.title},
    )


def _cost_response(report: EnergyCost) -> dict[str, Any]:
    """Return an `energy_cost` report as an action response."""
    return {
        "object_id": report.object_id,
        "direction": report.tariff_direction.value.lower(),
        "currency": report.currency_code,
        "location_timezone": report.location_timezone,
        "total_cost": round(report.total_cost, 5),
        "total_energy_kwh": round(report.total_energy_wh / 1000, 6),
        "confidence": report.min_confidence,
        "rows": [
            {
                "start": row.start_time.isoformat(),
                "end": row.end_time.isoformat(),
                "energy_kwh": round(row.energy_wh / 1000, 6),
                "cost": row.cost,
                "confidence": row.confidence,
                "session_id": row.session_reference_id,
                "record_reference_id": row.record_reference_id,
            }
            for row in report.rows
        ],
    }


@flatpeak_action
async def _async_get_costs(call: ServiceCall) -> ServiceResponse:
    """Return the rows Flatpeak reports for a location or device and a period."""
    entry = loaded_entry(call.hass, call.data[ATTR_CONFIG_ENTRY_ID])
    start, end = call_window(call)
    object_id: str = entry.data[CONF_LOCATION_ID]
    if device := call.data.get(ATTR_DEVICE_ID):
        object_id = flatpeak_object_id(call.hass, entry, device)
    aggregation = call.data.get(ATTR_AGGREGATION)
    report = await entry.runtime_data.client.interval_cost(
        object_id,
        start,
        end,
        tariff_direction=DIRECTIONS[call.data[ATTR_DIRECTION]],
        aggregation=None if aggregation is None else AGGREGATIONS[aggregation],
    )
    return {**_cost_response(report), "aggregation": aggregation}


@flatpeak_action
async def _async_get_session_cost(call: ServiceCall) -> ServiceResponse:
    """Return what one charging session cost."""
    entry = loaded_entry(call.hass, call.data[ATTR_CONFIG_ENTRY_ID])
    session_id: str = call.data[ATTR_SESSION_ID]
    try:
        report = await entry.runtime_data.client.session_cost(session_id)
    except FlatpeakNotFoundError as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="session_not_found",
            translation_placeholders={"session_id": session_id},
        ) from err
    response = _cost_response(report)
    rows = report.rows
    return {
        "session_id": session_id,
        "start": min(row.start_time for row in rows).isoformat() if rows else None,
        "end": max(row.end_time for row in rows).isoformat() if rows else None,
        **response,
    }


@flatpeak_action
async def _async_estimate_cost(call: ServiceCall) -> ServiceResponse:
    """Return what energy used in a period would cost (Flatpeak stores nothing)."""
    entry = loaded_entry(call.hass, call.data[ATTR_CONFIG_ENTRY_ID])
    start, end = call_window(call)
    energy_kwh: float = call.data[ATTR_ENERGY_KWH]
    if energy_kwh < 0:
        raise ServiceValidationError(
            translation_domain=DOMAIN, translation_key="negative_energy"
        )
    direction = DIRECTIONS[call.data[ATTR_DIRECTION]]
    record = MeterRecord(
        location_id=entry.data[CONF_LOCATION_ID],
        start_time=start,
        end_time=end,
        value=energy_kwh,
        units=Units.KWH,
        energy_flow_direction=EnergyFlowDirection.OUTBOUND
        if direction is TariffDirection.EXPORT
        else EnergyFlowDirection.INBOUND,
        tariff_direction=direction,
    )
    estimate = await entry.runtime_data.client.instant_cost(record, non_persistent=True)
    return {
        "direction": call.data[ATTR_DIRECTION],
        "currency": estimate.currency_code,
        "energy_kwh": round(estimate.energy_wh / 1000, 6),
        "cost": estimate.cost,
        "confidence": estimate.confidence,
        "start": estimate.start_time.isoformat(),
        "end": estimate.end_time.isoformat(),
    }


@callback
def _async_setup_cost_services(hass: HomeAssistant) -> None:
    """Register the cost actions (response only)."""
    for name, handler, schema in (
        (SERVICE_GET_COSTS, _async_get_costs, GET_COSTS_SCHEMA),
        (SERVICE_GET_SESSION_COST, _async_get_session_cost, GET_SESSION_COST_SCHEMA),
        (SERVICE_ESTIMATE_COST, _async_estimate_cost, ESTIMATE_COST_SCHEMA),
    ):
        hass.services.async_register(
            DOMAIN,
            name,
            handler,
            schema=schema,
            supports_response=SupportsResponse.ONLY,
        )


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the integration's actions."""
    hass.services.async_register(
        DOMAIN,
        SERVICE_BACKFILL,
        _async_backfill,
        schema=BACKFILL_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    _async_setup_cost_services(hass)
