"""The sandbox's in-memory store: accounts, locations, devices, records, tokens."""

from __future__ import annotations

import itertools
import json
import secrets
import time as _time
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Self

from . import util
from .faults import Faults
from .tariff import Tariff
from .util import format_time, new_id, parse_time, utcnow

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

type DedupMode = Literal["replace", "duplicate"]
API_VERSION = "2025-09-14.anode"

# country -> (timezone, currency, (lat, lng)) used to resolve a postal address.
COUNTRIES: dict[str, tuple[str, str, tuple[float, float]]] = {
    "GB": ("Europe/London", "GBP", (51.50735, -0.12776)),
    "IE": ("Europe/Dublin", "EUR", (53.34981, -6.26031)),
    "FR": ("Europe/Paris", "EUR", (48.85661, 2.35222)),
    "DE": ("Europe/Berlin", "EUR", (52.52001, 13.40495)),
    "NL": ("Europe/Amsterdam", "EUR", (52.36757, 4.90414)),
    "BE": ("Europe/Brussels", "EUR", (50.85034, 4.35171)),
    "LU": ("Europe/Luxembourg", "EUR", (49.61162, 6.13193)),
    "ES": ("Europe/Madrid", "EUR", (40.41678, -3.70379)),
    "IT": ("Europe/Rome", "EUR", (41.90278, 12.49637)),
    "PT": ("Europe/Lisbon", "EUR", (38.72225, -9.13934)),
    "AT": ("Europe/Vienna", "EUR", (48.20817, 16.37382)),
    "FI": ("Europe/Helsinki", "EUR", (60.16985, 24.93837)),
    "CH": ("Europe/Zurich", "CHF", (47.37689, 8.54169)),
    "SE": ("Europe/Stockholm", "SEK", (59.32932, 18.06858)),
    "NO": ("Europe/Oslo", "NOK", (59.91387, 10.75225)),
    "DK": ("Europe/Copenhagen", "DKK", (55.67610, 12.56834)),
    "PL": ("Europe/Warsaw", "PLN", (52.22977, 21.01178)),
    "US": ("America/New_York", "USD", (40.71278, -74.00597)),
    "CA": ("America/Toronto", "CAD", (43.65323, -79.38318)),
    "AU": ("Australia/Sydney", "AUD", (-33.86882, 151.20929)),
    "NZ": ("Pacific/Auckland", "NZD", (-36.84846, 174.76333)),
}


@dataclass(frozen=True, slots=True)
class Account:
    """A Flatpeak account and its API key."""

    account_id: str
    api_key: str

    @property
    def live_mode(self) -> bool:
        """Return True for a live key (``sk_live_...``)."""
        return self.api_key.startswith("sk_live_")


@dataclass(slots=True)
class Location:
    """A location (property address) and the tariff connected to it."""

    id: str
    account_id: str
    live_mode: bool
    time_created: datetime
    timezone: str
    currency_code: str
    postal_address: dict[str, Any]
    geo_location: dict[str, float] | None = None
    reference_id: str | None = None
    customer_id: str | None = None
    tariff: Tariff | None = None

    @property
    def tariff_status(self) -> dict[str, str]:
        """Return the anode ``tariff_status`` object."""
        connected = "CONNECTED" if self.tariff is not None else "NOT_CONNECTED"
        return {
            "commodity_import": connected,
            "commodity_export": connected,
            "non_commodity_import": "NOT_SUPPORTED",
            "non_commodity_export": "NOT_SUPPORTED",
            "local": connected,
        }

    def to_json(self) -> dict[str, Any]:
        """Return the API's location object."""
        return {
            "id": self.id,
            "object": "location",
            "live_mode": self.live_mode,
            "reference_id": self.reference_id,
            "customer_id": self.customer_id,
            "timezone": self.timezone,
            "currency_code": self.currency_code,
            "postal_address": self.postal_address,
            "geo_location": self.geo_location,
            "tariff_status": self.tariff_status,
            "time_created": format_time(self.time_created),
            "account_id": self.account_id,
        }


@dataclass(slots=True)
class Device:
    """A device identifier."""

    id: str
    account_id: str
    live_mode: bool
    time_created: datetime
    reference_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the API's device object."""
        return {
            "id": self.id,
            "object": "device",
            "live_mode": self.live_mode,
            "reference_id": self.reference_id,
            "time_created": format_time(self.time_created),
            "account_id": self.account_id,
        }


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A meter record as stored (times in UTC, energy converted to Wh)."""

    id: str
    account_id: str
    location_id: str
    device_id: str | None
    energy_flow_direction: str
    tariff_direction: str
    units: str
    value: float
    start_time: datetime
    end_time: datetime
    energy_wh: float
    session_reference_id: str | None = None
    record_reference_id: str | None = None
    confidence: float | None = None
    batch_id: str | None = None
    time_created: datetime = field(default_factory=utcnow)

    @property
    def owner_id(self) -> str:
        """Return the device id when set, else the location id."""
        return self.device_id or self.location_id

    def to_json(self) -> dict[str, Any]:
        """Return a JSON form (admin endpoint and state file)."""
        data = asdict(self)
        for key in ("start_time", "end_time", "time_created"):
            data[key] = format_time(data[key])
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        """Parse :meth:`to_json` output."""
        values = dict(data)
        for key in ("start_time", "end_time", "time_created"):
            values[key] = parse_time(values[key])
        return cls(**values)


@dataclass(frozen=True, slots=True)
class RequestLog:
    """One API request as the sandbox saw it."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    flatpeak_version: str | None
    body: Any = None
    fault: str | None = None


@dataclass(frozen=True, slots=True)
class Token:
    """An issued bearer token."""

    account_id: str
    live_mode: bool
    expires_at: float


class Sandbox:
    """State and behaviour switches of an emulated Flatpeak API."""

    def __init__(
        self,
        *,
        dedup: DedupMode = "replace",
        token_lifetime: int = 3600,
        expired_token_status: int = 401,
        default_tariff: Tariff | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """Create an empty sandbox.

        ``default_tariff`` (a sandbox addition): when set, locations created
        through ``POST /locations`` get it, moved to their own timezone and
        currency; otherwise they have no tariff (``no_tariff_connected``).
        ``clock`` (settable later as ``.clock``): the "now" of prices (what is
        published, ``next_update``, the default ``start_time``); default
        :func:`flatpeak_sandbox.util.utcnow`, looked up at each call.
        """
        if dedup not in ("replace", "duplicate"):
            raise ValueError("dedup must be 'replace' or 'duplicate'")
        if expired_token_status not in (401, 403):
            raise ValueError("expired_token_status must be 401 or 403")
        self.dedup: DedupMode = dedup
        self.token_lifetime = token_lifetime
        self.expired_token_status = expired_token_status
        self.default_tariff = default_tariff
        self.clock = clock
        self.accounts: dict[str, Account] = {}
        self.locations: dict[str, Location] = {}
        self.devices: dict[str, Device] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.requests: list[RequestLog] = []
        self.tokens: dict[str, Token] = {}
        self.faults = Faults(on_expire_tokens=self.tokens.clear)
        self.demo_account: Account | None = None
        self.demo_location_id: str | None = None
        self.on_change: Callable[[], None] | None = None
        self._records: dict[str, StoredRecord] = {}  # by id, arrival order
        self._dedup_index: dict[tuple[Any, ...], str] = {}
        self._seq = itertools.count()
        self._order: dict[str, int] = {}

    # -- construction ---------------------------------------------------------
    @classmethod
    def with_demo_account(cls, *, tariff: Tariff | None = None, **kwargs: Any) -> Self:
        """Return a sandbox with one account and one GB location.

        The location's tariff is ``tariff``, by default the demo time-of-use
        tariff (:meth:`Tariff.demo_uk`); other options go to the constructor.
        """
        sandbox = cls(**kwargs)
        account = sandbox.add_account()
        sandbox.demo_account = account
        sandbox.demo_location_id = sandbox.add_location(
            account.account_id, tariff=tariff or Tariff.demo_uk()
        )
        return sandbox

    def now(self) -> datetime:
        """Return the sandbox's current time (UTC, whole seconds)."""
        now = self.clock() if self.clock is not None else util.utcnow()
        return now.astimezone(UTC).replace(microsecond=0)

    def changed(self) -> None:
        """Notify the ``on_change`` hook (the CLI saves the state file there)."""
        if self.on_change is not None:
            self.on_change()

    def order_of(self, object_id: str) -> int:
        """Return the creation sequence number of a location or device."""
        return self._order[object_id]

    def add_account(
        self, account_id: str | None = None, api_key: str | None = None
    ) -> Account:
        """Create an account (``acc_<24 hex>``, key ``sk_test_<hex>``)."""
        account = Account(
            account_id or new_id("acc"), api_key or f"sk_test_{secrets.token_hex(24)}"
        )
        self.accounts[account.account_id] = account
        self.changed()
        return account

    def _account(self, account_id: str) -> Account:
        try:
            return self.accounts[account_id]
        except KeyError:
            raise KeyError(f"unknown account {account_id}") from None

    def add_location(  # noqa: PLR0913
        self,
        account_id: str,
        *,
        address_line1: str = "1 Test Street",
        city: str = "London",
        post_code: str = "SW1A 1AA",
        country_code: str = "GB",
        timezone: str | None = None,
        currency_code: str | None = None,
        tariff: Tariff | None = None,
        location_id: str | None = None,
        reference_id: str | None = None,
    ) -> str:
        """Create a location; timezone and currency follow the country when None."""
        account = self._account(account_id)
        country = COUNTRIES.get(country_code.upper())
        if (timezone is None or currency_code is None) and country is None:
            raise ValueError(f"no timezone/currency known for {country_code!r}")
        geo = None if country is None else {"lat": country[2][0], "lng": country[2][1]}
        location = Location(
            id=location_id or new_id("loc"),
            account_id=account_id,
            live_mode=account.live_mode,
            time_created=utcnow(),
            timezone=timezone or (country[0] if country else "UTC"),
            currency_code=currency_code or (country[1] if country else "EUR"),
            postal_address={
                "address_line1": address_line1,
                "address_line2": None,
                "city": city,
                "state": None,
                "post_code": post_code,
                "country_code": country_code.upper(),
            },
            geo_location=geo,
            reference_id=reference_id,
            tariff=tariff,
        )
        self._insert_location(location)
        return location.id

    def _insert_location(self, location: Location) -> None:
        self.locations[location.id] = location
        self._order[location.id] = next(self._seq)
        self.changed()

    def create_location_from_api(
        self,
        account_id: str,
        postal_address: dict[str, Any],
        *,
        reference_id: str | None,
        customer_id: str | None,
    ) -> Location:
        """Create a location for ``POST /locations`` (address already validated)."""
        account = self._account(account_id)
        timezone, currency, (lat, lng) = COUNTRIES[postal_address["country_code"]]
        tariff = None
        if self.default_tariff is not None:
            tariff = replace(
                self.default_tariff, timezone=timezone, currency_code=currency
            )
        location = Location(
            id=new_id("loc"),
            account_id=account_id,
            live_mode=account.live_mode,
            time_created=utcnow(),
            timezone=timezone,
            currency_code=currency,
            postal_address=postal_address,
            geo_location={"lat": lat, "lng": lng},
            reference_id=reference_id,
            customer_id=customer_id,
            tariff=tariff,
        )
        self._insert_location(location)
        return location

    def set_tariff(self, location_id: str, tariff: Tariff | None) -> None:
        """Connect (or, with None, disconnect) a tariff at a location."""
        self.locations[location_id].tariff = tariff
        self.changed()

    def add_device(
        self, account_id: str, reference_id: str | None, device_id: str | None = None
    ) -> str:
        """Create a device identifier; ``reference_id`` need not be unique."""
        account = self._account(account_id)
        device = Device(
            id=device_id or new_id("dev"),
            account_id=account_id,
            live_mode=account.live_mode,
            time_created=utcnow(),
            reference_id=reference_id,
        )
        self.devices[device.id] = device
        self._order[device.id] = next(self._seq)
        self.changed()
        return device.id

    # -- records --------------------------------------------------------------
    def records(
        self, *, location_id: str | None = None, device_id: str | None = None
    ) -> list[StoredRecord]:
        """Return the stored records (arrival order), optionally filtered by id."""
        return [
            r
            for r in self._records.values()
            if (location_id is None or r.location_id == location_id)
            and (device_id is None or r.device_id == device_id)
        ]

    def store_records(self, records: list[StoredRecord]) -> None:
        """Store records, applying the de-duplication mode."""
        for record in records:
            if self.dedup == "replace":
                key = _dedup_key(record)
                old = self._dedup_index.pop(key, None)
                if old is not None:
                    del self._records[old]
                self._dedup_index[key] = record.id
            self._records[record.id] = record
        if records:
            self.changed()

    # -- auth -----------------------------------------------------------------
    def login(self, account_id: str, api_key: str) -> tuple[str, Token] | None:
        """Issue a bearer token, or return None for bad credentials."""
        account = self.accounts.get(account_id)
        if account is None or not secrets.compare_digest(account.api_key, api_key):
            return None
        token = Token(
            account_id, account.live_mode, _time.monotonic() + self.token_lifetime
        )
        bearer = f"fpsb.{secrets.token_urlsafe(32)}"
        self.tokens[bearer] = token
        return bearer, token

    def authenticate(self, bearer: str) -> Token | None:
        """Return the token's data, or None when it is unknown or expired."""
        token = self.tokens.get(bearer)
        if token is None:
            return None
        if _time.monotonic() >= token.expires_at:
            del self.tokens[bearer]
            return None
        return token

    # -- admin ----------------------------------------------------------------
    def reset(self) -> None:
        """Forget records, batches, requests, tokens and faults (keep objects)."""
        self._records.clear()
        self._dedup_index.clear()
        self.batches.clear()
        self.requests.clear()
        self.tokens.clear()
        self.faults.clear()
        self.changed()

    # -- persistence ----------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """Return the persisted state (not tokens, requests or faults)."""
        objects: list[Location | Device] = [
            *self.locations.values(),
            *self.devices.values(),
        ]
        ordered = sorted(
            objects,
            key=lambda o: self._order[o.id],
        )
        return {
            "version": 1,
            "dedup": self.dedup,
            "accounts": [asdict(a) for a in self.accounts.values()],
            "demo_account_id": self.demo_account and self.demo_account.account_id,
            "demo_location_id": self.demo_location_id,
            "objects": [_object_json(o) for o in ordered],
            "records": [r.to_json() for r in self._records.values()],
            "batches": list(self.batches.values()),
        }

    def save(self, path: str | Path) -> None:
        """Write the state as JSON (atomically)."""
        target = Path(path)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=1), encoding="utf-8")
        tmp.replace(target)

    @classmethod
    def load(cls, path: str | Path, **kwargs: Any) -> Self:
        """Read a state file written by :meth:`save`."""
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        kwargs.setdefault("dedup", data.get("dedup", "replace"))
        sandbox = cls(**kwargs)
        for item in data["accounts"]:
            sandbox.accounts[item["account_id"]] = Account(**item)
        for item in data["objects"]:
            kind = item.pop("kind")
            item["time_created"] = parse_time(item["time_created"])
            if kind == "location":
                tariff = item.pop("tariff")
                item["tariff"] = None if tariff is None else Tariff.from_dict(tariff)
                sandbox._insert_location(Location(**item))
            else:
                device = Device(**item)
                sandbox.devices[device.id] = device
                sandbox._order[device.id] = next(sandbox._seq)
        sandbox.store_records([StoredRecord.from_json(r) for r in data["records"]])
        sandbox.batches = {b["id"]: b for b in data["batches"]}
        if data.get("demo_account_id") in sandbox.accounts:
            sandbox.demo_account = sandbox.accounts[data["demo_account_id"]]
        sandbox.demo_location_id = data.get("demo_location_id")
        return sandbox


def _object_json(obj: Location | Device) -> dict[str, Any]:
    data = asdict(obj)
    data["time_created"] = format_time(obj.time_created)
    if isinstance(obj, Location):
        data["kind"] = "location"
        data["tariff"] = None if obj.tariff is None else obj.tariff.to_dict()
    else:
        data["kind"] = "device"
    return data


def _dedup_key(record: StoredRecord) -> tuple[Any, ...]:
    """Return the identity of a record in ``replace`` de-duplication mode.

    The ``record_reference_id`` when present; else owner, directions and period.
    """
    if record.record_reference_id is not None:
        return ("ref", record.account_id, record.record_reference_id)
    return (
        "period",
        record.account_id,
        record.owner_id,
        record.energy_flow_direction,
        record.tariff_direction,
        record.start_time,
        record.end_time,
    )
