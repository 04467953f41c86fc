"""Tests of the Flatpeak integration, its client and its sandbox."""
