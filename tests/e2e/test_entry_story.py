"""An entry's whole life in a real Home Assistant, driven through its APIs only.

A location just created at Flatpeak, its tariff still being connected
(`pending_connect`): the entry loads anyway, its sensors are unavailable, a repair
issue says why and the records wait. The tariff gets connected; the issue's fix flow
checks at once: the records go, the costs appear, the issue goes. Then a device is
removed, and the entry deleted: nothing of either is left.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from dev.harness import request, wait_for

from .conftest import E2EHome, finish_setup, flow_step, wait_loaded

pytestmark = pytest.mark.e2e

LONDON = ZoneInfo("Europe/London")


def sandbox_admin(home: E2EHome, path: str, body: Any) -> Any:
    """Call an admin endpoint of the sandbox."""
    return request("POST", f"{home.sandbox.url}/_sandbox/{path}", json_body=body)


def entry_entities(home: E2EHome, entry_id: str) -> list[dict[str, Any]]:
    """Return the entity registry entries of a config entry."""
    return [
        entity
        for entity in home.ws(type="config/entity_registry/list")
        if entity["config_entry_id"] == entry_id
    ]


def entry_devices(home: E2EHome, entry_id: str) -> list[dict[str, Any]]:
    """Return the devices of a config entry."""
    return [
        device
        for device in home.ws(type="config/device_registry/list")
        if entry_id in device["config_entries"]
    ]


def our_issues(home: E2EHome, entry_id: str) -> list[dict[str, Any]]:
    """Return the repair issues of the entry that are active."""
    return [
        issue
        for issue in home.ws(type="repairs/list_issues")["issues"]
        if issue["domain"] == "flatpeak"
        and entry_id in issue["issue_id"]
        and not issue.get("dismissed_version")
    ]


def states_of(home: E2EHome, entities: list[dict[str, Any]]) -> dict[str, str]:
    """Return the state of each entity, by translation key."""
    states = {s["entity_id"]: s["state"] for s in home.get("/api/states")}
    return {
        entity["translation_key"]: states.get(entity["entity_id"], "missing")
        for entity in entities
        if entity["disabled_by"] is None
    }


def outbox(home: E2EHome, entry_id: str) -> dict[str, Any]:
    """Return the outbox part of the entry's diagnostics."""
    diagnostics = home.get(f"/api/diagnostics/config_entry/{entry_id}")
    found: dict[str, Any] = diagnostics["data"]["metering"]["outbox"]
    return found


def test_pending_tariff_to_removal(e2e_home: E2EHome) -> None:  # noqa: PLR0915 - one story
    """The user story of issue 12, step by step."""
    home, sandbox = e2e_home, e2e_home.sandbox
    location = sandbox_admin(
        home,
        "locations",
        {
            "account_id": sandbox.account_id,
            "address_line1": "2 New Road",
            "city": "Leeds",
            "post_code": "LS1 1AA",
            "country_code": "GB",
            # The demo tariff (the one that gets connected below).
            "tariff": {
                "import_periods": [
                    {"start": "00:30", "end": "04:30", "price": 0.07},
                    {"start": "16:00", "end": "19:00", "price": 0.35},
                ]
            },
        },
    )
    location_id = location["id"]
    sandbox_admin(
        home,
        "faults/pending_connect",
        {"location_id": location_id, "pending": True, "code": "pending_connect"},
    )

    # 1. Set up on that location.
    path = "/api/config/config_entries/flow"
    result = home.post(path, {"handler": "flatpeak"})
    flow_id = result["flow_id"]
    created = finish_setup(home, flow_id, location_id)
    entry_id = created["result"]["entry_id"]
    wait_loaded(home, entry_id)  # loaded, not waiting to retry setup

    # 2. Entities exist and are unavailable; an issue says why; the records wait.
    entities = entry_entities(home, entry_id)
    states = states_of(home, entities)
    for key in ("import_cost_today", "import_cost_month", "export_value_today"):
        assert states[key] == "unavailable", states
    issues = wait_for(
        lambda: our_issues(home, entry_id) or None, timeout=30, what="the repair issue"
    )
    (issue,) = issues
    assert issue["translation_key"] == "tariff_pending", issue
    assert issue["is_fixable"] is True, issue
    assert not home.sandbox_records() or all(
        record["location_id"] != location_id for record in home.sandbox_records()
    )
    now = datetime.now(LONDON)
    first_interval_closed = now >= now.replace(hour=0, minute=35, second=0)
    if first_interval_closed:
        waiting = outbox(home, entry_id)
        assert waiting["pending_count"] > 0, waiting

    # 3. The tariff gets connected.
    sandbox_admin(
        home, "faults/pending_connect", {"location_id": location_id, "pending": False}
    )

    # 4. Within one retry (the issue's "check now"): records go, costs come, issue goes.
    fix = home.post(
        "/api/repairs/issues/fix",
        {"handler": "flatpeak", "issue_id": issue["issue_id"]},
    )
    assert fix["type"] == "form", fix
    assert fix["step_id"] == "confirm", fix
    done = home.post(f"/api/repairs/issues/fix/{fix['flow_id']}", {})
    assert done["type"] == "create_entry", done
    assert our_issues(home, entry_id) == []
    assert outbox(home, entry_id)["pending_count"] == 0
    if first_interval_closed:
        stored = [r for r in home.sandbox_records() if r["location_id"] == location_id]
        assert stored
    states = states_of(home, entities)
    for key in ("import_cost_today", "import_cost_month", "export_value_today"):
        assert states[key] not in {"unavailable", "unknown"}, states

    # 5. A device added, then removed: its device, entities and state go.
    sub_path = "/api/config/config_entries/subentries/flow"
    result = home.post(sub_path, {"handler": [entry_id, "solar"]})
    flow_step(
        home,
        sub_path,
        result["flow_id"],
        {"name": "Shed roof", "energy_entity": "sensor.solar_production"},
        "create_entry",
    )
    (subentry,) = home.ws(type="config_entries/subentries/list", entry_id=entry_id)
    wait_for(
        lambda: [
            e
            for e in entry_entities(home, entry_id)
            if e.get("config_subentry_id") == subentry["subentry_id"]
        ]
        or None,
        timeout=30,
        what="the device's sensors",
    )
    home.ws(
        type="config_entries/subentries/delete",
        entry_id=entry_id,
        subentry_id=subentry["subentry_id"],
    )
    wait_for(
        lambda: not [
            e
            for e in entry_entities(home, entry_id)
            if e.get("config_subentry_id") == subentry["subentry_id"]
        ]
        or None,
        timeout=30,
        what="the device's sensors to go",
    )
    assert [d["name"] for d in entry_devices(home, entry_id)] == [
        f"Flatpeak {created['title']}"
    ]
    assert subentry["subentry_id"] not in outbox(home, entry_id)["streams"]

    # ... and the entry deleted: nothing of it is left.
    storage = home.config_dir / ".storage" / f"flatpeak.{entry_id}"
    assert storage.exists()
    request(
        "DELETE",
        f"{home.url}/api/config/config_entries/entry/{entry_id}",
        token=home.token,
    )
    wait_for(
        lambda: (not storage.exists()) or None, timeout=30, what="the outbox file to go"
    )
    assert entry_entities(home, entry_id) == []
    assert entry_devices(home, entry_id) == []
    assert our_issues(home, entry_id) == []
