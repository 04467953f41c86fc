"""The price actions: `flatpeak.get_prices` and `flatpeak.plan_charge`."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from homeassistant.exceptions import ServiceValidationError

from custom_components.flatpeak import price_services
from custom_components.flatpeak.const import DOMAIN
from custom_components.flatpeak.entity import entry_device

from .cost_data import request_count
from .test_prices import (
    TARIFFS,
    half_hours,
    local,
    set_up,
    use_tariff,
    window_entry,
)

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers import device_registry as dr
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from flatpeak_sandbox import SandboxServer, Tariff

pytestmark = pytest.mark.usefixtures("energy_sensors")


async def call(hass: HomeAssistant, service: str, **data: Any) -> dict[str, Any]:
    """Call a response-only action."""
    response = await hass.services.async_call(
        DOMAIN, service, data, blocking=True, return_response=True
    )
    assert response is not None
    return dict(response)


@pytest.fixture
async def home(
    hass: HomeAssistant,
    sandbox: SandboxServer,
    freezer: FrozenDateTimeFactory,
    request: pytest.FixtureRequest,
) -> MockConfigEntry:
    """Set up the sandbox's location on the tariff of the test (`kind` param).

    It is Monday 15 June 2026, 10:00 BST: the Agile tariff has published today only.
    """
    tariff = TARIFFS[getattr(request, "param", "tou")]
    use_tariff(sandbox, tariff)
    freezer.move_to(local("2026-06-15", 10))
    entry = window_entry(sandbox)
    await set_up(hass, entry)
    return entry


@pytest.mark.parametrize("home", ["tou", "agile"], indirect=True)
async def test_get_prices(
    hass: HomeAssistant, home: MockConfigEntry, sandbox: SandboxServer
) -> None:
    """The periods Flatpeak published, as far as it published them."""
    tariff = sandbox.sandbox.locations[home.unique_id or ""].tariff
    assert tariff is not None
    response = await call(
        hass,
        "get_prices",
        config_entry_id=home.entry_id,
        start="2026-06-15T00:00:00+01:00",
        end="2026-06-17T00:00:00+01:00",
    )
    assert response["currency"] == "GBP"
    assert response["direction"] == "import"
    assert response["next_update"] == local("2026-06-15", 16).isoformat()
    periods = response["periods"]
    assert periods[0]["start"] == local("2026-06-15", 0).isoformat()
    for item in periods:
        start = item["start"]
        assert item["price"] == tariff.price_at(
            local("2026-06-15", 0).fromisoformat(start), "IMPORT"
        )
    published = (
        local("2026-06-16", 0) if tariff.kind == "agile" else local("2026-06-17", 0)
    )
    assert periods[-1]["end"] == published.isoformat()
    assert response["prices_until"] == published.isoformat()

    export = await call(
        hass,
        "get_prices",
        config_entry_id=home.entry_id,
        start="2026-06-15T00:00:00+01:00",
        end="2026-06-15T12:00:00+01:00",
        direction="export",
    )
    assert {item["price"] for item in export["periods"]} == {0.15}


async def test_get_prices_of_a_long_span(
    hass: HomeAssistant, home: MockConfigEntry, sandbox: SandboxServer
) -> None:
    """More than 90 days: asked 90 days at a time, one answer."""
    before = request_count(sandbox, "/prices")
    response = await call(
        hass,
        "get_prices",
        config_entry_id=home.entry_id,
        start="2026-06-15T00:00:00+01:00",
        end="2026-10-15T00:00:00+01:00",
    )
    assert request_count(sandbox, "/prices") - before == 2
    assert response["periods"][-1]["end"] == local("2026-10-15", 0).isoformat()
    starts = [item["start"] for item in response["periods"]]
    assert len(starts) == len(set(starts))


def brute_force_cost(
    tariff: Tariff, start: Any, end: Any, energy: float, power: float
) -> float:
    """Return the lowest cost of every choice of half-hours (the last partly used)."""
    prices = sorted(p.price for p in half_hours(tariff, start, end))
    slot = power / 2  # kWh a half-hour holds
    best = float("inf")
    for size in range(len(prices) + 1):
        for full in itertools.combinations(range(len(prices)), size):
            held = slot * size
            if held > energy + 1e-9:
                continue
            cost = sum(prices[i] * slot for i in full)
            rest = energy - held
            if rest > slot + 1e-9:
                continue
            if rest > 1e-9:
                others = [prices[i] for i in range(len(prices)) if i not in full]
                if not others:
                    continue
                cost += rest * min(others)
            best = min(best, cost)
    return best


@pytest.mark.parametrize("home", ["tou", "agile"], indirect=True)
@pytest.mark.parametrize(
    ("energy", "power", "start_hour", "hours"),
    [(7.0, 7.0, 11, 5), (10.0, 3.6, 12, 4), (2.5, 11.0, 10, 5)],
)
async def test_plan_charge_is_the_cheapest(
    hass: HomeAssistant,
    home: MockConfigEntry,
    sandbox: SandboxServer,
    energy: float,
    power: float,
    start_hour: int,
    hours: int,
) -> None:
    """The plan costs what a search of every choice costs, and Flatpeak agrees.

    The cost is Flatpeak's non-persistent estimate of the schedule: nothing is
    stored. Charging straight away costs at least as much.
    """
    tariff = sandbox.sandbox.locations[home.unique_id or ""].tariff
    assert tariff is not None
    start = local("2026-06-15", start_hour)
    deadline = start + timedelta(hours=hours)
    stored = len(sandbox.sandbox.records())
    response = await call(
        hass,
        "plan_charge",
        config_entry_id=home.entry_id,
        energy_kwh=energy,
        max_power_kw=power,
        earliest_start=start.isoformat(),
        deadline=deadline.isoformat(),
    )
    assert len(sandbox.sandbox.records()) == stored
    expected = brute_force_cost(tariff, start, deadline, energy, power)
    assert response["cost"] == pytest.approx(expected, abs=1e-4)
    schedule = response["schedule"]
    assert sum(step["energy_kwh"] for step in schedule) == pytest.approx(energy)
    own = sum(step["energy_kwh"] * step["price"] for step in schedule)
    assert own == pytest.approx(response["cost"], abs=1e-4)
    assert response["charge_now"]["start"] == start.isoformat()
    assert response["charge_now"]["cost"] >= response["cost"] - 1e-9
    assert response["saving"] == pytest.approx(
        response["charge_now"]["cost"] - response["cost"], abs=1e-4
    )
    assert response["confidence"] == 1.0


async def test_plan_charge_overnight_on_time_of_use(
    hass: HomeAssistant, home: MockConfigEntry, sandbox: SandboxServer
) -> None:
    """30 kWh at 7.4 kW by 07:00: 00:30 to 04:33 at 0.07 = 2.10; now would be 7.50."""
    response = await call(
        hass,
        "plan_charge",
        config_entry_id=home.entry_id,
        energy_kwh=30,
        max_power_kw=7.5,
        earliest_start="2026-06-15T20:00:00+01:00",
        deadline="2026-06-16T07:00:00+01:00",
    )
    assert response["schedule"][0]["start"] == local("2026-06-16", 0, 30).isoformat()
    assert response["schedule"][-1]["end"] == local("2026-06-16", 4, 30).isoformat()
    assert response["cost"] == pytest.approx(2.10)
    assert response["charge_now"]["cost"] == pytest.approx(7.50)
    assert response["saving"] == pytest.approx(5.40)
    # One estimate for the schedule's one run, one for charging straight away.
    instant = [r for r in sandbox.sandbox.requests if r.path == "/costs/instant"]
    assert len(instant) == 2
    assert all(r.query.get("non_persistent") == "true" for r in instant)


async def test_plan_charge_for_a_device(
    hass: HomeAssistant,
    home: MockConfigEntry,
    sandbox: SandboxServer,
    device_registry: dr.DeviceRegistry,
) -> None:
    """An HA device of the entry is priced as its Flatpeak device."""
    location = entry_device(hass, home, home.unique_id or "")
    assert location is not None
    response = await call(
        hass,
        "plan_charge",
        config_entry_id=home.entry_id,
        energy_kwh=1,
        max_power_kw=2,
        deadline="2026-06-15T14:00:00+01:00",
        device_id=location.id,
    )
    assert response["cost"] == pytest.approx(0.25)
    with pytest.raises(ServiceValidationError) as err:
        await call(
            hass,
            "plan_charge",
            config_entry_id=home.entry_id,
            energy_kwh=1,
            max_power_kw=2,
            deadline="2026-06-15T14:00:00+01:00",
            device_id="not-a-device",
        )
    assert err.value.translation_key == "device_not_found"
    del device_registry


@pytest.mark.parametrize("home", ["agile"], indirect=True)
@pytest.mark.parametrize(
    ("data", "key"),
    [
        # 20 kWh at 2 kW takes 10 h: not by 14:00.
        (
            {
                "energy_kwh": 20,
                "max_power_kw": 2,
                "deadline": "2026-06-15T14:00:00+01:00",
            },
            "deadline_too_short",
        ),
        (
            {
                "energy_kwh": 1,
                "max_power_kw": 2,
                "earliest_start": "2026-06-15T18:00:00+01:00",
                "deadline": "2026-06-15T17:00:00+01:00",
            },
            "end_before_start",
        ),
        (
            {
                "energy_kwh": 1,
                "max_power_kw": 2,
                "deadline": "2026-06-15T09:00:00+01:00",
            },
            "deadline_passed",
        ),
        (
            {
                "energy_kwh": 1,
                "max_power_kw": 2,
                "deadline": "2026-12-15T09:00:00+00:00",
            },
            "window_too_long",
        ),
        # Agile before 16:00: tonight's prices are not out; 20 h of charge is not
        # possible on today's alone.
        (
            {
                "energy_kwh": 40,
                "max_power_kw": 2.8,
                "deadline": "2026-06-16T07:00:00+01:00",
            },
            "prices_unknown",
        ),
    ],
)
async def test_plan_charge_refuses(
    hass: HomeAssistant, home: MockConfigEntry, data: dict[str, Any], key: str
) -> None:
    """Bad input gets a translated refusal, and no call to Flatpeak."""
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "plan_charge", config_entry_id=home.entry_id, **data)
    assert err.value.translation_key == key


@pytest.mark.parametrize("home", ["agile"], indirect=True)
async def test_plan_charge_on_what_is_published(
    hass: HomeAssistant, home: MockConfigEntry
) -> None:
    """Agile before 16:00: the charge fits in today's prices, so it is planned there."""
    response = await call(
        hass,
        "plan_charge",
        config_entry_id=home.entry_id,
        energy_kwh=3,
        max_power_kw=3,
        deadline="2026-06-16T07:00:00+01:00",
    )
    assert response["prices_until"] == local("2026-06-16", 0).isoformat()
    assert all(
        step["end"] <= local("2026-06-16", 0).isoformat()
        for step in response["schedule"]
    )


async def test_long_plans_run_off_the_event_loop(
    hass: HomeAssistant, home: MockConfigEntry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many periods (90 half-hourly days): planned in the executor, same answer."""
    data = {
        "config_entry_id": home.entry_id,
        "energy_kwh": 30,
        "max_power_kw": 7.5,
        "earliest_start": "2026-06-15T20:00:00+01:00",
        "deadline": "2026-06-16T07:00:00+01:00",
    }
    inline = await call(hass, "plan_charge", **data)
    monkeypatch.setattr(price_services, "_INLINE_PERIODS", 0)
    jobs: list[object] = []
    original = hass.async_add_executor_job

    def counted(target: Any, *args: Any) -> Any:
        jobs.append(target)
        return original(target, *args)

    monkeypatch.setattr(hass, "async_add_executor_job", counted)
    assert await call(hass, "plan_charge", **data) == inline
    assert len(jobs) == 1
