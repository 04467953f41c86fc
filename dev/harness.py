"""Start and drive a real Home Assistant and the Flatpeak sandbox as subprocesses.

Used by ``scripts/develop`` (onboarding of the dev instance) and by the
end-to-end tests. Standard library only, synchronous, no threads: it runs under
pytest-homeassistant-custom-component, which fails a test that leaves a thread
behind. The websocket helper runs aiohttp on a private event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Self

import aiohttp

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

REPO = Path(__file__).resolve().parents[1]
STOP_TIMEOUT = 30.0


class HttpError(Exception):
    """An HTTP answer other than 2xx."""

    def __init__(self, method: str, url: str, status: int, body: str) -> None:
        """Keep the status and body for the caller's assertion message."""
        super().__init__(f"{method} {url} -> {status}: {body[:500]}")
        self.status = status
        self.body = body


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Return True when something accepts connections on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def request(
    method: str,
    url: str,
    *,
    token: str | None = None,
    json_body: Any = None,
    form: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> Any:
    """Send one HTTP request; return the decoded JSON body (or the text)."""
    headers: dict[str, str] = {}
    data: bytes | None = None
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if json_body is not None:
        data = json.dumps(json_body).encode()
        headers["Content-Type"] = "application/json"
    elif form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    req = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:  # noqa: S310
            text = response.read().decode()
    except urllib.error.HTTPError as err:
        raise HttpError(method, url, err.code, err.read().decode()) from None
    try:
        return json.loads(text) if text else None
    except json.JSONDecodeError:
        return text


def wait_for[T](
    probe: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    alive: Callable[[], str | None] | None = None,
    interval: float = 0.25,
) -> T:
    """Call ``probe`` until it returns a value (errors count as not yet).

    ``alive`` returns a message when a process the wait depends on has died,
    which ends the wait at once instead of at the timeout.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        if alive is not None and (dead := alive()) is not None:
            raise RuntimeError(f"{what}: {dead}")
        try:
            result = probe()
        except (OSError, HttpError) as err:
            last_error = err
            result = None
        if result is not None:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"{what}: not ready after {timeout:.0f} s ({last_error})"
            )
        time.sleep(interval)


@dataclass
class ManagedProcess:
    """A child process in its own process group, with its output in a file."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    _log: IO[bytes] = field(repr=False)

    @classmethod
    def start(
        cls, name: str, args: Sequence[str], log_path: Path, cwd: Path = REPO
    ) -> Self:
        """Start ``args`` with stdout and stderr going to ``log_path``."""
        log = log_path.open("wb")
        try:
            popen = subprocess.Popen(  # noqa: S603
                list(args),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except BaseException:
            log.close()
            raise
        return cls(name, popen, log_path, log)

    def died(self) -> str | None:
        """Return a message with the end of the log if the process has exited."""
        code = self.popen.poll()
        if code is None:
            return None
        return f"{self.name} exited with {code}; end of its log:\n{self.log_tail()}"

    def log_tail(self, lines: int = 60) -> str:
        """Return the last lines of the process's output."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """Stop the whole process group: SIGTERM, then SIGKILL after ``timeout``."""
        try:
            if self.popen.poll() is None:
                self._signal(signal.SIGTERM)
                try:
                    self.popen.wait(timeout)
                except subprocess.TimeoutExpired:
                    self._signal(signal.SIGKILL)
                    self.popen.wait(10)
            # Children left behind in the group (none expected) go too.
            self._signal(signal.SIGKILL)
        finally:
            self._log.close()
        return self.popen.returncode

    def _signal(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)


# -- the Flatpeak sandbox ----------------------------------------------------


@dataclass(frozen=True)
class SandboxInfo:
    """Where the sandbox listens and its demo account."""

    url: str
    account_id: str
    api_key: str
    location_id: str


def start_sandbox(port: int, state_file: Path, log_path: Path) -> ManagedProcess:
    """Start ``python -m flatpeak_sandbox`` on 127.0.0.1:``port``."""
    return ManagedProcess.start(
        "Flatpeak sandbox",
        [
            sys.executable,
            "-m",
            "flatpeak_sandbox",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--state",
            str(state_file),
        ],
        log_path,
    )


def sandbox_info(url: str) -> SandboxInfo:
    """Read the demo account from the sandbox's admin endpoint."""
    state = request("GET", f"{url}/_sandbox/state", timeout=5)
    account_id = state["demo_account_id"]
    keys = {a["account_id"]: a["api_key"] for a in state["accounts"]}
    return SandboxInfo(url, account_id, keys[account_id], state["demo_location_id"])


def wait_for_sandbox(
    process: ManagedProcess, url: str, timeout: float = 30
) -> SandboxInfo:
    """Wait until the sandbox answers; return its demo account."""
    return wait_for(
        lambda: sandbox_info(url),
        timeout=timeout,
        what="Flatpeak sandbox",
        alive=process.died,
    )


# -- Home Assistant ----------------------------------------------------------


def hass_python() -> str:
    """Return the Python that runs Home Assistant.

    ``FLATPEAK_HASS_PYTHON`` names another environment's interpreter (the
    current-HA test lane sets it); by default it is this one.
    """
    return os.environ.get("FLATPEAK_HASS_PYTHON") or sys.executable


def start_hass(
    config_dir: Path, log_path: Path, *, skip_pip: bool = False
) -> ManagedProcess:
    """Start a real Home Assistant on ``config_dir``."""
    args = [hass_python(), "-m", "homeassistant", "--config", str(config_dir)]
    if skip_pip:
        args.append("--skip-pip")
    return ManagedProcess.start("Home Assistant", args, log_path, cwd=config_dir)


def wait_for_hass_http(process: ManagedProcess, url: str, timeout: float = 120) -> None:
    """Wait until Home Assistant's HTTP server answers (onboarding is up)."""
    wait_for(
        lambda: request("GET", f"{url}/api/onboarding", timeout=5),
        timeout=timeout,
        what="Home Assistant HTTP",
        alive=process.died,
    )


def wait_for_hass_running(
    process: ManagedProcess | None, url: str, token: str, timeout: float = 120
) -> None:
    """Wait until Home Assistant has finished starting (core state RUNNING)."""
    wait_for(
        lambda: _running(url, token),
        timeout=timeout,
        what="Home Assistant start",
        alive=None if process is None else process.died,
    )


def client_id(url: str) -> str:
    """Return the OAuth client id of a browser on ``url``."""
    return f"{url}/"


def onboarding_done(url: str) -> bool:
    """Return True when the owner user exists (call once HTTP is up)."""
    try:
        steps = request("GET", f"{url}/api/onboarding", timeout=5)
    except HttpError as err:
        # The onboarding views exist only until onboarding is finished.
        if err.status == HTTPStatus.NOT_FOUND:
            return True
        raise
    return all(step["done"] for step in steps if step["step"] == "user")


def http_answers(url: str) -> bool | None:
    """Return True once anything answers HTTP on ``url`` (any status)."""
    try:
        request("GET", url, timeout=5)
    except HttpError:
        return True
    except OSError:
        return None
    return True


def preseed_onboarding(config_dir: Path) -> None:
    """Mark every onboarding step but the owner user done, before the first start.

    The core_config step of the onboarding API would also set up integrations
    that need the internet (met, radio_browser, google_translate).
    """
    path = config_dir / ".storage" / "onboarding"
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "version": 4,
                "minor_version": 1,
                "key": "onboarding",
                "data": {"done": ["core_config", "analytics", "integration"]},
            },
            indent=2,
        ),
        encoding="utf-8",
    )


def onboard(url: str, username: str, password: str, name: str = "Developer") -> str:
    """Create the owner user (onboarding's first step); return an access token."""
    created = request(
        "POST",
        f"{url}/api/onboarding/users",
        json_body={
            "client_id": client_id(url),
            "name": name,
            "username": username,
            "password": password,
            "language": "en",
        },
    )
    return _token_from_code(url, created["auth_code"])


def login(url: str, username: str, password: str) -> str:
    """Log in through the login flow as a browser does; return an access token."""
    token: str = login_tokens(url, username, password)["access_token"]
    return token


def login_tokens(url: str, username: str, password: str) -> dict[str, Any]:
    """Log in as a browser does; return the token response (access + refresh)."""
    flow = request(
        "POST",
        f"{url}/auth/login_flow",
        json_body={
            "client_id": client_id(url),
            "handler": ["homeassistant", None],
            "redirect_uri": f"{url}/",
        },
    )
    result = request(
        "POST",
        f"{url}/auth/login_flow/{flow['flow_id']}",
        json_body={
            "client_id": client_id(url),
            "username": username,
            "password": password,
        },
    )
    if result.get("type") != "create_entry":
        raise HttpError("POST", f"{url}/auth/login_flow", 200, json.dumps(result))
    return _tokens_from_code(url, result["result"])


def _token_from_code(url: str, code: str) -> str:
    token: str = _tokens_from_code(url, code)["access_token"]
    return token


def _tokens_from_code(url: str, code: str) -> dict[str, Any]:
    tokens: dict[str, Any] = request(
        "POST",
        f"{url}/auth/token",
        form={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": client_id(url),
        },
    )
    return tokens


def ws_commands(
    url: str, token: str, commands: Sequence[dict[str, Any]], timeout: float = 30
) -> list[dict[str, Any]]:
    """Send websocket commands in order on one connection; return each result.

    A result is the ``result`` message (``success``, ``result`` or ``error``).
    """
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(
            asyncio.wait_for(_ws_commands(url, token, commands), timeout)
        )
    finally:
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()


async def _ws_commands(
    url: str, token: str, commands: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    ws_url = url.replace("http://", "ws://", 1) + "/api/websocket"
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(ws_url) as ws,
    ):
        await ws.receive_json()  # auth_required
        await ws.send_json({"type": "auth", "access_token": token})
        auth = await ws.receive_json()
        if auth.get("type") != "auth_ok":
            raise HttpError("WS", ws_url, 401, json.dumps(auth))
        for number, command in enumerate(commands, start=1):
            await ws.send_json({**command, "id": number})
            while True:
                message = await ws.receive_json()
                if message.get("id") == number and message.get("type") == "result":
                    results.append(message)
                    break
    return results


def _cli_onboard(url: str, username: str, password: str, pid: int | None) -> int:
    """Wait for Home Assistant, create the owner user if needed, wait for the start."""

    def died() -> str | None:
        if pid is None:
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return "Home Assistant exited"
        return None

    # Slow only on a first start, when Home Assistant installs requirements.
    wait_for(
        lambda: http_answers(f"{url}/api/onboarding"),
        timeout=600,
        what="Home Assistant HTTP",
        alive=died,
    )
    token: str | None
    if not onboarding_done(url):
        token = onboard(url, username, password)
        # Advanced mode for the developer (Home Assistant's own advanced settings).
        ws_commands(
            url,
            token,
            [
                {
                    "type": "frontend/set_user_data",
                    "key": "core",
                    "value": {"showAdvanced": True},
                }
            ],
        )
        print(f"onboarding: created the owner user {username} (advanced mode on)")  # noqa: T201
    else:
        try:
            token = login(url, username, password)
        except HttpError:
            token = None
            print(f"onboarding: done before; cannot log in as {username}")  # noqa: T201
    if token is not None:
        wait_for(
            lambda: _running(url, token),
            timeout=600,
            what="Home Assistant start",
            alive=died,
        )
    return 0


def _running(url: str, token: str) -> bool | None:
    config = request("GET", f"{url}/api/config", token=token, timeout=5)
    return True if config.get("state") == "RUNNING" else None


def main(argv: Sequence[str] | None = None) -> int:
    """Command line for scripts: ``preseed``, ``onboard`` and ``sandbox-info``."""
    parser = argparse.ArgumentParser(prog="python dev/harness.py")
    sub = parser.add_subparsers(dest="command", required=True)
    pre = sub.add_parser("preseed", help="skip onboarding steps but the user")
    pre.add_argument("--config", type=Path, required=True)
    ob = sub.add_parser(
        "onboard", help="create the owner user unless it exists; wait for the start"
    )
    ob.add_argument("--url", required=True)
    ob.add_argument("--username", required=True)
    ob.add_argument("--password", required=True)
    ob.add_argument("--pid", type=int, help="Home Assistant's pid: stop if it dies")
    info = sub.add_parser("sandbox-info", help="print the sandbox's demo account")
    info.add_argument("--url", required=True)
    info.add_argument("--timeout", type=float, default=30)
    args = parser.parse_args(argv)
    if args.command == "preseed":
        preseed_onboarding(args.config)
        return 0
    if args.command == "onboard":
        return _cli_onboard(args.url, args.username, args.password, args.pid)
    found = wait_for(
        lambda: sandbox_info(args.url), timeout=args.timeout, what="Flatpeak sandbox"
    )
    print(found.account_id, found.api_key, found.location_id)  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
