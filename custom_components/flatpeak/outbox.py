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

Pending records are kept as their stored JSON texts (`pending.py`); a save hands
them to the file as one pre-serialised JSON fragment.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from homeassistant.helpers.json import json_fragment
from homeassistant.util import dt as dt_util

from .api import MAX_RECORDS_PER_REQUEST, MeterRecord
from .outbox_store import (
    STREAM,
    BackfillSpan,
    CompletedSession,
    FailedEntry,
    Hold,
    OutboxState,
    OutboxStore,
    Source,
    StreamProgress,
    batch_of,
    parse_pending,
    pending_batch,
    records_of,
)
from .pending import PendingRecords
from .spans import merge_spans

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from datetime import datetime

    from homeassistant.core import HomeAssistant

    from .metering import SumAnchor
    from .sessions import Session, SessionState
    from .spans import Span

# Below this many records, converting them on the loop is cheaper than a trip to
# the executor (a record takes ~10 us each way).
_INLINE_CONVERT = 200


class Outbox:
    """Persisted queue of meter records of one config entry."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """Create the outbox; call `async_load` before use."""
        self._hass = hass
        self._store = OutboxStore(hass, entry_id)
        self._pending = PendingRecords()
        self._unreadable: list[Any] = []
        self.state = OutboxState()

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
        self._pending.add(pending)
        self._pending.set_in_flight(data.get("in_flight", []))
        self.state = OutboxState.from_dict(data)

    @property
    def statistics_from(self) -> datetime | None:
        """Start of the oldest record accepted since the statistics were written."""
        return self.state.statistics_from

    @statistics_from.setter
    def statistics_from(self, value: datetime | None) -> None:
        self.state.statistics_from = value

    @property
    def last_submission(self) -> datetime | None:
        """When Flatpeak last accepted records."""
        return self.state.last_submission

    def _to_storage(self) -> dict[str, Any]:
        """Return the file's content (the pending records as one fragment)."""
        data: dict[str, Any] = {
            "pending": json_fragment("[" + ",".join(self._pending.all_texts()) + "]"),
            "in_flight": sorted(self._pending.in_flight),
            **self.state.to_dict(),
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
        return self.state.streams.get(stream_key) or StreamProgress()

    def stream_keys(self) -> set[str]:
        """Return the keys of every stream with stored progress or records."""
        return set(self.state.streams) | self._pending.stream_keys()

    async def async_set_sources(self, stream_key: str, sources: list[Source]) -> None:
        """Record the stream's source sensors (a swap adds one) and save."""
        self.state.streams.setdefault(stream_key, StreamProgress()).sources = list(
            sources
        )
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
            self._pending.add(
                await self._async_run(len(new), batch_of, stream_key, new)
            )
        progress = self.state.streams.setdefault(stream_key, StreamProgress())
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
        self.state.completed.extend(
            CompletedSession(stream_key, session) for session in finished_sessions
        )
        await self._async_save()

    # Backfills and holds (saved so that a restart picks them up).

    @property
    def backfills(self) -> list[BackfillSpan]:
        """Backfill spans asked for and not finished, oldest request first."""
        return list(self.state.backfills)

    async def async_add_backfill(self, span: BackfillSpan) -> None:
        """Remember a backfill until `async_finish_backfill`."""
        if span not in self.state.backfills:
            self.state.backfills.append(span)
            await self._async_save()

    async def async_finish_backfill(self, span: BackfillSpan) -> None:
        """Forget a finished backfill."""
        if span in self.state.backfills:
            self.state.backfills.remove(span)
            await self._async_save()

    @property
    def hold(self) -> Hold | None:
        """Flatpeak's last "not before", if any."""
        return self.state.hold

    async def async_set_hold(self, hold: Hold | None) -> None:
        """Remember (or clear) Flatpeak's "not before" across restarts."""
        if hold != self.state.hold:
            self.state.hold = hold
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
        texts = self._pending.first(max_records)
        return await self._async_run(len(texts), records_of, texts)

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
        return self._pending.session_ids()

    @property
    def has_in_flight(self) -> bool:
        """Whether records were sent without an answer (Flatpeak may hold them)."""
        return bool(self._pending.in_flight)

    async def async_in_flight(self) -> list[MeterRecord]:
        """Return the pending records sent without an answer, oldest first."""
        texts = self._pending.in_flight_texts()
        return await self._async_run(len(texts), records_of, texts)

    async def async_mark_in_flight(self, records: Iterable[MeterRecord]) -> None:
        """Note (and save) that records are about to be sent."""
        self._pending.set_in_flight(_ref(record) for record in records)
        await self._async_save()

    async def async_clear_in_flight(self) -> None:
        """Forget the in-flight mark: Flatpeak answered that it stored nothing."""
        if self._pending.clear_in_flight():
            await self._async_save()

    async def async_mark_accepted(
        self, records: Iterable[MeterRecord], *, when: datetime | None = None
    ) -> None:
        """Drop records Flatpeak accepted and save at once."""
        starts = []
        for record in records:
            self._pending.pop(_ref(record))
            starts.append(record.start_time)
        if starts:
            oldest = min(starts)
            if self.statistics_from is None or oldest < self.statistics_from:
                self.statistics_from = oldest
        if when is not None:
            self.state.last_submission = when
        await self._async_save()

    async def async_mark_failed(
        self, failures: Iterable[tuple[MeterRecord, str]]
    ) -> None:
        """Move records Flatpeak rejected aside with their error and save at once."""
        now = dt_util.utcnow()
        for record, error in failures:
            stream_key = self._pending.pop(_ref(record)) or ""
            self.state.failed.append(FailedEntry(stream_key, record, error, now))
        await self._async_save()

    @property
    def failed(self) -> list[FailedEntry]:
        """Records Flatpeak rejected, oldest first."""
        return list(self.state.failed)

    async def async_clear_failed(self) -> list[FailedEntry]:
        """Forget the rejected records (the user discarded them); return them."""
        cleared, self.state.failed = self.state.failed, []
        await self._async_save()
        return cleared

    async def async_requeue_failed(self) -> list[FailedEntry]:
        """Queue the rejected records again, unchanged (the user asked); return them."""
        requeued, self.state.failed = self.state.failed, []
        self._pending.add(pending_batch((e.stream_key, e.record) for e in requeued))
        await self._async_save()
        return requeued

    async def async_move_device(self, stream_key: str, device_id: str) -> None:
        """Give a stream's waiting and rejected records a new Flatpeak device id.

        The device was created again at Flatpeak (it had lost the old one), so
        records of the old id would be refused; their reference ids stay.
        """
        refs = self._pending.of_stream(stream_key)
        records = records_of([self._pending.text(ref) for ref in refs])
        records.extend(
            e.record for e in self.state.failed if e.stream_key == stream_key
        )
        for ref in refs:
            self._pending.pop(ref)
        self.state.failed = [e for e in self.state.failed if e.stream_key != stream_key]
        self._pending.add(
            batch_of(stream_key, (replace(r, device_id=device_id) for r in records))
        )
        await self._async_save()

    # EV sessions.

    @property
    def completed_sessions(self) -> list[CompletedSession]:
        """Finished sessions whose completion has not been reported yet."""
        return list(self.state.completed)

    async def async_mark_session_reported(self, session_id: str) -> None:
        """Forget a finished session once its completion is to be reported."""
        self.state.completed = [
            item
            for item in self.state.completed
            if item.session.session_id != session_id
        ]
        await self._async_save()

    # Lifecycle.

    async def async_remove_stream(self, stream_key: str) -> None:
        """Forget everything of a stream (its subentry was removed)."""
        for ref in self._pending.of_stream(stream_key):
            self._pending.pop(ref)
        self.state.streams.pop(stream_key, None)
        self.state.failed = [e for e in self.state.failed if e.stream_key != stream_key]
        self.state.completed = [
            c for c in self.state.completed if c.stream_key != stream_key
        ]
        await self._async_save()

    async def async_remove(self) -> None:
        """Delete the stored file (the config entry was removed)."""
        self._pending.clear()
        self.state.streams.clear()
        self.state.failed.clear()
        self.state.completed.clear()
        self.state.backfills.clear()
        await self._store.async_remove()

    def diagnostics(self) -> dict[str, Any]:
        """Return a snapshot for diagnostics (no secrets in here)."""
        oldest = self._pending.oldest()
        oldest_item = None if oldest is None else json.loads(oldest)
        if oldest_item is not None:
            del oldest_item[STREAM]
        return {
            "pending_count": len(self._pending),
            "in_flight_count": len(self._pending.in_flight),
            **self.state.to_dict(),
            "oldest_pending": oldest_item,
        }


def _ref(record: MeterRecord) -> str:
    if record.record_reference_id is None:
        raise ValueError("outbox records need a record_reference_id")
    return record.record_reference_id
