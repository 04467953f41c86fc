"""Helpers for the sandbox's own tests: a plain aiohttp client and sample records."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flatpeak_sandbox import API_VERSION, SandboxServer

if TYPE_CHECKING:
    import aiohttp


def basic_auth(login: str, password: str) -> dict[str, str]:
    """Return an HTTP Basic Authorization header (aiohttp's BasicAuth is deprecated)."""
    token = base64.b64encode(f"{login}:{password}".encode()).decode("ascii")
    return {"Authorization": f"Basic {token}"}


@dataclass
class Api:
    """A plain aiohttp client bound to a sandbox, logged in as the demo account."""

    session: aiohttp.ClientSession
    server: SandboxServer
    token: str = ""

    @property
    def headers(self) -> dict[str, str]:
        """Return bearer and version headers."""
        return {
            "Authorization": f"Bearer {self.token}",
            "Flatpeak-Version": API_VERSION,
        }

    async def login(self) -> str:
        """Log in as the demo account and keep the token."""
        account = self.server.sandbox.demo_account
        assert account is not None
        async with self.session.get(
            f"{self.server.url}/login",
            headers=basic_auth(account.account_id, account.api_key),
        ) as resp:
            assert resp.status == 200
            self.token = (await resp.json())["bearer_token"]
        return self.token

    async def call(
        self, method: str, path: str, json: Any = None, **kwargs: Any
    ) -> tuple[int, Any]:
        """Send an API call; return the status and the decoded JSON (or text)."""
        merged = {**self.headers, **kwargs.pop("headers", {})}
        headers = {k: v for k, v in merged.items() if v is not None}
        async with self.session.request(
            method, f"{self.server.url}{path}", json=json, headers=headers, **kwargs
        ) as resp:
            try:
                body = await resp.json(content_type=None)
            except ValueError:
                body = await resp.text()
            return resp.status, body

    async def admin(self, method: str, path: str, json: Any = None) -> tuple[int, Any]:
        """Send an admin call (no auth)."""
        async with self.session.request(
            method, f"{self.server.url}/_sandbox{path}", json=json
        ) as resp:
            return resp.status, await resp.json(content_type=None)


def record(location_id: str, /, **overrides: Any) -> dict[str, Any]:
    """Return a valid interval record (1 kWh import, 2024-01-10 04:00-05:00Z)."""
    data: dict[str, Any] = {
        "location_id": location_id,
        "energy_flow_direction": "INBOUND",
        "tariff_direction": "IMPORT",
        "units": "KWH",
        "value": 1,
        "start_time": "2024-01-10T04:00:00Z",
        "end_time": "2024-01-10T05:00:00Z",
    }
    data.update(overrides)
    return data
