"""Custom components of this repository (makes them importable in tests)."""
