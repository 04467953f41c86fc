"""Prices ahead: price refreshes, cheapest-window binary sensors, over whole days.

The sandbox publishes like Flatpeak: a time-of-use tariff in full; an Agile-style
one for today only until 16:00 local, then for tomorrow too (`next_update` is the
next 16:00). Expected windows are chosen from the sandbox tariff's own prices.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Final

import pytest
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE, Platform
from homeassistant.core import Event, EventStateChangedData, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.flatpeak.const import DOMAIN, SUBENTRY_CHEAPEST_WINDOW
from custom_components.flatpeak.planner import Price, choose_window, merge
from flatpeak_sandbox import SandboxServer, Tariff, TouPeriod

from .conftest import entry_data
from .cost_data import LONDON, request_count

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant

pytestmark = pytest.mark.usefixtures("energy_sensors")

HALF: Final = timedelta(minutes=30)
DISHWASHER: Final = "01JXWINDOWS000000DISHWASHER"
HOT_WATER: Final = "01JXWINDOWS0000000HOTWATER"
LAUNDRY: Final = "01JXWINDOWS00000000LAUNDRY"
EVENING: Final = "01JXWINDOWS00000000EVENING"
TARIFFS: Final = {"tou": Tariff.demo_uk(), "agile": Tariff.agile_uk(seed=0)}


def local(day: str, hour: int, minute: int = 0) -> datetime:
    """Return a London wall-clock time in UTC."""
    wall = datetime.combine(datetime.fromisoformat(day).date(), time(hour, minute))
    return dt_util.as_utc(wall.replace(tzinfo=LONDON))


def use_tariff(sandbox: SandboxServer, tariff: Tariff) -> None:
    """Put the sandbox's location on another tariff (from now on)."""
    location_id = sandbox.sandbox.demo_location_id
    assert location_id is not None
    sandbox.sandbox.set_tariff(location_id, tariff)


def window(
    subentry_id: str,
    title: str,
    hours: float,
    span: tuple[str, str],
    *,
    continuous: bool = True,
) -> dict[str, Any]:
    """Return a cheapest-window subentry."""
    return {
        "subentry_id": subentry_id,
        "subentry_type": SUBENTRY_CHEAPEST_WINDOW,
        "title": title,
        "unique_id": None,
        "data": {
            "name": title,
            "hours": hours,
            "earliest_start": span[0],
            "latest_end": span[1],
            "continuous": continuous,
            "minimum_price": None,
            "maximum_price": None,
        },
    }


def window_entry(sandbox: SandboxServer, *windows: dict[str, Any]) -> MockConfigEntry:
    """Return an entry of the sandbox's location holding the windows."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Home",
        unique_id=sandbox.sandbox.demo_location_id,
        data=entry_data(sandbox),
        subentries_data=list(windows),
    )


async def set_up(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Set the entry up."""
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)


async def run_until(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    until: datetime,
    step: timedelta = timedelta(minutes=15),
) -> None:
    """Let time pass a step at a time, every timer due running.

    A state change shows at the step it happened in: steps must meet the edges.
    """
    while (now := dt_util.utcnow()) < until:
        freezer.move_to(min(now + step, until))
        async_fire_time_changed(hass)
        await hass.async_block_till_done(wait_background_tasks=True)


def sensor_id(hass: HomeAssistant, subentry_id: str) -> str:
    """Return the entity id of a window's binary sensor."""
    found = er.async_get(hass).async_get_entity_id(
        Platform.BINARY_SENSOR, DOMAIN, f"{subentry_id}_cheapest_window"
    )
    assert found is not None
    return found


class OnRuns:
    """The spans a binary sensor was on, from its state changes."""

    def __init__(self, hass: HomeAssistant, entity_id: str) -> None:
        """Follow the entity's state from now on."""
        self.runs: list[tuple[datetime, datetime | None]] = []
        self.states: list[str] = []
        state = hass.states.get(entity_id)
        if state is not None and state.state == STATE_ON:
            self.runs.append((state.last_changed, None))

        @callback
        def _changed(event: Event[EventStateChangedData]) -> None:
            new = event.data["new_state"]
            if new is None:
                return
            self.states.append(new.state)
            if new.state == STATE_ON:
                self.runs.append((new.last_changed, None))
            elif self.runs and self.runs[-1][1] is None:
                self.runs[-1] = (self.runs[-1][0], new.last_changed)

        async_track_state_change_event(hass, entity_id, _changed)


def half_hours(tariff: Tariff, start: datetime, end: datetime) -> list[Price]:
    """Return the tariff's import price per half-hour of `[start, end)`."""
    count = int((end - start) / HALF)
    return [
        Price(
            start + k * HALF,
            start + (k + 1) * HALF,
            tariff.price_at(start + k * HALF, "IMPORT"),
        )
        for k in range(count)
    ]


def expected_runs(
    tariff: Tariff,
    windows: list[tuple[datetime, datetime]],
    hours: float,
    *,
    continuous: bool,
) -> list[tuple[datetime, datetime]]:
    """Return the on-spans of the windows, chosen from the tariff's own prices."""
    runs: list[tuple[datetime, datetime]] = []
    for start, end in windows:
        prices = half_hours(tariff, start, end)
        choice = choose_window(prices, start, end, hours, continuous=continuous)
        joined = merge(Price(s.start, s.end, 0) for s in choice.slots)
        runs.extend((slot.start, slot.end) for slot in joined)
    return runs


@pytest.mark.parametrize("kind", ["tou", "agile"])
async def test_windows_follow_the_prices_over_two_days(
    hass: HomeAssistant,
    sandbox: SandboxServer,
    freezer: FrozenDateTimeFactory,
    kind: str,
) -> None:
    """On exactly during the chosen periods, two days of each tariff kind.

    The dishwasher (2 h in one block, 22:00-07:00) and the hot water (3 h wherever,
    in the whole day) from Monday 15 June 2026 09:00 BST to Wednesday 09:00. The
    hot water's Monday is planned from 09:00 (setup); every other window whole.
    With the Agile tariff, the night's prices come at 16:00: until then the
    dishwasher is off with no plan, not unavailable.
    """
    tariff = TARIFFS[kind]
    use_tariff(sandbox, tariff)
    freezer.move_to(local("2026-06-15", 9))
    entry = window_entry(
        sandbox,
        window(DISHWASHER, "Dishwasher", 2, ("22:00:00", "07:00:00")),
        window(HOT_WATER, "Hot water", 3, ("00:00:00", "00:00:00"), continuous=False),
    )
    await set_up(hass, entry)
    dishwasher, hot_water = sensor_id(hass, DISHWASHER), sensor_id(hass, HOT_WATER)
    dish_runs, water_runs = OnRuns(hass, dishwasher), OnRuns(hass, hot_water)

    state = hass.states.get(dishwasher)
    assert state is not None
    assert state.state == STATE_OFF
    assert state.attributes["window_start"] == "2026-06-15T21:00:00+00:00"
    assert state.attributes["planned"] is (kind == "tou")

    await run_until(hass, freezer, local("2026-06-15", 16, 15))
    state = hass.states.get(dishwasher)
    assert state is not None
    assert state.attributes["planned"] is True
    assert state.attributes["next_start"] is not None

    await run_until(hass, freezer, local("2026-06-17", 9))
    nights = [
        (local("2026-06-15", 22), local("2026-06-16", 7)),
        (local("2026-06-16", 22), local("2026-06-17", 7)),
    ]
    assert dish_runs.runs == expected_runs(tariff, nights, 2, continuous=True)
    days = [
        (local("2026-06-15", 9), local("2026-06-16", 0)),
        (local("2026-06-16", 0), local("2026-06-17", 0)),
        (local("2026-06-17", 0), local("2026-06-18", 0)),
    ]
    expected = [
        run
        for run in expected_runs(tariff, days, 3, continuous=False)
        if run[0] < local("2026-06-17", 9)
    ]
    assert water_runs.runs == expected
    assert STATE_UNAVAILABLE not in dish_runs.states + water_runs.states
    if kind == "tou":
        # Hand-worked: 00:30-02:30 each night; 09:00-12:00 Monday, 00:30-03:30 after.
        assert dish_runs.runs[0] == (
            local("2026-06-16", 0, 30),
            local("2026-06-16", 2, 30),
        )
        assert water_runs.runs[0] == (local("2026-06-15", 9), local("2026-06-15", 12))
        assert water_runs.runs[1] == (
            local("2026-06-16", 0, 30),
            local("2026-06-16", 3, 30),
        )
    # Prices were fetched at setup and at each 16:00 only.
    assert request_count(sandbox, "/prices") == 2 * 3


def laundry_tariff() -> Tariff:
    """Return the demo tariff with 16:30-17:30 and 18:00-19:00 nearly free."""
    return Tariff(
        import_default=0.25,
        import_periods=(
            TouPeriod(time(0, 30), time(4, 30), 0.07),
            TouPeriod(time(16), time(16, 30), 0.35),
            TouPeriod(time(16, 30), time(17, 30), 0.01),
            TouPeriod(time(17, 30), time(18), 0.35),
            TouPeriod(time(18), time(19), 0.01),
        ),
    )


async def test_a_started_window_stands_a_later_one_moves(
    hass: HomeAssistant, sandbox: SandboxServer, freezer: FrozenDateTimeFactory
) -> None:
    """New prices at 16:00: the running laundry stays; the evening window moves.

    Demo tariff: the laundry (1 h, 15:30-17:30) runs 15:30-16:30 (0.25 then 0.35
    beats 0.35); the evening (1 h, 18:00-20:00) is planned 19:00-20:00. At 15:45
    Flatpeak's tariff changes to make 16:30-17:30 and 18:00-19:00 cost 0.01; the
    prices come at 16:00. The laundry goes on to 16:30 and stays off after; the
    evening moves to 18:00-19:00.
    """
    freezer.move_to(local("2026-06-15", 15))
    entry = window_entry(
        sandbox,
        window(LAUNDRY, "Laundry", 1, ("15:30:00", "17:30:00")),
        window(EVENING, "Evening", 1, ("18:00:00", "20:00:00")),
    )
    await set_up(hass, entry)
    laundry, evening = sensor_id(hass, LAUNDRY), sensor_id(hass, EVENING)
    laundry_runs, evening_runs = OnRuns(hass, laundry), OnRuns(hass, evening)
    state = hass.states.get(evening)
    assert state is not None
    assert state.attributes["next_start"] == local("2026-06-15", 19).isoformat()

    await run_until(hass, freezer, local("2026-06-15", 15, 45))
    assert hass.states.get(laundry).state == STATE_ON  # type: ignore[union-attr]
    use_tariff(sandbox, laundry_tariff())
    await run_until(hass, freezer, local("2026-06-15", 16, 15))
    assert request_count(sandbox, "/prices") == 4
    state = hass.states.get(laundry)
    assert state is not None
    assert state.state == STATE_ON
    assert state.attributes["next_end"] == local("2026-06-15", 16, 30).isoformat()
    state = hass.states.get(evening)
    assert state is not None
    assert state.attributes["next_start"] == local("2026-06-15", 18).isoformat()
    assert state.attributes["average_price"] == 0.01

    await run_until(hass, freezer, local("2026-06-15", 21))
    assert laundry_runs.runs == [
        (local("2026-06-15", 15, 30), local("2026-06-15", 16, 30))
    ]
    assert evening_runs.runs == [(local("2026-06-15", 18), local("2026-06-15", 19))]


async def test_a_started_window_survives_a_restart(
    hass: HomeAssistant, sandbox: SandboxServer, freezer: FrozenDateTimeFactory
) -> None:
    """Reloaded mid-run with other prices published: the plan goes on as made."""
    freezer.move_to(local("2026-06-15", 15, 40))
    entry = window_entry(
        sandbox, window(LAUNDRY, "Laundry", 1, ("15:30:00", "17:30:00"))
    )
    await set_up(hass, entry)
    laundry = sensor_id(hass, LAUNDRY)
    state = hass.states.get(laundry)
    assert state is not None
    # Planned from 15:40 (setup): 15:40-16:40 beats any later hour.
    assert state.state == STATE_ON
    assert state.attributes["next_end"] == local("2026-06-15", 16, 40).isoformat()

    use_tariff(sandbox, laundry_tariff())
    freezer.move_to(local("2026-06-15", 16, 5))
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    state = hass.states.get(laundry)
    assert state is not None
    assert state.state == STATE_ON
    assert state.attributes["next_end"] == local("2026-06-15", 16, 40).isoformat()
    runs = OnRuns(hass, laundry)
    await run_until(hass, freezer, local("2026-06-15", 18), timedelta(minutes=5))
    assert runs.runs == [(local("2026-06-15", 16, 5), local("2026-06-15", 16, 40))]


@pytest.mark.parametrize("kind", ["tou", "agile"])
async def test_price_sensor_shows_the_day(
    hass: HomeAssistant,
    sandbox: SandboxServer,
    freezer: FrozenDateTimeFactory,
    kind: str,
) -> None:
    """Today's figures and periods; tomorrow's once published; the next change."""
    tariff = TARIFFS[kind]
    use_tariff(sandbox, tariff)
    freezer.move_to(local("2026-06-15", 9, 5))
    await set_up(hass, window_entry(sandbox))
    entity_id = er.async_get(hass).async_get_entity_id(
        Platform.SENSOR, DOMAIN, f"{sandbox.sandbox.demo_location_id}_import_price"
    )
    assert entity_id is not None
    state = hass.states.get(entity_id)
    assert state is not None
    today = half_hours(tariff, local("2026-06-15", 0), local("2026-06-16", 0))
    assert float(state.state) == tariff.price_at(local("2026-06-15", 9, 5), "IMPORT")
    assert state.attributes["today_min"] == min(p.price for p in today)
    assert state.attributes["today_max"] == max(p.price for p in today)
    assert state.attributes["today_average"] == pytest.approx(
        sum(p.price for p in today) / 48, abs=1e-6
    )
    assert [item["price"] for item in state.attributes["today"]] == [
        p.price for p in merge(today)
    ]
    if kind == "agile":
        assert state.attributes["tomorrow"] == []
        assert state.attributes["tomorrow_min"] is None
        assert state.attributes["next_change"] == local("2026-06-15", 9, 30).isoformat()
        await run_until(hass, freezer, local("2026-06-15", 16))
        state = hass.states.get(entity_id)
        assert state is not None
    tomorrow = half_hours(tariff, local("2026-06-16", 0), local("2026-06-17", 0))
    assert state.attributes["tomorrow_min"] == min(p.price for p in tomorrow)
    assert len(state.attributes["tomorrow"]) == len(merge(tomorrow))
