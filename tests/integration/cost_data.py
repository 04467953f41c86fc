"""A home with a known week of energy on the sandbox's demo UK tariff, for cost tests.

Tariff (`Tariff.demo_uk()`, Europe/London, GBP): import 0.07 from 00:30 to 04:30,
0.35 from 16:00 to 19:00, 0.25 otherwise; export 0.15; local 0. The tests run at
2025-06-11 20:05 UTC = 21:05 BST (UTC+1): "today" in London began at 2025-06-10 23:00
UTC. Every expected value below is computed by hand from the tariff.

Location import (BST times; hour = UTC hour of the statistics):
  A  06-05 18:00-18:30  2.0 kWh x 0.35 = 0.70   (UTC 06-05 17:00)
  B  06-10 23:30-24:00  1.0 kWh x 0.25 = 0.25   (UTC 06-10 22:00) yesterday
  C  06-11 00:00-00:30  1.0 kWh x 0.25 = 0.25   (UTC 06-10 23:00) today in London
  D  06-11 01:00-01:30  2.0 kWh x 0.07 = 0.14   (UTC 00:00)
  E  06-11 04:00-05:00  1.0 kWh: 0.5 x 0.07 + 0.5 x 0.25 = 0.16   (UTC 03:00)
  F  06-11 11:30-12:30  2.0 kWh x 0.25 = 0.50   (UTC 10:30-11:30: 0.25 + 0.25)
  G  06-11 16:00-16:30  1.2 kWh x 0.35 = 0.42   (UTC 15:00)
  H  05-31 23:30-24:00  1.0 kWh x 0.25 = 0.25   last month
  today = C+D+E+F+G = 1.47; month = today + A + B = 2.42
Location export:
  X1 06-03 13:00-14:00  2.0 kWh x 0.15 = 0.30   (before the 7-day window)
  X2 06-11 13:00-14:00  3.0 kWh x 0.15 = 0.45   (UTC 12:00)
  today = 0.45; month = 0.75
Solar (local): 06-11 10:00-14:00 5.0 kWh x 0 = 0.00
Appliance (import): 06-11 02:00-03:00 2.0 x 0.07 = 0.14; 06-02 17:00-18:00 1.0 x 0.35
  = 0.35 → today 0.14, month 0.49
EV charger (import):
  session ev-session-1 (finished): 06-11 00:30-02:30 6.0 x 0.07 = 0.42,
      02:30-04:30 4.0 x 0.07 = 0.28 → 0.70 for 10 kWh
  session ev-session-2 (running): 06-11 19:00-20:00 3.0 x 0.25 = 0.75
  today = 1.45
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.flatpeak.const import (
    CONF_DEVICE_ID,
    CONF_ENERGY_ENTITY,
    CONF_NAME,
    CONF_REFERENCE_ID,
    DOMAIN,
    SUBENTRY_APPLIANCE,
    SUBENTRY_EV_CHARGER,
    SUBENTRY_SOLAR,
)
from flatpeak_sandbox import Sandbox, SandboxServer, StoredRecord, Tariff

from .conftest import (
    EV_ENERGY,
    HEAT_PUMP_ENERGY,
    LOCATION_TITLE,
    SOLAR_ENERGY,
    entry_data,
)

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from homeassistant.core import HomeAssistant

LONDON: Final = ZoneInfo("Europe/London")
NOW: Final = "2025-06-11T20:05:00+00:00"
ACCOUNT_ID: Final = "acc_00000000000000000000c0a1"
API_KEY: Final = "sk_test_costs"
LOCATION_ID: Final = "loc_00000000000000000000C0A1"
SOLAR_ID: Final = "dev_0000000000000000000501a4"
EV_ID: Final = "dev_00000000000000000000e0c1"
APPLIANCE_ID: Final = "dev_00000000000000000000a991"
ENTRY_ID: Final = "01JXCOSTS0000000000000000E"
SOLAR_SUB: Final = "01JXCOSTS00000000000SOLAR"
EV_SUB: Final = "01JXCOSTS00000000000000EV"
APPLIANCE_SUB: Final = "01JXCOSTS00000000APPLIANCE"
FINISHED_SESSION: Final = "ev-session-1"
RUNNING_SESSION: Final = "ev-session-2"
TODAY_START: Final = datetime(2025, 6, 10, 23, 0, tzinfo=UTC)
MONTH_START: Final = datetime(2025, 5, 31, 23, 0, tzinfo=UTC)

_ids = itertools.count(1)


def bst(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """Return a London wall-clock time of 2025 as UTC."""
    return datetime(2025, month, day, hour, minute, tzinfo=LONDON).astimezone(UTC)


def record(
    start: datetime,
    end: datetime,
    kwh: float,
    *,
    direction: str = "IMPORT",
    device_id: str | None = None,
    session: str | None = None,
) -> StoredRecord:
    """Return a stored record of `kwh` over [start, end)."""
    number = next(_ids)
    return StoredRecord(
        id=f"mre_{number:024x}",
        account_id=ACCOUNT_ID,
        location_id=LOCATION_ID,
        device_id=device_id,
        energy_flow_direction="OUTBOUND" if direction == "EXPORT" else "INBOUND",
        tariff_direction=direction,
        units="KWH",
        value=kwh,
        start_time=start,
        end_time=end,
        energy_wh=kwh * 1000,
        session_reference_id=session,
        record_reference_id=f"test-{number}",
    )


def known_week() -> list[StoredRecord]:
    """Return the records of the module docstring."""
    return [
        # Location import.
        record(bst(6, 5, 18), bst(6, 5, 18, 30), 2.0),
        record(bst(6, 10, 23, 30), bst(6, 11, 0), 1.0),
        record(bst(6, 11, 0), bst(6, 11, 0, 30), 1.0),
        record(bst(6, 11, 1), bst(6, 11, 1, 30), 2.0),
        record(bst(6, 11, 4), bst(6, 11, 5), 1.0),
        record(bst(6, 11, 11, 30), bst(6, 11, 12, 30), 2.0),
        record(bst(6, 11, 16), bst(6, 11, 16, 30), 1.2),
        record(bst(5, 31, 23, 30), bst(6, 1, 0), 1.0),
        # Location export.
        record(bst(6, 3, 13), bst(6, 3, 14), 2.0, direction="EXPORT"),
        record(bst(6, 11, 13), bst(6, 11, 14), 3.0, direction="EXPORT"),
        # Solar.
        record(
            bst(6, 11, 10), bst(6, 11, 14), 5.0, direction="LOCAL", device_id=SOLAR_ID
        ),
        # Appliance.
        record(bst(6, 11, 2), bst(6, 11, 3), 2.0, device_id=APPLIANCE_ID),
        record(bst(6, 2, 17), bst(6, 2, 18), 1.0, device_id=APPLIANCE_ID),
        # EV charger.
        record(
            bst(6, 11, 0, 30),
            bst(6, 11, 2, 30),
            6.0,
            device_id=EV_ID,
            session=FINISHED_SESSION,
        ),
        record(
            bst(6, 11, 2, 30),
            bst(6, 11, 4, 30),
            4.0,
            device_id=EV_ID,
            session=FINISHED_SESSION,
        ),
        record(
            bst(6, 11, 19),
            bst(6, 11, 20),
            3.0,
            device_id=EV_ID,
            session=RUNNING_SESSION,
        ),
    ]


def make_sandbox() -> Sandbox:
    """Return a sandbox with fixed ids (stable snapshots) and no records."""
    sandbox = Sandbox()
    account = sandbox.add_account(ACCOUNT_ID, API_KEY)
    sandbox.demo_account = account
    sandbox.demo_location_id = sandbox.add_location(
        ACCOUNT_ID, tariff=Tariff.demo_uk(), location_id=LOCATION_ID
    )
    for device_id in (SOLAR_ID, EV_ID, APPLIANCE_ID):
        sandbox.add_device(ACCOUNT_ID, device_id.replace("dev_", "ha_"), device_id)
    return sandbox


@pytest.fixture
async def cost_sandbox(socket_enabled: None) -> AsyncGenerator[SandboxServer]:
    """Run the sandbox of the home, holding the known week."""
    sandbox = make_sandbox()
    sandbox.store_records(known_week())
    async with SandboxServer(sandbox) as server:
        yield server


def _subentry(
    subentry_id: str, kind: str, title: str, entity: str, device_id: str
) -> dict[str, Any]:
    return {
        "subentry_id": subentry_id,
        "subentry_type": kind,
        "title": title,
        "unique_id": device_id,
        "data": {
            CONF_NAME: title,
            CONF_ENERGY_ENTITY: entity,
            CONF_DEVICE_ID: device_id,
            CONF_REFERENCE_ID: device_id.replace("dev_", "ha_"),
        },
    }


@pytest.fixture
def cost_entry(cost_sandbox: SandboxServer) -> MockConfigEntry:
    """Return the entry of the home: solar, an EV charger and a heat pump."""
    return MockConfigEntry(
        domain=DOMAIN,
        entry_id=ENTRY_ID,
        title=LOCATION_TITLE,
        unique_id=LOCATION_ID,
        data=entry_data(cost_sandbox),
        subentries_data=[
            _subentry(SOLAR_SUB, SUBENTRY_SOLAR, "Roof", SOLAR_ENERGY, SOLAR_ID),
            _subentry(EV_SUB, SUBENTRY_EV_CHARGER, "Car", EV_ENERGY, EV_ID),
            _subentry(
                APPLIANCE_SUB,
                SUBENTRY_APPLIANCE,
                "Heat pump",
                HEAT_PUMP_ENERGY,
                APPLIANCE_ID,
            ),
        ],
    )


def session_dict(
    session_id: str, start: datetime, end: datetime | None, wh: int
) -> Any:
    """Return a session as the outbox stores it."""
    return {
        "session_id": session_id,
        "start": start.isoformat(),
        "end": None if end is None else end.isoformat(),
        "energy_wh": wh,
    }


def outbox_with_sessions(
    *, completed: bool = True, running: bool = True
) -> dict[str, Any]:
    """Return stored outbox data: the finished session to report, the running one."""
    finished = session_dict(
        FINISHED_SESSION, bst(6, 11, 0, 30), bst(6, 11, 4, 30), 10_000
    )
    open_session = session_dict(RUNNING_SESSION, bst(6, 11, 19), None, 3_000)
    return {
        "version": 1,
        "minor_version": 1,
        "key": f"{DOMAIN}.{ENTRY_ID}",
        "data": {
            "pending": [],
            "streams": {
                EV_SUB: {
                    "high_water": None,
                    "anchor": None,
                    "sessions": {"open": open_session if running else None},
                }
            },
            "failed": [],
            "completed_sessions": [{"stream": EV_SUB, "session": finished}]
            if completed
            else [],
        },
    }


async def setup_entry(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    hass_storage: dict[str, Any] | None = None,
    *,
    sessions: bool = True,
) -> None:
    """Set the entry up, with the EV sessions in its outbox unless told not to."""
    if hass_storage is not None and sessions:
        hass_storage[f"{DOMAIN}.{ENTRY_ID}"] = outbox_with_sessions()
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


def request_count(server: SandboxServer, prefix: str) -> int:
    """Return the API calls on paths under `prefix`, but for expired-token repeats.

    A call refused 401 because its token expired is repeated by the client after a
    new login: one call as far as the schedule goes.
    """
    return sum(
        1
        for item in server.sandbox.requests
        if item.path.startswith(prefix) and item.status != 401
    )


HOUR: Final = timedelta(hours=1)
