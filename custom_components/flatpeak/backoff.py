"""Capped exponential backoff with jitter, shared by the coordinators."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Callable

# 2**64 times any sensible base is far above any cap, and float maths never overflows.
_MAX_DOUBLINGS: Final = 64


def next_delay(
    failures: int,
    *,
    base: float,
    cap: float,
    jitter: float = 0.2,
    rng: Callable[[], float] = random.random,
) -> float:
    """Return the wait in seconds after `failures` failures in a row (1: the first).

    The wait doubles from `base` with each failure, up to `cap`, and is spread by
    ±`jitter` (a fraction) so that many homes do not retry in step; it never
    exceeds `cap`. `rng` returns a float in [0, 1).
    """
    doublings = min(max(0, failures - 1), _MAX_DOUBLINGS)
    delay = min(cap, base * 2.0**doublings)
    return min(cap, delay * (1 - jitter + 2 * jitter * rng()))
