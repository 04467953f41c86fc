"""The persisted outbox of an entry: unsent records and each stream's high-water mark.

One `Store` file, `.storage/flatpeak.<entry_id>`, holds everything that must survive a
restart, so any save writes a consistent snapshot (HA writes it atomically):
- pending records, oldest interval first (all streams together, in send order);
- per stream: the high-water mark (end of the last interval computed and queued), the
  sum anchor that is the baseline of the next interval, and the EV session state;
- records Flatpeak rejected, with its error (kept aside, never resent automatically);
- finished EV sessions whose completion has not been reported yet.

Why nothing is lost and nothing is sent twice:
- `async_enqueue` stores the new records and advances the high-water mark in one save,
  before anything is sent. A crash before that save loses both together, and the same
  intervals are rebuilt from recorder statistics - identically, because energies and
  `record_reference_id`s are deterministic.
- A record leaves the outbox only in `async_mark_accepted`/`async_mark_failed`, saved
  at once after Flatpeak answered. The only window for a repeat is a crash between
  Flatpeak's answer and that save; the repeat is then the identical record with the
  identical `record_reference_id` (and the caller may resend after an ambiguous
  failure such as a timeout only in that same identical form).
- Records are marked *in flight* (saved) before they are sent and leave that mark
  only with Flatpeak's answer. Records still in flight after a timeout, a dropped
  answer or a restart may be stored at Flatpeak: the sender asks Flatpeak which of
  them it holds before sending them again.

Each stream also keeps the spans it has computed (`covered`), so that a backfill
only builds intervals that were never queued.

Large outboxes (a year of backfill is ~70,000 records) are parsed and serialised on
an executor thread: the event loop only takes a snapshot of the queue.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .api import MAX_RECORDS_PER_REQUEST, MeterRecord
from .const import DOMAIN
from .metering import SumAnchor
from .sessions import Session, SessionState

if TYPE_CHECKING:
    from collections.abc import Iterable

    from homeassistant.core import HomeAssistant

STORAGE_VERSION = 1
# Below this many pending records, serialising them on the loop is cheaper than a
# trip to the executor.
_INLINE_SERIALISE = 200


@dataclass(frozen=True, slots=True)
class FailedEntry:
    """A record Flatpeak rejected, with its error."""

    stream_key: str
    record: MeterRecord
    error: str
    time: datetime


@dataclass(frozen=True, slots=True)
class CompletedSession:
    """A finished EV session not yet reported (`flatpeak_session_completed`)."""

    stream_key: str
    session: Session


type Span = tuple[datetime, datetime]


@dataclass(slots=True)
class _StreamState:
    high_water: datetime | None = None
    anchor: SumAnchor | None = None
    sessions: SessionState | None = None
    covered: list[Span] = field(default_factory=list)


def merge_spans(spans: Iterable[Span]) -> list[Span]:
    """Return the union of `[start, end)` spans, sorted and merged."""
    merged: list[Span] = []
    for start, end in sorted(span for span in spans if span[0] < span[1]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def subtract_spans(span: Span, covered: Iterable[Span]) -> list[Span]:
    """Return the parts of `span` that no span in `covered` overlaps."""
    parts: list[Span] = []
    cursor, end = span
    for c_start, c_end in merge_spans(covered):
        if c_end <= cursor or c_start >= end:
            continue
        if c_start > cursor:
            parts.append((cursor, c_start))
        cursor = max(cursor, c_end)
    if cursor < end:
        parts.append((cursor, end))
    return parts


def _ref(record: MeterRecord) -> str:
    if record.record_reference_id is None:
        raise ValueError("outbox records need a record_reference_id")
    return record.record_reference_id


def _parse_pending(items: list[dict[str, Any]]) -> dict[str, tuple[str, MeterRecord]]:
    pending: dict[str, tuple[str, MeterRecord]] = {}
    for item in items:
        record = MeterRecord.from_dict(item["record"])
        pending[_ref(record)] = (item["stream"], record)
    return pending


def _pending_to_storage(
    snapshot: list[tuple[str, tuple[str, MeterRecord]]],
    cache: dict[str, dict[str, Any]],
) -> list[dict[str, Any]]:
    # Each stored item is built once and reused by every later save (a backfill
    # saves a large outbox a dozen times): fewer allocations, fewer collections.
    result: list[dict[str, Any]] = []
    for ref, (stream, record) in snapshot:
        item = cache.get(ref)
        if item is None:
            item = cache[ref] = {"stream": stream, "record": record.to_dict()}
        result.append(item)
    return result


class Outbox:
    """Persisted queue of meter records of one config entry."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """Create the outbox; call `async_load` before use."""
        self._store: Store[dict[str, Any]] = Store(
            hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}"
        )
        self._hass = hass
        # record_reference_id -> (stream key, record); kept ordered oldest first.
        self._pending: dict[str, tuple[str, MeterRecord]] = {}
        # record_reference_id -> its stored item, filled on the executor.
        self._dicts: dict[str, dict[str, Any]] = {}
        self._in_flight: set[str] = set()
        self._streams: dict[str, _StreamState] = {}
        self._failed: list[FailedEntry] = []
        self._completed: list[CompletedSession] = []
        self.last_submission: datetime | None = None

    async def async_load(self) -> None:
        """Load the stored state (an empty outbox when there is none)."""
        data = await self._store.async_load()
        if not data:
            return
        self._pending = await self._hass.async_add_executor_job(
            _parse_pending, data.get("pending", [])
        )
        self._in_flight = set(data.get("in_flight", [])) & self._pending.keys()
        last = data.get("last_submission")
        self.last_submission = None if last is None else datetime.fromisoformat(last)
        for key, item in data.get("streams", {}).items():
            high_water = item.get("high_water")
            anchor = item.get("anchor")
            self._streams[key] = _StreamState(
                high_water=None
                if high_water is None
                else datetime.fromisoformat(high_water),
                anchor=None if anchor is None else SumAnchor.from_dict(anchor),
                sessions=None
                if item.get("sessions") is None
                else SessionState.from_dict(item["sessions"]),
                covered=[
                    (datetime.fromisoformat(a), datetime.fromisoformat(b))
                    for a, b in item.get("covered", [])
                ],
            )
        self._failed = [
            FailedEntry(
                item["stream"],
                MeterRecord.from_dict(item["record"]),
                item["error"],
                datetime.fromisoformat(item["time"]),
            )
            for item in data.get("failed", [])
        ]
        self._completed = [
            CompletedSession(item["stream"], Session.from_dict(item["session"]))
            for item in data.get("completed_sessions", [])
        ]

    def _to_storage(self) -> dict[str, Any]:
        """Return everything but the pending records (see `_async_save`)."""
        return {
            "in_flight": sorted(self._in_flight),
            "last_submission": None
            if self.last_submission is None
            else self.last_submission.isoformat(),
            "streams": {
                key: {
                    "high_water": None
                    if state.high_water is None
                    else state.high_water.isoformat(),
                    "anchor": None if state.anchor is None else state.anchor.to_dict(),
                    "sessions": None
                    if state.sessions is None
                    else state.sessions.to_dict(),
                    "covered": [
                        [start.isoformat(), end.isoformat()]
                        for start, end in state.covered
                    ],
                }
                for key, state in self._streams.items()
            },
            "failed": [
                {
                    "stream": entry.stream_key,
                    "record": entry.record.to_dict(),
                    "error": entry.error,
                    "time": entry.time.isoformat(),
                }
                for entry in self._failed
            ],
            "completed_sessions": [
                {"stream": item.stream_key, "session": item.session.to_dict()}
                for item in self._completed
            ],
        }

    async def _async_save(self) -> None:
        data = self._to_storage()
        snapshot = list(self._pending.items())
        if len(snapshot) < _INLINE_SERIALISE:
            data["pending"] = _pending_to_storage(snapshot, self._dicts)
        else:
            data["pending"] = await self._hass.async_add_executor_job(
                _pending_to_storage, snapshot, self._dicts
            )
        await self._store.async_save(data)

    # Per-stream progress.

    def high_water(self, stream_key: str) -> datetime | None:
        """Return the end of the last interval queued for a stream (None: never)."""
        state = self._streams.get(stream_key)
        return None if state is None else state.high_water

    def anchor(self, stream_key: str) -> SumAnchor | None:
        """Return the statistics sum the stream's next interval starts from."""
        state = self._streams.get(stream_key)
        return None if state is None else state.anchor

    def covered(self, stream_key: str) -> list[Span]:
        """Return the spans whose intervals were computed and queued for a stream."""
        state = self._streams.get(stream_key)
        return [] if state is None else list(state.covered)

    def session_state(self, stream_key: str) -> SessionState:
        """Return the stream's persisted EV session state."""
        state = self._streams.get(stream_key)
        if state is None or state.sessions is None:
            return SessionState()
        return state.sessions

    async def async_enqueue(
        self,
        stream_key: str,
        records: Iterable[MeterRecord],
        *,
        high_water: datetime | None,
        anchor: SumAnchor | None = None,
        session_state: SessionState | None = None,
        finished_sessions: Iterable[Session] = (),
        covered: Span | None = None,
    ) -> None:
        """Queue a stream's new records and advance its progress, in one save.

        `high_water` never moves back (None leaves it, e.g. for a backfill). A record
        whose reference id is already pending is kept as it is, so what may already
        have reached Flatpeak is never altered. `covered` is the span the records
        were computed for (added to the stream's covered spans).
        """
        added = False
        for record in records:
            ref = _ref(record)
            if ref not in self._pending:
                self._pending[ref] = (stream_key, record)
                added = True
        if added:
            self._pending = dict(
                sorted(self._pending.items(), key=lambda item: item[1][1].start_time)
            )
        state = self._streams.setdefault(stream_key, _StreamState())
        if high_water is not None and (
            state.high_water is None or high_water >= state.high_water
        ):
            state.high_water = high_water
            state.anchor = anchor if anchor is not None else state.anchor
        if session_state is not None:
            state.sessions = session_state
        if covered is not None:
            state.covered = merge_spans([*state.covered, covered])
        self._completed.extend(
            CompletedSession(stream_key, session) for session in finished_sessions
        )
        await self._async_save()

    # Sending.

    def peek(self, max_records: int = MAX_RECORDS_PER_REQUEST) -> list[MeterRecord]:
        """Return up to `max_records` pending records, oldest interval first."""
        result: list[MeterRecord] = []
        for _stream, record in self._pending.values():
            if len(result) >= max_records:
                break
            result.append(record)
        return result

    @property
    def pending_count(self) -> int:
        """Number of records waiting to be sent."""
        return len(self._pending)

    def pending_records(self) -> list[tuple[str, MeterRecord]]:
        """Return every pending record with its stream key, oldest interval first."""
        return list(self._pending.values())

    @property
    def in_flight(self) -> list[MeterRecord]:
        """Pending records sent without an answer: Flatpeak may hold them."""
        return [
            item[1] for ref, item in self._pending.items() if ref in self._in_flight
        ]

    async def async_mark_in_flight(self, records: Iterable[MeterRecord]) -> None:
        """Note (and save) that records are about to be sent."""
        self._in_flight.update(_ref(record) for record in records)
        await self._async_save()

    async def async_clear_in_flight(self) -> None:
        """Forget the in-flight mark: Flatpeak answered that it stored nothing."""
        if self._in_flight:
            self._in_flight.clear()
            await self._async_save()

    async def async_mark_accepted(
        self, records: Iterable[MeterRecord], *, when: datetime | None = None
    ) -> None:
        """Drop records Flatpeak accepted and save at once."""
        for record in records:
            ref = _ref(record)
            self._pending.pop(ref, None)
            self._dicts.pop(ref, None)
            self._in_flight.discard(ref)
        if when is not None:
            self.last_submission = when
        await self._async_save()

    async def async_mark_failed(
        self, failures: Iterable[tuple[MeterRecord, str]]
    ) -> None:
        """Move records Flatpeak rejected aside with their error and save at once."""
        now = dt_util.utcnow()
        for record, error in failures:
            ref = _ref(record)
            self._dicts.pop(ref, None)
            self._in_flight.discard(ref)
            item = self._pending.pop(ref, None)
            stream_key = item[0] if item is not None else ""
            self._failed.append(FailedEntry(stream_key, record, error, now))
        await self._async_save()

    @property
    def failed(self) -> list[FailedEntry]:
        """Records Flatpeak rejected, oldest first."""
        return list(self._failed)

    async def async_clear_failed(self) -> list[FailedEntry]:
        """Forget the rejected records (after the user saw them); return them."""
        cleared, self._failed = self._failed, []
        await self._async_save()
        return cleared

    # EV sessions.

    @property
    def completed_sessions(self) -> list[CompletedSession]:
        """Finished sessions whose completion has not been reported yet."""
        return list(self._completed)

    async def async_mark_session_reported(self, session_id: str) -> None:
        """Forget a finished session once its completion was reported."""
        self._completed = [
            item for item in self._completed if item.session.session_id != session_id
        ]
        await self._async_save()

    # Lifecycle.

    async def async_remove_stream(self, stream_key: str) -> None:
        """Forget everything of a stream (its subentry was removed)."""
        self._pending = {
            ref: item for ref, item in self._pending.items() if item[0] != stream_key
        }
        self._in_flight &= self._pending.keys()
        self._streams.pop(stream_key, None)
        self._failed = [e for e in self._failed if e.stream_key != stream_key]
        self._completed = [c for c in self._completed if c.stream_key != stream_key]
        await self._async_save()

    async def async_remove(self) -> None:
        """Delete the stored file (the config entry was removed)."""
        self._pending.clear()
        self._dicts.clear()
        self._in_flight.clear()
        self._streams.clear()
        self._failed.clear()
        self._completed.clear()
        await self._store.async_remove()

    def diagnostics(self) -> dict[str, Any]:
        """Return a snapshot for diagnostics (no secrets in here)."""
        oldest = next(iter(self._pending.values()), None)
        stored = self._to_storage()
        return {
            "pending_count": len(self._pending),
            "in_flight_count": len(self._in_flight),
            "last_submission": stored["last_submission"],
            "oldest_pending": None if oldest is None else oldest[1].to_dict(),
            "streams": stored["streams"],
            "failed": stored["failed"],
            "completed_sessions": stored["completed_sessions"],
        }
