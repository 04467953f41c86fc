"""The cost coordinator: when it calls Flatpeak, and what it does when that fails."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from homeassistant.config_entries import SOURCE_REAUTH
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.flatpeak.cost_coordinator import entry_owners

from .cost_data import (
    NOW,
    TODAY_START,
    bst,
    cost_entry,
    cost_sandbox,
    record,
    request_count,
    setup_entry,
)

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from flatpeak_sandbox import SandboxServer

__all__ = ["cost_entry", "cost_sandbox"]

pytestmark = [
    pytest.mark.freeze_time(NOW),
    pytest.mark.usefixtures("energy_sensors"),
]

IMPORT_TODAY = "sensor.flatpeak_1_test_street_london_import_cost_today"
IMPORT_MONTH = "sensor.flatpeak_1_test_street_london_import_cost_this_month"
IMPORT_PRICE = "sensor.flatpeak_1_test_street_london_import_price"
HEAT_PUMP_TODAY = "sensor.heat_pump_cost_today"


def counts(server: SandboxServer) -> tuple[int, int, int]:
    """Return the calls so far: interval costs, prices, session costs."""
    return (
        request_count(server, "/costs/interval"),
        request_count(server, "/prices"),
        request_count(server, "/costs/session"),
    )


async def move(hass: HomeAssistant, freezer: FrozenDateTimeFactory, when: str) -> None:
    """Move the clock and let every timer due run (refreshes run in the background)."""
    freezer.move_to(when)
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


async def submitted(
    hass: HomeAssistant, entry: MockConfigEntry, since: str | None = None
) -> None:
    """Play a metering cycle in which Flatpeak accepted records of every owner."""
    runtime = entry.runtime_data
    metering = runtime.metering
    if since is not None:
        runtime.outbox.statistics_from = dt_util.parse_datetime(since)
    metering.async_set_updated_data(
        replace(
            metering.data,
            last_submission=dt_util.utcnow(),
            changed=entry_owners(entry),
        )
    )
    await hass.async_block_till_done()


def state(hass: HomeAssistant, entity_id: str) -> str:
    """Return the state of an entity."""
    found = hass.states.get(entity_id)
    assert found is not None
    return found.state


async def advance(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, until: str
) -> None:
    """Let time pass 5 minutes at a time up to `until`, every timer running."""
    end = dt_util.parse_datetime(until)
    assert end is not None
    while dt_util.utcnow() < end:
        step = min(timedelta(minutes=5), end - dt_util.utcnow())
        await move(hass, freezer, (dt_util.utcnow() + step).isoformat())


async def test_call_schedule(
    hass: HomeAssistant,
    cost_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    cost_sandbox: SandboxServer,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Flatpeak is asked only for what accepted records changed, every 15 min.

    Setup: 2 location + 3 device DAY reports, 2 statistics reports; 2 price series;
    the finished and the running EV session.
    """
    await setup_entry(hass, cost_entry, hass_storage)
    assert counts(cost_sandbox) == (7, 2, 2)

    # Nothing was submitted: time passing alone calls nothing.
    await advance(hass, freezer, "2025-06-11T20:35:00+00:00")
    assert counts(cost_sandbox) == (7, 2, 2)

    # A submission got records accepted: at the next refresh (at most 15 minutes
    # later) 5 DAY reports and the running session; this hour's statistics were
    # written already.
    cost_sandbox.sandbox.store_records(
        [record(bst(6, 11, 21), bst(6, 11, 21, 30), 1.0)]
    )
    await submitted(hass, cost_entry, since="2025-06-11T20:00:00+00:00")
    assert counts(cost_sandbox) == (7, 2, 2)
    await advance(hass, freezer, "2025-06-11T20:51:00+00:00")
    assert counts(cost_sandbox) == (12, 2, 3)
    # 1.47 + 1.0 kWh x 0.25 (21:00-21:30 BST) = 1.72
    assert float(state(hass, IMPORT_TODAY)) == pytest.approx(1.72)

    # The first refresh of a new UTC hour writes the statistics of what was
    # accepted since they were last written.
    await advance(hass, freezer, "2025-06-11T21:06:00+00:00")
    assert counts(cost_sandbox) == (14, 2, 3)
    # Records of the running hour: its statistics wait for the hour to end.
    await submitted(hass, cost_entry, since="2025-06-11T21:00:00+00:00")
    await advance(hass, freezer, "2025-06-11T21:21:00+00:00")
    assert counts(cost_sandbox) == (19, 2, 4)

    # Prices wait for Flatpeak's next_update (16:00 BST tomorrow); the new UTC
    # hour writes its statistics.
    await advance(hass, freezer, "2025-06-11T22:01:00+00:00")
    assert counts(cost_sandbox) == (19, 2, 4)
    await advance(hass, freezer, "2025-06-11T22:06:00+00:00")
    assert counts(cost_sandbox) == (21, 2, 4)

    # Local midnight (23:00 UTC): a new day from what is known, with the week's
    # statistics rewrite; nothing new was accepted, so no report is fetched. The
    # new tomorrow's prices were fetched with the day after.
    await advance(hass, freezer, "2025-06-11T23:00:01+00:00")
    assert counts(cost_sandbox) == (23, 2, 4)
    today = hass.states.get(IMPORT_TODAY)
    assert today is not None
    assert float(today.state) == 0.0
    assert today.attributes["last_reset"] == "2025-06-11T23:00:00+00:00"
    # The month goes on: 2.42 + 0.25 = 2.67.
    assert float(state(hass, IMPORT_MONTH)) == pytest.approx(2.67)

    # The night rate starts at 00:30 BST: the price sensor steps without a call.
    assert float(state(hass, IMPORT_PRICE)) == 0.25
    await advance(hass, freezer, "2025-06-11T23:30:00+00:00")
    assert float(state(hass, IMPORT_PRICE)) == 0.07
    assert counts(cost_sandbox) == (23, 2, 4)


async def test_month_start_resets(
    hass: HomeAssistant,
    cost_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
) -> None:
    """At the first local midnight of a month, the month totals start again at 0."""
    freezer.move_to("2025-06-30T22:30:00+00:00")
    await setup_entry(hass, cost_entry, hass_storage)
    assert float(state(hass, IMPORT_MONTH)) == pytest.approx(2.42)
    await move(hass, freezer, "2025-06-30T23:00:05+00:00")
    month = hass.states.get(IMPORT_MONTH)
    assert month is not None
    assert float(month.state) == 0.0
    assert month.attributes["last_reset"] == "2025-06-30T23:00:00+00:00"


async def test_server_error_backs_off_and_recovers(
    hass: HomeAssistant,
    cost_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    cost_sandbox: SandboxServer,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """5xx: unavailable (logged once), retried after a backoff, then back."""
    await setup_entry(hass, cost_entry, hass_storage)
    cost_sandbox.sandbox.faults.fail_next(2, status=503, path="/costs/interval")
    await submitted(hass, cost_entry)
    await move(hass, freezer, "2025-06-11T20:20:01+00:00")
    assert state(hass, IMPORT_TODAY) == STATE_UNAVAILABLE
    assert state(hass, HEAT_PUMP_TODAY) == STATE_UNAVAILABLE
    # The first retry (60 s ± 20 %) fails again: still unavailable, not logged again.
    await move(hass, freezer, "2025-06-11T20:21:15+00:00")
    assert state(hass, IMPORT_TODAY) == STATE_UNAVAILABLE
    assert caplog.text.count("Error fetching flatpeak costs data") == 1
    # The second waits twice as long (120 s ± 20 %).
    await move(hass, freezer, "2025-06-11T20:23:45+00:00")
    assert float(state(hass, IMPORT_TODAY)) == pytest.approx(1.47)
    assert "Fetching flatpeak costs data recovered" in caplog.text


async def test_rate_limit_waits_and_never_reauths(
    hass: HomeAssistant,
    cost_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    cost_sandbox: SandboxServer,
    freezer: FrozenDateTimeFactory,
) -> None:
    """429 with Retry-After 300: no call before 5 minutes, no reauth."""
    await setup_entry(hass, cost_entry, hass_storage)
    cost_sandbox.sandbox.faults.rate_limit_next(
        1, retry_after=300, path="/costs/interval"
    )
    await submitted(hass, cost_entry)
    await move(hass, freezer, "2025-06-11T20:20:01+00:00")
    assert state(hass, IMPORT_TODAY) == STATE_UNAVAILABLE
    calls = request_count(cost_sandbox, "/costs/interval")
    await move(hass, freezer, "2025-06-11T20:24:00+00:00")
    assert request_count(cost_sandbox, "/costs/interval") == calls
    await move(hass, freezer, "2025-06-11T20:25:02+00:00")
    assert float(state(hass, IMPORT_TODAY)) == pytest.approx(1.47)
    assert not hass.config_entries.flow.async_progress_by_handler("flatpeak")


async def test_forbidden_starts_reauth(
    hass: HomeAssistant,
    cost_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    cost_sandbox: SandboxServer,
    freezer: FrozenDateTimeFactory,
) -> None:
    """403 (after the client logged in again): the reauth flow starts."""
    await setup_entry(hass, cost_entry, hass_storage)
    cost_sandbox.sandbox.faults.fail_next(2, status=403, path="/costs/interval")
    await submitted(hass, cost_entry)
    await move(hass, freezer, "2025-06-11T20:20:01+00:00")
    assert state(hass, IMPORT_TODAY) == STATE_UNAVAILABLE
    flows = hass.config_entries.flow.async_progress_by_handler("flatpeak")
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]


async def test_unavailable_until_flatpeak_answers(
    hass: HomeAssistant,
    cost_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    cost_sandbox: SandboxServer,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Flatpeak down at startup: unavailable (never 0); the entry still loads."""
    cost_sandbox.sandbox.faults.fail_next(1, status=500, path="/costs/interval")
    cost_sandbox.sandbox.faults.fail_next(1, status=500, path="/prices")
    await setup_entry(hass, cost_entry, hass_storage)
    assert state(hass, IMPORT_TODAY) == STATE_UNAVAILABLE
    assert state(hass, IMPORT_PRICE) == STATE_UNAVAILABLE
    await move(hass, freezer, "2025-06-11T20:07:00+00:00")
    assert float(state(hass, IMPORT_TODAY)) == pytest.approx(1.47)
    today = hass.states.get(IMPORT_TODAY)
    assert today is not None
    assert today.attributes["last_reset"] == TODAY_START.isoformat()
    assert float(state(hass, IMPORT_PRICE)) == 0.25


async def test_last_session_survives_a_restart(
    hass: HomeAssistant,
    cost_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """After a reload the last session's cost is shown again, not unavailable."""
    await setup_entry(hass, cost_entry, hass_storage)
    session = "sensor.car_last_session_cost"
    assert float(state(hass, session)) == pytest.approx(0.70)
    assert await hass.config_entries.async_reload(cost_entry.entry_id)
    await hass.async_block_till_done()
    restored = hass.states.get(session)
    assert restored is not None
    assert float(restored.state) == pytest.approx(0.70)
    assert restored.attributes["session_id"] == "ev-session-1"
    assert restored.attributes["last_reset"] == bst(6, 11, 0, 30).isoformat()


async def test_statistics_window_lengths(
    hass: HomeAssistant,
    cost_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
) -> None:
    """A week at the first run and each new day; the last day in between."""
    await setup_entry(hass, cost_entry, hass_storage)
    statistics = cost_entry.runtime_data.costs.statistics
    (start, end), _ = statistics.last_window.values()
    assert end - start == timedelta(days=7)
    await move(hass, freezer, "2025-06-11T21:05:00+00:00")
    await submitted(hass, cost_entry, since="2025-06-11T20:30:00+00:00")
    await move(hass, freezer, "2025-06-11T21:20:01+00:00")
    (start, end), _ = statistics.last_window.values()
    assert end - start == timedelta(days=1)
