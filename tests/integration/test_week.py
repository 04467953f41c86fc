"""A simulated week: every stream, every meter quirk, every Flatpeak fault, one restart.

The recorder compiles the statistics from the sensors' states (sparsely: one
5-minute period and the hour at each hourly tick), across the Europe/London clock
change of 2025-03-30. At the end the sandbox, which stores every record it is sent
(`dedup="duplicate"`), holds one record per stream and hour, and per stream the
energy Home Assistant's statistics show for the week.
"""

from __future__ import annotations

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
    CONF_INTERVAL_MINUTES,
    CONF_NAME,
    CONF_SESSION_ENTITY,
    DOMAIN,
    EVENT_SESSION_COMPLETED,
    SUBENTRY_APPLIANCE,
    SUBENTRY_EV_CHARGER,
)

from .conftest import (
    EV_ENERGY,
    EV_PLUGGED,
    GRID_EXPORT,
    GRID_IMPORT,
    HEAT_PUMP_ENERGY,
    LOCATION_TITLE,
    SOLAR_ENERGY,
    entry_data,
    solar_subentry,
)
from .metering_common import (
    assert_stored_once,
    async_hourly_statistics_wh,
    async_start,
    async_statistics_wh,
    async_step,
    set_energy,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant

    from flatpeak_sandbox import SandboxServer
    from flatpeak_sandbox.faults import Faults

PUT_PATH = "/meters/interval"
HOUR = timedelta(hours=1)
HALF = timedelta(minutes=30)
# Monday 00:00 GMT to Monday 01:00 BST: the clocks go forward on Sunday 01:00 UTC.
WEEK_START = datetime(2025, 3, 24, tzinfo=UTC)
WEEK_END = WEEK_START + timedelta(days=7)
# 30 seconds past the hour: the recorder's 5-minute timer fires at second 10.
BEGIN = WEEK_START - timedelta(hours=2) + timedelta(seconds=30)

# A sandbox that stores a record again each time it is sent: a double send shows.
pytestmark = [pytest.mark.freeze_time(BEGIN), pytest.mark.sandbox(dedup="duplicate")]


def at(day: int, hour: int) -> datetime:
    """Return an hour of the week (day 0 = Monday), UTC."""
    return WEEK_START + timedelta(days=day, hours=hour)


SETUP = at(0, 6)
UNAVAILABLE = at(1, 9)
FAIL = at(1, 14)
RESET = at(2, 12)
EV_RESTART = (at(2, 19), at(2, 23))
RESTART = at(2, 21)
RESTART_DOWN = timedelta(hours=3)
UNIT_CHANGE = at(3, 10)
RATE_LIMIT = at(3, 15)
EXPIRE = at(4, 11)
EV_SESSIONS = [(at(0, 18), at(0, 21)), EV_RESTART, (at(5, 22), at(6, 3))]


@pytest.fixture(autouse=True)
def enable_event_loop_debug() -> None:
    """Keep asyncio's debug mode off for this long simulation.

    Debug mode records a traceback for every callback (a third of the run time
    here); the shorter tests of the same code paths keep it on.
    """


@pytest.fixture
def enable_statistics() -> bool:
    """Let the recorder compile statistics."""
    return True


class Home:
    """The home's meters: grid, solar, an EV charger and a heat pump."""

    def __init__(self, hass: HomeAssistant) -> None:
        """Start the meters (the heat pump counts in Wh until it is updated)."""
        self.hass = hass
        self.values = {
            GRID_IMPORT: 1000.0,
            GRID_EXPORT: 50.0,
            SOLAR_ENERGY: 200.0,
            EV_ENERGY: 300.0,
            HEAT_PUMP_ENERGY: 4_000_000.0,
        }
        self.heat_pump_unit = "Wh"
        self.unavailable: set[str] = set()

    def flow(self, when: datetime) -> None:
        """Add the energy of the half hour starting at `when`."""
        hour = when.hour
        self.values[GRID_IMPORT] += 0.2 + 0.1 * (hour % 5)
        if 8 <= hour < 17:
            self.values[GRID_EXPORT] += 0.15
            self.values[SOLAR_ENERGY] += 0.4 + 0.05 * (hour % 3)
        self.values[HEAT_PUMP_ENERGY] += 300 if self.heat_pump_unit == "Wh" else 0.3
        if self.charging(when):
            self.values[EV_ENERGY] += 3.5

    @staticmethod
    def charging(when: datetime) -> bool:
        """Return whether the car charges at `when`."""
        return any(start <= when < end for start, end in EV_SESSIONS)

    def publish(self, when: datetime) -> None:
        """Set every sensor's state."""
        for entity_id, value in self.values.items():
            attrs: dict[str, Any] = {}
            if entity_id == GRID_EXPORT:
                attrs["state_class"] = "total"
            if entity_id == HEAT_PUMP_ENERGY:
                attrs["unit_of_measurement"] = self.heat_pump_unit
            state = "unavailable" if entity_id in self.unavailable else round(value, 3)
            set_energy(self.hass, entity_id, state, **attrs)
        self.hass.states.async_set(EV_PLUGGED, "on" if self.charging(when) else "off")

    async def async_hour(self, freezer: FrozenDateTimeFactory) -> None:
        """Let an hour pass: two states per sensor, then the recorder compiles."""
        now = freezer.time_to_freeze.replace(tzinfo=UTC)
        self.flow(now)
        self.publish(now)
        freezer.tick(HALF)
        self.flow(now + HALF)
        self.publish(now + HALF)
        await async_step(self.hass, freezer, HALF)


def _entry(sandbox: SandboxServer) -> MockConfigEntry:
    account = sandbox.sandbox.demo_account
    assert account is not None
    ev_device = sandbox.sandbox.add_device(account.account_id, "ha_week_ev")
    heat_pump = sandbox.sandbox.add_device(account.account_id, "ha_week_heat_pump")
    return MockConfigEntry(
        domain=DOMAIN,
        title=LOCATION_TITLE,
        unique_id=sandbox.sandbox.demo_location_id,
        data=entry_data(sandbox),
        options={CONF_INTERVAL_MINUTES: 60},
        subentries_data=[
            solar_subentry(sandbox),
            {
                "subentry_type": SUBENTRY_EV_CHARGER,
                "title": "Car",
                "unique_id": ev_device,
                "data": {
                    CONF_NAME: "Car",
                    CONF_ENERGY_ENTITY: EV_ENERGY,
                    CONF_SESSION_ENTITY: EV_PLUGGED,
                    CONF_DEVICE_ID: ev_device,
                },
            },
            {
                "subentry_type": SUBENTRY_APPLIANCE,
                "title": "Heat pump",
                "unique_id": heat_pump,
                "data": {
                    CONF_NAME: "Heat pump",
                    CONF_ENERGY_ENTITY: HEAT_PUMP_ENERGY,
                    CONF_DEVICE_ID: heat_pump,
                },
            },
        ],
    )


def _now(freezer: FrozenDateTimeFactory) -> datetime:
    return freezer.time_to_freeze.replace(tzinfo=UTC) - timedelta(seconds=30)


def _happenings(home: Home, faults: Faults) -> dict[datetime, Callable[[], None]]:
    """Return what happens at the start of which hour."""

    def reset_import() -> None:
        home.values[GRID_IMPORT] = 0.5

    def heat_pump_in_kwh() -> None:
        home.heat_pump_unit = "kWh"
        home.values[HEAT_PUMP_ENERGY] /= 1000

    return {
        UNAVAILABLE: lambda: home.unavailable.add(GRID_IMPORT),
        UNAVAILABLE + HOUR: home.unavailable.clear,
        FAIL: lambda: faults.fail_next(2, path=PUT_PATH),
        RESET: reset_import,
        RESTART: lambda: faults.drop_next(path=PUT_PATH, mode="mid_response"),
        UNIT_CHANGE: heat_pump_in_kwh,
        RATE_LIMIT: lambda: faults.rate_limit_next(path=PUT_PATH, retry_after=600),
        EXPIRE: faults.expire_tokens,
    }


async def _async_setup(
    hass: HomeAssistant, entry: MockConfigEntry, sandbox: SandboxServer
) -> None:
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    # A new stream starts at the start of the location's day.
    assert sorted(
        r.start_time
        for r in sandbox.sandbox.records()
        if r.device_id is None and r.tariff_direction == "IMPORT"
    ) == [WEEK_START + i * HOUR for i in range(6)]


async def _async_restart(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entry: MockConfigEntry,
    home: Home,
) -> None:
    """Stop the entry with records in flight, let hours pass, start it again."""
    assert entry.runtime_data.metering.outbox.has_in_flight
    assert await hass.config_entries.async_unload(entry.entry_id)
    for _ in range(int(RESTART_DOWN / HOUR)):
        await home.async_hour(freezer)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


async def _async_assert_week(
    hass: HomeAssistant, sandbox: SandboxServer, entry: MockConfigEntry
) -> None:
    """One record per stream and hour; per stream, the energy of the statistics."""
    assert_stored_once(sandbox)
    subentries = {s.subentry_type: s for s in entry.subentries.values()}
    streams = [
        (GRID_IMPORT, None, "IMPORT"),
        (GRID_EXPORT, None, "EXPORT"),
        (SOLAR_ENERGY, subentries["solar"].data[CONF_DEVICE_ID], "LOCAL"),
        (EV_ENERGY, subentries["ev_charger"].data[CONF_DEVICE_ID], "IMPORT"),
        (HEAT_PUMP_ENERGY, subentries["appliance"].data[CONF_DEVICE_ID], "IMPORT"),
    ]
    hours = {WEEK_START + i * HOUR for i in range(7 * 24)}
    for entity_id, device_id, direction in streams:
        records = [
            r
            for r in sandbox.sandbox.records()
            if r.device_id == device_id
            and r.tariff_direction == direction
            and r.end_time <= WEEK_END
        ]
        assert {r.end_time - r.start_time for r in records} == {HOUR}
        # Every hour has its record, but the hour the meter was unavailable.
        missing = {UNAVAILABLE} if entity_id == GRID_IMPORT else set()
        assert {r.start_time for r in records} == hours - missing, entity_id
        expected = await async_statistics_wh(hass, entity_id, WEEK_START, WEEK_END)
        assert expected > 0
        assert expected == await async_hourly_statistics_wh(
            hass, entity_id, WEEK_START, WEEK_END
        )
        assert sum(r.energy_wh for r in records) == expected, entity_id


async def test_a_week_of_metering(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, sandbox: SandboxServer
) -> None:
    """A week with every quirk: one record per stream and hour, energy as HA says."""
    await hass.config.async_set_time_zone("Europe/London")
    await async_start(hass, freezer, BEGIN)
    home = Home(hass)
    home.publish(BEGIN)
    events = async_capture_events(hass, EVENT_SESSION_COMPLETED)
    entry = _entry(sandbox)
    entry.add_to_hass(hass)
    faults = sandbox.sandbox.faults
    happenings = _happenings(home, faults)
    restarted = False

    while (now := _now(freezer)) < WEEK_END + 2 * HOUR:
        if now == SETUP:
            await _async_setup(hass, entry, sandbox)
        if happen := happenings.get(now):
            happen()
        await home.async_hour(freezer)
        # Restart once the answer to a submission was lost.
        if now >= RESTART and not restarted and not faults.queue:
            restarted = True
            await _async_restart(hass, freezer, entry, home)

    metering = entry.runtime_data.metering
    assert metering.last_update_success
    assert metering.data.pending_records == 0
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    put_faults = {r.fault for r in sandbox.sandbox.requests if r.path == PUT_PATH}
    assert put_faults >= {"fail", "drop", "rate_limit"}
    assert any(r.status == 401 for r in sandbox.sandbox.requests)
    await _async_assert_week(hass, sandbox, entry)
    # Each charging session was reported once.
    assert len(events) == len(EV_SESSIONS)
    assert len({event.data["session_id"] for event in events}) == len(EV_SESSIONS)


@pytest.mark.freeze_time("2025-06-10T21:00:30+00:00")
async def test_a_new_stream_starts_at_the_start_of_the_local_day(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, sandbox: SandboxServer
) -> None:
    """Set up at 04:00 in London: today's energy since midnight goes at once.

    Home Assistant's own timezone (US/Pacific here) is not the location's: the
    day is the location's (midnight BST = 23:00 UTC).
    """
    begin = datetime(2025, 6, 10, 21, 0, 30, tzinfo=UTC)
    midnight = datetime(2025, 6, 10, 23, tzinfo=UTC)
    await async_start(hass, freezer, begin)
    grid = 100.0
    for _ in range(6):
        grid += 0.75
        set_energy(hass, GRID_IMPORT, round(grid, 3))
        await async_step(hass, freezer, HOUR)
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=LOCATION_TITLE,
        unique_id=sandbox.sandbox.demo_location_id,
        data=entry_data(sandbox, export_entity=None),
        options={CONF_INTERVAL_MINUTES: 60},
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    records = sandbox.sandbox.records()
    setup_hour = midnight + 4 * HOUR
    assert [r.start_time for r in records] == [midnight + i * HOUR for i in range(4)]
    assert sum(r.energy_wh for r in records) == await async_statistics_wh(
        hass, GRID_IMPORT, midnight, setup_hour
    )
    assert sum(r.energy_wh for r in records) == 4 * 750
