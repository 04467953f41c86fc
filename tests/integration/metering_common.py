"""Helpers of the metering tests: a home whose meters move while time passes."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from homeassistant.components.recorder.statistics import statistics_during_period
from homeassistant.helpers.recorder import get_instance
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.flatpeak.const import (
    CONF_DEVICE_ID,
    CONF_ENERGY_ENTITY,
    CONF_NAME,
    DOMAIN,
    SUBENTRY_APPLIANCE,
)

from .conftest import (
    GRID_EXPORT,
    GRID_IMPORT,
    LOCATION_TITLE,
    SOLAR_ENERGY,
    entry_data,
    solar_subentry,
)

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant

    from flatpeak_sandbox import SandboxServer, StoredRecord

STEP = timedelta(minutes=5)
ENERGY = {
    "device_class": "energy",
    "state_class": "total_increasing",
    "unit_of_measurement": "kWh",
}


def next_hour(hours: int = 2) -> datetime:
    """Return a whole UTC hour after the recorder's first statistics run."""
    now = dt_util.utcnow()
    return now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=hours)


async def async_start(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, start: datetime
) -> None:
    """Move to `start` and let the recorder compile sensor statistics."""
    freezer.move_to(start)
    assert await async_setup_component(hass, "sensor", {})
    await async_wait_recording_done(hass)


async def async_step(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, step: timedelta = STEP
) -> None:
    """Let time pass in one tick: the recorder compiles, the metering cycle runs.

    The recorder compiles only the 5-minute period before the time reached (and the
    hour when that period is its last), so a longer step compiles sparsely: the
    sums stay right (each compiled period starts from the state at its start), and
    a week passes in a few hundred ticks.
    """
    freezer.tick(step)
    async_fire_time_changed(hass)
    await async_wait_recording_done(hass)
    # The metering cycle runs as a background task of the entry.
    await hass.async_block_till_done(wait_background_tasks=True)


def set_energy(
    hass: HomeAssistant, entity_id: str, value: float | str, **attrs: Any
) -> None:
    """Set an energy sensor's state (kWh unless `unit_of_measurement` says)."""
    hass.states.async_set(entity_id, str(value), {**ENERGY, **attrs})


def _sum_between(
    hass: HomeAssistant, statistic_id: str, start: datetime, end: datetime
) -> float:
    rows = statistics_during_period(
        hass, start - timedelta(days=1), end, {statistic_id}, "5minute", None, {"sum"}
    ).get(statistic_id, [])
    before = [r.get("sum") or 0.0 for r in rows if r["end"] <= start.timestamp()]
    upto = [r.get("sum") or 0.0 for r in rows if r["end"] <= end.timestamp()]
    return (upto[-1] if upto else 0.0) - (before[-1] if before else 0.0)


async def async_statistics_wh(
    hass: HomeAssistant, statistic_id: str, start: datetime, end: datetime
) -> int:
    """Return what HA's statistics say was measured in [start, end), in Wh."""
    kwh = await get_instance(hass).async_add_executor_job(
        _sum_between, hass, statistic_id, start, end
    )
    return round(kwh * 1000)


def _hourly_sum_between(
    hass: HomeAssistant, statistic_id: str, start: datetime, end: datetime
) -> float:
    rows = statistics_during_period(
        hass, start - timedelta(days=1), end, {statistic_id}, "hour", None, {"sum"}
    ).get(statistic_id, [])
    before = [r.get("sum") or 0.0 for r in rows if r["end"] <= start.timestamp()]
    upto = [r.get("sum") or 0.0 for r in rows if r["end"] <= end.timestamp()]
    return (upto[-1] if upto else 0.0) - (before[-1] if before else 0.0)


async def async_hourly_statistics_wh(
    hass: HomeAssistant, statistic_id: str, start: datetime, end: datetime
) -> int:
    """Return what HA's hourly statistics say was measured in [start, end), in Wh."""
    kwh = await get_instance(hass).async_add_executor_job(
        _hourly_sum_between, hass, statistic_id, start, end
    )
    return round(kwh * 1000)


def assert_stored_once(sandbox: SandboxServer) -> None:
    """Assert that the sandbox holds one record per (stream, interval)."""
    records = sandbox.sandbox.records()
    assert records, "nothing arrived"
    refs = Counter(r.record_reference_id for r in records)
    slots = Counter(
        (r.device_id, r.tariff_direction, r.start_time, r.end_time) for r in records
    )
    assert max(refs.values()) == 1, [ref for ref, n in refs.items() if n > 1]
    assert max(slots.values()) == 1, [slot for slot, n in slots.items() if n > 1]


def sent(
    sandbox: SandboxServer, *, device_id: str | None = None, direction: str = "IMPORT"
) -> list[StoredRecord]:
    """Return the records the sandbox stored for an owner and tariff direction."""
    return [
        record
        for record in sandbox.sandbox.records()
        if record.device_id == device_id and record.tariff_direction == direction
    ]


def meter_puts(sandbox: SandboxServer) -> int:
    """Return how many meter submissions reached the sandbox."""
    return sum(
        1
        for request in sandbox.sandbox.requests
        if request.method == "PUT" and request.path == "/meters/interval"
    )


class Home:
    """Grid meters and a solar panel that move each step."""

    def __init__(self, hass: HomeAssistant) -> None:
        """Start the meters."""
        self.hass = hass
        self.values = {GRID_IMPORT: 100.0, GRID_EXPORT: 5.0, SOLAR_ENERGY: 20.0}
        self.extra: dict[str, float] = {}
        self.publish()

    def publish(self) -> None:
        """Set the sensors' states."""
        for entity_id, value in {**self.values, **self.extra}.items():
            state_class = "total" if entity_id == GRID_EXPORT else "total_increasing"
            set_energy(self.hass, entity_id, round(value, 3), state_class=state_class)

    async def async_steps(self, freezer: FrozenDateTimeFactory, count: int) -> None:
        """Let `count` x 5 minutes pass with energy flowing."""
        for _ in range(count):
            for entity_id in self.values:
                self.values[entity_id] += 0.05
            for entity_id in self.extra:
                self.extra[entity_id] += 0.01
            self.publish()
            await async_step(self.hass, freezer)


def appliance(name: str, energy_entity: str, device_id: str) -> dict[str, Any]:
    """Return an appliance subentry's description for `setup_metering`."""
    return {
        "subentry_type": SUBENTRY_APPLIANCE,
        "title": name,
        "unique_id": device_id,
        "data": {
            CONF_NAME: name,
            CONF_ENERGY_ENTITY: energy_entity,
            CONF_DEVICE_ID: device_id,
        },
    }


async def setup_metering(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    sandbox: SandboxServer,
    subentries: list[dict[str, Any]] | None = None,
) -> tuple[MockConfigEntry, Home]:
    """Set up an entry metering the Home's grid and solar (and `subentries`)."""
    start = next_hour()
    await async_start(hass, freezer, start - timedelta(minutes=10))
    home = Home(hass)
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=LOCATION_TITLE,
        unique_id=sandbox.sandbox.demo_location_id,
        data=entry_data(sandbox),
        subentries_data=[solar_subentry(sandbox), *(subentries or [])],
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    return entry, home
