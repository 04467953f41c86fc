"""Fix flows of the fixable repair issues (the issues themselves: issues.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from homeassistant.components.repairs import RepairsFlow
from homeassistant.config_entries import ConfigEntryState
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir

from . import issues
from .api import FlatpeakError
from .compat import FixFlowResult, vol
from .const import CONF_DEVICE_ID, CONF_REFERENCE_ID, DOMAIN, LOGGER
from .entity import entry_device
from .helpers import form_error

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from .runtime import FlatpeakConfigEntry

# The rejected records listed in the fix flow (the rest: diagnostics).
SHOWN_REJECTED: Final = 5


class _EntryRepairFlow(RepairsFlow):
    """A fix flow of an issue of one loaded Flatpeak entry."""

    def __init__(self, entry_id: str, subentry_id: str | None = None) -> None:
        """Fix an issue of entry `entry_id` (and of one of its subentries)."""
        self._entry_id = entry_id
        self._subentry_id = subentry_id

    def _entry(self) -> FlatpeakConfigEntry | None:
        entry = self.hass.config_entries.async_get_entry(self._entry_id)
        if entry is None or entry.state is not ConfigEntryState.LOADED:
            return None
        flatpeak_entry: FlatpeakConfigEntry = entry
        return flatpeak_entry

    def _placeholders(self) -> dict[str, str]:
        issue = ir.async_get(self.hass).async_get_issue(DOMAIN, self.issue_id)
        return dict(issue.translation_placeholders or {}) if issue else {}


class TariffPendingRepairFlow(_EntryRepairFlow):
    """The user connected the tariff: ask Flatpeak again now."""

    async def async_step_init(
        self,
        user_input: dict[str, Any] | None = None,  # noqa: ARG002 - flow signature
    ) -> FixFlowResult:
        """Ask whether to check now."""
        return await self.async_step_confirm()

    async def async_step_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> FixFlowResult:
        """Check now; the issue goes once Flatpeak accepts the records."""
        errors: dict[str, str] = {}
        if user_input is not None:
            entry = self._entry()
            if entry is None:
                return self.async_abort(reason="entry_not_loaded")
            runtime = entry.runtime_data
            await runtime.metering.async_retry_now()
            if runtime.metering.last_update_success:
                await runtime.costs.async_refresh()
                await runtime.prices.async_refresh()
                return self.async_create_entry(data={})
            errors["base"] = "still_pending"
        return self.async_show_form(
            step_id="confirm",
            data_schema=vol.Schema({}),
            errors=errors,
            description_placeholders=self._placeholders(),
        )


class RejectedRecordsRepairFlow(_EntryRepairFlow):
    """Show the rejected records; discard them or send them again."""

    async def async_step_init(
        self,
        user_input: dict[str, Any] | None = None,  # noqa: ARG002 - flow signature
    ) -> FixFlowResult:
        """Show the errors and the choice."""
        entry = self._entry()
        if entry is None:
            return self.async_abort(reason="entry_not_loaded")
        failed = entry.runtime_data.outbox.failed
        if not failed:
            return self.async_create_entry(data={})
        shown = "\n".join(
            f"- {item.record.start_time.isoformat()} "
            f"({item.record.record_reference_id}): {item.error}"
            for item in failed[:SHOWN_REJECTED]
        )
        return self.async_show_menu(
            step_id="init",
            menu_options=["discard", "resend"],
            description_placeholders={
                **self._placeholders(),
                "count": str(len(failed)),
                "records": shown,
            },
        )

    async def async_step_discard(
        self,
        user_input: dict[str, Any] | None = None,  # noqa: ARG002 - flow signature
    ) -> FixFlowResult:
        """Forget the rejected records for good."""
        entry = self._entry()
        if entry is None:
            return self.async_abort(reason="entry_not_loaded")
        cleared = await entry.runtime_data.outbox.async_clear_failed()
        LOGGER.info("Discarded %s meter records Flatpeak rejected", len(cleared))
        return self.async_create_entry(data={})

    async def async_step_resend(
        self,
        user_input: dict[str, Any] | None = None,  # noqa: ARG002 - flow signature
    ) -> FixFlowResult:
        """Queue the rejected records again, unchanged, and send them."""
        entry = self._entry()
        if entry is None:
            return self.async_abort(reason="entry_not_loaded")
        await entry.runtime_data.outbox.async_requeue_failed()
        await entry.runtime_data.metering.async_request_refresh()
        return self.async_create_entry(data={})


class DeviceMissingRepairFlow(_EntryRepairFlow):
    """Create a device Flatpeak no longer knows again, and move the HA device to it."""

    async def async_step_init(
        self,
        user_input: dict[str, Any] | None = None,  # noqa: ARG002 - flow signature
    ) -> FixFlowResult:
        """Ask whether to create the device again."""
        return await self.async_step_confirm()

    async def async_step_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> FixFlowResult:
        """Create the device at Flatpeak and point the subentry at it."""
        errors: dict[str, str] = {}
        if user_input is not None:
            entry = self._entry()
            subentry_id = self._subentry_id
            if (
                entry is None
                or subentry_id is None
                or subentry_id not in entry.subentries
            ):
                return self.async_abort(reason="entry_not_loaded")
            try:
                await _async_recreate_device(self.hass, entry, subentry_id)
            except FlatpeakError as err:
                errors["base"] = form_error(err)
            else:
                return self.async_create_entry(data={})
        return self.async_show_form(
            step_id="confirm",
            data_schema=vol.Schema({}),
            errors=errors,
            description_placeholders=self._placeholders(),
        )


async def _async_recreate_device(
    hass: HomeAssistant, entry: FlatpeakConfigEntry, subentry_id: str
) -> None:
    """Create the subentry's Flatpeak device again; keep its HA device and entities."""
    runtime = entry.runtime_data
    subentry = entry.subentries[subentry_id]
    old_id: str = subentry.data[CONF_DEVICE_ID]
    device = await runtime.client.create_device(subentry.data[CONF_REFERENCE_ID])
    device_registry = dr.async_get(hass)
    if found := entry_device(hass, entry, old_id):
        device_registry.async_update_device(
            found.id, new_identifiers={(DOMAIN, device.id)}
        )
    entity_registry = er.async_get(hass)
    for entity in er.async_entries_for_config_entry(entity_registry, entry.entry_id):
        if entity.unique_id.startswith(f"{old_id}_"):
            entity_registry.async_update_entity(
                entity.entity_id,
                new_unique_id=f"{device.id}_{entity.unique_id[len(old_id) + 1 :]}",
            )
    await runtime.outbox.async_move_device(subentry_id, device.id)
    hass.config_entries.async_update_subentry(
        entry,
        subentry,
        data={**subentry.data, CONF_DEVICE_ID: device.id},
        unique_id=device.id,
    )
    issues.async_sync_missing_devices(hass, entry, ())


async def async_create_fix_flow(
    hass: HomeAssistant,  # noqa: ARG001
    issue_id: str,
    data: dict[str, str | int | float | None] | None,
) -> RepairsFlow:
    """Return the fix flow of a fixable issue."""
    entry_id = str((data or {}).get("entry_id"))
    subentry_id = (data or {}).get("subentry_id")
    if issue_id.startswith(issues.TARIFF_PENDING):
        return TariffPendingRepairFlow(entry_id)
    if issue_id.startswith(issues.REJECTED_RECORDS):
        return RejectedRecordsRepairFlow(entry_id)
    return DeviceMissingRepairFlow(
        entry_id, None if subentry_id is None else str(subentry_id)
    )
