"""An entry's whole life, outside the steady state.

A tariff still pending, removals, rejected records, a device Flatpeak lost, the
session event, and what setup does on the event loop.
"""

from __future__ import annotations

import ast
import itertools
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from unittest.mock import patch

import pytest
from homeassistant.components.repairs import (
    DOMAIN as REPAIRS_DOMAIN,
)
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    CLIENT_ID,
    MockUser,
    async_capture_events,
)

from custom_components.flatpeak.const import (
    CONF_DEVICE_ID,
    DOMAIN,
    EVENT_SESSION_COMPLETED,
)

from .conftest import HEAT_PUMP_ENERGY
from .cost_data import (
    APPLIANCE_ID,
    APPLIANCE_SUB,
    ENTRY_ID,
    NOW,
    cost_entry,
    cost_sandbox,
    outbox_with_sessions,
    setup_entry,
)
from .metering_common import appliance, meter_puts, setup_metering

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from aiohttp.test_utils import TestClient
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry
    from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

    from flatpeak_sandbox import SandboxServer

__all__ = ["cost_entry", "cost_sandbox"]

PUT_PATH = "/meters/interval"
PACKAGE = Path(__file__).parents[2] / "custom_components" / DOMAIN


@pytest.fixture
def enable_statistics() -> bool:
    """Let the recorder compile statistics every 5 minutes."""
    return True


@pytest.fixture
async def repairs(hass: HomeAssistant) -> None:
    """Load the repairs integration (fix flows) as default_config would."""
    assert await async_setup_component(hass, REPAIRS_DOMAIN, {})


@pytest.fixture
def http_client(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    hass_admin_user: MockUser,
) -> Callable[[], Awaitable[TestClient[Any, Any]]]:
    """Return a factory of admin HTTP clients with a token fresh at the test clock.

    The tests move the clock by hours; a token made when the test started would
    have expired.
    """

    async def client() -> TestClient[Any, Any]:
        refresh = await hass.auth.async_create_refresh_token(hass_admin_user, CLIENT_ID)
        made: TestClient[Any, Any] = await hass_client(
            hass.auth.async_create_access_token(refresh)
        )
        return made

    return client


async def _fix(
    hass: HomeAssistant,
    client: Callable[[], Awaitable[TestClient[Any, Any]]],
    issue_id: str,
    choice: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Start an issue's fix flow over HTTP and submit it once; return the answer."""
    http = await client()
    resp = await http.post(
        "/api/repairs/issues/fix", json={"handler": DOMAIN, "issue_id": issue_id}
    )
    assert resp.status == 200, await resp.text()
    flow = await resp.json()
    resp = await http.post(
        f"/api/repairs/issues/fix/{flow['flow_id']}", json=choice or {}
    )
    assert resp.status == 200, await resp.text()
    answer: dict[str, Any] = await resp.json()
    await hass.async_block_till_done(wait_background_tasks=True)
    return answer


def _puts_refused(sandbox: SandboxServer) -> int:
    return sum(
        1 for r in sandbox.sandbox.requests if r.path == PUT_PATH and r.status == 422
    )


@pytest.mark.usefixtures("repairs")
async def test_a_pending_tariff_at_setup_leaves_the_entry_loaded(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    sandbox: SandboxServer,
    http_client: Callable[[], Awaitable[TestClient[Any, Any]]],
) -> None:
    """The state of a location just created: its tariff is still being connected.

    The entry loads (no setup retry), its cost sensors are unavailable, a repair
    issue says why, the records wait, and Flatpeak is asked at most every 15
    minutes, reloads included. Connected: the fix flow's "check now" sends them.
    """
    location = sandbox.sandbox.demo_location_id
    assert location is not None
    sandbox.sandbox.faults.set_pending_connect(location)
    entry, home = await setup_metering(hass, freezer, sandbox)
    assert entry.state is ConfigEntryState.LOADED
    await home.async_steps(freezer, 4)
    issue_id = f"tariff_pending_{entry.entry_id}"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.is_fixable
    assert entry.runtime_data.outbox.pending_count > 0
    today = hass.states.get("sensor.flatpeak_1_test_street_london_import_cost_today")
    assert today is not None
    assert today.state == STATE_UNAVAILABLE

    # At most one try every 15 minutes, a reload (new device, restart) included.
    tried: list[Any] = []
    count = _puts_refused(sandbox)
    for step in range(10):
        if step == 3:
            assert await hass.config_entries.async_reload(entry.entry_id)
        await home.async_steps(freezer, 1)
        if _puts_refused(sandbox) > count:
            tried.append(dt_util.utcnow())
            count = _puts_refused(sandbox)
    assert len(tried) >= 2
    assert all(
        later - earlier >= timedelta(minutes=15)
        for earlier, later in itertools.pairwise(tried)
    ), tried

    # Still pending: the fix flow says so and stays.
    answer = await _fix(hass, http_client, issue_id)
    assert answer["type"] == "form"
    assert answer["errors"] == {"base": "still_pending"}
    # Connected: the user checks now, without waiting for the next try.
    sandbox.sandbox.faults.set_pending_connect(location, pending=False)
    answer = await _fix(hass, http_client, issue_id)
    assert answer["type"] == "create_entry"
    assert entry.runtime_data.outbox.pending_count == 0
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    today = hass.states.get("sensor.flatpeak_1_test_street_london_import_cost_today")
    assert today is not None
    assert today.state != STATE_UNAVAILABLE


async def test_a_connected_tariff_is_found_within_one_try(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, sandbox: SandboxServer
) -> None:
    """Without the fix flow, the next try (15 minutes) sends everything."""
    location = sandbox.sandbox.demo_location_id
    assert location is not None
    sandbox.sandbox.faults.set_pending_connect(location)
    entry, home = await setup_metering(hass, freezer, sandbox)
    await home.async_steps(freezer, 2)
    sandbox.sandbox.faults.set_pending_connect(location, pending=False)
    await home.async_steps(freezer, 3)
    assert entry.runtime_data.outbox.pending_count == 0
    assert not ir.async_get(hass).async_get_issue(
        DOMAIN, f"tariff_pending_{entry.entry_id}"
    )


async def test_removing_a_device_and_the_entry_leaves_nothing(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    sandbox: SandboxServer,
    hass_storage: dict[str, Any],
) -> None:
    """A removed device's records and state go; a deleted entry's file goes."""
    gone = appliance("Boiler", "sensor.boiler_energy", "dev_boiler")
    entry, home = await setup_metering(hass, freezer, sandbox, [gone])
    location = sandbox.sandbox.demo_location_id
    assert location is not None
    sandbox.sandbox.faults.set_pending_connect(location)  # records stay queued
    await home.async_steps(freezer, 7)
    boiler = next(s for s in entry.subentries.values() if s.title == "Boiler")
    solar = next(s for s in entry.subentries.values() if s.title == "Roof")
    issues = ir.async_get(hass)
    missing = f"source_missing_{entry.entry_id}_{boiler.subentry_id}"
    assert issues.async_get_issue(DOMAIN, missing)
    key = f"{DOMAIN}.{entry.entry_id}"
    assert solar.subentry_id in hass_storage[key]["data"]["streams"]

    assert hass.config_entries.async_remove_subentry(entry, solar.subentry_id)
    assert hass.config_entries.async_remove_subentry(entry, boiler.subentry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    stored = hass_storage[key]["data"]
    assert solar.subentry_id not in stored["streams"]
    assert all(item["stream"] != solar.subentry_id for item in stored["pending"])
    assert all(
        item.get("device_id") != solar.data[CONF_DEVICE_ID]
        for item in stored["pending"]
    )
    assert not issues.async_get_issue(DOMAIN, missing)
    assert entry.state is ConfigEntryState.LOADED

    assert await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert key not in hass_storage
    assert not [
        ident
        for domain, ident in issues.issues
        if domain == DOMAIN and entry.entry_id in ident
    ]


def _rejected_setup(hass: HomeAssistant, freezer: Any, sandbox: Any) -> Any:
    unknown_device = appliance("Heat pump", HEAT_PUMP_ENERGY, "dev_unknown")
    return setup_metering(hass, freezer, sandbox, [unknown_device])


@pytest.mark.usefixtures("repairs")
@pytest.mark.parametrize("choice", ["discard", "resend"])
async def test_rejected_records_stay_in_view_and_can_be_settled(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    sandbox: SandboxServer,
    http_client: Callable[[], Awaitable[TestClient[Any, Any]]],
    choice: str,
) -> None:
    """Rejected records: a persistent issue, back after a restart, fixable.

    Its fix flow shows the errors and discards the records or sends them again.
    """
    entry, home = await _rejected_setup(hass, freezer, sandbox)
    home.extra[HEAT_PUMP_ENERGY] = 3.0
    await home.async_steps(freezer, 8)
    outbox = entry.runtime_data.outbox
    rejected = len(outbox.failed)
    assert rejected > 0
    issue_id = f"rejected_records_{entry.entry_id}"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.is_persistent
    assert issue.is_fixable

    # A restart forgets non-persistent issues; this one is raised again at load.
    ir.async_delete_issue(hass, DOMAIN, issue_id)
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    outbox = entry.runtime_data.outbox

    http = await http_client()
    resp = await http.post(
        "/api/repairs/issues/fix", json={"handler": DOMAIN, "issue_id": issue_id}
    )
    menu = await resp.json()
    assert menu["type"] == "menu"
    assert set(menu["menu_options"]) == {"discard", "resend"}
    assert (
        "device_id dev_unknown not found" in menu["description_placeholders"]["records"]
    )
    if choice == "resend":
        # Created again at Flatpeak meanwhile: the records go through this time.
        account = sandbox.sandbox.demo_account
        assert account is not None
        sandbox.sandbox.add_device(account.account_id, "ha_again", "dev_unknown")
    puts = meter_puts(sandbox)
    resp = await http.post(
        f"/api/repairs/issues/fix/{menu['flow_id']}", json={"next_step_id": choice}
    )
    assert (await resp.json())["type"] == "create_entry"
    await home.async_steps(freezer, 1)
    assert outbox.failed == []
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    stored = [r for r in sandbox.sandbox.records() if r.device_id == "dev_unknown"]
    if choice == "discard":
        assert stored == []
    else:
        assert len(stored) >= rejected
        assert meter_puts(sandbox) > puts


@pytest.mark.freeze_time(NOW)
@pytest.mark.usefixtures("energy_sensors", "repairs")
async def test_a_device_flatpeak_lost_stays_with_its_sensors(
    hass: HomeAssistant,
    cost_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    cost_sandbox: SandboxServer,
    http_client: Callable[[], Awaitable[TestClient[Any, Any]]],
) -> None:
    """A 404 on one device's costs: its sensors go, the rest stays; fixable."""
    del cost_sandbox.sandbox.devices[APPLIANCE_ID]
    await setup_entry(hass, cost_entry, hass_storage)
    assert hass.states.get("sensor.heat_pump_cost_today").state == STATE_UNAVAILABLE  # type: ignore[union-attr]
    today = hass.states.get("sensor.flatpeak_1_test_street_london_import_cost_today")
    assert today is not None
    assert float(today.state) == pytest.approx(1.47)
    assert hass.states.get("sensor.car_cost_today").state != STATE_UNAVAILABLE  # type: ignore[union-attr]
    issue_id = f"device_missing_{ENTRY_ID}_{APPLIANCE_SUB}"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.is_fixable

    answer = await _fix(hass, http_client, issue_id)
    assert answer["type"] == "create_entry"
    subentry = cost_entry.subentries[APPLIANCE_SUB]
    new_id = subentry.data[CONF_DEVICE_ID]
    assert new_id != APPLIANCE_ID
    assert new_id in cost_sandbox.sandbox.devices
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    cost = hass.states.get("sensor.heat_pump_cost_today")
    assert cost is not None
    assert cost.state != STATE_UNAVAILABLE  # the same entity, on the new device


@pytest.mark.freeze_time(NOW)
@pytest.mark.usefixtures("energy_sensors")
async def test_the_session_event_is_marked_before_it_fires(
    hass: HomeAssistant,
    cost_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """When the event fires, the file already says it was reported (never twice)."""
    key = f"{DOMAIN}.{ENTRY_ID}"
    seen: list[list[Any]] = []

    def check(_event: Any) -> None:
        seen.append(list(hass_storage[key]["data"]["completed_sessions"]))

    hass.bus.async_listen(EVENT_SESSION_COMPLETED, check)
    events = async_capture_events(hass, EVENT_SESSION_COMPLETED)
    hass_storage[key] = outbox_with_sessions()
    await setup_entry(hass, cost_entry)
    assert len(events) == 1
    assert seen == [[]]


def test_only_public_recorder_apis() -> None:
    """No recorder internals: not its database schema, not its settings."""
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert "db_schema" not in node.module, path.name
                assert not node.module.endswith("recorder.core"), path.name
            if isinstance(node, ast.Attribute):
                assert node.attr not in {"keep_days", "StatisticsRuns"}, path.name


async def test_time_zones_are_resolved_off_the_event_loop(
    hass: HomeAssistant,
    sandbox: SandboxServer,
    mock_config_entry: MockConfigEntry,
) -> None:
    """The blocking time zone lookup is never used; setup resolves it once."""
    with patch(
        "homeassistant.util.dt.get_time_zone",
        side_effect=AssertionError("blocking time zone lookup on the loop"),
    ):
        mock_config_entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
        await hass.async_block_till_done(wait_background_tasks=True)
    assert mock_config_entry.state is ConfigEntryState.LOADED
    assert str(mock_config_entry.runtime_data.timezone) == "Europe/London"
    assert dt_util.utcnow()  # the test clock, not the wall clock
