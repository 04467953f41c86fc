"""EV sessions end to end: session ids on the records Flatpeak stores, and the event.

Three chargers of one home, one per way of telling sessions (SPEC "Devices"): a
binary_sensor (plugged in), a sensor holding the charger's session id, and none
(a 30-minute gap without energy ends a session). Each charges the same three
sessions: a plain one, one across local midnight (Europe/London) and one across a
restart of the entry.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
)

from custom_components.flatpeak.const import (
    CONF_DEVICE_ID,
    CONF_ENERGY_ENTITY,
    CONF_NAME,
    CONF_SESSION_ENTITY,
    DOMAIN,
    EVENT_SESSION_COMPLETED,
    SUBENTRY_EV_CHARGER,
)

from .conftest import (
    EV_ENERGY,
    EV_PLUGGED,
    EV_SESSION_ID,
    GRID_IMPORT,
    LOCATION_TITLE,
    entry_data,
)
from .metering_common import (
    assert_stored_once,
    async_start,
    async_step,
    set_energy,
)

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant

    from flatpeak_sandbox import SandboxServer

SLOT = timedelta(minutes=30)
# The recorder compiles at second 10 of each 5-minute mark: fire just after it.
SETTLE = timedelta(seconds=30)
BEGIN = datetime(2025, 6, 10, 12, tzinfo=UTC)  # 13:00 BST
SETUP = BEGIN + 2 * SLOT
LONDON_MIDNIGHT = datetime(2025, 6, 10, 23, tzinfo=UTC)
END = datetime(2025, 6, 11, 7, tzinfo=UTC)
RESTART = datetime(2025, 6, 11, 4, tzinfo=UTC)
KWH_PER_SLOT = 3.5


def _slots(start: datetime, end: datetime) -> list[datetime]:
    count = int((end - start) / SLOT)
    return [start + i * SLOT for i in range(count)]


# (charger session id, charging slots): plain, across local midnight, across
# the restart.
SESSIONS = [
    ("tx-1001", _slots(datetime(2025, 6, 10, 14, tzinfo=UTC), BEGIN + 7 * SLOT)),
    (
        "tx-1002",
        _slots(LONDON_MIDNIGHT - 3 * SLOT, LONDON_MIDNIGHT + 3 * SLOT),
    ),
    ("tx-1003", _slots(RESTART - 2 * SLOT, RESTART + 2 * SLOT)),
]
CHARGERS = {
    "plugged": (EV_ENERGY, EV_PLUGGED),
    "charger_id": ("sensor.ev2_energy", EV_SESSION_ID),
    "gap": ("sensor.ev3_energy", None),
}

# A sandbox that stores a record again each time it is sent: a double send shows.
pytestmark = [pytest.mark.freeze_time(BEGIN), pytest.mark.sandbox(dedup="duplicate")]


@pytest.fixture
def enable_statistics() -> bool:
    """Let the recorder compile statistics."""
    return True


def _entry(sandbox: SandboxServer) -> tuple[MockConfigEntry, dict[str, str]]:
    account = sandbox.sandbox.demo_account
    assert account is not None
    devices: dict[str, str] = {}
    subentries: list[dict[str, Any]] = []
    for name, (energy, session) in CHARGERS.items():
        devices[name] = sandbox.sandbox.add_device(account.account_id, f"ha_{name}")
        data = {
            CONF_NAME: name,
            CONF_ENERGY_ENTITY: energy,
            CONF_DEVICE_ID: devices[name],
        }
        if session:
            data[CONF_SESSION_ENTITY] = session
        subentries.append(
            {
                "subentry_type": SUBENTRY_EV_CHARGER,
                "title": name,
                "unique_id": devices[name],
                "data": data,
            }
        )
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=LOCATION_TITLE,
        unique_id=sandbox.sandbox.demo_location_id,
        data=entry_data(sandbox, export_entity=None),
        subentries_data=subentries,
    )
    return entry, devices


class Garage:
    """Three chargers charging the same sessions."""

    def __init__(self, hass: HomeAssistant) -> None:
        """Start the meters at zero energy delivered."""
        self.hass = hass
        self.energy = dict.fromkeys(CHARGERS, 100.0)
        self.grid = 500.0

    def publish(self, slot: datetime) -> None:
        """Set the states for the slot starting now (at its exact start)."""
        running = next((sid for sid, slots in SESSIONS if slot in slots), None)
        self.grid += 0.2
        set_energy(self.hass, GRID_IMPORT, round(self.grid, 3))
        for name, (energy_entity, _session) in CHARGERS.items():
            if running:
                self.energy[name] += KWH_PER_SLOT
            set_energy(self.hass, energy_entity, round(self.energy[name], 3))
        self.hass.states.async_set(EV_PLUGGED, "on" if running else "off")
        self.hass.states.async_set(EV_SESSION_ID, running or "unknown")


async def test_session_ids_group_the_charged_intervals(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, sandbox: SandboxServer
) -> None:
    """Each session's records carry one id, across midnight and a restart."""
    await async_start(hass, freezer, BEGIN)
    garage = Garage(hass)
    events = async_capture_events(hass, EVENT_SESSION_COMPLETED)
    entry, devices = _entry(sandbox)
    entry.add_to_hass(hass)

    slot = BEGIN
    while slot < END:
        freezer.move_to(slot)
        if slot == SETUP:
            assert await hass.config_entries.async_setup(entry.entry_id)
            await hass.async_block_till_done()
        if slot == RESTART:
            # Mid-session: the open sessions must survive the reload.
            assert await hass.config_entries.async_reload(entry.entry_id)
            await hass.async_block_till_done()
        garage.publish(slot)
        await async_step(hass, freezer, SETTLE)
        slot += SLOT
    freezer.move_to(slot)
    await async_step(hass, freezer, SETTLE)

    assert entry.runtime_data.metering.data.pending_records == 0
    assert_stored_once(sandbox)
    expected_events: Counter[tuple[str, str]] = Counter()
    for name, device_id in devices.items():
        records = sandbox.sandbox.records(device_id=device_id)
        groups: dict[str | None, set[datetime]] = defaultdict(set)
        for record in records:
            groups[record.session_reference_id].add(record.start_time)
        for charger_id, slots in SESSIONS:
            session_id = (
                charger_id
                if name == "charger_id"
                else f"{device_id}-{int(slots[0].timestamp())}"
            )
            assert groups.pop(session_id) == set(slots), (name, charger_id)
            energy = sum(
                r.energy_wh for r in records if r.session_reference_id == session_id
            )
            assert energy == KWH_PER_SLOT * 1000 * len(slots)
            expected_events[device_id, session_id] = 1
        # Every other record is one without energy, outside any session.
        assert set(groups) == {None}
        assert {r.energy_wh for r in records if r.session_reference_id is None} == {0}

    # `flatpeak_session_completed` once per session, with its energy.
    assert (
        Counter((e.data["device_id"], e.data["session_id"]) for e in events)
        == expected_events
    )
    assert {e.data["energy_kwh"] for e in events} == {
        KWH_PER_SLOT * len(slots) for _, slots in SESSIONS
    }
