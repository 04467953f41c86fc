"""Tests that run Home Assistant with the Flatpeak integration and sandbox."""
