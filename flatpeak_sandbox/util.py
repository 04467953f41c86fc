"""Small helpers: ids, RFC 3339 times, lenient JSON."""

from __future__ import annotations

import json
import re
import secrets
from datetime import UTC, datetime
from typing import Any

_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)


def new_id(prefix: str) -> str:
    """Return ``<prefix>_`` followed by 24 hex digits."""
    return f"{prefix}_{secrets.token_hex(12)}"


def utcnow() -> datetime:
    """Return the current time in UTC, whole seconds."""
    return datetime.now(UTC).replace(microsecond=0)


def parse_time(value: object) -> datetime:
    """Parse an RFC 3339 date-time (offset required); raise ValueError otherwise."""
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ValueError(f"not an RFC 3339 date-time: {value!r}")
    return datetime.fromisoformat(value.upper().replace(" ", "T")).astimezone(UTC)


def format_time(value: datetime) -> str:
    """Format as RFC 3339 UTC with ``Z`` (fractions only when present)."""
    value = value.astimezone(UTC)
    if value.microsecond:
        return value.isoformat().replace("+00:00", "Z")
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def strip_trailing_commas(text: str) -> str:  # noqa: C901
    """Remove commas that directly precede ``}`` or ``]`` outside JSON strings."""
    out: list[str] = []
    in_string = False
    escaped = False
    pending_comma: list[str] | None = None  # a comma and the whitespace after it
    for char in text:
        if in_string:
            out.append(char)
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if pending_comma is not None:
            if char.isspace():
                pending_comma.append(char)
                continue
            if char in "}]":
                out.extend(pending_comma[1:])
            else:
                out.extend(pending_comma)
            pending_comma = None
        if char == ",":
            pending_comma = [char]
            continue
        if char == '"':
            in_string = True
        out.append(char)
    if pending_comma is not None:
        out.extend(pending_comma)
    return "".join(out)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON constant {name}")


def loads_lenient(text: str) -> Any:
    """Parse JSON, accepting trailing commas (the Flatpeak docs' examples have them)."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError:
        return json.loads(strip_trailing_commas(text), parse_constant=_reject_constant)


def is_number(value: object) -> bool:
    """Return True for a JSON number (bool excluded)."""
    return isinstance(value, int | float) and not isinstance(value, bool)
