"""Admin endpoints under ``/_sandbox/``: no auth, never counted by faults.

=======  ===================================  =========================================
method   path                                 body / query
=======  ===================================  =========================================
GET      /_sandbox/state                      accounts, demo ids, counts
POST     /_sandbox/faults/fail                ``{count, status, path}``
POST     /_sandbox/faults/stall               ``{count, seconds, path}``
POST     /_sandbox/faults/drop                ``{count, path}``
POST     /_sandbox/faults/rate_limit          ``{count, retry_after, path}``
POST     /_sandbox/faults/garble              ``{count, path, mode}``
POST     /_sandbox/faults/expire_tokens       (none)
POST     /_sandbox/faults/pending_connect     ``{location_id, pending, code}``
POST     /_sandbox/faults/clear               (none)
GET      /_sandbox/faults                     queued faults and pending locations
GET      /_sandbox/records                    ``?location_id=&device_id=``
GET      /_sandbox/requests                   every API request seen
POST     /_sandbox/accounts                   ``{account_id?, api_key?}``
POST     /_sandbox/locations                  ``{account_id, address_line1?, city?,
                                              post_code?, country_code?, timezone?,
                                              currency_code?, location_id?,
                                              reference_id?, tariff?}``
PUT      /_sandbox/locations/{id}/tariff      a tariff object, or ``null``
POST     /_sandbox/devices                    ``{account_id, reference_id?,
                                              device_id?}``
POST     /_sandbox/reset                      forget records, batches, requests,
                                              tokens and faults
=======  ===================================  =========================================

A tariff object is ``{"currency_code", "timezone", "import_default",
"import_periods": [{"start": "00:30", "end": "04:30", "price": 0.07}],
"export_price", "local_price", "confidence", "kind", "seed"}`` (missing keys
take defaults; ``kind`` is "tou" (default) or "agile", ``seed`` an integer, 0 by
default). ``PUT /_sandbox/locations/{id}/tariff`` with ``{"kind": "agile",
"seed": 7}`` switches a location to the Agile-style tariff (GBP, Europe/London
unless given), one with ``kind`` "tou" (or none) back to time-of-use.
Errors answer 400 ``{"message": ...}`` (404 for an unknown location).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .errors import ApiError
from .tariff import Tariff
from .util import loads_lenient

if TYPE_CHECKING:
    from .state import Sandbox

type _Handler = Callable[[web.Request], Awaitable[web.Response]]


def _bad(message: str) -> ApiError:
    return ApiError(400, None, message, plain=True)


async def _body(request: web.Request) -> Any:
    text = await request.text()
    if not text.strip():
        return {}
    try:
        return loads_lenient(text)
    except ValueError:
        raise _bad("body is not JSON") from None


async def _object(request: web.Request) -> dict[str, Any]:
    body = await _body(request)
    if not isinstance(body, dict):
        raise _bad("body must be a JSON object")
    return body


def _count(body: dict[str, Any]) -> int:
    count = body.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise _bad("count must be a positive integer")
    return count


def _opt_str(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise _bad(f"{key} must be a string")
    return value


def _tariff(data: Any) -> Tariff | None:
    if data is None:
        return None
    try:
        return Tariff.from_dict(data)
    except (KeyError, TypeError, ValueError) as err:
        raise _bad(f"invalid tariff: {err}") from None


def add_admin_routes(app: web.Application, sandbox: Sandbox) -> None:  # noqa: C901, PLR0915
    """Register the ``/_sandbox/`` routes on ``app``."""
    faults = sandbox.faults

    async def fault(request: web.Request) -> web.Response:  # noqa: C901
        kind = request.match_info["kind"]
        body = await _object(request)
        path = _opt_str(body, "path")
        try:
            match kind:
                case "fail":
                    faults.fail_next(
                        _count(body), status=int(body.get("status", 500)), path=path
                    )
                case "stall":
                    faults.stall_next(
                        _count(body),
                        seconds=float(body.get("seconds", 30.0)),
                        path=path,
                    )
                case "drop":
                    faults.drop_next(_count(body), path=path)
                case "rate_limit":
                    retry = body.get("retry_after", 1.0)
                    faults.rate_limit_next(
                        _count(body),
                        retry_after=None if retry is None else float(retry),
                        path=path,
                    )
                case "garble":
                    faults.garble_next(
                        _count(body), path=path, mode=body.get("mode", "truncate")
                    )
                case "expire_tokens":
                    faults.expire_tokens()
                case "pending_connect":
                    location_id = _opt_str(body, "location_id")
                    if location_id is None:
                        raise _bad("location_id is required")
                    faults.set_pending_connect(
                        location_id,
                        pending=bool(body.get("pending", True)),
                        code=str(body.get("code", "pending_connect")),
                    )
                case "clear":
                    faults.clear()
                case _:
                    raise ApiError(404, None, f"unknown fault {kind}", plain=True)
        except (TypeError, ValueError) as err:
            raise _bad(str(err)) from None
        return web.json_response({"ok": True})

    async def list_faults(_request: web.Request) -> web.Response:
        return web.json_response(
            {
                "queue": [asdict(f) for f in faults.queue],
                "pending_connect": faults.pending_connect,
            }
        )

    async def records(request: web.Request) -> web.Response:
        found = sandbox.records(
            location_id=request.query.get("location_id"),
            device_id=request.query.get("device_id"),
        )
        return web.json_response({"data": [r.to_json() for r in found]})

    async def requests(_request: web.Request) -> web.Response:
        return web.json_response({"data": [asdict(r) for r in sandbox.requests]})

    async def state(_request: web.Request) -> web.Response:
        return web.json_response(
            {
                "accounts": [asdict(a) for a in sandbox.accounts.values()],
                "demo_account_id": sandbox.demo_account
                and sandbox.demo_account.account_id,
                "demo_location_id": sandbox.demo_location_id,
                "locations": [loc.to_json() for loc in sandbox.locations.values()],
                "devices": [dev.to_json() for dev in sandbox.devices.values()],
                "records": len(sandbox.records()),
                "dedup": sandbox.dedup,
            }
        )

    async def account(request: web.Request) -> web.Response:
        body = await _object(request)
        created = sandbox.add_account(
            _opt_str(body, "account_id"), _opt_str(body, "api_key")
        )
        return web.json_response(asdict(created), status=201)

    def _account_id(body: dict[str, Any]) -> str:
        account_id = _opt_str(body, "account_id")
        if account_id is None or account_id not in sandbox.accounts:
            raise _bad("account_id must name an existing account")
        return account_id

    async def location(request: web.Request) -> web.Response:
        body = await _object(request)
        account_id = _account_id(body)
        text_keys = ("address_line1", "city", "post_code", "country_code")
        address = {k: str(body[k]) for k in text_keys if body.get(k) is not None}
        try:
            location_id = sandbox.add_location(
                account_id,
                **address,
                timezone=_opt_str(body, "timezone"),
                currency_code=_opt_str(body, "currency_code"),
                tariff=_tariff(body.get("tariff")),
                location_id=_opt_str(body, "location_id"),
                reference_id=_opt_str(body, "reference_id"),
            )
        except ValueError as err:
            raise _bad(str(err)) from None
        return web.json_response(sandbox.locations[location_id].to_json(), status=201)

    async def tariff(request: web.Request) -> web.Response:
        location_id = request.match_info["id"]
        if location_id not in sandbox.locations:
            raise ApiError(404, None, "Not Found", plain=True)
        sandbox.set_tariff(location_id, _tariff(await _body(request) or None))
        return web.json_response(sandbox.locations[location_id].to_json())

    async def device(request: web.Request) -> web.Response:
        body = await _object(request)
        device_id = sandbox.add_device(
            _account_id(body),
            _opt_str(body, "reference_id"),
            _opt_str(body, "device_id"),
        )
        return web.json_response(sandbox.devices[device_id].to_json(), status=201)

    async def reset(_request: web.Request) -> web.Response:
        sandbox.reset()
        return web.json_response({"ok": True})

    routes: list[tuple[str, str, _Handler]] = [
        ("GET", "/_sandbox/state", state),
        ("GET", "/_sandbox/faults", list_faults),
        ("POST", "/_sandbox/faults/{kind}", fault),
        ("GET", "/_sandbox/records", records),
        ("GET", "/_sandbox/requests", requests),
        ("POST", "/_sandbox/accounts", account),
        ("POST", "/_sandbox/locations", location),
        ("PUT", "/_sandbox/locations/{id}/tariff", tariff),
        ("POST", "/_sandbox/devices", device),
        ("POST", "/_sandbox/reset", reset),
    ]
    for method, path, handler in routes:
        app.router.add_route(method, path, handler)
