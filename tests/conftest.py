"""Fixtures shared by every test: the Flatpeak sandbox on a free loopback port."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import pytest

from flatpeak_sandbox import Sandbox, SandboxServer


@pytest.fixture
async def sandbox() -> AsyncGenerator[SandboxServer]:
    """Run a fresh Flatpeak sandbox with one demo account and location."""
    async with SandboxServer(Sandbox.with_demo_account()) as server:
        yield server
