# ruff: noqa: INP001, S101 - a pytest case run as a script
"""The steady-state benchmark: Flatpeak calls per interval of a simulated day.

Run through ``scripts/bench steady``. A home with 6 streams (grid import and export,
solar, an EV charger with a session sensor, two appliances) metered every 5 minutes
lives one day (288 intervals) after an hour's warm-up, in Home Assistant with a real
recorder and the sandbox in process, time frozen (from the next whole hour: the
recorder compiles no statistics before its first run) and stepped 5 minutes at a time.
It prints the Flatpeak requests per interval by kind, and how long the cost sensors
lagged behind an accepted submission (at most, in minutes).
"""

from __future__ import annotations

import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from custom_components.flatpeak.const import (  # noqa: E402
    CONF_DEVICE_ID,
    CONF_ENERGY_ENTITY,
    CONF_INTERVAL_MINUTES,
    CONF_NAME,
    CONF_SESSION_ENTITY,
    DOMAIN,
    SUBENTRY_APPLIANCE,
    SUBENTRY_EV_CHARGER,
    SUBENTRY_SOLAR,
)
from flatpeak_sandbox import Sandbox, SandboxServer  # noqa: E402
from tests.integration.conftest import entry_data  # noqa: E402
from tests.integration.metering_common import (  # noqa: E402
    async_start,
    async_step,
    next_hour,
    set_energy,
)

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.components.recorder.core import Recorder
    from homeassistant.core import HomeAssistant

INTERVALS = 288
WARM_UP = 12
METERS = {
    "sensor.grid_import": 0.08,
    "sensor.grid_export": 0.03,
    "sensor.solar_energy": 0.05,
    "sensor.ev_energy": 0.6,
    "sensor.heat_pump_energy": 0.04,
    "sensor.hot_water_energy": 0.02,
}
EV_SESSION = "binary_sensor.ev_plugged"
HEAT_PUMP = "sensor.heat_pump_energy"
HOT_WATER = "sensor.hot_water_energy"


@pytest.fixture
def enable_statistics() -> bool:
    """Let the recorder compile statistics."""
    return True


@pytest.fixture(autouse=True)
def enable_event_loop_debug() -> None:
    """Keep asyncio's debug mode off (Home Assistant runs without it)."""


@pytest.fixture
def enable_custom(recorder_mock: Recorder, enable_custom_integrations: None) -> None:
    """Load custom_components/flatpeak (the recorder must start first)."""


@pytest.fixture
async def sandbox(socket_enabled: None) -> AsyncGenerator[SandboxServer]:  # noqa: ARG001
    """Run the sandbox in process (its clock is the frozen one)."""
    async with SandboxServer(Sandbox.with_demo_account()) as server:
        yield server


def _device(
    sandbox: SandboxServer, kind: str, name: str, entity: str, **extra: Any
) -> dict[str, Any]:
    account = sandbox.sandbox.demo_account
    assert account is not None
    reference = f"ha_bench_{name.lower().replace(' ', '_')}"
    device_id = sandbox.sandbox.add_device(account.account_id, reference)
    return {
        "subentry_type": kind,
        "title": name,
        "unique_id": device_id,
        "data": {
            CONF_NAME: name,
            CONF_ENERGY_ENTITY: entity,
            CONF_DEVICE_ID: device_id,
            **extra,
        },
    }


def _kind(path: str) -> str:
    for prefix in ("/costs/interval", "/costs/session", "/costs/instant", "/prices"):
        if path.startswith(prefix):
            return prefix.removeprefix("/")
    if path == "/meters/interval":
        return "meters"
    return path.strip("/").split("/")[0] or "other"


async def test_bench_steady(
    enable_custom: None,  # noqa: ARG001
    hass: HomeAssistant,
    sandbox: SandboxServer,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Live a day of 5-minute intervals; count what Flatpeak is asked."""
    # After the recorder's first statistics run (it does not compile backwards).
    start = next_hour()
    await async_start(hass, freezer, start - timedelta(minutes=10))
    values = dict.fromkeys(METERS, 10.0)
    for entity_id, value in values.items():
        set_energy(hass, entity_id, value)
    hass.states.async_set(EV_SESSION, "off")
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Bench home",
        unique_id=sandbox.sandbox.demo_location_id,
        data=entry_data(
            sandbox,
            import_entity="sensor.grid_import",
            export_entity="sensor.grid_export",
        ),
        options={CONF_INTERVAL_MINUTES: 5},
        subentries_data=[
            _device(sandbox, SUBENTRY_SOLAR, "Roof", "sensor.solar_energy"),
            _device(
                sandbox,
                SUBENTRY_EV_CHARGER,
                "Car",
                "sensor.ev_energy",
                **{CONF_SESSION_ENTITY: EV_SESSION},
            ),
            _device(
                sandbox, SUBENTRY_APPLIANCE, "Heat pump", "sensor.heat_pump_energy"
            ),
            _device(
                sandbox, SUBENTRY_APPLIANCE, "Hot water", "sensor.hot_water_energy"
            ),
        ],
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)

    counted: Counter[str] = Counter()
    accepted_at: list[int] = []
    costs_at: list[int] = []
    for step in range(WARM_UP + INTERVALS):
        # The car charges four hours in the evening (a session a day).
        charging = 96 <= step % 288 < 144  # noqa: PLR2004
        hass.states.async_set(EV_SESSION, "on" if charging else "off")
        for entity_id, rate in METERS.items():
            if entity_id != "sensor.ev_energy" or charging:
                values[entity_id] += rate
            set_energy(hass, entity_id, round(values[entity_id], 3))
        before = len(sandbox.sandbox.requests)
        await async_step(hass, freezer)
        if step < WARM_UP:
            continue
        new = sandbox.sandbox.requests[before:]
        kinds = Counter(_kind(request.path) for request in new)
        counted.update(kinds)
        if any(r.path == "/meters/interval" and r.status == 200 for r in new):  # noqa: PLR2004
            accepted_at.append(step)
        if kinds["costs/interval"]:
            costs_at.append(step)

    lags = [
        next((c for c in costs_at if c >= a), WARM_UP + INTERVALS) - a
        for a in accepted_at
    ]
    per = {kind: count / INTERVALS for kind, count in sorted(counted.items())}
    cost_calls = per.get("costs/interval", 0) + per.get("costs/session", 0)
    print(  # noqa: T201
        f"\nBENCH steady streams={len(METERS)} interval_minutes=5 "
        f"intervals={INTERVALS} requests_per_interval={sum(per.values()):.2f} "
        f"cost_requests_per_interval={cost_calls:.2f} "
        + " ".join(f"{kind}={value:.2f}" for kind, value in per.items())
        + f" submissions_accepted={len(accepted_at)}"
        f" max_cost_lag_minutes={max(lags, default=0) * 5}"
    )
