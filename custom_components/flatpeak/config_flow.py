"""Config flow for Flatpeak: sign in, pick the location, grid meters, devices."""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import uuid4

from homeassistant.components.sensor import (
    ATTR_STATE_CLASS,
    SensorDeviceClass,
    SensorStateClass,
)
from homeassistant.config_entries import (
    ConfigEntry,
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentryFlow,
    OptionsFlow,
    SubentryFlowResult,
)
from homeassistant.const import ATTR_DEVICE_CLASS, Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.data_entry_flow import section
from homeassistant.generated.countries import COUNTRIES
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    EntitySelector,
    EntitySelectorConfig,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)

from .api import (
    DEFAULT_API_URL,
    Device,
    FlatpeakApiError,
    FlatpeakAuthError,
    FlatpeakClient,
    FlatpeakError,
    FlatpeakNotFoundError,
    Location,
    PostalAddress,
    TariffDirection,
)
from .compat import vol
from .const import (
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
    INTERVAL_CHOICES,
    LOCATION_NEW,
    LOGGER,
    SUBENTRY_APPLIANCE,
    SUBENTRY_CHEAPEST_WINDOW,
    SUBENTRY_EV_CHARGER,
    SUBENTRY_SOLAR,
)
from .helpers import form_error
from .statistics import statistic_name
from .streams import entry_grid_entities, entry_interval_minutes
from .window_flow import CheapestWindowSubentryFlow

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from .runtime import FlatpeakConfigEntry

# Flatpeak refuses an address it cannot place (e.g. 422 timezone_not_found).
_ADDRESS_REFUSED_STATUSES = frozenset({400, 409, 422})
_ENERGY_STATE_CLASSES = frozenset(
    {SensorStateClass.TOTAL, SensorStateClass.TOTAL_INCREASING}
)
_DASHBOARD_PLACEHOLDERS = {"dashboard_url": "https://dashboard.flatpeak.com"}
# The API address is for the local sandbox only: out of an ordinary user's way.
SECTION_ADVANCED = "advanced"

_TEXT = TextSelector()
_PASSWORD = TextSelector(
    TextSelectorConfig(type=TextSelectorType.PASSWORD, autocomplete="current-password")
)
_URL = TextSelector(TextSelectorConfig(type=TextSelectorType.URL))
_ENERGY_SENSOR = EntitySelector(
    EntitySelectorConfig(domain=Platform.SENSOR, device_class=SensorDeviceClass.ENERGY)
)
_SESSION_SOURCE = EntitySelector(
    EntitySelectorConfig(domain=[Platform.BINARY_SENSOR, Platform.SENSOR])
)
# Accept 15 as well as "15": the select selector only takes strings.
_INTERVAL = vol.All(
    vol.Coerce(str),
    SelectSelector(
        SelectSelectorConfig(
            options=[str(minutes) for minutes in INTERVAL_CHOICES],
            mode=SelectSelectorMode.DROPDOWN,
            translation_key=CONF_INTERVAL_MINUTES,
        )
    ),
)


@contextmanager
def _flatpeak_errors(errors: dict[str, str]) -> Iterator[None]:
    """Turn a failed Flatpeak call in the block into a form error."""
    try:
        yield
    except FlatpeakError as err:
        errors["base"] = form_error(err)
        if errors["base"] == "unknown":
            LOGGER.warning("Flatpeak refused the request: %s", err)
    except Exception:  # noqa: BLE001 - any other failure is shown as "unknown"
        LOGGER.exception("Unexpected error while talking to Flatpeak")
        errors["base"] = "unknown"


def _address_section() -> dict[vol.Marker, Any]:
    """Return the collapsed "Advanced" section holding the API address."""
    return {
        vol.Optional(SECTION_ADVANCED): section(
            vol.Schema({vol.Required(CONF_API_URL, default=DEFAULT_API_URL): _URL}),
            {"collapsed": True},
        )
    }


def _with_address(schema: vol.Schema) -> vol.Schema:
    """Accept `api_url` at the top level too (scripts and tests send it there)."""
    return vol.Schema(schema.schema, extra=vol.ALLOW_EXTRA)


def _api_url(user_input: Mapping[str, Any], default: str) -> str:
    """Return the API address the user gave (section or top level), else `default`."""
    advanced = user_input.get(SECTION_ADVANCED) or {}
    url = user_input.get(CONF_API_URL) or advanced.get(CONF_API_URL) or default
    return str(url).strip().rstrip("/")


def _location_title(location: Location) -> str:
    """Name a location by its address line and city, else by its id."""
    address = location.postal_address
    parts = (address.address_line1, address.city) if address else ()
    return ", ".join(part for part in parts if part) or location.id


def _is_energy_sensor(hass: HomeAssistant, entity_id: str) -> bool:
    """Tell whether the entity is a cumulative energy sensor (energy dashboard)."""
    state = hass.states.get(entity_id)
    return (
        state is not None
        and state.attributes.get(ATTR_DEVICE_CLASS) == SensorDeviceClass.ENERGY
        and state.attributes.get(ATTR_STATE_CLASS) in _ENERGY_STATE_CLASSES
    )


def _grid_schema() -> vol.Schema:
    return vol.Schema(
        {
            vol.Required(CONF_IMPORT_ENTITY): _ENERGY_SENSOR,
            vol.Optional(CONF_EXPORT_ENTITY): _ENERGY_SENSOR,
        }
    )


def _validate_grid(
    hass: HomeAssistant, user_input: Mapping[str, Any]
) -> dict[str, str]:
    """Check the grid import/export sensors the user picked."""
    errors: dict[str, str] = {}
    import_entity = user_input[CONF_IMPORT_ENTITY]
    export_entity = user_input.get(CONF_EXPORT_ENTITY)
    if error := _energy_sensor_error(hass, import_entity):
        errors[CONF_IMPORT_ENTITY] = error
    if export_entity:
        if error := _energy_sensor_error(hass, export_entity):
            errors[CONF_EXPORT_ENTITY] = error
        elif export_entity == import_entity:
            errors[CONF_EXPORT_ENTITY] = "same_entity"
    return errors


def _energy_sensor_error(hass: HomeAssistant, entity_id: str) -> str | None:
    """Say what keeps `entity_id` from being an energy meter, if anything."""
    if hass.states.get(entity_id) is None:
        return "entity_not_found"
    if not _is_energy_sensor(hass, entity_id):
        return "not_energy_sensor"
    return None


class FlatpeakConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up one Flatpeak location as a config entry."""

    VERSION = 1
    MINOR_VERSION = 1

    def __init__(self) -> None:
        """Start with nothing known about the account."""
        self._client: FlatpeakClient | None = None
        self._account_id = ""
        self._api_key = ""
        self._api_url = DEFAULT_API_URL
        self._locations: dict[str, Location] = {}
        self._location: Location | None = None
        # Stable for this flow: a retry after an ambiguous failure finds the
        # location the first try created instead of creating a second one.
        self._location_reference_id = f"ha_{uuid4().hex}"
        self._location_create_tried = False

    @staticmethod
    @callback
    def async_get_options_flow(
        config_entry: ConfigEntry,  # noqa: ARG004 - Home Assistant's signature
    ) -> FlatpeakOptionsFlow:
        """Return the options flow (interval and grid sensors)."""
        return FlatpeakOptionsFlow()

    @classmethod
    @callback
    def async_get_supported_subentry_types(
        cls,
        config_entry: ConfigEntry,  # noqa: ARG003 - Home Assistant's signature
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """Return the device types a location can hold, and cheapest windows."""
        return {
            SUBENTRY_SOLAR: SolarSubentryFlow,
            SUBENTRY_EV_CHARGER: EvChargerSubentryFlow,
            SUBENTRY_APPLIANCE: ApplianceSubentryFlow,
            SUBENTRY_CHEAPEST_WINDOW: CheapestWindowSubentryFlow,
        }

    def _new_client(self, data: Mapping[str, Any]) -> FlatpeakClient:
        return FlatpeakClient(
            async_get_clientsession(self.hass),
            data[CONF_ACCOUNT_ID],
            data[CONF_API_KEY],
            base_url=data[CONF_API_URL],
        )

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the account id and API key, and check them with Flatpeak."""
        errors: dict[str, str] = {}
        if user_input is not None:
            self._account_id = user_input[CONF_ACCOUNT_ID].strip()
            self._api_key = user_input[CONF_API_KEY].strip()
            self._api_url = _api_url(user_input, DEFAULT_API_URL)
            client = self._new_client(
                {
                    CONF_ACCOUNT_ID: self._account_id,
                    CONF_API_KEY: self._api_key,
                    CONF_API_URL: self._api_url,
                }
            )
            with _flatpeak_errors(errors):
                await client.login()
                locations = await client.list_locations()
                self._locations = {location.id: location for location in locations}
                self._client = client
            if not errors:
                return await self.async_step_location()

        # What the user typed stays in the form after an error.
        return self.async_show_form(
            step_id="user",
            data_schema=_with_address(
                self.add_suggested_values_to_schema(
                    vol.Schema(
                        {
                            vol.Required(CONF_ACCOUNT_ID): _TEXT,
                            vol.Required(CONF_API_KEY): _PASSWORD,
                            **_address_section(),
                        }
                    ),
                    {
                        CONF_ACCOUNT_ID: self._account_id,
                        CONF_API_KEY: self._api_key,
                        SECTION_ADVANCED: {CONF_API_URL: self._api_url},
                    },
                )
            ),
            errors=errors,
            description_placeholders=_DASHBOARD_PLACEHOLDERS,
        )

    async def async_step_location(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Pick one of the account's locations, or create a new one."""
        if user_input is not None:
            if (location_id := user_input[CONF_LOCATION_ID]) == LOCATION_NEW:
                return await self.async_step_create_location()
            return await self._async_use_location(self._locations[location_id])

        options = [
            SelectOptionDict(value=location.id, label=_location_title(location))
            for location in self._locations.values()
        ]
        options.append(SelectOptionDict(value=LOCATION_NEW, label=LOCATION_NEW))
        return self.async_show_form(
            step_id="location",
            data_schema=vol.Schema(
                {
                    vol.Required(
                        CONF_LOCATION_ID, default=options[0]["value"]
                    ): SelectSelector(
                        SelectSelectorConfig(
                            options=options,
                            mode=SelectSelectorMode.LIST,
                            translation_key=CONF_LOCATION_ID,
                        )
                    )
                }
            ),
        )

    async def async_step_create_location(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Create a location in Flatpeak from the home's postal address."""
        errors: dict[str, str] = {}
        if user_input is not None:
            country_code = user_input[CONF_COUNTRY_CODE].strip().upper()
            if country_code not in COUNTRIES:
                errors[CONF_COUNTRY_CODE] = "invalid_country_code"
            else:
                address = PostalAddress(
                    address_line1=user_input[CONF_ADDRESS_LINE1].strip(),
                    city=user_input[CONF_CITY].strip(),
                    post_code=user_input[CONF_POST_CODE].strip(),
                    country_code=country_code,
                )
                location = await self._async_create_location(address, errors)
                if location is not None:
                    return await self._async_use_location(location)
            suggested: Mapping[str, Any] = user_input
        else:
            suggested = {CONF_COUNTRY_CODE: self.hass.config.country or ""}

        return self.async_show_form(
            step_id="create_location",
            data_schema=self.add_suggested_values_to_schema(
                vol.Schema(
                    {
                        vol.Required(CONF_ADDRESS_LINE1): _TEXT,
                        vol.Required(CONF_CITY): _TEXT,
                        vol.Required(CONF_POST_CODE): _TEXT,
                        vol.Required(CONF_COUNTRY_CODE): _TEXT,
                    }
                ),
                suggested,
            ),
            errors=errors,
        )

    async def _async_create_location(
        self, address: PostalAddress, errors: dict[str, str]
    ) -> Location | None:
        """Create the location once, even when a try failed halfway."""
        assert self._client is not None  # noqa: S101 - set by the user step
        client = self._client
        location: Location | None = None
        with _flatpeak_errors(errors):
            if self._location_create_tried:
                found = await client.list_locations(
                    reference_id=self._location_reference_id
                )
                location = found[0] if found else None
            if location is None:
                self._location_create_tried = True
                try:
                    location = await client.create_location(
                        address, reference_id=self._location_reference_id
                    )
                except FlatpeakApiError as err:
                    if err.status not in _ADDRESS_REFUSED_STATUSES:
                        raise
                    LOGGER.debug("Flatpeak refused the address: %s", err)
                    errors["base"] = "unknown_location"
        return None if errors else location

    async def _async_use_location(self, location: Location) -> ConfigFlowResult:
        """Make the location this entry's, unless an entry has it already."""
        # A flow left open in another tab must not block this one: whichever
        # finishes first creates the entry (and the other is then aborted).
        await self.async_set_unique_id(location.id, raise_on_progress=False)
        self._abort_if_unique_id_configured()
        self._location = location
        return await self.async_step_grid()

    async def async_step_grid(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Pick the grid import (and export) energy sensors, then create the entry."""
        assert self._location is not None  # noqa: S101 - set by the location steps
        title = _location_title(self._location)
        errors: dict[str, str] = {}
        if user_input is not None:
            errors = _validate_grid(self.hass, user_input)
            if not errors:
                # The success dialog says which statistics the energy dashboard takes.
                return self.async_create_entry(
                    title=title,
                    description="energy_dashboard",
                    description_placeholders={
                        "import_cost": statistic_name(title, TariffDirection.IMPORT),
                        "export_value": statistic_name(title, TariffDirection.EXPORT),
                    },
                    data={
                        CONF_ACCOUNT_ID: self._account_id,
                        CONF_API_KEY: self._api_key,
                        CONF_API_URL: self._api_url,
                        CONF_LOCATION_ID: self._location.id,
                        CONF_IMPORT_ENTITY: user_input[CONF_IMPORT_ENTITY],
                        CONF_EXPORT_ENTITY: user_input.get(CONF_EXPORT_ENTITY),
                    },
                )
        return self.async_show_form(
            step_id="grid",
            data_schema=self.add_suggested_values_to_schema(_grid_schema(), user_input),
            errors=errors,
            description_placeholders={"location": title},
        )

    async def async_step_reauth(
        self,
        entry_data: Mapping[str, Any],  # noqa: ARG002 - the entry is at hand
    ) -> ConfigFlowResult:
        """Flatpeak refused the API key: ask for a new one."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Check the new API key against this entry's account and location."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {**entry.data, CONF_API_KEY: user_input[CONF_API_KEY].strip()}
            if not await self._async_location_visible(data, errors):
                return self.async_abort(reason="wrong_account")
            if not errors:
                return self._async_update_and_reload(entry, data, "reauth_successful")
        # What the user typed stays in the form after an error.
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=self.add_suggested_values_to_schema(
                vol.Schema({vol.Required(CONF_API_KEY): _PASSWORD}), user_input
            ),
            errors=errors,
            description_placeholders={
                CONF_ACCOUNT_ID: entry.data[CONF_ACCOUNT_ID],
                **_DASHBOARD_PLACEHOLDERS,
            },
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the API key or the API address of an entry."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {
                **entry.data,
                CONF_API_KEY: user_input[CONF_API_KEY].strip(),
                CONF_API_URL: _api_url(user_input, entry.data[CONF_API_URL]),
            }
            if not await self._async_location_visible(data, errors):
                return self.async_abort(reason="wrong_account")
            if not errors:
                return self._async_update_and_reload(
                    entry, data, "reconfigure_successful"
                )
        # What the user typed stays in the form after an error.
        typed = user_input or {}
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=_with_address(
                self.add_suggested_values_to_schema(
                    vol.Schema(
                        {vol.Required(CONF_API_KEY): _PASSWORD, **_address_section()}
                    ),
                    {
                        CONF_API_KEY: typed.get(CONF_API_KEY),
                        SECTION_ADVANCED: {
                            CONF_API_URL: _api_url(typed, entry.data[CONF_API_URL])
                        },
                    },
                )
            ),
            errors=errors,
            description_placeholders={
                CONF_ACCOUNT_ID: entry.data[CONF_ACCOUNT_ID],
                **_DASHBOARD_PLACEHOLDERS,
            },
        )

    async def _async_location_visible(
        self, data: Mapping[str, Any], errors: dict[str, str]
    ) -> bool:
        """Sign in with the data; False when the key cannot see the location."""
        client = self._new_client(data)
        visible = True
        with _flatpeak_errors(errors):
            await client.login()
            try:
                await client.get_location(data[CONF_LOCATION_ID])
            except (FlatpeakNotFoundError, FlatpeakAuthError):
                visible = False
        return visible

    @callback
    def _async_update_and_reload(
        self, entry: ConfigEntry, data: Mapping[str, Any], reason: str
    ) -> ConfigFlowResult:
        """Store the new data and reload the entry once.

        A loaded entry whose data changed is reloaded by its update listener
        (which runs at once: it may be reloading when the update returns);
        anything else (not loaded, e.g. after a refused key; unchanged) here.
        """
        has_listener = entry.state is ConfigEntryState.LOADED
        changed = self.hass.config_entries.async_update_entry(entry, data=data)
        if not (changed and has_listener):
            self.hass.config_entries.async_schedule_reload(entry.entry_id)
        return self.async_abort(reason=reason)


class FlatpeakOptionsFlow(OptionsFlow):
    """Change the interval and the grid sensors; the entry reloads to apply them."""

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show and check the options."""
        errors: dict[str, str] = {}
        if user_input is not None:
            errors = _validate_grid(self.hass, user_input)
            if not errors:
                return self.async_create_entry(
                    data={
                        CONF_INTERVAL_MINUTES: int(user_input[CONF_INTERVAL_MINUTES]),
                        CONF_IMPORT_ENTITY: user_input[CONF_IMPORT_ENTITY],
                        CONF_EXPORT_ENTITY: user_input.get(CONF_EXPORT_ENTITY),
                    }
                )
            suggested: Mapping[str, Any] = user_input
        else:
            import_entity, export_entity = entry_grid_entities(self.config_entry)
            suggested = {
                CONF_INTERVAL_MINUTES: str(entry_interval_minutes(self.config_entry)),
                CONF_IMPORT_ENTITY: import_entity,
                CONF_EXPORT_ENTITY: export_entity,
            }
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(
                vol.Schema({vol.Required(CONF_INTERVAL_MINUTES): _INTERVAL}).extend(
                    _grid_schema().schema
                ),
                suggested,
            ),
            errors=errors,
        )


class _DeviceSubentryFlow(ConfigSubentryFlow):
    """Add or change a device of the location: its Flatpeak device is made once."""

    with_session_entity: ClassVar[bool] = False

    def __init__(self) -> None:
        """Prepare the reference id this flow's Flatpeak device will carry."""
        # Generated once per flow and reused on every retry, so a retry after an
        # ambiguous failure finds the device the first try made.
        self._reference_id = f"ha_{uuid4().hex}"
        self._create_tried = False

    def _schema(self) -> vol.Schema:
        fields: dict[vol.Marker, Any] = {
            vol.Required(CONF_NAME): _TEXT,
            vol.Required(CONF_ENERGY_ENTITY): _ENERGY_SENSOR,
        }
        if self.with_session_entity:
            fields[vol.Optional(CONF_SESSION_ENTITY)] = _SESSION_SOURCE
        return vol.Schema(fields)

    def _validate(
        self,
        entry: ConfigEntry,
        user_input: Mapping[str, Any],
        subentry_id: str | None = None,
    ) -> dict[str, str]:
        """Check the sources; one energy sensor feeds one device only."""
        errors: dict[str, str] = {}
        energy_entity = user_input[CONF_ENERGY_ENTITY]
        if error := _energy_sensor_error(self.hass, energy_entity):
            errors[CONF_ENERGY_ENTITY] = error
        elif any(
            subentry.data.get(CONF_ENERGY_ENTITY) == energy_entity
            for subentry in entry.subentries.values()
            if subentry.subentry_id != subentry_id
        ):
            errors[CONF_ENERGY_ENTITY] = "entity_in_use"
        session_entity = user_input.get(CONF_SESSION_ENTITY)
        if session_entity and self.hass.states.get(session_entity) is None:
            errors[CONF_SESSION_ENTITY] = "entity_not_found"
        return errors

    def _source_data(self, user_input: Mapping[str, Any]) -> dict[str, Any]:
        data: dict[str, Any] = {
            CONF_NAME: user_input[CONF_NAME].strip(),
            CONF_ENERGY_ENTITY: user_input[CONF_ENERGY_ENTITY],
        }
        if self.with_session_entity:
            data[CONF_SESSION_ENTITY] = user_input.get(CONF_SESSION_ENTITY)
        return data

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Ask for the device's name and energy sensor, then create it in Flatpeak."""
        entry: FlatpeakConfigEntry = self._get_entry()
        if entry.state is not ConfigEntryState.LOADED:
            return self.async_abort(reason="entry_not_loaded")
        errors: dict[str, str] = {}
        if user_input is not None:
            errors = self._validate(entry, user_input)
            if not errors:
                device = await self._async_create_device(entry, errors)
                if device is not None:
                    data = self._source_data(user_input)
                    return self.async_create_entry(
                        title=data[CONF_NAME],
                        data={
                            **data,
                            CONF_DEVICE_ID: device.id,
                            CONF_REFERENCE_ID: self._reference_id,
                        },
                        unique_id=device.id,
                    )
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(self._schema(), user_input),
            errors=errors,
        )

    async def _async_create_device(
        self, entry: FlatpeakConfigEntry, errors: dict[str, str]
    ) -> Device | None:
        """Create the Flatpeak device, or find the one an earlier try created."""
        client = entry.runtime_data.client
        device: Device | None = None
        with _flatpeak_errors(errors):
            if self._create_tried:
                found = await client.list_devices(reference_id=self._reference_id)
                device = found[0] if found else None
            if device is None:
                self._create_tried = True
                device = await client.create_device(self._reference_id)
        return None if errors else device

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change the name or the sources; the Flatpeak device stays the same."""
        entry = self._get_entry()
        if entry.state is not ConfigEntryState.LOADED:
            return self.async_abort(reason="entry_not_loaded")
        subentry = self._get_reconfigure_subentry()
        errors: dict[str, str] = {}
        if user_input is not None:
            errors = self._validate(entry, user_input, subentry.subentry_id)
            if not errors:
                data = self._source_data(user_input)
                return self.async_update_and_abort(
                    entry, subentry, title=data[CONF_NAME], data_updates=data
                )
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                self._schema(), user_input or subentry.data
            ),
            errors=errors,
        )


class SolarSubentryFlow(_DeviceSubentryFlow):
    """Solar panels: energy produced and used or sold."""


class EvChargerSubentryFlow(_DeviceSubentryFlow):
    """An EV charger, with an optional session sensor."""

    with_session_entity = True


class ApplianceSubentryFlow(_DeviceSubentryFlow):
    """Any other consumer: heat pump, battery charging, hot water."""
