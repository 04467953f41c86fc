"""Authentication, token handling and every sandbox fault, seen by the client."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from custom_components.flatpeak.api import (
    FlatpeakApiError,
    FlatpeakAuthError,
    FlatpeakClient,
    FlatpeakConnectionError,
    FlatpeakError,
    FlatpeakRateLimitError,
    FlatpeakResponseError,
    MeterRecord,
)
from flatpeak_sandbox import Sandbox, SandboxServer
from flatpeak_sandbox.server import CLIENT_CLOSED_REQUEST

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from .conftest import ClientFactory

T0 = datetime(2025, 1, 15, 10, 0, tzinfo=UTC)


def _paths(sandbox: SandboxServer) -> list[str]:
    return [r.path for r in sandbox.sandbox.requests]


def _statuses(sandbox: SandboxServer) -> list[tuple[str, int]]:
    return [(r.path, r.status) for r in sandbox.sandbox.requests]


def _location(sandbox: SandboxServer) -> str:
    location_id = sandbox.sandbox.demo_location_id
    assert location_id is not None
    return location_id


@pytest.fixture
async def sandbox_403() -> AsyncGenerator[SandboxServer]:
    """Run a sandbox that answers expired tokens with 403."""
    async with SandboxServer(
        Sandbox.with_demo_account(expired_token_status=403)
    ) as server:
        yield server


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        """Start at zero."""
        self.now = 0.0

    def __call__(self) -> float:
        """Return the current time in seconds."""
        return self.now


async def test_wrong_key_is_an_auth_error(
    sandbox: SandboxServer, make_client: ClientFactory
) -> None:
    """403 on /login raises FlatpeakAuthError without the key in it."""
    client = make_client(api_key="sk_test_wrong_key_123")
    with pytest.raises(FlatpeakAuthError) as err:
        await client.login()
    assert "sk_test_wrong_key_123" not in str(err.value)
    assert "HTTP 403" in str(err.value)
    # A bearer call logs in first and fails the same way.
    with pytest.raises(FlatpeakAuthError):
        await client.list_locations()
    assert _statuses(sandbox) == [("/login", 403), ("/login", 403)]


@pytest.mark.parametrize("status", [401, 403])
async def test_expired_token_relogs_in_transparently(
    sandbox: SandboxServer,
    sandbox_403: SandboxServer,
    make_client: ClientFactory,
    status: int,
) -> None:
    """An expired token (401 or 403) is replaced once and the call retried."""
    server = sandbox if status == 401 else sandbox_403
    client = make_client(server)
    await client.login()
    server.sandbox.faults.expire_tokens()
    locations = await client.list_locations()
    assert [loc.id for loc in locations] == [_location(server)]
    assert _statuses(server) == [
        ("/login", 200),
        ("/locations", status),
        ("/login", 200),
        ("/locations", 200),
    ]


async def test_repeated_refusal_is_an_auth_error(
    sandbox: SandboxServer, client: FlatpeakClient
) -> None:
    """After one re-login, a second 403 means the credentials are bad."""
    sandbox.sandbox.faults.fail_next(2, status=403, path="/locations")
    with pytest.raises(FlatpeakAuthError, match="HTTP 403") as err:
        await client.list_locations()
    assert _paths(sandbox) == ["/login", "/locations", "/login", "/locations"]
    assert not isinstance(err.value, FlatpeakApiError)


async def test_token_renewed_before_expiry(
    sandbox: SandboxServer, make_client: ClientFactory
) -> None:
    """The token is renewed 5 % (at least 60 s) before `expires_in` runs out."""
    clock = FakeClock()
    client = make_client(clock=clock)
    await client.list_devices()
    clock.now = 3600 - 181  # just before 3600 - max(5 % of 3600, 60) = 3420
    await client.list_devices()
    assert _paths(sandbox).count("/login") == 1
    clock.now = 3420
    await client.list_devices()
    assert _paths(sandbox).count("/login") == 2
    # No request ever went out with a token the sandbox considered expired.
    assert {r.status for r in sandbox.sandbox.requests} == {200}


async def test_concurrent_calls_share_one_login(
    sandbox: SandboxServer, client: FlatpeakClient
) -> None:
    """Ten calls started together trigger a single login."""
    location_id = _location(sandbox)
    results = await asyncio.gather(
        *(client.get_location(location_id) for _ in range(10))
    )
    assert {loc.id for loc in results} == {location_id}
    assert _paths(sandbox).count("/login") == 1

    # After expiry, concurrent refusals also share one re-login.
    sandbox.sandbox.faults.expire_tokens()
    await asyncio.gather(*(client.get_location(location_id) for _ in range(5)))
    assert _paths(sandbox).count("/login") == 2


async def test_server_error_is_a_connection_error(
    sandbox: SandboxServer, client: FlatpeakClient
) -> None:
    """5xx becomes FlatpeakConnectionError; the next call works."""
    sandbox.sandbox.faults.fail_next(1, status=500, path="/locations")
    with pytest.raises(FlatpeakConnectionError, match="HTTP 500"):
        await client.list_locations()
    assert len(await client.list_locations()) == 1


async def test_login_server_error(
    sandbox: SandboxServer, client: FlatpeakClient
) -> None:
    """A 5xx on /login is a connection problem, not bad credentials."""
    sandbox.sandbox.faults.fail_next(1, status=502, path="/login")
    with pytest.raises(FlatpeakConnectionError):
        await client.login()
    assert (await client.login()).bearer_token


async def test_stall_is_a_connection_error(
    sandbox: SandboxServer, make_client: ClientFactory
) -> None:
    """A call that hangs past request_timeout becomes FlatpeakConnectionError."""
    client = make_client(request_timeout=0.3)
    await client.login()
    sandbox.sandbox.faults.stall_next(1, seconds=1.0, path="/locations")
    with pytest.raises(FlatpeakConnectionError, match="did not answer"):
        await client.list_locations()
    assert len(await client.list_locations()) == 1


async def test_dropped_answer_after_processing(
    sandbox: SandboxServer, client: FlatpeakClient
) -> None:
    """A cut connection is a connection error although Flatpeak stored the records.

    The transport does not send the PUT again by itself (its second try is cut
    short before the body leaves): resending is the caller's decision.
    """
    location_id = _location(sandbox)
    record = MeterRecord(
        location_id, T0, T0 + timedelta(minutes=30), 1.0, record_reference_id="r1"
    )
    sandbox.sandbox.faults.drop_next(1, path="/meters/interval")
    with pytest.raises(FlatpeakConnectionError, match="Cannot reach Flatpeak"):
        await client.submit_interval_records([record])
    puts = [r for r in sandbox.sandbox.requests if r.path == "/meters/interval"]
    assert (puts[0].fault, puts[0].status) == ("drop", 200)
    assert all(r.status == CLIENT_CLOSED_REQUEST for r in puts[1:])
    assert len(sandbox.sandbox.records(location_id=location_id)) == 1
    # Resending the identical record is how callers recover.
    result = await client.submit_interval_records([record])
    assert result.accepted == (record,)


@pytest.mark.sandbox(dedup="duplicate")
async def test_dropped_put_is_never_resent_by_the_transport(
    sandbox: SandboxServer, client: FlatpeakClient
) -> None:
    """A meter PUT cut after Flatpeak stored it is stored once, and reported failed.

    aiohttp resends an idempotent request once by itself when the server closes a
    connection before answering; for meter records that stores them twice at a
    Flatpeak that keeps duplicates. Only the caller, after asking Flatpeak what it
    holds, may send records again.
    """
    location_id = _location(sandbox)
    await client.list_locations()  # the PUT goes out on a reused connection
    record = MeterRecord(
        location_id, T0, T0 + timedelta(minutes=30), 1.0, record_reference_id="r1"
    )
    sandbox.sandbox.faults.drop_next(1, path="/meters/interval")
    with pytest.raises(FlatpeakConnectionError, match="Cannot reach Flatpeak"):
        await client.submit_interval_records([record])
    assert len(sandbox.sandbox.records(location_id=location_id)) == 1
    # Other calls still go on: the next PUT is sent normally.
    second = MeterRecord(
        location_id,
        T0 + timedelta(minutes=30),
        T0 + timedelta(hours=1),
        1.0,
        record_reference_id="r2",
    )
    result = await client.submit_interval_records([second])
    assert result.accepted == (second,)
    assert len(sandbox.sandbox.records(location_id=location_id)) == 2


async def test_dropped_post_is_not_resent(
    sandbox: SandboxServer, client: FlatpeakClient
) -> None:
    """A POST is never resent: one drop is one connection error."""
    location_id = _location(sandbox)
    record = MeterRecord(location_id, T0, T0 + timedelta(minutes=30), 1.0)
    sandbox.sandbox.faults.drop_next(1, path="/costs/instant")
    with pytest.raises(FlatpeakConnectionError):
        await client.instant_cost(record, non_persistent=False)
    assert len(sandbox.sandbox.records(location_id=location_id)) == 1
    assert [r.path for r in sandbox.sandbox.requests].count("/costs/instant") == 1


@pytest.mark.parametrize(
    ("retry_after", "expected"), [(2.5, 2.5), (3.0, 3.0), (None, None)]
)
async def test_rate_limit(
    sandbox: SandboxServer,
    client: FlatpeakClient,
    retry_after: float | None,
    expected: float | None,
) -> None:
    """429 gives FlatpeakRateLimitError with Retry-After, never an auth error."""
    await client.login()
    sandbox.sandbox.faults.rate_limit_next(1, retry_after=retry_after, path="/devices")
    with pytest.raises(FlatpeakRateLimitError) as err:
        await client.list_devices()
    assert err.value.retry_after == expected
    assert not isinstance(err.value, FlatpeakAuthError)
    # No re-login and no retry: backoff belongs to the caller.
    assert _paths(sandbox) == ["/login", "/devices"]


async def test_rate_limited_login(
    sandbox: SandboxServer, client: FlatpeakClient
) -> None:
    """429 on /login is a rate limit too, not bad credentials."""
    sandbox.sandbox.faults.rate_limit_next(1, path="/login")
    with pytest.raises(FlatpeakRateLimitError):
        await client.login()


@pytest.mark.parametrize("code", ["pending_connect", "no_tariff_connected"])
async def test_pending_connect(
    sandbox: SandboxServer, client: FlatpeakClient, code: str
) -> None:
    """422 with Flatpeak's code reaches the caller as FlatpeakApiError.code."""
    location_id = _location(sandbox)
    sandbox.sandbox.faults.set_pending_connect(location_id, code=code)
    with pytest.raises(FlatpeakApiError) as err:
        await client.get_prices(location_id, T0, T0 + timedelta(hours=1))
    assert err.value.status == 422
    assert err.value.code == code
    assert code in str(err.value)
    sandbox.sandbox.faults.set_pending_connect(location_id, pending=False)
    assert (await client.get_prices(location_id, T0, T0 + timedelta(hours=1))).periods


@pytest.mark.parametrize(
    ("mode", "message"),
    [("truncate", "not JSON"), ("shape", "location: 'id' is missing")],
)
async def test_garbled_answer(
    sandbox: SandboxServer, client: FlatpeakClient, mode: str, message: str
) -> None:
    """A broken 200 body is a FlatpeakResponseError, never KeyError/TypeError."""
    location_id = _location(sandbox)
    sandbox.sandbox.faults.garble_next(1, path="/locations/", mode=mode)  # type: ignore[arg-type]
    with pytest.raises(FlatpeakResponseError, match=message):
        await client.get_location(location_id)


async def test_garbled_batch(sandbox: SandboxServer, client: FlatpeakClient) -> None:
    """A meter batch reduced to its object type names the missing field."""
    location_id = _location(sandbox)
    record = MeterRecord(location_id, T0, T0 + timedelta(minutes=30), 1.0)
    sandbox.sandbox.faults.garble_next(1, path="/meters/interval", mode="shape")
    with pytest.raises(FlatpeakResponseError, match="meter_batch: 'id' is missing"):
        await client.submit_interval_records([record])


async def test_secrets_never_in_messages(
    sandbox: SandboxServer, make_client: ClientFactory
) -> None:
    """No error message, whatever the failure, contains the key or the token."""
    client = make_client(request_timeout=0.3)
    account = sandbox.sandbox.demo_account
    assert account is not None
    token = (await client.login()).bearer_token
    faults = sandbox.sandbox.faults
    errors: list[FlatpeakError] = []
    injections = [
        lambda: faults.fail_next(1, status=500, path="/devices"),
        lambda: faults.fail_next(2, status=401, path="/devices"),
        lambda: faults.fail_next(1, status=400, path="/devices"),
        lambda: faults.rate_limit_next(1, path="/devices"),
        lambda: faults.stall_next(1, seconds=1.0, path="/devices"),
        lambda: faults.drop_next(2, path="/devices"),
        lambda: faults.garble_next(1, path="/devices"),
        lambda: faults.garble_next(1, path="/devices", mode="shape"),
    ]
    for inject in injections:
        inject()
        with pytest.raises(FlatpeakError) as err:
            await client.list_devices()
        errors.append(err.value)
    wrong = make_client(api_key=account.api_key + "x")
    with pytest.raises(FlatpeakError) as bad_key:
        await wrong.login()
    errors.append(bad_key.value)
    assert len({type(error) for error in errors}) == 5
    for error in errors:
        for text in (str(error), repr(error)):
            assert account.api_key not in text
            assert token not in text
