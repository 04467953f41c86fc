"""Typed asyncio client for the Flatpeak API (anode release), free of Home Assistant."""

from .client import DEFAULT_API_URL, MAX_RECORDS_PER_REQUEST, FlatpeakClient
from .costs import CostRow, EnergyCost, InstantCost, PricePeriod, PriceSeries
from .errors import (
    FlatpeakApiError,
    FlatpeakAuthError,
    FlatpeakConnectionError,
    FlatpeakError,
    FlatpeakNotFoundError,
    FlatpeakRateLimitError,
    FlatpeakResponseError,
)
from .models import (
    Aggregation,
    Device,
    EnergyFlowDirection,
    FailedRecord,
    Location,
    LoginResult,
    MeterBatch,
    MeterRecord,
    PostalAddress,
    SubmissionResult,
    TariffDirection,
    Units,
)
from .transport import API_VERSION

__all__ = [
    "API_VERSION",
    "DEFAULT_API_URL",
    "MAX_RECORDS_PER_REQUEST",
    "Aggregation",
    "CostRow",
    "Device",
    "EnergyCost",
    "EnergyFlowDirection",
    "FailedRecord",
    "FlatpeakApiError",
    "FlatpeakAuthError",
    "FlatpeakClient",
    "FlatpeakConnectionError",
    "FlatpeakError",
    "FlatpeakNotFoundError",
    "FlatpeakRateLimitError",
    "FlatpeakResponseError",
    "InstantCost",
    "Location",
    "LoginResult",
    "MeterBatch",
    "MeterRecord",
    "PostalAddress",
    "PricePeriod",
    "PriceSeries",
    "SubmissionResult",
    "TariffDirection",
    "Units",
]
