"""Command line: ``python -m flatpeak_sandbox --port 8456 [--host H] [--state F]``.

``--tariff agile [--agile-seed N]`` puts the demo location on the Agile-style
dynamic tariff (:meth:`Tariff.agile_uk`) and makes it the tariff of locations
created through the API; ``--tariff tou`` the demo time-of-use tariff. Without
``--tariff`` a new sandbox uses the time-of-use tariff and a loaded state file
keeps the tariffs it holds.
"""

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


def demo_tariff(kind: str | None, seed: int = 0) -> Tariff | None:
    """Return the tariff of a ``--tariff`` choice (None when not given)."""
    match kind:
        case None:
            return None
        case "agile":
            return Tariff.agile_uk(seed)
        case "tou":
            return Tariff.demo_uk()
        case _:
            raise ValueError(f"unknown tariff kind {kind!r}")


def make_sandbox(state: Path | None, tariff: Tariff | None = None) -> Sandbox:
    """Load the state file when it exists, else create a demo sandbox.

    ``tariff`` (``--tariff``), when given, is the demo location's tariff (also in
    a loaded state) and the default tariff of API-created locations; else the
    demo time-of-use tariff is the default and a loaded state keeps its tariffs.
    """
    default = tariff or Tariff.demo_uk()
    if state is not None and state.exists():
        sandbox = Sandbox.load(state, default_tariff=default)
        if sandbox.demo_account is None:
            account = sandbox.add_account()
            sandbox.demo_account = account
            sandbox.demo_location_id = sandbox.add_location(
                account.account_id, tariff=default
            )
        elif tariff is not None and sandbox.demo_location_id in sandbox.locations:
            sandbox.set_tariff(sandbox.demo_location_id, tariff)
    else:
        sandbox = Sandbox.with_demo_account(tariff=default, default_tariff=default)
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
    tariff: Tariff | None = None,
    stop: asyncio.Event | None = None,
    output: Callable[[str], None] = print,
) -> None:
    """Run the sandbox until ``stop`` is set (SIGINT/SIGTERM set it)."""
    stop = stop or asyncio.Event()
    sandbox = make_sandbox(state, tariff)
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
    parser.add_argument(
        "--tariff",
        choices=("tou", "agile"),
        default=None,
        help="tariff of the demo location and of API-created locations "
        "(default: tou; a loaded state file keeps its tariffs)",
    )
    parser.add_argument(
        "--agile-seed", type=int, default=0, help="seed of the agile prices"
    )
    args = parser.parse_args(argv)

    def flush_print(text: str) -> None:
        print(text, flush=True)  # noqa: T201

    tariff = demo_tariff(args.tariff, args.agile_seed)
    asyncio.run(
        serve(args.host, args.port, args.state, tariff=tariff, output=flush_print)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
