"""Fixtures shared by every test: the Flatpeak sandbox on a free loopback port."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest

from flatpeak_sandbox import Sandbox, SandboxServer

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Iterator

# No test reads the wall clock: every test that runs Home Assistant starts at this
# instant (naive: the demo location's time, Europe/London) unless it freezes its own.
# `scripts/test --clock ...` sets it to run the suite at another time of day.
TEST_CLOCK_ENV = "FLATPEAK_TEST_CLOCK"
DEFAULT_TEST_CLOCK = "2026-06-15T11:05:00"
LOCATION_ZONE = ZoneInfo("Europe/London")


def test_clock() -> datetime:
    """Return the instant the tests start at (UTC)."""
    when = datetime.fromisoformat(os.environ.get(TEST_CLOCK_ENV) or DEFAULT_TEST_CLOCK)
    if when.tzinfo is None:
        when = when.replace(tzinfo=LOCATION_ZONE)
    return when.astimezone(UTC)


def ticking_clock() -> pytest.MarkDecorator:
    """Mark a test whose time must pass on its own (a stalled answer, a timeout)."""
    return pytest.mark.freeze_time(test_clock(), tick=True)


@pytest.fixture(autouse=True)
def _frozen_clock(request: pytest.FixtureRequest) -> None:
    """Freeze the clock of every Home Assistant test at the test clock.

    Runs before Home Assistant starts, so the recorder's first statistics run is
    at that instant too. A test with its own `freeze_time` marker keeps it.
    """
    if "hass" not in request.fixturenames or request.node.get_closest_marker(
        "freeze_time"
    ):
        return
    freezer = request.getfixturevalue("freezer")
    freezer.move_to(test_clock())


def pytest_configure(config: pytest.Config) -> None:
    """Keep SQL statements out of the test output.

    pytest-homeassistant-custom-component logs every SQL statement at INFO to a
    root stream handler; recorder-backed tests would flood CI's log with them.
    """
    del config
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)


@pytest.fixture(autouse=True, scope="session")
def _no_subprocess_coverage() -> Iterator[None]:
    """Measure coverage in the test processes only.

    pytest-cov would also measure the sandbox and Home Assistant processes that some
    tests start, with settings that cannot be combined with this run's branch data.
    """
    saved = {k: v for k, v in os.environ.items() if k.startswith("COV_CORE_")}
    for key in saved:
        del os.environ[key]
    yield
    os.environ.update(saved)


def _reports_us(record: logging.LogRecord) -> bool:
    """Return True for Home Assistant's reports about this integration's code."""
    if record.levelno < logging.WARNING:
        return False
    message = record.getMessage()
    return (
        "custom integration 'flatpeak'" in message
        or "called from flatpeak" in message
        or ("flatpeak" in message and "deprecat" in message.lower())
    )


class _Reports(logging.Handler):
    """Collect Home Assistant's reports about this integration's code."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if _reports_us(record):
            self.messages.append(record.getMessage())


@pytest.fixture(autouse=True)
def _no_reports_about_us() -> Iterator[None]:
    """Fail a test in which Home Assistant reported our code (deprecations, misuse).

    Python's own warnings about it are errors (pyproject's filterwarnings). A handler of
    its own, not caplog: pytest-homeassistant-custom-component overrides caplog.
    """
    reports = _Reports()
    root = logging.getLogger()
    root.addHandler(reports)
    try:
        yield
    finally:
        root.removeHandler(reports)
    assert not reports.messages, "\n".join(reports.messages)


@pytest.fixture
async def sandbox(
    request: pytest.FixtureRequest, socket_enabled: None
) -> AsyncGenerator[SandboxServer]:
    """Run a fresh Flatpeak sandbox with one demo account and location.

    ``@pytest.mark.sandbox(**kwargs)`` passes options to the sandbox, e.g.
    ``dedup="duplicate"`` so that a record sent twice is stored twice.

    ``socket_enabled`` lets the server open its listening socket; the Home
    Assistant test plugin still allows connections to 127.0.0.1 only.
    """
    marker = request.node.get_closest_marker("sandbox")
    options = marker.kwargs if marker else {}
    async with SandboxServer(Sandbox.with_demo_account(**options)) as server:
        yield server
