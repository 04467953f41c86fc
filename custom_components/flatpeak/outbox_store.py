"""The outbox's file, `.storage/flatpeak.<entry_id>`: its layout and migrations.

Layout 1.3 (a JSON object):
- `pending`: the unsent meter records, oldest interval first, each the record's JSON
  object (what `PUT /meters/interval` receives) with its stream key as `stream`;
- `unreadable`: stored items that are not meter records (kept, never sent);
- `in_flight`: reference ids of records sent without an answer;
- `streams`: per stream key its progress (see `StreamProgress`);
- `failed`: records Flatpeak rejected, with the error;
- `completed_sessions`: finished EV sessions not reported yet;
- `backfills`: backfill spans asked for and not finished (`[start, end|null]`);
- `statistics_from`: the start of the oldest record accepted since the cost
  statistics were last rewritten;
- `hold`: Flatpeak's "not now" (`until`, `reason`) that outlives a restart;
- `last_submission`.
1.1 nested each pending record under `record`; 1.2 flattened it; 1.3 added the
stream sources, backfills, statistics_from and hold (all optional when read).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.storage import Store

from .api import FlatpeakResponseError, MeterRecord
from .const import DOMAIN
from .metering import SumAnchor
from .sessions import Session, SessionState

if TYPE_CHECKING:
    from collections.abc import Iterable

    from homeassistant.core import HomeAssistant

    from .spans import Span

STORAGE_VERSION = 1
STORAGE_MINOR_VERSION = 3
STREAM = "stream"


class OutboxVersionError(Exception):
    """The file was written by a newer, unknown layout (a downgrade)."""


@dataclass(frozen=True, slots=True)
class Source:
    """The source sensor of a stream from `since` on (None: from the beginning)."""

    entity_id: str
    since: datetime | None = None


@dataclass(slots=True)
class StreamProgress:
    """What a stream has computed: up to where, from which sums, which sensors."""

    high_water: datetime | None = None
    """End of the last interval computed and queued."""
    anchor: SumAnchor | None = None
    """Statistics sum the next interval starts from, of `anchor_entity`."""
    anchor_entity: str | None = None
    sessions: SessionState | None = None
    covered: list[Span] = field(default_factory=list)
    """Spans whose intervals were computed and queued (or carried on, no data)."""
    sources: list[Source] = field(default_factory=list)
    """The source sensors in force, oldest first (a swap adds one)."""

    @property
    def session_state(self) -> SessionState:
        """The stream's EV session state (empty when it never had one)."""
        return self.sessions or SessionState()


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


@dataclass(frozen=True, slots=True)
class Hold:
    """Flatpeak asked not to send before `until` (e.g. the tariff is pending)."""

    until: datetime
    reason: str


def parse_time(value: str | None) -> datetime | None:
    """Read a stored ISO time (None stays None)."""
    return None if value is None else datetime.fromisoformat(value)


def iso_time(value: datetime | None) -> str | None:
    """Write a time as stored (None stays None)."""
    return None if value is None else value.isoformat()


@dataclass(slots=True)
class PendingBatch:
    """Pending records as the outbox keeps them: stored JSON texts and their keys.

    Parallel lists of strings and numbers, so that no object per record is made
    (the garbage collector tracks every object of a class, never a str or float).
    """

    refs: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    starts: list[float] = field(default_factory=list)
    """Each record's start (epoch seconds): the send order."""
    streams: list[str] = field(default_factory=list)
    sessions: list[str | None] = field(default_factory=list)

    def add(self, stream_key: str, record: MeterRecord) -> None:
        """Add a record (it needs a `record_reference_id`)."""
        if record.record_reference_id is None:
            raise ValueError("outbox records need a record_reference_id")
        self.refs.append(record.record_reference_id)
        self.texts.append(json.dumps({**record.to_dict(), STREAM: stream_key}))
        self.starts.append(record.start_time.timestamp())
        self.streams.append(stream_key)
        self.sessions.append(record.session_reference_id)


def pending_batch(items: Iterable[tuple[str, MeterRecord]]) -> PendingBatch:
    """Return the pending form of `(stream key, record)` items."""
    batch = PendingBatch()
    for stream_key, record in items:
        batch.add(stream_key, record)
    return batch


def parse_item(item: Any) -> tuple[str, MeterRecord]:
    """Return the stream key and record of a stored item, or raise ValueError."""
    try:
        fields = {key: value for key, value in item.items() if key != STREAM}
        record = MeterRecord.from_dict(fields)
        stream = item[STREAM]
    except (FlatpeakResponseError, TypeError, KeyError, AttributeError) as err:
        raise ValueError(str(err)) from err
    if not isinstance(stream, str) or record.record_reference_id is None:
        raise ValueError("a stored record needs a stream and a record_reference_id")
    return stream, record


def parse_pending(items: Iterable[Any]) -> tuple[PendingBatch, list[Any]]:
    """Check stored items; return the pending records, and the items that are not.

    `MeterRecord.from_dict` names what is wrong with an item (edited or damaged
    file); such items are kept as they are, never sent, and stay in the file.
    """
    pending = PendingBatch()
    unreadable: list[Any] = []
    for item in items:
        try:
            stream, record = parse_item(item)
        except ValueError:
            unreadable.append(item)
            continue
        pending.add(stream, record)
    return pending, unreadable


def progress_from_dict(data: dict[str, Any]) -> StreamProgress:
    """Parse a stream's stored progress."""
    anchor = data.get("anchor")
    return StreamProgress(
        high_water=parse_time(data.get("high_water")),
        anchor=None if anchor is None else SumAnchor.from_dict(anchor),
        anchor_entity=None if anchor is None else anchor.get("entity_id"),
        sessions=None
        if data.get("sessions") is None
        else SessionState.from_dict(data["sessions"]),
        covered=[
            (datetime.fromisoformat(a), datetime.fromisoformat(b))
            for a, b in data.get("covered", [])
        ],
        sources=[
            Source(entity_id, parse_time(since))
            for entity_id, since in data.get("sources", [])
        ],
    )


def progress_to_dict(progress: StreamProgress) -> dict[str, Any]:
    """Serialise a stream's progress."""
    anchor = progress.anchor
    return {
        "high_water": iso_time(progress.high_water),
        "anchor": None
        if anchor is None
        else {**anchor.to_dict(), "entity_id": progress.anchor_entity},
        "sessions": None if progress.sessions is None else progress.sessions.to_dict(),
        "covered": [[a.isoformat(), b.isoformat()] for a, b in progress.covered],
        "sources": [[s.entity_id, iso_time(s.since)] for s in progress.sources],
    }


def failed_from_dict(item: dict[str, Any]) -> FailedEntry:
    """Parse a rejected record."""
    return FailedEntry(
        item["stream"],
        MeterRecord.from_dict(item["record"]),
        item["error"],
        datetime.fromisoformat(item["time"]),
    )


def failed_to_dict(entry: FailedEntry) -> dict[str, Any]:
    """Serialise a rejected record."""
    return {
        "stream": entry.stream_key,
        "record": entry.record.to_dict(),
        "error": entry.error,
        "time": entry.time.isoformat(),
    }


def hold_from_dict(data: dict[str, Any] | None) -> Hold | None:
    """Parse a stored hold."""
    if not data:
        return None
    return Hold(datetime.fromisoformat(data["until"]), str(data["reason"]))


def hold_to_dict(hold: Hold | None) -> dict[str, Any] | None:
    """Serialise a hold."""
    return (
        None
        if hold is None
        else {"until": hold.until.isoformat(), "reason": hold.reason}
    )


def span_from_list(item: list[Any]) -> tuple[datetime, datetime | None]:
    """Parse a stored backfill span."""
    return datetime.fromisoformat(item[0]), parse_time(item[1])


def span_to_list(span: tuple[datetime, datetime | None]) -> list[str | None]:
    """Serialise a backfill span."""
    return [span[0].isoformat(), iso_time(span[1])]


type BackfillSpan = tuple[datetime, datetime | None]


@dataclass(slots=True)
class OutboxState:
    """Everything an outbox keeps but its pending records."""

    streams: dict[str, StreamProgress] = field(default_factory=dict)
    failed: list[FailedEntry] = field(default_factory=list)
    completed: list[CompletedSession] = field(default_factory=list)
    backfills: list[BackfillSpan] = field(default_factory=list)
    hold: Hold | None = None
    last_submission: datetime | None = None
    statistics_from: datetime | None = None
    """Start of the oldest record accepted since the statistics were written."""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OutboxState:
        """Read the stored state (every part optional)."""
        return cls(
            streams={
                key: progress_from_dict(item)
                for key, item in data.get("streams", {}).items()
            },
            failed=[failed_from_dict(item) for item in data.get("failed", [])],
            completed=[
                CompletedSession(item["stream"], Session.from_dict(item["session"]))
                for item in data.get("completed_sessions", [])
            ],
            backfills=[span_from_list(item) for item in data.get("backfills", [])],
            hold=hold_from_dict(data.get("hold")),
            last_submission=parse_time(data.get("last_submission")),
            statistics_from=parse_time(data.get("statistics_from")),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the state as stored."""
        return {
            "last_submission": iso_time(self.last_submission),
            "statistics_from": iso_time(self.statistics_from),
            "streams": {
                key: progress_to_dict(progress)
                for key, progress in self.streams.items()
            },
            "failed": [failed_to_dict(entry) for entry in self.failed],
            "completed_sessions": [
                {"stream": item.stream_key, "session": item.session.to_dict()}
                for item in self.completed
            ],
            "backfills": [span_to_list(span) for span in self.backfills],
            "hold": hold_to_dict(self.hold),
        }


def records_of(texts: list[str]) -> list[MeterRecord]:
    """Return the records of stored pending texts."""
    return [parse_item(json.loads(text))[1] for text in texts]


def batch_of(stream_key: str, records: Iterable[MeterRecord]) -> PendingBatch:
    """Return one stream's records as a batch to add to the pending records."""
    return pending_batch((stream_key, record) for record in records)


class OutboxStore(Store[dict[str, Any]]):
    """The outbox's Store, migrating older layouts of the file."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """Open `.storage/flatpeak.<entry_id>` (nothing is read yet)."""
        super().__init__(
            hass,
            STORAGE_VERSION,
            f"{DOMAIN}.{entry_id}",
            minor_version=STORAGE_MINOR_VERSION,
        )

    async def async_load_data(self) -> dict[str, Any] | None:
        """Load the file; a layout from a newer major version is refused."""
        try:
            return await self.async_load()
        except (NotImplementedError, HomeAssistantError) as err:
            # Newer Home Assistant releases refuse a newer major version themselves.
            raise OutboxVersionError(str(err) or self.key) from err

    async def _async_migrate_func(
        self, old_major_version: int, old_minor_version: int, old_data: dict[str, Any]
    ) -> dict[str, Any]:
        if old_major_version > STORAGE_VERSION:
            raise NotImplementedError(
                f"{self.key} has layout {old_major_version}.{old_minor_version}"
            )
        if old_minor_version < 2:  # noqa: PLR2004 - the version that flattened items
            old_data["pending"] = [
                {**item["record"], STREAM: item["stream"]}
                for item in old_data.get("pending", [])
            ]
        # 1.3 only added keys, all optional when read.
        return old_data
