"""Fault injection: queued faults that apply to the next matching API calls."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Callable

type FaultKind = Literal["fail", "stall", "drop", "rate_limit", "garble"]
type GarbleMode = Literal["truncate", "shape"]
GARBLE_MODES: tuple[GarbleMode, ...] = ("truncate", "shape")
type DropMode = Literal["before_response", "mid_response"]
DROP_MODES: tuple[DropMode, ...] = ("before_response", "mid_response")


@dataclass(slots=True)
class Fault:
    """One queued fault; ``remaining`` counts down as matching calls consume it."""

    kind: FaultKind
    remaining: int
    path: str | None = None
    status: int = 500
    seconds: float = 30.0
    retry_after: float | None = 1.0
    mode: GarbleMode = "truncate"
    drop_mode: DropMode = "before_response"

    def matches(self, path: str) -> bool:
        """Return True when this fault applies to an API call on ``path``."""
        return self.remaining > 0 and (self.path is None or path.startswith(self.path))


@dataclass(slots=True)
class Faults:
    """Fault switches of a :class:`~flatpeak_sandbox.Sandbox`.

    Each ``*_next`` method queues a fault for the next ``count`` API calls whose
    path starts with ``path`` (any API call when ``path`` is None). Queued faults
    are consumed in the order they were added; one call consumes at most one
    fault. Admin endpoints (``/_sandbox/...``) never count.
    """

    queue: list[Fault] = field(default_factory=list)
    pending_connect: dict[str, str] = field(default_factory=dict)
    on_expire_tokens: Callable[[], None] | None = None

    def _add(self, fault: Fault) -> None:
        if fault.remaining < 1:
            raise ValueError("count must be at least 1")
        self.queue.append(fault)

    def fail_next(
        self, count: int = 1, *, status: int = 500, path: str | None = None
    ) -> None:
        """Answer with ``status`` and an error object, without processing."""
        if not 400 <= status <= 599:  # noqa: PLR2004
            raise ValueError("status must be a 4xx or 5xx code")
        self._add(Fault("fail", count, path, status=status))

    def stall_next(
        self, count: int = 1, *, seconds: float = 30.0, path: str | None = None
    ) -> None:
        """Hold the call ``seconds`` without processing it, then answer 504."""
        self._add(Fault("stall", count, path, seconds=seconds))

    def drop_next(
        self,
        count: int = 1,
        *,
        path: str | None = None,
        mode: DropMode = "before_response",
    ) -> None:
        """Process the call, then cut the connection.

        ``before_response`` (default): close it before any byte of the answer.
        aiohttp (3.11, ``ClientSession._request``'s ``retry_persistent_connection``)
        then silently sends a GET/PUT/DELETE once more on a new connection when the
        closed connection was a reused keep-alive one, so the caller usually sees
        the answer of that second, processed call. ``mid_response``: send the
        status line and headers (announcing the whole body), then close; aiohttp
        never retries that and the caller gets a payload error, while the call
        was processed: the ambiguous failure an integration must handle.
        """
        if mode not in DROP_MODES:
            raise ValueError(f"mode must be one of {DROP_MODES}")
        self._add(Fault("drop", count, path, drop_mode=mode))

    def rate_limit_next(
        self,
        count: int = 1,
        *,
        retry_after: float | None = 1.0,
        path: str | None = None,
    ) -> None:
        """Answer 429 (with ``Retry-After`` unless None), without processing."""
        self._add(Fault("rate_limit", count, path, retry_after=retry_after))

    def garble_next(
        self, count: int = 1, *, path: str | None = None, mode: GarbleMode = "truncate"
    ) -> None:
        """Process the call, then answer 200 with a broken body.

        ``truncate``: the first half of the real body (not JSON); ``shape``: JSON
        holding only the ``object`` key of the real answer.
        """
        if mode not in GARBLE_MODES:
            raise ValueError(f"mode must be one of {GARBLE_MODES}")
        self._add(Fault("garble", count, path, mode=mode))

    def expire_tokens(self) -> None:
        """Invalidate every bearer token issued so far."""
        if self.on_expire_tokens is not None:
            self.on_expire_tokens()

    def set_pending_connect(
        self,
        location_id: str,
        pending: bool = True,  # noqa: FBT001, FBT002
        code: str = "pending_connect",
    ) -> None:
        """Answer 422 ``code`` for costs, prices and meter submissions of a location."""
        if pending:
            self.pending_connect[location_id] = code
        else:
            self.pending_connect.pop(location_id, None)

    def clear(self) -> None:
        """Drop every queued fault and every pending-connect location."""
        self.queue.clear()
        self.pending_connect.clear()

    def take(self, path: str) -> Fault | None:
        """Consume and return the first queued fault matching ``path``."""
        for fault in self.queue:
            if fault.matches(path):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self.queue.remove(fault)
                return fault
        return None
