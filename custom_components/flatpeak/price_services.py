"""Price actions: the published prices, and the cheapest way to charge by a deadline."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.util import dt as dt_util

from .api import EnergyFlowDirection, MeterRecord, TariffDirection, Units
from .compat import vol
from .const import CONF_LOCATION_ID, DOMAIN
from .helpers import flatpeak_action
from .planner import (
    ChargeStep,
    PlanError,
    Price,
    charge_now,
    clip,
    covered_until,
    plan_charge,
    runs_of,
)
from .price_coordinator import series_prices
from .price_days import period_item
from .services import (
    ATTR_CONFIG_ENTRY_ID,
    ATTR_DEVICE_ID,
    ATTR_DIRECTION,
    ATTR_END,
    ATTR_ENERGY_KWH,
    ATTR_START,
    call_window,
    flatpeak_object_id,
    loaded_entry,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .api import FlatpeakClient, PriceSeries
    from .runtime import FlatpeakConfigEntry

SERVICE_GET_PRICES = "get_prices"
SERVICE_PLAN_CHARGE = "plan_charge"
ATTR_MAX_POWER_KW = "max_power_kw"
ATTR_EARLIEST_START = "earliest_start"
ATTR_DEADLINE = "deadline"

# Flatpeak answers for at most 90 days at a time.
MAX_SPAN: Final = timedelta(days=90)
# A plan over more periods runs in the executor: 90 half-hourly days take ~15 ms
# (scripts/bench planner), too long for the event loop.
_INLINE_PERIODS: Final = 500
PRICE_DIRECTIONS: Final = {
    "import": TariffDirection.IMPORT,
    "export": TariffDirection.EXPORT,
}

GET_PRICES_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string,
        vol.Required(ATTR_START): cv.datetime,
        vol.Required(ATTR_END): cv.datetime,
        vol.Optional(ATTR_DIRECTION, default="import"): vol.In(PRICE_DIRECTIONS),
    }
)
_POSITIVE = vol.All(vol.Coerce(float), vol.Range(min=0, min_included=False))
PLAN_CHARGE_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string,
        vol.Required(ATTR_ENERGY_KWH): _POSITIVE,
        vol.Required(ATTR_MAX_POWER_KW): _POSITIVE,
        vol.Optional(ATTR_EARLIEST_START): cv.datetime,
        vol.Required(ATTR_DEADLINE): cv.datetime,
        vol.Optional(ATTR_DEVICE_ID): cv.string,
    }
)


def _refused(
    key: str, placeholders: dict[str, str] | None = None
) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders=placeholders,
    )


async def _async_fetch(
    client: FlatpeakClient,
    location_id: str,
    start: datetime,
    end: datetime,
    direction: TariffDirection,
) -> tuple[list[PriceSeries], tuple[Price, ...]]:
    """Fetch the prices of `[start, end)`, 90 days a call; periods cut to the span."""
    answers: list[PriceSeries] = []
    cursor = start
    while cursor < end:
        upto = min(cursor + MAX_SPAN, end)
        answers.append(
            await client.get_prices(
                location_id, cursor, upto, tariff_direction=direction
            )
        )
        cursor = upto
    periods = [p for series in answers for p in series_prices(series)]
    return answers, tuple(clip(periods, start, end))


@flatpeak_action
async def _async_get_prices(call: ServiceCall) -> ServiceResponse:
    """Return the price periods Flatpeak published for a span."""
    entry = loaded_entry(call.hass, call.data[ATTR_CONFIG_ENTRY_ID])
    start, end = call_window(call)
    answers, periods = await _async_fetch(
        entry.runtime_data.client,
        entry.data[CONF_LOCATION_ID],
        start,
        end,
        PRICE_DIRECTIONS[call.data[ATTR_DIRECTION]],
    )
    updates = [a.next_update for a in answers if a.next_update is not None]
    return {
        "direction": call.data[ATTR_DIRECTION],
        "currency": answers[0].currency_code,
        "location_timezone": answers[0].location_timezone,
        "next_update": min(updates).isoformat() if updates else None,
        "prices_until": covered_until(periods, start).isoformat(),
        "periods": [period_item(p) for p in periods],
    }


def _step_item(step: ChargeStep) -> dict[str, Any]:
    return {
        "start": step.start.isoformat(),
        "end": step.end.isoformat(),
        "energy_kwh": round(step.energy_kwh, 6),
        "price": step.price,
    }


async def _async_price_runs(
    entry: FlatpeakConfigEntry,
    steps: Sequence[ChargeStep],
    device_id: str | None,
) -> tuple[float, float | None, str]:
    """Ask Flatpeak what the steps cost, storing nothing: cost, confidence, currency.

    Touching steps run at full power without a break, so each run is one record
    of evenly spread energy.
    """
    total = 0.0
    confidences: list[float] = []
    currency = entry.runtime_data.prices.currency
    for start, end, energy in runs_of(steps):
        record = MeterRecord(
            location_id=entry.data[CONF_LOCATION_ID],
            device_id=device_id,
            start_time=start,
            end_time=end,
            value=round(energy, 6),
            units=Units.KWH,
            energy_flow_direction=EnergyFlowDirection.INBOUND,
            tariff_direction=TariffDirection.IMPORT,
        )
        estimate = await entry.runtime_data.client.instant_cost(
            record, non_persistent=True
        )
        total += estimate.cost
        currency = estimate.currency_code or currency
        if estimate.confidence is not None:
            confidences.append(estimate.confidence)
    return total, min(confidences, default=None), currency


def _charge_window(call: ServiceCall) -> tuple[datetime, datetime]:
    """Return `[start, deadline)`: from the earliest start (now at the soonest)."""
    now = dt_util.utcnow().replace(second=0, microsecond=0)
    deadline = dt_util.as_utc(call.data[ATTR_DEADLINE])
    earliest = call.data.get(ATTR_EARLIEST_START)
    start = max(now, dt_util.as_utc(earliest)) if earliest is not None else now
    if earliest is not None and deadline <= dt_util.as_utc(earliest):
        raise _refused("end_before_start")
    if deadline <= start:
        raise _refused("deadline_passed")
    if deadline - start > MAX_SPAN:
        raise _refused("window_too_long", {"days": str(MAX_SPAN.days)})
    return start, deadline


@flatpeak_action
async def _async_plan_charge(call: ServiceCall) -> ServiceResponse:
    """Return the cheapest schedule to charge by a deadline, and what it saves."""
    entry = loaded_entry(call.hass, call.data[ATTR_CONFIG_ENTRY_ID])
    energy: float = call.data[ATTR_ENERGY_KWH]
    power: float = call.data[ATTR_MAX_POWER_KW]
    start, deadline = _charge_window(call)
    needed = timedelta(hours=energy / power)
    if start + needed > deadline:
        raise _refused(
            "deadline_too_short",
            {
                "hours": f"{needed.total_seconds() / 3600:.2f}",
                "deadline": dt_util.as_local(deadline).isoformat(timespec="minutes"),
            },
        )
    device_id = None
    if device := call.data.get(ATTR_DEVICE_ID):
        device_id = flatpeak_object_id(call.hass, entry, device)
        if device_id == entry.data[CONF_LOCATION_ID]:
            device_id = None
    _, periods = await _async_fetch(
        entry.runtime_data.client,
        entry.data[CONF_LOCATION_ID],
        start,
        deadline,
        TariffDirection.IMPORT,
    )
    known_until = min(covered_until(periods, start), deadline)

    def plans() -> tuple[tuple[ChargeStep, ...], tuple[ChargeStep, ...]]:
        return (
            plan_charge(periods, start, known_until, energy, power),
            charge_now(periods, start, energy, power),
        )

    try:
        if len(periods) > _INLINE_PERIODS:
            steps, now_steps = await call.hass.async_add_executor_job(plans)
        else:
            steps, now_steps = plans()
    except PlanError as err:
        raise _refused(
            "prices_unknown",
            {"until": dt_util.as_local(known_until).isoformat(timespec="minutes")},
        ) from err
    cost, confidence, currency = await _async_price_runs(entry, steps, device_id)
    now_cost, now_confidence, _ = await _async_price_runs(
        entry,
        [ChargeStep(start, start + needed, energy, 0.0)],
        device_id,
    )
    return {
        "currency": currency,
        "energy_kwh": energy,
        "max_power_kw": power,
        "start": start.isoformat(),
        "deadline": deadline.isoformat(),
        "prices_until": known_until.isoformat(),
        "schedule": [_step_item(step) for step in steps],
        "cost": round(cost, 5),
        "confidence": confidence,
        "charge_now": {
            "start": start.isoformat(),
            "end": (start + needed).isoformat(),
            "cost": round(now_cost, 5),
            "confidence": now_confidence,
            "schedule": [_step_item(step) for step in now_steps],
        },
        "saving": round(now_cost - cost, 5),
    }


@callback
def async_setup_price_services(hass: HomeAssistant) -> None:
    """Register the price actions (response only)."""
    for name, handler, schema in (
        (SERVICE_GET_PRICES, _async_get_prices, GET_PRICES_SCHEMA),
        (SERVICE_PLAN_CHARGE, _async_plan_charge, PLAN_CHARGE_SCHEMA),
    ):
        hass.services.async_register(
            DOMAIN,
            name,
            handler,
            schema=schema,
            supports_response=SupportsResponse.ONLY,
        )
