"""Diagnostics of an entry: what was sent and what waits, never a secret."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

# Diagnostics add the system info, which imports hassio: under a frozen clock that
# import fails (freezegun's fake datetime), so import it now.
from homeassistant.components import hassio  # noqa: F401
from homeassistant.exceptions import HomeAssistantError
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.filters import props

from custom_components.flatpeak.const import DOMAIN
from custom_components.flatpeak.metering import (
    IntervalEnergy,
    Stream,
    StreamKind,
    build_record,
)

from .conftest import EV_ENERGY
from .cost_data import (
    API_KEY,
    EV_ID,
    EV_SUB,
    LOCATION_ID,
    NOW,
    RUNNING_SESSION,
    bst,
    cost_entry,
    cost_sandbox,
    outbox_with_sessions,
    setup_entry,
)
from .history import import_history

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry
    from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
    from syrupy.assertion import SnapshotAssertion

    from flatpeak_sandbox import SandboxServer

__all__ = ["cost_entry", "cost_sandbox"]

pytestmark = [
    pytest.mark.freeze_time(NOW),
    pytest.mark.usefixtures("energy_sensors"),
]

HISTORY_START = datetime(2025, 6, 10, 19, tzinfo=UTC)
HISTORY_END = datetime(2025, 6, 10, 21, tzinfo=UTC)
EV_STREAM = Stream(
    key=EV_SUB,
    kind=StreamKind.EV_CHARGER,
    entity_id=EV_ENERGY,
    location_id=LOCATION_ID,
    device_id=EV_ID,
)


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Serialise Home Assistant objects into `snapshots/` (the plugin's extension)."""
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


def _record(start_minutes: int, wh: int) -> dict[str, Any]:
    start = bst(6, 11, 19) + timedelta(minutes=start_minutes)
    interval = IntervalEnergy(start, start + timedelta(minutes=30), wh)
    return build_record(EV_STREAM, interval, RUNNING_SESSION).to_dict()


async def test_diagnostics_show_the_outbox_without_secrets(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    cost_entry: MockConfigEntry,
    cost_sandbox: SandboxServer,
    hass_storage: dict[str, Any],
    snapshot: SnapshotAssertion,
) -> None:
    """Records waiting (Flatpeak said 429), one rejected, a session to report."""
    stored = outbox_with_sessions()
    stored["data"]["failed"] = [
        {
            "stream": EV_SUB,
            "record": _record(-30, 700),
            "error": "device_id dev_x not found",
            "time": bst(6, 11, 19, 5).isoformat(),
        }
    ]
    hass_storage[f"flatpeak.{cost_entry.entry_id}"] = stored
    await setup_entry(hass, cost_entry)
    # Yesterday's charging, sent by a backfill that Flatpeak asks to wait for.
    import_history(hass, EV_ENERGY, HISTORY_START, HISTORY_END, HISTORY_START, 2.0)
    await async_wait_recording_done(hass)
    cost_sandbox.sandbox.faults.rate_limit_next(
        path="/meters/interval", retry_after=600
    )
    with pytest.raises(HomeAssistantError):
        await hass.services.async_call(
            DOMAIN,
            "backfill",
            {
                "config_entry_id": cost_entry.entry_id,
                "start": HISTORY_START.isoformat(),
            },
            blocking=True,
        )

    diagnostics: dict[str, Any] = dict(
        await get_diagnostics_for_config_entry(hass, hass_client, cost_entry)
    )

    text = json.dumps(diagnostics)
    assert API_KEY not in text
    tokens = list(cost_sandbox.sandbox.tokens)
    assert tokens
    assert all(token not in text for token in tokens)
    assert diagnostics["entry"]["data"]["api_key"] == "**REDACTED**"
    # The entry title is the home's address: never in diagnostics.
    assert "Test Street" not in text
    assert diagnostics["entry"]["title"] == "**REDACTED**"
    outbox = diagnostics["metering"]["outbox"]
    assert outbox["pending_count"] > 0
    assert outbox["oldest_pending"]["device_id"] == EV_ID
    assert [item["error"] for item in outbox["failed"]] == ["device_id dev_x not found"]
    assert set(outbox["streams"]) >= {"grid_import", EV_SUB}
    assert diagnostics["metering"]["update_interval_seconds"] == 600
    assert diagnostics["entry"]["data"]["api_url"] == cost_sandbox.url
    # The sandbox listens on a free port: leave its URL out of the snapshot.
    assert diagnostics == snapshot(exclude=props("api_url"))
