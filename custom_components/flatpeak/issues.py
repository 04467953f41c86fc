"""Every repair issue of the integration: its id, when it is raised and cleared.

- `tariff_pending_<entry>`: Flatpeak cannot price the location yet (422
  `pending_connect` / `no_tariff_connected`); fixable: "check again now".
- `rejected_records_<entry>`: Flatpeak refused records; persistent (it comes back
  after a restart while the records are kept) and fixable: discard or send again.
- `unreadable_records_<entry>`: the outbox file holds items that are not records.
- `source_missing_<entry>_<stream>`: a source sensor is gone.
- `device_missing_<entry>_<subentry>`: Flatpeak does not know a device any more
  (404); fixable: create it again.
The fix flows are in `repairs.py`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir

from .const import CONF_DEVICE_ID, DOMAIN

if TYPE_CHECKING:
    from collections.abc import Collection

    from homeassistant.config_entries import ConfigEntry
    from homeassistant.core import HomeAssistant

    from .metering import Stream
    from .outbox import Outbox

TARIFF_PENDING = "tariff_pending"
REJECTED_RECORDS = "rejected_records"
UNREADABLE_RECORDS = "unreadable_records"
SOURCE_MISSING = "source_missing"
DEVICE_MISSING = "device_missing"


def issue_id(kind: str, entry: ConfigEntry, suffix: str | None = None) -> str:
    """Return the id of an issue of an entry (and of a stream or subentry)."""
    base = f"{kind}_{entry.entry_id}"
    return base if suffix is None else f"{base}_{suffix}"


def async_raise_tariff_pending(
    hass: HomeAssistant, entry: ConfigEntry, code: str
) -> None:
    """Tell the user Flatpeak cannot price this location yet."""
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id(TARIFF_PENDING, entry),
        is_fixable=True,
        severity=ir.IssueSeverity.WARNING,
        translation_key=TARIFF_PENDING,
        translation_placeholders={"title": entry.title, "code": code},
        data={"entry_id": entry.entry_id},
    )


def async_clear_tariff_pending(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Remove the issue once Flatpeak accepted a call again."""
    ir.async_delete_issue(hass, DOMAIN, issue_id(TARIFF_PENDING, entry))


def async_raise_rejected(
    hass: HomeAssistant, entry: ConfigEntry, outbox: Outbox, error: str | None = None
) -> None:
    """Tell the user (again after a restart) that Flatpeak refused records."""
    failed = outbox.failed
    if not failed:
        ir.async_delete_issue(hass, DOMAIN, issue_id(REJECTED_RECORDS, entry))
        return
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id(REJECTED_RECORDS, entry),
        is_fixable=True,
        is_persistent=True,
        severity=ir.IssueSeverity.WARNING,
        translation_key=REJECTED_RECORDS,
        translation_placeholders={
            "title": entry.title,
            "count": str(len(failed)),
            "error": error or failed[-1].error,
        },
        data={"entry_id": entry.entry_id},
    )


def async_sync_unreadable(
    hass: HomeAssistant, entry: ConfigEntry, outbox: Outbox
) -> None:
    """Raise the issue while the outbox file holds items that are not records."""
    if not (count := outbox.unreadable_count):
        ir.async_delete_issue(hass, DOMAIN, issue_id(UNREADABLE_RECORDS, entry))
        return
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id(UNREADABLE_RECORDS, entry),
        is_fixable=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key=UNREADABLE_RECORDS,
        translation_placeholders={
            "title": entry.title,
            "count": str(count),
            "file": f".storage/{outbox.key}",
        },
    )


def async_check_source(hass: HomeAssistant, entry: ConfigEntry, stream: Stream) -> None:
    """Raise a repair issue while a source sensor is gone (and clear it after)."""
    gone = (
        hass.states.get(stream.entity_id) is None
        and er.async_get(hass).async_get(stream.entity_id) is None
    )
    if not gone:
        async_clear_source(hass, entry, stream.key)
        return
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id(SOURCE_MISSING, entry, stream.key),
        is_fixable=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key=SOURCE_MISSING,
        translation_placeholders={"entity_id": stream.entity_id, "title": entry.title},
    )


def async_clear_source(
    hass: HomeAssistant, entry: ConfigEntry, stream_key: str
) -> None:
    """Remove a stream's "sensor is gone" issue (restored, or the stream removed)."""
    ir.async_delete_issue(hass, DOMAIN, issue_id(SOURCE_MISSING, entry, stream_key))


def async_sync_missing_devices(
    hass: HomeAssistant, entry: ConfigEntry, missing: Collection[str]
) -> None:
    """Raise an issue per device subentry whose Flatpeak device is gone."""
    for subentry in entry.subentries.values():
        device_id = subentry.data.get(CONF_DEVICE_ID)
        if device_id is None:
            continue
        ident = issue_id(DEVICE_MISSING, entry, subentry.subentry_id)
        if device_id not in missing:
            ir.async_delete_issue(hass, DOMAIN, ident)
            continue
        ir.async_create_issue(
            hass,
            DOMAIN,
            ident,
            is_fixable=True,
            severity=ir.IssueSeverity.WARNING,
            translation_key=DEVICE_MISSING,
            translation_placeholders={
                "name": subentry.title,
                "device_id": device_id,
                "title": entry.title,
            },
            data={"entry_id": entry.entry_id, "subentry_id": subentry.subentry_id},
        )


def async_clear_subentry(hass: HomeAssistant, entry: ConfigEntry, key: str) -> None:
    """Remove every issue of a removed device subentry."""
    async_clear_source(hass, entry, key)
    ir.async_delete_issue(hass, DOMAIN, issue_id(DEVICE_MISSING, entry, key))


def async_clear_entry(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Remove every issue of a removed entry."""
    prefix = f"_{entry.entry_id}"
    registry = ir.async_get(hass)
    for domain, ident in list(registry.issues):
        if domain == DOMAIN and prefix in ident:
            ir.async_delete_issue(hass, DOMAIN, ident)
