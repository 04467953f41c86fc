"""The subentry flow of a cheapest window (no Flatpeak device: prices only)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import ConfigSubentryFlow, SubentryFlowResult
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    TextSelector,
    TimeSelector,
)

from .compat import vol
from .const import CONF_NAME
from .windows import (
    CONF_CONTINUOUS,
    CONF_EARLIEST_START,
    CONF_HOURS,
    CONF_LATEST_END,
    CONF_MAXIMUM_PRICE,
    CONF_MINIMUM_PRICE,
    WindowSpec,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

_HOURS = NumberSelector(
    NumberSelectorConfig(
        min=0.25,
        max=24,
        step=0.25,
        mode=NumberSelectorMode.BOX,
        unit_of_measurement="h",
    )
)
_PRICE = NumberSelector(NumberSelectorConfig(mode=NumberSelectorMode.BOX, step="any"))
_DEFAULTS: dict[str, Any] = {
    CONF_HOURS: 2,
    CONF_EARLIEST_START: "22:00:00",
    CONF_LATEST_END: "07:00:00",
    CONF_CONTINUOUS: True,
}


def _schema() -> vol.Schema:
    return vol.Schema(
        {
            vol.Required(CONF_NAME): TextSelector(),
            vol.Required(CONF_HOURS): _HOURS,
            vol.Required(CONF_EARLIEST_START): TimeSelector(),
            vol.Required(CONF_LATEST_END): TimeSelector(),
            vol.Required(CONF_CONTINUOUS): BooleanSelector(),
            vol.Optional(CONF_MINIMUM_PRICE): _PRICE,
            vol.Optional(CONF_MAXIMUM_PRICE): _PRICE,
        }
    )


def _validate(user_input: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Return the subentry data, or the errors of the form."""
    data: dict[str, Any] = {
        CONF_NAME: str(user_input[CONF_NAME]).strip(),
        CONF_HOURS: float(user_input[CONF_HOURS]),
        CONF_EARLIEST_START: user_input[CONF_EARLIEST_START],
        CONF_LATEST_END: user_input[CONF_LATEST_END],
        CONF_CONTINUOUS: bool(user_input[CONF_CONTINUOUS]),
        CONF_MINIMUM_PRICE: user_input.get(CONF_MINIMUM_PRICE),
        CONF_MAXIMUM_PRICE: user_input.get(CONF_MAXIMUM_PRICE),
    }
    errors: dict[str, str] = {}
    if not data[CONF_NAME]:
        errors[CONF_NAME] = "name_empty"
    try:
        spec = WindowSpec.from_data(data)
    except ValueError:
        errors[CONF_EARLIEST_START] = "invalid_time"
        return data, errors
    if spec.hours * 3600 > spec.shortest_window().total_seconds():
        errors[CONF_HOURS] = "window_too_short"
    if (
        spec.minimum_price is not None
        and spec.maximum_price is not None
        and spec.minimum_price > spec.maximum_price
    ):
        errors[CONF_MAXIMUM_PRICE] = "price_limits_reversed"
    return data, errors


class CheapestWindowSubentryFlow(ConfigSubentryFlow):
    """Add or change a cheapest window: when in the day, for how long."""

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Ask for the window; nothing is created in Flatpeak."""
        errors: dict[str, str] = {}
        if user_input is not None:
            data, errors = _validate(user_input)
            if not errors:
                return self.async_create_entry(title=data[CONF_NAME], data=data)
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(
                _schema(), user_input or _DEFAULTS
            ),
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change the window; the binary sensor plans it anew."""
        entry = self._get_entry()
        subentry = self._get_reconfigure_subentry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data, errors = _validate(user_input)
            if not errors:
                return self.async_update_and_abort(
                    entry, subentry, title=data[CONF_NAME], data=data
                )
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                _schema(), user_input or subentry.data
            ),
            errors=errors,
        )
