"""Backfill: send history from recorder statistics, only what was never queued.

A backfill span is saved in the outbox before anything is computed and dropped only
when every piece of it is queued, so a restart (even a killed process) resumes it
with no user action: the spans each stream has covered tell what is left.

The plan (`plan_backfill`, pure) cuts the gaps of each stream in the span into
windows of 30 days at most and by source sensor, oldest first across streams; the
run computes one window at a time and sends every full 10,000-record chunk as soon
as it is queued, so the outbox holds about one chunk plus one window, and the number
of requests stays ceil(records / 10,000).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from .api import MAX_RECORDS_PER_REQUEST, FlatpeakError
from .const import LOGGER
from .metering import align_down
from .sessions import SessionState
from .spans import subtract_spans
from .streams import Piece, pieces

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .collect import Collector
    from .metering import Stream, SumAnchor
    from .outbox import Outbox
    from .outbox_store import BackfillSpan, Source
    from .sender import Sender
    from .spans import Span

BACKFILL_WINDOW: Final = timedelta(days=30)


type StreamPlan = tuple[Stream, Sequence[Source], Sequence[Span], Span]


def plan_backfill(streams: Sequence[StreamPlan]) -> list[Piece]:
    """Return the pieces to compute: the uncovered parts of each stream's span.

    `streams` gives each stream with its sources, its covered spans and the span to
    backfill (ending at its high-water mark at the latest).
    """
    planned: list[Piece] = []
    for stream, sources, covered, span in streams:
        for gap_start, gap_end in subtract_spans(span, covered):
            planned.extend(
                pieces(stream, sources, gap_start, gap_end, max_length=BACKFILL_WINDOW)
            )
    planned.sort(key=lambda piece: (piece.start, piece.stream.key))
    return planned


async def async_backfill(
    collector: Collector,
    sender: Sender,
    outbox: Outbox,
    streams: Sequence[Stream],
    backfill: BackfillSpan,
    compiled: datetime,
) -> int:
    """Queue the backfill's uncovered pieces, sending full chunks; return the count.

    Past sessions are not reported again as events. A failure to send is left for
    the next cycle (the records stay queued); the backfill itself goes on.
    """
    start, end = backfill
    span_start = align_down(start, 60)
    plans: list[StreamPlan] = []
    for stream in streams:
        high_water = await collector.async_start(stream, compiled)
        span_end = align_down(
            high_water if end is None else min(high_water, end),
            collector.interval_minutes,
        )
        progress = outbox.progress(stream.key)
        plans.append(
            (stream, progress.sources, progress.covered, (span_start, span_end))
        )
    queued = 0
    # A piece continues from the sum its stream's previous piece ended with.
    anchors: dict[tuple[str, str, datetime], SumAnchor | None] = {}
    sending = True
    for piece in plan_backfill(plans):
        key = piece.stream.key
        computed = await collector.async_compute(
            piece,
            compiled,
            anchors.get((key, piece.entity_id, piece.start)),
            SessionState(),
        )
        window = computed.window
        anchors[key, piece.entity_id, window.high_water] = window.anchor
        await outbox.async_enqueue(
            key,
            computed.records,
            high_water=None,
            covered=(piece.start, window.high_water),
        )
        queued += len(computed.records)
        if sending:
            sending = await _async_send_full_chunks(sender, outbox)
    await outbox.async_finish_backfill(backfill)
    return queued


async def _async_send_full_chunks(sender: Sender, outbox: Outbox) -> bool:
    """Send pending records while a whole chunk is waiting; False on failure."""
    while outbox.pending_count >= MAX_RECORDS_PER_REQUEST:
        try:
            await sender.async_send(MAX_RECORDS_PER_REQUEST)
        except FlatpeakError as err:
            LOGGER.debug("Backfill sending paused: %s", err)
            return False
    return True
