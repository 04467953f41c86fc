"""Fixtures for the Flatpeak client tests: a plain aiohttp session and a client."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol

import aiohttp
import pytest

from custom_components.flatpeak.api import FlatpeakClient

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Callable

    from flatpeak_sandbox import SandboxServer


class ClientFactory(Protocol):
    """Build a client for a sandbox's demo account."""

    def __call__(
        self,
        server: SandboxServer | None = None,
        *,
        request_timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        api_key: str | None = None,
    ) -> FlatpeakClient:
        """Return a client (default: the `sandbox` fixture's demo account)."""


@pytest.fixture(autouse=True)
def _allow_sockets(socket_enabled: None) -> None:
    """Let these tests open loopback sockets (the HA test plugin blocks them)."""


@pytest.fixture
async def session() -> AsyncGenerator[aiohttp.ClientSession]:
    """Return an aiohttp session closed after the test."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def make_client(
    sandbox: SandboxServer, session: aiohttp.ClientSession
) -> ClientFactory:
    """Return a factory of clients for a sandbox's demo account."""

    def factory(
        server: SandboxServer | None = None,
        *,
        request_timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        api_key: str | None = None,
    ) -> FlatpeakClient:
        server = server or sandbox
        account = server.sandbox.demo_account
        assert account is not None
        return FlatpeakClient(
            session,
            account.account_id,
            api_key or account.api_key,
            base_url=server.url,
            request_timeout=request_timeout,
            clock=clock,
        )

    return factory


@pytest.fixture
def client(make_client: ClientFactory) -> FlatpeakClient:
    """Return a client for the sandbox's demo account."""
    return make_client()
