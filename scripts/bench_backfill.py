# ruff: noqa: INP001, S101 - a pytest case run as a script
"""The backfill benchmark case, run by `scripts/bench.py` under pytest.

Run through ``scripts/bench [DAYS ...]`` (default 1 30 365). For each N it runs this
module under pytest (Home Assistant with a real recorder, in memory) with the
Flatpeak sandbox in a separate process, so that only Home Assistant's event loop is
measured. It prints records/s, meter-submission requests per 1,000 records, the
longest event-loop block during the backfill (a ticker task records its own
lateness; asyncio debug mode is off, as in Home Assistant), the longest garbage
collection, the number of full ones and the longest block that overlaps no
collection, and the peak memory (max RSS) of the process. It collects garbage once
before the backfill (see `_measure`); FLATPEAK_BENCH_NO_PRECOLLECT=1 skips that,
FLATPEAK_BENCH_PROMOTIONS=1 lists the objects promoted towards a full collection.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import math
import os
import resource
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from unittest.mock import patch

import pytest
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from homeassistant.helpers.storage import Store  # noqa: E402

# The test harness replaces Store writes with a deep check on the event loop; the
# bench restores Home Assistant's own write (JSON on the executor) into a temp dir.
_REAL_WRITE = Store._async_write_data  # noqa: SLF001

from custom_components.flatpeak.api import FlatpeakClient  # noqa: E402
from custom_components.flatpeak.const import (  # noqa: E402
    CONF_ACCOUNT_ID,
    CONF_API_KEY,
    CONF_API_URL,
    CONF_DEVICE_ID,
    CONF_ENERGY_ENTITY,
    CONF_EXPORT_ENTITY,
    CONF_IMPORT_ENTITY,
    CONF_LOCATION_ID,
    CONF_NAME,
    DOMAIN,
    SUBENTRY_APPLIANCE,
    SUBENTRY_SOLAR,
)
from custom_components.flatpeak.metering import align_down  # noqa: E402
from dev.harness import free_port, start_sandbox, wait_for_sandbox  # noqa: E402
from tests.integration.history import import_history  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Generator
    from datetime import datetime

    from homeassistant.components.recorder.core import Recorder
    from homeassistant.core import HomeAssistant

    from dev.harness import SandboxInfo

DAYS_ENV = "FLATPEAK_BENCH_DAYS"
PROMOTIONS_ENV = "FLATPEAK_BENCH_PROMOTIONS"
NO_PRECOLLECT_ENV = "FLATPEAK_BENCH_NO_PRECOLLECT"
OLDEST = 2
STREAMS = {
    "sensor.grid_import": 0.8,
    "sensor.grid_export": 0.3,
    "sensor.solar_energy": 0.5,
    "sensor.heat_pump_energy": 0.4,
}
TICK = 0.005


@pytest.fixture
def enable_custom(recorder_mock: Recorder, enable_custom_integrations: None) -> None:
    """Load custom_components/flatpeak (the recorder must start first)."""


@pytest.fixture
def sandbox_process(socket_enabled: None) -> Generator[SandboxInfo]:  # noqa: ARG001
    """Run the sandbox as its own process."""
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        process = start_sandbox(port, Path(tmp) / "state.json", Path(tmp) / "log")
        try:
            yield wait_for_sandbox(process, f"http://127.0.0.1:{port}")
        finally:
            process.stop()


class Ticker:
    """Measure how late the event loop runs a task that wants to run every 5 ms."""

    def __init__(self) -> None:
        """Start idle."""
        self.worst = 0.0
        self.late: list[tuple[float, float]] = []
        """(start, end) of every tick that ran more than one tick late."""
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(TICK)
            after = time.perf_counter()
            self.worst = max(self.worst, after - before - TICK)
            if after - before > 2 * TICK:
                self.late.append((before, after))

    def worst_outside(self, pauses: list[tuple[float, float]]) -> float:
        """Return the longest lateness of the ticks that overlap none of `pauses`."""
        return max(
            (
                end - start - TICK
                for start, end in self.late
                if not any(p_start < end and start < p_end for p_start, p_end in pauses)
            ),
            default=0.0,
        )

    def start(self) -> None:
        """Start measuring."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        """Stop measuring."""
        if self._task is not None:
            self._task.cancel()


class GcTimer:
    """Record the garbage collections (they hold the GIL, so the loop waits)."""

    def __init__(self) -> None:
        """Start idle."""
        self.worst = 0.0
        self.full = 0
        """Number of full (generation 2) collections."""
        self.pauses: list[tuple[float, float]] = []
        """(start, end) of every collection longer than 1 ms."""
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        now = time.perf_counter()
        if phase == "start":
            self._started = now
            return
        self.full += info["generation"] == OLDEST
        self.worst = max(self.worst, now - self._started)
        if now - self._started > 0.001:  # noqa: PLR2004
            self.pauses.append((self._started, now))

    def start(self) -> None:
        """Start measuring."""
        gc.callbacks.append(self._callback)

    def stop(self) -> None:
        """Stop measuring."""
        gc.callbacks.remove(self._callback)


class Promotions:
    """Count, by type, the objects a young collection may move to the oldest one.

    On (FLATPEAK_BENCH_PROMOTIONS=1) it lists the objects of generation 1 when a
    generation-1 collection starts: they and the survivors of generation 0 are
    moved to generation 2 if they survive it. CPython runs a full collection once
    the objects so moved since the last one exceed a quarter of generation 2. It
    costs ~1 ms per generation-1 collection, counted in the GC times.
    """

    def __init__(self) -> None:
        """Start idle."""
        self.counts: Counter[str] = Counter()

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start" and info["generation"] == 1:
            self.counts.update(
                f"{type(obj).__module__}.{type(obj).__qualname__}"
                for obj in gc.get_objects(1)
            )

    def start(self) -> None:
        """Start counting (if asked to)."""
        if os.environ.get(PROMOTIONS_ENV):
            gc.callbacks.insert(0, self._callback)

    def stop(self) -> None:
        """Stop counting and print what was counted."""
        if not os.environ.get(PROMOTIONS_ENV):
            return
        gc.callbacks.remove(self._callback)
        print(f"\nPROMOTED total={self.counts.total()}")  # noqa: T201
        for name, count in self.counts.most_common(15):
            print(f"PROMOTED {count:8d} {name}")  # noqa: T201


async def test_bench_backfill(
    enable_custom: None,  # noqa: ARG001
    hass: HomeAssistant,
    sandbox_process: SandboxInfo,
) -> None:
    """Import N days of statistics, then time one backfill of everything."""
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    logging.getLogger("custom_components.flatpeak").setLevel(logging.WARNING)
    days = int(os.environ.get(DAYS_ENV, "1"))
    info = sandbox_process
    client = FlatpeakClient(
        async_get_clientsession(hass), info.account_id, info.api_key, base_url=info.url
    )
    solar = await client.create_device("bench_solar")
    heat_pump = await client.create_device("bench_heat_pump")

    now = dt_util.utcnow()
    end = align_down(now, 5) - timedelta(minutes=5)
    origin = align_down(now, 60) - timedelta(days=days + 1)
    from homeassistant.helpers.recorder import get_instance

    short_from = max(
        origin, align_down(now, 60) - timedelta(days=get_instance(hass).keep_days)
    )
    for entity_id, rate in STREAMS.items():
        hass.states.async_set(
            entity_id,
            "0",
            {
                "device_class": "energy",
                "state_class": "total_increasing",
                "unit_of_measurement": "kWh",
            },
        )
        import_history(hass, entity_id, origin, end, short_from, rate)
    await async_wait_recording_done(hass)

    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Bench",
        unique_id=info.location_id,
        data={
            CONF_ACCOUNT_ID: info.account_id,
            CONF_API_KEY: info.api_key,
            CONF_API_URL: info.url,
            CONF_LOCATION_ID: info.location_id,
            CONF_IMPORT_ENTITY: "sensor.grid_import",
            CONF_EXPORT_ENTITY: "sensor.grid_export",
        },
        subentries_data=[
            {
                "subentry_type": SUBENTRY_SOLAR,
                "title": "Solar",
                "unique_id": solar.id,
                "data": {
                    CONF_NAME: "Solar",
                    CONF_ENERGY_ENTITY: "sensor.solar_energy",
                    CONF_DEVICE_ID: solar.id,
                },
            },
            {
                "subentry_type": SUBENTRY_APPLIANCE,
                "title": "Heat pump",
                "unique_id": heat_pump.id,
                "data": {
                    CONF_NAME: "Heat pump",
                    CONF_ENERGY_ENTITY: "sensor.heat_pump_energy",
                    CONF_DEVICE_ID: heat_pump.id,
                },
            },
        ],
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    await _measure(hass, info, entry.entry_id, days, now)


async def _measure(
    hass: HomeAssistant, info: SandboxInfo, entry_id: str, days: int, now: datetime
) -> None:
    """Run the backfill of `days` while measuring; print the BENCH line."""
    storage_dir = tempfile.mkdtemp()
    hass.config.config_dir = storage_dir
    patcher = patch.object(Store, "_async_write_data", _REAL_WRITE)
    patcher.start()
    puts_before = _meter_puts(info)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    ticker = Ticker()
    # The test harness runs the loop in asyncio debug mode, which captures a stack
    # trace for every callback and task and so adds long blocks of its own; Home
    # Assistant runs without it. FLATPEAK_BENCH_DEBUG keeps it on to name the
    # callbacks that block the loop (asyncio logs those slower than 30 ms).
    loop = asyncio.get_running_loop()
    loop.set_debug(bool(os.environ.get("FLATPEAK_BENCH_DEBUG")))
    loop.slow_callback_duration = 0.03
    # Importing a year of statistics just now left a full collection due: the
    # first objects anything promotes would start it. Collecting first measures
    # the collections the backfill itself causes (FLATPEAK_BENCH_NO_PRECOLLECT=1
    # shows the other case).
    if not os.environ.get(NO_PRECOLLECT_ENV):
        gc.collect()
    oldest = len(gc.get_objects(OLDEST))
    promotions = Promotions()
    promotions.start()
    gc_timer = GcTimer()
    gc_timer.start()
    ticker.start()
    started = time.perf_counter()
    response = await hass.services.async_call(
        DOMAIN,
        "backfill",
        {"config_entry_id": entry_id, "start": (now - timedelta(days=days))},
        blocking=True,
        return_response=True,
    )
    elapsed = time.perf_counter() - started
    # Then the cost refresh that the accepted records bring on: the cost statistics
    # rewritten from the oldest hour the backfill touched.
    entry = hass.config_entries.async_get_entry(entry_id)
    assert entry is not None
    started = time.perf_counter()
    await entry.runtime_data.costs.async_refresh()
    await async_wait_recording_done(hass)
    statistics_elapsed = time.perf_counter() - started
    ticker.stop()
    gc_timer.stop()
    promotions.stop()
    patcher.stop()
    assert response is not None
    records = int(str(response["records_queued"]))
    puts = _meter_puts(info) - puts_before
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert puts == math.ceil(records / 10_000)
    print(  # noqa: T201
        f"\nBENCH days={days} streams={len(STREAMS)} records={records} "
        f"seconds={elapsed:.2f} records_per_s={records / elapsed:.0f} "
        f"meter_puts={puts} puts_per_1000={1000 * puts / max(records, 1):.3f} "
        f"longest_loop_block_ms={ticker.worst * 1000:.1f} "
        f"longest_gc_ms={gc_timer.worst * 1000:.1f} "
        f"full_gcs={gc_timer.full} oldest_generation_objects={oldest} "
        f"longest_block_without_gc_ms="
        f"{ticker.worst_outside(gc_timer.pauses) * 1000:.1f} "
        f"peak_rss_mb={peak / 1024:.0f} rss_growth_mb={(peak - rss_before) / 1024:.0f}"
    )
    hours, mismatched = await _check_statistics(hass, info, now)
    print(  # noqa: T201
        f"BENCH days={days} statistics_seconds={statistics_elapsed:.2f} "
        f"statistics_hours={hours} hours_unlike_flatpeak={mismatched}"
    )


async def _check_statistics(
    hass: HomeAssistant, info: SandboxInfo, now: datetime
) -> tuple[int, int]:
    """Compare each hour of the import cost statistic with the records' own costs.

    The expected cost of an hour is summed from the records the sandbox stores,
    priced with the sandbox's tariff (not from what the integration was told).
    Returns the number of hours written and of hours that differ by > 1e-6.
    """
    from homeassistant.components.recorder.statistics import (
        statistics_during_period,
    )
    from homeassistant.helpers.recorder import get_instance

    from custom_components.flatpeak.api import TariffDirection
    from custom_components.flatpeak.statistics import floor_hour, statistic_id
    from dev.harness import request
    from flatpeak_sandbox import Tariff
    from flatpeak_sandbox.tariff import energy_cost

    tariff = Tariff.demo_uk()
    expected: dict[datetime, float] = {}
    records = request("GET", f"{info.url}/_sandbox/records", timeout=60)["data"]
    for item in records:
        if item.get("device_id") or item["tariff_direction"] != "IMPORT":
            continue
        start = dt_util.parse_datetime(item["start_time"])
        end = dt_util.parse_datetime(item["end_time"])
        assert start is not None
        assert end is not None
        hour = floor_hour(start)
        cost = energy_cost(tariff, "IMPORT", start, end, item["energy_wh"])
        expected[hour] = expected.get(hour, 0.0) + cost
    stat_id = statistic_id(info.location_id, TariffDirection.IMPORT)
    first = min(expected)
    rows = await get_instance(hass).async_add_executor_job(
        statistics_during_period,
        hass,
        first,
        floor_hour(now),
        {stat_id},
        "hour",
        None,
        {"change"},
    )
    written = {
        dt_util.utc_from_timestamp(float(row["start"])): float(row["change"] or 0)
        for row in rows.get(stat_id, [])
    }
    complete = {hour for hour in expected if hour < floor_hour(now)}
    mismatched = sum(
        1
        for hour in complete | written.keys()
        if abs(written.get(hour, 0.0) - expected.get(hour, 0.0)) > 1e-6  # noqa: PLR2004
    )
    return len(written), mismatched


def _meter_puts(info: SandboxInfo) -> int:
    from dev.harness import request

    log = request("GET", f"{info.url}/_sandbox/requests", timeout=30)
    items = log["data"]
    return sum(
        1
        for item in items
        if item.get("method") == "PUT" and item.get("path") == "/meters/interval"
    )
