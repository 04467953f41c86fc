"""The entry's metered streams, and the source sensors each had over time.

A stream is the grid import, the grid export, or one device subentry; its key stays
the same for good. Its source sensor can be swapped (options, a device's
reconfigure): the outbox keeps the list of sources with the time each took over, so
each span is computed from the statistics of the sensor in force then, from that
sensor's own sum (`Piece`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from .const import (
    CONF_DEVICE_ID,
    CONF_ENERGY_ENTITY,
    CONF_EXPORT_ENTITY,
    CONF_IMPORT_ENTITY,
    CONF_INTERVAL_MINUTES,
    CONF_LOCATION_ID,
    CONF_SESSION_ENTITY,
    DEFAULT_INTERVAL_MINUTES,
    SUBENTRY_APPLIANCE,
    SUBENTRY_EV_CHARGER,
    SUBENTRY_SOLAR,
)
from .metering import GRID_EXPORT_KEY, GRID_IMPORT_KEY, Stream, StreamKind, align_down
from .outbox_store import Source

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime, timedelta

    from homeassistant.config_entries import ConfigEntry, ConfigSubentry

SUBENTRY_KINDS: Final = {
    SUBENTRY_SOLAR: StreamKind.SOLAR,
    SUBENTRY_EV_CHARGER: StreamKind.EV_CHARGER,
    SUBENTRY_APPLIANCE: StreamKind.APPLIANCE,
}
# A swap takes effect from the start of the statistics period it happened in.
_STATISTICS_MINUTES: Final = 5


def entry_interval_minutes(entry: ConfigEntry) -> int:
    """Return the metering interval the user chose (options), else the default."""
    return int(entry.options.get(CONF_INTERVAL_MINUTES, DEFAULT_INTERVAL_MINUTES))


def entry_grid_entities(entry: ConfigEntry) -> tuple[str, str | None]:
    """Return the grid import and export sensors: options win over setup data."""
    source = entry.options if CONF_IMPORT_ENTITY in entry.options else entry.data
    return source[CONF_IMPORT_ENTITY], source.get(CONF_EXPORT_ENTITY)


def subentry_stream(location_id: str, subentry: ConfigSubentry) -> Stream | None:
    """Return the stream of a device subentry (None for other subentry types)."""
    kind = SUBENTRY_KINDS.get(subentry.subentry_type)
    device_id = subentry.data.get(CONF_DEVICE_ID)
    energy_entity = subentry.data.get(CONF_ENERGY_ENTITY)
    if kind is None or not device_id or not energy_entity:
        return None
    return Stream(
        key=subentry.subentry_id,
        kind=kind,
        entity_id=energy_entity,
        location_id=location_id,
        device_id=device_id,
        session_entity=subentry.data.get(CONF_SESSION_ENTITY) or None,
    )


def entry_streams(entry: ConfigEntry) -> list[Stream]:
    """Return the streams the entry meters: grid import, export, each device."""
    location_id: str = entry.data[CONF_LOCATION_ID]
    import_entity, export_entity = entry_grid_entities(entry)
    streams = [
        Stream(
            key=GRID_IMPORT_KEY,
            kind=StreamKind.GRID_IMPORT,
            entity_id=import_entity,
            location_id=location_id,
        )
    ]
    if export_entity:
        streams.append(
            Stream(
                key=GRID_EXPORT_KEY,
                kind=StreamKind.GRID_EXPORT,
                entity_id=export_entity,
                location_id=location_id,
            )
        )
    streams.extend(
        stream
        for subentry in entry.subentries.values()
        if (stream := subentry_stream(location_id, subentry)) is not None
    )
    return streams


def swapped_sources(
    sources: Sequence[Source], entity_id: str, now: datetime
) -> list[Source] | None:
    """Return the sources after a swap to `entity_id` now (None: no swap).

    A stream without sources yet starts with its sensor in force from the
    beginning. A swap takes effect at the start of the current statistics period.
    """
    if not sources:
        return [Source(entity_id)]
    if sources[-1].entity_id == entity_id:
        return None
    since = align_down(now, _STATISTICS_MINUTES)
    kept = [
        source for source in sources if source.since is None or source.since < since
    ]
    return [*kept, Source(entity_id, since)]


@dataclass(frozen=True, slots=True)
class Piece:
    """A span of a stream computed from one source sensor."""

    stream: Stream
    entity_id: str
    start: datetime
    stop: datetime | None
    """The next source takes over here (None: open-ended)."""


def pieces(
    stream: Stream,
    sources: Sequence[Source],
    start: datetime,
    end: datetime | None,
    *,
    max_length: timedelta | None = None,
) -> list[Piece]:
    """Cut [start, end) of a stream by source (and into `max_length` windows).

    Windows are cut at whole hours, so that no hourly statistic straddles two. The
    last piece is open-ended when `end` is None.
    """
    if not sources:
        sources = [Source(stream.entity_id)]
    result: list[Piece] = []
    for index, source in enumerate(sources):
        span_start = max(start, source.since) if source.since is not None else start
        following = sources[index + 1].since if index + 1 < len(sources) else None
        span_end = (
            following
            if end is None
            else (end if following is None else min(end, following))
        )
        if span_end is not None and span_end <= span_start:
            continue
        cut = span_start
        while max_length is not None and span_end is not None:
            window_end = align_down(cut, 60) + max_length
            if window_end >= span_end:
                break
            result.append(Piece(stream, source.entity_id, cut, window_end))
            cut = window_end
        result.append(Piece(stream, source.entity_id, cut, span_end))
    return result
