"""Replay every request example of the Flatpeak seed pages verbatim against the sandbox.

The curl blocks are parsed from ``shared/flatpeak/seeds/*.txt`` at test time; only
``<token>`` (a real bearer token) and the ``{id}`` path placeholder (a real id)
are substituted. Each answer must be accepted and carry every key of the seed's
response example with the same JSON type.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest

from flatpeak_sandbox import Sandbox, SandboxServer, StoredRecord, Tariff
from flatpeak_sandbox.util import loads_lenient

from .helpers import basic_auth

SEEDS = Path(__file__).parents[3] / "shared" / "flatpeak" / "seeds"
SEED_LOCATION = "loc_641b90b758fb8e6293716e40"
SEED_EV = "dev_65e6d8334c8d715963d99db3"
SEED_PV = "dev_63a6087272941ef077a8fd3e"
SEED_SESSION = "SESSION1234567890"
PATH_IDS = {"/costs/interval/{id}": SEED_EV, "/costs/session/{id}": SEED_SESSION}

_CURL = re.compile(r"curl --request (?P<method>[A-Z]+) \\\s*--url (?P<url>\S+)")
_HEADER = re.compile(r"--header '(?P<name>[^:]+): (?P<value>[^']*)'")
_DATA = re.compile(r"--data '(?P<data>[^']*)'", re.DOTALL)
_OPEN_BRACE_LINE = re.compile(r"^\s*\{\s*$", re.MULTILINE)
_MISSING_COMMA = re.compile(r'("|\d|true|false|null|\}|\])(\s*\n\s*")')


@dataclass
class Example:
    """One request example and the response example that follows it."""

    name: str
    method: str
    path: str
    headers: dict[str, str]
    data: str | None
    response: dict[str, Any] = field(default_factory=dict)


def _balanced(text: str, start: int) -> str:
    depth = 0
    in_string = escaped = False
    for pos in range(start, len(text)):
        char = text[pos]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[start : pos + 1]
    raise AssertionError("unbalanced response example")


def _curl_end(text: str, start: int) -> int:
    """Return the end of the curl command starting at ``start``."""
    data = text.find("--data '", start)
    lines_end = start
    while True:
        newline = text.find("\n", lines_end)
        line = text[lines_end:newline]
        if data != -1 and lines_end <= data < newline:
            return text.index("'", data + len("--data '")) + 1
        if not line.rstrip().endswith("\\"):
            return newline
        lines_end = newline + 1


def parse_examples() -> list[Example]:
    """Parse every curl example of the seed pages, in file order."""
    examples: list[Example] = []
    for page in sorted(SEEDS.glob("*.txt")):
        text = page.read_text(encoding="utf-8")
        for num, match in enumerate(_CURL.finditer(text), start=1):
            end = _curl_end(text, match.start())
            block = text[match.start() : end]
            data = _DATA.search(block)
            example = Example(
                name=f"{page.stem[:3]}-{num}-{match['method']}-{urlsplit(match['url']).path}",
                method=match["method"],
                path=urlsplit(match["url"]).path,
                headers={h["name"]: h["value"] for h in _HEADER.finditer(block)},
                data=data["data"] if data else None,
            )
            brace = _OPEN_BRACE_LINE.search(text, end)
            if brace is not None:
                raw = _balanced(text, text.index("{", brace.start()))
                # The docs' response examples have typos (a missing comma).
                example.response = loads_lenient(_MISSING_COMMA.sub(r"\1,\2", raw))
            examples.append(example)
    return examples


EXAMPLES = parse_examples() if SEEDS.is_dir() else []
pytestmark = pytest.mark.skipif(
    not SEEDS.is_dir(),
    reason=f"seed pages not found at {SEEDS} (clone shared/ beside the repo)",
)


def _problems(expected: Any, actual: Any, where: str) -> list[str]:  # noqa: C901, PLR0912
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}: expected an object, got {actual!r}"]
        found: list[str] = []
        for key, value in expected.items():
            if key not in actual:
                found.append(f"{where}.{key}: missing")
            else:
                found += _problems(value, actual[key], f"{where}.{key}")
        return found
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{where}: expected an array, got {actual!r}"]
        found = []
        for num, template in enumerate(expected):
            # Each example item must be matched (key by key) by some answer item.
            if not actual:
                found.append(f"{where}[{num}]: answer has no items")
                continue
            for key in template if isinstance(template, dict) else [None]:
                if all(
                    _problems(
                        template if key is None else {key: template[key]},
                        item,
                        where,
                    )
                    for item in actual
                ):
                    found.append(f"{where}[{num}].{key}: in no answer item")
        return found
    kinds = {bool: (bool,), str: (str,), int: (int, float), float: (int, float)}
    for kind, accepted in kinds.items():
        if isinstance(expected, kind):
            ok = isinstance(actual, accepted) and (
                kind is bool or not isinstance(actual, bool)
            )
            return [] if ok else [f"{where}: expected {kind.__name__}, got {actual!r}"]
    return []


def test_seed_examples_found() -> None:
    """The parser finds every request example of the seed pages."""
    names = [e.name for e in EXAMPLES]
    assert names == [
        "001-1-POST-/devices",
        "001-2-PUT-/meters/interval",
        "001-3-POST-/costs/interval/{id}",
        "001-4-PUT-/meters/interval",
        "003-1-POST-/costs/interval/{id}",
        "004-1-POST-/costs/session/{id}",
    ]
    assert all(e.response for e in EXAMPLES)
    # Seed 001's second meter example really has a trailing comma.
    assert EXAMPLES[3].data is not None
    assert re.search(r",\s*\}", EXAMPLES[3].data)


def _seed_sandbox() -> Sandbox:
    sandbox = Sandbox.with_demo_account()
    assert sandbox.demo_account is not None
    account_id = sandbox.demo_account.account_id
    sandbox.add_location(account_id, location_id=SEED_LOCATION, tariff=Tariff.demo_uk())
    sandbox.add_device(account_id, "EV1", device_id=SEED_EV)
    sandbox.add_device(account_id, "PV1", device_id=SEED_PV)
    # A stored EV session record inside the seeds' 2023-11-07..12-07 window.
    start = datetime(2023, 11, 20, 10, 30, tzinfo=UTC)
    end = datetime(2023, 11, 20, 11, 0, tzinfo=UTC)
    sandbox.store_records(
        [
            StoredRecord(
                id="mre_000000000000000000000001",
                account_id=account_id,
                location_id=SEED_LOCATION,
                device_id=SEED_EV,
                energy_flow_direction="INBOUND",
                tariff_direction="IMPORT",
                units="WH",
                value=10284,
                start_time=start,
                end_time=end,
                energy_wh=10284,
                session_reference_id=SEED_SESSION,
                record_reference_id="MET1234567890",
            )
        ]
    )
    return sandbox


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
async def test_seed_example(example: Example) -> None:
    """The example is accepted and answered in the documented shape."""
    async with (
        SandboxServer(_seed_sandbox()) as server,
        aiohttp.ClientSession() as session,
    ):
        account = server.sandbox.demo_account
        assert account is not None
        async with session.get(
            f"{server.url}/login",
            headers=basic_auth(account.account_id, account.api_key),
        ) as resp:
            token = (await resp.json())["bearer_token"]
        headers = {
            name: value.replace("<token>", token)
            for name, value in example.headers.items()
        }
        path = example.path.replace("{id}", PATH_IDS.get(example.path, "{id}"))
        async with session.request(
            example.method,
            f"{server.url}{path}",
            headers=headers,
            data=None if example.data is None else example.data.encode(),
        ) as resp:
            status = resp.status
            body = await resp.json()
    assert status in (200, 201), body
    assert _problems(example.response, body, "$") == [], json.dumps(body, indent=1)
    if example.path == "/meters/interval":
        assert body["records_accepted"] == 1
        assert body["failed_records"] == []
    if example.path == "/devices":
        assert status == 201
        assert body["reference_id"] == "DEV1234567890"
