"""Set Flatpeak up in a real Home Assistant through its HTTP and websocket APIs.

One Home Assistant and one sandbox serve the whole module (see conftest.py):
the flows run once (``flatpeak_setup``), the tests check what they produced.
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from dev.harness import wait_for

from .conftest import EV_NAME, E2EHome, FlatpeakSetup, flow_step

pytestmark = pytest.mark.e2e

LONDON = ZoneInfo("Europe/London")
RECORD_START = re.compile(r"^(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", re.MULTILINE)


def entity_states(home: E2EHome, setup: FlatpeakSetup) -> dict[str, dict[str, Any]]:
    """Return ``{translation_key: state}`` of the entry's entities, per device."""
    entities = home.ws(type="config/entity_registry/list")
    states = {s["entity_id"]: s for s in home.get("/api/states")}
    found: dict[str, dict[str, Any]] = {}
    for entity in entities:
        if entity["config_entry_id"] != setup.entry_id:
            continue
        owner = "ev" if entity.get("config_subentry_id") else "location"
        found[f"{owner}:{entity['translation_key']}"] = {
            **states.get(entity["entity_id"], {}),
            "entity_category": entity["entity_category"],
            "disabled_by": entity["disabled_by"],
        }
    return found


def test_entry_is_loaded(e2e_home: E2EHome, flatpeak_setup: FlatpeakSetup) -> None:
    """The flows made one loaded entry with one EV charger subentry."""
    entries = e2e_home.get("/api/config/config_entries/entry?domain=flatpeak")
    assert [(e["entry_id"], e["state"]) for e in entries] == [
        (flatpeak_setup.entry_id, "loaded")
    ]
    assert flatpeak_setup.title == "1 Test Street, London"
    subentries = e2e_home.ws(
        type="config_entries/subentries/list", entry_id=flatpeak_setup.entry_id
    )
    assert [(s["subentry_type"], s["title"]) for s in subentries] == [
        ("ev_charger", EV_NAME)
    ]
    # The subentry flow made the Flatpeak device through the real HTTP API.
    assert flatpeak_setup.device_id.startswith("dev_")
    sandbox_devices = [d["id"] for d in e2e_home.sandbox_state()["devices"]]
    assert sandbox_devices == [flatpeak_setup.device_id]


def test_second_entry_for_location_aborts(
    e2e_home: E2EHome, flatpeak_setup: FlatpeakSetup
) -> None:
    """Adding the same location again aborts with already_configured."""
    sandbox = e2e_home.sandbox
    path = "/api/config/config_entries/flow"
    flow = e2e_home.post(path, {"handler": "flatpeak", "show_advanced_options": True})
    flow_id = flow["flow_id"]
    e2e_home.post(
        f"{path}/{flow_id}",
        {
            "account_id": sandbox.account_id,
            "api_key": sandbox.api_key,
            "api_url": sandbox.url,
        },
    )
    result = e2e_home.post(f"{path}/{flow_id}", {"location_id": sandbox.location_id})
    assert (result["type"], result.get("reason")) == ("abort", "already_configured")


def test_devices(e2e_home: E2EHome, flatpeak_setup: FlatpeakSetup) -> None:
    """A location device, and the EV charger's device under it."""
    devices = [
        d
        for d in e2e_home.ws(type="config/device_registry/list")
        if flatpeak_setup.entry_id in d["config_entries"]
    ]
    by_name = {d["name"]: d for d in devices}
    location = by_name[f"Flatpeak {flatpeak_setup.title}"]
    charger = by_name[EV_NAME]
    assert len(devices) == 2
    assert charger["via_device_id"] == location["id"]
    assert charger["config_entries_subentries"] == {
        flatpeak_setup.entry_id: [flatpeak_setup.subentry_id]
    }
    assert location["config_entries_subentries"] == {flatpeak_setup.entry_id: [None]}


def _monetary(state: dict[str, Any], currency: str) -> None:
    attributes = state["attributes"]
    assert attributes["device_class"] == "monetary", state
    assert attributes["state_class"] == "total", state
    assert attributes["unit_of_measurement"] == currency, state


def test_sensors(e2e_home: E2EHome, flatpeak_setup: FlatpeakSetup) -> None:
    """The SPEC's entities exist with their classes and units (GBP location)."""
    found = entity_states(e2e_home, flatpeak_setup)
    for key in (
        "location:import_cost_today",
        "location:import_cost_month",
        "location:export_value_today",
        "location:export_value_month",
        "ev:session_cost",
        "ev:cost_today",
    ):
        assert key in found, f"{key} missing: {sorted(found)}"
        _monetary(found[key], "GBP")
    assert "ev:current_session_cost" in found, sorted(found)
    for key in ("location:import_price", "location:export_price"):
        attributes = found[key]["attributes"]
        assert attributes["unit_of_measurement"] == "GBP/kWh", found[key]
        assert attributes["state_class"] == "measurement", found[key]
    for key in ("location:last_submission", "location:pending_records"):
        assert found[key]["entity_category"] == "diagnostic", found[key]
    # A new value at every submission: off by default (no logbook line each time).
    assert found["location:last_submission"]["disabled_by"] == "integration"
    assert found["location:pending_records"]["disabled_by"] is None


def test_estimate_cost(e2e_home: E2EHome, flatpeak_setup: FlatpeakSetup) -> None:
    """flatpeak.estimate_cost prices 2 kWh at night: 2 kWh x 0.07 GBP = 0.14 GBP.

    The demo tariff's cheap window is 00:30-04:30 London time; 03:00-04:00 lies
    inside it, and exists on every day (01:00-02:00 does not when the clocks go
    forward, and comes twice when they go back). Flatpeak is asked with
    non_persistent=true: nothing is stored.
    """
    tomorrow = datetime.now(LONDON).date() + timedelta(days=1)
    night = datetime.combine(tomorrow, datetime.min.time(), LONDON).replace(hour=3)
    stored_before = len(e2e_home.sandbox_records())
    result = e2e_home.ws(
        type="call_service",
        domain="flatpeak",
        service="estimate_cost",
        service_data={
            "config_entry_id": flatpeak_setup.entry_id,
            "energy_kwh": 2,
            "start": night.isoformat(),
            "end": night.replace(hour=4).isoformat(),
            "direction": "import",
        },
        return_response=True,
    )
    response = result["response"]
    assert response["currency"] == "GBP", response
    assert response["energy_kwh"] == 2, response
    assert abs(response["cost"] - 0.14) < 1e-9, response
    assert len(e2e_home.sandbox_records()) == stored_before


def test_energy_dashboard_accepts_cost_statistics(
    e2e_home: E2EHome, flatpeak_setup: FlatpeakSetup
) -> None:
    """The cost statistics are offered for the grid and pass the dashboard's checks."""
    location = e2e_home.sandbox.location_id.lower()
    import_cost = f"flatpeak:{location}_import_cost"
    export_value = f"flatpeak:{location}_export_value"

    def sum_statistics() -> dict[str, Any] | None:
        listed = {
            s["statistic_id"]: s
            for s in e2e_home.ws(
                type="recorder/list_statistic_ids", statistic_type="sum"
            )
        }
        return listed if {import_cost, export_value} <= listed.keys() else None

    # The recorder commits the imported statistics within its commit interval.
    listed = wait_for(sum_statistics, timeout=30, what="the cost statistics")
    for statistic_id in (import_cost, export_value):
        assert listed[statistic_id]["statistics_unit_of_measurement"] == "GBP"
    # Home Assistant 2026 takes one grid connection per source (import/export
    # pair); older releases a source with flow_from / flow_to lists.
    unified = {
        "type": "grid",
        "stat_energy_from": "sensor.grid_import",
        "stat_energy_to": "sensor.grid_export",
        "stat_cost": import_cost,
        "stat_compensation": export_value,
        "cost_adjustment_day": 0,
    }
    legacy = {
        "type": "grid",
        "flow_from": [
            {
                "stat_energy_from": "sensor.grid_import",
                "stat_cost": import_cost,
                "entity_energy_price": None,
                "number_energy_price": None,
            }
        ],
        "flow_to": [
            {
                "stat_energy_to": "sensor.grid_export",
                "stat_compensation": export_value,
                "entity_energy_price": None,
                "number_energy_price": None,
            }
        ],
        "cost_adjustment_day": 0,
    }
    # (Trying one then the other would log the refusal as an error.)
    version = e2e_home.get("/api/config")["version"]
    source = unified if int(version.split(".")[0]) >= 2026 else legacy
    e2e_home.ws(
        type="energy/save_prefs", energy_sources=[source], device_consumption=[]
    )
    validation = e2e_home.ws(type="energy/validate")
    issues = [
        issue
        for source in validation["energy_sources"]
        for issue in source
        if any(
            entity in (import_cost, export_value)
            for entity, _ in issue["affected_entities"]
        )
    ]
    assert not issues, validation


def test_diagnostics_without_secrets(
    e2e_home: E2EHome, flatpeak_setup: FlatpeakSetup
) -> None:
    """The diagnostics download works and never contains the API key."""
    diagnostics = e2e_home.get(
        f"/api/diagnostics/config_entry/{flatpeak_setup.entry_id}"
    )
    text = json.dumps(diagnostics)
    assert e2e_home.sandbox.location_id in text
    assert e2e_home.sandbox.api_key not in text


def call_action(home: E2EHome, service: str, **data: Any) -> Any:
    """Call a response-only Flatpeak action over the websocket API."""
    result = home.ws(
        type="call_service",
        domain="flatpeak",
        service=service,
        service_data=data,
        return_response=True,
    )
    return result["response"]


def test_cheapest_window_and_price_actions(
    e2e_home: E2EHome, flatpeak_setup: FlatpeakSetup
) -> None:
    """A cheapest window made through its flow; prices and a charge plan answered.

    The sandbox runs the demo tariff (0.07 from 00:30 to 04:30 London time, 0.35
    from 16:00 to 19:00, 0.25 otherwise), published in full. Tomorrow evening's
    charge of 7 kWh at 7 kW by 07:00 is 00:30-01:30 at 0.07 = 0.49; straight away
    (20:00-21:00 at 0.25) it would be 1.75.
    """
    home, entry_id = e2e_home, flatpeak_setup.entry_id
    path = "/api/config/config_entries/subentries/flow"
    result = home.post(path, {"handler": [entry_id, "cheapest_window"]})
    assert result["type"] == "form", result
    fields = [field["name"] for field in result["data_schema"]]
    assert fields[:5] == ["name", "hours", "earliest_start", "latest_end", "continuous"]
    flow_step(
        home,
        path,
        result["flow_id"],
        {
            "name": "Dishwasher",
            "hours": 2,
            "earliest_start": "22:00:00",
            "latest_end": "07:00:00",
            "continuous": True,
        },
        "create_entry",
    )

    def window_state() -> Any:
        states = {s["entity_id"]: s for s in home.get("/api/states")}
        return states.get("binary_sensor.dishwasher_cheapest_window")

    state: dict[str, Any] = wait_for(
        window_state, timeout=30, what="the cheapest window sensor"
    )
    attributes = state["attributes"]
    assert state["state"] in {"on", "off"}, state
    assert attributes["planned"] is True, state
    for key in ("window_start", "window_end", "next_end", "average_price"):
        assert attributes[key] is not None, state
    assert 0.07 <= attributes["average_price"] <= 0.25, state

    today = datetime.now(LONDON).replace(hour=0, minute=0, second=0, microsecond=0)
    prices = call_action(
        home,
        "get_prices",
        config_entry_id=entry_id,
        start=today.isoformat(),
        end=(today + timedelta(days=2)).isoformat(),
    )
    assert prices["currency"] == "GBP", prices
    assert {p["price"] for p in prices["periods"]} == {0.07, 0.25, 0.35}, prices

    evening = today + timedelta(days=1, hours=20)
    plan = call_action(
        home,
        "plan_charge",
        config_entry_id=entry_id,
        energy_kwh=7,
        max_power_kw=7,
        earliest_start=evening.isoformat(),
        deadline=(evening + timedelta(hours=11)).isoformat(),
    )
    assert abs(plan["cost"] - 0.49) < 1e-6, plan
    assert abs(plan["charge_now"]["cost"] - 1.75) < 1e-6, plan
    assert [step["price"] for step in plan["schedule"]] == [0.07], plan


def log_records(log: str) -> list[str]:
    """Split Home Assistant's output into records (a record may span lines)."""
    return [r for r in RECORD_START.split(log) if r.strip()]


def test_log_is_clean(e2e_home: E2EHome, flatpeak_setup: FlatpeakSetup) -> None:
    """No secret, no address, no error at all and no report of ours in the log.

    Any ERROR line fails, whoever logs it: the recorder's error about statistics
    our simulated home imported does not name us, and is ours all the same.
    """
    # Give the integration's first polls a moment to log.
    time.sleep(1)
    log = e2e_home.log()
    assert "custom_components.flatpeak" in log  # debug logging is on
    assert e2e_home.sandbox.api_key not in log
    assert flatpeak_setup.title not in log.replace(
        "Flatpeak " + flatpeak_setup.title, ""
    )
    ours = ("flatpeak", "simulated_home")
    bad = [
        record
        for record in log_records(log)
        if re.match(r"\S+ \S+ (ERROR|CRITICAL)", record)
        or (
            any(name in record for name in ours)
            and ("Detected that custom integration" in record or "deprecat" in record)
        )
    ]
    assert not bad, "\n".join(bad)
