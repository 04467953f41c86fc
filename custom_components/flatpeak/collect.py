"""Recorder statistics → queued meter records, one stream piece at a time.

One pass per piece: read what it needs from the recorder (rows, the baseline sum,
the session entity's states), compute records and sessions in pure code on an
executor thread, and queue them in the outbox with the stream's new progress in one
save. The forward cycle and the backfill both go through `Collector.async_compute`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, tzinfo
from typing import TYPE_CHECKING

from homeassistant.util import dt as dt_util

from .metering import (
    MeteringWindow,
    StatisticRow,
    SumAnchor,
    align_down,
    build_records,
    compute_intervals,
    life_anchor,
)
from .recorder_reader import (
    async_read_anchor,
    async_read_state_history,
    async_read_statistic_rows,
)
from .sessions import (
    SessionAssignment,
    SessionMode,
    SessionState,
    assign_sessions,
    session_mode_for,
)
from .streams import pieces, swapped_sources

if TYPE_CHECKING:
    from collections.abc import Sequence

    from homeassistant.core import HomeAssistant

    from .api import MeterRecord
    from .metering import Stream
    from .outbox import Outbox
    from .streams import Piece


@dataclass(frozen=True, slots=True)
class Computed:
    """The records of a piece up to where its statistics allowed."""

    records: list[MeterRecord]
    window: MeteringWindow
    assignment: SessionAssignment | None


def _compute(
    piece: Piece,
    rows: Sequence[StatisticRow],
    anchor: SumAnchor | None,
    complete_until: datetime,
    interval_minutes: int,
    state: SessionState,
    history: Sequence[tuple[datetime, str]],
) -> Computed:
    """Compute a piece's intervals, sessions and records (pure)."""
    window = compute_intervals(
        rows,
        start=piece.start,
        complete_until=complete_until,
        interval_minutes=interval_minutes,
        anchor=anchor,
        stop=piece.stop,
    )
    stream = piece.stream
    if not stream.has_sessions or stream.device_id is None:
        return Computed(build_records(stream, window.intervals), window, None)
    assignment = assign_sessions(
        window.intervals,
        mode=session_mode_for(stream.session_entity),
        device_key=stream.device_id,
        high_water=window.high_water,
        state=state,
        history=history,
    )
    records = build_records(stream, window.intervals, assignment.session_ids)
    return Computed(records, window, assignment)


class Collector:
    """Computes and queues the records of an entry's streams."""

    def __init__(
        self,
        hass: HomeAssistant,
        outbox: Outbox,
        *,
        interval_minutes: int,
        timezone: tzinfo,
    ) -> None:
        """Compute into `outbox`, with the entry's interval and location time zone."""
        self._hass = hass
        self._outbox = outbox
        self.interval_minutes = interval_minutes
        self._timezone = timezone

    async def async_sync_sources(self, stream: Stream, now: datetime) -> None:
        """Note a swap of the stream's source sensor (it takes effect now)."""
        sources = self._outbox.progress(stream.key).sources
        if (changed := swapped_sources(sources, stream.entity_id, now)) is not None:
            await self._outbox.async_set_sources(stream.key, changed)

    async def async_compute(
        self,
        piece: Piece,
        complete_until: datetime,
        anchor: SumAnchor | None,
        state: SessionState,
    ) -> Computed:
        """Read what a piece needs and compute it (`anchor`: None to look it up)."""
        entity_id = piece.entity_id
        read_until = (
            complete_until if piece.stop is None else min(piece.stop, complete_until)
        )
        rows = await async_read_statistic_rows(
            self._hass, entity_id, piece.start, read_until
        )
        if anchor is None:
            anchor = await async_read_anchor(self._hass, entity_id, piece.start)
        if anchor is None:
            anchor = life_anchor(rows)
        history: list[tuple[datetime, str]] = []
        stream = piece.stream
        mode = session_mode_for(stream.session_entity)
        if (
            stream.has_sessions
            and stream.session_entity
            and mode is not SessionMode.ENERGY_GAP
        ):
            history = await async_read_state_history(
                self._hass, stream.session_entity, piece.start, read_until
            )
        return await self._hass.async_add_executor_job(
            _compute,
            piece,
            rows,
            anchor,
            complete_until,
            self.interval_minutes,
            state,
            history,
        )

    def _day_start(self, now: datetime) -> datetime:
        """Return the start of `now`'s day in the location's time zone (UTC)."""
        day = now.astimezone(self._timezone).date()
        return datetime.combine(day, time(), tzinfo=self._timezone).astimezone(UTC)

    async def async_start(self, stream: Stream, compiled: datetime) -> datetime:
        """Return the stream's high-water mark, starting a new stream today.

        A new stream starts at the start of the location's day, so that "today"
        sensors are today's from the first cycle; older energy is for the backfill
        action. The start is saved at once, so a restart keeps it.
        """
        high_water = self._outbox.progress(stream.key).high_water
        if high_water is not None:
            return high_water
        start = min(
            align_down(self._day_start(dt_util.utcnow()), self.interval_minutes),
            align_down(compiled, self.interval_minutes),
        )
        await self._outbox.async_enqueue(stream.key, [], high_water=start)
        return start

    async def async_collect(self, stream: Stream, compiled: datetime) -> None:
        """Queue the stream's intervals closed since its high-water mark."""
        start = await self.async_start(stream, compiled)
        progress = self._outbox.progress(stream.key)
        for piece in pieces(stream, progress.sources, start, None):
            if (
                piece.stop is None
                and align_down(compiled, self.interval_minutes) <= piece.start
            ):
                return
            progress = self._outbox.progress(stream.key)
            anchor = progress.anchor
            if (
                piece.start != progress.high_water
                or progress.anchor_entity not in (None, piece.entity_id)
                or (anchor is not None and anchor.time > piece.start)
            ):
                anchor = None  # another sensor's sum, or none: look it up
            computed = await self.async_compute(
                piece, compiled, anchor, self._outbox.progress(stream.key).session_state
            )
            window, assignment = computed.window, computed.assignment
            if window.high_water <= piece.start:
                return
            await self._outbox.async_enqueue(
                stream.key,
                computed.records,
                high_water=window.high_water,
                anchor=window.anchor,
                anchor_entity=piece.entity_id,
                session_state=None if assignment is None else assignment.state,
                finished_sessions=() if assignment is None else assignment.finished,
                covered=(piece.start, window.high_water),
            )
            if piece.stop is not None and window.high_water < piece.stop:
                return  # the old sensor's statistics are not complete yet
