"""Pure unit tests of interval maths, records and sessions (no Home Assistant)."""
