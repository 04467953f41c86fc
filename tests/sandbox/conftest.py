"""Fixtures of the sandbox's own tests."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp
import pytest

from .helpers import Api

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from flatpeak_sandbox import SandboxServer


@pytest.fixture(autouse=True)
def _sockets(socket_enabled: None) -> None:
    """Let every sandbox test open its server's listening socket."""


@pytest.fixture
async def api(sandbox: SandboxServer) -> AsyncGenerator[Api]:
    """Yield a logged-in client of the ``sandbox`` fixture."""
    async with aiohttp.ClientSession() as session:
        client = Api(session, sandbox)
        await client.login()
        yield client
