"""EV charging sessions: which interval records belong to which session (pure).

Three ways to tell a session (SPEC "Devices", ev_charger):
- `BINARY`: the session entity is a binary_sensor; a session is a run of `on`.
- `CHARGER_ID`: the session entity is a sensor whose state is the charger's own
  session/transaction id; a session is a run of one id and is named by it.
- `ENERGY_GAP`: no session entity; a session is a run of charging intervals separated
  from the next by at least `SESSION_GAP` without energy.

Session ids are deterministic: `<device id>-<session start epoch>` for `BINARY` and
`ENERGY_GAP`, the charger's id for `CHARGER_ID`, and `<device id>-gap-<start epoch>`
for the sessions of a configured session entity that has no recorded history for
their time (told by the energy gap instead). The open session is kept in a small
`SessionState` (persisted by the outbox) so that a session that spans two computations,
midnight or a restart keeps its id.

`unavailable` of the session entity keeps the previous state (a charger dropping off the
network does not end a session); for `CHARGER_ID`, `unknown`, an empty state, `none` and
`null` mean no session is running.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Self

from .const import SESSION_GAP

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .metering import IntervalEnergy

_UNAVAILABLE = "unavailable"
# Marks the ids of sessions told by the energy gap for want of entity history.
GAP_MARK = "gap"
_NO_SESSION_IDS = frozenset({"", "unknown", "none", "null"})


class SessionMode(StrEnum):
    """How sessions of a charger are told apart."""

    BINARY = "binary"
    CHARGER_ID = "charger_id"
    ENERGY_GAP = "energy_gap"


def session_mode_for(session_entity: str | None) -> SessionMode:
    """Return the mode implied by the configured session entity (or its absence)."""
    if not session_entity:
        return SessionMode.ENERGY_GAP
    if session_entity.startswith("binary_sensor."):
        return SessionMode.BINARY
    return SessionMode.CHARGER_ID


@dataclass(frozen=True, slots=True)
class Session:
    """One charging session.

    `end` is None while a `BINARY`/`CHARGER_ID` session is open; for `ENERGY_GAP` it is
    the end of the last charging interval so far.
    """

    session_id: str
    start: datetime
    end: datetime | None
    energy_wh: int

    @property
    def energy_kwh(self) -> float:
        """The session's energy in kWh."""
        return self.energy_wh / 1000

    def to_dict(self) -> dict[str, Any]:
        """Serialise for storage."""
        return {
            "session_id": self.session_id,
            "start": self.start.isoformat(),
            "end": None if self.end is None else self.end.isoformat(),
            "energy_wh": self.energy_wh,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Parse what `to_dict` wrote."""
        end = data.get("end")
        return cls(
            session_id=str(data["session_id"]),
            start=datetime.fromisoformat(data["start"]),
            end=None if end is None else datetime.fromisoformat(end),
            energy_wh=int(data["energy_wh"]),
        )


@dataclass(frozen=True, slots=True)
class SessionState:
    """What must survive between computations: the open session, if any."""

    open: Session | None = None

    def to_dict(self) -> dict[str, Any]:
        """Serialise for storage."""
        return {"open": None if self.open is None else self.open.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Self:
        """Parse what `to_dict` wrote (None: no state yet)."""
        if not data or not data.get("open"):
            return cls()
        return cls(Session.from_dict(data["open"]))


@dataclass(frozen=True, slots=True)
class SessionAssignment:
    """Session of each interval, sessions finished in this computation, new state."""

    session_ids: tuple[str | None, ...]
    finished: tuple[Session, ...]
    state: SessionState

    @property
    def current(self) -> Session | None:
        """The session still running at the high-water mark."""
        return self.state.open


def assign_sessions(
    intervals: Sequence[IntervalEnergy],
    *,
    mode: SessionMode,
    device_key: str,
    high_water: datetime,
    state: SessionState,
    history: Sequence[tuple[datetime, str]] = (),
) -> SessionAssignment:
    """Give each interval its session id and report the sessions that finished.

    `intervals` are the new intervals of the stream in time order, up to `high_water`
    (the end of what has been computed). `history` is the session entity's states
    `(since, state)` in time order, the first one being the state at the start of the
    computation; it is ignored in `ENERGY_GAP` mode. A session is finished once its end
    is at or before `high_water`, so all of its records are among those built so far.

    Where the session entity's history does not reach back to an interval (purged
    states, backfilled days, an entity newer than the energy), that interval's
    sessions are told by the energy gap instead, with ids `<device>-gap-<start>`.
    """
    if mode is SessionMode.ENERGY_GAP:
        return _assign_by_gap(intervals, device_key, high_water, state)
    known_from = _known_from(intervals, history, high_water, state)
    early = [interval for interval in intervals if interval.start < known_from]
    if not early:
        return _assign_by_entity(
            intervals, mode, device_key, high_water, state, history
        )
    gap = _assign_by_gap(early, f"{device_key}-{GAP_MARK}", known_from, SessionState())
    # The entity takes over where its history starts: a run still open there ends.
    finished = list(gap.finished)
    if gap.state.open is not None:
        finished.append(gap.state.open)
    rest = _assign_by_entity(
        intervals[len(early) :], mode, device_key, high_water, state, history
    )
    return SessionAssignment(
        gap.session_ids + rest.session_ids,
        (*finished, *rest.finished),
        rest.state,
    )


def _known_from(
    intervals: Sequence[IntervalEnergy],
    history: Sequence[tuple[datetime, str]],
    high_water: datetime,
    state: SessionState,
) -> datetime:
    """Return from when the session entity's state is known in this window."""
    if state.open is not None or not intervals:
        return intervals[0].start if intervals else high_water
    if not history:
        return high_water
    return min(since for since, _ in history)


def _assign_by_gap(
    intervals: Sequence[IntervalEnergy],
    device_key: str,
    high_water: datetime,
    state: SessionState,
) -> SessionAssignment:
    current = state.open
    finished: list[Session] = []
    ids: list[str | None] = []
    for interval in intervals:
        if interval.energy_wh <= 0:
            ids.append(None)
            continue
        if (
            current is not None
            and current.end is not None
            and interval.start - current.end < SESSION_GAP
        ):
            current = replace(
                current,
                end=interval.end,
                energy_wh=current.energy_wh + interval.energy_wh,
            )
        else:
            if current is not None:
                finished.append(current)
            current = Session(
                f"{device_key}-{int(interval.start.timestamp())}",
                interval.start,
                interval.end,
                interval.energy_wh,
            )
        ids.append(current.session_id)
    if (
        current is not None
        and current.end is not None
        and high_water - current.end >= SESSION_GAP
    ):
        finished.append(current)
        current = None
    return SessionAssignment(tuple(ids), tuple(finished), SessionState(current))


@dataclass(slots=True)
class _Run:
    key: str
    session: Session


def _session_key(mode: SessionMode, state: str) -> str | None:
    """Return the run key of a state: None = no session."""
    if mode is SessionMode.BINARY:
        return "on" if state == "on" else None
    value = state.strip()
    return None if value.lower() in _NO_SESSION_IDS else value


def _runs_from_history(
    mode: SessionMode,
    device_key: str,
    high_water: datetime,
    state: SessionState,
    history: Sequence[tuple[datetime, str]],
) -> list[_Run]:
    """Return the session runs in the history; the last may still be open."""
    # The persisted open session continues while the entity still says so.
    current: _Run | None = None
    if state.open is not None:
        open_key = "on" if mode is SessionMode.BINARY else state.open.session_id
        current = _Run(open_key, state.open)
    runs: list[_Run] = []
    for since, raw in sorted(history, key=lambda item: item[0]):
        if since >= high_water:
            break  # later intervals are not computed yet; decide next time
        if raw == _UNAVAILABLE:
            continue
        key = _session_key(mode, raw)
        if current is not None and key != current.key:
            end = max(since, current.session.start)
            current.session = replace(current.session, end=end)
            runs.append(current)
            current = None
        if key is not None and current is None:
            session_id = (
                f"{device_key}-{int(since.timestamp())}"
                if mode is SessionMode.BINARY
                else key
            )
            current = _Run(key, Session(session_id, since, None, 0))
    if current is not None:
        runs.append(current)
    return runs


def _assign_by_entity(
    intervals: Sequence[IntervalEnergy],
    mode: SessionMode,
    device_key: str,
    high_water: datetime,
    state: SessionState,
    history: Sequence[tuple[datetime, str]],
) -> SessionAssignment:
    runs = _runs_from_history(mode, device_key, high_water, state, history)
    ids: list[str | None] = []
    for interval in intervals:
        # The run covering most of the interval gets it (a plug-out and plug-in
        # within one interval must not split its energy).
        best: _Run | None = None
        best_overlap = 0.0
        for run in runs:
            run_end = run.session.end or high_water
            overlap = (
                min(interval.end, run_end) - max(interval.start, run.session.start)
            ).total_seconds()
            if overlap > best_overlap:
                best, best_overlap = run, overlap
        if best is None:
            ids.append(None)
            continue
        # The session's energy covers its charging intervals whole: so does its
        # start (when the entity noticed the car is inside the first of them).
        start = best.session.start
        if interval.energy_wh > 0:
            start = min(start, interval.start)
        best.session = replace(
            best.session,
            start=start,
            energy_wh=best.session.energy_wh + interval.energy_wh,
        )
        ids.append(best.session.session_id)

    finished = tuple(run.session for run in runs if run.session.end is not None)
    open_runs = [run.session for run in runs if run.session.end is None]
    return SessionAssignment(
        tuple(ids), finished, SessionState(open_runs[0] if open_runs else None)
    )
