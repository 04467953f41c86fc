"""The cost actions: answers computed by hand from the tariff, and every refusal."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from homeassistant.config_entries import ConfigEntryState
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError

from custom_components.flatpeak.const import DOMAIN
from custom_components.flatpeak.entity import entry_device

from .cost_data import (
    APPLIANCE_ID,
    ENTRY_ID,
    EV_ID,
    FINISHED_SESSION,
    LOCATION_ID,
    NOW,
    bst,
    cost_entry,
    cost_sandbox,
    request_count,
    setup_entry,
)

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers import device_registry as dr
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from flatpeak_sandbox import SandboxServer

__all__ = ["cost_entry", "cost_sandbox"]

pytestmark = [
    pytest.mark.freeze_time(NOW),
    pytest.mark.usefixtures("energy_sensors"),
]


async def call(hass: HomeAssistant, service: str, **data: Any) -> dict[str, Any]:
    """Call a response-only action of the integration."""
    response = await hass.services.async_call(
        DOMAIN, service, data, blocking=True, return_response=True
    )
    assert response is not None
    return dict(response)


async def test_get_costs_per_record(
    hass: HomeAssistant, cost_entry: MockConfigEntry, hass_storage: dict[str, Any]
) -> None:
    """Today's import rows: 0.25, 0.14, 0.16, 0.50, 0.42 (see cost_data.py)."""
    await setup_entry(hass, cost_entry, hass_storage)
    response = await call(
        hass,
        "get_costs",
        config_entry_id=ENTRY_ID,
        start="2025-06-11T00:00:00+01:00",
        end="2025-06-12T00:00:00+01:00",
        direction="import",
    )
    assert response["currency"] == "GBP"
    assert response["object_id"] == LOCATION_ID
    assert response["direction"] == "import"
    assert response["aggregation"] is None
    assert [row["cost"] for row in response["rows"]] == [0.25, 0.14, 0.16, 0.5, 0.42]
    assert response["rows"][3]["start"] == bst(6, 11, 11, 30).isoformat()
    assert response["rows"][3]["energy_kwh"] == 2.0
    # 1.0 + 2.0 + 1.0 + 2.0 + 1.2 kWh
    assert response["total_energy_kwh"] == pytest.approx(7.2)
    assert response["total_cost"] == pytest.approx(1.47)
    assert response["confidence"] == 1.0


async def test_get_costs_of_a_device_by_month(
    hass: HomeAssistant,
    cost_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    device_registry: dr.DeviceRegistry,
) -> None:
    """The heat pump in June: 2.0 x 0.07 + 1.0 x 0.35 = 0.49 (HA device or dev_ id)."""
    await setup_entry(hass, cost_entry, hass_storage)
    device = entry_device(hass, cost_entry, APPLIANCE_ID)
    assert device is not None
    for device_id in (device.id, APPLIANCE_ID):
        response = await call(
            hass,
            "get_costs",
            config_entry_id=ENTRY_ID,
            start="2025-06-01T00:00:00+01:00",
            end="2025-07-01T00:00:00+01:00",
            direction="import",
            device_id=device_id,
            aggregation="month",
        )
        assert response["object_id"] == APPLIANCE_ID
        assert len(response["rows"]) == 1
        assert response["rows"][0]["cost"] == pytest.approx(0.49)
        assert response["rows"][0]["energy_kwh"] == 3.0
        assert response["aggregation"] == "month"


async def test_get_costs_by_day_export(
    hass: HomeAssistant, cost_entry: MockConfigEntry, hass_storage: dict[str, Any]
) -> None:
    """Export per day: 06-03 2.0 x 0.15 = 0.30, 06-11 3.0 x 0.15 = 0.45."""
    await setup_entry(hass, cost_entry, hass_storage)
    response = await call(
        hass,
        "get_costs",
        config_entry_id=ENTRY_ID,
        start="2025-06-01T00:00:00+01:00",
        end="2025-06-12T00:00:00+01:00",
        direction="export",
        aggregation="day",
    )
    assert [row["cost"] for row in response["rows"]] == [0.3, 0.45]
    assert response["rows"][1]["start"] == bst(6, 11, 0).isoformat()


async def test_get_session_cost(
    hass: HomeAssistant, cost_entry: MockConfigEntry, hass_storage: dict[str, Any]
) -> None:
    """6.0 kWh x 0.07 + 4.0 kWh x 0.07 = 0.70 for 10 kWh."""
    await setup_entry(hass, cost_entry, hass_storage)
    response = await call(
        hass, "get_session_cost", config_entry_id=ENTRY_ID, session_id=FINISHED_SESSION
    )
    assert response["session_id"] == FINISHED_SESSION
    assert response["object_id"] == EV_ID
    assert response["total_cost"] == pytest.approx(0.70)
    assert response["total_energy_kwh"] == 10.0
    assert response["start"] == bst(6, 11, 0, 30).isoformat()
    assert response["end"] == bst(6, 11, 4, 30).isoformat()
    assert [row["cost"] for row in response["rows"]] == [0.42, 0.28]

    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "get_session_cost", config_entry_id=ENTRY_ID, session_id="x")
    assert err.value.translation_key == "session_not_found"


async def test_estimate_cost_stores_nothing(
    hass: HomeAssistant,
    cost_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    cost_sandbox: SandboxServer,
) -> None:
    """3.0 kWh 15:30-16:30 BST: 1.5 x 0.25 + 1.5 x 0.35 = 0.90; export 3.0 x 0.15."""
    await setup_entry(hass, cost_entry, hass_storage)
    records = len(cost_sandbox.sandbox.records())
    response = await call(
        hass,
        "estimate_cost",
        config_entry_id=ENTRY_ID,
        energy_kwh=3.0,
        start="2025-06-12T15:30:00+01:00",
        end="2025-06-12T16:30:00+01:00",
    )
    assert response["cost"] == pytest.approx(0.90)
    assert response["currency"] == "GBP"
    assert response["energy_kwh"] == 3.0
    assert response["direction"] == "import"
    response = await call(
        hass,
        "estimate_cost",
        config_entry_id=ENTRY_ID,
        energy_kwh=3.0,
        start="2025-06-12T15:30:00+01:00",
        end="2025-06-12T16:30:00+01:00",
        direction="export",
    )
    assert response["cost"] == pytest.approx(0.45)
    assert len(cost_sandbox.sandbox.records()) == records
    assert request_count(cost_sandbox, "/costs/instant") == 2
    assert all(
        item.query.get("non_persistent") == "true"
        for item in cost_sandbox.sandbox.requests
        if item.path == "/costs/instant"
    )


@pytest.mark.parametrize(
    ("service", "data", "key"),
    [
        (
            "get_costs",
            {"start": "2025-06-11T10:00:00Z", "end": "2025-06-11T09:00:00Z"},
            "end_before_start",
        ),
        (
            "get_costs",
            {
                "start": "2025-06-11T00:00:00Z",
                "end": "2025-06-12T00:00:00Z",
                "device_id": "dev_000000000000000000000bad",
            },
            "device_not_found",
        ),
        (
            "estimate_cost",
            {
                "energy_kwh": -1,
                "start": "2025-06-11T00:00:00Z",
                "end": "2025-06-11T01:00:00Z",
            },
            "negative_energy",
        ),
        (
            "estimate_cost",
            {
                "energy_kwh": 1,
                "start": "2025-06-11T01:00:00Z",
                "end": "2025-06-11T01:00:00Z",
            },
            "end_before_start",
        ),
    ],
)
async def test_bad_input(
    hass: HomeAssistant,
    cost_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    service: str,
    data: dict[str, Any],
    key: str,
) -> None:
    """Bad input is refused with a translated validation error."""
    await setup_entry(hass, cost_entry, hass_storage)
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, service, config_entry_id=ENTRY_ID, **data)
    assert err.value.translation_key == key


async def test_unknown_and_unloaded_entry(
    hass: HomeAssistant, cost_entry: MockConfigEntry, hass_storage: dict[str, Any]
) -> None:
    """An entry that does not exist or is not loaded is refused."""
    await setup_entry(hass, cost_entry, hass_storage)
    window = {"start": "2025-06-11T00:00:00Z", "end": "2025-06-12T00:00:00Z"}
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "get_costs", config_entry_id="nope", **window)
    assert err.value.translation_key == "entry_not_found"
    assert await hass.config_entries.async_unload(ENTRY_ID)
    assert cost_entry.state is ConfigEntryState.NOT_LOADED
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "get_costs", config_entry_id=ENTRY_ID, **window)
    assert err.value.translation_key == "entry_not_loaded"


@pytest.mark.parametrize(
    ("status", "key"),
    [(500, "cannot_connect"), (400, "api_error"), (403, "auth_failed")],
)
async def test_flatpeak_failure(
    hass: HomeAssistant,
    cost_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    cost_sandbox: SandboxServer,
    status: int,
    key: str,
) -> None:
    """Flatpeak failing is a translated HomeAssistantError (not a validation error)."""
    await setup_entry(hass, cost_entry, hass_storage)
    cost_sandbox.sandbox.faults.fail_next(2, status=status, path="/costs/interval")
    with pytest.raises(HomeAssistantError) as err:
        await call(
            hass,
            "get_costs",
            config_entry_id=ENTRY_ID,
            start="2025-06-11T00:00:00Z",
            end="2025-06-12T00:00:00Z",
        )
    assert not isinstance(err.value, ServiceValidationError)
    assert err.value.translation_key == key
