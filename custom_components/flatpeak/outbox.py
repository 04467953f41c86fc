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

A pending record is kept as its stored item (see `_Item`), which the garbage
collector does not track; converting records to and from that form for more than a
few hundred at a time runs on an executor thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice, pairwise
from typing import TYPE_CHECKING, Any

from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .api import (
    MAX_RECORDS_PER_REQUEST,
    EnergyFlowDirection,
    FlatpeakResponseError,
    MeterRecord,
    TariffDirection,
    Units,
)
from .const import DOMAIN
from .metering import SumAnchor
from .sessions import Session, SessionState

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from homeassistant.core import HomeAssistant

STORAGE_VERSION = 1
STORAGE_MINOR_VERSION = 2
# Below this many records, converting them on the loop is cheaper than a trip to
# the executor (a record takes ~10 us each way).
_INLINE_CONVERT = 200


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


# A pending record is kept as its stored item: the record's JSON object (exactly
# what `PUT /meters/interval` receives) plus its stream key. Such a dict holds only
# strings and numbers, so CPython's garbage collector does not track it: a year of
# backfill waiting in the outbox adds nothing to the collections that pause the
# event loop (a dataclass per record would be tracked, and promoted to the oldest
# generation while it waits, until that triggers a full collection of the whole
# process). Saving is a list of these items; `MeterRecord`s are built only for the
# records being sent.
type _Item = dict[str, Any]
_STREAM = "stream"


def _to_item(stream_key: str, record: MeterRecord) -> _Item:
    """Return the stored item of a record (its `record_reference_id` is checked)."""
    item = record.to_dict()
    item[_STREAM] = stream_key
    return item


def _to_items(stream_key: str, records: Iterable[MeterRecord]) -> list[_Item]:
    return [_to_item(stream_key, record) for record in records]


def _to_record(item: _Item) -> MeterRecord:
    """Return the record of a stored item (checked when it was enqueued or loaded)."""
    return MeterRecord(
        location_id=item["location_id"],
        start_time=datetime.fromisoformat(item["start_time"]),
        end_time=datetime.fromisoformat(item["end_time"]),
        value=item["value"],
        units=Units(item["units"]),
        energy_flow_direction=EnergyFlowDirection(item["energy_flow_direction"]),
        tariff_direction=TariffDirection(item["tariff_direction"]),
        device_id=item.get("device_id"),
        session_reference_id=item.get("session_reference_id"),
        record_reference_id=item["record_reference_id"],
        confidence=item.get("confidence"),
    )


def _to_records(items: list[_Item]) -> list[MeterRecord]:
    return [_to_record(item) for item in items]


def _parse_pending(items: list[Any]) -> tuple[dict[str, _Item], list[Any]]:
    """Check stored items and key them; return those that are not records apart.

    `MeterRecord.from_dict` names what is wrong with an item (edited or damaged
    file); such items are kept as they are, never sent, and stay in the file.
    """
    pending: dict[str, _Item] = {}
    unreadable: list[Any] = []
    for item in items:
        try:
            stream = item[_STREAM]
            fields = {key: value for key, value in item.items() if key != _STREAM}
            record = MeterRecord.from_dict(fields)
            pending[_ref(record)] = _to_item(stream, record)
        except (FlatpeakResponseError, ValueError, TypeError, KeyError, AttributeError):
            unreadable.append(item)
    return pending, unreadable


def _start(item: tuple[str, _Item]) -> datetime:
    return datetime.fromisoformat(item[1]["start_time"])


class _OutboxStore(Store[dict[str, Any]]):
    """The outbox's Store, migrating older layouts of the file."""

    async def _async_migrate_func(
        self, old_major_version: int, old_minor_version: int, old_data: dict[str, Any]
    ) -> dict[str, Any]:
        if old_major_version > STORAGE_VERSION:
            raise NotImplementedError
        if old_minor_version < 2:  # noqa: PLR2004 - the version that flattened items
            # 1.1 nested each pending record: {"stream": ..., "record": {...}}.
            old_data["pending"] = [
                {**item["record"], _STREAM: item["stream"]}
                for item in old_data.get("pending", [])
            ]
        return old_data


class Outbox:
    """Persisted queue of meter records of one config entry."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """Create the outbox; call `async_load` before use."""
        self._store = _OutboxStore(
            hass,
            STORAGE_VERSION,
            f"{DOMAIN}.{entry_id}",
            minor_version=STORAGE_MINOR_VERSION,
        )
        self._hass = hass
        # record_reference_id -> stored item; kept ordered oldest interval first.
        self._pending: dict[str, _Item] = {}
        # Stored items that are not meter records: kept in the file, never sent.
        self._unreadable: list[Any] = []
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
        # Items set aside earlier are read again: they may have been mended.
        set_aside = data.get("unreadable", [])
        self._pending, self._unreadable = await self._hass.async_add_executor_job(
            _parse_pending, [*data.get("pending", []), *set_aside]
        )
        if set_aside:
            self._pending = dict(sorted(self._pending.items(), key=_start))
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
        data["pending"] = list(self._pending.values())
        if self._unreadable:
            data["unreadable"] = self._unreadable
        await self._store.async_save(data)

    async def _async_run[T, *Ts](
        self, size: int, func: Callable[[*Ts], T], *args: *Ts
    ) -> T:
        """Run `func` here when `size` is small, else on the executor."""
        if size < _INLINE_CONVERT:
            return func(*args)
        return await self._hass.async_add_executor_job(func, *args)

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
        new = [record for record in records if _ref(record) not in self._pending]
        if new:
            items = await self._async_run(len(new), _to_items, stream_key, new)
            last = next(reversed(self._pending.values()), None)
            for item in items:
                self._pending.setdefault(item["record_reference_id"], item)
            starts = [record.start_time for record in new]
            if any(a > b for a, b in pairwise(starts)) or (
                last is not None
                and starts[0] < datetime.fromisoformat(last["start_time"])
            ):
                self._pending = dict(sorted(self._pending.items(), key=_start))
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

    async def async_peek(
        self, max_records: int = MAX_RECORDS_PER_REQUEST
    ) -> list[MeterRecord]:
        """Return up to `max_records` pending records, oldest interval first."""
        items = list(islice(self._pending.values(), max_records))
        return await self._async_run(len(items), _to_records, items)

    @property
    def unreadable_count(self) -> int:
        """Number of stored items that are not meter records (set aside)."""
        return len(self._unreadable)

    @property
    def pending_count(self) -> int:
        """Number of records waiting to be sent."""
        return len(self._pending)

    def pending_session_ids(self) -> set[str]:
        """Return the EV session ids of the pending records."""
        return {
            session
            for item in self._pending.values()
            if (session := item.get("session_reference_id")) is not None
        }

    @property
    def has_in_flight(self) -> bool:
        """Whether records were sent without an answer (Flatpeak may hold them)."""
        return bool(self._in_flight)

    async def async_in_flight(self) -> list[MeterRecord]:
        """Return the pending records sent without an answer, oldest first."""
        items = [item for ref, item in self._pending.items() if ref in self._in_flight]
        return await self._async_run(len(items), _to_records, items)

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
            self._in_flight.discard(ref)
            item = self._pending.pop(ref, None)
            stream_key = item[_STREAM] if item is not None else ""
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
            ref: item
            for ref, item in self._pending.items()
            if item[_STREAM] != stream_key
        }
        self._in_flight &= self._pending.keys()
        self._streams.pop(stream_key, None)
        self._failed = [e for e in self._failed if e.stream_key != stream_key]
        self._completed = [c for c in self._completed if c.stream_key != stream_key]
        await self._async_save()

    async def async_remove(self) -> None:
        """Delete the stored file (the config entry was removed)."""
        self._pending.clear()
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
            "oldest_pending": None
            if oldest is None
            else {key: value for key, value in oldest.items() if key != _STREAM},
            "streams": stored["streams"],
            "failed": stored["failed"],
            "completed_sessions": stored["completed_sessions"],
        }
