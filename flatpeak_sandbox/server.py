"""The aiohttp application emulating the Flatpeak anode API, and its runner."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Self

from aiohttp import web

from . import costs, meters
from .admin import add_admin_routes
from .errors import ApiError, bad_request, not_found
from .state import API_VERSION, COUNTRIES, Device, Location, RequestLog, Sandbox, Token
from .util import loads_lenient, new_id, parse_time

if TYPE_CHECKING:
    from types import TracebackType

    from .faults import Fault

type Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

BODY_KEY = "flatpeak_sandbox.body"
TOKEN_KEY = "flatpeak_sandbox.token"  # noqa: S105 - a request key
DEFAULT_LIMIT = 30
MAX_LIMIT = 100
MAX_BODY = 64 * 1024 * 1024  # 10,000 records fit easily
# Logged for a request whose client closed the connection before its body came.
CLIENT_CLOSED_REQUEST = 499
ADDRESS_FIELDS = (
    "address_line1",
    "address_line2",
    "city",
    "state",
    "post_code",
    "country_code",
)


def _token(request: web.Request) -> Token:
    token: Token = request[TOKEN_KEY]
    return token


def _basic_credentials(header: str) -> tuple[str, str] | None:
    """Return (login, password) of an HTTP Basic Authorization header, if it is one."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    login, colon, password = decoded.partition(":")
    return (login, password) if colon else None


def _json(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response(data, status=status, headers=headers)


def _error_response(err: ApiError, token: Token | None = None) -> web.Response:
    live_mode = token.live_mode if token else False
    return _json(err.body(live_mode=live_mode), err.status, err.headers)


async def read_json(request: web.Request) -> Any:
    """Parse the request body (trailing commas allowed); None when empty."""
    if BODY_KEY in request:
        return request[BODY_KEY]
    text = await request.text()
    if not text.strip():
        return None
    try:
        return loads_lenient(text)
    except ValueError:
        raise bad_request("body_invalid", "Request body is not valid JSON") from None


async def read_object(request: web.Request) -> dict[str, Any]:
    """Parse a JSON object body (empty body = ``{}``)."""
    body = await read_json(request)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise bad_request("body_invalid", "Request body must be a JSON object")
    return body


def _time_field(body: dict[str, Any], key: str) -> Any:
    try:
        return parse_time(body.get(key))
    except ValueError:
        raise bad_request(
            "time_invalid", f"{key} must be an RFC 3339 date-time"
        ) from None


def paginate(items: list[Any], query: Any, url: str) -> dict[str, Any]:
    """Return a list envelope for ``items`` (already newest first)."""
    raw_limit = query.get("limit", str(DEFAULT_LIMIT))
    try:
        limit = int(raw_limit)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise bad_request("limit_invalid", "limit must be an integer from 1 to 100")
    ids = [item.id for item in items]
    after = query.get("starting_after")
    before = query.get("ending_before")
    if after is not None and before is not None:
        raise bad_request(
            "cursor_invalid", "starting_after and ending_before are exclusive"
        )
    cursor = after or before
    if cursor is not None and cursor not in ids:
        raise bad_request("cursor_invalid", f"No such object: {cursor}")
    if after is not None:
        first = ids.index(after) + 1
        page = items[first : first + limit]
        has_more = first + limit < len(items)
    elif before is not None:
        last = ids.index(before)
        first = max(0, last - limit)
        page = items[first:last]
        has_more = first > 0
    else:
        page = items[:limit]
        has_more = len(items) > limit
    return {
        "object": "list",
        "url": url,
        "has_more": has_more,
        "data": [item.to_json() for item in page],
    }


class _Api:
    """Route handlers of the API; ``closing`` releases stalled calls at shutdown."""

    def __init__(self, sandbox: Sandbox, closing: asyncio.Event) -> None:
        self.sandbox = sandbox
        self.closing = closing

    # -- middleware -------------------------------------------------------------
    @web.middleware
    async def middleware(
        self, request: web.Request, handler: Handler
    ) -> web.StreamResponse:
        """Apply faults, version and auth checks; log every API request."""
        if request.path.startswith("/_sandbox/"):
            try:
                return await handler(request)
            except ApiError as err:
                return _error_response(err)
        version = request.headers.get("Flatpeak-Version")
        try:
            text = await request.text()
        except ConnectionResetError:
            # The client gave up before its body arrived: nothing is processed.
            self.sandbox.requests.append(
                RequestLog(
                    method=request.method,
                    path=request.path,
                    query=dict(request.query),
                    status=CLIENT_CLOSED_REQUEST,
                    flatpeak_version=version,
                    body=None,
                    fault=None,
                )
            )
            return web.Response(status=CLIENT_CLOSED_REQUEST)
        try:
            body: Any = loads_lenient(text) if text.strip() else None
            request[BODY_KEY] = body
        except ValueError:
            body = text
        fault = self.sandbox.faults.take(request.path)
        response = await self._answer(request, handler, version, fault)
        self.sandbox.requests.append(
            RequestLog(
                method=request.method,
                path=request.path,
                query=dict(request.query),
                status=response.status,
                flatpeak_version=version,
                body=body,
                fault=fault.kind if fault else None,
            )
        )
        if fault is not None and fault.kind == "drop" and request.transport:
            if fault.drop_mode == "mid_response":
                return await _cut_after_headers(request, response)
            request.transport.abort()
        return response

    async def _answer(
        self,
        request: web.Request,
        handler: Handler,
        version: str | None,
        fault: Fault | None,
    ) -> web.Response:
        if fault is not None:
            early = await self._early_fault(fault)
            if early is not None:
                return early
        response = await self._process(request, handler, version)
        if fault is not None and fault.kind == "garble":
            return _garble(response, fault)
        return response

    async def _early_fault(self, fault: Fault) -> web.Response | None:
        match fault.kind:
            case "fail":
                return _error_response(
                    ApiError(fault.status, "sandbox_fault", "Injected failure")
                )
            case "rate_limit":
                headers = {}
                if fault.retry_after is not None:
                    seconds = fault.retry_after
                    headers["Retry-After"] = (
                        str(int(seconds)) if seconds == int(seconds) else str(seconds)
                    )
                return _error_response(
                    ApiError(429, "rate_limited", "Too many requests", headers=headers)
                )
            case "stall":
                try:
                    await asyncio.wait_for(self.closing.wait(), fault.seconds)
                except TimeoutError:
                    return _error_response(
                        ApiError(504, "sandbox_stall", "Injected stall ended")
                    )
                return _error_response(
                    ApiError(503, "sandbox_closing", "Shutting down")
                )
            case _:
                return None

    async def _process(
        self, request: web.Request, handler: Handler, version: str | None
    ) -> web.Response:
        token: Token | None = None
        try:
            if version is not None and version != API_VERSION:
                raise bad_request(
                    "api_version_invalid",
                    f"Unsupported Flatpeak-Version {version!r}; the sandbox speaks "
                    f"{API_VERSION}",
                )
            if request.path != "/login":
                token = self._authenticate(request)
                request[TOKEN_KEY] = token
            response = await handler(request)
        except ApiError as err:
            return _error_response(err, token)
        except web.HTTPNotFound:
            return _error_response(not_found(), token)
        except web.HTTPMethodNotAllowed:
            return _error_response(
                ApiError(405, "method_not_allowed", "Method Not Allowed"), token
            )
        if not isinstance(response, web.Response):  # pragma: no cover - handlers
            raise TypeError("handlers return web.Response")
        return response

    def _authenticate(self, request: web.Request) -> Token:
        header = request.headers.get("Authorization", "")
        scheme, _, bearer = header.partition(" ")
        token = (
            self.sandbox.authenticate(bearer.strip())
            if scheme.lower() == "bearer"
            else None
        )
        if token is None:
            status = self.sandbox.expired_token_status
            message = "Unauthorized" if status == 401 else "Bad credentials"  # noqa: PLR2004
            raise ApiError(status, None, message, plain=True)
        return token

    # -- login --------------------------------------------------------------------
    async def login(self, request: web.Request) -> web.Response:
        """``GET /login`` with HTTP Basic account id : API key."""
        credentials = _basic_credentials(request.headers.get("Authorization", ""))
        issued = self.sandbox.login(*credentials) if credentials else None
        if issued is None:
            raise ApiError(403, None, "Bad credentials", plain=True)
        bearer, token = issued
        return _json(
            {
                "bearer_token": bearer,
                "expires_in": self.sandbox.token_lifetime,
                "live_mode": token.live_mode,
            }
        )

    # -- locations ----------------------------------------------------------------
    def _own_location(self, request: web.Request, location_id: str) -> Location:
        location = self.sandbox.locations.get(location_id)
        if location is None or location.account_id != _token(request).account_id:
            raise not_found()
        return location

    def _newest_first(self, items: list[Any]) -> list[Any]:
        return sorted(items, key=lambda o: self.sandbox.order_of(o.id), reverse=True)

    async def list_locations(self, request: web.Request) -> web.Response:
        """``GET /locations``."""
        account_id = _token(request).account_id
        items = [
            loc
            for loc in self.sandbox.locations.values()
            if loc.account_id == account_id
            and request.query.get("reference_id", loc.reference_id) == loc.reference_id
            and request.query.get("customer_id", loc.customer_id) == loc.customer_id
        ]
        return _json(paginate(self._newest_first(items), request.query, "/locations"))

    async def get_location(self, request: web.Request) -> web.Response:
        """``GET /locations/{id}``."""
        return _json(self._own_location(request, request.match_info["id"]).to_json())

    async def create_location(self, request: web.Request) -> web.Response:
        """``POST /locations``: timezone and currency come from the country."""
        body = await read_object(request)
        account_id = _token(request).account_id
        raw_address = body.get("postal_address") or {}
        if not isinstance(raw_address, dict):
            raise bad_request("body_invalid", "postal_address must be an object")
        address: dict[str, Any] = {}
        for key in ADDRESS_FIELDS:
            value = raw_address.get(key)
            if value is not None and not isinstance(value, str):
                raise bad_request(
                    "body_invalid", f"postal_address.{key} must be a string"
                )
            address[key] = value
        country = address["country_code"]
        if not isinstance(country, str) or not re.fullmatch("[A-Za-z]{2}", country):
            raise ApiError(
                422,
                "country_code_invalid",
                "A valid ISO 3166-1 alpha-2 country_code is required",
            )
        address["country_code"] = country.upper()
        if address["country_code"] not in COUNTRIES:
            raise ApiError(
                422,
                "timezone_not_found",
                "Could not resolve a timezone for the address",
            )
        reference_id = body.get("reference_id")
        customer_id = body.get("customer_id")
        for key, value in (
            ("reference_id", reference_id),
            ("customer_id", customer_id),
        ):
            if value is not None and not isinstance(value, str):
                raise bad_request("body_invalid", f"{key} must be a string")
        if reference_id is not None and any(
            loc.account_id == account_id and loc.reference_id == reference_id
            for loc in self.sandbox.locations.values()
        ):
            raise ApiError(409, None, "Conflict", plain=True)
        location = self.sandbox.create_location_from_api(
            account_id, address, reference_id=reference_id, customer_id=customer_id
        )
        return _json(location.to_json(), 201)

    # -- devices ------------------------------------------------------------------
    async def create_device(self, request: web.Request) -> web.Response:
        """``POST /devices``."""
        body = await read_object(request)
        reference_id = body.get("reference_id")
        if reference_id is not None and not isinstance(reference_id, str):
            raise bad_request("body_invalid", "reference_id must be a string")
        device_id = self.sandbox.add_device(_token(request).account_id, reference_id)
        return _json(self.sandbox.devices[device_id].to_json(), 201)

    async def list_devices(self, request: web.Request) -> web.Response:
        """``GET /devices``."""
        account_id = _token(request).account_id
        items: list[Device] = [
            dev
            for dev in self.sandbox.devices.values()
            if dev.account_id == account_id
            and request.query.get("reference_id", dev.reference_id) == dev.reference_id
        ]
        return _json(paginate(self._newest_first(items), request.query, "/devices"))

    async def get_device(self, request: web.Request) -> web.Response:
        """``GET /devices/{id}``."""
        device = self.sandbox.devices.get(request.match_info["id"])
        if device is None or device.account_id != _token(request).account_id:
            raise not_found()
        return _json(device.to_json())

    # -- meters -------------------------------------------------------------------
    async def put_interval(self, request: web.Request) -> web.Response:
        """``PUT /meters/interval``."""
        body = await read_json(request)
        if not isinstance(body, list):
            raise bad_request("body_invalid", "Request body must be a JSON array")
        if len(body) > meters.MAX_RECORDS:
            raise bad_request(
                "too_many_records",
                f"At most {meters.MAX_RECORDS} records per request ({len(body)} sent)",
            )
        costs.check_pending(
            self.sandbox,
            {
                r["location_id"]
                for r in body
                if isinstance(r, dict) and isinstance(r.get("location_id"), str)
            },
        )
        token = _token(request)
        return _json(
            meters.submit_interval(
                self.sandbox, token.account_id, token.live_mode, body
            )
        )

    async def put_cumulative(self, request: web.Request) -> web.Response:
        """``PUT /meters/cumulative/epoch``."""
        body = await read_object(request)
        token = _token(request)
        if isinstance(body.get("location_id"), str):
            costs.check_pending(self.sandbox, [body["location_id"]])
        batch_id = new_id("bat")
        try:
            records, failed = meters.cumulative_records(
                self.sandbox, token.account_id, body, batch_id=batch_id
            )
        except meters.RecordError as err:
            raise bad_request("record_invalid", str(err)) from None
        self.sandbox.store_records(records)
        data = body["data"]
        return _json(
            meters.store_batch(
                self.sandbox,
                token.account_id,
                token.live_mode,
                batch_id,
                len(data),
                failed,
            )
        )

    async def get_batch(self, request: web.Request) -> web.Response:
        """``GET /meters/batch?batch_id=``."""
        batch_id = request.query.get("batch_id")
        if not batch_id:
            raise bad_request("batch_id_required", "batch_id is required")
        batch = self.sandbox.batches.get(batch_id)
        if batch is None or batch["account_id"] != _token(request).account_id:
            raise not_found()
        return _json(batch)

    # -- costs --------------------------------------------------------------------
    async def cost_instant(self, request: web.Request) -> web.Response:
        """``POST /costs/instant[?non_persistent=true]``."""
        body = await read_object(request)
        token = _token(request)
        non_persistent = request.query.get("non_persistent", "false").lower() == "true"
        if isinstance(body.get("location_id"), str):
            costs.check_pending(self.sandbox, [body["location_id"]])
        try:
            record = meters.validate_interval_record(
                self.sandbox, token.account_id, body, batch_id=None
            )
        except meters.RecordError as err:
            raise bad_request("record_invalid", str(err)) from None
        answer = costs.instant_cost(
            self.sandbox, token, record, {**body, "non_persistent": non_persistent}
        )
        if not non_persistent:
            self.sandbox.store_records([record])
        return _json(answer)

    async def cost_interval(self, request: web.Request) -> web.Response:
        """``POST /costs/interval/{id}``."""
        body = await read_object(request)
        direction = costs.check_direction(
            request.query.get("tariff_direction", body.get("tariff_direction"))
        )
        aggregation = request.query.get("aggregation", body.get("aggregation"))
        return _json(
            costs.interval_cost(
                self.sandbox,
                _token(request),
                request.match_info["id"],
                _time_field(body, "start_time"),
                _time_field(body, "end_time"),
                direction,
                aggregation,
            )
        )

    async def cost_session(self, request: web.Request) -> web.Response:
        """``POST /costs/session/{session_reference_id}``."""
        direction = costs.check_direction(request.query.get("tariff_direction"))
        return _json(
            costs.session_cost(
                self.sandbox, _token(request), request.match_info["id"], direction
            )
        )

    # -- prices -------------------------------------------------------------------
    async def prices(self, request: web.Request) -> web.Response:
        """``POST /prices/{location_id}``; ``start_time`` defaults to now."""
        body = await read_object(request)
        direction = costs.check_direction(
            body.get("tariff_direction", request.query.get("tariff_direction"))
        )
        start = (
            _time_field(body, "start_time")
            if "start_time" in body
            else self.sandbox.now()
        )
        return _json(
            costs.prices(
                self.sandbox,
                _token(request),
                request.match_info["id"],
                start,
                _time_field(body, "end_time"),
                direction,
            )
        )


async def _cut_after_headers(
    request: web.Request, response: web.Response
) -> web.StreamResponse:
    """Send the status line and headers of ``response``, then close the connection."""
    body = response.body if isinstance(response.body, bytes) else b""
    cut = web.StreamResponse(status=response.status, headers=response.headers)
    cut.content_length = len(body) or 1
    await cut.prepare(request)
    if request.transport is not None:
        request.transport.close()
    return cut


def _garble(response: web.Response, fault: Fault) -> web.Response:
    text = response.text or ""
    if fault.mode == "truncate":
        return web.Response(
            status=200, text=text[: len(text) // 2], content_type="application/json"
        )
    original = json.loads(text) if text else {}
    shaped = {"object": original.get("object")} if isinstance(original, dict) else {}
    return _json(shaped)


def build_app(sandbox: Sandbox, closing: asyncio.Event) -> web.Application:
    """Return the aiohttp application serving ``sandbox``."""
    api = _Api(sandbox, closing)
    app = web.Application(middlewares=[api.middleware], client_max_size=MAX_BODY)
    app.router.add_get("/login", api.login)
    app.router.add_get("/locations", api.list_locations)
    app.router.add_post("/locations", api.create_location)
    app.router.add_get("/locations/{id}", api.get_location)
    app.router.add_get("/devices", api.list_devices)
    app.router.add_post("/devices", api.create_device)
    app.router.add_get("/devices/{id}", api.get_device)
    app.router.add_put("/meters/interval", api.put_interval)
    app.router.add_put("/meters/cumulative/epoch", api.put_cumulative)
    app.router.add_get("/meters/batch", api.get_batch)
    app.router.add_post("/costs/instant", api.cost_instant)
    app.router.add_post("/costs/interval/{id}", api.cost_interval)
    app.router.add_post("/costs/session/{id}", api.cost_session)
    app.router.add_post("/prices/{id}", api.prices)
    add_admin_routes(app, sandbox)
    return app


class SandboxServer:
    """Serve a :class:`Sandbox` over HTTP on ``host:port`` (0 = a free port)."""

    def __init__(
        self, sandbox: Sandbox, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        """Prepare (not start) the server."""
        self.sandbox = sandbox
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None
        self._closing: asyncio.Event | None = None

    @property
    def url(self) -> str:
        """Return the base URL, e.g. ``http://127.0.0.1:8456``."""
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        """Start listening."""
        self._closing = asyncio.Event()
        runner = web.AppRunner(
            build_app(self.sandbox, self._closing),
            access_log=None,
            shutdown_timeout=1.0,
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        self.port = runner.addresses[0][1]

    async def close(self) -> None:
        """Stop listening; stalled calls are released at once."""
        if self._closing is not None:
            self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        """Start the server."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server."""
        await self.close()
