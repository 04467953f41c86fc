"""Half-open time spans `[start, end)`: union and difference (pure)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

type Span = tuple[datetime, datetime]


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
