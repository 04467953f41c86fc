"""EV sessions in the three modes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from custom_components.flatpeak.metering import IntervalEnergy
from custom_components.flatpeak.sessions import (
    Session,
    SessionMode,
    SessionState,
    assign_sessions,
    session_mode_for,
)

T0 = datetime(2025, 1, 15, 22, 0, tzinfo=UTC)  # epoch 1736978400
EPOCH0 = 1736978400


def at(minutes: int) -> datetime:
    """Return T0 + minutes."""
    return T0 + timedelta(minutes=minutes)


def intervals(
    start_minute: int, wh: list[int], minutes: int = 30
) -> list[IntervalEnergy]:
    """Consecutive intervals from `start_minute` with the given energies."""
    return [
        IntervalEnergy(
            at(start_minute + k * minutes), at(start_minute + (k + 1) * minutes), e
        )
        for k, e in enumerate(wh)
    ]


def round_trip(state: SessionState) -> SessionState:
    """Serialise and parse the state, as a restart does."""
    return SessionState.from_dict(state.to_dict())


def test_mode_from_entity() -> None:
    """The entity's domain chooses the mode."""
    assert session_mode_for(None) is SessionMode.ENERGY_GAP
    assert session_mode_for("") is SessionMode.ENERGY_GAP
    assert session_mode_for("binary_sensor.ev_plugged") is SessionMode.BINARY
    assert session_mode_for("sensor.ev_transaction") is SessionMode.CHARGER_ID


def test_energy_gap_sessions() -> None:
    """A gap of ≥ 30 min without energy splits; a shorter one does not."""
    ivs = intervals(0, [0, 1000, 2000, 0, 500, 0, 0, 700], minutes=15)
    # 22:15-22:45 charge, 15 min pause (< gap) → same session, then 30 min pause.
    result = assign_sessions(
        ivs,
        mode=SessionMode.ENERGY_GAP,
        device_key="dev_1",
        high_water=at(120),
        state=SessionState(),
    )
    first = f"dev_1-{EPOCH0 + 15 * 60}"
    second = f"dev_1-{EPOCH0 + 105 * 60}"
    assert result.session_ids == (None, first, first, None, first, None, None, second)
    assert result.finished == (Session(first, at(15), at(75), 3500),)
    # The second session ended 15 minutes ago: still open.
    assert result.current == Session(second, at(105), at(120), 700)


def test_energy_gap_session_spanning_midnight_and_restart() -> None:
    """Computed in two runs, across midnight, with a restart in between: one id."""
    first = assign_sessions(
        intervals(60, [800, 900]),  # 23:00-24:00
        mode=SessionMode.ENERGY_GAP,
        device_key="dev_1",
        high_water=at(120),
        state=SessionState(),
    )
    assert first.finished == ()
    state = round_trip(first.state)
    second = assign_sessions(
        intervals(120, [1000, 0, 0]),  # 00:00-01:30 next day
        mode=SessionMode.ENERGY_GAP,
        device_key="dev_1",
        high_water=at(210),
        state=state,
    )
    session_id = f"dev_1-{EPOCH0 + 3600}"
    assert first.session_ids == (session_id, session_id)
    assert second.session_ids == (session_id, None, None)
    assert second.finished == (Session(session_id, at(60), at(150), 2700),)
    assert second.current is None


def test_energy_gap_finishes_only_after_gap_is_complete() -> None:
    """The session stays open until 30 minutes of no energy have been computed."""
    state = assign_sessions(
        intervals(0, [500]),
        mode=SessionMode.ENERGY_GAP,
        device_key="d",
        high_water=at(30),
        state=SessionState(),
    ).state
    waiting = assign_sessions(
        intervals(30, [0], minutes=15),
        mode=SessionMode.ENERGY_GAP,
        device_key="d",
        high_water=at(45),
        state=state,
    )
    assert waiting.finished == ()
    done = assign_sessions(
        intervals(45, [0], minutes=15),
        mode=SessionMode.ENERGY_GAP,
        device_key="d",
        high_water=at(60),
        state=waiting.state,
    )
    assert [s.session_id for s in done.finished] == [f"d-{EPOCH0}"]


def test_binary_sensor_sessions() -> None:
    """A run of `on` is a session; `unavailable` does not end it."""
    history = [
        (at(-10), "off"),
        (at(20), "on"),
        (at(50), "unavailable"),
        (at(55), "on"),
        (at(95), "off"),
        (at(140), "on"),
    ]
    ivs = intervals(0, [0, 1200, 1500, 300, 0, 400])  # 22:00-01:00
    result = assign_sessions(
        ivs,
        mode=SessionMode.BINARY,
        device_key="dev_2",
        high_water=at(180),
        state=SessionState(),
        history=history,
    )
    first = f"dev_2-{EPOCH0 + 20 * 60}"
    second = f"dev_2-{EPOCH0 + 140 * 60}"
    # 22:00-22:30 overlaps `on` from 22:20 (10 min) → first; 23:30-24:00 no overlap.
    assert result.session_ids == (first, first, first, first, second, second)
    assert result.finished == (Session(first, at(20), at(95), 3000),)
    assert result.current == Session(second, at(140), None, 400)


def test_binary_session_continues_across_restart() -> None:
    """The open session keeps its id when the next run starts with `on`."""
    first = assign_sessions(
        intervals(0, [500, 600]),
        mode=SessionMode.BINARY,
        device_key="dev_2",
        high_water=at(60),
        state=SessionState(),
        history=[(at(-20), "on")],
    )
    session_id = f"dev_2-{EPOCH0 - 20 * 60}"
    assert first.session_ids == (session_id, session_id)
    assert first.finished == ()
    # After the restart the recorder gives the state at the window start, as `on`.
    second = assign_sessions(
        intervals(60, [700, 0]),
        mode=SessionMode.BINARY,
        device_key="dev_2",
        high_water=at(120),
        state=round_trip(first.state),
        history=[(at(60), "on"), (at(90), "off")],
    )
    assert second.session_ids == (session_id, None)
    assert second.finished == (Session(session_id, at(-20), at(90), 1800),)
    assert second.current is None


def test_charger_id_sessions() -> None:
    """The charger's id names the session; `unknown` means none is running."""
    history = [
        (at(0), "unknown"),
        (at(30), "TX-1001"),
        (at(90), "TX-1002"),
        (at(120), "unavailable"),
        (at(150), ""),
    ]
    result = assign_sessions(
        intervals(0, [0, 900, 800, 700, 600, 0]),
        mode=SessionMode.CHARGER_ID,
        device_key="dev_3",
        high_water=at(180),
        state=SessionState(),
        history=history,
    )
    assert result.session_ids == (
        None,
        "TX-1001",
        "TX-1001",
        "TX-1002",
        "TX-1002",
        None,
    )
    assert result.finished == (
        Session("TX-1001", at(30), at(90), 1700),
        Session("TX-1002", at(90), at(150), 1300),
    )
    assert result.current is None


def test_charger_id_session_spanning_midnight() -> None:
    """An id still running at midnight continues in the next computation."""
    first = assign_sessions(
        intervals(60, [400, 400]),
        mode=SessionMode.CHARGER_ID,
        device_key="dev_3",
        high_water=at(120),
        state=SessionState(),
        history=[(at(50), "TX-7")],
    )
    second = assign_sessions(
        intervals(120, [400, 0]),
        mode=SessionMode.CHARGER_ID,
        device_key="dev_3",
        high_water=at(180),
        state=round_trip(first.state),
        history=[(at(50), "TX-7"), (at(150), "unknown")],
    )
    assert first.session_ids == ("TX-7", "TX-7")
    assert second.session_ids == ("TX-7", None)
    assert second.finished == (Session("TX-7", at(50), at(150), 1200),)


def test_history_after_high_water_is_left_for_later() -> None:
    """A state change after the computed range is not applied yet."""
    result = assign_sessions(
        intervals(0, [300]),
        mode=SessionMode.BINARY,
        device_key="d",
        high_water=at(30),
        state=SessionState(),
        history=[(at(0), "on"), (at(40), "off")],
    )
    assert result.finished == ()
    assert result.current == Session(f"d-{EPOCH0}", at(0), None, 300)


def test_state_round_trip_of_empty_state() -> None:
    """No state persists as no state."""
    assert SessionState.from_dict(None) == SessionState()
    assert round_trip(SessionState()) == SessionState()
