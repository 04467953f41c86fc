"""Command line: ``python -m flatpeak_sandbox --port 8456 [--host H] [--state F]``."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .server import SandboxServer
from .state import Sandbox
from .tariff import Tariff

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence


def make_sandbox(state: Path | None) -> Sandbox:
    """Load the state file when it exists, else create a demo sandbox."""
    if state is not None and state.exists():
        sandbox = Sandbox.load(state, default_tariff=Tariff.demo_uk())
        if sandbox.demo_account is None:
            account = sandbox.add_account()
            sandbox.demo_account = account
            sandbox.demo_location_id = sandbox.add_location(
                account.account_id, tariff=Tariff.demo_uk()
            )
    else:
        sandbox = Sandbox.with_demo_account(default_tariff=Tariff.demo_uk())
    if state is not None:
        sandbox.on_change = lambda: sandbox.save(state)
        sandbox.save(state)
    return sandbox


def banner(server: SandboxServer) -> str:
    """Return the start-up text: URL and demo credentials."""
    sandbox = server.sandbox
    account = sandbox.demo_account
    lines = [f"Flatpeak sandbox listening on {server.url}"]
    if account is not None:
        lines += [
            f"account_id: {account.account_id}",
            f"api_key: {account.api_key}",
            f"location_id: {sandbox.demo_location_id}",
        ]
    lines.append("Press Ctrl-C to stop.")
    return "\n".join(lines)


async def serve(
    host: str,
    port: int,
    state: Path | None,
    *,
    stop: asyncio.Event | None = None,
    output: Callable[[str], None] = print,
) -> None:
    """Run the sandbox until ``stop`` is set (SIGINT/SIGTERM set it)."""
    stop = stop or asyncio.Event()
    sandbox = make_sandbox(state)
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    signals: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        try:
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - Windows
            pass
    try:
        async with SandboxServer(sandbox, host, port) as server:
            output(banner(server))
            await stop.wait()
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)
        if state is not None:
            sandbox.save(state)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and serve."""
    parser = argparse.ArgumentParser(
        prog="python -m flatpeak_sandbox", description="Local Flatpeak API sandbox."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8456)
    parser.add_argument("--state", type=Path, default=None, help="JSON state file")
    args = parser.parse_args(argv)

    def flush_print(text: str) -> None:
        print(text, flush=True)  # noqa: T201

    asyncio.run(serve(args.host, args.port, args.state, output=flush_print))
    return 0


if __name__ == "__main__":
    sys.exit(main())
