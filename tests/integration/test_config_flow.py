"""Tests of the Flatpeak config, options, reauth, reconfigure and subentry flows."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from unittest.mock import patch

import pytest
from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    SOURCE_USER,
    ConfigEntry,
    ConfigEntryState,
    ConfigFlowResult,
    SubentryFlowResult,
)
from homeassistant.data_entry_flow import FlowResultType, InvalidData, section
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.flatpeak.api import DEFAULT_API_URL, FlatpeakClient
from custom_components.flatpeak.const import (
    CONF_ACCOUNT_ID,
    CONF_ADDRESS_LINE1,
    CONF_API_KEY,
    CONF_API_URL,
    CONF_CITY,
    CONF_COUNTRY_CODE,
    CONF_DEVICE_ID,
    CONF_ENERGY_ENTITY,
    CONF_EXPORT_ENTITY,
    CONF_IMPORT_ENTITY,
    CONF_INTERVAL_MINUTES,
    CONF_LOCATION_ID,
    CONF_NAME,
    CONF_POST_CODE,
    CONF_REFERENCE_ID,
    CONF_SESSION_ENTITY,
    DOMAIN,
    LOCATION_NEW,
    SUBENTRY_APPLIANCE,
    SUBENTRY_EV_CHARGER,
    SUBENTRY_SOLAR,
)
from custom_components.flatpeak.entity import entry_device
from flatpeak_sandbox import Faults, SandboxServer
from tests.conftest import ticking_clock

from .conftest import (
    ENERGY_MEASUREMENT,
    EV_ENERGY,
    EV_PLUGGED,
    EV_SESSION_ID,
    GRID_EXPORT,
    GRID_IMPORT,
    HEAT_PUMP_ENERGY,
    LOCATION_TITLE,
    POWER_SENSOR,
    SOLAR_ENERGY,
    entry_data,
)
from .registry import device_owners

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers import device_registry as dr

pytestmark = pytest.mark.usefixtures("energy_sensors")

type Inject = Callable[[Faults], None]

# Failures of a Flatpeak call that the user sees as "cannot_connect".
CONNECT_FAULTS = [
    pytest.param(lambda f: f.fail_next(status=500), id="server_error"),
    pytest.param(lambda f: f.fail_next(status=503), id="unavailable"),
    pytest.param(lambda f: f.rate_limit_next(), id="rate_limited"),
    pytest.param(
        lambda f: f.stall_next(seconds=0.05), id="timeout", marks=ticking_clock()
    ),
    pytest.param(lambda f: f.garble_next(), id="garbled"),
    pytest.param(lambda f: f.garble_next(mode="shape"), id="wrong_shape"),
]


def _location_reads(sandbox: SandboxServer) -> int:
    """Count GET /locations/{id}: one per setup of the entry, one per check."""
    return sum(
        1
        for r in sandbox.sandbox.requests
        if r.method == "GET" and r.path.startswith("/locations/")
    )


def _credentials(sandbox: SandboxServer, **overrides: str) -> dict[str, str]:
    account = sandbox.sandbox.demo_account
    assert account is not None
    return {
        CONF_ACCOUNT_ID: account.account_id,
        CONF_API_KEY: account.api_key,
        CONF_API_URL: sandbox.url,
        **overrides,
    }


async def _start(hass: HomeAssistant) -> ConfigFlowResult:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    return result


async def _to_location(hass: HomeAssistant, sandbox: SandboxServer) -> str:
    result = await _start(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _credentials(sandbox)
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "location"
    return result["flow_id"]


async def _to_create_location(hass: HomeAssistant, sandbox: SandboxServer) -> str:
    flow_id = await _to_location(hass, sandbox)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_LOCATION_ID: LOCATION_NEW}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "create_location"
    return flow_id


def _stream_entities(entry: ConfigEntry[Any]) -> dict[str, str]:
    """Return the source sensor of each stream the loaded entry meters."""
    return {s.key: s.entity_id for s in entry.runtime_data.metering.streams}


def _schema(result: ConfigFlowResult | SubentryFlowResult) -> dict[Any, Any]:
    schema = result["data_schema"]
    assert schema is not None
    return dict(schema.schema)


def _select_options(result: Any, key: str) -> list[Any]:
    for marker, selector in _schema(result).items():
        if marker == key:
            return list(selector.config["options"])
    raise AssertionError(key)


ADDRESS = {
    CONF_ADDRESS_LINE1: "10 Downing Street",
    CONF_CITY: "London",
    CONF_POST_CODE: "SW1A 2AA",
    CONF_COUNTRY_CODE: "gb",
}


async def test_full_flow_existing_location(
    hass: HomeAssistant, sandbox: SandboxServer
) -> None:
    """Sign in, pick the demo location and its grid meters: the entry loads."""
    flow_id = await _to_location(hass, sandbox)
    location_id = sandbox.sandbox.demo_location_id
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_LOCATION_ID: location_id}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "grid"
    assert result["description_placeholders"] == {"location": LOCATION_TITLE}

    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_IMPORT_ENTITY: GRID_IMPORT, CONF_EXPORT_ENTITY: GRID_EXPORT}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == LOCATION_TITLE
    assert result["data"] == entry_data(sandbox)
    assert result["options"] == {}
    # The success dialog names the statistics the energy dashboard takes.
    assert result["description"] == "energy_dashboard"
    assert result["description_placeholders"] == {
        "import_cost": f"Flatpeak import cost (energy dashboard), {LOCATION_TITLE}",
        "export_value": f"Flatpeak export value (energy dashboard), {LOCATION_TITLE}",
    }
    entry = result["result"]
    assert entry.unique_id == location_id
    assert entry.state is ConfigEntryState.LOADED
    assert _stream_entities(entry) == {
        "grid_import": GRID_IMPORT,
        "grid_export": GRID_EXPORT,
    }


async def test_user_form_keeps_api_url_out_of_the_way(hass: HomeAssistant) -> None:
    """The API address is in a collapsed section, whatever the user's mode.

    Newer Home Assistant releases report advanced mode on for every user, so the
    mode cannot hide it.
    """
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    assert set(_schema(result)) == {CONF_ACCOUNT_ID, CONF_API_KEY, "advanced"}
    advanced = next(v for k, v in _schema(result).items() if k == "advanced")
    assert isinstance(advanced, section)
    assert advanced.options["collapsed"] is True
    (url_key,) = dict(advanced.schema.schema)
    assert url_key == CONF_API_URL
    assert url_key.default() == DEFAULT_API_URL


async def test_api_url_from_the_section(
    hass: HomeAssistant, sandbox: SandboxServer
) -> None:
    """The form's section (what the browser sends) sets the API address too."""
    credentials = _credentials(sandbox)
    url = credentials.pop(CONF_API_URL)
    result = await _start(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**credentials, "advanced": {CONF_API_URL: f"{url}/"}}
    )
    assert result["step_id"] == "location"


async def test_user_without_advanced_mode_uses_flatpeak(
    hass: HomeAssistant, sandbox: SandboxServer
) -> None:
    """Outside advanced mode the entry talks to the public Flatpeak API."""
    credentials = _credentials(sandbox)
    client = FlatpeakClient(
        async_get_clientsession(hass),
        credentials[CONF_ACCOUNT_ID],
        credentials[CONF_API_KEY],
        base_url=sandbox.url,
    )
    assert sandbox.sandbox.demo_location_id is not None
    demo_location = await client.get_location(sandbox.sandbox.demo_location_id)
    del credentials[CONF_API_URL]

    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    with (
        patch.object(FlatpeakClient, "login"),
        patch.object(FlatpeakClient, "list_locations", return_value=[demo_location]),
    ):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], credentials
        )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_LOCATION_ID: demo_location.id}
    )
    with patch("custom_components.flatpeak.async_setup_entry", return_value=True):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_IMPORT_ENTITY: GRID_IMPORT}
        )
        await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_API_URL] == DEFAULT_API_URL


async def test_account_without_locations_offers_new_only(
    hass: HomeAssistant, sandbox: SandboxServer
) -> None:
    """An account without locations can only create one."""
    empty = sandbox.sandbox.add_account()
    result = await _start(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        _credentials(
            sandbox,
            **{CONF_ACCOUNT_ID: empty.account_id, CONF_API_KEY: empty.api_key},
        ),
    )
    assert result["step_id"] == "location"
    assert _select_options(result, CONF_LOCATION_ID) == [
        {"value": LOCATION_NEW, "label": LOCATION_NEW}
    ]


@pytest.mark.parametrize(
    ("inject", "credentials", "error"),
    [
        pytest.param(None, {CONF_API_KEY: "sk_test_wrong"}, "invalid_auth", id="key"),
        pytest.param(
            None, {CONF_ACCOUNT_ID: "acc_unknown"}, "invalid_auth", id="account"
        ),
        pytest.param(
            None, {CONF_API_URL: "http://127.0.0.1:9"}, "cannot_connect", id="refused"
        ),
        *[
            pytest.param(p.values[0], {}, "cannot_connect", id=p.id, marks=p.marks)
            for p in CONNECT_FAULTS
        ],
        pytest.param(
            lambda f: f.fail_next(path="/locations"),
            {},
            "cannot_connect",
            id="list_locations",
        ),
        pytest.param(
            lambda f: f.fail_next(status=400),
            {},
            "unknown",
            id="unexpected_status",
        ),
    ],
)
async def test_user_errors_then_recover(
    hass: HomeAssistant,
    sandbox: SandboxServer,
    inject: Inject | None,
    credentials: dict[str, str] | None,
    error: str,
) -> None:
    """Each sign-in failure shows an error; a correct retry goes on."""
    if inject is not None:
        inject(sandbox.sandbox.faults)
    result = await _start(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _credentials(sandbox, **(credentials or {}))
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {"base": error}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _credentials(sandbox)
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "location"


async def test_user_unexpected_error(
    hass: HomeAssistant, sandbox: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A failure no one expected is shown as unknown and logged."""
    result = await _start(hass)
    with patch(
        "custom_components.flatpeak.config_flow.FlatpeakClient.login",
        side_effect=RuntimeError("boom"),
    ):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], _credentials(sandbox)
        )
    assert result["errors"] == {"base": "unknown"}
    assert "Unexpected error while talking to Flatpeak" in caplog.text

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _credentials(sandbox)
    )
    assert result["step_id"] == "location"


async def test_location_lists_every_page(
    hass: HomeAssistant, sandbox: SandboxServer
) -> None:
    """Every location of the account is offered (more than one page), and new."""
    account = sandbox.sandbox.demo_account
    assert account is not None
    added = {
        sandbox.sandbox.add_location(account.account_id, address_line1=f"{n} Road")
        for n in range(35)
    }
    result = await _start(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _credentials(sandbox)
    )
    options = _select_options(result, CONF_LOCATION_ID)
    values = [option["value"] for option in options]
    assert set(values) == {*added, sandbox.sandbox.demo_location_id, LOCATION_NEW}
    assert values[-1] == LOCATION_NEW
    assert {"value": sandbox.sandbox.demo_location_id, "label": LOCATION_TITLE} in (
        options
    )


async def test_location_already_configured(
    hass: HomeAssistant, sandbox: SandboxServer
) -> None:
    """A location that has an entry already aborts."""
    MockConfigEntry(
        domain=DOMAIN,
        unique_id=sandbox.sandbox.demo_location_id,
        data=entry_data(sandbox),
    ).add_to_hass(hass)
    flow_id = await _to_location(hass, sandbox)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_LOCATION_ID: sandbox.sandbox.demo_location_id}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_location_without_address_is_titled_by_id(
    hass: HomeAssistant, sandbox: SandboxServer
) -> None:
    """A location without address line and city is named by its id."""
    account = sandbox.sandbox.demo_account
    assert account is not None
    bare = sandbox.sandbox.add_location(account.account_id, address_line1="", city="")
    flow_id = await _to_location(hass, sandbox)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_LOCATION_ID: bare}
    )
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_IMPORT_ENTITY: GRID_IMPORT}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == bare
    assert result["data"][CONF_EXPORT_ENTITY] is None


async def test_create_location(hass: HomeAssistant, sandbox: SandboxServer) -> None:
    """A new location is created from the address and becomes the entry."""
    hass.config.country = "GB"
    flow_id = await _to_create_location(hass, sandbox)
    result = await hass.config_entries.flow.async_configure(flow_id, ADDRESS)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "grid"

    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_IMPORT_ENTITY: GRID_IMPORT}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "10 Downing Street, London"
    created = result["data"][CONF_LOCATION_ID]
    location = sandbox.sandbox.locations[created]
    assert location.postal_address["country_code"] == "GB"
    assert location.postal_address["post_code"] == "SW1A 2AA"
    assert result["result"].unique_id == created


@pytest.mark.parametrize(
    ("inject", "address", "errors"),
    [
        pytest.param(
            None,
            {CONF_COUNTRY_CODE: "XX"},
            {CONF_COUNTRY_CODE: "invalid_country_code"},
            id="unknown_country",
        ),
        pytest.param(
            None,
            {CONF_COUNTRY_CODE: "GBR"},
            {CONF_COUNTRY_CODE: "invalid_country_code"},
            id="alpha3",
        ),
        pytest.param(
            None, {CONF_COUNTRY_CODE: "JP"}, {"base": "unknown_location"}, id="422"
        ),
        pytest.param(
            lambda f: f.fail_next(status=409, path="/locations"),
            {},
            {"base": "unknown_location"},
            id="409",
        ),
        pytest.param(
            lambda f: f.fail_next(path="/locations"),
            {},
            {"base": "cannot_connect"},
            id="server_error",
        ),
        pytest.param(
            lambda f: f.fail_next(status=404, path="/locations"),
            {},
            {"base": "unknown"},
            id="unexpected_status",
        ),
    ],
)
async def test_create_location_errors_then_recover(
    hass: HomeAssistant,
    sandbox: SandboxServer,
    inject: Inject | None,
    address: dict[str, str],
    errors: dict[str, str],
) -> None:
    """A refused or failed creation shows an error; a good retry creates one."""
    flow_id = await _to_create_location(hass, sandbox)
    before = set(sandbox.sandbox.locations)
    if inject is not None:
        inject(sandbox.sandbox.faults)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {**ADDRESS, **address}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "create_location"
    assert result["errors"] == errors
    assert set(sandbox.sandbox.locations) == before

    result = await hass.config_entries.flow.async_configure(flow_id, ADDRESS)
    assert result["step_id"] == "grid"
    assert len(set(sandbox.sandbox.locations) - before) == 1


async def test_create_location_retry_after_ambiguous_failure(
    hass: HomeAssistant, sandbox: SandboxServer
) -> None:
    """A location created although the answer was lost is found, not made twice."""
    flow_id = await _to_create_location(hass, sandbox)
    before = set(sandbox.sandbox.locations)
    sandbox.sandbox.faults.garble_next(path="/locations")
    result = await hass.config_entries.flow.async_configure(flow_id, ADDRESS)
    assert result["errors"] == {"base": "cannot_connect"}
    assert len(set(sandbox.sandbox.locations) - before) == 1

    # The lookup of the first try's location fails first: still no duplicate.
    sandbox.sandbox.faults.fail_next(path="/locations")
    result = await hass.config_entries.flow.async_configure(flow_id, ADDRESS)
    assert result["errors"] == {"base": "cannot_connect"}

    result = await hass.config_entries.flow.async_configure(flow_id, ADDRESS)
    assert result["step_id"] == "grid"
    (created,) = set(sandbox.sandbox.locations) - before
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_IMPORT_ENTITY: GRID_IMPORT}
    )
    await hass.async_block_till_done()
    assert result["data"][CONF_LOCATION_ID] == created


async def test_create_location_retry_after_clean_failure(
    hass: HomeAssistant, sandbox: SandboxServer
) -> None:
    """When the first try created nothing, the retry creates the location."""
    flow_id = await _to_create_location(hass, sandbox)
    before = set(sandbox.sandbox.locations)
    sandbox.sandbox.faults.fail_next(path="/locations")
    result = await hass.config_entries.flow.async_configure(flow_id, ADDRESS)
    assert result["errors"] == {"base": "cannot_connect"}
    result = await hass.config_entries.flow.async_configure(flow_id, ADDRESS)
    assert result["step_id"] == "grid"
    assert len(set(sandbox.sandbox.locations) - before) == 1


@pytest.mark.parametrize(
    ("grid", "errors"),
    [
        (
            {CONF_IMPORT_ENTITY: POWER_SENSOR},
            {CONF_IMPORT_ENTITY: "not_energy_sensor"},
        ),
        (
            {CONF_IMPORT_ENTITY: ENERGY_MEASUREMENT},
            {CONF_IMPORT_ENTITY: "not_energy_sensor"},
        ),
        (
            {CONF_IMPORT_ENTITY: "sensor.does_not_exist"},
            {CONF_IMPORT_ENTITY: "entity_not_found"},
        ),
        (
            {CONF_IMPORT_ENTITY: GRID_IMPORT, CONF_EXPORT_ENTITY: "sensor.gone"},
            {CONF_EXPORT_ENTITY: "entity_not_found"},
        ),
        (
            {CONF_IMPORT_ENTITY: GRID_IMPORT, CONF_EXPORT_ENTITY: POWER_SENSOR},
            {CONF_EXPORT_ENTITY: "not_energy_sensor"},
        ),
        (
            {CONF_IMPORT_ENTITY: GRID_IMPORT, CONF_EXPORT_ENTITY: GRID_IMPORT},
            {CONF_EXPORT_ENTITY: "same_entity"},
        ),
    ],
)
async def test_grid_errors_then_recover(
    hass: HomeAssistant,
    sandbox: SandboxServer,
    grid: dict[str, str],
    errors: dict[str, str],
) -> None:
    """Only cumulative energy sensors are accepted as grid meters."""
    flow_id = await _to_location(hass, sandbox)
    await hass.config_entries.flow.async_configure(
        flow_id, {CONF_LOCATION_ID: sandbox.sandbox.demo_location_id}
    )
    result = await hass.config_entries.flow.async_configure(flow_id, grid)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "grid"
    assert result["errors"] == errors

    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_IMPORT_ENTITY: GRID_IMPORT, CONF_EXPORT_ENTITY: GRID_EXPORT}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY


# Options ------------------------------------------------------------------


async def test_options_take_effect_without_restart(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """New options reload the entry, which then runs with them."""
    entry = init_integration
    before = entry.runtime_data
    assert before.interval_minutes == 30

    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "init"
    suggested = {
        str(key): key.description["suggested_value"] for key in _schema(result)
    }
    assert suggested == {
        CONF_INTERVAL_MINUTES: "30",
        CONF_IMPORT_ENTITY: GRID_IMPORT,
        CONF_EXPORT_ENTITY: GRID_EXPORT,
    }

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_INTERVAL_MINUTES: "15", CONF_IMPORT_ENTITY: POWER_SENSOR},
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_IMPORT_ENTITY: "not_energy_sensor"}

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_INTERVAL_MINUTES: 15, CONF_IMPORT_ENTITY: EV_ENERGY}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {
        CONF_INTERVAL_MINUTES: 15,
        CONF_IMPORT_ENTITY: EV_ENERGY,
        CONF_EXPORT_ENTITY: None,
    }
    assert entry.state is ConfigEntryState.LOADED
    after = entry.runtime_data
    assert after is not before
    assert after.interval_minutes == 15
    assert _stream_entities(entry)["grid_import"] == EV_ENERGY
    assert "grid_export" not in _stream_entities(entry)

    # The form now starts from the options, not from the setup data.
    result = await hass.config_entries.options.async_init(entry.entry_id)
    suggested = {
        str(key): (key.description or {}).get("suggested_value")
        for key in _schema(result)
    }
    assert suggested == {
        CONF_INTERVAL_MINUTES: "15",
        CONF_IMPORT_ENTITY: EV_ENERGY,
        CONF_EXPORT_ENTITY: None,
    }


async def test_options_refuse_unknown_interval(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Only 5, 15, 30 and 60 minutes are offered."""
    result = await hass.config_entries.options.async_init(init_integration.entry_id)
    with pytest.raises(InvalidData):
        await hass.config_entries.options.async_configure(
            result["flow_id"],
            {CONF_INTERVAL_MINUTES: 10, CONF_IMPORT_ENTITY: GRID_IMPORT},
        )


# Reauth --------------------------------------------------------------------


async def test_reauth(
    hass: HomeAssistant, sandbox: SandboxServer, init_integration: MockConfigEntry
) -> None:
    """A new key of the same account is stored and the entry reloads."""
    entry = init_integration
    account = sandbox.sandbox.demo_account
    assert account is not None
    new_account = sandbox.sandbox.add_account(account.account_id, "sk_test_rotated")
    before = entry.runtime_data

    result = await entry.start_reauth_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reauth_confirm"
    assert result["description_placeholders"] is not None
    assert result["description_placeholders"][CONF_ACCOUNT_ID] == account.account_id

    reads = _location_reads(sandbox)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: new_account.api_key}
    )
    await hass.async_block_till_done()
    # The flow's own check, then exactly one reload.
    assert _location_reads(sandbox) == reads + 2
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert entry.data == entry_data(sandbox, **{CONF_API_KEY: "sk_test_rotated"})
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data is not before


@pytest.mark.parametrize(
    ("inject", "key", "error"),
    [
        pytest.param(None, "sk_test_wrong", "invalid_auth", id="wrong_key"),
        *[
            pytest.param(p.values[0], None, "cannot_connect", id=p.id, marks=p.marks)
            for p in CONNECT_FAULTS
        ],
        pytest.param(
            lambda f: f.fail_next(status=400), None, "unknown", id="unexpected"
        ),
    ],
)
async def test_reauth_errors_then_recover(
    hass: HomeAssistant,
    sandbox: SandboxServer,
    init_integration: MockConfigEntry,
    inject: Inject | None,
    key: str | None,
    error: str,
) -> None:
    """A failed check keeps the form open; the right key then succeeds."""
    entry = init_integration
    account = sandbox.sandbox.demo_account
    assert account is not None
    result = await entry.start_reauth_flow(hass)
    if inject is not None:
        inject(sandbox.sandbox.faults)
    typed = key or account.api_key
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: typed}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": error}
    # The key the user typed stays in the form.
    (key_field,) = _schema(result)
    assert key_field.description == {"suggested_value": typed}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: account.api_key}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert entry.state is ConfigEntryState.LOADED


async def test_reauth_key_cannot_see_location(
    hass: HomeAssistant, sandbox: SandboxServer
) -> None:
    """A key that signs in but cannot see the entry's location aborts."""
    other = sandbox.sandbox.add_account()
    foreign_location = sandbox.sandbox.add_location(other.account_id)
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=foreign_location,
        data=entry_data(sandbox, **{CONF_LOCATION_ID: foreign_location}),
    )
    entry.add_to_hass(hass)
    account = sandbox.sandbox.demo_account
    assert account is not None
    result = await entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: account.api_key}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_account"
    assert entry.data[CONF_API_KEY] == account.api_key


async def test_reauth_unexpected_error(
    hass: HomeAssistant, sandbox: SandboxServer, init_integration: MockConfigEntry
) -> None:
    """An unexpected failure of the check shows unknown, then recovers."""
    account = sandbox.sandbox.demo_account
    assert account is not None
    result = await init_integration.start_reauth_flow(hass)
    with patch(
        "custom_components.flatpeak.config_flow.FlatpeakClient.get_location",
        side_effect=RuntimeError("boom"),
    ):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_API_KEY: account.api_key}
        )
    assert result["errors"] == {"base": "unknown"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: account.api_key}
    )
    assert result["reason"] == "reauth_successful"


# Reconfigure ---------------------------------------------------------------


async def test_reconfigure(
    hass: HomeAssistant, sandbox: SandboxServer, init_integration: MockConfigEntry
) -> None:
    """A new key and API address are stored and the entry reloads with them."""
    entry = init_integration
    account = sandbox.sandbox.demo_account
    assert account is not None
    sandbox.sandbox.add_account(account.account_id, "sk_test_second")
    before = entry.runtime_data

    result = await entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"
    suggested = {
        str(key): (key.description or {}).get("suggested_value")
        for key in _schema(result)
    }
    assert suggested == {CONF_API_KEY: None, "advanced": None}
    advanced = next(v for k, v in _schema(result).items() if k == "advanced")
    (url_key,) = dict(advanced.schema.schema)
    assert url_key.description == {"suggested_value": sandbox.url}

    reads = _location_reads(sandbox)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_API_KEY: "sk_test_second", CONF_API_URL: f"{sandbox.url}/"},
    )
    await hass.async_block_till_done()
    assert _location_reads(sandbox) == reads + 2
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data == entry_data(sandbox, **{CONF_API_KEY: "sk_test_second"})
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data is not before


async def test_reconfigure_unchanged_still_reloads(
    hass: HomeAssistant, sandbox: SandboxServer, init_integration: MockConfigEntry
) -> None:
    """Confirming the same settings reloads the entry once."""
    entry = init_integration
    before = entry.runtime_data
    result = await entry.start_reconfigure_flow(hass)
    reads = _location_reads(sandbox)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_API_KEY: entry.data[CONF_API_KEY], CONF_API_URL: sandbox.url},
    )
    await hass.async_block_till_done()
    assert _location_reads(sandbox) == reads + 2
    assert result["reason"] == "reconfigure_successful"
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data is not before


@pytest.mark.parametrize(
    ("inject", "change", "error"),
    [
        pytest.param(None, {CONF_API_KEY: "sk_test_wrong"}, "invalid_auth", id="key"),
        pytest.param(
            None, {CONF_API_URL: "http://127.0.0.1:9"}, "cannot_connect", id="url"
        ),
        *[
            pytest.param(p.values[0], {}, "cannot_connect", id=p.id, marks=p.marks)
            for p in CONNECT_FAULTS
        ],
        pytest.param(lambda f: f.fail_next(status=400), {}, "unknown", id="other"),
    ],
)
async def test_reconfigure_errors_then_recover(
    hass: HomeAssistant,
    sandbox: SandboxServer,
    init_integration: MockConfigEntry,
    inject: Inject | None,
    change: dict[str, str],
    error: str,
) -> None:
    """A failed check keeps the form open; good settings then succeed."""
    entry = init_integration
    good = {CONF_API_KEY: entry.data[CONF_API_KEY], CONF_API_URL: sandbox.url}
    result = await entry.start_reconfigure_flow(hass)
    if inject is not None:
        inject(sandbox.sandbox.faults)
    typed = {**good, **change}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], typed)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": error}
    # What the user typed stays in the form: the key and the address.
    suggested = {
        str(key): (key.description or {}).get("suggested_value")
        for key in _schema(result)
    }
    assert suggested[CONF_API_KEY] == typed[CONF_API_KEY]
    advanced = next(v for k, v in _schema(result).items() if k == "advanced")
    (url_key,) = dict(advanced.schema.schema)
    assert url_key.description == {"suggested_value": typed[CONF_API_URL]}

    result = await hass.config_entries.flow.async_configure(result["flow_id"], good)
    await hass.async_block_till_done()
    assert result["reason"] == "reconfigure_successful"
    assert entry.state is ConfigEntryState.LOADED


async def test_reconfigure_other_server_without_location(
    hass: HomeAssistant, sandbox: SandboxServer, init_integration: MockConfigEntry
) -> None:
    """An API address where the account cannot see the location aborts."""
    entry = init_integration
    sandbox.sandbox.faults.fail_next(status=404, path="/locations/")
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_API_KEY: entry.data[CONF_API_KEY], CONF_API_URL: sandbox.url},
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_account"


# Subentries ----------------------------------------------------------------

SUBENTRY_INPUT = {
    SUBENTRY_SOLAR: {CONF_NAME: "Garage roof", CONF_ENERGY_ENTITY: EV_ENERGY},
    SUBENTRY_EV_CHARGER: {
        CONF_NAME: "Driveway charger",
        CONF_ENERGY_ENTITY: EV_ENERGY,
        CONF_SESSION_ENTITY: EV_PLUGGED,
    },
    SUBENTRY_APPLIANCE: {CONF_NAME: "Heat pump", CONF_ENERGY_ENTITY: HEAT_PUMP_ENERGY},
}
ALL_TYPES = [SUBENTRY_SOLAR, SUBENTRY_EV_CHARGER, SUBENTRY_APPLIANCE]


async def _start_subentry(
    hass: HomeAssistant, entry: MockConfigEntry, subentry_type: str
) -> SubentryFlowResult:
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, subentry_type), context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    return result


def _devices_with_reference(sandbox: SandboxServer, reference_id: str) -> list[str]:
    return [
        device.id
        for device in sandbox.sandbox.devices.values()
        if device.reference_id == reference_id
    ]


@pytest.mark.parametrize("subentry_type", ALL_TYPES)
async def test_subentry_create(
    hass: HomeAssistant,
    sandbox: SandboxServer,
    init_integration: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    subentry_type: str,
) -> None:
    """Adding a device creates its Flatpeak device once and an HA device."""
    entry = init_integration
    result = await _start_subentry(hass, entry, subentry_type)
    fields = {str(key) for key in _schema(result)}
    expected = {CONF_NAME, CONF_ENERGY_ENTITY}
    if subentry_type == SUBENTRY_EV_CHARGER:
        expected.add(CONF_SESSION_ENTITY)
    assert fields == expected

    user_input = SUBENTRY_INPUT[subentry_type]
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], user_input
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == user_input[CONF_NAME]
    data = result["data"]
    assert data[CONF_DEVICE_ID].startswith("dev_")
    assert data[CONF_REFERENCE_ID].startswith("ha_")
    assert {k: v for k, v in data.items() if k in user_input} == user_input
    assert _devices_with_reference(sandbox, data[CONF_REFERENCE_ID]) == [
        data[CONF_DEVICE_ID]
    ]

    (subentry,) = (
        s
        for s in entry.subentries.values()
        if s.subentry_type == subentry_type and s.title == user_input[CONF_NAME]
    )
    assert subentry.unique_id == data[CONF_DEVICE_ID]
    assert entry.state is ConfigEntryState.LOADED
    device = entry_device(hass, entry, data[CONF_DEVICE_ID])
    assert device is not None
    assert device.name == user_input[CONF_NAME]
    assert device_owners(device) == {entry.entry_id: {subentry.subentry_id}}
    location_device = entry_device(hass, entry, entry.data[CONF_LOCATION_ID])
    assert location_device is not None
    assert device.via_device_id == location_device.id


async def test_ev_charger_with_session_id_sensor_or_none(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """The session source may be a sensor, or left out."""
    entry = init_integration
    result = await _start_subentry(hass, entry, SUBENTRY_EV_CHARGER)
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {
            CONF_NAME: "Charger",
            CONF_ENERGY_ENTITY: EV_ENERGY,
            CONF_SESSION_ENTITY: EV_SESSION_ID,
        },
    )
    await hass.async_block_till_done()
    assert result["data"][CONF_SESSION_ENTITY] == EV_SESSION_ID

    result = await _start_subentry(hass, entry, SUBENTRY_EV_CHARGER)
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {CONF_NAME: "Charger 2", CONF_ENERGY_ENTITY: HEAT_PUMP_ENERGY},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_SESSION_ENTITY] is None


@pytest.mark.parametrize("subentry_type", ALL_TYPES)
@pytest.mark.parametrize(
    ("inject", "error"),
    [
        pytest.param(
            lambda f: f.fail_next(path="/devices"), "cannot_connect", id="server_error"
        ),
        pytest.param(
            lambda f: f.rate_limit_next(path="/devices"),
            "cannot_connect",
            id="rate_limited",
        ),
        pytest.param(
            lambda f: f.stall_next(seconds=0.05, path="/devices"),
            "cannot_connect",
            id="timeout",
            marks=ticking_clock(),
        ),
        pytest.param(
            lambda f: f.fail_next(2, status=403, path="/devices"),
            "invalid_auth",
            id="auth",
        ),
        pytest.param(
            lambda f: f.fail_next(status=400, path="/devices"), "unknown", id="other"
        ),
    ],
)
async def test_subentry_device_creation_fails_then_recovers(
    hass: HomeAssistant,
    sandbox: SandboxServer,
    init_integration: MockConfigEntry,
    subentry_type: str,
    inject: Inject,
    error: str,
) -> None:
    """A failed creation shows an error and creates nothing; the retry works."""
    entry = init_integration
    subentries_before = set(entry.subentries)
    devices_before = set(sandbox.sandbox.devices)
    result = await _start_subentry(hass, entry, subentry_type)
    inject(sandbox.sandbox.faults)
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], SUBENTRY_INPUT[subentry_type]
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": error}
    assert set(entry.subentries) == subentries_before
    assert set(sandbox.sandbox.devices) == devices_before

    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], SUBENTRY_INPUT[subentry_type]
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert len(set(sandbox.sandbox.devices) - devices_before) == 1
    assert len(set(entry.subentries) - subentries_before) == 1


@pytest.mark.parametrize("subentry_type", ALL_TYPES)
async def test_subentry_retry_after_ambiguous_failure(
    hass: HomeAssistant,
    sandbox: SandboxServer,
    init_integration: MockConfigEntry,
    subentry_type: str,
) -> None:
    """A device created although the answer was lost is reused, not made twice."""
    entry = init_integration
    devices_before = set(sandbox.sandbox.devices)
    result = await _start_subentry(hass, entry, subentry_type)
    sandbox.sandbox.faults.garble_next(path="/devices")
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], SUBENTRY_INPUT[subentry_type]
    )
    assert result["errors"] == {"base": "cannot_connect"}
    (created,) = set(sandbox.sandbox.devices) - devices_before

    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], SUBENTRY_INPUT[subentry_type]
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_DEVICE_ID] == created
    assert set(sandbox.sandbox.devices) - devices_before == {created}


async def test_subentry_retry_after_clean_failure(
    hass: HomeAssistant, sandbox: SandboxServer, init_integration: MockConfigEntry
) -> None:
    """When the lookup finds nothing from the first try, the device is created."""
    entry = init_integration
    devices_before = set(sandbox.sandbox.devices)
    result = await _start_subentry(hass, entry, SUBENTRY_APPLIANCE)
    sandbox.sandbox.faults.fail_next(path="/devices")
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], SUBENTRY_INPUT[SUBENTRY_APPLIANCE]
    )
    assert result["errors"] == {"base": "cannot_connect"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], SUBENTRY_INPUT[SUBENTRY_APPLIANCE]
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert len(set(sandbox.sandbox.devices) - devices_before) == 1
    lookups = [
        r
        for r in sandbox.sandbox.requests
        if r.method == "GET" and r.path == "/devices"
    ]
    assert lookups[-1].query["reference_id"] == result["data"][CONF_REFERENCE_ID]


@pytest.mark.parametrize("subentry_type", ALL_TYPES)
@pytest.mark.parametrize(
    ("change", "errors"),
    [
        (
            {CONF_ENERGY_ENTITY: POWER_SENSOR},
            {CONF_ENERGY_ENTITY: "not_energy_sensor"},
        ),
        (
            {CONF_ENERGY_ENTITY: "sensor.does_not_exist"},
            {CONF_ENERGY_ENTITY: "entity_not_found"},
        ),
        # The fixture's solar subentry already uses this sensor.
        ({CONF_ENERGY_ENTITY: SOLAR_ENERGY}, {CONF_ENERGY_ENTITY: "entity_in_use"}),
    ],
)
async def test_subentry_source_errors_then_recover(
    hass: HomeAssistant,
    sandbox: SandboxServer,
    init_integration: MockConfigEntry,
    subentry_type: str,
    change: dict[str, str],
    errors: dict[str, str],
) -> None:
    """Sources are checked before Flatpeak is asked for a device."""
    entry = init_integration
    devices_before = set(sandbox.sandbox.devices)
    result = await _start_subentry(hass, entry, subentry_type)
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {**SUBENTRY_INPUT[subentry_type], **change}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    assert set(sandbox.sandbox.devices) == devices_before

    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], SUBENTRY_INPUT[subentry_type]
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_ev_charger_session_entity_must_exist(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """A session source that does not exist is refused."""
    result = await _start_subentry(hass, init_integration, SUBENTRY_EV_CHARGER)
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {
            **SUBENTRY_INPUT[SUBENTRY_EV_CHARGER],
            CONF_SESSION_ENTITY: "binary_sensor.nope",
        },
    )
    assert result["errors"] == {CONF_SESSION_ENTITY: "entity_not_found"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], SUBENTRY_INPUT[SUBENTRY_EV_CHARGER]
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.parametrize("subentry_type", ALL_TYPES)
async def test_subentry_aborts_when_entry_not_loaded(
    hass: HomeAssistant,
    sandbox: SandboxServer,
    mock_config_entry: MockConfigEntry,
    subentry_type: str,
) -> None:
    """Devices cannot be added or changed while the location is not loaded."""
    sandbox.sandbox.faults.fail_next()
    mock_config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert mock_config_entry.state is ConfigEntryState.SETUP_RETRY

    result = await hass.config_entries.subentries.async_init(
        (mock_config_entry.entry_id, subentry_type), context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "entry_not_loaded"

    subentry_id = next(iter(mock_config_entry.subentries))
    result = await hass.config_entries.subentries.async_init(
        (mock_config_entry.entry_id, subentry_type),
        context={"source": SOURCE_RECONFIGURE, "subentry_id": subentry_id},
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "entry_not_loaded"


async def _add_subentry(
    hass: HomeAssistant, entry: MockConfigEntry, subentry_type: str
) -> str:
    result = await _start_subentry(hass, entry, subentry_type)
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], SUBENTRY_INPUT[subentry_type]
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    (subentry_id,) = (
        s.subentry_id
        for s in entry.subentries.values()
        if s.unique_id == result["data"][CONF_DEVICE_ID]
    )
    return subentry_id


@pytest.mark.parametrize("subentry_type", ALL_TYPES)
async def test_subentry_reconfigure(
    hass: HomeAssistant,
    sandbox: SandboxServer,
    init_integration: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    subentry_type: str,
) -> None:
    """Name and sources change; the Flatpeak device stays the same."""
    entry = init_integration
    subentry_id = await _add_subentry(hass, entry, subentry_type)
    original = dict(entry.subentries[subentry_id].data)
    devices_before = set(sandbox.sandbox.devices)

    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, subentry_type),
        context={"source": SOURCE_RECONFIGURE, "subentry_id": subentry_id},
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"
    suggested = {
        str(key): (key.description or {}).get("suggested_value")
        for key in _schema(result)
    }
    assert suggested[CONF_NAME] == SUBENTRY_INPUT[subentry_type][CONF_NAME]

    # Errors first: a non-energy sensor, then one another device uses.
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_NAME: "Renamed", CONF_ENERGY_ENTITY: POWER_SENSOR}
    )
    assert result["errors"] == {CONF_ENERGY_ENTITY: "not_energy_sensor"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_NAME: "Renamed", CONF_ENERGY_ENTITY: SOLAR_ENERGY}
    )
    assert result["errors"] == {CONF_ENERGY_ENTITY: "entity_in_use"}

    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_NAME: "Renamed", CONF_ENERGY_ENTITY: GRID_EXPORT}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"

    subentry = entry.subentries[subentry_id]
    assert subentry.title == "Renamed"
    assert subentry.data[CONF_NAME] == "Renamed"
    assert subentry.data[CONF_ENERGY_ENTITY] == GRID_EXPORT
    assert subentry.data[CONF_DEVICE_ID] == original[CONF_DEVICE_ID]
    assert subentry.data[CONF_REFERENCE_ID] == original[CONF_REFERENCE_ID]
    if subentry_type == SUBENTRY_EV_CHARGER:
        assert subentry.data[CONF_SESSION_ENTITY] is None
    assert set(sandbox.sandbox.devices) == devices_before
    assert entry.state is ConfigEntryState.LOADED
    device = entry_device(hass, entry, original[CONF_DEVICE_ID])
    assert device is not None
    assert device.name == "Renamed"


async def test_subentry_reconfigure_keeps_own_sensor(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """A device may keep its own energy sensor when it is reconfigured."""
    entry = init_integration
    subentry_id = next(iter(entry.subentries))
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_SOLAR),
        context={"source": SOURCE_RECONFIGURE, "subentry_id": subentry_id},
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_NAME: "Roof", CONF_ENERGY_ENTITY: SOLAR_ENERGY}
    )
    assert result["reason"] == "reconfigure_successful"


@pytest.mark.parametrize("subentry_type", ALL_TYPES)
async def test_subentry_removal_removes_device(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    subentry_type: str,
) -> None:
    """Removing a device's subentry removes its HA device; nothing reloads."""
    entry = init_integration
    subentry_id = await _add_subentry(hass, entry, subentry_type)
    device_id = entry.subentries[subentry_id].data[CONF_DEVICE_ID]
    assert entry_device(hass, entry, device_id) is not None
    before = entry.runtime_data

    assert hass.config_entries.async_remove_subentry(entry, subentry_id)
    await hass.async_block_till_done()
    assert entry_device(hass, entry, device_id) is None
    assert subentry_id not in entry.subentries
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data is before
    assert subentry_id not in _stream_entities(entry)
    # The location device and the other devices stay.
    assert entry_device(hass, entry, entry.data[CONF_LOCATION_ID]) is not None
