"""The capped exponential backoff with jitter (pure)."""

from __future__ import annotations

import pytest

from custom_components.flatpeak.backoff import next_delay


@pytest.mark.parametrize(
    ("failures", "expected"),
    [(0, 30.0), (1, 30.0), (2, 60.0), (3, 120.0), (6, 960.0), (7, 1800.0)],
)
def test_doubles_up_to_the_cap(failures: int, expected: float) -> None:
    """Without jitter the wait doubles from the base per failure, then stays capped."""
    assert next_delay(failures, base=30, cap=1800, jitter=0, rng=lambda: 0.7) == (
        expected
    )


@pytest.mark.parametrize(("rand", "factor"), [(0.0, 0.8), (0.5, 1.0), (0.999, 1.1996)])
def test_jitter_spreads_around_the_delay(rand: float, factor: float) -> None:
    """The random draw spreads the wait by ±jitter."""
    delay = next_delay(3, base=30, cap=1800, jitter=0.2, rng=lambda: rand)
    assert delay == pytest.approx(120 * factor)


def test_jitter_never_exceeds_the_cap() -> None:
    """At the cap, upward jitter is clipped; downward jitter still spreads homes."""
    assert next_delay(20, base=30, cap=1800, rng=lambda: 0.999) == 1800
    assert next_delay(20, base=30, cap=1800, rng=lambda: 0.0) == pytest.approx(1440)


def test_many_failures_do_not_overflow() -> None:
    """Weeks of failures in a row (2.0**2000 would overflow) still give the cap."""
    assert next_delay(5000, base=30, cap=1800, jitter=0, rng=lambda: 0.5) == 1800


def test_default_rng_stays_in_range() -> None:
    """The default random draw keeps the wait within ±jitter of the delay."""
    for _ in range(50):
        assert 48 <= next_delay(2, base=30, cap=1800) <= 72
