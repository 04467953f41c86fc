"""The records waiting to be sent, oldest interval first (pure; the outbox saves them).

A pending record is kept as its stored JSON text: strings are never tracked by
CPython's garbage collector (plain dicts are, from Python 3.14), so a year of
backfill waiting here adds nothing to the collections that pause the event loop.
Beside each text: the interval's start (epoch), the stream and, for EV records, the
session, so that ordering and removals never parse a text.
"""

from __future__ import annotations

from itertools import islice
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .outbox_store import PendingBatch


class PendingRecords:
    """Pending record texts by `record_reference_id`, and which were sent unanswered."""

    def __init__(self) -> None:
        """Start empty."""
        self._texts: dict[str, str] = {}
        self._starts: dict[str, float] = {}
        self._stream_of: dict[str, str] = {}
        self._session_of: dict[str, str] = {}
        self._in_flight: set[str] = set()

    def __len__(self) -> int:
        """Return the number of pending records."""
        return len(self._texts)

    def __contains__(self, ref: object) -> bool:
        """Tell whether a record reference id is pending."""
        return ref in self._texts

    def add(self, batch: PendingBatch) -> None:
        """Add records that are not pending yet, keeping the oldest first."""
        newest = next(reversed(self._texts), None)
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
            if ref in self._texts:
                continue
            if last is not None and start < last:
                in_order = False
            last = start
            self._texts[ref] = text
            self._starts[ref] = start
            self._stream_of[ref] = stream
            if session is not None:
                self._session_of[ref] = session
        if not in_order:
            order = sorted(self._texts, key=lambda ref: (self._starts[ref], ref))
            self._texts = {ref: self._texts[ref] for ref in order}

    def pop(self, ref: str) -> str | None:
        """Remove a record; return its stream (None when it was not pending)."""
        self._in_flight.discard(ref)
        self._starts.pop(ref, None)
        self._session_of.pop(ref, None)
        stream = self._stream_of.pop(ref, None)
        self._texts.pop(ref, None)
        return stream

    def clear(self) -> None:
        """Remove every record."""
        for ref in list(self._texts):
            self.pop(ref)

    def first(self, count: int) -> list[str]:
        """Return the texts of up to `count` records, oldest interval first."""
        return list(islice(self._texts.values(), count))

    def oldest(self) -> str | None:
        """Return the text of the oldest record."""
        return next(iter(self._texts.values()), None)

    def all_texts(self) -> Iterable[str]:
        """Return every text, oldest first (for the stored file)."""
        return self._texts.values()

    def of_stream(self, stream_key: str) -> list[str]:
        """Return the reference ids of a stream's records."""
        return [ref for ref, key in self._stream_of.items() if key == stream_key]

    def text(self, ref: str) -> str:
        """Return the text of a pending record."""
        return self._texts[ref]

    def stream_keys(self) -> set[str]:
        """Return the streams that have records."""
        return set(self._stream_of.values())

    def session_ids(self) -> set[str]:
        """Return the EV session ids of the records."""
        return set(self._session_of.values())

    # Sent without an answer.

    @property
    def in_flight(self) -> set[str]:
        """Reference ids sent without an answer (Flatpeak may hold them)."""
        return set(self._in_flight)

    def set_in_flight(self, refs: Iterable[str]) -> None:
        """Mark pending records as sent (ids no longer pending are ignored)."""
        self._in_flight.update(ref for ref in refs if ref in self._texts)

    def clear_in_flight(self) -> bool:
        """Forget the in-flight marks; return whether there were any."""
        had = bool(self._in_flight)
        self._in_flight.clear()
        return had

    def in_flight_texts(self) -> list[str]:
        """Return the texts of the records in flight, oldest first."""
        return [text for ref, text in self._texts.items() if ref in self._in_flight]
