"""Asynchronous client for the Flatpeak REST API (anode release)."""

from __future__ import annotations

import asyncio
import base64
import time
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from .costs import EnergyCost, InstantCost, PriceSeries
from .errors import FlatpeakAuthError, FlatpeakResponseError
from .models import (
    Aggregation,
    Device,
    Location,
    LoginResult,
    MeterBatch,
    SubmissionResult,
    TariffDirection,
    format_time,
    parse_page,
)
from .transport import Transport, encode_records

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from datetime import datetime

    import aiohttp

    from .models import FailedRecord, MeterRecord, PostalAddress

DEFAULT_API_URL: Final = "https://api.flatpeak.com"
MAX_RECORDS_PER_REQUEST: Final = 10_000

_PAGE_SIZE: Final = 100
_RENEW_FRACTION: Final = 0.05
_RENEW_MIN_SECONDS: Final = 60.0
_AUTH_STATUSES: Final = frozenset({401, 403})
# Cost rows parsed on the event loop; larger reports are parsed on the executor.
_INLINE_ROWS = 200


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
        self._account_id = account_id
        self._api_key = api_key
        self._transport = Transport(
            session, base_url, request_timeout, lambda: (self._api_key, self._token)
        )
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
        response = await self._transport.send("GET", "/login", authorization=basic)
        if response.status in _AUTH_STATUSES:
            self._token = None
            raise FlatpeakAuthError(
                f"Flatpeak refused account {self._account_id} and its API key "
                f"(HTTP {response.status})"
            )
        result = LoginResult.from_dict(
            self._transport.decode("GET", "/login", response)
        )
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

    # Requests

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
        response = await self._transport.send(
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
            response = await self._transport.send(
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
        return self._transport.decode(method, path, response)

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

    async def list_devices(self, reference_id: str | None = None) -> list[Device]:
        """Return every device of the account (all pages)."""
        filters = {} if reference_id is None else {"reference_id": reference_id}
        items = await self._list_all("/devices", filters)
        return [Device.from_dict(item) for item in items]

    # Meter records

    async def submit_interval_records(
        self, records: Sequence[MeterRecord]
    ) -> SubmissionResult:
        """Send up to `MAX_RECORDS_PER_REQUEST` records in one call.

        A full chunk takes ~0.1 s of CPU to serialise, so that runs on the event
        loop's default executor (Home Assistant's) rather than on the loop. The body
        leaves at most once (see `transport._SingleUseBody`).
        """
        if len(records) > MAX_RECORDS_PER_REQUEST:
            msg = f"at most {MAX_RECORDS_PER_REQUEST} records per call"
            raise ValueError(msg)
        if not records:
            return SubmissionResult()
        loop = asyncio.get_running_loop()
        encoded = await loop.run_in_executor(None, encode_records, records)
        data = await self._call("PUT", "/meters/interval", encoded=encoded)
        batch = MeterBatch.from_dict(data)
        errors = _failed_by_index(batch.failed_records, len(records))
        accepted = tuple(r for index, r in enumerate(records) if index not in errors)
        failed = tuple(
            (records[index], error) for index, error in sorted(errors.items())
        )
        return SubmissionResult((batch,), accepted, failed)

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


def _id(value: str) -> str:
    """Quote an id for use as one path segment."""
    return quote(value, safe="")


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
