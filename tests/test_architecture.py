"""The code's cut: the module list of docs/architecture.md, sizes, no import circles."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).parents[1]
PACKAGE = REPO / "custom_components" / "flatpeak"
MAX_LINES = 400
# Home Assistant keeps every flow of an integration in config_flow.py.
LONG_ALLOWED = frozenset({"config_flow.py"})


def modules() -> dict[str, Path]:
    """Return the integration's modules by dotted name (`api.client`, `sensor`)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).with_suffix("")
        parts = [part for part in relative.parts if part != "__init__"]
        found[".".join(parts)] = path
    return found


def documented() -> set[str]:
    """Return the module files the architecture page lists (`api/x.py` for the api)."""
    text = (REPO / "docs" / "architecture.md").read_text()
    block = text.split("## Modules", 1)[1].split("```", 2)[1]
    names: set[str] = set()
    in_api = False
    for line in block.splitlines():
        if match := re.match(r"^(\s*)(\S+)", line):
            indent, name = len(match[1]), match[2]
            if name == "api/":
                in_api = True
                continue
            if indent <= 2:
                in_api = False
            if name.endswith(".py"):
                names.add(f"api/{name}" if in_api else name)
    return names


def test_the_page_lists_every_module() -> None:
    """docs/architecture.md names exactly the modules there are."""
    files = {str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py")}
    assert documented() == files


@pytest.mark.parametrize("name", sorted(modules()))
def test_no_module_is_too_long(name: str) -> None:
    """One concern per module: none over 400 lines (config_flow.py aside)."""
    path = modules()[name]
    if path.name in LONG_ALLOWED:
        return
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(REPO)} has {lines} lines"


def imports_of(name: str, path: Path) -> set[str]:
    """Return the package modules `name` imports, TYPE_CHECKING imports included.

    Names are dotted paths inside the package ("" is the package itself).
    """
    known = modules()
    parts = name.split(".") if name else []
    package = parts if path.name == "__init__.py" else parts[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.ImportFrom) or node.level == 0:
            continue
        base = package[: len(package) - (node.level - 1)]
        target = [*base, *(node.module.split(".") if node.module else [])]
        for alias in node.names:
            submodule = ".".join([*target, alias.name])
            found.add(submodule if submodule in known else ".".join(target))
    found.discard(name)
    return found


def import_graph() -> dict[str, set[str]]:
    """Return who imports whom; a package importing its own modules is left out."""
    graph = {name: imports_of(name, path) for name, path in modules().items()}
    return {
        name: {t for t in targets if not (name == "api" and t.startswith("api."))}
        for name, targets in graph.items()
    }


def test_no_import_circle() -> None:
    """No modules import each other in a circle (TYPE_CHECKING imports count too)."""
    graph = import_graph()
    assert "api" in graph["cost_coordinator"]
    assert "outbox_store" in graph["outbox"]
    circles: list[list[str]] = []
    state: dict[str, int] = {}
    trail: list[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        trail.append(name)
        for target in sorted(graph.get(name, ())):
            if state.get(target) == 1:
                circles.append([*trail[trail.index(target) :], target])
            elif target not in state:
                visit(target)
        trail.pop()
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)
    assert not circles, "\n".join(" -> ".join(circle) for circle in circles)


def test_the_client_and_pure_modules_import_no_home_assistant() -> None:
    """The client could be published alone; the pure modules test without HA."""
    pure = {
        "backoff",
        "metering",
        "sessions",
        "spans",
        "pending",
        "planner",
        "price_days",
        "windows",
        "sender",
    }
    offenders = []
    for name, path in modules().items():
        if not (name == "api" or name.startswith("api.") or name in pure):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import | ast.ImportFrom):
                module = getattr(node, "module", None) or ""
                names = [module] if module else [a.name for a in node.names]
                if any(n.split(".")[0] == "homeassistant" for n in names):
                    offenders.append(name)
    assert not offenders


def test_hacs_minimum_is_the_oldest_lane() -> None:
    """hacs.json's minimum Home Assistant is exactly the one the oldest lane tests."""
    hacs = json.loads((REPO / "hacs.json").read_text())
    pins = (REPO / "requirements_test.txt").read_text()
    pinned = re.search(r"^homeassistant==(\S+)$", pins, re.MULTILINE)
    assert pinned is not None
    assert hacs["homeassistant"] == pinned[1]
