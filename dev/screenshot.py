"""Screenshot the Flatpeak device pages of the dev instance with headless Chromium.

Run through ``scripts/screenshot`` while ``scripts/develop`` is running. If the dev
instance has no Flatpeak entry yet, it adds one (with an EV charger and solar panels)
through the same REST flows the UI uses, then waits for the cost sensors to get values.
Chromium is driven over the DevTools protocol with aiohttp, so nothing else is needed
beyond Debian's ``chromium`` package.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from dev import harness

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def ensure_entry(url: str, token: str, sandbox_url: str) -> str:
    """Return the Flatpeak entry id, adding the integration first if needed."""
    entries = harness.request(
        "GET", f"{url}/api/config/config_entries/entry", token=token
    )
    for entry in entries:
        if entry["domain"] == "flatpeak":
            return str(entry["entry_id"])
    info = harness.sandbox_info(sandbox_url)
    base = f"{url}/api/config/config_entries/flow"
    flow = harness.request(
        "POST",
        base,
        token=token,
        json_body={"handler": "flatpeak", "show_advanced_options": True},
    )
    steps: list[dict[str, Any]] = [
        {
            "account_id": info.account_id,
            "api_key": info.api_key,
            "api_url": info.url,
        },
        {"location_id": info.location_id},
        {"import_entity": "sensor.grid_import", "export_entity": "sensor.grid_export"},
    ]
    for step in steps:
        flow = harness.request(
            "POST", f"{base}/{flow['flow_id']}", token=token, json_body=step
        )
    entry_id = str(flow["result"]["entry_id"])
    devices = {
        "ev_charger": {
            "name": "EV charger",
            "energy_entity": "sensor.ev_charger_energy",
            "session_entity": "binary_sensor.ev_charger_session",
        },
        "solar": {"name": "Solar panels", "energy_entity": "sensor.solar_production"},
        "cheapest_window": {
            "name": "Dishwasher",
            "hours": 2,
            "earliest_start": "22:00:00",
            "latest_end": "07:00:00",
            "continuous": True,
        },
    }
    for subentry_type, data in devices.items():
        wait_loaded(url, token, entry_id)
        sub = harness.request(
            "POST",
            f"{url}/api/config/config_entries/subentries/flow",
            token=token,
            json_body={"handler": [entry_id, subentry_type]},
        )
        harness.request(
            "POST",
            f"{url}/api/config/config_entries/subentries/flow/{sub['flow_id']}",
            token=token,
            json_body=data,
        )
    wait_loaded(url, token, entry_id)
    return entry_id


def wait_loaded(url: str, token: str, entry_id: str, timeout: float = 60) -> None:
    """Wait until the entry is loaded (each subentry change reloads it)."""

    def loaded() -> bool | None:
        entries = harness.request(
            "GET", f"{url}/api/config/config_entries/entry", token=token
        )
        states = {e["entry_id"]: e["state"] for e in entries}
        return True if states.get(entry_id) == "loaded" else None

    time.sleep(1)
    harness.wait_for(loaded, timeout=timeout, what="the Flatpeak entry to load")


def location_device(url: str, token: str, entry_id: str) -> str:
    """Return the registry id of the entry's location device."""
    result = harness.ws_commands(url, token, [{"type": "config/device_registry/list"}])
    for device in result[0]["result"]:
        if entry_id in device["config_entries"] and device["via_device_id"] is None:
            return str(device["id"])
    msg = "the Flatpeak location device is missing"
    raise RuntimeError(msg)


async def capture(
    chromium: str,
    url: str,
    tokens: dict[str, Any],
    pages: list[tuple[str, Path]],
    size: tuple[int, int],
    settle: float,
) -> None:
    """Log the browser in (the frontend's stored tokens) and screenshot each page."""
    port = harness.free_port()
    with tempfile.TemporaryDirectory() as profile:
        process = await asyncio.create_subprocess_exec(
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--remote-debugging-port={port}",
            f"--window-size={size[0]},{size[1]}",
            "about:blank",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            async with aiohttp.ClientSession() as session:
                target = await _page_target(session, port)
                async with session.ws_connect(
                    target, max_msg_size=64 * 1024 * 1024
                ) as ws:
                    cdp = _Cdp(ws)
                    await cdp.call("Page.enable")
                    await cdp.navigate(f"{url}/auth/authorize")
                    stored = {
                        **tokens,
                        "hassUrl": url,
                        "clientId": harness.client_id(url),
                        "expires": int(time.time() * 1000)
                        + int(tokens["expires_in"]) * 1000,
                    }
                    await cdp.call(
                        "Runtime.evaluate",
                        expression=(
                            "localStorage.setItem('hassTokens', "
                            f"{json.dumps(json.dumps(stored))})"
                        ),
                    )
                    for path, out in pages:
                        await cdp.navigate(f"{url}{path}")
                        await asyncio.sleep(settle)
                        shot = await cdp.call("Page.captureScreenshot", format="png")
                        out.parent.mkdir(parents=True, exist_ok=True)
                        out.write_bytes(base64.b64decode(shot["data"]))
                        print(f"scripts/screenshot: wrote {out}")  # noqa: T201
        finally:
            process.terminate()
            await process.wait()


async def _page_target(session: aiohttp.ClientSession, port: int) -> str:
    for _ in range(100):
        try:
            async with session.get(f"http://127.0.0.1:{port}/json/list") as resp:
                for target in await resp.json():
                    if target["type"] == "page":
                        return str(target["webSocketDebuggerUrl"])
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    msg = "Chromium did not open its DevTools endpoint"
    raise RuntimeError(msg)


class _Cdp:
    """Minimal DevTools protocol client: numbered calls, events skipped."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._next = 0

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._next += 1
        await self._ws.send_json({"id": self._next, "method": method, "params": params})
        while True:
            message = await self._ws.receive_json()
            if message.get("id") == self._next:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result

    async def navigate(self, url: str) -> None:
        await self.call("Page.navigate", url=url)
        await asyncio.sleep(1)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, make sure the integration is set up, take the screenshots."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8123")
    parser.add_argument("--sandbox", default="http://127.0.0.1:8456")
    parser.add_argument("--user", default="dev")
    parser.add_argument("--password", default="dev")
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    parser.add_argument("--settle", type=float, default=8.0)
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    args = parser.parse_args(argv)

    if harness.http_answers(args.url) is not True:
        print(  # noqa: T201
            f"scripts/screenshot: nothing answers at {args.url}; "
            "start scripts/develop first",
            file=sys.stderr,
        )
        return 1
    tokens = harness.login_tokens(args.url, args.user, args.password)
    entry_id = ensure_entry(args.url, tokens["access_token"], args.sandbox)
    device_id = location_device(args.url, tokens["access_token"], entry_id)
    pages = [
        (f"/config/devices/device/{device_id}", args.out / "location-device.png"),
        ("/config/integrations/integration/flatpeak", args.out / "integration.png"),
    ]
    asyncio.run(
        capture(args.chromium, args.url, tokens, pages, (1280, 1000), args.settle)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
