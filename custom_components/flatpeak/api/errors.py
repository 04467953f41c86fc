"""Errors raised by the Flatpeak client."""

from __future__ import annotations


class FlatpeakError(Exception):
    """Base of every Flatpeak client error; its message never holds a secret."""


class FlatpeakConnectionError(FlatpeakError):
    """Flatpeak could not be reached, timed out or answered 5xx."""


class FlatpeakAuthError(FlatpeakError):
    """Flatpeak refused the account id / API key."""


class FlatpeakRateLimitError(FlatpeakError):
    """Flatpeak answered 429: slow down."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        """Store the number of seconds Flatpeak asked us to wait, if it said."""
        super().__init__(message)
        self.retry_after = retry_after


class FlatpeakApiError(FlatpeakError):
    """Flatpeak refused the request (4xx other than auth and rate limit)."""

    def __init__(self, status: int, code: str | None, message: str) -> None:
        """Store Flatpeak's HTTP status, error code and message."""
        text = f"Flatpeak answered HTTP {status}"
        if code:
            text += f" ({code})"
        super().__init__(f"{text}: {message}")
        self.status = status
        self.code = code
        self.message = message


class FlatpeakNotFoundError(FlatpeakApiError):
    """The requested object does not exist (404)."""


class FlatpeakResponseError(FlatpeakError):
    """Flatpeak's answer is not JSON or lacks/mistypes a required field."""
