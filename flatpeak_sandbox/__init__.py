"""A local emulator of the Flatpeak REST API, release anode (``2025-09-14.anode``).

It serves the endpoints the integration uses, with the shapes of the Flatpeak
docs (``shared/flatpeak/API.md`` and its seed pages): ``GET /login``;
``GET|POST /locations``, ``GET /locations/{id}``; ``GET|POST /devices``,
``GET /devices/{id}``; ``PUT /meters/interval``, ``PUT /meters/cumulative/epoch``,
``GET /meters/batch``; ``POST /costs/instant``, ``POST /costs/interval/{id}``,
``POST /costs/session/{id}``; ``POST /prices/{location_id}``. Admin endpoints
under ``/_sandbox/`` are listed in :mod:`flatpeak_sandbox.admin`. Run it with
``python -m flatpeak_sandbox --port 8456 [--host 127.0.0.1] [--state FILE]
[--tariff tou|agile] [--agile-seed N]``.

Choices made where the Flatpeak docs are silent
-----------------------------------------------
Record de-duplication
    ``Sandbox(dedup="replace")`` (default): a record whose ``record_reference_id``
    equals a stored record's of the same account replaces it; a record without
    one replaces a stored record without one that has the same owner (device id,
    else location id), ``energy_flow_direction``, ``tariff_direction``,
    ``start_time`` and ``end_time``. The replacement goes to the end of the
    arrival order. ``dedup="duplicate"`` stores everything again (double counts).
More than 10,000 records
    ``PUT /meters/interval`` with more than 10,000 elements: 400 error object,
    code ``too_many_records``; nothing is stored. A body that is not an array:
    400 ``body_invalid``.
Per-record validation
    Failures go to ``failed_records`` (``record_num`` 0-based) and the other
    records are stored. Messages: ``location_id is required``, ``location_id
    <id> not found``, ``device_id <id> not found``, ``units must be one of W,
    KW, WH, KWH``, ``value must be a number``, ``start_time|end_time must be an
    RFC 3339 date-time`` (an offset or ``Z`` is required), ``end_time must not
    be before start_time`` (also for equal times), ``energy_flow_direction must
    be INBOUND or OUTBOUND``, ``tariff_direction must be IMPORT, EXPORT or
    LOCAL``, ``confidence must be a number from 0 to 1``, ``record must be an
    object``. ``tariff_direction`` defaults to IMPORT (EXPORT for OUTBOUND).
    Processing is synchronous: ``records_processed == records_accepted``.
Units case sensitivity
    ``units``, ``energy_flow_direction`` and ``tariff_direction`` are
    case-sensitive: only the upper-case spellings are accepted (``kWh`` fails).
    W and KW are a constant power over the interval (energy = power x duration).
Cumulative records
    Readings are sorted by ``time``; each reading after the first becomes one
    interval record (previous time to its time, value difference, its own
    ``record_reference_id``). A non-increasing time or a decreasing value is a
    failed record. ``records_submitted`` counts readings.
Token expiry
    Tokens live ``token_lifetime`` seconds (``expires_in``, default 3600). An
    unknown, expired or ``expire_tokens()``-ed token gets
    ``expired_token_status``: 401 ``{"message": "Unauthorized"}`` by default, or
    403 ``{"message": "Bad credentials"}`` with ``expired_token_status=403``.
    Bad Basic credentials on ``/login``: 403 ``{"message": "Bad credentials"}``.
Flatpeak-Version
    A request without the header is accepted (account default = anode); any
    value other than ``2025-09-14.anode`` gets 400 ``api_version_invalid``.
Rate limits
    None, except injected: ``faults.rate_limit_next`` answers 429 error object
    code ``rate_limited`` with ``Retry-After`` in seconds (integer when whole).
Tariff kinds
    A location's tariff is one of two kinds (``Tariff.kind``; switch it with
    ``PUT /_sandbox/locations/{id}/tariff``, start the CLI with ``--tariff agile`` (the
    demo location, also of a loaded state file, and API-created locations; without
    ``--tariff`` a loaded state keeps its tariffs), or in tests
    ``Sandbox.with_demo_account(tariff=Tariff.agile_uk())``, i.e.
    ``@pytest.mark.sandbox(tariff=...)``). "tou" (``Tariff.demo_uk()``, the default of
    the demo location and of the CLI): wall-clock time-of-use periods in the tariff's
    timezone, 0.07 00:30-04:30, 0.35 16:00-19:00, else 0.25. "agile"
    (``Tariff.agile_uk(seed)``): like Octopus Agile, one import price per UTC half-hour,
    deterministic: a function of ``seed``, the half-hour's start and the tariff's
    timezone only (:func:`flatpeak_sandbox.tariff.agile_price`). The base price of the
    half-hour's local hour (``AGILE_BASE``: 0.10-0.14 overnight, 0.15-0.22 by day,
    0.32-0.36 at 16:00-19:00 local) times a day level 0.85..1.15 (per local date), plus
    -0.02..+0.02 per half-hour; on about one local night in four, a run of 2-5
    half-hours starting between 01:00 and 03:00 local is negative (-0.06..-0.01). Prices
    are major currency units per kWh rounded to 4 decimals. Agile export and local
    prices stay flat (``export_price``, ``local_price``). ``to_dict`` carries ``kind``
    and ``seed``; a tariff dict without ``kind`` is "tou".
Costs
    Energy is spread evenly over each record and split exactly at every price
    change (tou: local wall-clock boundaries of the tariff's timezone, converted
    with zoneinfo, so DST days have 23/25 hours; agile: every UTC half-hour, equal
    neighbours merged), at the prices ``/prices`` publishes for the same times;
    costs price any time, published yet or not. Cost = kWh x price, rounded to 5
    decimals per row; energy in Wh rounded to 3 decimals. A record overlapping
    the requested ``[start_time, end_time)`` counts with its overlapping part
    only (pro rata). A location id covers location-level records (no device
    id); a device id its own records. ``tariff_direction`` is read from the
    query, else the body (seed 001 puts it in the body), default IMPORT; the
    same for ``aggregation``. ``cost.confidence`` is the tariff's confidence
    (1 unless the tariff says otherwise); aggregated rows carry the lowest.
Aggregation boundaries
    Without ``aggregation``: one row per stored record (clipped to the window),
    ordered by start. ``DAY``/``MONTH``: calendar days/months in the location's
    timezone (for a device: the location of its latest record), a row only for
    buckets holding energy, each row's times = the bucket clipped to the window.
Session costs
    All records of the account with that ``session_reference_id`` and tariff
    direction, one row each; ``object_id`` is the owner of the latest record.
    No record: 404 ``{"message": "Not Found"}``.
Prices and next_update
    One row per span of constant price inside the window, equal neighbours merged
    (agile: a row per half-hour unless two neighbours are equal); ``end_time`` at most
    90 days after ``start_time`` (``start_time`` defaults to now), else 400
    ``time_range_invalid``. ``data`` holds only what is published, clipped at the
    horizon (every tariff direction); a window entirely beyond it answers 200 with an
    empty ``data`` (``request`` still echoes the asked window). Horizon, in the
    location's timezone: tou none (every allowed window is published whole); agile the
    end of today (local midnight) before 16:00 local, the end of tomorrow from 16:00
    local on (Octopus publishes the next day at about 16:00). Past prices stay
    published. ``next_update`` is the next 16:00 local time of the location strictly
    after now, for both kinds. "Now" is ``Sandbox.now()``: the sandbox's ``clock`` when
    set, else ``flatpeak_sandbox.util.utcnow()`` (tests set the clock or patch that).
Locations
    Timezone, currency and coordinates come from ``country_code`` (a fixed
    table: GB IE FR DE NL BE LU ES IT PT AT FI CH SE NO DK PL US CA AU NZ).
    Missing or malformed country: 422 ``country_code_invalid``; well-formed but
    not in the table: 422 ``timezone_not_found``. A ``reference_id`` already used
    by a location of the account: 409 ``{"message": "Conflict"}``. Device
    ``reference_id`` need not be unique. Locations created through the API have
    no tariff (``tariff_status`` NOT_CONNECTED, costs/prices answer 422
    ``no_tariff_connected``) unless ``Sandbox(default_tariff=...)`` is set
    (the CLI sets the demo tariff, or the ``--tariff`` one).
pending_connect scope
    ``faults.set_pending_connect(location_id)`` answers 422 (``code``) for
    ``POST /costs/interval`` naming that location or a device having records
    there, ``POST /costs/session`` with records there, ``POST /costs/instant``,
    ``POST /prices/{location_id}``, and a whole ``PUT /meters/interval`` or
    ``PUT /meters/cumulative/epoch`` if any record names that location
    (nothing stored). Locations and devices are still readable.
Trailing commas
    Request bodies may contain trailing commas before ``}`` or ``]`` (the
    Flatpeak docs' own examples do); other invalid JSON gets 400 ``body_invalid``.
Faults
    ``fail``/``rate_limit``/``stall`` answer without processing the call;
    ``stall`` holds it ``seconds`` then answers 504 (503 at once when the server
    shuts down). ``drop`` and ``garble`` process the call (records are stored)
    and then close the connection / answer 200 with a broken body. ``drop``
    closes before any answer byte by default, which aiohttp 3.11 answers by
    silently resending the call once (so the caller sees success and the call
    was processed twice); ``drop_next(mode="mid_response")`` closes after the
    status line and headers instead, which aiohttp never retries.
Unknown ids
    Unknown ids, and ids of another account: 404 ``{"message": "Not Found"}``.
"""

from __future__ import annotations

from .faults import Faults
from .server import SandboxServer
from .state import API_VERSION, Account, RequestLog, Sandbox, StoredRecord
from .tariff import Tariff, TouPeriod

__all__ = [
    "API_VERSION",
    "Account",
    "Faults",
    "RequestLog",
    "Sandbox",
    "SandboxServer",
    "StoredRecord",
    "Tariff",
    "TouPeriod",
]
