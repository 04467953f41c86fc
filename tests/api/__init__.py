"""Tests of the Flatpeak API client."""
