"""Send the outbox to Flatpeak and settle what Flatpeak answered (no HA import).

Records are marked in flight (saved) before each `PUT /meters/interval` and leave
the outbox only with Flatpeak's answer. A call that Flatpeak refused (401/403, 429,
another 4xx) stored nothing: the mark is cleared. Anything else (no answer, a cut
connection, a 5xx, a broken body) may have stored them: they stay in flight, and
before any of them is sent again Flatpeak is asked which it holds (`interval_cost`
without aggregation lists one row per stored record with its
`record_reference_id`). Those count as accepted and only the rest is sent again.
If Flatpeak cannot say, nothing is sent again until it can.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .api import (
    MAX_RECORDS_PER_REQUEST,
    FlatpeakApiError,
    FlatpeakAuthError,
    FlatpeakRateLimitError,
    MeterRecord,
    SubmissionResult,
    TariffDirection,
)
from .const import LOGGER

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from datetime import datetime

    from .api import FlatpeakClient
    from .outbox import Outbox


@dataclass(slots=True)
class SendReport:
    """What one send achieved."""

    accepted: int = 0
    calls: int = 0
    """Flatpeak calls that got an answer."""
    rejected: list[tuple[MeterRecord, str]] = field(default_factory=list)
    owners: set[tuple[str, TariffDirection]] = field(default_factory=set)
    """(device id or location id, tariff direction) of every accepted record."""

    def add(self, records: Sequence[MeterRecord]) -> None:
        """Count records Flatpeak accepted."""
        self.accepted += len(records)
        self.owners.update(
            (record.device_id or record.location_id, record.tariff_direction)
            for record in records
        )


class Sender:
    """Sends an outbox's pending records with a Flatpeak client."""

    def __init__(
        self,
        outbox: Outbox,
        client: FlatpeakClient,
        clock: Callable[[], datetime],
    ) -> None:
        """Send from `outbox` with `client`; `clock` dates accepted submissions."""
        self._outbox = outbox
        self._client = client
        self._clock = clock

    async def async_send(self, limit: int | None = None) -> SendReport:
        """Send pending records oldest first, one chunk of ≤10,000 per call.

        Raises the client's error when a call fails (what it stored, if anything,
        is settled by a later send).
        """
        report = SendReport()
        if self._outbox.has_in_flight:
            await self._async_settle(report)
        sent = 0
        while limit is None or sent < limit:
            chunk = await self._outbox.async_peek(MAX_RECORDS_PER_REQUEST)
            if not chunk:
                break
            await self._outbox.async_mark_in_flight(chunk)
            try:
                result = await self._client.submit_interval_records(chunk)
            except (FlatpeakAuthError, FlatpeakRateLimitError, FlatpeakApiError):
                # Flatpeak answered and stored nothing of this call.
                await self._outbox.async_clear_in_flight()
                raise
            report.calls += 1
            await self._async_apply(result, report)
            sent += len(chunk)
        return report

    async def _async_settle(self, report: SendReport) -> None:
        """Count in-flight records Flatpeak already holds as accepted."""
        records = await self._outbox.async_in_flight()
        held = await self._async_held_by_flatpeak(records)
        report.calls += 1
        accepted = [record for record in records if record.record_reference_id in held]
        LOGGER.debug(
            "Flatpeak already held %s of %s records sent without an answer",
            len(accepted),
            len(records),
        )
        if accepted:
            await self._outbox.async_mark_accepted(accepted, when=self._clock())
            report.add(accepted)
        await self._outbox.async_clear_in_flight()

    async def _async_held_by_flatpeak(self, records: Sequence[MeterRecord]) -> set[str]:
        """Return the reference ids of `records` that Flatpeak has stored."""
        groups: dict[tuple[str, TariffDirection], list[MeterRecord]] = {}
        for record in records:
            owner = record.device_id or record.location_id
            groups.setdefault((owner, record.tariff_direction), []).append(record)
        held: set[str] = set()
        for (owner, direction), items in groups.items():
            cost = await self._client.interval_cost(
                owner,
                min(record.start_time for record in items),
                max(record.end_time for record in items),
                tariff_direction=direction,
            )
            held.update(
                row.record_reference_id for row in cost.rows if row.record_reference_id
            )
        return held

    async def _async_apply(self, result: SubmissionResult, report: SendReport) -> None:
        if result.accepted:
            await self._outbox.async_mark_accepted(result.accepted, when=self._clock())
            report.add(result.accepted)
        if result.failed:
            await self._outbox.async_mark_failed(result.failed)
            report.rejected.extend(result.failed)
