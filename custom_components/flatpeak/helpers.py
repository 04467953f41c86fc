"""The one map from Flatpeak client errors to Home Assistant errors.

Every caller (setup, coordinators, actions, flows) classifies a `FlatpeakError` with
`flatpeak_failure` and raises the Home Assistant error of its context from it, so a
429 or a pending tariff reads the same wherever it happens.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from homeassistant.exceptions import (
    ConfigEntryAuthFailed,
    ConfigEntryError,
    ConfigEntryNotReady,
    HomeAssistantError,
)
from homeassistant.helpers.update_coordinator import UpdateFailed

from . import issues
from .api import (
    FlatpeakApiError,
    FlatpeakAuthError,
    FlatpeakError,
    FlatpeakNotFoundError,
    FlatpeakRateLimitError,
)
from .backoff import next_delay
from .const import DOMAIN, TARIFF_PENDING_RETRY
from .outbox_store import Hold

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    from homeassistant.config_entries import ConfigEntry
    from homeassistant.core import HomeAssistant

TARIFF_PENDING_CODES: Final = frozenset({"pending_connect", "no_tariff_connected"})
_HTTP_UNPROCESSABLE: Final = 422
# Flatpeak asked to slow down without saying for how long.
RATE_LIMIT_DEFAULT: Final = 60.0
BACKOFF_CAP: Final = 1800.0


class FailureKind(StrEnum):
    """What a failed Flatpeak call means for the caller."""

    AUTH = "auth"
    """The key was refused: ask the user for a new one."""
    RATE_LIMITED = "rate_limited"
    """Slow down: wait `retry_after`."""
    TARIFF_PENDING = "tariff_pending"
    """The location's tariff is not usable yet: retry every 15 minutes at most."""
    NOT_FOUND = "not_found"
    UNREACHABLE = "unreachable"
    """No answer, a 5xx or a broken answer: back off; Flatpeak may have acted."""
    REFUSED = "refused"
    """Any other 4xx: Flatpeak answered and did nothing."""


@dataclass(frozen=True, slots=True)
class FlatpeakFailure:
    """A classified Flatpeak error and its translated message."""

    kind: FailureKind
    translation_key: str
    placeholders: dict[str, str] = field(default_factory=dict)
    retry_after: float | None = None
    code: str | None = None


def tariff_pending_code(err: FlatpeakError) -> str | None:
    """Return Flatpeak's code when `err` says the tariff is not usable yet."""
    if (
        isinstance(err, FlatpeakApiError)
        and err.status == _HTTP_UNPROCESSABLE
        and err.code in TARIFF_PENDING_CODES
    ):
        return err.code
    return None


# Each kind's translation key (exceptions.<key> in en.json) and its placeholders.
FAILURE_MESSAGES: Final[dict[FailureKind, tuple[str, frozenset[str]]]] = {
    FailureKind.AUTH: ("auth_failed", frozenset()),
    FailureKind.RATE_LIMITED: ("rate_limited", frozenset({"seconds"})),
    FailureKind.TARIFF_PENDING: ("tariff_pending", frozenset({"code"})),
    FailureKind.NOT_FOUND: ("not_found", frozenset({"error"})),
    FailureKind.UNREACHABLE: ("cannot_connect", frozenset({"error"})),
    FailureKind.REFUSED: ("api_error", frozenset({"error"})),
}
# The config flow's form errors a failure can give.
FORM_ERRORS: Final = frozenset({"invalid_auth", "cannot_connect", "unknown"})


def failure_of(
    kind: FailureKind,
    placeholders: dict[str, str] | None = None,
    *,
    retry_after: float | None = None,
    code: str | None = None,
) -> FlatpeakFailure:
    """Return the failure of a kind, with its translation key."""
    return FlatpeakFailure(
        kind, FAILURE_MESSAGES[kind][0], placeholders or {}, retry_after, code
    )


def flatpeak_failure(err: FlatpeakError) -> FlatpeakFailure:
    """Classify a Flatpeak client error (the one map)."""
    if isinstance(err, FlatpeakAuthError):
        return failure_of(FailureKind.AUTH)
    if isinstance(err, FlatpeakRateLimitError):
        wait = err.retry_after if err.retry_after is not None else RATE_LIMIT_DEFAULT
        return failure_of(
            FailureKind.RATE_LIMITED, {"seconds": f"{wait:g}"}, retry_after=wait
        )
    if code := tariff_pending_code(err):
        return failure_of(FailureKind.TARIFF_PENDING, {"code": code}, code=code)
    if isinstance(err, FlatpeakNotFoundError):
        return failure_of(FailureKind.NOT_FOUND, {"error": str(err)})
    if isinstance(err, FlatpeakApiError):
        return failure_of(FailureKind.REFUSED, {"error": str(err)}, code=err.code)
    return failure_of(FailureKind.UNREACHABLE, {"error": str(err)})


def hold_of(failure: FlatpeakFailure, now: datetime) -> Hold | None:
    """Return how long Flatpeak asked not to be sent to (None: no such answer)."""
    if failure.kind is FailureKind.RATE_LIMITED and failure.retry_after is not None:
        return Hold(now + timedelta(seconds=failure.retry_after), "rate_limited")
    if failure.kind is FailureKind.TARIFF_PENDING and failure.code is not None:
        return Hold(now + TARIFF_PENDING_RETRY, failure.code)
    return None


def hold_failure(hold: Hold, now: datetime) -> UpdateFailed:
    """Return the error a cycle raises while Flatpeak's wait lasts."""
    if hold.reason == "rate_limited":
        seconds = max(0.0, (hold.until - now).total_seconds())
        return UpdateFailed(
            translation_domain=DOMAIN,
            translation_key="rate_limited",
            translation_placeholders={"seconds": f"{seconds:.0f}"},
        )
    return UpdateFailed(
        translation_domain=DOMAIN,
        translation_key="tariff_pending",
        translation_placeholders={"code": hold.reason},
    )


class Retry:
    """When a coordinator tries again after a failure: Flatpeak's wait or a back-off.

    429 waits `Retry-After`, a pending tariff 15 minutes (with its repair issue);
    anything else backs off exponentially from `base` seconds, with jitter. A
    refused key is not retried by itself (reauth reloads the entry).
    """

    def __init__(self, base: float, cap: float = BACKOFF_CAP) -> None:
        """Back off from `base` up to `cap` seconds."""
        self._base = base
        self._cap = cap
        self.failures = 0

    def failed(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        failure: FlatpeakFailure,
        now: datetime,
    ) -> tuple[timedelta | None, Hold | None]:
        """Return how long to wait (None: until reauth) and Flatpeak's wait, if any."""
        if failure.kind is FailureKind.AUTH:
            return None, None
        if (hold := hold_of(failure, now)) is not None:
            if failure.kind is FailureKind.TARIFF_PENDING:
                issues.async_raise_tariff_pending(hass, entry, hold.reason)
            return hold.until - now, hold
        self.failures += 1
        delay = next_delay(self.failures, base=self._base, cap=self._cap)
        return timedelta(seconds=delay), None

    def succeeded(
        self, hass: HomeAssistant, entry: ConfigEntry, *, answered: bool
    ) -> None:
        """Start over; once Flatpeak `answered` a call, the tariff issue goes."""
        self.failures = 0
        if answered:
            issues.async_clear_tariff_pending(hass, entry)


def update_failed(failure: FlatpeakFailure) -> UpdateFailed | ConfigEntryAuthFailed:
    """Return what a coordinator raises for a failed update."""
    if failure.kind is FailureKind.AUTH:
        return ConfigEntryAuthFailed(
            translation_domain=DOMAIN, translation_key=failure.translation_key
        )
    return UpdateFailed(
        translation_domain=DOMAIN,
        translation_key=failure.translation_key,
        translation_placeholders=failure.placeholders,
    )


def setup_error(err: FlatpeakError, location_id: str) -> HomeAssistantError:
    """Return what setup raises when Flatpeak cannot show the entry's location."""
    failure = flatpeak_failure(err)
    if failure.kind is FailureKind.AUTH:
        return ConfigEntryAuthFailed(
            translation_domain=DOMAIN, translation_key=failure.translation_key
        )
    if failure.kind is FailureKind.NOT_FOUND:
        return ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="location_not_found",
            translation_placeholders={"location_id": location_id},
        )
    return ConfigEntryNotReady(
        translation_domain=DOMAIN,
        translation_key=failure.translation_key,
        translation_placeholders=failure.placeholders,
    )


def action_error(err: FlatpeakError) -> HomeAssistantError:
    """Return the translated error of an action whose Flatpeak call failed."""
    failure = flatpeak_failure(err)
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key=failure.translation_key,
        translation_placeholders=failure.placeholders,
    )


def form_error(err: FlatpeakError) -> str:
    """Return the config flow's error key for a failed Flatpeak call."""
    failure = flatpeak_failure(err)
    if failure.kind is FailureKind.AUTH:
        return "invalid_auth"
    if failure.kind in (FailureKind.UNREACHABLE, FailureKind.RATE_LIMITED):
        return "cannot_connect"
    return "unknown"


def flatpeak_action[**P, R](
    func: Callable[P, Coroutine[Any, Any, R]],
) -> Callable[P, Coroutine[Any, Any, R]]:
    """Turn a Flatpeak error of an action into its translated Home Assistant error."""

    @functools.wraps(func)
    async def handler(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await func(*args, **kwargs)
        except FlatpeakError as err:
            raise action_error(err) from err

    return handler
