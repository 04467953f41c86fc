"""Constants for the Flatpeak integration."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Final

DOMAIN: Final = "flatpeak"
LOGGER = logging.getLogger(__package__)

# Config entry data (SPEC "Setup").
CONF_ACCOUNT_ID: Final = "account_id"
CONF_API_KEY: Final = "api_key"
CONF_API_URL: Final = "api_url"
CONF_LOCATION_ID: Final = "location_id"
CONF_IMPORT_ENTITY: Final = "import_entity"
CONF_EXPORT_ENTITY: Final = "export_entity"

# create_location step.
CONF_ADDRESS_LINE1: Final = "address_line1"
CONF_CITY: Final = "city"
CONF_POST_CODE: Final = "post_code"
CONF_COUNTRY_CODE: Final = "country_code"
LOCATION_NEW: Final = "new"

# Options.
CONF_INTERVAL_MINUTES: Final = "interval_minutes"
INTERVAL_CHOICES: Final = (5, 15, 30, 60)
DEFAULT_INTERVAL_MINUTES: Final = 30

# Subentries (SPEC "Devices").
SUBENTRY_SOLAR: Final = "solar"
SUBENTRY_EV_CHARGER: Final = "ev_charger"
SUBENTRY_APPLIANCE: Final = "appliance"
SUBENTRY_CHEAPEST_WINDOW: Final = "cheapest_window"
SUBENTRY_TYPES: Final = (
    SUBENTRY_SOLAR,
    SUBENTRY_EV_CHARGER,
    SUBENTRY_APPLIANCE,
    SUBENTRY_CHEAPEST_WINDOW,
)
CONF_NAME: Final = "name"
CONF_ENERGY_ENTITY: Final = "energy_entity"
CONF_SESSION_ENTITY: Final = "session_entity"
CONF_DEVICE_ID: Final = "device_id"
CONF_REFERENCE_ID: Final = "reference_id"

# A session without a session entity ends after this long without energy.
SESSION_GAP: Final = timedelta(minutes=30)

# Flatpeak asks not to retry pending_connect / no_tariff_connected more often
# than every 15 minutes.
TARIFF_PENDING_RETRY: Final = timedelta(minutes=15)

# Events.
EVENT_SESSION_COMPLETED: Final = "flatpeak_session_completed"


def signal_subentries_changed(entry_id: str) -> str:
    """Return the dispatcher signal sent when an entry's devices changed."""
    return f"{DOMAIN}_{entry_id}_subentries_changed"
