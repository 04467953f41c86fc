"""A real Home Assistant with this integration, and the Flatpeak sandbox, per module.

Both run as subprocesses on free loopback ports with a temporary config dir;
the tests talk to them over HTTP and the websocket API as a user's browser does.
Home Assistant's own ``frontend`` is replaced by a stub (it would download the
frontend package), except for the browser test's instance, which serves the real
one; the simulated home of ``dev/`` provides the meters.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest
import pytest_socket  # type: ignore[import-untyped,unused-ignore]

from dev.harness import (
    REPO,
    ManagedProcess,
    SandboxInfo,
    free_port,
    onboard,
    preseed_onboarding,
    request,
    start_hass,
    start_sandbox,
    wait_for,
    wait_for_hass_http,
    wait_for_hass_running,
    wait_for_sandbox,
    ws_commands,
)

if TYPE_CHECKING:
    from collections.abc import Generator
    from pathlib import Path

LONDON = ZoneInfo("Europe/London")  # the e2e home's time zone
USERNAME = "e2e"
PASSWORD = "e2e-password"  # noqa: S105 - a throwaway user of a temporary instance

CONFIGURATION = """\
homeassistant:
  name: E2E home
  latitude: 51.5074
  longitude: -0.1278
  elevation: 11
  unit_system: metric
  currency: GBP
  country: GB
  time_zone: Europe/London
  language: en

http:
  server_host: 127.0.0.1
  server_port: {port}

api:
config:
websocket_api:
onboarding:
diagnostics:
repairs:
energy:
recorder:
  commit_interval: 1

logger:
  default: warning
  logs:
    custom_components.flatpeak: debug

simulated_home:
  update_interval: 5
"""

FRONTEND_STUB_MANIFEST = """\
{"domain": "frontend", "name": "Frontend (e2e stub)", "version": "0.0.0",
 "codeowners": [], "dependencies": [], "requirements": [],
 "documentation": "https://www.home-assistant.io/integrations/frontend"}
"""

FRONTEND_STUB = '''\
"""Stand-in for the frontend: the e2e tests need no UI (and no download)."""


async def async_setup(hass, config):
    return True
'''


@dataclass
class E2EHome:
    """A running Home Assistant and Flatpeak sandbox, and how to talk to them."""

    url: str
    token: str
    config_dir: Path
    hass: ManagedProcess
    sandbox: SandboxInfo
    sandbox_process: ManagedProcess

    def get(self, path: str) -> Any:
        """GET a Home Assistant API path."""
        return request("GET", f"{self.url}{path}", token=self.token)

    def post(self, path: str, body: Any = None) -> Any:
        """POST JSON to a Home Assistant API path."""
        return request(
            "POST", f"{self.url}{path}", token=self.token, json_body=body or {}
        )

    def ws_message(self, **command: Any) -> Any:
        """Send one websocket command; return the whole answer message."""
        (message,) = ws_commands(self.url, self.token, [command])
        return message

    def ws(self, **command: Any) -> Any:
        """Send one websocket command; return its result (fail on an error)."""
        message = self.ws_message(**command)
        assert message["success"], f"{command['type']}: {message.get('error')}"
        return message["result"]

    def sandbox_state(self) -> Any:
        """Return the sandbox's admin view (accounts, locations, devices)."""
        return request("GET", f"{self.sandbox.url}/_sandbox/state")

    def sandbox_records(self) -> list[dict[str, Any]]:
        """Return the meter records the sandbox stores."""
        records: list[dict[str, Any]] = request(
            "GET", f"{self.sandbox.url}/_sandbox/records"
        )["data"]
        return records

    def log(self) -> str:
        """Return Home Assistant's output so far."""
        return self.hass.log_path.read_text(encoding="utf-8", errors="replace")


# What the UI needs beside the stub's integrations (as in config/configuration.yaml).
FRONTEND_CONFIGURATION = """\
frontend:
history:
logbook:
"""


def write_config(config_dir: Path, port: int, *, frontend: bool = False) -> None:
    """Write a minimal configuration with this integration and the simulated home."""
    custom = config_dir / "custom_components"
    custom.mkdir(parents=True)
    configuration = CONFIGURATION.format(port=port)
    if frontend:
        configuration += FRONTEND_CONFIGURATION
    else:
        (custom / "frontend").mkdir()
        (custom / "frontend" / "manifest.json").write_text(FRONTEND_STUB_MANIFEST)
        (custom / "frontend" / "__init__.py").write_text(FRONTEND_STUB)
    (custom / "flatpeak").symlink_to(REPO / "custom_components" / "flatpeak")
    (custom / "simulated_home").symlink_to(REPO / "dev" / "simulated_home")
    (config_dir / "configuration.yaml").write_text(configuration)
    preseed_onboarding(config_dir)


def history_recorded(url: str, token: str) -> bool | None:
    """Return True once the simulated home's statistics of today are recorded.

    The simulated home imports today's history at start-up; late in the day that
    is a few thousand rows, which the recorder may commit after an entry made at
    once looked for them (it then waits for the next compile, minutes later).
    """
    now = datetime.now(LONDON)
    midnight = datetime.combine(now.date(), datetime.min.time(), LONDON)
    if now - midnight < timedelta(minutes=10):
        return True  # no complete 5 minutes to wait for yet
    (message,) = ws_commands(
        url,
        token,
        [
            {
                "type": "recorder/statistics_during_period",
                "start_time": (now - timedelta(minutes=10)).isoformat(),
                "statistic_ids": [IMPORT_ENTITY],
                "period": "5minute",
                "types": ["sum"],
            }
        ],
    )
    return True if message["result"].get(IMPORT_ENTITY) else None


def require_hass() -> None:
    """Skip when Home Assistant cannot run on this machine at all."""
    try:
        subprocess.run(  # noqa: S603
            [sys.executable, "-m", "homeassistant", "--version"],
            check=True,
            capture_output=True,
            timeout=120,
        )
    except (OSError, subprocess.SubprocessError) as err:
        pytest.skip(f"Home Assistant cannot start on this machine: {err}")


@pytest.fixture(scope="module")
def e2e_home(tmp_path_factory: pytest.TempPathFactory) -> Generator[E2EHome]:
    """Start the sandbox and Home Assistant, create the owner user; stop both after."""
    yield from run_home(tmp_path_factory, frontend=False)


def run_home(
    tmp_path_factory: pytest.TempPathFactory, *, frontend: bool
) -> Generator[E2EHome]:
    """Run the sandbox and Home Assistant (with the real frontend or the stub)."""
    # The plugin blocks sockets per test; this fixture outlives the first test's
    # socket_enabled, so it opens them itself (loopback only is used).
    pytest_socket.enable_socket()
    require_hass()
    base = tmp_path_factory.mktemp("e2e")
    config_dir = base / "config"
    config_dir.mkdir()
    sandbox_port, hass_port = free_port(), free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    url = f"http://127.0.0.1:{hass_port}"
    write_config(config_dir, hass_port, frontend=frontend)

    processes: list[ManagedProcess] = []
    try:
        sandbox_process = start_sandbox(
            sandbox_port, base / "sandbox.json", base / "sandbox.log"
        )
        processes.append(sandbox_process)
        hass = start_hass(config_dir, base / "hass.log", skip_pip=True)
        processes.append(hass)
        sandbox = wait_for_sandbox(sandbox_process, sandbox_url)
        wait_for_hass_http(hass, url)
        token = onboard(url, USERNAME, PASSWORD)
        wait_for_hass_running(hass, url, token)
        wait_for(
            lambda: history_recorded(url, token),
            timeout=60,
            what="the simulated home's history in the recorder",
        )
        yield E2EHome(url, token, config_dir, hass, sandbox, sandbox_process)
    finally:
        for process in reversed(processes):
            process.stop()


@dataclass(frozen=True)
class FlatpeakSetup:
    """The config entry and EV charger subentry the flows created."""

    entry_id: str
    title: str
    subentry_id: str
    device_id: str  # the Flatpeak dev_... id of the EV charger


IMPORT_ENTITY = "sensor.grid_import"
EXPORT_ENTITY = "sensor.grid_export"
EV_ENERGY_ENTITY = "sensor.ev_charger_energy"
EV_SESSION_ENTITY = "binary_sensor.ev_charger_session"
EV_NAME = "EV charger"


def sign_in_data(sandbox: SandboxInfo) -> dict[str, Any]:
    """Return the sign-in step's answer for the sandbox's demo account."""
    return {
        "account_id": sandbox.account_id,
        "api_key": sandbox.api_key,
        "advanced": {"api_url": sandbox.url},
    }


def finish_setup(home: E2EHome, flow_id: str, location_id: str) -> Any:
    """Sign in, pick `location_id` and the grid meters; return the created entry."""
    path = "/api/config/config_entries/flow"
    flow_step(home, path, flow_id, sign_in_data(home.sandbox), "location")
    flow_step(home, path, flow_id, {"location_id": location_id}, "grid")
    return flow_step(
        home,
        path,
        flow_id,
        {"import_entity": IMPORT_ENTITY, "export_entity": EXPORT_ENTITY},
        "create_entry",
    )


def flow_step(
    home: E2EHome, path: str, flow_id: str, data: dict[str, Any], expect: str
) -> Any:
    """Submit one step of a flow; check the next step (or ``create_entry``)."""
    result = home.post(f"{path}/{flow_id}", data)
    shown = result.get("step_id") if result["type"] == "form" else result["type"]
    assert shown == expect, f"expected {expect}, got {result}"
    return result


def wait_loaded(home: E2EHome, entry_id: str) -> None:
    """Wait for the entry to be loaded again: adding a subentry reloads it."""

    def loaded() -> bool | None:
        entries = home.get("/api/config/config_entries/entry?domain=flatpeak")
        states = {e["entry_id"]: e["state"] for e in entries}
        return True if states.get(entry_id) == "loaded" else None

    wait_for(loaded, timeout=60, what="the Flatpeak entry to load")


@pytest.fixture(scope="module")
def flatpeak_setup(e2e_home: E2EHome) -> FlatpeakSetup:
    """Add the sandbox's demo location and an EV charger, as a user would."""
    home, sandbox = e2e_home, e2e_home.sandbox
    path = "/api/config/config_entries/flow"
    result = home.post(path, {"handler": "flatpeak"})
    assert result["type"] == "form", result
    assert result["step_id"] == "user", result
    # The API address waits in a collapsed section, out of an ordinary user's way.
    fields = {field["name"]: field for field in result["data_schema"]}
    assert set(fields) == {"account_id", "api_key", "advanced"}
    advanced = fields["advanced"]
    assert advanced["type"] == "expandable"
    assert advanced["expanded"] is False
    assert [field["name"] for field in advanced["schema"]] == ["api_url"]
    flow_id = result["flow_id"]
    created = finish_setup(home, flow_id, sandbox.location_id)
    entry_id = created["result"]["entry_id"]

    sub_path = "/api/config/config_entries/subentries/flow"
    result = home.post(sub_path, {"handler": [entry_id, "ev_charger"]})
    assert result["type"] == "form", result
    assert result["step_id"] == "user", result
    flow_step(
        home,
        sub_path,
        result["flow_id"],
        {
            "name": EV_NAME,
            "energy_entity": EV_ENERGY_ENTITY,
            "session_entity": EV_SESSION_ENTITY,
        },
        "create_entry",
    )
    (subentry,) = home.ws(type="config_entries/subentries/list", entry_id=entry_id)
    wait_loaded(home, entry_id)
    return FlatpeakSetup(
        entry_id=entry_id,
        title=created["title"],
        subentry_id=subentry["subentry_id"],
        device_id=subentry["unique_id"],
    )


@pytest.fixture(autouse=True)
def _loopback_sockets(socket_enabled: None) -> None:
    """Let each test talk to the subprocesses (loopback only)."""


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach the end of Home Assistant's log to a failed e2e test."""
    report = yield
    funcargs = getattr(item, "funcargs", {})
    home = funcargs.get("e2e_home") or funcargs.get("browser_home")
    if report.failed and isinstance(home, E2EHome):
        tail = "\n".join(home.log().splitlines()[-80:])
        report.sections.append(("Home Assistant log (last 80 lines)", tail))
    # The browser test's page as it was when the test failed.
    if report.failed and report.when == "call" and (browser := funcargs.get("browser")):
        # Into the test's own directory: never among the README's pictures.
        path = funcargs["tmp_path"] / "failure.png"
        browser.page.screenshot(path=path)
        report.sections.append(("Browser", f"screenshot of the failure: {path}"))
    return report
