"""Asynchronous client for the Flatpeak REST API (anode release)."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

import aiohttp

from .errors import (
    FlatpeakApiError,
    FlatpeakAuthError,
    FlatpeakConnectionError,
    FlatpeakError,
    FlatpeakNotFoundError,
    FlatpeakRateLimitError,
    FlatpeakResponseError,
)
from .models import (
    Aggregation,
    CumulativeReading,
    Device,
    EnergyCost,
    EnergyFlowDirection,
    FailedRecord,
    InstantCost,
    Location,
    LoginResult,
    MeterBatch,
    MeterRecord,
    PostalAddress,
    PriceSeries,
    SubmissionResult,
    TariffDirection,
    Units,
    format_time,
    parse_page,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

_LOGGER = logging.getLogger(__name__)

DEFAULT_API_URL: Final = "https://api.flatpeak.com"
API_VERSION: Final = "2025-09-14.anode"
MAX_RECORDS_PER_REQUEST: Final = 10_000

_PAGE_SIZE: Final = 100
_RENEW_FRACTION: Final = 0.05
_RENEW_MIN_SECONDS: Final = 60.0
_AUTH_STATUSES: Final = frozenset({401, 403})


class _SendOnceError(Exception):
    """The transport tried to send a request body a second time."""


class _SingleUseBody(aiohttp.BytesPayload):
    """A request body the transport may write once, never again.

    aiohttp resends a GET or PUT by itself when the server closes the connection
    before answering (`ClientSession._request`, RFC 9112 9.3.1), and offers no
    switch for it on a shared session. For meter records that resend stores them
    twice at a Flatpeak that keeps duplicates, and the caller never learns that the
    first try was stored. Refusing the second write turns that resend into an
    error (a `FlatpeakConnectionError`): the caller then asks Flatpeak which
    records it holds before it sends any again.
    """

    _written = False

    def _claim(self) -> None:
        if self._written:
            raise _SendOnceError
        self._written = True

    async def write(self, writer: Any) -> None:
        """Write the body the first time only (aiohttp before 3.12)."""
        self._claim()
        await super().write(writer)

    async def write_with_length(self, writer: Any, content_length: int | None) -> None:
        """Write the body the first time only (aiohttp 3.12 and later)."""
        self._claim()
        # Absent before aiohttp 3.12, which the oldest supported release ships.
        await super().write_with_length(  # type: ignore[misc,unused-ignore]
            writer, content_length
        )


@dataclass(frozen=True, slots=True)
class _Response:
    """An HTTP answer read in full."""

    status: int
    body: bytes
    retry_after: str | None


class FlatpeakClient:
    """Talk to Flatpeak with one account id and API key."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        account_id: str,
        api_key: str,
        base_url: str = DEFAULT_API_URL,
        request_timeout: float = 30.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Use `session` for every call; `clock` (seconds) times token expiry."""
        self._session = session
        self._account_id = account_id
        self._api_key = api_key
        self._base_url = base_url.rstrip("/")
        self._request_timeout = request_timeout
        self._clock = clock
        self._token: str | None = None
        self._renew_at = 0.0
        self._token_lock = asyncio.Lock()

    # Authentication

    async def login(self) -> LoginResult:
        """Log in now (always a fresh token) and cache the token."""
        async with self._token_lock:
            return await self._login()

    async def _login(self) -> LoginResult:
        credentials = f"{self._account_id}:{self._api_key}".encode()
        basic = f"Basic {base64.b64encode(credentials).decode('ascii')}"
        # The token's life is counted from before the request: never too late.
        started = self._clock()
        response = await self._send("GET", "/login", authorization=basic)
        if response.status in _AUTH_STATUSES:
            self._token = None
            raise FlatpeakAuthError(
                f"Flatpeak refused account {self._account_id} and its API key "
                f"(HTTP {response.status})"
            )
        result = LoginResult.from_dict(self._decode("GET", "/login", response))
        # Renew early so a call never leaves with a token about to run out, but
        # never so early that a short-lived token is renewed on every call.
        margin = min(
            max(result.expires_in * _RENEW_FRACTION, _RENEW_MIN_SECONDS),
            result.expires_in / 2,
        )
        self._token = result.bearer_token
        self._renew_at = started + result.expires_in - margin
        return result

    async def _valid_token(self, rejected: str | None = None) -> str:
        """Return a usable token, logging in once for all waiting callers."""
        async with self._token_lock:
            token = self._token
            if token is None or token == rejected or self._clock() >= self._renew_at:
                token = (await self._login()).bearer_token
            return token

    # Transport

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: object = None,
        encoded: bytes | None = None,
        authorization: str | None = None,
    ) -> _Response:
        """Send one request and read the whole answer.

        The JSON body is `body`, or `encoded` when the caller serialised it already:
        an encoded body leaves at most once per call (`_SingleUseBody`), so only
        the caller decides whether it is sent again.
        """
        headers = {"Flatpeak-Version": API_VERSION, "Accept": "application/json"}
        if authorization is not None:
            headers["Authorization"] = authorization
        payload = (
            None
            if encoded is None
            else _SingleUseBody(encoded, content_type="application/json")
        )
        try:
            async with (
                asyncio.timeout(self._request_timeout),
                self._session.request(
                    method,
                    f"{self._base_url}{path}",
                    params=params,
                    json=body,
                    data=payload,
                    headers=headers,
                ) as response,
            ):
                data = await response.read()
        except TimeoutError as err:
            seconds = self._request_timeout
            msg = f"Flatpeak did not answer {method} {path} within {seconds} s"
            raise FlatpeakConnectionError(msg) from err
        except (aiohttp.ClientError, _SendOnceError) as err:
            detail = self._redact(repr(err))
            msg = f"Cannot reach Flatpeak for {method} {path}: {detail}"
            raise FlatpeakConnectionError(msg) from err
        _LOGGER.debug("%s %s -> %s", method, path, response.status)
        return _Response(response.status, data, response.headers.get("Retry-After"))

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: object = None,
        encoded: bytes | None = None,
    ) -> Any:
        """Make a bearer call; on 401/403 log in once more and retry once."""
        token = await self._valid_token()
        response = await self._send(
            method,
            path,
            params=params,
            body=body,
            encoded=encoded,
            authorization=f"Bearer {token}",
        )
        if response.status in _AUTH_STATUSES:
            # Refused before it was processed: sending it again stores it once.
            token = await self._valid_token(rejected=token)
            response = await self._send(
                method,
                path,
                params=params,
                body=body,
                encoded=encoded,
                authorization=f"Bearer {token}",
            )
            if response.status in _AUTH_STATUSES:
                raise FlatpeakAuthError(
                    f"Flatpeak refused a fresh token for {method} {path} "
                    f"(HTTP {response.status})"
                )
        return self._decode(method, path, response)

    def _decode(self, method: str, path: str, response: _Response) -> Any:
        """Return the JSON body of a 2xx answer or raise the matching error."""
        status = response.status
        if 200 <= status < 300:  # noqa: PLR2004
            try:
                return json.loads(response.body)
            except ValueError as err:
                msg = f"Flatpeak answered {method} {path} with a body that is not JSON"
                raise FlatpeakResponseError(msg) from err
        if status == 429:  # noqa: PLR2004
            retry_after = _retry_after_seconds(response.retry_after)
            msg = f"Flatpeak rate limit reached on {method} {path}"
            if retry_after is not None:
                msg += f"; retry after {retry_after:g} s"
            raise FlatpeakRateLimitError(msg, retry_after)
        if status >= 500:  # noqa: PLR2004
            msg = f"Flatpeak failed on {method} {path} (HTTP {status})"
            raise FlatpeakConnectionError(msg)
        code, message = self._error_details(response.body)
        if status == 404:  # noqa: PLR2004
            raise FlatpeakNotFoundError(status, code, message or f"{path} not found")
        raise FlatpeakApiError(status, code, message or f"{method} {path} refused")

    def _error_details(self, body: bytes) -> tuple[str | None, str | None]:
        """Return `code` and `message` of Flatpeak's error object, if any."""
        try:
            data = json.loads(body)
        except ValueError:
            return None, None
        if not isinstance(data, dict):
            return None, None
        code, message = data.get("code"), data.get("message")
        return (
            code if isinstance(code, str) else None,
            self._redact(message) if isinstance(message, str) else None,
        )

    def _redact(self, text: str) -> str:
        """Blank out the API key and bearer token should Flatpeak echo them."""
        for secret in (self._api_key, self._token):
            if secret:
                text = text.replace(secret, "***")
        return text

    async def _list_all(self, path: str, filters: dict[str, str]) -> list[object]:
        """Return every item of a list endpoint, following `has_more`."""
        items: list[object] = []
        params = {"limit": str(_PAGE_SIZE), **filters}
        while True:
            data, has_more = parse_page(
                await self._call("GET", path, params=params), path
            )
            items.extend(data)
            if not has_more:
                return items
            if not data:
                msg = f"{path}: 'has_more' is true on an empty page"
                raise FlatpeakResponseError(msg)
            last = data[-1]
            last_id = last.get("id") if isinstance(last, dict) else None
            if not isinstance(last_id, str):
                msg = f"{path}: the last item of a page has no string 'id'"
                raise FlatpeakResponseError(msg)
            params["starting_after"] = last_id

    # Locations and devices

    async def list_locations(self, reference_id: str | None = None) -> list[Location]:
        """Return every location of the account (all pages)."""
        filters = {} if reference_id is None else {"reference_id": reference_id}
        items = await self._list_all("/locations", filters)
        return [Location.from_dict(item) for item in items]

    async def get_location(self, location_id: str) -> Location:
        """Return one location."""
        data = await self._call("GET", f"/locations/{_id(location_id)}")
        return Location.from_dict(data)

    async def create_location(
        self, postal_address: PostalAddress, *, reference_id: str | None = None
    ) -> Location:
        """Create a location at `postal_address`."""
        body: dict[str, Any] = {"postal_address": postal_address.to_dict()}
        if reference_id is not None:
            body["reference_id"] = reference_id
        return Location.from_dict(await self._call("POST", "/locations", body=body))

    async def create_device(self, reference_id: str) -> Device:
        """Create a device; store its id for good."""
        body = {"reference_id": reference_id}
        return Device.from_dict(await self._call("POST", "/devices", body=body))

    async def get_device(self, device_id: str) -> Device:
        """Return one device."""
        return Device.from_dict(await self._call("GET", f"/devices/{_id(device_id)}"))

    async def list_devices(self, reference_id: str | None = None) -> list[Device]:
        """Return every device of the account (all pages)."""
        filters = {} if reference_id is None else {"reference_id": reference_id}
        items = await self._list_all("/devices", filters)
        return [Device.from_dict(item) for item in items]

    # Meter records

    async def submit_interval_records(
        self, records: Sequence[MeterRecord]
    ) -> SubmissionResult:
        """Send records in calls of at most `MAX_RECORDS_PER_REQUEST`.

        A full chunk takes ~0.1 s of CPU to serialise, so that runs on the event
        loop's default executor (Home Assistant's) rather than on the loop.
        """
        loop = asyncio.get_running_loop()
        batches: list[MeterBatch] = []
        accepted: list[MeterRecord] = []
        failed: list[tuple[MeterRecord, str]] = []
        for start in range(0, len(records), MAX_RECORDS_PER_REQUEST):
            chunk = records[start : start + MAX_RECORDS_PER_REQUEST]
            encoded = await loop.run_in_executor(None, _encode_records, chunk)
            try:
                data = await self._call("PUT", "/meters/interval", encoded=encoded)
                batch = MeterBatch.from_dict(data)
                errors = _failed_by_index(batch.failed_records, len(chunk))
            except FlatpeakError as err:
                if batches:
                    err.partial_result = SubmissionResult(
                        tuple(batches), tuple(accepted), tuple(failed)
                    )
                raise
            batches.append(batch)
            for index, record in enumerate(chunk):
                if index in errors:
                    failed.append((record, errors[index]))
                else:
                    accepted.append(record)
        return SubmissionResult(tuple(batches), tuple(accepted), tuple(failed))

    async def submit_cumulative_records(
        self,
        location_id: str,
        readings: Sequence[CumulativeReading],
        *,
        units: Units = Units.KWH,
        energy_flow_direction: EnergyFlowDirection = EnergyFlowDirection.INBOUND,
        tariff_direction: TariffDirection = TariffDirection.IMPORT,
        device_id: str | None = None,
        session_reference_id: str | None = None,
    ) -> MeterBatch:
        """Send register readings; Flatpeak derives the intervals (WH/KWH only)."""
        body: dict[str, Any] = {
            "location_id": location_id,
            "energy_flow_direction": energy_flow_direction.value,
            "tariff_direction": tariff_direction.value,
            "units": units.value,
            "data": [reading.to_dict() for reading in readings],
        }
        if device_id is not None:
            body["device_id"] = device_id
        if session_reference_id is not None:
            body["session_reference_id"] = session_reference_id
        return MeterBatch.from_dict(
            await self._call("PUT", "/meters/cumulative/epoch", body=body)
        )

    async def get_meter_batch(self, batch_id: str) -> MeterBatch:
        """Return a submission receipt again (processing may have moved on)."""
        data = await self._call("GET", "/meters/batch", params={"batch_id": batch_id})
        return MeterBatch.from_dict(data)

    # Costs and prices

    async def instant_cost(
        self, record: MeterRecord, *, non_persistent: bool = True
    ) -> InstantCost:
        """Price one record; with `non_persistent` Flatpeak does not store it."""
        params = {"non_persistent": "true"} if non_persistent else None
        data = await self._call(
            "POST", "/costs/instant", params=params, body=record.to_dict()
        )
        return InstantCost.from_dict(data)

    async def interval_cost(
        self,
        object_id: str,
        start: datetime,
        end: datetime,
        *,
        tariff_direction: TariffDirection = TariffDirection.IMPORT,
        aggregation: Aggregation | None = None,
    ) -> EnergyCost:
        """Report the cost of a location's or device's records in [start, end)."""
        params = {"tariff_direction": tariff_direction.value}
        if aggregation is not None:
            params["aggregation"] = aggregation.value
        body = {"start_time": format_time(start), "end_time": format_time(end)}
        data = await self._call(
            "POST", f"/costs/interval/{_id(object_id)}", params=params, body=body
        )
        rows = data.get("data") if isinstance(data, dict) else None
        if isinstance(rows, list) and len(rows) > _INLINE_ROWS:
            # ~20 us a row: a month of hourly records would hold the loop ~15 ms.
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(None, EnergyCost.from_dict, data)
        return EnergyCost.from_dict(data)

    async def session_cost(
        self,
        session_reference_id: str,
        *,
        tariff_direction: TariffDirection = TariffDirection.IMPORT,
    ) -> EnergyCost:
        """Report the cost of the records of one session."""
        data = await self._call(
            "POST",
            f"/costs/session/{_id(session_reference_id)}",
            params={"tariff_direction": tariff_direction.value},
        )
        return EnergyCost.from_dict(data)

    async def get_prices(
        self,
        location_id: str,
        start: datetime,
        end: datetime,
        *,
        tariff_direction: TariffDirection = TariffDirection.IMPORT,
    ) -> PriceSeries:
        """Return a location's prices in [start, end) (at most 90 days)."""
        body = {
            "start_time": format_time(start),
            "end_time": format_time(end),
            "tariff_direction": tariff_direction.value,
        }
        data = await self._call("POST", f"/prices/{_id(location_id)}", body=body)
        return PriceSeries.from_dict(
            data, location_id=location_id, tariff_direction=tariff_direction
        )


# Records per `json.dumps` call in `_encode_records` (~2 ms with the GIL held).
_SLICE = 500
# Cost rows parsed on the event loop; larger reports are parsed on the executor.
_INLINE_ROWS = 200


def _id(value: str) -> str:
    """Quote an id for use as one path segment."""
    return quote(value, safe="")


def _encode_records(records: Sequence[MeterRecord]) -> bytes:
    """Return the JSON body of `PUT /meters/interval` (runs on an executor thread).

    `json.dumps` is one C call that keeps the GIL for its whole run, ~4 us per
    record: on a full chunk that would stop the event loop's thread for ~40 ms.
    Encoded in slices, the interpreter can switch threads between them.
    """
    parts = [
        json.dumps([record.to_dict() for record in records[start : start + _SLICE]])
        for start in range(0, len(records), _SLICE)
    ]
    return ("[" + ", ".join(part[1:-1] for part in parts) + "]").encode()


def _failed_by_index(failed: Sequence[FailedRecord], size: int) -> dict[int, str]:
    """Map `record_num` of a chunk's failed records to their error."""
    errors: dict[int, str] = {}
    for item in failed:
        if not 0 <= item.record_num < size:
            msg = (
                f"meter_batch: 'record_num' {item.record_num} is outside the "
                f"{size} records sent"
            )
            raise FlatpeakResponseError(msg)
        errors[item.record_num] = item.error
    return errors


def _retry_after_seconds(value: str | None) -> float | None:
    """Return Retry-After (seconds or an HTTP date) as seconds from now."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)
