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
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(slots=True)
class _StreamState:
    high_water: datetime | None = None
    anchor: SumAnchor | None = None
    sessions: SessionState | None = None


def _ref(record: MeterRecord) -> str:
    if record.record_reference_id is None:
        raise ValueError("outbox records need a record_reference_id")
    return record.record_reference_id


class Outbox:
    """Persisted queue of meter records of one config entry."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """Create the outbox; call `async_load` before use."""
        self._store: Store[dict[str, Any]] = Store(
            hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}"
        )
        # record_reference_id -> (stream key, record); kept ordered oldest first.
        self._pending: dict[str, tuple[str, MeterRecord]] = {}
        self._streams: dict[str, _StreamState] = {}
        self._failed: list[FailedEntry] = []
        self._completed: list[CompletedSession] = []

    async def async_load(self) -> None:
        """Load the stored state (an empty outbox when there is none)."""
        data = await self._store.async_load()
        if not data:
            return
        for item in data.get("pending", []):
            record = MeterRecord.from_dict(item["record"])
            self._pending[_ref(record)] = (item["stream"], record)
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
        return {
            "pending": [
                {"stream": stream, "record": record.to_dict()}
                for stream, record in self._pending.values()
            ],
            "streams": {
                key: {
                    "high_water": None
                    if state.high_water is None
                    else state.high_water.isoformat(),
                    "anchor": None if state.anchor is None else state.anchor.to_dict(),
                    "sessions": None
                    if state.sessions is None
                    else state.sessions.to_dict(),
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
        await self._store.async_save(self._to_storage())

    # Per-stream progress.

    def high_water(self, stream_key: str) -> datetime | None:
        """Return the end of the last interval queued for a stream (None: never)."""
        state = self._streams.get(stream_key)
        return None if state is None else state.high_water

    def anchor(self, stream_key: str) -> SumAnchor | None:
        """Return the statistics sum the stream's next interval starts from."""
        state = self._streams.get(stream_key)
        return None if state is None else state.anchor

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
    ) -> None:
        """Queue a stream's new records and advance its progress, in one save.

        `high_water` never moves back (None leaves it, e.g. for a backfill). A record
        whose reference id is already pending is kept as it is, so what may already
        have reached Flatpeak is never altered.
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

    async def async_mark_accepted(self, records: Iterable[MeterRecord]) -> None:
        """Drop records Flatpeak accepted and save at once."""
        for record in records:
            self._pending.pop(_ref(record), None)
        await self._async_save()

    async def async_mark_failed(
        self, failures: Iterable[tuple[MeterRecord, str]]
    ) -> None:
        """Move records Flatpeak rejected aside with their error and save at once."""
        now = dt_util.utcnow()
        for record, error in failures:
            item = self._pending.pop(_ref(record), None)
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
        self._streams.pop(stream_key, None)
        self._failed = [e for e in self._failed if e.stream_key != stream_key]
        self._completed = [c for c in self._completed if c.stream_key != stream_key]
        await self._async_save()

    async def async_remove(self) -> None:
        """Delete the stored file (the config entry was removed)."""
        self._pending.clear()
        self._streams.clear()
        self._failed.clear()
        self._completed.clear()
        await self._store.async_remove()

    def diagnostics(self) -> dict[str, Any]:
        """Return a snapshot for diagnostics (no secrets in here)."""
        oldest = next(iter(self._pending.values()), None)
        return {
            "pending_count": len(self._pending),
            "oldest_pending": None if oldest is None else oldest[1].to_dict(),
            "streams": self._to_storage()["streams"],
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
