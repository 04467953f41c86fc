"""Planning: cheapest windows, charge plans, the day's prices (pure)."""
