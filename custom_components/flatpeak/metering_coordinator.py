"""Metering: Home Assistant energy statistics → Flatpeak interval records, nothing lost.

One cycle (as soon as the recorder has compiled the statistics that close an interval,
every 5 minutes in any case, and after a backfill):
1. For each stream, the intervals closed since its high-water mark are computed from
   recorder statistics (pure maths on an executor thread) and queued in the persisted
   outbox together with the new high-water mark, in one save.
2. The outbox is sent oldest first, at most 10,000 records per `PUT /meters/interval`,
   all streams together. Records are marked in flight (saved) before each call and
   leave the outbox only when Flatpeak answered for them.

Faults: 5xx, timeouts and broken answers are ambiguous (Flatpeak may have stored the
records). The records stay in flight and the next cycles back off exponentially
(30 s doubling to 30 min, ±20 % jitter). Before in-flight records are sent again,
Flatpeak is asked which of them it holds (`interval_cost` without aggregation lists
one row per stored record with its `record_reference_id`); those count as accepted.
Only when that check fails are the identical records sent again. 429 waits
`Retry-After` (60 s when absent); 403 starts reauth; 422 `pending_connect` or
`no_tariff_connected` raises a repair issue and retries every 15 minutes.
`UpdateFailed(retry_after=)` only exists from HA 2025.12, so the wait is applied
through `update_interval`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from functools import partial
from typing import TYPE_CHECKING

from homeassistant.const import EVENT_RECORDER_5MIN_STATISTICS_GENERATED
from homeassistant.core import CALLBACK_TYPE, Event, HassJob, callback
from homeassistant.exceptions import (
    ConfigEntryAuthFailed,
    HomeAssistantError,
)
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_call_later
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util
from sqlalchemy.exc import SQLAlchemyError

from .api import (
    MAX_RECORDS_PER_REQUEST,
    FlatpeakApiError,
    FlatpeakAuthError,
    FlatpeakError,
    FlatpeakRateLimitError,
    MeterRecord,
    SubmissionResult,
    TariffDirection,
)
from .backoff import next_delay
from .const import (
    CONF_DEVICE_ID,
    CONF_ENERGY_ENTITY,
    CONF_LOCATION_ID,
    CONF_SESSION_ENTITY,
    DOMAIN,
    LOGGER,
    SUBENTRY_APPLIANCE,
    SUBENTRY_EV_CHARGER,
    SUBENTRY_SOLAR,
    TARIFF_PENDING_RETRY,
)
from .coordinator import entry_grid_entities, entry_interval_minutes
from .metering import (
    GRID_EXPORT_KEY,
    GRID_IMPORT_KEY,
    MeteringWindow,
    StatisticRow,
    Stream,
    StreamKind,
    SumAnchor,
    align_down,
    build_records,
    compute_intervals,
)
from .outbox import CompletedSession, Outbox, subtract_spans
from .recorder_reader import (
    async_compiled_until,
    async_read_anchor,
    async_read_state_history,
    async_read_statistic_rows,
)
from .repairs import (
    async_clear_tariff_pending,
    async_raise_tariff_pending,
    tariff_pending_code,
)
from .sessions import (
    SessionAssignment,
    SessionMode,
    SessionState,
    assign_sessions,
    session_mode_for,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from homeassistant.core import HomeAssistant

    from .api import FlatpeakClient, Location
    from .coordinator import FlatpeakConfigEntry

CYCLE_INTERVAL = timedelta(minutes=5)
BACKLOG_INTERVAL = timedelta(seconds=10)
BACKOFF_BASE = 30.0
BACKOFF_CAP = 1800.0
BACKOFF_JITTER = 0.2
RATE_LIMIT_DEFAULT = 60.0
FIRST_REFRESH_LIMIT = MAX_RECORDS_PER_REQUEST
# A backfill computes this much history at a time (see `_async_backfill`).
BACKFILL_WINDOW = timedelta(days=30)
# The recorder compiles short-term statistics for each 5 minutes, at 10 s past.
STATISTICS_PERIOD_MINUTES = 5
# After the recorder's event, a cycle looks this long later (it commits after the
# event), up to this many times while the statistics are not there yet.
COMPILE_LOOK_DELAY = 2.0
COMPILE_LOOKS = 3

_SUBENTRY_KINDS = {
    SUBENTRY_SOLAR: StreamKind.SOLAR,
    SUBENTRY_EV_CHARGER: StreamKind.EV_CHARGER,
    SUBENTRY_APPLIANCE: StreamKind.APPLIANCE,
}


@dataclass(frozen=True, kw_only=True)
class MeteringStatus:
    """What the diagnostic sensors show about metering."""

    last_submission: datetime | None
    """Last time Flatpeak accepted records."""
    pending_records: int
    rejected_records: int
    last_error: str | None


@dataclass(frozen=True, slots=True)
class _StreamSource:
    stream: Stream
    session_entity: str | None = None


def _build(
    source: _StreamSource,
    window: MeteringWindow,
    mode: SessionMode | None,
    state: SessionState,
    history: Sequence[tuple[datetime, str]],
) -> tuple[list[MeterRecord], SessionAssignment | None]:
    """Build a window's records, with session ids for an EV charger (pure)."""
    stream = source.stream
    if mode is None or stream.device_id is None:
        return build_records(stream, window.intervals), None
    assignment = assign_sessions(
        window.intervals,
        mode=mode,
        device_key=stream.device_id,
        high_water=window.high_water,
        state=state,
        history=history,
    )
    return build_records(stream, window.intervals, assignment.session_ids), assignment


def _auth_failed_error() -> ConfigEntryAuthFailed:
    return ConfigEntryAuthFailed(
        translation_domain=DOMAIN, translation_key="auth_failed"
    )


class FlatpeakMeteringCoordinator(DataUpdateCoordinator[MeteringStatus]):
    """Sends the entry's metered energy to Flatpeak; its data is the status."""

    config_entry: FlatpeakConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: FlatpeakConfigEntry,
        client: FlatpeakClient,
        location: Location,
    ) -> None:
        """Describe the entry's streams; the outbox loads in the first refresh."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} metering",
            update_interval=CYCLE_INTERVAL,
        )
        self._client = client
        self._location = location
        self._interval_minutes = entry_interval_minutes(entry)
        self._sources = self._entry_sources(entry, location.id)
        self._outbox = Outbox(hass, entry.entry_id)
        self._loaded = False
        self._lock = asyncio.Lock()
        self._failures = 0
        self._hold_until: datetime | None = None
        self._hold_error: UpdateFailed | None = None
        self._last_error: str | None = None
        self._first_cycle = True
        # How far the recorder had compiled when the last cycle read statistics.
        self._compiled_seen: datetime | None = None
        self._auth_failed = False
        self._unsub_compiled_look: CALLBACK_TYPE | None = None

    @staticmethod
    def _entry_sources(
        entry: FlatpeakConfigEntry, location_id: str
    ) -> list[_StreamSource]:
        location_id = entry.data.get(CONF_LOCATION_ID, location_id)
        import_entity, export_entity = entry_grid_entities(entry)
        sources = [
            _StreamSource(
                Stream(
                    key=GRID_IMPORT_KEY,
                    kind=StreamKind.GRID_IMPORT,
                    entity_id=import_entity,
                    location_id=location_id,
                )
            )
        ]
        if export_entity:
            sources.append(
                _StreamSource(
                    Stream(
                        key=GRID_EXPORT_KEY,
                        kind=StreamKind.GRID_EXPORT,
                        entity_id=export_entity,
                        location_id=location_id,
                    )
                )
            )
        for subentry in entry.subentries.values():
            kind = _SUBENTRY_KINDS.get(subentry.subentry_type)
            device_id = subentry.data.get(CONF_DEVICE_ID)
            energy_entity = subentry.data.get(CONF_ENERGY_ENTITY)
            if kind is None or not device_id or not energy_entity:
                continue
            sources.append(
                _StreamSource(
                    Stream(
                        key=subentry.subentry_id,
                        kind=kind,
                        entity_id=energy_entity,
                        location_id=location_id,
                        device_id=device_id,
                    ),
                    subentry.data.get(CONF_SESSION_ENTITY) or None,
                )
            )
        return sources

    @property
    def streams(self) -> list[Stream]:
        """The streams this entry meters."""
        return [source.stream for source in self._sources]

    @callback
    def async_follow_recorder(self) -> CALLBACK_TYPE:
        """Run a cycle as soon as the recorder stored statistics the last one lacked.

        The 5-minute timer alone may run just before the recorder compiles (at
        10 s past each fifth minute), leaving a closed interval for 5 more minutes.
        The recorder announces a compile before it commits it, so the cycle looks a
        moment later, and again (`COMPILE_LOOKS` times) while it still reads the
        older statistics. Returns the function that stops following.
        """
        unsub_event = self.hass.bus.async_listen(
            EVENT_RECORDER_5MIN_STATISTICS_GENERATED, self._async_statistics_compiled
        )

        @callback
        def unsub() -> None:
            unsub_event()
            self._cancel_compiled_look()

        return unsub

    @callback
    def _async_statistics_compiled(self, _event: Event) -> None:
        if not self.last_update_success:
            return  # after a failure the back-off (or a reauth) says when
        self._cancel_compiled_look()
        self._look_for_compiled(
            align_down(dt_util.utcnow(), STATISTICS_PERIOD_MINUTES), COMPILE_LOOKS
        )

    @callback
    def _look_for_compiled(self, compiled: datetime, looks: int) -> None:
        """Run a cycle shortly unless the last one read statistics up to `compiled`."""
        if looks <= 0 or (
            self._compiled_seen is not None and self._compiled_seen >= compiled
        ):
            return

        async def _async_look(_now: datetime) -> None:
            self._unsub_compiled_look = None
            await self.async_request_refresh()
            self._look_for_compiled(compiled, looks - 1)

        self._unsub_compiled_look = async_call_later(
            self.hass,
            COMPILE_LOOK_DELAY,
            HassJob(_async_look, f"{DOMAIN} metering cycle", cancel_on_shutdown=True),
        )

    @callback
    def _cancel_compiled_look(self) -> None:
        if self._unsub_compiled_look is not None:
            self._unsub_compiled_look()
            self._unsub_compiled_look = None

    @property
    def outbox(self) -> Outbox:
        """The entry's persisted outbox (diagnostics read it)."""
        return self._outbox

    # Interface for the cost side.

    def completed_sessions(self) -> list[CompletedSession]:
        """Finished EV sessions whose records Flatpeak accepted, not yet reported."""
        unsent = self._outbox.pending_session_ids()
        return [
            item
            for item in self._outbox.completed_sessions
            if item.session.session_id not in unsent
        ]

    async def async_mark_session_reported(self, session_id: str) -> None:
        """Forget a finished session once its completion was reported."""
        await self._outbox.async_mark_session_reported(session_id)

    # The cycle.

    def _status(self) -> MeteringStatus:
        return MeteringStatus(
            last_submission=self._outbox.last_submission,
            pending_records=self._outbox.pending_count,
            rejected_records=len(self._outbox.failed),
            last_error=self._last_error,
        )

    async def _async_ensure_loaded(self) -> None:
        if self._loaded:
            return
        await self._outbox.async_load()
        self._loaded = True
        issue_id = self._issue_id("unreadable_records")
        if not (count := self._outbox.unreadable_count):
            ir.async_delete_issue(self.hass, DOMAIN, issue_id)
        else:
            LOGGER.warning(
                "%s stored meter records of %s are not readable; they are kept in "
                ".storage/%s.%s and not sent",
                count,
                self.config_entry.title,
                DOMAIN,
                self.config_entry.entry_id,
            )
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                issue_id,
                is_fixable=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key="unreadable_records",
                translation_placeholders={
                    "title": self.config_entry.title,
                    "count": str(count),
                    "file": f".storage/{DOMAIN}.{self.config_entry.entry_id}",
                },
            )

    async def _async_update_data(self) -> MeteringStatus:
        """Queue the newly closed intervals, then send what is pending."""
        async with self._lock:
            await self._async_ensure_loaded()
            try:
                await self._async_collect()
            except (SQLAlchemyError, HomeAssistantError) as err:
                raise UpdateFailed(
                    translation_domain=DOMAIN,
                    translation_key="recorder_error",
                    translation_placeholders={"error": str(err)},
                ) from err
            if self._auth_failed:
                # Refused credentials stay refused until reauth reloads the entry
                # (a cycle asked for meanwhile, e.g. by the recorder, sends nothing).
                raise _auth_failed_error()
            now = dt_util.utcnow()
            if self._hold_until is not None and now < self._hold_until:
                # A refresh asked for while Flatpeak said to wait: keep waiting.
                self.update_interval = self._hold_until - now
                assert self._hold_error is not None  # noqa: S101 - set with the hold
                raise self._hold_error
            limit = FIRST_REFRESH_LIMIT if self._first_cycle else None
            self._first_cycle = False
            try:
                await self._async_send(limit)
            except FlatpeakError as err:
                raise self._failure(err) from err
            self._failures = 0
            self._hold_until = self._hold_error = None
            self._last_error = None
            async_clear_tariff_pending(self.hass, self.config_entry)
            self.update_interval = (
                BACKLOG_INTERVAL if self._outbox.pending_count else CYCLE_INTERVAL
            )
            return self._status()

    def _failure(self, err: FlatpeakError) -> Exception:
        """Return what to raise for a failed send, and set when to try again."""
        self._last_error = str(err)
        if isinstance(err, FlatpeakAuthError):
            self._auth_failed = True
            return _auth_failed_error()
        if isinstance(err, FlatpeakRateLimitError):
            wait = err.retry_after if err.retry_after else RATE_LIMIT_DEFAULT
            return self._hold(
                timedelta(seconds=wait), "rate_limited", {"seconds": f"{wait:g}"}
            )
        if code := tariff_pending_code(err):
            async_raise_tariff_pending(self.hass, self.config_entry, code)
            return self._hold(TARIFF_PENDING_RETRY, "tariff_pending", {"code": code})
        self._failures += 1
        wait = next_delay(
            self._failures, base=BACKOFF_BASE, cap=BACKOFF_CAP, jitter=BACKOFF_JITTER
        )
        key = "api_error" if isinstance(err, FlatpeakApiError) else "metering_failed"
        return self._hold(timedelta(seconds=wait), key, {"error": str(err)})

    def _hold(
        self, wait: timedelta, key: str, placeholders: dict[str, str]
    ) -> UpdateFailed:
        self._hold_until = dt_util.utcnow() + wait
        self.update_interval = wait
        self._hold_error = UpdateFailed(
            translation_domain=DOMAIN,
            translation_key=key,
            translation_placeholders=placeholders,
        )
        return self._hold_error

    def _issue_id(self, kind: str, suffix: str = "") -> str:
        return f"{kind}_{self.config_entry.entry_id}{suffix}"

    # Computing intervals.

    async def _async_collect(self) -> None:
        compiled = await async_compiled_until(self.hass)
        if compiled is None:
            return
        self._compiled_seen = compiled
        for source in self._sources:
            self._check_source(source.stream)
            await self._async_collect_stream(source, compiled)

    def _check_source(self, stream: Stream) -> None:
        """Raise a repair issue while a source sensor is gone (and clear it after)."""
        issue_id = self._issue_id("source_missing", f"_{stream.key}")
        registry = er.async_get(self.hass)
        if (
            self.hass.states.get(stream.entity_id) is None
            and registry.async_get(stream.entity_id) is None
        ):
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                issue_id,
                is_fixable=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key="source_missing",
                translation_placeholders={
                    "entity_id": stream.entity_id,
                    "title": self.config_entry.title,
                },
            )
        else:
            ir.async_delete_issue(self.hass, DOMAIN, issue_id)

    def _day_start(self, now: datetime) -> datetime:
        """Return the start of `now`'s day in the location's timezone (UTC)."""
        zone: tzinfo = (
            self._location.timezone and dt_util.get_time_zone(self._location.timezone)
        ) or dt_util.get_default_time_zone()
        day = now.astimezone(zone).date()
        return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)

    async def _async_start(self, stream: Stream, compiled: datetime) -> datetime:
        """Return the stream's high-water mark, starting a new stream today."""
        high_water = self._outbox.high_water(stream.key)
        if high_water is not None:
            return high_water
        # A new stream starts at the start of the location's day, so that "today"
        # sensors are today's from the first cycle; older energy is for the backfill
        # action. A source whose statistics begin later starts with them.
        start = min(
            align_down(self._day_start(dt_util.utcnow()), self._interval_minutes),
            align_down(compiled, self._interval_minutes),
        )
        anchor = await async_read_anchor(self.hass, stream.entity_id, start)
        await self._outbox.async_enqueue(
            stream.key, [], high_water=start, anchor=anchor
        )
        return start

    async def _async_window(
        self,
        source: _StreamSource,
        start: datetime,
        end: datetime,
        anchor: SumAnchor | None,
        state: SessionState,
    ) -> tuple[MeteringWindow, list[MeterRecord], SessionAssignment | None]:
        """Compute the records of a stream's intervals in [start, end)."""
        stream = source.stream
        rows: list[StatisticRow] = await async_read_statistic_rows(
            self.hass, stream.entity_id, start, end
        )
        window: MeteringWindow = await self.hass.async_add_executor_job(
            partial(
                compute_intervals,
                rows,
                start=start,
                complete_until=end,
                interval_minutes=self._interval_minutes,
                anchor=anchor,
            )
        )
        mode = session_mode_for(source.session_entity) if stream.has_sessions else None
        history: list[tuple[datetime, str]] = []
        if (
            source.session_entity
            and mode is not None
            and mode is not SessionMode.ENERGY_GAP
            and window.high_water > start
        ):
            history = await async_read_state_history(
                self.hass, source.session_entity, start, window.high_water
            )
        records, assignment = await self.hass.async_add_executor_job(
            _build, source, window, mode, state, history
        )
        return window, records, assignment

    async def _async_collect_stream(
        self, source: _StreamSource, compiled: datetime
    ) -> None:
        stream = source.stream
        start = await self._async_start(stream, compiled)
        if align_down(compiled, self._interval_minutes) <= start:
            return
        anchor = self._outbox.anchor(stream.key) or await async_read_anchor(
            self.hass, stream.entity_id, start
        )
        window, records, assignment = await self._async_window(
            source, start, compiled, anchor, self._outbox.session_state(stream.key)
        )
        if window.high_water <= start:
            return
        await self._outbox.async_enqueue(
            stream.key,
            records,
            high_water=window.high_water,
            anchor=window.anchor,
            session_state=None if assignment is None else assignment.state,
            finished_sessions=() if assignment is None else assignment.finished,
            covered=(start, window.high_water),
        )

    # Sending.

    async def _async_send(self, limit: int | None) -> None:
        """Send pending records oldest first, one chunk of ≤10,000 per call."""
        if self._outbox.has_in_flight:
            await self._async_settle_in_flight()
        sent = 0
        while limit is None or sent < limit:
            chunk = await self._outbox.async_peek(MAX_RECORDS_PER_REQUEST)
            if not chunk:
                return
            await self._outbox.async_mark_in_flight(chunk)
            try:
                result = await self._client.submit_interval_records(chunk)
            except (FlatpeakAuthError, FlatpeakRateLimitError, FlatpeakApiError):
                # Flatpeak answered and stored nothing of this call.
                await self._outbox.async_clear_in_flight()
                raise
            await self._async_apply(result)
            sent += len(chunk)

    async def _async_settle_in_flight(self) -> None:
        """Count in-flight records Flatpeak already holds as accepted."""
        records = await self._outbox.async_in_flight()
        try:
            held = await self._async_held_by_flatpeak(records)
        except (FlatpeakAuthError, FlatpeakRateLimitError):
            raise
        except FlatpeakError as err:
            LOGGER.debug(
                "Could not ask Flatpeak which of %s records it holds (%s); "
                "sending them again unchanged",
                len(records),
                err,
            )
            await self._outbox.async_clear_in_flight()
            return
        accepted = [record for record in records if record.record_reference_id in held]
        LOGGER.debug(
            "Flatpeak already held %s of %s records sent without an answer",
            len(accepted),
            len(records),
        )
        if accepted:
            await self._outbox.async_mark_accepted(accepted, when=dt_util.utcnow())
        await self._outbox.async_clear_in_flight()

    async def _async_held_by_flatpeak(self, records: Sequence[MeterRecord]) -> set[str]:
        """Return the reference ids of `records` that Flatpeak has stored."""
        groups: dict[tuple[str, TariffDirection], list[MeterRecord]] = {}
        for record in records:
            owner = record.device_id or record.location_id
            groups.setdefault((owner, record.tariff_direction), []).append(record)
        held: set[str] = set()
        for (owner, direction), items in groups.items():
            cost = await self._client.interval_cost(
                owner,
                min(record.start_time for record in items),
                max(record.end_time for record in items),
                tariff_direction=direction,
            )
            held.update(
                row.record_reference_id for row in cost.rows if row.record_reference_id
            )
        return held

    async def _async_apply(self, result: SubmissionResult) -> None:
        if result.accepted:
            await self._outbox.async_mark_accepted(
                result.accepted, when=dt_util.utcnow()
            )
        if not result.failed:
            return
        await self._outbox.async_mark_failed(result.failed)
        first, error = result.failed[0]
        LOGGER.warning(
            "Flatpeak rejected %s meter records (first: %s: %s); they are kept aside "
            "and not sent again",
            len(result.failed),
            first.record_reference_id,
            error,
        )
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            self._issue_id("rejected_records"),
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key="rejected_records",
            translation_placeholders={
                "title": self.config_entry.title,
                "count": str(len(self._outbox.failed)),
                "error": error,
            },
        )

    # Backfill.

    async def async_backfill(self, start: datetime, end: datetime | None = None) -> int:
        """Queue the intervals in [start, end) never queued before, then send.

        Each stream is extended only where it has not been computed yet (before it
        started, or gaps of earlier backfills), up to its high-water mark: what was
        sent is never sent again. Returns the number of records queued. Raises
        HomeAssistantError when the recorder cannot be read or sending fails (the
        queued records stay in the outbox and are sent by later cycles).
        """
        queued = 0
        async with self._lock:
            await self._async_ensure_loaded()
            try:
                queued = await self._async_backfill(start, end)
            except (SQLAlchemyError, HomeAssistantError) as err:
                raise HomeAssistantError(
                    translation_domain=DOMAIN,
                    translation_key="recorder_error",
                    translation_placeholders={"error": str(err)},
                ) from err
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

    async def _async_backfill(self, start: datetime, end: datetime | None) -> int:
        """Queue the gaps window by window, sending each full chunk on the way.

        Time is the outer loop and streams the inner one, so records stay in time
        order across streams; a window's records join the outbox and every full
        10,000-record chunk leaves at once. The outbox so holds about one chunk
        plus one window instead of a year of records (memory, and garbage
        collections that stall the event loop), and the number of requests stays
        ceil(records / 10,000): the last partial chunk goes with the refresh.
        """
        compiled = await async_compiled_until(self.hass)
        if compiled is None:
            return 0
        span_start = align_down(start, 60)
        pieces: list[tuple[datetime, datetime, _StreamSource]] = []
        for source in self._sources:
            stream = source.stream
            high_water = await self._async_start(stream, compiled)
            span_end = high_water if end is None else min(high_water, end)
            span_end = align_down(span_end, self._interval_minutes)
            for gap_start, gap_end in subtract_spans(
                (span_start, span_end), self._outbox.covered(stream.key)
            ):
                cut = gap_start
                while cut < gap_end:
                    window_end = min(align_down(cut, 60) + BACKFILL_WINDOW, gap_end)
                    pieces.append((cut, window_end, source))
                    cut = window_end
        pieces.sort(key=lambda piece: piece[0])

        queued = 0
        # A piece continues from the sum its stream's previous piece ended with.
        anchors: dict[tuple[str, datetime], SumAnchor | None] = {}
        sending = True
        for piece_start, piece_end, source in pieces:
            stream = source.stream
            anchor = anchors.get((stream.key, piece_start))
            if anchor is None:
                anchor = await async_read_anchor(
                    self.hass, stream.entity_id, piece_start
                )
            window, records, _ = await self._async_window(
                source, piece_start, piece_end, anchor, SessionState()
            )
            anchors[stream.key, window.high_water] = window.anchor
            # Finished sessions of the past are not reported again as events.
            await self._outbox.async_enqueue(
                stream.key,
                records,
                high_water=None,
                covered=(piece_start, window.high_water),
            )
            queued += len(records)
            if sending:
                sending = await self._async_send_full_chunks()
        return queued

    async def _async_send_full_chunks(self) -> bool:
        """Send pending records while a whole chunk is waiting; False on failure.

        A failure is left for the refresh that follows the backfill to report (and
        to retry, with the usual backoff); queuing goes on meanwhile.
        """
        while self._outbox.pending_count >= MAX_RECORDS_PER_REQUEST:
            try:
                await self._async_send(MAX_RECORDS_PER_REQUEST)
            except FlatpeakError as err:
                LOGGER.debug("Backfill sending paused: %s", err)
                return False
        return True
