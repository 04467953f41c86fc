"""The README's path through the real UI: Chromium, driven by Playwright.

A real Home Assistant with its own frontend and the Flatpeak sandbox, and Debian's
``chromium`` (Playwright's own browser download is not used). The user signs in to
Home Assistant, starts the setup in a tab and closes it half-way, signs in to
Flatpeak with a wrong key and then the right one, picks the location and the grid
meters, adds an EV charger and solar panels, picks the cost statistic in the energy
dashboard and performs an action. The test fails on a raw translation key on any
page, on a Flatpeak entity that goes unavailable while a device is added, and on a
console error of ours.

Screenshots go to ``$FLATPEAK_SCREENSHOTS`` (``scripts/screenshot`` points it at
``docs/images``, where the README takes them from), else to the test's temporary
directory. Without chromium, Playwright or the frontend package the test is skipped,
unless ``FLATPEAK_BROWSER=required`` (as in CI's oldest lane).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest

from dev.harness import REPO, hass_python, wait_for

from .conftest import (
    EV_ENERGY_ENTITY,
    EV_SESSION_ENTITY,
    EXPORT_ENTITY,
    IMPORT_ENTITY,
    PASSWORD,
    USERNAME,
    E2EHome,
    run_home,
)

if TYPE_CHECKING:
    from collections.abc import Generator, Iterator

    from playwright.sync_api import ConsoleMessage, Error, Locator, Page

LONDON = ZoneInfo("Europe/London")
SOLAR_ENTITY = "sensor.solar_production"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 860}
TIMEOUT_MS = 30_000


def _missing_requirement() -> str | None:
    """Say what this machine lacks for the browser test, if anything."""
    if shutil.which("chromium") is None:
        return "Debian's chromium is not installed (apt-get install chromium)"
    if importlib.util.find_spec("playwright") is None:
        return "Playwright is not installed in this environment"
    frontend = subprocess.run(  # noqa: S603
        [hass_python(), "-c", "import hass_frontend"],
        capture_output=True,
        check=False,
        timeout=60,
    )
    if frontend.returncode != 0:
        return "Home Assistant's frontend package is not installed"
    return None


@pytest.fixture(scope="module")
def browser_home(tmp_path_factory: pytest.TempPathFactory) -> Generator[E2EHome]:
    """Run Home Assistant with its real frontend, and the sandbox."""
    if (missing := _missing_requirement()) is not None:
        if os.environ.get("FLATPEAK_BROWSER") == "required":
            pytest.fail(f"the browser test cannot run: {missing}")
        pytest.skip(missing)
    yield from run_home(tmp_path_factory, frontend=True)


def _translation_keys() -> set[str]:
    """Every key of en.json with an underscore: shown as-is, it is a raw key."""
    keys: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if "_" in key:
                    keys.add(key)
                walk(value)

    path = REPO / "custom_components" / "flatpeak" / "translations" / "en.json"
    walk(json.loads(path.read_text(encoding="utf-8")))
    return keys


RAW_KEY = re.compile(
    r"component\.flatpeak\.|ui\.panel\.|(?<![\w.:/-])(?:"
    + "|".join(sorted(map(re.escape, _translation_keys()), key=len, reverse=True))
    + r")(?![\w.])"
)

# All text of the page, shadow roots included (the UI is web components).
PAGE_TEXT = """(selector) => {
  const parts = [];
  const walk = (node) => {
    if (node.shadowRoot) walk(node.shadowRoot);
    for (const child of node.childNodes) {
      if (child.nodeType === Node.TEXT_NODE) parts.push(child.textContent);
      else if (child.nodeName !== "STYLE" && child.nodeName !== "SCRIPT") walk(child);
    }
  };
  // The dialogs live in shadow roots: look through them for `selector`.
  const find = (node) => {
    if (node.nodeType === Node.ELEMENT_NODE && node.matches(selector)) return node;
    for (const child of [...(node.shadowRoot ? [node.shadowRoot] : []),
                         ...node.children]) {
      const found = find(child);
      if (found) return found;
    }
    return null;
  };
  const root = selector ? find(document.body) : document.body;
  if (root) walk(root);
  return parts.join(" ").replace(/\\s+/g, " ");
}"""

# A word of lower-case parts joined by underscores, not inside an entity id, a URL
# or an identifier: in a flow dialog, a key Home Assistant found no text for.
SNAKE_WORD = re.compile(r"(?<![\w.:/-])[a-z]+(?:_[a-z]+)+(?![\w.])")

HASS_READY = """() => {
  const root = document.querySelector("home-assistant");
  return Boolean(root && root.hass && root.hass.connected && root.hass.entities);
}"""

# Record every Flatpeak entity that goes from a state to unavailable.
WATCH_UNAVAILABLE = """async () => {
  const hass = document.querySelector("home-assistant").hass;
  window.flatpeakDrops = [];
  window.flatpeakUnwatch = await hass.connection.subscribeEvents((event) => {
    const { entity_id, old_state, new_state } = event.data;
    const entity = document.querySelector("home-assistant").hass.entities[entity_id];
    if (entity && entity.platform === "flatpeak" && old_state && new_state
        && old_state.state !== "unavailable" && new_state.state === "unavailable") {
      window.flatpeakDrops.push(entity_id);
    }
  }, "state_changed");
  const root = document.querySelector("home-assistant").hass;
  return Object.values(root.entities).filter((entity) => entity.platform === "flatpeak"
    && root.states[entity.entity_id]
    && root.states[entity.entity_id].state !== "unavailable").length;
}"""

FLATPEAK_ENTITIES = """() => Object.values(
    document.querySelector("home-assistant").hass.entities
  ).filter((entity) => entity.platform === "flatpeak")
  .map((entity) => entity.entity_id)"""

ENTRY_ID = """async () => {
  const hass = document.querySelector("home-assistant").hass;
  const entries = await hass.callWS({type: "config_entries/get", domain: "flatpeak"});
  return entries.map((entry) => entry.entry_id);
}"""


def _frontend_noise(text: str, where: str) -> bool:
    """Tell the frontend's own errors, with no Flatpeak part, from ours."""
    # Only loopback is reachable: brand images from brands.home-assistant.io (ours
    # too: Home Assistant 2025.4 does not serve a custom integration's brand/
    # folder; newer releases do, through their brands integration) fail to load.
    if "ERR_NAME_NOT_RESOLVED" in text and "127.0.0.1" not in where:
        return True
    return "flatpeak" not in f"{text} {where}".lower() and (
        # Brand images of the other integrations (newer releases serve them through
        # /api/brands/, from brands.home-assistant.io).
        "/api/brands/" in where
        # Source maps of the frontend's libraries, asked for by error stacks.
        or "/unknown/src/" in where
        # Home Assistant 2025.4's integration chooser: its list, keyed by domain,
        # sometimes renders a removed item while the search narrows it.
        or ("reading 'domain'" in text and "_keyFunction" in where)
    )


@dataclass
class Browser:
    """One signed-in browser context on the test's Home Assistant."""

    home: E2EHome
    page: Page
    shots: Path
    console_errors: list[str] = field(default_factory=list)
    flow_texts: list[str] = field(default_factory=list)  # each flow dialog checked

    def watch(self, page: Page) -> None:
        """Keep the console errors and uncaught exceptions of a page."""

        def console(message: ConsoleMessage) -> None:
            url = message.location.get("url", "")
            if message.type == "error" and not _frontend_noise(message.text, url):
                self.console_errors.append(f"{message.text} ({url})")

        def page_error(error: Error) -> None:
            if not _frontend_noise(str(error), error.stack or ""):
                self.console_errors.append(f"{error}: {error.stack}")

        page.on("console", console)
        page.on("pageerror", page_error)
        # Newer releases ask to confirm HTTP settings that configuration.yaml changed
        # (the test's port): confirm, whenever the dialog shows up.
        confirm = page.locator("dialog-http-pending-config").get_by_role(
            "button", name="Confirm"
        )
        page.add_locator_handler(confirm, lambda button: button.click())

    def goto(self, path: str, page: Page | None = None) -> None:
        """Open a Home Assistant page; wait for the frontend's connection."""
        page = page or self.page
        page.goto(f"{self.home.url}{path}")
        if not path.startswith("/auth") and path != "/":
            page.wait_for_function(HASS_READY)

    def text(self, page: Page | None = None) -> str:
        """Return all text of the page."""
        text: str = (page or self.page).evaluate(PAGE_TEXT, None)
        return text

    def check_text(self, page: Page | None = None) -> str:
        """Fail on a raw translation key on the page; return its text."""
        text = self.text(page)
        raw = {match.group(0) for match in RAW_KEY.finditer(text)}
        # A key missing from en.json: any snake_case word in a flow dialog.
        flow: str = (page or self.page).evaluate(PAGE_TEXT, "dialog-data-entry-flow")
        self.flow_texts.append(flow)
        raw |= {match.group(0) for match in SNAKE_WORD.finditer(flow)}
        assert not raw, f"raw translation keys on the page: {sorted(raw)} in {text}"
        return text

    def shot(self, name: str) -> None:
        """Save a screenshot of the page."""
        self.page.screenshot(path=self.shots / name)


def sign_in(browser: Browser, page: Page) -> None:
    """Log in to Home Assistant through its login page (unless still logged in)."""
    browser.goto("/", page)
    username = page.get_by_role("textbox", name="Username")
    page.wait_for_function(
        f"() => location.pathname.startsWith('/auth') || ({HASS_READY})()"
    )
    if not page.url.startswith(f"{browser.home.url}/auth"):
        return
    username.fill(USERNAME)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_function(HASS_READY)


def dialog(page: Page) -> Locator:
    """Return the open flow dialog."""
    return page.locator("dialog-data-entry-flow")


def finish_button(page: Page) -> Locator:
    """Return the button that closes a finished flow ("Finish", "Skip and finish")."""
    return dialog(page).get_by_role("button", name=re.compile("finish", re.IGNORECASE))


def submit(page: Page) -> None:
    """Press the flow dialog's submit button."""
    dialog(page).get_by_role("button", name="Submit").click()


def options(page: Page) -> Locator:
    """Return the visible options of the open picker (or of any list box)."""
    return page.get_by_role("option").filter(visible=True)


# True when the keyboard's focus is in a text field (through shadow roots).
TYPING_FOCUS = """() => {
  let active = document.activeElement;
  while (active && active.shadowRoot && active.shadowRoot.activeElement) {
    active = active.shadowRoot.activeElement;
  }
  return Boolean(active) && ["INPUT", "TEXTAREA"].includes(active.tagName);
}"""


def type_in_picker(page: Page, picker: Locator, text: str) -> None:
    """Open a picker and type into its search field.

    Newer releases open a search field only after the click; typed too early, a
    letter would be one of Home Assistant's keyboard shortcuts.
    """
    picker.click()
    page.wait_for_function(TYPING_FOCUS)
    page.keyboard.type(text)


# The simulated home's meters as the pickers list them (newer releases show the
# name only, not the entity id).
ENTITY_NAMES = {
    IMPORT_ENTITY: "Grid import",
    EXPORT_ENTITY: "Grid export",
    EV_ENERGY_ENTITY: "EV charger energy",
    EV_SESSION_ENTITY: "EV charger session",
    SOLAR_ENTITY: "Solar production",
}


def pick(page: Page, picker: Locator, value: str) -> None:
    """Choose `value` (an entity id or a statistic's name) in a picker."""
    type_in_picker(page, picker, value)
    options(page).filter(has_text=ENTITY_NAMES.get(value, value)).first.click()


def combo_options(page: Page, containing: str) -> list[str]:
    """Return the texts of the open picker's options that contain `containing`."""
    page.wait_for_timeout(500)  # the list filters as the user types
    texts: list[str] = options(page).all_inner_texts()
    texts = [" ".join(text.split()) for text in texts]
    return [text for text in texts if containing.lower() in text.lower()]


def start_setup(browser: Browser, page: Page) -> None:
    """Open Settings > Devices & services > Add integration > Flatpeak."""
    browser.goto("/config/integrations/dashboard", page)
    page.get_by_role("button", name="Add integration").click()
    chooser = page.locator("dialog-add-integration")
    chooser.get_by_role("textbox").first.fill("Flatpeak")
    chooser.get_by_text("Flatpeak", exact=True).first.click()
    dialog(page).get_by_role("textbox", name="Account ID").wait_for()


def sign_in_to_flatpeak(page: Page, home: E2EHome, api_key: str) -> None:
    """Fill the sign-in step (the API address is in the Advanced section)."""
    form = dialog(page)
    form.get_by_role("textbox", name="Account ID").fill(home.sandbox.account_id)
    form.get_by_role("textbox", name="API key").fill(api_key)
    address = form.get_by_role("textbox", name="API address")
    if not address.is_visible():
        form.get_by_text("Advanced", exact=True).click()
    address.fill(home.sandbox.url)
    submit(page)


def to_grid_step(browser: Browser, page: Page) -> None:
    """Sign in with the right key and keep the location: the grid step shows."""
    sign_in_to_flatpeak(page, browser.home, browser.home.sandbox.api_key)
    dialog(page).get_by_text("Choose the location").wait_for()
    browser.check_text(page)
    submit(page)
    dialog(page).get_by_text("Grid meters").wait_for()


@contextmanager
def no_entity_drops(browser: Browser) -> Iterator[None]:
    """Fail when a Flatpeak entity goes unavailable inside the block."""
    page = browser.page
    available = page.evaluate(WATCH_UNAVAILABLE)
    # Something to lose: at least the location's four cost sensors have values.
    assert available >= 4, f"only {available} Flatpeak entities have a state"
    yield
    # A reload of the entry would turn every entity unavailable within seconds.
    page.wait_for_timeout(4000)
    drops = page.evaluate("() => window.flatpeakDrops")
    page.evaluate("() => window.flatpeakUnwatch()")
    assert drops == [], f"entities went unavailable while a device was added: {drops}"


def add_device(browser: Browser, menu_item: str, fill: dict[str, str]) -> None:
    """Add a device from the hub's menu on the integration page."""
    page = browser.page
    browser.goto("/config/integrations/integration/flatpeak")
    before = set(page.evaluate(FLATPEAK_ENTITIES))
    with no_entity_drops(browser):
        # A button of the integration page in newer releases; before, an item of
        # the hub's ⋮ menu.
        button = page.get_by_role("button", name=menu_item)
        page.get_by_role("heading", name="Hubs").or_(
            page.get_by_text("Hubs")
        ).first.wait_for()
        if button.count():
            button.first.click()
        else:
            page.locator("ha-md-button-menu").locator("ha-icon-button").first.click()
            page.get_by_role("menuitem", name=menu_item).click()
        form = dialog(page)
        form.get_by_role("textbox", name="Name").wait_for()
        browser.check_text()
        for label, value in fill.items():
            if label == "Name":
                form.get_by_role("textbox", name="Name").fill(value)
            else:
                pick(page, form.locator("ha-entity-picker").nth(int(label)), value)
        submit(page)
        finish = finish_button(page)
        finish.wait_for()
        browser.check_text()
        finish.click()
        page.wait_for_function(
            f"() => ({FLATPEAK_ENTITIES})().length > {len(before)}", timeout=TIMEOUT_MS
        )


@pytest.fixture
def browser(browser_home: E2EHome, tmp_path: Path) -> Generator[Browser]:
    """Give a headless Chromium with one page; fail on console errors of ours."""
    from playwright.sync_api import sync_playwright

    shots = Path(os.environ.get("FLATPEAK_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=shutil.which("chromium"), args=CHROMIUM_FLAGS
        )
        context = chromium.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        browser = Browser(browser_home, page, shots)
        browser.watch(page)
        try:
            yield browser
        finally:
            chromium.close()
    assert browser.console_errors == [], "\n".join(browser.console_errors)


def test_the_readme_path_in_a_browser(browser: Browser) -> None:
    """Sign-in, location, grid, EV charger, solar, energy dashboard, an action."""
    home, page = browser.home, browser.page
    sign_in(browser, page)
    entry_id = set_up_entry(browser)

    # The location's costs arrive (and then must not go away while devices are added).
    def costs_known() -> bool | None:
        states = {s["entity_id"]: s["state"] for s in home.get("/api/states")}
        today = states.get("sensor.flatpeak_1_test_street_london_import_cost_today")
        return None if today in (None, "unavailable", "unknown") else True

    wait_for(costs_known, timeout=90, what="the location's cost sensors")
    add_device(
        browser,
        "Add EV charger",
        {"Name": "EV charger", "0": EV_ENERGY_ENTITY, "1": EV_SESSION_ENTITY},
    )
    add_device(browser, "Add solar panels", {"Name": "Solar panels", "0": SOLAR_ENTITY})

    browser.goto("/config/integrations/integration/flatpeak")
    page.get_by_text("EV charger", exact=True).first.wait_for()
    page.get_by_text("Solar panels", exact=True).first.wait_for()
    browser.check_text()
    browser.shot("integration.png")

    device_id = page.evaluate(
        """(name) => Object.values(
          document.querySelector("home-assistant").hass.devices
        ).find((device) => device.name === name).id""",
        "Flatpeak 1 Test Street, London",
    )
    browser.goto(f"/config/devices/device/{device_id}")
    page.get_by_text("Import cost today").first.wait_for()
    browser.check_text()
    browser.shot("location-device.png")

    # The flow dialogs were read (the check of their words did not run on nothing).
    assert any("Flatpeak refused" in text for text in browser.flow_texts)
    energy_dashboard(browser)
    action_with_answer(browser, entry_id)


def set_up_entry(browser: Browser) -> str:
    """Abandon a setup, then set up the entry: a wrong key, then the right one."""
    home, page = browser.home, browser.page
    # A setup abandoned at the grid step (the tab closed) does not block a new one.
    other = page.context.new_page()
    browser.watch(other)
    sign_in(browser, other)
    start_setup(browser, other)
    to_grid_step(browser, other)
    other.close()

    # A wrong key: a translated error, and what the user typed stays.
    start_setup(browser, page)
    browser.check_text()
    sign_in_to_flatpeak(page, home, "sk_test_not_this_one")
    form = dialog(page)
    form.get_by_text("Flatpeak refused the account ID or API key.").wait_for()
    assert form.get_by_role("textbox", name="API key").input_value() == (
        "sk_test_not_this_one"
    )
    assert form.get_by_role("textbox", name="Account ID").input_value() == (
        home.sandbox.account_id
    )
    browser.check_text()
    browser.shot("setup-sign-in.png")

    to_grid_step(browser, page)
    pick(page, form.locator("ha-entity-picker").nth(0), IMPORT_ENTITY)
    pick(page, form.locator("ha-entity-picker").nth(1), EXPORT_ENTITY)
    browser.check_text()
    submit(page)
    finish = finish_button(page)
    finish.wait_for()
    text = browser.check_text()
    assert "Flatpeak import cost (energy dashboard)" in text, text
    browser.shot("setup-done.png")
    finish.click()
    (entry_id,) = page.evaluate(ENTRY_ID)

    return str(entry_id)


def pick_statistic(
    browser: Browser,
    settings: Locator,
    choice: str | re.Pattern[str],
    statistic: str,
    shot: str | None = None,
) -> None:
    """Choose `choice` (a radio) and, in the picker it shows, `statistic`."""
    page = browser.page
    pickers = settings.locator("ha-statistic-picker")
    count = pickers.count()
    settings.get_by_role("radio", name=choice).click()
    type_in_picker(page, pickers.nth(count), "Flatpeak")  # the picker it shows
    offered = combo_options(page, "Flatpeak")
    assert any(option.startswith(statistic) for option in offered), offered
    if shot is not None:
        browser.shot(shot)  # the picker open, its options shown
    options(page).filter(has_text=statistic).first.click()


def energy_dashboard(browser: Browser) -> None:
    """Pick the cost and compensation statistics, offered under their names.

    Newer releases configure one grid connection (import, export, costs) in one
    dialog; older ones a consumption and a return of their own.
    """
    page = browser.page
    browser.goto("/config/energy")
    add = page.get_by_role("button", name="Add grid connection")
    either = add.or_(page.get_by_role("button", name="Add consumption")).first
    either.wait_for()
    one_dialog = add.count() > 0
    either.click()
    settings = page.locator(
        "dialog-energy-grid-settings, dialog-energy-grid-flow-settings"
    )
    pickers = settings.locator("ha-statistic-picker")
    # Solar panels' "energy sent today" is no meter: not offered as grid import.
    type_in_picker(page, pickers.first, "Solar")
    offered = combo_options(page, "Solar")
    assert any(ENTITY_NAMES[SOLAR_ENTITY] in option for option in offered), offered
    assert not any("sent today" in option for option in offered), offered
    page.keyboard.press("Control+a")
    page.keyboard.type(IMPORT_ENTITY)
    options(page).filter(has_text=ENTITY_NAMES[IMPORT_ENTITY]).first.click()
    import_cost = "Flatpeak import cost (energy dashboard), 1 Test Street, London"
    export_value = "Flatpeak export value (energy dashboard), 1 Test Street, London"
    costs = "Use an entity tracking the total costs"
    pick_statistic(browser, settings, costs, import_cost, "energy-cost-picker.png")
    save = settings.get_by_role("button", name="Save")
    # "… the total received money" before 2026, "… the total compensation" since.
    received = re.compile(r"^Use an entity tracking the total (received|compensation)")
    if not one_dialog:  # the return to grid has a dialog of its own
        from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

        save.click()
        save.wait_for(state="hidden")
        page.get_by_text(ENTITY_NAMES[IMPORT_ENTITY]).first.wait_for()  # listed
        # A click while the closed dialog still fades out can be lost: again then.
        returns = settings.get_by_role("radio", name=received)
        for _ in range(3):
            page.get_by_role("button", name="Add return").click()
            with contextlib.suppress(PlaywrightTimeoutError):
                returns.first.wait_for(timeout=5000)
                break
    export_picker = pickers.nth(1) if one_dialog else pickers.first
    pick(page, export_picker, EXPORT_ENTITY)
    pick_statistic(browser, settings, received, export_value)
    save.click()
    save.wait_for(state="hidden")
    browser.check_text()
    location = browser.home.sandbox.location_id.lower()
    prefs = page.evaluate(
        """() => document.querySelector("home-assistant").hass.callWS(
          {type: "energy/get_prefs"})"""
    )
    (grid,) = [s for s in prefs["energy_sources"] if s["type"] == "grid"]
    (consumption,) = grid.get("flow_from") or [grid]
    (production,) = grid.get("flow_to") or [grid]
    assert consumption["stat_energy_from"] == IMPORT_ENTITY, grid
    assert consumption["stat_cost"] == f"flatpeak:{location}_import_cost", grid
    assert production["stat_energy_to"] == EXPORT_ENTITY, grid
    assert production["stat_compensation"] == f"flatpeak:{location}_export_value", grid


def action_with_answer(browser: Browser, entry_id: str) -> None:
    """Developer tools > Actions: get_prices in YAML mode shows its response."""
    page = browser.page
    browser.goto("/developer-tools/action")
    # "Go to YAML mode" before 2026; a "UI mode | YAML mode" switch since.
    yaml_mode = (
        page.get_by_role("button", name="Go to YAML mode")
        .or_(page.get_by_role("button", name="YAML mode", exact=True))
        .or_(page.get_by_role("radio", name="YAML mode"))
    )
    yaml_mode.first.click()
    page.locator(".cm-content").first.click()
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    today = datetime.now(LONDON).date()
    page.keyboard.insert_text(
        "action: flatpeak.get_prices\n"
        "data:\n"
        f"  config_entry_id: {entry_id}\n"
        f'  start: "{today} 00:00:00"\n'
        f'  end: "{today} 06:00:00"\n'
    )
    page.get_by_role("button", name="Perform action").click()
    response = page.locator("ha-card").filter(has_text="Response")
    response.get_by_text("location_timezone").wait_for()
    # The page lists the fields by their keys (config_entry_id, ...) by design:
    # check the action's translated name and descriptions instead.
    text = browser.text()
    combobox = page.locator("ha-service-picker").get_by_role("combobox")
    if combobox.count():  # the picked action is an input's value before 2026
        text += " " + combobox.first.input_value()
    assert "Get prices" in text, text  # "Flatpeak: Get prices" before 2026
    assert "The Flatpeak entry (location) to ask." in text, text
    # The response is YAML in a code editor: each token a text node of its own.
    assert re.search(r"currency\s*:\s*GBP", text), text
    assert re.search(r"periods\s*:\s*-\s*start\s*:", text), text
    browser.shot("action-response.png")
