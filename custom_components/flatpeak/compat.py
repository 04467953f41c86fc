"""What differs between the oldest supported Home Assistant (2025.4) and the newest.

Home Assistant 2026 validates with probatio (`voluptuous` is only an alias of it
there) and types the results of repair flows; 2025.4 has voluptuous and plain flow
results. Each test lane runs mypy with `PROBATIO` always true or always false
(scripts/test), so both sides are checked where they apply.
"""

from __future__ import annotations

from importlib.util import find_spec

PROBATIO = find_spec("probatio") is not None

if PROBATIO:
    import probatio as vol
    from homeassistant.components.repairs import RepairsFlowResult as FixFlowResult
else:
    import voluptuous as vol
    from homeassistant.data_entry_flow import FlowResult as FixFlowResult

__all__ = ["PROBATIO", "FixFlowResult", "vol"]
