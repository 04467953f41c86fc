"""Lenient JSON and time helpers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from flatpeak_sandbox.util import format_time, loads_lenient, parse_time


def test_trailing_commas_outside_strings_only() -> None:
    """Commas before } or ] go; commas inside strings (even after escapes) stay."""
    assert loads_lenient('{"a": [1, 2, ], "b": "x\\",]", }') == {
        "a": [1, 2],
        "b": 'x",]',
    }
    assert loads_lenient('[{"a": "\\\\"},\n]') == [{"a": "\\"}]
    with pytest.raises(ValueError, match="Expecting value"):
        loads_lenient("[1,")
    with pytest.raises(ValueError, match="NaN"):
        loads_lenient("[NaN]")


def test_times() -> None:
    """RFC 3339 with an offset is required; fractions survive formatting."""
    when = parse_time("2024-01-10T05:00:00.250+01:00")
    assert when == datetime(2024, 1, 10, 4, 0, 0, 250000, tzinfo=UTC)
    assert format_time(when) == "2024-01-10T04:00:00.250000Z"
    assert parse_time("2024-01-10t04:00:00z") == datetime(2024, 1, 10, 4, tzinfo=UTC)
    for bad in ("2024-01-10T04:00:00", "yesterday", 5, None):
        with pytest.raises(ValueError, match="RFC 3339"):
            parse_time(bad)
