"""Client behaviour on answers the sandbox never gives, from a scripted server."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from custom_components.flatpeak.api import (
    FlatpeakApiError,
    FlatpeakAuthError,
    FlatpeakClient,
    FlatpeakConnectionError,
    FlatpeakRateLimitError,
    FlatpeakResponseError,
    MeterRecord,
)

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

API_KEY = "sk_test_FAKE-edge-case-key"  # obviously fake: never a real key
TOKEN = "tok-secret-42"  # noqa: S105 - a fake token the server hands out
T0 = datetime(2025, 1, 1, tzinfo=UTC)


@dataclass
class Script:
    """Canned answers per path, consumed in order; `/login` always succeeds."""

    answers: dict[str, list[web.Response]] = field(default_factory=dict)
    seen: list[web.Request] = field(default_factory=list)
    expires_in: int = 3600

    def add(self, path: str, response: web.Response) -> None:
        """Queue `response` for the next request to `path`."""
        self.answers.setdefault(path, []).append(response)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Answer from the script."""
        self.seen.append(request)
        queued = self.answers.get(request.path)
        if queued:
            return queued.pop(0)
        if request.path == "/login":
            return web.json_response(
                {
                    "bearer_token": TOKEN,
                    "expires_in": self.expires_in,
                    "live_mode": False,
                }
            )
        return web.json_response({"message": "Not Found"}, status=404)


@pytest.fixture
async def scripted() -> AsyncGenerator[tuple[Script, TestServer]]:
    """Run a scripted HTTP server on loopback."""
    script = Script()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", script.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield script, server
    finally:
        await server.close()


@pytest.fixture
def fake(
    scripted: tuple[Script, TestServer], session: aiohttp.ClientSession
) -> tuple[Script, FlatpeakClient]:
    """Return the script and a client pointed at it (trailing slash on purpose)."""
    script, server = scripted
    url = str(server.make_url("/"))
    assert url.endswith("/")
    return script, FlatpeakClient(session, "acc_1", API_KEY, base_url=url)


def _json(data: Any, status: int = 200, **headers: str) -> web.Response:
    return web.json_response(data, status=status, headers=headers)


async def test_error_bodies_that_are_not_flatpeak_errors(
    fake: tuple[Script, FlatpeakClient],
) -> None:
    """4xx answers without a usable error object still give a clear ApiError."""
    script, client = fake
    script.add("/locations/loc_1", web.Response(status=400, text="<html>oops"))
    script.add("/locations/loc_2", _json(["not", "an", "object"], status=409))
    script.add("/locations/loc_3", _json({"code": 7, "message": None}, status=410))
    for location_id, status in (("loc_1", 400), ("loc_2", 409), ("loc_3", 410)):
        with pytest.raises(FlatpeakApiError) as err:
            await client.get_location(location_id)
        assert err.value.status == status
        assert err.value.code is None
        assert err.value.message == f"GET /locations/{location_id} refused"
    script.add("/locations/gone", web.Response(status=404))
    with pytest.raises(FlatpeakApiError, match="/locations/gone not found"):
        await client.get_location("gone")


async def test_secrets_echoed_by_the_server_are_redacted(
    fake: tuple[Script, FlatpeakClient],
) -> None:
    """Even a server echoing the key or token cannot leak them into errors."""
    script, client = fake
    script.add(
        "/locations/loc_1",
        _json({"message": f"key {API_KEY} token {TOKEN}", "code": "x"}, status=400),
    )
    with pytest.raises(FlatpeakApiError) as err:
        await client.get_location("loc_1")
    assert API_KEY not in str(err.value)
    assert TOKEN not in str(err.value)
    assert "key *** token ***" in str(err.value)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("7", 7.0),
        ("0.5", 0.5),
        ("-3", 0.0),
        ("inf", None),
        ("soon", None),
        ("Mon, 01 Jan 2001 00:00:00 GMT", 0.0),
    ],
)
async def test_retry_after_forms(
    fake: tuple[Script, FlatpeakClient], header: str, expected: float | None
) -> None:
    """Retry-After in seconds or as a date; nonsense becomes None."""
    script, client = fake
    script.add(
        "/locations/loc_1", _json({"message": "slow"}, 429, **{"Retry-After": header})
    )
    with pytest.raises(FlatpeakRateLimitError) as err:
        await client.get_location("loc_1")
    assert err.value.retry_after == expected


async def test_retry_after_http_date_in_the_future(
    fake: tuple[Script, FlatpeakClient],
) -> None:
    """A future HTTP date becomes the seconds until then."""
    script, client = fake
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    script.add("/locations/loc_1", _json({}, 429, **{"Retry-After": when}))
    with pytest.raises(FlatpeakRateLimitError, match="retry after") as err:
        await client.get_location("loc_1")
    assert err.value.retry_after is not None
    assert 100 < err.value.retry_after <= 120


async def test_naive_http_date_is_taken_as_utc(
    fake: tuple[Script, FlatpeakClient],
) -> None:
    """An HTTP date with a -0000 zone is read as UTC."""
    naive = "1 Jan 2001 00:00 -0000"
    script, client = fake
    script.add("/locations/loc_1", _json({}, 429, **{"Retry-After": naive}))
    with pytest.raises(FlatpeakRateLimitError) as err:
        await client.get_location("loc_1")
    assert err.value.retry_after == 0.0


async def test_login_401_is_an_auth_error(fake: tuple[Script, FlatpeakClient]) -> None:
    """Some servers answer 401 to bad Basic credentials."""
    script, client = fake
    script.add("/login", _json({"message": "Unauthorized"}, 401))
    with pytest.raises(FlatpeakAuthError, match="HTTP 401") as err:
        await client.login()
    assert API_KEY not in str(err.value)


async def test_pages_without_progress_are_refused(
    fake: tuple[Script, FlatpeakClient],
) -> None:
    """A page claiming more items but giving no cursor cannot loop forever."""
    script, client = fake
    script.add("/locations", _json({"object": "list", "has_more": True, "data": []}))
    with pytest.raises(FlatpeakResponseError, match="empty page"):
        await client.list_locations()
    script.add("/devices", _json({"has_more": True, "data": [{"reference_id": "r"}]}))
    with pytest.raises(FlatpeakResponseError, match="no string 'id'"):
        await client.list_devices()
    script.add("/devices", _json({"has_more": False, "data": {}}))
    with pytest.raises(
        FlatpeakResponseError, match="/devices: 'data' must be an array"
    ):
        await client.list_devices()


async def test_failed_record_outside_the_records_sent(
    fake: tuple[Script, FlatpeakClient],
) -> None:
    """A record_num that does not point into the records sent is a broken answer."""
    script, client = fake
    script.add(
        "/meters/interval",
        _json(
            {
                "id": "bat_1",
                "records_submitted": 1,
                "records_accepted": 0,
                "records_processed": 0,
                "failed_records": [{"record_num": 1, "error": "bad"}],
            }
        ),
    )
    record = MeterRecord("loc_1", T0, T0 + timedelta(minutes=30), 1.0)
    with pytest.raises(FlatpeakResponseError, match="'record_num' 1 is outside"):
        await client.submit_interval_records([record])


async def test_short_lived_token_is_not_renewed_on_every_call(
    fake: tuple[Script, FlatpeakClient],
) -> None:
    """A token living 30 s is renewed after half its life, not immediately."""
    script, client = fake
    script.expires_in = 30
    for _ in range(2):
        script.add("/devices", _json({"has_more": False, "data": []}))
    await client.list_devices()
    await client.list_devices()
    assert [r.path for r in script.seen].count("/login") == 1


async def test_ids_are_quoted_into_one_path_segment(
    fake: tuple[Script, FlatpeakClient],
) -> None:
    """A session id with a slash stays one path segment."""
    script, client = fake
    with pytest.raises(FlatpeakApiError):
        await client.session_cost("a/b c")
    assert script.seen[-1].raw_path.startswith("/costs/session/a%2Fb%20c?")


async def test_connection_refused(session: aiohttp.ClientSession) -> None:
    """Nothing listening is a connection error without the key in it."""
    client = FlatpeakClient(session, "acc_1", API_KEY, base_url="http://127.0.0.1:9")
    with pytest.raises(FlatpeakConnectionError, match="Cannot reach Flatpeak") as err:
        await client.login()
    assert API_KEY not in str(err.value)
