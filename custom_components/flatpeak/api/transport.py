"""One request to Flatpeak and its answer: JSON, or the matching error."""

from __future__ import annotations

import asyncio
import json
import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Final

import aiohttp

from .errors import (
    FlatpeakApiError,
    FlatpeakConnectionError,
    FlatpeakNotFoundError,
    FlatpeakRateLimitError,
    FlatpeakResponseError,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from .models import MeterRecord

_LOGGER = logging.getLogger(__name__)

API_VERSION: Final = "2025-09-14.anode"

# Records per `json.dumps` call in `encode_records` (~2 ms with the GIL held).
_SLICE = 500


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


class Transport:
    """Send requests to one Flatpeak server and read its answers."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        request_timeout: float,
        secrets: Callable[[], tuple[str | None, ...]],
    ) -> None:
        """Use `session`; `secrets` returns what to keep out of error messages."""
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._request_timeout = request_timeout
        self._secrets = secrets

    async def send(
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

    def decode(self, method: str, path: str, response: _Response) -> Any:
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
        for secret in self._secrets():
            if secret:
                text = text.replace(secret, "***")
        return text


def encode_records(records: Sequence[MeterRecord]) -> bytes:
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
