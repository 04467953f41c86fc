"""Every translation key the code uses exists in translations/en.json (and icons.json).

Keys are collected from the source with `ast`: a key passed through a variable or a
parameter is followed to the constants it can hold, so `_hold(..., "rate_limited", ...)`
counts as well as `UpdateFailed(translation_key="costs_failed")`. A key the scan cannot
follow fails the test: keep keys traceable to literals.
"""

from __future__ import annotations

import ast
import json
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from homeassistant.components.sensor import (
    ATTR_LAST_RESET,
    ATTR_STATE_CLASS,
    SensorEntityDescription,
)
from homeassistant.const import (
    ATTR_DEVICE_CLASS,
    ATTR_FRIENDLY_NAME,
    ATTR_UNIT_OF_MEASUREMENT,
    STATE_UNAVAILABLE,
)
from homeassistant.helpers import entity_registry as er
from homeassistant.util.yaml import load_yaml_dict

from custom_components.flatpeak import const, helpers, price_services, services
from custom_components.flatpeak.const import (
    DOMAIN,
    SUBENTRY_CHEAPEST_WINDOW,
    SUBENTRY_TYPES,
)
from custom_components.flatpeak.sensor import (
    DEVICE_SENSORS,
    LOCATION_SENSORS,
    METERING_SENSORS,
    PRICE_SENSORS,
)

from .cost_data import NOW, cost_entry, cost_sandbox, setup_entry

if TYPE_CHECKING:
    from collections.abc import Iterator

    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry

__all__ = ["cost_entry", "cost_sandbox"]

PACKAGE = Path(__file__).parents[2] / "custom_components" / DOMAIN
STRINGS: dict[str, Any] = json.loads((PACKAGE / "translations/en.json").read_text())
ICONS: dict[str, Any] = json.loads((PACKAGE / "icons.json").read_text())
SERVICES_YAML: dict[str, Any] = dict(load_yaml_dict(PACKAGE / "services.yaml"))

EXCEPTION_CLASSES = frozenset(
    {
        "HomeAssistantError",
        "ServiceValidationError",
        "UpdateFailed",
        "ConfigEntryNotReady",
        "ConfigEntryAuthFailed",
        "ConfigEntryError",
    }
)
# Flow classes → the translation sections their errors, aborts and steps live in.
FLOW_SECTIONS: dict[str, list[str]] = {
    "FlatpeakConfigFlow": ["config"],
    "FlatpeakOptionsFlow": ["options"],
    "_DeviceSubentryFlow": [
        f"config_subentries.{kind}"
        for kind in SUBENTRY_TYPES
        if kind != SUBENTRY_CHEAPEST_WINDOW
    ],
    "CheapestWindowSubentryFlow": [f"config_subentries.{SUBENTRY_CHEAPEST_WINDOW}"],
}
# Aborts Home Assistant's flow helpers raise with their default reason.
HELPER_ABORTS: dict[str, str] = {
    "_abort_if_unique_id_configured": "already_configured",
    "async_update_and_abort": "reconfigure_successful",
}
# Attributes Home Assistant itself sets on sensor states (not ours to translate).
HA_ATTRIBUTES = frozenset(
    {
        ATTR_DEVICE_CLASS,
        ATTR_FRIENDLY_NAME,
        ATTR_LAST_RESET,
        ATTR_STATE_CLASS,
        ATTR_UNIT_OF_MEASUREMENT,
    }
)


class UnresolvableError(Exception):
    """The scan cannot tell which constants a key expression holds."""


def _call_name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((kw.value for kw in call.keywords if kw.arg == name), None)


def _error_map(node: ast.expr) -> set[Any] | None:
    """Return what the one error map can give (its keys are in a table)."""
    if isinstance(node, ast.Attribute) and node.attr == "translation_key":
        return {key for key, _ in helpers.FAILURE_MESSAGES.values()}
    if isinstance(node, ast.Call) and _call_name(node) == "form_error":
        return set(helpers.FORM_ERRORS)
    return None


@dataclass
class Module:
    """One source file, with what is needed to follow a value to its constants."""

    path: Path
    tree: ast.Module
    parents: dict[ast.AST, ast.AST] = field(default_factory=dict)
    functions: dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]] = field(
        default_factory=dict
    )

    @classmethod
    def parse(cls, path: Path) -> Module:
        """Parse a file and index its functions and parents."""
        module = cls(path, ast.parse(path.read_text()))
        for node in ast.walk(module.tree):
            for child in ast.iter_child_nodes(node):
                module.parents[child] = node
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                module.functions.setdefault(node.name, []).append(node)
        return module

    def calls(self) -> Iterator[ast.Call]:
        """Every call in the file."""
        return (node for node in ast.walk(self.tree) if isinstance(node, ast.Call))

    def enclosing(
        self, node: ast.AST, kind: type[ast.AST] | tuple[type[ast.AST], ...]
    ) -> ast.AST | None:
        """Return the nearest ancestor of a kind."""
        current = self.parents.get(node)
        while current is not None and not isinstance(current, kind):
            current = self.parents.get(current)
        return current

    def function_of(
        self, node: ast.AST
    ) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        """Return the function a node is in."""
        found = self.enclosing(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        assert found is None or isinstance(
            found, ast.FunctionDef | ast.AsyncFunctionDef
        )
        return found

    def resolve(self, node: ast.expr | None) -> set[Any]:
        """Return the constants (strings, or frozensets of dict keys) `node` can be."""
        if node is None or (isinstance(node, ast.Constant) and node.value is None):
            return {frozenset()}
        if (mapped := _error_map(node)) is not None:
            return mapped
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return {node.value}
        if isinstance(node, ast.IfExp):
            return self.resolve(node.body) | self.resolve(node.orelse)
        if isinstance(node, ast.Dict):
            keys = [key.value for key in node.keys if isinstance(key, ast.Constant)]
            if len(keys) == len(node.keys):
                return {frozenset(keys)}
        return self._resolve_reference(node)

    def _resolve_reference(self, node: ast.expr) -> set[Any]:
        """Resolve a name, or a call of a helper function of the module.

        A helper counts with what it returns (but None).
        """
        if isinstance(node, ast.Name):
            return self._resolve_name(node)
        for item in self.tree.body:
            if (
                isinstance(node, ast.Call)
                and isinstance(item, ast.FunctionDef)
                and item.name == _call_name(node)
            ):
                return {
                    value
                    for found in ast.walk(item)
                    if isinstance(found, ast.Return)
                    for value in self.resolve(found.value)
                    if value != frozenset()
                }
        raise UnresolvableError(f"{self.path.name}:{node.lineno} {ast.unparse(node)}")

    def _resolve_name(self, node: ast.Name) -> set[Any]:
        function = self.function_of(node)
        scope: ast.AST = self.tree if function is None else function
        values: set[Any] = set()
        for item in ast.walk(scope):
            if isinstance(item, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == node.id for t in item.targets
            ):
                values |= self.resolve(item.value)
            if isinstance(item, ast.NamedExpr) and item.target.id == node.id:
                values |= self.resolve(item.value)
        if values:
            return values
        for item in self.tree.body:  # a module-level constant
            if isinstance(item, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == node.id for t in item.targets
            ):
                values |= self.resolve(item.value)
        if values:
            return values
        if isinstance(value := getattr(const, node.id, None), str):
            return {value}
        if function is None:
            raise UnresolvableError(f"{self.path.name}:{node.lineno} {node.id}")
        return self._resolve_parameter(function, node.id)

    def _resolve_parameter(
        self, function: ast.FunctionDef | ast.AsyncFunctionDef, name: str
    ) -> set[Any]:
        values: set[Any] = set()
        for call in self.calls():
            if _call_name(call) == function.name:
                values |= self.resolve(self.argument(function, call, name))
        return values

    def parameter_of(
        self, node: ast.expr | None
    ) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        """Return the function `node` is a parameter of (and not reassigned in)."""
        if not isinstance(node, ast.Name):
            return None
        function = self.function_of(node)
        if function is None:
            return None
        args = function.args
        if node.id not in {a.arg for a in (*args.args, *args.kwonlyargs)}:
            return None
        if any(
            isinstance(item, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == node.id for t in item.targets)
            for item in ast.walk(function)
        ):
            return None
        return function

    def argument(
        self,
        function: ast.FunctionDef | ast.AsyncFunctionDef,
        call: ast.Call,
        name: str,
    ) -> ast.expr:
        """Return what a call of `function` passes for its parameter `name`."""
        params = [arg.arg for arg in function.args.args]
        if params[:1] in (["self"], ["cls"]):
            params = params[1:]
        value = _keyword(call, name)
        if value is None and name in params and params.index(name) < len(call.args):
            value = call.args[params.index(name)]
        if value is None:
            # Left out: the parameter's default.
            args = function.args.args
            defaults = dict(
                zip(
                    [a.arg for a in args[len(args) - len(function.args.defaults) :]],
                    function.args.defaults,
                    strict=True,
                )
            )
            value = defaults.get(name)
        if value is None:
            raise UnresolvableError(f"{self.path.name}:{call.lineno} {name}")
        return value

    def resolve_pairs(
        self, key: ast.expr, placeholders: ast.expr | None
    ) -> set[tuple[str, frozenset[str]]]:
        """Return (translation key, placeholder names) pairs, call site by call site.

        A key and its placeholders passed through the same helper's parameters are
        followed together, so one call's key is not paired with another's values.
        """
        if isinstance(key, ast.Attribute) and key.attr == "translation_key":
            return set(helpers.FAILURE_MESSAGES.values())
        function = self.parameter_of(key)
        if function is None:
            return {
                (k, p) for k in self.resolve(key) for p in self.resolve(placeholders)
            }
        assert isinstance(key, ast.Name)
        pairs: set[tuple[str, frozenset[str]]] = set()
        for call in self.calls():
            if _call_name(call) != function.name:
                continue
            call_placeholders = placeholders
            if isinstance(placeholders, ast.Name) and (
                self.parameter_of(placeholders) is function
            ):
                call_placeholders = self.argument(function, call, placeholders.id)
            pairs |= self.resolve_pairs(
                self.argument(function, call, key.id), call_placeholders
            )
        return pairs


MODULES = [Module.parse(path) for path in sorted(PACKAGE.glob("*.py"))]


def _placeholders(*texts: str) -> frozenset[str]:
    return frozenset(
        name
        for text in texts
        for _, name, _, _ in string.Formatter().parse(text)
        if name is not None
    )


def _used_keys(kind: str) -> list[tuple[str, str, frozenset[str]]]:
    """Return (where, key, placeholder names) of each exception or issue key."""
    used: list[tuple[str, str, frozenset[str]]] = []
    for module in MODULES:
        for call in module.calls():
            name = _call_name(call)
            if (kind == "exceptions" and name not in EXCEPTION_CLASSES) or (
                kind == "issues" and name != "async_create_issue"
            ):
                continue
            key_node = _keyword(call, "translation_key")
            if key_node is None:
                continue
            where = f"{module.path.name}:{call.lineno}"
            pairs = module.resolve_pairs(
                key_node, _keyword(call, "translation_placeholders")
            )
            used.extend((where, key, placeholders) for key, placeholders in pairs)
    return used


@pytest.mark.parametrize("kind", ["exceptions", "issues"])
def test_exception_and_issue_keys(kind: str) -> None:
    """Every key raised exists, and its placeholders are exactly the ones supplied."""
    used = _used_keys(kind)
    assert used, f"the scan found no {kind}"
    defined: dict[str, dict[str, str]] = STRINGS[kind]
    for where, key, supplied in used:
        assert key in defined, f"{where}: {kind}.{key} is missing from en.json"
        # A fixable issue's steps are filled by its fix flow (test_repairs).
        wanted = _placeholders(
            *(text for text in defined[key].values() if isinstance(text, str))
        )
        if "fix_flow" in defined[key]:
            # The flow's steps show the issue's placeholders (and their own).
            assert wanted <= supplied, f"{where}: {kind}.{key}: {wanted}"
            continue
        assert wanted == supplied, f"{where}: {kind}.{key}: {wanted} != {supplied}"
    unused = set(defined) - {key for _, key, _ in used}
    assert not unused, f"{kind} in en.json that no code raises: {sorted(unused)}"


def _section(path: str) -> dict[str, Any]:
    node: dict[str, Any] = STRINGS
    for part in path.split("."):
        node = node[part]
    return node


def _flow_classes() -> Iterator[tuple[Module, ast.ClassDef, list[str]]]:
    for module in MODULES:
        for node in module.tree.body:
            if isinstance(node, ast.ClassDef) and node.name in FLOW_SECTIONS:
                yield module, node, FLOW_SECTIONS[node.name]


def _flow_strings(module: Module, cls: ast.ClassDef) -> dict[str, set[str]]:
    """Return the error, abort and step keys a flow class (and its helpers) uses."""
    helpers = {
        node.id
        for node in ast.walk(cls)
        if isinstance(node, ast.Name) and node.id in module.functions
    }
    scopes: list[ast.AST] = [cls]
    scopes += [
        function
        for name in helpers
        for function in module.functions[name]
        if module.enclosing(function, ast.ClassDef) is None
    ]
    found: dict[str, set[str]] = {"error": set(), "abort": set(), "step": set()}
    for scope in scopes:
        for node in ast.walk(scope):
            if (
                isinstance(node, ast.Assign)
                and isinstance(target := node.targets[0], ast.Subscript)
                and isinstance(target.value, ast.Name)
                and target.value.id == "errors"
            ):
                found["error"] |= module.resolve(node.value)
            if not isinstance(node, ast.Call):
                continue
            name = _call_name(node)
            if name == "async_abort":
                found["abort"] |= module.resolve(_keyword(node, "reason"))
            elif name in HELPER_ABORTS and _keyword(node, "reason") is None:
                found["abort"].add(HELPER_ABORTS[name])
            elif name == "async_show_form":
                steps = module.resolve(_keyword(node, "step_id"))
                found["step"] |= steps
                keys = _dict_keys(module, _keyword(node, "description_placeholders"))
                for step in steps:
                    found.setdefault(f"placeholders:{step}", set()).update(keys)
    return found


def test_flow_keys() -> None:
    """Every error, abort reason and step of every flow is translated."""
    classes = list(_flow_classes())
    assert {cls.name for _, cls, _ in classes} == set(FLOW_SECTIONS)
    for module, cls, sections in classes:
        used = _flow_strings(module, cls)
        for section in sections:
            strings = _section(section)
            for kind in ("error", "abort", "step"):
                missing = used[kind] - set(strings.get(kind, {}))
                assert not missing, f"{cls.name}: {section}.{kind} lacks {missing}"
            assert set(strings["step"]) == used["step"], section
            for step_id, step in strings["step"].items():
                wanted = _placeholders(
                    step.get("title", ""), step.get("description", "")
                )
                supplied = used[f"placeholders:{step_id}"]
                assert wanted <= supplied, f"{section}.step.{step_id}: {wanted}"
    # Reauth ends in an abort Home Assistant names; it must read well too.
    assert "reauth_successful" in STRINGS["config"]["abort"]


def _steps() -> Iterator[tuple[str, dict[str, Any]]]:
    for section in ("config", "options"):
        for step_id, step in STRINGS[section]["step"].items():
            yield f"{section}.step.{step_id}", step
    for kind, subentry in STRINGS["config_subentries"].items():
        for step_id, step in subentry["step"].items():
            yield f"config_subentries.{kind}.step.{step_id}", step


def test_every_field_has_a_description() -> None:
    """Each step's data fields have a data_description, and nothing else does."""
    for where, step in _steps():
        assert set(step.get("data", {})) == set(step.get("data_description", {})), where


def _dict_keys(module: Module, node: ast.expr | None) -> set[str]:
    """Return the keys a description_placeholders dict may have (spreads followed)."""
    if node is None:
        return set()
    if isinstance(node, ast.Name):
        for item in ast.walk(module.tree):
            if isinstance(item, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == node.id for t in item.targets
            ):
                return _dict_keys(module, item.value)
        return set()
    assert isinstance(node, ast.Dict), ast.unparse(node)
    keys: set[str] = set()
    for key, value in zip(node.keys, node.values, strict=True):
        if key is None:
            keys |= _dict_keys(module, value)
        elif isinstance(key, ast.Constant):
            keys.add(str(key.value))
        else:  # a constant name such as CONF_ACCOUNT_ID
            keys.add(str(getattr(const, ast.unparse(key))))
    return keys


def test_subentry_types_are_translated() -> None:
    """Each subentry type has its name, flow titles and both steps."""
    assert set(STRINGS["config_subentries"]) == set(SUBENTRY_TYPES)
    for kind, subentry in STRINGS["config_subentries"].items():
        assert subentry["entry_type"], kind
        assert set(subentry["initiate_flow"]) == {"user", "reconfigure"}, kind
        assert set(subentry["step"]) == {"user", "reconfigure"}, kind


def _entity_keys() -> set[str]:
    descriptions: list[SensorEntityDescription] = [
        *LOCATION_SENSORS,
        *PRICE_SENSORS,
        *METERING_SENSORS,
        *(d for group in DEVICE_SENSORS.values() for d in group),
    ]
    keys = {description.translation_key for description in descriptions}
    assert None not in keys
    return {key for key in keys if key is not None}


def test_entity_keys_and_icons() -> None:
    """Each sensor's translation key has a name and an icon; none is left over."""
    keys = _entity_keys()
    sensors = STRINGS["entity"]["sensor"]
    assert set(sensors) == keys
    assert all(sensors[key].get("name") for key in keys)
    assert set(ICONS["entity"]["sensor"]) == keys


def test_services() -> None:
    """Services, their fields and icons agree across code, services.yaml and en.json."""
    registered = {
        services.SERVICE_BACKFILL: services.BACKFILL_SCHEMA,
        services.SERVICE_GET_COSTS: services.GET_COSTS_SCHEMA,
        services.SERVICE_GET_SESSION_COST: services.GET_SESSION_COST_SCHEMA,
        services.SERVICE_ESTIMATE_COST: services.ESTIMATE_COST_SCHEMA,
        price_services.SERVICE_GET_PRICES: price_services.GET_PRICES_SCHEMA,
        price_services.SERVICE_PLAN_CHARGE: price_services.PLAN_CHARGE_SCHEMA,
    }
    assert set(SERVICES_YAML) == set(registered)
    assert set(STRINGS["services"]) == set(registered)
    assert set(ICONS["services"]) == set(registered)
    for name, schema in registered.items():
        fields = {str(key) for key in schema.schema}
        assert set(SERVICES_YAML[name]["fields"]) == fields, name
        translated = STRINGS["services"][name]
        assert translated["name"], name
        assert translated["description"], name
        assert set(translated["fields"]) == fields, name
        for field_name, spec in SERVICES_YAML[name]["fields"].items():
            assert translated["fields"][field_name]["name"], (name, field_name)
            assert translated["fields"][field_name]["description"], (name, field_name)
            select = (spec.get("selector") or {}).get("select")
            if select and (key := select.get("translation_key")):
                options = set(STRINGS["selector"][key]["options"])
                assert set(select["options"]) == options, (name, field_name)


def test_flow_selector_keys() -> None:
    """Select selectors of the flows name a translated selector."""
    keys = {
        key
        for module in MODULES
        for call in module.calls()
        if _call_name(call) == "SelectSelectorConfig"
        for key in module.resolve(_keyword(call, "translation_key"))
    }
    assert keys
    assert keys <= set(STRINGS["selector"])


def _texts(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for value in node.values():
            yield from _texts(value)
    elif isinstance(node, str):
        yield node


def test_wording() -> None:
    """No [%key:…] references (core only); acronyms and units keep their case."""
    for text in _texts(STRINGS):
        assert "[%key:" not in text, text
        assert not re.search(r"\b(ev|Ev|kwh|KWh|api|Api)\b", text), text


# The languages translated beside English; each must stay complete.
LANGUAGES = ["de", "fr", "nl", "es"]
# Key paths whose value (over three words) may read the same as in English, because
# it is made only of identifiers, URLs or placeholders. None is today: add one here,
# with its reason, rather than copy English into a translation.
SAME_AS_ENGLISH: frozenset[str] = frozenset()


def _leaves(node: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Map each leaf's dotted key path to its value."""
    leaves: dict[str, Any] = {}
    for key, value in node.items():
        if isinstance(value, dict):
            leaves |= _leaves(value, f"{prefix}{key}.")
        else:
            leaves[f"{prefix}{key}"] = value
    return leaves


@pytest.mark.parametrize("language", LANGUAGES)
def test_translation_matches_english(language: str) -> None:
    """A translation has en.json's keys, each translated, with the same placeholders."""
    path = PACKAGE / "translations" / f"{language}.json"
    translated = _leaves(json.loads(path.read_text(encoding="utf-8")))
    english = _leaves(STRINGS)
    missing = sorted(english.keys() - translated.keys())
    assert not missing, f"{path.name} lacks {missing}"
    extra = sorted(translated.keys() - english.keys())
    assert not extra, f"{path.name} has keys en.json does not: {extra}"
    problems: list[str] = []
    for key, text in translated.items():
        source: str = english[key]
        if not isinstance(text, str) or not text.strip():
            problems.append(f"{key} is empty")
            continue
        if _placeholders(text) != _placeholders(source):
            problems.append(
                f"{key}: placeholders {sorted(_placeholders(text))}"
                f" != {sorted(_placeholders(source))}"
            )
        if text == source and len(source.split()) > 3 and key not in SAME_AS_ENGLISH:
            problems.append(f"{key} is still English")
    assert not problems, f"{path.name}: " + "; ".join(problems)
    stale = sorted(SAME_AS_ENGLISH - english.keys())
    assert not stale, f"SAME_AS_ENGLISH names keys en.json lacks: {stale}"


@pytest.mark.freeze_time(NOW)
@pytest.mark.usefixtures("energy_sensors")
async def test_state_attributes_are_translated(
    hass: HomeAssistant,
    cost_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    entity_registry: er.EntityRegistry,
) -> None:
    """Every attribute our sensors show has a name under their translation key."""
    await setup_entry(hass, cost_entry, hass_storage)
    entries = er.async_entries_for_config_entry(entity_registry, cost_entry.entry_id)
    assert {entry.translation_key for entry in entries} == _entity_keys()
    checked = 0
    for entry in entries:
        state = hass.states.get(entry.entity_id)
        if entry.disabled_by is not None:
            continue
        assert state is not None
        if state.state == STATE_UNAVAILABLE:
            continue
        ours = set(state.attributes) - HA_ATTRIBUTES
        translated = STRINGS["entity"]["sensor"][entry.translation_key].get(
            "state_attributes", {}
        )
        assert ours <= set(translated), (entry.translation_key, ours - set(translated))
        checked += 1
    assert checked >= len(_entity_keys()) - 1
