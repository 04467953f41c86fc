"""Metering under faults: nothing lost, nothing sent twice, the right waits."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from homeassistant.config_entries import ConfigEntryState
from homeassistant.helpers import issue_registry as ir

from custom_components.flatpeak.const import (
    DOMAIN,
)

from .conftest import (
    GRID_EXPORT,
    GRID_IMPORT,
    HEAT_PUMP_ENERGY,
    SOLAR_ENERGY,
)
from .metering_common import (
    appliance,
    async_statistics_wh,
    meter_puts,
    setup_metering,
)

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant

    from flatpeak_sandbox import SandboxServer

PUT_PATH = "/meters/interval"
# A sandbox that stores a record again each time it is sent: a double send shows.
pytestmark = pytest.mark.sandbox(dedup="duplicate")


@pytest.fixture
def enable_statistics() -> bool:
    """Let the recorder compile statistics every 5 minutes."""
    return True


def _once_each(sandbox: SandboxServer) -> Counter[str | None]:
    counts = Counter(r.record_reference_id for r in sandbox.sandbox.records())
    assert counts, "nothing arrived"
    assert max(counts.values()) == 1, [ref for ref, n in counts.items() if n > 1]
    return counts


async def test_ambiguous_failures_never_store_twice(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, sandbox: SandboxServer
) -> None:
    """500s, cut answers, 429 and an expired token: each record stored exactly once."""
    entry, home = await setup_metering(hass, freezer, sandbox)
    metering = entry.runtime_data.metering
    faults = sandbox.sandbox.faults
    await home.async_steps(freezer, 10)

    faults.fail_next(2, path=PUT_PATH)  # two 500s in a row: backoff grows
    await home.async_steps(freezer, 6)

    # The answer is cut after the headers: Flatpeak stored the records.
    faults.drop_next(path=PUT_PATH, mode="mid_response")
    await home.async_steps(freezer, 6)

    # A broken 200 body: processed, answer unreadable.
    faults.garble_next(path=PUT_PATH)
    await home.async_steps(freezer, 6)

    faults.rate_limit_next(path=PUT_PATH, retry_after=600)
    await home.async_steps(freezer, 6)
    await home.async_steps(freezer, 2)

    faults.expire_tokens()
    await home.async_steps(freezer, 6)
    await home.async_steps(freezer, 2)

    assert metering.last_update_success
    assert metering.data.pending_records == 0
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    faults_seen = {r.fault for r in sandbox.sandbox.requests if r.path == PUT_PATH}
    assert faults_seen >= {"fail", "drop", "garble", "rate_limit"}
    _once_each(sandbox)
    # Flatpeak was asked which records it held after each ambiguous failure.
    checks = [
        r
        for r in sandbox.sandbox.requests
        if r.path.startswith("/costs/interval/") and "aggregation" not in r.query
    ]
    assert checks
    start = next(r.start_time for r in sandbox.sandbox.records())
    end = max(r.end_time for r in sandbox.sandbox.records())
    for entity_id, direction in (
        (GRID_IMPORT, "IMPORT"),
        (GRID_EXPORT, "EXPORT"),
        (SOLAR_ENERGY, "LOCAL"),
    ):
        stored = [
            r for r in sandbox.sandbox.records() if r.tariff_direction == direction
        ]
        assert sum(r.energy_wh for r in stored) == await async_statistics_wh(
            hass, entity_id, start, end
        )


async def test_failed_check_sends_nothing_again_until_flatpeak_can_say(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, sandbox: SandboxServer
) -> None:
    """When Flatpeak cannot say what it holds, nothing goes again until it can.

    Sending the records again blind would store them twice at a Flatpeak that
    keeps duplicates: the check is retried with the back-off instead.
    """
    entry, home = await setup_metering(hass, freezer, sandbox)
    await home.async_steps(freezer, 10)
    faults = sandbox.sandbox.faults
    faults.drop_next(path=PUT_PATH, mode="mid_response")
    faults.fail_next(100, path="/costs/interval/")
    before = meter_puts(sandbox)
    seen = len(sandbox.sandbox.requests)
    await home.async_steps(freezer, 6)
    metering = entry.runtime_data.metering
    assert metering.outbox.has_in_flight
    assert meter_puts(sandbox) == before + 1  # the cut one only
    checks = [
        r
        for r in sandbox.sandbox.requests[seen:]
        if r.path.startswith("/costs/interval/") and "aggregation" not in r.query
    ]
    assert checks
    assert {r.fault for r in checks} == {"fail"}
    faults.clear()
    await home.async_steps(freezer, 12)
    assert not metering.outbox.has_in_flight
    assert metering.data.pending_records == 0
    _once_each(sandbox)


async def test_forbidden_starts_reauth(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, sandbox: SandboxServer
) -> None:
    """A 403 that survives a fresh token asks the user for a new key."""
    entry, home = await setup_metering(hass, freezer, sandbox)
    sandbox.sandbox.faults.fail_next(2, status=403, path=PUT_PATH)
    await home.async_steps(freezer, 10)
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]
    assert entry.runtime_data.metering.outbox.pending_count > 0


async def test_tariff_pending_raises_issue_and_waits(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, sandbox: SandboxServer
) -> None:
    """422 pending_connect: a repair issue; retried every 15 minutes, then sent."""
    entry, home = await setup_metering(hass, freezer, sandbox)
    location = sandbox.sandbox.demo_location_id
    assert location is not None
    sandbox.sandbox.faults.set_pending_connect(location)
    await home.async_steps(freezer, 10)
    issue_id = f"tariff_pending_{entry.entry_id}"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    metering = entry.runtime_data.metering
    assert not metering.last_update_success
    assert metering.update_interval == timedelta(minutes=15)

    def refused() -> int:
        return sum(
            1
            for r in sandbox.sandbox.requests
            if r.path == PUT_PATH and r.status == 422
        )

    tries = refused()
    await home.async_steps(freezer, 2)
    assert refused() <= tries + 1  # at most one more try within 10 minutes
    sandbox.sandbox.faults.set_pending_connect(location, pending=False)
    await home.async_steps(freezer, 4)  # the next try comes within 15 minutes
    assert metering.last_update_success
    assert metering.data.pending_records == 0
    assert not ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    _once_each(sandbox)


async def test_rejected_records_and_missing_sensor_raise_issues(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, sandbox: SandboxServer
) -> None:
    """Records Flatpeak refuses are kept aside; a vanished sensor is reported."""
    unknown_device = appliance("Heat pump", HEAT_PUMP_ENERGY, "dev_unknown")
    gone = appliance("Boiler", "sensor.boiler_energy", "dev_boiler")
    entry, home = await setup_metering(hass, freezer, sandbox, [unknown_device, gone])
    assert entry.state is ConfigEntryState.LOADED
    home.extra[HEAT_PUMP_ENERGY] = 3.0
    await home.async_steps(freezer, 10)
    metering = entry.runtime_data.metering
    assert metering.data.rejected_records > 0
    assert metering.data.pending_records == 0
    issues = ir.async_get(hass)
    assert issues.async_get_issue(DOMAIN, f"rejected_records_{entry.entry_id}")
    boiler = next(s for s in entry.subentries.values() if s.title == "Boiler")
    assert issues.async_get_issue(
        DOMAIN, f"source_missing_{entry.entry_id}_{boiler.subentry_id}"
    )
    # Rejected records are never sent again.
    puts_before = meter_puts(sandbox)
    await home.async_steps(freezer, 1)
    refs = [
        record["record_reference_id"]
        for r in sandbox.sandbox.requests
        if r.method == "PUT" and r.path == PUT_PATH
        for record in r.body
        if record.get("device_id") == "dev_unknown"
    ]
    assert len(refs) == len(set(refs))
    assert meter_puts(sandbox) >= puts_before
