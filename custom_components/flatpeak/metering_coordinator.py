"""The metering coordinator: a cycle collects closed intervals and sends them.

A cycle (as soon as the recorder has compiled the statistics that close an interval,
every 5 minutes in any case, every 10 s while a backlog remains): each stream's
intervals closed since its high-water mark are queued (`collect.py`), then the outbox
is sent (`sender.py`). Flatpeak's errors go through the one map (`helpers.py`): 403
starts reauth and stays refused until then; 429 and a pending tariff are a wait
Flatpeak asked for, saved so that a restart keeps it; anything else backs off
(30 s doubling to 30 min, with jitter). The data is the status the diagnostic
sensors and the cost side read.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Final

from homeassistant.const import EVENT_RECORDER_5MIN_STATISTICS_GENERATED
from homeassistant.core import CALLBACK_TYPE, Event, HassJob, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.event import async_call_later
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util
from sqlalchemy.exc import SQLAlchemyError

from . import issues
from .api import MAX_RECORDS_PER_REQUEST, FlatpeakError
from .backfill import async_backfill
from .collect import Collector
from .const import DOMAIN, LOGGER
from .helpers import (
    FailureKind,
    Retry,
    failure_of,
    flatpeak_failure,
    hold_failure,
    update_failed,
)
from .metering import align_down
from .recorder_reader import async_compiled_until
from .sender import Sender, SendReport
from .streams import entry_streams

if TYPE_CHECKING:
    from homeassistant.config_entries import ConfigEntry

    from .api import FlatpeakClient, TariffDirection
    from .metering import Stream
    from .outbox import Outbox
    from .outbox_store import BackfillSpan

CYCLE_INTERVAL: Final = timedelta(minutes=5)
BACKLOG_INTERVAL: Final = timedelta(seconds=10)
BACKOFF_BASE: Final = 30.0
# The first cycle of a setup sends one chunk; the rest follows every 10 s.
FIRST_REFRESH_LIMIT: Final = MAX_RECORDS_PER_REQUEST
# The recorder compiles short-term statistics for each 5 minutes, at 10 s past.
STATISTICS_PERIOD_MINUTES: Final = 5
# After the recorder's event, a cycle looks this long later (it commits after the
# event), up to this many times while the statistics are not there yet.
COMPILE_LOOK_DELAY: Final = 2.0
COMPILE_LOOKS: Final = 3


@dataclass(frozen=True, kw_only=True)
class MeteringStatus:
    """What the diagnostic sensors and the cost side read of metering."""

    last_submission: datetime | None
    """Last time Flatpeak accepted records."""
    pending_records: int
    rejected_records: int
    last_error: str | None
    changed: frozenset[tuple[str, TariffDirection]] = frozenset()
    """(owner, direction) whose costs the last cycle's accepted records changed."""


class FlatpeakMeteringCoordinator(DataUpdateCoordinator[MeteringStatus]):
    """Sends the entry's metered energy to Flatpeak; its data is the status."""

    config_entry: ConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        *,
        client: FlatpeakClient,
        outbox: Outbox,
        timezone: tzinfo,
        interval_minutes: int,
    ) -> None:
        """Meter the entry's streams into `outbox` (loaded by the caller)."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} metering",
            update_interval=CYCLE_INTERVAL,
        )
        self.outbox = outbox
        self.streams: list[Stream] = entry_streams(entry)
        self._collector = Collector(
            hass, outbox, interval_minutes=interval_minutes, timezone=timezone
        )
        self._sender = Sender(outbox, client, dt_util.utcnow)
        self._lock = asyncio.Lock()
        self._retry = Retry(BACKOFF_BASE)
        self._auth_failed = False
        self._first_cycle = True
        self._last_error: str | None = None
        self._compiled_seen: datetime | None = None
        self._unsub_look: CALLBACK_TYPE | None = None
        self._resuming: asyncio.Task[None] | None = None

    # The cycle.

    async def _async_update_data(self) -> MeteringStatus:
        """Queue the newly closed intervals, then send what is pending."""
        async with self._lock:
            if self._auth_failed:
                # Refused credentials stay refused until reauth reloads the entry.
                raise update_failed(failure_of(FailureKind.AUTH))
            now = dt_util.utcnow()
            hold = self.outbox.hold
            if hold is not None and now < hold.until:
                self.update_interval = hold.until - now
                raise hold_failure(hold, now)
            await self._async_collect(now)
            limit = FIRST_REFRESH_LIMIT if self._first_cycle else None
            self._first_cycle = False
            try:
                report = await self._sender.async_send(limit)
            except FlatpeakError as err:
                raise await self._async_failed(err) from err
        await self._async_succeeded(report)
        return self._status(report)

    async def _async_collect(self, now: datetime) -> None:
        """Queue what the recorder compiled since each stream's high-water mark."""
        entities = {
            source.entity_id
            for stream in self.streams
            for source in self.outbox.progress(stream.key).sources
        } | {stream.entity_id for stream in self.streams}
        try:
            compiled = await async_compiled_until(self.hass, entities)
            if compiled is None:
                return
            self._compiled_seen = compiled
            for stream in self.streams:
                issues.async_check_source(self.hass, self.config_entry, stream)
                await self._collector.async_sync_sources(stream, now)
                await self._collector.async_collect(stream, compiled)
        except (SQLAlchemyError, HomeAssistantError) as err:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="recorder_error",
                translation_placeholders={"error": str(err)},
            ) from err

    async def _async_failed(self, err: FlatpeakError) -> Exception:
        """Return what to raise for a failed send, and set when to try again."""
        failure = flatpeak_failure(err)
        self._last_error = str(err)
        wait, hold = self._retry.failed(
            self.hass, self.config_entry, failure, dt_util.utcnow()
        )
        if wait is None:
            self._auth_failed = True
        else:
            self.update_interval = wait
        if hold is not None:
            await self.outbox.async_set_hold(hold)
        return update_failed(failure)

    async def _async_succeeded(self, report: SendReport) -> None:
        self._retry.succeeded(self.hass, self.config_entry, answered=report.calls > 0)
        self._last_error = None
        await self.outbox.async_set_hold(None)
        if report.rejected:
            issues.async_raise_rejected(
                self.hass, self.config_entry, self.outbox, report.rejected[0][1]
            )
        self.update_interval = (
            BACKLOG_INTERVAL if self.outbox.pending_count else CYCLE_INTERVAL
        )
        if self.outbox.backfills and (self._resuming is None or self._resuming.done()):
            # A backfill a restart interrupted goes on by itself.
            self._resuming = self.config_entry.async_create_background_task(
                self.hass, self._async_resume_backfills(), f"{DOMAIN} backfill"
            )

    def _status(self, report: SendReport | None = None) -> MeteringStatus:
        return MeteringStatus(
            last_submission=self.outbox.last_submission,
            pending_records=self.outbox.pending_count,
            rejected_records=len(self.outbox.failed),
            last_error=self._last_error,
            changed=frozenset(report.owners) if report else frozenset(),
        )

    async def async_set_streams(self, streams: list[Stream]) -> None:
        """Meter `streams` from now on (a device was added, changed or removed).

        A new source sensor takes over from the statistics period it was chosen in.
        """
        async with self._lock:
            self.streams = streams
            now = dt_util.utcnow()
            for stream in streams:
                await self._collector.async_sync_sources(stream, now)

    async def async_retry_now(self) -> None:
        """Forget Flatpeak's wait and run a cycle (the user says it is ready)."""
        await self.outbox.async_set_hold(None)
        self._retry.failures = 0
        await self.async_refresh()

    # Following the recorder.

    @callback
    def async_follow_recorder(self) -> CALLBACK_TYPE:
        """Run a cycle as soon as the recorder stored statistics the last one lacked.

        The 5-minute timer alone may run just before the recorder compiles (at 10 s
        past each fifth minute), leaving a closed interval for 5 more minutes. The
        recorder announces a compile before it commits it, so the cycle looks a
        moment later, and again while it still reads the older statistics.
        """
        unsub_event = self.hass.bus.async_listen(
            EVENT_RECORDER_5MIN_STATISTICS_GENERATED, self._async_statistics_compiled
        )

        @callback
        def unsub() -> None:
            unsub_event()
            self._cancel_look()

        return unsub

    @callback
    def _async_statistics_compiled(self, _event: Event) -> None:
        if not self.last_update_success:
            return  # after a failure the back-off (or a reauth) says when
        self._cancel_look()
        compiled = align_down(dt_util.utcnow(), STATISTICS_PERIOD_MINUTES)
        self._look_for(compiled, COMPILE_LOOKS)

    @callback
    def _look_for(self, compiled: datetime, looks: int) -> None:
        """Run a cycle shortly unless the last one read statistics up to `compiled`."""
        if looks <= 0 or (
            self._compiled_seen is not None and self._compiled_seen >= compiled
        ):
            return

        async def _async_look(_now: datetime) -> None:
            self._unsub_look = None
            await self.async_request_refresh()
            self._look_for(compiled, looks - 1)

        self._unsub_look = async_call_later(
            self.hass,
            COMPILE_LOOK_DELAY,
            HassJob(_async_look, f"{DOMAIN} metering cycle", cancel_on_shutdown=True),
        )

    @callback
    def _cancel_look(self) -> None:
        if self._unsub_look is not None:
            self._unsub_look()
            self._unsub_look = None

    # Backfill.

    async def async_backfill(self, start: datetime, end: datetime | None) -> int:
        """Queue the intervals in [start, end) never queued before, then send.

        The span is saved first, so a restart resumes it. Raises HomeAssistantError
        when the recorder cannot be read or sending fails (the queued records stay
        in the outbox and are sent by later cycles).
        """
        span: BackfillSpan = (start, end)
        await self.outbox.async_add_backfill(span)
        async with self._lock:
            queued = await self._async_backfill(span)
        await self.async_refresh()
        if not self.last_update_success:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="backfill_send_failed",
                translation_placeholders={
                    "count": str(queued),
                    "error": self._last_error or "",
                },
            )
        return queued

    async def _async_backfill(self, span: BackfillSpan) -> int:
        try:
            compiled = await async_compiled_until(
                self.hass, {stream.entity_id for stream in self.streams}
            )
            if compiled is None or span not in self.outbox.backfills:
                return 0
            return await async_backfill(
                self._collector, self._sender, self.outbox, self.streams, span, compiled
            )
        except (SQLAlchemyError, HomeAssistantError) as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="recorder_error",
                translation_placeholders={"error": str(err)},
            ) from err

    async def _async_resume_backfills(self) -> None:
        for span in self.outbox.backfills:
            LOGGER.debug("Resuming the backfill from %s", span[0])
            async with self._lock:
                await self._async_backfill(span)
        await self.async_request_refresh()
