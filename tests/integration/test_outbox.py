"""The persisted outbox."""

from __future__ import annotations

import gc
from datetime import UTC, datetime, timedelta
from types import FunctionType
from typing import TYPE_CHECKING, Any

import pytest

from custom_components.flatpeak.metering import (
    IntervalEnergy,
    Stream,
    StreamKind,
    SumAnchor,
    build_record,
)
from custom_components.flatpeak.outbox import Outbox
from custom_components.flatpeak.outbox_store import OutboxVersionError
from custom_components.flatpeak.sessions import Session, SessionState

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

T0 = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)
GRID = Stream(
    key="grid_import",
    kind=StreamKind.GRID_IMPORT,
    entity_id="sensor.grid",
    location_id="loc_1",
)
EV = Stream(
    key="sub_ev",
    kind=StreamKind.EV_CHARGER,
    entity_id="sensor.ev",
    location_id="loc_1",
    device_id="dev_ev",
)


def record(stream: Stream, minute: int, wh: int, session: str | None = None) -> Any:
    """Build a 30-minute record starting `minute` after T0."""
    start = T0 + timedelta(minutes=minute)
    return build_record(
        stream, IntervalEnergy(start, start + timedelta(minutes=30), wh), session
    )


async def test_round_trip_across_instances(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    """Everything a restart needs is in `.storage/flatpeak.<entry_id>`."""
    outbox = Outbox(hass, "entry1")
    await outbox.async_load()
    assert outbox.pending_count == 0
    assert outbox.progress("grid_import").high_water is None
    assert outbox.progress("sub_ev").session_state == SessionState()

    grid = [record(GRID, 0, 100), record(GRID, 30, 200)]
    ev = [record(EV, 0, 700, "dev_ev-1"), record(EV, 30, 0)]
    open_session = Session("dev_ev-1", T0, None, 700)
    done = Session("dev_ev-0", T0 - timedelta(hours=3), T0 - timedelta(hours=1), 9000)
    await outbox.async_enqueue(
        "grid_import",
        grid,
        high_water=T0 + timedelta(hours=1),
        anchor=SumAnchor(T0 + timedelta(hours=1), 12.3),
    )
    await outbox.async_enqueue(
        "sub_ev",
        ev,
        high_water=T0 + timedelta(hours=1),
        anchor=SumAnchor(T0 + timedelta(minutes=55), 4.5),
        session_state=SessionState(open_session),
        finished_sessions=[done],
    )
    assert hass_storage["flatpeak.entry1"]["version"] == 1

    restarted = Outbox(hass, "entry1")
    await restarted.async_load()
    # Oldest interval first, all streams together.
    assert await restarted.async_peek() == [grid[0], ev[0], grid[1], ev[1]]
    assert restarted.pending_count == 4
    assert restarted.progress("grid_import").high_water == T0 + timedelta(hours=1)
    assert restarted.progress("grid_import").anchor == SumAnchor(
        T0 + timedelta(hours=1), 12.3
    )
    assert restarted.progress("sub_ev").anchor == SumAnchor(
        T0 + timedelta(minutes=55), 4.5
    )
    assert restarted.progress("sub_ev").session_state == SessionState(open_session)
    assert [(c.stream_key, c.session) for c in restarted.completed_sessions] == [
        ("sub_ev", done)
    ]


async def test_accepted_and_failed_leave_the_queue_for_good(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    """Accepted records go; rejected ones are kept aside, never peeked again."""
    outbox = Outbox(hass, "entry2")
    await outbox.async_load()
    records = [record(GRID, 30 * k, k) for k in range(5)]
    await outbox.async_enqueue(
        "grid_import", records, high_water=T0 + timedelta(hours=3)
    )
    assert await outbox.async_peek(2) == records[:2]

    await outbox.async_mark_accepted(records[:2])
    await outbox.async_mark_failed([(records[2], "value out of range")])
    assert await outbox.async_peek() == records[3:]

    restarted = Outbox(hass, "entry2")
    await restarted.async_load()
    assert await restarted.async_peek() == records[3:]
    assert restarted.pending_count == 2
    assert [(f.stream_key, f.record, f.error) for f in restarted.failed] == [
        ("grid_import", records[2], "value out of range")
    ]
    diagnostics = restarted.diagnostics()
    assert diagnostics["pending_count"] == 2
    assert diagnostics["oldest_pending"] == records[3].to_dict()
    assert diagnostics["failed"][0]["error"] == "value out of range"

    assert [f.record for f in await restarted.async_clear_failed()] == [records[2]]
    assert restarted.failed == []


async def test_enqueue_never_moves_back_or_replaces(hass: HomeAssistant) -> None:
    """A backfill re-enqueue keeps pending records and the high-water mark."""
    outbox = Outbox(hass, "entry3")
    await outbox.async_load()
    original = record(GRID, 0, 100)
    await outbox.async_enqueue(
        "grid_import",
        [original],
        high_water=T0 + timedelta(hours=2),
        anchor=SumAnchor(T0 + timedelta(hours=2), 5.0),
    )
    changed = record(GRID, 0, 101)  # same reference id, other value
    assert changed.record_reference_id == original.record_reference_id
    await outbox.async_enqueue(
        "grid_import",
        [changed, record(GRID, -30, 50)],
        high_water=T0,
        anchor=SumAnchor(T0, 1.0),
    )
    assert await outbox.async_peek() == [record(GRID, -30, 50), original]
    assert outbox.progress("grid_import").high_water == T0 + timedelta(hours=2)
    assert outbox.progress("grid_import").anchor == SumAnchor(
        T0 + timedelta(hours=2), 5.0
    )


async def test_sessions_reported_and_streams_removed(hass: HomeAssistant) -> None:
    """Reported sessions and removed streams are forgotten."""
    outbox = Outbox(hass, "entry4")
    await outbox.async_load()
    finished = Session("s1", T0, T0 + timedelta(hours=1), 100)
    await outbox.async_enqueue(
        "sub_ev",
        [record(EV, 0, 100, "s1")],
        high_water=T0 + timedelta(hours=1),
        finished_sessions=[finished],
    )
    await outbox.async_enqueue("grid_import", [record(GRID, 0, 5)], high_water=T0)
    await outbox.async_mark_session_reported("s1")
    assert outbox.completed_sessions == []

    await outbox.async_remove_stream("sub_ev")
    assert await outbox.async_peek() == [record(GRID, 0, 5)]
    assert outbox.progress("sub_ev").high_water is None


async def test_remove_deletes_the_file(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    """Removing the entry removes its storage."""
    outbox = Outbox(hass, "entry5")
    await outbox.async_load()
    await outbox.async_enqueue("grid_import", [record(GRID, 0, 1)], high_water=T0)
    assert "flatpeak.entry5" in hass_storage
    await outbox.async_remove()
    assert "flatpeak.entry5" not in hass_storage
    assert outbox.pending_count == 0


_CONTAINERS = (dict, list, tuple, set, frozenset)


def tracked_reachable(root: object) -> int:
    """Count the GC-tracked objects reachable from `root` within our own code.

    The walk goes through this integration's objects, plain containers and the
    closures of functions, never into Home Assistant or the event loop: what it
    counts is what `root` itself keeps alive, whatever else the process holds.
    """
    seen: set[int] = set()
    stack: list[object] = [root]
    count = 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, FunctionType):
            stack.extend(cell.cell_contents for cell in obj.__closure__ or ())
            continue
        own = type(obj).__module__.startswith("custom_components.flatpeak")
        if not (own or isinstance(obj, _CONTAINERS)):
            continue
        count += gc.is_tracked(obj)
        stack.extend(gc.get_referents(obj))
    return count


async def test_waiting_records_add_nothing_the_gc_tracks(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    """Pending records are stored JSON texts: no object per record for the GC.

    (Plain dicts were enough on Python 3.13; 3.14 tracks them too.)

    A year of backfill waits in the outbox; tracked objects per record would be
    promoted to the oldest generation and bring on full collections of the whole
    process, which stall the event loop (see README "Performance"). Counted from
    the outbox, not the whole process: other tests' leftovers do not count.
    """
    outbox = Outbox(hass, "entry7")
    await outbox.async_load()
    before = tracked_reachable(outbox)
    await outbox.async_enqueue(
        "grid_import",
        [record(GRID, 30 * k, k) for k in range(1000)],
        high_water=T0 + timedelta(days=21),
    )
    await hass.async_block_till_done()
    assert tracked_reachable(outbox) - before < 100
    assert outbox.pending_count == 1000
    assert await outbox.async_peek(2) == [record(GRID, 0, 0), record(GRID, 30, 1)]


async def test_reads_the_first_layout(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    """Outbox files of 1.1 (each record nested under its stream) are migrated."""
    first, second = record(GRID, 0, 100), record(EV, 0, 700, "dev_ev-1")
    hass_storage["flatpeak.entry8"] = {
        "version": 1,
        "minor_version": 1,
        "key": "flatpeak.entry8",
        "data": {
            "pending": [
                {"stream": "grid_import", "record": first.to_dict()},
                {"stream": "sub_ev", "record": second.to_dict()},
            ],
            "in_flight": [first.record_reference_id],
            "streams": {},
        },
    }
    outbox = Outbox(hass, "entry8")
    await outbox.async_load()
    assert await outbox.async_peek() == [first, second]
    assert await outbox.async_in_flight() == [first]
    assert outbox.pending_session_ids() == {"dev_ev-1"}

    await outbox.async_mark_accepted([first])
    stored = hass_storage["flatpeak.entry8"]
    assert (stored["version"], stored["minor_version"]) == (1, 3)
    assert stored["data"]["pending"] == [{**second.to_dict(), "stream": "sub_ev"}]


async def test_damaged_items_are_set_aside_and_kept(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    """Stored items that are not records stay in the file, unsent; mended, they go."""
    good, later = record(GRID, 0, 100), record(GRID, 30, 200)
    damaged = {**later.to_dict(), "stream": "grid_import", "start_time": "yesterday"}
    hass_storage["flatpeak.entry9"] = {
        "version": 1,
        "minor_version": 2,
        "key": "flatpeak.entry9",
        "data": {
            "pending": [
                {**good.to_dict(), "stream": "grid_import"},
                damaged,
                ["not", "an", "object"],
            ]
        },
    }
    outbox = Outbox(hass, "entry9")
    await outbox.async_load()
    assert await outbox.async_peek() == [good]
    assert outbox.unreadable_count == 2
    await outbox.async_mark_accepted([good])
    stored = hass_storage["flatpeak.entry9"]["data"]
    assert stored["pending"] == []
    assert stored["unreadable"] == [damaged, ["not", "an", "object"]]

    # Someone mends the damaged item in the file; the next load sends it.
    stored["unreadable"][0]["start_time"] = later.to_dict()["start_time"]
    mended = Outbox(hass, "entry9")
    await mended.async_load()
    assert await mended.async_peek() == [later]
    assert mended.unreadable_count == 1


async def test_records_leave_in_time_order_however_they_came(
    hass: HomeAssistant,
) -> None:
    """Records enqueued out of order are still sent oldest interval first."""
    outbox = Outbox(hass, "entry10")
    await outbox.async_load()
    late, early = record(GRID, 60, 2), record(GRID, 0, 1)
    await outbox.async_enqueue("grid_import", [late, early], high_water=T0)
    await outbox.async_enqueue("sub_ev", [record(EV, 30, 3)], high_water=T0)
    assert await outbox.async_peek() == [early, record(EV, 30, 3), late]


async def test_a_newer_major_layout_is_not_guessed_at(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    """A file from a future major version is refused, not misread (a downgrade)."""
    hass_storage["flatpeak.entry11"] = {
        "version": 2,
        "minor_version": 1,
        "key": "flatpeak.entry11",
        "data": {"pending": [{"anything": "new"}]},
    }
    with pytest.raises(OutboxVersionError):
        await Outbox(hass, "entry11").async_load()
    assert hass_storage["flatpeak.entry11"]["data"] == {
        "pending": [{"anything": "new"}]
    }
