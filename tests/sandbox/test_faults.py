"""Every fault kind, through the Python API and through the admin endpoints."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest

from flatpeak_sandbox import Faults, Sandbox, SandboxServer

from .helpers import Api, record


async def _set(api: Api, via_admin: bool, kind: str, **params: Any) -> None:
    """Queue a fault with the Python API or the admin endpoint."""
    if via_admin:
        status, body = await api.admin("POST", f"/faults/{kind}", params)
        assert (status, body) == (200, {"ok": True})
        return
    faults = api.server.sandbox.faults
    match kind:
        case "fail":
            faults.fail_next(**params)
        case "stall":
            faults.stall_next(**params)
        case "drop":
            faults.drop_next(**params)
        case "rate_limit":
            faults.rate_limit_next(**params)
        case "garble":
            faults.garble_next(**params)
        case "expire_tokens":
            faults.expire_tokens()
        case "pending_connect":
            faults.set_pending_connect(**params)
        case "clear":
            faults.clear()


VIA = pytest.mark.parametrize("via_admin", [False, True], ids=["python", "admin"])


@VIA
async def test_fail(api: Api, via_admin: bool) -> None:
    """fail_next answers the status for N matching calls, others pass."""
    await _set(api, via_admin, "fail", count=2, status=503, path="/devices")
    status, body = await api.call("GET", "/locations")
    assert status == 200
    for _ in range(2):
        status, body = await api.call("GET", "/devices")
        assert status == 503
        assert body["type"] == "api_error"
        assert body["code"] == "sandbox_fault"
    status, _ = await api.call("GET", "/devices")
    assert status == 200
    assert [r.fault for r in api.server.sandbox.requests[-3:]] == ["fail", "fail", None]
    # Without a path the next call of any kind fails; 4xx is invalid_request.
    await _set(api, via_admin, "fail", status=400)
    status, body = await api.call("GET", "/locations")
    assert (status, body["type"]) == (400, "invalid_request")


@VIA
async def test_rate_limit(api: Api, via_admin: bool) -> None:
    """429 with and without Retry-After."""
    await _set(api, via_admin, "rate_limit", count=1, retry_after=2.5)
    await _set(api, via_admin, "rate_limit", count=1, retry_after=None)
    await _set(api, via_admin, "rate_limit", count=1)
    headers = []
    for _ in range(3):
        async with api.session.get(
            f"{api.server.url}/locations", headers=api.headers
        ) as resp:
            assert resp.status == 429
            assert (await resp.json())["code"] == "rate_limited"
            headers.append(resp.headers.get("Retry-After"))
    assert headers == ["2.5", None, "1"]


@VIA
async def test_stall_times_out_and_does_not_block_shutdown(
    socket_enabled: None, via_admin: bool
) -> None:
    """A stalled call outlives the client timeout; closing the server is quick."""
    async with aiohttp.ClientSession() as session:
        server = SandboxServer(Sandbox.with_demo_account())
        await server.start()
        api = Api(session, server)
        await api.login()
        await _set(api, via_admin, "stall", seconds=30, path="/locations")
        with pytest.raises(TimeoutError):
            await api.call(
                "GET", "/locations", timeout=aiohttp.ClientTimeout(total=0.3)
            )
        # Not processed: the call after it works.
        started = time.monotonic()
        await server.close()
        assert time.monotonic() - started < 5


async def test_short_stall_answers_504(api: Api) -> None:
    """When the client waits longer than the stall, it gets 504, unprocessed."""
    loc = api.server.sandbox.demo_location_id
    assert loc is not None
    api.server.sandbox.faults.stall_next(seconds=0.05)
    status, body = await api.call("PUT", "/meters/interval", json=[record(loc)])
    assert status == 504
    assert body["code"] == "sandbox_stall"
    assert api.server.sandbox.records() == []


async def test_stall_released_by_close(socket_enabled: None) -> None:
    """A call stalled when the server closes gets 503 or a disconnect at once."""
    sandbox = Sandbox.with_demo_account()
    sandbox.faults.stall_next(seconds=30)
    async with aiohttp.ClientSession() as session:
        server = SandboxServer(sandbox)
        await server.start()
        pending = asyncio.ensure_future(session.get(f"{server.url}/login"))
        await asyncio.sleep(0.2)
        started = time.monotonic()
        await server.close()
        try:
            resp = await asyncio.wait_for(pending, 5)
            assert resp.status == 503
            resp.release()
        except aiohttp.ClientError:
            pass
        assert time.monotonic() - started < 5


@VIA
async def test_drop_processes_then_disconnects(api: Api, via_admin: bool) -> None:
    """The records are stored, the client sees a disconnect."""
    loc = api.server.sandbox.demo_location_id
    assert loc is not None
    await _set(api, via_admin, "drop", path="/costs/instant")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await api.call("POST", "/costs/instant", json=record(loc))
    assert len(api.server.sandbox.records()) == 1
    assert api.server.sandbox.requests[-1].fault == "drop"
    assert api.server.sandbox.requests[-1].status == 200


@VIA
async def test_garble(api: Api, via_admin: bool) -> None:
    """truncate: not JSON; shape: JSON without the required fields. Processed."""
    loc = api.server.sandbox.demo_location_id
    assert loc is not None
    await _set(api, via_admin, "garble", path="/meters/interval")
    async with api.session.put(
        f"{api.server.url}/meters/interval", json=[record(loc)], headers=api.headers
    ) as resp:
        assert resp.status == 200
        text = await resp.text()
    assert text.startswith('{"id": "bat_')
    with pytest.raises(ValueError, match="Expecting|Unterminated"):
        __import__("json").loads(text)
    assert len(api.server.sandbox.records()) == 1
    await _set(api, via_admin, "garble", mode="shape")
    status, body = await api.call("GET", "/locations")
    assert (status, body) == (200, {"object": "list"})
    await _set(api, via_admin, "garble", mode="shape")
    status, body = await api.call("GET", "/nothing")  # a plain 404 body
    assert (status, body) == (200, {"object": None})


@VIA
async def test_expire_tokens(api: Api, via_admin: bool) -> None:
    """Every issued token stops working; a new login works."""
    await _set(api, via_admin, "expire_tokens")
    status, body = await api.call("GET", "/locations")
    assert (status, body) == (401, {"message": "Unauthorized"})
    await api.login()
    status, _ = await api.call("GET", "/locations")
    assert status == 200


@VIA
async def test_pending_connect(api: Api, via_admin: bool) -> None:
    """422 pending_connect for costs, prices and meters naming the location."""
    sandbox = api.server.sandbox
    loc = sandbox.demo_location_id
    assert loc is not None
    assert sandbox.demo_account is not None
    dev = sandbox.add_device(sandbox.demo_account.account_id, "ev")
    await api.call(
        "PUT",
        "/meters/interval",
        json=[record(loc, device_id=dev, session_reference_id="S")],
    )
    other = sandbox.add_location(sandbox.demo_account.account_id)
    await _set(api, via_admin, "pending_connect", location_id=loc)
    window = {"start_time": "2024-01-01T00:00:00Z", "end_time": "2024-02-01T00:00:00Z"}
    calls: list[tuple[str, str, Any]] = [
        ("PUT", "/meters/interval", [record(loc)]),
        (
            "PUT",
            "/meters/cumulative/epoch",
            {"location_id": loc, "units": "WH", "data": []},
        ),
        ("POST", "/costs/instant", record(loc)),
        ("POST", f"/costs/interval/{loc}", window),
        ("POST", f"/costs/interval/{dev}", window),
        ("POST", "/costs/session/S", None),
        ("POST", f"/prices/{loc}", window),
    ]
    for method, path, body in calls:
        status, answer = await api.call(method, path, json=body)
        assert status == 422, path
        assert answer["code"] == "pending_connect"
    assert len(sandbox.records()) == 1
    status, _ = await api.call("GET", f"/locations/{loc}")
    assert status == 200
    status, _ = await api.call("PUT", "/meters/interval", json=[record(other)])
    assert status == 200
    await _set(api, via_admin, "pending_connect", location_id=loc, code="no_price_data")
    status, answer = await api.call("POST", f"/prices/{loc}", json=window)
    assert answer["code"] == "no_price_data"
    await _set(api, via_admin, "pending_connect", location_id=loc, pending=False)
    status, _ = await api.call("POST", f"/prices/{loc}", json=window)
    assert status == 200


@VIA
async def test_clear_and_admin_never_counts(api: Api, via_admin: bool) -> None:
    """Admin calls do not consume faults; clear() drops everything."""
    await _set(api, via_admin, "fail", count=3)
    await _set(api, via_admin, "pending_connect", location_id="loc_x")
    status, listed = await api.admin("GET", "/faults")
    assert status == 200
    assert listed["queue"][0]["remaining"] == 3
    assert listed["pending_connect"] == {"loc_x": "pending_connect"}
    await _set(api, via_admin, "clear")
    assert api.server.sandbox.faults.queue == []
    assert api.server.sandbox.faults.pending_connect == {}
    status, _ = await api.call("GET", "/locations")
    assert status == 200


def test_fault_argument_checks() -> None:
    """Invalid fault arguments raise ValueError."""
    faults = Faults()
    with pytest.raises(ValueError, match="count"):
        faults.drop_next(0)
    with pytest.raises(ValueError, match="status"):
        faults.fail_next(status=200)
    with pytest.raises(ValueError, match="mode"):
        faults.garble_next(mode="bad")  # type: ignore[arg-type]
    faults.expire_tokens()  # no hook: nothing happens
    assert faults.take("/x") is None


async def test_admin_fault_errors(api: Api) -> None:
    """Bad admin fault bodies answer 400; unknown kinds 404."""
    for kind, body in (
        ("fail", {"count": 0}),
        ("fail", {"count": True}),
        ("fail", {"status": 200}),
        ("stall", {"seconds": "x"}),
        ("garble", {"mode": "bad"}),
        ("pending_connect", {}),
        ("drop", {"path": 3}),
    ):
        status, answer = await api.admin("POST", f"/faults/{kind}", body)
        assert status == 400, (kind, body)
        assert "message" in answer
    status, _ = await api.admin("POST", "/faults/explode", {})
    assert status == 404
    status, _ = await api.admin("POST", "/faults/drop", [1])
    assert status == 400
    async with api.session.post(
        f"{api.server.url}/_sandbox/faults/drop", data=b"{bad"
    ) as resp:
        assert resp.status == 400
