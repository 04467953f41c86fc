"""The "tariff not connected" repair issue, shared by metering and costs.

Flatpeak answers 422 `pending_connect` / `no_tariff_connected` to meter submissions
and to cost and price calls alike while a location's tariff is not usable; both
coordinators raise (and clear) the same issue of the entry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from homeassistant.helpers import issue_registry as ir

from .api import FlatpeakApiError, FlatpeakError
from .const import DOMAIN

if TYPE_CHECKING:
    from homeassistant.config_entries import ConfigEntry
    from homeassistant.core import HomeAssistant

TARIFF_PENDING_CODES: Final = frozenset({"pending_connect", "no_tariff_connected"})
_HTTP_UNPROCESSABLE: Final = 422


def tariff_pending_code(err: FlatpeakError) -> str | None:
    """Return Flatpeak's code when `err` says the tariff is not usable yet."""
    if (
        isinstance(err, FlatpeakApiError)
        and err.status == _HTTP_UNPROCESSABLE
        and err.code in TARIFF_PENDING_CODES
    ):
        return err.code
    return None


def tariff_issue_id(entry: ConfigEntry) -> str:
    """Return the id of the entry's "tariff not connected" issue."""
    return f"tariff_pending_{entry.entry_id}"


def async_raise_tariff_pending(
    hass: HomeAssistant, entry: ConfigEntry, code: str
) -> None:
    """Tell the user Flatpeak cannot price this location yet."""
    ir.async_create_issue(
        hass,
        DOMAIN,
        tariff_issue_id(entry),
        is_fixable=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key="tariff_pending",
        translation_placeholders={"title": entry.title, "code": code},
    )


def async_clear_tariff_pending(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Remove the issue once Flatpeak accepted a call again."""
    ir.async_delete_issue(hass, DOMAIN, tariff_issue_id(entry))
