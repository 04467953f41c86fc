"""Tests of setting up, reloading and unloading a Flatpeak entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from homeassistant.components.sensor import SensorEntityDescription
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.flatpeak.api import MeterRecord
from custom_components.flatpeak.const import (
    CONF_API_KEY,
    CONF_DEVICE_ID,
    CONF_LOCATION_ID,
    DOMAIN,
    LOGGER,
)
from custom_components.flatpeak.entity import FlatpeakEntity, entry_device
from tests.conftest import ticking_clock

from .conftest import LOCATION_TITLE, entry_data
from .registry import device_owners

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from flatpeak_sandbox import SandboxServer


def _state(entry: MockConfigEntry) -> ConfigEntryState:
    """Read the state afresh (mypy keeps the one narrowed by an earlier assert)."""
    return entry.state


async def _setup(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


async def test_setup_registers_devices_and_unloads(
    hass: HomeAssistant,
    sandbox: SandboxServer,
    init_integration: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    """A reachable location loads, registers its devices and unloads cleanly."""
    entry = init_integration
    location_id = sandbox.sandbox.demo_location_id
    assert location_id is not None
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.location.id == location_id
    assert entry.runtime_data.location.currency_code == "GBP"
    assert entry.runtime_data.interval_minutes == 30

    location_device = entry_device(hass, entry, location_id)
    assert location_device is not None
    assert location_device.name == f"Flatpeak {LOCATION_TITLE}"
    assert location_device.manufacturer == "Flatpeak"
    assert location_device.entry_type is dr.DeviceEntryType.SERVICE
    assert device_owners(location_device) == {entry.entry_id: {None}}

    subentry = next(iter(entry.subentries.values()))
    device = entry_device(hass, entry, subentry.data[CONF_DEVICE_ID])
    assert device is not None
    assert device.name == "Roof"
    assert device.via_device_id == location_device.id
    assert device_owners(device) == {entry.entry_id: {subentry.subentry_id}}

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert _state(entry) is ConfigEntryState.NOT_LOADED


@pytest.mark.parametrize(
    "inject",
    [
        pytest.param(lambda f: f.fail_next(status=500), id="server_error"),
        pytest.param(lambda f: f.fail_next(status=422), id="refused"),
        pytest.param(lambda f: f.rate_limit_next(), id="rate_limited"),
        pytest.param(lambda f: f.garble_next(path="/locations/"), id="garbled"),
        pytest.param(
            lambda f: f.stall_next(seconds=0.05), id="timeout", marks=ticking_clock()
        ),
    ],
)
async def test_setup_not_ready_then_recovers(
    hass: HomeAssistant,
    sandbox: SandboxServer,
    mock_config_entry: MockConfigEntry,
    inject: Any,
) -> None:
    """A Flatpeak outage retries setup later; once Flatpeak answers, it loads."""
    inject(sandbox.sandbox.faults)
    await _setup(hass, mock_config_entry)
    assert mock_config_entry.state is ConfigEntryState.SETUP_RETRY
    assert mock_config_entry.reason

    await hass.config_entries.async_reload(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert _state(mock_config_entry) is ConfigEntryState.LOADED


async def test_setup_location_gone(hass: HomeAssistant, sandbox: SandboxServer) -> None:
    """A location Flatpeak does not know (any more) is a permanent error."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="loc_000000000000000000000000",
        data=entry_data(sandbox, **{CONF_LOCATION_ID: "loc_000000000000000000000000"}),
    )
    await _setup(hass, entry)
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert entry.reason is not None
    assert "loc_000000000000000000000000" in entry.reason


async def test_setup_auth_failed_starts_reauth(
    hass: HomeAssistant, sandbox: SandboxServer
) -> None:
    """A refused key starts reauth; a good key then loads the entry."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=LOCATION_TITLE,
        unique_id=sandbox.sandbox.demo_location_id,
        data=entry_data(sandbox, **{CONF_API_KEY: "sk_test_revoked"}),
    )
    await _setup(hass, entry)
    assert entry.state is ConfigEntryState.SETUP_ERROR

    flows = hass.config_entries.flow.async_progress()
    assert len(flows) == 1
    assert flows[0]["context"]["source"] == SOURCE_REAUTH
    assert flows[0]["context"]["entry_id"] == entry.entry_id

    account = sandbox.sandbox.demo_account
    assert account is not None
    result = await hass.config_entries.flow.async_configure(
        flows[0]["flow_id"], {CONF_API_KEY: account.api_key}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert entry.data[CONF_API_KEY] == account.api_key
    assert _state(entry) is ConfigEntryState.LOADED


async def test_setup_releases_stale_devices(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    """A device of the entry that no subentry owns any more is removed."""
    mock_config_entry.add_to_hass(hass)
    stale = device_registry.async_get_or_create(
        config_entry_id=mock_config_entry.entry_id,
        identifiers={(DOMAIN, "dev_gone")},
        name="Old charger",
    )
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert _state(mock_config_entry) is ConfigEntryState.LOADED
    assert device_registry.async_get(stale.id) is None


async def test_base_entity(
    hass: HomeAssistant, sandbox: SandboxServer, init_integration: MockConfigEntry
) -> None:
    """Entities get a unique id of Flatpeak id + key and their device."""
    entry = init_integration
    coordinator: DataUpdateCoordinator[None] = DataUpdateCoordinator(
        hass, LOGGER, config_entry=entry, name="test"
    )
    description = SensorEntityDescription(key="cost_today")
    location_entity = FlatpeakEntity(coordinator, entry, description)
    location_id = sandbox.sandbox.demo_location_id
    assert location_entity.unique_id == f"{location_id}_cost_today"
    assert location_entity.has_entity_name
    assert location_entity.device_info is not None
    assert location_entity.device_info["identifiers"] == {(DOMAIN, location_id)}

    subentry = next(iter(entry.subentries.values()))
    device_id = subentry.data[CONF_DEVICE_ID]
    device_entity = FlatpeakEntity(coordinator, entry, description, subentry)
    assert device_entity.unique_id == f"{device_id}_cost_today"
    assert device_entity.device_info is not None
    assert device_entity.device_info["identifiers"] == {(DOMAIN, device_id)}
    # The device hangs under the location device (registered at setup).
    registry = dr.async_get(hass)
    devices = {
        identifier: device
        for device in dr.async_entries_for_config_entry(registry, entry.entry_id)
        for _, identifier in device.identifiers
    }
    assert location_id is not None
    assert devices[device_id].via_device_id == devices[location_id].id


async def test_damaged_outbox_records_raise_an_issue(
    hass: HomeAssistant,
    sandbox: SandboxServer,
    mock_config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    energy_sensors: None,
) -> None:
    """A damaged stored record is set aside with a repair issue; the rest is sent."""
    location_id = sandbox.sandbox.demo_location_id
    assert location_id is not None
    start = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)
    good = MeterRecord(
        location_id,
        start,
        start + timedelta(minutes=30),
        0.5,
        record_reference_id="fp-grid_import-1736942400-30",
    )
    damaged = {**good.to_dict(), "value": "lots", "record_reference_id": "fp-x"}
    key = f"{DOMAIN}.{mock_config_entry.entry_id}"
    hass_storage[key] = {
        "version": 1,
        "minor_version": 2,
        "key": key,
        "data": {
            "pending": [
                {**good.to_dict(), "stream": "grid_import"},
                {**damaged, "stream": "grid_import"},
            ]
        },
    }
    await _setup(hass, mock_config_entry)
    assert _state(mock_config_entry) is ConfigEntryState.LOADED

    issue = ir.async_get(hass).async_get_issue(
        DOMAIN, f"unreadable_records_{mock_config_entry.entry_id}"
    )
    assert issue is not None
    assert issue.translation_key == "unreadable_records"
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["count"] == "1"
    assert [r.record_reference_id for r in sandbox.sandbox.records()] == [
        good.record_reference_id
    ]
    assert hass_storage[key]["data"]["unreadable"] == [
        {**damaged, "stream": "grid_import"}
    ]
