"""The API's error answers."""

from __future__ import annotations

from typing import Any

from .util import format_time, utcnow


class ApiError(Exception):
    """An error answer: an anode error object, or ``{"message": ...}`` when plain."""

    def __init__(
        self,
        status: int,
        code: str | None,
        message: str,
        *,
        plain: bool = False,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Describe the answer; ``plain`` gives the spec's bare message body."""
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.plain = plain
        self.headers = headers or {}

    def body(self, *, live_mode: bool = False) -> dict[str, Any]:
        """Return the JSON body of the answer."""
        if self.plain:
            return {"message": self.message}
        return error_object(
            self.status, self.code or "error", self.message, live_mode=live_mode
        )


def error_object(
    status: int, code: str, message: str, *, live_mode: bool = False
) -> dict[str, Any]:
    """Return an anode error object (``api_error`` for 5xx and 422)."""
    kind = "api_error" if status >= 500 or status == 422 else "invalid_request"  # noqa: PLR2004
    return {
        "object": "error",
        "type": kind,
        "code": code,
        "message": message,
        "live_mode": live_mode,
        "time_created": format_time(utcnow().replace(microsecond=0)),
    }


def not_found() -> ApiError:
    """Return the spec's 404 answer."""
    return ApiError(404, None, "Not Found", plain=True)


def bad_request(code: str, message: str) -> ApiError:
    """Return a 400 ``invalid_request`` error."""
    return ApiError(400, code, message)
