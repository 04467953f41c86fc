"""Login, version header, locations, devices and pagination."""

from __future__ import annotations

import aiohttp
import pytest

from flatpeak_sandbox import Sandbox, SandboxServer

from .helpers import Api, basic_auth


async def test_login_and_bad_credentials(api: Api) -> None:
    """Basic auth gives a token; wrong key or no auth gets 403 Bad credentials."""
    url = f"{api.server.url}/login"
    account = api.server.sandbox.demo_account
    assert account is not None
    async with api.session.get(
        url, headers=basic_auth(account.account_id, account.api_key)
    ) as resp:
        body = await resp.json()
    assert body["expires_in"] == 3600
    assert body["live_mode"] is False
    assert isinstance(body["bearer_token"], str)
    for headers in (basic_auth(account.account_id, "sk_test_wrong"), {}):
        async with api.session.get(url, headers=headers) as resp:
            assert resp.status == 403
            assert await resp.json() == {"message": "Bad credentials"}


async def test_bearer_required(api: Api) -> None:
    """Unknown tokens get 401 Unauthorized by default."""
    status, body = await api.call(
        "GET", "/locations", headers={"Authorization": "Bearer nope"}
    )
    assert (status, body) == (401, {"message": "Unauthorized"})
    status, _ = await api.call("GET", "/locations", headers={"Authorization": ""})
    assert status == 401


async def test_expired_token_403_and_lifetime(socket_enabled: None) -> None:
    """expired_token_status=403 and a zero token lifetime."""
    sandbox = Sandbox.with_demo_account(token_lifetime=0, expired_token_status=403)
    async with SandboxServer(sandbox) as server, aiohttp.ClientSession() as session:
        api = Api(session, server)
        await api.login()
        status, body = await api.call("GET", "/locations")
        assert (status, body) == (403, {"message": "Bad credentials"})
    with pytest.raises(ValueError, match="401 or 403"):
        Sandbox(expired_token_status=500)
    with pytest.raises(ValueError, match="dedup"):
        Sandbox(dedup="other")  # type: ignore[arg-type]


async def test_version_header(api: Api) -> None:
    """Missing header accepted and logged as None; another release gets 400."""
    status, _ = await api.call("GET", "/locations", headers={"Flatpeak-Version": None})
    assert status == 200
    versions = [request.flatpeak_version for request in api.server.sandbox.requests]
    status, _ = await api.call("GET", "/locations")
    versions += [api.server.sandbox.requests[-1].flatpeak_version]
    assert versions[-2:] == [None, "2025-09-14.anode"]
    status, body = await api.call(
        "GET", "/locations", headers={"Flatpeak-Version": "2024-08-24.zero"}
    )
    assert status == 400
    assert body["object"] == "error"
    assert body["code"] == "api_version_invalid"
    assert set(body) == {
        "object",
        "type",
        "code",
        "message",
        "live_mode",
        "time_created",
    }
    versions = [r.flatpeak_version for r in api.server.sandbox.requests]
    assert versions[0] is None  # the login
    assert versions[-1] == "2024-08-24.zero"
    assert api.server.sandbox.requests[-1].status == 400


async def test_locations(api: Api) -> None:
    """Create (country-derived timezone/currency), get, list, errors."""
    sandbox = api.server.sandbox
    status, loc = await api.call(
        "POST",
        "/locations",
        json={
            "reference_id": "HOME1",
            "postal_address": {
                "address_line1": "1 Rue X",
                "city": "Paris",
                "post_code": "75001",
                "country_code": "fr",
            },
        },
    )
    assert status == 201
    assert loc["timezone"] == "Europe/Paris"
    assert loc["currency_code"] == "EUR"
    assert loc["postal_address"]["country_code"] == "FR"
    assert loc["tariff_status"]["commodity_import"] == "NOT_CONNECTED"
    assert loc["id"].startswith("loc_")
    assert len(loc["id"]) == 28
    status, got = await api.call("GET", f"/locations/{loc['id']}")
    assert (status, got) == (200, loc)
    status, body = await api.call("GET", "/locations")
    assert [item["id"] for item in body["data"]] == [
        loc["id"],
        sandbox.demo_location_id,
    ]
    assert body["object"] == "list"
    assert body["url"] == "/locations"
    status, body = await api.call("GET", "/locations?reference_id=HOME1")
    assert [item["id"] for item in body["data"]] == [loc["id"]]
    # Duplicate reference_id.
    status, body = await api.call(
        "POST",
        "/locations",
        json={"reference_id": "HOME1", "postal_address": {"country_code": "GB"}},
    )
    assert (status, body) == (409, {"message": "Conflict"})
    # Country problems.
    for address, code in (
        ({}, "country_code_invalid"),
        ({"country_code": "GBR"}, "country_code_invalid"),
        ({"country_code": "ZZ"}, "timezone_not_found"),
    ):
        status, body = await api.call(
            "POST", "/locations", json={"postal_address": address}
        )
        assert status == 422
        assert body["code"] == code
    bad: object
    for bad in (
        {"postal_address": "x"},
        {"postal_address": {"city": 3, "country_code": "GB"}},
        {"reference_id": 5, "postal_address": {"country_code": "GB"}},
        [],
    ):
        status, body = await api.call("POST", "/locations", json=bad)
        assert status == 400
        assert body["code"] == "body_invalid"
    status, body = await api.call("GET", "/locations/loc_unknown")
    assert (status, body) == (404, {"message": "Not Found"})


async def test_other_account_is_invisible(api: Api) -> None:
    """Objects of another account answer 404."""
    sandbox = api.server.sandbox
    other = sandbox.add_account()
    loc = sandbox.add_location(other.account_id, country_code="DE")
    dev = sandbox.add_device(other.account_id, "X")
    assert sandbox.locations[loc].timezone == "Europe/Berlin"
    for path in (f"/locations/{loc}", f"/devices/{dev}"):
        status, _ = await api.call("GET", path)
        assert status == 404
    with pytest.raises(KeyError):
        sandbox.add_location("acc_nobody")
    with pytest.raises(ValueError, match="timezone"):
        sandbox.add_location(other.account_id, country_code="ZZ")
    explicit = sandbox.add_location(
        other.account_id, country_code="ZZ", timezone="UTC", currency_code="XXX"
    )
    assert sandbox.locations[explicit].geo_location is None


async def test_devices_and_pagination(api: Api) -> None:
    """Devices: create, get, filter; cursors both ways; limit validation."""
    ids = []
    for num in range(5):
        status, dev = await api.call(
            "POST", "/devices", json={"reference_id": f"D{num}"}
        )
        assert status == 201
        assert dev["object"] == "device"
        ids.append(dev["id"])
    newest_first = ids[::-1]
    status, dev = await api.call("GET", f"/devices/{ids[0]}")
    assert dev["reference_id"] == "D0"
    status, body = await api.call("GET", "/devices?reference_id=D3")
    assert [d["id"] for d in body["data"]] == [ids[3]]
    status, page1 = await api.call("GET", "/devices?limit=2")
    assert [d["id"] for d in page1["data"]] == newest_first[:2]
    assert page1["has_more"] is True
    status, page2 = await api.call(
        "GET", f"/devices?limit=2&starting_after={newest_first[1]}"
    )
    assert [d["id"] for d in page2["data"]] == newest_first[2:4]
    assert page2["has_more"] is True
    status, page3 = await api.call(
        "GET", f"/devices?limit=2&starting_after={newest_first[3]}"
    )
    assert [d["id"] for d in page3["data"]] == newest_first[4:]
    assert page3["has_more"] is False
    status, back = await api.call(
        "GET", f"/devices?limit=2&ending_before={newest_first[4]}"
    )
    assert [d["id"] for d in back["data"]] == newest_first[2:4]
    assert back["has_more"] is True
    status, back = await api.call(
        "GET", f"/devices?limit=5&ending_before={newest_first[1]}"
    )
    assert [d["id"] for d in back["data"]] == newest_first[:1]
    assert back["has_more"] is False
    status, everything = await api.call("GET", "/devices")
    assert len(everything["data"]) == 5
    assert everything["has_more"] is False
    for query in (
        "limit=0",
        "limit=101",
        "limit=x",
        "starting_after=dev_nope",
        f"starting_after={ids[0]}&ending_before={ids[1]}",
    ):
        status, body = await api.call("GET", f"/devices?{query}")
        assert status == 400, query
    # Device without a body, and with a bad reference.
    status, dev = await api.call("POST", "/devices")
    assert status == 201
    assert dev["reference_id"] is None
    status, _ = await api.call("POST", "/devices", json={"reference_id": 1})
    assert status == 400
    status, _ = await api.call("GET", "/devices/dev_nope")
    assert status == 404


async def test_unknown_route_and_method(api: Api) -> None:
    """Unknown paths 404; wrong methods 405."""
    status, body = await api.call("GET", "/nothing")
    assert (status, body) == (404, {"message": "Not Found"})
    status, body = await api.call("DELETE", "/devices")
    assert status == 405
    assert body["code"] == "method_not_allowed"


async def test_invalid_json_body(api: Api) -> None:
    """Invalid JSON is 400 body_invalid; trailing commas are accepted."""
    status, body = await api.call(
        "POST", "/devices", data=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert status == 400
    assert body["code"] == "body_invalid"
    assert api.server.sandbox.requests[-1].body == "{nope"
    status, body = await api.call(
        "POST",
        "/devices",
        data=b'{"reference_id": "A,]}",}',
        headers={"Content-Type": "application/json"},
    )
    assert status == 201
    assert body["reference_id"] == "A,]}"
