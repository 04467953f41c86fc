"""Fetch from Flatpeak only the costs that accepted records can have changed.

An owner is the location (import, export) or a device (solar: local; others:
import). Its day rows of the month come from one `POST /costs/interval` with
`aggregation=DAY`: today's total is the last of them, the month's their sum. They are
fetched at start, for the owners whose records Flatpeak accepted since (`mark`),
and for all at the start of a new month. A device Flatpeak does not know (404) is
set aside (`missing`) without failing the others. No Home Assistant import.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Final

from .api import Aggregation, FlatpeakNotFoundError, TariffDirection
from .costs import SessionCost, local_midnight, month_start, session_cost_from

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .api import CostRow, FlatpeakClient
    from .sessions import Session

type Owner = tuple[str, TariffDirection]
"""A Flatpeak location or device id, and the tariff direction of its costs."""

LOCATION_DIRECTIONS: Final = (TariffDirection.IMPORT, TariffDirection.EXPORT)


class CostReports:
    """The month's day rows of each owner, refreshed where records changed."""

    def __init__(
        self, client: FlatpeakClient, owners: frozenset[Owner], zone: tzinfo
    ) -> None:
        """Fetch the costs of `owners` (all due at first), days in `zone`."""
        self.client = client
        self.owners = owners
        self.zone = zone
        self.rows: dict[Owner, tuple[CostRow, ...]] = {}
        self.dirty: set[Owner] = set(self.owners)
        self.missing: set[str] = set()
        self.calls = 0
        self._month: datetime | None = None

    def mark(self, changed: Iterable[Owner]) -> None:
        """Note owners whose records Flatpeak accepted (their costs changed)."""
        self.dirty.update(owner for owner in changed if owner in self.owners)

    def set_owners(self, owners: frozenset[Owner]) -> None:
        """Follow the entry's devices: new ones are due, removed ones forgotten."""
        self.dirty.update(owners - self.owners)
        for owner in self.owners - owners:
            self.rows.pop(owner, None)
            self.dirty.discard(owner)
        self.owners = owners

    @property
    def due(self) -> bool:
        """Whether a fetch would call Flatpeak."""
        return bool(self.dirty)

    async def async_fetch(self, now: datetime) -> None:
        """Fetch the due owners' day rows from the start of the month."""
        month = month_start(now, self.zone)
        if month != self._month:
            self.rows.clear()
            self.dirty = set(self.owners)
            self._month = month
        end = local_midnight(
            now.astimezone(self.zone).date() + timedelta(days=1), self.zone
        )
        for owner in sorted(self.dirty):
            object_id, direction = owner
            self.calls += 1
            try:
                report = await self.client.interval_cost(
                    object_id,
                    month,
                    end,
                    tariff_direction=direction,
                    aggregation=Aggregation.DAY,
                )
            except FlatpeakNotFoundError:
                self.missing.add(object_id)
                self.rows.pop(owner, None)
            else:
                self.missing.discard(object_id)
                self.rows[owner] = report.rows
            self.dirty.discard(owner)

    async def async_session_cost(self, session: Session) -> SessionCost | None:
        """Return what Flatpeak charged for a session (None: no records priced yet)."""
        self.calls += 1
        try:
            report = await self.client.session_cost(session.session_id)
        except FlatpeakNotFoundError:
            return None
        if not report.rows:
            return None
        return session_cost_from(
            session.session_id, report, start=session.start, end=session.end
        )
