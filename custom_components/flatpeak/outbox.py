"""The persisted outbox of an entry: unsent records and what each stream computed.

Everything that must survive a restart is in one file (`outbox_store.py`), so any
save writes a consistent snapshot (Home Assistant writes it atomically).

Why nothing is lost and nothing is sent twice:
- `async_enqueue` stores new records and advances the stream's progress in one save,
  before anything is sent. A crash before that save loses both together, and the
  same intervals are rebuilt from recorder statistics - identically, because
  energies and `record_reference_id`s are deterministic.
- Records are marked in flight (saved) before they are sent and leave the outbox
  only in `async_mark_accepted` / `async_mark_failed`, saved as soon as Flatpeak
  answered. Records in flight after a lost answer or a restart may be stored at
  Flatpeak: the sender asks Flatpeak which of them it holds before sending any again.
- A backfill's span is saved before it starts and dropped when it is done, so a
  restart resumes it.

A pending record is kept as its stored JSON text: strings are never tracked by
CPython's garbage collector (plain dicts are, from Python 3.14), so a year of
backfill waiting here adds nothing to the collections that pause the event loop.
A save hands the texts to the file as one pre-serialised JSON fragment.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from itertools import islice
from typing import TYPE_CHECKING, Any

from homeassistant.helpers.json import json_fragment
from homeassistant.util import dt as dt_util

from .api import MAX_RECORDS_PER_REQUEST, MeterRecord
from .outbox_store import (
    STREAM,
    CompletedSession,
    FailedEntry,
    Hold,
    OutboxStore,
    PendingBatch,
    Source,
    StreamProgress,
    failed_from_dict,
    failed_to_dict,
    hold_from_dict,
    hold_to_dict,
    parse_item,
    parse_pending,
    pending_batch,
    progress_from_dict,
    progress_to_dict,
    span_from_list,
    span_to_list,
)
from .sessions import Session, SessionState
from .spans import Span, merge_spans

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from homeassistant.core import HomeAssistant

    from .metering import SumAnchor

# Below this many records, converting them on the loop is cheaper than a trip to
# the executor (a record takes ~10 us each way).
_INLINE_CONVERT = 200

type BackfillSpan = tuple[datetime, datetime | None]


def _batch(stream_key: str, records: Iterable[MeterRecord]) -> PendingBatch:
    return pending_batch((stream_key, record) for record in records)


def _records(texts: list[str]) -> list[MeterRecord]:
    return [parse_item(json.loads(text))[1] for text in texts]


class Outbox:
    """Persisted queue of meter records of one config entry."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """Create the outbox; call `async_load` before use."""
        self._hass = hass
        self._store = OutboxStore(hass, entry_id)
        # record_reference_id -> stored JSON text, oldest interval first; beside
        # it the start (epoch), the stream and, for EV records, the session.
        self._pending: dict[str, str] = {}
        self._starts: dict[str, float] = {}
        self._stream_of: dict[str, str] = {}
        self._session_of: dict[str, str] = {}
        self._unreadable: list[Any] = []
        self._in_flight: set[str] = set()
        self._streams: dict[str, StreamProgress] = {}
        self._failed: list[FailedEntry] = []
        self._completed: list[CompletedSession] = []
        self._backfills: list[BackfillSpan] = []
        self._hold: Hold | None = None
        self.statistics_from: datetime | None = None
        """Start of the oldest record accepted since the statistics were written."""
        self.last_submission: datetime | None = None

    @property
    def key(self) -> str:
        """The storage key (`flatpeak.<entry_id>`)."""
        return self._store.key

    async def async_load(self) -> None:
        """Load the stored state (an empty outbox when there is none)."""
        data = await self._store.async_load_data()
        if not data:
            return
        # Items set aside earlier are read again: they may have been mended.
        pending, self._unreadable = await self._hass.async_add_executor_job(
            parse_pending, [*data.get("pending", []), *data.get("unreadable", [])]
        )
        self._add_texts(pending)
        self._in_flight = set(data.get("in_flight", [])) & self._pending.keys()
        self.last_submission = _time(data.get("last_submission"))
        self.statistics_from = _time(data.get("statistics_from"))
        self._streams = {
            key: progress_from_dict(item)
            for key, item in data.get("streams", {}).items()
        }
        self._failed = [failed_from_dict(item) for item in data.get("failed", [])]
        self._completed = [
            CompletedSession(item["stream"], Session.from_dict(item["session"]))
            for item in data.get("completed_sessions", [])
        ]
        self._backfills = [span_from_list(item) for item in data.get("backfills", [])]
        self._hold = hold_from_dict(data.get("hold"))

    def _add_texts(self, batch: PendingBatch) -> None:
        """Add records that are not pending yet, keeping the oldest first."""
        newest = next(reversed(self._pending), None)
        last = None if newest is None else self._starts[newest]
        in_order = True
        for ref, text, start, stream, session in zip(
            batch.refs,
            batch.texts,
            batch.starts,
            batch.streams,
            batch.sessions,
            strict=True,
        ):
            if ref in self._pending:
                continue
            if last is not None and start < last:
                in_order = False
            last = start
            self._pending[ref] = text
            self._starts[ref] = start
            self._stream_of[ref] = stream
            if session is not None:
                self._session_of[ref] = session
        if not in_order:
            order = sorted(self._pending, key=lambda ref: (self._starts[ref], ref))
            self._pending = {ref: self._pending[ref] for ref in order}

    def _to_storage(self) -> dict[str, Any]:
        """Return the file's content (the pending records as one fragment)."""
        data: dict[str, Any] = {
            "pending": json_fragment("[" + ",".join(self._pending.values()) + "]"),
            "in_flight": sorted(self._in_flight),
            "last_submission": _iso(self.last_submission),
            "statistics_from": _iso(self.statistics_from),
            "streams": {
                key: progress_to_dict(progress)
                for key, progress in self._streams.items()
            },
            "failed": [failed_to_dict(entry) for entry in self._failed],
            "completed_sessions": [
                {"stream": item.stream_key, "session": item.session.to_dict()}
                for item in self._completed
            ],
            "backfills": [span_to_list(span) for span in self._backfills],
            "hold": hold_to_dict(self._hold),
        }
        if self._unreadable:
            data["unreadable"] = self._unreadable
        return data

    async def _async_save(self) -> None:
        await self._store.async_save(self._to_storage())

    async def _async_run[T, *Ts](
        self, size: int, func: Callable[[*Ts], T], *args: *Ts
    ) -> T:
        """Run `func` here when `size` is small, else on the executor."""
        if size < _INLINE_CONVERT:
            return func(*args)
        return await self._hass.async_add_executor_job(func, *args)

    # Per-stream progress.

    def progress(self, stream_key: str) -> StreamProgress:
        """Return a stream's progress (empty for a stream never computed)."""
        return self._streams.get(stream_key) or StreamProgress()

    def high_water(self, stream_key: str) -> datetime | None:
        """Return the end of the last interval queued for a stream (None: never)."""
        return self.progress(stream_key).high_water

    def anchor(self, stream_key: str) -> SumAnchor | None:
        """Return the statistics sum the stream's next interval starts from."""
        return self.progress(stream_key).anchor

    def covered(self, stream_key: str) -> list[Span]:
        """Return the spans whose intervals were computed and queued for a stream."""
        return list(self.progress(stream_key).covered)

    def session_state(self, stream_key: str) -> SessionState:
        """Return the stream's persisted EV session state."""
        return self.progress(stream_key).sessions or SessionState()

    def stream_keys(self) -> set[str]:
        """Return the keys of every stream with stored progress or records."""
        return set(self._streams) | set(self._stream_of.values())

    async def async_set_sources(self, stream_key: str, sources: list[Source]) -> None:
        """Record the stream's source sensors (a swap adds one) and save."""
        self._streams.setdefault(stream_key, StreamProgress()).sources = list(sources)
        await self._async_save()

    async def async_enqueue(
        self,
        stream_key: str,
        records: Iterable[MeterRecord],
        *,
        high_water: datetime | None,
        anchor: SumAnchor | None = None,
        anchor_entity: str | None = None,
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
        new = [r for r in records if r.record_reference_id not in self._pending]
        if new:
            self._add_texts(await self._async_run(len(new), _batch, stream_key, new))
        progress = self._streams.setdefault(stream_key, StreamProgress())
        if high_water is not None and (
            progress.high_water is None or high_water >= progress.high_water
        ):
            progress.high_water = high_water
            if anchor is not None:
                progress.anchor = anchor
                progress.anchor_entity = anchor_entity
        if session_state is not None:
            progress.sessions = session_state
        if covered is not None:
            progress.covered = merge_spans([*progress.covered, covered])
        self._completed.extend(
            CompletedSession(stream_key, session) for session in finished_sessions
        )
        await self._async_save()

    # Backfills and holds (saved so that a restart picks them up).

    @property
    def backfills(self) -> list[BackfillSpan]:
        """Backfill spans asked for and not finished, oldest request first."""
        return list(self._backfills)

    async def async_add_backfill(self, span: BackfillSpan) -> None:
        """Remember a backfill until `async_finish_backfill`."""
        if span not in self._backfills:
            self._backfills.append(span)
            await self._async_save()

    async def async_finish_backfill(self, span: BackfillSpan) -> None:
        """Forget a finished backfill."""
        if span in self._backfills:
            self._backfills.remove(span)
            await self._async_save()

    @property
    def hold(self) -> Hold | None:
        """Flatpeak's last "not before", if any."""
        return self._hold

    async def async_set_hold(self, hold: Hold | None) -> None:
        """Remember (or clear) Flatpeak's "not before" across restarts."""
        if hold != self._hold:
            self._hold = hold
            await self._async_save()

    async def async_statistics_written(self, since: datetime | None) -> None:
        """Note that the statistics hold the costs of the records accepted so far."""
        if self.statistics_from != since:
            self.statistics_from = since
            await self._async_save()

    # Sending.

    async def async_peek(
        self, max_records: int = MAX_RECORDS_PER_REQUEST
    ) -> list[MeterRecord]:
        """Return up to `max_records` pending records, oldest interval first."""
        texts = list(islice(self._pending.values(), max_records))
        return await self._async_run(len(texts), _records, texts)

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
        return set(self._session_of.values())

    @property
    def has_in_flight(self) -> bool:
        """Whether records were sent without an answer (Flatpeak may hold them)."""
        return bool(self._in_flight)

    async def async_in_flight(self) -> list[MeterRecord]:
        """Return the pending records sent without an answer, oldest first."""
        texts = [text for ref, text in self._pending.items() if ref in self._in_flight]
        return await self._async_run(len(texts), _records, texts)

    async def async_mark_in_flight(self, records: Iterable[MeterRecord]) -> None:
        """Note (and save) that records are about to be sent."""
        self._in_flight.update(_ref(record) for record in records)
        await self._async_save()

    async def async_clear_in_flight(self) -> None:
        """Forget the in-flight mark: Flatpeak answered that it stored nothing."""
        if self._in_flight:
            self._in_flight.clear()
            await self._async_save()

    def _pop(self, ref: str) -> str | None:
        self._in_flight.discard(ref)
        self._starts.pop(ref, None)
        self._session_of.pop(ref, None)
        stream = self._stream_of.pop(ref, None)
        self._pending.pop(ref, None)
        return stream

    async def async_mark_accepted(
        self, records: Iterable[MeterRecord], *, when: datetime | None = None
    ) -> None:
        """Drop records Flatpeak accepted and save at once."""
        starts = []
        for record in records:
            self._pop(_ref(record))
            starts.append(record.start_time)
        if starts:
            oldest = min(starts)
            if self.statistics_from is None or oldest < self.statistics_from:
                self.statistics_from = oldest
        if when is not None:
            self.last_submission = when
        await self._async_save()

    async def async_mark_failed(
        self, failures: Iterable[tuple[MeterRecord, str]]
    ) -> None:
        """Move records Flatpeak rejected aside with their error and save at once."""
        now = dt_util.utcnow()
        for record, error in failures:
            stream_key = self._pop(_ref(record)) or ""
            self._failed.append(FailedEntry(stream_key, record, error, now))
        await self._async_save()

    @property
    def failed(self) -> list[FailedEntry]:
        """Records Flatpeak rejected, oldest first."""
        return list(self._failed)

    async def async_clear_failed(self) -> list[FailedEntry]:
        """Forget the rejected records (the user discarded them); return them."""
        cleared, self._failed = self._failed, []
        await self._async_save()
        return cleared

    async def async_requeue_failed(self) -> list[FailedEntry]:
        """Queue the rejected records again, unchanged (the user asked); return them."""
        requeued, self._failed = self._failed, []
        self._add_texts(pending_batch((e.stream_key, e.record) for e in requeued))
        await self._async_save()
        return requeued

    async def async_move_device(self, stream_key: str, device_id: str) -> None:
        """Give a stream's waiting and rejected records a new Flatpeak device id.

        The device was created again at Flatpeak (it had lost the old one), so
        records of the old id would be refused; their reference ids stay.
        """
        refs = [ref for ref, key in self._stream_of.items() if key == stream_key]
        records = _records([self._pending[ref] for ref in refs])
        records.extend(e.record for e in self._failed if e.stream_key == stream_key)
        for ref in refs:
            self._pop(ref)
        self._failed = [e for e in self._failed if e.stream_key != stream_key]
        self._add_texts(
            _batch(stream_key, (replace(r, device_id=device_id) for r in records))
        )
        await self._async_save()

    # EV sessions.

    @property
    def completed_sessions(self) -> list[CompletedSession]:
        """Finished sessions whose completion has not been reported yet."""
        return list(self._completed)

    async def async_mark_session_reported(self, session_id: str) -> None:
        """Forget a finished session once its completion is to be reported."""
        self._completed = [
            item for item in self._completed if item.session.session_id != session_id
        ]
        await self._async_save()

    # Lifecycle.

    async def async_remove_stream(self, stream_key: str) -> None:
        """Forget everything of a stream (its subentry was removed)."""
        for ref in [r for r, key in self._stream_of.items() if key == stream_key]:
            self._pop(ref)
        self._streams.pop(stream_key, None)
        self._failed = [e for e in self._failed if e.stream_key != stream_key]
        self._completed = [c for c in self._completed if c.stream_key != stream_key]
        await self._async_save()

    async def async_remove(self) -> None:
        """Delete the stored file (the config entry was removed)."""
        for ref in list(self._pending):
            self._pop(ref)
        self._streams.clear()
        self._failed.clear()
        self._completed.clear()
        self._backfills.clear()
        await self._store.async_remove()

    def diagnostics(self) -> dict[str, Any]:
        """Return a snapshot for diagnostics (no secrets in here)."""
        oldest = next(iter(self._pending.values()), None)
        oldest_item = None if oldest is None else json.loads(oldest)
        if oldest_item is not None:
            del oldest_item[STREAM]
        return {
            "pending_count": len(self._pending),
            "in_flight_count": len(self._in_flight),
            "last_submission": _iso(self.last_submission),
            "statistics_from": _iso(self.statistics_from),
            "oldest_pending": oldest_item,
            "streams": {
                key: progress_to_dict(progress)
                for key, progress in self._streams.items()
            },
            "failed": [failed_to_dict(entry) for entry in self._failed],
            "completed_sessions": [
                {"stream": item.stream_key, "session": item.session.to_dict()}
                for item in self._completed
            ],
            "backfills": [span_to_list(span) for span in self._backfills],
            "hold": hold_to_dict(self._hold),
        }


def _ref(record: MeterRecord) -> str:
    if record.record_reference_id is None:
        raise ValueError("outbox records need a record_reference_id")
    return record.record_reference_id


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
