"""Diagnostics of a Flatpeak entry: setup, subentries and the metering outbox.

Secrets (API key, account id, tokens) and the home's address (the entry title is
the address line and city) are redacted.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from homeassistant.components.diagnostics import async_redact_data

from .const import (
    CONF_ACCOUNT_ID,
    CONF_ADDRESS_LINE1,
    CONF_API_KEY,
    CONF_CITY,
    CONF_POST_CODE,
)

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from .cost_coordinator import FlatpeakCostCoordinator
    from .runtime import FlatpeakConfigEntry

TO_REDACT = {
    CONF_API_KEY,
    CONF_ACCOUNT_ID,
    "bearer_token",
    "token",
    "access_token",
    "title",
    "postal_address",
    CONF_ADDRESS_LINE1,
    CONF_CITY,
    CONF_POST_CODE,
}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant,  # noqa: ARG001
    entry: FlatpeakConfigEntry,
) -> dict[str, Any]:
    """Return what helps to understand what was sent (secrets redacted)."""
    runtime = entry.runtime_data
    metering = runtime.metering
    status = metering.data
    return {
        "entry": async_redact_data(
            {
                "title": entry.title,
                "data": dict(entry.data),
                "options": dict(entry.options),
            },
            TO_REDACT,
        ),
        "subentries": [
            {
                "subentry_id": subentry.subentry_id,
                "subentry_type": subentry.subentry_type,
                "name": subentry.title,
                "data": async_redact_data(dict(subentry.data), TO_REDACT),
            }
            for subentry in entry.subentries.values()
        ],
        "location": {
            "id": runtime.location.id,
            "timezone": runtime.location.timezone,
            "currency_code": runtime.location.currency_code,
            "tariff_status": runtime.location.tariff_status,
        },
        "metering": {
            "interval_minutes": runtime.interval_minutes,
            "streams": [
                {
                    "key": stream.key,
                    "kind": stream.kind,
                    "entity_id": stream.entity_id,
                    "device_id": stream.device_id,
                    "session_entity": stream.session_entity,
                }
                for stream in metering.streams
            ],
            "last_update_success": metering.last_update_success,
            "update_interval_seconds": None
            if metering.update_interval is None
            else metering.update_interval.total_seconds(),
            "last_exception": None
            if metering.last_exception is None
            else str(metering.last_exception),
            "status": None if status is None else _status(asdict(status)),
            "outbox": runtime.outbox.diagnostics(),
        },
        "costs": _costs(runtime.costs),
        "prices": {
            "last_update_success": runtime.prices.last_update_success,
            "flatpeak_calls": runtime.prices.calls,
            "next_update": None
            if runtime.prices.data is None or runtime.prices.data.next_update is None
            else runtime.prices.data.next_update.isoformat(),
        },
    }


def _costs(costs: FlatpeakCostCoordinator) -> dict[str, Any]:
    """Return what the cost side fetched and wrote (amounts, no secrets)."""
    reports = costs.reports
    return {
        "last_update_success": costs.last_update_success,
        "last_exception": None
        if costs.last_exception is None
        else str(costs.last_exception),
        "flatpeak_calls": reports.calls + costs.statistics.calls,
        "currency": costs.currency,
        "rows": {
            f"{owner}/{direction}": len(rows)
            for (owner, direction), rows in sorted(reports.rows.items())
        },
        "missing_devices": sorted(reports.missing),
        "last_sessions": {}
        if costs.data is None
        else {
            key: owner.last_session.attributes()
            for key, owner in costs.data.devices.items()
            if owner.last_session is not None
        },
        "statistics": {
            "ids": costs.statistics.statistic_ids(),
            "last_update": None
            if costs.statistics.last_update is None
            else costs.statistics.last_update.isoformat(),
            "last_window": {
                key: [start.isoformat(), end.isoformat()]
                for key, (start, end) in costs.statistics.last_window.items()
            },
        },
    }


def _status(data: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value.isoformat()
        if hasattr(value, "isoformat")
        else sorted(map(list, value))
        if isinstance(value, frozenset)
        else value
        for key, value in data.items()
    }
