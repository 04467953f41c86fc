"""Tests of the Flatpeak sandbox itself."""
